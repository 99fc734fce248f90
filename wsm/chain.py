"""Chain normalization (Section 3.3, Eq. 6-7; Appendix B) and the unnormalized baseline.

Weights are taken in PyTorch's layout, in forward order: a Linear weight is ``(out, in)`` (the
paper's ``W_l`` is its transpose, ``n_{l-1} x n_l``); a Conv2d weight is ``(out, in, h, w)``.
Biases and BatchNorm parameters are not part of a chain (as in the authors' code).

The l-th chain is ``phi^l = W_1 W_2 ... W_l W_l^T ... W_1^T = M_l M_l^T`` with the *chain factor*
``M_l = W_1 ... W_l`` (``n_0 x n_l``). Permuting the hidden units of layer l multiplies ``M_l`` on
the right by a permutation matrix ``Q`` and ``Q Q^T = I``, so ``phi^l`` is unchanged (Eq. 5-6).

For a CNN (Appendix B, remark) ``W_1`` is reshaped to ``(n_0 h w) x n_1``; every later kernel is
reshaped to ``n_{l-1} x (n_l h w)`` and, after the product, the kernel positions are moved into the
row dimension, so ``M_l`` is ``n_0 (hw)^{l-1} x n_l``: 27, 243, 2187 rows for PlainNet-5's chains 1-3.
A Linear layer after a conv stack (after global pooling) continues the chain on the channels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from wsm.errors import WsmError

KINDS = ("normalized", "unnormalized")


SKIP = ("shortcut",)   # residual projections (Res5's 1x1 convs) are not part of the chain


def _in_chain(name: str) -> bool:
    return not any(part in SKIP for part in name.split("."))


def layer_weights(net: nn.Module | Mapping[str, torch.Tensor]) -> list[torch.Tensor]:
    """The Linear/Conv2d weights of a network (a module or its state_dict), in forward order;
    weights under a module named ``shortcut`` (a residual projection) are skipped."""
    if isinstance(net, nn.Module):
        unsupported = [
            name for name, m in net.named_modules()
            if isinstance(m, (nn.RNNBase, nn.ConvTranspose2d, nn.Conv1d, nn.Conv3d, nn.MultiheadAttention))
        ]
        if unsupported:
            raise WsmError(f"layer {unsupported[0]!r} is not supported by chain normalization here: "
                           "use networks built from nn.Linear and nn.Conv2d")
        return [m.weight.detach() for name, m in net.named_modules()
                if isinstance(m, (nn.Linear, nn.Conv2d)) and _in_chain(name)]
    return [w.detach() for k, w in net.items() if k.endswith("weight") and w.dim() in (2, 4) and _in_chain(k)]


def chain_factor(weights: Sequence[torch.Tensor], depth: int) -> torch.Tensor:
    """``M_depth`` with ``phi^depth = M M^T`` (float64 for exactness of the invariance checks
    is the caller's choice: the dtype of the weights is kept)."""
    if not 1 <= depth <= len(weights):
        raise WsmError(f"chain {depth} does not exist: this network has {len(weights)} weight layers "
                       f"(chains 1..{len(weights)})")
    m = None
    for i, w in enumerate(weights[:depth]):
        if m is None:
            m = w.permute(1, 2, 3, 0).reshape(-1, w.shape[0]) if w.dim() == 4 else w.t()
            continue
        if m.shape[1] != w.shape[1]:
            raise WsmError(f"weight layer {i + 1} expects {w.shape[1]} inputs but layer {i} has "
                           f"{m.shape[1]} outputs: the weights do not form a chain")
        if w.dim() == 4:
            out, inp, kh, kw = w.shape
            prod = m @ w.permute(1, 0, 2, 3).reshape(inp, out * kh * kw)   # rows x (out, kh*kw)
            m = prod.reshape(-1, out, kh * kw).transpose(1, 2).reshape(-1, out)
        else:
            m = m @ w.t()
    return m


def phi(weights: Sequence[torch.Tensor], depth: int) -> torch.Tensor:
    """The chain-normalized weight ``phi^depth`` (Eq. 7), an ``n x n`` symmetric matrix."""
    m = chain_factor(weights, depth)
    return m @ m.t()


def feature(weights: Sequence[torch.Tensor], depth: int, kind: str = "normalized") -> torch.Tensor:
    """The vector the weight classifier sees: ``vec(phi^depth)`` (normalized) or the raw
    ``depth``-th layer weight flattened (the paper's unnormalized baseline)."""
    if kind == "normalized":
        return phi(weights, depth).reshape(-1)
    if kind == "unnormalized":
        if not 1 <= depth <= len(weights):
            raise WsmError(f"layer {depth} does not exist: this network has {len(weights)} weight layers")
        return weights[depth - 1].reshape(-1)
    raise WsmError(f"unknown feature kind {kind!r}: valid ones are {', '.join(KINDS)}")


def feature_size(weights: Sequence[torch.Tensor], depth: int, kind: str = "normalized") -> int:
    if kind == "unnormalized":
        return weights[depth - 1].numel()
    rows = weights[0].shape[1] * (weights[0][0, 0].numel() if weights[0].dim() == 4 else 1)
    for w in weights[1:depth]:
        rows *= w.shape[2] * w.shape[3] if w.dim() == 4 else 1
    return rows * rows


def gram(nets: Sequence[Sequence[torch.Tensor]], depth: int, kind: str = "normalized",
         memory_gb: float = 4.0, center: bool = False, progress: bool = True) -> torch.Tensor:
    """``K[i, j] = <f_i, f_j>`` for the features of every network, in float64.

    Features are formed in float32. When all of them fit in ``memory_gb`` they are formed once;
    otherwise a block at a time (two blocks in memory), trading recomputation for a bounded
    footprint. With ``center=True`` the mean feature of all networks is subtracted first: the
    classifier only sees differences between networks (:func:`wsm.htt.embed` centres anyway), and
    float32 products of features that share a large common part would lose those differences.
    """
    from wsm.progress import bar

    n = len(nets)
    size = 4 * feature_size(nets[0], depth, kind)
    block = n if n * size <= memory_gb * 2**30 else max(1, int(memory_gb * 2**30 // (2 * size)))
    starts = list(range(0, n, block))
    mean = 0.0
    if center and block < n:
        mean = sum(feature(w, depth, kind).double() for w in nets) / n
    feats = lambda s: torch.stack([feature(w, depth, kind).float() for w in nets[s:s + block]])
    k = torch.zeros(n, n, dtype=torch.float64)
    pbar = bar(total=len(starts) * (len(starts) + 1) // 2, desc=f"Gram {kind} {depth}",
               disable=not progress, leave=False)
    for bi, a in enumerate(starts):
        fa = feats(a)
        if center:
            fa -= (fa.double().mean(0) if block == n else mean).float()
        for b in starts[bi:]:
            if b == a:
                fb = fa
            else:
                fb = feats(b)
                if center:
                    fb -= mean.float()
            kab = (fa @ fb.t()).double()
            if b == a:
                kab = (kab + kab.t()) / 2
            k[a:a + block, b:b + block] = kab
            k[b:b + block, a:a + block] = kab.t()
            pbar.update()
    pbar.close()
    return k


def permute_hidden(net: nn.Module, layer: int, perm: torch.Tensor) -> None:
    """Permute the output units of weight layer ``layer`` (1-based) in place, and everything tied
    to them (its bias, a BatchNorm right after it, the inputs of the next weight layer), so the
    network computes exactly the same function (Fig. 1)."""
    mods = [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.BatchNorm2d, nn.BatchNorm1d))]
    weighted = [i for i, m in enumerate(mods) if isinstance(m, (nn.Linear, nn.Conv2d))]
    if not 1 <= layer < len(weighted):
        raise WsmError(f"layer {layer} has no hidden units to permute: choose 1..{len(weighted) - 1}")
    first, nxt = weighted[layer - 1], weighted[layer]
    if sorted(perm.tolist()) != list(range(mods[first].weight.shape[0])):
        raise WsmError(f"not a permutation of the {mods[first].weight.shape[0]} units of layer {layer}")
    with torch.no_grad():
        mods[first].weight.copy_(mods[first].weight[perm])
        if mods[first].bias is not None:
            mods[first].bias.copy_(mods[first].bias[perm])
        for bn in mods[first + 1:nxt]:
            for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var):
                if t is not None:
                    t.copy_(t[perm])
        mods[nxt].weight.copy_(mods[nxt].weight[:, perm])
