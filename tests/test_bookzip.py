"""The built book as one zip (wsm.book.bookzip): everything under one folder, relative paths, same bytes."""

import zipfile

import pytest

from wsm.book import bookzip
from wsm.core.errors import WsmError


def _site(root):
    (root / "_static" / "mathjax").mkdir(parents=True)
    (root / "executed").mkdir()
    (root / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=intro.html" />')
    (root / "intro.html").write_text('<a href="executed/page.html">page</a>'
                                     '<script src="_static/mathjax/tex-chtml.js"></script>')
    (root / "executed" / "page.html").write_text('<img src="../_static/x.png">')
    (root / "_static" / "mathjax" / "tex-chtml.js").write_text("// MathJax")
    (root / "_static" / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (root / ".buildinfo").write_text("hidden")
    return root


def test_zip_holds_the_site_under_one_folder_with_relative_paths(tmp_path):
    site = _site(tmp_path / "html")
    archive = bookzip.zip_site(site, tmp_path / "out" / "book.zip")
    with zipfile.ZipFile(archive) as z:
        names = z.namelist()
        assert names == sorted(names) and ".buildinfo" not in " ".join(names)
        assert all(n.startswith("wsm-book/") and ".." not in n for n in names)
        assert "wsm-book/index.html" in names and "wsm-book/_static/mathjax/tex-chtml.js" in names
        z.extractall(tmp_path / "unzipped")
    for path in site.rglob("*"):
        if path.is_file() and path.name != ".buildinfo":
            assert (tmp_path / "unzipped" / "wsm-book" / path.relative_to(site)).read_bytes() == path.read_bytes()


def test_same_site_same_archive(tmp_path):
    site = _site(tmp_path / "html")
    first = bookzip.zip_site(site, tmp_path / "a.zip").read_bytes()
    assert bookzip.zip_site(site, tmp_path / "b.zip").read_bytes() == first


def test_missing_site_is_refused(tmp_path, capsys):
    with pytest.raises(WsmError, match="no built book"):
        bookzip.zip_site(tmp_path / "nowhere", tmp_path / "b.zip")
    assert bookzip.main([str(tmp_path / "nowhere"), str(tmp_path / "b.zip")]) == 2
    assert "run 'make book' first" in capsys.readouterr().err
