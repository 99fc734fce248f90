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

from wsm import data, htt, paper, plots, profiles, results, summary, zoo

device = profiles.device(device)
dataset = data.resolve_cifar100(profile, data_root) if dataset == "cifar100" else dataset
scale = (f"{n_tasks} tasks x {runs} runs per zoo, {cnn_epochs} epochs"
         + ("" if train_per_class is None else f", {train_per_class} images/class") + f", batch {batch_size}; device {device}")
results.banner(profile, dataset, scale)

# %% [markdown]
# ## The zoos of Fig. 4
# Built by the Fig. 4 page; building here only trains what is missing (nothing, after that page).

# %%
params = dict(dataset=dataset, n_tasks=n_tasks, runs=runs, train_per_class=train_per_class, batch_size=batch_size, seed=seed,
              device=device, profile=profile, cnn_epochs=cnn_epochs, cnn_milestones=cnn_milestones, adam_lr=adam_lr)
zoos, built = zoo.build_zoos({name: profiles.variant_zoo(zoo_root, params, name) for name in profiles.VARIANTS},
                             data_root)
built

# %% [markdown]
# ## Baseline-trained classifiers on the other zoos
# One Gram matrix per chain/layer over both zoos' networks; the classifier sees only Baseline rows.
# Each accuracy carries its exact 95% interval and the permutation null (the Baseline's training
# labels and the other zoo's test labels shuffled `null_repeats` times).

# %%
clf = htt.ClassifierConfig(epochs=clf_epochs, lr=clf_lr, milestones=tuple(clf_milestones), seed=1)
ours = pd.concat([htt.cross_network(*zoos["Baseline"].usable(), *z.usable(), depths=range(1, chains + 1),
                                    train_fraction=train_fraction, retrieval_train_fraction=retrieval_train_fraction,
                                    query_fraction=query_fraction, seed=seed, cfg=clf, alpha=alpha,
                                    null_repeats=null_repeats).assign(zoo=name)
                  for name, z in zoos.items() if name != "Baseline"], ignore_index=True)
ours = htt.percent(ours, alpha)
results.accuracy_table(ours, ["zoo"], ["protocol", "feature"], alpha)

# %% [markdown]
# ## The paper's claims beside ours
# Section 4.5 words Fig. 5 without numbers. "Still high" and "do not affect the hypothesis" agree when
# every chain cell accepts H0; "the accuracy drops" (Res5) and Adam's "low" agree when some chain cell
# rejects H0 and the zoo's mean chain accuracy is below that of the zoos the paper contrasts it with
# (`wsm.summary.claim_row`).

# %%
contrast = {"Res5": ["Depth", "Leaky"], "Adam": ["Depth", "Leaky"]}
claims = pd.DataFrame([
    summary.claim_row(ours, "Fig. 5", n, "fails" if (n == "Adam" or (n == "Res5" and p == "classification"))
                      else "holds", protocol=p, below=contrast.get(n, []) if p == "classification" or n == "Adam" else [])
    for p in ("classification", "retrieval") for n in zoos if n != "Baseline"])
claims["paper"] = [paper.FIG5_CLAIMS[(p, n)] for p, n in zip(claims.protocol, claims.architecture)]
(claims.rename(columns={"architecture": "zoo", "ours": "ours (mean over chains, %)"})
 [["protocol", "zoo", "paper", "ours (mean over chains, %)", "agrees"]].round(1).set_index(["protocol", "zoo"])
 .style.set_properties(**{"text-align": "left", "white-space": "pre-wrap"}))

# %%
fig = plots.variant_panels(ours, hue="zoo", alpha=alpha,
                           suptitle=f"Fig. 5, {data.short_name(dataset)}: classifiers trained on the Baseline zoo, "
                                    f"tested on each other zoo; ours (profile {profile}: {scale}); the paper gives "
                                    "claims, not numbers")
plots.save(fig, "fig5_cross_network", results_dir)
plt.show()

# %%
rows = ours.assign(figure="Fig. 5", panel=ours.protocol.map({"classification": "a", "retrieval": "b"}),
                   architecture="Baseline -> " + ours.zoo, paper=float("nan"))
rows = pd.concat([rows, claims.drop(columns="paper").assign(paper=float("nan"))], ignore_index=True)
results.write(rows.assign(profile=profile, dataset=data.describe(dataset), scale=scale), results_dir,
              "s4_5_cross_network")

norm = ours[ours.kind == "normalized"]
cls = norm[norm.protocol == "classification"].groupby("zoo").ours.mean()
ret = norm[norm.protocol == "retrieval"].groupby("zoo").ours.mean()
display(Markdown(
    f"**Conclusion ({profile} profile, {data.short_name(dataset)}).** Averaged over chains C1–C{chains}, "
    "cross-network classification gives " + ", ".join(f"{n} {v:.0f}%" for n, v in cls.items())
    + " (the paper: Res5 drops, Leaky and Depth stay high, Adam low); cross-network retrieval gives "
    + ", ".join(f"{n} {v:.0f}%" for n, v in ret.items()) + " (the paper: Res5, Leaky and Depth do not affect the "
    f"hypothesis). Of the paper's {len(claims)} claims, ours agrees with {(claims.agrees == 'yes').sum()}. Chance is "
    f"{100 / n_tasks:.0f}% for classification here ({n_tasks} tasks)." + results.null_sentence(ours, null_repeats)))
