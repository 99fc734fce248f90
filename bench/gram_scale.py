"""The chain Grams at the paper's scale, measured against their arithmetic minimum:
``python -m bench.gram_scale [--sizes 1000,2000] [--archs mlp4,plainnet5] [--depths 1,2,3] [--memory-gb 6]``.

For each architecture, chain and number of networks, :func:`wsm.maths.chain.gram` (centred, as the
classifier takes it) of random networks of the paper's shapes (each weight uniform in
``+-1/sqrt(fan_in)``, PyTorch's default initialisation; 200 classes, Tiny ImageNet's):

* up to :data:`FILES_UP_TO` networks read from run files written here (memory mapped, as a zoo's
  runs are read: ``wsm.zoos.zoo.StoredWeights``), the files removed afterwards;
* beyond that (5,000 networks: 42 GB of MLP-4 run files, more than this machine's disk keeps free)
  generated: every network's layer a window of rows of one seeded random tensor (:class:`Generated`),
  read as views at no cost (the run files' reads: ``read_seconds`` of the smaller zoos; here one
  read of every network, times the passes).

Each case runs in a process of its own, which reports its peak resident memory (``ru_maxrss``)
and the float32 matmul rate of this machine (2048^3, before and after the Gram: the roof). On a
shared machine the Gram gets only part of the cores: ``cpu_share`` is its CPU time over the wall
time of all its threads, and ``ratio_at_cpu_share`` the ratio had it run at that share throughout
(the roof, measured in short bursts, gets the cores more nearly whole). The
arithmetic minimum: phi's upper triangle formed once (``N n(n+1)/2 k`` multiply-adds), each
factor formed once (:func:`wsm.maths.chain.factor_flops`), and the upper triangle of the products of
pairs (``N(N+1)/2 n(n+1)/2`` multiply-adds); ``ratio`` = seconds / (minimum / roof). Rows go to
``book/benchmarks/gram_scale.csv`` (a case measured again replaces its row); the Performance page
and ``bench.projection`` read them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

HERE = Path(__file__).resolve().parent
CSV = HERE.parent / "book" / "benchmarks" / "gram_scale.csv"
FILES_UP_TO = 2000
CLASSES = 200
COLUMNS = ("architecture", "chain", "networks", "source", "memory_gb", "passes", "seconds", "cpu_share", "read_seconds",
           "peak_rss_gb", "n", "k", "minimum_tflop", "roof_gflops", "minimum_seconds", "ratio", "ratio_at_cpu_share",
           "load_1min", "machine")


def shapes(arch: str) -> dict[str, tuple[int, ...]]:
    """The state_dict shapes of ``arch`` with :data:`CLASSES` classes (weights only matter; biases kept)."""
    from wsm.zoos import nets

    return {k: tuple(v.shape) for k, v in nets.build(arch, CLASSES).state_dict().items()}


def _uniform(shape, g: torch.Generator) -> torch.Tensor:
    fan_in = math.prod(shape[1:]) if len(shape) > 1 else shape[0]
    return torch.empty(shape).uniform_(-1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in), generator=g)


def state(arch: str, seed: int, sizes: dict) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: _uniform(s, g) if k.endswith("weight") else torch.zeros(s) for k, s in sizes.items()}


def write_files(arch: str, n_nets: int, folder: Path) -> list[Path]:
    """``n_nets`` run files of random ``arch`` networks (``{"state_dict": ...}``, as a zoo's run holds it)."""
    sizes = shapes(arch)
    files = []
    for i in range(n_nets):
        f = folder / f"{arch}-{i:05d}.pt"
        if not f.exists():
            torch.save({"state_dict": state(arch, i, sizes)}, f)
        files.append(f)
    return files


def stored(files: Sequence[Path]):
    """The networks of run files, read (memory mapped) on every access, as a loaded zoo's are."""
    from wsm.maths import chain
    from wsm.zoos import zoo

    first = torch.load(files[0], mmap=True, weights_only=True)["state_dict"]
    keys, n_layers = list(first), len(chain.layer_weights(first))
    return [zoo.StoredWeights(zoo.StoredState(f, keys, True, n_layers)) for f in files]


class Generated(Sequence):
    """Network ``i`` of a generated zoo: each chain weight of it is the window of rows (output units)
    ``o_i, ..., o_i + out - 1`` of one seeded random tensor of ``N + out`` rows per layer, the offsets
    ``o_i`` a seeded permutation (distinct networks, overlapping windows: each network's weights are
    random, neighbouring windows share rows). A window is a view: reading a network costs nothing, as
    a run file's weights in the page cache cost little."""

    def __init__(self, pool, offset: int):
        self.pool, self.offset = pool, offset

    def __len__(self):
        return len(self.pool)

    def _layer(self, j):
        big, out = self.pool[j]
        return big[self.offset:self.offset + out]

    def __getitem__(self, j):
        if isinstance(j, slice):
            return [self._layer(x) for x in range(len(self))[j]]
        return self._layer(j)


def generated(arch: str, n_nets: int, depth: int):
    from wsm.maths import chain

    sizes = shapes(arch)
    weights = chain.layer_weights(state(arch, 0, sizes))[:depth]
    g = torch.Generator().manual_seed(10**6)
    pool = [(_uniform((n_nets + w.shape[0], *w.shape[1:]), g), w.shape[0]) for w in weights]
    offsets = torch.randperm(n_nets + 1, generator=g)[:n_nets].tolist()
    return [Generated(pool, o) for o in offsets]


def minimum_flops(n_nets: int, n: int, k: int, form: float) -> float:
    """The arithmetic minimum of a chain Gram (module doc), in flops (2 per multiply-add)."""
    return n_nets * n * (n + 1) * k + n_nets * form + n_nets * (n_nets + 1) / 2 * n * (n + 1)


def roof() -> float:
    """This machine's float32 matmul rate now (GFLOP/s, 2048^3)."""
    from bench import common

    common._MATMUL.clear()
    return common.matmul_gflops("cpu", 2048, torch.float32, repeats=5)


def case(arch: str, depth: int, n_nets: int, folder: str | None, memory_gb: float) -> dict:
    """One measurement, in this process (see :func:`main`, which runs each in a process of its own)."""
    from wsm.maths import chain

    nets = stored(sorted(Path(folder).glob(f"{arch}-*.pt"))[:n_nets]) if folder else generated(arch, n_nets, depth)
    assert len(nets) == n_nets, f"{len(nets)} run files of {arch} in {folder}, {n_nets} wanted"
    first = list(nets[0][:depth])
    n, k = chain.factor_rows_cols(first, depth)
    passes = chain.slice_plan(n_nets, n, k, memory_gb)
    t = time.perf_counter()
    for net in nets:                                  # one read (or generation) of every network
        list(net[:depth])
    read = (time.perf_counter() - t) * len(passes)
    before = roof()
    cpu, t = time.process_time(), time.perf_counter()
    g = chain.gram(nets, depth, center=True, progress=False, memory_gb=memory_gb, method="slices")
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    after = roof()
    share = min(1.0, cpu / seconds / torch.get_num_threads())      # of the cores it may use, what it got
    assert g.shape == (n_nets, n_nets) and bool(torch.isfinite(g).all())
    rate = (before + after) / 2
    minimum = minimum_flops(n_nets, n, k, chain.factor_flops(first, depth))
    return dict(chain=depth, networks=n_nets, source="run files" if folder else "generated", memory_gb=memory_gb,
                passes=len(passes), seconds=round(seconds, 1), read_seconds=round(read, 1),
                peak_rss_gb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2), n=n, k=k,
                minimum_tflop=round(minimum / 1e12, 2), roof_gflops=round(rate, 1),
                minimum_seconds=round(minimum / rate / 1e9, 1), ratio=round(seconds / (minimum / rate / 1e9), 2),
                cpu_share=round(share, 2), ratio_at_cpu_share=round(seconds * share / (minimum / rate / 1e9), 2),
                load_1min=round(os.getloadavg()[0], 2))


def save(rows: list[dict], path: Path = CSV) -> None:
    """Merge ``rows`` into the CSV (a case measured again replaces its row)."""
    import pandas as pd

    new = pd.DataFrame(rows)
    if path.exists():
        old = pd.read_csv(path)
        key = ["architecture", "chain", "networks"]
        old = old[~old.set_index(key).index.isin(new.set_index(key).index)]
        new = pd.concat([old, new], ignore_index=True)
    new = new.sort_values(["architecture", "chain", "networks"])[list(COLUMNS)]
    path.parent.mkdir(parents=True, exist_ok=True)
    new.to_csv(path, index=False)


def main(argv=None) -> int:
    from bench import common
    from wsm.zoos import nets

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,2000")
    ap.add_argument("--archs", default="mlp4,plainnet5")
    ap.add_argument("--depths", default="1,2,3")
    ap.add_argument("--memory-gb", type=float, default=6.0)
    ap.add_argument("--scratch", default=None, help="folder for the run files (default: a temporary one, removed)")
    ap.add_argument("--out", default=str(CSV))
    ap.add_argument("--case", nargs=5, metavar=("ARCH", "DEPTH", "N", "FOLDER", "GB"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.case:
        arch, depth, n, folder, gb = args.case
        print(json.dumps(case(arch, int(depth), int(n), None if folder == "-" else folder, float(gb))))
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="wsm-gram-scale-"))
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        for arch in args.archs.split(","):
            on_disk = [s for s in sizes if s <= FILES_UP_TO]
            if on_disk:
                t = time.perf_counter()
                write_files(arch, max(on_disk), scratch)
                print(f"{arch}: {max(on_disk)} run files written in {time.perf_counter() - t:.0f} s", flush=True)
            for depth in (int(d) for d in args.depths.split(",")):
                for n in sizes:
                    folder = str(scratch) if n <= FILES_UP_TO else "-"
                    out = subprocess.run([sys.executable, "-m", "bench.gram_scale", "--case", arch, str(depth), str(n),
                                          folder, str(args.memory_gb)], cwd=HERE.parent, capture_output=True, text=True,
                                         check=False)
                    if out.returncode:
                        print(out.stderr[-3000:], flush=True)
                        continue
                    row = json.loads(out.stdout.strip().splitlines()[-1])
                    row = dict(architecture=nets.LABELS[arch], machine=common.machine(), **row)
                    print(row, flush=True)
                    save([row], Path(args.out))
            for f in scratch.glob(f"{arch}-*.pt"):
                f.unlink()
    finally:
        if not args.scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
