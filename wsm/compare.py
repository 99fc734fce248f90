"""Compare two networks of your own with the chain normalization rule.

    >>> from wsm.compare import compare
    >>> compare("a.pt", "b.pt")          # two torch.save(model.state_dict(), ...) files
    >>> compare(model_a, model_b)        # or two nn.Modules, or two state_dicts

Each network is read as its list of weight layers (:func:`load_weights`): the ``nn.Linear`` and
``nn.Conv2d`` weights in order (biases, BatchNorm and pooling carry no weight layer and are ignored,
as in the paper). For every chain ``l`` :func:`compare` reports how similar the chain-normalized
weights ``phi^l = M_l M_l^T`` (Eq. 7; ``M_l`` from :func:`wsm.chain.chain_factor`) of the two
networks are:

* ``cosine``: cosine similarity of ``vec(phi^l_a)`` and ``vec(phi^l_b)``. It is 1 when the two
  networks are the same up to a permutation of their hidden units (Eq. 5-6): such a permutation
  multiplies ``M_l`` on the right by a permutation matrix, which ``M M^T`` cancels.
* ``relative_distance``: ``||phi_a - phi_b||_F / ((||phi_a||_F + ||phi_b||_F) / 2)``; 0 in the same case.
* ``raw_cosine``: cosine similarity of the raw ``l``-th layer weights, flattened (the paper's
  unnormalized baseline). A permutation of hidden units changes it.

**Large chains without forming phi.** ``phi^l`` is ``n x n`` with ``n`` the number of rows of
``M_l`` (3072 for MLP-4 on 32x32 RGB; 19683 for PlainNet-5's chain 4, 3 GB in float64). The three
inner products that the table needs are computed from the small ``k x k`` kernel matrices instead::

    <phi_a, phi_b>_F = tr(M_a M_a^T M_b M_b^T) = tr((M_a^T M_b)(M_a^T M_b)^T) = ||M_a^T M_b||_F^2
    ||phi_a||_F^2    = ||M_a^T M_a||_F^2

This is an exact identity (trace cyclicity), not an approximation. It costs ``n k^2`` instead of
``n^2 k`` flops and ``k^2`` memory instead of ``n^2``; phi is formed only when that is no more work
(``n <= k``). Everything is computed in float64. On the kernel path ``||phi_a - phi_b||_F^2`` is
``||phi_a||^2 + ||phi_b||^2 - 2 <phi_a, phi_b>``, so ``relative_distance`` has a resolution of about
1e-8 there (the square root of float64 rounding); ``cosine`` is accurate to about 1e-15.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import torch
from torch import nn

from wsm import chain
from wsm.errors import WsmError

SUPPORTED = ("nn.Linear and nn.Conv2d layers (plus biases, BatchNorm and pooling, which chains ignore), "
             "each layer taking the previous one's outputs")

_RNN = re.compile(r"(^|\.)weight_(ih|hh)(_l\d+)?(_reverse)?$")
_ATTENTION = re.compile(r"(^|\.)(in_proj_weight|[qkv]_proj_weight)$")
_PARAMETRIZED = re.compile(r"(^|\.)(weight_orig|weight_g|weight_v|parametrizations\.weight\.original\d*)$")
_NESTED = ("state_dict", "model_state_dict", "model")


@dataclass
class _Net:
    """The weight layers of one network with the names used in messages."""

    label: str          # the file as given, or "network a"
    names: list[str]    # state_dict key of each weight layer
    weights: list[torch.Tensor]


def load_weights(source) -> list[torch.Tensor]:
    """The weight layers of a network, in order (the input :func:`wsm.chain.chain_factor` takes).

    ``source`` is a path to a file written by ``torch.save(model.state_dict(), path)`` (a file
    holding ``{"state_dict": ...}``, as wsm's zoo run files do, or ``{"model_state_dict": ...}``
    works too), a state_dict, or an ``nn.Module``. Supported are networks built from
    ``nn.Linear`` and ``nn.Conv2d``; the order is the order of the state_dict's keys (for a module:
    the order its layers were registered in), which must be the forward order.

    Raises :class:`WsmError` naming the file or layer for a missing or unreadable file, a recurrent
    or attention layer, a 3-D/5-D (Conv1d/Conv3d) weight, or weights that do not form a chain (each
    layer must take the previous layer's outputs as inputs: this is also what refuses a
    ConvTranspose2d in a state_dict, which cannot be told from a Conv2d by its shape alone).
    """
    return _load(source, "the network").weights


def _load(source, label: str) -> _Net:
    if isinstance(source, (str, PathLike)):
        label = str(source)
        source = _read_file(Path(source))
    if isinstance(source, nn.Module):
        weights = chain.layer_weights(source)        # refuses RNN, ConvTranspose, Conv1d/3d, attention
        names = [f"{n}.weight" if n else "weight" for n, m in source.named_modules()
                 if isinstance(m, (nn.Linear, nn.Conv2d))]
        net = _Net(label, names, weights)
    elif isinstance(source, Mapping):
        net = _from_state_dict(_unnest(source, label), label)
    elif isinstance(source, Sequence) and source and all(isinstance(w, torch.Tensor) for w in source):
        net = _Net(label, [f"weight layer {i + 1}" for i in range(len(source))], [w.detach() for w in source])
        for name, w in zip(net.names, net.weights):
            if w.dim() not in (2, 4):
                raise WsmError(f"{name} of {label} is {w.dim()}-D: weight layers must be 2-D (Linear) or 4-D (Conv2d)")
    else:
        raise WsmError(f"cannot read {label} from a {type(source).__name__}: pass a path to a saved state_dict, "
                       "a state_dict, an nn.Module or a list of weight tensors")
    if not net.weights:
        raise WsmError(f"{label} has no weight layers (no nn.Linear or nn.Conv2d weight): supported are "
                       f"networks built from {SUPPORTED}")
    net.weights = [w.detach().cpu() for w in net.weights]
    _check_chain(net)
    return net


def _read_file(path: Path):
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise WsmError(f"{path} {what}: give the path of a file written by torch.save(model.state_dict(), path)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:   # pickle, zip and permission errors all mean the same to the user
        text = str(e)
        pickled = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
        if pickled:
            raise WsmError(f"{path} holds a pickled {pickled.group(1)} object (a whole model saved with "
                           "torch.save(model, path)?), which is not loaded, for safety: save "
                           "model.state_dict() instead, or pass the nn.Module to wsm.compare.compare in Python"
                           ) from None
        kind = "it is empty" if isinstance(e, EOFError) else type(e).__name__
        raise WsmError(f"{path} cannot be read as a PyTorch file ({kind}): give a file written by "
                       "torch.save(model.state_dict(), path)") from None


def _unnest(obj: Mapping, label: str) -> Mapping:
    """A state_dict, or the state_dict inside a checkpoint such as ``{"state_dict": ...}``."""
    if any(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    for key in _NESTED:
        if isinstance(obj.get(key), Mapping):
            return obj[key]
    keys = ", ".join(map(str, list(obj)[:8])) or "none"
    raise WsmError(f"{label} holds no tensors (top-level keys: {keys}): expected a state_dict, or a dict with "
                   f"the state_dict under one of {', '.join(_NESTED)}")


def _from_state_dict(sd: Mapping, label: str) -> _Net:
    names, weights = [], []
    for key, value in sd.items():
        if not isinstance(value, torch.Tensor):
            continue
        key = str(key)
        if _RNN.search(key):
            raise WsmError(f"layer {key!r} of {label} is a recurrent (RNN/GRU/LSTM) weight, which chain "
                           f"normalization here does not support: use networks built from {SUPPORTED}")
        if _ATTENTION.search(key):
            raise WsmError(f"layer {key!r} of {label} is an attention (nn.MultiheadAttention) weight, which chain "
                           f"normalization here does not support: use networks built from {SUPPORTED}")
        if _PARAMETRIZED.search(key):
            raise WsmError(f"layer {key!r} of {label} is a reparametrized weight (weight_norm/spectral_norm): "
                           "remove the parametrization before saving (torch.nn.utils.remove_weight_norm or "
                           "torch.nn.utils.parametrize.remove_parametrizations)")
        if key.endswith("weight") and value.dim() in (3, 5):
            kind = "Conv1d" if value.dim() == 3 else "Conv3d"
            raise WsmError(f"layer {key!r} of {label} has a {value.dim()}-D weight {tuple(value.shape)} (an "
                           f"nn.{kind}?), which chain normalization here does not support: use networks built "
                           f"from {SUPPORTED}")
        if key.endswith("weight") and value.dim() in (2, 4):
            names.append(key)
            weights.append(value)
    return _Net(label, names, weights)     # the same layers, in the same order, as chain.layer_weights(sd)


def _check_chain(net: _Net) -> None:
    """Each weight layer must take the previous one's outputs (what :func:`chain.chain_factor`
    needs), checked on shapes only so the message can name both layers."""
    for i in range(1, len(net.weights)):
        prev, w = net.weights[i - 1], net.weights[i]
        if w.shape[1] != prev.shape[0]:
            raise WsmError(
                f"layer {i + 1} ({net.names[i]}) of {net.label} takes {w.shape[1]} inputs but layer {i} "
                f"({net.names[i - 1]}) has {prev.shape[0]} outputs, so the weights do not form a chain. "
                f"Supported are networks built from {SUPPORTED}: a Linear after global pooling (not after "
                "flattening a feature map), no grouped convolutions, ConvTranspose2d or branches")


def _check_same_shapes(a: _Net, b: _Net) -> None:
    for i, (wa, wb) in enumerate(zip(a.weights, b.weights)):
        if wa.shape != wb.shape:
            name = a.names[i] if a.names[i] == b.names[i] else f"{a.names[i]} / {b.names[i]}"
            raise WsmError(f"layer {i + 1} ({name}): {tuple(wa.shape)} in {a.label} vs {tuple(wb.shape)} in "
                           f"{b.label}: only networks of the same architecture can be compared")
    if len(a.weights) != len(b.weights):
        longer, shorter = (a, b) if len(a.weights) > len(b.weights) else (b, a)
        extra = longer.names[len(shorter.weights)]
        raise WsmError(f"{a.label} has {len(a.weights)} weight layers but {b.label} has {len(b.weights)} "
                       f"(the first extra one is {extra} in {longer.label}): only networks of the same "
                       "architecture can be compared")
    for net in (a, b):
        for name, w in zip(net.names, net.weights):
            if not torch.isfinite(w).all():
                raise WsmError(f"layer {name} of {net.label} has non-finite weights (NaN or inf): the network "
                               "diverged in training and cannot be compared")


def factor_similarity(ma: torch.Tensor, mb: torch.Tensor, method: str = "auto") -> dict:
    """Cosine similarity and relative distance of ``phi_a = M_a M_a^T`` and ``phi_b = M_b M_b^T``.

    ``method="kernel"`` uses ``<phi_a, phi_b>_F = ||M_a^T M_b||_F^2`` without forming phi;
    ``"phi"`` forms both ``n x n`` matrices; ``"auto"`` forms them only when ``n <= k`` (no more work).
    """
    if method not in ("auto", "kernel", "phi"):
        raise WsmError(f"unknown method {method!r}: valid ones are auto, kernel, phi")
    if ma.shape[0] != mb.shape[0]:
        raise WsmError(f"chain factors with {ma.shape[0]} and {mb.shape[0]} rows cannot be compared")
    ma, mb = ma.double(), mb.double()
    n, k = ma.shape[0], max(ma.shape[1], mb.shape[1])
    if method == "phi" or (method == "auto" and n <= k and n <= 8192):
        pa, pb = ma @ ma.t(), mb @ mb.t()
        aa, bb, ab = (pa * pa).sum().item(), (pb * pb).sum().item(), (pa * pb).sum().item()
        dist = torch.linalg.matrix_norm(pa - pb).item()
    else:
        aa = torch.linalg.matrix_norm(ma.t() @ ma).item() ** 2
        bb = torch.linalg.matrix_norm(mb.t() @ mb).item() ** 2
        ab = torch.linalg.matrix_norm(ma.t() @ mb).item() ** 2
        dist = max(aa + bb - 2 * ab, 0.0) ** 0.5
    na, nb = aa ** 0.5, bb ** 0.5
    return dict(cosine=ab / (na * nb) if na > 0 and nb > 0 else float("nan"),
                relative_distance=dist / ((na + nb) / 2) if na + nb > 0 else float("nan"))


def _cosine(x: torch.Tensor, y: torch.Tensor) -> float:
    x, y = x.double().reshape(-1), y.double().reshape(-1)
    nx, ny = x.norm().item(), y.norm().item()
    return (x @ y).item() / (nx * ny) if nx > 0 and ny > 0 else float("nan")


def compare(a, b, depths=None):
    """Chain-by-chain similarity of two networks of the same architecture: a ``pandas.DataFrame``.

    ``a`` and ``b`` are paths to saved state_dicts, state_dicts, ``nn.Module`` s or lists of weight
    tensors (see :func:`load_weights`). One row per chain ``l`` (``depths``, default ``1..L`` with
    ``L`` the number of weight layers), with columns

    * ``chain``: ``l``; ``layer``: the state_dict key of the ``l``-th weight layer (of ``a``);
    * ``phi_shape``: the shape of ``phi^l``, e.g. ``"27x27"``;
    * ``cosine``, ``relative_distance``: of the chain-normalized weights (see the module docstring);
    * ``raw_cosine``: of the raw ``l``-th layer weights, flattened.

    Raises :class:`WsmError` naming the first layer whose shape differs between ``a`` and ``b``.
    """
    import pandas as pd

    na, nb = _load(a, "network a"), _load(b, "network b")
    _check_same_shapes(na, nb)
    n_layers = len(na.weights)
    if depths is None:
        depths = range(1, n_layers + 1)
    depths = list(depths) if not isinstance(depths, int) else [depths]
    for d in depths:
        if isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= n_layers:
            raise WsmError(f"chain {d!r} does not exist: these networks have {n_layers} weight layers "
                           f"(chains 1..{n_layers})")
    wa = [w.double() for w in na.weights]
    wb = [w.double() for w in nb.weights]
    rows = []
    for d in depths:
        ma, mb = chain.chain_factor(wa, d), chain.chain_factor(wb, d)
        rows.append(dict(chain=d, layer=na.names[d - 1], phi_shape=f"{ma.shape[0]}x{ma.shape[0]}",
                         **factor_similarity(ma, mb), raw_cosine=_cosine(wa[d - 1], wb[d - 1])))
    return pd.DataFrame(rows, columns=["chain", "layer", "phi_shape", "cosine", "relative_distance", "raw_cosine"])
