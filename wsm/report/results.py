"""The results table: one row per reported number, ours beside the paper's.

Each notebook writes ``<results_dir>/<notebook>.csv``; :func:`collect` joins them into
``results.csv``. Columns: figure, panel, architecture, depth (chain or layer number), kind
(normalized / unnormalized), protocol, metric, ours and paper (percent), n (test networks or
queries behind "ours"), profile, dataset, scale; then, where a number is an accuracy, its exact
95% interval (ci_low, ci_high, percent), the p-value of "error < alpha" and chance (percent); where a
permutation null was run, its mean and 95% band (null_mean, null_low, null_high, percent), p-value
(p_null) and shuffles (null_repeats); on a chain row beside its own layer, the exact paired tests
(p_paired: the chain better; p_paired_rev: the layer better); the setting it was measured at
(:data:`wsm.report.claims.SETTING_COLUMNS`); and where a row stands for a claim the paper words without a
number, the paper's rule on our point estimates (agrees: yes / no) and the page's verdict at the zoo's
setting (:func:`wsm.report.summary.claim_row`). Every claim is judged from these rows by
:func:`wsm.report.claims.judge`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from wsm.maths import verdicts
from wsm.report import claims
from wsm.core.storage import atomic_write

COLUMNS = ["figure", "panel", "architecture", "depth", "kind", "protocol", "metric",
           "ours", "paper", "n", "profile", "dataset", "scale"]
OPTIONAL = ["ci_low", "ci_high", "p_error_below_alpha", "chance",              # percent, percent, p-value, percent
            "null_mean", "null_low", "null_high", "p_null", "p_null_below", "null_repeats",  # permutation null
            "p_paired", "p_paired_rev",                                      # chain against its own layer
            *claims.SETTING_COLUMNS,                                         # where it was measured
            "agrees",                       # a worded claim, the paper's rule (wsm.report.summary.claim_row)
            "verdict"]                                       # a worded claim at the zoo's setting (wsm.maths.verdicts)


def write(rows: pd.DataFrame | list[dict], results_dir: str | Path, notebook: str) -> Path:
    """Write one notebook's rows atomically; returns the CSV path."""
    df = pd.DataFrame(rows)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"result rows lack columns {missing}")
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
    of :mod:`wsm.zoos.data` (described by :func:`wsm.zoos.data.describe`; the CIFAR-100 stand-in also gets a
    heading of its own) or a description."""
    from IPython.display import Markdown, display

    from wsm.zoos import data

    described = data.describe(dataset) if dataset in data.DATASETS else dataset
    display(Markdown(f"**Executed with profile `{profile}`** · dataset: {described} · scale: {scale}"))
    if dataset == "cifar100-standin":
        display(Markdown(f"### {data.STANDIN_LABEL}"))


def committed(path: Path) -> pd.DataFrame | None:
    """A committed benchmark table (``book/benchmarks/*.csv``), or None where it has not been run."""
    return pd.read_csv(path) if Path(path).exists() else None


def not_run(what: str, path: Path, command: str) -> str:
    """The sentence a page shows for a committed run that is absent: what, the file, and the command that makes it."""
    from wsm.core import paths

    path = Path(path)
    shown = path.relative_to(paths.REPO) if path.is_relative_to(paths.REPO) else path
    return f"{what}: not run yet (`{shown}` is absent; `{command}` makes it)."


def over_seeds(table: pd.DataFrame, keys: list[str], **extra) -> pd.DataFrame:
    """Accuracies repeated over split seeds (one row per key and ``seed``, in percent in ``ours``) summarized per
    ``keys``: the mean, lowest and highest, the number of seeds and the test networks (or queries) per seed,
    rounded to 0.1, with ``extra`` aggregations (``name=(column, how)``) before the seeds."""
    return (table.groupby(keys, sort=False).agg(
        mean=("ours", "mean"), low=("ours", "min"), high=("ours", "max"), **extra, seeds=("seed", "nunique"),
        n=("n", "first")).round(1).reset_index())


def show(items) -> None:
    """Show a section a report module returns (``wsm.report.slices.section``, ``wsm.report.table1.section``): each
    string as Markdown, anything else (a table) as it is, its text in full (pandas cuts a cell at 50 characters)."""
    from IPython.display import Markdown, display

    with pd.option_context("display.max_colwidth", None):
        for item in items:
            display(Markdown(item) if isinstance(item, str) else item)


def accuracy_table(ours: pd.DataFrame, index: list[str], columns: list[str], alpha: float = 0.05):
    """The accuracy table a page shows: ``index`` and ``columns`` of ``ours`` (percent, as from
    :func:`wsm.maths.htt.percent`), then ours with its exact 95% interval, n, chance, the p-value of
    "error < alpha", the permutation null's mean and band with its p-value (where one was run), the
    paper's decision rule on ours and, where the rows name their ``figure`` and the paper reports a
    number for them, the verdict on it (:func:`wsm.report.claims.cell_verdicts`: only where the setting is the
    paper's). A Styler whose caption says what each interval is conditional on
    (:data:`wsm.maths.verdicts.CONDITIONAL`)."""
    table = ours.copy()
    table["95% CI"] = [f"{lo:.1f}–{hi:.1f}" for lo, hi in zip(table.ci_low, table.ci_high)]
    table["p(error < α)"] = table.p_error_below_alpha.map("{:.2g}".format)
    null = []
    if "p_null" in table:
        table["null mean [95%]"] = [f"{m:.0f} [{lo:.0f}–{hi:.0f}]" for m, lo, hi in
                                    zip(table.null_mean, table.null_low, table.null_high)]
        table["p_null"] = table.p_null.map("{:.2g}".format)
        null = ["null mean [95%]", "p_null"]
    chance = ["chance"] if "chance" in table else []
    verdict = []
    if "figure" in table:
        table["vs the paper's number"] = claims.cell_verdicts(table)
        verdict = ["vs the paper's number"] if (table["vs the paper's number"] != "—").any() else []
    cols = index + columns + ["ours", "95% CI", "n"] + chance + ["p(error < α)"] + null + ["decision"] + verdict
    return (table[cols].set_index(index).style.format(precision=1, na_rep="—")
            .set_table_styles([{"selector": "td", "props": "white-space: nowrap"}])   # a wide table scrolls
            .set_caption(verdicts.CONDITIONAL))


def null_sentence(ours: pd.DataFrame, null_repeats: int) -> str:
    """One sentence on the permutation null of a page's cells ('' when none was run): how many beat it,
    and how many lie below it (``p_null_below``) against what luck alone gives: with no task information
    in a feature this protocol scores chance in expectation (a held-out network's coordinates depend only
    on itself and the training networks), so a cell below its null is read as chance unless there are
    more such cells than luck explains."""
    if "p_null" not in ours or not null_repeats:
        return ""
    text = (f"With the task labels shuffled {null_repeats} times the same pipeline reaches "
            f"{ours.null_mean.min():.0f}–{ours.null_mean.max():.0f}% on average, and {(ours.p_null <= 0.05).sum()} "
            f"of {len(ours)} cells beat their null at p ≤ 0.05 (smallest possible p: {1 / (1 + null_repeats):.2g}).")
    if "p_null_below" in ours:
        below = ours[ours.p_null_below <= 0.05]
        if len(below):
            luck = 1 - 0.95 ** len(ours)
            which = below.feature.astype(str)
            if "architecture" in below:
                which = below.architecture.astype(str) + " " + below.protocol.astype(str) + " " + which
            text += (f" {len(below)} {'lies' if len(below) == 1 else 'lie'} below "
                     f"{'its' if len(below) == 1 else 'their'} "
                     f"null at p ≤ 0.05 ({', '.join(which)}): with "
                     f"{len(ours)} cells at chance, at least one does so by luck with probability up to {luck:.0%}, "
                     "and a feature with no task information scores chance in expectation here, so they are read "
                     "as chance level unless more of them appear than luck explains (the Deviations page).")
    return text


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


def paper_beside_ours(cells: pd.DataFrame, kinds=("unnormalized", "normalized"),
                      protocols=("classification", "retrieval")) -> pd.DataFrame:
    """A table laid out as the paper's (Table 1): one row per protocol (top-1 / rank-1), and for each kind
    the paper's value beside ours, from rows with one cell per (kind, protocol)."""
    def value(kind, protocol, src):
        return cells[(cells.kind == kind) & (cells.protocol == protocol)][src].iloc[0]

    label = {p: f"weight {p} ({'top-1' if p == 'classification' else 'rank-1'})" for p in protocols}
    return pd.DataFrame({(k, src): {label[p]: value(k, p, src) for p in protocols}
                         for k in kinds for src in ("paper", "ours")})
