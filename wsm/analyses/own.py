"""Hypothesis-training-testing on a folder of someone's own networks (the ``wsm htt`` command): the
files read and checked (:mod:`wsm.zoos.checkpoint`), the networks put in an order that does not depend on
names (:func:`wsm.maths.htt.content_order`), repeated splits, both classifiers, and every row judged by the
book's rules (:func:`wsm.maths.htt.judged`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from wsm.maths import chain, htt
from wsm.zoos import checkpoint
from wsm.core import paper
from wsm.core.errors import WsmError


@dataclass
class OwnTest:
    """The result of :func:`on_networks`."""

    table: object            # a pandas DataFrame: :func:`judged` rows of :func:`evaluate`'s first split, with
                             # split_mean, split_min, split_max and split_accuracies over every split
    n_networks: int
    tasks: list[str]
    layers: list[str]        # the chain layers' names (wsm.maths.chain.chain_layers of the first network)
    notes: list[str]         # protocols left out and why, files and layers not used
    settings: dict
    networks: list[dict]     # per network (in the order given): file, task, and the first split's prediction
                             # of every row that tested it ("C1 classification linear": task)
    splits: list[dict]       # per split: its seed, classification's test files, retrieval's training tasks and
                             # query files
    similarity: dict         # feature ("C1", "L2", ...) -> the networks' cosine matrix (in the order given)


def on_networks(folder, labels=None, depths=None, kinds=("unnormalized", "normalized"), protocols=None,
                epochs: int = htt.ClassifierConfig.epochs, null_repeats: int = 100, train_fraction: float = 0.6,
                task_fraction: float = 0.6, query_fraction: float = 0.2, seed: int = 0, alpha: float = 0.05,
                trust: bool = False, progress: bool = False, splits: int = htt.SPLITS, classifiers=htt.CLASSIFIERS,
                memory_gb: float | None = None) -> OwnTest:
    """Hypothesis-training-testing on a folder of your own networks (the ``wsm htt`` command).

    ``folder`` and ``labels``: see :func:`wsm.zoos.checkpoint.labelled` (a CSV with columns file,task, or
    each file's own ``task``). Every network is read with :func:`wsm.zoos.checkpoint.chain_of`; all must
    have the same chain shapes. ``depths``: chains/layers (default 1..3, at most the number of chain
    layers). Both protocols of :func:`evaluate`, with ``train_fraction`` of each task's networks
    (classification) and ``task_fraction`` of the tasks (retrieval) for training, ``query_fraction``
    of each unseen task's networks as queries, :func:`classifier_config` (``epochs``) and each of
    ``classifiers`` (the paper's linear one, the nearest neighbour on the cosine).

    The networks and tasks are taken in :func:`content_order`, so the result is the same whatever
    the tasks are called and in whichever order the files are listed. ``splits`` splits are drawn
    (seeds ``seed``, ``seed + 1``, ...): the first gives each row's numbers, exact interval,
    ``null_repeats`` label shuffles and verdict (:func:`judged`, with ``alpha``); all of them the
    row's ``split_mean``, ``split_min`` and ``split_max``. ``memory_gb``: the Gram matrices' memory
    bound (:func:`wsm.maths.chain.gram`; default its own). With ``protocols=None`` a protocol the networks
    are too few for is left out with a note; a protocol named in ``protocols`` raises instead.
    """
    import pandas as pd

    if splits < 1:
        raise WsmError(f"splits must be 1 or more, got {splits}")
    notes: list[str] = []
    files, tasks = checkpoint.labelled(folder, labels, trust, notes)
    weights, first = [], None
    for f in files:
        layers = checkpoint.chain_of(checkpoint.load(f, trust), str(f), notes)
        shapes = [layer.stored_shape for layer in layers]
        if first is None:
            first = (f, layers, shapes)
        elif shapes != first[2]:
            raise WsmError(f"{f} has chain layers of shapes {shapes} but {first[0]} has {first[2]}: the test needs "
                           "networks of one architecture")
        for layer in layers:
            if not torch.isfinite(layer.weight).all():
                raise WsmError(f"layer {layer.name} of {f} has non-finite weights (NaN or inf): the network diverged; "
                               "leave it out of the labels file")
        weights.append([layer.weight.detach().cpu() for layer in layers])
    notes = _one_of_each(notes)
    names = [str(t) for t in tasks]
    counts = pd.Series(names).value_counts()
    if len(counts) < 2:
        raise WsmError(f"all {len(files)} networks have the task {names[0]}: the test needs at least two tasks")
    n_layers = len(first[1])
    depths = [d for d in (1, 2, 3) if d <= n_layers] if depths is None else list(depths)
    for d in depths:
        if not 1 <= d <= n_layers:
            raise WsmError(f"depth {d} does not exist: these networks have {n_layers} chain layers (1..{n_layers})")
    cfg = htt.classifier_config(epochs)
    order, codes, runs = htt.content_order(weights, names)
    ordered = [weights[i] for i in order]
    task_of = {c: names[i] for c, i in zip(codes, order)}           # task number -> its name
    grams: dict = {}

    def gram(nets, depth, kind, center=False, progress=True, **_):
        """The Gram of ``ordered`` (the only networks here), computed once per feature and centring; where
        :func:`wsm.maths.chain.gram` takes the factor path, whose centred Gram is the uncentred one double-centred
        (:func:`wsm.maths.chain.gram_from_factors`), the one computation serves both."""
        key = (depth, kind, center)
        if key not in grams:
            factors = kind == "normalized" and chain.auto_method(nets, depth, memory_gb) == "factors"
            if factors and center:
                grams[key] = chain.double_centre(gram(nets, depth, kind, False, progress))
            else:
                grams[key] = chain.gram(nets, depth, kind, center=center, progress=progress, memory_gb=memory_gb)
        return grams[key]

    seeds = [seed + i for i in range(splits)]
    fractions = dict(train_fraction=train_fraction, retrieval_train_fraction=task_fraction,
                     query_fraction=query_fraction, cfg=cfg, alpha=alpha, progress=progress, gram=gram,
                     runs=runs, classifiers=tuple(classifiers))
    tables, ran = [], []
    for protocol in protocols or ("classification", "retrieval"):
        try:
            if protocol == "retrieval" and htt.retrieval_problem(len(counts), task_fraction):
                raise WsmError(htt.retrieval_problem(len(counts), task_fraction))
            each = [htt.evaluate(ordered, codes, depths, tuple(kinds), seed=s, protocols=(protocol,),
                             null_repeats=null_repeats if s == seed else 0, **fractions) for s in seeds]
        except WsmError as e:
            if protocols is not None:
                raise
            notes.append(f"{protocol} left out: {e}")
            continue
        ran.append(protocol)
        table = each[0].copy()
        table["split_accuracies"] = [list(v) for v in np.array([t.accuracy.to_numpy() for t in each]).T]
        table["split_mean"] = [float(np.mean(v)) for v in table.split_accuracies]
        table["split_min"] = [float(np.min(v)) for v in table.split_accuracies]
        table["split_max"] = [float(np.max(v)) for v in table.split_accuracies]
        tables.append(table)
    if not tables:
        raise WsmError("; ".join(notes))
    order_of = {k: i for i, k in enumerate(kinds)}
    how = {c: i for i, c in enumerate(htt.CLASSIFIERS)}
    table = htt.judged(pd.concat(tables, ignore_index=True), alpha)
    table = table.sort_values(["kind", "depth", "protocol", "classifier"], kind="stable",
                              key=lambda c: c.map(order_of) if c.name == "kind" else
                              c.map(how) if c.name == "classifier" else c).reset_index(drop=True)
    networks = [dict(file=str(f), task=t, predictions={}) for f, t in zip(files, names)]
    for r in table.itertuples():
        key = f"{paper.feature(r.kind, r.depth)} {r.protocol} {r.classifier}"
        for position, predicted in zip(r.tested, r.predicted):
            networks[order[position]]["predictions"][key] = task_of[predicted]
    split_list = []
    for s in seeds:
        part = dict(seed=s)
        if "classification" in ran:
            test = htt.split_runs(codes, train_fraction, s, runs)[1]
            part["classification_test"] = [str(files[order[i]]) for i in test]
        if "retrieval" in ran:
            train_tasks, test_tasks = htt.split_tasks(codes, task_fraction, s)
            unseen = np.flatnonzero(np.isin(codes, test_tasks))
            queries = unseen[htt.queries(codes, unseen, query_fraction, s, runs, None)[0]]
            part["retrieval_training_tasks"] = sorted(task_of[c] for c in train_tasks)
            part["retrieval_queries"] = [str(files[order[i]]) for i in queries]
        split_list.append(part)
    back = np.argsort(order)                 # position in the content order of each network as given
    similarity = {}
    for kind in kinds:
        for d in depths:
            c = htt.cosines(gram(ordered, d, kind, center=False, progress=progress))
            similarity[paper.feature(kind, d)] = c[np.ix_(back, back)]
    table = table.drop(columns=[c for c in ("hits", "tested", "predicted") if c in table])
    settings = dict(depths=depths, kinds=list(kinds), epochs=epochs, milestones=list(cfg.milestones),
                    null_repeats=null_repeats, train_fraction=train_fraction, task_fraction=task_fraction,
                    query_fraction=query_fraction, seed=seed, splits=splits, classifiers=list(classifiers),
                    alpha=alpha, memory_gb=memory_gb)
    return OwnTest(table, len(files), sorted(counts.index.tolist()), [layer.name for layer in first[1]], notes,
                   settings, networks, split_list, similarity)


def _one_of_each(notes: list[str]) -> list[str]:
    """``notes`` without repeats (every file of a zoo gives the same note on its BatchNorm layers)."""
    return list(dict.fromkeys(notes))
