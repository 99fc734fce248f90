"""Shared pieces of the benchmarks: rows, the matmul reference, peak-memory sampling, synthetic tasks."""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager

import torch

COLUMNS = ("benchmark", "variant", "networks", "steps", "seconds", "net_steps_per_s", "speedup", "device",
           "threads", "gflops", "pct_of_matmul", "peak_mem_mb", "notes")

_MATMUL: dict[str, float] = {}
DEVICES = ["cpu", "cuda"]           # bench.run --device narrows this


def devices() -> list[str]:
    """The devices the benchmarks measure: the CPU and, when present, CUDA (``bench.run --device``)."""
    return [d for d in DEVICES if d == "cpu" or torch.cuda.is_available()]


def row(benchmark, variant, networks, steps, seconds, device="cpu", speedup=None, gflops=None,
        peak_mem_mb=None, notes=""):
    """One result row (``net_steps_per_s`` = networks x steps / seconds; % of matmul from ``gflops``)."""
    ref = _MATMUL.get(str(device))
    return dict(benchmark=benchmark, variant=variant, networks=networks, steps=steps, seconds=round(seconds, 4),
                net_steps_per_s=round(networks * steps / seconds, 4) if seconds else None,
                speedup=None if speedup is None else round(speedup, 3), device=str(device),
                threads=torch.get_num_threads(), gflops=None if gflops is None else float(f"{gflops:.4g}"),
                pct_of_matmul=None if gflops is None or not ref else round(100 * gflops / ref, 1),
                peak_mem_mb=None if peak_mem_mb is None else round(peak_mem_mb, 1), notes=notes)


def percent_rows(res, **columns):
    """:func:`wsm.maths.htt.evaluate`'s rows as the committed benchmark CSVs hold them: in percent with a
    feature label (:func:`wsm.maths.htt.percent`), accuracies to 2 decimals, each row's hits on its test networks
    as a 0/1 string (so two variants can be paired on the same networks), and ``columns`` added."""
    from wsm.maths import htt

    out = htt.percent(res).assign(hits=["".join(str(int(h)) for h in hs) for hs in res.hits], **columns)
    for col in ("ours", "ci_low", "ci_high", "chance"):
        out[col] = out[col].round(2)
    return out


def sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def matmul_gflops(device="cpu", n: int = 2048, dtype=torch.float32, repeats: int = 10) -> float:
    """Dense n x n matmul FLOP/s (the reference every % of matmul refers to), cached per device."""
    key = str(device) if dtype == torch.float32 else f"{device}:{dtype}"
    if key not in _MATMUL:
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        a @ b
        sync(device)
        t = time.perf_counter()
        for _ in range(repeats):
            a @ b
        sync(device)
        _MATMUL[key] = 2 * n ** 3 * repeats / (time.perf_counter() - t) / 1e9
    return _MATMUL[key]


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return float("nan")


@contextmanager
def peak_memory(device="cpu"):
    """Peak extra memory (MB) over the block: resident set sampled every 2 ms on CPU (so short
    spikes can be missed), ``torch.cuda.max_memory_allocated`` on CUDA. Yields a dict with ``mb``."""
    out = {"mb": float("nan")}
    if str(device).startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        yield out
        out["mb"] = (torch.cuda.max_memory_allocated() - base) / 2**20
        return
    base = _rss_mb()
    peak = [base]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_mb())
            time.sleep(0.002)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    try:
        yield out
    finally:
        stop.set()
        th.join()
        out["mb"] = max(peak[0], _rss_mb()) - base


def provenance() -> dict:
    """Where and when a committed run was made: the machine (:func:`machine`), torch threads, the
    checkout's commit (with ``+dirty`` when it had changes), the torch version and the date."""
    import subprocess
    import time

    def git(*a):
        try:
            return subprocess.run(["git", *a], capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return dict(machine=machine(), threads=torch.get_num_threads(), torch=torch.__version__,
                commit=head + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else ""),
                date=time.strftime("%Y-%m-%d"))


def fake_task(n_train: int, n_classes: int = 10, seed: int = 0):
    """A synthetic task of Tiny-ImageNet shape (uint8 32x32 RGB) for timing only (no dataset needed)."""
    from wsm.zoos import data

    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n_classes).repeat(n_train // n_classes + 1)[:n_train]
    x = torch.randint(0, 256, (n_train, 3, 32, 32), generator=g, dtype=torch.uint8)
    return data.TaskData("tiny-imagenet", 0, list(range(n_classes)), [str(i) for i in range(n_classes)],
                         x, y, x[:n_classes].clone(), y[:n_classes].clone(), "synthetic (benchmark)")


def machine() -> str:
    import platform
    import re

    cpu = "cpu"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            cpu = m.group(1) if m else cpu
    except OSError:
        pass
    if torch.cuda.is_available():
        cpu = torch.cuda.get_device_name(0)
    name = re.sub(r"[^A-Za-z0-9]+", "-", f"{cpu}-{os.cpu_count()}cores").strip("-").lower()
    return name or platform.node()
