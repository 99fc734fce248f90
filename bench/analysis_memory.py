"""Peak memory and time of the analysis against zoo size, before and after lazy reading.

``python -m bench.analysis_memory [--sizes 250 500 1000 2000] [--before-max 1000] [--work DIR]``
writes ``book/benchmarks/analysis_memory.csv`` (the book's Performance page shows it).

It writes the largest size's networks once, as the run files of one zoo: random MLP-4 networks
(PyTorch's initialisation, one seed each; no training), 50 runs per task. Then, for every size N
(the zoo's first N networks, ``load_zoo(only_tasks=...)``), each variant runs in a fresh process:

* ``in memory (before)``: every run file read and kept in memory, as wsm read a zoo before
  (checksums checked), then the centred Gram of layer 3 (MLP-4's L3: 250,000 features) by
  :func:`wsm.maths.chain.gram` in 0.5 GB blocks;
* ``lazy (after)``: :func:`wsm.zoos.zoo.load_zoo` (checksums checked one file at a time, weights left
  in the files) and ``usable()``, then the same Gram, every block read from the files;
* ``lazy tiles (after)``: the same, the Gram assembled from 0.5 GB tiles (:mod:`wsm.zoos.tiles`), as
  the Ray engine computes it (here one tile after another).

``peak_mb``: the process's peak resident set (``VmHWM``) minus its resident set after the imports;
``seconds_load`` / ``seconds_gram``: reading the zoo / the Gram. The Gram is of one raw layer so that
the largest size runs in minutes on 2 cores; a chain's Gram reads its networks the same way
(its time: ``bench/bench_chain.py`` and the projection).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):                       # python bench/analysis_memory.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HERE = Path(__file__).resolve().parent.parent
RUNS = 50                 # runs per task of the written zoo
DEPTH, KIND, MEMORY_GB = 3, "unnormalized", 0.5
VARIANTS = ("in memory (before)", "lazy (after)", "lazy tiles (after)")


def _status(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return float("nan")


def write_zoo(path: Path, n: int) -> None:
    """``n`` random MLP-4 networks as the run files of a zoo of ``n / RUNS`` tasks (kept if there)."""
    import torch

    from wsm.zoos import nets, training, zoo

    cfg = training.ZooConfig(dataset="tiny-imagenet", arch="mlp4", tasks=tuple(range(-(-n // RUNS))), runs=RUNS,
                             epochs=1)
    path.mkdir(parents=True, exist_ok=True)
    (path / "zoo.json").write_text(json.dumps(cfg.as_dict()))
    for i in range(n):
        t, r = divmod(i, RUNS)
        if zoo._run_file(path, t, r).exists():
            continue
        torch.manual_seed(i)
        state = nets.build("mlp4", 4).state_dict()
        zoo._save_run(path, training.Run(t, r, i, [0, 1, 2, 3], 0.0, 0.0, 0.0, 0.0, state, "cpu"))


def measure(variant: str, path: Path, n: int) -> dict:
    """One variant at one size, in this (fresh) process."""
    import torch

    from wsm.maths import chain
    from wsm.zoos import tiles, zoo

    torch.set_num_threads(2)
    base = _status("VmRSS")
    tasks = tuple(range(n // RUNS))
    t0 = time.perf_counter()
    if variant.startswith("in memory"):
        records = []
        for t in tasks:
            for r in range(RUNS):
                record = torch.load(zoo._run_file(path, t, r), weights_only=True)
                if record.pop("sha256") != zoo._digest(record["state_dict"]):
                    raise SystemExit("checksum")
                records.append(record)
        weights = [chain.layer_weights(rec["state_dict"]) for rec in records]
    else:
        weights, _ = zoo.load_zoo(path, only_tasks=tasks).usable()
    t1 = time.perf_counter()
    if variant.endswith("tiles (after)"):
        k = tiles.gram(weights, DEPTH, KIND, center=True, memory_gb=MEMORY_GB, progress=False)
    else:
        k = chain.gram(weights, DEPTH, KIND, memory_gb=MEMORY_GB, center=True, progress=False)
    t2 = time.perf_counter()
    assert k.shape == (n, n)
    return dict(variant=variant, networks=n, seconds_load=round(t1 - t0, 2), seconds_gram=round(t2 - t1, 2),
                seconds=round(t2 - t0, 2), peak_mb=round(_status("VmHWM") - base, 1), base_mb=round(base, 1),
                feature=f"L{DEPTH} ({KIND}, {MEMORY_GB} GB blocks)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", type=int, default=[250, 500, 1000, 2000])
    ap.add_argument("--before-max", type=int, default=1000,
                    help="largest size measured in memory (2,000 MLP-4 networks need about 16 GB)")
    ap.add_argument("--work", type=Path, default=None, help="where the run files are written (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the run files")
    ap.add_argument("--out", type=Path, default=HERE / "book" / "benchmarks" / "analysis_memory.csv")
    ap.add_argument("--measure", nargs=3, metavar=("VARIANT", "ZOO", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.measure:
        variant, path, n = args.measure
        print(json.dumps(measure(variant, Path(path), int(n))))
        return 0
    import pandas as pd

    work = args.work or Path(tempfile.mkdtemp(prefix="wsm-memory-"))
    zoo_path = work / "zoo"
    t = time.time()
    write_zoo(zoo_path, max(args.sizes))
    print(f"wrote {max(args.sizes)} networks in {time.time() - t:.0f} s to {zoo_path}", flush=True)
    rows = []
    try:
        for n in args.sizes:
            for variant in VARIANTS:
                if variant.startswith("in memory") and n > args.before_max:
                    notes = (f"not run: needs about {n * 8.2 / 1000:.0f} GB of this 24 GB machine, shared with "
                             "other jobs")
                    rows.append(dict(variant=variant, networks=n, notes=notes))
                    continue
                proc = subprocess.run([sys.executable, "-m", "bench.analysis_memory", "--measure", variant,
                                       str(zoo_path), str(n)], cwd=HERE, capture_output=True, text=True)
                if proc.returncode:
                    raise SystemExit(f"{variant} at {n} failed:\n{proc.stderr[-3000:]}")
                rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
                print(rows[-1], flush=True)
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    df = pd.DataFrame(rows)
    try:
        df["load_1min"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    args.out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, index=False)
    print(df.to_string(index=False))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
