"""The book's first page: what a reader came for, generated from the executed results.

:func:`fragment` turns ``<executed>/results`` into a markdown section that ``book/intro.md``
includes (``executed/frontpage.md``): the verdict tally of the reproduction summary per profile,
one sentence per paper claim (a figure or table of the paper) with its verdict under the profile
the book was built with and a link to its page, the profile and machine the book was built with,
and how to rebuild it. With no executed results it says so plainly. Written by
:mod:`wsm.book.reproduce` after a run and by ``make book``::

    python -m wsm.book.frontpage book/executed
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from wsm.core import paper
from wsm.maths import verdicts
from wsm.report import claims, slices, summary, table1
from wsm.core.storage import atomic_write

FILENAME = "frontpage.md"
VERDICT_PREFIX = "verdict ("

# What each figure or table of the paper claims, in our words (its numbers are on its page).
CLAIMS = {
    "Fig. 1": "permuting a network's hidden units changes its weights but not its function",
    "Fig. 2": "on Tiny ImageNet, the chain-normalized weights of MLP-4 and PlainNet-5 are recognised by their "
              "learning task (weight classification and retrieval) with an error below α and their raw layer "
              "weights are not: SGD solutions of one task are similar",
    "Fig. 3": "on CIFAR-100 the chains of MLP-4 and PlainNet-5 are recognised by task as well, in both protocols",
    "Table 1": "on NameData, the chain-normalized weights of the recurrent GRU-2 are classified and retrieved by "
               "task far better than its raw weights",
    "Table 2": "every chain of the twelve-layer ResNet-MLP-12 on CIFAR-100 is classified by task almost perfectly",
    "Fig. 4": "one more layer, residual connections or leaky ReLU keep the hypothesis; training with Adam breaks it",
    "Fig. 5": "a weight classifier trained on PlainNet-5 zoos still recognises the Leaky and Depth zoos but drops "
              "on Res5 and Adam; in retrieval only Adam breaks the hypothesis",
    "Zoo size": "(a prediction of ours, from the paper's hypothesis) more runs per task and more epochs of training "
                "make the chains easier to recognise",
    "ICLR Sec. 4.1 (bottom-up)": "every chain taken in the layers' order classifies well, the ICLR text's "
                                 "evidence that a network's semantics are built bottom-up (its out-of-order chains "
                                 "are a control here, not evidence)",
}
PROFILE_NOTES = {
    "smoke": "The `smoke` profile only checks that every page runs (seconds per page): it tests none of the "
             "paper's claims.",
    "quick": "The `quick` profile is a scaled-down run (fewer tasks, runs and epochs than the paper): its numbers "
             "are compared with the paper's only where its setting is the paper's, and the predictions that hold "
             "at any scale are tested on its real-data pages.",
    "paper": "The `paper` profile uses the paper's settings.",
}


def verdict_columns(table: pd.DataFrame) -> dict[str, str]:
    """``{run: column}`` for every ``verdict (<run>)`` column of the summary table (profiles and
    committed larger runs, :func:`wsm.report.summary.run_names`)."""
    return {c[len(VERDICT_PREFIX):-1]: c for c in table.columns
            if c.startswith(VERDICT_PREFIX) and c.endswith(")")}


def tally(table: pd.DataFrame) -> pd.DataFrame:
    """Verdict counts per run (:func:`wsm.report.summary.tally`): the paper's numbers and claims at their setting,
    and the predictions at any scale."""
    return summary.tally(table)


def _counts(values: pd.Series) -> str:
    if len(values) == 1:
        return f"**{values.iloc[0]}**"
    return f"{verdicts.counted(values)} of {len(values)} claims"


def figure_pages(executed_dir) -> dict[str, str]:
    """Which executed page reports each figure: ``{figure: notebook}``, read from the per-page CSVs."""
    executed_dir = Path(executed_dir)
    pages = {}
    for csv in sorted((executed_dir / "results").glob("*.csv")):
        if csv.stem in ("results", "timings") or not (executed_dir / f"{csv.stem}.ipynb").exists():
            continue
        figures = pd.read_csv(csv, usecols=["figure"]).figure.dropna().unique()
        pages.update({f: csv.stem for f in figures if f not in pages})
    return pages


def stand_ins(results: pd.DataFrame) -> dict[str, str]:
    """``{figure: dataset}`` for the figures whose rows were measured on a stand-in dataset (a dataset
    whose name says STAND-IN, e.g. Tiny ImageNet classes in CIFAR-100's place), named up to its "(" ."""
    if "dataset" not in results:
        return {}
    marked = results[results.dataset.astype(str).str.contains("STAND-IN")]
    return {f: str(d).split(" (")[0] for f, d in zip(marked.figure, marked.dataset)}


def built_with(results_dir) -> tuple[str | None, str]:
    """(profile, machine) of the latest execution, from ``timings.csv``: the profile most pages ran under
    and the machine in words (CPU model and cores, and the GPU where one was used)."""
    path = Path(results_dir) / "timings.csv"
    if not path.exists():
        return None, "an unrecorded machine"
    t = pd.read_csv(path)
    if t.empty:
        return None, "an unrecorded machine"
    profile = str(t.profile.mode().iloc[0])
    last = t.iloc[-1]
    cpu = last.get("cpu_model")
    cpu = cpu if isinstance(cpu, str) and cpu else str(last.get("machine", "a CPU"))
    machine = f"{cpu} ({int(last.cpus)} cores)" if "cpus" in t and pd.notna(last.cpus) else cpu
    gpu = last.get("gpu")
    if isinstance(gpu, str) and gpu:
        machine += f" with a {gpu} GPU"
    mixed = sorted(set(t.profile) - {profile})
    if mixed:
        machine += f"; {(t.profile != profile).sum()} page(s) under {', '.join(f'`{p}`' for p in mixed)}"
    return profile, machine


def _markdown_table(counts: pd.DataFrame) -> list[str]:
    """The tally as a table a page's width holds: one row per run, one column per group of claims, each
    cell the verdicts' counts in words."""
    groups = list(dict.fromkeys(g for g, _ in counts.columns))
    lines = ["| run | " + " | ".join(groups) + " |", "|" + " --- |" * (len(groups) + 1)]
    for run, row in counts.iterrows():
        cells = [" · ".join(f"{int(row[(g, v)])} {v}" for v in verdicts.ORDER if (g, v) in row.index and row[(g, v)])
                 or "—" for g in groups]
        lines.append(f"| {run} | " + " | ".join(cells) + " |")
    return lines


def _run_sentence(table: pd.DataFrame, run: str) -> str:
    """What one run shows: of the predictions at any scale, of the paper's numbers at their setting."""
    verdict = table[f"verdict ({run})"]
    covered = verdict != summary.NOT_RUN
    pred = verdict[covered & (table.kind == claims.PREDICTION)]
    at = verdict[covered & table.kind.isin(claims.AT_PAPER)]
    tested_at = at[~at.isin([verdicts.NOT_TESTED, verdicts.MISSING])]
    tested_pred = pred[~pred.isin([verdicts.NOT_TESTED, verdicts.MISSING])]

    def words(values, total):
        if total == 0:
            return "it covers none"
        if values.empty:
            return f"none of its {total} can be tested by this run"
        return f"{verdicts.counted(values)} of {len(values)} tested" + (
            f" ({total - len(values)} not tested)" if total > len(values) else "")

    return (f"* **{run}**: the predictions that hold at any scale: {words(tested_pred, len(pred))}; the paper's "
            f"numbers and claims at their setting: {words(tested_at, len(at))}.")


def fragment(executed_dir, alpha: float = paper.ALPHA) -> str:
    """The first page's verdict section (markdown) for the executed notebooks in ``executed_dir``."""
    executed_dir = Path(executed_dir)
    results_dir = executed_dir / "results"
    table = summary.table(results_dir, alpha)
    columns = verdict_columns(table)
    executed = [p for p in summary.measured(results_dir) if p in columns]     # profiles run here (not committed runs)
    lines = ["## The verdict", ""]
    if not executed:
        return "\n".join(lines + [
            f"**Nothing has been executed yet**: there are no results in `{results_dir.name}/` of this build, so "
            "this page has no verdicts to show. Run `make reproduce` (the `quick` profile) to execute every page "
            "and rebuild this book; `make test` runs them all under the `smoke` profile.", ""])
    profile, machine = built_with(results_dir)
    profile = profile if profile in executed else executed[-1]
    pages = figure_pages(executed_dir)
    stand_in = stand_ins(summary.measured(results_dir).get(profile, pd.DataFrame()))
    lines += [f"This book was built with the **`{profile}` profile** on {machine}. "
              f"{PROFILE_NOTES.get(profile, '')}", "",
              f"The paper's {len(table)} claims (`wsm.report.claims`: its numbers, its worded claims and the "
              "predictions of its hypothesis that hold at any scale) under each profile that was run and each "
              "committed larger run, each judged only at the level its evidence reaches (the rules: the Deviations "
              "page and `wsm.maths.verdicts`; every claim and cell: {doc}`executed/summary`). A number of the paper "
              "is compared with ours only where our setting is the paper's (dataset, tasks and so chance, splits); "
              "elsewhere it is *not tested*, never counted as agreement or disagreement.", ""]
    lines += _markdown_table(tally(table)) + [""]
    lines += [_run_sentence(table, run) for run in columns] + [""]
    found = summary.findings(results_dir, alpha)
    if found:
        lines += ["### Findings", ""] + [f"* {f}" for f in found] + [""]
    lines += table1.frontpage_lines() + slices.frontpage_lines()
    lines += [f"### The paper's claims under `{profile}`", ""]
    for figure, group in table.groupby("figure", sort=False):
        claim = CLAIMS.get(figure, f"the {len(group)} claims of {figure}")
        page = pages.get(figure)
        link = f" ({{doc}}`executed/{page}`)" if page else ""
        where = f" Measured here on the {stand_in[figure]}." if figure in stand_in else ""
        values = group[columns[profile]]
        lines.append(f"* **{figure}**: {claim}.{where} Verdict: {_counts(values[values != summary.NOT_RUN])}{link}.")
    never = summary.untested_everywhere(table)
    if len(never):
        lines += ["", "### What no run here tests", "",
                  f"{len(never)} of the {len(table)} claims: "
                  + "; ".join(f"{f} — {c}" for f, c in zip(never.figure, never.claim)) + ". Each run's reason is on "
                  "{doc}`executed/summary`."]
    lines += ["", "### Rebuild it", "",
              f"`make reproduce PROFILE={profile}` executes every page again and rebuilds this book "
              "(`make reproduce` alone uses the `quick` profile); `make book` renders the executed pages "
              "again without executing anything. Both are described under *Reproduce it* below.", ""]
    return "\n".join(lines)


def write(executed_dir, alpha: float = paper.ALPHA) -> Path:
    """Write :func:`fragment` to ``<executed_dir>/frontpage.md``; returns its path."""
    path = Path(executed_dir) / FILENAME
    text = fragment(executed_dir, alpha)
    atomic_write(path, lambda f: f.write(text.encode()))
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wsm.book.frontpage", description=__doc__.splitlines()[0])
    parser.add_argument("executed", type=Path, help="the executed notebooks' folder, e.g. book/executed")
    args = parser.parse_args(argv)
    print(f"front page: {write(args.executed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
