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
# # Section 3.3: permutations and the chain normalization rule
#
# **Reproduces Fig. 1** (the worked example, with the paper's exact numbers) and checks
# **Eq. 5–7** numerically on trained networks: a random permutation of the hidden units leaves a
# network's output and every chain-normalized matrix φ^l unchanged, while the raw layer weights change.

# %% tags=["parameters", "remove-cell"]
profile = "quick"
overrides = {}
roots = {}

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display

from wsm import chain, claims, experiments, nets, paper, plots, results

plots.style()
page, zoos = experiments.start("s3_3_chain_normalization", profile, overrides, roots)

# %% [markdown]
# ## Fig. 1 with the paper's numbers
# The caption gives the matrices in MATLAB-like notation followed by a transpose, so the paper's
# $W_1$ ($n_0 \times n_1$ = 2 × 3) is the transpose of the printed 3 × 2 block.

# %%
W1 = torch.tensor(paper.FIG1["W1"], dtype=torch.float64).T      # 2 x 3
W2 = torch.tensor(paper.FIG1["W2"], dtype=torch.float64).T      # 3 x 3
swap = [1, 0, 2]                                                # permute the 1st and 2nd hidden units
W1p, W2p = W1[:, swap], W2[swap, :]
printed_W1p = torch.tensor(paper.FIG1["W1_perm"], dtype=torch.float64).T
printed_W2p = torch.tensor(paper.FIG1["W2_perm"], dtype=torch.float64).T
x = torch.randn(1000, 2, generator=torch.Generator().manual_seed(page.settings["seed"]), dtype=torch.float64)
checks = pd.DataFrame({
    "check": ["W1' printed = W1 with columns 1,2 swapped", "W2' printed = W2 with rows 1,2 swapped",
              "max |W2'^T W1'^T x - W2^T W1^T x| over 1000 random x",
              "max |phi^1' - phi^1|  (Eq. 5)", "max |phi^2' - phi^2|  (Eq. 6)",
              "max |W1' - W1|  (raw weights)"],
    "value": [float(torch.equal(W1p, printed_W1p)), float(torch.equal(W2p, printed_W2p)),
              (x @ W1p @ W2p - x @ W1 @ W2).abs().max().item(),
              (chain.phi([W1p.T], 1) - chain.phi([W1.T], 1)).abs().max().item(),
              (chain.phi([W1p.T, W2p.T], 2) - chain.phi([W1.T, W2.T], 2)).abs().max().item(),
              (W1p - W1).abs().max().item()],
})
checks.style.format({"value": "{:.3g}"}).hide(axis="index")

# %% [markdown]
# The printed hidden activations $h_1 = (0.2, 0.7, 0.5)$ are illustrative: no input satisfies
# $W_1^\top x = h_1$ exactly (least-squares residual below), which does not affect the argument.

# %%
sol, res, *_ = np.linalg.lstsq(W1.T.numpy(), np.array(paper.FIG1["h1"]), rcond=None)
print(f"closest x = {sol.round(3)}, residual |W1^T x - h1| = {np.linalg.norm(W1.T.numpy() @ sol - paper.FIG1['h1']):.3f}")


# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
plots.fig1_network(axes[0], W1, W2, paper.FIG1["h1"], "(a) original")
plots.fig1_network(axes[1], W1p, W2p, paper.FIG1["h1_perm"], "(b) hidden units 1 and 2 permuted")
fig.suptitle("Fig. 1: equivalent topology (edge colour follows the hidden unit)", y=1.03)
plots.save(fig, "fig1_equivalent_topology", page.results_dir)
plt.show()

# %% [markdown]
# ## Eq. 5–7 on trained networks
# One MLP-4 and one PlainNet-5 are trained on task 0; every hidden layer is then permuted at random
# (with its bias and BatchNorm statistics, so the function is the same).

# %%
rows, checks2 = [], []
for arch, z in zoos.items():
    net = nets.build(arch, len(z.runs[0].classes)).double()
    net.load_state_dict(z.runs[0].state_dict)
    net.eval()
    permuted = nets.build(arch, len(z.runs[0].classes)).double()
    permuted.load_state_dict(net.state_dict())
    permuted.eval()
    gen = torch.Generator().manual_seed(page.settings["seed"])
    n_layers = len(chain.layer_weights(net))
    for layer in range(1, n_layers):
        width = chain.layer_weights(net)[layer - 1].shape[0]
        chain.permute_hidden(permuted, layer, torch.randperm(width, generator=gen))
    xb = torch.randn(64, 3, 32, 32, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        out_change = (permuted(xb) - net(xb)).abs().max().item()
    w, wp = chain.layer_weights(net), chain.layer_weights(permuted)
    for depth in range(1, 4):
        p, pp = chain.phi(w, depth), chain.phi(wp, depth)
        checks2.append(dict(architecture=arch, depth=depth,
                            phi_relative_change=((pp - p).norm() / p.norm()).item(),
                            raw_relative_change=((wp[depth - 1] - w[depth - 1]).norm() / w[depth - 1].norm()).item(),
                            output_max_abs_change=out_change, phi_size=f"{p.shape[0]}x{p.shape[1]}"))
checks2 = pd.DataFrame(checks2)
checks2.style.format({c: "{:.2e}" for c in ("phi_relative_change", "raw_relative_change",
                                             "output_max_abs_change")}).hide(axis="index")

# %%
rows = [dict(figure="Fig. 1", panel="a-b", architecture="2-3-3 linear", depth=2, kind="normalized",
             protocol="permutation", metric="max |output change|", ours=checks.value[2], paper=claims.EXACT, n=1000,
             profile=profile, dataset="paper's example", scale="the printed matrices")]
for r in checks2.itertuples():
    rows.append(dict(figure="Eq. 6", panel="", architecture=r.architecture, depth=r.depth, kind="normalized",
                     protocol="permutation", metric="relative change of phi", ours=r.phi_relative_change,
                     paper=claims.EXACT, n=1, profile=profile, dataset=page.dataset, scale=page.scale))
    rows.append(dict(figure="Eq. 6", panel="", architecture=r.architecture, depth=r.depth, kind="unnormalized",
                     protocol="permutation", metric="relative change of raw weights", ours=r.raw_relative_change,
                     paper=float("nan"), n=1, profile=profile, dataset=page.dataset, scale=page.scale))
results.write(rows, page.results_dir, "s3_3_chain_normalization")

display(Markdown(claims.conclusion("Fig. 1", pd.DataFrame(rows)) + "\n\n"
                 + chain.permutation_sentence(checks2)))
