"""30 small MLPs (20-64-64-4) trained with SGD: 5 synthetic tasks x 6 seeds, saved as usual checkpoints."""
import argparse
import csv
from pathlib import Path
import numpy as np
import torch
from torch import nn

out = Path("mynets")
out.mkdir(exist_ok=True)
rows = []
for t, task in enumerate(("teacher-a", "teacher-b", "teacher-c", "teacher-d", "teacher-e")):
    g = torch.Generator().manual_seed(t)              # task t: inputs and labels from a random linear teacher
    x = torch.randn(2000, 20, generator=g)
    y = (x @ torch.randn(20, 4, generator=g) + 0.5 * torch.randn(2000, 4, generator=g)).argmax(1)
    for run in range(6):
        seed = 100 * t + run                          # every network its own initialisation and batch order
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 4))
        opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        for epoch in range(15):
            for idx in torch.randperm(2000).split(64):
                opt.zero_grad()
                nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
                opt.step()
        acc = (net(x).argmax(1) == y).float().mean().item()
        name = f"{task}-run{run}.pth"
        torch.save({"state_dict": net.state_dict(), "args": argparse.Namespace(lr=0.05, epochs=15, seed=seed),
                    "best_acc": np.float64(acc)}, out / name)
        rows.append((name, task))
with open(out / "labels.csv", "w", newline="") as f:
    csv.writer(f).writerows([("file", "task"), *rows])
