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
    rows = [common.row("training", "MLP-4 loop", 1, 10, 1.0),
            common.row("training", "MLP-4 vectorized G=4", 4, 10, 2.0),
            common.row("training", "PlainNet-5 loop channels_last", 1, 10, 5.0),
            common.row("classifier", "paper: 3000 nets, 50 tasks", 1, 3000, 3.0)]
    res = projection.project(pd.DataFrame(rows))
    # projection.project rounds hours to 3 decimals: +-5e-4 h, so abs=5e-4 (rel 1e-3 before, which held
    # for the 0.28 h figure by its digits only: 0.8 of it); 1e-3 for half of a rounded figure, rel 1e-2 for a
    # total against the sum of its 9 rounded rows (+-4.5e-3 h; the total here is 3.1 h). Float64
    # arithmetic on given rates: nothing of the machine in it
    tiny_mlp = res[res.what == "Tiny ImageNet MLP-4"].iloc[0]
    assert tiny_mlp.net_steps == 5000 * 100 * 16
    assert tiny_mlp.cpu_hours == pytest.approx(5000 * 100 * 16 / 20 / 3600, abs=5e-4)   # best: 20 net-steps/s
    assert "vectorized G=4" in tiny_mlp.basis
    clf = res[res.stage == "weight classifiers"].iloc[0]
    assert clf.cpu_hours == pytest.approx(clf.net_steps / 1000 / 3600, abs=5e-4)
    assert res.gpu_hours.isna().all()                      # no GPU figures: no GPU hours, none assumed
    # with GPU figures: the zoo timings at paper settings, and the Grams at the float64 matmul rate
    gpu = pd.DataFrame([common.row("matmul", "2048x2048 float64", 1, 1, 1.0, "cuda", gflops=50_000.0),
                        common.row("matmul", "2048x2048 float32", 1, 1, 1.0, "cuda", gflops=40_000.0),
                        common.row("training", "MLP-4 vectorized G=100", 100, 10, 1.0, "cuda"),
                        common.row("training", "PlainNet-5 vectorized G=100", 100, 10, 1.0, "cuda")])
    times = pd.DataFrame([dict(stage="train", arch="mlp4", device="GPU X", networks=400, seconds=80.0,
                               s_per_network=0.2)])
    scale = pd.DataFrame([dict(architecture=a, chain=d, networks=2000, ratio=1.5, roof_gflops=100.0)
                          for a in ("MLP-4", "PlainNet-5") for d in (1, 2, 3)])
    res = projection.project(pd.DataFrame(rows), gpu, times, scale)
    tiny, cifar = (res[res.what == f"{d} MLP-4"].iloc[0] for d in ("Tiny ImageNet", "CIFAR-100"))
    assert tiny.gpu_hours == pytest.approx(0.2 * 5000 / 3600, abs=5e-4) and "GPU X" in tiny.basis
    assert cifar.gpu_hours == pytest.approx(tiny.gpu_hours / 2, abs=1e-3)          # 8 steps per epoch, not 16
    cnn = res[res.what == "Tiny ImageNet PlainNet-5"].iloc[0]                     # no zoo timing: the benchmark rate
    assert cnn.gpu_hours == pytest.approx(5000 * 50 * 16 / 1000 / 3600, abs=5e-4)
    # the Grams: each chain's arithmetic minimum times the ratio measured on the CPU, at the CPU's measured
    # float32 rate, and projected at the GPU's
    from bench.gram_scale import minimum_flops
    from wsm.maths import chain
    from wsm.zoos import nets

    mlp = res[(res.stage == "chain Grams") & res.what.str.startswith("Tiny ImageNet MLP-4")].iloc[0]
    w = chain.layer_weights(nets.build("mlp4", 200))
    flops = sum(minimum_flops(5000, 3072, 500, chain.factor_flops(w, d)) for d in (1, 2, 3))
    assert mlp.pflop == pytest.approx(flops / 1e15, abs=5e-4)
    assert mlp.cpu_hours == pytest.approx(flops * 1.5 / 100e9 / 3600, abs=5e-4)
    assert mlp.gpu_hours == pytest.approx(flops * 1.5 / 40e12 / 3600, abs=5e-4)
    assert "projected from the CPU's arithmetic" in mlp.basis
    total = res[res.stage == "total"].iloc[0]
    assert total.gpu_hours == pytest.approx(res.gpu_hours[:-1].sum(), rel=1e-2)


def test_every_bench_module_imports_quietly_and_has_run():
    """``make bench`` imports every bench/bench_*.py and calls its run(): importing one must not
    parse arguments or measure anything (bench_evaluate once did, and stopped the whole command)."""
    import importlib
    import pkgutil
    from pathlib import Path

    here = Path(projection.__file__).parent
    names = [m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_")]
    assert "bench_training" in names and "bench_evaluate" in names
    for name in names:
        assert callable(importlib.import_module(f"bench.{name}").run), name


def test_cluster_projection_schedules_the_measured_tasks():
    from pathlib import Path

    assert projection._makespan([3, 3, 3, 2, 2, 2, 2], 2) == 9.0       # longest first onto the least loaded
    assert projection._makespan([1.0] * 10, 3) == 4.0
    here = Path(projection.__file__).parent.parent / "book" / "benchmarks"
    inputs = [pd.read_csv(here / f)
              for f in ("amd-epyc-2cores.csv", "nvidia-h200-16cores.csv", "paper_slice_times.csv")]

    def eng(unit_ms, tile_ms):
        return pd.DataFrame([dict(measure="unit task, runs already saved", value=unit_ms, unit="ms"),
                             dict(measure="Gram tile task (4 x 4 MLP-4 L3)", value=tile_ms, unit="ms"),
                             dict(measure="the same tile in this process", value=0.0, unit="ms"),
                             dict(measure="a worker's first unit task", value=3.0, unit="s"),
                             dict(measure="start a local cluster", value=4.0, unit="s")])

    scale = pd.DataFrame([dict(architecture=a, chain=d, networks=2000, ratio=1.5, roof_gflops=100.0)
                          for a in ("MLP-4", "PlainNet-5") for d in (1, 2, 3)])
    res = projection.cluster(*inputs, eng(0.0, 0.0), scale)
    total = res[res.stage == "total"].set_index("setup").hours
    one, eight, many = (total[f"{g} x NVIDIA H200"] for g in projection.GPU_COUNTS)
    assert eight < one / 6 and many < eight
    train = res[res.stage == "train zoos"].set_index("setup")
    assert train.tasks.iloc[0] == 200 and train.tasks.iloc[-1] == 20_000       # a task's chunk; one network
    assert train.hours.iloc[0] == pytest.approx(sum(
        r.s_per_network * 5000 * (1 if name.startswith("Tiny") else 0.5) for name in ("Tiny", "CIFAR")
        for r in inputs[2][inputs[2].stage == "train"].itertuples()) / 3600, abs=1e-4)     # hours: 4 decimals (+-5e-5)
    slower = projection.cluster(*inputs, eng(0.0, 100.0), scale)          # 0.1 s more per Gram task
    grams = res[(res.stage == "chain Gram passes")].iloc[0]
    assert slower[slower.stage == "chain Gram passes"].iloc[0].hours == pytest.approx(     # two 4-decimal roundings
        grams.hours + grams.tasks * 0.1 / 3600, abs=2e-4)
