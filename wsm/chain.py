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
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from wsm.errors import WsmError

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
    place that decides what a chain is, used by :func:`layer_weights`, :mod:`wsm.compare`, the
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
                what = f"a grouped nn.Conv2d (groups={m.groups})" if isinstance(m, nn.Conv2d) else f"an nn.{type(m).__name__}"
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
                               f"nn.{kind}?), which chain normalization here does not support: supported are {SUPPORTED}")
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


# How much faster the factor path's float64 products run on a GPU than the CPU paths, used only to
# choose the method when CUDA is present (every method gives the same Gram). Conservative against
# the measured float64 rates of both machines, since small block products reach only a fraction of
# the GPU's peak (the rows of book/benchmarks/ and the book's Performance page).
GPU_FACTOR_SPEEDUP = 20.0


def gram_costs(n_nets: int, n: int, k: int, memory_gb: float) -> dict[str, float]:
    """Estimated flops of each way to the Gram of ``n_nets`` chains with ``n x k`` factors.

    * ``explicit``: form ``vec(phi)`` (``2 n^2 k``) once per block pass, then ``n^2`` per pair
      (blocks of features in ``memory_gb``: each network's phi is formed once per block pass);
    * ``factors``: ``||M_i^T M_j||_F^2`` costs ``2 n k^2`` per pair; factors are cheap to form;
    * ``sliced``: the upper triangle of phi (and its diagonal blocks) only, in slices of ``rows``
      rows (:func:`gram_sliced`).
    """
    size = 8 * n * n
    block = n_nets if n_nets * size <= memory_gb * 2**30 else max(1, int(memory_gb * 2**30 // (2 * size)))
    passes = -(-n_nets // block)
    pairs = n_nets * (n_nets + 1) / 2
    explicit = n_nets * 2 * n * n * k * (1 if block == n_nets else passes + 1) + pairs * 2 * n * n
    fits = n_nets == 1 or 2 * size <= memory_gb * 2**30          # two features at a time at least
    rows = _slice_rows(n_nets, n, k, memory_gb)
    sliced = n_nets * n * (n + rows) * k + n_nets * n_nets * n * (n + rows) / 2 if rows else float("inf")
    return {"explicit": explicit if fits else float("inf"), "factors": pairs * 2 * n * k * k, "sliced": sliced}


def auto_method(n_nets: int, n: int, k: int, memory_gb: float, device: str = "cpu") -> str:
    """The method :func:`gram` picks by default: the fewest estimated flops (:func:`gram_costs`),
    the factor path counted :data:`GPU_FACTOR_SPEEDUP` times cheaper on a CUDA ``device`` (it runs
    its float64 products there; the other paths run on the CPU)."""
    costs = gram_costs(n_nets, n, k, memory_gb)
    if str(device).startswith("cuda"):
        costs["factors"] /= GPU_FACTOR_SPEEDUP
    return min(costs, key=costs.get)


def _slice_rows(n_nets: int, n: int, k: int, memory_gb: float) -> int:
    """Rows of phi per slice in :func:`gram_sliced`: every network's float32 factor, and beside
    them in ``memory_gb`` the row slices of phi (float32, and float64 for the product); 0 where not
    even one row fits."""
    left = memory_gb * 2**30 - n_nets * n * k * 4
    return max(0, min(n, int(left // (n_nets * n * 12))))


def gram_sliced(nets: Sequence[Sequence[torch.Tensor]], depth: int, memory_gb: float = 2.0,
                center: bool = False, progress: bool = True) -> torch.Tensor:
    """The Gram matrix of the chain-normalized features, phi formed exactly once per network, a
    slice of its rows at a time: ``K = sum_s F_s F_s^T`` where ``F_s`` holds rows ``s`` of every
    network's ``phi = M M^T`` (``M[s] M^T``). Centring the features is per coordinate, so centring
    each slice is exactly centring the whole feature. The chain factors of all networks are kept
    (float32, all scaled by one number so that every entry of every phi is at most 1: for a PSD
    matrix ``max |phi_ab| = max_a phi_aa``, the largest squared row norm of ``M``); each slice of phi
    is formed in float32 and centred and multiplied in float64; the scale is put back. phi is
    symmetric, and so is its centred version (the mean of symmetric matrices is symmetric), so a
    slice forms only its columns from its first row on: the block on the diagonal counts once and
    the columns right of it twice, which covers every entry of phi once. Costs about ``n^2 k`` per
    network plus ``n^2 / 2`` per pair, half the explicit path's arithmetic (the time of each path:
    ``bench/bench_chain.py``, its rows in ``book/benchmarks/``)."""
    from wsm.progress import bar

    n_nets = len(nets)
    n, k = factor_rows_cols(nets[0], depth)
    rows = _slice_rows(n_nets, n, k, memory_gb)
    if not rows:
        raise WsmError(f"the chain factors of {n_nets} networks ({n} x {k}) do not fit in {memory_gb} GB: "
                       "use method='factors' or more memory")
    ms = torch.empty(n_nets, n, k)                                          # N x n x k, float32
    scale = 0.0
    for i, net in enumerate(nets):                    # formed in float64, kept in float32, one at a time
        m = chain_factor([w.double() for w in net[:depth]], depth)
        scale = max(scale, float(m.square().sum(1).max()))
        ms[i] = m
    scale = scale or 1.0
    ms /= scale ** 0.5
    kmat = torch.zeros(n_nets, n_nets, dtype=torch.float64)
    # one float32 and one float64 buffer for every slice: allocating a fresh gigabyte per slice
    # cost more (in page faults) than the products themselves
    buf32, buf64 = torch.empty(n_nets * rows * n), torch.empty(n_nets * rows * n, dtype=torch.float64)
    for r0 in bar(range(0, n, rows), desc=f"Gram normalized {depth} (slices)", disable=not progress, leave=False):
        r1 = min(n, r0 + rows)                  # rows r0:r1, columns r0: only (phi is symmetric):
        # the diagonal block holds every pair (a, b) and (b, a) in it, so it counts once; the columns
        # right of it count twice, for (b, a) is in no other slice
        for c0, c1, weight in ((r0, r1, 1), (r1, n, 2)):
            if c1 <= c0:
                continue
            size = n_nets * (r1 - r0) * (c1 - c0)
            f32 = buf32[:size].view(n_nets, r1 - r0, c1 - c0)
            torch.bmm(ms[:, r0:r1], ms[:, c0:c1].transpose(1, 2), out=f32)
            f = buf64[:size].view(n_nets, -1)
            f.copy_(f32.view(n_nets, -1))
            if center:
                f -= f.mean(0)
            kmat.addmm_(f, f.t(), alpha=weight)
    kmat = (kmat + kmat.t()) / 2
    return kmat * scale ** 2


def gram_from_factors(nets: Sequence[Sequence[torch.Tensor]], depth: int, memory_gb: float = 2.0,
                      center: bool = False, progress: bool = True, device: str = "cpu") -> torch.Tensor:
    """The Gram matrix of the chain-normalized features by the exact kernel identity
    ``<phi_i, phi_j>_F = ||M_i^T M_j||_F^2`` (see :mod:`wsm.compare`), in float64, never forming phi.

    Factors are formed in float64 a block at a time (two blocks of ``n x k`` factors plus the
    ``(B k) x (B k)`` cross products within ``memory_gb``); a block pair is one matrix product
    ``[M_a1 .. M_aB]^T [M_b1 .. M_bB]`` whose ``k x k`` tiles are squared and summed. ``center=True``
    double-centres the Gram (``H K H``, ``H = I - 11^T / N``), which is exactly the Gram of the
    features minus their mean (float64 keeps the differences between networks: relative resolution
    about 1e-8 of ``||phi||^2`` at worst, where :func:`gram`'s float32 explicit path needs centring
    before the product). ``device``: where the products run (on CUDA ``memory_gb`` bounds GPU
    memory); the result is on the CPU.
    """
    from wsm.progress import bar

    n_nets = len(nets)
    n, k = factor_rows_cols(nets[0], depth)
    block = factor_block_size(n_nets, n, k, memory_gb)
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


def gram_key(nets: Sequence[Sequence[torch.Tensor]], depth: int, kind: str, memory_gb: float, center: bool,
             method: str, device: str = "cpu") -> str:
    """The content address of a Gram matrix: a BLAKE2b digest of every argument that can change it
    (the device too: ``auto`` may pick another path there, and its products round differently), of
    the code that computes it (:func:`wsm.version.code`: a changed feature code never reads a stale
    Gram) and of the bytes of the weights that enter the feature (:func:`feature_bytes`)."""
    import hashlib

    from wsm import version

    h = hashlib.blake2b(digest_size=20)
    h.update(repr(("gram-v3", version.code(), depth, kind, float(memory_gb), bool(center), method, str(device),
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


def gram(nets: Sequence[Sequence[torch.Tensor]], depth: int, kind: str = "normalized",
         memory_gb: float = 2.0, center: bool = False, progress: bool = True,
         method: str = "auto", cache=None, device: str = "cpu", info: dict | None = None) -> torch.Tensor:
    """``K[i, j] = <f_i, f_j>`` for the features of every network, in float64.

    ``cache``: a folder; the matrix is then stored there under its content address
    (:func:`gram_key`: the weights' bytes and every argument) and read back by any later call with
    the same networks and arguments, from any notebook (Fig. 2's Grams serve the "Beyond the paper"
    page). A file that cannot be read, or whose bytes fail their checksum
    (:func:`wsm.storage.load_tensor`), is recomputed and rewritten; writes are atomic. ``info``: a
    dict given here gets ``info["cached"]``, whether the matrix was read from ``cache``.

    ``method``: ``"explicit"`` forms the features (below); ``"factors"`` uses the kernel identity
    (:func:`gram_from_factors`, normalized chains only); ``"sliced"`` forms each phi once, a slice
    of rows at a time (:func:`gram_sliced`, normalized chains whose factors fit); ``"auto"`` picks
    the one with the fewest estimated flops within ``memory_gb`` (:func:`gram_costs`): the factors
    for long chains with few columns over a few networks (PlainNet-5's chain 4: 19,683 rows, 256
    columns, a 3 GB phi), the slices or the explicit features otherwise. ``device``: where the factor path's
    products run (``cpu`` or ``cuda``, as the caller decided); the other paths run on the CPU.

    Explicit features are formed in float64 and multiplied in float32, each row scaled to a largest
    entry of 1 (the scales are put back in float64), so deep chains cannot overflow. When all of them fit in ``memory_gb`` they are formed once;
    otherwise a block at a time (two blocks in memory), trading recomputation for a bounded
    footprint. With ``center=True`` the mean feature of all networks is subtracted first: the
    classifier only sees differences between networks (:func:`wsm.htt.embed` centres anyway), and
    float32 products of features that share a large common part would lose those differences.
    """
    if method not in ("auto", "explicit", "factors", "sliced"):
        raise WsmError(f"unknown Gram method {method!r}: valid ones are auto, explicit, factors, sliced")
    if info is not None:
        info["cached"] = False
    if cache is None:
        return _gram(nets, depth, kind, memory_gb, center, progress, method, device)
    from pathlib import Path

    from wsm.storage import load_tensor, save_tensor

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
    from wsm.progress import bar

    if kind == "normalized" and method != "explicit":
        n_rows, k_cols = factor_rows_cols(nets[0], depth)
        best = method if method != "auto" else auto_method(len(nets), n_rows, k_cols, memory_gb, device)
        if best == "factors":
            return gram_from_factors(nets, depth, memory_gb, center, progress, device)
        if best == "sliced":
            return gram_sliced(nets, depth, memory_gb, center, progress)
    elif method in ("factors", "sliced"):
        raise WsmError(f"the {method} method applies to chain-normalized features only: use kind='normalized'")
    n = len(nets)
    size = 8 * feature_size(nets[0], depth, kind)
    block = n if n * size <= memory_gb * 2**30 else max(1, int(memory_gb * 2**30 // (2 * size)))
    starts = list(range(0, n, block))
    mean = 0.0
    if center and block < n:
        mean = sum(feature(w, depth, kind).double() for w in nets) / n

    def feats(s, centre_here):
        """Features of a block as float32 rows of largest entry 1, and those scales (float64): deep
        chains reach 1e17 and more (ResNet-MLP-12's chain 11), whose float32 products overflow."""
        f = torch.stack([feature(w, depth, kind).double() for w in nets[s:s + block]])
        if center:
            f -= f.mean(0) if centre_here else mean
        scale = f.abs().amax(1).clamp_min(torch.finfo(torch.float64).tiny)
        return (f / scale[:, None]).float(), scale

    k = torch.zeros(n, n, dtype=torch.float64)
    pbar = bar(total=len(starts) * (len(starts) + 1) // 2, desc=f"Gram {kind} {depth}",
               disable=not progress, leave=False)
    for bi, a in enumerate(starts):
        fa, sa = feats(a, block == n)
        for b in starts[bi:]:
            fb, sb = (fa, sa) if b == a else feats(b, False)
            kab = (fa @ fb.t()).double() * sa[:, None] * sb[None, :]
            if b == a:
                kab = (kab + kab.t()) / 2
            k[a:a + block, b:b + block] = kab
            k[b:b + block, a:a + block] = kab.t()
            pbar.update()
    pbar.close()
    return k


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
