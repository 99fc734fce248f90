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
# # ICLR-2020 version: are the semantics bottom-up?
#
# **Reproduces** the ICLR-2020 version's claim that semantics are bottom-up (Section 4.1 of
# *Function Feature Learning of Neural Networks*). The paper gives no number for it: its evidence
# is that every chain classifies well, and it states that out-of-order projection directions would
# "confuse the system". What we can test is that evidence: every in-order chain of the Tiny ImageNet
# zoos of Section 4.1 (Fig. 2) against the paper's rule. Chains whose layers are out of order (see
# `wsm.analyses.semantics`) are shown as a control, not as evidence: swapping or mixing layers breaks the
# cancellation of hidden-unit permutations that makes φ invariant (Eq. 5–6), so they are expected to
# fail whether or not the semantics are bottom-up. A mixed chain's donor run is always on its
# recipient's side of the train/test split.

# %% tags=["parameters", "remove-cell"]
profile = "quick"
overrides = {}
roots = {}

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from wsm.core import paper
from wsm.analyses import semantics
from wsm.report import claims, plots, results
from wsm.book import experiments

page, zoos = experiments.start("iclr_bottom_up", profile, overrides, roots)   # reads the Fig. 2 page's zoos

# %%
display(Markdown(f"> *{paper.ICLR_BOTTOM_UP}* (ICLR-2020 version, Section 4.1)"))
ours = semantics.page_table(page, zoos)
semantics.shown(ours)

# %%
fig = plots.bottom_up(ours, page.n_tasks, page.alpha,
                      f"ICLR Sec. 4.1 'bottom-up': in-order vs out-of-order chains (profile {profile})")
plots.save(fig, "iclr_bottom_up", page.results_dir)
plt.show()

# %%
rows = semantics.rows(page, ours)
results.write(rows, page.results_dir, "iclr_bottom_up")
display(Markdown(claims.conclusion(semantics.FIGURE, rows, page.alpha) + "\n\n"
                 + semantics.control_sentence(ours, page.n_tasks)
                 + results.null_sentence(ours, page.protocol.null_repeats)))
