"""How wsm.book.reproduce tags an executed notebook for the book: code folded, the settings banner folded,
papermill's injected parameters removed, the tags a notebook already has kept."""

from pathlib import Path

import jupytext
import nbformat
import pytest

from wsm.core import profiles
from wsm.book import reproduce

REPO = Path(__file__).resolve().parent.parent


def _notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A page"),
        nbformat.v4.new_code_cell('profile = "quick"', metadata={"tags": ["parameters", "remove-cell"]}),
        nbformat.v4.new_code_cell('profile = "smoke"\nroots = {"data_root": "/home/me/data"}',
                                  metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("from wsm import experiments\n\n"
                                  'page, zoos = experiments.start("s4_1_tiny_imagenet", profile, overrides, roots)'),
        nbformat.v4.new_code_cell("fig = plots.protocol_panels(ours, titles)"),
        nbformat.v4.new_code_cell("results.accuracy_table(ours)", metadata={"tags": ["scroll-output"]}),
        nbformat.v4.new_code_cell("secret()", metadata={"tags": ["remove-input"]}),
        nbformat.v4.new_code_cell("aside()", metadata={"tags": ["hide-cell"]}),
        nbformat.v4.new_code_cell("again()", metadata={"tags": ["hide-input"]}),
    ]
    return nb


EXPECTED = [
    None,                                                    # markdown: untouched
    ["parameters", "remove-cell"],                           # removed stays removed, nothing added
    ["injected-parameters", "remove-cell"],                  # local paths stay out of the book
    ["hide-input", "hide-output"],                           # the banner: code and output fold
    ["hide-input"],                                          # code folds, the figure stays in view
    ["scroll-output", "hide-input"],                         # a tag of its own is kept
    ["remove-input"],                                        # no code shown: nothing to fold
    ["hide-cell"],                                           # folded whole already
    ["hide-input"],                                          # not added twice
]


def _tags(nb):
    return [c.metadata.get("tags") for c in nb.cells]


def test_every_code_cell_folds_its_code_and_the_banner_its_output():
    nb = reproduce.tag_for_book(_notebook())
    assert _tags(nb) == EXPECTED
    nbformat.validate(nb)


def test_tagging_twice_changes_nothing():
    once = reproduce.tag_for_book(_notebook())
    assert _tags(reproduce.tag_for_book(once)) == EXPECTED


def test_sources_and_outputs_are_untouched():
    before, after = _notebook(), reproduce.tag_for_book(_notebook())
    assert [c.source for c in after.cells] == [c.source for c in before.cells]
    assert [c.get("outputs") for c in after.cells] == [c.get("outputs") for c in before.cells]


def test_tag_file_writes_the_tagged_notebook_atomically(tmp_path):
    source, target = tmp_path / ".page.partial.ipynb", tmp_path / "page.ipynb"
    nbformat.write(_notebook(), source)
    untouched = source.read_bytes()
    assert reproduce.tag_file(source, target) == target
    assert source.read_bytes() == untouched                  # the executed notebook is left as it was
    assert _tags(nbformat.read(target, as_version=4)) == EXPECTED
    assert sorted(p.name for p in tmp_path.iterdir()) == [".page.partial.ipynb", "page.ipynb"]   # no temporary left
    reproduce.tag_file(target)                               # in place
    assert _tags(nbformat.read(target, as_version=4)) == EXPECTED


def test_a_failed_write_leaves_the_old_notebook(tmp_path, monkeypatch):
    target = tmp_path / "page.ipynb"
    target.write_text("the old page")
    source = tmp_path / "new.ipynb"
    nbformat.write(_notebook(), source)
    class Unwritable(str):                                   # fails halfway, inside the file's write
        def encode(self, *args, **kwargs):
            raise OSError("disk full")

    monkeypatch.setattr(nbformat, "writes", lambda nb: Unwritable("{}\n"))
    with pytest.raises(OSError, match="disk full"):
        reproduce.tag_file(source, target)
    assert target.read_text() == "the old page"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.ipynb", "page.ipynb"]


@pytest.mark.parametrize("name", profiles.NOTEBOOKS)
def test_each_page_has_one_banner_cell_to_fold(name):
    """Every notebook starts its page with one ``experiments.start(...)`` code cell: the cell whose
    output (the banner and the settings tables) folds, and no other."""
    nb = reproduce.tag_for_book(jupytext.read(REPO / "notebooks" / f"{name}.py"))
    folded = [c for c in nb.cells if "hide-output" in c.metadata.get("tags", [])]
    assert len(folded) == 1 and reproduce.BANNER_CALL in folded[0].source
    shown = [c for c in nb.cells if c.cell_type == "code" and "remove-cell" not in c.metadata.get("tags", [])]
    assert shown and all("hide-input" in c.metadata.tags for c in shown)
