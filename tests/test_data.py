"""wsm.zoos.data on small fake files written in the official Tiny ImageNet and CIFAR-100 layouts."""

import io
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from wsm.core import paths
from wsm.zoos import data
from wsm.zoos.data import WsmError, cache_root, data_root, load_task, n_tasks, task_classes

# Written to wnids.txt unsorted; class index = position in the sorted list.
WNIDS = ["n0300", "n0100", "n0800", "n0200", "n0500", "n0400", "n0700", "n0600"]
SORTED = sorted(WNIDS)
N_TRAIN, N_VAL = 3, 2


def red(cls, version=0):
    """Red channel that identifies a class (and a version of the archive)."""
    return 20 * cls + 10 + 5 * version


def jpeg(color, mode="RGB"):
    """A flat-colour JPEG (quality 95). Decoded (and resized), a flat colour comes back within ~1-2
    levels of 255 (YCbCr rounding and quantization; libjpeg-turbo's SIMD and scalar IDCTs differ by at
    most a level): so the tests below allow 2-3 levels (measured: 1), while classes lie 20 and the
    archive's versions 5 levels apart (red), which a bound of 3 (< 4 for a class) still tells apart."""
    buf = io.BytesIO()
    Image.new(mode, (64, 64), color).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def tiny_members(version=0):
    """{member path inside tiny-imagenet-200/: bytes}: train images G=100, val images G=30."""
    files = {"wnids.txt": "\n".join(WNIDS) + "\n",
             "words.txt": "n0001\tentity\nn0100\tgoldfish, Carassius auratus\nn0200\tbullfrog\n"}
    ann = []
    for c, w in enumerate(SORTED):
        for j in range(N_TRAIN):
            files[f"train/{w}/images/{w}_{j}.JPEG"] = jpeg((red(c, version), 100, 200))
        files[f"train/{w}/{w}_boxes.txt"] = ""
        for j in range(N_VAL):
            name = f"val_{c * N_VAL + j}.JPEG"
            files[f"val/images/{name}"] = jpeg((red(c, version), 30, 200))
            ann.append(f"{name}\t{w}\t0\t0\t63\t63")
    files["train/n0200/images/n0200_1.JPEG"] = jpeg(77, mode="L")  # a grayscale image
    files["val/val_annotations.txt"] = "\n".join(reversed(ann)) + "\n"
    return files


def write_zip(root, version=0, members=None):
    path = root / "tiny-imagenet-200.zip"
    with zipfile.ZipFile(path, "w") as z:
        for name, content in (members or tiny_members(version)).items():
            z.writestr("tiny-imagenet-200/" + name, content)
    return path


def write_folder(root, version=0):
    for name, content in tiny_members(version).items():
        path = root / "tiny-imagenet-200" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WSM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("WSM_DATA", raising=False)
    return tmp_path / "cache" / "tiny-imagenet-32"


@pytest.fixture
def root(tmp_path):
    (tmp_path / "data").mkdir()
    return tmp_path / "data"


def check_tiny_task(d, task):
    assert d.classes == [4 * task + i for i in range(4)]
    assert d.x_train.dtype == torch.uint8 and d.x_train.shape == (4 * N_TRAIN, 3, 32, 32)
    assert d.x_test.dtype == torch.uint8 and d.x_test.shape == (4 * N_VAL, 3, 32, 32)
    assert d.y_train.dtype == torch.int64 and d.y_train.tolist() == [i for i in range(4) for _ in range(N_TRAIN)]
    assert d.y_test.tolist() == [i for i in range(4) for _ in range(N_VAL)]
    for x, y, green in ((d.x_train, d.y_train, 100), (d.x_test, d.y_test, 30)):
        gray = (x[:, 0] == x[:, 1]).all(dim=(1, 2)) & (x[:, 1] == x[:, 2]).all(dim=(1, 2))
        mean = x[~gray].float().mean(dim=(2, 3))
        expect = torch.tensor([[red(d.classes[int(c)]), green, 200] for c in y[~gray]], dtype=torch.float)
        assert (mean - expect).abs().max() < 4  # class order = sorted wnids; test images from val/


def test_tiny_zip(root):
    write_zip(root)
    d = load_task("tiny-imagenet", 0, root=root)
    check_tiny_task(d, 0)
    assert d.dataset == "tiny-imagenet" and d.task == 0
    assert d.class_names == ["goldfish", "bullfrog", "n0300", "n0400"]  # words.txt, else the wnid
    assert "official archive" in d.source and str(root / "tiny-imagenet-200.zip") in d.source
    gray = d.x_train[N_TRAIN + 1]  # n0200_1.JPEG, grayscale 77 -> RGB
    assert gray.shape == (3, 32, 32) and (gray.int() - 77).abs().max() <= 2
    check_tiny_task(load_task("tiny-imagenet", 1, root=root), 1)


def test_tiny_folder_preferred_and_equal_to_zip(root, monkeypatch, tmp_path):
    write_zip(root)
    from_zip = load_task("tiny-imagenet", 1, root=root)
    write_folder(root)
    monkeypatch.setenv("WSM_DATA", str(root))
    from_folder = load_task("tiny-imagenet", 1)
    assert "extracted folder" in from_folder.source
    check_tiny_task(from_folder, 1)
    assert torch.equal(from_zip.x_train, from_folder.x_train) and torch.equal(from_zip.x_test, from_folder.x_test)


def test_cache_written_and_reused(root, cache, monkeypatch):
    write_zip(root)
    first = load_task("tiny-imagenet", 0, root=root)
    assert sorted(p.name for p in cache.iterdir()) == ["index.json"] + [f"{w}.npz" for w in SORTED[:4]]

    real_zipfile = zipfile.ZipFile

    def no_archive(file, *a, **k):  # np.load opens the .npz cache files with ZipFile too
        assert "tiny-imagenet-200" not in str(file), "the archive was opened although the cache is valid"
        return real_zipfile(file, *a, **k)

    monkeypatch.setattr(data.zipfile, "ZipFile", no_archive)
    monkeypatch.setattr(data.Image, "open", None)  # nothing decoded
    second = load_task("tiny-imagenet", 0, root=root)
    assert torch.equal(first.x_train, second.x_train) and first.class_names == second.class_names


def test_stale_cache_rebuilt(root):
    path = write_zip(root)
    assert load_task("tiny-imagenet", 0, root=root).x_train[0, 0].float().mean() == pytest.approx(red(0), abs=3)
    write_zip(root, version=1)  # a replaced archive: other size / mtime
    os.utime(path, ns=(1, 1))
    assert load_task("tiny-imagenet", 0, root=root).x_train[0, 0].float().mean() == pytest.approx(red(0, 1), abs=3)


def test_corrupt_cache_rebuilt(root, cache):
    write_zip(root)
    first = load_task("tiny-imagenet", 0, root=root)
    (cache / f"{SORTED[0]}.npz").write_bytes(b"PK\x03\x04 garbage")
    (cache / "index.json").write_text("{not json")
    again = load_task("tiny-imagenet", 0, root=root)
    assert torch.equal(first.x_train, again.x_train)
    with np.load(cache / f"{SORTED[0]}.npz") as z:
        assert z["x_train"].shape == (N_TRAIN, 3, 32, 32)
    assert not [p for p in cache.iterdir() if p.suffix == ".tmp"]


def test_missing_tiny(root):
    with pytest.raises(WsmError, match="Tiny ImageNet not found") as e:
        load_task("tiny-imagenet", 0, root=root)
    assert str(root / "tiny-imagenet-200.zip") in str(e.value) and "WSM_DATA" in str(e.value)


def test_truncated_zip(root):
    path = write_zip(root)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(WsmError, match="re-download") as e:
        load_task("tiny-imagenet", 0, root=root)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("damage, words", [
    (lambda m: m.pop("wnids.txt"), "wnids.txt"),
    (lambda m: [m.pop(k) for k in list(m) if k.startswith("train/n0100/images/")], "n0100 has no train images"),
    (lambda m: m.update({"train/n0100/images/n0100_0.JPEG": b"not a jpeg"}), "n0100_0.JPEG"),
])
def test_broken_archive(root, damage, words):
    members = tiny_members()
    damage(members)
    write_zip(root, members=members)
    with pytest.raises(WsmError, match="official tiny-imagenet-200.zip") as e:
        load_task("tiny-imagenet", 0, root=root)
    assert words in str(e.value) and str(root / "tiny-imagenet-200.zip") in str(e.value)


def test_too_few_classes(root):
    write_zip(root)
    with pytest.raises(WsmError, match="only 8 classes"):
        load_task("tiny-imagenet", 2, root=root)


def test_tasks_and_validation():
    assert [n_tasks(d) for d in data.DATASETS] == [50, 50, 50, 9]
    assert task_classes("namedata", 8) == [16, 17]
    assert task_classes("tiny-imagenet", 0) == [0, 1, 2, 3]
    assert task_classes("tiny-imagenet", 49) == [196, 197, 198, 199]
    assert task_classes("cifar100", 3) == [6, 7] and task_classes("cifar100-standin", 49) == [98, 99]
    with pytest.raises(WsmError, match="tiny-imagenet, cifar100, cifar100-standin"):
        task_classes("imagenet", 0)
    with pytest.raises(WsmError, match="tiny-imagenet, cifar100, cifar100-standin"):
        load_task("cifar10", 0)
    for bad in (50, -1, "1", 1.0):
        with pytest.raises(WsmError, match=r"valid tasks are 0\.\.49"):
            task_classes("cifar100", bad)


def test_roots(tmp_path, monkeypatch):
    """One home for every root (wsm.core.paths): the argument, else the variable, else beside the checkout."""
    for name in ("WSM_DATA", "WSM_ZOOS", "WSM_CACHE", "WSM_DOWNLOAD"):
        monkeypatch.delenv(name, raising=False)
    assert data_root() == paths.REPO / "data" and (paths.REPO / "wsm" / "zoos" / "data.py").is_file()
    assert paths.zoo_root() == paths.REPO / "zoos" and paths.gram_cache(tmp_path) == tmp_path / "grams"
    assert not paths.download_allowed() and paths.download_allowed(True)
    monkeypatch.setenv("WSM_DOWNLOAD", "1")
    assert paths.download_allowed()
    monkeypatch.setenv("WSM_ZOOS", str(tmp_path / "z"))
    assert paths.zoo_root() == tmp_path / "z" and paths.gram_cache() == tmp_path / "z" / "grams"
    assert data_root(tmp_path) == tmp_path
    monkeypatch.setenv("WSM_DATA", str(tmp_path / "d"))
    assert data_root() == tmp_path / "d" and data_root("x").name == "x"
    monkeypatch.setenv("WSM_CACHE", str(tmp_path / "c" / "d"))
    assert cache_root() == tmp_path / "c" / "d" and cache_root().is_dir()


def test_standin(root):
    write_zip(root)
    d = load_task("cifar100-standin", 1, root=root)
    assert d.classes == [2, 3] and d.class_names == ["n0300", "n0400"]
    assert d.x_train.shape == (2 * N_TRAIN, 3, 32, 32) and d.y_train.tolist() == [0] * N_TRAIN + [1] * N_TRAIN
    assert d.x_test.shape == (2 * N_VAL, 3, 32, 32) and d.y_test.tolist() == [0] * N_VAL + [1] * N_VAL
    assert "STAND-IN" in d.source and "CIFAR-100 is not available" in d.source
    assert abs(d.x_train[0, 0].float().mean() - red(2)) < 3 and abs(d.x_test[-1, 0].float().mean() - red(3)) < 3


# ---------------------------------------------------------------- CIFAR-100

def cifar_image(cls, j):
    """A known CHW pattern: channel c, row r, column k -> (c * 80 + r * 2 + k // 16 + cls * 7 + j) % 256."""
    c, r, k = np.meshgrid(np.arange(3), np.arange(32), np.arange(32), indexing="ij")
    return ((c * 80 + r * 2 + k // 16 + cls * 7 + j) % 256).astype(np.uint8)


def write_cifar(root, n_classes=6, per_class=5):
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        pairs = [(c, j) for c in range(n_classes) for j in range(per_class)]
        order = rng.permutation(len(pairs))  # classes interleaved as in the real files
        pairs = [pairs[i] for i in order]
        batch = {"batch_label": f"{split} batch", "filenames": [f"img_{c}_{j}.png" for c, j in pairs],
                 "fine_labels": [c for c, _ in pairs], "coarse_labels": [c // 2 for c, _ in pairs],
                 "data": np.stack([cifar_image(c, j).reshape(-1) for c, j in pairs])}
        with open(folder / split, "wb") as f:
            pickle.dump(batch, f)
    with open(folder / "meta", "wb") as f:
        pickle.dump({"fine_label_names": [f"fine{c}" for c in range(100)],
                     "coarse_label_names": [f"coarse{c}" for c in range(20)]}, f)
    return folder


def test_cifar(root):
    write_cifar(root)
    d = load_task("cifar100", 1, root=root)
    assert d.classes == [2, 3] and d.class_names == ["fine2", "fine3"] and "CIFAR-100" in d.source
    for x, y in ((d.x_train, d.y_train), (d.x_test, d.y_test)):
        assert x.dtype == torch.uint8 and x.shape == (10, 3, 32, 32) and y.dtype == torch.int64
        assert sorted(y.tolist()) == [0] * 5 + [1] * 5 and y.tolist() == sorted(y.tolist())
        for img, label in zip(x, y):
            j = (int(img[0, 0, 0]) - (2 + int(label)) * 7) % 256  # image index within its class
            assert 0 <= j < 5 and np.array_equal(img.numpy(), cifar_image(2 + int(label), j))


def test_cifar_missing(root):
    with pytest.raises(WsmError, match="CIFAR-100 not found") as e:
        load_task("cifar100", 0, root=root)
    assert str(root / "cifar-100-python") in str(e.value)


def test_cifar_garbled(root):
    folder = write_cifar(root)
    (folder / "test").write_bytes((folder / "test").read_bytes()[:100])
    with pytest.raises(WsmError, match="re-extract") as e:
        load_task("cifar100", 0, root=root)
    assert str(folder / "test") in str(e.value)
    (folder / "train").write_bytes(pickle.dumps({"data": [1, 2], "fine_labels": [0, 0]}))
    with pytest.raises(WsmError, match="does not hold CIFAR-100 images"):
        load_task("cifar100", 0, root=root)


def test_download_is_attempted_only_when_allowed(tmp_path, monkeypatch):
    import torchvision.datasets.utils as tvu

    calls = []
    monkeypatch.setattr(tvu, "download_url", lambda url, root, filename=None, **kw: calls.append(url) or
                        (_ for _ in ()).throw(OSError("network unreachable")))
    monkeypatch.setenv("WSM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("WSM_DOWNLOAD", raising=False)
    with pytest.raises(WsmError, match="WSM_DOWNLOAD=1"):
        data.load_task("tiny-imagenet", 0, root=tmp_path)
    assert calls == []
    monkeypatch.setenv("WSM_DOWNLOAD", "1")
    with pytest.raises(WsmError, match="could not download .*tiny-imagenet-200.zip"):
        data.load_task("tiny-imagenet", 0, root=tmp_path)
    assert calls == [data.TINY_URL]
