"""Exact binomial statistics for the protocols' accuracies (scipy.stats).

The paper accepts H0 when a test error is below alpha, with no interval. Here every top-1 and
rank-1 also gets its exact (Clopper-Pearson) confidence interval and the p-value of the one-sided
exact binomial test of "the error rate is below alpha" (errors ~ Binomial(n, alpha) under the
boundary case): a small p-value means the observed error is convincingly below alpha; 100% on 8
queries is not (p = 0.95^8 = 0.66).

A permutation null (:func:`wsm.maths.htt.classification` with ``null_repeats``) asks the other question:
is the accuracy above what the same pipeline reaches when labels carry no information? Its
p-value is :func:`permutation_p`, its band :func:`null_band`.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def clopper_pearson(correct: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact two-sided confidence interval of a proportion ``correct / n``."""
    ci = stats.binomtest(int(correct), int(n)).proportion_ci(confidence_level=confidence, method="exact")
    return float(ci.low), float(ci.high)


def error_below_alpha(correct: int, n: int, alpha: float = 0.05) -> float:
    """p-value of the one-sided exact binomial test of H1: error rate < alpha."""
    return float(stats.binomtest(int(n - correct), int(n), alpha, alternative="less").pvalue)


def permutation_p(observed: float, null) -> float:
    """Monte-Carlo permutation p-value of "observed is larger than chance":
    ``(1 + #{null >= observed}) / (1 + R)`` for R null values (never 0; exact when ``null`` holds
    every non-identity permutation). Ties count against the observed value; values within
    ``1e-12`` relative of it count as ties (as ``scipy.stats.permutation_test`` does)."""
    null = np.asarray(null, dtype=float)
    if null.ndim != 1 or not len(null):
        raise ValueError("the null distribution must be a non-empty 1-D array")
    tol = 1e-12 * max(abs(observed), 1.0)
    return float((1 + np.sum(null >= observed - tol)) / (1 + len(null)))


def null_band(null, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and central ``confidence`` band (empirical quantiles) of a null distribution."""
    null = np.asarray(null, dtype=float)
    lo, hi = np.quantile(null, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(null.mean()), float(lo), float(hi)
