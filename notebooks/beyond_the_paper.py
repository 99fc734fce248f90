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
# # Beyond the paper: statistics, controls and baselines
#
# **Reproduces nothing new; adds to Fig. 2 (Section 4.1)** what the paper leaves out. (1) Statistics:
# each Fig. 2 accuracy gets a permutation null (the same pipeline with task labels shuffled across
# networks), drawn as a grey band on the Fig. 2 page; here its summary. (2) Controls with known answers
# on the same MLP-4 zoo: networks at initialisation and after one epoch, a task with shuffled image
# labels, permuted copies of one network, an orthogonal (non-permutation) rotation of hidden units,
# and fewer runs per task. (3) The field's baselines on the same networks and splits: weight matching
# (Git Re-Basin) and linear CKA, beside chain normalization.

# %% tags=["parameters", "remove-cell"]
profile = "quick"
overrides = {}
roots = {}

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from wsm import baselines, chain, controls, experiments, nets, plots, results

t_start = time.time()
page, zoos = experiments.start("beyond_the_paper", profile, overrides, roots)   # Fig. 2's zoos and protocol
proto, s = page.protocol, page.settings
n_tasks, runs, seed = s["n_tasks"], s["runs"], proto.seed
cache = proto.gram_cache   # the Fig. 2 page's Grams of these zoos are read, not recomputed
rows = []             # results rows (figure "Beyond")


def add(**row):
    rows.append(dict(figure="Beyond", paper=np.nan, profile=profile, dataset="Tiny ImageNet", scale=page.scale) | row)


# %% [markdown]
# ## 1. Statistics on Fig. 2: is each accuracy above chance?
# The Fig. 2 page now gives every cell a permutation null (labels shuffled across networks, same
# splits, same classifier schedule; the R shuffled classifiers are trained as one batched program).
# Its summary, read from that page's results when it ran before this one:

# %%
fig2_csv = page.results_dir / "s4_1_tiny_imagenet.csv"
fig2 = pd.read_csv(fig2_csv) if fig2_csv.exists() else pd.DataFrame()
if "p_null" in fig2:
    fig2_null = fig2[["panel", "architecture", "protocol", "kind", "depth", "ours", "null_mean", "null_low",
                      "null_high", "p_null", "p_error_below_alpha"]]
    display(fig2_null.round(3).set_index("panel"))
else:
    fig2_null = pd.DataFrame()
    display(Markdown("*The Fig. 2 page has not run with a null in this results folder.*"))

# %% [markdown]
# ## 2. Controls on the MLP-4 zoo (features C1 = φ¹ and L1 = W₁, classification top-1)
# (a, e) the same seeds at initialisation, after one epoch and after the zoo's epochs; (e) fewer runs
# per task; (b) one more "task": task 0's images with shuffled labels; (c) permuted copies of one
# network per task, each copy's source is its label.

# %%
mlp = zoos["mlp4"]
w_trained, y_trained = mlp.usable()
cfg, mlp_epochs = mlp.config, mlp.config.epochs
zoo_1 = controls.after_epochs(zoos, "mlp4", 1)   # the same seeds after one epoch (its checkpoint, or a twin zoo)
stages = {0: (*controls.initial_weights(cfg), None), 1: (*zoo_1.usable(), zoo_1.usable_runs()),
          mlp_epochs: (w_trained, y_trained, mlp.usable_runs())}    # each stage split by run identity
grams = {}                                    # (stage, kind) -> centred Gram, reused below
control = []
for epochs, (w, y, run_ids) in stages.items():
    for kind in ("normalized", "unnormalized"):
        grams[(epochs, kind)] = chain.gram(w, 1, kind, center=True, progress=False, cache=cache, device=proto.device)
        c = proto.classification(grams[(epochs, kind)], y, runs=run_ids, runs_per_task=cfg.runs)
        control.append(dict(control="epochs", setting=epochs, kind=kind, accuracy=c.top1, n=c.n_test,
                            null_mean=c.null.mean() if c.null is not None else np.nan))
for r in s["runs_grid"]:
    if r > runs:
        continue
    keep = controls.subsample_runs(y_trained, r, seed)
    for kind in ("normalized", "unnormalized"):
        k = grams[(mlp_epochs, kind)][np.ix_(keep, keep)]
        c = proto.classification(k, y_trained[keep], null=False)
        control.append(dict(control="runs per task", setting=r, kind=kind, accuracy=c.top1, n=c.n_test))

shuffled_runs = s["shuffled_runs"]
shuffled = controls.train_shuffled_runs(cfg, 0, shuffled_runs, s["shuffled_per_class"], page.data_root)
keep = controls.subsample_runs(y_trained, shuffled_runs, seed)
w_sh = [w_trained[i] for i in keep] + shuffled
y_sh = np.concatenate([y_trained[keep], np.full(shuffled_runs, 999)])
for kind in ("normalized", "unnormalized"):
    c = proto.classification(chain.gram(w_sh, 1, kind, center=True, progress=False, device=proto.device), y_sh,
                             null=False)
    hit = c.truth == 999
    control.append(dict(control="shuffled-label task recall", setting=shuffled_runs, kind=kind,
                         accuracy=float((c.predictions[hit] == 999).mean()), n=int(hit.sum())))
    control.append(dict(control="shuffled-label task, all tasks", setting=shuffled_runs, kind=kind,
                         accuracy=c.top1, n=c.n_test))

sources = [i for i in range(len(y_trained)) if i == np.flatnonzero(y_trained == y_trained[i])[0]]
w_pc, y_pc = [], []
for i in sources:
    net = nets.build("mlp4", 4)
    net.load_state_dict(mlp.runs[i].state_dict)
    for c_net in controls.permuted_copies(net, s["copies"], seed + i):
        w_pc.append(chain.layer_weights(c_net))
        y_pc.append(i)
y_pc = np.array(y_pc)
for kind in ("normalized", "unnormalized"):
    c = proto.classification(chain.gram(w_pc, 1, kind, center=True, progress=False, device=proto.device), y_pc,
                             null=False)
    control.append(dict(control="permuted copies", setting=s["copies"], kind=kind, accuracy=c.top1, n=c.n_test))
control = pd.DataFrame(control)
control["feature"] = control.kind.map({"normalized": "C1", "unnormalized": "L1"})
control.pivot_table(index=["control", "setting"], columns="feature", values="accuracy").round(3)

# %% [markdown]
# (d) **An orthogonal rotation of hidden units.** For each of a few trained MLP-4s, every hidden
# layer's units are rotated by a random orthogonal matrix Q (W_l ← Qᵀ W_l, W_{l+1} ← W_{l+1} Q).
# φ = M Mᵀ cannot see it (M Q Qᵀ Mᵀ = M Mᵀ); the ReLU network's function changes.

# %%
probe = baselines.probe_batch(page.dataset, range(n_tasks), s["probe_per_task"], page.data_root)
rot = pd.DataFrame([controls.rotation_check(mlp.runs[i].state_dict, "mlp4", 4, probe, seed + i)
                    for i in sources[:s["rotation_nets"]]])
rot.describe().loc[["mean", "min", "max"]]

# %% [markdown]
# ## 3. Baselines on the same networks and splits
# Nearest-neighbour classification (same 60/40 run splits) and similarity retrieval (same unseen tasks
# and query/gallery splits) with: raw weights (cosine), weight-matched weights (cosine after aligning
# every network to the first one), linear CKA of layer-l activations on a fixed probe batch
# (`probe_per_task` test images of each task: see the settings above), and chain-normalized φ
# (cosine). All cosines are of features centred on the zoo's mean. Chain normalization with the
# paper's trained classifier F_l is the Fig. 2 page's number.

# %%
base, baseline_depths = [], s["baseline_depths"]
for arch in ("mlp4", "plainnet5"):
    z = zoos[arch]
    w, y = z.usable()
    runs_ok = [r for r in z.runs if r.finite]
    aligned = baselines.aligned_features(w, baseline_depths, max_sweeps=s["wm_sweeps"])
    for depth in baseline_depths:
        sims = {
            "raw weights, cosine": baselines.cosine_matrix(np.stack([x[depth - 1].reshape(-1).numpy() for x in w])),
            "weight matching, cosine": baselines.cosine_matrix(aligned[depth]),
            "linear CKA": baselines.cka_matrix([baselines.hidden_activations(r.state_dict, arch, 4, probe, depth)
                                                for r in runs_ok]),
            "chain normalization φ, cosine": baselines.cosine_from_gram(
                grams[(mlp_epochs, "normalized")] if (arch, depth) == ("mlp4", 1) else
                chain.gram(w, depth, "normalized", center=True, progress=False, cache=cache, device=proto.device)),
        }
        for method, sim in sims.items():
            for row in baselines.protocols(sim, y, runs=z.usable_runs(), runs_per_task=z.config.runs, **proto.splits):
                base.append(dict(architecture=nets.LABELS[arch], method=method, depth=depth) | row)
    if len(fig2):
        f = fig2[(fig2.architecture == nets.LABELS[arch]) & (fig2.kind == "normalized") & fig2.depth.isin(baseline_depths)]
        for _, r in f.iterrows():
            base.append(dict(architecture=r.architecture, method="chain normalization φ, F_l (Fig. 2)",
                             depth=int(r.depth), protocol=r.protocol, metric=r.metric, accuracy=r.ours / 100, n=int(r.n)))
base = pd.DataFrame(base)
base.pivot_table(index=["architecture", "method"], columns=["protocol", "depth"], values="accuracy").round(3)

# %%
plots.style()
fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.8), sharey=True)
for ax, (arch, sub) in zip(axes, base.groupby("architecture")):
    sub = sub.assign(cell=[f"{p[:5]}. {d}" for p, d in zip(sub.protocol, sub.depth)])
    import seaborn as sns
    sns.barplot(sub, x="cell", y="accuracy", hue="method", ax=ax)
    ax.axhline(1 / n_tasks, color="0.3", ls=":", lw=1, label="chance (classification)")
    ax.set(title=arch, xlabel="protocol, layer / chain", ylabel="top-1 / rank-1", ylim=(0, 1.05))
    ax.tick_params(axis="x", rotation=45)
    ax.legend(fontsize=plots.SMALL) if ax is axes[0] else ax.get_legend().remove()
fig.suptitle(f"Baselines on the same zoos and splits (profile {profile})", fontsize=10)
fig.tight_layout()
plots.save(fig, "beyond_baselines", page.results_dir)
plt.show()

# %%
for _, r in control.iterrows():
    add(panel=r.control, architecture="MLP-4", depth=1, kind=r.kind, protocol="classification",
        metric=f"top-1 ({r.control} = {r.setting})", ours=100 * r.accuracy, n=r.n)
for _, r in rot.iterrows():
    for col in ("phi_change", "weight_change", "output_change", "same_prediction"):
        add(panel="rotation", architecture="MLP-4", depth=np.nan, kind="", protocol="rotation", metric=col,
            ours=r[col] if col != "same_prediction" else 100 * r[col], n=len(probe))
for _, r in base.iterrows():
    add(panel="baselines", architecture=r.architecture, depth=r.depth, kind=r.method, protocol=r.protocol,
        metric=r.metric, ours=100 * r.accuracy, n=r.n)
results.write(pd.DataFrame(rows), page.results_dir, "beyond_the_paper")

display(Markdown(controls.conclusion(control, rot, base, fig2_null, n_tasks, profile, time.time() - t_start)))
