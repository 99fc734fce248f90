"""The reproduction summary: every sentence of the paper that reports a number (or a claim), beside
ours under each profile that was run and each committed larger run, with a verdict for each.

What the paper reports is :data:`wsm.paper.REPORTED` (quoted, never computed); what we measured is
the results table each executed page writes (:mod:`wsm.results`), kept per profile in
``<results_dir>/profiles/<profile>.csv`` by the papermill runner, and the committed results of larger
runs listed in :data:`COMMITTED`. Each reported item names the results columns that select our row
(``match``), so a page that stops writing a number leaves a visible gap (``missing``) instead of a
silent hole. Items that quote one sentence (Fig. 3's "about 98.0%" for twelve chain cells) make one
row, counted once.

The verdicts (consistent / inconsistent / underpowered) follow :mod:`wsm.verdicts`; a claim's
verdict is the one its page wrote (:func:`claim_row`), or for the ICLR "bottom-up" claim is computed
from that page's rows. ``not assessed``: the row has no interval or the page wrote no verdict
(results from before verdicts existed); ``missing``: the run has no row for it; ``—``: a committed
run that does not cover the figure. A sentence's verdict combines its items' (:func:`wsm.verdicts.combine`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from wsm import paper, paths, verdicts
from wsm.errors import WsmError

PROFILE_ORDER = ("smoke", "quick", "paper")
NOT_ASSESSED, MISSING, NOT_RUN = "not assessed", "missing", "—"
VERDICT_ORDER = (*verdicts.VERDICTS, NOT_ASSESSED, MISSING)
RUN_COLUMNS = ("n", "ours", "95% CI", "null band", "decision", "verdict")   # one set per run: "<column> (<run>)"


# ---------------------------------------------------------------- committed results of larger runs
@dataclass(frozen=True)
class Committed:
    """A committed results file of a larger run: where it is, which figures it covers, and how to read
    it into results rows (returns the run's label, naming its scale, and the rows)."""
    path: Path
    figures: tuple[str, ...]
    read: Callable[[Path], tuple[str, pd.DataFrame]]


def paper_slice(path: Path) -> tuple[str, pd.DataFrame]:
    """``bench.paper_slice``'s Fig. 2 cells (columns architecture, protocol, feature, ours, ci_low,
    ci_high, null_mean, p_null, decision, paper, n, tasks, clf_epochs, device) as results rows."""
    from wsm import profiles

    df = pd.read_csv(path)
    total = profiles.parameters("paper", "s4_1_tiny_imagenet")["n_tasks"]
    label = f"paper settings, {df.tasks.iloc[0]} of {total} tasks, {df.device.iloc[0]}"
    rows = df.assign(figure="Fig. 2", panel=[paper.FIG2_PANELS[(a, p)] for a, p in zip(df.architecture, df.protocol)],
                     kind=df.feature.str[0].map({"C": "normalized", "L": "unnormalized"}),
                     depth=df.feature.str[1:].astype(int), dataset="Tiny ImageNet", scale=label)
    return label, rows


COMMITTED = (Committed(paths.REPO / "book" / "benchmarks" / "paper_slice.csv", ("Fig. 2",), paper_slice),)


# ---------------------------------------------------------------- runs
class Run(NamedTuple):
    rows: pd.DataFrame
    figures: tuple[str, ...] | None     # the figures a committed run covers (None: a profile, all)


def measured(results_dir: str | Path) -> dict[str, pd.DataFrame]:
    """Our results under each profile that was run (``profiles/<profile>.csv``), in profile order."""
    folder = Path(results_dir) / "profiles"
    found = {p.stem: pd.read_csv(p) for p in folder.glob("*.csv")} if folder.exists() else {}
    order = [p for p in PROFILE_ORDER if p in found] + sorted(set(found) - set(PROFILE_ORDER))
    return {p: found[p] for p in order}


def runs(results_dir: str | Path, committed=COMMITTED) -> dict[str, Run]:
    """Every profile run so far, then every committed run whose file exists, by name (a committed
    run's name is its label, which states its scale)."""
    out = {p: Run(df, None) for p, df in measured(results_dir).items()}
    for c in committed:
        if Path(c.path).exists():
            label, rows = c.read(Path(c.path))
            out[label] = Run(rows, tuple(c.figures))
    return out


def _select(df: pd.DataFrame, match: dict) -> pd.DataFrame:
    keep = np.ones(len(df), dtype=bool)
    for column, value in match.items():
        if column not in df.columns:
            return df.iloc[:0]
        col = df[column]
        keep &= (col.astype(str) == str(value)).to_numpy() if isinstance(value, str) else \
            np.isclose(pd.to_numeric(col, errors="coerce").to_numpy(dtype=float), value)
    return df[keep]


# ---------------------------------------------------------------- one item under one run
def _num(row: pd.Series, column: str) -> float:
    value = pd.to_numeric(row.get(column, np.nan), errors="coerce")
    return float(value) if value is not None and not pd.isna(value) else np.nan


# claims whose verdict is computed from their page's rows (when the page wrote none)
_FROM_ROWS = {"ICLR Sec. 4.1 (bottom-up)":
              lambda rows, alpha: verdicts.bottom_up(rows[rows.panel != "claim"], alpha, variant="panel")}


def _cell(item: dict, row: pd.Series, run_rows: pd.DataFrame, alpha: float) -> dict:
    """Ours for one reported item under one run: the numbers, our decision and the verdict."""
    cell = dict(n=_num(row, "n"), ours=_num(row, "ours"), dataset=_dataset_name(row.get("dataset")),
                **{c: _num(row, c) for c in ("ci_low", "ci_high", "null_mean", "null_low", "null_high")})
    if item["value"] is None:                                   # a claim without a number
        written = row.get("verdict")
        if isinstance(written, str) and written in verdicts.VERDICTS:
            cell["verdict"] = written
        elif item["figure"] in _FROM_ROWS:
            try:
                cell["verdict"] = _FROM_ROWS[item["figure"]](_select(run_rows, {"figure": item["figure"]}), alpha)
            except WsmError:          # the page wrote its claim but not the rows it rests on
                cell["verdict"] = NOT_ASSESSED
        else:
            cell["verdict"] = NOT_ASSESSED
        agrees = row.get("agrees")
        cell["decision"] = f"point estimates agree: {agrees}" if isinstance(agrees, str) else NOT_RUN
        return cell
    found = verdicts.of_row(item["value"], cell["ours"], cell["ci_low"], cell["ci_high"],
                            tolerance=verdicts.quoted_value(item["quoted"])[1])
    cell["verdict"] = found or NOT_ASSESSED
    accuracy = not np.isnan(cell["ci_low"])
    cell["decision"] = verdicts.decision(cell["ours"], alpha) if accuracy else NOT_RUN
    return cell


def _dataset_name(described) -> str:
    """A results row's dataset as figure titles name it (the stand-in always says so)."""
    from wsm import data

    if not isinstance(described, str):
        return ""
    for key in data.DATASETS:
        if described in (key, data.describe(key)):
            return data.short_name(key)
    return described


# ---------------------------------------------------------------- one sentence under one run
def _number(value: float) -> str:
    """An accuracy to one decimal; a near-zero invariance residual (Fig. 1, Eq. 6) to three digits."""
    return f"{value:.3g}" if 0 < abs(value) < 0.05 else f"{value:.1f}"


def _span(values, fmt=_number) -> str:
    values = [v for v in values if not np.isnan(v)]
    if not values:
        return NOT_RUN
    lo, hi = min(values), max(values)
    return fmt(lo) if lo == hi else f"{fmt(lo)}–{fmt(hi)}"


def _sentence_columns(cells: list[dict]) -> dict:
    """A run's columns for one sentence, from the cells of its items that the run has."""
    k = len(cells)
    ci = [(c["ci_low"], c["ci_high"]) for c in cells if not np.isnan(c["ci_low"])]
    if not ci:
        interval = NOT_RUN
    elif k == 1:
        interval = f"{ci[0][0]:.1f}–{ci[0][1]:.1f}"
    else:
        interval = f"{len(ci)} intervals within {min(lo for lo, _ in ci):.1f}–{max(hi for _, hi in ci):.1f}"
    one = cells[0]
    if k == 1 and not np.isnan(one["null_low"]):
        null = f"{one['null_mean']:.1f} [{one['null_low']:.1f}–{one['null_high']:.1f}]"
    else:
        null = _span([c["null_mean"] for c in cells])
        null = "means " + null if k > 1 and null != NOT_RUN else null
    decisions = [c["decision"] for c in cells]
    if len(set(decisions)) == 1:
        decision = decisions[0] + (f" (all {k})" if k > 1 else "")
    elif all(d.startswith("point estimates agree") for d in decisions):       # claims
        decision = f"point estimates agree in {sum(d.endswith(': yes') for d in decisions)} of {k}"
    else:
        decision = f"accept H0 in {decisions.count('accept H0')} of {k}"
    found = [c["verdict"] for c in cells]
    if all(v in verdicts.VERDICTS for v in found):
        verdict = verdicts.combine(found)
    else:        # some item could not be assessed: only an inconsistent one decides
        verdict = verdicts.INCONSISTENT if verdicts.INCONSISTENT in found else NOT_ASSESSED
    return {"n": _span([c["n"] for c in cells], "{:.0f}".format) + (f" ({k} items)" if k > 1 else ""),
            "ours": _span([c["ours"] for c in cells]), "95% CI": interval, "null band": null,
            "decision": decision, "verdict": verdict}


def _paper_decision(item: dict, alpha: float) -> str:
    if item["value"] is None:
        return {"holds": "accept H0 (every chain)", "fails": "reject H0 (some chain)"}.get(item.get("expect"), NOT_RUN)
    return NOT_RUN if item["value"] == 0 else verdicts.decision(item["value"], alpha)


def n_to_test(items: list[dict], alpha: float) -> str:
    """The fewest test networks (or queries) per cell at which a sentence's verdict can be consistent:
    :func:`wsm.verdicts.n_needed` of its quoted values (the largest), :func:`wsm.verdicts.n_needed_to_hold`
    for a "holds" claim; '—' where any n can decide (a quoted zero, a "fails" claim)."""
    if items[0]["value"] is None:
        return str(verdicts.n_needed_to_hold(alpha)) if items[0].get("expect") == "holds" else "—"
    tolerance = verdicts.quoted_value(items[0]["quoted"])[1]
    found = verdicts.n_needed_most((i["value"], tolerance) for i in items if i["value"] is not None)
    return "—" if found is None else str(found)


def table(results_dir: str | Path, alpha: float = paper.ALPHA, committed=COMMITTED) -> pd.DataFrame:
    """The summary table, one row per quoted sentence: figure, panel, item (the sentence), quoted, the
    paper's decision, dataset, n to test (:func:`n_to_test`: below it a run's verdict can only be
    underpowered or inconsistent), then for every run (profiles, then committed runs) ``n``, ``ours``,
    ``95% CI``, ``null band``, ``decision`` and ``verdict`` as ``<column> (<run>)``; ``missing`` lists
    the runs that lack some of the sentence's items."""
    found = runs(results_dir, committed)
    groups: dict[tuple[str, str], list[dict]] = {}
    for item in paper.REPORTED:
        groups.setdefault((item["figure"], item["sentence"]), []).append(item)
    rows = []
    for (figure, sentence), items in groups.items():
        panels = list(dict.fromkeys(i["panel"] for i in items if i["panel"] != "claim"))
        row = dict(figure=figure, panel=", ".join(p for p in panels if p), item=sentence, quoted=items[0]["quoted"],
                   **{"paper's decision": _paper_decision(items[0], alpha), "n to test": n_to_test(items, alpha)})
        datasets, missing = {}, []
        for name, run in found.items():
            if run.figures is not None and figure not in run.figures:
                row.update({f"{c} ({name})": NOT_RUN for c in RUN_COLUMNS})
                continue
            cells = []
            for item in items:
                hit = _select(run.rows, item["match"])
                if len(hit) == 1:
                    cells.append(_cell(item, hit.iloc[0], run.rows, alpha))
            if len(cells) < len(items):
                missing.append(name if not cells else f"{name} ({len(items) - len(cells)} of {len(items)})")
            if not cells:
                row.update({f"{c} ({name})": NOT_RUN for c in RUN_COLUMNS} | {f"verdict ({name})": MISSING})
                continue
            row.update({f"{c} ({name})": v for c, v in _sentence_columns(cells).items()})
            datasets[name] = "; ".join(dict.fromkeys(c["dataset"] for c in cells if c["dataset"]))
        names = set(datasets.values())
        row["dataset"] = next(iter(names)) if len(names) == 1 else "; ".join(f"{r}: {d}" for r, d in datasets.items())
        row["missing"] = ", ".join(missing)
        rows.append(row)
    out = pd.DataFrame(rows)
    head = ["figure", "panel", "item", "quoted", "dataset", "paper's decision", "n to test"]
    return out[head + [c for c in out.columns if c not in head + ["missing"]] + ["missing"]]


def run_names(table: pd.DataFrame) -> list[str]:
    """The runs a summary table shows, in its order."""
    return [c[len("verdict ("):-1] for c in table.columns if c.startswith("verdict (")]


def tally(table: pd.DataFrame) -> pd.DataFrame:
    """The headline: how many quoted sentences get each verdict, per run (columns: run, verdict) and
    per page (rows: figure, then ``all``). Sentences a committed run does not cover are left out."""
    names = run_names(table)
    long = table.melt(id_vars="figure", value_vars=[f"verdict ({r})" for r in names], var_name="run",
                      value_name="verdict")
    long = long[long.verdict != NOT_RUN].assign(run=lambda d: d.run.str[len("verdict ("):-1])
    figures = list(dict.fromkeys(table.figure))
    counts = pd.crosstab(long.figure, [long.run, long.verdict]).reindex(figures).fillna(0).astype(int)
    columns = pd.MultiIndex.from_tuples([(r, v) for r in names for v in VERDICT_ORDER if (r, v) in counts.columns],
                                        names=["run", "verdict"])
    counts = counts.reindex(columns=columns, fill_value=0)
    counts.loc["all"] = counts.sum()
    counts.index.name = "page"
    return counts.loc[["all"] + figures]


def headline(table: pd.DataFrame, run: str, name: str | None = None) -> str:
    """One sentence: the verdicts of the quoted sentences under ``run`` (called ``name`` in it)."""
    verdict = table[f"verdict ({run})"]
    counts = verdict[verdict != NOT_RUN].value_counts()
    parts = [f"{counts[v]} {v}" for v in VERDICT_ORDER if counts.get(v, 0)]
    return f"Of {counts.sum()} quoted sentences under {name or run}: " + ", ".join(parts) + "."


def styled(table: pd.DataFrame):
    """The summary table as the page shows it, captioned with what each interval is conditional on."""
    return (table.style.hide(axis="index").set_properties(**{"text-align": "left"})
            .set_caption(verdicts.CONDITIONAL + " Verdicts: wsm.verdicts (the same rule on every page)."))


def conclusion(table: pd.DataFrame, profile: str) -> str:
    """The page's closing sentence (Markdown): the verdicts under ``profile`` and its gaps."""
    if f"verdict ({profile})" not in table:
        return f"**Conclusion.** No results of the `{profile}` profile yet: run its pages first."
    gaps = table[table.missing.str.contains(profile, regex=False)]
    return (f"**Conclusion.** {headline(table, profile, f'the `{profile}` profile')}"
            + (f" Without a number of ours for some or all of: {'; '.join(gaps.item)}." if len(gaps) else ""))


# ---------------------------------------------------------------- claims without numbers (Figs. 4-5)
# The paper states what Figs. 4 and 5 show in words. Each claim becomes a rule on our chain cells
# (normalized features) of the zoo it is about. Two answers:
#   agrees  -- the paper's rule on our point estimates (yes / no):
#     "holds"  -- EVERY chain cell accepts H0 (test error below alpha);
#     "fails"  -- at least one chain cell rejects H0, AND the zoo's mean chain accuracy is below that of
#                 each zoo in ``below`` (the contrast the paper draws).
#   verdict -- consistent / inconsistent / underpowered from the cells' exact intervals
#              (wsm.verdicts.holds / fails, the contrast by wsm.verdicts.below on cells matched by
#              protocol and chain), so that a claim the cells are too few to test says so.


def _with_intervals(cells: pd.DataFrame) -> pd.DataFrame:
    """The cells with their exact 95% intervals in percent (computed from ``ours`` and ``n`` when absent)."""
    if {"ci_low", "ci_high"} <= set(cells.columns):
        return cells
    from wsm import stats

    bounds = np.array([stats.clopper_pearson(round(o * n / 100), n) for o, n in zip(cells.ours, cells.n)])
    return cells.assign(ci_low=100 * bounds[:, 0], ci_high=100 * bounds[:, 1])


def _contrast(cells: pd.DataFrame, other: pd.DataFrame) -> str:
    """"The zoo's chains are lower than the other zoo's" (wsm.verdicts.below), cells matched by protocol and chain."""
    keys = [c for c in ("protocol", "depth") if c in cells.columns and c in other.columns]
    pairs = _with_intervals(cells)[keys + ["ci_low", "ci_high"]].merge(
        _with_intervals(other)[keys + ["ci_low", "ci_high"]], on=keys, suffixes=("", "_b"))
    if pairs.empty:
        raise ValueError("no chain cells to contrast with (matched on " + ", ".join(keys) + ")")
    return verdicts.below(pairs.ci_low, pairs.ci_high, pairs.ci_low_b, pairs.ci_high_b)


def claim_row(ours: pd.DataFrame, figure: str, zoo: str, expect: str, protocol: str | None = None,
              below=(), alpha: float = paper.ALPHA) -> dict:
    """One results row for a worded claim about ``zoo`` (rule ``expect``, see above), from a page's
    percent table (columns zoo, kind, protocol, ours, n, the decision at the page's alpha, and the
    exact interval ci_low, ci_high, as :func:`wsm.htt.percent` makes it). ``ours`` of the row is the
    mean over the chain cells; ``agrees`` is yes or no; ``verdict`` is consistent, inconsistent or
    underpowered (``alpha``: the page's)."""
    if expect not in ("holds", "fails"):
        raise ValueError(f"expect must be 'holds' or 'fails', got {expect!r}")

    def chains(name):
        cells = ours[(ours.zoo == name) & (ours.kind == "normalized")]
        return cells[cells.protocol == protocol] if protocol is not None else cells

    cells = chains(zoo)
    if cells.empty:
        raise ValueError(f"no chain cells of zoo {zoo!r}" + (f" for {protocol}" if protocol else ""))
    mean = float(cells.ours.mean())
    lo, hi = _with_intervals(cells)[["ci_low", "ci_high"]].to_numpy(float).T
    if expect == "holds":
        agrees = bool((cells.decision == "accept H0").all())
        verdict = verdicts.holds(lo, hi, alpha)
    else:
        agrees = bool((cells.decision == "reject H0").any() and all(mean < chains(b).ours.mean() for b in below))
        contrast = verdicts.combine(_contrast(cells, chains(b)) for b in below) if below else None
        verdict = verdicts.fails(lo, hi, alpha, contrast)
    return dict(figure=figure, panel="claim", architecture=zoo, depth=np.nan, kind="normalized",
                protocol=protocol or "both", metric="mean over chains", ours=mean, paper=np.nan,
                n=int(cells.n.sum()), agrees="yes" if agrees else "no", verdict=verdict)
