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
# # Reproduction summary
#
# **Reproduces every number and claim the paper reports** (Fig. 1–5, Tables 1–2, and the ICLR-2020
# version's extra findings) in one table, one row per quoted sentence (Fig. 3's single "about 98.0%"
# for twelve chain cells is one row): where it is, the paper's words, the dataset, and for each
# profile that was run and each committed larger run: n, ours, our exact 95% interval, the
# permutation null, the paper's decision rule (test error < α) applied to ours, and the verdict. The
# quoted values come from `wsm/paper.py` (quoted from the paper, never computed); ours come from the
# results each executed page wrote, and from the committed results of larger runs
# (`wsm.summary.COMMITTED`, each labelled with its scale).
#
# **Verdicts** (`wsm.verdicts`, the same rule on every page): *consistent* when the paper's value lies
# in our 95% interval and the interval excludes every value more than 10 percentage points from it;
# *inconsistent* when our interval excludes the paper's value; *underpowered* when it holds the
# paper's value but is too wide to tell (it also holds a value 10 points away). A claim without a
# number is judged on the intervals of the chain cells it is about. The paper's own decision
# (error < α) is a separate column. Scaled-down profiles (`smoke`, `quick`) answer a smaller question
# than the paper's (fewer tasks, runs and epochs), and so do committed slices: each says its scale.

# %% tags=["parameters", "remove-cell"]
profile = "quick"
overrides = {}
roots = {}

# %%
import pandas as pd
from IPython.display import Markdown, display

from wsm import experiments, results, summary

page, _ = experiments.start("summary", profile, overrides, roots)
table = summary.table(page.results_dir, page.alpha)
runs = summary.run_names(table)
results.banner(profile, "every dataset of the book (as each page states)",
               f"runs shown: {', '.join(runs) or 'none'}; each page states its own scale")
display(Markdown("**Headline.** " + " ".join(summary.headline(table, r) for r in runs)))
summary.tally(table)

# %%
pd.set_option("display.max_rows", 500)
summary.styled(table)

# %%
display(Markdown(summary.conclusion(table, profile)))
