"""The built book checked in a real browser.

Serves a built Jupyter Book HTML folder on 127.0.0.1 (a free port, only loopback
traffic), opens every page listed in the book's ``_toc.yml`` in headless Chromium
(Debian's ``chromium`` driven by ``chromium-driver`` through selenium), waits (at most
``PAGE_WAIT_S`` seconds) until each has loaded, the first one's navigation filled in (it
tells which pages are linked), saves one PNG screenshot per page, and fails on a page that
never is ready, broken images, missing table-of-contents pages, error outputs of executed
cells, math left as raw LaTeX, and any request a page makes to a host other than 127.0.0.1
(the book must be readable offline)::

    python -m wsm.book.bookcheck book/_build/html --book book --screenshots build/screenshots
"""

import argparse
import functools
import http.server
import json
import sys
import tempfile
import threading
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from wsm.core.errors import WsmError

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# The machine's network is closed: keep Chromium from reaching for outside hosts.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-proxy-server", "--window-size=1280,2000"]
SOURCE_SUFFIXES = (".md", ".ipynb", ".rst", ".py", ".txt")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# The links of a page's navigation (the book's sidebar; the first page's tell which pages are linked).
NAV_LINKS = "nav a[href]"
# Evaluated in each page once it is ready (:func:`_wait_until_ready`): waits for every image to settle
# and MathJax to typeset, then reports what it sees. Sphinx puts each formula in a ``.math`` element; MathJax 3
# replaces its LaTeX by an ``mjx-container``, so a ``.math`` element without one is math the reader sees as raw LaTeX.
PAGE_SCRIPT = """
const done = arguments[arguments.length - 1];
const imgs = Array.from(document.images);
imgs.forEach(img => { img.loading = "eager"; });
const settle = img => img.complete ? null : new Promise(ok => {
  img.addEventListener("load", ok); img.addEventListener("error", ok); });
const typeset = window.MathJax && MathJax.startup && MathJax.startup.promise;
const timeout = new Promise(ok => setTimeout(ok, 10000));
Promise.race([Promise.all(imgs.map(settle).concat([typeset || null])), timeout]).then(() => done({
  math: document.querySelectorAll(".math").length,
  raw_math: Array.from(document.querySelectorAll(".math")).filter(m => !m.querySelector("mjx-container"))
    .map(m => m.textContent.trim().slice(0, 60)),
  images: imgs.length,
  broken: imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute("src")),
  errors: Array.from(document.querySelectorAll(".output")).filter(o =>
      o.classList.contains("error") || o.classList.contains("traceback") ||
      o.innerText.includes("Traceback (most recent call last)"))
    .map(o => o.innerText.trim().split("\\n").filter(l => l.trim()).slice(-1)[0] || "error output"),
  nav: Array.from(document.querySelectorAll(NAV_LINKS)).map(a => a.href.split("#")[0]),
}));
""".replace("NAV_LINKS", json.dumps(NAV_LINKS))
# How long a page may take to be ready before it is reported (bounded: a page that never is fails the
# check with its state, it does not hang it).
PAGE_WAIT_S = 20
# Evaluated until true (:func:`_wait_until_ready`): the browser shows the page asked for (not the one
# before it, nor a blank first tab), has parsed and loaded it, and, where its navigation is to be read,
# the navigation holds its links.
READY_SCRIPT = """
const [url, needNav] = arguments;
return location.href.split("#")[0] === new URL(url).href && document.readyState === "complete"
  && (!needNav || document.querySelectorAll(NAV_LINKS).length > 0);
""".replace("NAV_LINKS", json.dumps(NAV_LINKS))
STATE_SCRIPT = """
return {url: location.href, state: document.readyState,
        nav: document.querySelectorAll(NAV_LINKS).length};
""".replace("NAV_LINKS", json.dumps(NAV_LINKS))


def chromium_available() -> bool:
    """True when both Debian's Chromium and its chromedriver are installed."""
    return CHROMIUM.is_file() and CHROMEDRIVER.is_file()


def toc_pages(book_dir) -> list[str]:
    """Page names (no suffix) listed in ``<book_dir>/_toc.yml``, root first."""
    toc_file = Path(book_dir) / "_toc.yml"
    if not toc_file.is_file():
        raise WsmError(f"no table of contents at {toc_file}: "
                       "pass the book source folder (the one with _toc.yml) as --book")
    pages = []

    def walk(node):
        if isinstance(node, dict):
            for key in ("root", "file"):
                if isinstance(node.get(key), str):
                    name = node[key]
                    pages.append(name[: -len(Path(name).suffix)] if name.endswith(SOURCE_SUFFIXES) else name)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load(toc_file.read_text()))
    return list(dict.fromkeys(pages))


def is_outside(url: str) -> bool:
    """True for a URL that would leave the machine: a network scheme with a host other than loopback
    (``data:``, ``blob:``, ``about:`` and ``file:`` URLs stay on the machine)."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https", "ws", "wss", "ftp") and (parts.hostname or "") not in LOOPBACK


def requested_urls(performance_log) -> list[str]:
    """The URLs a page asked for, in order, from Chromium's performance log (DevTools
    ``Network.requestWillBeSent`` events; a request that then fails, e.g. offline, is still listed)."""
    urls = []
    for entry in performance_log:
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):    # the browser left mid-transfer: fine
            super().handle_error(request, client_address)


def _serve(html_dir):
    """Start an HTTP server for ``html_dir`` on a free loopback port, in a background thread."""
    server = _Server(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(html_dir)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def _status(url) -> int:
    """HTTP status of ``url``, asked directly (no proxy) of the loopback server."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def _browser(profile_dir):
    """Headless Chromium with the explicit Debian driver (selenium-manager never runs)."""
    if not chromium_available():
        raise WsmError(f"the book check needs {CHROMIUM} and {CHROMEDRIVER}: install Debian's chromium "
                       "and chromium-driver (apt-get install chromium chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise WsmError("the book check needs selenium: pip install -r requirements.txt") from None
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})   # every request, for requested_urls
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={profile_dir}"]:
        options.add_argument(flag)
    with warnings.catch_warnings():  # deprecated in selenium 4.51 but still the short way to go direct
        warnings.simplefilter("ignore", DeprecationWarning)
        options.ignore_local_proxy_environment_variables()  # the driver is on loopback: no proxy
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(30)
    return driver


def _wait_until_ready(driver, url, need_nav=False, timeout=None):
    """Wait, at most ``timeout`` seconds (default :data:`PAGE_WAIT_S`), until the browser shows ``url``
    completely loaded (and, with ``need_nav``, its navigation holds links: what the check then reads is
    there). Returns ``None`` when it is ready, else a sentence saying what the browser still showed."""
    from selenium.common.exceptions import JavascriptException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    timeout = PAGE_WAIT_S if timeout is None else timeout

    try:     # a script run while the document changes may fail: asked again at the next poll
        WebDriverWait(driver, timeout, poll_frequency=0.2, ignored_exceptions=(JavascriptException,)).until(
            lambda d: d.execute_script(READY_SCRIPT, url, need_nav))
        return None
    except TimeoutException:
        try:
            state = driver.execute_script(STATE_SCRIPT)
        except JavascriptException as err:
            state = {"url": "?", "state": f"unreadable ({err.msg})", "nav": 0}
        wanted = " with links in its navigation" if need_nav else ""
        return (f"not ready{wanted} after {timeout:g} s (the browser showed {state['url']}, document "
                f"{state['state']}, {state['nav']} navigation links)")


def _check(html_dir, book_dir, screenshots_dir):
    """Check every table-of-contents page; return (rows, problems)."""
    html_dir, shots = Path(html_dir), Path(screenshots_dir)
    if not html_dir.is_dir():
        raise WsmError(f"no built book at {html_dir}: run jupyter-book build first")
    pages = toc_pages(book_dir)
    shots.mkdir(parents=True, exist_ok=True)
    rows, problems, nav = [], [], set()
    server, base = _serve(html_dir)
    try:
        with tempfile.TemporaryDirectory(prefix="wsm-chromium-") as profile:
            driver = _browser(profile)
            try:
                for i, page in enumerate(pages):
                    url = base + page + ".html"
                    row = {"page": page, "status": _status(url), "images": 0, "broken_images": [],
                           "errors": [], "math": 0, "raw_math": [], "outside": [], "screenshot": None}
                    rows.append(row)
                    if row["status"] != 200 or not (html_dir / f"{page}.html").is_file():
                        problems.append(f"{page}.html: missing (listed in _toc.yml, HTTP {row['status']})")
                        continue
                    driver.get_log("performance")          # drop what earlier pages left in the log
                    driver.get(url)
                    # read nothing before the page is there: the first page's navigation read too early
                    # (a blank tab, a sidebar not yet filled) would leave every other page "not linked"
                    late = _wait_until_ready(driver, url, need_nav=i == 0)
                    row["screenshot"] = str(shots / (page.replace("/", "__") + ".png"))
                    if late:
                        problems.append(f"{page}.html: {late}")
                        if i == 0:
                            nav = None           # unknown: no page is blamed for it
                        driver.save_screenshot(row["screenshot"])      # what the browser showed instead
                        continue
                    seen = driver.execute_async_script(PAGE_SCRIPT)
                    outside = [u for u in requested_urls(driver.get_log("performance")) if is_outside(u)]
                    if i == 0:
                        nav = set(seen["nav"])
                    elif nav is not None and url not in nav:
                        problems.append(f"{page}.html: not linked from the navigation of {pages[0]}.html")
                    row.update(images=seen["images"], broken_images=seen["broken"], errors=seen["errors"],
                               math=seen["math"], raw_math=seen["raw_math"], outside=list(dict.fromkeys(outside)))
                    problems += [f"{page}.html: broken image {src}" for src in seen["broken"]]
                    problems += [f"{page}.html: error output in a cell: {e}" for e in seen["errors"]]
                    problems += [f"{page}.html: math not rendered (raw LaTeX shown): {m}" for m in seen["raw_math"][:3]]
                    problems += [f"{page}.html: request to an outside host: {u}" for u in row["outside"]]
                    driver.save_screenshot(row["screenshot"])
            finally:
                driver.quit()
    finally:
        server.shutdown()
        server.server_close()
    return rows, problems


def check_book(html_dir, book_dir, screenshots_dir) -> list[dict]:
    """Check the built book at ``html_dir`` against ``<book_dir>/_toc.yml`` in headless Chromium.

    Returns one row per page (page, status, images, broken_images, errors, math, raw_math, outside,
    screenshot);
    raises :class:`WsmError` listing every problem once all pages have been checked.
    """
    rows, problems = _check(html_dir, book_dir, screenshots_dir)
    if problems:
        raise WsmError(_message(html_dir, problems))
    return rows


def _message(html_dir, problems) -> str:
    """One message listing every problem: what, where, what to do."""
    return (f"the book at {html_dir} has problems: " + "; ".join(problems)
            + " (fix the notebooks or the book sources, then rebuild the book)")


def main(argv=None) -> int:
    """Command line: check a built book, print one line per page, exit 2 on problems."""
    parser = argparse.ArgumentParser(prog="python -m wsm.book.bookcheck", description=__doc__.splitlines()[0])
    parser.add_argument("html_dir", help="the built HTML folder, e.g. book/_build/html")
    parser.add_argument("--book", required=True, help="the book source folder with _toc.yml")
    parser.add_argument("--screenshots", required=True, help="folder for one PNG per page")
    args = parser.parse_args(argv)
    try:
        rows, problems = _check(args.html_dir, args.book, args.screenshots)
    except WsmError as err:
        print(err, file=sys.stderr)
        return 2
    for row in rows:
        print(f"{row['page']:<40} HTTP {row['status']}  images {row['images']:>3}  "
              f"broken {len(row['broken_images'])}  errors {len(row['errors'])}  math {row['math']:>3}  "
              f"raw {len(row['raw_math'])}  outside {len(row['outside'])}  {row['screenshot'] or '-'}")
    if problems:
        print(_message(args.html_dir, problems), file=sys.stderr)
        return 2
    print(f"{len(rows)} pages checked, no problems, no request left 127.0.0.1")
    return 0


if __name__ == "__main__":
    sys.exit(main())
