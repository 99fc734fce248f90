"""Run every benchmark: ``python -m bench.run [--full] [--out book/benchmarks]``.

Imports every ``bench/bench_*.py`` module and calls its ``run(quick) -> list[dict]``; writes
``book/benchmarks/<machine>.csv`` (the book's Performance page shows it) and prints a table. ``--quick``
(default) finishes in a few minutes on 2 cores; ``--full`` measures longer. A module that fails is reported and
skipped, not fatal."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):                       # python bench/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402

from bench import common  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", default=True, help="small sizes (default)")
    mode.add_argument("--full", action="store_true", help="longer measurements")
    ap.add_argument("--only", default="", help="comma-separated module names, e.g. bench_matmul,bench_chain")
    ap.add_argument("--device", choices=("all", "cpu", "cuda"), default="all",
                    help="which devices the training and matmul benchmarks measure (default: the CPU and CUDA if "
                         "present)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "book" / "benchmarks"))
    args = ap.parse_args(argv)
    quick = not args.full
    if args.device != "all":
        common.DEVICES[:] = [args.device]
    here = Path(__file__).resolve().parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    names.sort(key=lambda n: n != "bench_matmul")      # the reference first
    rows, failed = [], []
    for name in names:
        t = time.time()
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        try:
            rows += importlib.import_module(f"bench.{name}").run(quick=quick)
        except (Exception, SystemExit):        # a module's failure (even an argparse exit) is reported, not fatal
            failed.append(name)
            traceback.print_exc()
        print(f"[bench] {name} done in {time.time() - t:.0f} s", file=sys.stderr, flush=True)
    df = pd.DataFrame(rows, columns=list(common.COLUMNS))
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    df["load_1min"] = round(load, 2)
    df["mode"] = "quick" if quick else "full"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{common.machine()}.csv"
    df.to_csv(path, index=False)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 60):
        print(df.drop(columns=["notes"]).to_string(index=False))
    print(f"\nwrote {path}" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    from bench import projection
    try:
        projection.main([str(path)])
    except (ValueError, KeyError, IndexError) as e:      # e.g. --only without the training rows
        print(f"no projection from {path}: it needs the training rows of both architectures ({e})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
