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
