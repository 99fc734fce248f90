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
from IPython.display import Markdown, display

from wsm.analyses import ablations
from wsm.report import plots, results
from wsm.book import experiments

page, zoos = experiments.start("ablations", profile, overrides, roots)

# %%
ours = ablations.page_table(page, zoos)         # the page's own tables of each zoo are computed once, reused
results.accuracy_table(ours, ["ablation", "architecture", "protocol", "feature"], ["setting"], page.alpha)

# %% [markdown]
# How much of a Fig. 2 number is the split: per chain, the range and standard deviation over the split seeds
# (the layers, at chance under every split, are left out).

# %%
spread = ablations.spread(ours[ours.ablation == "split seed"])
spread

# %%
fig = plots.ablations(ours, ablations.PANELS, page.alpha,
                      f"Ablations on the Fig. 2 zoos (profile {profile}); bars: exact 95% intervals")
plots.save(fig, "ablations", page.results_dir)
plt.show()

# %%
results.write(ablations.rows(page, ours), page.results_dir, "ablations")
display(Markdown(ablations.conclusion(ours, spread, len(page.only_tasks["plainnet5bn"]),
                                      len(page.settings["split_seeds"]), profile)))
