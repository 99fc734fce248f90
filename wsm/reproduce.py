"""Execute the notebooks with papermill under a profile, and collect the results table.

    python -m wsm.reproduce --profile quick [--out book/executed] [--only NAME ...] [--set NAME=VALUE ...]

Each ``notebooks/<name>.py`` (percent format, the source of truth) is turned into a notebook by
jupytext, executed by papermill with the profile's parameters, and written to
``<out>/<name>.ipynb``; each notebook writes its rows to ``<out>/results/<name>.csv`` and this
command joins them into ``<out>/results/results.csv`` and writes the verdict section of the book's
first page (``<out>/frontpage.md``, :mod:`wsm.frontpage`). ``--set null_repeats=20`` changes a setting
on every page that has it (:func:`wsm.experiments.valid_settings`; values are read as JSON, else text).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from wsm import experiments, frontpage, paths, profiles, results
from wsm.paths import REPO
from wsm.errors import WsmError



def execute(notebook: str, profile: str, out: Path, overrides: dict | None = None) -> Path:
    """Run one notebook under ``profile`` (with ``overrides`` of its settings); returns the executed
    notebook's path. The notebook receives only the profile, the overrides and the roots; its page
    object (:func:`wsm.experiments.page`) resolves everything else. Bad settings are refused here,
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
    _hide_injected_parameters(tmp)
    os.replace(tmp, target)
    raw.unlink()
    return target


def _hide_injected_parameters(path: Path) -> None:
    """Tag papermill's injected-parameters cell (absolute local paths) ``remove-cell``, so the book
    leaves it out; the page's banner shows every resolved setting instead."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    nbformat.write(nb, path)


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
    except WsmError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
