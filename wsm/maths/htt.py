"""Hypothesis-training-testing (Section 2, 3.2, 3.4): the weight classifier and both protocols.

The weight classifier ``F_l`` (Eq. 8-9) is one linear projection ``Theta_l`` of ``vec(phi^l)``
followed by a softmax and the cross-entropy loss, trained with SGD from zero. Its weights then
always lie in the span of the training features, so it can be trained *exactly* in the
coordinates of that span: :func:`embed` maps every network to those coordinates from the Gram
matrix ``K = <f_i, f_j>`` (see :func:`wsm.maths.chain.gram`), which is how 9.4-million-dimensional MLP
chains fit a laptop. Features are centred on the training mean and scaled to unit mean norm (one
scalar per chain) so that one learning rate serves every chain; see the Deviations page.

* **Weight classification**: per task, a fraction of the runs (paper: 60 of 100) train ``F_l``,
  the rest test it; the statistic is top-1 accuracy.
* **Weight retrieval**: ``F_l`` is trained on some tasks (paper: 30 of 50); for every unseen task
  some runs are queries (paper: 20) and the rest the gallery; a network is represented by its
  L2-normalised projection ``Theta_l^T x``; cosine similarity ranks the gallery; CMC and rank-1.
* **Decision**: accept H0 (the runs of a task are one solution) when the test error is below alpha.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from wsm.core import paper
from wsm.core.errors import WsmError


@dataclass(frozen=True)
class ClassifierConfig:
    """SGD for the weight classifier. Paper (Appendix F, ICLR Sec. 4.1): batch 1, lr 0.001,
    lr / 10 after 6 epochs, 10 epochs; momentum 0.9 and seed 1 from the authors' code."""

    epochs: int = 10
    lr: float = 0.001
    milestones: tuple[int, ...] = (6,)
    momentum: float = 0.9
    batch_size: int = 1
    seed: int = 1
    standardize: bool = True     # features centred on the training mean and scaled to unit mean norm
                                 # (ours); False: raw vec(phi), as the authors' code feeds it (:func:`embed`)


def embed(k: torch.Tensor, train: np.ndarray, rtol: float = 1e-10, standardize: bool = True) -> torch.Tensor:
    """Coordinates of every network's feature in an orthonormal basis of the span of the training
    features, centred on the training mean and scaled to unit mean training norm.

    ``k`` is the full Gram matrix (n x n, float64); ``train`` indexes the training networks. For
    training networks ``Z Z^T`` reproduces their (centred) Gram matrix exactly; for the others it is
    the orthogonal projection onto the span, which is all a linear map trained from zero can see.
    ``standardize=False``: the raw features instead (no centring, no scaling; ``k`` must then be the
    uncentred Gram), as the authors' code feeds vec(phi) to the classifier.
    """
    k = k.double()
    if not standardize:
        kt = k[np.ix_(train, train)]
        s, u = torch.linalg.eigh(kt)
        keep = s > rtol * s.max().clamp_min(1e-300)
        return (k[:, train] @ u[:, keep] / s[keep].sqrt()).float()
    k = k / k.diagonal().abs().max().clamp_min(1e-300)   # the result does not depend on K's scale;
    kt = k[np.ix_(train, train)]                         # deep chains' Grams reach 1e70 and beyond
    n = len(train)
    h = torch.eye(n, dtype=torch.float64) - 1.0 / n
    kc = h @ kt @ h                                   # centred training Gram
    s, u = torch.linalg.eigh(kc)
    keep = s > rtol * s.max().clamp_min(1e-300)
    u, s = u[:, keep], s[keep]
    # centred cross-kernel of every network against the training set
    kx = k[:, train]
    kx_c = kx - kx.mean(1, keepdim=True) - kt.mean(0, keepdim=True) + kt.mean()
    z = kx_c @ u / s.sqrt()          # u is orthogonal to the ones vector: already centred
    scale = z[train].pow(2).sum(1).mean().sqrt().clamp_min(1e-300)
    return (z / scale).float()


def train_classifier(z: torch.Tensor, y: torch.Tensor, n_classes: int,
                     cfg: ClassifierConfig = ClassifierConfig()) -> torch.nn.Linear:
    """Train ``F_l``: a Linear layer (zero init) + softmax + cross-entropy, by SGD (Eq. 8-9).

    The SGD of :func:`train_classifiers` with one replicate (the same steps as ``torch.optim.SGD``
    on ``nn.Linear`` and ``cross_entropy``, written out so a step costs a few small tensor ops
    instead of an autograd graph; :func:`train_classifier_autograd` is that reference)."""
    w, b = train_classifiers(z, torch.as_tensor(y)[None], n_classes, cfg)
    lin = torch.nn.Linear(z.shape[1], n_classes)
    with torch.no_grad():
        lin.weight.copy_(w[0])
        lin.bias.copy_(b[0])
    return lin


def train_classifiers(z: torch.Tensor, y: torch.Tensor, n_classes: int,
                      cfg: ClassifierConfig = ClassifierConfig()) -> tuple[torch.Tensor, torch.Tensor]:
    """Train R weight classifiers at once, one per row of ``y`` (R x n labels), on the same
    features ``z`` (n x d): weights ``R x m x d`` and biases ``R x m``.

    Every replicate sees the samples in the SAME order (one ``randperm`` per epoch from
    ``cfg.seed``, as :func:`train_classifier_autograd`); only the labels differ. Each step is
    SGD with momentum on the mean cross-entropy of the batch, for all replicates by batched
    matmuls. Runs on one thread: the steps are far too small to gain from more, and lose a lot
    when another process holds a core."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _batched_sgd(z.float(), torch.as_tensor(y).long(), n_classes, cfg)
    finally:
        torch.set_num_threads(threads)


def _batched_sgd(z, y, m, cfg):
    if y.dim() != 2 or y.shape[1] != len(z):
        raise WsmError(f"labels must be R x n with n = {len(z)} networks, got shape {tuple(y.shape)}")
    r, n = y.shape[0], len(z)
    za = torch.cat([z, torch.ones(n, 1)], 1)                # the bias is the last column of w
    onehot = torch.nn.functional.one_hot(y, m).float()      # R x n x m
    w = torch.zeros(r, m, za.shape[1])
    v = torch.zeros_like(w)                                  # momentum buffer
    # each replicate's scores and gradient are elementwise products summed along that replicate's
    # own axes (not one matrix product over all replicates, whose rounding depends on their number),
    # so replicate r's weights do not depend on how many train beside it: the observed classifier
    # and its label-shuffled nulls train as one program
    tmp = torch.empty(r, min(cfg.batch_size, n), m, za.shape[1])
    gen = torch.Generator().manual_seed(cfg.seed)
    lr, mu = cfg.lr, cfg.momentum
    for epoch in range(cfg.epochs):
        order = torch.randperm(n, generator=gen)
        xs, ys = za[order], onehot[:, order]
        # momentum SGD exactly as torch.optim.SGD (dampening 0): v = mu v + grad; w -= lr v, with
        # grad = (softmax - onehot)^T x / B, the gradient of the batch's mean cross-entropy
        if cfg.batch_size == 1:
            t = tmp[:, 0]
            for i in range(n):
                x = xs[i]
                g = torch.softmax(torch.mul(w, x, out=t).sum(2), dim=1)
                g -= ys[:, i]
                v.mul_(mu).addcmul_(g[:, :, None], x)
                w.sub_(v, alpha=lr)
        else:
            for i in range(0, n, cfg.batch_size):
                x = xs[i:i + cfg.batch_size]
                t = tmp[:, :len(x)]
                g = torch.softmax(torch.mul(w[:, None], x[None, :, None], out=t).sum(3), dim=2)   # R x B x m
                g -= ys[:, i:i + cfg.batch_size]
                v.mul_(mu).add_(torch.mul(g[..., None], x[None, :, None], out=t).sum(1), alpha=1 / len(x))
                w.sub_(v, alpha=lr)
        lr *= 0.1 ** list(cfg.milestones).count(epoch + 1)   # MultiStepLR, gamma 0.1
    return w[:, :, :-1].contiguous(), w[:, :, -1].contiguous()


def train_classifier_autograd(z: torch.Tensor, y: torch.Tensor, n_classes: int,
                              cfg: ClassifierConfig = ClassifierConfig()) -> torch.nn.Linear:
    """Reference implementation of :func:`train_classifier` with ``nn.Linear``, autograd and
    ``torch.optim.SGD`` + ``MultiStepLR`` (slower; kept to test the fast path against)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _sgd(z, y, n_classes, cfg)
    finally:
        torch.set_num_threads(threads)


def _sgd(z, y, n_classes, cfg):
    gen = torch.Generator().manual_seed(cfg.seed)
    lin = torch.nn.Linear(z.shape[1], n_classes)
    torch.nn.init.zeros_(lin.weight)
    torch.nn.init.zeros_(lin.bias)
    opt = torch.optim.SGD(lin.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, list(cfg.milestones), gamma=0.1)
    for _ in range(cfg.epochs):
        order = torch.randperm(len(z), generator=gen)
        for i in range(0, len(z), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            loss = torch.nn.functional.cross_entropy(lin(z[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    return lin


def split_runs(labels: np.ndarray, train_fraction: float, seed: int, runs=None,
               runs_per_task: int | None = None, roles: tuple[str, str] = ("training", "test"),
               advice: str = "use more runs per task") -> tuple[np.ndarray, np.ndarray]:
    """Per task, ``train_fraction`` of its runs for training, the rest for testing, chosen by run
    identity, never by position: the task's runs ``0..R-1`` (``R = runs_per_task``, default: as many
    as it has) are permuted by a generator of ``(seed, task)`` and the first ``round(fraction * R)``
    train. ``runs`` names each network's run (default: its position within its task). A network
    that is missing (a diverged run left out) therefore moves no other network to the other side,
    and two zoos with the same runs hold out the same run numbers. Returns positions into ``labels``.
    ``roles`` and ``advice``: what the two sides are called, and what to do when one is empty, in
    the message (retrieval splits its unseen tasks' runs into queries and gallery)."""
    labels = np.asarray(labels)
    runs = _positions_in_task(labels) if runs is None else np.asarray(runs)
    train, test = [], []
    for t in np.unique(labels):
        idx = np.flatnonzero(labels == t)
        r_all = runs_per_task or int(runs[idx].max()) + 1
        order = np.random.default_rng([seed, _task_key(t)]).permutation(r_all)
        chosen = order[:int(round(train_fraction * r_all))]
        is_train = np.isin(runs[idx], chosen)
        if not is_train.any() or is_train.all():
            raise WsmError(f"task {t} has {len(idx)} runs: a {train_fraction:.0%} split leaves no "
                           f"{roles[0]} or no {roles[1]} run; {advice}")
        train += list(idx[is_train])
        test += list(idx[~is_train])
    return np.array(sorted(train)), np.array(sorted(test))


def _task_key(task) -> int:
    """A task label as a generator seed: an integer label is itself, any other (a user's task name)
    a digest of its text, so a task's split depends on its identity only."""
    import hashlib

    if isinstance(task, (int, np.integer)):
        return int(task)
    return int.from_bytes(hashlib.blake2b(str(task).encode(), digest_size=8).digest(), "little")


def _positions_in_task(labels: np.ndarray) -> np.ndarray:
    """Each network's position among its task's networks (the run identity when none is given)."""
    out = np.zeros(len(labels), dtype=int)
    for t in np.unique(labels):
        idx = np.flatnonzero(labels == t)
        out[idx] = np.arange(len(idx))
    return out


def _relabel(labels: np.ndarray, idx: np.ndarray) -> tuple[torch.Tensor, int]:
    classes = np.unique(labels[idx])
    return torch.as_tensor(np.searchsorted(classes, labels[idx])), len(classes)


@dataclass
class ClassificationResult:
    top1: float
    n_test: int
    n_correct: int
    predictions: np.ndarray
    truth: np.ndarray
    null: np.ndarray | None = None    # top-1 of each label-shuffled replicate (see null_labels)
    tested: np.ndarray | None = None  # the test networks (positions into the labels), in predictions' order


def null_rng(seed: int) -> np.random.Generator:
    """The generator of a protocol's label shuffles (independent of its splits' generator)."""
    return np.random.default_rng([seed, 7919])


def _shuffled(y: np.ndarray, repeats: int, rng: np.random.Generator) -> np.ndarray:
    """``repeats`` independent uniform permutations of ``y`` (R x n)."""
    return np.stack([y[rng.permutation(len(y))] for _ in range(repeats)]) if repeats else np.zeros((0, len(y)), y.dtype)


def _split_source(labels: np.ndarray, source, train_fraction: float, seed: int, runs=None,
                  runs_per_task: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Training and test networks of the classification protocol; with ``source`` (a boolean mask of
    Net A's networks, Section 4.5) the training runs are Net A's and the test runs Net B's: one split
    of the run *numbers* (:func:`split_runs`, by identity), so the run numbers held out of Net A are
    exactly those tested in Net B, whichever runs either zoo lacks."""
    if source is None:
        return split_runs(labels, train_fraction, seed, runs, runs_per_task)
    source = np.asarray(source, dtype=bool)
    a, b = np.flatnonzero(source), np.flatnonzero(~source)
    if not len(a) or not len(b):
        raise WsmError("cross-network testing needs networks of both zoos (source True and False)")
    if runs is None:                      # each zoo's networks numbered by position within their task
        runs = np.zeros(len(labels), dtype=int)
        runs[a], runs[b] = _positions_in_task(labels[a]), _positions_in_task(labels[b])
    runs = np.asarray(runs)
    r_all = runs_per_task or int(runs.max()) + 1
    return (a[split_runs(labels[a], train_fraction, seed, runs[a], r_all)[0]],
            b[split_runs(labels[b], train_fraction, seed, runs[b], r_all)[1]])


def _with_null(y: torch.Tensor, null_repeats: int, rng) -> torch.Tensor:
    """The training labels ``y`` as row 0, then ``null_repeats`` label shuffles drawn from ``rng``:
    the observed classifier and its nulls train as one batched program (:func:`train_classifiers`),
    in which no replicate's weights depend on the others, so the observed one does not depend on R."""
    return torch.cat([y[None], torch.as_tensor(_shuffled(y.numpy(), null_repeats, rng))])


def _scores(z: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    """``z Θ_r^T (+ b_r)`` of every replicate r (R x n x m), each by its own product, so no
    replicate's scores depend on how many replicates there are."""
    with torch.no_grad():
        return torch.stack([z @ w[r].t() + (0 if b is None else b[r]) for r in range(len(w))])


def classification(k: torch.Tensor, labels, train_fraction: float = 0.6, seed: int = 0,
                   cfg: ClassifierConfig = ClassifierConfig(), null_repeats: int = 0,
                   source=None, runs=None, runs_per_task: int | None = None) -> ClassificationResult:
    """Weight classification protocol: top-1 of ``F_l`` on held-out runs of the same tasks.

    With ``source`` (a boolean mask over the networks of ``k``): cross-network classification
    (Section 4.5, Fig. 5 (a)): ``F_l`` is trained on the training runs of the source zoo (Net A) and
    predicts the tasks of the other zoo's held-out runs. ``runs`` and ``runs_per_task``: each network's run
    number and the zoo's runs per task, so the split follows run identity (:func:`split_runs`).

    With ``null_repeats = R > 0`` the same protocol is repeated R times with the task labels
    shuffled across networks: within the training networks (so each shuffled classifier is trained
    on the same networks, in the same order, with permuted labels; all R as one batched SGD program,
    :func:`train_classifiers`) and within the test networks. The splits and the embedding are those of
    the observed run, so only labels differ; ``null`` holds the R top-1 values. Under the null
    hypothesis (a network's weights say nothing about its task) the observed top-1 is one more draw
    from this distribution. The observed top-1 does not depend on R."""
    labels = np.asarray(labels)
    train, test = _split_source(labels, source, train_fraction, seed, runs, runs_per_task)
    z = embed(k, train, standardize=cfg.standardize)
    y, m = _relabel(labels, train)
    rng = null_rng(seed)
    ys = _with_null(y, null_repeats, rng)                  # the observed labels, then R shuffles
    w, b = train_classifiers(z[train], ys, m, cfg)         # one program (replicates are independent)
    classes = np.unique(labels[train])
    preds = classes[_scores(z[test], w, b).argmax(2).numpy()]
    pred = preds[0]
    correct = int((pred == labels[test]).sum())
    null = None
    if null_repeats:
        truth = _shuffled(labels[test], null_repeats, rng)
        null = (preds[1:] == truth).mean(1)
    return ClassificationResult(correct / len(test), len(test), correct, pred, labels[test], null, test)


@dataclass
class RetrievalResult:
    rank1: float
    cmc: np.ndarray          # cmc[r-1] = fraction of queries with a true match within the top r
    n_queries: int
    n_gallery: int
    train_tasks: np.ndarray
    test_tasks: np.ndarray
    null: np.ndarray | None = None    # rank-1 of each label-shuffled replicate
    hits: np.ndarray | None = None    # per query: its first gallery match is of its task (rank-1)
    queries: np.ndarray | None = None       # the queries (positions into the labels), in hits' order
    predictions: np.ndarray | None = None   # per query: the task of its top-ranked gallery network
    collapsed: bool = False                 # every query-gallery cosine is +-1 (all on one line)


def retrieval_problem(n_tasks: int, train_fraction: float) -> str | None:
    """Why retrieval cannot test anything with ``n_tasks`` tasks of which ``train_fraction`` train its
    classifier, or None when it can. A softmax trained from zero on 2 tasks keeps w0 = -w1 (every
    gradient sums to zero over the classes), so every network embeds to +-(1, -1)/sqrt(2), every cosine
    is +-1 and rank-1 is decided by rounding: the classifier needs at least
    :data:`wsm.maths.verdicts.MIN_RETRIEVAL_TASKS` training tasks; and among a single unseen task every
    gallery network matches, so rank-1 is 100% by construction: at least 2 unseen tasks."""
    from wsm.maths import verdicts

    n_train = int(round(train_fraction * n_tasks))
    unseen = n_tasks - n_train
    if n_train >= verdicts.MIN_RETRIEVAL_TASKS and unseen >= 2:
        return None
    need = next(t for t in range(n_tasks + 1, 100 * n_tasks + 100)
                if round(train_fraction * t) >= verdicts.MIN_RETRIEVAL_TASKS and t - round(train_fraction * t) >= 2)
    if n_train < verdicts.MIN_RETRIEVAL_TASKS:
        why = (f"retrieval's classifier would train on {n_train} task{'s' if n_train != 1 else ''}, and a softmax "
               f"trained on so few embeds every network to (nearly) one line, so rank-1 is decided by rounding")
    else:
        why = (f"only {unseen} task is unseen, so every gallery network matches the query's task and rank-1 is "
               "100% by construction")
    return (f"{why}: with a task fraction of {train_fraction:g} retrieval needs at least {need} tasks "
            f"(it has {n_tasks})")


def split_tasks(labels: np.ndarray, train_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle the tasks; the first ``train_fraction`` train ``F_l``, the rest are unseen. A split that
    cannot test anything (:func:`retrieval_problem`) is refused."""
    tasks = np.random.default_rng(seed).permutation(np.unique(labels))
    problem = retrieval_problem(len(tasks), train_fraction)
    if problem:
        raise WsmError(problem)
    n_train = int(round(train_fraction * len(tasks)))
    return np.sort(tasks[:n_train]), np.sort(tasks[n_train:])


def first_match(sim: np.ndarray, query_labels: np.ndarray, gallery_labels: np.ndarray) -> np.ndarray:
    """Per query, the rank (0-based) of its first gallery network of its own task (ties broken by gallery order)."""
    order = np.argsort(-sim, axis=1, kind="stable")
    hits = gallery_labels[order] == query_labels[:, None]
    if not hits.any(axis=1).all():
        raise WsmError("a query has no gallery network of its task: use more runs per task")
    return hits.argmax(axis=1)


def cmc(sim: np.ndarray, query_labels: np.ndarray, gallery_labels: np.ndarray) -> np.ndarray:
    """Cumulative matching characteristic: ``cmc[r-1]`` = share of queries whose first correct
    gallery match is within rank r (ties broken by gallery order)."""
    first = first_match(sim, query_labels, gallery_labels)
    return np.array([(first < r).mean() for r in range(1, sim.shape[1] + 1)])


def retrieval(k: torch.Tensor, labels, train_task_fraction: float = 0.6, query_fraction: float = 0.2,
              seed: int = 0, cfg: ClassifierConfig = ClassifierConfig(), null_repeats: int = 0,
              source=None, runs=None, runs_per_task: int | None = None) -> RetrievalResult:
    """Weight retrieval protocol: ``F_l`` learnt on some tasks represents networks of unseen tasks.

    With ``source`` (a boolean mask): cross-network retrieval (Section 4.5, Fig. 5 (b)): ``F_l`` is
    trained on the source zoo's (Net A's) networks of the training tasks; its representation ranks the
    other zoo's networks of the unseen tasks (queries and gallery both from Net B).

    With ``null_repeats = R > 0``: R replicates with labels shuffled within the training networks
    (R classifiers, one batched program), within the queries and within the gallery (same splits,
    so every query keeps a gallery match); ``null`` holds their rank-1."""
    labels = np.asarray(labels)
    a = np.ones(len(labels), bool) if source is None else np.asarray(source, dtype=bool)
    b = a if source is None else ~a
    if not a.any() or not b.any():
        raise WsmError("cross-network testing needs networks of both zoos (source True and False)")
    train_tasks, test_tasks = split_tasks(labels[a], train_task_fraction, seed)
    train = np.flatnonzero(a & np.isin(labels, train_tasks))
    unseen = np.flatnonzero(b & np.isin(labels, test_tasks))
    z = embed(k, train, standardize=cfg.standardize)
    y, m = _relabel(labels, train)
    rng = null_rng(seed)
    w, _ = train_classifiers(z[train], _with_null(y, null_repeats, rng), m, cfg)   # observed, then R shuffles
    reps = torch.nn.functional.normalize(_scores(z[unseen], w), dim=2).numpy()
    rep = reps[0]
    q_local, g_local = queries(labels, unseen, query_fraction, seed, runs, runs_per_task)
    q_lab, g_lab = labels[unseen][q_local], labels[unseen][g_local]
    sim = rep[q_local] @ rep[g_local].T
    first = first_match(sim, q_lab, g_lab)
    curve = np.array([(first < r).mean() for r in range(1, sim.shape[1] + 1)])
    null = None
    if null_repeats:
        qs, gs = _shuffled(q_lab, null_repeats, rng), _shuffled(g_lab, null_repeats, rng)
        null = np.array([cmc(rp[q_local] @ rp[g_local].T, q, g)[0] for rp, q, g in zip(reps[1:], qs, gs)])
    return RetrievalResult(float(curve[0]), curve, len(q_local), len(g_local), train_tasks, test_tasks, null,
                           first == 0, unseen[q_local], g_lab[np.argmax(sim, axis=1)],
                           bool(np.all(np.abs(sim) > 1 - 1e-6)))


def queries(labels, unseen, query_fraction, seed, runs, runs_per_task):
    """Queries and gallery among the networks ``unseen`` (positions into them): :func:`split_runs` of
    their runs with seed ``seed + 1``."""
    return split_runs(labels[unseen], query_fraction, seed + 1, None if runs is None else np.asarray(runs)[unseen],
                      runs_per_task, roles=("query", "gallery"),
                      advice="use more runs per task, or another query fraction")


# ---------------------------------------------------------------- the nearest-neighbour classifier


def cosines(k: torch.Tensor) -> np.ndarray:
    """The cosine similarity of every pair of networks' features from their (uncentred) Gram matrix
    ``k``: ``K_ij / sqrt(K_ii K_jj)``, the ``cosine`` of :func:`wsm.analyses.compare.compare` for chains; 0
    where a feature is zero."""
    k = k.double().numpy()
    norm = np.sqrt(np.clip(np.diag(k), 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        c = k / norm[:, None] / norm[None, :]
    return np.nan_to_num(c, nan=0.0, posinf=0.0, neginf=0.0)


def nearest_classification(k: torch.Tensor, labels, train_fraction: float = 0.6, seed: int = 0,
                           null_repeats: int = 0, source=None, runs=None,
                           runs_per_task: int | None = None) -> ClassificationResult:
    """Weight classification by the nearest neighbour: each test network gets the task of the
    training network whose feature has the highest cosine with its own (``k``: the uncentred Gram,
    :func:`cosines`; ties go to the first training network). The same split and test networks as
    :func:`classification` (so the two are paired), and the same label shuffles for its null: the
    training labels shuffled (each test network keeps its neighbour) and the test labels shuffled.
    Nothing is trained, so it shows what the feature holds where a linear classifier trained on a
    few networks cannot find it."""
    labels = np.asarray(labels)
    train, test = _split_source(labels, source, train_fraction, seed, runs, runs_per_task)
    near = np.argmax(cosines(k)[np.ix_(test, train)], axis=1)        # position among the training networks
    pred = labels[train][near]
    correct = int((pred == labels[test]).sum())
    null = None
    if null_repeats:
        rng = null_rng(seed)
        shuffled = _shuffled(labels[train], null_repeats, rng)        # as classification's null draws them
        truth = _shuffled(labels[test], null_repeats, rng)
        null = (shuffled[:, near] == truth).mean(1)
    return ClassificationResult(correct / len(test), len(test), correct, pred, labels[test], null, test)


def nearest_retrieval(k: torch.Tensor, labels, train_task_fraction: float = 0.6, query_fraction: float = 0.2,
                      seed: int = 0, null_repeats: int = 0, source=None, runs=None,
                      runs_per_task: int | None = None) -> RetrievalResult:
    """Weight retrieval by the cosine of the features themselves (``k``: the uncentred Gram,
    :func:`cosines`): the unseen tasks, queries and gallery of :func:`retrieval` (so the two are
    paired), each query's gallery ranked by cosine; its null shuffles queries' and gallery's labels
    as :func:`retrieval`'s does."""
    labels = np.asarray(labels)
    a = np.ones(len(labels), bool) if source is None else np.asarray(source, dtype=bool)
    b = a if source is None else ~a
    train_tasks, test_tasks = split_tasks(labels[a], train_task_fraction, seed)
    train = np.flatnonzero(a & np.isin(labels, train_tasks))
    unseen = np.flatnonzero(b & np.isin(labels, test_tasks))
    q_local, g_local = queries(labels, unseen, query_fraction, seed, runs, runs_per_task)
    q_lab, g_lab = labels[unseen][q_local], labels[unseen][g_local]
    sim = cosines(k)[np.ix_(unseen[q_local], unseen[g_local])]
    first = first_match(sim, q_lab, g_lab)
    curve = np.array([(first < r).mean() for r in range(1, sim.shape[1] + 1)])
    null = None
    if null_repeats:
        rng = null_rng(seed)
        _shuffled(labels[train], null_repeats, rng)          # retrieval's training shuffles: the same draws follow
        qs, gs = _shuffled(q_lab, null_repeats, rng), _shuffled(g_lab, null_repeats, rng)
        null = np.array([cmc(sim, q, g)[0] for q, g in zip(qs, gs)])
    return RetrievalResult(float(curve[0]), curve, len(q_local), len(g_local), train_tasks, test_tasks, null,
                           first == 0, unseen[q_local], g_lab[np.argmax(sim, axis=1)], False)


def test_size(protocol: str, n_tasks: int, runs: int, train_fraction: float = 0.6,
              retrieval_train_fraction: float = 0.6, query_fraction: float = 0.2) -> int:
    """How many test networks (classification) or queries (retrieval) a zoo of ``n_tasks`` x ``runs``
    gives under :func:`split_runs` / :func:`split_tasks` (every run usable): classification tests the
    runs a task does not train on, retrieval queries ``query_fraction`` of each unseen task's runs."""
    if protocol == "classification":
        return n_tasks * (runs - int(round(train_fraction * runs)))
    if protocol == "retrieval":
        return (n_tasks - int(round(retrieval_train_fraction * n_tasks))) * int(round(query_fraction * runs))
    raise WsmError(f"unknown protocol {protocol!r}: expected classification or retrieval")


def runs_needed(protocol: str, needed: int, n_tasks: int, most: int = 10_000, **fractions) -> int | None:
    """The fewest runs per task at which ``n_tasks`` tasks give ``needed`` test networks or queries
    (:func:`test_size`; ``fractions``: its split fractions); None beyond ``most``."""
    return next((r for r in range(2, most + 1) if test_size(protocol, n_tasks, r, **fractions) >= needed), None)


CLASSIFIERS = ("linear", "nearest")     # the paper's weight classifier; the nearest neighbour on the cosine


def decide(accuracy: float, alpha: float = 0.05) -> str:
    """The paper's decision rule: accept H0 when the test error is below alpha."""
    return "accept H0" if 1 - accuracy < alpha else "reject H0"


EVIDENCE = ("consistent with H0", "inconsistent with H0", "underpowered")


def evidence(ci_low: float, ci_high: float, alpha: float = 0.05) -> str:
    """What a cell's exact 95% interval ``[ci_low, ci_high]`` (accuracies as fractions) says about H0,
    "the networks of a task are one solution", whose target is an accuracy of at least ``1 - alpha``:
    the project's one rule for a claim that the hypothesis holds (:func:`wsm.maths.verdicts.bar_test`):

    * ``"inconsistent with H0"``: the interval's upper end is below ``1 - alpha``, so even the most
      favourable accuracy the data allow misses the target;
    * ``"consistent with H0"``: its lower end is within :data:`wsm.maths.verdicts.DELTA` points of
      ``1 - alpha`` or above, so the interval is narrow and close to the target;
    * ``"underpowered"``: neither; too few test networks to tell.

    The paper's rule (:func:`decide`) looks at the observed accuracy alone; this one also asks
    whether the sample could tell."""
    from wsm.maths import verdicts

    said = verdicts.bar_test([100 * ci_low], [100 * ci_high], alpha)
    return {"at or above": EVIDENCE[0], "below": EVIDENCE[1]}.get(said, EVIDENCE[2])


def judged(table, alpha: float = 0.05):
    """:func:`evaluate`'s table with, per row, the paper's ``decision`` (:func:`decide`) and the
    interval's ``evidence`` (:func:`evidence`), or, where the row tested nothing
    (:func:`wsm.maths.verdicts.untested`: a classifier that predicts one task, a collapsed retrieval, an
    accuracy within the shuffled labels' band), :data:`wsm.maths.verdicts.NOT_TESTED` in both and the reason
    in ``untested`` (None where the row was tested)."""
    from wsm.maths import verdicts

    table = table.copy()

    def value(row, col):
        return row[col] if col in row and row[col] is not None else None

    reasons = [verdicts.untested(value(r, "protocol"), value(r, "predicted_classes"),
                                 int(round(1 / r["chance"])) if value(r, "chance") else None,
                                 bool(value(r, "collapsed")), r["accuracy"], value(r, "null_low"),
                                 value(r, "null_high"))
               for _, r in table.iterrows()]
    table["decision"] = [verdicts.NOT_TESTED if why else decide(a, alpha) for a, why in zip(table.accuracy, reasons)]
    table["evidence"] = [verdicts.NOT_TESTED if why else evidence(lo, hi, alpha)
                         for lo, hi, why in zip(table.ci_low, table.ci_high, reasons)]
    table["untested"] = reasons
    return table


def evaluate(weights, labels, depths=(1, 2, 3), kinds=("unnormalized", "normalized"),
             train_fraction: float = 0.6, retrieval_train_fraction: float = 0.6,
             query_fraction: float = 0.2, seed: int = 0, cfg: ClassifierConfig = ClassifierConfig(),
             alpha: float = 0.05, progress: bool = True, null_repeats: int = 0,
             protocols=("classification", "retrieval"), source=None, gram_cache=None, device: str = "cpu",
             runs=None, runs_per_task: int | None = None, gram=None, classifiers=("linear",)):
    """Both protocols (or those named in ``protocols``) for every chain/layer of one zoo: a table with one row per
    (kind, depth, protocol), accuracy as a fraction, the sample sizes behind it, its exact 95%
    interval (ci_low, ci_high) and the p-value of "error < alpha" (:mod:`wsm.maths.stats`).

    With ``null_repeats = R > 0`` every row also gets the permutation null of its accuracy (labels
    shuffled R times, see :func:`classification`): ``null_mean``, ``null_low``, ``null_high`` (mean
    and central 95% band, fractions) and ``p_null`` = (1 + #{null >= observed}) / (1 + R).
    With ``source`` (a boolean mask): the cross-network protocols (:func:`cross_network`).
    ``gram_cache``: a folder where :func:`wsm.maths.chain.gram` keeps the Gram matrices for reuse;
    ``device``: where it computes them (``cpu`` or ``cuda``). ``runs`` (each network's run number) and
    ``runs_per_task``: the splits follow run identity (:func:`split_runs`). ``gram``: the function that
    computes the Grams, with :func:`wsm.maths.chain.gram`'s keywords (default that function;
    :meth:`wsm.zoos.engine.Engine.gram` spreads them over a Ray cluster). ``classifiers``: ``"linear"``, the
    paper's weight classifier, and/or ``"nearest"``, the nearest neighbour on the features' cosine
    (:func:`nearest_classification`, :func:`nearest_retrieval`; from the uncentred Gram), on the same
    splits; the ``classifier`` column says which.

    Besides the numbers each row keeps, for :func:`wsm.maths.verdicts.untested`, ``predicted_classes`` (how
    many tasks the classifier predicted among the test networks) and ``collapsed`` (retrieval: every
    cosine +-1), and per test network or query ``tested`` (its position), ``predicted`` (the task
    predicted, or its top-ranked gallery network's) and ``hits``."""
    import pandas as pd
    from wsm.core.progress import bar

    from wsm.maths import chain, stats

    rows = []
    labels = np.asarray(labels)
    tasks = labels if source is None else labels[np.asarray(source, dtype=bool)]
    skip_retrieval = "retrieval" in protocols and retrieval_problem(len(np.unique(tasks)), retrieval_train_fraction)
    if skip_retrieval and tuple(protocols) == ("retrieval",):
        raise WsmError(skip_retrieval)
    for kind in kinds:
        for depth in bar(depths, desc=f"{kind} chains" if kind == "normalized" else f"{kind} layers",
                          disable=not progress, leave=False):
            grams = {}
            for how in classifiers:
                if how not in CLASSIFIERS:
                    raise WsmError(f"unknown classifier {how!r}: valid ones are {', '.join(CLASSIFIERS)}")
                center = cfg.standardize and how == "linear"        # the nearest neighbour: the features' cosine
                if center not in grams:
                    grams[center] = (gram or chain.gram)(weights, depth, kind, center=center, progress=progress,
                                                         cache=gram_cache, device=device)
                k = grams[center]
                if "classification" in protocols:
                    c = (classification(k, labels, train_fraction, seed, cfg, null_repeats, source, runs, runs_per_task)
                         if how == "linear" else
                         nearest_classification(k, labels, train_fraction, seed, null_repeats, source, runs,
                                                runs_per_task))
                    rows.append(dict(kind=kind, depth=depth, protocol="classification", metric="top-1",
                                     accuracy=c.top1, n=c.n_test, correct=c.n_correct, null=c.null,
                                     chance=1 / len(np.unique(c.truth)), classifier=how,
                                     predicted_classes=len(np.unique(c.predictions)), collapsed=False,
                                     tested=c.tested, predicted=c.predictions, hits=c.predictions == c.truth))
                if "retrieval" not in protocols or skip_retrieval:
                    continue
                r = (retrieval(k, labels, retrieval_train_fraction, query_fraction, seed, cfg, null_repeats, source,
                               runs, runs_per_task) if how == "linear" else
                     nearest_retrieval(k, labels, retrieval_train_fraction, query_fraction, seed, null_repeats, source,
                                       runs, runs_per_task))
                rows.append(dict(kind=kind, depth=depth, protocol="retrieval", metric="rank-1",
                                 accuracy=r.rank1, n=r.n_queries, correct=round(r.rank1 * r.n_queries),
                                 gallery=r.n_gallery, null=r.null, chance=1 / len(r.test_tasks), classifier=how,
                                 predicted_classes=len(np.unique(r.predictions)), collapsed=r.collapsed,
                                 tested=r.queries, predicted=r.predictions, hits=r.hits))
    for row in rows:
        row["ci_low"], row["ci_high"] = stats.clopper_pearson(row["correct"], row["n"])
        row["p_error_below_alpha"] = stats.error_below_alpha(row["correct"], row["n"], alpha)
        null = row.pop("null")
        if null is not None:
            row["null_mean"], row["null_low"], row["null_high"] = stats.null_band(null)
            row["p_null"] = stats.permutation_p(row["accuracy"], null)
            row["p_null_below"] = stats.permutation_p(-row["accuracy"], -np.asarray(null))   # below the null?
            row["null_repeats"] = len(null)
    table = paired(pd.DataFrame(rows))
    if skip_retrieval:
        table.attrs["notes"] = [f"retrieval not run: {skip_retrieval}"]
    return table


def paired(table):
    """``table`` (:func:`evaluate`'s, or several concatenated) with, on every chain row that has the
    unnormalized layer of the same depth and protocol (and zoo) beside it, the exact one-sided paired
    tests on the same test networks or queries (:func:`wsm.maths.verdicts.paired_p`): ``p_paired`` (the chain
    is better) and ``p_paired_rev`` (the layer is better)."""
    from wsm.maths import verdicts

    if "hits" not in table or table.empty:
        return table
    table = table.copy()
    keys = [c for c in ("zoo", "protocol", "depth", "classifier") if c in table]
    layers = {tuple(r[k] for k in keys): r["hits"] for _, r in table[table.kind == "unnormalized"].iterrows()}
    better, worse = [], []
    for _, r in table.iterrows():
        other = layers.get(tuple(r[k] for k in keys)) if r["kind"] == "normalized" else None
        same_networks = other is not None and len(other) == len(r["hits"])
        p = verdicts.paired_p(r["hits"], other) if same_networks else (np.nan, np.nan)
        better.append(p[0])
        worse.append(p[1])
    return table.assign(p_paired=better, p_paired_rev=worse)


# ---------------------------------------------------------------- cross-network (Section 4.5)


def cross_classification(k: torch.Tensor, labels, source, train_fraction: float = 0.6, seed: int = 0,
                         cfg: ClassifierConfig = ClassifierConfig(), null_repeats: int = 0) -> ClassificationResult:
    """Cross-network weight classification (Section 4.5, Fig. 5 (a)): :func:`classification` with
    ``source``, the boolean mask of Net A's (the Baseline's) networks in ``k``."""
    return classification(k, labels, train_fraction, seed, cfg, null_repeats, source)


def cross_retrieval(k: torch.Tensor, labels, source, train_task_fraction: float = 0.6,
                    query_fraction: float = 0.2, seed: int = 0,
                    cfg: ClassifierConfig = ClassifierConfig(), null_repeats: int = 0) -> RetrievalResult:
    """Cross-network weight retrieval (Section 4.5, Fig. 5 (b)): :func:`retrieval` with ``source``."""
    return retrieval(k, labels, train_task_fraction, query_fraction, seed, cfg, null_repeats, source)


def cross_network(weights_a, labels_a, weights_b, labels_b, depths=(1, 2, 3),
                  kinds=("unnormalized", "normalized"), train_fraction: float = 0.6,
                  retrieval_train_fraction: float = 0.6, query_fraction: float = 0.2, seed: int = 0,
                  cfg: ClassifierConfig = ClassifierConfig(), alpha: float = 0.05, progress: bool = True,
                  null_repeats: int = 0, gram_cache=None, device: str = "cpu", runs_a=None, runs_b=None,
                  runs_per_task: int | None = None, gram=None):
    """Both cross-network protocols of Section 4.5 for every chain/layer: classifiers trained on
    Net A (``weights_a``, the Baseline zoo) tested on Net B (``weights_b``). One Gram matrix over
    the union of both zoos' networks per chain/layer; :func:`evaluate`'s table (and its null).
    ``runs_a``/``runs_b``: each network's run number, so both zoos are split by run identity."""
    weights = list(weights_a) + list(weights_b)
    labels = np.concatenate([np.asarray(labels_a), np.asarray(labels_b)])
    deepest = max(depths)
    shapes = {tuple(tuple(x.shape) for x in w[:deepest]) for w in weights}
    if len(shapes) != 1:
        raise WsmError(f"the first {deepest} weight layers have different shapes in the two zoos "
                       f"({sorted(shapes)}): cross-network testing needs the same weight shapes")
    return evaluate(weights, labels, depths, kinds, train_fraction, retrieval_train_fraction, query_fraction,
                    seed, cfg, alpha, progress, null_repeats, source=np.arange(len(weights)) < len(weights_a),
                    gram_cache=gram_cache, device=device, runs_per_task=runs_per_task, gram=gram,
                    runs=None if runs_a is None else np.concatenate([np.asarray(runs_a), np.asarray(runs_b)]))


def percent(table, alpha: float = 0.05):
    """:func:`evaluate`'s table as the pages show it: ``ours``, ``ci_low``, ``ci_high`` and the null's
    columns in percent, the paper's ``decision`` and a ``feature`` label (C1.. chains, L1.. layers)."""
    table = table.copy()
    table["ours"] = 100 * table.accuracy
    for col in ("ci_low", "ci_high", "null_mean", "null_low", "null_high", "chance"):
        if col in table:
            table[col] = 100 * table[col]
    table["decision"] = [decide(a, alpha) for a in table.accuracy]
    table["feature"] = [paper.feature(k, d) for k, d in zip(table.kind, table.depth)]
    return table


# ---------------------------------------------------------------- your own networks (wsm htt)


SPLITS = 5   # wsm htt: splits per protocol, the first with its exact interval and null, all for the mean and range


def classifier_config(epochs: int = ClassifierConfig.epochs, seed: int = ClassifierConfig.seed) -> ClassifierConfig:
    """The paper's classifier SGD with ``epochs`` epochs, the learning rate cut tenfold after 60% of them."""
    return ClassifierConfig(epochs=epochs, milestones=(max(1, round(0.6 * epochs)),) if epochs > 1 else (), seed=seed)


def content_order(weights, tasks) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An order of the networks and a numbering of the tasks that depend on the weights alone, never
    on the tasks' names, the files' names or the order they were given in: ``(order, codes, runs)``.

    Each network is named by a digest of its weights' bytes; a task by the sorted digests of its
    networks; the tasks are numbered in the order of those, the networks of a task in the order of
    their digests (``runs``: that position). ``order`` lists the networks (positions into
    ``weights``) task by task in that order; ``codes[i]`` and ``runs[i]`` are the task number and run
    of network ``order[i]``. Splits of ``codes`` and ``runs`` (:func:`split_runs`, :func:`split_tasks`)
    therefore do not change when tasks are renamed or files listed in another order."""
    import hashlib

    digests = []
    for net in weights:
        h = hashlib.blake2b(digest_size=16)
        for w in net:
            w = w.detach().cpu().contiguous()
            h.update(repr((tuple(w.shape), str(w.dtype))).encode())
            h.update(w.view(torch.uint8).reshape(-1).numpy().tobytes() if w.numel() else b"")
        digests.append(h.hexdigest())
    tasks = np.asarray([str(t) for t in tasks])
    keys = {t: sorted(d for d, u in zip(digests, tasks) if u == t) for t in np.unique(tasks)}
    number = {t: i for i, t in enumerate(sorted(keys, key=lambda t: keys[t]))}
    order = np.array(sorted(range(len(weights)), key=lambda i: (number[tasks[i]], digests[i], i)), dtype=int)
    codes = np.array([number[tasks[i]] for i in order], dtype=int)
    return order, codes, _positions_in_task(codes)


# ---------------------------------------------------------------- the test as values (wsm's public API)
@dataclass(frozen=True)
class WeightSet:
    """The networks a test reads: each network's chain weights (``weights[i]``: its layers' tensors, as
    :func:`wsm.maths.chain.layer_weights` gives them), the task each was trained on (``tasks``), and, where
    known, each network's run number and the runs per task, so that splits follow (task, run) identities."""

    weights: object
    tasks: object
    runs: object = None
    runs_per_task: int | None = None

    @classmethod
    def of_zoo(cls, zoo) -> "WeightSet":
        """A zoo's usable networks (:class:`wsm.zoos.zoo.Zoo`), split by run identity."""
        w, y = zoo.usable()
        return cls(w, y, zoo.usable_runs(), zoo.config.runs)


@dataclass(frozen=True)
class Test:
    """How the hypothesis is tested (Sections 2-3): the chains and layers (``depths`` of ``kinds``), both
    protocols or some, their split fractions and seed, the weight classifier(s), alpha and the permutation
    null's shuffles. The defaults are the paper's."""

    __test__ = False          # not a pytest test class
    depths: tuple = (1, 2, 3)
    kinds: tuple = ("unnormalized", "normalized")
    protocols: tuple = ("classification", "retrieval")
    train_fraction: float = 0.6
    retrieval_train_fraction: float = 0.6
    query_fraction: float = 0.2
    seed: int = 0
    classifier: ClassifierConfig = ClassifierConfig()
    classifiers: tuple = ("linear",)
    alpha: float = 0.05
    null_repeats: int = 0


def hypothesis_test(networks: WeightSet, test: Test = Test(), progress: bool = False, device: str = "cpu",
                    gram_cache=None):
    """``test`` on ``networks``: :func:`evaluate`'s table, each row judged by the book's rules
    (:func:`judged`): one row per feature, protocol and classifier, with its exact interval and verdict."""
    table = evaluate(networks.weights, networks.tasks, test.depths, test.kinds, test.train_fraction,
                     test.retrieval_train_fraction, test.query_fraction, test.seed, test.classifier, test.alpha,
                     progress, test.null_repeats, test.protocols, gram_cache=gram_cache, device=device,
                     runs=networks.runs, runs_per_task=networks.runs_per_task, classifiers=test.classifiers)
    return judged(table, test.alpha)
