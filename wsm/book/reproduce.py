"""Execute the notebooks with papermill under a profile, and collect the results table.

    python -m wsm.book.reproduce --profile quick [--out book/executed] [--only NAME ...] [--set NAME=VALUE ...]

Each ``notebooks/<name>.py`` (percent format, the source of truth) is turned into a notebook by
jupytext, executed by papermill with the profile's parameters, tagged for the book
(:func:`tag_for_book`: its code and its settings banner fold away, one click from view) and written
to ``<out>/<name>.ipynb``; each notebook writes its rows to ``<out>/results/<name>.csv`` and this
command joins them into ``<out>/results/results.csv`` and writes the verdict section of the book's
first page (``<out>/frontpage.md``, :mod:`wsm.book.frontpage`) and the Performance page from the committed
benchmarks (``<out>/performance.md``, :mod:`wsm.book.performance`). ``--set null_repeats=20`` changes a setting
on every page that has it (:func:`wsm.book.experiments.valid_settings`; values are read as JSON, else text).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from wsm.core import paths, profiles
from wsm.report import results
from wsm.book import experiments, frontpage, performance
from wsm.core.paths import REPO
from wsm.core.errors import WsmError
from wsm.core.storage import atomic_write



def execute(notebook: str, profile: str, out: Path, overrides: dict | None = None) -> Path:
    """Run one notebook under ``profile`` (with ``overrides`` of its settings); returns the executed
    notebook's path. The notebook receives only the profile, the overrides and the roots; its page
    object (:func:`wsm.book.experiments.page`) resolves everything else. Bad settings are refused here,
    before anything runs."""
    import jupytext
    import papermill

    roots = dict(data_root=str(paths.data_root()), zoo_root=str(paths.zoo_root()), results_dir=str(out / "results"))
    experiments.page(notebook, profile, overrides, **roots)
    params = dict(profile=profile, overrides=dict(overrides or {}), roots=roots)
    source = REPO / "notebooks" / f"{notebook}.py"
    if not source.exists():
        raise WsmError(f"{source} is missing: valid notebooks are {', '.join(profiles.NOTEBOOKS)}")
    out.mkdir(parents=True, exist_ok=True)
    os.environ.pop("MPLBACKEND", None)        # the kernel must use the inline backend, or figures vanish
    raw = out / f".{notebook}.input.ipynb"
    jupytext.write(jupytext.read(source), raw)
    target = out / f"{notebook}.ipynb"
    tmp = out / f".{notebook}.partial.ipynb"
    try:
        papermill.execute_notebook(raw, tmp, parameters=params, kernel_name="python3",
                                   cwd=str(REPO), progress_bar=False)
    except papermill.PapermillExecutionError as e:
        raise WsmError(f"notebook {notebook} failed under profile {profile} in cell {e.exec_count}: "
                       f"{e.ename}: {e.evalue} (the partial output is in {tmp})") from None
    tag_file(tmp, target)
    tmp.unlink()
    raw.unlink()
    return target


# A page as the reader sees it (MyST-NB's cell tags): its code folds behind a "Show code cell source"
# toggle, its outputs (figures, tables, sentences) stay in view; the cell that starts the page
# (``experiments.start(...)``: the "Executed with profile ..." line, every resolved setting, the zoos)
# also folds its output behind "Show code cell output"; both stay one click away in the HTML.
BANNER_CALL = "experiments.start("
KEEP_OUT = {"remove-cell", "remove-input", "hide-cell"}     # already out of sight: left as they are


def tag_for_book(nb):
    """Tag the code cells of an executed notebook (an nbformat ``NotebookNode``, changed in place and
    returned) for the book: papermill's injected-parameters cell (absolute local paths) ``remove-cell``
    (the banner shows every resolved setting instead); every other code cell ``hide-input``, except
    one already removed or hidden whole (:data:`KEEP_OUT`); the cell that calls
    :data:`BANNER_CALL` also ``hide-output``. Existing tags are kept, none is added twice."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = list(cell.metadata.get("tags", []))
        wanted = []
        if "injected-parameters" in tags:
            wanted.append("remove-cell")
        elif not KEEP_OUT & set(tags):
            wanted.append("hide-input")
            if BANNER_CALL in cell.source:
                wanted.append("hide-output")
        tags += [t for t in wanted if t not in tags]
        if tags:
            cell.metadata["tags"] = tags
    return nb


def tag_file(source: Path, target: Path | None = None) -> Path:
    """:func:`tag_for_book` on the notebook file ``source``, written atomically to ``target`` (by
    default ``source`` itself); returns ``target``."""
    import nbformat

    target = Path(target or source)
    text = nbformat.writes(tag_for_book(nbformat.read(source, as_version=4)))
    atomic_write(target, lambda f: f.write((text if text.endswith("\n") else text + "\n").encode("utf-8")))
    return target


def overrides_for(names, settings: list[str]) -> dict[str, dict]:
    """Each notebook's overrides from ``NAME=VALUE`` texts: a setting goes to every page that has it;
    one that no page of ``names`` has is refused, listing the settings they have."""
    import json

    parsed = {}
    for text in settings:
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise WsmError(f"--set {text!r}: write NAME=VALUE, for example --set null_repeats=20")
        try:
            parsed[key] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key] = value
    valid = {n: experiments.valid_settings(n) for n in names}
    unknown = sorted(k for k in parsed if not any(k in v for v in valid.values()))
    if unknown:
        raise WsmError(f"--set {', '.join(unknown)}: no page of {', '.join(names)} has such a setting; valid "
                       f"settings are {', '.join(sorted(set().union(*valid.values())))}")
    return {n: {k: v for k, v in parsed.items() if k in valid[n]} for n in names}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="quick", help=f"one of {', '.join(profiles.PROFILES)}")
    ap.add_argument("--out", type=Path, default=REPO / "book" / "executed")
    ap.add_argument("--only", nargs="*", default=None, help="run only these notebooks")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="change a setting on every page that has it (repeatable)")
    args = ap.parse_args(argv)
    try:
        names = args.only or list(profiles.NOTEBOOKS)
        overrides = overrides_for(names, args.set)
        for name in names:                # refuse a bad profile, notebook or setting before running anything
            experiments.page(name, args.profile, overrides[name], results_dir=args.out / "results")
        for name in names:
            t0 = time.time()
            print(f"[wsm] {name} ({args.profile}) ...", flush=True)
            execute(name, args.profile, args.out, overrides[name])
            seconds = time.time() - t0
            results.record_time(args.out / "results", name, args.profile, seconds)
            print(f"[wsm] {name} done in {seconds:.0f} s", flush=True)
            results.archive(args.out / "results", results.collect(args.out / "results"))
        table = results.collect(args.out / "results")
        print(f"[wsm] {len(table)} results in {args.out / 'results' / 'results.csv'}")
        print(f"[wsm] the book's first page: {frontpage.write(args.out)}")
        print(f"[wsm] the Performance page: {performance.write(REPO / 'book', args.out)}")
    except WsmError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
