"""One figure style for the whole book, and one way to save figures (PNG, 150 dpi).

Legible at the book's width: a page shows a figure at ``figure.dpi`` (100) pixels per inch, shrunk to
the text column (at most :data:`COLUMN_PX` pixels) when it is wider, so a figure is about as wide as
the column (:data:`COLUMN_PX` / 100 inches, a little more at most), its words no smaller than
:data:`SMALL` points and the numbers on its bars :data:`NUMBER`, its legend under the panels (on no
bar): a reader at the page's width reads every label, number and caption without zooming."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from wsm.core import paper

PALETTE = {"paper": "#9e9e9e", "ours": "#1f77b4"}
COLUMN_PX = 790      # CSS pixels: the book's text column at its widest (a window of 1440 px or more;
                     # 676 at 1280 px, where the page's contents sidebar takes its share)
SMALL = 9            # points: the smallest text of a figure (legends, the caption, annotations)
NUMBER = 8           # points: a number on a bar (two bars side by side: "99" and "100" do not run together)
TITLE = 11           # points: a figure's title (suptitle)


def style() -> None:
    sns.set_theme(context="notebook", style="whitegrid", font_scale=1.0)    # ticks 11 pt, labels 12 pt
    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 150, "savefig.bbox": "tight"})


INTERVAL_CAPTION = ("Error bars: exact 95% intervals (Clopper-Pearson) of the test accuracy, conditional on one zoo, "
                    "one split of its runs and one trained classifier; they do not include the variation over "
                    "retrained zoos, other splits or classifier seeds.")


def fill(text: str, fig, fontsize: float) -> str:
    """``text`` wrapped into lines as wide as ``fig`` at ``fontsize`` points (a character of the
    default font, DejaVu Sans, is about 0.55 of its size wide), so that no text widens a figure."""
    return textwrap.fill(text, max(40, int(fig.get_figwidth() * 72 / (0.55 * fontsize))))


def caption(fig, below: float = 0.0) -> None:
    """Say under a figure (under ``below``, a height in figure coordinates: the bottom of what is
    already there, :func:`legend_below`) what its intervals are conditional on (:data:`INTERVAL_CAPTION`)."""
    fig.text(0.01, below - 0.01, fill(INTERVAL_CAPTION, fig, SMALL), ha="left", va="top", fontsize=SMALL,
             color="dimgray")


def legend_below(fig, ax) -> float:
    """Move ``ax``'s legend under the laid-out panels of ``fig``, in one row where that fits the
    figure's width (else two columns, else one), where it hides no bar; returns the height, in figure
    coordinates, just below it (for :func:`caption`)."""
    handles, labels = ax.get_legend_handles_labels()
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    renderer = fig.canvas.get_renderer()
    for ncol in dict.fromkeys((len(labels), 2, 1)):
        legend = fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=ncol,
                            fontsize=SMALL, frameon=False)
        box = legend.get_window_extent(renderer).transformed(fig.transFigure.inverted())
        if box.width <= 1 or ncol == 1:
            return box.y0
        legend.remove()


def save(fig, name: str, results_dir: str | Path) -> Path:
    """Save ``fig`` as ``<results_dir>/figures/<name>.png`` and return the path."""
    path = Path(results_dir) / "figures" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def protocol_panels(rows: pd.DataFrame, titles: dict, alpha: float = 0.05,
                    suptitle: str = ""):
    """Bar panels in the paper's layout: x = L1..L3 (unnormalized) then C1..C3 (normalized),
    paper's bars beside ours (with exact 95% intervals where ``ci_low``/``ci_high`` are given, in
    percent), and the 1 - alpha acceptance line.

    ``rows`` needs columns panel, kind, depth, ours, paper (percent); ``titles`` maps a panel
    letter to its title. Where ``null_low``/``null_mean``/``null_high`` (percent) are given, each of
    our bars also gets its permutation null: a grey band (central 95%) with a tick at the null mean.
    """
    style()
    letters = sorted(titles)
    ncols = 2 if len(letters) == 4 else len(letters)          # the paper's 2 x 2 layout for Fig. 2-3
    nrows = -(-len(letters) // ncols)
    # a panel 4 in wide, wider where it has many bars (Table 2: 10 chains and layers), the figure at most
    # the column's width: its numbers stay apart and it is not shrunk
    groups = max([len(set(zip(part.kind, part.depth))) for _, part in rows[rows.panel.isin(letters)].groupby("panel")]
                 or [0])
    width = min(max(4.0, 0.6 * groups), COLUMN_PX / 100 / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, 3.3 * nrows), sharey=True, squeeze=False)
    axes = list(axes.flat)
    for ax, letter in zip(axes, letters):
        sub = rows[rows.panel == letter].copy()
        sub["x"] = [paper.feature(k, d) for k, d in zip(sub.kind, sub.depth)]
        sub = sub.sort_values(["kind", "depth"], ascending=[False, True])
        long = sub.melt(id_vars="x", value_vars=["paper", "ours"], var_name="source", value_name="percent")
        sns.barplot(long, x="x", y="percent", hue="source", palette=PALETTE, ax=ax,
                    order=list(dict.fromkeys(sub.x)))
        ax.axhline(100 * (1 - alpha), color="crimson", lw=1, ls="--", label=f"1 - α = {1 - alpha:.0%}")
        ax.set(title=f"({letter}) {titles[letter]}", xlabel="layer L / chain C", ylim=(0, 105),
               ylabel="accuracy (%)")
        for c in ax.containers:      # a value the paper does not report: no bar, "n/r" at its foot
            ax.bar_label(c, labels=["" if v != v else f"{v:.0f}" for v in c.datavalues], fontsize=NUMBER, padding=1)
        for b, v in zip(ax.containers[0], ax.containers[0].datavalues):
            if v != v:
                ax.text(b.get_x() + b.get_width() / 2, 1, "n/r", ha="center", va="bottom", fontsize=NUMBER,
                        color="dimgray")
        if {"ci_low", "ci_high"} <= set(sub.columns):             # exact 95% intervals on our bars
            bars = ax.containers[1]
            ax.errorbar([b.get_x() + b.get_width() / 2 for b in bars], sub.ours,
                        yerr=[sub.ours - sub.ci_low, sub.ci_high - sub.ours], fmt="none", ecolor="k",
                        elinewidth=0.8, capsize=2)
        null_band(ax, ax.containers[1], sub)
        if ax is not axes[0]:
            ax.get_legend().remove()
    if suptitle:
        fig.suptitle(fill(suptitle, fig, TITLE), fontsize=TITLE)
    fig.tight_layout()
    caption(fig, legend_below(fig, axes[0]))
    return fig


def null_band(ax, bars, part: pd.DataFrame, label: bool = True) -> None:
    """Each bar's permutation null (``null_low``/``null_mean``/``null_high`` of ``part``, percent, in
    bar order): a grey band (central 95%) with a tick at the null mean. Nothing where no null was run."""
    if not {"null_low", "null_mean", "null_high"} <= set(part.columns) or not part.null_mean.notna().any():
        return
    for i, (bar, lo, mid, hi) in enumerate(zip(bars, part.null_low, part.null_mean, part.null_high)):
        if mid != mid:
            continue
        x0, w = bar.get_x(), bar.get_width()
        ax.fill_between([x0, x0 + w], lo, hi, color="0.35", alpha=0.35, lw=0, zorder=3,
                        label="null 95% band (shuffled labels)" if label and i == 0 else None)
        ax.plot([x0, x0 + w], [mid, mid], color="0.2", lw=1.2, zorder=3)


def fig1_network(ax, w1, w2, h1, title: str) -> None:
    """Draw the 2-3-3 network of the paper's Fig. 1; edge width follows the weight, edge colour
    the hidden unit, so a permutation of hidden units shows as swapped colours."""
    layers = [w1.shape[0], w1.shape[1], w2.shape[1]]
    pos = {(layer, i): (layer, (n - 1) / 2 - i) for layer, n in enumerate(layers) for i in range(n)}
    colors = sns.color_palette("tab10", max(layers))
    for layer, w in ((0, w1), (1, w2)):
        for i in range(w.shape[0]):
            for j in range(w.shape[1]):
                (x0, y0), (x1, y1) = pos[(layer, i)], pos[(layer + 1, j)]
                ax.plot([x0, x1], [y0, y1], color=colors[j if layer == 0 else i], lw=4 * float(w[i, j]), alpha=0.8)
                ax.text(x0 + 0.3 * (x1 - x0), y0 + 0.3 * (y1 - y0), f"{float(w[i, j]):.1f}", fontsize=SMALL)
    for (layer, i), (px, py) in pos.items():
        ax.scatter(px, py, s=500, color="white", edgecolor="k", zorder=3)
        label = f"{h1[i]:.1f}" if layer == 1 else ("x" if layer == 0 else "h2")
        ax.text(px, py, label, ha="center", va="center", fontsize=SMALL, zorder=4)
    ax.set(title=title, xticks=range(3), xticklabels=["x", "h1", "h2"], yticks=[])
    ax.grid(False)


def variant_panels(rows: pd.DataFrame, hue: str, alpha: float = 0.05, suptitle: str = ""):
    """Fig. 4-5 layout: columns = protocol (classification top-1, retrieval rank-1), rows = chains
    C1..C3 (normalized) and layers L1..L3 (unnormalized); bars = ``hue`` (one per zoo), with exact 95%
    intervals, the permutation null's band where one was run (:func:`null_band`), and the 1 - alpha
    acceptance line. ``rows`` needs protocol, kind, depth, ours, ci_low, ci_high."""
    style()
    kinds = [k for k in ("normalized", "unnormalized") if k in set(rows.kind)]
    protocols = [p for p in ("classification", "retrieval") if p in set(rows.protocol)]
    order = list(dict.fromkeys(rows[hue]))
    fig, axes = plt.subplots(len(kinds), len(protocols), figsize=(4.2 * len(protocols), 3.2 * len(kinds)),
                             sharey=True, squeeze=False)
    for i, kind in enumerate(kinds):
        for j, protocol in enumerate(protocols):
            ax = axes[i, j]
            sub = rows[(rows.kind == kind) & (rows.protocol == protocol)].copy()
            sub["x"] = [paper.feature(kind, d) for d in sub.depth]
            xs = sorted(set(sub.x))
            colors = dict(zip(["Baseline", "Depth", "Res5", "Leaky", "Adam"], sns.color_palette("tab10")))
            sns.barplot(sub, x="x", y="ours", hue=hue, hue_order=order, order=xs, ax=ax, errorbar=None,
                        palette=colors if set(order) <= set(colors) else "tab10")   # one colour per zoo on every page
            for c, name in zip(ax.containers, order):
                part = sub[sub[hue] == name].set_index("x").reindex(xs)
                centres = [b.get_x() + b.get_width() / 2 for b in c]
                ax.errorbar(centres, part.ours, yerr=[part.ours - part.ci_low, part.ci_high - part.ours],
                            fmt="none", ecolor="k", elinewidth=0.7, capsize=1.5)
                null_band(ax, c, part, label=False)
            ax.axhline(100 * (1 - alpha), color="crimson", lw=1, ls="--")
            metric = "top-1" if protocol == "classification" else "rank-1"
            ax.set(title=f"({'ab'[j]}) {protocol}, {'chains' if kind == 'normalized' else 'layers (unnormalized)'}",
                   xlabel="layer L / chain C", ylabel=f"{metric} (%)", ylim=(0, 105))
            if (i, j) != (0, 0):
                ax.get_legend().remove()
    if suptitle:
        fig.suptitle(fill(suptitle, fig, TITLE), fontsize=TITLE)
    fig.tight_layout()
    caption(fig, legend_below(fig, axes[0, 0]))
    return fig


def baselines(base: pd.DataFrame, n_tasks: int, title: str):
    """The "Beyond the paper" page's baselines (:func:`wsm.analyses.beyond.baselines_table`): per architecture,
    top-1 / rank-1 of each method per protocol and depth, with chance for classification."""
    style()
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.8), sharey=True)
    for ax, (arch, sub) in zip(axes, base.groupby("architecture")):
        sub = sub.assign(cell=[f"{p[:5]}. {d}" for p, d in zip(sub.protocol, sub.depth)])
        sns.barplot(sub, x="cell", y="accuracy", hue="method", ax=ax)
        ax.axhline(1 / n_tasks, color="0.3", ls=":", lw=1, label="chance (classification)")
        ax.set(title=arch, xlabel="protocol, layer / chain", ylabel="top-1 / rank-1", ylim=(0, 1.05))
        ax.tick_params(axis="x", rotation=45)
        ax.legend(fontsize=SMALL) if ax is axes[0] else ax.get_legend().remove()
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def bottom_up(ours: pd.DataFrame, n_tasks: int, alpha: float, title: str):
    """The ICLR page's bars (:func:`wsm.analyses.semantics.page_table`): per architecture, every chain in order
    and out of order with its interval and permutation-null band, chance and the paper's bar."""
    style()
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.6), sharey=True)
    for ax, (arch, sub) in zip(axes, ours.groupby("architecture", sort=False)):
        sub = sub.assign(x=[f"C{d}" + ("" if o == "in order" else "\n2↔3 swapped" if "swapped" in v
                                       else f"\nL{d} mixed") for d, o, v in zip(sub.depth, sub.order, sub.variant)])
        sns.barplot(sub, x="x", y="ours", hue="order", palette={"in order": "#1f77b4", "out of order": "#ff7f0e"},
                    ax=ax, dodge=False)
        for bars, order in zip(ax.containers, dict.fromkeys(sub.order)):     # one container per hue, bars in x order
            null_band(ax, bars, sub[sub.order == order], label=ax is axes[0] and order == "in order")
        ax.errorbar(range(len(sub)), sub.ours, yerr=[sub.ours - sub.ci_low, sub.ci_high - sub.ours], fmt="none",
                    ecolor="k", elinewidth=0.8, capsize=2)
        ax.axhline(100 / n_tasks, color="gray", ls=":", lw=1, label="chance")
        ax.axhline(100 * (1 - alpha), color="crimson", ls="--", lw=1, label=f"1 - α = {1 - alpha:.0%}")
        ax.set(title=arch, xlabel="", ylabel="top-1 (%)", ylim=(0, 105))
        ax.tick_params(axis="x", labelsize=7)
        ax.legend(fontsize=SMALL, loc="lower left") if ax is axes[0] else ax.get_legend().remove()
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    caption(fig)
    return fig


def zoo_size(table: pd.DataFrame, title: str, slice_: pd.DataFrame | None = None, alpha: float = 0.05):
    """The zoo-size page's curves (:mod:`wsm.analyses.scaling`'s table): one row per (architecture, protocol), one
    column per axis; accuracy of every chain (solid, blues, with its exact interval as a band) and layer
    (dashed, reds), the permutation null's band (grey), chance (dotted), the paper's rule (red line) and, as
    markers, the paper's Fig. 2 values (stars: 50 tasks x 100 runs, full training) and the GPU slice's (diamonds:
    ``slice_``), each at its own size on that axis."""
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    from wsm.analyses.scaling import AXES, X

    style()
    panels = table[["architecture", "protocol"]].drop_duplicates().sort_values(["architecture", "protocol"])
    fig, axes = plt.subplots(len(panels), 3, figsize=(8.4, 2.8 * len(panels) + 0.6), squeeze=False, sharey=True)
    colours = {f"C{d}": plt.cm.Blues(0.45 + 0.18 * (d - 1)) for d in range(1, 10)}
    colours |= {f"L{d}": plt.cm.Oranges(0.45 + 0.18 * (d - 1)) for d in range(1, 10)}
    for row, (arch, prot) in zip(axes, panels.itertuples(index=False)):
        cell = table[(table.architecture == arch) & (table.protocol == prot)]
        full = {"runs": 100, "tasks": 50, "epochs": 100 if cell.arch.iloc[0] == "mlp4" else 50}
        s = (slice_[(slice_.architecture == arch) & (slice_.protocol == prot)]
             if slice_ is not None and len(slice_) else pd.DataFrame())
        for ax, axis in zip(row, AXES):
            x, label = X[axis]
            part = cell[cell.axis == axis].sort_values(x)
            for (kind, feature), f in sorted(part.groupby(["kind", "feature"]), key=lambda g: g[0][1]):
                chain_ = kind == "normalized"
                ax.plot(f[x], f.ours, ls="-" if chain_ else "--", marker="o", ms=3, lw=1.3, color=colours[feature],
                        label=feature)
                if chain_:
                    ax.fill_between(f[x], f.ci_low, f.ci_high, color=colours[feature], alpha=0.15, lw=0)
                if pd.notna(f.paper).any():
                    ax.plot([full[axis]], [f.paper.iloc[0]], marker="*", ms=8, color=colours[feature], ls="none")
            if part.null_high.notna().any():
                band = part.groupby(x).agg(null_low=("null_low", "min"), null_high=("null_high", "max"))
                ax.fill_between(band.index, band.null_low, band.null_high, color="grey", alpha=0.25, lw=0,
                                label="null 95% band")
            chance = part.groupby(x).chance.first()
            ax.plot(chance.index, chance.values, ls=":", color="k", lw=1, label="chance")
            ticks = {*part[x].tolist(), full[axis]}
            if len(s):
                sx = {"runs": s.runs, "tasks": s.tasks, "epochs": s.epoch}[axis]
                ax.scatter(sx, s.ours, marker="D", s=14, facecolors="none", edgecolors="k", label="GPU slice", zorder=3)
                ticks |= set(sx.tolist())
            ax.axhline(100 * (1 - alpha), color="crimson", ls="--", lw=0.8)
            ax.set_xscale("log")
            ax.set_xticks(sorted(ticks))
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set(xlabel=label, ylim=(0, 105), title=f"{arch}, {prot}")
        row[0].set_ylabel("accuracy (%)")
        row[-1].legend(fontsize=SMALL - 1, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(f"{title}\nstars: the paper's Fig. 2 (50 tasks x 100 runs, full training); diamonds: the GPU "
                 "slice (4 tasks x 100 runs, the paper's training); red line: the paper's rule", fontsize=9)
    fig.tight_layout()
    return fig


def ablations(table: pd.DataFrame, panels, alpha: float, title: str):
    """The Ablations page's bars (:func:`wsm.analyses.ablations.page_table`): one panel per ablation of ``panels``,
    each cell's settings side by side with their exact 95% intervals, and the paper's rule."""
    style()
    fig, axes = plt.subplots(1, len(panels), figsize=(11.2, 3.8), sharey=True)
    for ax, name in zip(axes, panels):
        sub = table[table.ablation == name]
        sub = sub.assign(cell=[f"{a[:5]} {p[:5]}. {f}" for a, p, f in zip(sub.architecture, sub.protocol, sub.feature)])
        sns.barplot(sub, x="cell", y="ours", hue="setting", ax=ax)
        for bars, (_, part) in zip(ax.containers, sub.groupby("setting", sort=False)):
            x = [b.get_x() + b.get_width() / 2 for b in bars]
            ax.errorbar(x, part.ours, yerr=[part.ours - part.ci_low, part.ci_high - part.ours], fmt="none",
                        ecolor="k", elinewidth=0.7, capsize=2)
        ax.axhline(100 * (1 - alpha), color="crimson", ls="--", lw=1)
        ax.set(title=name, xlabel="", ylabel="accuracy (%)", ylim=(0, 105))
        ax.tick_params(axis="x", rotation=60, labelsize=7)
        ax.legend(fontsize=SMALL, loc="lower left")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    caption(fig)
    return fig
