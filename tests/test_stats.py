import math

import pytest
from scipy import stats as st

from wsm.maths import stats


# Unless noted, pytest.approx's default (rel 1e-6) compares two float64 computations of one number
# (a closed form and scipy's beta/binomial quantiles, a count over a count): they agree to ~1e-12.


def test_clopper_pearson_known_answers():
    lo, hi = stats.clopper_pearson(0, 10)
    assert lo == 0 and hi == pytest.approx(1 - 0.025 ** (1 / 10))
    lo, hi = stats.clopper_pearson(8, 8)
    assert hi == 1 and lo == pytest.approx(0.025 ** (1 / 8))
    lo, hi = stats.clopper_pearson(30, 40)          # against the beta-quantile definition
    assert lo == pytest.approx(st.beta.ppf(0.025, 30, 11)) and hi == pytest.approx(st.beta.ppf(0.975, 31, 10))


def test_error_below_alpha_known_answers():
    assert stats.error_below_alpha(100, 100, 0.05) == pytest.approx(0.95 ** 100)
    assert stats.error_below_alpha(8, 8, 0.05) == pytest.approx(0.95 ** 8)       # 100% on 8 queries: p = 0.66
    # 12 errors in 2,000 (the paper's 99.4%) is far below 5%
    assert stats.error_below_alpha(1988, 2000, 0.05) < 1e-20
    # an error rate at alpha is not evidence: p about one half
    assert 0.4 < stats.error_below_alpha(1900, 2000, 0.05) < 0.6      # a property: p = 0.5 + O(1 / sqrt(n))
    assert stats.error_below_alpha(0, 10, 0.05) == pytest.approx(1.0)
    assert math.isclose(stats.error_below_alpha(95, 100, 0.05), st.binom.cdf(5, 100, 0.05))   # rel 1e-9: both float64


# ----------------------------------------------------------------------------------------------
# permutation null


import itertools

import numpy as np
import torch

from wsm.maths import htt


def test_permutation_p_matches_scipy_permutation_test():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=9), rng.normal(size=9) + 0.5

    def statistic(a, b):
        return np.corrcoef(a, b)[0, 1]

    res = st.permutation_test((x, y), statistic, permutation_type="pairings", n_resamples=199,
                              alternative="greater", random_state=1)
    assert stats.permutation_p(res.statistic, res.null_distribution) == pytest.approx(res.pvalue)


def test_permutation_p_by_enumeration():
    """With the null made of every non-identity permutation, (1 + #null >= obs) / (1 + R) is the exact
    permutation p-value, also scipy's exact answer; here for top-1 agreement of fixed predictions."""
    pred = np.array([0, 0, 1, 1, 2, 2])
    truth = np.array([0, 1, 1, 1, 2, 0])
    observed = (pred == truth).mean()
    perms = list(itertools.permutations(range(6)))
    null = np.array([(pred == truth[list(p)]).mean() for p in perms[1:]])        # perms[0] is the identity
    exact = np.mean([(pred == truth[list(p)]).mean() >= observed for p in perms])
    assert stats.permutation_p(observed, null) == pytest.approx(exact)
    res = st.permutation_test((truth,), lambda t: (pred == t).mean(), permutation_type="pairings",
                              alternative="greater", n_resamples=10**6)
    assert res.pvalue == pytest.approx(exact)
    assert stats.permutation_p(1.0, np.zeros(9)) == pytest.approx(0.1)             # the smallest p, 1 / (1 + R)
    assert stats.permutation_p(0.0, np.zeros(9)) == 1.0                            # ties count against us


def test_null_band():
    mean, lo, hi = stats.null_band(np.arange(1001) / 1000)
    assert mean == pytest.approx(0.5) and lo == pytest.approx(0.025) and hi == pytest.approx(0.975)


@pytest.mark.usefixtures("one_thread")
def test_batched_trainer_equals_train_classifier_and_autograd_reference(rounding):
    g = torch.Generator().manual_seed(3)
    z = torch.randn(30, 12, generator=g)
    y = torch.arange(30) % 5
    ys = torch.stack([y, y[torch.randperm(30, generator=g)], y.flip(0)])
    for bs in (1, 4):
        cfg = htt.ClassifierConfig(epochs=4, lr=0.05, milestones=(2, 3), batch_size=bs, seed=7)
        w, b = htt.train_classifiers(z, ys, 5, cfg)
        for r in (0, 2):
            ref = htt.train_classifier_autograd(z, ys[r], 5, cfg)
            # float32 momentum SGD, the two paths rounding each step's products differently: one
            # rounding of ~eps32 x |w| per step, accumulated linearly over the steps (120 at batch 1,
            # 32 at batch 4; |w| <= 2.7): 3.9e-5 / 3.0e-6. (2e-6 before: the random-walk estimate
            # sqrt(120) x 6e-8 x 2.7 = 1.8e-6, met natively with 8.3e-7.) The last step left out
            # moves the batch-1 weights by 1.1e-3, 28x this bound
            steps = cfg.epochs * -(-len(z) // bs)
            scale = max(ref.weight.abs().max().item(), ref.bias.abs().max().item())
            tol = steps * torch.finfo(torch.float32).eps * scale
            torch.testing.assert_close(w[r], ref.weight.detach(), rtol=0, atol=tol)
            torch.testing.assert_close(b[r], ref.bias.detach(), rtol=0, atol=tol)
        one = htt.train_classifier(z, ys[0], 5, cfg)            # R = 1, same order: the same weights,
        assert torch.equal(one.weight.detach(), w[0]) and torch.equal(one.bias.detach(), b[0])   # bit for bit
        w2, _ = htt.train_classifiers(z, ys[1:], 5, cfg)          # and no replicate depends on the others
        assert torch.equal(w2, w[1:])
        assert w[0].abs().max() > 0.05                            # it did learn something


@pytest.mark.usefixtures("one_thread")
def test_null_of_random_features_is_chance_and_real_signal_beats_it():
    g = torch.Generator().manual_seed(0)
    labels = np.repeat(np.arange(5), 10)
    cfg = htt.ClassifierConfig(epochs=20, lr=0.01, milestones=(15,))
    x = torch.randn(50, 30, generator=g, dtype=torch.float64)
    c = htt.classification(x @ x.T, labels, 0.6, 0, cfg, null_repeats=200)
    assert c.null.shape == (200,)
    # chance = 1/5; a property: one null's top-1 on 20 networks has sd 0.09, the mean of 200 sd 0.006,
    # so 0.03 is ~5 sd, far beyond what a machine's rounding moves in the float32 classifiers
    assert abs(c.null.mean() - 0.2) < 0.03
    assert stats.permutation_p(c.top1, c.null) > 0.01            # random features: not significant
    x = x + 8 * torch.nn.functional.one_hot(torch.as_tensor(labels), 30).double()   # a real signal
    c2 = htt.classification(x @ x.T, labels, 0.6, 0, cfg, null_repeats=200)
    assert c2.top1 > 0.8 and stats.permutation_p(c2.top1, c2.null) == pytest.approx(1 / 201)
    c0 = htt.classification(x @ x.T, labels, 0.6, 0, cfg)        # the observed value does not depend on R
    assert c0.top1 == c2.top1 and c0.null is None
    r = htt.retrieval(x @ x.T, labels, 0.6, 0.2, 0, cfg, null_repeats=50)
    assert r.null.shape == (50,) and r.rank1 > r.null.mean() and r.null.max() <= 1
    r0 = htt.retrieval(x @ x.T, labels, 0.6, 0.2, 0, cfg)         # nor the observed rank-1
    assert (r0.cmc == r.cmc).all() and r0.null is None


def test_evaluate_rows_carry_the_null_columns():
    g = torch.Generator().manual_seed(1)
    nets = [[torch.randn(6, 4, generator=g), torch.randn(5, 6, generator=g)] for _ in range(20)]
    labels = np.repeat(np.arange(4), 5)
    cfg = htt.ClassifierConfig(epochs=3, milestones=(2,))
    plain = htt.evaluate(nets, labels, depths=(1,), cfg=cfg, progress=False)
    assert "p_null" not in plain
    df = htt.evaluate(nets, labels, depths=(1,), cfg=cfg, progress=False, null_repeats=30)
    assert {"null_mean", "null_low", "null_high", "p_null"} <= set(df.columns)
    assert (df.null_low <= df.null_mean).all() and (df.null_mean <= df.null_high).all()
    assert df.p_null.between(1 / 31, 1).all()
    assert (df.accuracy.values == plain.accuracy.values).all()
