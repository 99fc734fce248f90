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
overrides = {}
roots = {}

# %% [markdown]
# ## The weight set
# Task i holds classes 2i and 2i+1. ResNet-MLP-12: a stem block 3072 → 256 → 256, five residual
# blocks of two 256 → 256 layers (each Linear → ReLU → BatchNorm) on a 256-unit stream, and a
# 2-way head: 13 weight layers, of which the chains use layers 1…l.

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from wsm.maths import htt
from wsm.zoos import data, nets
from wsm.report import claims, plots, results
from wsm.book import experiments

page, zoos = experiments.start("appendix_d_resnet_mlp", profile, overrides, roots)  # the stand-in outside `paper`

# %% [markdown]
# ## Weight classification by chain
# Per task, 60% of the runs train the weight classifier F_l and 40% test it (the paper's protocol).
# Each accuracy carries its exact 95% interval (Clopper–Pearson) and the p-value of the one-sided
# exact binomial test of "error < α", and the permutation null (task labels shuffled `null_repeats`
# times: mean, 95% band, p-value); the decision column is the paper's rule.

# %%
ours = htt.percent(page.evaluate(zoos), page.alpha).assign(figure="Table 2", panel="",
                                                          architecture=nets.LABELS["resmlp12"])
ours["paper"] = claims.paper_values(ours, "Table 2")
fig = plots.protocol_panels(ours.assign(panel="a"), {"a": "ResNet-MLP-12 classification"}, page.alpha,
                            suptitle=f"Table 2, {data.short_name(page.dataset)}: paper vs ours "
                                     f"(profile {profile}: {page.scale})")
plots.save(fig, "table2_resnet_mlp12", page.results_dir)
plt.show()

# %%
results.accuracy_table(ours.sort_values(["kind", "depth"], ascending=[False, True]), ["feature"], ["paper"], page.alpha)

# %%
rows = ours.assign(profile=profile, dataset=data.describe(page.dataset), scale=page.scale)
results.write(rows, page.results_dir, "appendix_d_resnet_mlp")
display(Markdown(claims.conclusion("Table 2", rows, page.alpha) + "\n\n"
                 + results.null_sentence(ours, page.protocol.null_repeats)))
