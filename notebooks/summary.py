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
# **Reproduces every claim the paper makes** (Fig. 1–5, Tables 1–2, and the ICLR-2020 version's extra
# findings) in one table, one row per claim as the paper words it (`wsm.report.claims`: the paper's numbers, its
# worded claims, and the predictions of its hypothesis that hold at any scale), then its cells beneath:
# for each profile that was run and each committed larger run, ours, n, the verdict and why.
#
# **Verdicts** (`wsm.maths.verdicts`, the same rules on every page; the Deviations page states them):
# a number of the paper is compared with ours only where our setting is the paper's (the real dataset,
# the same tasks and so the same chance, the same splits; runs and schedule the paper's or fewer). There
# the difference ours − paper, with its 95% interval counting both sampling errors, is *reproduced* when
# the whole interval lies within the material margin (10 points, or wider where the paper's own n makes
# two faithful replications differ by more), *materially different* when it lies wholly beyond it,
# *inconclusive* otherwise; below the paper at a reduced setting tests nothing. Elsewhere the number is
# *not tested*: shown, never counted. The predictions at any scale (chains above the permutation null,
# above their own layer on the same networks, deeper layers near chance, one zoo below another) are
# *supported*, *contradicted* or *inconclusive* on every run of a real dataset.

# %% tags=["parameters", "remove-cell"]
profile = "quick"
overrides = {}
roots = {}

# %%
import pandas as pd
from IPython.display import Markdown, display

from wsm.report import results, summary
from wsm.book import experiments

page, _ = experiments.start("summary", profile, overrides, roots)
table = summary.table(page.results_dir, page.alpha)
runs = summary.run_names(table)
results.banner(profile, "every dataset of the book (as each page states)",
               f"runs shown: {', '.join(runs) or 'none'}; each page states its own scale")
display(Markdown("**Headline.** " + " ".join(summary.headline(table, r) for r in runs)))
summary.tally(table)

# %% [markdown]
# ## The claims

# %%
pd.set_option("display.max_rows", 1000)
summary.styled(table)

# %% [markdown]
# ## Their cells, under every run

# %%
summary.styled(summary.cells(page.results_dir, page.alpha))

# %%
display(Markdown(summary.conclusion(table, profile)))
