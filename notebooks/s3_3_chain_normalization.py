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
# # Section 3.3: permutations and the chain normalization rule
#
# **Reproduces Fig. 1** (the worked example, with the paper's exact numbers) and checks
# **Eq. 5–7** numerically on trained networks: a random permutation of the hidden units leaves a
# network's output and every chain-normalized matrix φ^l unchanged, while the raw layer weights change.

# %% tags=["parameters", "remove-cell"]
profile = "quick"
overrides = {}
roots = {}

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from wsm.core import paper
from wsm.maths import chain
from wsm.analyses import permutations
from wsm.report import claims, plots, results
from wsm.book import experiments

plots.style()
page, zoos = experiments.start("s3_3_chain_normalization", profile, overrides, roots)

# %% [markdown]
# ## Fig. 1 with the paper's numbers
# The caption gives the matrices in MATLAB-like notation followed by a transpose, so the paper's
# $W_1$ ($n_0 \times n_1$ = 2 × 3) is the transpose of the printed 3 × 2 block.

# %%
fig1 = permutations.fig1(page.settings["seed"])
fig1.checks.style.format({"value": "{:.3g}"}).hide(axis="index")

# %% [markdown]
# The printed hidden activations $h_1 = (0.2, 0.7, 0.5)$ are illustrative: no input satisfies
# $W_1^\top x = h_1$ exactly (least-squares residual below), which does not affect the argument.

# %%
print(permutations.h1_residual(fig1.w1))

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
plots.fig1_network(axes[0], fig1.w1, fig1.w2, paper.FIG1["h1"], "(a) original")
plots.fig1_network(axes[1], fig1.w1p, fig1.w2p, paper.FIG1["h1_perm"], "(b) hidden units 1 and 2 permuted")
fig.suptitle("Fig. 1: equivalent topology (edge colour follows the hidden unit)", y=1.03)
plots.save(fig, "fig1_equivalent_topology", page.results_dir)
plt.show()

# %% [markdown]
# ## Eq. 5–7 on trained networks
# One MLP-4 and one PlainNet-5 are trained on task 0; every hidden layer is then permuted at random
# (with its bias and BatchNorm statistics, so the function is the same).

# %%
checks2 = permutations.trained(zoos, page.settings["seed"])
checks2.style.format({c: "{:.2e}" for c in ("phi_relative_change", "raw_relative_change",
                                             "output_max_abs_change")}).hide(axis="index")

# %%
rows = permutations.rows(page, fig1.checks, checks2)
results.write(rows, page.results_dir, "s3_3_chain_normalization")
display(Markdown(claims.conclusion("Fig. 1", rows) + "\n\n" + chain.permutation_sentence(checks2)))
