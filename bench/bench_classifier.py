"""The weight classifier (``wsm.maths.htt.train_classifier``, batch-1 SGD): SGD steps per second on a
realistic embedding z (``wsm.maths.htt.embed`` coordinates: as many dimensions as training networks)."""

from __future__ import annotations

import time

import torch

from bench import common
from wsm.maths import htt


def run(quick: bool = True) -> list[dict]:
    rows = []
    # (label, training networks, classes, epochs timed): the quick profile's shape, the paper's (60 x 50 tasks)
    shapes = [("quick profile: 60 nets, 10 tasks", 60, 10, 50),
              ("paper: 3000 nets, 50 tasks", 3000, 50, 1 if quick else 10)]
    for label, n, classes, epochs in shapes:
        g = torch.Generator().manual_seed(0)
        z = torch.randn(n, n, generator=g) / n ** 0.5
        y = torch.arange(classes).repeat(n // classes)
        cfg = htt.ClassifierConfig(epochs=epochs, milestones=())
        t = time.perf_counter()
        htt.train_classifier(z, y, classes, cfg)
        sec = time.perf_counter() - t
        steps = n * epochs
        rows.append(common.row("classifier", label, 1, steps, sec,
                               notes=f"z {n}x{n}, batch 1; paper: 30,000 steps per classifier "
                                     f"= {30000 * sec / steps:.1f} s here"))
    return rows
