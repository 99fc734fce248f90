"""How big must a weight zoo be? Accuracy against the zoo's size, read from one zoo per architecture.

The hypothesis test of Section 4.1 needs a zoo of ``tasks x runs`` networks, each trained for some
epochs; the paper used 50 x 100 at 100 (MLP-4) and 50 (PlainNet-5) epochs and says nothing of how
much less would do. :func:`evaluate` answers it on one zoo per architecture, without retraining:

* **runs per task**: the first ``r`` runs of every task (run identities ``0..r-1``);
* **number of tasks**: the first ``t`` tasks of the zoo;
* **training length**: the zoo's checkpoints (:attr:`wsm.zoos.training.ZooConfig.checkpoints`: the same
  runs saved after earlier epochs of the same schedule, so the learning-rate drop sits where the
  full schedule puts it).

Each axis is swept with the other two at the zoo's full size (:func:`cells`). Every point runs the
page's protocol (both protocols, chains and layers, the permutation null) on its networks; the
Gram matrix of every feature is computed once per epoch over the whole zoo and each point reads its
block (:func:`wsm.maths.htt.embed` centres on the training networks, so a block of the whole zoo's Gram
gives the embedding the point's own Gram would). The weight classifier takes the same number of
batch-1 SGD steps at every size (the page's ``clf_steps``: the paper's 30,000 under quick and paper;
:func:`classifier_for`), so a point differs from another only in its networks. A point's cost is
the CPU seconds that trained its networks (each run on one thread, as recorded) plus those of its
tests; the Gram of a whole zoo is timed on its own.

The page "How big must a weight zoo be?" (``notebooks/zoo_size.py``) runs a slice of this on the
Fig. 2 zoos; ``python -m wsm.analyses.scaling`` (``make study``) runs the study at the settings of
:data:`wsm.core.profiles.STUDY` into its own zoo root and writes the table the page draws
(``book/scaling/study.csv``), resuming where an interrupted run stopped.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from wsm.core import paper, paths
from wsm.maths import htt, verdicts
from wsm.zoos import nets
from wsm.core.errors import WsmError
from wsm.core.storage import atomic_write

AXES = ("runs", "tasks", "epochs")
KEY = ["architecture", "epoch", "tasks", "runs", "protocol", "feature"]


class Point(NamedTuple):
    """One zoo size: the networks of the first ``tasks`` tasks and first ``runs`` runs, after ``epoch`` epochs."""

    epoch: int
    tasks: int
    runs: int


def cells(epochs, tasks_grid, runs_grid, n_tasks: int, runs: int) -> dict[str, list[Point]]:
    """Each axis's points, the other two at the zoo's full size (``n_tasks`` tasks, ``runs`` runs,
    the last of ``epochs``); grid values beyond the zoo are left out, the full size always kept."""
    last = max(epochs)
    return {"runs": [Point(last, n_tasks, r) for r in sorted({*(r for r in runs_grid if r <= runs), runs})],
            "tasks": [Point(last, t, runs) for t in sorted({*(t for t in tasks_grid if t <= n_tasks), n_tasks})],
            "epochs": [Point(e, n_tasks, runs) for e in sorted(set(epochs))]}


def classifier_for(cfg: htt.ClassifierConfig, steps: int, n_train: int) -> htt.ClassifierConfig:
    """``cfg`` with as many epochs as keep ``steps`` batch-1 SGD steps over ``n_train`` training
    networks (at least one), its learning-rate drops at the same fractions of training."""
    epochs = max(1, round(steps / max(1, n_train)))
    milestones = tuple(sorted({max(1, round(m / cfg.epochs * epochs)) for m in cfg.milestones if m < cfg.epochs}))
    return dataclasses.replace(cfg, epochs=epochs, milestones=tuple(m for m in milestones if m < epochs))


def paper_steps() -> int:
    """The weight classifier's batch-1 SGD steps at the paper's settings: 10 epochs over the 3,000
    training networks of Fig. 2 (50 tasks x 60 runs; retrieval: 30 tasks x 100 runs, as many).
    The quick profile keeps them too (:mod:`wsm.core.profiles`: 500 epochs over 60 networks); the
    ``clf_steps`` of the zoo-size page is checked against this in the tests."""
    from wsm.core import profiles

    p = profiles.parameters("paper", "s4_1_tiny_imagenet")
    return p["clf_epochs"] * p["n_tasks"] * round(p["train_fraction"] * p["runs"])


def _subset(zoo, labels, tasks: int, runs: int):
    """The usable networks of the first ``tasks`` tasks and ``runs`` runs: positions in ``zoo.usable()``
    (``labels``: its labels)."""
    run_ids = np.asarray(zoo.usable_runs())
    keep = set(zoo.config.tasks[:tasks])
    return np.flatnonzero(np.isin(np.asarray(labels), list(keep)) & (run_ids < runs))


def grams(protocol, zoo, progress: bool = True) -> tuple[dict, dict]:
    """The Gram of every feature of the protocol over the whole ``zoo``: ``({(kind, depth): K},
    {(kind, depth): seconds})`` (seconds NaN where it was read from the cache)."""
    weights, _ = zoo.usable()
    out, seconds = {}, {}
    for kind, depths in (("unnormalized", protocol.layers), ("normalized", protocol.chains)):
        for depth in depths:
            t0, info = time.time(), {}
            out[kind, depth] = protocol.engine.gram(weights, depth, kind, center=protocol.classifier.standardize,
                                                    progress=progress, cache=protocol.gram_cache,
                                                    device=protocol.device, info=info)
            seconds[kind, depth] = math.nan if info["cached"] else time.time() - t0
    return out, seconds


def evaluate_point(protocol, zoo, point: Point, full: dict, steps: int) -> pd.DataFrame:
    """The protocol on the networks of ``point`` (``zoo`` is the zoo after ``point.epoch`` epochs and
    ``full`` its Grams, :func:`grams`): one row per protocol and feature, in percent, with the exact
    interval, the null band, chance and the cost."""
    weights, labels = zoo.usable()
    idx = _subset(zoo, labels, point.tasks, point.runs)
    labels = np.asarray(labels)[idx]
    runs = np.asarray(zoo.usable_runs())[idx]
    if len(np.unique(labels)) < 3:
        raise WsmError(f"a zoo-size point needs at least 3 tasks, got {point.tasks}: use a larger point of the "
                       "tasks axis (retrieval runs only from 5 tasks on, wsm.maths.htt.retrieval_problem)")
    rows = []
    for protocol_name in protocol.protocols:
        if protocol_name == "retrieval" and htt.retrieval_problem(point.tasks, protocol.retrieval_train_fraction):
            continue              # too few tasks to train retrieval's classifier: it would measure rounding
        if protocol_name == "classification":
            n_train = len(htt.split_runs(labels, protocol.train_fraction, protocol.seed, runs, point.runs)[0])
        else:
            train_tasks, _ = htt.split_tasks(labels, protocol.retrieval_train_fraction, protocol.seed)
            n_train = int(np.isin(labels, train_tasks).sum())
        cfg = classifier_for(protocol.classifier, steps, n_train)
        t0 = time.time()
        parts = []
        for kind, depths in (("unnormalized", protocol.layers), ("normalized", protocol.chains)):
            if depths:
                block = {d: full[kind, d][np.ix_(idx, idx)] for d in depths}
                parts.append(htt.evaluate([weights[i] for i in idx], labels, depths, kinds=(kind,), cfg=cfg,
                                          alpha=protocol.alpha, progress=False, null_repeats=protocol.null_repeats,
                                          protocols=(protocol_name,), runs=runs, runs_per_task=point.runs,
                                          gram=lambda w, depth, kind, block=block, **_: block[depth],
                                          **protocol.splits))
        table = pd.concat(parts, ignore_index=True)
        seconds = time.time() - t0
        table = table.assign(clf_epochs=cfg.epochs, train_networks=n_train, test_seconds=seconds / max(1, len(table)))
        rows.append(table)
    table = htt.percent(pd.concat(rows, ignore_index=True), protocol.alpha)
    used = [zoo.runs[i] for i in _positions(zoo)[idx]]
    chance = {"classification": 100 / point.tasks,
              "retrieval": 100 / max(1, point.tasks - round(protocol.retrieval_train_fraction * point.tasks))}
    table["chance"] = table.protocol.map(chance)
    table["above_chance"] = (table.ours - table.chance) / (100 - table.chance)
    return table.assign(epoch=point.epoch, tasks=point.tasks, runs=point.runs, networks=len(idx),
                        train_cpu_seconds=sum(r.seconds for r in used))


def _positions(zoo) -> np.ndarray:
    """The position in ``zoo.runs`` of each usable network (``zoo.usable()`` leaves diverged runs out)."""
    return np.flatnonzero([r.finite for r in zoo.runs])


def evaluate(protocol, by_arch: dict, grid: dict, steps: int, table_path=None, progress: bool = True,
             notes: dict | None = None):
    """Every point of ``grid`` (:func:`cells`) for every architecture, each classifier taking
    ``steps`` SGD steps: ``by_arch`` maps an architecture to ``{epoch: zoo}`` (:func:`zoos_at`). With
    ``table_path`` the rows are kept in that CSV as each point is done (atomically), and the points
    already there are not run again. Returns the table,
    one row per (architecture, axis, point, protocol, feature) (:func:`finish`), and the Gram times."""
    from wsm.core.progress import bar

    done = read(table_path) if table_path is not None and Path(table_path).exists() else pd.DataFrame()
    tables = [done] if len(done) else []
    gram_rows = []
    for arch, by_epoch in by_arch.items():
        todo = [p for p in dict.fromkeys(p for ps in grid.values() for p in ps)
                if not _has(done, arch, p)]
        for epoch in sorted({p.epoch for p in todo}):
            full, seconds = grams(protocol, by_epoch[epoch], progress)
            gram_rows += [dict(architecture=nets.LABELS[arch], epoch=epoch, feature=paper.feature(k, d),
                               networks=len(by_epoch[epoch].usable()[1]), gram_seconds=s)
                          for (k, d), s in seconds.items()]
            for p in bar([p for p in todo if p.epoch == epoch], desc=f"{nets.LABELS[arch]} after {epoch} epochs",
                         disable=not progress, leave=False):
                rows = evaluate_point(protocol, by_epoch[epoch], p, full, steps)
                rows = rows.assign(architecture=nets.LABELS[arch], arch=arch, **(notes or {}))
                tables.append(rows)
                if table_path is not None:
                    write(pd.concat(tables, ignore_index=True), table_path)
    table = finish(pd.concat(tables, ignore_index=True), grid, protocol.alpha) if tables else pd.DataFrame()
    return table, pd.DataFrame(gram_rows)


def _has(done: pd.DataFrame, arch: str, p: Point) -> bool:
    if not len(done):
        return False
    return bool(((done.arch == arch) & (done.epoch == p.epoch) & (done.tasks == p.tasks) & (done.runs == p.runs)).any())


COLUMNS = ["architecture", "arch", "protocol", "feature", "kind", "depth", "epoch", "tasks", "runs", "networks",
           "ours", "ci_low", "ci_high", "n", "null_mean", "null_low", "null_high", "p_null", "chance", "above_chance",
           "clf_epochs", "train_networks", "train_cpu_seconds", "test_seconds"]


def write(table: pd.DataFrame, path) -> Path:
    """The study's rows, atomically (a run killed while writing leaves the previous table)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = [c for c in COLUMNS if c in table] + [c for c in table if c not in COLUMNS]
    atomic_write(path, lambda f: table[columns].to_csv(f, index=False, float_format="%.6g"))
    return path


def read(path) -> pd.DataFrame:
    """A study table written by :func:`write`."""
    try:
        return pd.read_csv(path)
    except Exception as e:
        raise WsmError(f"{path} cannot be read as a zoo-size table ({type(e).__name__}): delete it to run the "
                       "study again from its zoos (the trained networks are kept)") from None


def finish(table: pd.DataFrame, grid: dict, alpha: float) -> pd.DataFrame:
    """One row per axis a point lies on (the full-size point lies on all three), the paper's value
    of the feature (Fig. 2, 50 tasks x 100 runs, full training) and whether the cell's interval says
    the hypothesis holds (:func:`wsm.maths.verdicts.holds`)."""
    out = []
    for axis, points in grid.items():
        keys = pd.DataFrame(points, columns=["epoch", "tasks", "runs"])
        out.append(table.merge(keys, on=["epoch", "tasks", "runs"]).assign(axis=axis))
    table = pd.concat(out, ignore_index=True) if out else table
    table["paper"] = [paper.FIG2.get((a, p, k), [math.nan] * 9)[d - 1]
                      for a, p, k, d in zip(table.arch, table.protocol, table.kind, table.depth)]
    table["half_width"] = (table.ci_high - table.ci_low) / 2
    table["cpu_seconds"] = table.train_cpu_seconds + table.test_seconds
    return judged(table, alpha)


def judged(table: pd.DataFrame, alpha: float = paper.ALPHA) -> pd.DataFrame:
    """``table`` without the retrieval points whose classifier saw too few tasks to embed unseen ones
    (:func:`wsm.maths.htt.retrieval_problem`: they measure rounding, not the networks; the committed study
    holds such rows from before the refusal), each cell with ``holds``: where its interval stands
    against the paper's bar (:func:`wsm.maths.verdicts.holds`)."""
    from wsm.core import profiles

    if table.empty:
        return table
    fraction = profiles.parameters("paper", "s4_1_tiny_imagenet")["retrieval_train_fraction"]
    degenerate = (table.protocol == "retrieval") & np.array([bool(htt.retrieval_problem(int(t), fraction))
                                                             for t in table.tasks], dtype=bool)
    table = table[~degenerate].reset_index(drop=True)
    table["holds"] = [verdicts.holds([lo], [hi], alpha) for lo, hi in zip(table.ci_low, table.ci_high)]
    return table



def zoos_at(zoos: dict) -> dict:
    """``{architecture: {epoch: zoo}}`` from a page's built zoos (name -> :class:`wsm.zoos.zoo.Zoo`): each
    zoo after each of its checkpoints and after its last epoch (the zoo itself)."""
    from wsm.zoos import zoo as _zoo

    out = {}
    for arch, z in zoos.items():
        tasks = z.config.tasks
        out[arch] = ({e: _zoo.load_zoo(z.path, None, tasks, epoch=e) for e in z.config.checkpoints}
                     | {z.config.epochs: z})
    return out


def grids(page, zoos: dict) -> dict[str, dict[str, list[Point]]]:
    """Each architecture's points: its zoo's checkpoints and last epoch, the page's grids of runs and tasks."""
    return {arch: cells(list(z.config.checkpoints) + [z.config.epochs], page.settings["tasks_grid"],
                        page.settings["runs_grid"], len(z.config.tasks), z.config.runs) for arch, z in zoos.items()}


def run(page, zoos: dict, table_path=None, progress: bool = True, notes: dict | None = None):
    """The zoo-size study of ``page`` (a ``zoo_size`` page) on its built ``zoos``: ``(table, gram
    times)``, every architecture on its own grid (:func:`grids`); resumable through ``table_path``."""
    tables, times = [], []
    by_arch = grids(page, zoos)
    at = zoos_at(zoos)
    for arch in zoos:
        t, g = evaluate(page.protocol, {arch: at[arch]}, by_arch[arch], page.settings["clf_steps"], table_path,
                        progress, notes)
        tables.append(t[t.arch == arch] if len(t) else t)
        times.append(g)
    return pd.concat(tables, ignore_index=True), pd.concat(times, ignore_index=True)


STUDY_TABLE = paths.REPO / "book" / "scaling" / "study.csv"
SLICE_TABLE = paths.BENCHMARKS / "paper_slice.csv"


def committed(path=STUDY_TABLE) -> pd.DataFrame:
    """The committed study's table (``make study``), or an empty table where none was committed."""
    return judged(read(path)) if Path(path).exists() else pd.DataFrame(columns=COLUMNS)


def gpu_slice(path=SLICE_TABLE) -> pd.DataFrame:
    """The committed GPU slice of Fig. 2 (``bench/paper_slice.py``: the paper's runs, epochs and
    classifier on its first tasks) as points on the three axes: its tasks, the paper's runs per task
    and the paper's epochs of each architecture."""
    from wsm.core import profiles

    if not Path(path).exists():
        return pd.DataFrame()
    p = profiles.parameters("paper", "s4_1_tiny_imagenet")
    s = pd.read_csv(path)
    s["arch"], s["architecture"] = s.architecture, s.architecture.map(nets.LABELS)
    s["kind"] = np.where(s.feature.str.startswith("C"), "normalized", "unnormalized")
    return judged(s.assign(runs=p["runs"], epoch=[p["mlp_epochs"] if a == "mlp4" else p["cnn_epochs"] for a in s.arch]))


X = {"runs": ("runs", "runs per task"), "tasks": ("tasks", "number of tasks"),
     "epochs": ("epoch", "epochs of training")}


def effects(table: pd.DataFrame) -> pd.DataFrame:
    """Which factor moves the accuracy most: per architecture, protocol and kind (chains, layers), the
    mean over features of the accuracy at the axis's largest point minus at its smallest, and whether
    every feature's two intervals are disjoint (the move is more than the test's noise)."""
    rows = []
    for (arch, prot, kind, axis), part in table.groupby(["architecture", "protocol", "kind", "axis"]):
        x = X[axis][0]
        lo, hi = (part[part[x] == part[x].min()].set_index("feature"),
                  part[part[x] == part[x].max()].set_index("feature"))
        if part[x].nunique() < 2:
            continue
        move = (hi.ours - lo.ours).mean()
        apart = bool(((hi.ci_low > lo.ci_high) | (hi.ci_high < lo.ci_low)).all())
        rows.append(dict(architecture=arch, protocol=prot, kind=kind, axis=axis,
                         span=f"{lo[x].iloc[0]:g} → {hi[x].iloc[0]:g}", move=move, intervals_apart=apart))
    return pd.DataFrame(rows)


def costs(table: pd.DataFrame) -> pd.DataFrame:
    """The cost of every point in CPU seconds: training its networks (each run on one thread, as
    recorded) and testing them (both protocols, every feature, the null included)."""
    t = table.drop_duplicates(["architecture", "epoch", "tasks", "runs", "protocol", "feature"])
    return (t.groupby(["architecture", "epoch", "tasks", "runs"])
            .agg(networks=("networks", "first"), train_cpu_seconds=("train_cpu_seconds", "first"),
                 test_seconds=("test_seconds", "sum")).reset_index())


def conclusion(table: pd.DataFrame, alpha: float = paper.ALPHA) -> str:
    """Two sentences read from ``table``: the factor that moves the chains most per architecture and
    protocol, and whether any point reaches the paper's rule (and where the layers stay in the null band)."""
    eff = effects(table)
    chains = eff[eff.kind == "normalized"]
    parts = []
    for (arch, prot), e in chains.groupby(["architecture", "protocol"]):
        top = e.loc[e.move.abs().idxmax()]
        parts.append(f"{arch} {prot}: {top.axis} ({top.span}, {top.move:+.1f} points, "
                     f"{'beyond' if top.intervals_apart else 'within'} the intervals)")
    ok = table[(table.kind == "normalized")].groupby(["architecture", "protocol", "epoch", "tasks", "runs"]).apply(
        lambda c: verdicts.holds(c.ci_low, c.ci_high, alpha), include_groups=False)
    held = ok[ok == verdicts.REPRODUCED]
    where = ("; ".join(f"{a} {p} at {t} tasks x {r} runs after {e} epochs" for a, p, e, t, r in held.index)
             if len(held) else "at no point of this table")
    layers = table[table.kind == "unnormalized"]
    in_null = layers[layers.null_high.notna()]
    share = (in_null.ours <= in_null.null_high).mean() if len(in_null) else math.nan
    return (f"The factor that moves the chains' accuracy most, per architecture and protocol: {'; '.join(parts)}. "
            f"Every chain's interval reaches the paper's {100 * (1 - alpha):.0f}% and lies above "
            f"{100 * (1 - alpha) - verdicts.DELTA:.0f}% (the hypothesis holds, wsm.maths.verdicts.holds) {where}; "
            + (f"{share:.0%} of the layer cells lie inside their permutation null's band." if share == share else ""))


def page_conclusion(slice_table: pd.DataFrame, study: pd.DataFrame, profile: str, alpha: float = paper.ALPHA) -> str:
    """The zoo-size page's closing paragraphs (Markdown): :func:`conclusion` of its own slice and of the
    committed study."""
    text = f"**Conclusion ({profile} profile, this page's slice).** {conclusion(slice_table, alpha)}"
    if len(study):
        text += f"\n\n**Conclusion (the committed study).** {conclusion(study, alpha)}"
    return text


def with_points(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with a ``point`` column naming each point as the page's accuracy table shows it."""
    return table.assign(point=[f"{e} ep, {t} tasks x {r} runs"
                               for e, t, r in zip(table.epoch, table.tasks, table.runs)])


def rows(page, table: pd.DataFrame) -> pd.DataFrame:
    """The zoo-size page's results rows ("Zoo size"; a point's panel names its axis and size)."""
    from wsm.zoos import data

    return table.assign(figure="Zoo size", panel=[f"{a}: {e} epochs, {t} tasks x {r} runs" for a, e, t, r in
                                                  zip(table.axis, table.epoch, table.tasks, table.runs)],
                        paper=float("nan"), profile=page.profile, dataset=data.short_name(page.dataset),
                        scale=page.scale)
