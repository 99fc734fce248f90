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
# # Section 4.1: hypothesis-training-testing on Tiny ImageNet
#
# **Reproduces Fig. 2 (a–d)**: weight classification (top-1) and weight retrieval (rank-1) for
# MLP-4 and PlainNet-5, chain-normalized features C1–C3 against unnormalized layers L1–L3, with the
# paper's numbers beside ours and the decision at α = 5%.

# %% tags=["parameters", "remove-cell"]
profile = "quick"
dataset = "tiny-imagenet"
n_tasks = 10
runs = 10
train_per_class = None
mlp_epochs = 10
mlp_milestones = [7]
cnn_epochs = 3
cnn_milestones = [2]
cnn_batch_size = 64
chains = 3
train_fraction = 0.6
retrieval_train_fraction = 0.6
query_fraction = 0.2
clf_epochs = 500
clf_lr = 0.001
clf_milestones = [300]
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

from wsm import htt, nets, paper, plots, profiles, results, zoo

device = profiles.device(device)
scale = (f"{n_tasks} tasks x {runs} runs per architecture; MLP-4 {mlp_epochs} epochs, "
         f"PlainNet-5 {cnn_epochs} epochs" + ("" if cnn_batch_size == 128 else f" at batch {cnn_batch_size}")
         + ("" if train_per_class is None else f", {train_per_class} images/class")
         + f"; device {device}")
results.banner(profile, dataset, scale)

# %% [markdown]
# ## The weight sets
# Task r holds classes 4r…4r+3 (sorted wnids). Each run is one SGD training from its own seed.

# %%
params = dict(dataset=dataset, n_tasks=n_tasks, runs=runs, train_per_class=train_per_class, seed=seed,
              device=device, profile=profile, mlp_epochs=mlp_epochs, mlp_milestones=mlp_milestones,
              cnn_epochs=cnn_epochs, cnn_milestones=cnn_milestones, cnn_batch_size=cnn_batch_size)
zoos, built = zoo.build_zoos({a: (profiles.zoo_folder(zoo_root, params, a), profiles.zoo_config(params, a))
                              for a in ("mlp4", "plainnet5")}, data_root)
built

# %% [markdown]
# ## Weight classification and retrieval
# For each chain (normalized) and layer (unnormalized) a weight classifier F_l is trained
# (Eq. 8–9); classification holds out 40% of each task's runs, retrieval holds out 40% of the tasks.
# Beyond the paper, each accuracy carries its exact 95% interval (Clopper–Pearson) and the p-value of
# the one-sided exact binomial test of "error < α"; and a permutation null: the same pipeline with
# the task labels shuffled across networks `null_repeats` times (its mean, 95% band and p-value
# p_null = (1 + #null ≥ ours) / (1 + R)). The decision column is the paper's rule.

# %%
clf = htt.ClassifierConfig(epochs=clf_epochs, lr=clf_lr, milestones=tuple(clf_milestones), seed=1)
ours = pd.concat([htt.evaluate(*z.usable(), depths=range(1, chains + 1), train_fraction=train_fraction,
                               retrieval_train_fraction=retrieval_train_fraction, query_fraction=query_fraction,
                               seed=seed, cfg=clf, alpha=alpha, null_repeats=null_repeats,
                               gram_cache=profiles.gram_cache(zoo_root)).assign(architecture=arch)
                  for arch, z in zoos.items()], ignore_index=True)   # a diverged run is excluded with a warning
ours = htt.percent(ours, alpha)
ours["paper"] = [paper.FIG2[(a, p, k)][d - 1] for a, p, k, d in
                 zip(ours.architecture, ours.protocol, ours.kind, ours.depth)]
ours["panel"] = [paper.FIG2_PANELS[(a, p)] for a, p in zip(ours.architecture, ours.protocol)]
results.accuracy_table(ours.assign(architecture=ours.architecture.map(nets.LABELS))
                       .sort_values(["panel", "kind", "depth"], ascending=[True, False, True]),
                       ["panel"], ["architecture", "protocol", "feature", "paper"], alpha)

# %%
titles = {"a": "MLP-4 classification", "b": "PlainNet-5 classification",
          "c": "MLP-4 retrieval", "d": "PlainNet-5 retrieval"}
fig = plots.protocol_panels(ours, titles, alpha,
                            suptitle=f"Fig. 2, Tiny ImageNet: paper vs ours (profile {profile}: {scale})")
plots.save(fig, "fig2_tiny_imagenet", results_dir)
plt.show()

# %%
rows = ours.assign(figure="Fig. 2", architecture=ours.architecture.map(nets.LABELS), profile=profile,
                   dataset="Tiny ImageNet", scale=scale)
results.write(rows, results_dir, "s4_1_tiny_imagenet")

norm = ours[ours.kind == "normalized"]
unnorm = ours[ours.kind == "unnormalized"]
accepted = (norm.decision == "accept H0").sum()
display(Markdown(
    f"**Conclusion ({profile} profile).** Chain-normalized features give {norm.ours.min():.1f}–{norm.ours.max():.1f}% "
    f"(paper: {norm.paper.min():.1f}–{norm.paper.max():.1f}%) and H0 is accepted at α = {alpha:.0%} for "
    f"{accepted} of {len(norm)} chain/protocol cells; unnormalized layers give {unnorm.ours.min():.1f}–"
    f"{unnorm.ours.max():.1f}% (paper: {unnorm.paper.min():.1f}–{unnorm.paper.max():.1f}%). "
    f"Chance is {100 / n_tasks:.0f}% for classification here ({n_tasks} tasks) against 2% in the paper (50 tasks)."
    + results.null_sentence(ours, null_repeats)))
