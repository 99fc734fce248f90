"""The Performance page (wsm.book.performance): its template rendered from the committed benchmark CSVs."""

import csv
import re
import shutil

import pytest

from wsm.book import performance
from wsm.core.errors import WsmError
from wsm.core.paths import REPO

BOOK = REPO / "book"
GRAM = "{{gram_scale.csv | architecture=MLP-4, chain=1, networks=5000 | seconds | ,.0f}}"


def _benchmarks(tmp_path):
    folder = tmp_path / "benchmarks"
    shutil.copytree(BOOK / "benchmarks", folder)
    return folder


def _set_cell(path, match: dict, column: str, value: str) -> None:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    hits = [r for r in rows if all(r[k] == v for k, v in match.items())]
    assert len(hits) == 1
    hits[0][column] = value
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def test_committed_template_renders_from_the_committed_csvs(tmp_path):
    template = (BOOK / performance.TEMPLATE).read_text()
    assert len(performance.PLACEHOLDER.findall(template)) > 100
    text = performance.render(template, BOOK / "benchmarks")
    assert "{{" not in text and "}}" not in text
    assert text.startswith(performance.NOTICE) and "\n# Performance\n" in text
    for table in re.findall(r":file: (\S+)", text):               # the tables' paths hold from executed/
        assert (BOOK / "executed" / table).resolve().is_file(), table
    # and main() writes it where the table of contents expects it
    book = tmp_path / "book"
    shutil.copytree(BOOK, book, ignore=shutil.ignore_patterns("_build", "executed"))
    assert performance.main([str(book)]) == 0
    assert (book / performance.OUTPUT).read_text() == text
    assert "file: executed/performance" in (book / "_toc.yml").read_text()
    assert not (BOOK / "performance.md").exists()                # the source is the template only


def test_a_placeholder_reads_its_cell(tmp_path):
    folder = _benchmarks(tmp_path)
    assert performance.render(f"took {GRAM} s", folder) == performance.NOTICE + "took 1,279 s"
    _set_cell(folder / "gram_scale.csv", {"architecture": "MLP-4", "chain": "1", "networks": "5000"},
              "seconds", "4321.6")
    assert performance.render(f"took {GRAM} s", folder).endswith("took 4,322 s")


def test_selectors_reductions_scales_and_formats(tmp_path):
    folder = _benchmarks(tmp_path)
    cases = {
        # a quoted value holds commas; no format gives the cell as written
        '{{engine_overhead.csv | measure="empty task, 1,000 in flight" | value}}': "0.352",
        "{{analysis_memory.csv | variant=lazy (after) | min(peak_mb) / 1000 | .1f}}": "0.9",
        "{{analysis_memory.csv | variant=lazy (after) | max(peak_mb) | .0f}}": "1210",
        "{{projection.csv | stage=train zoo | sum(gpu_hours) | .3f}}": "1.806",
        "{{projection.csv | stage=chain Grams, what=*PlainNet-5* | sum(cpu_hours) | .2f}}": "15.05",
        "{{projection.csv | stage=total, networks= | cpu_hours | .0f}}": "316",
        "{{gram_scale.csv | | max(roof_gflops) | .0f}}": "374",
        "{{gram_scale.csv | architecture=MLP-4, chain=1, networks=5000 | cpu_share | .0%}}": "60%",
        "{{paper_slice.csv | architecture=plainnet5, protocol=classification, feature=C1 | ours | g}}": "100",
        "{{projection_cluster.csv | setup=64 x NVIDIA H200, stage=train zoos | hours * 3600 | .0f}}": "108",
        "{{quick_book_runs.csv | run=c14d7cf, page=total | load_1min}}": "1.0–1.3",
    }
    for placeholder, expected in cases.items():
        assert performance.render(placeholder, folder) == performance.NOTICE + expected, placeholder


@pytest.mark.parametrize("placeholder, message", [
    ("{{nope.csv | a=1 | b | .1f}}", "no CSV 'nope.csv'"),
    ("{{gram_scale.csv | architecture=MLP-4 | wall | .1f}}", "has no column 'wall'"),
    ("{{gram_scale.csv | arch=MLP-4 | seconds | .1f}}", "has no column 'arch'"),
    ("{{gram_scale.csv | architecture=MLP-4, chain=9 | seconds | .1f}}", "matches no row of gram_scale.csv"),
    ("{{gram_scale.csv | architecture=MLP-4 | seconds | .1f}}", "matches 7 rows of gram_scale.csv, not one"),
    ("{{gram_scale.csv | chain=1 | seconds | .1f | s}}", "5 fields"),
    ("{{gram_scale.csv | seconds}}", "2 fields"),
    ("{{gram_scale.csv | architecture=MLP-4, chain=1, networks=5000 | median(seconds) | .1f}}",
     "cannot read the column"),
    ("{{gram_scale.csv | architecture=MLP-4, chain=1, networks=5000 | seconds | .1q}}", "the format '.1q'"),
    ("{{gram_scale.csv | architecture | seconds | .1f}}", "cannot read the selector"),
    ("{{analysis_memory.csv | variant=in memory (before), networks=2000 | peak_mb | .1f}}", "is empty"),
    ("{{gram_scale.csv | | max(machine) | .1f}}", "is not a number"),
])
def test_bad_placeholders_say_which_and_why(placeholder, message):
    with pytest.raises(WsmError) as err:
        performance.render(f"# Performance\n\nline two {placeholder}\n", BOOK / "benchmarks")
    text = str(err.value)
    assert message in text and "line 3" in text
    assert "{{" + " ".join(placeholder[2:].split("}}")[0].split()) + "}}" in text


def test_an_unclosed_placeholder_is_an_error():
    with pytest.raises(WsmError, match="unmatched '\\{\\{'"):
        performance.render("a {{gram_scale.csv | | max(seconds) | .0f", BOOK / "benchmarks")


def test_a_missing_template_is_an_error(tmp_path, capsys):
    assert performance.main([str(tmp_path)]) == 2
    assert "no Performance page template" in capsys.readouterr().err
