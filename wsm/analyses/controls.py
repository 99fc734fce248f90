"""Controls for hypothesis-training-testing ("Beyond the paper"): inputs whose answer is known.

* :func:`initial_weights`: a zoo's networks at initialisation (same seeds, so the very inits its
  runs started from); :func:`epoch_config` the same zoo after fewer epochs.
* :func:`shuffle_task_labels`: a "task" whose images carry random labels (is it still a task that
  the weights reveal?).
* :func:`permuted_copies`: copies of one network with its hidden units permuted: the same function,
  the same ``phi`` (Eq. 6), different raw weights.
* :func:`rotate_hidden`: an orthogonal, non-permutation change of basis of one hidden layer. With a
  ReLU it is *not* a symmetry of the function, yet ``phi = M M^T`` cannot see it
  (``M Q Q^T M^T = M M^T``): equal ``phi`` does not imply the same function.
* :func:`subsample_runs`: fewer runs per task, for how accuracy depends on the sample size.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn

from wsm.maths import chain
from wsm.zoos import data, nets
from wsm.core.errors import WsmError


def initial_network(cfg, task: int, run: int) -> nn.Module:
    """The network run ``(task, run)`` of zoo ``cfg`` started from: :func:`wsm.zoos.training.train_network`
    seeds torch with ``cfg.seed_of(task, run)`` and builds the network first thing."""
    torch.manual_seed(cfg.seed_of(task, run))
    return nets.build(cfg.arch, len(data.task_classes(cfg.dataset, task)))


def initial_weights(cfg, runs: int | None = None):
    """``(weights, labels)`` of every run of zoo ``cfg`` at initialisation (no data needed)."""
    w, y = [], []
    for t in cfg.tasks:
        for r in range(runs or cfg.runs):
            w.append(chain.layer_weights(initial_network(cfg, t, r)))
            y.append(t)
    return w, np.array(y)


def epoch_config(cfg, epochs: int):
    """Zoo ``cfg`` trained for ``epochs`` epochs only: its twin by name (``twin_of``: the same seeds,
    so the same initializations and batch order), no learning-rate drop (nor checkpoints) after it."""
    return dataclasses.replace(cfg, epochs=epochs, milestones=tuple(m for m in cfg.milestones if m < epochs),
                               checkpoints=tuple(c for c in cfg.checkpoints if c < epochs), twin_of=cfg.scope)


def after_epochs(zoos: dict, name: str, epochs: int):
    """Zoo ``name`` of ``zoos`` as it was after ``epochs`` epochs, the same seeds: its checkpoint of
    that epoch where it keeps one (:attr:`wsm.zoos.training.ZooConfig.checkpoints`), else the twin zoo
    ``<name>-<epochs>epoch`` the page built (:func:`epoch_config`), else the zoo itself (when it
    trains that many epochs). A checkpoint and the twin hold the same networks, up to the first
    epochs' learning-rate drops (none before the milestones; ``tests/test_zoo.py``)."""
    from wsm.zoos import zoo as _zoo

    z = zoos[name]
    if epochs in z.config.checkpoints:
        return _zoo.load_zoo(z.path, None, z.config.tasks, epoch=epochs)
    return zoos.get(f"{name}-{epochs}epoch", z)


def shuffle_task_labels(td: data.TaskData, seed: int) -> data.TaskData:
    """The task with its training labels randomly permuted across images (a fixed permutation per
    seed): the same images and class sizes, but no relation between an image and its label."""
    perm = torch.randperm(len(td.y_train), generator=torch.Generator().manual_seed(seed))
    return dataclasses.replace(td, y_train=td.y_train[perm], source=td.source + ", labels shuffled")


def permuted_copies(net: nn.Module, copies: int, seed: int) -> list[nn.Module]:
    """``copies`` copies of ``net``, each with every hidden layer's units randomly permuted
    (:func:`wsm.maths.chain.permute_hidden`): each computes exactly the function of ``net``."""
    import copy

    g = torch.Generator().manual_seed(seed)
    n_layers = len(chain.layer_weights(net))
    out = []
    for _ in range(copies):
        c = copy.deepcopy(net)
        for layer in range(1, n_layers):
            width = chain.layer_weights(c)[layer - 1].shape[0]
            chain.permute_hidden(c, layer, torch.randperm(width, generator=g))
        out.append(c)
    return out


def random_rotation(n: int, seed: int, dtype=torch.float64) -> torch.Tensor:
    """A Haar-random orthogonal ``n x n`` matrix (QR of a Gaussian with the sign fix)."""
    a = torch.randn(n, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    return (q * torch.sign(torch.diagonal(r))).to(dtype)


def rotate_hidden(net: nn.Module, layer: int, q: torch.Tensor) -> None:
    """Change the basis of hidden layer ``layer`` (1-based) of an MLP in place: ``W_l <- Q^T W_l``,
    ``b_l <- Q^T b_l``, ``W_{l+1} <- W_{l+1} Q``. Without the nonlinearity the network's function
    would be unchanged; every chain ``phi^k`` is unchanged whatever the nonlinearity."""
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    if any(isinstance(m, (nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d)) for m in net.modules()):
        raise WsmError("rotate_hidden is defined for MLPs of nn.Linear layers only")
    if not 1 <= layer < len(linears):
        raise WsmError(f"layer {layer} has no hidden units to rotate: choose 1..{len(linears) - 1}")
    a, b = linears[layer - 1], linears[layer]
    n = a.weight.shape[0]
    if q.shape != (n, n) or not torch.allclose(q.double() @ q.double().T, torch.eye(n, dtype=torch.float64), atol=1e-5):
        raise WsmError(f"q must be an orthogonal {n} x {n} matrix for layer {layer}")
    q = q.to(a.weight.dtype)
    with torch.no_grad():
        a.weight.copy_(q.T @ a.weight)
        if a.bias is not None:
            a.bias.copy_(q.T @ a.bias)
        b.weight.copy_(b.weight @ q)


def phi_difference(a, b, depth: int) -> float:
    """``max |phi_a - phi_b| / max |phi_a|`` of chain ``depth``, in float64."""
    wa = [w.double() for w in chain.layer_weights(a)]
    wb = [w.double() for w in chain.layer_weights(b)]
    pa, pb = chain.phi(wa, depth), chain.phi(wb, depth)
    return float((pa - pb).abs().max() / pa.abs().max())


def phi_difference_probe(a, b, depth: int, probes: int = 16, seed: int = 0) -> float:
    """:func:`phi_difference` without forming the ``n0 x n0`` matrices: ``max |phi_a V - phi_b V| /
    max |phi_a V|`` for ``probes`` random Gaussian vectors V, with ``phi V = M (M^T V)`` in float64
    (two different matrices differ on random vectors with probability 1)."""
    ma = chain.chain_factor([w.double() for w in chain.layer_weights(a)], depth)
    mb = chain.chain_factor([w.double() for w in chain.layer_weights(b)], depth)
    v = torch.randn(ma.shape[0], probes, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    pa, pb = ma @ (ma.T @ v), mb @ (mb.T @ v)
    return float((pa - pb).abs().max() / pa.abs().max())


def weight_difference(a, b, layer: int) -> float:
    """``max |W_a - W_b| / max |W_a|`` of weight layer ``layer`` (the unnormalized feature)."""
    wa, wb = chain.layer_weights(a)[layer - 1].double(), chain.layer_weights(b)[layer - 1].double()
    return float((wa - wb).abs().max() / wa.abs().max())


def output_difference(a: nn.Module, b: nn.Module, x: torch.Tensor) -> float:
    """``max |f_a(x) - f_b(x)| / max |f_a(x)|`` on the inputs ``x`` (both in eval mode, float64)."""
    import copy

    a, b = copy.deepcopy(a).double().eval(), copy.deepcopy(b).double().eval()
    with torch.no_grad():
        ya, yb = a(x.double()), b(x.double())
    return float((ya - yb).abs().max() / ya.abs().max().clamp_min(1e-300))


def subsample_runs(labels, runs_per_task: int, seed: int = 0) -> np.ndarray:
    """Indices of ``runs_per_task`` randomly chosen runs of every task (sorted)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    keep = []
    for t in np.unique(labels):
        idx = np.flatnonzero(labels == t)
        if runs_per_task > len(idx):
            raise WsmError(f"task {t} has {len(idx)} runs, fewer than the {runs_per_task} asked for")
        keep += list(rng.choice(idx, runs_per_task, replace=False))
    return np.sort(np.array(keep))


# ----------------------------------------------------------------------------------------------
# the chapter's experiments (each returns plain rows)


def train_shuffled_runs(cfg, task: int, runs: int, per_class: int | None, data_root=None,
                        progress: bool = True) -> list[list[torch.Tensor]]:
    """``runs`` networks of zoo ``cfg``'s architecture and schedule trained on task ``task`` with its
    image labels shuffled (:func:`shuffle_task_labels`), ``per_class`` images per class. Seeds are
    the zoo's seeds of a task id 999 (distinct from every real run). Kept in memory only."""
    from wsm.zoos import training
    from wsm.core.progress import bar

    td = data.load_task(cfg.dataset, task, data_root)
    if per_class is not None:
        keep = torch.cat([torch.nonzero(td.y_train == c).flatten()[:per_class] for c in range(len(td.classes))])
        td = dataclasses.replace(td, x_train=td.x_train[keep], y_train=td.y_train[keep])
    td = dataclasses.replace(shuffle_task_labels(td, seed=cfg.seed_of(999, 0)), task=999)
    out = []
    for r in bar(range(runs), desc="shuffled-label runs", disable=not progress):
        out.append(training.train_network(cfg, td, r).weights)
    return out


def rotation_check(state_dict, arch: str, n_classes: int, x: torch.Tensor, seed: int, depths=(1, 2, 3)) -> dict:
    """Rotate every hidden layer of one MLP by a random orthogonal matrix and measure what changes:
    the largest relative change of ``phi^1..phi^3`` (on random probe vectors, :func:`phi_difference_probe`)
    and of the raw weights, of the outputs on ``x``,
    and the share of inputs whose predicted class is unchanged."""
    import copy

    net = nets.build(arch, n_classes).double()
    net.load_state_dict({k: v.double() for k, v in state_dict.items()})
    rot = copy.deepcopy(net)
    widths = [w.shape[0] for w in chain.layer_weights(net)[:-1]]
    for layer, n in enumerate(widths, start=1):
        rotate_hidden(rot, layer, random_rotation(n, seed + layer))
    with torch.no_grad():
        same = float((net(x.double()).argmax(1) == rot(x.double()).argmax(1)).float().mean())
    return dict(phi_change=max(phi_difference_probe(net, rot, d, seed=seed) for d in depths),
                weight_change=max(weight_difference(net, rot, d) for d in depths),
                output_change=output_difference(net, rot, x), same_prediction=same)


def twin_diagnostic(a, b, depth: int = 1, device: str = "cpu") -> dict:
    """Are two zoos twins? The cosine similarity of ``phi^depth`` between run ``(t, r)`` of zoo ``a``
    and run ``(t, r)`` of zoo ``b`` (same index), against run ``(t, r)`` of ``a`` and ``(t, r')``,
    ``r' != r``, of ``b`` (same task, another index). Zoos trained from shared seeds (the same
    initializations and batch order) show a same-index similarity well above the other; independent
    zoos show none. Needs the first ``depth`` layers of both zoos to have one shape."""
    wa, wb = a.usable()[0], b.usable()[0]
    ka = [(r.task, r.run) for r in a.runs if r.finite]
    kb = [(r.task, r.run) for r in b.runs if r.finite]
    k = chain.gram(list(wa) + list(wb), depth, "normalized", center=False, progress=False, device=device)
    norm = k.diagonal().sqrt()
    cos = (k / norm[:, None] / norm[None, :]).numpy()[: len(ka), len(ka):]
    same = [cos[i, j] for i, x in enumerate(ka) for j, y in enumerate(kb) if x == y]
    other = [cos[i, j] for i, x in enumerate(ka) for j, y in enumerate(kb) if x[0] == y[0] and x[1] != y[1]]
    if not same or not other:
        raise WsmError("the two zoos share no (task, run) index, or no task with two runs: nothing to compare")
    return dict(same_index=float(np.mean(same)), other_index=float(np.mean(other)),
                difference=float(np.mean(same) - np.mean(other)), pairs_same=len(same), pairs_other=len(other))


def twin_table(zoos: dict, reference: str, depth: int = 1, device: str = "cpu"):
    """:func:`twin_diagnostic` of every zoo of ``zoos`` against ``zoos[reference]``: one row per zoo."""
    import pandas as pd

    table = pd.DataFrame({name: twin_diagnostic(zoos[reference], z, depth, device)
                          for name, z in zoos.items() if name != reference}).T.rename_axis(f"against {reference}")
    return table.astype({"pairs_same": int, "pairs_other": int})


def conclusion(control, rot, base, fig2_null, n_tasks: int, profile: str, seconds: float) -> str:
    """The "Beyond the paper" page's closing paragraph (Markdown): the permutation nulls of Fig. 2, the
    controls with known answers (epochs, permuted copies, the shuffled-label task, rotations) and the
    baselines' mean accuracy, from the page's tables."""
    ep = control[control.control == "epochs"].pivot_table(index="setting", columns="feature", values="accuracy")
    pc = control[control.control == "permuted copies"].set_index("feature").accuracy
    sh = control[control.control == "shuffled-label task recall"].set_index("feature").accuracy
    best = base[base.method != "chain normalization φ, F_l (Fig. 2)"].groupby("method").accuracy.mean().sort_values()
    sig = ((fig2_null.p_null <= 0.05).sum(), len(fig2_null)) if len(fig2_null) else None
    return (f"**Conclusion ({profile} profile, {seconds:.0f} s).** "
            + (f"{sig[0]} of {sig[1]} Fig. 2 cells beat their permutation null at p ≤ 0.05. " if sig else "")
            + "Controls: C1 top-1 after " + ", ".join(f"{e} epochs {100 * a:.0f}%" for e, a in ep.C1.items())
            + " (L1: " + ", ".join(f"{100 * a:.0f}%" for a in ep.L1) + f"; chance {100 / n_tasks:.0f}%), so the "
            f"tasks are {'not ' if ep.C1.iloc[0] < 2 / n_tasks else ''}recognisable at initialisation; permuted copies "
            f"are classified {100 * pc.C1:.0f}% by C1 and {100 * pc.L1:.0f}% by L1; the shuffled-label task is "
            f"recognised in {100 * sh.C1:.0f}% of its test runs by C1 ({100 * sh.L1:.0f}% by L1); a rotation leaves φ "
            f"unchanged (max relative change {rot.phi_change.max():.1e}) yet changes the predicted class on "
            f"{100 * (1 - rot.same_prediction.mean()):.0f}% of probe images, so equal φ does not mean the same "
            "function. "
            "Baselines (mean over cells): " + ", ".join(f"{m} {100 * a:.0f}%" for m, a in best.items()) + ".")
