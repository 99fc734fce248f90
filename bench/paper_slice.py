"""Fig. 2 at the paper's settings on a slice of its tasks, on the GPU when one is present.

``python -m bench.paper_slice [--tasks 4] [--archs mlp4,plainnet5] [--null 20] [--out DIR]``

Trains the paper profile's Tiny ImageNet zoos (``wsm.core.profiles``, notebook ``s4_1_tiny_imagenet``:
100 runs per task, MLP-4 100 epochs with lr / 10 after 70, PlainNet-5 50 epochs with lr / 10 after
30, SGD batch 128) for the first ``--tasks`` tasks only (``build_zoo(only_tasks=...)``: the folder
is the full paper zoo's, so ``make reproduce PROFILE=paper`` later completes it), then runs Fig. 2's
weight classification and retrieval on those networks with the paper's classifier (lr 0.001, batch
1) for the paper's 30,000 SGD steps (10 epochs over 3,000 networks there; here as many epochs as
that takes over this slice's training networks). Writes ``paper_slice.csv`` (accuracies beside the
paper's) and ``paper_slice_times.csv`` (seconds per stage, and what one network costs).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from bench import common
from wsm.core import paper
from wsm.maths import htt
from wsm.zoos import zoo
from wsm.book import experiments


COLUMNS = ["architecture", "protocol", "feature", "ours", "ci_low", "ci_high", "null_mean", "p_null", "null_repeats",
           "decision", "paper", "n", "tasks", "clf_epochs", "device"]


def compact(res: pd.DataFrame) -> pd.DataFrame:
    """The columns the Performance page shows, percentages to one decimal."""
    res = res[COLUMNS].copy()
    for c in ("ours", "ci_low", "ci_high", "null_mean"):
        res[c] = res[c].round(1)
    res["p_null"] = res.p_null.round(3)
    return res.astype({"null_repeats": int})


def protocol(proto, cfg, n_tasks: int, null: int):
    """The page's protocol on ``n_tasks`` of the zoo's tasks with the paper's number of classifier SGD
    steps (its epochs over all of its tasks' training networks, here as many epochs as that takes over
    the slice's training networks; lr / 10 after 60% of them), ``null`` label shuffles and no Gram cache."""
    per_task = int(round(proto.train_fraction * cfg.runs))
    paper_steps = proto.classifier.epochs * per_task * len(cfg.tasks)
    epochs = max(1, round(paper_steps / (per_task * n_tasks)))
    clf = dataclasses.replace(proto.classifier, epochs=epochs, milestones=(round(0.6 * epochs),))
    return dataclasses.replace(proto, classifier=clf, null_repeats=null, gram_cache=None)


def workers(cfg) -> int:
    """How many processes trained the zoo's networks side by side (:func:`wsm.zoos.training.workers_for`)."""
    from wsm.zoos import training

    return training.workers_for(cfg, cfg.runs, zoo.use_vectorized(cfg, None))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=4)
    ap.add_argument("--archs", default="mlp4,plainnet5")
    ap.add_argument("--null", type=int, default=20, help="permutation-null repeats")
    ap.add_argument("--zoos", default="zoos")
    ap.add_argument("--out", default="book/benchmarks")
    ap.add_argument("--name", default="paper_slice",
                    help="files <name>.csv and <name>_times.csv (the committed CPU run: paper_slice_cpu)")
    ap.add_argument("--profile", default="paper", help="another profile's settings (smoke: a dry run on a CPU)")
    args = ap.parse_args(argv)
    page = experiments.page("s4_1_tiny_imagenet", args.profile, zoo_root=args.zoos)
    proto, dev = page.protocol, page.device
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    gpu = torch.cuda.get_device_name(0) if dev == "cuda" else "cpu"
    tasks = list(range(args.tasks))
    times, acc = [], []
    for arch in args.archs.split(","):
        folder, cfg = page.zoos[arch]
        pairs = [(t, r) for t in tasks for r in range(cfg.runs)]
        before = len(pairs) - len(zoo.missing(folder, cfg, pairs))
        t0 = time.time()
        z = zoo.build_zoo(folder, cfg, only_tasks=tasks)
        train_s = time.time() - t0
        table = z.table()
        per_task = len(z.runs[0].classes) * (cfg.train_per_class or 500)
        steps = cfg.epochs * -(-per_task // cfg.batch_size)
        # A build resumed over several sessions (paused in between): this call's wall time covers only
        # what it trained, so the rates come from the run files' own seconds (each network's share of
        # its process's time: sum = process-seconds), over the processes that trained side by side.
        process_s = float(table.seconds.sum())
        wall_s = train_s if before == 0 else process_s / max(1, min(len(z), workers(cfg)))
        times.append(dict(stage="train", arch=arch, device=gpu, networks=len(z), epochs=cfg.epochs,
                          seconds=round(wall_s, 1), s_per_network=round(wall_s / len(z), 3),
                          net_epochs_per_s=round(len(z) * cfg.epochs / wall_s, 1),
                          net_steps_per_s=round(len(z) * steps / wall_s, 1),
                          paper_zoo_hours=round(wall_s / len(z) * 5000 / 3600, 3),
                          process_seconds=round(process_s, 1), resumed_from=before,
                          this_call_seconds=round(train_s, 1),
                          train_acc=round(table.train_acc.mean(), 4), test_acc=round(table.test_acc.mean(), 4)))
        print(times[-1], flush=True)
        w, y = z.usable()
        slice_proto = protocol(proto, cfg, len(tasks), args.null)
        epochs = slice_proto.classifier.epochs
        t0 = time.time()
        res = slice_proto.evaluate(w, y, progress=False)
        eval_s = time.time() - t0
        res = htt.percent(res, proto.alpha).assign(architecture=arch, tasks=len(tasks), device=gpu,
                                                       clf_epochs=epochs)
        res["paper"] = [paper.FIG2[(a, p, k)][d - 1] for a, p, k, d in
                        zip(res.architecture, res.protocol, res.kind, res.depth)]
        acc.append(res)
        times.append(dict(stage="classify + retrieve (all chains, layers, null)", arch=arch, device=gpu,
                          networks=len(z), seconds=round(eval_s, 1)))
        print(res.to_string(), flush=True)
        compact(pd.concat(acc)).to_csv(out / f"{args.name}.csv", index=False)
        pd.DataFrame(times).assign(**common.provenance()).to_csv(out / f"{args.name}_times.csv", index=False)
    print(pd.DataFrame(times).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
