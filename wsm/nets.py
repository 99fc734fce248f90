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


Section 4.4's variants of PlainNet-5 ("Baseline"):

* **PlainNet-6** ("Depth"): one more conv unit; channels 32, 64, 128, 256, 256 and a max-pool
  after units 1-4, as in the authors' code.
* **Leaky**: PlainNet-5 with every ReLU replaced by LeakyReLU (slope 0.01, the authors' code).
* **Res5** ("ResNet-5, the weight shape remains the same"): a first unit conv 3x3 3->32 -> ReLU -> BN
  (PlainNet-5's order), then three residual blocks ``ReLU(BN(conv3x3, stride 2)(x) + BN(conv1x1,
  stride 2)(x))`` (32->64, 64->128, 128->256), global average pool, Linear(256, C). Convs without bias
  and Kaiming-normal (fan-out) initialisation, as in the authors' code. Its 3x3 conv weights have
  PlainNet-5's shapes; the 1x1 shortcut convs (modules named ``shortcut``) are not part of the chain
  (:func:`wsm.chain.layer_weights` skips them, as the authors' code uses only 3x3 convs).
"""

from __future__ import annotations

from torch import nn

from wsm.errors import WsmError


ARCHITECTURES = ("mlp4", "plainnet5", "plainnet6", "res5", "leaky", "gru2")
LABELS = {"mlp4": "MLP-4", "plainnet5": "PlainNet-5", "plainnet6": "PlainNet-6", "res5": "Res5", "leaky": "Leaky",
          "gru2": "GRU-2"}


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
    """PlainNet-5; with ``widths=(32, 64, 128, 256, 256)`` PlainNet-6, with ``act=nn.LeakyReLU`` Leaky."""

    def __init__(self, n_classes: int, widths=(32, 64, 128, 256), act=nn.ReLU):
        super().__init__()
        units, c_in = [], 3
        for i, c in enumerate(widths):
            pool = nn.MaxPool2d(2) if i < len(widths) - 1 else nn.AdaptiveAvgPool2d(1)
            units += [nn.Conv2d(c_in, c, 3, padding=1), act(), nn.BatchNorm2d(c), pool]
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

class ResBlock(nn.Module):
    """``ReLU(BN(conv3x3 stride 2)(x) + BN(conv1x1 stride 2)(x))``."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=2, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        return (self.bn(self.conv(x)) + self.shortcut(x)).relu()


class Res5(nn.Module):
    def __init__(self, n_classes: int, widths=(32, 64, 128, 256)):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, padding=1, bias=False), nn.ReLU(),
                                  nn.BatchNorm2d(widths[0]))
        self.blocks = nn.Sequential(*(ResBlock(a, b) for a, b in zip(widths[:-1], widths[1:])))
        self.fc = nn.Linear(widths[-1], n_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.fc(self.blocks(self.stem(x)).mean((2, 3)))


def build(arch: str, n_classes: int) -> nn.Module:
    """A freshly initialised network (PyTorch's default initialisation; Res5: the authors' Kaiming)."""
    if arch == "mlp4":
        return MLP4(n_classes)
    if arch == "plainnet5":
        return PlainNet5(n_classes)
    if arch == "gru2":
        return GRU2(n_classes)
    if arch == "plainnet6":
        return PlainNet5(n_classes, widths=(32, 64, 128, 256, 256))
    if arch == "leaky":
        return PlainNet5(n_classes, act=lambda: nn.LeakyReLU(0.01))
    if arch == "res5":
        return Res5(n_classes)
    raise WsmError(f"unknown architecture {arch!r}: valid ones are {', '.join(ARCHITECTURES)}")
