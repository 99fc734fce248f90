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
# # Section 4.5: cross-network validation
#
# **Reproduces** Fig. 5 (Section 4.5; the ICLR version's Section 4.4 adds Adam): weight classifiers
# trained on the Baseline zoo (PlainNet-5, SGD) are tested on the Depth, Res5, Leaky and Adam zoos of
# Fig. 4 (the same zoo folders: nothing is trained here). (a) Cross-network classification: predict the
# tasks of the other zoo's held-out runs of the same tasks. (b) Cross-network retrieval: the
# Baseline-trained representation ranks the other zoo's networks of unseen tasks. The paper reports
# claims, not numbers; they are quoted beside ours.

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
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from wsm import data, htt, paper, plots, profiles, results, zoo

device = profiles.device(device)
dataset = data.resolve_cifar100(profile, data_root) if dataset == "cifar100" else dataset
scale = (f"{n_tasks} tasks x {runs} runs per zoo, {cnn_epochs} epochs"
         + ("" if train_per_class is None else f", {train_per_class} images/class") + f", batch {batch_size}" + f"; device {device}")
results.banner(profile, data.describe(dataset), scale)
if dataset == "cifar100-standin":
    display(Markdown(f"### {data.STANDIN_LABEL}"))

# %% [markdown]
# ## The zoos of Fig. 4
# Built by the Fig. 4 page; building here only trains what is missing (nothing, after that page).

# %%
params = dict(dataset=dataset, n_tasks=n_tasks, runs=runs, train_per_class=train_per_class, batch_size=batch_size, seed=seed,
              device=device, profile=profile, cnn_epochs=cnn_epochs, cnn_milestones=cnn_milestones, adam_lr=adam_lr)
zoos = {name: zoo.build_zoo(*profiles.variant_zoo(zoo_root, params, name), data_root) for name in profiles.VARIANTS}
pd.DataFrame([dict(zoo=n, networks=len(z), folder=z.path.name) for n, z in zoos.items()]).set_index("zoo")

# %% [markdown]
# ## Baseline-trained classifiers on the other zoos
# One Gram matrix per chain/layer over both zoos' networks; the classifier sees only Baseline rows.

# %%
clf = htt.ClassifierConfig(epochs=clf_epochs, lr=clf_lr, milestones=tuple(clf_milestones), seed=1)
wa, la = zoos["Baseline"].usable()
frames = []
for name, z in zoos.items():
    if name == "Baseline":
        continue
    wb, lb = z.usable()
    df = htt.cross_network(wa, la, wb, lb, depths=range(1, chains + 1), train_fraction=train_fraction,
                           retrieval_train_fraction=retrieval_train_fraction, query_fraction=query_fraction,
                           seed=seed, cfg=clf, alpha=alpha)
    df["zoo"] = name
    frames.append(df)
ours = pd.concat(frames, ignore_index=True)
ours["ours"] = 100 * ours.accuracy
ours["ci_low"], ours["ci_high"] = 100 * ours.ci_low, 100 * ours.ci_high
ours["feature"] = [("C" if k == "normalized" else "L") + str(d) for k, d in zip(ours.kind, ours.depth)]
ours.pivot_table(index=["protocol", "feature"], columns="zoo", values="ours", sort=False)[
    [n for n in zoos if n != "Baseline"]].round(1)

# %%
norm = ours[ours.kind == "normalized"]
claims = pd.DataFrame([dict(protocol=p, zoo=n, paper=paper.FIG5_CLAIMS[(p, n)],
                            ours=", ".join(f"C{d}: {v:.0f}%" for d, v in
                                           norm[(norm.zoo == n) & (norm.protocol == p)][["depth", "ours"]]
                                           .itertuples(index=False)))
                       for p in ("classification", "retrieval") for n in zoos if n != "Baseline"])
claims.set_index(["protocol", "zoo"]).style.set_properties(**{"text-align": "left", "white-space": "pre-wrap"})

# %%
label = "CIFAR-100" if dataset == "cifar100" else "CIFAR-100 STAND-IN (Tiny ImageNet classes)"
fig = plots.variant_panels(ours, hue="zoo", alpha=alpha,
                           suptitle=f"Fig. 5, {label}: classifiers trained on the Baseline zoo, tested on each "
                                    f"other zoo; ours (profile {profile}: {scale}); the paper gives claims, not numbers")
plots.save(fig, "fig5_cross_network", results_dir)
plt.show()

# %%
rows = ours.assign(figure="Fig. 5", panel=ours.protocol.map({"classification": "a", "retrieval": "b"}),
                   architecture="Baseline -> " + ours.zoo, paper=float("nan"), profile=profile,
                   dataset=data.describe(dataset), scale=scale)
results.write(rows, results_dir, "s4_5_cross_network")

cls = norm[norm.protocol == "classification"].groupby("zoo").ours.mean()
ret = norm[norm.protocol == "retrieval"].groupby("zoo").ours.mean()
display(Markdown(
    f"**Conclusion ({profile} profile, {label}).** Averaged over chains C1–C{chains}, cross-network classification "
    f"gives " + ", ".join(f"{n} {v:.0f}%" for n, v in cls.items()) + " (the paper: Res5 drops, Leaky and Depth stay "
    "high, Adam low); cross-network retrieval gives " + ", ".join(f"{n} {v:.0f}%" for n, v in ret.items())
    + f" (the paper: Res5, Leaky and Depth do not affect the hypothesis). Chance is {100 / n_tasks:.0f}% for "
    f"classification here ({n_tasks} tasks)."))
