"""Dense matmul FLOP/s: the reference that every training benchmark's % of matmul refers to."""

import time

import torch

from bench import common


def run(quick: bool = True) -> list[dict]:
    devices = common.devices()
    rows = []
    for dev in devices:
        for dtype, name in ((torch.float32, "float32"), (torch.float64, "float64")):
            n = 2048
            t = time.perf_counter()
            g = common.matmul_gflops(dev, n, dtype, repeats=5 if quick else 20)
            rows.append(common.row("matmul", f"{n}x{n} {name}", 1, 1, time.perf_counter() - t, dev, gflops=g,
                                   notes="the reference of pct_of_matmul" if dtype == torch.float32 else
                                   "float64: the Gram by the kernel identity runs at this rate"))
    return rows
