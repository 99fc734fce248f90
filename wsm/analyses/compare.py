"""Compare two networks of your own with the chain normalization rule.

    >>> from wsm.analyses.compare import compare
    >>> compare("a.pt", "b.pt")          # two saved networks (state_dicts, checkpoints, zoo run files)
    >>> compare(model_a, model_b)        # or two nn.Modules, or two state_dicts

Each network is read as its chain layers (:func:`wsm.maths.chain.chain_layers`, the one definition of
which weights form a chain). For every chain ``l`` :func:`compare` reports how similar the
chain-normalized weights ``phi^l = M_l M_l^T`` (Eq. 7; ``M_l`` from :func:`wsm.maths.chain.chain_factor`)
of the two networks are:

* ``cosine``: cosine similarity of ``vec(phi^l_a)`` and ``vec(phi^l_b)``. It is 1 exactly when
  ``phi^l_b`` is a positive multiple of ``phi^l_a``: when network b is network a with its hidden
  units permuted (Eq. 5-6; the same function), but just as well after any orthogonal change of
  hidden basis ``M_l -> M_l Q`` (another function, for a network with nonlinearities) or after
  multiplying layers by positive numbers. So 1 does not mean "the same function"; and a network
  with the same function can score below 1 (a ReLU unit scaled by ``c > 0`` and its outgoing
  weights by ``1 / c`` changes phi).
* ``relative_distance``: ``||phi_a - phi_b||_F / ((||phi_a||_F + ||phi_b||_F) / 2)``; 0 when
  ``phi`` is the same (rescaling counts here).
* ``raw_cosine``: cosine similarity of the raw ``l``-th layer weights, flattened (the paper's
  unnormalized baseline). A permutation of hidden units changes it.

**References.** A bare cosine has no scale: phi is positive semi-definite, so even two unrelated
networks have a positive cosine (large for short chains of small kernels). Every figure therefore
comes with two references computed on the same shapes:

* ``*_init``: the same figure for two independently initialized networks of these shapes (every
  stored weight drawn from PyTorch's default ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``; the mean over
  :data:`DRAWS` pairs, fixed seeds): what "unrelated" looks like;
* ``*_rotated``: network a against a random orthogonal change of its hidden basis
  (:func:`wsm.maths.chain.rotate_hidden`), which chain normalization cannot see: ``cosine_rotated`` is 1
  and ``relative_distance_rotated`` 0 up to rounding, while ``raw_cosine_rotated`` shows how little
  the raw weights then have in common.

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

from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike

import torch

from wsm.maths import chain
from wsm.zoos import checkpoint
from wsm.core.errors import WsmError

SUPPORTED = chain.SUPPORTED
DRAWS = 3     # pairs of independently initialized networks behind each *_init reference


@dataclass
class _Net:
    """The chain layers of one network (:func:`wsm.maths.chain.chain_layers`) with the label used in messages."""

    label: str          # the file as given, or "network a"
    layers: list[chain.Layer]

    @property
    def names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    @property
    def weights(self) -> list[torch.Tensor]:
        return [layer.weight for layer in self.layers]


def load_weights(source, trust: bool = False) -> list[torch.Tensor]:
    """The chain weights of a network, in forward order (the input :func:`wsm.maths.chain.chain_factor` takes).

    ``source`` is a path to a saved network (:func:`wsm.zoos.checkpoint.load`: a state_dict, a checkpoint
    dict with it under ``state_dict``, ``model``, ``model_state_dict``, ``net``, ..., as wsm's zoo
    run files; ``trust=True`` also reads full pickles, such as a whole model), a state_dict or
    checkpoint dict, an ``nn.Module``, or a list of weight tensors. Which weights form the chain,
    and in which order, is :func:`wsm.maths.chain.chain_layers`' decision; it raises :class:`WsmError`
    naming the file or layer for what is not supported.
    """
    return _load(source, "the network", trust).weights


def _load(source, label: str, trust: bool = False, notes: list | None = None) -> _Net:
    if isinstance(source, (str, PathLike)):
        label = str(source)
        source = checkpoint.load(source, trust)
    elif isinstance(source, Mapping):
        source = checkpoint.network(source, label)
    layers = checkpoint.chain_of(source, label, notes)
    return _Net(label, [chain.Layer(layer.name, layer.weight.detach().cpu(), layer.stored_shape, layer.copies)
                        for layer in layers])


def _check_same_shapes(a: _Net, b: _Net) -> None:
    for i, (la, lb) in enumerate(zip(a.layers, b.layers)):
        if (la.stored_shape, la.weight.shape) != (lb.stored_shape, lb.weight.shape):
            name = la.name if la.name == lb.name else f"{la.name} / {lb.name}"
            raise WsmError(f"layer {i + 1} ({name}): {la.stored_shape} in {a.label} vs {lb.stored_shape} in "
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


def _initial(layer: chain.Layer, gen: torch.Generator) -> torch.Tensor:
    """A chain weight as PyTorch's default initialisation of the stored tensor draws it."""
    shape = layer.stored_shape
    fan_in = shape[1] * (shape[2] * shape[3] if len(shape) == 4 else 1)
    bound = fan_in ** -0.5
    stored = (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * bound
    return layer.like(stored)


def _figures(wa, wb, depth: int) -> dict:
    ma, mb = chain.chain_factor(wa, depth), chain.chain_factor(wb, depth)
    return dict(**factor_similarity(ma, mb), raw_cosine=_cosine(wa[depth - 1], wb[depth - 1]))


def references(net, depths, draws: int = DRAWS, seed: int = 0) -> dict[int, dict]:
    """The reference figures of :func:`compare` for the chain layers ``net`` of network a:
    ``{depth: {"cosine_init": ..., "cosine_rotated": ..., ...}}`` (see the module docstring)."""
    layers = net.layers if isinstance(net, _Net) else net
    out = {d: {} for d in depths}
    if draws:
        pairs = []
        for i in range(draws):
            gen = torch.Generator().manual_seed(seed * 1000 + i)
            pairs.append(([_initial(layer, gen) for layer in layers], [_initial(layer, gen) for layer in layers]))
        for d in depths:
            figures = [_figures(x, y, d) for x, y in pairs]
            out[d].update({f"{k}_init": sum(f[k] for f in figures) / draws for k in figures[0]})
            cos = [f["cosine"] for f in figures]
            out[d].update(cosine_init_low=min(cos), cosine_init_high=max(cos))     # the reference's spread
    wa = [layer.weight.double() for layer in layers]
    rotated = chain.rotate_hidden(wa, torch.Generator().manual_seed(seed * 1000 + 999))
    for d in depths:
        out[d].update({f"{k}_rotated": v for k, v in _figures(wa, rotated, d).items()})
    return out


COLUMNS = ["chain", "layer", "phi_shape", "cosine", "cosine_init", "cosine_init_low", "cosine_init_high",
           "cosine_rotated", "relative_distance",
           "relative_distance_init", "relative_distance_rotated", "raw_cosine", "raw_cosine_init",
           "raw_cosine_rotated"]


def compare(a, b, depths=None, draws: int = DRAWS, trust: bool = False, notes: list | None = None):
    """Chain-by-chain similarity of two networks of the same architecture: a ``pandas.DataFrame``.

    ``a`` and ``b`` are paths to saved networks, state_dicts or checkpoint dicts, ``nn.Module`` s
    or lists of weight tensors (see :func:`load_weights`; ``trust`` reads full pickles). One row
    per chain ``l`` (``depths``, default ``1..L`` with ``L`` the number of chain layers), with columns

    * ``chain``: ``l``; ``layer``: the name of the ``l``-th chain layer (of ``a``);
    * ``phi_shape``: the shape of ``phi^l``, e.g. ``"27x27"``;
    * ``cosine``, ``relative_distance``: of the chain-normalized weights (see the module docstring);
    * ``raw_cosine``: of the raw ``l``-th layer weights, flattened;
    * each of the three beside its references ``*_init`` (``draws`` pairs of independently
      initialized networks; ``draws=0`` leaves these columns out) and ``*_rotated``;
      ``cosine_init_low`` and ``cosine_init_high``: the lowest and highest cosine of those pairs.

    Raises :class:`WsmError` naming the first layer whose shape differs between ``a`` and ``b``.
    ``notes``: a list given here gets what was not used (BatchNorm layers, :func:`wsm.zoos.checkpoint.chain_of`).
    """
    import pandas as pd

    found: list[str] = []
    na, nb = _load(a, "network a", trust, found), _load(b, "network b", trust, found)
    if notes is not None:
        notes.extend(dict.fromkeys(found))
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
    refs = references(na, depths, draws)
    rows = []
    for d in depths:
        n = chain.factor_rows_cols(wa, d)[0]
        rows.append(dict(chain=d, layer=na.names[d - 1], phi_shape=f"{n}x{n}", **_figures(wa, wb, d), **refs[d]))
    return pd.DataFrame(rows, columns=[c for c in COLUMNS if draws or "_init" not in c])
