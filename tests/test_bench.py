"""The benchmark harness: its FLOP counts and the paper-scale projection (no timing here)."""

import pandas as pd
import pytest

from bench import common, projection
from bench.bench_training import train_flops


def test_train_flops_count_every_layer():
    # MLP-4: first layer forward + weight gradient (2 x 2 flops per MAC), the rest 3 x 2
    macs_first, macs_rest = 3072 * 500, 500 * 500 * 2 + 500 * 10
    assert train_flops("mlp4") == 128 * (4 * macs_first + 6 * macs_rest)
    conv = [3 * 32 * 9 * 1024, 32 * 64 * 9 * 256, 64 * 128 * 9 * 64, 128 * 256 * 9 * 16]
    assert train_flops("plainnet5") == 128 * (4 * conv[0] + 6 * (sum(conv[1:]) + 256 * 10))


def test_projection_uses_the_measured_rates():
    rows = [common.row("training", "MLP-4 loop", 1, 10, 1.0), common.row("training", "MLP-4 vectorized G=4", 4, 10, 2.0),
            common.row("training", "PlainNet-5 loop channels_last", 1, 10, 5.0),
            common.row("classifier", "paper: 3000 nets, 50 tasks", 1, 3000, 3.0)]
    for arch in ("MLP-4", "PlainNet-5"):
        for d in range(1, 5):
            rows.append(common.row("chain gram", f"{arch} chain {d}", 6, 1, 1.0, gflops=10.0))
    res = projection.project(pd.DataFrame(rows))
    tiny_mlp = res[res.what == "Tiny ImageNet MLP-4"].iloc[0]
    assert tiny_mlp.net_steps == 5000 * 100 * 16
    assert tiny_mlp.cpu_hours == pytest.approx(5000 * 100 * 16 / 20 / 3600, rel=1e-3)   # best: 20 net-steps/s
    assert "vectorized G=4" in tiny_mlp.assumption
    clf = res[res.stage == "weight classifiers"].iloc[0]
    assert clf.cpu_hours == pytest.approx(clf.net_steps / 1000 / 3600, rel=1e-3)
    total = res[res.stage == "total"].iloc[0]
    assert total.h100_hours == pytest.approx(res.h100_hours[:-1].sum(), rel=1e-2)
