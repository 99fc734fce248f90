"""Section 3.3's checks, computed for its page: Fig. 1's worked example with the paper's printed
matrices (:func:`fig1`), and Eq. 5-7 on trained networks, whose hidden units are permuted at random
(:func:`trained`); :func:`rows` writes both as the page's results rows."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import torch

from wsm.core import paper
from wsm.maths import chain
from wsm.zoos import nets

SWAP = [1, 0, 2]        # Fig. 1 permutes the 1st and 2nd hidden units


class Fig1(NamedTuple):
    """Fig. 1's network as printed (``w1`` 2 x 3, ``w2`` 3 x 3), its permuted copy, and the checks."""
    w1: torch.Tensor
    w2: torch.Tensor
    w1p: torch.Tensor
    w2p: torch.Tensor
    checks: pd.DataFrame


def fig1(seed: int, inputs: int = 1000) -> Fig1:
    """The paper's matrices (its caption prints each transposed, so ``W1`` is the transpose of the printed
    3 x 2 block), the hidden units swapped as the figure swaps them, and six checks: the printed permuted
    matrices are the swapped ones; the output, φ¹ (Eq. 5) and φ² (Eq. 6) do not change; the raw weights do."""
    as_matrix = lambda key: torch.tensor(paper.FIG1[key], dtype=torch.float64).T      # noqa: E731
    w1, w2 = as_matrix("W1"), as_matrix("W2")
    w1p, w2p = w1[:, SWAP], w2[SWAP, :]
    x = torch.randn(inputs, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    checks = pd.DataFrame({
        "check": ["W1' printed = W1 with columns 1,2 swapped", "W2' printed = W2 with rows 1,2 swapped",
                  f"max |W2'^T W1'^T x - W2^T W1^T x| over {inputs} random x",
                  "max |phi^1' - phi^1|  (Eq. 5)", "max |phi^2' - phi^2|  (Eq. 6)",
                  "max |W1' - W1|  (raw weights)"],
        "value": [float(torch.equal(w1p, as_matrix("W1_perm"))), float(torch.equal(w2p, as_matrix("W2_perm"))),
                  (x @ w1p @ w2p - x @ w1 @ w2).abs().max().item(),
                  (chain.phi([w1p.T], 1) - chain.phi([w1.T], 1)).abs().max().item(),
                  (chain.phi([w1p.T, w2p.T], 2) - chain.phi([w1.T, w2.T], 2)).abs().max().item(),
                  (w1p - w1).abs().max().item()],
    })
    return Fig1(w1, w2, w1p, w2p, checks)


def h1_residual(w1: torch.Tensor) -> str:
    """The printed hidden activations h1 are illustrative: the closest input and its residual."""
    h1 = np.array(paper.FIG1["h1"])
    sol, *_ = np.linalg.lstsq(w1.T.numpy(), h1, rcond=None)
    return f"closest x = {sol.round(3)}, residual |W1^T x - h1| = {np.linalg.norm(w1.T.numpy() @ sol - h1):.3f}"


def trained(zoos: dict, seed: int, depths=(1, 2, 3)) -> pd.DataFrame:
    """The first network of each zoo (float64, eval mode) against a copy with every hidden layer permuted
    at random (with its bias and BatchNorm statistics, so the function is the same): per chain depth, the
    relative change of φ and of the raw layer weight, and the largest change of the output on 64 inputs."""
    out = []
    for arch, z in zoos.items():
        net = nets.build(arch, len(z.runs[0].classes)).double()
        net.load_state_dict(z.runs[0].state_dict)
        net.eval()
        permuted = nets.build(arch, len(z.runs[0].classes)).double()
        permuted.load_state_dict(net.state_dict())
        permuted.eval()
        gen = torch.Generator().manual_seed(seed)
        weights = chain.layer_weights(net)
        for layer in range(1, len(weights)):
            chain.permute_hidden(permuted, layer, torch.randperm(weights[layer - 1].shape[0], generator=gen))
        xb = torch.randn(64, 3, 32, 32, generator=gen, dtype=torch.float64)
        with torch.no_grad():
            out_change = (permuted(xb) - net(xb)).abs().max().item()
        w, wp = chain.layer_weights(net), chain.layer_weights(permuted)
        for depth in depths:
            p, pp = chain.phi(w, depth), chain.phi(wp, depth)
            out.append(dict(architecture=arch, depth=depth,
                            phi_relative_change=((pp - p).norm() / p.norm()).item(),
                            raw_relative_change=((wp[depth - 1] - w[depth - 1]).norm() / w[depth - 1].norm()).item(),
                            output_max_abs_change=out_change, phi_size=f"{p.shape[0]}x{p.shape[1]}"))
    return pd.DataFrame(out)


def rows(page, fig1_checks: pd.DataFrame, trained_checks: pd.DataFrame) -> pd.DataFrame:
    """The page's results rows: Fig. 1's output change (an exact claim), then per trained network and
    depth the relative change of φ (exact) and of the raw weights (no claim)."""
    out = [dict(figure="Fig. 1", panel="a-b", architecture="2-3-3 linear", depth=2, kind="normalized",
                protocol="permutation", metric="max |output change|", ours=fig1_checks.value[2], paper=paper.EXACT,
                n=1000, profile=page.profile, dataset="paper's example", scale="the printed matrices")]
    for r in trained_checks.itertuples():
        for kind, metric, ours, claim in (("normalized", "relative change of phi", r.phi_relative_change, paper.EXACT),
                                          ("unnormalized", "relative change of raw weights", r.raw_relative_change,
                                           float("nan"))):
            out.append(dict(figure="Eq. 6", panel="", architecture=r.architecture, depth=r.depth, kind=kind,
                            protocol="permutation", metric=metric, ours=ours, paper=claim, n=1, profile=page.profile,
                            dataset=page.dataset, scale=page.scale))
    return pd.DataFrame(out)

