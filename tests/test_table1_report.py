"""wsm.report.table1: Table 1 at the paper's settings (bench.paper_table1's committed files), on tables made here."""

from pathlib import Path

import pandas as pd

from wsm.maths import stats, verdicts
from wsm.report import claims, table1

PAPER = claims.Setting("namedata", 9, 100, 10_000, 0.6, 5 / 9, 0.2)
REDUCED = claims.Setting("namedata", 9, 15, 1_500, 0.6, 5 / 9, 0.2)
OURS, RAW = "ours: centred and scaled, Eq. 7", "raw vec(φ), Eq. 7 (paper)"
NO = Path("/nonexistent/table1_paper_authors_lr.csv")        # a run not made (the committed one is not read here)


PAPER_LR = "9 tasks x 100 runs per zoo; GRU-2 10000 single-name SGD steps, lr 0.1 / 10 after 7000; device cpu"
AUTHORS_LR = "9 tasks x 100 runs per zoo; GRU-2 10000 single-name SGD steps, lr 0.005 / 10 after never; device cpu"


def _row(correct, n, protocol, kind, setting=PAPER, profile="paper", scale=PAPER_LR):
    lo, hi = stats.clopper_pearson(correct, n)
    return dict(figure="Table 1", architecture="GRU-2", depth=1, protocol=protocol, kind=kind, ours=100 * correct / n,
                n=n, ci_low=100 * lo, ci_high=100 * hi, profile=profile, scale=scale, data=setting.data,
                tasks=setting.tasks,
                runs=setting.runs, epochs=setting.epochs, train_fraction=setting.train_fraction,
                retrieval_train_fraction=setting.retrieval_train_fraction, query_fraction=setting.query_fraction,
                chance=setting.chance(protocol))


def _run(tmp_path, c1=(360, 77), l1=(62, 17), setting=PAPER, scale=PAPER_LR, name="table1_paper.csv"):
    rows = pd.DataFrame([_row(c1[0], 360 if setting is PAPER else 54, "classification", "normalized", setting,
                              scale=scale),
                         _row(c1[1], 80 if setting is PAPER else 12, "retrieval", "normalized", setting, scale=scale),
                         _row(l1[0], 360 if setting is PAPER else 54, "classification", "unnormalized", setting,
                              scale=scale),
                         _row(l1[1], 80 if setting is PAPER else 12, "retrieval", "unnormalized", setting,
                              scale=scale)])
    path = tmp_path / name
    rows.to_csv(path, index=False)
    return path


def _classifiers(tmp_path):
    rows = [dict(variant=v, seed=s, protocol=p, feature=f, kind="normalized" if f[0] == "C" else "unnormalized",
                 depth=int(f[1]), ours=base + s, ci_low=0.0, ci_high=100.0, n=360 if p == "classification" else 80)
            for v, base in ((OURS, 90.0), (RAW, 60.0)) for s in (0, 1, 2)
            for p in ("classification", "retrieval") for f in ("L1", "C1", "C2")]
    path = tmp_path / "table1_paper_classifiers.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _times(tmp_path):
    path = tmp_path / "table1_paper_times.csv"
    pd.DataFrame([dict(stage="train the zoo", networks=900, seconds=36_000.0, machine="a 2-core CPU",
                       date="2026-12-05", commit="abc1234"),
                  dict(stage="the page", networks=900, seconds=90.0, machine="a 2-core CPU", date="2026-12-05",
                       commit="abc1234")]).to_csv(path, index=False)
    return path


def test_the_four_cells_are_judged_at_the_papers_setting(tmp_path):
    cells = table1.cells(pd.read_csv(_run(tmp_path))).set_index("cell")
    assert list(cells.index) == ["C1 classification", "C1 retrieval", "L1 classification", "L1 retrieval"]
    assert list(cells.paper) == [100.0, 95.7, 17.2, 21.3]
    assert cells.loc["C1 classification", "verdict"] == verdicts.REPRODUCED
    assert cells.loc["C1 classification", "n"] == 360


def test_a_cell_far_from_the_papers_is_materially_different(tmp_path):
    cells = table1.cells(pd.read_csv(_run(tmp_path, c1=(200, 77)))).set_index("cell")
    assert cells.loc["C1 classification", "verdict"] == verdicts.DIFFERENT
    assert "*" + verdicts.DIFFERENT + "*" in table1.sentence(cells.reset_index())


def test_an_inconclusive_cell_names_the_n_a_test_needs_only_where_the_run_has_fewer(tmp_path):
    cells = table1.cells(pd.read_csv(_run(tmp_path, l1=(62, 27)))).set_index("cell")
    assert cells.loc["L1 retrieval", "verdict"] == verdicts.INCONCLUSIVE            # 33.75% of 80 against 21.3%
    assert "a test needs" not in cells.loc["L1 retrieval", "why"]
    few = pd.DataFrame([_row(3, 3, "retrieval", "normalized")])                       # 3 of 3 queries
    (cell,) = [c for c in table1.cells(few).itertuples() if c.cell == "C1 retrieval"]
    assert cell.verdict == verdicts.INCONCLUSIVE and "a test needs n ≥" in cell.why


def test_a_reduced_run_below_the_paper_tests_nothing(tmp_path):
    cells = table1.cells(pd.read_csv(_run(tmp_path, c1=(40, 6), l1=(10, 2), setting=REDUCED))).set_index("cell")
    assert cells.loc["C1 classification", "verdict"] == verdicts.NOT_TESTED


def test_the_section_shows_the_cells_the_classifiers_the_deviations_and_the_times(tmp_path):
    items = table1.section(_run(tmp_path), _classifiers(tmp_path), _times(tmp_path), authors_lr=NO)
    words = [i for i in items if isinstance(i, str)]
    tables = [i for i in items if not isinstance(i, str)]
    assert "C1 classification 100.0% [99.0, 100.0] (n = 360) against the paper's 100.0%" in words[0]
    assert "3 split seeds" in words[1] and "C1 classification: ours 91.0% (90.0–92.0), raw vec(φ) 61.0%" in words[1]
    assert "C2" not in words[1]                               # Table 1's cells only; chain 2 is in the table
    assert len(tables[2]) == len(table1.DEVIATIONS)
    assert "10.0 h" in words[-1] and "1.5 min" in words[-1] and "abc1234" in words[-1]


def test_the_shown_cells_give_counts_as_counts_and_why_in_full(tmp_path, monkeypatch):
    import IPython.display
    from wsm.report import results
    items = table1.section(_run(tmp_path, l1=(300, 70)), _classifiers(tmp_path), _times(tmp_path), authors_lr=NO)
    cells = items[1]
    assert list(cells.n) == [360, 80, 360, 80] and str(cells.n.dtype) == "Int64"
    longest = max(cells.why, key=len)
    assert len(longest) > 50
    html = []                                  # what a notebook renders of each table, at the time it is shown
    monkeypatch.setattr(IPython.display, "display", lambda item: html.append(getattr(item, "_repr_html_", str)()))
    results.show(items)
    assert longest in html[1] and "<td>360</td>" in html[1] and "360.0" not in html[1]


def test_a_run_not_made_says_how_to_make_it(tmp_path):
    (words,) = table1.section(tmp_path / "table1_paper.csv")
    assert "not run yet" in words and table1.COMMAND in words
    assert table1.frontpage_lines(tmp_path / "table1_paper.csv") == []


def test_the_first_page_gives_the_four_numbers_and_what_still_differs(tmp_path):
    lines = table1.frontpage_lines(_run(tmp_path), _classifiers(tmp_path), authors_lr=NO)
    text = "\n".join(lines)
    assert lines[0] == "### Table 1 at the paper's settings"
    assert "95.7%" in text and verdicts.REPRODUCED in text and "raw vec(φ)" in text
    assert all(d in text for d, _, _ in table1.DEVIATIONS)


def _parts(tmp_path):
    rows = [dict(part=p, seed=s, protocol=q, ours=base + s, ci_low=0.0, ci_high=100.0, n=360, hits="1",
                 chance=11.11 if q == "classification" else 25.0, device="cpu")
            for p, base in (("per-gate column sums (invariant)", 97.0), ("the rest", 20.0))
            for s in (0, 1) for q in ("classification", "retrieval")]
    path = tmp_path / "table1_paper_raw_parts.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_the_raw_layers_parts_are_shown_beside_chance(tmp_path):
    items = table1.section(_run(tmp_path), _classifiers(tmp_path), _times(tmp_path), _parts(tmp_path), NO)
    (words,) = [i for i in items if isinstance(i, str) and "column sums" in i]
    assert "2 split seeds" in words
    assert "per-gate column sums (invariant): classification 97.5% (97.0–98.0, chance 11.1%)" in words
    assert "the rest: classification 20.5% (20.0–21.0, chance 11.1%)" in words
    assert "better than the rest on every split seed" in words
    assert any(words in line for line in table1.frontpage_lines(_run(tmp_path), parts=_parts(tmp_path), authors_lr=NO))
    close = pd.read_csv(_parts(tmp_path)).assign(ours=lambda d: 50.0 + d.seed * (d.part == "the rest") * 10)
    assert "Neither part" in table1.raw_parts_sentence(close)
    none = tmp_path / "absent.csv"
    assert not any("column sums" in i for i in table1.section(_run(tmp_path), none, none, none, NO)
                   if isinstance(i, str))


def _authors(tmp_path, c1=(357, 75), l1=(65, 18)):
    return _run(tmp_path, c1, l1, scale=AUTHORS_LR, name="table1_paper_authors_lr.csv")


def test_the_authors_learning_rate_is_shown_beside_the_papers_text_and_the_papers_numbers(tmp_path):
    paper, authors = pd.read_csv(_run(tmp_path)), pd.read_csv(_authors(tmp_path))
    table = table1.learning_rates(paper, authors).set_index("cell")
    assert list(table.columns[:3]) == ["paper", "ours, lr 0.1, ÷10 after 7,000 steps", "ours, lr 0.005, no decay"]
    assert table.loc["L1 classification", "ours, lr 0.005, no decay"] == "18.1 [14.2, 22.4]"   # 65 of 360
    assert table.loc["L1 classification", "paper"] == 17.2
    d, lo, hi = table.loc["L1 classification", ["d", "d_low", "d_high"]]
    assert round(d, 2) == round(100 * (65 - 62) / 360, 2) and lo < 0 < hi
    words = table1.learning_rates_sentence(paper, authors)
    assert "L1 classification 18.1% [14.2, 22.4] against the paper's 17.2%: *" + verdicts.REPRODUCED in words
    assert "moves no cell beyond its interval" in words
    assert "Table 1's 4 cells: 4 reproduced at the authors' code's rate; 4 reproduced at the paper's text's" in words
    lower = pd.read_csv(_authors(tmp_path, l1=(20, 18)))                       # 5.6% of 360 against 17.2%
    assert "moves L1 classification -11.7 points [" in table1.learning_rates_sentence(paper, lower)


def test_the_raw_layers_parts_and_the_authors_classifier_are_given_at_both_rates(tmp_path):
    paper, authors = pd.read_csv(_run(tmp_path)), pd.read_csv(_authors(tmp_path))
    parts = pd.read_csv(_parts(tmp_path))                                  # invariant 97.0-98.0, the rest 20.0-21.0
    lower = parts.assign(ours=lambda d: d.ours.where(d.part == "the rest", 25.0 + d.seed))
    words = table1.learning_rates_sentence(paper, authors, parts, lower, pd.read_csv(_classifiers(tmp_path)))
    assert "Under the authors' raw vec(φ) classifier, L1 classification at their rate is 61.0% (60.0–62.0)" in words
    assert "per-gate column sums (invariant): 25.5% (25.0–26.0) against 97.5% (97.0–98.0)" in words
    assert "the rest: 20.5% (20.0–21.0) against 20.5%" in words and "carries less of the task" in words
    assert "carries less" not in table1.learning_rates_sentence(paper, authors, parts, parts)
    assert "column sums" not in table1.learning_rates_sentence(paper, authors, parts, None)


def test_the_section_and_the_first_page_show_the_authors_learning_rate_or_how_to_run_it(tmp_path):
    none = tmp_path / "absent.csv"
    items = table1.section(_run(tmp_path), none, none, none, authors_lr=_authors(tmp_path))
    (words,) = [i for i in items if isinstance(i, str) and "authors' code's learning rate" in i]
    assert any(isinstance(i, pd.DataFrame) and "authors' lr − paper's lr [95% CI]" in i and "d" not in i for i in items)
    assert words in table1.frontpage_lines(_run(tmp_path), none, none, authors_lr=_authors(tmp_path))
    items = table1.section(_run(tmp_path), none, none, none, authors_lr=none)
    (missing,) = [i for i in items if isinstance(i, str) and "learning rate" in i]
    assert "not run yet" in missing and table1.AUTHORS_LR_COMMAND in missing
    assert not any("learning rate" in line for line in table1.frontpage_lines(_run(tmp_path), none, none, none))
