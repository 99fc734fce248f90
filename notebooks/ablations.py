# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Ablations: what the paper leaves ambiguous
#
# **Reproduces nothing new; measures five choices behind Fig. 2 (Section 4.1)** on the Fig. 2 zoos and
# splits, each with its exact 95% interval (conditional on one zoo, one split and one classifier):
# (1) MLP chains with and without per-layer row normalization: the ICLR text says "we normalize the
# weights of each layer in MLP" and the authors' code does so from chain 2 on, while Eq. 7 (ours)
# does not; (2) the classifier's features centred and scaled (ours) against the raw vec(φ) the code
# feeds it; (3) PlainNet-5's unit order, conv → ReLU → BN (the paper's list, ours) against
# conv → BN → ReLU (the code), two zoos on the same tasks; (4) the weight classifier: the paper's linear one
# against the nearest neighbour on the feature's cosine (nothing trained), on the same splits, which shows
# where the linear classifier, not the weights, is the limit; (5) the chains' spread over split seeds: how
# much of a number is the split.

# %% tags=["parameters", "remove-cell"]
profile = "quick"
overrides = {}
roots = {}

# %% [markdown]
# The zoos are the Fig. 2 page's (asked of that page), plus PlainNet-5 in the code's unit order on the
# first tasks, its own seeds (an independent zoo). The permutation null is left out here (`null_repeats`).

# %%
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython.display import Markdown, display

from wsm import ablations, experiments, htt, nets, plots, results

page, zoos = experiments.start("ablations", profile, overrides, roots)
proto, tasks = page.protocol, page.only_tasks["plainnet5bn"]

# %%
own = {a: proto.evaluate_zoo(zoos[a]) for a in ("mlp4", "plainnet5")}   # the page's own tables, reused below
features = {a: ablations.standardization(proto, zoos[a], known=t) for a, t in own.items()}
parts = {
    "MLP row normalization": ablations.row_normalization(proto, zoos["mlp4"], known=own["mlp4"])
                             .assign(architecture="MLP-4"),
    "classifier features": pd.concat([t.assign(architecture=nets.LABELS[a]) for a, t in features.items()],
                                     ignore_index=True),
    "weight classifier": pd.concat([ablations.classifier(proto, zoos[a], known=t).assign(architecture=nets.LABELS[a])
                                    for a, t in own.items()], ignore_index=True),
    "PlainNet-5 unit order": ablations.unit_order(proto, zoos["plainnet5"].only(tasks), zoos["plainnet5bn"])
                             .assign(architecture="PlainNet-5"),
    "split seed": pd.concat([ablations.split_seeds(proto, zoos[a], page.settings["split_seeds"], known=t)
                             .assign(architecture=nets.LABELS[a]) for a, t in own.items()], ignore_index=True),
}
ours = htt.percent(pd.concat(parts.values(), ignore_index=True), page.alpha)
results.accuracy_table(ours, ["ablation", "architecture", "protocol", "feature"], ["setting"], page.alpha)

# %% [markdown]
# How much of a Fig. 2 number is the split: per chain, the range and standard deviation over the split seeds
# (the layers, at chance under every split, are left out).

# %%
spread = ablations.spread(ours[ours.ablation == "split seed"])
spread

# %%
fig, axes = plt.subplots(1, 4, figsize=(11.2, 3.8), sharey=True)
for ax, name in zip(axes, ["MLP row normalization", "classifier features", "weight classifier", "PlainNet-5 unit order"]):
    sub = ours[ours.ablation == name]
    sub = sub.assign(cell=[f"{a[:5]} {p[:5]}. {f}" for a, p, f in zip(sub.architecture, sub.protocol, sub.feature)])
    sns.barplot(sub, x="cell", y="ours", hue="setting", ax=ax)
    for bars, (_, part) in zip(ax.containers, sub.groupby("setting", sort=False)):
        x = [b.get_x() + b.get_width() / 2 for b in bars]
        ax.errorbar(x, part.ours, yerr=[part.ours - part.ci_low, part.ci_high - part.ours], fmt="none", ecolor="k",
                    elinewidth=0.7, capsize=2)
    ax.axhline(100 * (1 - page.alpha), color="crimson", ls="--", lw=1)
    ax.set(title=name, xlabel="", ylabel="accuracy (%)", ylim=(0, 105))
    ax.tick_params(axis="x", rotation=60, labelsize=7)
    ax.legend(fontsize=plots.SMALL, loc="lower left")
fig.suptitle(f"Ablations on the Fig. 2 zoos (profile {profile}); bars: exact 95% intervals", fontsize=10)
fig.tight_layout()
plots.caption(fig)
plots.save(fig, "ablations", page.results_dir)
plt.show()

# %%
rows = ours.assign(figure="Ablations", panel=ours.ablation, metric=ours.metric + " (" + ours.setting + ")",
                   paper=float("nan"), profile=profile, dataset="Tiny ImageNet", scale=page.scale)
results.write(rows, page.results_dir, "ablations")

display(Markdown(ablations.conclusion(ours, spread, len(tasks), len(page.settings["split_seeds"]), profile)))
