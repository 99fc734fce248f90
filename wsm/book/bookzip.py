"""The built book as one file: a zip of its HTML site that a reader unzips and opens offline.

Every page, image, style sheet and script (MathJax included) goes in under one folder with paths
relative to it, so ``wsm-book/index.html`` opens after unzipping with nothing fetched from outside.
Entries are sorted and dated 1980-01-01, so the same site gives the same archive::

    python -m wsm.book.bookzip book/_build/html book/_build/wsm-book.zip
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

from wsm.core.errors import WsmError
from wsm.core.storage import atomic_write

FOLDER = "wsm-book"


def zip_site(html_dir, zip_path, folder: str = FOLDER) -> Path:
    """Write the site in ``html_dir`` to ``zip_path`` under ``<folder>/``; returns ``zip_path``.
    Hidden files (Sphinx's ``.buildinfo``) are left out."""
    html_dir, zip_path = Path(html_dir), Path(zip_path)
    if not (html_dir / "index.html").is_file():
        raise WsmError(f"no built book at {html_dir} (index.html is missing): run 'make book' first")
    files = sorted(p for p in html_dir.rglob("*") if p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(html_dir).parts))

    def write(f):
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
            for path in files:
                info = zipfile.ZipInfo(f"{folder}/{path.relative_to(html_dir).as_posix()}", (1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                z.writestr(info, path.read_bytes())

    atomic_write(zip_path, write)
    return zip_path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wsm.book.bookzip", description=__doc__.splitlines()[0])
    parser.add_argument("html_dir", type=Path, help="the built HTML folder, e.g. book/_build/html")
    parser.add_argument("zip_path", type=Path, help="the archive to write, e.g. book/_build/wsm-book.zip")
    args = parser.parse_args(argv)
    try:
        path = zip_site(args.html_dir, args.zip_path)
    except WsmError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"book archive: {path.resolve()} ({path.stat().st_size / 1e6:.1f} MB; unzip it and open "
          f"{FOLDER}/index.html)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
