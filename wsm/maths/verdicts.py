"""Every rule that judges a result, and the one vocabulary the book uses for its judgements.

A claim of the paper (:mod:`wsm.report.claims`) is judged at the level its evidence reaches:

**The paper's number, at the paper's setting** (:func:`compare`). Only where the measurement's setting
is the paper's (the real dataset, the same tasks and so the same chance, the same split fractions, runs
and schedule the paper's or fewer: :func:`wsm.report.claims.Setting.relation`). Both numbers are estimates:
ours from ``n`` test networks (or queries), the paper's from the paper's own ``n`` (2,000 test networks
and 400 queries in Fig. 2). The rule is symmetric and counts both sampling errors: the 95% interval of
the difference ours - paper (Newcombe's hybrid score interval, from the two Wilson intervals) against a
**material margin** ``M``:

* ``M`` is :data:`DELTA` (10 percentage points: twice alpha, far less than the contrasts the paper draws)
  or, where the paper's own ``n`` lets two faithful replications differ by more than that,
  :data:`MARGIN_HALF_WIDTHS` times the half-width of their difference's 95% interval at the paper's ``n``
  (:func:`margin`): Table 1's numbers, 360 test networks and 80 queries, are such cases;
* **reproduced** -- the whole interval of the difference lies within ``(-M, M)``;
* **materially different** -- the whole interval lies beyond ``M`` on one side;
* **inconclusive** -- neither (the interval straddles ``M``: too few networks, or a difference that is
  real but not shown to be material; the words say which).

A value the paper words as "about X" (Fig. 3) widens the interval by :data:`APPROXIMATE` on each side, a
printed one by :data:`ROUNDING`. Where our setting is *reduced* (fewer runs or a shorter schedule, which can
only lower accuracy), reaching the paper's value supports it and missing it tests nothing: a result below
the paper's that is not reproduced is **not tested**. A faithful replication (the paper's number and ours
drawn from one true accuracy at the paper's ``n``) is called reproduced at least 90% of the time (92-100%
across the paper's numbers) and materially different almost never (below 1e-5) (``tests/test_verdicts.py``
computes both exactly for every number of the paper).

**Predictions that hold at any scale**, tested on every run of a real dataset (:func:`above_null`,
:func:`above_layer`, :func:`near_chance`, :func:`below`): **supported**, **contradicted** or **inconclusive**.

**Not tested**: a degenerate protocol (retrieval whose classifier saw fewer than
:data:`MIN_RETRIEVAL_TASKS` tasks, :func:`wsm.maths.htt.retrieval_problem`), a number measured on a stand-in
dataset or at another chance level, a smoke run. Shown with our value and its chance, never counted as
agreement or disagreement.

A cell of hypothesis-training-testing whose classifier recognised nothing (:func:`untested`: it predicts one
task for every test network, it maps every network to one line, or its accuracy lies within the band of
shuffled task labels) is **not tested** as well: its accuracy says nothing about the weights, only that this
classifier found no task in them (a nearest-neighbour classifier on the same feature may).

**The paper's decision** (accept H0 when the test error is below alpha, :func:`decision`) is a separate
question and stays a separate column.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from wsm.core.errors import WsmError

# ---------------------------------------------------------------- the vocabulary, in reading order
REPRODUCED, DIFFERENT, INCONCLUSIVE = "reproduced", "materially different", "inconclusive"
SUPPORTED, CONTRADICTED = "supported", "contradicted"
NOT_TESTED = "not tested"
MISSING = "missing"                 # a run that should have a cell for the claim and has none
ORDER = (REPRODUCED, SUPPORTED, INCONCLUSIVE, DIFFERENT, CONTRADICTED, NOT_TESTED, MISSING)
# which verdicts each kind of claim can get
FOR_NUMBERS = (REPRODUCED, INCONCLUSIVE, DIFFERENT, NOT_TESTED)
FOR_PREDICTIONS = (SUPPORTED, INCONCLUSIVE, CONTRADICTED, NOT_TESTED)
VERDICTS = tuple(v for v in ORDER if v != MISSING)

DELTA = 10.0            # percentage points: a difference this large is material
MARGIN_HALF_WIDTHS = 2.0  # ... or twice the half-width of two faithful replications' difference at the paper's n
ROUNDING = 0.05         # percentage points: the paper prints one decimal
APPROXIMATE = 2.0       # percentage points: a value the paper words as "about X"
ZERO_TOLERANCE = 1e-9   # a quoted zero (an invariance) is met when ours is below this
MIN_RETRIEVAL_TASKS = 3  # a softmax trained on 2 tasks embeds every network to +-(1, -1)/sqrt(2)
NEAR_CHANCE = 0.1        # "near chance": within a tenth of the way from chance to perfect

CONDITIONAL = ("Each 95% interval is exact (Clopper-Pearson) for the test networks or queries of one zoo, "
               "one split and one trained weight classifier: it is conditional on them and leaves out the "
               "variation between zoos, splits and classifiers.")


def _check_count(correct, n, what: str) -> tuple[int, int]:
    correct, n = int(round(float(correct))), int(n)
    if n < 1:
        raise WsmError(f"{what}: no test networks or queries (n = {n}), so there is no accuracy to compare")
    if not 0 <= correct <= n:
        raise WsmError(f"{what}: correct must lie between 0 and n = {n}, got {correct}")
    return correct, n


def wilson(correct: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson's score interval of ``correct / n`` (fractions)."""
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def difference_interval(correct: int, n: int, paper_correct: int, paper_n: int) -> tuple[float, float, float]:
    """``(d, low, high)`` in percentage points: ours - paper and its 95% interval (Newcombe's hybrid score
    interval, method 10 of Newcombe 1998, from the two Wilson intervals)."""
    p1, p2 = correct / n, paper_correct / paper_n
    l1, u1 = wilson(correct, n)
    l2, u2 = wilson(paper_correct, paper_n)
    d = p1 - p2
    return 100 * d, 100 * (d - np.hypot(p1 - l1, u2 - p2)), 100 * (d + np.hypot(u1 - p1, p2 - l2))


def margin(paper: float, paper_n: int) -> float:
    """The material margin (percentage points) for a paper value ``paper`` (percent) measured on
    ``paper_n`` networks: :data:`DELTA`, or where two faithful replications at ``paper_n`` can differ by
    more, :data:`MARGIN_HALF_WIDTHS` times the wider half of their difference's 95% interval."""
    k = int(round(float(paper) * int(paper_n) / 100))
    d, lo, hi = difference_interval(k, int(paper_n), k, int(paper_n))
    return max(DELTA, MARGIN_HALF_WIDTHS * max(d - lo, hi - d))


def compare(correct, n, paper: float, paper_n: int, tolerance: float = ROUNDING,
            reduced: bool = False) -> tuple[str, str]:
    """Our ``correct`` of ``n`` against the paper's ``paper`` percent of ``paper_n``: ``(verdict, words)``
    (see the module doc). ``reduced``: our setting has fewer runs or a shorter schedule than the paper's."""
    correct, n = _check_count(correct, n, "our result")
    paper = float(paper)
    if not 0 <= paper <= 100 or np.isnan(paper):
        raise WsmError(f"the paper's value must be a percentage, got {paper}")
    paper_correct = int(round(paper * int(paper_n) / 100))
    d, lo, hi = difference_interval(correct, n, paper_correct, int(paper_n))
    lo, hi = lo - tolerance, hi + tolerance
    m = margin(paper, paper_n)
    words = f"ours - paper = {d:+.1f} points [{lo:+.1f}, {hi:+.1f}], material beyond ±{m:.1f}"
    if -m < lo and hi < m:
        return REPRODUCED, words
    if reduced and d < 0:
        return NOT_TESTED, words + "; below the paper's at a reduced setting, which can only lower accuracy"
    if lo > m or hi < -m:
        return DIFFERENT, words
    shown = " (a difference, not shown to be material)" if lo > 0 or hi < 0 else " (too few to tell)"
    return INCONCLUSIVE, words + shown


def n_to_reproduce(paper: float, paper_n: int, tolerance: float = ROUNDING, most: int = 5000) -> int | None:
    """The fewest test networks (or queries) at which our result can be :data:`REPRODUCED` against the
    paper's ``paper`` percent of ``paper_n`` (the outcome nearest the paper's value); None beyond ``most``."""
    for n in range(1, most + 1):
        if compare(round(float(paper) * n / 100), n, paper, paper_n, tolerance)[0] == REPRODUCED:
            return n
    return None


def exact_zero(ours: float) -> str:
    """A quoted zero (an invariance): reproduced when ``|ours|`` is below :data:`ZERO_TOLERANCE`."""
    return REPRODUCED if abs(float(ours)) < ZERO_TOLERANCE else DIFFERENT


def decision(percent: float, alpha: float) -> str:
    """The paper's decision on an accuracy in percent (:func:`wsm.maths.htt.decide`'s rule: accept H0 when
    the test error is below alpha)."""
    return "accept H0" if 100 - float(percent) < 100 * alpha else "reject H0"


def counted(verdicts: Iterable[str]) -> str:
    """The verdicts' counts in words, in reading order (:data:`ORDER`): "2 reproduced, 1 inconclusive";
    '' for none."""
    found = list(verdicts)
    return ", ".join(f"{found.count(v)} {v}" for v in ORDER if v in found)


def combine(verdicts: Iterable[str]) -> str:
    """One verdict for the cells of one claim: the cells not tested are left out; of the rest,
    materially different / contradicted if any is, reproduced / supported if all are, else inconclusive;
    when no cell is tested: not tested if some cell was measured, missing if none was."""
    verdicts = list(verdicts)
    if not verdicts:
        raise WsmError("nothing to combine: no verdicts")
    unknown = set(verdicts) - set(ORDER)
    if unknown:
        raise WsmError(f"unknown verdicts {sorted(unknown)}; expected some of {ORDER}")
    tested = [v for v in verdicts if v not in (NOT_TESTED, MISSING)]
    if not tested:
        return NOT_TESTED if NOT_TESTED in verdicts else MISSING
    for bad in (DIFFERENT, CONTRADICTED):
        if bad in tested:
            return bad
    for good in (REPRODUCED, SUPPORTED):
        if all(v == good for v in tested):
            return good
    return INCONCLUSIVE


# ---------------------------------------------------------------- the paper's bar (accept H0: error < alpha)
def _bounds(ci_low, ci_high) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = np.asarray(ci_low, dtype=float).ravel(), np.asarray(ci_high, dtype=float).ravel()
    if not len(lo) or lo.shape != hi.shape or np.isnan(lo).any() or np.isnan(hi).any():
        raise WsmError("a claim's verdict needs one or more chain cells, each with both interval bounds")
    return lo, hi


def bar_test(ci_low, ci_high, alpha: float) -> str:
    """Where the chain cells' 95% intervals (percent) lie against the paper's bar ``100 (1 - alpha)``:
    ``"below"`` when some interval lies wholly below it (that cell fails the paper's rule for sure),
    ``"at or above"`` when every interval's lower end is within :data:`DELTA` of the bar or above (no cell
    can be materially below it), else ``"unclear"``."""
    lo, hi = _bounds(ci_low, ci_high)
    bar = 100 * (1 - alpha)
    if (hi < bar).any():
        return "below"
    return "at or above" if (lo >= bar - DELTA).all() else "unclear"


def holds(ci_low, ci_high, alpha: float) -> str:
    """"The hypothesis holds / the accuracy stays high" at the paper's setting: reproduced when every
    chain cell is at or above the bar (:func:`bar_test`), materially different when one is below it."""
    return {"below": DIFFERENT, "at or above": REPRODUCED}.get(bar_test(ci_low, ci_high, alpha), INCONCLUSIVE)


def fails(ci_low, ci_high, alpha: float, contrast: str | None = None) -> str:
    """"The accuracy is low / drops / the hypothesis does not hold" at the paper's setting, from the
    chain cells' intervals and the verdict of the contrast the paper draws (:func:`below`; None when it
    draws none): reproduced when a cell is below the bar and the contrast is supported, materially
    different when every cell is at or above the bar or the contrast is contradicted."""
    at = bar_test(ci_low, ci_high, alpha)
    if at == "at or above" or contrast == CONTRADICTED:
        return DIFFERENT
    return REPRODUCED if at == "below" and contrast in (None, SUPPORTED) else INCONCLUSIVE


def below(ours_low, ours_high, theirs_low, theirs_high) -> str:
    """"Ours is lower than theirs", on matched cells' intervals (a prediction at any scale): supported
    when some pair is disjoint with ours lower, contradicted when every pair is disjoint with ours
    higher, else inconclusive."""
    lo, hi = _bounds(ours_low, ours_high)
    their_lo, their_hi = _bounds(theirs_low, theirs_high)
    if lo.shape != their_lo.shape:
        raise WsmError(f"a contrast needs matched cells, got {len(lo)} of ours and {len(their_lo)} of theirs")
    if (hi < their_lo).any():
        return SUPPORTED
    return CONTRADICTED if (lo > their_hi).all() else INCONCLUSIVE


def bottom_up(rows, alpha: float, variant: str = "variant") -> str:
    """The ICLR "bottom-up" claim, on what the page can test: its evidence, "all types of chains can
    achieve high performance": :func:`holds` on the in-order chains (the page's rows: depth, ci_low,
    ci_high in percent; ``rows[variant] == "in order"`` marks them). The out-of-order chains are a
    control, not evidence: swapping or mixing layers breaks the cancellation of hidden-unit
    permutations, so their drop is expected whether or not the semantics are bottom-up."""
    inorder = rows[rows[variant] == "in order"]
    if inorder.empty:
        raise WsmError("the bottom-up claim needs the in-order chains' rows")
    return holds(inorder.ci_low, inorder.ci_high, alpha)


# ---------------------------------------------------------------- predictions that hold at any scale
def min_null_repeats(alpha: float) -> int:
    """The fewest label shuffles at which a permutation p-value, ``(1 + #) / (1 + R)``, can be at most alpha."""
    return int(np.ceil(1 / alpha - 1 - 1e-9))


def above_null(p_null: float, ci_high: float, null_high: float, null_repeats: int, alpha: float) -> str:
    """"The chain is recognised above what shuffled task labels reach": supported when its permutation
    p-value is at most alpha (with at least :func:`min_null_repeats` shuffles), contradicted when even
    its interval's upper end (percent) does not rise above the null's 95% band (where the band is
    known), else inconclusive; not tested without a null of enough shuffles."""
    if any(v is None or np.isnan(float(v)) for v in (p_null, ci_high)) or int(null_repeats) < min_null_repeats(alpha):
        return NOT_TESTED
    if float(p_null) <= alpha:
        return SUPPORTED
    known = null_high is not None and not np.isnan(float(null_high))
    return CONTRADICTED if known and float(ci_high) <= float(null_high) else INCONCLUSIVE


def paired_p(ours_hits, theirs_hits) -> tuple[float, float]:
    """Exact one-sided McNemar p-values on the same test networks (or queries): ``(p ours better,
    p theirs better)``, from the discordant pairs (scipy's exact binomial test at 1/2)."""
    from scipy.stats import binomtest

    a, b = np.asarray(ours_hits, bool), np.asarray(theirs_hits, bool)
    if a.shape != b.shape:
        raise WsmError(f"a paired test needs the same test networks: {a.shape} against {b.shape}")
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    if only_a + only_b == 0:
        return 1.0, 1.0
    return (float(binomtest(only_a, only_a + only_b, 0.5, alternative="greater").pvalue),
            float(binomtest(only_b, only_a + only_b, 0.5, alternative="greater").pvalue))


def above_layer(p_better: float, p_worse: float, alpha: float) -> str:
    """"The chain is recognised better than its own unnormalized layer" (same test networks, exact
    paired test, :func:`paired_p`): supported at p <= alpha, contradicted when the layer is better at
    p <= alpha, else inconclusive."""
    if any(v is None or np.isnan(float(v)) for v in (p_better, p_worse)):
        return NOT_TESTED
    if float(p_better) <= alpha:
        return SUPPORTED
    return CONTRADICTED if float(p_worse) <= alpha else INCONCLUSIVE


def near_chance(ci_low: float, ci_high: float, chance: float) -> str:
    """"A deeper unnormalized layer is recognised near chance", on the scale from chance (0) to perfect
    (1), ``kappa = (accuracy - chance) / (100 - chance)``, which compares runs of different chance levels:
    supported when the whole 95% interval lies within :data:`NEAR_CHANCE` of chance on it, contradicted
    when it lies wholly further above, else inconclusive."""
    if any(v is None or np.isnan(float(v)) for v in (ci_low, ci_high, chance)):
        return NOT_TESTED
    c = float(chance)
    lo, hi = (float(ci_low) - c) / (100 - c), (float(ci_high) - c) / (100 - c)
    if -NEAR_CHANCE <= lo and hi <= NEAR_CHANCE:
        return SUPPORTED
    return CONTRADICTED if lo > NEAR_CHANCE else INCONCLUSIVE


# ---------------------------------------------------------------- a protocol that tested nothing
def untested(protocol: str, predicted_classes: int | None = None, true_classes: int | None = None,
             collapsed: bool = False, accuracy: float | None = None, null_low: float | None = None,
             null_high: float | None = None) -> str | None:
    """Why one cell of hypothesis-training-testing (one feature, protocol and classifier) tested nothing,
    or None: its classifier predicted one task for all of ``true_classes`` > 1 tasks of its test networks
    (``predicted_classes`` == 1: the accuracy is that task's share, whatever the weights hold); its
    retrieval representation put every network on one line (``collapsed``: every cosine is +-1, so ranks
    are decided by rounding); or its ``accuracy`` lies within the 95% band ``[null_low, null_high]`` of
    the same pipeline with shuffled task labels (fractions or percent, all alike): it recognised no task,
    so the cell cannot tell whether the weights or the classifier fail. Such a cell is :data:`NOT_TESTED`,
    neither for nor against H0 (:func:`wsm.maths.htt.judged`)."""
    if protocol == "classification" and predicted_classes == 1 and (true_classes or 0) > 1:
        return (f"the classifier predicts one task for every test network (of {true_classes} tasks), so its "
                "accuracy is that task's share whatever the weights hold")
    if protocol == "retrieval" and collapsed:
        return ("the classifier maps every network of the unseen tasks onto one line (every cosine is +-1), so "
                "rank-1 is decided by rounding")
    known = [v is not None and not np.isnan(float(v)) for v in (accuracy, null_low, null_high)]
    if all(known) and float(null_low) <= float(accuracy) <= float(null_high):
        return ("the accuracy lies within the 95% band of shuffled task labels: the classifier recognises no task, "
                "so this cannot tell whether the weights or the classifier fail")
    return None
