"""The verdict rule (wsm.verdicts) on constructed cases: numbers, quoted zeros, claims."""

import numpy as np
import pandas as pd
import pytest

from wsm import stats, verdicts
from wsm.errors import WsmError
from wsm.verdicts import CONSISTENT, INCONSISTENT, UNDERPOWERED


def ci(correct, n):
    lo, hi = stats.clopper_pearson(correct, n)
    return 100 * lo, 100 * hi


def test_the_pinned_cases():
    # 2 of 3 against 98%: [9.4, 99.2] holds 98 and values far below it
    assert verdicts.from_counts(2, 3, 98.0) == UNDERPOWERED
    # 95 of 100 against 99.4%: [88.7, 98.4] excludes 99.4
    assert verdicts.from_counts(95, 100, 99.4) == INCONSISTENT
    # 99 of 100 against 99.4%: [94.6, 99.97] holds 99.4 and excludes everything below 89.4
    assert verdicts.from_counts(99, 100, 99.4) == CONSISTENT
    assert verdicts.verdict(99.4, *ci(99, 100)) == CONSISTENT
    # the examples of the old rule's leniency: 7 of 8 against 99.3% is no agreement either
    assert verdicts.from_counts(7, 8, 99.3) == UNDERPOWERED
    assert verdicts.from_counts(8, 8, 99.3) == UNDERPOWERED


def test_the_width_is_delta_on_both_sides():
    d = verdicts.DELTA
    assert verdicts.verdict(50.0, 50 - d, 50 + d) == CONSISTENT
    assert verdicts.verdict(50.0, 50 - d - 0.1, 50 + d) == UNDERPOWERED
    assert verdicts.verdict(50.0, 50 - d, 50 + d + 0.1) == UNDERPOWERED
    assert verdicts.verdict(50.0, 51.0, 60.0) == INCONSISTENT
    assert verdicts.verdict(50.0, 40.0, 49.0) == INCONSISTENT


def test_bounds_beyond_0_and_100_hold_by_themselves():
    assert verdicts.from_counts(40, 40, 100.0) == CONSISTENT           # [91.2, 100]
    assert verdicts.from_counts(0, 30, 2.4) == CONSISTENT              # [0, 11.6]
    assert verdicts.from_counts(0, 20, 2.4) == UNDERPOWERED            # [0, 16.8]: 12.4 and above not excluded
    assert verdicts.from_counts(10, 10, 100.0) == UNDERPOWERED         # [69.2, 100]


def test_the_papers_rounding_and_about():
    # 100.0% as printed: 99 of 100 ([94.6, 99.97]) is within the printed rounding
    assert verdicts.verdict(100.0, *ci(99, 100)) == CONSISTENT
    assert verdicts.verdict(100.0, 90.0, 99.9) == INCONSISTENT
    # "about 98.0": values 96-100
    assert verdicts.quoted_value("about 98.0") == (98.0, verdicts.APPROXIMATE)
    assert verdicts.quoted_value("99.4%") == (99.4, verdicts.ROUNDING)
    assert verdicts.quoted_value(99.4) == (99.4, verdicts.ROUNDING)
    assert np.isnan(verdicts.quoted_value("not reported in the text")[0])
    assert verdicts.of_row("about 98.0", 99.7, 99.2, 100.0) == CONSISTENT
    assert verdicts.of_row(98.0, 99.7, 99.2, 100.0) == INCONSISTENT
    assert verdicts.of_row("about 98.0", 99.7, 99.2, 100.0, tolerance=verdicts.ROUNDING) == INCONSISTENT
    assert verdicts.of_row("about 98.0", 93.0, 90.0, 95.9) == INCONSISTENT


def test_a_quoted_zero_is_checked_exactly():
    assert verdicts.of_row(0.0, 1e-12) == CONSISTENT
    assert verdicts.of_row(0.0, 6.7e-16, np.nan, np.nan) == CONSISTENT
    assert verdicts.of_row(0.0, 1e-6) == INCONSISTENT
    assert verdicts.of_row(0.0, -1e-6) == INCONSISTENT
    assert verdicts.exact_zero(0.0) == CONSISTENT


def test_rows_without_a_paper_value_or_interval_get_none():
    assert verdicts.of_row(np.nan, 50.0, 40.0, 60.0) is None
    assert verdicts.of_row(None, 50.0, 40.0, 60.0) is None
    assert verdicts.of_row(99.4, 99.0) is None


def test_bad_input_is_refused_clearly():
    with pytest.raises(WsmError, match="no test networks or queries"):
        verdicts.from_counts(0, 0, 99.4)
    with pytest.raises(WsmError, match="between 0 and n"):
        verdicts.from_counts(5, 3, 99.4)
    with pytest.raises(WsmError, match="percentages"):
        verdicts.verdict(99.4, 90.0, 100.9)
    with pytest.raises(WsmError, match="percentages"):
        verdicts.verdict(99.4, 60.0, 50.0)
    with pytest.raises(WsmError, match="both interval bounds"):
        verdicts.verdict(99.4, np.nan, 100.0)
    with pytest.raises(WsmError, match="nothing to combine"):
        verdicts.combine([])
    with pytest.raises(WsmError, match="unknown verdicts"):
        verdicts.combine(["yes"])


def test_the_papers_decision_is_htt_decide_in_percent():
    from wsm import htt
    for value in (2.4, 94.9, 95.0, 95.1, 99.4, 100.0):
        assert verdicts.decision(value, 0.05) == htt.decide(value / 100, 0.05)


def test_combine():
    assert verdicts.combine([CONSISTENT] * 3) == CONSISTENT
    assert verdicts.combine([CONSISTENT, UNDERPOWERED]) == UNDERPOWERED
    assert verdicts.combine([CONSISTENT, UNDERPOWERED, INCONSISTENT]) == INCONSISTENT


# ---------------------------------------------------------------- claims
def cells(*counts):
    bounds = np.array([ci(c, n) for c, n in counts])
    return bounds[:, 0], bounds[:, 1]


def test_holds_claims():
    assert verdicts.holds(*cells((160, 160), (159, 160), (160, 160)), alpha=0.05) == CONSISTENT
    assert verdicts.holds(*cells((2, 3), (3, 3)), alpha=0.05) == UNDERPOWERED         # [9.4, 99.2]: too few
    assert verdicts.holds(*cells((160, 160), (80, 100)), alpha=0.05) == INCONSISTENT  # [70.8, 87.3] < 95
    # the width: every cell must exclude values more than DELTA below 1 - alpha
    assert verdicts.holds([85.0], [100.0], alpha=0.05) == CONSISTENT
    assert verdicts.holds([84.9], [100.0], alpha=0.05) == UNDERPOWERED


def test_fails_claims_and_contrasts():
    res5, depth = cells((40, 100)), cells((100, 100))
    drop = verdicts.below(*res5, *depth)
    assert drop == CONSISTENT
    assert verdicts.fails(*res5, alpha=0.05, contrast=drop) == CONSISTENT
    assert verdicts.fails(*res5, alpha=0.05) == CONSISTENT                          # no contrast drawn
    # every cell high: "low accuracy" is contradicted
    assert verdicts.fails(*cells((160, 160), (158, 160)), alpha=0.05) == INCONSISTENT
    # everything equally low: the drop the paper draws is not shown either way
    flat_a, flat_b = cells((3, 10)), cells((3, 10))
    same = verdicts.below(*flat_a, *flat_b)
    assert same == UNDERPOWERED and verdicts.fails(*flat_a, alpha=0.05, contrast=same) == UNDERPOWERED
    # the contrast reversed (ours wholly above the other zoo's)
    assert verdicts.below(*cells((60, 100)), *cells((10, 100))) == INCONSISTENT
    assert verdicts.fails(*cells((60, 100)), alpha=0.05, contrast=INCONSISTENT) == INCONSISTENT
    with pytest.raises(WsmError, match="matched cells"):
        verdicts.below(*cells((1, 2)), *cells((1, 2), (1, 2)))
    with pytest.raises(WsmError, match="one or more chain cells"):
        verdicts.holds([], [], alpha=0.05)


def test_bottom_up():
    def rows(inorder, out):
        r = [dict(variant="in order", architecture="MLP-4", depth=d, ci_low=ci(*inorder)[0],
                  ci_high=ci(*inorder)[1]) for d in (1, 2, 3)]
        r.append(dict(variant="layer 2 from another run", architecture="MLP-4", depth=2,
                      ci_low=ci(*out)[0], ci_high=ci(*out)[1]))
        return pd.DataFrame(r)

    assert verdicts.bottom_up(rows((100, 100), (30, 100)), 0.05) == CONSISTENT
    # the out-of-order chains are a control, not the claim's evidence: they do not change the verdict
    assert verdicts.bottom_up(rows((100, 100), (99, 100)), 0.05) == CONSISTENT
    assert verdicts.bottom_up(rows((60, 100), (99, 100)), 0.05) == INCONSISTENT     # in order below the bar
    assert verdicts.bottom_up(rows((4, 4), (2, 4)), 0.05) == UNDERPOWERED
    with pytest.raises(WsmError, match="in-order chains"):
        verdicts.bottom_up(rows((4, 4), (2, 4)).assign(variant="x"), 0.05)


@pytest.mark.parametrize("paper", [99.4, 62.9, 2.4, 50.0])
def test_n_needed_is_the_fewest_n_with_a_consistent_outcome(paper):
    n = verdicts.n_needed(paper)
    assert any(verdicts.from_counts(c, n, paper) == CONSISTENT for c in range(n + 1))
    assert not any(verdicts.from_counts(c, n - 1, paper) == CONSISTENT for c in range(n))
    assert verdicts.n_needed(0.0) is None                 # a quoted zero is checked exactly


def test_n_needed_to_hold_is_the_fewest_all_right_that_hold():
    n = verdicts.n_needed_to_hold(0.05)
    assert verdicts.holds(*ci(n, n), 0.05) == CONSISTENT
    assert verdicts.holds(*ci(n - 1, n - 1), 0.05) == UNDERPOWERED


def test_power_says_how_many_would_test_it():
    assert verdicts.power(40, 33, "quick") is None
    assert verdicts.power(8, 33, "quick") == "underpowered at quick scale (n = 8; a test needs n ≥ 33)"


def test_n_needed_most_is_the_largest_need_leaving_out_words_and_zeros():
    pairs = [(99.4, verdicts.ROUNDING), (62.9, verdicts.ROUNDING), (float("nan"), verdicts.ROUNDING), (0.0, 0.05)]
    assert verdicts.n_needed_most(pairs) == verdicts.n_needed(62.9)
    assert verdicts.n_needed_most([(0.0, 0.05), (float("nan"), 0.05)]) is None


def test_the_intervals_behind_n_needed_are_the_exact_ones_of_the_verdicts():
    from wsm import stats

    lo, hi = verdicts._intervals(40)
    for c in range(41):
        assert np.allclose((lo[c], hi[c]), [100 * b for b in stats.clopper_pearson(c, 40)], atol=1e-8)
