"""Projection of the whole paper at paper scale from the measured benchmark rows.

``python -m bench.projection [results.csv]`` writes ``book/benchmarks/projection.csv`` (the book's
Performance page shows it). Per-network costs follow the paper's settings (Section 4.1, Appendix C):
50 tasks x 100 runs = 5,000 networks per zoo, batch 128; Tiny ImageNet 4 classes x 500 images
(16 steps/epoch), CIFAR-100 2 classes x 500 (8 steps/epoch); MLP-4 100 epochs, PlainNet-5 50; the
weight classifier 30,000 batch-1 steps per chain, protocol and kind. The GRU zoo (NameData) is
counted only where ``bench_gru`` rows exist. CPU: the best measured variant here. H100: an
ASSUMED effective rate (stated in each row), not a measurement: no GPU was lent to this task.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from bench.bench_training import train_flops
from wsm import chain

# Assumed effective H100 rates (TFLOP/s). Peak dense: 67 FP32, 495 TF32 tensor, 67 FP64 tensor.
H100_TRAIN_TFLOPS = 100.0      # batched small convs/matmuls with TF32 allowed: ~20% of the TF32 peak
H100_GRAM_TFLOPS = 30.0        # float64 GEMMs of the kernel identity: ~45% of the FP64 tensor peak
ZOOS = [("Tiny ImageNet MLP-4", "mlp4", 100, 16), ("Tiny ImageNet PlainNet-5", "plainnet5", 50, 16),
        ("CIFAR-100 MLP-4", "mlp4", 100, 8), ("CIFAR-100 PlainNet-5", "plainnet5", 50, 8)]
N = 5000


def _rate(df, variant_prefix):
    rows = df[(df.benchmark == "training") & df.variant.str.startswith(variant_prefix)]
    return rows.net_steps_per_s.max(), rows.loc[rows.net_steps_per_s.idxmax(), "variant"]


def project(df: pd.DataFrame) -> pd.DataFrame:
    out = []
    for name, arch, epochs, per_epoch in ZOOS:
        steps = N * epochs * per_epoch
        flops = train_flops(arch, n_classes=4 if "Tiny" in name else 2) * steps
        label = "MLP-4" if arch == "mlp4" else "PlainNet-5"
        rate, variant = _rate(df, label)
        out.append(dict(stage="train zoo", what=name, networks=N, net_steps=steps, pflop=flops / 1e15,
                        cpu_hours=steps / rate / 3600, h100_hours=flops / (H100_TRAIN_TFLOPS * 1e12) / 3600,
                        assumption=f"CPU: {variant} measured; H100: {H100_TRAIN_TFLOPS:.0f} TFLOP/s assumed"))
    from wsm import nets
    for name, arch, _, _ in ZOOS:
        w = chain.layer_weights(nets.build(arch, 4))
        depths = range(1, 5 if arch == "plainnet5" else 4)      # all chains the paper reports + CNN chain 4
        label = "MLP-4" if arch == "mlp4" else "PlainNet-5"
        cpu_s = gpu_s = total = 0.0
        for d in depths:
            n, k = chain.factor_rows_cols(w, d)
            cpu_cost = min(chain.gram_costs(N, n, k, 2.0).values())
            gpu_cost = min(chain.gram_costs(N, n, k, 60.0).values())
            row = df[(df.benchmark == "chain gram") & (df.variant == f"{label} chain {d}")]
            rate = row.gflops.iloc[0] * 1e9 if len(row) and row.gflops.iloc[0] > 0 else float("nan")
            cpu_s += cpu_cost / rate
            gpu_s += gpu_cost / (H100_GRAM_TFLOPS * 1e12)
            total += gpu_cost
        out.append(dict(stage="chain Grams", what=f"{name}: chains {depths[0]}-{depths[-1]}", networks=N,
                        net_steps=None, pflop=total / 1e15, cpu_hours=cpu_s / 3600, h100_hours=gpu_s / 3600,
                        assumption=f"CPU: 2 GB blocks at the measured rate per chain; H100: 60 GB blocks, "
                                   f"{H100_GRAM_TFLOPS:.0f} TFLOP/s assumed"))
    clf = df[(df.benchmark == "classifier") & df.variant.str.startswith("paper")]
    if len(clf):
        sps = clf.net_steps_per_s.iloc[0]
        n_clf = sum(2 * 2 * (4 if a == "plainnet5" else 3) for _, a, _, _ in ZOOS)   # kinds x protocols x chains
        steps = 30000 * n_clf
        out.append(dict(stage="weight classifiers", what=f"{n_clf} classifiers x 30,000 batch-1 steps",
                        networks=None, net_steps=steps, pflop=None, cpu_hours=steps / sps / 3600,
                        h100_hours=steps / sps / 3600 / 16,
                        assumption="batch-1 SGD is latency-bound: measured CPU rate; on the H100 host 16 CPU "
                                   "cores run 16 classifiers at once (assumed)"))
    gru = df[df.benchmark.astype(str).str.contains("gru", case=False)]
    if len(gru):
        out.append(dict(stage="train zoo", what="NameData GRU-2 (see bench_gru rows)", networks=N, net_steps=None,
                        pflop=None, cpu_hours=None, h100_hours=None, assumption="not projected here"))
    res = pd.DataFrame(out)
    total = dict(stage="total", what="whole paper (image zoos + Grams + classifiers)", networks=None,
                 net_steps=None, pflop=res.pflop.sum(), cpu_hours=res.cpu_hours.sum(),
                 h100_hours=res.h100_hours.sum(), assumption="sum of the rows above")
    res = pd.concat([res, pd.DataFrame([total])], ignore_index=True)
    for c in ("pflop", "cpu_hours", "h100_hours"):
        res[c] = res[c].astype(float).round(3)
    return res


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    here = Path(__file__).resolve().parent.parent / "book" / "benchmarks"
    src = Path(argv[0]) if argv else max((p for p in here.glob("*.csv") if p.name != "projection.csv"),
                                         key=lambda p: p.stat().st_mtime)
    res = project(pd.read_csv(src))
    res.to_csv(src.parent / "projection.csv", index=False)
    with pd.option_context("display.width", 200, "display.max_colwidth", 70):
        print(res.to_string(index=False))
    print(f"wrote {src.parent / 'projection.csv'} from {src}")


if __name__ == "__main__":
    main()
