"""The browser check of a built book (wsm.book.bookcheck), on tiny real Jupyter Books.

Needs Debian's chromium and chromium-driver; the tests are skipped without them
unless ``WSM_REQUIRE_BROWSER=1`` (CI) makes their absence a failure.
"""

import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import nbformat
import pytest
from PIL import Image
from selenium.webdriver.support.ui import WebDriverWait

from wsm.book import bookcheck, bookzip, reproduce
from wsm.core.errors import WsmError

if not bookcheck.chromium_available():
    if os.environ.get("WSM_REQUIRE_BROWSER") == "1":
        pytest.fail("WSM_REQUIRE_BROWSER=1 but Chromium or chromedriver is missing: "
                    "apt-get install chromium chromium-driver", pytrace=False)
    pytest.skip("no Chromium/chromedriver (apt-get install chromium chromium-driver); "
                "set WSM_REQUIRE_BROWSER=1 to make this a failure", allow_module_level=True)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REPO = Path(__file__).resolve().parent.parent
BANNER = "Executed with profile `smoke`"
# a table far wider than the page's column (40 columns of long names)
WIDE = ("<table><caption>" + "What each column holds, said at some length. " * 6 + "</caption><tr>"
        + "".join(f"<td>column_{i:02d}_with_a_long_name</td>" for i in range(40)) + "</tr></table>")


def _png_b64() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


# The real book's way to render math offline (book/_config.yml): MathJax from sphinx-mathjax-offline.
OFFLINE_MATH = ("sphinx:\n  extra_extensions: [sphinx-mathjax-offline]\n"
                "  config:\n    mathjax_path: mathjax/tex-chtml.js\n")


def _build(book: Path, error_cell: bool = False, offline_math: bool = True) -> Path:
    """Write a two-page book (intro with math + one executed notebook, tagged as :mod:`wsm.book.reproduce`
    tags the real ones, with the real book's stylesheet) to ``book``, build it, return its HTML folder.
    Without ``offline_math`` the book loads MathJax from Sphinx's default CDN address."""
    (book / "executed").mkdir(parents=True)
    shutil.copytree(REPO / "book" / "_static", book / "_static")
    (book / "_config.yml").write_text('title: tiny\nauthor: test\nexecute:\n  execute_notebooks: "off"\n'
                                      "only_build_toc_files: true\nparse:\n  myst_enable_extensions: [dollarmath]\n"
                                      + (OFFLINE_MATH if offline_math else ""))
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n- file: executed/tiny\n")
    (book / "intro.md").write_text("# Intro\n\nA tiny book: $\\phi^l = W_1 W_1^\\top$.\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Tiny\n\nOne figure."),
        nbformat.v4.new_code_cell('page, zoos = experiments.start("tiny", profile)', execution_count=1, outputs=[
            nbformat.v4.new_output("display_data", data={"text/markdown": f"**{BANNER}** · dataset: tiny",
                                                         "text/plain": "<Markdown>"}),
            nbformat.v4.new_output("display_data", data={"text/html": "<table><tr><td>setting</td></tr></table>",
                                                         "text/plain": "<settings>"})]),
        nbformat.v4.new_code_cell("show()", execution_count=2, outputs=[nbformat.v4.new_output(
            "display_data", data={"image/png": _png_b64(), "text/plain": "<Figure>"})]),
        nbformat.v4.new_code_cell("wide()", execution_count=3, outputs=[nbformat.v4.new_output(
            "execute_result", data={"text/html": WIDE, "text/plain": "<wide>"}, execution_count=3)]),
    ]
    if error_cell:
        nb.cells.append(nbformat.v4.new_code_cell("1 / 0", execution_count=4, outputs=[nbformat.v4.new_output(
            "error", ename="ZeroDivisionError", evalue="division by zero",
            traceback=["Traceback (most recent call last)", "ZeroDivisionError: division by zero"])]))
    nbformat.write(reproduce.tag_for_book(nb), book / "executed" / "tiny.ipynb")
    jb = Path(sys.executable).parent / "jupyter-book"
    done = subprocess.run([str(jb), "build", str(book), "--quiet"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return book / "_build" / "html"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    book = tmp_path_factory.mktemp("good") / "book"
    return book, _build(book)


@pytest.fixture
def copy(built, tmp_path):
    """A private copy of the good book's HTML to break."""
    return shutil.copytree(built[1], tmp_path / "html")


def test_good_book_passes_with_one_screenshot_per_page(built, tmp_path):
    book, html = built
    rows = bookcheck.check_book(html, book, tmp_path / "shots")
    assert [r["page"] for r in rows] == ["intro", "executed/tiny"]
    assert all(r["status"] == 200 and not r["broken_images"] and not r["errors"] for r in rows)
    assert rows[1]["images"] >= 1
    assert rows[0]["math"] == 1 and rows[0]["raw_math"] == []        # MathJax typeset the formula
    assert all(r["outside"] == [] for r in rows)
    for r in rows:
        shot = Path(r["screenshot"])
        assert shot.parent == tmp_path / "shots" and shot.stat().st_size > 0
        assert shot.read_bytes()[:8] == PNG_MAGIC


def test_deleted_image_is_a_broken_image_on_its_page(built, copy, tmp_path):
    images = list((copy / "_images").glob("*.png"))
    assert images
    for image in images:
        image.unlink()
    with pytest.raises(WsmError, match=r"executed/tiny\.html: broken image \S*_images/"):
        bookcheck.check_book(copy, built[0], tmp_path / "shots")


def test_deleted_page_is_missing(built, copy, tmp_path):
    (copy / "executed" / "tiny.html").unlink()
    with pytest.raises(WsmError, match=r"executed/tiny\.html: missing \(listed in _toc\.yml"):
        bookcheck.check_book(copy, built[0], tmp_path / "shots")


def test_page_left_out_of_the_navigation_is_reported(built, copy, tmp_path):
    intro = copy / "intro.html"
    intro.write_text(intro.read_text().replace('href="executed/tiny.html"', 'href="#"'))
    with pytest.raises(WsmError, match=r"executed/tiny\.html: not linked from the navigation of intro\.html"):
        bookcheck.check_book(copy, built[0], tmp_path / "shots")


def _late_navigation(intro: Path, delay_ms: int | None) -> None:
    """Empty the sidebar navigation of ``intro`` and have a script fill it in ``delay_ms`` after the page
    has loaded (never, with ``None``): a page whose navigation is not there yet when it has loaded."""
    text = intro.read_text()
    nav = re.search(r'(<nav class="[^"]*bd-docs-nav[^"]*"[^>]*>)(.*?)(</nav>)', text, re.S)
    assert nav and 'href="executed/tiny.html"' in nav.group(2)
    text = text.replace(nav.group(0), nav.group(1) + nav.group(3))
    if delay_ms is not None:
        fill = (f'<script>window.addEventListener("load", () => setTimeout(() => {{ document.querySelector('
                f'"nav.bd-docs-nav").innerHTML = {json.dumps(nav.group(2))}; }}, {delay_ms}));</script>')
        text = text.replace("</body>", fill + "</body>")
    intro.write_text(text)


def test_navigation_filled_in_after_the_load_is_waited_for(built, copy, tmp_path):
    """The check reads the first page's navigation once it holds links, not right after the page loads
    (read early, every page was 'not linked from the navigation of intro.html')."""
    _late_navigation(copy / "intro.html", delay_ms=1500)
    rows = bookcheck.check_book(copy, built[0], tmp_path / "shots")
    assert [r["page"] for r in rows] == ["intro", "executed/tiny"]


def test_navigation_never_filled_in_is_reported_once_the_wait_is_over(built, copy, tmp_path, monkeypatch):
    monkeypatch.setattr(bookcheck, "PAGE_WAIT_S", 2)
    _late_navigation(copy / "intro.html", delay_ms=None)
    with pytest.raises(WsmError) as err:
        bookcheck.check_book(copy, built[0], tmp_path / "shots")
    message = str(err.value)
    assert re.search(r"intro\.html: not ready with links in its navigation after 2 s \(the browser showed "
                     r"http://127\.0\.0\.1:\d+/intro\.html, document complete, 0 navigation links\)", message)
    assert "not linked from the navigation" not in message      # no page is blamed for the intro's state
    assert (tmp_path / "shots" / "intro.png").read_bytes()[:8] == PNG_MAGIC


# Read in the tiny notebook's page: each code cell (the banner's, the figure's, the wide table's) with
# whether its code and its output are shown, the banner's text and the wide table's geometry beside the
# column's (the article).
LAYOUT_SCRIPT = """
const shown = el => !!el && el.checkVisibility();     // false inside a closed <details>
const article = document.querySelector("article.bd-article").getBoundingClientRect();
const wide = Array.from(document.querySelectorAll("div.cell_output table"))
  .find(t => t.textContent.includes("column_39"));
const banner = Array.from(document.querySelectorAll("div.cell_output p"))
  .find(p => p.textContent.includes("Executed with profile"));
return {
  cells: Array.from(document.querySelectorAll("div.cell")).map(c => ({
    code: shown(c.querySelector("div.cell_input")), output: shown(c.querySelector("div.cell_output")),
    summaries: Array.from(c.querySelectorAll("details > summary")).map(s => s.textContent.trim())})),
  banner: banner ? banner.textContent : null, banner_shown: shown(banner),
  column_right: article.right,
  wide: {right: wide.getBoundingClientRect().right, scroll: wide.scrollWidth, client: wide.clientWidth,
         overflow: getComputedStyle(wide).overflowX,
         caption_right: wide.querySelector("caption").getBoundingClientRect().right},
};
"""


def test_code_folds_the_banner_folds_and_a_wide_table_scrolls(built):
    """As a reader sees the tiny page: every code cell's code folded, outputs in view except the banner's
    (folded, one click away), the wide table inside the column with a scroll bar."""
    server, base = bookcheck._serve(built[1])
    try:
        with tempfile.TemporaryDirectory(prefix="wsm-chromium-") as profile:
            driver = bookcheck._browser(profile)
            try:
                url = base + "executed/tiny.html"
                driver.get(url)
                assert bookcheck._wait_until_ready(driver, url) is None
                seen = driver.execute_script(LAYOUT_SCRIPT)
                driver.find_element("css selector", "div.cell details.below-input > summary").click()
                opened = driver.execute_script(LAYOUT_SCRIPT)
            finally:
                driver.quit()
    finally:
        server.shutdown()
        server.server_close()
    banner, figure, wide = seen["cells"]
    assert not any(c["code"] for c in seen["cells"])                  # every code cell's code is folded
    assert all("Show code cell source" in c["summaries"][0] for c in seen["cells"])
    assert figure["output"] and wide["output"]                        # their outputs are in view
    assert not banner["output"] and "Show code cell output" in banner["summaries"][1]
    assert seen["banner"].startswith("Executed with profile smoke") and not seen["banner_shown"]
    assert opened["cells"][0]["output"] and opened["banner_shown"]    # one click shows the banner
    assert seen["wide"]["overflow"] == "auto"
    assert seen["wide"]["scroll"] > seen["wide"]["client"] + 100      # wider than it is shown: it scrolls
    assert seen["wide"]["right"] <= seen["column_right"] + 1          # and stops at the column's edge
    assert seen["wide"]["caption_right"] <= seen["wide"]["right"] + 1  # its caption is read without scrolling


def test_request_to_an_outside_host_is_reported(built, copy, tmp_path):
    intro = copy / "intro.html"
    intro.write_text(intro.read_text().replace(
        "</head>", '<link rel="stylesheet" href="https://fonts.example.org/css2?family=Lato"></head>', 1))
    with pytest.raises(WsmError, match=r"intro\.html: request to an outside host: https://fonts\.example\.org/css2"):
        bookcheck.check_book(copy, built[0], tmp_path / "shots")


def test_raw_latex_is_math_not_rendered(built, copy, tmp_path):
    mathjax = copy / "_static" / "mathjax" / "tex-chtml.js"
    mathjax.write_text("/* MathJax failed to load */")
    with pytest.raises(WsmError, match=r"intro\.html: math not rendered \(raw LaTeX shown\): \\\(\\phi\^l"):
        bookcheck.check_book(copy, built[0], tmp_path / "shots")


def test_book_with_mathjax_from_a_cdn_fails(tmp_path):
    """Sphinx's default MathJax address is a CDN: the check reports the request (offline, the math
    also stays raw; where the CDN is reachable it renders, so only the request is asserted)."""
    book = tmp_path / "book"
    html = _build(book, offline_math=False)
    with pytest.raises(WsmError, match=r"intro\.html: request to an outside host: https://cdn\.jsdelivr\.net/"):
        bookcheck.check_book(html, book, tmp_path / "shots")


def test_unzipped_archive_is_the_same_book(built, tmp_path):
    archive = bookzip.zip_site(built[1], tmp_path / "book.zip")
    with zipfile.ZipFile(archive) as z:
        z.extractall(tmp_path / "unzipped")
    rows = bookcheck.check_book(tmp_path / "unzipped" / bookzip.FOLDER, built[0], tmp_path / "shots")
    assert rows[0]["math"] == 1 and rows[0]["raw_math"] == [] and rows[1]["images"] >= 1
    # as a reader opens it: index.html from the disk, no server; it leads to the intro with its math
    with tempfile.TemporaryDirectory(prefix="wsm-chromium-") as profile:
        driver = bookcheck._browser(profile)
        try:
            driver.get((tmp_path / "unzipped" / bookzip.FOLDER / "index.html").as_uri())
            # the redirect commits the new address before its page has loaded: wait for both, read
            # from the same document, or the script may count the math of a half-parsed page
            WebDriverWait(driver, 30).until(lambda d: d.execute_script(
                'return location.href.endsWith("/intro.html") && document.readyState === "complete"'))
            seen = driver.execute_async_script(bookcheck.PAGE_SCRIPT)
            urls = bookcheck.requested_urls(driver.get_log("performance"))
        finally:
            driver.quit()
    assert seen["math"] == 1 and seen["raw_math"] == [] and urls
    assert not [u for u in urls if bookcheck.is_outside(u)]


def test_error_output_in_an_executed_cell_fails(tmp_path):
    book = tmp_path / "book"
    html = _build(book, error_cell=True)
    with pytest.raises(WsmError,
                       match=r"executed/tiny\.html: error output in a cell: ZeroDivisionError: division by zero"):
        bookcheck.check_book(html, book, tmp_path / "shots")


def test_main_prints_pages_and_exits_2_on_problems(built, copy, tmp_path, capsys):
    book, html = built
    assert bookcheck.main([str(html), "--book", str(book), "--screenshots", str(tmp_path / "a")]) == 0
    assert "executed/tiny" in capsys.readouterr().out
    (copy / "executed" / "tiny.html").unlink()
    assert bookcheck.main([str(copy), "--book", str(book), "--screenshots", str(tmp_path / "b")]) == 2
    assert "missing (listed in _toc.yml" in capsys.readouterr().err


def test_toc_pages_walks_parts_and_sections(tmp_path):
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro.md\nparts:\n- caption: A\n  chapters:\n  - file: a/one.ipynb\n"
        "    sections:\n    - file: a/two\n  - url: https://example.org\n")
    assert bookcheck.toc_pages(tmp_path) == ["intro", "a/one", "a/two"]
    with pytest.raises(WsmError, match="no table of contents"):
        bookcheck.toc_pages(tmp_path / "nowhere")
