"""The reproduction summary: every number (or claim) the paper reports, beside ours under each
profile that was run, and whether they agree.

What the paper reports is :data:`wsm.paper.REPORTED` (quoted, never computed); what we measured is
the results table each executed page writes (:mod:`wsm.results`), kept per profile in
``<results_dir>/profiles/<profile>.csv`` by the papermill runner. Each reported item names the
results columns that select our row (``match``), so a page that stops writing a number leaves a
visible gap (``missing``) instead of a silent hole.

Agreement, for a quoted accuracy: **yes** when the paper's value lies inside our exact 95% interval;
**same decision** when it does not but both sides take the same decision at alpha (error below
alpha or not); **no** otherwise. For a quoted zero (an invariance), yes when ours is below 1e-9.
For a claim without a number, the page's own ``agrees`` verdict is shown when it wrote one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from wsm import paper

PROFILE_ORDER = ("smoke", "quick", "paper")


def reported() -> pd.DataFrame:
    """One row per reported item: figure, panel, item, quoted (as the paper words it), value (or NaN), source."""
    return pd.DataFrame([{k: v for k, v in r.items() if k != "match"} for r in paper.REPORTED])


def measured(results_dir: str | Path) -> dict[str, pd.DataFrame]:
    """Our results under each profile that was run (``profiles/<profile>.csv``), in profile order."""
    folder = Path(results_dir) / "profiles"
    found = {p.stem: pd.read_csv(p) for p in folder.glob("*.csv")} if folder.exists() else {}
    order = [p for p in PROFILE_ORDER if p in found] + sorted(set(found) - set(PROFILE_ORDER))
    return {p: found[p] for p in order}


def _select(df: pd.DataFrame, match: dict) -> pd.DataFrame:
    keep = np.ones(len(df), dtype=bool)
    for column, value in match.items():
        if column not in df.columns:
            return df.iloc[:0]
        col = df[column]
        keep &= (col.astype(str) == str(value)).to_numpy() if isinstance(value, str) else \
            np.isclose(pd.to_numeric(col, errors="coerce").to_numpy(dtype=float), value)
    return df[keep]


def agreement(value: float, row: pd.Series, alpha: float = paper.ALPHA) -> str:
    """yes / same decision / no for a quoted number against one of our rows (see the module doc)."""
    if pd.isna(value):
        verdict = row.get("agrees")
        return str(verdict) if isinstance(verdict, str) and verdict else "not assessed (claim without a number)"
    ours = float(row["ours"])
    if value == 0.0:
        return "yes" if abs(ours) < 1e-9 else "no"
    lo, hi = row.get("ci_low"), row.get("ci_high")
    if lo is not None and hi is not None and not pd.isna(lo) and lo - 1e-9 <= value <= hi + 1e-9:
        return "yes"
    accept = lambda pct: 100 - pct < 100 * alpha
    return "same decision" if accept(ours) == accept(value) else "no"


def table(results_dir: str | Path, alpha: float = paper.ALPHA) -> pd.DataFrame:
    """The summary table: the reported items with ``ours (<profile>)`` and ``agreement (<profile>)``
    for every profile that was run; ``missing`` lists the profiles whose run lacks the item."""
    runs = measured(results_dir)
    rows = []
    for item in paper.REPORTED:
        row = {k: item[k] for k in ("figure", "panel", "item", "quoted")}
        missing = []
        for profile, df in runs.items():
            hit = _select(df, item["match"])
            if len(hit) != 1:
                missing.append(profile)
                row[f"ours ({profile})"], row[f"agreement ({profile})"] = np.nan, "missing"
                continue
            ours = hit.iloc[0]
            row[f"ours ({profile})"] = float(ours["ours"])
            row[f"agreement ({profile})"] = agreement(item["value"], ours, alpha)
        row["missing"] = ", ".join(missing)
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- claims without numbers (Figs. 4-5)
# The paper states what Figs. 4 and 5 show in words. Each claim becomes a rule on our chain cells
# (normalized features) of the zoo it is about, so the summary can say yes or no:
#   "holds"  -- the hypothesis holds / the accuracy stays high: EVERY chain cell accepts H0
#               (test error below alpha, the paper's rule);
#   "fails"  -- the hypothesis does not hold / the accuracy is low or drops: at least one chain cell
#               rejects H0, AND the zoo's mean chain accuracy is below that of each zoo in ``below``
#               (the contrast the paper draws), so that a page where everything fails does not
#               confirm a "drops" claim by default.


def claim_row(ours: pd.DataFrame, figure: str, zoo: str, expect: str, protocol: str | None = None,
              below=()) -> dict:
    """One results row for a worded claim about ``zoo`` (rule ``expect``, see above), from a page's
    percent table (columns zoo, kind, protocol, ours, n, and the decision at the page's alpha, as
    :func:`wsm.htt.percent` makes it). ``ours`` of the row is the mean
    over the chain cells; ``agrees`` is yes or no."""
    if expect not in ("holds", "fails"):
        raise ValueError(f"expect must be 'holds' or 'fails', got {expect!r}")
    cells = ours[(ours.zoo == zoo) & (ours.kind == "normalized")]
    if protocol is not None:
        cells = cells[cells.protocol == protocol]
    if cells.empty:
        raise ValueError(f"no chain cells of zoo {zoo!r}" + (f" for {protocol}" if protocol else ""))
    mean = float(cells.ours.mean())
    if expect == "holds":
        agrees = bool((cells.decision == "accept H0").all())
    else:
        others = [ours[(ours.zoo == b) & (ours.kind == "normalized")
                       & ((ours.protocol == protocol) if protocol else True)].ours.mean() for b in below]
        agrees = bool((cells.decision == "reject H0").any() and all(mean < o for o in others))
    return dict(figure=figure, panel="claim", architecture=zoo, depth=np.nan, kind="normalized",
                protocol=protocol or "both", metric="mean over chains", ours=mean, paper=np.nan,
                n=int(cells.n.sum()), agrees="yes" if agrees else "no")
