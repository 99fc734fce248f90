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
# # Section 4.2: hypothesis-training-testing on CIFAR-100
#
# **Reproduces** Fig. 3 (Section 4.2, Appendix E): weight classification (top-1) and weight retrieval
# (rank-1) for MLP-4 and PlainNet-5 with 2-class heads on 2-class tasks, chain-normalized features
# C1–C3 against unnormalized layers L1–L3, with the paper's numbers beside ours. The paper's text gives
# one approximate number for the chains ("about 98.0%"); the unnormalized bars are not reported in the
# text. Where CIFAR-100 is not available, the scaled-down profiles use a stand-in, named in the banner.

# %% tags=["parameters", "remove-cell"]
profile = "quick"
overrides = {}
roots = {}

# %% [markdown]
# ## The weight sets
# Task i holds fine classes 2i and 2i+1 (Appendix E.1); the last layer has 2 outputs. Each run is one
# training from its own seed. The PlainNet-5 zoo is also the Baseline of Fig. 4 and Net A of Fig. 5.
# `at_chance` counts networks whose training accuracy stayed at chance (MLP-4's ReLU after its 2-unit
# output layer can zero both logits).

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from wsm.core import paper
from wsm.zoos import data
from wsm.report import claims, plots, results
from wsm.book import experiments

page, zoos = experiments.start("s4_2_cifar100", profile, overrides, roots)

# %% [markdown]
# ## Weight classification and retrieval
# As in Section 4.1: classification holds out 40% of each task's runs, retrieval 40% of the tasks;
# each accuracy carries its exact 95% interval, the p-value of "error < α", and the permutation null
# (task labels shuffled `null_repeats` times: mean, 95% band, p-value).

# %%
ours = page.figure_rows(zoos, "Fig. 3", paper.FIG3_PANELS)   # a diverged run is excluded with a warning
display(Markdown(f"> {paper.FIG3_QUOTE} (Section 4.2)"))
fig = plots.protocol_panels(ours, paper.PANEL_TITLES, page.alpha,
                            suptitle=f"Fig. 3, {data.short_name(page.dataset)}: paper (text: 'about 98.0%' for chains; "
                                     f"n/r = not reported) vs ours (profile {profile}: {page.scale})")
plots.save(fig, "fig3_cifar100", page.results_dir)
plt.show()

# %%
results.accuracy_table(ours.sort_values(["panel", "kind", "depth"], ascending=[True, False, True]),
                       ["panel"], ["architecture", "protocol", "feature", "paper"], page.alpha)

# %%
rows = ours.assign(profile=profile, dataset=data.describe(page.dataset), scale=page.scale)
results.write(rows, page.results_dir, "s4_2_cifar100")
display(Markdown(claims.conclusion("Fig. 3", rows, page.alpha) + "\n\n"
                 + results.null_sentence(ours, page.protocol.null_repeats)))
