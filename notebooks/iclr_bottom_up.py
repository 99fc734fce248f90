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
# `wsm.semantics`) are shown as a control, not as evidence: swapping or mixing layers breaks the
# cancellation of hidden-unit permutations that makes φ invariant (Eq. 5–6), so they are expected to
# fail whether or not the semantics are bottom-up. A mixed chain's donor run is always on its
# recipient's side of the train/test split.

# %% tags=["parameters", "remove-cell"]
profile = "quick"
overrides = {}
roots = {}

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import Markdown, display

from wsm import claims, data, experiments, htt, nets, paper, plots, results, semantics, verdicts

page, zoos = experiments.start("iclr_bottom_up", profile, overrides, roots)   # reads the Fig. 2 page's zoos
proto = page.protocol

# %%
display(Markdown(f"> *{paper.ICLR_BOTTOM_UP}* (ICLR-2020 version, Section 4.1)"))
frames = []
for arch, z in zoos.items():
    df = semantics.evaluate(*z.usable(), depths=proto.chains, mixed_depths=page.settings["mixed_depths"],
                            train_fraction=proto.train_fraction, seed=proto.seed, cfg=proto.classifier, alpha=page.alpha,
                            null_repeats=proto.null_repeats, device=proto.device, runs=z.usable_runs(),
                            runs_per_task=z.config.runs)
    frames.append(df.assign(architecture=nets.LABELS[arch]))
ours = htt.percent(pd.concat(frames, ignore_index=True), page.alpha)
ours["paper"] = float("nan")                      # the claim has no number
ours["claim"] = np.where(ours.order == "in order", "high (all chains)", "poor (confused)")
ours["95% CI"] = [f"{lo:.0f}–{hi:.0f}" for lo, hi in zip(ours.ci_low, ours.ci_high)]
ours["null (p)"] = [f"{m:.0f} ({p:.3f})" if m == m else "—" for m, p in
                    zip(ours.get("null_mean", np.nan * ours.ours), ours.get("p_null", np.nan * ours.ours))]
(ours[["architecture", "variant", "depth", "claim", "ours", "95% CI", "null (p)", "n"]]
 .rename(columns={"depth": "chain"}).round(1).set_index(["architecture", "variant"]))

# %%
plots.style()
fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.6), sharey=True)
for ax, (arch, sub) in zip(axes, ours.groupby("architecture", sort=False)):
    sub = sub.assign(x=[f"C{d}" + ("" if o == "in order" else "\n2↔3 swapped" if "swapped" in v else f"\nL{d} mixed")
                        for d, o, v in zip(sub.depth, sub.order, sub.variant)])
    sns.barplot(sub, x="x", y="ours", hue="order", palette={"in order": "#1f77b4", "out of order": "#ff7f0e"},
                ax=ax, dodge=False)
    for bars, order in zip(ax.containers, dict.fromkeys(sub.order)):     # one container per hue, bars in x order
        plots.null_band(ax, bars, sub[sub.order == order], label=ax is axes[0] and order == "in order")
    ax.errorbar(range(len(sub)), sub.ours, yerr=[sub.ours - sub.ci_low, sub.ci_high - sub.ours], fmt="none",
                ecolor="k", elinewidth=0.8, capsize=2)
    ax.axhline(100 / page.n_tasks, color="gray", ls=":", lw=1, label="chance")
    ax.axhline(100 * (1 - page.alpha), color="crimson", ls="--", lw=1, label=f"1 - α = {1 - page.alpha:.0%}")
    ax.set(title=arch, xlabel="", ylabel="top-1 (%)", ylim=(0, 105))
    ax.tick_params(axis="x", labelsize=7)
    ax.legend(fontsize=plots.SMALL, loc="lower left") if ax is axes[0] else ax.get_legend().remove()
fig.suptitle(f"ICLR Sec. 4.1 'bottom-up': in-order vs out-of-order chains (profile {profile})", fontsize=10)
fig.tight_layout()
plots.caption(fig)
plots.save(fig, "iclr_bottom_up", page.results_dir)
plt.show()

# %%
inorder = ours[ours.order == "in order"]
passed = int((inorder.accuracy > 1 - page.alpha).sum())
# what the page tests is the paper's evidence: every in-order chain passes the paper's rule; the
# out-of-order chains are a control (their failure follows from the algebra, not from the claim)
setting = page.setting_columns("mlp4")          # the zoos' tasks, runs, schedule and splits (wsm.claims)
claim = dict(variant="claim", depth=float("nan"), ours=inorder.ours.mean(), n=int(inorder.n.sum()),
             agrees="yes" if passed == len(inorder) else "partly" if passed else "no",      # the interval-blind reading
             verdict=verdicts.bottom_up(ours, page.alpha), architecture="MLP-4, PlainNet-5",
             metric="mean in-order top-1", **setting)
rows = pd.concat([ours.assign(metric="top-1", **setting), pd.DataFrame([claim])], ignore_index=True)
rows = rows.assign(figure="ICLR Sec. 4.1 (bottom-up)", panel=rows.variant, kind="normalized", protocol="classification",
                   profile=profile, dataset=data.short_name(page.dataset), scale=page.scale)
results.write(rows, page.results_dir, "iclr_bottom_up")
display(Markdown(claims.conclusion("ICLR Sec. 4.1 (bottom-up)", rows, page.alpha) + "\n\n"
                 + semantics.control_sentence(ours, page.n_tasks) + results.null_sentence(ours, proto.null_repeats)))
