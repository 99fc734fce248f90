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
dataset = "cifar100"
n_tasks = 8
runs = 5
train_per_class = 300
batch_size = 32
cnn_epochs = 3
cnn_milestones = [2]
adam_lr = 0.001
chains = 3
train_fraction = 0.6
retrieval_train_fraction = 0.6
query_fraction = 0.2
clf_epochs = 100
clf_lr = 0.001
clf_milestones = [60]
alpha = 0.05
seed = 0
device = "cpu"
null_repeats = 100
data_root = None
zoo_root = "zoos"
results_dir = "results"

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from wsm import data, htt, nets, paper, plots, profiles, results, summary, zoo

device = profiles.device(device)
dataset = data.resolve_cifar100(profile, data_root) if dataset == "cifar100" else dataset
scale = (f"{n_tasks} tasks x {runs} runs per zoo, {cnn_epochs} epochs"
         + ("" if train_per_class is None else f", {train_per_class} images/class") + f", batch {batch_size}; device {device}")
results.banner(profile, dataset, scale)

# %% [markdown]
# ## The five zoos
# Each zoo changes one factor of the Baseline; all share its tasks, runs, schedule and seeds.

# %%
params = dict(dataset=dataset, n_tasks=n_tasks, runs=runs, train_per_class=train_per_class, batch_size=batch_size, seed=seed,
              device=device, profile=profile, cnn_epochs=cnn_epochs, cnn_milestones=cnn_milestones, adam_lr=adam_lr)
zoos, built = zoo.build_zoos({name: profiles.variant_zoo(zoo_root, params, name) for name in profiles.VARIANTS},
                             data_root)
built

# %% [markdown]
# ## Both protocols on every zoo
# Chains C1–C3 (normalized) and layers L1–L3 (unnormalized), each with its exact 95% interval and the
# permutation null (task labels shuffled `null_repeats` times).

# %%
clf = htt.ClassifierConfig(epochs=clf_epochs, lr=clf_lr, milestones=tuple(clf_milestones), seed=1)
ours = pd.concat([htt.evaluate(*z.usable(), depths=range(1, chains + 1), train_fraction=train_fraction,
                               retrieval_train_fraction=retrieval_train_fraction, query_fraction=query_fraction,
                               seed=seed, cfg=clf, alpha=alpha, null_repeats=null_repeats,
                               gram_cache=profiles.gram_cache(zoo_root))
                  .assign(zoo=name, architecture=nets.LABELS[z.config.arch]
                          + (" + Adam" if z.config.optimizer == "adam" else ""))
                  for name, z in zoos.items()], ignore_index=True)
ours = htt.percent(ours, alpha)
results.accuracy_table(ours, ["zoo"], ["protocol", "feature"], alpha)

# %% [markdown]
# ## The paper's claims beside ours
# The paper words Fig. 4 without numbers. A "holds" claim agrees when every chain cell of the zoo
# accepts H0; Adam's "does not hold" agrees when some chain cell rejects H0 and Adam's mean chain
# accuracy is below the Baseline's (`wsm.summary.claim_row`).

# %%
claims = pd.DataFrame([summary.claim_row(ours, "Fig. 4", name, "fails" if name == "Adam" else "holds",
                                         below=["Baseline"]) for name in zoos if name != "Baseline"])
claims["paper"] = [paper.FIG4_CLAIMS[n] for n in claims.architecture]
(claims.rename(columns={"architecture": "zoo", "ours": "ours (mean over chains, %)"})
 [["zoo", "paper", "ours (mean over chains, %)", "agrees"]].round(1).set_index("zoo")
 .style.set_properties(**{"text-align": "left", "white-space": "pre-wrap"}))

# %%
fig = plots.variant_panels(ours, hue="zoo", alpha=alpha,
                           suptitle=f"Fig. 4, {data.short_name(dataset)}: five zoos, ours (profile {profile}: "
                                    f"{scale}); the paper gives claims, not numbers")
plots.save(fig, "fig4_network_variants", results_dir)
plt.show()

# %%
rows = ours.assign(figure="Fig. 4", panel=ours.protocol.map({"classification": "a", "retrieval": "b"}),
                   paper=float("nan"), scale=ours.zoo.map(lambda n: f"{n}: {scale}"))
rows = pd.concat([rows, claims.drop(columns="paper").assign(paper=float("nan"), scale=scale)], ignore_index=True)
results.write(rows.assign(profile=profile, dataset=data.describe(dataset)), results_dir, "s4_4_network_variants")

norm = ours[ours.kind == "normalized"]
sgd = norm[norm.zoo != "Adam"]
adam = norm[norm.zoo == "Adam"]
accepted = (sgd.decision == "accept H0").sum()
display(Markdown(
    f"**Conclusion ({profile} profile, {data.short_name(dataset)}).** With SGD, the chains of the Baseline, Depth, "
    f"Res5 and Leaky zoos give {sgd.ours.min():.1f}–{sgd.ours.max():.1f}% (H0 accepted at α = {alpha:.0%} in "
    f"{accepted} of {len(sgd)} cells; the paper: \"can still obtain high accuracy\"); the Adam zoo gives "
    f"{adam.ours.min():.1f}–{adam.ours.max():.1f}% (the ICLR text: \"The Adam optimizer cannot achieve good "
    f"performance\"). Of the paper's four claims, ours agrees with {(claims.agrees == 'yes').sum()}. Chance is "
    f"{100 / n_tasks:.0f}% for classification here ({n_tasks} tasks)." + results.null_sentence(ours, null_repeats)))
