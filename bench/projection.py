"""Projection of the whole paper at paper scale from the measured benchmark rows.

``python -m bench.projection [cpu.csv] [--gpu gpu.csv] [--slice paper_slice_times.csv]`` writes
``book/benchmarks/projection.csv`` (the book's Performance page shows it). Per-network costs follow
the paper profile's zoos and protocol, read from the pages' experiment objects
(:func:`wsm.book.experiments.page` of Figs. 2 and 3 under ``paper``: tasks x runs, epochs, batch, classes
per task at 500 training images per class; the weight classifier's epochs over its training
networks, per chain, protocol and kind). CPU hours: the best variant measured on the CPU. GPU hours, each row
saying its basis:

* training: the seconds per network of a zoo built at the paper's settings on the GPU
  (``bench.paper_slice``: 400 networks, real Tiny ImageNet), times 5,000 (CIFAR-100: half the steps
  per epoch, so half the time); without that file, the best vectorized rate of the GPU benchmark rows;
* Gram matrices (CPU and GPU): each chain's arithmetic minimum (``bench.gram_scale.minimum_flops``)
  times the ratio of the measured time to it on this machine's CPU (``gram_scale.csv``: the lowest
  ratio measured of that chain), at the measured float32 matmul rate: the CPU's as measured
  beside each Gram, the GPU's from its benchmark rows (projected from the CPU's arithmetic until a
  GPU measures them); a chain not measured (PlainNet-5's chain 4) by the cost model
  (:func:`wsm.maths.chain.gram_costs`) at the measured rate;
* classifiers: the measured CPU rate of batch-1 SGD, 16 at once on the GPU machine's 16 cores.

With ``book/benchmarks/engine_overhead.csv`` (``python -m bench.engine_overhead``) it also writes
``projection_cluster.csv``: the same work as Ray tasks (:mod:`wsm.zoos.engine`) on 1, 8 and 64 GPUs and on
a CPU cluster (:func:`cluster`): each zoo's units (a task's 100 runs as one batched chunk on a GPU,
one network per core on CPUs) and each chain's Gram as one task per pass of the slices in a
worker's memory (projected: the Ray engine still runs tiles), every task as long as the measured
per-network time or its share of the chain's projected time, plus the measured engine overhead per
task and per worker, scheduled longest first onto the workers, stage after stage.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from bench.bench_training import train_flops
from wsm.maths import chain
from wsm.zoos import data, engine, nets
from wsm.book import experiments

IMAGES_PER_CLASS = 500        # training images per class of Tiny ImageNet and CIFAR-100 alike
PAGES = ("s4_1_tiny_imagenet", "s4_2_cifar100")     # the four image weight sets: Figs. 2 and 3


def paper_zoos() -> list[tuple[str, str, int, int, int]]:
    """``(name, arch, epochs, SGD steps per epoch, classes per task)`` of every image zoo of the
    paper profile, from the pages' own experiment objects."""
    out = []
    for nb in PAGES:
        for arch, (_, cfg) in experiments.page(nb, "paper", check_data=False).zoos.items():
            classes = len(data.task_classes(cfg.dataset, 0))
            per_epoch = -(-classes * (cfg.train_per_class or IMAGES_PER_CLASS) // cfg.batch_size)
            out.append((f"{data.short_name(cfg.dataset)} {nets.LABELS[arch]}", arch, cfg.epochs, per_epoch, classes))
    return out


def paper_networks() -> int:
    """Networks per zoo of the paper profile (tasks x runs)."""
    cfg = next(iter(experiments.page(PAGES[0], "paper", check_data=False).zoos.values())).config
    return len(cfg.tasks) * cfg.runs


def classifier_steps() -> int:
    """Batch-1 SGD steps of one weight classifier of the paper profile (epochs x training networks)."""
    page = experiments.page(PAGES[0], "paper", check_data=False)
    return page.protocol.classifier.epochs * round(page.protocol.train_fraction * paper_networks())


N = paper_networks()
ZOOS = paper_zoos()


def _rate(df, variant_prefix):
    rows = df[(df.benchmark == "training") & df.variant.str.startswith(variant_prefix)]
    return rows.net_steps_per_s.max(), rows.loc[rows.net_steps_per_s.idxmax(), "variant"]


def _gpu_training(name, arch, per_epoch, gpu, times):
    """(hours, basis) of one 5,000-network zoo on the GPU, or (None, reason)."""
    if times is not None:
        row = times[(times.stage == "train") & (times.arch == arch)]
        if len(row):
            r = row.iloc[0]
            tiny = ZOOS[0][3]                                   # the slice's steps per epoch (Tiny ImageNet)
            hours = r.s_per_network * N * per_epoch / tiny / 3600
            return hours, (f"measured on {r.device}: {int(r.networks)} networks at the paper's settings took "
                           f"{r.seconds:.0f} s (bench.paper_slice), x {N} networks" +
                           (f", x {per_epoch}/{tiny} ({per_epoch} steps per epoch)" if per_epoch != tiny else ""))
    if gpu is not None:
        label = "MLP-4" if arch == "mlp4" else "PlainNet-5"
        rate, variant = _rate(gpu, label)
        steps = N * (100 if arch == "mlp4" else 50) * per_epoch
        return steps / rate / 3600, f"GPU benchmark: {variant} measured"
    return None, "no GPU measurement"


def project(df: pd.DataFrame, gpu: pd.DataFrame | None = None, times: pd.DataFrame | None = None,
            scale: pd.DataFrame | None = None) -> pd.DataFrame:
    """The projection table from the CPU rows ``df``, the GPU rows ``gpu``, the GPU zoo timings
    ``times`` (``paper_slice_times.csv``) and the measured Grams ``scale`` (``gram_scale.csv``);
    GPU columns are empty without GPU figures."""
    gpu_name = None if gpu is None or not len(gpu) else "GPU"
    if times is not None and len(times):
        gpu_name = times.device.iloc[0]
    out = []
    for name, arch, epochs, per_epoch, classes in ZOOS:
        steps = N * epochs * per_epoch
        flops = train_flops(arch, n_classes=classes) * steps
        label = "MLP-4" if arch == "mlp4" else "PlainNet-5"
        rate, variant = _rate(df, label)
        hours, basis = _gpu_training(name, arch, per_epoch, gpu, times)
        out.append(dict(stage="train zoo", what=name, networks=N, net_steps=steps, pflop=flops / 1e15,
                        cpu_hours=steps / rate / 3600, gpu_hours=hours,
                        basis=f"CPU: {variant} measured; GPU: {basis}"))
    out += gram_rows(scale, _gpu_f32(gpu))
    clf = df[(df.benchmark == "classifier") & df.variant.str.startswith("paper")]
    if len(clf):
        sps = clf.net_steps_per_s.iloc[0]
        n_clf = sum(2 * 2 * (4 if a == "plainnet5" else 3) for _, a, *_ in ZOOS)   # kinds x protocols x chains
        steps = classifier_steps() * n_clf
        out.append(dict(stage="weight classifiers", what=f"{n_clf} classifiers x {classifier_steps():,} batch-1 steps",
                        networks=None, net_steps=steps, pflop=None, cpu_hours=steps / sps / 3600,
                        gpu_hours=steps / sps / 3600 / 16 if gpu_name else None,
                        basis="batch-1 SGD is latency-bound: the measured CPU rate; on the GPU machine its 16 CPU "
                              "cores run 16 classifiers at once"))
    res = pd.DataFrame(out)
    total = dict(stage="total", what=f"four image weight sets ({len(ZOOS) * N:,} networks) + Grams + classifiers",
                 networks=None, net_steps=None, pflop=res.pflop.sum(), cpu_hours=res.cpu_hours.sum(),
                 gpu_hours=res.gpu_hours.sum() if res.gpu_hours.notna().all() else None,
                 basis="sum of the rows above" + (f"; GPU: {gpu_name}" if gpu_name else ""))
    res = pd.concat([res, pd.DataFrame([total])], ignore_index=True)
    for c in ("pflop", "cpu_hours", "gpu_hours"):
        res[c] = res[c].astype(float).round(3)
    return res


def _gpu_f32(gpu: pd.DataFrame | None) -> float | None:
    """The GPU's float32 matmul rate (FLOP/s) of its benchmark rows, if any."""
    if gpu is None:
        return None
    m = gpu[(gpu.benchmark == "matmul") & gpu.variant.str.contains("float32")]
    return float(m.gflops.iloc[0]) * 1e9 if len(m) else None


def gram_chains():
    """``(zoo name, arch, [(chain, n, k, factor flops, weight bytes)])`` of every image zoo of the paper."""
    out = []
    for name, arch, *_ in ZOOS:
        w = chain.layer_weights(nets.build(arch, 200))
        depths = range(1, 5 if arch == "plainnet5" else 4)      # all chains the paper reports + CNN chain 4
        out.append((name, arch, [(d, *chain.factor_rows_cols(w, d), chain.factor_flops(w, d),
                                  sum(x.numel() * 4 for x in w[:d])) for d in depths]))
    return out


def measured_gram(scale: pd.DataFrame | None, arch: str, depth: int):
    """The measured Gram (``gram_scale.csv``) of ``arch``'s chain ``depth`` nearest its minimum: the
    row of the lowest ratio (each against the matmul rate measured beside it; a machine shared with
    other work, or a zoo read from the disk, only raises it), or None."""
    if scale is None:
        return None
    rows = scale[(scale.architecture == nets.LABELS[arch]) & (scale.chain == depth)]
    return rows.loc[rows.ratio.idxmin()] if len(rows) else None


def gram_seconds(scale, arch, depth, n, k, form, read, on_gpu_rate=None) -> tuple[float, float, str]:
    """``(seconds, flops, basis)`` of one chain's Gram of the paper's N networks: the arithmetic minimum
    (``bench.gram_scale.minimum_flops``) times the ratio measured on this machine's CPU for that chain
    (:func:`measured_gram`), at the measured float32 matmul rate; on a GPU (``on_gpu_rate``)
    the same ratio at the GPU's float32 rate, projected. A chain not measured: the cost model's path
    (:func:`wsm.maths.chain.gram_costs`) at the measured rate."""
    from bench.gram_scale import minimum_flops

    row = measured_gram(scale, arch, depth)
    method = min((c := chain.gram_costs(N, n, k, CPU_GRAM_GB, "cpu", form, read)), key=c.get)
    roof = cpu_roof(scale)
    if row is not None and method == "slices":
        flops = minimum_flops(N, n, k, form)
        return (flops * row.ratio / (on_gpu_rate or roof), flops,
                f"{row.ratio:.2f} x the minimum, as measured at {int(row.networks)} networks")
    if method == "factors":
        flops = c["factors"]
    else:
        flops = c["slices"]
    return flops / (on_gpu_rate or roof), flops, f"{method}: the cost model at the matmul rate (not measured)"


def cpu_roof(scale: pd.DataFrame | None) -> float:
    """This machine's float32 matmul rate (FLOP/s): the highest measured beside the Grams (the machine
    was shared: a rate measured while others ran is lower)."""
    return float(scale.roof_gflops.max()) * 1e9 if scale is not None and len(scale) else float("nan")


# The memory a Gram of the projection may take on one CPU machine, as the measured Grams took it.
CPU_GRAM_GB = 6.0


def gram_rows(scale: pd.DataFrame | None, gpu_f32: float | None) -> list[dict]:
    """The chain Grams of every image zoo: CPU hours at the rates of ``gram_scale.csv`` (this machine's
    CPU), GPU hours projected from the same arithmetic at the GPU's float32 matmul rate."""
    out = []
    for name, arch, chains in gram_chains():
        cpu = gpu = flops = 0.0
        notes = []
        for d, n, k, form, read in chains:
            s, f, basis = gram_seconds(scale, arch, d, n, k, form, read)
            cpu += s
            flops += f
            gpu += gram_seconds(scale, arch, d, n, k, form, read, gpu_f32)[0] if gpu_f32 else float("nan")
            notes.append(f"chain {d}: {basis}")
        out.append(dict(stage="chain Grams", what=f"{name}: chains {chains[0][0]}-{chains[-1][0]}", networks=N,
                        net_steps=None, pflop=flops / 1e15, cpu_hours=cpu / 3600,
                        gpu_hours=gpu / 3600 if gpu_f32 else None,
                        basis="CPU: wsm.maths.chain.gram_slices, the arithmetic minimum at this machine's float32 "
                              f"matmul rate ({cpu_roof(scale) / 1e9:.0f} GFLOP/s, the highest measured beside the "
                              "Grams) times the ratio measured per chain (bench.gram_scale, the lowest of each chain; "
                              + "; ".join(notes) + ")" + ("; GPU: projected from the CPU's arithmetic at the GPU's "
                              f"float32 matmul rate ({gpu_f32 / 1e12:.0f} TFLOP/s), not measured on a GPU"
                              if gpu_f32 else "")))
    return out


# ---------------------------------------------------------------- on a cluster

GPU_COUNTS = (1, 8, 64)
CORES_PER_GPU = 16          # the measured H200 machine's cores (weight classifiers run there)
CPU_CLUSTER = (64, 32)      # nodes x cores of the CPU cluster projected
GPU_TILE_GB = engine.TILE_GB["cuda"]    # a Gram tile task's memory, as the engine sizes its tiles
CPU_TILE_GB = engine.TILE_GB["cpu"]


def _makespan(durations, slots: int) -> float:
    """Seconds until ``slots`` workers finish tasks of ``durations``, longest first onto the least
    loaded worker (as Ray hands a free worker the next task)."""
    import heapq

    loads = [0.0] * slots
    for d in sorted(durations, reverse=True):
        heapq.heapreplace(loads, loads[0] + d)
    return max(loads)


def _overhead(eng: pd.DataFrame) -> dict[str, float]:
    """Seconds the engine adds, from the rows of ``bench.engine_overhead``: per zoo unit (a unit task
    whose runs are saved: submit, schedule, code and file checks, return; plus a claim), per tile
    (a tile task minus the same tile computed in the driver), per worker (its first unit task:
    starting Python, importing torch and wsm) and per cluster (starting it)."""
    def get(measure):
        rows = eng[eng.measure == measure]
        if not len(rows):
            return 0.0
        return float(rows.value.iloc[0]) / (1000 if rows.unit.iloc[0] == "ms" else 1)

    return dict(unit=get("unit task, runs already saved") + get("claim taken and released"),
                tile=max(0.0, get("Gram tile task (4 x 4 MLP-4 L3)") - get("the same tile in this process")),
                worker=get("a worker's first unit task"), cluster=get("start a local cluster"))


def cluster(df: pd.DataFrame, gpu: pd.DataFrame, times: pd.DataFrame, eng: pd.DataFrame,
            scale: pd.DataFrame | None = None) -> pd.DataFrame:
    """The paper's four image weight sets, their chain Grams and weight classifiers as Ray tasks,
    on 1, 8 and 64 GPUs (the measured H200) and on a CPU cluster (this machine's cores), one row
    per setup and stage."""
    over = _overhead(eng)
    f32_gpu = _gpu_f32(gpu)
    f32_core = cpu_roof(scale) / 2                                          # this machine's 2 cores
    clf = df[(df.benchmark == "classifier") & df.variant.str.startswith("paper")]
    clf_s = classifier_steps() / clf.net_steps_per_s.iloc[0]
    n_clf = sum(2 * 2 * (4 if a == "plainnet5" else 3) for _, a, *_ in ZOOS)
    runs = experiments.page(PAGES[0], "paper", check_data=False).zoos["mlp4"].config.runs
    tiny = ZOOS[0][3]

    def train_tasks(on_gpu: bool) -> list[float]:
        out = []
        for name, arch, epochs, per_epoch, _ in ZOOS:
            if on_gpu:
                row = times[(times.stage == "train") & (times.arch == arch)].iloc[0]
                out += [round(row.s_per_network * runs * per_epoch / tiny, 3)] * (N // runs)   # a task's chunk
            else:
                label = "MLP-4" if arch == "mlp4" else "PlainNet-5"
                rows = df[(df.benchmark == "training") & df.variant.str.startswith(label)
                          & df.variant.str.contains("processes")]
                per_core = float((rows.net_steps_per_s / rows.networks).max())
                out += [round(epochs * per_epoch / per_core, 3)] * N                            # one network each
        return out

    def gram_tasks(memory_gb: float, rate: float) -> tuple[list[float], float]:
        """Each chain's Gram split into its passes at a worker's memory (every task reads all networks
        and forms its rectangles: :func:`wsm.maths.chain.slice_plan`), at ``rate`` times the measured ratio."""
        out, flops = [], 0.0
        for _, arch, chains in gram_chains():
            for d, n, k, form, read in chains:
                secs, f, _ = gram_seconds(scale, arch, d, n, k, form, read, rate)
                count = len(chain.slice_plan(N, n, k, memory_gb))
                out += [round(secs / count, 4)] * count
                flops += f
        return out, flops

    setups = [(f"{g} x NVIDIA H200", g, g * CORES_PER_GPU, True) for g in GPU_COUNTS]
    nodes, cores = CPU_CLUSTER
    setups.append((f"CPU cluster: {nodes} nodes x {cores} cores (this machine's per-core rates)", nodes * cores,
                   nodes * cores, False))
    gpu_name = times.device.iloc[0]
    out = []
    for name, slots, cpu_slots, on_gpu in setups:
        train = train_tasks(on_gpu)
        grams, flops = gram_tasks(GPU_TILE_GB if on_gpu else CPU_TILE_GB, f32_gpu if on_gpu else f32_core)
        clfs = [clf_s] * n_clf
        stages = [("train zoos", train, slots, over["unit"]), ("chain Gram passes", grams, slots, over["tile"]),
                  ("weight classifiers", clfs, cpu_slots, over["unit"])]
        total = over["cluster"] + over["worker"]
        for stage, tasks, workers, per_task in stages:
            busy = _makespan([t + per_task for t in tasks], workers)
            total += busy
            out.append(dict(setup=name, stage=stage, tasks=len(tasks), workers=workers,
                            task_seconds=round(sum(tasks) / len(tasks), 3), hours=busy / 3600,
                            overhead_hours=len(tasks) * per_task / workers / 3600,
                            basis=_basis(stage, on_gpu, gpu_name, per_task, flops)))
        out.append(dict(setup=name, stage="total", tasks=sum(len(t) for _, t, *_ in stages), workers=slots,
                        task_seconds=None, hours=total / 3600, overhead_hours=None,
                        basis=f"stages one after another, + starting the cluster ({over['cluster']:.0f} s) and a "
                              f"worker's first task ({over['worker']:.0f} s), measured here"))
    res = pd.DataFrame(out)
    for c in ("hours", "overhead_hours"):
        res[c] = res[c].astype(float).round(4)
    return res


def _basis(stage: str, on_gpu: bool, gpu_name: str, per_task: float, flops: float) -> str:
    over = f"; + {1000 * per_task:.1f} ms engine overhead per task (measured here)"
    if stage == "train zoos":
        return ((f"a task's 100 runs as one batched chunk, seconds per network measured on {gpu_name} "
                 "(bench.paper_slice); two chunks share a GPU and are assumed no faster together")
                if on_gpu else "one network per core at this machine's one-thread rate") + over
    if stage == "chain Gram passes":
        return (f"{flops / 1e15:.1f} PFLOP: each chain's slices (wsm.maths.chain.gram_slices) as one task per pass in "
                f"{GPU_TILE_GB if on_gpu else CPU_TILE_GB:.0f} GB, at the measured float32 matmul rate "
                f"({'GPU' if on_gpu else 'per CPU core'}) times the ratio to the minimum measured on this CPU "
                "(bench.gram_scale); projected: the Ray engine still runs the Gram as tiles (wsm.zoos.tiles), and a "
                "pass's partial Gram (N^2 float64) goes back to the driver") + over
    return "30,000 batch-1 steps each at the measured CPU rate, one per core" + over


def main(argv=None):
    here = Path(__file__).resolve().parent.parent / "book" / "benchmarks"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cpu", nargs="?", type=Path, help="CPU benchmark rows (default: the newest CSV of a CPU here)")
    ap.add_argument("--gpu", type=Path, help="GPU benchmark rows (default: nvidia-*.csv here, if any)")
    ap.add_argument("--slice", type=Path, help="bench.paper_slice's times (default: paper_slice_times.csv here)")
    args = ap.parse_args(argv)
    skip = {"projection.csv", "paper_slice.csv", "paper_slice_times.csv", "projection_cluster.csv",
            "analysis_memory.csv", "engine_overhead.csv", "gram_scale.csv"}
    csvs = [p for p in here.glob("*.csv") if p.name not in skip]
    src = args.cpu or max((p for p in csvs if not p.name.startswith("nvidia")), key=lambda p: p.stat().st_mtime)
    gpu_path = args.gpu or next(iter(sorted(p for p in csvs if p.name.startswith("nvidia"))), None)
    slice_path = args.slice or (here / "paper_slice_times.csv" if (here / "paper_slice_times.csv").exists() else None)
    scale = pd.read_csv(here / "gram_scale.csv") if (here / "gram_scale.csv").exists() else None
    res = project(pd.read_csv(src), pd.read_csv(gpu_path) if gpu_path else None,
                  pd.read_csv(slice_path) if slice_path else None, scale)
    res.to_csv(src.parent / "projection.csv", index=False)
    with pd.option_context("display.width", 200, "display.max_colwidth", 70):
        print(res.to_string(index=False))
    print(f"wrote {src.parent / 'projection.csv'} from {src}" + (f", {gpu_path}" if gpu_path else "")
          + (f", {slice_path}" if slice_path else ""))
    eng_path = here / "engine_overhead.csv"
    if eng_path.exists() and gpu_path and slice_path:
        res = cluster(pd.read_csv(src), pd.read_csv(gpu_path), pd.read_csv(slice_path), pd.read_csv(eng_path), scale)
        res.to_csv(here / "projection_cluster.csv", index=False)
        with pd.option_context("display.width", 200, "display.max_colwidth", 60):
            print(res.drop(columns="basis").to_string(index=False))
        print(f"wrote {here / 'projection_cluster.csv'}")


if __name__ == "__main__":
    main()
