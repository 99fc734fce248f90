"""The results table: one row per reported number, ours beside the paper's.

Each notebook writes ``<results_dir>/<notebook>.csv``; :func:`collect` joins them into
``results.csv``. Columns: figure, panel, architecture, depth (chain or layer number), kind
(normalized / unnormalized), protocol, metric, ours and paper (percent), n (test networks or
queries behind "ours"), profile, dataset, scale; then, where a number is an accuracy, its exact
95% interval (ci_low, ci_high, percent) and the p-value of "error < alpha"; where a permutation
null was run, its mean and 95% band (null_mean, null_low, null_high, percent) and p-value (p_null);
where a row stands for a claim the paper words without a number, the paper's rule on our point
estimates (agrees: yes / no); and where the paper gives a number or a claim, the verdict
(consistent / inconsistent / underpowered, :mod:`wsm.verdicts`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from wsm import paper, verdicts
from wsm.storage import atomic_write

COLUMNS = ["figure", "panel", "architecture", "depth", "kind", "protocol", "metric",
           "ours", "paper", "n", "profile", "dataset", "scale"]
OPTIONAL = ["ci_low", "ci_high", "p_error_below_alpha",      # percent, percent, p-value
            "null_mean", "null_low", "null_high", "p_null",  # permutation null: percent x 3, p-value
            "agrees",                                        # a worded claim, the paper's rule (wsm.summary.claim_row)
            "verdict"]                                       # against the paper's number or claim (wsm.verdicts)


def with_verdicts(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with a ``verdict`` (:func:`wsm.verdicts.of_row`) wherever the paper gives a number and
    the row has an interval (or the number is a quoted zero); a verdict already there (a claim's) is kept.
    A figure whose numbers the paper words as "about X" (Fig. 3) gets that tolerance."""
    if "paper" not in rows:
        return rows
    about = {r["figure"] for r in paper.REPORTED if verdicts.quoted_value(r["quoted"])[1] == verdicts.APPROXIMATE}
    nan = pd.Series(np.nan, index=rows.index)
    found = [verdicts.of_row(p, o, lo, hi, verdicts.APPROXIMATE if f in about else None) for f, p, o, lo, hi in
             zip(rows.figure, rows.paper, rows.ours, rows.get("ci_low", nan), rows.get("ci_high", nan))]
    found = pd.Series(found, index=rows.index, dtype=object)
    if "verdict" in rows:
        found = rows.verdict.where(rows.verdict.notna(), found)
    return rows.assign(verdict=found) if found.notna().any() else rows


def write(rows: pd.DataFrame | list[dict], results_dir: str | Path, notebook: str) -> Path:
    """Write one notebook's rows atomically; returns the CSV path."""
    df = pd.DataFrame(rows)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"result rows lack columns {missing}")
    df = with_verdicts(df)
    path = Path(results_dir) / f"{notebook}.csv"
    columns = COLUMNS + [c for c in OPTIONAL if c in df.columns]
    atomic_write(path, lambda f: df[columns].to_csv(f, index=False, float_format="%.4g"))
    return path


def collect(results_dir: str | Path) -> pd.DataFrame:
    """Join every notebook's CSV in ``results_dir`` into ``results.csv`` and return it."""
    results_dir = Path(results_dir)
    parts = [pd.read_csv(p) for p in sorted(results_dir.glob("*.csv")) if p.name not in ("results.csv", "timings.csv")]
    df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
    atomic_write(results_dir / "results.csv", lambda f: df.to_csv(f, index=False, float_format="%.4g"))
    return df


def archive(results_dir: str | Path, table: pd.DataFrame) -> None:
    """Keep every profile's latest numbers in ``<results_dir>/profiles/<profile>.csv``, so that the
    summary can show ours under each profile that was run: a figure's rows replace that figure's
    older rows of the same profile; other figures' rows are kept."""
    folder = Path(results_dir) / "profiles"
    for profile, new in table.groupby("profile"):
        path = folder / f"{profile}.csv"
        old = pd.read_csv(path) if path.exists() else pd.DataFrame(columns=new.columns)
        merged = pd.concat([old[~old.figure.isin(new.figure)], new], ignore_index=True)
        atomic_write(path, lambda f: merged.to_csv(f, index=False, float_format="%.4g"))


def banner(profile: str, dataset: str, scale: str) -> None:
    """Show, at the top of an executed page, what it was executed with. ``dataset`` is a dataset key
    of :mod:`wsm.data` (described by :func:`wsm.data.describe`; the CIFAR-100 stand-in also gets a
    heading of its own) or a description."""
    from IPython.display import Markdown, display

    from wsm import data

    described = data.describe(dataset) if dataset in data.DATASETS else dataset
    display(Markdown(f"**Executed with profile `{profile}`** · dataset: {described} · scale: {scale}"))
    if dataset == "cifar100-standin":
        display(Markdown(f"### {data.STANDIN_LABEL}"))


def accuracy_table(ours: pd.DataFrame, index: list[str], columns: list[str], alpha: float = 0.05):
    """The accuracy table a page shows: ``index`` and ``columns`` of ``ours`` (percent, as from
    :func:`wsm.htt.percent`), then ours with its exact 95% interval, n, the p-value of "error < alpha",
    the permutation null's mean and band with its p-value (where one was run), the paper's decision
    rule on ours and, where ``ours`` has the paper's value (``paper``: a number or words such as
    "about 98.0"), the verdict (:mod:`wsm.verdicts`). A Styler whose caption says what each interval
    is conditional on (:data:`wsm.verdicts.CONDITIONAL`)."""
    table = ours.copy()
    table["95% CI"] = [f"{lo:.1f}–{hi:.1f}" for lo, hi in zip(table.ci_low, table.ci_high)]
    table["p(error < α)"] = table.p_error_below_alpha.map("{:.2g}".format)
    null = []
    if "p_null" in table:
        table["null mean [95%]"] = [f"{m:.0f} [{lo:.0f}–{hi:.0f}]" for m, lo, hi in
                                    zip(table.null_mean, table.null_low, table.null_high)]
        table["p_null"] = table.p_null.map("{:.2g}".format)
        null = ["null mean [95%]", "p_null"]
    verdict = []
    if "paper" in table:
        table["verdict"] = [verdicts.of_row(p, o, lo, hi) or "—" for p, o, lo, hi in
                            zip(table.paper, table.ours, table.ci_low, table.ci_high)]
        verdict = ["verdict"] if (table.verdict != "—").any() else []
    cols = index + columns + ["ours", "95% CI", "n", "p(error < α)"] + null + ["decision"] + verdict
    return (table[cols].set_index(index).style.format(precision=1, na_rep="—")
            .set_caption(verdicts.CONDITIONAL))


def null_sentence(ours: pd.DataFrame, null_repeats: int) -> str:
    """One sentence on the permutation null of a page's cells ('' when none was run)."""
    if "p_null" not in ours or not null_repeats:
        return ""
    return (f" With the task labels shuffled {null_repeats} times the same pipeline reaches "
            f"{ours.null_mean.min():.0f}–{ours.null_mean.max():.0f}% on average, and {(ours.p_null <= 0.05).sum()} "
            f"of {len(ours)} cells beat their null at p ≤ 0.05 (smallest possible p: {1 / (1 + null_repeats):.2g}).")


def power_sentence(ours: pd.DataFrame, page, needed: int | None = None) -> str:
    """One sentence on the protocols of a page that its scale cannot power ('' when every one can):
    per protocol, its n, the n a test of the paper's values needs (:func:`wsm.verdicts.n_needed` of the
    chain cells' quoted values, or ``needed``, e.g. :func:`wsm.verdicts.n_needed_to_hold` for a
    worded claim), the runs per task that would give it at the page's tasks and the n at the paper's
    scale (:func:`wsm.htt.test_size`, the page's split fractions; ``page.paper_scale()``)."""
    from wsm import htt

    cells = ours[ours.kind == "normalized"] if "kind" in ours and (ours.kind == "normalized").any() else ours
    fractions = {k: v for k, v in page.protocol.splits.items() if k != "seed" and v is not None}
    at_paper = page.paper_scale()
    parts = []
    for protocol, group in cells.groupby("protocol", sort=False):
        if protocol not in ("classification", "retrieval"):
            continue
        want = needed
        if want is None:
            want = verdicts.n_needed_most(verdicts.quoted_value(v) for v in group.get("paper", pd.Series(dtype=float)))
        n = int(group.n.min())
        words = verdicts.power(n, want, page.profile)
        if words is None:
            continue
        runs = htt.runs_needed(protocol, want, page.n_tasks, **fractions)
        paper_n = htt.test_size(protocol, at_paper["n_tasks"], at_paper["runs"], **fractions)
        parts.append(f"{protocol} is {words}: {runs} runs per task at {page.n_tasks} tasks would give it, "
                     f"and the paper's scale ({at_paper['n_tasks']} tasks x {at_paper['runs']} runs) gives n = {paper_n}")
    if not parts:
        return ""
    text = "; ".join(parts)
    return (" " + text[0].upper() + text[1:] + ". Below that n no outcome can confirm the paper's "
            "value, so read such a cell's number as what this scale shows, not as a test of the paper.")


def cpu_model() -> str:
    """The CPU's model name as Linux reports it (``/proc/cpuinfo``), or '' where it cannot be read."""
    import re

    try:
        with open("/proc/cpuinfo") as f:
            found = re.search(r"model name\s*:\s*(.*)", f.read())
    except OSError:
        return ""
    return found.group(1).strip() if found else ""


def record_time(results_dir: str | Path, notebook: str, profile: str, seconds: float) -> None:
    """Keep the wall time of each notebook's latest execution in ``timings.csv``, with the machine
    it ran on (cores, torch threads, CPU model, the GPU where CUDA is available)."""
    import platform

    import torch

    path = Path(results_dir) / "timings.csv"
    old = pd.read_csv(path) if path.exists() else pd.DataFrame()
    row = pd.DataFrame([dict(notebook=notebook, profile=profile, seconds=round(seconds, 1),
                             cpus=os.cpu_count(), torch_threads=torch.get_num_threads(),
                             machine=platform.processor() or platform.machine(), cpu_model=cpu_model(),
                             gpu=torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")])
    if len(old):
        old = old[old.notebook != notebook]
    table = pd.concat([old, row], ignore_index=True)
    atomic_write(path, lambda f: table.to_csv(f, index=False))
