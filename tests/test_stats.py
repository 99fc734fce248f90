import math

import pytest
from scipy import stats as st

from wsm import stats


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
    assert 0.4 < stats.error_below_alpha(1900, 2000, 0.05) < 0.6
    assert stats.error_below_alpha(0, 10, 0.05) == pytest.approx(1.0)
    assert math.isclose(stats.error_below_alpha(95, 100, 0.05), st.binom.cdf(5, 100, 0.05))
