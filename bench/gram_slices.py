"""The sliced chain Gram before and after its symmetric half, at the quick book's MLP-4 zoo size.

``python -m bench.gram_slices [--networks 100] [--depths 1 2 3]`` writes
``book/benchmarks/gram_slices.csv`` (the book's Performance page shows it).

Random MLP-4 networks (PyTorch's initialisation, one seed each; no training; 3072 x 500 chain
factors, as the quick zoos' chains 1-3), centred Grams of chains ``depths`` by two variants:

* ``every row, all columns (before)``: the previous :func:`wsm.chain.gram_sliced`: each slice of
  rows of every phi formed in full, a fresh float64 copy per slice (:func:`full_rows`, kept here as
  the reference);
* ``upper triangle, buffers once (after)``: :func:`wsm.chain.gram_sliced` as it is.

``max_rel_diff``: the largest entry of ``|after - before|`` over the largest entry of ``before``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
import torch

from bench import common
from wsm import chain, nets


def full_rows(weights, depth: int, memory_gb: float = 2.0) -> torch.Tensor:
    """The centred sliced Gram as wsm computed it before the symmetric half (the reference)."""
    n_nets = len(weights)
    n, k = chain.factor_rows_cols(weights[0], depth)
    rows = chain._slice_rows(n_nets, n, k, memory_gb)
    ms = torch.empty(n_nets, n, k)
    scale = 0.0
    for i, net in enumerate(weights):
        m = chain.chain_factor([w.double() for w in net[:depth]], depth)
        scale = max(scale, float(m.square().sum(1).max()))
        ms[i] = m
    ms /= scale ** 0.5
    kmat = torch.zeros(n_nets, n_nets, dtype=torch.float64)
    for r0 in range(0, n, rows):
        f = torch.einsum("nrk,nck->nrc", ms[:, r0:r0 + rows], ms).reshape(n_nets, -1).double()
        f -= f.mean(0)
        kmat += f @ f.t()
    return (kmat + kmat.t()) / 2 * scale ** 2


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--networks", type=int, default=100)
    ap.add_argument("--depths", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "book" / "benchmarks"
                                          / "gram_slices.csv"))
    args = ap.parse_args(argv)
    weights = []
    for s in range(args.networks):
        torch.manual_seed(s)
        weights.append(chain.layer_weights(nets.build("mlp4", 4)))
    rows = []
    for depth in args.depths:
        n, k = chain.factor_rows_cols(weights[0], depth)
        t = time.perf_counter()
        before = full_rows(weights, depth)
        t_before = time.perf_counter() - t
        t = time.perf_counter()
        after = chain.gram_sliced(weights, depth, center=True, progress=False)
        t_after = time.perf_counter() - t
        diff = float((after - before).abs().max() / before.abs().max())
        for variant, sec in (("every row, all columns (before)", t_before), ("upper triangle, buffers once (after)", t_after)):
            rows.append(dict(machine=common.machine(), threads=torch.get_num_threads(), networks=args.networks,
                             chain=depth, factor=f"{n}x{k}", variant=variant, seconds=round(sec, 2),
                             max_rel_diff=diff))
        print(f"chain {depth}: {t_before:.1f} s before, {t_after:.1f} s after, max rel diff {diff:.2g}", flush=True)
    pd.DataFrame(rows).to_csv(args.out, index=False)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
