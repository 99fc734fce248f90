"""The reproduction summary: every claim of the paper (:data:`wsm.report.claims.CLAIMS`) under each profile
that was run and each committed larger run, with its verdict at the level its evidence reaches.

What we measured is the results table each executed page writes (:mod:`wsm.report.results`), kept per profile
in ``<results_dir>/profiles/<profile>.csv`` by the papermill runner, and the committed results of
larger runs listed in :data:`COMMITTED`, each labelled by what it is. :func:`table` has one row per
claim as the paper words it; :func:`cells` its cells beneath (one row per number and run);
:func:`tally` counts the verdicts per run, the paper's numbers and claims at their setting apart from
the predictions at any scale; :func:`findings` lists what a run shows plainly against the paper's bar.
The rules are :mod:`wsm.maths.verdicts`'; ``—``: a committed run that does not cover the figure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from wsm.core import paper, paths
from wsm.maths import verdicts
from wsm.report import claims, slices
from wsm.report.table1 import RUN as TABLE1_RUN

PROFILE_ORDER = ("smoke", "quick", "paper")
NOT_RUN = "—"
GROUPS = {"at the paper's setting": claims.AT_PAPER, "predictions at any scale": (claims.PREDICTION,)}
RUN_COLUMNS = ("ours", "n", "verdict", "why")       # one set per run: "<column> (<run>)"


# ---------------------------------------------------------------- committed results of larger runs
@dataclass(frozen=True)
class Committed:
    """A committed results file of a larger run: where it is, which figures it covers, and how to read
    it into results rows (returns the run's label, saying what the run is, and the rows)."""
    path: Path
    figures: tuple[str, ...]
    read: Callable[[Path], tuple[str, pd.DataFrame]]


def paper_slice(path: Path) -> tuple[str, pd.DataFrame]:
    """``bench.paper_slice``'s Fig. 2 cells (columns architecture, protocol, feature, ours, ci_low,
    ci_high, null_mean, p_null, null_repeats, decision, paper, n, tasks, clf_epochs, device) as results
    rows with the setting they were measured at: the paper's zoos (runs, schedules, splits) on the first
    ``tasks`` of its 50 tasks, our weight classifier."""
    from wsm.core import profiles
    from wsm.zoos import nets

    df = pd.read_csv(path)
    p = profiles.parameters("paper", "s4_1_tiny_imagenet")
    device = {"cpu": "CPU"}.get(str(df.device.iloc[0]), str(df.device.iloc[0]))
    label = f"the paper's zoos on {df.tasks.iloc[0]} of {p['n_tasks']} tasks, our classifier ({device})"
    epochs = {"mlp4": p["mlp_epochs"], "plainnet5": p["cnn_epochs"]}
    rows = df.assign(figure="Fig. 2", panel=[paper.FIG2_PANELS[(a, q)] for a, q in zip(df.architecture, df.protocol)],
                     kind=df.feature.str[0].map({"C": "normalized", "L": "unnormalized"}),
                     depth=df.feature.str[1:].astype(int), dataset="Tiny ImageNet", scale=label, profile="paper",
                     data="tiny-imagenet", runs=p["runs"], epochs=df.architecture.map(epochs),
                     train_fraction=p["train_fraction"], retrieval_train_fraction=p["retrieval_train_fraction"],
                     query_fraction=p["query_fraction"],
                     chance=[100 / t if q == "classification" else np.nan for t, q in zip(df.tasks, df.protocol)],
                     architecture=df.architecture.map(nets.LABELS))
    return label, rows.drop(columns=["paper"])


def study(path: Path) -> tuple[str, pd.DataFrame]:
    """The committed zoo-size study (``make study``, :mod:`wsm.analyses.scaling`) as results rows of "Zoo size": one
    per axis, point and feature (a point lies on every axis it is on), its panel naming the point as the
    zoo-size page does; labelled with its size."""
    from wsm.analyses import scaling

    df = scaling.committed(path)
    label = f"the zoo-size study ({int(df.tasks.max())} tasks x {int(df.runs.max())} runs per architecture, CPU)"
    return label, df.assign(figure="Zoo size", profile="study", dataset="Tiny ImageNet", scale=label,
                            panel=[f"{a}: {e} epochs, {t} tasks x {r} runs" for a, e, t, r in
                                   zip(df.axis, df.epoch, df.tasks, df.runs)])


def table1(path: Path) -> tuple[str, pd.DataFrame]:
    """``bench.paper_table1``'s file: the Table 1 page's own results rows (with the setting they were
    measured at) from a run under the ``paper`` profile, labelled with its size and device."""
    df = pd.read_csv(path)
    first = df.iloc[0]
    device = "GPU" if "device cuda" in str(first.get("scale", "")) else "CPU"
    label = (f"Table 1 at the paper's settings ({int(first.tasks)} tasks x {int(first.runs)} runs, "
             f"{int(first.epochs):,} steps, {device})")
    return label, df.assign(scale=label)


COMMITTED = (Committed(slices.GPU_SLICE, ("Fig. 2",), paper_slice),
             Committed(slices.CPU_SLICE, ("Fig. 2",), paper_slice),
             Committed(TABLE1_RUN, ("Table 1", "Section 4.3, chain 2"), table1),
             Committed(paths.REPO / "book" / "scaling" / "study.csv", ("Zoo size",), study))


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
    run's name is its label, which says what it is)."""
    out = {p: Run(df, None) for p, df in measured(results_dir).items()}
    for c in committed:
        if Path(c.path).exists():
            label, rows = c.read(Path(c.path))
            out[label] = Run(rows, tuple(c.figures))
    return out


def _setting(claim: claims.Claim) -> str:
    if claim.kind == claims.NUMBER:
        found = list(dict.fromkeys(f"{c.setting.describe(c.protocol)}, n = {c.paper_n}" for c in claim.cells))
        return "; ".join(found)
    if claim.kind == claims.WORDED:
        return claim.setting.describe()
    return "any (a real dataset)" if claim.kind == claims.PREDICTION else "any"


def _judgements(results_dir, alpha, committed):
    found = runs(results_dir, committed)
    for claim in claims.CLAIMS:
        out = {}
        for name, run in found.items():
            if run.figures is not None and claim.figure not in run.figures:
                out[name] = None
            else:
                out[name] = claims.judge(claim, run.rows, alpha)
        yield claim, out


def table(results_dir: str | Path, alpha: float = paper.ALPHA, committed=COMMITTED) -> pd.DataFrame:
    """One row per claim as the paper words it (:data:`wsm.report.claims.CLAIMS`): figure, claim, what kind,
    quoted, source, the paper's setting, the paper's decision, then for every run (profiles, then
    committed runs) ``ours``, ``n``, ``verdict`` and ``why`` as ``<column> (<run>)``."""
    rows = []
    for claim, judged in _judgements(results_dir, alpha, committed):
        row = {"figure": claim.figure, "claim": claim.sentence, "kind": claim.kind, "quoted": claim.quote,
               "source": claim.source, "the paper's setting": _setting(claim),
               "paper's decision": claim.paper_decision(alpha)}
        for name, j in judged.items():
            if j is None:
                row.update({f"{c} ({name})": NOT_RUN for c in RUN_COLUMNS})
            else:
                row.update({f"ours ({name})": j.ours, f"n ({name})": j.n, f"verdict ({name})": j.verdict,
                            f"why ({name})": j.why})
        rows.append(row)
    return pd.DataFrame(rows)


def cells(results_dir: str | Path, alpha: float = paper.ALPHA, committed=COMMITTED) -> pd.DataFrame:
    """The cells beneath each claim: one row per claim, cell and run (label, the paper's value, ours,
    its 95% interval, n, chance, verdict, why)."""
    rows = []
    for claim, judged in _judgements(results_dir, alpha, committed):
        for name, j in judged.items():
            for c in (j.cells if j is not None else []):
                lo, hi = c.get("ci_low", np.nan), c.get("ci_high", np.nan)
                rows.append({"figure": claim.figure, "claim": claim.sentence, "run": name, "cell": c["label"],
                             "paper": c.get("paper", np.nan), "ours": c.get("ours", np.nan),
                             "95% CI": "—" if np.isnan(lo) else f"{lo:.1f}–{hi:.1f}", "n": c.get("n", np.nan),
                             "chance": c.get("chance", np.nan), "verdict": c["verdict"], "why": c["why"]})
    return pd.DataFrame(rows, columns=["figure", "claim", "run", "cell", "paper", "ours", "95% CI", "n", "chance",
                                       "verdict", "why"])


def run_names(table: pd.DataFrame) -> list[str]:
    """The runs a summary table shows, in its order."""
    return [c[len("verdict ("):-1] for c in table.columns if c.startswith("verdict (")]


def tally(table: pd.DataFrame) -> pd.DataFrame:
    """The headline counts: one row per run, columns (group, verdict): the paper's numbers and claims
    at their setting, and the predictions at any scale; a run's claims about figures it does not cover
    are left out."""
    out = {}
    for run in run_names(table):
        verdict = table[f"verdict ({run})"]
        counts = {}
        for group, kinds in GROUPS.items():
            mine = verdict[table.kind.isin(kinds) & (verdict != NOT_RUN)]
            for v in verdicts.ORDER:
                counts[(group, v)] = int((mine == v).sum())
        out[run] = counts
    frame = pd.DataFrame(out).T
    frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["claims", "verdict"])
    allowed = {"at the paper's setting": verdicts.FOR_NUMBERS, "predictions at any scale": verdicts.FOR_PREDICTIONS}
    keep = [c for c in frame.columns if c[1] in allowed[c[0]] or frame[c].sum() > 0]
    frame = frame[keep]
    frame.index.name = "run"
    return frame


def headline(table: pd.DataFrame, run: str, name: str | None = None) -> str:
    """One sentence per run: its verdicts on the claims at the paper's setting and on the predictions."""
    verdict = table[f"verdict ({run})"]
    covered = verdict != NOT_RUN
    parts = [f"{group}: {verdicts.counted(verdict[covered & table.kind.isin(kinds)]) or 'none'}"
             for group, kinds in GROUPS.items()]
    return f"Under {name or run} ({covered.sum()} claims): " + "; ".join(parts) + "."


def styled(table: pd.DataFrame):
    """The summary table as the page shows it, captioned with what each interval is conditional on."""
    return (table.style.hide(axis="index").set_properties(**{"text-align": "left"})
            .set_caption(verdicts.CONDITIONAL + " Verdicts: wsm.maths.verdicts (the same rules on every page)."))


def conclusion(table: pd.DataFrame, profile: str) -> str:
    """The page's closing sentence (Markdown): the verdicts under ``profile`` and its gaps."""
    if f"verdict ({profile})" not in table:
        return f"**Conclusion.** No results of the `{profile}` profile yet: run its pages first."
    gaps = table[table[f"verdict ({profile})"] == verdicts.MISSING]
    return (f"**Conclusion.** {headline(table, profile, f'the `{profile}` profile')}"
            + (f" Without a number of ours for: {'; '.join(gaps.figure + ': ' + gaps.claim)}." if len(gaps) else ""))


def untested_everywhere(table: pd.DataFrame) -> pd.DataFrame:
    """The claims that no run here tests (not tested, missing or not covered under every run), with the
    reason each run gives."""
    names = run_names(table)
    columns = [f"verdict ({r})" for r in names]
    none = table[columns].isin([verdicts.NOT_TESTED, verdicts.MISSING, NOT_RUN]).all(axis=1)
    return table[none]


def findings(results_dir: str | Path, alpha: float = paper.ALPHA, committed=COMMITTED) -> list[str]:
    """What a run shows plainly: a chain cell of networks trained as the paper trains them (its dataset,
    runs per task and schedule; the number of tasks may differ) whose whole 95% interval lies below the
    paper's bar 100 (1 - alpha) where the paper accepted H0; one sentence each. A reduced zoo (fewer runs
    or epochs) missing the bar tests nothing, so it is no finding."""
    out = []
    for name, run in runs(results_dir, committed).items():
        rows = run.rows
        if rows.empty or "kind" not in rows or name == "smoke":
            continue
        chains = rows[(rows.kind == "normalized") & rows.ci_high.notna()] if "ci_high" in rows else rows.iloc[:0]
        chains = chains[~chains.get("dataset", pd.Series("", index=chains.index)).astype(str).str.contains("STAND-IN")]
        for claim in claims.CLAIMS:
            for cell in (claim.cells if claim.kind == claims.NUMBER else ()):
                if verdicts.decision(cell.value, alpha) != "accept H0":
                    continue
                hit = claims.select(chains, cell.match)
                for _, r in hit.iterrows():
                    run = claims.Setting.of_row(r)
                    trained = run is not None and (run.data, run.runs, run.epochs) == (
                        cell.setting.data, cell.setting.runs, cell.setting.epochs)
                    if trained and float(r.ci_high) < 100 * (1 - alpha) and not claims.degenerate(r):
                        tasks = f" at {int(r.tasks)} tasks (chance {100 / int(r.tasks):.0f}%)" if "tasks" in r and \
                            not pd.isna(r.tasks) and r.protocol == "classification" else ""
                        out.append(f"Under {name}, {claim.figure} {cell.label} {r.protocol} is {float(r.ours):.1f}% "
                                   f"[{float(r.ci_low):.1f}, {float(r.ci_high):.1f}]{tasks}: wholly below the paper's "
                                   f"bar of {100 * (1 - alpha):.0f}%, where the paper reports {cell.value}% and "
                                   "accepts H0.")
    return out


# ---------------------------------------------------------------- claims without numbers (Figs. 4-5)
# The paper states what Figs. 4 and 5 show in words. Each claim becomes a rule on our chain cells
# (normalized features) of the zoo it is about. Two answers:
#   agrees  -- the paper's rule on our point estimates (yes / no):
#     "holds"  -- EVERY chain cell accepts H0 (test error below alpha);
#     "fails"  -- at least one chain cell rejects H0, AND the zoo's mean chain accuracy is below that of
#                 each zoo in ``below`` (the contrast the paper draws).
#   verdict -- reproduced / materially different / inconclusive from the cells' exact intervals
#              (wsm.maths.verdicts.holds / fails, the contrast by wsm.maths.verdicts.below on cells matched by
#              protocol and chain), so that a claim the cells are too few to test says so. The summary
#              counts it only where the zoo's setting is the paper's (wsm.report.claims.judge).


def _with_intervals(cells: pd.DataFrame) -> pd.DataFrame:
    """The cells with their exact 95% intervals in percent (computed from ``ours`` and ``n`` when absent)."""
    if {"ci_low", "ci_high"} <= set(cells.columns):
        return cells
    from wsm.maths import stats

    bounds = np.array([stats.clopper_pearson(round(o * n / 100), n) for o, n in zip(cells.ours, cells.n)])
    return cells.assign(ci_low=100 * bounds[:, 0], ci_high=100 * bounds[:, 1])


def _contrast(cells: pd.DataFrame, other: pd.DataFrame) -> str:
    """"The zoo's chains are lower than the other zoo's" (wsm.maths.verdicts.below), cells matched by protocol
    and chain."""
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
    exact interval ci_low, ci_high, as :func:`wsm.maths.htt.percent` makes it). ``ours`` of the row is the
    mean over the chain cells; ``agrees`` is yes or no; ``verdict`` is reproduced, materially different
    or inconclusive at the zoo's setting (``alpha``: the page's)."""
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


def claim_rows(ours: pd.DataFrame, figure: str, alpha: float = paper.ALPHA, setting=None) -> pd.DataFrame:
    """The results rows of ``figure``'s worded claims (:data:`wsm.report.claims.CLAIMS`, kind WORDED: Figs. 4-5),
    one per claim and zoo it names, each by :func:`claim_row` with the claim's rule, protocol and the
    zoos it is contrasted with; ``setting``: a zoo's name -> its setting columns
    (:meth:`wsm.book.experiments.Page.setting_columns`), so that the summary can tell where it was measured."""
    rows = []
    for c in claims.of_figure(figure):
        if c.kind != claims.WORDED:
            continue
        zoos = c.match["architecture"]
        for zoo in zoos if isinstance(zoos, tuple) else (zoos,):
            row = claim_row(ours, figure, zoo, c.rule, protocol=c.match.get("protocol"), below=list(c.against),
                            alpha=alpha)
            rows.append(row | (setting(zoo) if setting is not None else {}) | {"paper": c.quote})
    return pd.DataFrame(rows)
