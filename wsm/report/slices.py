"""The committed runs of Fig. 2's slice (the paper's training on its first tasks): the same zoo trained
on two devices, and the MLP-4 question, "is the shortfall of the deeper chains a property of the
networks, or of a classifier choice?" (``bench.paper_slice``, ``bench.mlp4_question``).

* :func:`devices`: every cell of the GPU slice beside the CPU's, with the difference and its 95%
  interval (Newcombe's, :func:`wsm.maths.verdicts.difference_interval`): the same code on two devices trains
  different networks from the same seeds (float rounding), so the two are independent replications
  and should agree within it;
* :func:`variants`: weight classification under each classifier variant, summarized over split seeds;
* :func:`answer`: the one- or two-sentence answer the Fig. 2 page and the first page give, decided by
  :func:`verdict` from the variants table alone.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from wsm.core import paper, paths
from wsm.maths import verdicts
from wsm.analyses import scaling
from wsm.report import results

GPU_SLICE = scaling.SLICE_TABLE                    # the zoo-size page draws it too
CPU_SLICE = paths.BENCHMARKS / "paper_slice_cpu.csv"
VARIANTS = paths.BENCHMARKS / "mlp4_classifiers.csv"
OURS = "ours: centred and scaled, Eq. 7"        # bench.mlp4_question.VARIANTS' first, the book's classifier

NO_SHORTFALL = "no shortfall"
CLASSIFIER = "the classifier"
NETWORKS = "the networks"
UNSETTLED = "not settled"


def _hits(ours, n) -> int:
    return int(round(float(ours) * int(n) / 100))


def devices(gpu: pd.DataFrame, cpu: pd.DataFrame) -> pd.DataFrame:
    """One row per cell present in both slices (architecture, protocol, feature): each device's
    accuracy and interval, ``cpu - gpu`` in points with its 95% interval and ``agree`` (the interval
    holds 0). Rows with no test networks on either side are left out."""
    keys = ["architecture", "protocol", "feature"]
    both = gpu.merge(cpu, on=keys, suffixes=(" gpu", " cpu"))
    both = both[(both["n gpu"] > 0) & (both["n cpu"] > 0)]
    rows = []
    for _, r in both.iterrows():
        d, lo, hi = verdicts.difference_interval(_hits(r["ours cpu"], r["n cpu"]), int(r["n cpu"]),
                                                 _hits(r["ours gpu"], r["n gpu"]), int(r["n gpu"]))
        rows.append({**{k: r[k] for k in keys},
                     "GPU": f"{r['ours gpu']:.1f} [{r['ci_low gpu']:.1f}, {r['ci_high gpu']:.1f}]",
                     "CPU": f"{r['ours cpu']:.1f} [{r['ci_low cpu']:.1f}, {r['ci_high cpu']:.1f}]",
                     "n": f"{int(r['n gpu'])} / {int(r['n cpu'])}", "CPU - GPU": round(d, 1),
                     "low": round(lo, 1), "high": round(hi, 1), "agree": bool(lo <= 0 <= hi)})
    return pd.DataFrame(rows)


def devices_sentence(table: pd.DataFrame) -> str:
    """How many cells of :func:`devices` agree within their interval, naming any that do not."""
    if table.empty:
        return "No cell was measured on both devices."
    off = table[~table.agree]
    words = f"{int(table.agree.sum())} of {len(table)} cells agree within the 95% interval of their difference"
    if len(off):
        words += " (not: " + ", ".join(f"{a} {p} {f} {d:+.1f} points [{lo:+.1f}, {hi:+.1f}]" for a, p, f, d, lo, hi
                                       in zip(off.architecture, off.protocol, off.feature, off["CPU - GPU"],
                                              off.low, off.high)) + ")"
    return words + "."


def _bar(feature: str) -> float:
    """The paper's MLP-4 weight classification for a chain (``C2``) or layer (``L1``), Fig. 2 (a)."""
    kind = "normalized" if feature.startswith("C") else "unnormalized"
    return paper.FIG2[("mlp4", "classification", kind)][int(feature[1:]) - 1]


def variants(table: pd.DataFrame) -> pd.DataFrame:
    """``bench.mlp4_question``'s rows summarized: per variant and feature, the mean, lowest and highest
    accuracy over the split seeds, their number and the test networks per seed."""
    return results.over_seeds(table, ["variant", "feature"])


def verdict(table: pd.DataFrame, feature: str = "C3") -> tuple[str, str | None]:
    """Whose is ``feature``'s shortfall? ``(NO_SHORTFALL, None)`` where ours reaches the paper's value on
    some split seed; ``(CLASSIFIER, variant)`` where another variant beats ours on
    every split seed by more than ours moves between seeds (its lowest above our highest);
    ``(NETWORKS, None)`` where no variant's highest reaches above our highest (no classifier the paper or
    the code describes does better on any seed); else ``(UNSETTLED, None)``."""
    s = variants(table).set_index(["variant", "feature"])
    ours = s.loc[(OURS, feature)]
    if ours["high"] >= _bar(feature):
        return NO_SHORTFALL, None
    others = [v for v in dict.fromkeys(table.variant) if v != OURS]
    better = [v for v in others if s.loc[(v, feature), "low"] > ours["high"]]
    if better:
        return CLASSIFIER, max(better, key=lambda v: s.loc[(v, feature), "mean"])
    if all(s.loc[(v, feature), "high"] <= ours["high"] for v in others):
        return NETWORKS, None
    return UNSETTLED, None


def answer(table: pd.DataFrame, feature: str = "C3") -> str:
    """The answer in one or two sentences with its numbers: ``feature`` (and layer 1) under each variant
    over the split seeds, the paper's value, and :func:`verdict`'s reading."""
    s = variants(table).set_index(["variant", "feature"])
    bar = _bar(feature)
    seeds = int(s.seeds.min())
    n = int(s.n.iloc[0])

    def at(v, f=feature):
        r = s.loc[(v, f)]
        return f"{r['mean']:.1f}% ({r['low']:.1f}–{r['high']:.1f})"

    each = "; ".join(f"{v}: {at(v)}, L1 {at(v, 'L1')}" for v in dict.fromkeys(table.variant))
    who, which = verdict(table, feature)
    first = (f"On the paper's MLP-4 networks of Fig. 2's slice, weight classification by {feature} over {seeds} "
             f"split seeds ({n} test networks each; mean, lowest–highest) is {each}; the paper reports {bar}% on "
             "its 50 tasks.")
    if who == NO_SHORTFALL:
        return first + " Ours reaches the paper's value on some split seed: there is no shortfall to explain."
    if who == CLASSIFIER:
        return first + (f" The shortfall is a classifier choice: {which} beats ours on every split seed by more "
                        "than the split moves ours.")
    if who == NETWORKS:
        return first + (" The shortfall is the networks': no classifier the paper or its code describes does "
                        f"better on any seed than ours, so {feature} stays below the paper's bar here.")
    return first + (" Whether it is the networks' or the classifier's is not settled: the variants' ranges over "
                    "the split seeds overlap ours.")


def committed(path: Path = VARIANTS) -> pd.DataFrame | None:
    """The committed variants table, or None where it has not been run."""
    return results.committed(path)


def section(gpu: Path = GPU_SLICE, cpu: Path = CPU_SLICE, variants_path: Path = VARIANTS) -> list:
    """What the Fig. 2 page shows of the committed slice runs, in order: sentences (str, Markdown) and
    tables (DataFrames): the two devices cell by cell, then the MLP-4 question's variants and answer."""
    out = []
    if Path(gpu).exists() and Path(cpu).exists():
        t = devices(pd.read_csv(gpu), pd.read_csv(cpu))
        out += [f"**The same zoo on two devices.** {devices_sentence(t)}", t]
    else:
        out.append(results.not_run("The CPU run of the slice", Path(cpu),
                            "python -m bench.paper_slice --archs mlp4 --name paper_slice_cpu"))
    table = committed(variants_path)
    if table is None:
        out.append(results.not_run("The MLP-4 classifier variants", Path(variants_path),
                                   "python -m bench.mlp4_question"))
    else:
        out += [f"**The MLP-4 question.** {answer(table)}", variants(table)]
    return out


def frontpage_lines(variants_path: Path = VARIANTS) -> list[str]:
    """The first page's paragraph on the MLP-4 question (Markdown lines; empty where it was not run)."""
    table = committed(variants_path)
    return [] if table is None else ["### The slice's MLP-4 question", "", answer(table), ""]
