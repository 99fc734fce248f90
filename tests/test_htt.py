"""wsm.maths.htt: exactness of the span embedding, equivalence with the paper's (primal) classifier,
both protocols on features with a known answer, CMC, the splits, the decision rule, evaluate."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from wsm.maths import chain, htt
from wsm.core.errors import WsmError

from conftest import gen as _gen

PROPERTY = settings(max_examples=25, deadline=None, derandomize=True, database=None)


pytestmark = pytest.mark.usefixtures("one_thread")



def _centred(x, train):
    """Features centred on the training mean and the scale of htt.embed (unit mean train norm)."""
    xc = x - x[train].mean(0)
    scale = xc[train].pow(2).sum(1).mean().sqrt()
    return xc, scale


# ----------------------------------------------------------------------------------------------
# 1. embed is exact


@PROPERTY
@given(n=st.integers(6, 30), d=st.integers(2, 60), frac=st.sampled_from([0.4, 0.6, 0.8]),
       offset=st.sampled_from([0.0, 5.0]), seed=st.integers(0, 2**31 - 1))
def test_embed_reproduces_centred_inner_products(n, d, frac, offset, seed):
    g = _gen(seed)
    x = offset + torch.randn(n, d, generator=g, dtype=torch.float64)
    perm = torch.randperm(n, generator=g).numpy()
    n_train = max(2, int(frac * n))
    train, test = np.sort(perm[:n_train]), np.sort(perm[n_train:])
    k = x @ x.T

    z = htt.embed(k, train).double()
    xc, scale = _centred(x, train)

    # the dimension is the rank of the centred training features
    assert z.shape == (n, min(d, n_train - 1))
    # training points: Z Z^T = H K_t H / scale^2, and the scale makes the mean squared norm 1
    kc = xc[train] @ xc[train].T
    tol = dict(rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(z[train] @ z[train].T, kc / scale**2, **tol)
    torch.testing.assert_close(z[train].pow(2).sum(1).mean(), torch.tensor(1.0, dtype=torch.float64), **tol)
    if len(test):
        # test points: inner products with the training points are those of the centred features
        torch.testing.assert_close(z[test] @ z[train].T, xc[test] @ xc[train].T / scale**2, **tol)
        # and their norm is that of the orthogonal projection onto the span (not the full norm)
        basis = torch.linalg.svd(xc[train].T, full_matrices=False)[0][:, :z.shape[1]]
        proj = xc[test] @ basis
        torch.testing.assert_close(z[test].pow(2).sum(1), proj.pow(2).sum(1) / scale**2, **tol)


def test_embed_test_point_outside_span_loses_orthogonal_part():
    """d > n: a test point orthogonal to every training feature (after centring) maps to 0."""
    x = torch.zeros(4, 5, dtype=torch.float64)
    x[0, 0], x[1, 1], x[2, 2] = 1.0, 2.0, 3.0
    mu = x[:3].mean(0)
    x[3] = mu + torch.tensor([0.0, 0.0, 0.0, 7.0, 0.0], dtype=torch.float64)
    z = htt.embed(x @ x.T, np.array([0, 1, 2]))
    assert z.shape == (4, 2)
    assert z[3].abs().max() < 1e-6
    assert z[:3].abs().max() > 0.1


# ----------------------------------------------------------------------------------------------
# 2. training in the span is the paper's classifier on the explicit features


def _primal_classifier(x, y, n_classes, cfg):
    """htt.train_classifier's algorithm, reimplemented on explicit d-dimensional float64 features:
    zero-initialised Linear, SGD with momentum, MultiStepLR per epoch, and the same random numbers
    (one torch.Generator seeded with cfg.seed, one randperm per epoch)."""
    gen = torch.Generator().manual_seed(cfg.seed)
    lin = torch.nn.Linear(x.shape[1], n_classes, dtype=torch.float64)
    torch.nn.init.zeros_(lin.weight)
    torch.nn.init.zeros_(lin.bias)
    opt = torch.optim.SGD(lin.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, list(cfg.milestones), gamma=0.1)
    for _ in range(cfg.epochs):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            loss = torch.nn.functional.cross_entropy(lin(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    return lin


@pytest.mark.parametrize("d", [5, 300], ids=["d<n", "d>n"])
@pytest.mark.parametrize("batch_size", [1, 4])
def test_span_classifier_equals_primal_classifier(d, batch_size):
    g = _gen(d + batch_size)
    n_tasks, runs = 4, 8
    labels = np.repeat(np.arange(n_tasks), runs)
    means = torch.randn(n_tasks, d, generator=g, dtype=torch.float64)
    x = 3.0 + means[labels] + 1.5 * torch.randn(len(labels), d, generator=g, dtype=torch.float64)
    train, test = htt.split_runs(labels, 0.6, seed=0)
    cfg = htt.ClassifierConfig(epochs=6, lr=0.05, milestones=(4,), momentum=0.9,
                               batch_size=batch_size, seed=7)
    y = torch.as_tensor(labels[train])

    z = htt.embed(x @ x.T, train)
    span = htt.train_classifier(z[train], y, n_tasks, cfg)
    xc, scale = _centred(x, train)
    primal = _primal_classifier(xc[train] / scale, y, n_tasks, cfg)

    with torch.no_grad():
        for idx in (train, test):
            a, b = span(z[idx]).double(), primal(xc[idx] / scale)
            assert b.abs().max() > 0.2                       # a trained, non-trivial classifier
            err = (a - b).abs().max().item()
            assert err <= 1e-4 * b.abs().max().item(), f"max logit difference {err:.3g}"
        # the primal weights lie in the span of the centred training features
        w = primal.weight.T                                   # d x classes
        basis = torch.linalg.svd(xc[train].T, full_matrices=False)[0][:, :z.shape[1]]
        torch.testing.assert_close(basis @ (basis.T @ w), w, rtol=1e-8, atol=1e-10)


def test_train_classifier_is_deterministic_and_seed_dependent():
    g = _gen(0)
    z = torch.randn(30, 6, generator=g)
    y = torch.randint(0, 3, (30,), generator=g)
    cfg = htt.ClassifierConfig(epochs=2, lr=0.05, seed=3)
    a = htt.train_classifier(z, y, 3, cfg)
    b = htt.train_classifier(z, y, 3, cfg)
    c = htt.train_classifier(z, y, 3, htt.ClassifierConfig(epochs=2, lr=0.05, seed=4))
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    assert not torch.allclose(a.weight, c.weight)


# ----------------------------------------------------------------------------------------------
# 3. both protocols on features with a known answer


def _separable(n_tasks, runs, d, seed, offset=0.0):
    g = _gen(seed)
    labels = np.repeat(np.arange(n_tasks), runs)
    means = 10.0 * torch.randn(n_tasks, d, generator=g, dtype=torch.float64)
    x = offset + means[labels] + 0.01 * torch.randn(len(labels), d, generator=g, dtype=torch.float64)
    return x @ x.T, labels


@pytest.mark.parametrize("d,offset", [(16, 0.0), (200, 0.0), (16, 1000.0)],
                         ids=["d16", "d200", "common-offset"])
def test_protocols_perfect_on_separable_features(d, offset):
    k, labels = _separable(8, 10, d, seed=d, offset=offset)
    c = htt.classification(k, labels, 0.6, seed=0)                 # default ClassifierConfig
    assert (c.n_test, c.n_correct, c.top1) == (32, 32, 1.0)
    assert np.array_equal(c.predictions, c.truth)
    r = htt.retrieval(k, labels, 0.6, 0.2, seed=0)
    assert (r.n_queries, r.n_gallery) == (3 * 2, 3 * 8)
    assert len(r.train_tasks) == 5 and len(r.test_tasks) == 3
    assert not set(r.train_tasks) & set(r.test_tasks)
    assert r.rank1 == 1.0 and np.all(r.cmc == 1.0)


def test_protocols_at_chance_on_noise():
    """20 tasks x 10 runs of pure noise: top-1 chance is 1/20; retrieval rank-1 chance is the
    share of a query's task in the gallery, 8 / 64 (8 unseen tasks, 8 gallery runs each)."""
    n_tasks, runs, d = 20, 10, 100
    labels = np.repeat(np.arange(n_tasks), runs)
    # a shorter, faster schedule than the default; it still fits (memorises) the training noise,
    # so chance-level test accuracy is not the artefact of an untrained (all-zero) classifier
    cfg = htt.ClassifierConfig(epochs=3, lr=0.02, milestones=(2,))
    x = torch.randn(len(labels), d, generator=_gen(100), dtype=torch.float64)
    train, _ = htt.split_runs(labels, 0.6, seed=0)
    z = htt.embed(x @ x.T, train)
    y = torch.as_tensor(labels[train])
    lin = htt.train_classifier(z[train], y, n_tasks, cfg)
    with torch.no_grad():
        assert (lin(z[train]).argmax(1) == y).float().mean() > 0.8
    top1, rank1 = [], []
    for seed in range(5):
        x = torch.randn(len(labels), d, generator=_gen(100 + seed), dtype=torch.float64)
        k = x @ x.T
        c = htt.classification(k, labels, 0.6, seed=seed, cfg=cfg)
        r = htt.retrieval(k, labels, 0.6, 0.2, seed=seed, cfg=cfg)
        assert c.n_test == 80 and (r.n_queries, r.n_gallery) == (16, 64)
        assert c.top1 < 3 * (1 / 20)                       # Bin(80, 0.05) >= 12 has p ~ 6e-4
        assert r.rank1 < 8 / 16                            # Bin(16, 1/8) >= 8 has p ~ 3e-4
        assert r.cmc[-1] == 1.0
        top1.append(c.top1)
        rank1.append(r.rank1)
    # averaged: 400 test runs (sd 0.011 around 0.05) and 80 queries (sd 0.037 around 0.125)
    assert 0.015 <= np.mean(top1) <= 0.10
    assert 0.02 <= np.mean(rank1) <= 0.28


# ----------------------------------------------------------------------------------------------
# 4. CMC


def test_cmc_hand_made():
    sim = np.array([[0.9, 0.1, 0.2, 0.3],      # query 0 (task 0): gallery 0 first -> rank 1
                    [0.8, 0.5, 0.7, 0.1]])     # query 1 (task 1): g0, g2, then g1 -> rank 3
    curve = htt.cmc(sim, np.array([0, 1]), np.array([0, 1, 2, 3]))
    np.testing.assert_array_equal(curve, [0.5, 0.5, 1.0, 1.0])


def test_cmc_ties_broken_by_gallery_order():
    sim = np.ones((2, 4))
    curve = htt.cmc(sim, np.array([7, 9]), np.array([9, 7, 7, 9]))   # first hits at ranks 2 and 1
    np.testing.assert_array_equal(curve, [0.5, 1.0, 1.0, 1.0])


def test_cmc_query_without_match():
    with pytest.raises(WsmError, match="no gallery network of its task"):
        htt.cmc(np.zeros((1, 3)), np.array([5]), np.array([1, 2, 3]))


@PROPERTY
@given(n_q=st.integers(1, 8), n_g=st.integers(1, 12), n_tasks=st.integers(1, 4),
       seed=st.integers(0, 2**31 - 1))
def test_cmc_is_a_cumulative_curve(n_q, n_g, n_tasks, seed):
    rng = np.random.default_rng(seed)
    gallery = rng.integers(0, n_tasks, n_g)
    queries = rng.choice(gallery, n_q)
    sim = rng.normal(size=(n_q, n_g))
    curve = htt.cmc(sim, queries, gallery)
    assert curve.shape == (n_g,)
    assert np.all(np.diff(curve) >= 0) and curve[-1] == 1.0
    # rank 1 is the share of queries whose most similar gallery network is of their task
    assert curve[0] == np.mean(gallery[sim.argmax(1)] == queries)


# ----------------------------------------------------------------------------------------------
# 5. splits


def test_split_runs_per_task_counts():
    counts = {3: 10, 0: 5, 8: 7, 5: 3}          # task id -> runs; ids neither sorted nor contiguous
    labels = np.random.default_rng(0).permutation(np.concatenate([np.full(n, t) for t, n in counts.items()]))
    train, test = htt.split_runs(labels, 0.6, seed=1)
    expected_train = {3: 6, 0: 3, 8: 4, 5: 2}   # round(0.6 n): 6, 3, 4.2 -> 4, 1.8 -> 2
    for t, n in counts.items():
        assert (labels[train] == t).sum() == expected_train[t]
        assert (labels[test] == t).sum() == n - expected_train[t]
    assert not set(train) & set(test)
    assert sorted(np.concatenate([train, test])) == list(range(len(labels)))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
    # deterministic in the seed, and the seed matters
    again = htt.split_runs(labels, 0.6, seed=1)
    assert np.array_equal(again[0], train) and np.array_equal(again[1], test)
    assert not np.array_equal(htt.split_runs(labels, 0.6, seed=2)[0], train)


@PROPERTY
@given(counts=st.lists(st.integers(1, 12), min_size=1, max_size=6),
       frac=st.sampled_from([0.2, 0.4, 0.6, 0.8]), seed=st.integers(0, 1000))
def test_split_runs_property(counts, frac, seed):
    labels = np.concatenate([np.full(n, t) for t, n in enumerate(counts)])
    n_train = [int(round(frac * n)) for n in counts]
    if any(not 0 < m < n for m, n in zip(n_train, counts)):
        with pytest.raises(WsmError, match="runs"):
            htt.split_runs(labels, frac, seed)
        return
    train, test = htt.split_runs(labels, frac, seed)
    assert [int((labels[train] == t).sum()) for t in range(len(counts))] == n_train
    assert len(train) + len(test) == len(labels)
    assert len(np.union1d(train, test)) == len(labels)


def test_split_follows_run_identity_when_a_run_is_missing():
    """A diverged run left out moves no other network to the other side, and cross-network testing
    holds out the same run numbers in both zoos whatever either lacks."""
    labels, runs = np.repeat(np.arange(3), 10), np.tile(np.arange(10), 3)
    train, test = htt.split_runs(labels, 0.6, 0, runs, runs_per_task=10)
    side = {(t, r): "train" for t, r in zip(labels[train], runs[train])} | {
        (t, r): "test" for t, r in zip(labels[test], runs[test])}
    assert sum(v == "train" for v in side.values()) == 18                       # 6 of 10 per task
    dropped = [next(k for k, v in side.items() if k[0] == 1 and v == "test"),
               next(k for k, v in side.items() if k[0] == 2 and v == "train")]
    keep = np.array([(t, r) not in dropped for t, r in zip(labels, runs)])
    train2, test2 = htt.split_runs(labels[keep], 0.6, 0, runs[keep], runs_per_task=10)
    for idx, name in ((train2, "train"), (test2, "test")):
        assert all(side[(t, r)] == name for t, r in zip(labels[keep][idx], runs[keep][idx]))
    # positions instead of identities: the same drop would move networks across
    by_position = htt.split_runs(labels[keep], 0.6, 0)
    moved = [side[(t, r)] for t, r in zip(labels[keep][by_position[0]], runs[keep][by_position[0]])]
    assert "test" in moved
    # cross-network: zoo B lacks one run; A's training run numbers and B's test run numbers never meet
    both = np.concatenate([labels, labels[keep]])
    ids = np.concatenate([runs, runs[keep]])
    source = np.arange(len(both)) < len(labels)
    a_train, b_test = htt._split_source(both, source, 0.6, 0, ids, 10)
    assert source[a_train].all() and not source[b_test].any()
    a_keys = {(t, r) for t, r in zip(both[a_train], ids[a_train])}
    b_keys = {(t, r) for t, r in zip(both[b_test], ids[b_test])}
    assert not a_keys & b_keys and all(side[k] == "train" for k in a_keys) and all(side[k] == "test" for k in b_keys)


def test_split_runs_too_few():
    with pytest.raises(WsmError, match="task 1 has 1 runs"):
        htt.split_runs(np.array([0, 0, 0, 1]), 0.6, seed=0)
    with pytest.raises(WsmError):
        htt.split_runs(np.repeat([0, 1], 5), 0.05, seed=0)       # no training run
    with pytest.raises(WsmError):
        htt.split_runs(np.repeat([0, 1], 5), 0.95, seed=0)       # no test run


def test_split_tasks():
    labels = np.repeat(np.array([10, 2, 7, 4, 9, 1, 3, 8, 5, 6]), 3)
    train, test = htt.split_tasks(labels, 0.6, seed=0)
    assert len(train) == 6 and len(test) == 4
    assert not set(train) & set(test)
    assert sorted(np.concatenate([train, test])) == sorted(np.unique(labels))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
    assert any(not np.array_equal(htt.split_tasks(labels, 0.6, seed=s)[0], train) for s in range(1, 4))


def test_split_tasks_too_few():
    """Retrieval trained on 2 tasks is refused (a 2-class softmax from zero keeps w0 = -w1, so every
    network embeds to +-(1, -1)/sqrt(2)), and so is one unseen task; the message says how many it needs."""
    with pytest.raises(WsmError, match="train on 2 tasks.*needs at least 5 tasks \\(it has 4\\)"):
        htt.split_tasks(np.repeat(np.arange(4), 2), 0.6, seed=0)
    with pytest.raises(WsmError, match="only 1 task is unseen"):
        htt.split_tasks(np.repeat(np.arange(5), 2), 0.9, seed=0)
    train, test = htt.split_tasks(np.repeat(np.arange(5), 2), 0.6, seed=0)   # 3 train, 2 unseen
    assert len(train) == 3 and len(test) == 2
    assert htt.retrieval_problem(5, 0.6) is None and htt.retrieval_problem(4, 0.6)


def test_two_training_tasks_collapse_the_embedding():
    """Why 2 training tasks are refused: the 2-class softmax's rows stay opposite (w0 + w1 = 0 up to
    rounding), so every network's normalized output is +-(1, -1)/sqrt(2)."""
    weights, labels = _zoo(2, 6, seed=3)
    k = chain.gram(weights, 1)
    z = htt.embed(k, np.arange(len(labels)))
    lin = htt.train_classifier(z, torch.as_tensor(labels), 2, htt.ClassifierConfig(epochs=5))
    w = lin.weight.detach()
    assert (w[0] + w[1]).norm() / w.norm() < 1e-5
    out = torch.nn.functional.normalize(lin(z).detach(), dim=1)
    assert torch.allclose(out.abs(), torch.full_like(out, 2 ** -0.5), atol=1e-4)


def test_evaluate_leaves_out_a_retrieval_that_cannot_test_anything():
    weights, labels = _zoo(4, 5, seed=1)
    df = htt.evaluate(weights, labels, depths=(1,), null_repeats=0, progress=False)
    assert set(df.protocol) == {"classification"}
    assert "retrieval not run" in df.attrs["notes"][0]
    with pytest.raises(WsmError, match="retrieval's classifier would train on 2 tasks"):
        htt.evaluate(weights, labels, depths=(1,), protocols=("retrieval",), progress=False)


def test_chain_rows_carry_the_paired_test_against_their_own_layer():
    weights, labels = _zoo(6, 6, seed=2)
    df = htt.evaluate(weights, labels, depths=(1, 2), null_repeats=0, progress=False)
    chains, layers = df[df.kind == "normalized"], df[df.kind == "unnormalized"]
    assert chains.p_paired.between(0, 1).all() and chains.p_paired_rev.between(0, 1).all()
    assert layers.p_paired.isna().all()
    for (_, c), (_, lay) in zip(chains.iterrows(), layers.iterrows()):
        assert (c.protocol, c.depth) == (lay.protocol, lay.depth) and len(c.hits) == len(lay.hits) == c.n
        assert c.hits.sum() == c.correct
    assert np.allclose(df.chance, [1 / 6 if p == "classification" else 1 / 2 for p in df.protocol])


# ----------------------------------------------------------------------------------------------
# 6. decision rule


def test_decide():
    assert htt.decide(0.96, 0.05) == "accept H0"
    assert htt.decide(0.94, 0.05) == "reject H0"
    assert htt.decide(1.0) == "accept H0"
    assert htt.decide(0.5, 0.6) == "accept H0"
    assert htt.decide(0.0) == "reject H0"


# ----------------------------------------------------------------------------------------------
# 7. evaluate


def _zoo(n_tasks, runs, seed, dims=(6, 5, 4, 3), noise=0.05):
    """Small MLP weights: a task-specific component shared by all runs of a task, plus noise."""
    g = _gen(seed)
    shapes = [(b, a) for a, b in zip(dims[:-1], dims[1:])]
    task = [[torch.randn(s, generator=g) for s in shapes] for _ in range(n_tasks)]
    weights = [[w + noise * torch.randn(w.shape, generator=g) for w in task[t]]
               for t in range(n_tasks) for _ in range(runs)]
    return weights, np.repeat(np.arange(n_tasks), runs)


def test_evaluate_table():
    weights, labels = _zoo(5, 5, seed=0)
    df = htt.evaluate(weights, labels, depths=(1, 2, 3), progress=False)
    assert len(df) == 2 * 3 * 2
    keys = set(zip(df["kind"], df["depth"], df["protocol"]))
    assert keys == {(k, d, p) for k in ("unnormalized", "normalized") for d in (1, 2, 3)
                    for p in ("classification", "retrieval")}
    assert df["accuracy"].between(0, 1).all()
    cls, ret = df[df.protocol == "classification"], df[df.protocol == "retrieval"]
    assert (cls["metric"] == "top-1").all() and (ret["metric"] == "rank-1").all()
    assert (cls["n"] == 5 * 2).all()                     # round(0.6 * 5) = 3 train, 2 test per task
    assert (ret["n"] == 2 * 1).all() and (ret["gallery"] == 2 * 4).all()   # 2 unseen tasks
    np.testing.assert_allclose(df["correct"], df["accuracy"] * df["n"])
    # a strong task component with little noise is separable in every layer and chain
    assert (cls["accuracy"] == 1.0).all()


def test_evaluate_subset_of_kinds_and_depths():
    weights, labels = _zoo(5, 5, seed=1)
    df = htt.evaluate(weights, labels, depths=(2,), kinds=("normalized",), progress=False)
    assert list(df["protocol"]) == ["classification", "retrieval"]
    assert (df["kind"] == "normalized").all() and (df["depth"] == 2).all()


def test_embed_raw_keeps_the_uncentred_features():
    """standardize=False (the authors' raw vec(phi)): the training features' inner products are the
    uncentred Gram itself, at its own scale; the default centres and scales them."""
    x = torch.randn(9, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 7 + 3
    k, train = x @ x.T, np.arange(6)
    raw = htt.embed(k, train, standardize=False).double()
    assert torch.allclose(raw[train] @ raw[train].T, k[np.ix_(train, train)], rtol=1e-4, atol=1e-3)
    std = htt.embed(k, train).double()
    assert torch.allclose(std[train].mean(0), torch.zeros(std.shape[1], dtype=torch.float64), atol=1e-5)
    assert abs(std[train].pow(2).sum(1).mean() - 1) < 1e-4


@pytest.mark.parametrize("correct, n, expected", [
    (100, 100, "consistent with H0"),        # interval [0.964, 1]: narrow and at the target
    (6, 6, "underpowered"),                  # 100% of 6: the interval reaches down to 0.54
    (30, 60, "inconsistent with H0"),        # upper end 0.63 < 0.95
    (95, 100, "consistent with H0"),         # [0.887, 0.984]: within wsm.maths.verdicts.DELTA of the target
    (80, 100, "inconsistent with H0"),       # [0.708, 0.873]: even its upper end misses the target
    (0, 1, "underpowered"),                  # 0 of 1: [0, 0.975] still reaches the target
])
def test_evidence_reads_the_exact_interval(correct, n, expected):
    from wsm.maths import stats

    lo, hi = stats.clopper_pearson(correct, n)
    assert htt.evidence(lo, hi, alpha=0.05) == expected


def test_evidence_boundaries_and_judged_columns():
    assert htt.evidence(0.85, 0.97) == "consistent with H0"           # lower end at 1 - alpha - DELTA
    assert htt.evidence(0.849, 0.97) == "underpowered"
    assert htt.evidence(0.5, 0.949) == "inconsistent with H0"
    assert htt.evidence(0.5, 0.95) == "underpowered"                  # upper end at the target
    assert htt.evidence(0.79, 0.99, alpha=0.1) == "underpowered" and htt.evidence(0.79, 0.99, alpha=0.15) == \
        "consistent with H0"
    import pandas as pd

    table = htt.judged(pd.DataFrame(dict(accuracy=[1.0, 0.5], ci_low=[0.96, 0.2], ci_high=[1.0, 0.8])))
    assert table.decision.tolist() == ["accept H0", "reject H0"]
    assert table.evidence.tolist() == ["consistent with H0", "inconsistent with H0"]


@settings(max_examples=40, deadline=None)
@given(st.integers(5, 12), st.integers(3, 25))
def test_test_size_is_what_the_splits_give(n_tasks, runs):
    labels = np.repeat(np.arange(n_tasks), runs)
    _, test = htt.split_runs(labels, 0.6, seed=1)
    assert htt.test_size("classification", n_tasks, runs) == len(test)
    train_tasks, unseen = htt.split_tasks(labels, 0.6, seed=1)
    mask = np.isin(labels, unseen)
    queries, _ = htt.split_runs(labels[mask], 0.2, seed=2)
    assert htt.test_size("retrieval", n_tasks, runs) == len(queries)


def test_runs_needed_is_the_fewest():
    r = htt.runs_needed("classification", 33, 10)
    assert htt.test_size("classification", 10, r) >= 33 > htt.test_size("classification", 10, r - 1)
    with pytest.raises(WsmError, match="unknown protocol 'ranking'"):
        htt.test_size("ranking", 10, 10)


def test_nearest_neighbour_classification_and_retrieval_read_the_cosine():
    """Two tight clusters per task in a 3-D feature space: the nearest neighbour by cosine gets every test
    network and query right, on the splits of the linear protocols, and its null is the label shuffles'."""
    rng = np.random.default_rng(0)
    centres = np.linalg.qr(rng.normal(size=(8, 8)))[0][:6]            # 6 orthonormal task directions
    labels = np.repeat(np.arange(6), 5)
    f = centres[labels] + 0.05 * rng.normal(size=(30, 8))
    k = torch.as_tensor(f @ f.T)
    c = htt.nearest_classification(k, labels, 0.6, seed=3, null_repeats=50)
    linear = htt.classification(k, labels, 0.6, seed=3)
    assert c.top1 == 1.0 and np.array_equal(c.tested, linear.tested)
    assert c.null.mean() < 0.5 and len(c.null) == 50
    r = htt.nearest_retrieval(k, labels, 0.6, 0.4, seed=3, null_repeats=20)
    lin = htt.retrieval(k, labels, 0.6, 0.4, seed=3)
    assert r.rank1 == 1.0 and np.array_equal(r.queries, lin.queries) and list(r.test_tasks) == list(lin.test_tasks)
    assert np.allclose(htt.cosines(k), (f @ f.T) / np.outer(np.linalg.norm(f, axis=1), np.linalg.norm(f, axis=1)))
    scrambled = htt.nearest_classification(torch.as_tensor(np.eye(30) + 0.0), labels, 0.6, seed=3)
    assert scrambled.top1 < 1.0                           # orthogonal features: every cosine 0, no neighbour


def test_content_order_ignores_names_and_order():
    rng = np.random.default_rng(1)
    weights = [[torch.as_tensor(rng.normal(size=(3, 4)))] for _ in range(9)]
    tasks = np.repeat(["a", "b", "c"], 3)
    order, codes, runs = htt.content_order(weights, tasks)
    perm = rng.permutation(9)
    renamed = {"a": "z", "b": "0", "c": "m"}
    order2, codes2, runs2 = htt.content_order([weights[i] for i in perm], [renamed[t] for t in tasks[perm]])
    assert [id(weights[i]) for i in order] == [id(weights[perm[i]]) for i in order2]
    assert np.array_equal(codes, codes2) and np.array_equal(runs, runs2)
    assert np.array_equal(np.bincount(codes), [3, 3, 3]) and set(runs) == {0, 1, 2}
