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
overrides = {}
roots = {}

# %% [markdown]
# ## The weight sets
# Task r holds classes 4r…4r+3 (sorted wnids). Each run is one SGD training from its own seed.

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from wsm import experiments, htt, nets, paper, plots, results

page, zoos = experiments.start("s4_1_tiny_imagenet", profile, overrides, roots)

# %% [markdown]
# ## Weight classification and retrieval
# For each chain (normalized) and layer (unnormalized) a weight classifier F_l is trained
# (Eq. 8–9); classification holds out 40% of each task's runs, retrieval holds out 40% of the tasks.
# Beyond the paper, each accuracy carries its exact 95% interval (Clopper–Pearson) and the p-value of
# the one-sided exact binomial test of "error < α"; and a permutation null: the same pipeline with
# the task labels shuffled across networks `null_repeats` times (its mean, 95% band and p-value
# p_null = (1 + #null ≥ ours) / (1 + R)). The decision column is the paper's rule.

# %%
ours = page.evaluate(zoos)                  # a diverged run is excluded with a warning
ours = htt.percent(ours.assign(architecture=ours.zoo), page.alpha)
ours["paper"] = [paper.FIG2[(a, p, k)][d - 1] for a, p, k, d in
                 zip(ours.architecture, ours.protocol, ours.kind, ours.depth)]
ours["panel"] = [paper.FIG2_PANELS[(a, p)] for a, p in zip(ours.architecture, ours.protocol)]
results.accuracy_table(ours.assign(architecture=ours.architecture.map(nets.LABELS))
                       .sort_values(["panel", "kind", "depth"], ascending=[True, False, True]),
                       ["panel"], ["architecture", "protocol", "feature", "paper"], page.alpha)

# %%
titles = {"a": "MLP-4 classification", "b": "PlainNet-5 classification",
          "c": "MLP-4 retrieval", "d": "PlainNet-5 retrieval"}
fig = plots.protocol_panels(ours, titles, page.alpha,
                            suptitle=f"Fig. 2, Tiny ImageNet: paper vs ours (profile {profile}: {page.scale})")
plots.save(fig, "fig2_tiny_imagenet", page.results_dir)
plt.show()

# %%
rows = ours.assign(figure="Fig. 2", architecture=ours.architecture.map(nets.LABELS), profile=profile,
                   dataset="Tiny ImageNet", scale=page.scale)
results.write(rows, page.results_dir, "s4_1_tiny_imagenet")

norm = ours[ours.kind == "normalized"]
unnorm = ours[ours.kind == "unnormalized"]
accepted = (norm.decision == "accept H0").sum()
display(Markdown(
    f"**Conclusion ({profile} profile).** Chain-normalized features give {norm.ours.min():.1f}–{norm.ours.max():.1f}% "
    f"(paper: {norm.paper.min():.1f}–{norm.paper.max():.1f}%) and H0 is accepted at α = {page.alpha:.0%} for "
    f"{accepted} of {len(norm)} chain/protocol cells; unnormalized layers give {unnorm.ours.min():.1f}–"
    f"{unnorm.ours.max():.1f}% (paper: {unnorm.paper.min():.1f}–{unnorm.paper.max():.1f}%). "
    f"Chance is {100 / page.n_tasks:.0f}% for classification here ({page.n_tasks} tasks) against 2% in the paper (50 tasks)."
    + results.null_sentence(ours, page.protocol.null_repeats) + results.power_sentence(ours, page)))
