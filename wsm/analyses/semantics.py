"""The ICLR-2020 version's claim that "semantics are bottom-up" (Section 4.1), made testable.

The claim (quoted in :data:`wsm.core.paper.ICLR_BOTTOM_UP`): every chain classifies well, so "the
projection directions of neural networks are arranged in order. Otherwise, the out-of-order
projection directions confuse the system and thus lead to poor performance". The text shows only
the first half (accuracy per chain). We add the second half as an experiment on the same zoo: the
weight classifier is trained and tested on chains whose layers are *out of order*, and compared
with the in-order chain of the same depth:

* **swapped**: chain 3 formed as ``W1 W3 W2`` (:func:`swap_layers`; MLP-4's 500x500 layers 2 and 3
  allow it). The chain is still a product of the network's own weights, but the hidden units of
  layer 1 now meet the *input* side of layer 3: the permutations no longer cancel.
* **mixed**: chain ``l`` with layer ``l`` taken from another run of the same task
  (:func:`mix_layer`): the same layers, in the right order and with the right statistics, but the
  two runs' hidden units are in unrelated orders.

Both keep every shape, so the classifier, its training and the test split are exactly those of the
in-order chain; only the order of the projection directions differs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wsm.core.errors import WsmError


def swap_layers(weights, i: int, j: int) -> list:
    """The weight list with layers ``i`` and ``j`` (1-based) exchanged."""
    if not (1 <= i <= len(weights) and 1 <= j <= len(weights)):
        raise WsmError(f"cannot swap layers {i} and {j}: the network has {len(weights)} weight layers")
    if weights[i - 1].shape != weights[j - 1].shape:
        raise WsmError(f"cannot swap layers {i} {tuple(weights[i - 1].shape)} and {j} "
                       f"{tuple(weights[j - 1].shape)}: their shapes differ, so the chain would not multiply")
    out = list(weights)
    out[i - 1], out[j - 1] = weights[j - 1], weights[i - 1]
    return out


def mix_layer(nets, labels, layer: int, seed: int = 0, sides=None) -> list[list]:
    """Every network with its weight layer ``layer`` (1-based) replaced by that of another run of
    the same task (a random cyclic shift within each task, so no network keeps its own). With
    ``sides`` (e.g. 0 for the classifier's training runs, 1 for its test runs) donors are taken on
    the network's own side only, so no test network carries a training network's layer."""
    labels = np.asarray(labels)
    sides = np.zeros(len(labels), dtype=int) if sides is None else np.asarray(sides)
    rng = np.random.default_rng(seed)
    donor = np.arange(len(nets))
    for t, side in sorted({(t, s) for t, s in zip(labels.tolist(), sides.tolist())}):
        idx = rng.permutation(np.flatnonzero((labels == t) & (sides == side)))
        if len(idx) < 2:
            raise WsmError(f"task {t} has {len(idx)} run(s) on one side of the split: mixing layers needs at least "
                           "two runs per task on each side; use more runs per task")
        donor[idx] = np.roll(idx, 1)
    out = []
    for n, d in zip(nets, donor):
        w = list(n)
        w[layer - 1] = nets[d][layer - 1]
        out.append(w)
    return out


@dataclass
class Variant:
    name: str          # "in order", "layers 2, 3 swapped", "layer 2 from another run"
    order: str         # "in order" or "out of order"
    depth: int
    nets: list


def variants(nets, labels, depths, mixed_depths=(2,), seed: int = 0, sides=None) -> list[Variant]:
    """In-order chains at ``depths``; chain 3 with layers 2 and 3 swapped where their shapes allow;
    chain ``l`` with layer ``l`` from another run of the same task (on the same side of the split,
    ``sides``) for each ``l`` in ``mixed_depths``."""
    out = [Variant("in order", "in order", d, nets) for d in depths]
    if len(nets[0]) >= 3 and nets[0][1].shape == nets[0][2].shape:
        out.append(Variant("layers 2, 3 swapped", "out of order", 3, [swap_layers(w, 2, 3) for w in nets]))
    for d in mixed_depths:
        out.append(Variant(f"layer {d} from another run", "out of order", d, mix_layer(nets, labels, d, seed, sides)))
    return out


def evaluate(nets, labels, depths, mixed_depths=(2,), train_fraction: float = 0.6, seed: int = 0,
             cfg=None, alpha: float = 0.05, progress: bool = True, null_repeats: int = 0, device: str = "cpu",
             runs=None, runs_per_task: int | None = None):
    """Weight classification (:func:`wsm.maths.htt.evaluate`, normalized chains) of every variant: one
    row per variant with its accuracy, sample size, exact interval and p-value, and with
    ``null_repeats > 0`` its permutation null (task labels shuffled; ``null_mean`` .. ``p_null``).
    Every variant uses the in-order chain's split (by run identity: ``runs``, ``runs_per_task``), and
    a mixed chain's donor is always on its recipient's side of it."""
    import pandas as pd

    from wsm.maths import htt
    from wsm.core.progress import bar

    cfg = cfg or htt.ClassifierConfig()
    train, _ = htt.split_runs(labels, train_fraction, seed, runs, runs_per_task)
    sides = np.where(np.isin(np.arange(len(labels)), train), 0, 1)
    rows = []
    for v in bar(variants(nets, labels, depths, mixed_depths, seed, sides), desc="chain variants",
                 disable=not progress, leave=False):
        df = htt.evaluate(v.nets, labels, depths=[v.depth], kinds=("normalized",), train_fraction=train_fraction,
                          seed=seed, cfg=cfg, alpha=alpha, progress=False, protocols=("classification",),
                          null_repeats=null_repeats, device=device, runs=runs, runs_per_task=runs_per_task)
        rows.append(df.assign(variant=v.name, order=v.order))
    return pd.concat(rows, ignore_index=True)


def against_in_order(rows):
    """Each out-of-order row of :func:`evaluate`'s table (with ``architecture``, accuracies and
    intervals in percent) beside the in-order chain of the same depth; ``below`` is true when the
    two exact 95% intervals are disjoint with the out-of-order chain lower."""
    keys = ["architecture", "depth"]
    cols = keys + ["ours", "ci_low", "ci_high"]
    inorder = rows[rows.order == "in order"][cols]
    out = rows[rows.order == "out of order"][cols + ["variant"]].merge(inorder, on=keys, suffixes=("", "_in_order"))
    out["below"] = out.ci_high < out.ci_low_in_order
    return out


def control_sentence(ours, n_tasks: int) -> str:
    """The page's words on its control (Markdown): how the in-order chains stand against chance, and
    each out-of-order chain against its in-order one (:func:`against_in_order`)."""
    inorder = ours[ours.order == "in order"]
    pairs = against_in_order(ours)
    drops = [f"{r.architecture} C{r.depth} {r.variant}: {r.ours:.1f}% ({r.ci_low:.0f}–{r.ci_high:.0f}) vs in order "
             f"{r.ours_in_order:.1f}% ({r.ci_low_in_order:.0f}–{r.ci_high_in_order:.0f})" for r in pairs.itertuples()]
    above = int((inorder.ci_low > 100 / n_tasks).sum())
    return (f"In-order chains give {inorder.ours.min():.1f}–{inorder.ours.max():.1f}% top-1 ({n_tasks} tasks, chance "
            f"{100 / n_tasks:.0f}%); {above} of {len(inorder)} have their whole 95% interval above chance. "
            "The control: "
            f"out of order, {'; '.join(drops)}; in {int(pairs.below.sum())} of {len(pairs)} cases the interval lies "
            "wholly below the in-order chain's. A drop is what breaking the permutation cancellation predicts, so "
            "this control does not test the claim itself.")


FIGURE = "ICLR Sec. 4.1 (bottom-up)"


def page_table(page, zoos):
    """The ICLR page's table: :func:`evaluate` of every zoo of ``zoos`` with the page's protocol and
    ``mixed_depths``, in percent (:func:`wsm.maths.htt.percent`), with the claim each row bears on ("high"
    for in-order chains, "poor" for the out-of-order control), its interval and null as shown."""
    import pandas as pd

    from wsm.maths import htt
    from wsm.zoos import nets

    proto = page.protocol
    frames = [evaluate(*z.usable(), depths=proto.chains, mixed_depths=page.settings["mixed_depths"],
                       train_fraction=proto.train_fraction, seed=proto.seed, cfg=proto.classifier, alpha=page.alpha,
                       null_repeats=proto.null_repeats, device=proto.device, runs=z.usable_runs(),
                       runs_per_task=z.config.runs).assign(architecture=nets.LABELS[arch])
              for arch, z in zoos.items()]
    ours = htt.percent(pd.concat(frames, ignore_index=True), page.alpha)
    ours["paper"] = float("nan")                      # the claim has no number
    ours["claim"] = np.where(ours.order == "in order", "high (all chains)", "poor (confused)")
    ours["95% CI"] = [f"{lo:.0f}–{hi:.0f}" for lo, hi in zip(ours.ci_low, ours.ci_high)]
    ours["null (p)"] = [f"{m:.0f} ({p:.3f})" if m == m else "—" for m, p in
                        zip(ours.get("null_mean", np.nan * ours.ours), ours.get("p_null", np.nan * ours.ours))]
    return ours


def shown(ours):
    """:func:`page_table` as the page shows it, by architecture and variant."""
    return (ours[["architecture", "variant", "depth", "claim", "ours", "95% CI", "null (p)", "n"]]
            .rename(columns={"depth": "chain"}).round(1).set_index(["architecture", "variant"]))


def rows(page, ours):
    """The page's results rows: every chain of :func:`page_table`, then one claim row (the mean in-order
    top-1 with :func:`wsm.maths.verdicts.bottom_up`'s verdict: every in-order chain passes the paper's rule; the
    out-of-order chains are a control, whose failure follows from the algebra, not from the claim)."""
    import pandas as pd

    from wsm.maths import verdicts
    from wsm.zoos import data

    inorder = ours[ours.order == "in order"]
    passed = int((inorder.accuracy > 1 - page.alpha).sum())
    setting = page.setting_columns("mlp4")          # the zoos' tasks, runs, schedule and splits (wsm.report.claims)
    claim = dict(variant="claim", depth=float("nan"), ours=inorder.ours.mean(), n=int(inorder.n.sum()),
                 agrees="yes" if passed == len(inorder) else "partly" if passed else "no",  # the interval-blind reading
                 verdict=verdicts.bottom_up(ours, page.alpha), architecture="MLP-4, PlainNet-5",
                 metric="mean in-order top-1", **setting)
    out = pd.concat([ours.assign(metric="top-1", **setting), pd.DataFrame([claim])], ignore_index=True)
    return out.assign(figure=FIGURE, panel=out.variant, kind="normalized", protocol="classification",
                      profile=page.profile, dataset=data.short_name(page.dataset), scale=page.scale)
