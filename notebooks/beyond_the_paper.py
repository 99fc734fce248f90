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
# # Beyond the paper: statistics, controls and baselines
#
# **Reproduces nothing new; adds to Fig. 2 (Section 4.1)** what the paper leaves out. (1) Statistics:
# each Fig. 2 accuracy gets a permutation null (the same pipeline with task labels shuffled across
# networks), drawn as a grey band on the Fig. 2 page; here its summary. (2) Controls with known answers
# on the same MLP-4 zoo: networks at initialisation and after one epoch, a task with shuffled image
# labels, permuted copies of one network, an orthogonal (non-permutation) rotation of hidden units,
# and fewer runs per task. (3) The field's baselines on the same networks and splits: weight matching
# (Git Re-Basin) and linear CKA, beside chain normalization.

# %% tags=["parameters", "remove-cell"]
profile = "quick"
overrides = {}
roots = {}

# %%
import time

import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from wsm.analyses import beyond, controls
from wsm.report import plots, results
from wsm.book import experiments

t_start = time.time()
page, zoos = experiments.start("beyond_the_paper", profile, overrides, roots)   # Fig. 2's zoos and protocol

# %% [markdown]
# ## 1. Statistics on Fig. 2: is each accuracy above chance?
# The Fig. 2 page now gives every cell a permutation null (labels shuffled across networks, same
# splits, same classifier schedule; the R shuffled classifiers are trained as one batched program).
# Its summary, read from that page's results when it ran before this one (empty when it did not):

# %%
fig2 = beyond.fig2(page.results_dir)
fig2_null = beyond.fig2_null(fig2)
fig2_null.round(3)

# %% [markdown]
# ## 2. Controls on the MLP-4 zoo (features C1 = φ¹ and L1 = W₁, classification top-1)
# (a, e) the same seeds at initialisation, after one epoch and after the zoo's epochs; (e) fewer runs
# per task; (b) one more "task": task 0's images with shuffled labels; (c) permuted copies of one
# network per task, each copy's source is its label.

# %%
control, grams = beyond.controls_table(page, zoos)      # the Grams are reused by the baselines below
control.pivot_table(index=["control", "setting"], columns="feature", values="accuracy").round(3)

# %% [markdown]
# (d) **An orthogonal rotation of hidden units.** For each of a few trained MLP-4s, every hidden
# layer's units are rotated by a random orthogonal matrix Q (W_l ← Qᵀ W_l, W_{l+1} ← W_{l+1} Q).
# φ = M Mᵀ cannot see it (M Q Qᵀ Mᵀ = M Mᵀ); the ReLU network's function changes.

# %%
probe = beyond.probe(page)
rot = beyond.rotations(page, zoos["mlp4"], probe)
rot.describe().loc[["mean", "min", "max"]]

# %% [markdown]
# ## 3. Baselines on the same networks and splits
# Nearest-neighbour classification (same 60/40 run splits) and similarity retrieval (same unseen tasks
# and query/gallery splits) with: raw weights (cosine), weight-matched weights (cosine after aligning
# every network to the first one), linear CKA of layer-l activations on a fixed probe batch
# (`probe_per_task` test images of each task: see the settings above), and chain-normalized φ
# (cosine). All cosines are of features centred on the zoo's mean. Chain normalization with the
# paper's trained classifier F_l is the Fig. 2 page's number.

# %%
base = beyond.baselines_table(page, zoos, probe, grams, fig2)
base.pivot_table(index=["architecture", "method"], columns=["protocol", "depth"], values="accuracy").round(3)

# %%
fig = plots.baselines(base, page.n_tasks, f"Baselines on the same zoos and splits (profile {profile})")
plots.save(fig, "beyond_baselines", page.results_dir)
plt.show()

# %%
results.write(beyond.rows(page, control, rot, base, len(probe)), page.results_dir, "beyond_the_paper")
display(Markdown(controls.conclusion(control, rot, base, fig2_null, page.n_tasks, profile, time.time() - t_start)))
