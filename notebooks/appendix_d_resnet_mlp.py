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
# # Appendix D: a deeper network, ResNet-MLP-12
#
# **Reproduces Table 2 (Appendix D)**: weight classification (top-1) of ResNet-MLP-12 trained on
# 2-class CIFAR-100 tasks, chain-normalized features at chains 3, 5, 7, 9 and 11, with the paper's
# numbers beside ours; the unnormalized layers at the same depths are shown for contrast (the paper
# reports no baseline here).

# %% tags=["parameters", "remove-cell"]
profile = "quick"
n_tasks = 4
runs = 10
train_per_class = None
epochs = 5
milestones = [3]
chain_numbers = [3, 5, 7, 9, 11]
train_fraction = 0.6
clf_epochs = 200
clf_lr = 0.001
clf_milestones = [120]
alpha = 0.05
seed = 0
device = "cpu"
null_repeats = 100
data_root = None
zoo_root = "zoos"
results_dir = "results"

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from wsm import data, htt, nets, paper, plots, profiles, results, zoo

dataset = data.resolve_cifar100(profile, data_root)     # the stand-in outside `paper` when CIFAR-100 is absent
device = profiles.device(device)
scale = (f"{n_tasks} tasks x {runs} runs, {epochs} epochs (lr / 10 after {milestones})"
         + ("" if train_per_class is None else f", {train_per_class} images/class") + f"; device {device}")
results.banner(profile, dataset, scale)

# %% [markdown]
# ## The weight set
# Task i holds classes 2i and 2i+1. ResNet-MLP-12: a stem block 3072 → 256 → 256, five residual
# blocks of two 256 → 256 layers (each Linear → ReLU → BatchNorm) on a 256-unit stream, and a
# 2-way head: 13 weight layers, of which the chains use layers 1…l.

# %%
params = dict(dataset=dataset, n_tasks=n_tasks, runs=runs, train_per_class=train_per_class, seed=seed,
              device=device, profile=profile, epochs=epochs, milestones=milestones)
zoos, built = zoo.build_zoos({"ResNet-MLP-12": (profiles.zoo_folder(zoo_root, params, "resmlp12"),
                                                profiles.zoo_config(params, "resmlp12"))}, data_root)
built

# %% [markdown]
# ## Weight classification by chain
# Per task, 60% of the runs train the weight classifier F_l and 40% test it (the paper's protocol).
# Each accuracy carries its exact 95% interval (Clopper–Pearson) and the p-value of the one-sided
# exact binomial test of "error < α", and the permutation null (task labels shuffled `null_repeats`
# times: mean, 95% band, p-value); the decision column is the paper's rule.

# %%
clf = htt.ClassifierConfig(epochs=clf_epochs, lr=clf_lr, milestones=tuple(clf_milestones), seed=1)
ours = htt.evaluate(*zoos["ResNet-MLP-12"].usable(), depths=chain_numbers, train_fraction=train_fraction, seed=seed,
                    cfg=clf, alpha=alpha, protocols=("classification",), null_repeats=null_repeats,
                    gram_cache=profiles.gram_cache(zoo_root))
ours = htt.percent(ours, alpha)
ours["paper"] = [paper.TABLE2[d] if k == "normalized" else float("nan") for k, d in zip(ours.kind, ours.depth)]
results.accuracy_table(ours.sort_values(["kind", "depth"], ascending=[False, True]), ["feature"], ["paper"], alpha)

# %%
fig = plots.protocol_panels(ours.assign(panel="a"), {"a": "ResNet-MLP-12 classification"}, alpha,
                            suptitle=f"Table 2, {data.short_name(dataset)}: paper vs ours (profile {profile}: {scale})")
plots.save(fig, "table2_resnet_mlp12", results_dir)
plt.show()

# %%
rows = ours.assign(figure="Table 2", panel="", architecture=nets.LABELS["resmlp12"], profile=profile,
                   dataset=data.describe(dataset), scale=scale)
results.write(rows, results_dir, "appendix_d_resnet_mlp")

norm, unnorm = ours[ours.kind == "normalized"], ours[ours.kind == "unnormalized"]
accepted = (norm.decision == "accept H0").sum()
display(Markdown(
    f"**Conclusion ({profile} profile, {data.short_name(dataset)}).** Chain-normalized ResNet-MLP-12 features give "
    f"{norm.ours.min():.1f}–{norm.ours.max():.1f}% top-1 at chains {', '.join(map(str, chain_numbers))} (paper: "
    f"{norm.paper.min():.1f}–{norm.paper.max():.1f}%), and H0 is accepted at α = {alpha:.0%} for {accepted} of "
    f"{len(norm)} chains; the unnormalized layers at the same depths give {unnorm.ours.min():.1f}–"
    f"{unnorm.ours.max():.1f}%. Chance is {100 / n_tasks:.0f}% here ({n_tasks} tasks) against 2% in the paper (50 tasks)."
    + results.null_sentence(ours, null_repeats)))
