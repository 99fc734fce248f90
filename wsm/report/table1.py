"""Table 1 at the paper's settings: the committed run of ``bench.paper_table1`` (issue 34), the first of the
paper's tables this book runs end to end at the paper's own setting (9 NameData tasks x 100 GRU-2 runs,
10,000 batch-1 SGD steps, the paper's weight classifier schedule and splits).

* :func:`cells`: Table 1's four numbers beside the paper's, each judged by the claims rule at its setting
  (:func:`wsm.report.claims.judge`, the same verdicts the summary gives the run);
* :func:`variants`: both protocols under our weight classifier and the authors' raw vec(φ), over split seeds;
* :func:`raw_parts`: the raw layer in two parts, the one no permutation of the hidden units changes and the rest,
  each classified on its own (why a classifier of raw weights can beat chance, and the paper's 17.2%);
* :func:`learning_rates`: the same page on a zoo of its own at the authors' code's learning rate (0.005 throughout;
  the paper's text: 0.1, ÷10 after 7,000 steps), beside the paper's-text run and the paper's numbers;
* :data:`DEVIATIONS`: what still departs from the paper or the authors' code at this setting;
* :func:`section` (the Table 1 page) and :func:`frontpage_lines` (the first page) put them together.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from wsm.core import paper, paths
from wsm.maths import verdicts
from wsm.report import claims, results

RUN = paths.BENCHMARKS / "table1_paper.csv"
CLASSIFIERS = paths.BENCHMARKS / "table1_paper_classifiers.csv"
TIMES = paths.BENCHMARKS / "table1_paper_times.csv"
RAW_PARTS = paths.BENCHMARKS / "table1_paper_raw_parts.csv"
AUTHORS_LR = paths.BENCHMARKS / "table1_paper_authors_lr.csv"
AUTHORS_LR_CLASSIFIERS = paths.BENCHMARKS / "table1_paper_authors_lr_classifiers.csv"
AUTHORS_LR_PARTS = paths.BENCHMARKS / "table1_paper_authors_lr_raw_parts.csv"
FIGURE = "Table 1"
COMMAND = "python -m bench.paper_table1 --zoos zoos"
AUTHORS_LR_COMMAND = ("python -m bench.paper_table1 --zoos zoos-authors-lr --set lr=0.005 --set 'step_milestones=[]' "
                      "--tag authors_lr")

# (detail, the paper or the authors' code, this run): what remains different at the paper's setting; each in full
# on the Deviations page
DEVIATIONS = (
    ("language pairs", "the authors' code pairs files 2i, 2i+1 in directory-listing order (machine-dependent)",
     "files in sorted name order, so the 9 tasks may pair other languages than the authors' did"),
    ("weight classifier's features", "raw vec(φ) (the authors' code)",
     "centred on the training mean and scaled by one scalar; the raw variant is measured beside it on the "
     "same networks"),
    ("retrieval representation", "the classifier's output (with bias), L2-normalized",
     "the projection Θᵀx (no bias), L2-normalized"),
    ("training loop", "one network at a time",
     "many networks at once (batched backprop through time), equal to the one-at-a-time loop to float rounding "
     "(`tests/test_namedata.py`)"),
)


def cells(rows: pd.DataFrame) -> pd.DataFrame:
    """Table 1's four numbers: one row per cell (feature and protocol) with the paper's value and n, ours with
    its 95% interval and n, and the verdict at the run's setting with why (:func:`wsm.report.claims.judge`; a
    run that judges no cell, a smoke run, gives every cell its claim's verdict)."""
    out = []
    for claim in claims.of_figure(FIGURE):
        if claim.kind != claims.NUMBER:
            continue
        j = claims.judge(claim, rows)
        judged = {c["label"]: c for c in j.cells}
        for cell in claim.cells:
            hit = claims.select(rows, cell.match)
            r = hit.iloc[0] if len(hit) == 1 else {}
            c = judged.get(cell.label, dict(verdict=j.verdict, why=j.why))
            out.append(dict(cell=cell.label, paper=cell.value, paper_n=cell.paper_n,
                            **{k: float(r.get(k, float("nan"))) for k in ("ours", "ci_low", "ci_high", "n")},
                            verdict=c["verdict"], why=c["why"]))
    table = pd.DataFrame(out)
    return table.astype({"paper_n": "Int64", "n": "Int64"})     # counts, not floats (a cell not run: <NA>)


def sentence(table: pd.DataFrame) -> str:
    """:func:`cells` in one sentence, each number beside the paper's with its verdict."""
    def ours(r):
        if pd.isna(r.ours):
            return "no result"
        return f"{r.ours:.1f}% [{r.ci_low:.1f}, {r.ci_high:.1f}] (n = {int(r.n)})"

    each = "; ".join(f"{r.cell} {ours(r)} against the paper's {r.paper}% (n = {int(r.paper_n)}): *{r.verdict}*"
                     for r in table.itertuples())
    return f"Table 1 at the paper's settings: {each}."


def variants(table: pd.DataFrame) -> pd.DataFrame:
    """``table1_paper_classifiers.csv`` summarized: per variant, protocol and feature, the mean, lowest and
    highest accuracy over the split seeds, their number and the test networks (or queries) per seed."""
    return results.over_seeds(table, ["variant", "protocol", "feature"])


def _short(variant: str) -> str:
    """A variant's name up to its first colon or comma (``ours``, ``raw vec(φ)``)."""
    return re.split("[:,]", variant)[0]


def variants_sentence(table: pd.DataFrame) -> str:
    """How the classifier choice moves Table 1's cells (chain 1 and layer 1, both protocols): each variant's
    mean (lowest–highest) over the split seeds."""
    s = variants(table)
    s = s[s.feature.isin(["C1", "L1"])]
    seeds = int(s.seeds.min())
    each = "; ".join(f"{f} {p}: " + ", ".join(f"{_short(r.variant)} {r.mean:.1f}% ({r.low:.1f}–{r.high:.1f})"
                                              for r in g.itertuples())
                     for (f, p), g in s.groupby(["feature", "protocol"], sort=False))
    return (f"The same networks under our weight classifier (ours: features centred and scaled) and the authors' "
            f"(raw vec(φ)) over {seeds} split seeds (mean, lowest–highest; no null): {each}.")


def raw_parts(table: pd.DataFrame) -> pd.DataFrame:
    """``table1_paper_raw_parts.csv`` summarized: per part and protocol, the mean, lowest and highest accuracy
    over the split seeds, chance and the test networks (or queries) per seed."""
    return results.over_seeds(table, ["part", "protocol"], chance=("chance", "first"))


def raw_parts_sentence(table: pd.DataFrame) -> str:
    """What each part of the raw layer classifies and retrieves, beside chance (mean, lowest–highest)."""
    s = raw_parts(table)
    each = "; ".join(f"{part}: " + ", ".join(f"{r.protocol} {r.mean:.1f}% ({r.low:.1f}–{r.high:.1f}, chance "
                                             f"{r.chance:.1f}%)" for r in g.itertuples())
                     for part, g in s.groupby("part", sort=False))
    return ("The raw layer `weight_ih_l0` has a part no permutation of the hidden units changes, each gate's column "
            "sums over its hidden units (3 × 58 numbers, linear in the weights, so a linear classifier of the raw "
            "layer can read them), and the rest (each gate centred over its hidden units; "
            "`wsm.maths.chain.invariant_split`). Each classified on its own with our classifier over "
            f"{int(s.seeds.min())} split seeds (no null): {each}." + _parts_reading(s))


def _parts_reading(s: pd.DataFrame) -> str:
    """Whether the invariant part (the first) classifies better than the rest (the second) on every split seed."""
    c = s[s.protocol == "classification"].set_index("part")
    if len(c) != 2:
        return ""
    invariant, rest = c.iloc[0], c.iloc[1]
    if invariant["low"] > rest["high"]:
        return (" The invariant part classifies better than the rest on every split seed, and a linear classifier of "
                "the raw layer can read it: the unnormalized baseline is not blind to the permutation symmetry.")
    return " Neither part classifies better than the other on every split seed."


def _lr(rows: pd.DataFrame) -> str:
    """The learning rate and schedule a run's page trained at, read from its rows' ``scale`` (as
    :mod:`wsm.book.experiments` words it: "... lr 0.1 / 10 after 7000")."""
    m = re.search(r"lr ([0-9.e-]+) / 10 after (\w+)", str(rows.scale.iloc[0])) if "scale" in rows else None
    if m is None:
        return "?"
    return f"lr {m[1]}" + (", no decay" if m[2] == "never" else f", ÷10 after {int(m[2]):,} steps")


def learning_rates(paper_run: pd.DataFrame, authors_run: pd.DataFrame) -> pd.DataFrame:
    """Each cell of both runs (every chain and the raw layer, both protocols): ours with its 95% interval at the
    paper's text's learning rate and at the authors' code's, the paper's number, and the difference between the
    two runs (authors' − paper's text, points, with its 95% interval: independent zoos,
    :func:`wsm.maths.verdicts.difference_interval`)."""
    key = ["protocol", "kind", "depth"]
    a, b = (r.set_index(key) for r in (paper_run, authors_run))
    quoted = dict(zip(*cells(paper_run)[["cell", "paper"]].T.values))
    out = []
    for k in a.index.intersection(b.index):
        x, y = a.loc[k], b.loc[k]
        hx, hy = round(x.ours * x.n / 100), round(y.ours * y.n / 100)
        d, lo, hi = verdicts.difference_interval(hy, int(y.n), hx, int(x.n))
        feature = paper.feature(k[1], int(k[2]))
        out.append({"cell": f"{feature} {k[0]}", "paper": quoted.get(f"{feature} {k[0]}", "—"),
                    f"ours, {_lr(paper_run)}": f"{x.ours:.1f} [{x.ci_low:.1f}, {x.ci_high:.1f}]",
                    f"ours, {_lr(authors_run)}": f"{y.ours:.1f} [{y.ci_low:.1f}, {y.ci_high:.1f}]",
                    "authors' lr − paper's lr [95% CI]": f"{d:+.1f} [{lo:+.1f}, {hi:+.1f}]", "n": int(y.n),
                    "d": d, "d_low": lo, "d_high": hi})
    return pd.DataFrame(out)


def _shown(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=["d", "d_low", "d_high"])


def learning_rates_sentence(paper_run: pd.DataFrame, authors_run: pd.DataFrame, paper_parts=None,
                            authors_parts=None, authors_classifiers=None) -> str:
    """Table 1's four cells at the authors' code's learning rate against the paper's numbers (the claims rule,
    read as if at the paper's setting: only the learning rate differs), what the learning rate moves, and where
    given, the raw layer's parts at both rates and the authors' classifier at theirs."""
    judged, text = cells(authors_run), cells(paper_run)
    each = "; ".join(f"{r.cell} {r.ours:.1f}% [{r.ci_low:.1f}, {r.ci_high:.1f}] against the paper's {r.paper}%: "
                     f"*{r.verdict}*" for r in judged.itertuples())
    table = learning_rates(paper_run, authors_run)
    moved = [f"{r.cell} {r.d:+.1f} points [{r.d_low:+.1f}, {r.d_high:+.1f}]" for r in table.itertuples()
             if r.d_low > 0 or r.d_high < 0]
    moves = ("Against the paper's-text run, the learning rate moves " + "; ".join(moved) if moved else
             "The learning rate moves no cell beyond its interval")
    out = (f"**At the authors' code's learning rate** ({_lr(authors_run)}; the paper's text: {_lr(paper_run)}), "
           f"on a zoo of its own, otherwise the setting above: {each} (the claims rule, read as if at the paper's "
           f"setting, which this run shares but for the learning rate). Table 1's {len(judged)} cells: "
           f"{verdicts.counted(judged.verdict)} at the authors' code's rate; {verdicts.counted(text.verdict)} at "
           f"the paper's text's. {moves}.")
    if authors_classifiers is not None:
        v = variants(authors_classifiers)
        raw = v[(v.feature == "L1") & (v.protocol == "classification") & ~v.variant.str.startswith("ours")]
        out += "".join(f" Under the authors' {_short(r.variant)} classifier, L1 classification at their rate is "
                       f"{r.mean:.1f}% ({r.low:.1f}–{r.high:.1f}) over {r.seeds} split seeds."
                       for r in raw.itertuples())
    if paper_parts is not None and authors_parts is not None:
        out += _parts_at_rates(raw_parts(paper_parts), raw_parts(authors_parts))
    return out


def _parts_at_rates(at_text: pd.DataFrame, at_authors: pd.DataFrame) -> str:
    """Each part of the raw layer's classification at the two learning rates (mean, lowest–highest over seeds)."""
    a, p = (t[t.protocol == "classification"].set_index("part") for t in (at_authors, at_text))
    both = [part for part in p.index if part in a.index]
    if not both:
        return ""
    each = "; ".join(f"{part}: {a.loc[part, 'mean']:.1f}% ({a.loc[part, 'low']:.1f}–{a.loc[part, 'high']:.1f}) "
                     f"against {p.loc[part, 'mean']:.1f}% ({p.loc[part, 'low']:.1f}–{p.loc[part, 'high']:.1f})"
                     for part in both)
    out = (f" The raw layer's two parts, classified at the authors' rate against the paper's text's (chance "
           f"{a.chance.iloc[0]:.1f}%): {each}.")
    if a.loc[both[0], "high"] < p.loc[both[0], "low"]:
        out += " At the authors' rate the invariant part carries less of the task, on every split seed."
    return out


def _at_authors_lr(rows: pd.DataFrame, parts, run: Path, classifiers: Path, run_parts: Path):
    """The committed run at the authors' code's learning rate beside the paper's-text run ``rows`` (and its raw
    layer's ``parts``, or None): ``(sentence, table)``, or None where it was not run."""
    other = results.committed(run)
    if other is None:
        return None
    return (learning_rates_sentence(rows, other, parts, results.committed(run_parts), results.committed(classifiers)),
            _shown(learning_rates(rows, other)))


def deviations() -> pd.DataFrame:
    return pd.DataFrame(DEVIATIONS, columns=["detail", "the paper / the authors' code", "this run"])


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:,.1f} h" if seconds >= 7200 else f"{seconds / 60:,.1f} min"


def _times(times: pd.DataFrame) -> str:
    first = times.iloc[0]
    where = ", ".join(str(first[k]) for k in ("machine", "date", "commit") if k in times and pd.notna(first[k]))
    return "Wall time per stage (" + where + "): " + "; ".join(
        f"{r.stage}: {_duration(r.seconds)}" for r in times.itertuples()) + "."


def section(run: Path = RUN, classifiers: Path = CLASSIFIERS, times: Path = TIMES, parts: Path = RAW_PARTS,
            authors_lr: Path = AUTHORS_LR, authors_lr_classifiers: Path = AUTHORS_LR_CLASSIFIERS,
            authors_lr_parts: Path = AUTHORS_LR_PARTS) -> list:
    """What the Table 1 page shows of the committed runs, in order: sentences (str, Markdown) and tables."""
    rows = results.committed(run)
    if rows is None:
        return [results.not_run("Table 1 at the paper's settings", run, COMMAND)]
    table = cells(rows)
    out = [f"**{sentence(table)}**", table]
    found = results.committed(classifiers)
    if found is not None:
        out += [variants_sentence(found), variants(found)]
    split = results.committed(parts)
    if split is not None:
        out += [raw_parts_sentence(split), raw_parts(split)]
    found = _at_authors_lr(rows, split, authors_lr, authors_lr_classifiers, authors_lr_parts)
    out += ([results.not_run("Table 1 at the authors' code's learning rate", authors_lr, AUTHORS_LR_COMMAND)]
            if found is None else list(found))
    out += ["What still departs from the paper or the authors' code at this setting (each in full on the "
            "Deviations page):", deviations()]
    stages = results.committed(times)
    if stages is not None:
        out.append(_times(stages))
    return out


def frontpage_lines(run: Path = RUN, classifiers: Path = CLASSIFIERS, parts: Path = RAW_PARTS,
                    authors_lr: Path = AUTHORS_LR, authors_lr_classifiers: Path = AUTHORS_LR_CLASSIFIERS,
                    authors_lr_parts: Path = AUTHORS_LR_PARTS) -> list[str]:
    """The first page's paragraph on Table 1 at the paper's settings (Markdown lines; empty where not run)."""
    rows = results.committed(run)
    if rows is None:
        return []
    lines = ["### Table 1 at the paper's settings", "", sentence(cells(rows)), ""]
    found = results.committed(classifiers)
    if found is not None:
        lines += [variants_sentence(found), ""]
    split = results.committed(parts)
    if split is not None:
        lines += [raw_parts_sentence(split), ""]
    found = _at_authors_lr(rows, split, authors_lr, authors_lr_classifiers, authors_lr_parts)
    if found is not None:
        lines += [found[0], ""]
    lines.append("Still different at this setting (each in full on the Deviations page): " + "; ".join(
        f"{d}: {ours}" for d, _, ours in DEVIATIONS) + ".")
    return lines + [""]
