"""Table 1 (NameData, GRU-2) at the paper's settings, all of it, on this machine (issue 34).

``python -m bench.paper_table1 [--zoos zoos] [--out book/benchmarks] [--profile paper] [--seeds 0 1 2 3 4]
[--set NAME=VALUE --tag TAG]``

Builds the ``s4_3_namedata`` page's zoo under the profile (paper: 9 tasks x 100 runs, 10,000 batch-1
SGD steps; resumable: finished runs are kept), then executes the page itself (``wsm.book.reproduce``, the
same notebook the book runs) and commits what it wrote: ``table1_<profile>.csv`` (the page's results
rows, with the setting they were measured at). Then, on the same networks, both protocols under each
weight classifier of :data:`VARIANTS` (ours and the authors' raw vec(φ)) for every split seed of
``--seeds``, without the null: ``table1_<profile>_classifiers.csv`` (one row per variant, seed and cell,
with the hits, so variants can be compared on the same networks); and the raw layer 1 in its two parts
(:func:`wsm.maths.chain.invariant_split`: the per-gate column sums no permutation of the hidden units changes,
and the rest), each under both protocols: ``table1_<profile>_raw_parts.csv``. ``table1_<profile>_times.csv``: the wall
time of each stage, with the machine, commit and date (:func:`bench.common.provenance`). The summary reads
the first as a committed run (:data:`wsm.report.summary.COMMITTED`), the Table 1 page and the first page all
three (:mod:`wsm.report.table1`).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from bench import common, mlp4_question
from wsm.book import experiments, reproduce
from wsm.core import progress
from wsm.maths import chain

NOTEBOOK = "s4_3_namedata"
# the classifiers that apply to a GRU's chain 1 and raw layer (the ICLR text's row normalization is the MLP's)
VARIANTS = {name: standardize for name, (standardize, rows) in mlp4_question.VARIANTS.items() if not rows}
# the raw layer of Table 1 (weight_ih_l0) in its two parts (chain.invariant_split), each classified on its own
PARTS = ("per-gate column sums (invariant)", "the rest (each gate centred over hidden units)")
PART_COLUMNS = ["part", "seed", "protocol", "ours", "ci_low", "ci_high", "n", "hits", "chance", "device"]
COLUMNS = ["variant", "seed", "protocol", "feature", "kind", "depth", "ours", "ci_low", "ci_high", "n", "hits",
           "device"]


def classifiers(page, z, seeds, out: Path) -> pd.DataFrame:
    """Both protocols of the page on the zoo ``z`` under every variant and split seed (no null; the page's
    Gram cache, so the Grams are computed once); writes ``out`` after each and returns the table."""
    base = dataclasses.replace(page.protocol, null_repeats=0)
    rows = []
    for variant, seed in progress.bar([(v, s) for v in VARIANTS for s in seeds], desc="Table 1 classifiers"):
        proto = dataclasses.replace(base, seed=seed,
                                    classifier=dataclasses.replace(base.classifier, standardize=VARIANTS[variant]))
        rows.append(common.percent_rows(proto.evaluate_zoo(z, progress=False), variant=variant, seed=seed,
                                        device=page.device))
        table = pd.concat(rows, ignore_index=True)
        table[COLUMNS].to_csv(out, index=False)
    return table[COLUMNS]


def raw_parts(page, z, seeds, out: Path) -> pd.DataFrame:
    """Both protocols of the page on each part of the raw layer 1 (:func:`wsm.maths.chain.invariant_split`:
    the per-gate column sums, which no permutation of the hidden units changes, and the rest), our classifier,
    every split seed, no null; writes ``out`` and returns the table."""
    w, y = z.usable()
    split = [chain.invariant_split(x[0], chain.GRU_GATES) for x in w]
    parts = dict(zip(PARTS, ([[s] for s, _ in split], [[r] for _, r in split])))
    base = dataclasses.replace(page.protocol, null_repeats=0, chains=(), layers=(1,), gram_cache=None)
    runs = z.usable_runs()
    rows = []
    for part, seed in progress.bar([(p, s) for p in PARTS for s in seeds], desc="Table 1's raw layer, in parts"):
        res = dataclasses.replace(base, seed=seed).evaluate(parts[part], y, runs, z.config.runs, progress=False)
        rows.append(common.percent_rows(res, part=part, seed=seed, device=page.device))
    table = pd.concat(rows, ignore_index=True)
    table[PART_COLUMNS].to_csv(out, index=False)
    return table[PART_COLUMNS]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zoos", default="zoos")
    ap.add_argument("--out", default="book/benchmarks")
    ap.add_argument("--profile", default="paper", help="another profile's settings (smoke: a dry run)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="split seeds of the variants")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="change a setting of the page (as `python -m wsm.book.reproduce --set`); name the run "
                         "with --tag and give it a zoo root of its own")
    ap.add_argument("--tag", default="", help="the files' names: table1_<profile>[_<tag>]*.csv")
    args = ap.parse_args(argv)
    if args.set and not args.tag:
        ap.error("--set changes the setting: name the run with --tag, so the paper's files are not overwritten")
    zoos = Path(args.zoos).resolve()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    overrides = reproduce.overrides_for([NOTEBOOK], args.set)[NOTEBOOK]
    name = f"table1_{args.profile}" + (f"_{args.tag}" if args.tag else "")
    page = experiments.page(NOTEBOOK, args.profile, overrides, zoo_root=zoos)
    t0 = time.time()
    built, _ = page.build_zoos()
    build_s = time.time() - t0
    z = built["gru2"]
    train = z.table()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        os.environ["WSM_ZOOS"] = str(zoos)        # the notebook's zoo root (wsm.core.paths.zoo_root)
        reproduce.execute(NOTEBOOK, args.profile, Path(tmp), overrides)
        page_s = time.time() - t0
        rows = pd.read_csv(Path(tmp) / "results" / f"{NOTEBOOK}.csv")
        shutil.copyfile(Path(tmp) / "results" / f"{NOTEBOOK}.csv", out / f"{name}.csv")
    t0 = time.time()
    variants = classifiers(page, z, args.seeds, out / f"{name}_classifiers.csv")
    variants_s = time.time() - t0
    t0 = time.time()
    parts = raw_parts(page, z, args.seeds, out / f"{name}_raw_parts.csv")
    parts_s = time.time() - t0
    core_s = float(train.seconds.sum())       # a run's seconds: its chunk's wall time / the chunk's runs
    median_s = float(train.seconds.median())
    stages = [dict(stage="train the zoo: the sum of its chunks' wall times (chunks of networks trained side by "
                         "side, one per core)", networks=len(z), seconds=round(core_s, 1), steps=z.config.epochs,
                   net_steps_per_core_s=round(len(z) * z.config.epochs / core_s, 1)),
              dict(stage="train one network: the median over runs of its chunk's wall time / the chunk's runs (a "
                         "shared machine's busy hours left out)", networks=1, seconds=round(median_s, 2),
                   steps=z.config.epochs, net_steps_per_core_s=round(z.config.epochs / median_s, 1)),
              dict(stage="train what was missing (this call's wall time)", networks=len(z), seconds=round(build_s, 1)),
              dict(stage="the page: chains' Grams, classification, retrieval, null, figures", networks=len(z),
                   seconds=round(page_s, 1)),
              dict(stage=f"both protocols under {len(VARIANTS)} classifiers x {len(args.seeds)} split seeds, no null",
                   networks=len(z), seconds=round(variants_s, 1)),
              dict(stage=f"the raw layer's two parts, both protocols x {len(args.seeds)} split seeds, no null",
                   networks=len(z), seconds=round(parts_s, 1))]
    times = pd.DataFrame(stages).assign(profile=args.profile, overrides=" ".join(args.set), **common.provenance())
    times.to_csv(out / f"{name}_times.csv", index=False)
    print(rows[["protocol", "kind", "depth", "ours", "ci_low", "ci_high", "paper", "n"]].to_string())
    print(variants.drop(columns="hits").to_string())
    print(parts.drop(columns="hits").to_string())
    print(times.to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
