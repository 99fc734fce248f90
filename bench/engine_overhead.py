"""The cost of the Ray engine itself, per task: ``python -m bench.engine_overhead [--out CSV]``.

On a local Ray cluster of this machine (``ray.init(address="local")``, one worker per core) it
measures, each row one figure (``ms``, or ``s`` for the once-per-cluster and once-per-worker ones):

* starting the cluster, and a worker's first task (a fresh Python importing torch and wsm);
* an empty task: one at a time (submit, schedule, run, return) and many in flight;
* a zoo unit task whose runs are all saved (the engine's own work: the node's code check, the
  unit's file checks), one at a time;
* a zoo unit task that trains one MLP-4 network (Tiny ImageNet task 0, 20 images per class,
  one epoch), one at a time, against :func:`wsm.zoos.shards.build_unit` called in this process (their
  difference is what the engine adds, where it is larger than the noise);
* a claim taken and released (exclusive create, heartbeat thread, removal) on the local disk;
* a Gram tile task (two blocks of 4 MLP-4 layer-3 features) against the same tile computed here.

Writes ``book/benchmarks/engine_overhead.csv``; :mod:`bench.projection` adds these per-task costs to
its cluster projection (a unit: a unit task whose runs are saved plus a claim; a tile: the tile
task minus the same tile computed here; once per worker: its first unit task). Needs the data root for the
unit rows (they are left out without it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HERE = Path(__file__).resolve().parent.parent


def _ms(times) -> float:
    return round(1000 * statistics.median(times), 2)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE / "book" / "benchmarks" / "engine_overhead.csv")
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args(argv)
    import pandas as pd
    import ray
    import torch

    from wsm.core import paths, version
    from wsm.maths import chain
    from wsm.zoos import engine, nets, shards, tiles, training, zoo

    rows = []

    def add(measure, value, unit, n, notes=""):
        rows.append(dict(measure=measure, value=value, unit=unit, n=n, notes=notes))
        print(rows[-1], flush=True)

    cores = len(os.sched_getaffinity(0))
    t = time.perf_counter()
    ray.init(address="local", num_cpus=cores, include_dashboard=False, logging_level="warning")
    add("start a local cluster", round(time.perf_counter() - t, 2), "s", 1, f"ray.init(address='local'), {cores} CPUs")

    @ray.remote(num_cpus=1)
    def empty():
        return None

    t = time.perf_counter()
    ray.get([empty.remote() for _ in range(cores)])
    add("first tasks (workers start)", round(time.perf_counter() - t, 2), "s", cores, "one empty task per worker")
    seq = []
    for _ in range(args.repeats * 5):
        t = time.perf_counter()
        ray.get(empty.remote())
        seq.append(time.perf_counter() - t)
    add("empty task, one at a time", _ms(seq), "ms", len(seq), "median round trip")
    t = time.perf_counter()
    ray.get([empty.remote() for _ in range(1000)])
    add("empty task, 1,000 in flight", round(1000 * (time.perf_counter() - t) / 1000, 3), "ms", 1000,
        "wall time / tasks")

    work = Path(tempfile.mkdtemp(prefix="wsm-engine-"))
    unit = shards.units(training.ZooConfig(dataset="tiny-imagenet", arch="mlp4", tasks=(0,), runs=1, epochs=1))[0]
    t = time.perf_counter()
    for _ in range(args.repeats * 5):
        with shards.Claim.acquire(work, unit):
            pass
    add("claim taken and released", round(1000 * (time.perf_counter() - t) / (args.repeats * 5), 3), "ms",
        args.repeats * 5, "exclusive create, heartbeat thread, removal; local disk")

    root = paths.data_root()
    if (root / "tiny-imagenet-200.zip").exists() or (root / "tiny-imagenet-200").is_dir():
        n = args.repeats
        cfg = training.ZooConfig(dataset="tiny-imagenet", arch="mlp4", tasks=(0,), runs=n, epochs=1, train_per_class=20)
        task = ray.remote(engine._unit_task).options(num_cpus=1, max_retries=engine.RETRIES)
        code = version.code(version.TRAINING_MODULES)
        folder = work / "ray"
        zoo.prepare(folder, cfg)
        t = time.perf_counter()
        ray.get(task.remote(str(folder), cfg, shards.units(cfg)[0], str(root), False, None, 60.0, code))
        add("a worker's first unit task", round(time.perf_counter() - t, 2), "s", 1,
            "imports torch and wsm, loads the task, trains one MLP-4")
        trained = []
        for u in shards.units(cfg)[1:]:
            t = time.perf_counter()
            ray.get(task.remote(str(folder), cfg, u, str(root), False, None, 60.0, code))
            trained.append(time.perf_counter() - t)
        done = []
        for u in shards.units(cfg):
            t = time.perf_counter()
            ray.get(task.remote(str(folder), cfg, u, str(root), False, None, 60.0, code))
            done.append(time.perf_counter() - t)
        add("unit task, runs already saved", _ms(done), "ms", len(done), "code check + file checks, one at a time")
        here = work / "here"
        zoo.prepare(here, cfg)
        torch.set_num_threads(1)
        shards.build_unit(here, cfg, shards.units(cfg)[0], root)              # the task's data, loaded once
        direct = []
        for u in shards.units(cfg)[1:]:
            t = time.perf_counter()
            shards.build_unit(here, cfg, u, root)
            direct.append(time.perf_counter() - t)
        add("unit task training one MLP-4", _ms(trained), "ms", len(trained), "Ray, warm worker, one at a time")
        add("the same unit in this process", _ms(direct), "ms", len(direct), "shards.build_unit, one thread")
    else:
        print(f"no Tiny ImageNet under {root}: the unit rows are left out (set WSM_DATA)")

    torch.manual_seed(0)
    nets_ = [chain.layer_weights(nets.build("mlp4", 4)) for _ in range(8)]
    job = dict(nets_a=nets_[:4], nets_b=nets_[4:], a=(0, 4), b=(4, 8), depth=3, kind="unnormalized",
               method="explicit", memory_gb=2.0, device="cpu", key="x", cache=None)
    tile = ray.remote(engine._tile_task).options(num_cpus=1)
    meta = {k: v for k, v in job.items() if not k.startswith("nets_")}
    a, b = ray.put(nets_[:4]), ray.put(nets_[4:])
    ray.get(tile.remote(meta, a, b))
    remote, local = [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        ray.get(tile.remote(meta, a, b))
        remote.append(time.perf_counter() - t)
        t = time.perf_counter()
        tiles.run(job)
        local.append(time.perf_counter() - t)
    add("Gram tile task (4 x 4 MLP-4 L3)", _ms(remote), "ms", len(remote), "blocks already in the object store")
    add("the same tile in this process", _ms(local), "ms", len(local), "")
    ray.shutdown()
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    df = pd.DataFrame(rows)
    try:
        df["load_1min"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    df.to_csv(args.out, index=False)
    print(df.to_string(index=False))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
