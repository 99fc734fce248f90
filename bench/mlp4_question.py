"""The slice's MLP-4 chain 3: the networks, or our classifier? (issue 34)

``python -m bench.mlp4_question [--zoos zoos] [--seeds 0 1 2 3 4] [--out book/benchmarks]``

On the paper's MLP-4 zoo of the Fig. 2 slice (``bench.paper_slice``: the paper profile's training,
its first ``--tasks`` tasks, 100 runs each, already built), weight classification of chains 1-3 and
layer 1 under each of the weight classifiers the paper, the ICLR text and the authors' code describe
(:data:`VARIANTS`), each under every split seed of ``--seeds``, with the paper's number of classifier
SGD steps (:func:`bench.paper_slice.protocol`). Writes ``mlp4_classifiers.csv``: one row per variant,
seed and feature, with the hits on the test networks (so paired tests between variants can be made on
the same networks), and ``mlp4_classifiers_times.csv``. :func:`wsm.report.summary.mlp4_answer` reads it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import pandas as pd

from bench import common, paper_slice
from wsm.core import progress
from wsm.maths import chain
from wsm.zoos import zoo
from wsm.book import experiments

# name -> (features centred and scaled?, per-layer row normalization of the MLP's chains 2.. ?)
VARIANTS = {
    "ours: centred and scaled, Eq. 7": (True, False),
    "raw vec(φ), Eq. 7 (paper)": (False, False),
    "raw vec(φ), rows normalized (ICLR text, code)": (False, True),
}
COLUMNS = ["variant", "seed", "feature", "kind", "depth", "ours", "ci_low", "ci_high", "n", "hits", "tasks",
           "clf_epochs", "device"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=4)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--zoos", default="zoos")
    ap.add_argument("--out", default="book/benchmarks")
    ap.add_argument("--profile", default="paper", help="another profile's settings (smoke: a dry run)")
    args = ap.parse_args(argv)
    page = experiments.page("s4_1_tiny_imagenet", args.profile, zoo_root=args.zoos)
    folder, cfg = page.zoos["mlp4"]
    tasks = list(range(args.tasks))
    z = zoo.load_zoo(folder, cfg, only_tasks=tasks)
    if len(z) < args.tasks * cfg.runs:
        raise SystemExit(f"error: {folder} holds {len(z)} of the {args.tasks * cfg.runs} networks of tasks "
                         f"{tasks}; build them first: python -m bench.paper_slice --archs mlp4 --zoos {args.zoos}")
    base = dataclasses.replace(paper_slice.protocol(page.protocol, cfg, len(tasks), 0),
                               protocols=("classification",), chains=(1, 2, 3), layers=(1,),
                               gram_cache=page.protocol.gram_cache)    # every seed and variant reuses the Grams
    w, y = z.usable()
    ids = (z.usable_runs(), cfg.runs)
    normalized = chain.row_normalized
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, times = [], []
    jobs = [(v, s) for v in VARIANTS for s in args.seeds]
    for variant, seed in progress.bar(jobs, desc="MLP-4 classifier variants"):
        standardize, rows_normalized = VARIANTS[variant]
        proto = dataclasses.replace(base, seed=seed,
                                    classifier=dataclasses.replace(base.classifier, standardize=standardize))
        t0 = time.time()
        if rows_normalized:     # chain 1 and layer 1 are the same either way in the authors' code
            res = pd.concat([dataclasses.replace(proto, chains=(1,)).evaluate(w, y, *ids, progress=False),
                             dataclasses.replace(proto, chains=(2, 3), layers=()).evaluate(
                                 [normalized(x) for x in w], y, *ids, progress=False)], ignore_index=True)
        else:
            res = proto.evaluate(w, y, *ids, progress=False)
        times.append(dict(variant=variant, seed=seed, seconds=round(time.time() - t0, 1)))
        rows.append(common.percent_rows(res, variant=variant, seed=seed, tasks=len(tasks),
                                        clf_epochs=base.classifier.epochs, device=page.device))
        table = pd.concat(rows, ignore_index=True)
        table[COLUMNS].to_csv(out / "mlp4_classifiers.csv", index=False)
        pd.DataFrame(times).assign(**common.provenance()).to_csv(out / "mlp4_classifiers_times.csv", index=False)
    print(table[COLUMNS[:8]].to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
