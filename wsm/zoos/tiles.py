"""Gram matrices in tiles: one Gram split into block pairs, each computed on its own (anywhere: a
Ray task, :mod:`wsm.zoos.engine`), kept by content, and assembled into the matrix of the whole.

A tile is ``K[A, B]`` for two blocks ``A``, ``B`` of networks (``A <= B``: the upper triangle, the
lower is its transpose), uncentred and in float64:

* chain-normalized features by the kernel identity ``<phi_i, phi_j> = ||M_i^T M_j||_F^2``
  (:func:`wsm.maths.chain.factor_block`, :func:`wsm.maths.chain.factor_products`: the factor path, exact in
  float64, never forming phi), or from phi formed in float64 for both blocks, whichever costs
  fewer flops at the block sizes that fit (:func:`costs`: phi for long chains with many columns,
  MLP-4's 3072-row chains in large blocks; the factors otherwise);
* raw layers (``kind="unnormalized"``) from their features in float64.

A tile reads only its two blocks of networks (a zoo's networks are read from their run files, so
a task elsewhere reads them itself) and holds two blocks of factors or features at a time, so
its memory depends on the block size, never on the number of networks. Centring comes last, on
the assembled matrix (``H K H``, :func:`wsm.maths.chain.double_centre`), exactly as the factor path
centres a Gram computed in one piece, which the assembled Gram equals up to float64 rounding.

Tiles are kept in the content-addressed cache of :func:`wsm.maths.chain.gram` (``cache``) under
:func:`tile_key`: the code version (:func:`wsm.core.version.code`), every argument that changes the
tile, and the digests of the two blocks' weights.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from wsm.core import version
from wsm.maths import chain
from wsm.core.errors import WsmError
from wsm.core.storage import load_tensor, save_tensor


@dataclass(frozen=True)
class Tile:
    """``K[a0:a1, b0:b1]`` of a Gram (``a0 <= b0``)."""

    a0: int
    a1: int
    b0: int
    b1: int


def plan(n_nets: int, block: int) -> list[Tile]:
    """The tiles of an ``n_nets`` Gram in blocks of ``block`` networks: every block pair ``A <= B``."""
    if block < 1:
        raise WsmError(f"a tile block needs at least one network, got {block}")
    starts = list(range(0, n_nets, block))
    return [Tile(a, min(a + block, n_nets), b, min(b + block, n_nets))
            for i, a in enumerate(starts) for b in starts[i:]]


def _check(kind: str, method: str) -> None:
    if method not in ("auto", "factors", "explicit"):
        raise WsmError(f"unknown tile method {method!r}: valid ones are auto, factors, explicit")
    if kind not in chain.KINDS:
        raise WsmError(f"unknown feature kind {kind!r}: valid ones are {', '.join(chain.KINDS)}")
    if kind == "unnormalized" and method == "factors":
        raise WsmError("the factors method applies to chain-normalized features only: use kind='normalized'")


def block_size(net: Sequence[torch.Tensor], depth: int, kind: str, method: str, memory_gb: float) -> int:
    """The most networks per block whose float64 factors (``method="factors"``) or features of two
    blocks take at most half of ``memory_gb`` (the other half is left to the products)."""
    if method == "factors":
        n, k = chain.factor_rows_cols(net, depth)
        per = 8 * n * k
    else:
        per = 8 * chain.feature_size(net, depth, kind)
    return max(1, int(memory_gb * 2**30 / 2 // (2 * per)))


def costs(n_nets: int, n: int, k: int, memory_gb: float, block: int | None = None) -> dict[str, tuple[float, int]]:
    """``{method: (flops, block)}`` of a tiled Gram of ``n_nets`` chains with ``n x k`` factors, each
    method at its own block size within ``memory_gb`` (or ``block``):

    * ``factors``: ``2 n k^2`` per pair (the factors are cheap to form);
    * ``explicit``: every tile forms phi (``2 n^2 k``) for the networks of its two blocks, so a
      network's phi is formed once per block it meets; then ``2 n^2`` per pair.
    """
    pairs = n_nets * (n_nets + 1) / 2
    b_f = min(n_nets, block or max(1, int(memory_gb * 2**30 / 2 // (2 * 8 * n * k))))
    b_e = min(n_nets, block or max(1, int(memory_gb * 2**30 / 2 // (2 * 8 * n * n))))
    m = -(-n_nets // b_e)
    formed = (m * (m - 1) / 2 * 2 * b_e + m * b_e) * 2 * n * n * k          # off-diagonal tiles: two blocks
    return {"factors": (pairs * 2 * n * k * k, b_f), "explicit": (formed + pairs * 2 * n * n, b_e)}


def choose(nets: Sequence, depth: int, kind: str, method: str, memory_gb: float,
           block: int | None = None) -> tuple[str, int]:
    """``(method, block)`` of a tiled Gram: raw layers are explicit; chain-normalized features by
    the factors or explicitly, whichever costs fewer flops (:func:`costs`) unless ``method`` says."""
    _check(kind, method)
    if kind == "unnormalized":
        how = "explicit"
    elif method != "auto":
        how = method
    else:
        n, k = chain.factor_rows_cols(nets[0], depth)
        c = costs(len(nets), n, k, memory_gb, block)
        how = min(c, key=lambda m: c[m][0])
    return how, block or block_size(nets[0], depth, kind, how, memory_gb)


def digest(net: Sequence[torch.Tensor], depth: int, kind: str) -> str:
    """The digest of the weights of ``net`` that enter its feature (:func:`wsm.maths.chain.feature_bytes`)."""
    h = hashlib.blake2b(digest_size=20)
    chain.feature_bytes(h, net, depth, kind)
    return h.hexdigest()


def tile_key(digests_a: Sequence[str], digests_b: Sequence[str], depth: int, kind: str, method: str,
             memory_gb: float, device: str) -> str:
    """The content address of one tile: the code version, its arguments and its two blocks' digests."""
    h = hashlib.blake2b(digest_size=20)
    h.update(repr(("gram-tile-v1", version.code(), depth, kind, method, float(memory_gb), str(device),
                   len(digests_a), len(digests_b))).encode())
    for d in (*digests_a, "|", *digests_b):
        h.update(d.encode())
    return h.hexdigest()


def compute(nets_a: Sequence, nets_b: Sequence | None, depth: int, kind: str = "normalized",
            method: str = "factors", memory_gb: float = 2.0, device: str = "cpu") -> torch.Tensor:
    """The uncentred float64 tile ``K[A, B]`` of two blocks of networks (``nets_b=None``: ``B = A``,
    symmetrised), on the CPU; ``method``: ``factors`` or ``explicit`` (raw layers are explicit). Each block is
    read once; the factor path's products go by sub-blocks whose ``(b k) x (b k)`` cross products fit in half
    of ``memory_gb``."""
    same = nets_b is None
    _check(kind, method)
    if kind == "unnormalized" or method == "explicit":
        fa = torch.stack([_feature64(w, depth, kind, device) for w in nets_a])
        fb = fa if same else torch.stack([_feature64(w, depth, kind, device) for w in nets_b])
        kab = fa @ fb.t()
        return ((kab + kab.t()) / 2 if same else kab).cpu()
    n, k = chain.factor_rows_cols(nets_a[0], depth)
    fa, na = chain.factor_block(nets_a, depth, device)
    fb, nb = (fa, na) if same else chain.factor_block(nets_b, depth, device)
    sub = max(1, int((memory_gb * 2**30 / 2 / 16) ** 0.5 // k))            # c and its square: 2 x 8 (s k)^2
    kab = torch.zeros(na, nb, dtype=torch.float64)
    for a in range(0, na, sub):
        pa = fa[:, a * k:(a + sub) * k]
        for b in range(a if same else 0, nb, sub):
            pb = fb[:, b * k:(b + sub) * k]
            part = chain.factor_products(pa, pa.shape[1] // k, pb, pb.shape[1] // k, k, same=same and a == b).cpu()
            kab[a:a + part.shape[0], b:b + part.shape[1]] = part
            if same and b != a:
                kab[b:b + part.shape[1], a:a + part.shape[0]] = part.t()
    return kab


def _feature64(net, depth: int, kind: str, device: str) -> torch.Tensor:
    """A network's feature formed in float64 on ``device``."""
    layers = net[:depth] if kind == "normalized" else net[depth - 1:depth]
    ws = [w.to(device, torch.float64) for w in layers]
    return chain.feature(ws, depth, kind) if kind == "normalized" else ws[0].reshape(-1)


def run(job: dict) -> torch.Tensor:
    """One tile job (:func:`gram` makes them): compute the tile, keep it in ``job["cache"]`` if
    given (atomic write, with its checksum: :func:`wsm.core.storage.save_tensor`), return it. Module-level, so an
    engine can ship it to a worker."""
    kab = compute(job["nets_a"], job["nets_b"], job["depth"], job["kind"], job["method"], job["memory_gb"],
                  job["device"])
    if job["cache"] is not None:
        save_tensor(Path(job["cache"]) / f"{job['key']}.pt", kab)
    return kab


def _cached(cache, key: str) -> torch.Tensor | None:
    if cache is None:
        return None
    return load_tensor(Path(cache) / f"{key}.pt")    # None if missing, unreadable or failing its checksum


def local(jobs: list[dict]) -> list[torch.Tensor]:
    """Run tile jobs here, one after another (the default of :func:`gram`)."""
    return [run(job) for job in jobs]


def gram(nets: Sequence[Sequence[torch.Tensor]], depth: int, kind: str = "normalized", block: int | None = None,
         center: bool = False, method: str = "auto", memory_gb: float = 2.0, cache=None, device: str = "cpu",
         run_jobs: Callable[[list[dict]], list[torch.Tensor]] = local, progress: bool = True,
         info: dict | None = None) -> torch.Tensor:
    """``K[i, j] = <f_i, f_j>`` in float64, assembled from tiles of ``block`` networks
    (``method`` and ``block``: :func:`choose`, within ``memory_gb``); ``center``: then double-centred, as the
    factor path of :func:`wsm.maths.chain.gram` centres. Tiles already in ``cache`` are read back; the
    others become jobs (``dict``: the two blocks of networks ``nets_a``, ``nets_b`` (None: the same
    block) and their bounds ``a``, ``b``, the arguments, the cache key), run by
    ``run_jobs`` (default :func:`local`; :mod:`wsm.zoos.engine` runs them as Ray tasks), which returns
    the tiles in order. ``info``: a dict given here gets ``info["cached"]``, whether every tile was
    read from ``cache``."""
    from wsm.core.progress import bar

    n = len(nets)
    if n == 0:
        raise WsmError("a Gram matrix needs at least one network")
    how, block = choose(nets, depth, kind, method, memory_gb, block)
    tiles = plan(n, block)
    digests = [digest(w, depth, kind) for w in bar(nets, desc="tile keys", disable=not progress, leave=False)]
    kmat = torch.zeros(n, n, dtype=torch.float64)
    jobs, where = [], []
    for t in tiles:
        same = (t.a0, t.a1) == (t.b0, t.b1)
        key = tile_key(digests[t.a0:t.a1], digests[t.b0:t.b1], depth, kind, how, memory_gb, device)
        found = _cached(cache, key)
        if found is not None:
            _place(kmat, t, found)
            continue
        jobs.append(dict(nets_a=nets[t.a0:t.a1], nets_b=None if same else nets[t.b0:t.b1], a=(t.a0, t.a1),
                         b=(t.b0, t.b1), depth=depth, kind=kind, method=how, memory_gb=memory_gb, device=device,
                         key=key, cache=None if cache is None else str(cache)))
        where.append(t)
    if info is not None:
        info["cached"] = not jobs
    if jobs:
        for t, kab in zip(where, run_jobs(jobs)):
            _place(kmat, t, kab)
    return chain.double_centre(kmat) if center else kmat


def _place(kmat: torch.Tensor, t: Tile, kab: torch.Tensor) -> None:
    kmat[t.a0:t.a1, t.b0:t.b1] = kab
    kmat[t.b0:t.b1, t.a0:t.a1] = kab.t()
