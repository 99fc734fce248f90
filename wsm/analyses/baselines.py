"""The field's baselines for "are these networks the same solution?", on the paper's protocols.

* **Weight matching** (Ainsworth et al., Git Re-Basin, 2023): the hidden units of each network are
  permuted to best match a reference network, layer by layer, by linear assignment
  (:func:`scipy.optimize.linear_sum_assignment`) on the summed inner products of each unit's incoming
  and outgoing weights, sweeping the layers until no permutation changes (coordinate descent, as in
  their weight matching). Networks are then compared by the cosine similarity of their aligned
  layer weights.
* **Linear CKA** (Kornblith et al., 2019): networks are compared by the centred kernel alignment
  of their hidden activations on one fixed probe batch of images; invariant to any orthogonal
  transform (permutations included) and isotropic scaling of the representation.

A similarity matrix between networks is turned into the paper's two protocols without training:
:func:`nn_classification` (the most similar training network names the task; same splits as
:func:`wsm.maths.htt.classification`) and :func:`similarity_retrieval` (CMC over the same query/gallery
splits as :func:`wsm.maths.htt.retrieval`).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from wsm.maths import htt
from wsm.zoos import nets
from wsm.core.errors import WsmError


# ----------------------------------------------------------------------------------------------
# weight matching


def _rows(w: np.ndarray) -> np.ndarray:
    """A layer's weight as (out units) x (everything else)."""
    return w.reshape(w.shape[0], -1)


def _cols(w: np.ndarray) -> np.ndarray:
    """A layer's weight as (in units) x (everything else)."""
    return np.moveaxis(w, 1, 0).reshape(w.shape[1], -1)


def weight_matching(weights, reference, max_sweeps: int = 20) -> list[np.ndarray]:
    """Permutations ``p[l]`` of the hidden units of layers 1..L-1 of ``weights`` that best align them
    with ``reference`` (lists of Linear/Conv2d weights in forward order): unit ``p[l][i]`` of the
    network takes the place of unit ``i``. Maximises ``sum_l <W_l^ref, P_l W_l P_{l-1}^T>``."""
    dtype = np.result_type(np.asarray(weights[0]).dtype, np.float32)    # float32 zoo weights stay float32
    w = [np.asarray(x, dtype=dtype) for x in weights]
    ref = [np.asarray(x, dtype=dtype) for x in reference]
    if [x.shape for x in w] != [x.shape for x in ref]:
        raise WsmError("weight matching needs two networks of the same architecture (same weight shapes)")
    perms = [np.arange(x.shape[0]) for x in w[:-1]]
    for _ in range(max_sweeps):
        changed = False
        for k in range(len(perms)):
            inp = perms[k - 1] if k else np.arange(w[k].shape[1])
            a = _rows(w[k][:, inp])                                    # incoming weights, inputs aligned
            nxt = w[k + 1][perms[k + 1]] if k + 1 < len(perms) else w[k + 1]
            cost = _rows(ref[k]) @ a.T + _cols(ref[k + 1]) @ _cols(nxt).T  # ref unit x net unit
            _, col = linear_sum_assignment(cost, maximize=True)
            if not np.array_equal(col, perms[k]):
                perms[k], changed = col, True
        if not changed:
            break
    return perms


def apply_permutation(weights, perms) -> list[np.ndarray]:
    """The weights with hidden units permuted: ``W_l[p_l][:, p_{l-1}]``."""
    out = []
    for k, w in enumerate(weights):
        w = np.asarray(w)
        if k < len(perms):
            w = w[perms[k]]
        if k:
            w = w[:, perms[k - 1]]
        out.append(w)
    return out


def aligned_features(zoo_weights, depths, reference: int = 0, max_sweeps: int = 20) -> dict[int, np.ndarray]:
    """Every network's layer weights after weight matching to network ``reference`` (one matching
    per network): ``{depth: n x features}`` for each requested layer ``depth``."""
    ref = [w.numpy() for w in zoo_weights[reference]]
    feats = {d: [] for d in depths}
    for ws in zoo_weights:
        ws = [w.numpy() for w in ws]
        aligned = apply_permutation(ws, weight_matching(ws, ref, max_sweeps))
        for d in depths:
            feats[d].append(aligned[d - 1].reshape(-1))
    return {d: np.stack(f) for d, f in feats.items()}


def cosine_matrix(features: np.ndarray, center: bool = True) -> np.ndarray:
    """Cosine similarity between rows (after subtracting the mean row when ``center``)."""
    f = np.asarray(features, dtype=np.float64)
    if center:
        f = f - f.mean(0)
    f = f / np.linalg.norm(f, axis=1, keepdims=True).clip(1e-300)
    return f @ f.T


def cosine_from_gram(k) -> np.ndarray:
    """Cosine similarity from a Gram matrix ``K[i, j] = <f_i, f_j>``."""
    k = np.asarray(k, dtype=np.float64)
    d = np.sqrt(np.clip(np.diag(k), 1e-300, None))
    return k / d[:, None] / d[None, :]


# ----------------------------------------------------------------------------------------------
# linear CKA


def linear_cka(x, y) -> float:
    """Linear CKA of two representations of the same n inputs (n x p, n x q):
    ``||Y_c^T X_c||_F^2 / (||X_c^T X_c||_F ||Y_c^T Y_c||_F)`` (Kornblith et al. 2019, Eq. for linear CKA)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    x, y = x - x.mean(0), y - y.mean(0)
    return float(np.linalg.norm(y.T @ x) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)))


def cka_matrix(activations) -> np.ndarray:
    """Linear CKA between every pair of networks' activations (each n x p_i, same n inputs), through
    the normalised centred Gram matrices: ``CKA(X, Y) = <H X X^T H, H Y Y^T H> / (||.|| ||.||)``."""
    grams = []
    for a in activations:
        a = np.asarray(a, dtype=np.float64)
        a = a - a.mean(0)
        g = a @ a.T
        grams.append((g / np.linalg.norm(g)).reshape(-1))
    g = np.stack(grams)
    return g @ g.T


def hidden_activations(state_dict, arch: str, n_classes: int, x: torch.Tensor, depth: int) -> np.ndarray:
    """Activations of hidden layer ``depth`` on the probe batch ``x`` (normalised images), eval mode:
    MLP-4 after the ReLU of Linear ``depth``; PlainNet-5 after unit ``depth`` (conv, ReLU, BN, pool)."""
    net = nets.build(arch, n_classes)
    net.load_state_dict(state_dict)
    net.eval()
    with torch.no_grad():
        if arch == "mlp4":
            h = x.flatten(1)
            for layer in net.layers[:depth]:
                h = layer(h).relu()
        elif arch == "plainnet5":
            h = net.features[:4 * depth](x)
        else:
            raise WsmError(f"unknown architecture {arch!r}: valid ones are {', '.join(nets.ARCHITECTURES)}")
    return h.flatten(1).numpy()


def probe_batch(dataset: str, tasks, per_task: int, data_root=None) -> torch.Tensor:
    """A fixed probe batch: the first ``per_task`` test images of every task, normalised as in training."""
    from wsm.zoos import data

    mean = torch.tensor(data.NORM_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(data.NORM_STD).view(1, 3, 1, 1)
    xs = [data.load_task(dataset, t, data_root).x_test[:per_task] for t in tasks]
    return (torch.cat(xs).float() / 255 - mean) / std


# ----------------------------------------------------------------------------------------------
# the protocols on a similarity matrix


def nn_classification(sim, labels, train_fraction: float = 0.6, seed: int = 0, runs=None,
                      runs_per_task: int | None = None) -> tuple[float, int]:
    """Top-1 of nearest-neighbour classification: each test network takes the task of its most
    similar training network (splits of :func:`wsm.maths.htt.split_runs`, by run identity). Returns (top-1, n_test)."""
    labels = np.asarray(labels)
    train, test = htt.split_runs(labels, train_fraction, seed, runs, runs_per_task)
    s = np.asarray(sim)[np.ix_(test, train)]
    pred = labels[train][np.argmax(s, axis=1)]
    return float((pred == labels[test]).mean()), len(test)


def similarity_retrieval(sim, labels, train_task_fraction: float = 0.6, query_fraction: float = 0.2,
                         seed: int = 0, runs=None, runs_per_task: int | None = None) -> tuple[float, int]:
    """Rank-1 of retrieval on the unseen tasks with the similarity itself (nothing is trained; the
    query/gallery split is that of :func:`wsm.maths.htt.retrieval`). Returns (rank-1, n_queries)."""
    labels = np.asarray(labels)
    _, test_tasks = htt.split_tasks(labels, train_task_fraction, seed)
    unseen = np.flatnonzero(np.isin(labels, test_tasks))
    q, g = htt.split_runs(labels[unseen], query_fraction, seed + 1, None if runs is None else np.asarray(runs)[unseen],
                          runs_per_task)
    s = np.asarray(sim)[np.ix_(unseen[q], unseen[g])]
    return float(htt.cmc(s, labels[unseen][q], labels[unseen][g])[0]), len(q)


def protocols(sim, labels, train_fraction=0.6, retrieval_train_fraction=0.6, query_fraction=0.2,
              seed: int = 0, runs=None, runs_per_task: int | None = None) -> list[dict]:
    """Both protocols on one similarity matrix: two rows (protocol, metric, accuracy, n); the splits
    follow run identity (``runs``, ``runs_per_task``: :func:`wsm.maths.htt.split_runs`)."""
    top1, n = nn_classification(sim, labels, train_fraction, seed, runs, runs_per_task)
    rank1, nq = similarity_retrieval(sim, labels, retrieval_train_fraction, query_fraction, seed, runs, runs_per_task)
    return [dict(protocol="classification", metric="top-1", accuracy=top1, n=n),
            dict(protocol="retrieval", metric="rank-1", accuracy=rank1, n=nq)]
