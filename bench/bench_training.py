"""Zoo training: networks x SGD steps per second, one network at a time (``wsm.zoos.zoo.train_network``,
the reference loop) vs vectorized (``wsm.zoos.vectorized.train_networks``, G networks as one program).

Each variant trains on a synthetic task of Tiny-ImageNet shape (batch 128, 32x32, augmentation on:
the data pipeline is part of the cost, as in a real zoo build); the final accuracy evaluation is
switched off so only training is timed. FLOP/s count the convolutions and matmuls of forward,
weight gradient and input gradient (none for the first layer)."""

from __future__ import annotations

import os
import time
from unittest import mock

import torch

from bench import common
from wsm.zoos import nets, vectorized, zoo


def train_flops(arch: str, batch: int = 128, n_classes: int = 10) -> float:
    """FLOPs of one SGD step of one network (multiply-add = 2)."""
    net = nets.build(arch, n_classes)
    macs, hw, first = [], 32 * 32, True
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            macs.append((m.in_channels * m.out_channels * 9 * hw, first))
            hw //= 4 if m.out_channels < 256 else 1
        elif isinstance(m, torch.nn.Linear):
            macs.append((m.in_features * m.out_features, first))
        else:
            continue
        first = False
    return sum(2 * batch * mac * (2 if is_first else 3) for mac, is_first in macs)


def _worker(arch: str, steps: int, barrier) -> float:
    """One process of the multi-process variant: one thread, one network at a time (the reference
    loop); waits for every worker to be warm, then returns the seconds its timed training took."""
    torch.set_num_threads(1)
    cfg = zoo.ZooConfig(dataset="tiny-imagenet", arch=arch, tasks=(0,), runs=1, epochs=1, device="cpu")
    task, warm = common.fake_task(128 * steps), common.fake_task(128)
    with mock.patch.object(zoo, "_accuracy", lambda *a, **k: 0.0):
        zoo.train_network(cfg, warm, 0)
        barrier.wait()
        return _time(lambda: zoo.train_network(cfg, task, 0))


def multiprocess(arch: str, steps: int, processes: int) -> tuple[float, float]:
    """Aggregate networks x steps per second of ``processes`` one-thread processes training at once
    (spawned, so no OpenMP state is inherited; started together after their warm-up)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager, ProcessPoolExecutor(processes, mp_context=ctx) as pool:
        barrier = manager.Barrier(processes)
        seconds = list(pool.map(_worker, [arch] * processes, [steps] * processes, [barrier] * processes))
    return sum(steps / s for s in seconds), max(seconds)


def _time(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def run(quick: bool = True) -> list[dict]:
    rows = []
    devices = common.devices()
    for dev in devices:
        ref = common.matmul_gflops(dev)
        for arch, steps, groups in (("mlp4", 10 if quick else 40, (4, 8) if quick else (4, 8, 16)),
                                    ("plainnet5", 3 if quick else 10, (4,) if quick else (4, 8))):
            if dev.startswith("cuda"):
                groups = (16, 64, 100)            # 100: all runs of one of the paper's tasks at once
                steps *= 40                       # the timed call builds its networks: amortise it as a zoo does
            flops = train_flops(arch)
            cfg = zoo.ZooConfig(dataset="tiny-imagenet", arch=arch, tasks=(0,), runs=1, epochs=1, device=dev)
            task = common.fake_task(128 * steps)
            warm = common.fake_task(128)
            with mock.patch.object(zoo, "_accuracy", lambda *a, **k: 0.0):
                variants = [("loop" + (" channels_last" if arch != "mlp4" else ""), 1, None)]
                if arch != "mlp4":
                    variants.append(("loop contiguous", 1, "contiguous"))
                if dev == "cpu" and torch.get_num_threads() > 1:
                    variants.append(("loop 1 thread", 1, "1 thread"))
                variants += [(f"vectorized G={g}", g, None) for g in groups]
                base = None
                for name, g, fmt in variants:
                    patch = mock.patch.object(torch, "channels_last", torch.contiguous_format) \
                        if fmt == "contiguous" else mock.MagicMock()
                    threads = torch.get_num_threads()
                    if fmt == "1 thread":
                        torch.set_num_threads(1)
                    with patch:
                        train = (lambda td: zoo.train_network(cfg, td, 0)) if g == 1 and "loop" in name else \
                                (lambda td, g=g: vectorized.train_networks(cfg, td, list(range(g))))
                        train(warm)                                        # allocations, vmap tracing
                        with common.peak_memory(dev) as mem:
                            sec = _time(lambda: (train(task), common.sync(dev)))
                    rate = g * steps / sec
                    base = base or rate
                    gf = rate * flops / 1e9
                    rows.append(common.row("training", f"{nets.LABELS[arch]} {name}", g, steps, sec, dev,
                                           speedup=rate / base, gflops=gf, peak_mem_mb=mem["mb"],
                                           notes=f"{flops / 1e9:.2f} GFLOP/step; matmul ref {ref:.0f} GFLOP/s"
                                                 + ("; one of the cores idle: two such processes would "
                                                    "double the rate" if fmt == "1 thread" else "")))
                    torch.set_num_threads(threads)
            procs = os.cpu_count() or 1
            if dev == "cpu" and procs > 1:          # every core busy, one thread each
                rate, sec = multiprocess(arch, steps, procs)
                gf = rate * flops / 1e9
                rows.append(common.row("training", f"{nets.LABELS[arch]} {procs} processes x 1 thread", procs, steps,
                                       sec, dev, speedup=rate / base, gflops=gf,
                                       notes=f"{flops / 1e9:.2f} GFLOP/step; matmul ref {ref:.0f} GFLOP/s; "
                                             f"{procs} one-thread processes, one network each, at once"))
    return rows
