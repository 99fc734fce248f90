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
# # Section 4.4: the hypothesis on new network structures
#
# **Reproduces** Fig. 4 (Section 4.4; the ICLR version's Section 4.4 adds the Adam zoo): weight
# classification and retrieval on CIFAR-100 for five zoos: **Baseline** (PlainNet-5, ReLU, SGD: the
# very zoo of Fig. 3), **Depth** (PlainNet-6), **Res5** (ResNet-5 with PlainNet-5's weight shapes),
# **Leaky** (leaky ReLU) and **Adam** (PlainNet-5 trained by Adam, lr 0.001). The paper reports no
# numbers for Fig. 4, only claims, which are quoted beside ours.

# %% tags=["parameters", "remove-cell"]
profile = "quick"
overrides = {}
roots = {}

# %% [markdown]
# ## The five zoos
# Each zoo changes one factor of the Baseline (Fig. 3's PlainNet-5 zoo, asked of that page); all share
# its tasks, runs and schedule, and each draws its own seeds (below).

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from wsm.maths import htt
from wsm.zoos import data, nets
from wsm.analyses import controls
from wsm.report import claims, plots, results, summary
from wsm.book import experiments

page, zoos = experiments.start("s4_4_network_variants", profile, overrides, roots)

# %% [markdown]
# ## Are the zoos independent? (twin diagnostic)
# Every zoo draws its own run seeds: a seed is a digest of everything that makes the zoo another zoo
# (`ZooConfig.scope`: architecture, optimizer, dataset, schedule, ...) with the task and run, so no
# zoo starts from the Baseline's initializations or sees its batches in the same order (twins only
# where an experiment asks for them by name). Check: the cosine similarity of φ¹ between run (t, r)
# of the Baseline and run (t, r) of each zoo (same index), against runs (t, r') of the same task with
# r' ≠ r (other index). Twins would show a same-index similarity well above the other-index one.

# %%
controls.twin_table(zoos, "Baseline", device=page.device).round(3)

# %% [markdown]
# ## Both protocols on every zoo
# Chains C1–C3 (normalized) and layers L1–L3 (unnormalized), each with its exact 95% interval and the
# permutation null (task labels shuffled `null_repeats` times).

# %%
ours = page.evaluate(zoos)
ours["architecture"] = [nets.LABELS[zoos[n].config.arch] + (" + Adam" if zoos[n].config.optimizer == "adam" else "")
                        for n in ours.zoo]
ours = htt.percent(ours, page.alpha)
results.accuracy_table(ours, ["zoo"], ["protocol", "feature"], page.alpha)

# %% [markdown]
# ## The paper's claims beside ours
# The paper words Fig. 4 without numbers, so each claim becomes a rule on the zoo's chain cells and
# their exact intervals (`wsm.maths.verdicts`; `wsm.report.summary.claim_row`): "holds" is *reproduced* when every
# chain cell's interval lies within 10 points of 1 − α or above, *materially different* when some interval
# lies wholly below 1 − α; Adam's "does not hold" is reproduced when some cell lies wholly below 1 − α
# and below the Baseline's matching cell. Anything else is *inconclusive*; `agrees` is the older,
# interval-blind reading (every cell's decision). These claims are about the paper's setting (CIFAR-100,
# 50 tasks × 100 runs): the summary counts them only there (`wsm.report.claims`); "Adam below the Baseline" is
# also a prediction at any scale, judged on real data.

# %%
claims_table = summary.claim_rows(ours, "Fig. 4", page.alpha, setting=page.setting_columns)
(claims_table.rename(columns={"architecture": "zoo", "ours": "ours (mean over chains, %)"})
 [["zoo", "paper", "ours (mean over chains, %)", "verdict", "agrees"]].round(1).set_index("zoo")
 .style.set_properties(**{"text-align": "left", "white-space": "pre-wrap"}))

# %%
fig = plots.variant_panels(ours, hue="zoo", alpha=page.alpha,
                           suptitle=f"Fig. 4, {data.short_name(page.dataset)}: five zoos, ours (profile {profile}: "
                                    f"{page.scale}); the paper gives claims, not numbers")
plots.save(fig, "fig4_network_variants", page.results_dir)
plt.show()

# %%
rows = ours.assign(figure="Fig. 4", panel=ours.protocol.map({"classification": "a", "retrieval": "b"}),
                   paper=float("nan"), scale=ours.zoo + f": {page.scale}")
rows = pd.concat([rows, claims_table.assign(paper=float("nan"), scale=page.scale)], ignore_index=True)
rows = rows.assign(profile=profile, dataset=data.describe(page.dataset))
results.write(rows, page.results_dir, "s4_4_network_variants")
display(Markdown(claims.conclusion("Fig. 4", rows, page.alpha) + "\n\n"
                 + results.null_sentence(ours, page.protocol.null_repeats)))
