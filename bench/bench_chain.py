"""Chain features at every depth: time and peak memory per network per chain of the n x n Gram
matrix the weight classifier needs (``wsm.maths.chain.gram``, method chosen by cost: explicit float32
features where they are small, the exact kernel identity ``||M_i^T M_j||_F^2`` from the float64 chain
factors elsewhere, e.g. PlainNet-5's chain 4 whose phi is 19,683^2 = 3 GB in float64), within 2 GB.

``seconds`` is for the whole Gram of ``networks`` networks; ``net_steps_per_s`` is networks per
second; the notes give the shape of M_l, the method, and the estimated seconds per network for a
5,000-network zoo at the FLOP rate measured here (the Gram's cost grows with the number of pairs)."""

from __future__ import annotations

import time

import torch

from bench import common
from wsm.maths import chain
from wsm.zoos import nets


def run(quick: bool = True) -> list[dict]:
    n_nets = 6 if quick else 20
    rows = []
    for arch in ("mlp4", "plainnet5"):
        zoo = []
        for s in range(n_nets):
            torch.manual_seed(s)
            zoo.append(chain.layer_weights(nets.build(arch, 10)))
        for depth in range(1, len(zoo[0]) + 1):
            n, k = chain.factor_rows_cols(zoo[0], depth)
            costs = chain.gram_costs(n_nets, n, k, 2.0)
            gpu = "cuda" if torch.cuda.is_available() else "cpu"
            method = chain.auto_method(n_nets, n, k, 2.0, gpu)     # what chain.gram picks on this machine
            dev = gpu if method == "factors" else "cpu"
            with common.peak_memory(dev) as mem:
                t = time.perf_counter()
                g = chain.gram(zoo, depth, center=True, progress=False, memory_gb=2.0, device=gpu)
                sec = time.perf_counter() - t
            assert g.shape == (n_nets, n_nets) and torch.isfinite(g).all()
            rate = costs[method] / sec                                # achieved FLOP/s of this method
            paper = chain.gram_costs(5000, n, k, 2.0)
            best = min(paper.values())
            rows.append(common.row("chain gram", f"{nets.LABELS[arch]} chain {depth}", n_nets, 1, sec, dev,
                                   gflops=rate / 1e9, peak_mem_mb=mem["mb"],
                                   notes=f"M {n}x{k}; {method}; phi {8 * n * n / 2**30:.2f} GB float64; "
                                         f"5000-net zoo est {best / rate / 5000:.3g} s/network "
                                         f"({min(paper, key=paper.get)})"))
    return rows
