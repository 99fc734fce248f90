"""Execute the notebooks with papermill under a profile, and collect the results table.

    python -m wsm.reproduce --profile quick [--out book/executed] [--only NAME ...]

Each ``notebooks/<name>.py`` (percent format, the source of truth) is turned into a notebook by
jupytext, executed by papermill with the profile's parameters, and written to
``<out>/<name>.ipynb``; each notebook writes its rows to ``<out>/results/<name>.csv`` and this
command joins them into ``<out>/results/results.csv`` and writes the verdict section of the book's
first page (``<out>/frontpage.md``, :mod:`wsm.frontpage`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from wsm import frontpage, paths, profiles, results
from wsm.paths import REPO
from wsm.errors import WsmError



def execute(notebook: str, profile: str, out: Path, overrides: dict | None = None) -> Path:
    """Run one notebook under ``profile``; returns the executed notebook's path."""
    import jupytext
    import papermill

    params = profiles.parameters(profile, notebook) | dict(
        data_root=str(paths.data_root()), zoo_root=str(paths.zoo_root()), results_dir=str(out / "results"))
    params |= overrides or {}
    profiles.check(notebook, params)
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
    os.replace(tmp, target)
    raw.unlink()
    return target


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="quick", help=f"one of {', '.join(profiles.PROFILES)}")
    ap.add_argument("--out", type=Path, default=REPO / "book" / "executed")
    ap.add_argument("--only", nargs="*", default=None, help="run only these notebooks")
    args = ap.parse_args(argv)
    try:
        names = args.only or list(profiles.NOTEBOOKS)
        for name in names:                # refuse a bad profile or notebook before running anything
            profiles.parameters(args.profile, name)
        for name in names:
            t0 = time.time()
            print(f"[wsm] {name} ({args.profile}) ...", flush=True)
            execute(name, args.profile, args.out)
            seconds = time.time() - t0
            results.record_time(args.out / "results", name, args.profile, seconds)
            print(f"[wsm] {name} done in {seconds:.0f} s", flush=True)
            results.archive(args.out / "results", results.collect(args.out / "results"))
        table = results.collect(args.out / "results")
        print(f"[wsm] {len(table)} results in {args.out / 'results' / 'results.csv'}")
        print(f"[wsm] the book's first page: {frontpage.write(args.out)}")
    except WsmError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
