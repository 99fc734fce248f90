"""The book's first page: what a reader came for, generated from the executed results.

:func:`fragment` turns ``<executed>/results`` into a markdown section that ``book/intro.md``
includes (``executed/frontpage.md``): the verdict tally of the reproduction summary per profile,
one sentence per paper claim (a figure or table of the paper) with its verdict under the profile
the book was built with and a link to its page, the profile and machine the book was built with,
and how to rebuild it. With no executed results it says so plainly. Written by
:mod:`wsm.reproduce` after a run and by ``make book``::

    python -m wsm.frontpage book/executed
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from wsm import paper, summary
from wsm.verdicts import CONSISTENT, INCONSISTENT, UNDERPOWERED
from wsm.storage import atomic_write

FILENAME = "frontpage.md"
VERDICT_PREFIX = "verdict ("
# Verdict words in reading order; any other verdict a page writes follows, then the gaps.
VERDICT_ORDER = (CONSISTENT, UNDERPOWERED, INCONSISTENT)
LAST = (summary.NOT_ASSESSED, summary.MISSING)

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
    "ICLR Sec. 4.1 (bottom-up)": "every chain taken in the layers' order classifies well, the ICLR text's "
                                 "evidence that a network's semantics are built bottom-up (its out-of-order chains "
                                 "are a control here, not evidence)",
}
PROFILE_NOTES = {
    "smoke": "The `smoke` profile only checks that every page runs (seconds per page): its verdicts say "
             "nothing about the paper.",
    "quick": "The `quick` profile is a scaled-down run (fewer tasks, runs and epochs than the paper): read "
             "every verdict beside its scale.",
    "paper": "The `paper` profile uses the paper's settings.",
}


def verdict_columns(table: pd.DataFrame) -> dict[str, str]:
    """``{run: column}`` for every ``verdict (<run>)`` column of the summary table (profiles and
    committed larger runs, :func:`wsm.summary.run_names`)."""
    return {c[len(VERDICT_PREFIX):-1]: c for c in table.columns
            if c.startswith(VERDICT_PREFIX) and c.endswith(")")}


def _ordered(verdicts) -> list[str]:
    found = set(verdicts)
    known = [v for v in VERDICT_ORDER if v in found]
    last = [v for v in LAST if v in found]
    return known + sorted(found - set(known) - set(last)) + last


def tally(table: pd.DataFrame) -> pd.DataFrame:
    """Verdict counts per profile: one row per profile, one column per verdict, and ``reported``."""
    columns = verdict_columns(table)
    verdicts = _ordered(v for c in columns.values() for v in table[c] if v != summary.NOT_RUN)
    rows = {p: table[c][table[c] != summary.NOT_RUN].value_counts().reindex(verdicts, fill_value=0)
            for p, c in columns.items()}
    counts = pd.DataFrame(rows).T.reindex(columns=verdicts).fillna(0).astype(int)
    counts["reported"] = counts.sum(axis=1)       # the sentences each run covers
    return counts


def _counts(verdicts: pd.Series) -> str:
    if len(verdicts) == 1:
        return f"**{verdicts.iloc[0]}**"
    counts = verdicts.value_counts()
    parts = [f"{counts[v]} {v}" for v in _ordered(counts.index)]
    return f"{', '.join(parts)} of {len(verdicts)} sentences"


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
    head = ["run"] + list(counts.columns)
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for profile, row in counts.iterrows():
        lines.append(f"| `{profile}` | " + " | ".join(str(int(v)) for v in row) + " |")
    return lines


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
              f"How the paper's {len(table)} quoted sentences (its numbers and worded claims) fare under each "
              "profile that was run, and under the committed results of larger runs, labelled with their scale "
              "(the verdicts of {doc}`executed/summary`; each interval is conditional on one zoo, one split "
              "and one classifier):", ""]
    lines += _markdown_table(tally(table)) + ["", f"### The paper's claims under `{profile}`", ""]
    for figure, group in table.groupby("figure", sort=False):
        claim = CLAIMS.get(figure, f"the {len(group)} numbers of {figure}")
        page = pages.get(figure)
        link = f" ({{doc}}`executed/{page}`)" if page else ""
        where = f" Measured here on the {stand_in[figure]}." if figure in stand_in else ""
        verdicts = group[columns[profile]]
        lines.append(f"* **{figure}**: {claim}.{where} Verdict: {_counts(verdicts[verdicts != summary.NOT_RUN])}{link}.")
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
    parser = argparse.ArgumentParser(prog="python -m wsm.frontpage", description=__doc__.splitlines()[0])
    parser.add_argument("executed", type=Path, help="the executed notebooks' folder, e.g. book/executed")
    args = parser.parse_args(argv)
    print(f"front page: {write(args.executed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
