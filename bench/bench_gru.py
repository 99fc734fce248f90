"""GRU-2 training throughput: the one-at-a-time loop against the batched trainer (issue 8), and a
zoo's batched chunks in one process against one one-thread process per core.

Both train GRU-2 networks on NameData task 0 with one name per SGD step (Appendix F), from the same
seeds and the same name orders. ``networks * steps / second`` is the figure of merit; ``speedup``
is relative to the one-at-a-time row. Timings depend on the machine's load: report them with it.
Run: ``python bench/bench_gru.py [--full]``.
"""

from __future__ import annotations

import os
import sys
import time

import torch

from wsm.zoos import gru, namedata, zoo


def _row(variant, networks, steps, seconds, base, notes):
    rate = networks * steps / seconds
    return dict(benchmark="gru2-training", variant=variant, networks=networks, steps=steps,
                seconds=round(seconds, 3), net_steps_per_s=round(rate, 1),
                speedup=round(rate / base, 2) if base else 1.0, device="cpu",
                threads=torch.get_num_threads(), notes=notes)


def run(quick: bool = True) -> list[dict]:
    task = namedata.load_task(0)
    names = namedata.encode_all(task.train)
    sizes = [len(g) for g in task.train]
    steps = 100 if quick else 500
    ref_runs = 2 if quick else 4
    orders = {s: namedata.sample_order(s, sizes, steps) for s in range(128)}
    t0, c0 = time.perf_counter(), time.process_time()
    for s in range(ref_runs):
        gru.train_reference(s, names, orders[s], lr=0.1)
    ref = (time.perf_counter() - t0)
    rows = [_row("one-at-a-time (nn.GRU + optim.SGD)", ref_runs, steps, ref, None,
                 f"reference loop, includes nets.build; process CPU {time.process_time() - c0:.1f} s")]
    base = rows[0]["net_steps_per_s"]
    for r in ((16, 32) if quick else (8, 16, 32, 64, 128)):
        t0, c0 = time.perf_counter(), time.process_time()
        gru.train_batched(list(range(r)), names, torch.stack([orders[s] for s in range(r)]), lr=0.1)
        rows.append(_row(f"batched R={r} (hand BPTT, bmm)", r, steps, time.perf_counter() - t0, base,
                         f"includes nets.build of every run; one thread inside; process CPU "
                         f"{time.process_time() - c0:.1f} s"))
    # a zoo's chunks side by side in one-thread processes (wsm.zoos.gru.train_runs, as build_zoo does)
    cfg = zoo.ZooConfig(dataset="namedata", arch="gru2", tasks=(0,), runs=64, epochs=2 * steps, momentum=0.0,
                        weight_decay=0.0, batch_size=1, augment=False)
    todo = [(0, r) for r in range(64)]
    workers = zoo.workers_for(cfg, 2, batched=False)       # build_zoo's choice for these 2 chunks
    timed = {}
    for w in sorted({1, workers}):
        t0 = time.perf_counter()
        for _ in gru.train_runs(cfg, todo, chunk=32, progress=False, workers=w):
            pass
        timed[w] = time.perf_counter() - t0
    for w, seconds in timed.items():
        rows.append(_row(f"zoo chunks R=32 x {w} process{'es' if w > 1 else ''}", 64, 2 * steps, seconds, base,
                         f"gru.train_runs: 2 chunks in {w} one-thread process(es); includes loading the names and "
                         f"the accuracies{', and starting the processes' if w > 1 else ''}; "
                         f"{timed[1] / seconds:.2f}x one process"))
    return rows


if __name__ == "__main__":
    threads = os.environ.get("WSM_BENCH_THREADS")
    if threads:
        torch.set_num_threads(int(threads))
    for row in run(quick="--full" not in sys.argv):
        print(row)
