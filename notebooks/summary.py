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
# version's extra findings) in one table: where it is, the paper's words, ours under each profile that
# was run, and whether they agree. The quoted values come from `wsm/paper.py` (quoted from the paper,
# never computed); ours come from the results each executed page wrote.
#
# **Agreement**: *yes* when the paper's value lies inside our exact 95% interval; *same decision* when
# it does not but both take the same decision at α (test error below α or not); *no* otherwise. For a
# claim without a number, the page's own verdict. Scaled-down profiles (`smoke`, `quick`) answer a
# smaller question than the paper's (fewer tasks, runs and epochs): read their agreement with that in mind.

# %% tags=["parameters", "remove-cell"]
profile = "quick"
overrides = {}
roots = {}

# %%
import pandas as pd
from IPython.display import Markdown, display

from wsm import experiments, results, summary

page, _ = experiments.start("summary", profile, overrides, roots)
runs = summary.measured(page.results_dir)
results.banner(profile, "every dataset of the book (as each page states)",
               f"profiles run so far: {', '.join(runs) or 'none'}; each page states its own scale")
table = summary.table(page.results_dir, page.alpha)
pd.set_option("display.max_rows", 500)
table.style.format(precision=1, na_rep="—").hide(axis="index")

# %%
counts = pd.DataFrame({p: table[f"agreement ({p})"].value_counts() for p in runs}).fillna(0).astype(int)
counts

# %%
gaps = table[table.missing.str.contains(profile)]
display(Markdown(
    f"**Conclusion.** {len(table)} reported numbers and claims; under the `{profile}` profile "
    f"{(table[f'agreement ({profile})'] == 'yes').sum()} agree within our 95% interval, "
    f"{(table[f'agreement ({profile})'] == 'same decision').sum()} reach the paper's decision at α = {page.alpha:.0%} "
    f"without matching its value, and {len(gaps)} have no number of ours"
    + (f" ({', '.join(gaps.item)})." if len(gaps) else ".")))
