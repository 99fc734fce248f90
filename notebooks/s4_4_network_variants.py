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
cnn_epochs = 1
cnn_milestones = []
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
data_root = None
zoo_root = "zoos"
results_dir = "results"

# %%
import time

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from wsm import data, htt, nets, paper, plots, profiles, results, zoo

device = profiles.device(device)
dataset = data.resolve_cifar100(profile, data_root) if dataset == "cifar100" else dataset
scale = (f"{n_tasks} tasks x {runs} runs per zoo, {cnn_epochs} epochs"
         + ("" if train_per_class is None else f", {train_per_class} images/class") + f", batch {batch_size}" + f"; device {device}")
results.banner(profile, data.describe(dataset), scale)
if dataset == "cifar100-standin":
    display(Markdown(f"### {data.STANDIN_LABEL}"))

# %% [markdown]
# ## The five zoos
# Each zoo changes one factor of the Baseline; all share its tasks, runs, schedule and seeds.

# %%
params = dict(dataset=dataset, n_tasks=n_tasks, runs=runs, train_per_class=train_per_class, batch_size=batch_size, seed=seed,
              device=device, profile=profile, cnn_epochs=cnn_epochs, cnn_milestones=cnn_milestones, adam_lr=adam_lr)
zoos, seconds = {}, {}
for name in profiles.VARIANTS:
    t0 = time.time()
    folder, cfg = profiles.variant_zoo(zoo_root, params, name)
    zoos[name] = zoo.build_zoo(folder, cfg, data_root)
    seconds[name] = time.time() - t0
summary = pd.DataFrame([
    dict(zoo=n, architecture=nets.LABELS[z.config.arch], optimizer=z.config.optimizer, lr=z.config.lr,
         networks=len(z), **z.table()[["train_acc", "test_acc"]].mean().round(3).to_dict(),
         diverged=int((~z.table().finite).sum()), build_seconds=round(seconds[n]))
    for n, z in zoos.items()]).set_index("zoo")
summary

# %% [markdown]
# ## Both protocols on every zoo
# Chains C1–C3 (normalized) and layers L1–L3 (unnormalized), each with its exact 95% interval.

# %%
clf = htt.ClassifierConfig(epochs=clf_epochs, lr=clf_lr, milestones=tuple(clf_milestones), seed=1)
frames = []
for name, z in zoos.items():
    weights, labels = z.usable()
    df = htt.evaluate(weights, labels, depths=range(1, chains + 1), train_fraction=train_fraction,
                      retrieval_train_fraction=retrieval_train_fraction, query_fraction=query_fraction,
                      seed=seed, cfg=clf, alpha=alpha)
    df["zoo"] = name
    df["architecture"] = nets.LABELS[z.config.arch] + (" + Adam" if z.config.optimizer == "adam" else "")
    frames.append(df)
ours = pd.concat(frames, ignore_index=True)
ours["ours"] = 100 * ours.accuracy
ours["ci_low"], ours["ci_high"] = 100 * ours.ci_low, 100 * ours.ci_high
ours["decision"] = [htt.decide(a, alpha) for a in ours.accuracy]
ours["feature"] = [("C" if k == "normalized" else "L") + str(d) for k, d in zip(ours.kind, ours.depth)]
wide = ours.pivot_table(index=["protocol", "feature"], columns="zoo", values="ours", sort=False)[list(zoos)]
wide.round(1)

# %%
claims = pd.DataFrame([dict(zoo=n, paper=paper.FIG4_CLAIMS.get(n, "(the reference zoo)"),
                            ours_chains=", ".join(f"{p} C{d}: {v:.0f}%" for p, d, v in
                                                  ours[(ours.zoo == n) & (ours.kind == "normalized")]
                                                  [["protocol", "depth", "ours"]].itertuples(index=False)))
                       for n in zoos]).set_index("zoo")
claims.style.set_properties(**{"text-align": "left", "white-space": "pre-wrap"})

# %%
label = "CIFAR-100" if dataset == "cifar100" else "CIFAR-100 STAND-IN (Tiny ImageNet classes)"
fig = plots.variant_panels(ours, hue="zoo", alpha=alpha,
                           suptitle=f"Fig. 4, {label}: five zoos, ours (profile {profile}: {scale}); the paper "
                                    "gives claims, not numbers")
plots.save(fig, "fig4_network_variants", results_dir)
plt.show()

# %%
rows = ours.assign(figure="Fig. 4", panel=ours.protocol.map({"classification": "a", "retrieval": "b"}),
                   paper=float("nan"), profile=profile, dataset=data.describe(dataset),
                   scale=ours.zoo.map(lambda n: f"{n}: {scale}"))
results.write(rows, results_dir, "s4_4_network_variants")

norm = ours[ours.kind == "normalized"]
sgd = norm[norm.zoo != "Adam"]
adam = norm[norm.zoo == "Adam"]
accepted = (sgd.decision == "accept H0").sum()
display(Markdown(
    f"**Conclusion ({profile} profile, {label}).** With SGD, the chains of the Baseline, Depth, Res5 and Leaky zoos "
    f"give {sgd.ours.min():.1f}–{sgd.ours.max():.1f}% (H0 accepted at α = {alpha:.0%} in {accepted} of {len(sgd)} "
    f"cells; the paper: \"can still obtain high accuracy\"); the Adam zoo gives {adam.ours.min():.1f}–"
    f"{adam.ours.max():.1f}% (the ICLR text: \"The Adam optimizer cannot achieve good performance\"). "
    f"Chance is {100 / n_tasks:.0f}% for classification here ({n_tasks} tasks)."))
