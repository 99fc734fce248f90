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
data_root = None
zoo_root = "zoos"
results_dir = "results"

# %%
import time

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from wsm import data, htt, nets, paper, plots, profiles, results, zoo

dataset = data.resolve_cifar100(profile, data_root)     # the stand-in outside `paper` when CIFAR-100 is absent
device = profiles.device(device)
dataset_label = ("CIFAR-100" if dataset == "cifar100" else
                 "STAND-IN for CIFAR-100 (Tiny ImageNet classes 0-99, CIFAR-100 is not available here)")
scale = (f"{n_tasks} tasks x {runs} runs, {epochs} epochs (lr / 10 after {milestones})"
         + ("" if train_per_class is None else f", {train_per_class} images/class") + f"; device {device}")
results.banner(profile, f"{dataset_label}, 2-class tasks", scale)

# %% [markdown]
# ## The weight set
# Task i holds classes 2i and 2i+1. ResNet-MLP-12: a stem block 3072 → 256 → 256, five residual
# blocks of two 256 → 256 layers (each Linear → ReLU → BatchNorm) on a 256-unit stream, and a
# 2-way head: 13 weight layers, of which the chains use layers 1…l.

# %%
params = dict(dataset=dataset, n_tasks=n_tasks, runs=runs, train_per_class=train_per_class, seed=seed,
              device=device, profile=profile, epochs=epochs, milestones=milestones)
t0 = time.time()
z = zoo.build_zoo(profiles.zoo_folder(zoo_root, params, "resmlp12"), profiles.zoo_config(params, "resmlp12"), data_root)
summary = pd.DataFrame([dict(architecture=nets.LABELS["resmlp12"], networks=len(z),
                             **z.table()[["train_acc", "test_acc"]].mean().round(3).to_dict(),
                             diverged=int((~z.table().finite).sum()), build_seconds=round(time.time() - t0))])
summary.set_index("architecture")

# %% [markdown]
# ## Weight classification by chain
# Per task, 60% of the runs train the weight classifier F_l and 40% test it (the paper's protocol).
# Each accuracy carries its exact 95% interval (Clopper–Pearson) and the p-value of the one-sided
# exact binomial test of "error < α"; the decision column is the paper's rule.

# %%
clf = htt.ClassifierConfig(epochs=clf_epochs, lr=clf_lr, milestones=tuple(clf_milestones), seed=1)
weights, labels = z.usable()
ours = htt.evaluate(weights, labels, depths=chain_numbers, train_fraction=train_fraction, seed=seed, cfg=clf,
                    alpha=alpha, protocols=("classification",))
ours["ours"] = 100 * ours.accuracy
ours["ci_low"], ours["ci_high"] = 100 * ours.ci_low, 100 * ours.ci_high
ours["paper"] = [paper.TABLE2[d] if k == "normalized" else float("nan") for k, d in zip(ours.kind, ours.depth)]
ours["decision"] = [htt.decide(a, alpha) for a in ours.accuracy]
table = ours.assign(feature=[("C" if k == "normalized" else "L") + str(d) for k, d in zip(ours.kind, ours.depth)])
table["95% CI"] = [f"{lo:.0f}–{hi:.0f}" for lo, hi in zip(table.ci_low, table.ci_high)]
table["p(error < α)"] = table.p_error_below_alpha.map("{:.2g}".format)
(table.sort_values(["kind", "depth"], ascending=[False, True])
 [["feature", "paper", "ours", "95% CI", "n", "p(error < α)", "decision"]].round(1).set_index("feature"))

# %%
fig = plots.protocol_panels(ours.assign(panel="a"), {"a": "ResNet-MLP-12 classification"}, alpha,
                            suptitle=f"Table 2, {dataset_label.split(' (')[0]}: paper vs ours (profile {profile}: {scale})")
plots.save(fig, "table2_resnet_mlp12", results_dir)
plt.show()

# %%
rows = ours.assign(figure="Table 2", panel="", architecture=nets.LABELS["resmlp12"], profile=profile,
                   dataset=dataset_label, scale=scale)
results.write(rows, results_dir, "appendix_d_resnet_mlp")

norm, unnorm = ours[ours.kind == "normalized"], ours[ours.kind == "unnormalized"]
accepted = (norm.decision == "accept H0").sum()
display(Markdown(
    f"**Conclusion ({profile} profile, {dataset_label.split(' (')[0]}).** Chain-normalized ResNet-MLP-12 features give "
    f"{norm.ours.min():.1f}–{norm.ours.max():.1f}% top-1 at chains {', '.join(map(str, chain_numbers))} (paper: "
    f"{norm.paper.min():.1f}–{norm.paper.max():.1f}%), and H0 is accepted at α = {alpha:.0%} for {accepted} of "
    f"{len(norm)} chains; the unnormalized layers at the same depths give {unnorm.ours.min():.1f}–"
    f"{unnorm.ours.max():.1f}%. Chance is {100 / n_tasks:.0f}% here ({n_tasks} tasks) against 2% in the paper (50 tasks)."))
