"""The paper's architectures (Section 4.1, Appendix C).

* **MLP-4**: Linear 3072->500->500->500->C, each followed by a ReLU, the last one included
  (Appendix C: "each of which is followed by a ReLU function"; the authors' code does the same).
* **PlainNet-5**: four units of conv 3x3 (padding 1) -> ReLU -> BatchNorm -> pooling, then one
  Linear layer. Channels 32, 64, 128, 256 and the pooling (2x2 max-pool after units 1-3, global
  average pool after unit 4) follow the authors' code; the unit order conv -> ReLU -> BN follows the
  paper's text (the code puts BN before ReLU). Both choices are on the book's Deviations page.
* **GRU-2** (Section 4.3, Appendix F): ``nn.GRU(58, 128, num_layers=2)`` over one-hot characters
  (sequence first), then ``Linear(128, 2)`` on the last time step, as in the authors' code (their
  log-softmax is folded into the cross-entropy loss).
"""

from __future__ import annotations

from torch import nn

from wsm.errors import WsmError

ARCHITECTURES = ("mlp4", "plainnet5", "gru2")
LABELS = {"mlp4": "MLP-4", "plainnet5": "PlainNet-5", "gru2": "GRU-2"}


class MLP4(nn.Module):
    def __init__(self, n_classes: int, n_in: int = 3 * 32 * 32, width: int = 500):
        super().__init__()
        dims = [n_in, width, width, width, n_classes]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, x):
        x = x.flatten(1)
        for layer in self.layers:
            x = layer(x).relu()
        return x


class PlainNet5(nn.Module):
    def __init__(self, n_classes: int, widths=(32, 64, 128, 256)):
        super().__init__()
        units, c_in = [], 3
        for i, c in enumerate(widths):
            pool = nn.MaxPool2d(2) if i < len(widths) - 1 else nn.AdaptiveAvgPool2d(1)
            units += [nn.Conv2d(c_in, c, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(c), pool]
            c_in = c
        self.features = nn.Sequential(*units)
        self.fc = nn.Linear(c_in, n_classes)

    def forward(self, x):
        return self.fc(self.features(x).flatten(1))


class GRU2(nn.Module):
    def __init__(self, n_classes: int = 2, n_in: int = 58, hidden: int = 128):
        super().__init__()
        self.gru = nn.GRU(n_in, hidden, num_layers=2)
        self.fc = nn.Linear(hidden, n_classes)

    def forward(self, x):
        """``x``: ``(L, B, 58)`` one-hot characters (all names of the batch of length L) -> ``(B, C)`` logits."""
        out, _ = self.gru(x)
        return self.fc(out[-1])


def build(arch: str, n_classes: int) -> nn.Module:
    """A freshly initialised network (PyTorch's default initialisation)."""
    if arch == "mlp4":
        return MLP4(n_classes)
    if arch == "plainnet5":
        return PlainNet5(n_classes)
    if arch == "gru2":
        return GRU2(n_classes)
    raise WsmError(f"unknown architecture {arch!r}: valid ones are {', '.join(ARCHITECTURES)}")
