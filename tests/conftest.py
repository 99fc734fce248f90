import contextlib
from dataclasses import dataclass

import pytest
import torch


# ---------------------------------------------------------------- rounding perturbations (marker "rounding")
#
# A numeric equivalence test compares two computations that are equal in exact arithmetic (the batched
# trainer and the one-at-a-time loop, a blocked and a one-piece Gram, a network and its permuted copy)
# within a tolerance that the arithmetic gives (written beside each). Whether a tolerance is that, or only
# what one machine's kernels happen to meet, shows when the rounding moves. Such a test takes the fixture
# ``rounding`` (``rounding_cnn`` where a CNN runs: then also the other memory format, which the test
# applies through ``rounding.memory_format``) and so runs once as the machine is ("native") and once under
# each rounding-only change below, those variants marked ``rounding``. A run without ``-m`` keeps the
# native variants and, for the CNN tests, the other memory format (DEFAULT_PERTURBATION, marked
# ``rounding_default``: it costs one native run of each, a few seconds in all; the other perturbations
# double or, with two threads on a busy machine, multiply the time of a test). ``pytest -m rounding``
# runs every perturbed variant, and test_rounding.py's reruns of the native variants under other CPU
# instruction sets (a subprocess each). Every test that takes either fixture is marked ``equivalence``.

PERTURBATIONS = {
    "threads": "the other intra-op thread count (1 <-> 2): other BLAS/oneDNN partitions and reduction orders",
    "no-mkldnn": "oneDNN (mkldnn) off: ATen's own convolution, BatchNorm and matmul kernels",
    "flush-denormal": "denormals flushed to zero (where the CPU supports it)",
}
CNN_PERTURBATIONS = {"channels-last": "the other memory format (channels-last for CNNs; see memory_format)"}
DEFAULT_PERTURBATION = {"rounding": None, "rounding_cnn": "channels-last"}       # also run without -m


@dataclass(frozen=True)
class Rounding:
    """The rounding perturbation a test runs under: ``name`` ("native" or a key of PERTURBATIONS /
    CNN_PERTURBATIONS) and the memory format the test's CNN inputs and modules take."""

    name: str
    memory_format: torch.memory_format = torch.contiguous_format


@contextlib.contextmanager
def perturbed(name: str):
    """Apply rounding perturbation ``name`` for the duration of the block; everything restored after."""
    threads, mkldnn = torch.get_num_threads(), torch.backends.mkldnn.enabled
    try:
        if name == "threads":
            torch.set_num_threads(2 if threads == 1 else 1)
        elif name == "no-mkldnn":
            torch.backends.mkldnn.enabled = False
        elif name == "flush-denormal" and not torch.set_flush_denormal(True):
            pytest.skip("this CPU cannot flush denormals: the variant would be the native one")
        yield Rounding(name, torch.channels_last if name == "channels-last" else torch.contiguous_format)
    finally:
        torch.set_num_threads(threads)
        torch.backends.mkldnn.enabled = mkldnn
        if name == "flush-denormal":
            torch.set_flush_denormal(False)          # torch's default; nothing else in the suite sets it


def _params(perturbations, default):
    return [pytest.param("native")] + [
        pytest.param(p, marks=[pytest.mark.rounding] + ([pytest.mark.rounding_default] if p == default else []))
        for p in perturbations]


@pytest.fixture(params=_params(PERTURBATIONS, DEFAULT_PERTURBATION["rounding"]))
def rounding(request):
    """A numeric equivalence test, run natively and under each rounding perturbation (module note above)."""
    with perturbed(request.param) as r:
        yield r


@pytest.fixture(params=_params({**PERTURBATIONS, **CNN_PERTURBATIONS}, DEFAULT_PERTURBATION["rounding_cnn"]))
def rounding_cnn(request):
    """:func:`rounding` for a test that runs a CNN: also the other memory format (``.memory_format``)."""
    with perturbed(request.param) as r:
        yield r


@pytest.hookimpl(tryfirst=True)           # before -m selects: it must see the equivalence marks
def pytest_collection_modifyitems(config, items):
    """Mark every test that takes a rounding fixture ``equivalence``; without ``-m``, leave out the
    perturbed variants but DEFAULT_PERTURBATION's (``pytest -m rounding`` runs them all)."""
    for item in items:
        if {"rounding", "rounding_cnn"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.equivalence)
    if config.option.markexpr:
        return
    keep, drop = [], []
    for item in items:
        by_default = item.get_closest_marker("rounding_default")
        (drop if item.get_closest_marker("rounding") and not by_default else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="module")
def one_thread():
    """For tests that run thousands of tiny ops (batch-1 SGD, small matmuls): intra-op threads only
    add synchronisation, which is very slow when another process holds a core. Restored after."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def own_networks(folder, tasks=("cats", "cars", "birds", "ships"), runs=5, noise=0.05):
    """A folder of small networks "of your own" and its labels file (returned): per task, one random
    MLP 20-16-12-5; its runs are that network plus noise with every hidden layer's units randomly
    permuted: one solution per task, which only permutation-invariant features see. Saved as
    usual checkpoints (``{"model": state_dict, "epoch": ...}``)."""
    import copy

    from torch import nn

    from wsm.maths import chain

    folder.mkdir(parents=True, exist_ok=True)
    g = gen(0)
    lines = ["file,task"]
    for i, task in enumerate(tasks):
        torch.manual_seed(100 + i)
        base = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 5))
        for r in range(runs):
            net = copy.deepcopy(base)
            with torch.no_grad():
                for p in net.parameters():
                    p.add_(noise * torch.randn(p.shape, generator=g))
            for layer, width in ((1, 16), (2, 12)):
                chain.permute_hidden(net, layer, torch.randperm(width, generator=g))
            torch.save({"model": net.state_dict(), "epoch": 10}, folder / f"{task}-{r}.pt")
            lines.append(f"{task}-{r}.pt,{task}")
    (folder / "labels.csv").write_text("\n".join(lines) + "\n")
    return folder / "labels.csv"


# ---------------------------------------------------------------- zoos built by several builders

# The tiny real zoo that shard and engine tests build: MLP-4 on Tiny ImageNet tasks 0-1, 3 runs each,
# one epoch on 20 images per class.
TINY_ZOO = dict(dataset="tiny-imagenet", arch="mlp4", tasks=(0, 1), runs=3, epochs=1, train_per_class=20)


def tiny_imagenet_root():
    """The data root holding Tiny ImageNet, or a skip saying where it was looked for."""
    from wsm.core import paths

    root = paths.data_root()
    if not (root / "tiny-imagenet-200.zip").exists() and not (root / "tiny-imagenet-200").is_dir():
        pytest.skip(f"no Tiny ImageNet under {root} (set WSM_DATA)")
    return root


def one_process_zoo(path, cfg, root):
    """The reference: ``cfg``'s zoo built by one builder, in this process, one network at a time on one thread."""
    from wsm.zoos import zoo

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return zoo.build_zoo(path, cfg, root, progress=False, workers=1)
    finally:
        torch.set_num_threads(n)


def assert_same_runs(a, b):
    """The run files of zoo folders ``a`` and ``b`` hold the same runs: bit-identical weights (and
    checksums) and the same metadata, all but the seconds each run took."""
    from pathlib import Path

    names = sorted(p.name for p in (Path(a) / "runs").glob("*.pt"))
    assert names == sorted(p.name for p in (Path(b) / "runs").glob("*.pt")) and names
    for name in names:
        ra, rb = (torch.load(Path(z) / "runs" / name, weights_only=True) for z in (a, b))
        assert set(ra) == set(rb), name
        for key in ra:
            if key == "state_dict":
                assert list(ra[key]) == list(rb[key]), name
                assert all(torch.equal(ra[key][k], rb[key][k]) for k in ra[key]), f"{name}: weights differ"
            elif key != "seconds":
                assert ra[key] == rb[key], f"{name}: {key} differs ({ra[key]!r} against {rb[key]!r})"
