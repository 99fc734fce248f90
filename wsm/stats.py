"""Exact binomial statistics for the protocols' accuracies (scipy.stats).

The paper accepts H0 when a test error is below alpha, with no interval. Here every top-1 and
rank-1 also gets its exact (Clopper-Pearson) confidence interval and the p-value of the one-sided
exact binomial test of "the error rate is below alpha" (errors ~ Binomial(n, alpha) under the
boundary case): a small p-value means the observed error is convincingly below alpha; 100% on 8
queries is not (p = 0.95^8 = 0.66).
"""

from __future__ import annotations

from scipy import stats


def clopper_pearson(correct: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact two-sided confidence interval of a proportion ``correct / n``."""
    ci = stats.binomtest(int(correct), int(n)).proportion_ci(confidence_level=confidence, method="exact")
    return float(ci.low), float(ci.high)


def error_below_alpha(correct: int, n: int, alpha: float = 0.05) -> float:
    """p-value of the one-sided exact binomial test of H1: error rate < alpha."""
    return float(stats.binomtest(int(n - correct), int(n), alpha, alternative="less").pvalue)
