"""The paper's architectures (Section 4.1, Appendix C).

* **MLP-4**: Linear 3072->500->500->500->C, each followed by a ReLU, the last one included
  (Appendix C: "each of which is followed by a ReLU function"; the authors' code does the same).
* **PlainNet-5**: four units of conv 3x3 (padding 1) -> ReLU -> BatchNorm -> pooling, then one
  Linear layer. Channels 32, 64, 128, 256 and the pooling (2x2 max-pool after units 1-3, global
  average pool after unit 4) follow the authors' code; the unit order conv -> ReLU -> BN follows the
  paper's text (the code puts BN before ReLU: ``plainnet5bn``, the ablations page compares them).
  Both choices are on the book's Deviations page.
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
  (:func:`wsm.maths.chain.layer_weights` skips them, as the authors' code uses only 3x3 convs).

* **ResNet-MLP-12** (Appendix D): 6 building blocks of two layers (Linear -> ReLU -> BN) each, width
  256, then a Linear head; see :class:`ResMLP12` for the layout and its permutation symmetry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

from wsm.core.errors import WsmError

if TYPE_CHECKING:
    import torch


ARCHITECTURES = ("mlp4", "plainnet5", "plainnet6", "res5", "leaky", "gru2", "resmlp12", "plainnet5bn")
LABELS = {"mlp4": "MLP-4", "plainnet5": "PlainNet-5", "plainnet6": "PlainNet-6", "res5": "Res5", "leaky": "Leaky",
          "gru2": "GRU-2", "resmlp12": "ResNet-MLP-12", "plainnet5bn": "PlainNet-5 (BN before ReLU)"}



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
    """PlainNet-5; with ``widths=(32, 64, 128, 256, 256)`` PlainNet-6, with ``act=nn.LeakyReLU`` Leaky;
    with ``bn_first=True`` the authors' code's unit order conv -> BN -> ReLU (the ablation of the order)."""

    def __init__(self, n_classes: int, widths=(32, 64, 128, 256), act=nn.ReLU, bn_first: bool = False):
        super().__init__()
        units, c_in = [], 3
        for i, c in enumerate(widths):
            pool = nn.MaxPool2d(2) if i < len(widths) - 1 else nn.AdaptiveAvgPool2d(1)
            middle = [nn.BatchNorm2d(c), act()] if bn_first else [act(), nn.BatchNorm2d(c)]
            units += [nn.Conv2d(c_in, c, 3, padding=1), *middle, pool]
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

class ResMLP12(nn.Module):
    """ResNet-MLP-12 (Appendix D): 12 layers Linear -> ReLU -> BatchNorm1d in 6 blocks of two, and a
    Linear head (width -> C), 13 weight layers in all.

    The paper gives no widths and no skip layout. Ours: block 1 is the stem, 3072 -> 256 -> 256 with
    no skip (an identity skip cannot map 3072 inputs to 256 units and a projection skip would carry
    weights outside the chain); blocks 2-6 are ``x = x + f(x)`` with identity skips on a 256-unit
    residual stream. :func:`wsm.maths.chain.layer_weights` returns the 12 block weights then the head's,
    in forward order: chain ``l`` is the product along the non-skip path, layers 1..l.

    **Permutation symmetry that survives the skips.** The outputs of layers 2, 4, ..., 12 (the
    second layer of every block) are all added into the residual stream, so they must be permuted
    *together*, by one permutation ``S`` (which the inputs of layers 3, 5, ..., 11 and of the head
    then undo); the outputs of layers 1, 3, 5, 7, 9, 11 feed only the next layer and can each be
    permuted freely. The group is ``P1 x S x P3 x P5 x P7 x P9 x P11``: 7 permutations, not 12.
    Every weight layer's input permutation is its predecessor's output permutation along the chain,
    so ``M_l -> M_l Q`` and ``phi^l`` is invariant (tested in ``tests/test_deep.py``).
    """

    N_LAYERS = 12

    def __init__(self, n_classes: int, n_in: int = 3 * 32 * 32, width: int = 256):
        super().__init__()
        dims = [n_in] + [width] * self.N_LAYERS
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.norms = nn.ModuleList(nn.BatchNorm1d(width) for _ in range(self.N_LAYERS))
        self.head = nn.Linear(width, n_classes)

    def forward(self, x):
        x = x.flatten(1)
        for block in range(self.N_LAYERS // 2):
            h = x
            for i in (2 * block, 2 * block + 1):
                h = self.norms[i](self.layers[i](h).relu())
            x = h if block == 0 else x + h
        return self.head(x)

    def symmetry_groups(self) -> list[list[int]]:
        """The output units that must share one permutation: lists of 1-based layer numbers."""
        return [[1], list(range(2, self.N_LAYERS + 1, 2))] + [[i] for i in range(3, self.N_LAYERS, 2)]

    def permute_units(self, perms: dict[int, "torch.Tensor"]) -> None:
        """Apply the symmetry in place: ``perms[g]`` permutes the units of group ``g`` of
        :meth:`symmetry_groups` (missing groups stay put); the function is unchanged."""
        import torch

        out = {}
        for g, layers in enumerate(self.symmetry_groups()):
            for layer in layers:
                out[layer] = perms.get(g)
        with torch.no_grad():
            for layer in range(1, self.N_LAYERS + 1):
                lin, bn, p = self.layers[layer - 1], self.norms[layer - 1], out[layer]
                if p is not None:
                    for t in (lin.weight, lin.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var):
                        t.copy_(t[p])
                nxt = self.layers[layer] if layer < self.N_LAYERS else self.head
                if p is not None:
                    nxt.weight.copy_(nxt.weight[:, p])


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

    if arch == "resmlp12":
        return ResMLP12(n_classes)
    if arch == "plainnet5bn":
        return PlainNet5(n_classes, bn_first=True)
    raise WsmError(f"unknown architecture {arch!r}: valid ones are {', '.join(ARCHITECTURES)}")
