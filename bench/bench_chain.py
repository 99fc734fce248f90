"""Chain features at every depth: time and peak memory per network per chain of the n x n Gram
matrix the weight classifier needs (``wsm.maths.chain.gram``, its path chosen by cost: the slices, phi
formed once in float32 products summed in float64, or the exact kernel identity
``||M_i^T M_j||_F^2`` from the float64 chain factors where phi is far larger than its factor and the
networks few, e.g. PlainNet-5's chain 4 whose phi is 19,683^2), within 2 GB.

``seconds`` is for the whole Gram of ``networks`` networks; ``net_steps_per_s`` is networks per
second; ``gflops`` the estimated cost of the path taken (:func:`wsm.maths.chain.gram_costs`, float32-flop
equivalents) per second. The Grams at the paper's scale, against their arithmetic minimum:
``bench/gram_scale.py``."""

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
            gpu = "cuda" if torch.cuda.is_available() else "cpu"
            form = chain.factor_flops(zoo[0], depth)
            read = sum(w.numel() * w.element_size() for w in zoo[0][:depth])
            costs = chain.gram_costs(n_nets, n, k, 2.0, gpu, form, read)
            method = chain.auto_method(zoo, depth, 2.0, gpu)        # what chain.gram picks on this machine
            with common.peak_memory(gpu) as mem:
                t = time.perf_counter()
                g = chain.gram(zoo, depth, center=True, progress=False, memory_gb=2.0, device=gpu)
                sec = time.perf_counter() - t
            assert g.shape == (n_nets, n_nets) and torch.isfinite(g).all()
            rows.append(common.row("chain gram", f"{nets.LABELS[arch]} chain {depth}", n_nets, 1, sec, gpu,
                                   gflops=costs[method] / sec / 1e9, peak_mem_mb=mem["mb"],
                                   notes=f"M {n}x{k}; {method}; phi {4 * n * n / 2**30:.2f} GB float32"))
    return rows
