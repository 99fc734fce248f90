import pytest
import torch


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

    from wsm import chain

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
    from wsm import paths

    root = paths.data_root()
    if not (root / "tiny-imagenet-200.zip").exists() and not (root / "tiny-imagenet-200").is_dir():
        pytest.skip(f"no Tiny ImageNet under {root} (set WSM_DATA)")
    return root


def one_process_zoo(path, cfg, root):
    """The reference: ``cfg``'s zoo built by one builder, in this process, one network at a time on one thread."""
    from wsm import zoo

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
