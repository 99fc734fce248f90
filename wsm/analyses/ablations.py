"""What the paper leaves ambiguous, measured on the same zoos and splits (the "Ablations" page).

Each function returns :meth:`wsm.book.experiments.Protocol.evaluate`'s table for both settings of one
choice, with ``ablation`` and ``setting`` columns, so the page shows them side by side with their
exact intervals:

* :func:`row_normalization`: MLP chains with every layer's input-unit weights L2-normalized (the
  ICLR text and the authors' code, :func:`wsm.maths.chain.row_normalized`) against Eq. 7 as printed (ours);
* :func:`standardization`: the classifier's features centred and scaled (ours) against raw
  vec(phi) (the authors' code), :attr:`wsm.maths.htt.ClassifierConfig.standardize`;
* :func:`split_seeds`: the chains of the same zoo under other split seeds: how much of a number is
  the split;
* :func:`classifier`: every chain and layer by the paper's linear weight classifier (ours) and by the
  nearest neighbour on the feature's cosine (:func:`wsm.maths.htt.nearest_classification`,
  :func:`wsm.maths.htt.nearest_retrieval`), on the same splits: where the nearest neighbour is above, the
  linear classifier, not the weights, is the limit;
* :func:`unit_order`: PlainNet-5 with conv -> ReLU -> BN (the paper's list, ours) against
  conv -> BN -> ReLU (the authors' code), two zoos on the same tasks.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from wsm.maths import chain


def _tag(table: pd.DataFrame, ablation: str, setting: str) -> pd.DataFrame:
    return table.assign(ablation=ablation, setting=setting)


def row_normalization(protocol, zoo, progress: bool = False, known: pd.DataFrame | None = None) -> pd.DataFrame:
    """Chains 2.. of an MLP zoo without (Eq. 7, ours) and with per-layer row normalization; chain 1
    is the same either way in the authors' code (its unnormalized Gram), so it is left out.
    ``known``: as in :func:`split_seeds` (reused for "none")."""
    chains = dataclasses.replace(protocol, layers=(), chains=tuple(d for d in protocol.chains if d >= 2))
    w, y = zoo.usable()
    ids = (zoo.usable_runs(), zoo.config.runs)
    none = (known[(known.kind == "normalized") & known.depth.isin(chains.chains)] if known is not None
            else chains.evaluate(w, y, *ids, progress=progress))
    return pd.concat([_tag(none, "MLP row normalization", "none (Eq. 7, ours)"),
                      _tag(chains.evaluate([chain.row_normalized(x) for x in w], y, *ids, progress=progress),
                           "MLP row normalization", "every layer (ICLR text, code)")], ignore_index=True)


STANDARDIZED = "centred and scaled (ours)"


def standardization(protocol, zoo, progress: bool = False, known: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every chain and layer with the classifier's features centred and scaled (ours: the protocol
    itself, setting :data:`STANDARDIZED`) and raw. ``known``: as in :func:`split_seeds`."""
    raw = dataclasses.replace(protocol, classifier=dataclasses.replace(protocol.classifier, standardize=False))
    own = known if known is not None else protocol.evaluate_zoo(zoo, progress)
    return pd.concat([_tag(own, "classifier features", STANDARDIZED),
                      _tag(raw.evaluate_zoo(zoo, progress), "classifier features", "raw vec(φ) (code)")],
                     ignore_index=True)


LINEAR, NEAREST = "linear (paper, ours)", "nearest neighbour on the cosine"


def classifier(protocol, zoo, progress: bool = False, known: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every chain and layer of ``zoo`` by the paper's linear classifier (the protocol itself, setting
    :data:`LINEAR`) and by the nearest neighbour on the feature's cosine (:data:`NEAREST`), on the same
    splits and test networks. ``known``: as in :func:`split_seeds`."""
    own = known if known is not None else protocol.evaluate_zoo(zoo, progress)
    return pd.concat([_tag(own.assign(classifier="linear"), "weight classifier", LINEAR),
                      _tag(protocol.evaluate_zoo(zoo, progress, classifiers=("nearest",)), "weight classifier",
                           NEAREST)], ignore_index=True)


def classifier_limit(table: pd.DataFrame) -> tuple[int, int, int]:
    """Of the matched cells (architecture, protocol, feature) of :func:`classifier`'s ablation in
    ``table`` (percent, :func:`wsm.maths.htt.percent`): ``(nearest above, linear above, cells)``, a side
    counted where its 95% interval lies wholly above the other's (:func:`wsm.maths.verdicts.below`)."""
    from wsm.maths import verdicts

    part = table[table.ablation == "weight classifier"]
    keys = [k for k in ("architecture", "protocol", "feature") if k in part]
    pairs = part[part.setting == LINEAR].merge(part[part.setting == NEAREST], on=keys, suffixes=("", "_nn"))
    nearest = sum(verdicts.below([r.ci_low], [r.ci_high], [r.ci_low_nn], [r.ci_high_nn]) == verdicts.SUPPORTED
                  for r in pairs.itertuples())
    linear = sum(verdicts.below([r.ci_low_nn], [r.ci_high_nn], [r.ci_low], [r.ci_high]) == verdicts.SUPPORTED
                 for r in pairs.itertuples())
    return nearest, linear, len(pairs)


def split_seeds(protocol, zoo, seeds, progress: bool = False, known: pd.DataFrame | None = None) -> pd.DataFrame:
    """The chains of ``zoo`` under each split seed of ``seeds`` (the same networks and Grams); the
    layers, at chance under every split, are left out. ``known``: the protocol's own table of this
    zoo (:meth:`~wsm.book.experiments.Protocol.evaluate_zoo`), reused for ``protocol.seed`` instead of
    being computed again."""
    chains = dataclasses.replace(protocol, layers=())

    def at(seed):
        if known is not None and seed == protocol.seed:
            return known[known.kind == "normalized"]
        return dataclasses.replace(chains, seed=seed).evaluate_zoo(zoo, progress)

    return pd.concat([_tag(at(s), "split seed", str(s)) for s in seeds], ignore_index=True)


def unit_order(protocol, ours, code, progress: bool = False) -> pd.DataFrame:
    """Two PlainNet-5 zoos on the same tasks: conv -> ReLU -> BN (``ours``, the paper's list) and
    conv -> BN -> ReLU (``code``, the authors' code)."""
    return pd.concat([_tag(protocol.evaluate_zoo(ours, progress), "PlainNet-5 unit order",
                           "conv → ReLU → BN (paper, ours)"),
                      _tag(protocol.evaluate_zoo(code, progress), "PlainNet-5 unit order", "conv → BN → ReLU (code)")],
                     ignore_index=True)


def spread(table: pd.DataFrame) -> pd.DataFrame:
    """Per cell (architecture, protocol, feature), the range and standard deviation of ``ours`` over
    the settings of one ablation (e.g. the split seeds)."""
    return (table.groupby(["architecture", "protocol", "feature"], sort=False).ours
            .agg(["min", "max", "std", "count"]).rename(columns={"count": "settings"}).round(1))


def conclusion(table: pd.DataFrame, spread_table: pd.DataFrame, unit_order_tasks: int, seeds: int, profile: str) -> str:
    """The Ablations page's closing paragraph (Markdown): each ablation's mean over its cells and how far
    a chain cell moves with the split (``spread_table``: :func:`spread` of the split-seed ablation)."""
    def mean(name, setting):
        part = table[(table.ablation == name) & (table.setting == setting)]
        return f"{part.ours.mean():.1f}%"

    moves = spread_table["max"] - spread_table["min"]
    nearest, linear, cells = classifier_limit(table)
    return (f"**Conclusion ({profile} profile).** Mean over cells: MLP chains 2–3 give "
            f"{mean('MLP row normalization', 'none (Eq. 7, ours)')} as printed and "
            f"{mean('MLP row normalization', 'every layer (ICLR text, code)')} row-normalized; the classifier gives "
            f"{mean('classifier features', 'centred and scaled (ours)')} on centred and scaled features and "
            f"{mean('classifier features', 'raw vec(φ) (code)')} on raw ones; PlainNet-5 on {unit_order_tasks} tasks "
            f"gives {mean('PlainNet-5 unit order', 'conv → ReLU → BN (paper, ours)')} in the paper's unit order and "
            f"{mean('PlainNet-5 unit order', 'conv → BN → ReLU (code)')} in the code's. The nearest neighbour on the "
            f"cosine gives {mean('weight classifier', NEAREST)} against the linear classifier's "
            f"{mean('weight classifier', LINEAR)}; its interval lies wholly above the linear one's in {nearest} of "
            f"{cells} cells (there the linear classifier, not the weights, is the limit) and wholly below in "
            f"{linear}. Over {seeds} split seeds a "
            f"chain cell moves by up to {moves.max():.1f} points (median {moves.median():.1f}): differences smaller "
            "than that are the split's, not the method's. Each mean hides cells whose intervals overlap: the table "
            "above is the evidence.")


def page_table(page, zoos) -> pd.DataFrame:
    """The Ablations page's table, in percent (:func:`wsm.maths.htt.percent`): every ablation above on the
    Fig. 2 zoos (``mlp4``, ``plainnet5``) and the code-order PlainNet-5 zoo (``plainnet5bn``, on the
    page's first tasks), each row with its ``ablation``, ``setting`` and ``architecture``. The page's own
    tables of each zoo are computed once and reused for the settings that are ours."""
    from wsm.maths import htt
    from wsm.zoos import nets

    proto, tasks = page.protocol, page.only_tasks["plainnet5bn"]
    own = {a: proto.evaluate_zoo(zoos[a]) for a in ("mlp4", "plainnet5")}
    features = {a: standardization(proto, zoos[a], known=t) for a, t in own.items()}

    def each(ablation):
        return pd.concat([ablation(a, t).assign(architecture=nets.LABELS[a]) for a, t in own.items()],
                         ignore_index=True)

    parts = [row_normalization(proto, zoos["mlp4"], known=own["mlp4"]).assign(architecture="MLP-4"),
             each(lambda a, t: features[a]),
             each(lambda a, t: classifier(proto, zoos[a], known=t)),
             unit_order(proto, zoos["plainnet5"].only(tasks), zoos["plainnet5bn"]).assign(architecture="PlainNet-5"),
             each(lambda a, t: split_seeds(proto, zoos[a], page.settings["split_seeds"], known=t))]
    return htt.percent(pd.concat(parts, ignore_index=True), page.alpha)


PANELS = ("MLP row normalization", "classifier features", "weight classifier", "PlainNet-5 unit order")


def rows(page, table: pd.DataFrame) -> pd.DataFrame:
    """The page's results rows (figure "Ablations"; a row's metric names its setting)."""
    from wsm.zoos import data

    return table.assign(figure="Ablations", panel=table.ablation, metric=table.metric + " (" + table.setting + ")",
                        paper=float("nan"), profile=page.profile, dataset=data.short_name(page.dataset),
                        scale=page.scale)
