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
A Linear layer after a conv stack continues the chain: on the channels after global pooling; after
a flatten, read as a convolution whose kernel covers the last feature map (:func:`chain_layers`).
Which weights of a network form its chain, in which order, is decided by :func:`chain_layers` alone.

**GRU-2** (Section 4.3; derivation in :func:`gru_weights`): chain 1 is ``W_ih_l0^T W_ih_l0`` (58 x 58,
the authors' feature), chain 2 carries it through layer 2's input weights; the recurrent weights
``W_hh``, the biases and the head are not part of a chain.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from wsm.core.errors import WsmError

KINDS = ("normalized", "unnormalized")


SKIP = ("shortcut",)   # residual projections (Res5's 1x1 convs) are not part of the chain

SUPPORTED = ("nn.Linear and nn.Conv2d layers, each taking the previous one's outputs (a Linear may also take a "
             "flattened feature map); biases, BatchNorm and pooling carry no chain weight; modules named "
             "'shortcut' (residual projections) are skipped; of recurrent networks, one two-layer nn.GRU with a "
             "Linear head (GRU-2)")

_RNN = re.compile(r"(^|\.)weight_(ih|hh)(_l\d+)?(_reverse)?$")
_ATTENTION = re.compile(r"(^|\.)(in_proj_weight|[qkv]_proj_weight)$")
_PARAMETRIZED = re.compile(r"(^|\.)(weight_orig|weight_g|weight_v|parametrizations\.weight\.original\d*)$")
_REFUSED = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Conv1d, nn.Conv3d, nn.MultiheadAttention)


@dataclass(frozen=True)
class Layer:
    """One weight layer of a chain, as :func:`chain_layers` reads it.

    * ``name``: where it comes from: its state_dict key (``"features.4.weight"``,
      ``"gru.weight_ih_l1"``), or ``"weight layer i"`` for a bare list of tensors;
    * ``weight``: the weight as the chain takes it, in PyTorch's layout (``(out, in)`` or
      ``(out, in, h, w)``): the stored tensor, except for a Linear after a flatten (reshaped to a
      convolution over the last feature map) and GRU-2's second layer (``copies`` = 3 diagonal copies);
    * ``stored_shape``: the shape of the tensor as stored in the network.
    """

    name: str
    weight: torch.Tensor
    stored_shape: tuple[int, ...]
    copies: int = 1

    def like(self, stored: torch.Tensor) -> torch.Tensor:
        """The chain weight that another tensor of this layer's stored shape gives, read the same way."""
        w = torch.block_diag(*[stored] * self.copies) if self.copies > 1 else stored
        return w.reshape(self.weight.shape)


def chain_layers(net, label: str = "the network") -> list[Layer]:
    """The weight layers that form a network's chains, in forward order, with their names: the one
    place that decides what a chain is, used by :func:`layer_weights`, :mod:`wsm.analyses.compare`, the
    command line and the zoos.

    ``net``: an ``nn.Module``, its state_dict, or a list of weight tensors in forward order.

    * ``nn.Linear`` and ``nn.Conv2d`` weights in forward order (a module's registration order, a
      state_dict's key order); biases, BatchNorm and pooling have no chain weight (as in the paper);
      weights under a module named ``shortcut`` (Res5's residual projections) are skipped, as the
      authors' code uses only the 3x3 convolutions.
    * A Linear after a flatten (``in_features = C * positions`` after a conv with ``C`` output
      channels) continues the chain over the flattened feature map: its ``(out, C * positions)``
      weight is read as ``(out, C, h, w)``, a convolution whose kernel covers the whole last feature
      map (``h w = positions``; PyTorch flattens channel-major, so channel ``c`` owns columns
      ``c * positions ...``). Permuting the conv's channels permutes those column blocks, so
      ``phi`` stays invariant. Only the number of positions enters ``phi``, not ``h`` and ``w``.
    * A GRU-2 (one two-layer ``nn.GRU`` and a Linear head, Section 4.3): its chain weights
      ``W_ih_l0`` and ``I_3 (x) W_ih_l1`` (:func:`gru_weights`); the head is not part of them.

    Raises :class:`WsmError` naming the layer (and ``label``) for what no chain can be read from:
    other recurrent layers, attention, Conv1d/Conv3d/transposed convolutions, reparametrized
    weights, and weights that do not chain (a layer whose inputs are not the previous one's outputs).
    """
    recurrent = _recurrent_state(net, label)
    if recurrent is not None:
        return _gru_layers(recurrent, label)
    named = [(n, w) for n, w in _named_weights(net, label) if not any(part in SKIP for part in n.split("."))]
    if not named:
        raise WsmError(f"{label} has no weight layers (no nn.Linear or nn.Conv2d weight): supported are {SUPPORTED}")
    layers: list[Layer] = []
    for i, (name, w) in enumerate(named):
        stored = tuple(w.shape)
        if layers and w.shape[1] != layers[-1].weight.shape[0]:
            prev = layers[-1]
            channels = prev.weight.shape[0]
            if not (w.dim() == 2 and prev.weight.dim() == 4 and w.shape[1] % channels == 0):
                raise WsmError(
                    f"layer {i + 1} ({name}) of {label} takes {w.shape[1]} inputs but layer {i} ({prev.name}) has "
                    f"{channels} outputs, so the weights do not form a chain (grouped convolutions, "
                    f"ConvTranspose2d and branches other than 'shortcut' modules do not): supported are {SUPPORTED}")
            positions = w.shape[1] // channels
            h = math.isqrt(positions)
            h = h if h * h == positions else positions
            w = w.reshape(w.shape[0], channels, h, positions // h)
        layers.append(Layer(name, w, stored))
    return layers


def layer_weights(net) -> list[torch.Tensor]:
    """The chain weights of a network (a module, its state_dict, or a list of tensors), in forward
    order: the ``weight`` of every :func:`chain_layers` entry."""
    return [layer.weight for layer in chain_layers(net)]


def _recurrent_state(net, label: str):
    """The state_dict of a network with a recurrent layer (a module is checked to be a GRU-2 here,
    a state_dict by :func:`_gru_layers`); ``None`` for a network without one."""
    if isinstance(net, nn.Module):
        rnns = [(n, m) for n, m in net.named_modules() if isinstance(m, nn.RNNBase)]
        if not rnns:
            return None
        _check_gru2_module(net, rnns, label)
        return net.state_dict()
    if isinstance(net, Mapping) and any(isinstance(v, torch.Tensor) and _RNN.search(str(k)) for k, v in net.items()):
        return {str(k): v for k, v in net.items() if isinstance(v, torch.Tensor)}
    return None


def _named_weights(net, label: str) -> list[tuple[str, torch.Tensor]]:
    """``(name, tensor)`` of every candidate weight layer of a network without a recurrent layer, in order."""
    if isinstance(net, nn.Module):
        for name, m in net.named_modules():
            if isinstance(m, _REFUSED) or (isinstance(m, nn.Conv2d) and m.groups > 1):
                what = (f"a grouped nn.Conv2d (groups={m.groups})" if isinstance(m, nn.Conv2d)
                        else f"an nn.{type(m).__name__}")
                raise WsmError(f"layer {name!r} is not supported by chain normalization here ({what} in {label}): "
                               f"supported are {SUPPORTED}")
        return [(f"{n}.weight" if n else "weight", m.weight.detach()) for n, m in net.named_modules()
                if isinstance(m, (nn.Linear, nn.Conv2d))]
    if isinstance(net, Mapping):
        items = [(str(k), v) for k, v in net.items() if isinstance(v, torch.Tensor)]
        named = []
        for key, value in items:
            if _ATTENTION.search(key):
                raise WsmError(f"layer {key!r} of {label} is an attention (nn.MultiheadAttention) weight, which chain "
                               f"normalization here does not support: supported are {SUPPORTED}")
            if _PARAMETRIZED.search(key):
                raise WsmError(f"layer {key!r} of {label} is a reparametrized weight (weight_norm/spectral_norm): "
                               "remove the parametrization before saving (torch.nn.utils.remove_weight_norm or "
                               "torch.nn.utils.parametrize.remove_parametrizations)")
            if key.endswith("weight") and value.dim() in (3, 5):
                kind = "Conv1d" if value.dim() == 3 else "Conv3d"
                raise WsmError(f"layer {key!r} of {label} has a {value.dim()}-D weight {tuple(value.shape)} (an "
                               f"nn.{kind}?), which chain normalization here does not support: supported are "
                               f"{SUPPORTED}")
            if key.endswith("weight") and value.dim() in (2, 4):
                named.append((key, value.detach()))
        return named
    if isinstance(net, Sequence) and not isinstance(net, str) and net and all(isinstance(w, torch.Tensor) for w in net):
        for i, w in enumerate(net):
            if w.dim() not in (2, 4):
                raise WsmError(f"weight layer {i + 1} of {label} is {w.dim()}-D: weight layers must be 2-D (Linear) "
                               "or 4-D (Conv2d)")
        return [(f"weight layer {i + 1}", w.detach()) for i, w in enumerate(net)]
    raise WsmError(f"cannot read {label} from a {type(net).__name__}: pass an nn.Module, a state_dict or a list "
                   "of weight tensors")


def chain_factor(weights: Sequence[torch.Tensor], depth: int, start: int = 0) -> torch.Tensor:
    """``M_depth`` with ``phi^depth = M M^T`` (float64 for exactness of the invariance checks
    is the caller's choice: the dtype of the weights is kept). ``start``: only its rows ``start:``,
    formed from the rows of ``M_1`` they come from (a row of ``M_l`` is a row of ``M_{l-1}`` times
    a kernel position of layer l, positions innermost), at that fraction of the cost."""
    if not 1 <= depth <= len(weights):
        raise WsmError(f"chain {depth} does not exist: this network has {len(weights)} weight layers "
                       f"(chains 1..{len(weights)})")
    weights = list(weights[:depth])
    per = math.prod(w.shape[2] * w.shape[3] for w in weights[1:] if w.dim() == 4)   # rows of M_l per row of M_1
    first = start // per
    m = None
    for i, w in enumerate(weights):
        if m is None:
            m = w.permute(1, 2, 3, 0).reshape(-1, w.shape[0]) if w.dim() == 4 else w.t()
            m = m[first:]
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
    return m[start - first * per:] if start else m


def row_normalized(weights: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """MLP weights as the ICLR text ("we normalize the weights of each layer in MLP") and the
    authors' code chain them from chain 2 on: every input unit's outgoing weights (a column of a
    torch ``Linear`` weight, a row of ``W^T``) scaled to unit L2 norm. A hidden-unit permutation
    permutes those columns together with the rows, so the chains stay permutation invariant."""
    return [w / w.norm(dim=0, keepdim=True).clamp_min(torch.finfo(w.dtype).tiny) for w in weights]


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


def factor_rows_cols(weights: Sequence[torch.Tensor], depth: int) -> tuple[int, int]:
    """``(n, k)``: the shape of the chain factor ``M_depth`` (``phi^depth`` is ``n x n``)."""
    if not 1 <= depth <= len(weights):
        raise WsmError(f"chain {depth} does not exist: this network has {len(weights)} weight layers "
                       f"(chains 1..{len(weights)})")
    n = int(feature_size(weights, depth) ** 0.5 + 0.5)
    return n, weights[depth - 1].shape[0]


# ---------------------------------------------------------------- Gram matrices
#
# Two ways to the Gram matrix K[i, j] = <f_i, f_j> of N networks' features, chosen by cost
# (:func:`gram_costs`): :func:`gram_slices` forms every feature once per pass, a slice of it across all
# networks at a time (out of core: the zoo is read once per pass); :func:`gram_from_factors` never
# forms phi (the kernel identity, float64), cheaper only where phi is much larger than its factor and
# the networks few (PlainNet-5's chain 4 over a handful of networks).

# The default memory budget of a Gram: this share of the machine's RAM (:func:`memory_budget`); of a
# budget, BUDGET_USED goes to the Gram's own buffers, the rest is left to the process (the interpreter,
# torch, a network's weights and their temporaries), so that its peak resident memory stays within it.
MEMORY_SHARE, BUDGET_USED = 0.25, 0.85
# :func:`gram_slices` cuts phi's upper triangle into bands of rows (at most FORM_ROWS, a multiple of
# BAND_ROWS): a band's square on the diagonal, counted once, and the rectangle right of it, counted
# twice, in column chunks where a pass could not hold it. Each is formed for a network by one matrix
# product straight into its place (few, long products: on a busy machine every call costs a thread
# wake-up), and the Gram's products take it in chunks of at most PRODUCT_CHUNK entries, float32 sums
# added in float64 (tests/test_chain.py states the precision this gives), in blocks of NET_BLOCK
# networks (the block upper triangle). A raw layer is one row: its chunks of entries.
BAND_ROWS, FORM_ROWS, PRODUCT_CHUNK, NET_BLOCK = 64, 512, 16384, 512
# The machine's balance, for :func:`gram_costs` only (choosing a path, never a number): a float64
# flop costs FLOAT64_COST float32 flops (CPU: half the rate, bench/bench_matmul.py; a datacenter
# GPU: the same rate), a byte moved to or from memory FLOPS_PER_BYTE float32 flops (about a CPU's
# float32 matmul rate over its memory bandwidth; a GPU's likewise).
FLOAT64_COST = {"cpu": 2.0, "cuda": 1.0}
FLOPS_PER_BYTE = {"cpu": 10.0, "cuda": 12.0}


def memory_budget(memory_gb: float | None = None) -> float:
    """The memory (GB) a Gram may take: ``memory_gb``, else :data:`MEMORY_SHARE` of this machine's RAM."""
    if memory_gb is not None:
        if not memory_gb > 0:
            raise WsmError(f"a Gram's memory budget must be positive, got {memory_gb} GB")
        return float(memory_gb)
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):         # no sysconf: a small machine's RAM
        ram = 8 * 2**30
    return MEMORY_SHARE * ram / 2**30


@dataclass(frozen=True)
class Rect:
    """Rows ``r0:r1``, columns ``c0:c1`` of phi (of a raw layer seen as one row: ``r0 = 0, r1 = 1``),
    counted ``weight`` times in ``<phi_i, phi_j>``: 1 for a square on the diagonal (phi is
    symmetric: the square holds both ``phi_ab`` and ``phi_ba``), 2 right of it."""

    r0: int
    r1: int
    c0: int
    c1: int
    weight: float

    @property
    def size(self) -> int:
        return (self.r1 - self.r0) * (self.c1 - self.c0)


def rects(n: int, cap: int, kind: str = "normalized") -> list[Rect]:
    """The rectangles that cover vec(phi) (``n x n``) or a raw layer's ``n`` entries, each of at most
    ``cap`` entries (at least one band of BAND_ROWS rows' square, or BAND_ROWS x BAND_ROWS entries),
    in order: bands as high as ``cap`` allows up to FORM_ROWS, the rows right of a square whole or
    in column chunks."""
    if kind == "unnormalized":
        step = max(cap, 1)
        return [Rect(0, 1, c, min(n, c + step), 1.0) for c in range(0, n, step)]
    out, r0 = [], 0
    while r0 < n:
        h = min(n - r0, FORM_ROWS, max(BAND_ROWS, cap // (n - r0) // BAND_ROWS * BAND_ROWS))
        r1 = r0 + h
        out.append(Rect(r0, r1, r0, r1, 1.0))
        width = max(BAND_ROWS, cap // h)
        out += [Rect(r0, r1, c, min(n, c + width), 2.0) for c in range(r1, n, width)]
        r0 = r1
    return out


def _fixed_bytes(n_nets: int, n: int, k: int) -> int:
    """Memory of :func:`gram_slices` beside its slices: the float64 Gram, the products of a block
    pair (float32 and float64), one network's factor."""
    block = min(n_nets, NET_BLOCK)
    return 8 * n_nets * n_nets + 12 * block * block + 16 * n * k


def slice_plan(n_nets: int, n: int, k: int, memory_gb: float | None = None,
               kind: str = "normalized") -> list[list[Rect]]:
    """The passes of :func:`gram_slices` for ``n_nets`` networks of ``n x k`` factors (raw layers:
    ``n`` entries) within ``memory_gb``: consecutive rectangles (:func:`rects`) whose float32 values
    of every network fit beside :func:`_fixed_bytes`. A :class:`WsmError` where not even the smallest
    rectangle of every network fits."""
    budget = memory_budget(memory_gb) * 2**30
    fixed = _fixed_bytes(n_nets, n if kind == "normalized" else 1, k) + (1 - BUDGET_USED) * budget
    smallest = BAND_ROWS * BAND_ROWS if kind == "normalized" else 1
    cap = int((budget - fixed) // (4 * n_nets))
    if cap < smallest:
        need = (fixed + 4 * n_nets * smallest) / 2**30
        raise WsmError(f"the Gram of {n_nets} networks needs at least {need:.2f} GB (its float64 matrix and a "
                       f"slice of every network's feature), more than the {budget / 2**30:.2f} GB given: "
                       "give it more memory (memory_gb)")
    passes, size = [[]], 0
    for r in rects(n, cap, kind):
        if size + r.size > cap:
            passes.append([])
            size = 0
        passes[-1].append(r)
        size += r.size
    return passes


def factor_flops(weights: Sequence[torch.Tensor], depth: int) -> float:
    """Flops to form a network's chain factor ``M_depth`` (0 for chain 1: its weights)."""
    flops, rows = 0.0, None
    for w in list(weights)[:depth]:
        if rows is None:
            rows = w.shape[1] * (w.shape[2] * w.shape[3] if w.dim() == 4 else 1)
            continue
        hw = w.shape[2] * w.shape[3] if w.dim() == 4 else 1
        flops += 2.0 * rows * w.shape[1] * w.shape[0] * hw
        rows *= hw
    return flops


def gram_costs(n_nets: int, n: int, k: int, memory_gb: float | None = None, device: str = "cpu",
               form: float = 0.0, read: float = 0.0) -> dict[str, float]:
    """Estimated cost, in float32 flops (:data:`FLOAT64_COST`, :data:`FLOPS_PER_BYTE`), of each way to
    the Gram of ``n_nets`` chains with ``n x k`` factors (``form``: flops to form one factor,
    :func:`factor_flops`; ``read``: bytes of one network's weights, read once per pass).

    * ``slices`` (:func:`gram_slices`): its rectangles (:func:`slice_plan`) formed once, ``2 k``
      flops per entry, and ``2`` per entry and pair of networks in the block upper triangle, float32;
      per pass every network's factor from the pass's first row on, and its weights read; the slices
      moved through memory (written, centred, read) and the float64 sums per chunk.
    * ``factors`` (:func:`gram_from_factors`): ``||M_i^T M_j||_F^2``, ``2 n k^2`` float64 flops per
      pair and its ``k x k`` products moved; every factor formed once per block pair.
    """
    dev = "cuda" if str(device).startswith("cuda") else "cpu"
    byte, f64 = FLOPS_PER_BYTE[dev], FLOAT64_COST[dev]
    budget = memory_budget(memory_gb)
    try:
        passes = slice_plan(n_nets, n, k, budget)
    except WsmError:
        slices = float("inf")
    else:
        entries = sum(r.size for p in passes for r in p)
        triangle = n_nets * (n_nets + min(n_nets, NET_BLOCK)) / 2
        later = sum(1 - p[0].r0 / n for p in passes[1:])           # factor rows formed in later passes
        chunks = sum(-(-r.size // PRODUCT_CHUNK) for p in passes for r in p)
        slices = (n_nets * 2 * k * entries + 2 * entries * triangle + n_nets * form * (1 + later)
                  + n_nets * len(passes) * read * byte + 16 * n_nets * entries * byte + chunks * triangle * 20 * byte)
    block = factor_block_size(n_nets, n, k, budget)
    pairs = n_nets * (n_nets + 1) / 2
    blocks = -(-n_nets // block)
    factors = (pairs * 2 * n * k * k * f64 + pairs * k * k * 24 * byte
               + n_nets * (blocks + 1) / 2 * (form * f64 + read * byte))
    return {"slices": slices, "factors": factors}


def auto_method(nets: Sequence[Sequence[torch.Tensor]], depth: int, memory_gb: float | None = None,
                device: str = "cpu") -> str:
    """The method :func:`gram` picks for chain-normalized features: the cheaper by :func:`gram_costs`."""
    n, k = factor_rows_cols(nets[0], depth)
    first = list(nets[0][:depth])
    read = sum(w.numel() * w.element_size() for w in first)
    costs = gram_costs(len(nets), n, k, memory_gb, device, factor_flops(first, depth), read)
    return min(costs, key=costs.get)


# :func:`gram_slices` scales a network's factor by a power of two only where phi's entries would leave
# [2^-SAFE_EXPONENT, 2^SAFE_EXPONENT]: float32 products of pieces of such entries can neither overflow
# nor fall into subnormals (ResNet-MLP-12's chain 11 reaches 1e17 per entry after training).
SAFE_EXPONENT = 60


class ScaleRangeError(WsmError):
    """A centred :func:`gram_slices` whose networks' features are too far apart in scale for one
    common float32 scale (:data:`SAFE_EXPONENT`); :func:`gram`'s ``method="auto"`` then takes the
    float64 factor path instead."""


def _scaled_factor(ws: Sequence[torch.Tensor], depth: int, start: int, kind: str, device: str,
                   exponent: int | None, use: int | None = None, round32: bool = True) -> tuple[torch.Tensor, int]:
    """Rows ``start:`` of a network's chain factor (a raw layer: its entries as one row) in float32
    (``round32=False``: in the dtype it was formed in), and its ``e``: 0 unless a bound on the
    largest entry of phi (``k max|M|^2``: every squared row norm of ``M`` is at most that; of a raw
    layer, its largest entry) leaves the float32-safe range (:data:`SAFE_EXPONENT`), else even and
    above that bound. The factor is scaled by ``2^(-u/2)`` (a raw layer by ``2^-u``; exact), ``u``
    = ``use`` if given (a scale common to all networks), else ``e``. ``exponent``: ``e`` as found
    before, from the whole factor. Formed in the weights' dtype, in float64 where float32 would overflow."""
    ws = [w.to(device) for w in ws]
    dt = torch.float64 if any(w.dtype == torch.float64 for w in ws) else torch.float32

    def form(dtype):
        w = [x.to(dtype) for x in ws]
        return chain_factor(w, depth, start) if kind == "normalized" else w[depth - 1].reshape(1, -1)[:, start:]

    m = form(dt)
    if exponent is None:
        def largest(m):             # at least phi's largest entry (k max|M|^2 >= every squared row norm)
            if not m.numel():
                return 0.0
            low, high = torch.aminmax(m)                         # no temporary of |m|
            top = max(-float(low), float(high))
            return m.shape[1] * top * top if kind == "normalized" else top

        big = largest(m)
        if dt != torch.float64 and not math.isfinite(big):        # float32 overflowed: float64
            m = form(torch.float64)
            big = largest(m)
        e = math.frexp(big)[1] if big > 0 else 0                  # big < 2^e
        exponent = 0 if -SAFE_EXPONENT < e < SAFE_EXPONENT else e + (e % 2)
    elif m.dtype != torch.float64 and exponent >= SAFE_EXPONENT:
        m = form(torch.float64)
    shift = exponent if use is None else use
    if shift:
        m = m * math.ldexp(1.0, -(shift // 2 if kind == "normalized" else shift))
    return (m.float() if round32 else m), exponent


def gram_slices(nets: Sequence[Sequence[torch.Tensor]], depth: int, kind: str = "normalized",
                memory_gb: float | None = None, center: bool = False, progress: bool = True,
                device: str = "cpu") -> torch.Tensor:
    """The Gram matrix ``K[i, j] = <f_i, f_j>`` (float64) of the features of every network, each
    feature formed once, out of core.

    vec(phi) is cut into rectangles of phi's upper triangle (:func:`rects`: a band's square on the
    diagonal, counted once, the rows right of it, counted twice; a raw layer: chunks of its entries).
    A pass holds some consecutive rectangles of *every* network within ``memory_gb`` (default
    :func:`memory_budget`), so the zoo is read once per pass (a stored zoo's run files, memory
    mapped: never all of it in memory) and each network's phi is formed once over all passes (rows
    ``r0:`` of its factor per pass, :func:`chain_factor`), each rectangle by one float32 product from
    the factor, scaled by a power of two (exact) where phi's entries would leave float32's safe
    range. Centring (``center``) is per coordinate, so centring each rectangle is centring the whole
    feature: every network at one scale, the float32 mean subtracted (its rounding moves every
    network by the same vector, which any later centring removes); a raw layer's values have the
    first network's subtracted before they are rounded to float32, in the weights' dtype, so that a
    large common part cancels exactly (phi is rounded as it is formed: its common part costs the
    precision its float32 formation has). Then the products of the block upper triangle of networks, float32
    over at most PRODUCT_CHUNK entries, each added to the Gram in float64 with its scale. Its
    precision against float64 arithmetic: the tests of tests/test_chain.py; its speed against the
    arithmetic minimum: bench/gram_scale.py."""
    from wsm.core.progress import bar

    n_nets = len(nets)
    if n_nets == 0:
        raise WsmError("a Gram matrix needs at least one network")
    if kind == "normalized":
        n, k = factor_rows_cols(nets[0], depth)
    elif kind == "unnormalized":
        if not 1 <= depth <= len(nets[0]):
            raise WsmError(f"layer {depth} does not exist: this network has {len(nets[0])} weight layers")
        n, k = feature_size(nets[0], depth, kind), 1
    else:
        raise WsmError(f"unknown feature kind {kind!r}: valid ones are {', '.join(KINDS)}")
    passes = slice_plan(n_nets, n, k, memory_gb, kind)
    buf = torch.empty(n_nets * max(sum(r.size for r in p) for p in passes), device=device)
    kmat = torch.zeros(n_nets, n_nets, dtype=torch.float64, device=device)
    exponents: list[int | None] = [None] * n_nets
    blocks = [(a, min(n_nets, a + NET_BLOCK)) for a in range(0, n_nets, NET_BLOCK)]
    pbar = bar(total=n_nets * len(passes), desc=f"Gram {kind} {depth}", disable=not progress, leave=False)
    for step, todo in enumerate(passes):
        views, off = [], 0
        for r in todo:
            views.append(buf[off:off + n_nets * r.size].view(n_nets, r.size))
            off += n_nets * r.size
        start = todo[0].r0 if kind == "normalized" else todo[0].c0
        ref = {}                        # centring: the first network's values, subtracted from every one
        # every other pass backwards: the networks read last are read first again, while the system
        # still holds their files in memory (a zoo larger than the page cache is read less from disk)
        for j in range(n_nets) if step % 2 == 0 else range(n_nets - 1, -1, -1):
            net = nets[j]
            m, exponents[j] = _scaled_factor(list(net[:depth]), depth, start, kind, device, exponents[j],
                                             use=exponents[0] if center and j else None,
                                             round32=not (center and kind == "unnormalized"))
            if center and abs(exponents[j] - exponents[0]) > SAFE_EXPONENT:
                raise ScaleRangeError(f"network {j}'s chain {depth} is 2^{exponents[j] - exponents[0]} times network "
                                      "0's: too far apart for a centred float32 Gram; use method='factors'")
            for i, (r, v) in enumerate(zip(todo, views)):
                if kind == "normalized":
                    out = v[j].view(r.r1 - r.r0, r.c1 - r.c0)
                    torch.mm(m[r.r0 - start:r.r1 - start], m[r.c0 - start:r.c1 - start].t(), out=out)
                elif center:
                    ref.setdefault(i, m[0, r.c0 - start:r.c1 - start].clone())
                    v[j].copy_(m[0, r.c0 - start:r.c1 - start] - ref[i])   # in the weights' dtype, then rounded
                else:
                    v[j].copy_(m[0, r.c0 - start:r.c1 - start])
            pbar.update()
        scale = torch.tensor([math.ldexp(1.0, e) for e in exponents], dtype=torch.float64, device=device)
        for r, f in zip(todo, views):
            if center:
                f.sub_(f.sum(0) / n_nets)
            for c0 in range(0, r.size, PRODUCT_CHUNK):
                fc = f[:, c0:c0 + PRODUCT_CHUNK]
                for bi, (a0, a1) in enumerate(blocks):
                    for b0, b1 in blocks[bi:]:
                        kab = (fc[a0:a1] @ fc[b0:b1].t()).double()
                        if center:                          # every network at network 0's scale
                            kmat[a0:a1, b0:b1].add_(kab, alpha=r.weight * math.ldexp(1.0, exponents[0]) ** 2)
                        else:                               # each network at its own scale
                            kmat[a0:a1, b0:b1].add_(kab.mul_(scale[a0:a1, None] * scale[None, b0:b1]), alpha=r.weight)
    pbar.close()
    del buf, views                              # the upper triangle mirrored in place, block by block
    for bi, (a0, a1) in enumerate(blocks):
        diag = kmat[a0:a1, a0:a1]
        diag.copy_(torch.triu(diag) + torch.triu(diag, 1).t())
        for b0, b1 in blocks[bi + 1:]:
            kmat[b0:b1, a0:a1] = kmat[a0:a1, b0:b1].t()
    return kmat.cpu()


def gram_from_factors(nets: Sequence[Sequence[torch.Tensor]], depth: int, memory_gb: float | None = None,
                      center: bool = False, progress: bool = True, device: str = "cpu") -> torch.Tensor:
    """The Gram matrix of the chain-normalized features by the exact kernel identity
    ``<phi_i, phi_j>_F = ||M_i^T M_j||_F^2`` (see :mod:`wsm.analyses.compare`), in float64, never forming phi.

    Factors are formed in float64 a block at a time (two blocks of ``n x k`` factors plus the
    ``(B k) x (B k)`` cross products within ``memory_gb``); a block pair is one matrix product
    ``[M_a1 .. M_aB]^T [M_b1 .. M_bB]`` whose ``k x k`` tiles are squared and summed. ``center=True``
    double-centres the Gram (``H K H``, ``H = I - 11^T / N``), which is exactly the Gram of the
    features minus their mean (float64 keeps the differences between networks: relative resolution
    about 1e-8 of ``||phi||^2`` at worst, where the float32 products of :func:`gram_slices` need centring
    before the product). ``device``: where the products run (on CUDA ``memory_gb`` bounds GPU
    memory); the result is on the CPU.
    """
    from wsm.core.progress import bar

    n_nets = len(nets)
    n, k = factor_rows_cols(nets[0], depth)
    block = factor_block_size(n_nets, n, k, memory_budget(memory_gb))
    starts = list(range(0, n_nets, block))
    kmat = torch.zeros(n_nets, n_nets, dtype=torch.float64)
    pbar = bar(total=len(starts) * (len(starts) + 1) // 2, desc=f"Gram normalized {depth} (factors)",
               disable=not progress, leave=False)
    for bi, a in enumerate(starts):
        fa, na = factor_block(nets[a:a + block], depth, device)
        for b in starts[bi:]:
            fb, nb = (fa, na) if b == a else factor_block(nets[b:b + block], depth, device)
            kab = factor_products(fa, na, fb, nb, k, same=b == a)
            kmat[a:a + na, b:b + nb] = kab.cpu()
            kmat[b:b + nb, a:a + na] = kab.t().cpu()
            pbar.update()
    pbar.close()
    if center:
        kmat = double_centre(kmat)
    return kmat


def factor_block_size(n_nets: int, n: int, k: int, memory_gb: float) -> int:
    """Networks per block of :func:`gram_from_factors`: two blocks of float64 ``n x k`` factors plus
    their ``(B k) x (B k)`` cross product (and its square) within ``memory_gb``."""
    per = 8 * n * k
    block = 1
    while block < n_nets and 2 * (block + 1) * per + 2 * 8 * ((block + 1) * k) ** 2 <= memory_gb * 2**30:
        block += 1
    return block


def factor_block(nets: Sequence[Sequence[torch.Tensor]], depth: int, device: str = "cpu") -> tuple[torch.Tensor, int]:
    """``([M_1 .. M_B], B)``: the float64 chain factors of ``nets`` side by side (``n x (B k)``) on ``device``."""
    ms = [chain_factor([w.to(device, torch.float64) for w in net[:depth]], depth) for net in nets]
    return torch.cat(ms, 1), len(ms)


def factor_products(fa: torch.Tensor, na: int, fb: torch.Tensor, nb: int, k: int, same: bool = False) -> torch.Tensor:
    """``K[i, j] = ||M_i^T M_j||_F^2`` for the factors of two blocks (:func:`factor_block`): one matrix
    product whose ``k x k`` tiles are squared and summed; ``same``: the two blocks are one (symmetrised)."""
    c = fa.t() @ fb                                                    # (na k) x (nb k)
    kab = c.square_().view(na, k, nb, k).sum((1, 3))
    del c
    return (kab + kab.t()) / 2 if same else kab


def double_centre(kmat: torch.Tensor) -> torch.Tensor:
    """``H K H`` with ``H = I - 11^T / N``: the Gram of the features minus their mean, symmetrised."""
    kmat = kmat - kmat.mean(0, keepdim=True) - kmat.mean(1, keepdim=True) + kmat.mean()
    return (kmat + kmat.t()) / 2


def gram_key(nets: Sequence[Sequence[torch.Tensor]], depth: int, kind: str, memory_gb: float | None, center: bool,
             method: str, device: str = "cpu") -> str:
    """The content address of a Gram matrix: a BLAKE2b digest of every argument that can change it
    (the device too: ``auto`` may pick another path there, and its products round differently; the
    memory budget, default :func:`memory_budget`: it sets the passes, and so how sums round), of
    the code that computes it (:func:`wsm.core.version.code`: a changed feature code never reads a stale
    Gram) and of the bytes of the weights that enter the feature (:func:`feature_bytes`)."""
    import hashlib

    from wsm.core import version

    h = hashlib.blake2b(digest_size=20)
    h.update(repr(("gram-v4", version.code(), depth, kind, memory_budget(memory_gb), bool(center), method, str(device),
                   len(nets))).encode())
    for net in nets:
        feature_bytes(h, net, depth, kind)
    return h.hexdigest()


def feature_bytes(h, net: Sequence[torch.Tensor], depth: int, kind: str) -> None:
    """Feed hash ``h`` the shapes, dtypes and bytes of the weights of ``net`` that enter its feature
    (layers 1..depth of a chain, layer ``depth`` alone unnormalized)."""
    for w in (net[:depth] if kind == "normalized" else net[depth - 1:depth]):
        w = w.detach().cpu().contiguous()
        h.update(repr((tuple(w.shape), str(w.dtype))).encode())
        h.update(w.view(torch.uint8).reshape(-1).numpy() if w.numel() else b"")


METHODS = ("auto", "slices", "factors")


def gram(nets: Sequence[Sequence[torch.Tensor]], depth: int, kind: str = "normalized",
         memory_gb: float | None = None, center: bool = False, progress: bool = True,
         method: str = "auto", cache=None, device: str = "cpu", info: dict | None = None) -> torch.Tensor:
    """``K[i, j] = <f_i, f_j>`` for the features of every network, in float64.

    ``method``: ``"slices"`` forms every feature once per pass, a slice across all networks at a
    time, in float32 products summed in float64 (:func:`gram_slices`, out of core); ``"factors"``
    the kernel identity in float64, never forming phi (:func:`gram_from_factors`, chain-normalized
    features only); ``"auto"`` the cheaper by :func:`gram_costs` (flops and memory traffic): the
    factors only where phi is far larger than its factor and the networks few (PlainNet-5's chain 4,
    19,683 rows and 256 columns, over a few dozen networks), or where a centred Gram's networks are too
    far apart in scale for float32 (:class:`ScaleRangeError`), the slices otherwise. ``memory_gb``:
    the memory it may take (default :func:`memory_budget`, a share of the machine's RAM).
    ``device``: where the products run (``cpu`` or ``cuda``, as the caller decided); the result is
    on the CPU. ``center=True``: the Gram of the features minus their mean (the classifier only
    sees differences between networks: :func:`wsm.maths.htt.embed` centres anyway), centred exactly.

    ``cache``: a folder; the matrix is then stored there under its content address
    (:func:`gram_key`: the weights' bytes and every argument) and read back by any later call with
    the same networks and arguments, from any notebook (Fig. 2's Grams serve the "Beyond the paper"
    page). A file that cannot be read, or whose bytes fail their checksum
    (:func:`wsm.core.storage.load_tensor`), is recomputed and rewritten; writes are atomic. ``info``: a
    dict given here gets ``info["cached"]``, whether the matrix was read from ``cache``.
    """
    if method not in METHODS:
        raise WsmError(f"unknown Gram method {method!r}: valid ones are {', '.join(METHODS)}")
    if kind not in KINDS:
        raise WsmError(f"unknown feature kind {kind!r}: valid ones are {', '.join(KINDS)}")
    if kind == "unnormalized" and method == "factors":
        raise WsmError("the factors method applies to chain-normalized features only: use kind='normalized'")
    if not nets:
        raise WsmError("a Gram matrix needs at least one network")
    memory_gb = memory_budget(memory_gb)
    if info is not None:
        info["cached"] = False
    if cache is None:
        return _gram(nets, depth, kind, memory_gb, center, progress, method, device)
    from pathlib import Path

    from wsm.core.storage import load_tensor, save_tensor

    path = Path(cache) / f"{gram_key(nets, depth, kind, memory_gb, center, method, device)}.pt"
    k = load_tensor(path)            # None for a file that is missing, unreadable or fails its checksum
    if k is not None:
        if info is not None:
            info["cached"] = True
        return k
    k = _gram(nets, depth, kind, memory_gb, center, progress, method, device)
    save_tensor(path, k)
    return k


def _gram(nets, depth, kind, memory_gb, center, progress, method, device) -> torch.Tensor:
    if kind == "normalized":
        factor_rows_cols(nets[0], depth)                      # a chain that does not exist: its error here
        if method == "factors" or (method == "auto" and auto_method(nets, depth, memory_gb, device) == "factors"):
            return gram_from_factors(nets, depth, memory_gb, center, progress, device)
        if method == "auto":
            try:
                return gram_slices(nets, depth, kind, memory_gb, center, progress, device)
            except ScaleRangeError:     # scales too far apart for float32 (ResNet-MLP-12's deep chains): exact
                return gram_from_factors(nets, depth, memory_gb, center, progress, device)
    return gram_slices(nets, depth, kind, memory_gb, center, progress, device)


def permute_hidden(net: nn.Module, layer: int, perm: torch.Tensor) -> None:
    """Permute the output units of weight layer ``layer`` (1-based) in place, and everything tied
    to them (its bias, a BatchNorm right after it, the inputs of the next weight layer: for a Linear
    over a flattened feature map, the block of columns of each channel), so the network computes
    exactly the same function (Fig. 1)."""
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
        w = mods[nxt].weight
        if w.dim() == 2 and w.shape[1] != len(perm):     # a Linear over the flattened feature map: column blocks
            w.copy_(w.view(w.shape[0], len(perm), -1)[:, perm].reshape(w.shape))
        else:
            w.copy_(w[:, perm])


def rotate_hidden(weights: Sequence[torch.Tensor], generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """A random orthogonal change of basis of every hidden layer's units, in float64:
    ``W_l -> Q_l W_l Q_{l-1}^T`` on the chain weights (channels of a conv; ``Q_0 = I``: the inputs
    stay, and so do the last layer's outputs), each ``Q_l`` drawn uniformly (Haar) from the
    orthogonal group. The chain factor becomes ``M_l Q_l^T``, so every ``phi^l`` is unchanged:
    chain normalization cannot tell the result from the original, although (a permutation being
    the exception) a network with nonlinearities then computes another function."""
    out, q_prev = [], None
    for i, w in enumerate(weights):
        w = w.double()
        if q_prev is not None:
            w = torch.einsum("oi...,ji->oj...", w, q_prev)            # W Q^T on the input units
        if i < len(weights) - 1:
            a = torch.randn(w.shape[0], w.shape[0], generator=generator, dtype=torch.float64)
            q, r = torch.linalg.qr(a)
            q_prev = q * torch.sign(torch.diagonal(r))                # Haar-distributed
            w = torch.einsum("po,o...->p...", q_prev, w)
        out.append(w)
    return out


# ---------------------------------------------------------------- GRU-2 (Section 4.3)


def _check_gru2_module(net: nn.Module, rnns, label: str) -> None:
    """A module with a recurrent layer has a chain only when it is a GRU-2: one unidirectional
    two-layer ``nn.GRU`` and one Linear head; anything else is refused naming the layer."""
    name, rnn = rnns[0]
    others = [n for n, m in net.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    if (len(rnns) == 1 and type(rnn) is nn.GRU and rnn.num_layers == 2 and not rnn.bidirectional
            and len(others) <= 1):
        return
    raise WsmError(f"layer {name!r} is not supported by chain normalization here (an nn.{type(rnn).__name__} with "
                   f"{rnn.num_layers} layer(s) in {label}): supported are {SUPPORTED}")


def _gru_layers(sd: Mapping[str, torch.Tensor], label: str) -> list[Layer]:
    """GRU-2's chain layers from a state_dict (see :func:`gru_weights`), or a :class:`WsmError`
    naming the recurrent weight when the state_dict is not a GRU-2's."""
    firsts = [k for k in sd if str(k).endswith("weight_ih_l0")]
    first = firsts[0] if firsts else next(k for k in sd if _RNN.search(str(k)))
    prefix = first[: -len("weight_ih_l0")] if firsts else ""
    w0, w1 = sd.get(prefix + "weight_ih_l0"), sd.get(prefix + "weight_ih_l1")
    heads = [k for k, v in sd.items() if k.endswith("weight") and not _RNN.search(k) and v.dim() in (2, 4)]
    gru2 = (len(firsts) == 1 and w1 is not None and prefix + "weight_ih_l2" not in sd
            and not any(k.endswith("_reverse") for k in sd) and w0.shape[0] == 3 * w1.shape[1] == w1.shape[0]
            and len(heads) <= 1)
    if not gru2:
        raise WsmError(f"layer {first!r} of {label} is a recurrent (RNN/GRU/LSTM) weight that is not part of a GRU-2 "
                       f"(one two-layer nn.GRU, a Linear head), which chain normalization here does not support: "
                       f"supported are {SUPPORTED}")
    w0, w1 = w0.detach(), w1.detach()
    return [Layer(prefix + "weight_ih_l0", w0, tuple(w0.shape)),
            Layer(prefix + "weight_ih_l1", torch.block_diag(*[w1] * 3), tuple(w1.shape), copies=3)]


def gru_weights(net: nn.Module | Mapping[str, torch.Tensor]) -> list[torch.Tensor]:
    """The chain weights of a two-layer GRU (``nn.GRU(58, H, 2)`` + a head): ``[A_1, A_2]`` with
    ``A_1 = W_ih_l0`` (3H x 58) and ``A_2 = I_3 (x) W_ih_l1`` (block-diagonal, 9H x 3H), so that
    :func:`chain_factor`, :func:`phi`, :func:`feature` and :func:`gram` treat a GRU like an MLP.

    *Derivation.* PyTorch stacks each layer's gates r, z, n as row blocks: ``W_ih_l0 = [W_ir; W_iz;
    W_in]`` (each H x 58), ``W_hh_l0`` (3H x H), ``W_ih_l1``, ``W_hh_l1`` (3H x H), biases (3H).
    Permuting the H hidden units of layer 1 by P (and the H units of layer 2 by Q) leaves the
    network's function unchanged when every tied weight moves with them: each gate block of
    ``W_ih_l0``, ``b_ih_l0``, ``b_hh_l0`` is multiplied by P on the left; each gate block of
    ``W_hh_l0`` becomes ``P W P^T`` (the recurrent weight is permuted on both sides); each gate
    block of ``W_ih_l1`` becomes ``Q W P^T``; of ``W_hh_l1``, ``Q W Q^T``; the head ``W_fc Q^T``.
    Write ``P_3 = I_3 (x) P``, a permutation of all 3H rows of a layer.

    * Chain 1: the chain factor ``M_1 = W_ih_l0^T`` (58 x 3H) becomes ``M_1 P_3^T``, hence
      ``phi^1 = M_1 M_1^T = W_ih_l0^T W_ih_l0 = sum_g W_ig^T W_ig`` (58 x 58) is invariant. This is
      exactly the authors' feature (the Gram matrix of ``weight_ih_l0``).
    * Chain 2: the input of layer 2 is layer 1's hidden state, reached through each of the three
      gates; carrying every gate's path through ``W_ih_l1`` gives the 58 x 9H factor
      ``M_2 = [W_ir^T W_ih_l1^T, W_iz^T W_ih_l1^T, W_in^T W_ih_l1^T] = M_1 (I_3 (x) W_ih_l1)^T``.
      Under the permutations each block becomes ``W_ig^T P^T P W_ih_l1^T Q_3^T`` = the old block
      times ``Q_3^T``, so ``M_2 -> M_2 (I_3 (x) Q_3)^T`` and ``phi^2 = M_2 M_2^T`` (58 x 58) is invariant.
    * ``W_hh`` (permuted on both sides), the biases and the head are left out, as the paper's chains
      leave out biases. Like the MLP chains, this ignores the nonlinearities (Eq. 6-7).

    The unnormalized baseline is the raw ``W_ih_l0`` flattened (``feature(..., 1, "unnormalized")``);
    depth 2 of the unnormalized kind would be the block-diagonal ``A_2`` and is not reported.
    """
    sd = net.state_dict() if isinstance(net, nn.Module) else net
    return [layer.weight for layer in _gru_layers(sd, "the network")]


GRU_GATES = 3      # PyTorch stacks a GRU layer's gates r, z, n as row blocks


def invariant_split(w: torch.Tensor, blocks: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """A first layer's raw weight ``w`` (rows: hidden units, in ``blocks`` stacked row blocks, such as a GRU's
    :data:`GRU_GATES` gates) split into the part no permutation of the hidden units changes and the rest:
    ``(sums, rest)`` with ``w`` = each block's ``sums`` spread evenly over its rows + ``rest``.

    * ``sums`` (blocks x inputs): each block's column sums ``1^T W_b``. A permutation P of the hidden units
      maps every block to ``P W_b`` and ``1^T P = 1^T``, so they are invariant; and they are linear in the
      weights (the c-th column sum is vec(W) . (1 (x) e_c)), so a linear classifier of the raw layer can read them.
    * ``rest`` (``w``'s shape): each block centred over its rows, ``W_b - 1 (1^T W_b) / h``, which the
      permutation moves with the rows.
    """
    rows, cols = w.shape
    if rows % blocks:
        raise WsmError(f"a weight of {rows} rows cannot be {blocks} equal row blocks: give the number of stacked "
                       "blocks (1 for a linear layer, chain.GRU_GATES for a GRU's input weight)")
    b = w.reshape(blocks, rows // blocks, cols)
    return b.sum(1), (b - b.mean(1, keepdim=True)).reshape(rows, cols)


def permute_gru_hidden(net: nn.Module, layer: int, perm: torch.Tensor) -> None:
    """Permute the hidden units of GRU layer ``layer`` (1 or 2) of a GRU + Linear head in place,
    with every tied weight (see :func:`gru_weights`), so the network computes the same function."""
    rnn = next(m for m in net.modules() if isinstance(m, nn.GRU))
    head = [m for m in net.modules() if isinstance(m, nn.Linear)][-1]
    h, k = rnn.hidden_size, layer - 1
    if not 0 <= k < rnn.num_layers or sorted(perm.tolist()) != list(range(h)):
        raise WsmError(f"need a GRU layer 1..{rnn.num_layers} and a permutation of its {h} units")
    rows = torch.cat([perm + g * h for g in range(3)])          # the same permutation in every gate block
    with torch.no_grad():
        for name in (f"weight_ih_l{k}", f"bias_ih_l{k}", f"bias_hh_l{k}"):
            t = getattr(rnn, name)
            t.copy_(t[rows])
        w = getattr(rnn, f"weight_hh_l{k}")
        w.copy_(w[rows][:, perm])
        if k + 1 < rnn.num_layers:
            w = getattr(rnn, f"weight_ih_l{k + 1}")
            w.copy_(w[:, perm])
        else:
            head.weight.copy_(head.weight[:, perm])


def permutation_sentence(checks) -> str:
    """Words on a table of permutation checks on trained networks (columns phi_relative_change,
    raw_relative_change): how little a hidden-unit permutation moves φ against the raw layers."""
    worst_phi, least_raw = checks.phi_relative_change.max(), checks.raw_relative_change.min()
    return (f"On trained networks a random hidden-unit permutation changes φ^1–φ^3 by at most {worst_phi:.1e} "
            f"(float64 rounding) while the raw layer weights change by at least {least_raw:.0%} of their norm, so φ "
            "removes the permutation the paper's Eq. 5–6 describe.")
