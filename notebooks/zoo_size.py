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
# # How big must a weight zoo be?
#
# **Reproduces no figure of the paper; goes beyond it on the setting of Fig. 2 (Section 4.1, Tiny
# ImageNet, MLP-4 and PlainNet-5, both protocols).** The paper trains 100 networks per task on 50 tasks for 100
# (MLP-4) or 50 (PlainNet-5) epochs and says nothing of how much less would do. Here the same test runs on
# subsets of one zoo per architecture: fewer runs per task, fewer tasks, and the same runs read back
# at checkpoints saved after earlier epochs (`wsm.analyses.scaling`). Each axis is swept with the other two at
# the zoo's full size, and the weight classifier takes the same number of SGD steps at every size
# (`clf_steps`: the paper's 30,000 under quick).
# Two tables are drawn: this page's own slice on the Fig. 2 zoos of the profile it runs under, and the
# committed study (`make study`), larger than any profile's book.

# %% tags=["parameters", "remove-cell"]
profile = "quick"
overrides = {}
roots = {}

# %% [markdown]
# The zoos are the Fig. 2 page's (asked of that page), with its checkpoints (`mlp_checkpoints`,
# `cnn_checkpoints` there); this page's own settings are the grids of runs per task and of tasks.

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from wsm.analyses import scaling
from wsm.report import claims, plots, results
from wsm.book import experiments

page, zoos = experiments.start("zoo_size", profile, overrides, roots)

# %% [markdown]
# ## This page's slice
# Accuracy (%) at every point, with its exact 95% interval, the permutation null's band, chance and
# the paper's Fig. 2 value (at 50 tasks x 100 runs, full training; not a value at this size).

# %%
ours = scaling.run(page, zoos, progress=True)[0]      # (the table, the Grams' seconds)
results.accuracy_table(scaling.with_points(ours), ["architecture", "axis", "point"], ["protocol", "feature"],
                       page.alpha)

# %%
fig = plots.zoo_size(ours, f"Accuracy against the zoo's size: this page's slice (profile {profile})",
                     scaling.gpu_slice(), page.alpha)
plots.caption(fig)
plots.save(fig, "zoo_size", page.results_dir)
plt.show()

# %% [markdown]
# ## The study (`make study`)
# The committed table of `python -m wsm.analyses.scaling` (settings: `wsm.core.profiles.STUDY`), drawn as it was
# measured; the machine is in its `machine` column. The GPU slice's points (diamonds) are Fig. 2 at
# the paper's settings on its first 4 tasks (`bench/paper_slice.py`).

# %%
study = scaling.committed()
if len(study):
    fig = plots.zoo_size(study, f"The zoo-size study: {study.networks.max()} networks per architecture at full "
                         f"size, trained on a CPU ({study.machine.iloc[0]})", scaling.gpu_slice(), page.alpha)
    plots.caption(fig)
    plots.save(fig, "zoo_size_study", page.results_dir)
    plt.show()
else:
    display(Markdown("*No study table is committed yet: run `make study`.*"))

# %% [markdown]
# ## Which factor moves the accuracy most, and what each point costs
# Per architecture, protocol and kind, the mean over features of the accuracy at the axis's largest
# point minus its smallest, and whether every feature's two intervals are apart. Then the cost of each
# point in CPU seconds: training its networks (one thread per run, as recorded) and testing them.

# %%
for name, table in (("this page", ours), ("the study", study)):
    if len(table):
        display(Markdown(f"**{name}**"), scaling.effects(table).round(1), scaling.costs(table).round(0))

# %%
rows = scaling.rows(page, ours)
results.write(rows, page.results_dir, "zoo_size")
display(Markdown(scaling.page_conclusion(ours, study, profile, page.alpha) + "\n\n"
                 + claims.conclusion("Zoo size", rows, page.alpha)))
