"""Table 1 (NameData, GRU-2) at the paper's settings, all of it, on this machine (issue 34).

``python -m bench.paper_table1 [--zoos zoos] [--out book/benchmarks] [--profile paper]``

Builds the ``s4_3_namedata`` page's zoo under the profile (paper: 9 tasks x 100 runs, 10,000 batch-1
SGD steps; resumable: finished runs are kept), then executes the page itself (``wsm.book.reproduce``, the
same notebook the book runs) and commits what it wrote: ``table1_<profile>.csv`` (the page's results
rows, with the setting they were measured at) and ``table1_<profile>_times.csv`` (wall time of each
stage, with the machine, commit and date: :func:`bench.common.provenance`). The summary reads the
first as a committed run (:data:`wsm.report.summary.COMMITTED`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from bench import common
from wsm.book import experiments, reproduce

NOTEBOOK = "s4_3_namedata"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zoos", default="zoos")
    ap.add_argument("--out", default="book/benchmarks")
    ap.add_argument("--profile", default="paper", help="another profile's settings (smoke: a dry run)")
    args = ap.parse_args(argv)
    zoos = Path(args.zoos).resolve()
    page = experiments.page(NOTEBOOK, args.profile, zoo_root=zoos)
    t0 = time.time()
    built, _ = page.build_zoos()
    build_s = time.time() - t0
    z = built["gru2"]
    train = z.table()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        os.environ["WSM_ZOOS"] = str(zoos)        # the notebook's zoo root (wsm.core.paths.zoo_root)
        reproduce.execute(NOTEBOOK, args.profile, Path(tmp))
        page_s = time.time() - t0
        rows = pd.read_csv(Path(tmp) / "results" / f"{NOTEBOOK}.csv")
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(tmp) / "results" / f"{NOTEBOOK}.csv", out / f"table1_{args.profile}.csv")
    stages = [dict(stage="train the zoo (sum over runs of each run's training seconds)", networks=len(z),
                   seconds=round(float(train.seconds.sum()), 1) if "seconds" in train else float("nan")),
              dict(stage="train what was missing (this call's wall time)", networks=len(z), seconds=round(build_s, 1)),
              dict(stage="the page: chains' Grams, classification, retrieval, null, figures", networks=len(z),
                   seconds=round(page_s, 1))]
    times = pd.DataFrame(stages).assign(profile=args.profile, **common.provenance())
    times.to_csv(out / f"table1_{args.profile}_times.csv", index=False)
    print(rows[["protocol", "kind", "depth", "ours", "ci_low", "ci_high", "paper", "n"]].to_string())
    print(times.to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
