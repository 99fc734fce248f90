"""The one rule that sets our numbers beside the paper's: *consistent*, *inconsistent* or *underpowered*.

Every page's accuracy table, the results CSV and the summary take their verdicts from here.

**A number the paper quotes** (percent) is compared with our exact 95% (Clopper-Pearson) interval:

* **inconsistent** -- the interval excludes the paper's value;
* **consistent** -- the interval holds the paper's value *and* is narrow enough to have excluded a
  materially different one: it excludes every value more than :data:`DELTA` (10 percentage points)
  away from the paper's (``ci_low >= paper - DELTA`` and ``ci_high <= paper + DELTA``; a bound that
  falls beyond 0 or 100 holds by itself);
* **underpowered** -- the interval holds the paper's value and a materially different one too:
  too wide to tell (e.g. 2 of 3 correct, [9.4, 99.2], against the paper's 98%).

The paper prints one decimal, so its value counts as inside when it is within :data:`ROUNDING` of
the interval; a value it words as "about X" (Fig. 3's one "about 98.0%" for twelve bars) within
:data:`APPROXIMATE` (2 points: 96-100, every value still above the paper's 95% threshold, as the
text says the errors are below 5%). :func:`quoted_value` reads both from the paper's words. A
quoted zero (an invariance, Fig. 1 and Eq. 6) is checked exactly: consistent when ours is below
:data:`ZERO_TOLERANCE`, inconsistent otherwise.

Why 10 points: it is twice alpha (the paper's decision threshold is 5 points below 100), far less
than the contrasts the paper draws (normalized chains near 99% against unnormalized layers at
2-85%), and reachable at the sizes the scaled-down profiles can afford (an interval around a value
near 99% stays above paper - 10 from about 33 test networks all correct; one around a value near 3%
stays below paper + 10 from about 27 all wrong). A narrower width would call almost every
scaled-down cell underpowered; a wider one would call a cell at the paper's threshold (95%)
"consistent" with 99%.

The rule treats the paper's value as exact: the paper gives no interval of its own.

**Power.** Below :func:`n_needed` test networks (or queries) no outcome can be consistent with a
value: 99.4% needs 33 (all right), 62.9% needs 98. A cell with fewer is *underpowered at its scale* by
design, whatever its networks do (it can still be inconsistent): pages and the summary say so and
how many would test it (:func:`power`; :func:`wsm.htt.test_size` turns n into runs per task). A
"holds" claim needs :func:`n_needed_to_hold` per chain cell.

**The paper's decision** (accept H0 when the test error is below alpha, :func:`decision`) is a
separate question and stays a separate column.

**A claim the paper words without a number** (Figs. 4-5, the ICLR "bottom-up" claim) becomes a rule
on the exact intervals of the chain cells it is about, with the same width (``bar = 100 (1 - alpha)``):

* "holds" / "still high" (:func:`holds`): inconsistent when some chain cell's interval lies wholly
  below the bar (that cell fails the paper's rule for sure); consistent when every chain cell's
  interval lies at or above ``bar - DELTA`` (none can be materially below it); else underpowered.
* "does not hold" / "low" / "drops" (:func:`fails`): consistent when some chain cell's interval lies
  wholly below the bar and the contrast the paper draws is established (:func:`below`); inconsistent
  when every chain cell's interval lies at or above ``bar - DELTA`` (the zoo is "high" as the holds
  rule counts it), or when the contrast is reversed; else underpowered.
* a contrast "lower than zoo B" (:func:`below`), on cells matched by protocol and chain: established
  when some matched pair of intervals is disjoint with ours lower; reversed when every pair is
  disjoint with ours higher; else underpowered.

Several verdicts about one sentence combine with :func:`combine`: inconsistent if any is,
consistent if all are, else underpowered.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

import numpy as np

from wsm.errors import WsmError

CONSISTENT, INCONSISTENT, UNDERPOWERED = "consistent", "inconsistent", "underpowered"
VERDICTS = (CONSISTENT, INCONSISTENT, UNDERPOWERED)

DELTA = 10.0            # percentage points: a value this far from the paper's is materially different
ROUNDING = 0.05         # percentage points: the paper prints one decimal
APPROXIMATE = 2.0       # percentage points: a value the paper words as "about X"
ZERO_TOLERANCE = 1e-9   # a quoted zero (an invariance) is met when ours is below this

CONDITIONAL = ("Each 95% interval is exact (Clopper-Pearson) for the test networks or queries of one zoo, "
               "one split and one trained weight classifier: it is conditional on them and leaves out the "
               "variation between zoos, splits and classifiers.")


def verdict(paper: float, ci_low: float, ci_high: float, tolerance: float = ROUNDING) -> str:
    """Our exact 95% interval ``[ci_low, ci_high]`` against the paper's ``paper`` value, all in percent
    (see the module doc); ``tolerance``: how far the paper's value may be off as printed (:data:`ROUNDING`,
    or :data:`APPROXIMATE` for "about X"). A quoted zero needs :func:`exact_zero` instead."""
    paper, lo, hi = float(paper), float(ci_low), float(ci_high)
    if np.isnan([paper, lo, hi]).any():
        raise WsmError(f"a verdict needs the paper's value and both interval bounds, got {paper}, [{lo}, {hi}]")
    if not 0 <= lo <= hi <= 100 or not 0 <= paper <= 100:
        raise WsmError(f"percentages must satisfy 0 <= ci_low <= ci_high <= 100 and 0 <= paper <= 100, "
                       f"got paper {paper}, interval [{lo}, {hi}]")
    if paper < lo - tolerance or paper > hi + tolerance:
        return INCONSISTENT
    return CONSISTENT if lo >= paper - DELTA and hi <= paper + DELTA else UNDERPOWERED


def from_counts(correct: int, n: int, paper: float, tolerance: float = ROUNDING) -> str:
    """:func:`verdict` for ``correct`` of ``n`` test networks or queries right (the exact interval
    is computed here)."""
    from wsm import stats

    if int(n) < 1:
        raise WsmError(f"no test networks or queries (n = {n}): there is no accuracy to compare with the paper's")
    if not 0 <= int(correct) <= int(n):
        raise WsmError(f"correct must lie between 0 and n = {n}, got {correct}")
    lo, hi = stats.clopper_pearson(correct, n)
    return verdict(paper, 100 * lo, 100 * hi, tolerance)


def quoted_value(quoted) -> tuple[float, float]:
    """The paper's value and its tolerance from how it is written: a number (``99.4``, ``"99.4%"``:
    :data:`ROUNDING`) or ``"about 98.0"`` (:data:`APPROXIMATE`); NaN for words without a number."""
    if isinstance(quoted, str):
        found = re.search(r"\d+(?:\.\d+)?", quoted)
        tolerance = APPROXIMATE if quoted.strip().lower().startswith("about") else ROUNDING
        return (float(found.group()) if found else np.nan), tolerance
    return (np.nan if quoted is None else float(quoted)), ROUNDING


def _intervals(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The exact 95% intervals (percent) of every count ``0..n`` of ``n`` (Clopper-Pearson, as
    :func:`wsm.stats.clopper_pearson`)."""
    from scipy.stats import beta

    c = np.arange(n + 1)
    with np.errstate(all="ignore"):
        lo = np.where(c == 0, 0.0, beta.ppf(0.025, c, n - c + 1))
        hi = np.where(c == n, 1.0, beta.ppf(0.975, c + 1, n - c))
    return 100 * lo, 100 * hi


@functools.lru_cache(maxsize=None)
def n_needed(paper: float, tolerance: float = ROUNDING, most: int = 5000) -> int | None:
    """The fewest test networks (or queries) at which some outcome is :data:`CONSISTENT` with the
    paper's value ``paper`` (percent) under :func:`verdict`; below it a cell is underpowered or
    inconsistent whatever its networks do. None for a quoted zero (checked exactly, any n) or
    beyond ``most``."""
    paper = float(paper)
    if paper == 0.0:
        return None
    for n in range(1, most + 1):
        lo, hi = _intervals(n)
        # a consistent interval lies within DELTA of the paper's value and holds the outcome c / n
        near = range(max(0, int(np.ceil((paper - DELTA) * n / 100))), min(n, int((paper + DELTA) * n / 100)) + 1)
        if any(verdict(paper, lo[c], hi[c], tolerance) == CONSISTENT for c in near):
            return n
    return None


def n_needed_most(values: Iterable[tuple[float, float]]) -> int | None:
    """The largest :func:`n_needed` of ``(value, tolerance)`` pairs (as :func:`quoted_value` gives
    them), leaving out words (NaN) and quoted zeros; None when none needs one."""
    found = [n_needed(v, t) for v, t in values if not np.isnan(v) and v != 0]
    return max((f for f in found if f is not None), default=None)


def n_needed_to_hold(alpha: float) -> int:
    """The fewest test networks per chain cell at which a "holds" claim (:func:`holds`) can be
    consistent: every one right puts the interval's lower bound at ``100 (1 - alpha) - DELTA``."""
    floor = (100 * (1 - alpha) - DELTA) / 100
    return int(np.ceil(np.log(0.025) / np.log(floor))) if floor > 0 else 1


def power(n: int, needed: int | None, scale: str) -> str | None:
    """None when ``n`` test networks can confirm a value that needs ``needed``; else the words
    "underpowered at <scale> scale (n = 8; a test needs n >= 33)"."""
    if needed is None or int(n) >= needed:
        return None
    return f"underpowered at {scale} scale (n = {int(n)}; a test needs n ≥ {needed})"


def exact_zero(ours: float) -> str:
    """A quoted zero (an invariance): consistent when ``|ours|`` is below :data:`ZERO_TOLERANCE`."""
    return CONSISTENT if abs(float(ours)) < ZERO_TOLERANCE else INCONSISTENT


def of_row(paper, ours: float, ci_low: float = np.nan, ci_high: float = np.nan,
           tolerance: float | None = None) -> str | None:
    """The verdict of one results row: a quoted zero exactly, a quoted accuracy by its interval;
    None where the paper gives no number or the row has no interval. ``paper``: a number or the
    paper's words for it (:func:`quoted_value`, which also gives the tolerance unless one is given)."""
    paper, written = quoted_value(paper)
    tolerance = written if tolerance is None else tolerance
    if np.isnan(paper):
        return None
    if float(paper) == 0.0:
        return exact_zero(ours)
    if ci_low is None or ci_high is None or np.isnan(float(ci_low)) or np.isnan(float(ci_high)):
        return None
    return verdict(paper, ci_low, ci_high, tolerance)


def decision(percent: float, alpha: float) -> str:
    """The paper's decision on an accuracy in percent (:func:`wsm.htt.decide`'s rule: accept H0 when
    the test error is below alpha)."""
    return "accept H0" if 100 - float(percent) < 100 * alpha else "reject H0"


def combine(verdicts: Iterable[str]) -> str:
    """One verdict for several: inconsistent if any is, consistent if all are, else underpowered."""
    verdicts = list(verdicts)
    if not verdicts:
        raise WsmError("nothing to combine: no verdicts")
    unknown = set(verdicts) - set(VERDICTS)
    if unknown:
        raise WsmError(f"unknown verdicts {sorted(unknown)}; expected {VERDICTS}")
    if INCONSISTENT in verdicts:
        return INCONSISTENT
    return CONSISTENT if all(v == CONSISTENT for v in verdicts) else UNDERPOWERED


def _bounds(ci_low, ci_high) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = np.asarray(ci_low, dtype=float).ravel(), np.asarray(ci_high, dtype=float).ravel()
    if not len(lo) or lo.shape != hi.shape or np.isnan(lo).any() or np.isnan(hi).any():
        raise WsmError("a claim's verdict needs one or more chain cells, each with both interval bounds")
    return lo, hi


def holds(ci_low, ci_high, alpha: float) -> str:
    """"Every chain cell passes the paper's rule" (the hypothesis holds, the accuracy stays high),
    from the chain cells' intervals in percent (see the module doc)."""
    lo, hi = _bounds(ci_low, ci_high)
    bar = 100 * (1 - alpha)
    if (hi < bar).any():
        return INCONSISTENT
    return CONSISTENT if (lo >= bar - DELTA).all() else UNDERPOWERED


def fails(ci_low, ci_high, alpha: float, contrast: str | None = None) -> str:
    """"The accuracy is low / drops / the hypothesis does not hold", from the chain cells' intervals
    in percent and the verdict of the contrast the paper draws (:func:`below`; None when it draws none)."""
    lo, hi = _bounds(ci_low, ci_high)
    bar = 100 * (1 - alpha)
    if (lo >= bar - DELTA).all() or contrast == INCONSISTENT:
        return INCONSISTENT
    return CONSISTENT if (hi < bar).any() and contrast in (None, CONSISTENT) else UNDERPOWERED


def below(ours_low, ours_high, theirs_low, theirs_high) -> str:
    """"Ours is lower than theirs", on matched cells' intervals: consistent when some pair is disjoint
    with ours lower, inconsistent when every pair is disjoint with ours higher, else underpowered."""
    lo, hi = _bounds(ours_low, ours_high)
    their_lo, their_hi = _bounds(theirs_low, theirs_high)
    if lo.shape != their_lo.shape:
        raise WsmError(f"a contrast needs matched cells, got {len(lo)} of ours and {len(their_lo)} of theirs")
    if (hi < their_lo).any():
        return CONSISTENT
    return INCONSISTENT if (lo > their_hi).all() else UNDERPOWERED


def bottom_up(rows, alpha: float, variant: str = "variant") -> str:
    """The ICLR "bottom-up" claim, on what the page can test: its evidence, "all types of chains can
    achieve high performance": :func:`holds` on the in-order chains (the page's rows: architecture,
    depth, ci_low, ci_high in percent; ``rows[variant] == "in order"`` marks them). The out-of-order
    chains are a control, not evidence: swapping or mixing layers breaks the cancellation of
    hidden-unit permutations, so their drop is expected whether or not the semantics are bottom-up."""
    inorder = rows[rows[variant] == "in order"]
    if inorder.empty:
        raise WsmError("the bottom-up claim needs the in-order chains' rows")
    return holds(inorder.ci_low, inorder.ci_high, alpha)
