"""Datasets and learning tasks (Section 4.1), read in place from a data root.

A *learning task* is a few consecutive classes of a dataset:

* ``tiny-imagenet``: 50 tasks of 4 classes (task r = classes 4r..4r+3 in sorted-wnid order);
* ``cifar100``: 50 tasks of 2 fine classes (task i = classes 2i, 2i+1);
* ``cifar100-standin``: CIFAR-100's shape (50 tasks x 2 classes) cut out of Tiny ImageNet's
  first 100 classes, for machines without CIFAR-100. Its ``source`` says so.

Images come back as uint8 ``(N, 3, 32, 32)`` tensors; augmentation and normalization
(with :data:`NORM_MEAN`, :data:`NORM_STD`) live elsewhere. Decoded Tiny ImageNet classes are
cached under :func:`cache_root`, keyed by the archive's size and mtime.
"""

from __future__ import annotations

import io
import json
import operator
import os
import pickle
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from wsm.zoos import namedata
from wsm.core.errors import WsmError
from wsm.core.paths import cache_root, data_root, download_allowed
from wsm.core.storage import atomic_write

NORM_MEAN = (0.507, 0.487, 0.441)  # CIFAR-100's channel statistics: the authors' code normalizes
NORM_STD = (0.267, 0.256, 0.276)   # both datasets (Tiny ImageNet too) with them
DATASETS = ("tiny-imagenet", "cifar100", "cifar100-standin", "namedata")
TINY_URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"
N_TASKS = 50
_PER_TASK = {"tiny-imagenet": 4, "cifar100": 2, "cifar100-standin": 2, "namedata": 2}
_CACHE_FORMAT = "rgb-bilinear-32x32-v1"  # part of every cache key
_BROKEN = (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile, zlib.error)
_REPLACE = "replace it with the official tiny-imagenet-200.zip (re-download it)"
_REPLACE_CIFAR = "re-extract the official cifar-100-python.tar.gz (or delete the folder and use download=True)"


@dataclass
class TaskData:
    """One learning task: the images of its classes; a label is the position of its class in the task."""

    dataset: str
    task: int
    classes: list[int]
    class_names: list[str]
    x_train: torch.Tensor  # uint8 (N, 3, 32, 32)
    y_train: torch.Tensor  # int64 in 0..k-1
    x_test: torch.Tensor
    y_test: torch.Tensor
    source: str


def n_tasks(dataset) -> int:
    """Number of learning tasks of ``dataset`` (50 for each image dataset, 9 for NameData)."""
    _check_dataset(dataset)
    return _n_tasks(dataset)


def task_classes(dataset, task) -> list[int]:
    """Class indices of ``task``: ``k*task .. k*task+k-1``, k = 4 (Tiny ImageNet) or 2 (CIFAR-100 shape)."""
    k = _PER_TASK[_check_dataset(dataset)]
    try:
        t = operator.index(task)
    except TypeError:
        t = -1
    if not 0 <= t < _n_tasks(dataset):
        raise WsmError(f"task {task!r} is out of range for {dataset}: valid tasks are 0..{_n_tasks(dataset) - 1}")
    return list(range(k * t, k * t + k))


def load_task(dataset, task, root=None, download=False) -> TaskData:
    """Train and test images of one learning task, read from :func:`data_root` (``root``).

    A missing archive is downloaded only when allowed: ``download=True`` or ``WSM_DOWNLOAD=1``.
    NameData comes back as a :class:`wsm.zoos.namedata.NameTask` (names, not images)."""
    if dataset == "namedata":
        task_classes(dataset, task)
        return namedata.load_task(int(task), root)
    download = download_allowed(download)
    classes = task_classes(dataset, task)
    root = data_root(root)
    if dataset == "cifar100":
        names, train, test, source = _cifar(root, classes, download)
    else:
        names, train, test, where = _tiny(root, classes, download)
        source = (f"Tiny ImageNet ({where}), 32x32" if dataset == "tiny-imagenet" else
                  f"STAND-IN for CIFAR-100: Tiny ImageNet classes {classes[0]} and {classes[1]} ({where}), "
                  "32x32 (CIFAR-100 is not available here)")
    t = torch.from_numpy
    return TaskData(dataset, int(task), classes, names, t(train[0]), t(train[1]), t(test[0]), t(test[1]), source)


def _check_dataset(dataset):
    if dataset not in DATASETS:
        raise WsmError(f"unknown dataset {dataset!r}: valid datasets are {', '.join(DATASETS)}")
    return dataset


def _stack(parts):
    """[images of class 0, images of class 1, ...] -> (x, y), y = position of the class."""
    y = np.concatenate([np.full(len(p), i, dtype=np.int64) for i, p in enumerate(parts)])
    return np.ascontiguousarray(np.concatenate(parts)), y


def _write_atomic(path: Path, write):
    """:func:`wsm.core.storage.atomic_write`, with the fix named when the cache folder is not writable."""
    try:
        atomic_write(path, write)
    except OSError as e:
        raise WsmError(f"cannot write the cache file {path} ({e}); set WSM_CACHE to a writable folder") from None


# ---------------------------------------------------------------- Tiny ImageNet


def _tiny(root: Path, classes, download):
    with _Tiny(root, download) as tiny:
        wnids, words = tiny.index()
        if classes[-1] >= len(wnids):
            raise WsmError(f"{tiny.where('wnids.txt')} lists only {len(wnids)} classes, but classes {classes} "
                           f"are needed; {_REPLACE}")
        chosen = [wnids[c] for c in classes]
        parts = [tiny.images(w) for w in chosen]
    where = f"{tiny.kind} {tiny.path}; {', '.join(chosen)}"
    return [words.get(w, w) for w in chosen], _stack([p[0] for p in parts]), _stack([p[1] for p in parts]), where


class _Tiny:
    """The official ``tiny-imagenet-200`` layout, as an extracted folder (preferred) or the zip."""

    def __init__(self, root: Path, download: bool):
        folder, archive = root / "tiny-imagenet-200", root / "tiny-imagenet-200.zip"
        if not folder.is_dir() and not archive.is_file():
            if not download:
                raise WsmError(f"Tiny ImageNet not found: expected {archive} (the official archive) or the extracted "
                               f"folder {folder}/. Put it there, point WSM_DATA (make DATA=...) at the folder that "
                               "holds it, or allow downloading (WSM_DOWNLOAD=1, make DOWNLOAD=1, or download=True).")
            from torchvision.datasets.utils import download_url  # no md5: copies of the archive differ

            try:
                root.mkdir(parents=True, exist_ok=True)
                download_url(TINY_URL, str(root), filename=archive.name)
            except (OSError, RuntimeError) as e:
                raise WsmError(f"could not download {TINY_URL} ({e}); download it by hand to {archive}") from None
        self.is_zip = not folder.is_dir()
        self.path, self.kind = (archive, "official archive") if self.is_zip else (folder, "extracted folder")
        self._zip, self._val = None, None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._zip is not None:
            self._zip.close()

    def stamp(self, wnid="") -> str:
        """Cache key: sizes and mtimes of the archive (or of the folder's index files and class folder)."""
        paths = [self.path] if self.is_zip else [self.path / "wnids.txt", self.path / "val" / "val_annotations.txt",
                                                 self.path / "train" / wnid / "images"]
        stats = [os.stat(p) if os.path.exists(p) else None for p in paths]
        return "|".join([_CACHE_FORMAT] + [f"{s.st_size}:{s.st_mtime_ns}" if s else "-" for s in stats])

    def where(self, member: str) -> str:
        return f"{member} in {self.path}" if self.is_zip else str(self.path / member)

    def broken(self, member: str, e: Exception) -> WsmError:
        return WsmError(f"cannot read {self.where(member)} ({type(e).__name__}: {e}); the data looks truncated or "
                        f"corrupt: {_REPLACE}")

    def read(self, member: str) -> bytes:
        try:
            if not self.is_zip:
                return (self.path / member).read_bytes()
            if self._zip is None:
                self._zip = zipfile.ZipFile(self.path)
            return self._zip.read("tiny-imagenet-200/" + member)
        except _BROKEN as e:
            raise self.broken(member, e) from None

    def listdir(self, member: str) -> list[str]:
        """Sorted JPEG file names in a folder of the layout."""
        if self.is_zip:
            self.read("wnids.txt")  # opens the archive
            prefix = f"tiny-imagenet-200/{member}/"
            names = [n[len(prefix):] for n in self._zip.namelist() if n.startswith(prefix)]
        else:
            names = os.listdir(self.path / member) if (self.path / member).is_dir() else []
        return sorted(n for n in names if "/" not in n and n.lower().endswith((".jpeg", ".jpg")))

    def index(self):
        """Sorted wnids and {wnid: first name in words.txt}; cached, so a cache hit opens no archive."""
        path, stamp = cache_root() / "tiny-imagenet-32" / "index.json", self.stamp()
        try:
            cached = json.loads(path.read_text())
            if cached["stamp"] == stamp:
                return cached["wnids"], cached["words"]
        except (*_BROKEN, TypeError):
            pass
        wnids = sorted(set(self.read("wnids.txt").decode().split()))
        if not wnids:
            raise self.broken("wnids.txt", ValueError("no wnids"))
        try:
            lines = self.read("words.txt").decode().splitlines()
        except WsmError:
            lines = []  # names are a nicety: fall back to the wnids
        known = set(wnids)
        words = {w: n.split(",")[0].strip() for w, _, n in (ln.partition("\t") for ln in lines) if w in known}
        _write_atomic(path, lambda f: f.write(json.dumps({"stamp": stamp, "wnids": wnids, "words": words}).encode()))
        return wnids, words

    def images(self, wnid: str):
        """(train, test) uint8 arrays of one class: its train images and its val images, by file name."""
        path, stamp = cache_root() / "tiny-imagenet-32" / f"{wnid}.npz", self.stamp(wnid)
        try:
            with np.load(path) as z:
                if str(z["stamp"]) == stamp:
                    return z["x_train"], z["x_test"]
        except FileNotFoundError:
            pass
        except _BROKEN:
            path.unlink(missing_ok=True)  # a cache that fails to load is rebuilt
        if self._val is None:
            self._val = {}
            for line in self.read("val/val_annotations.txt").decode().splitlines():
                fields = line.split("\t")
                if len(fields) >= 2:
                    self._val.setdefault(fields[1], []).append(fields[0])
        train = [f"train/{wnid}/images/{n}" for n in self.listdir(f"train/{wnid}/images")]
        test = [f"val/images/{n}" for n in sorted(self._val.get(wnid, []))]
        if not train or not test:
            raise WsmError(f"class {wnid} has no {'val' if train else 'train'} images in {self.path}; "
                           f"the data looks truncated: {_REPLACE}")
        x_train, x_test = self.decode(train), self.decode(test)
        _write_atomic(path, lambda f: np.savez(f, x_train=x_train, x_test=x_test, stamp=np.array(stamp)))
        return x_train, x_test

    def decode(self, members) -> np.ndarray:
        """JPEGs -> uint8 (N, 3, 32, 32). Section 4.1 resizes to 32x32: RGB (grayscale converted), bilinear."""
        out = np.empty((len(members), 3, 32, 32), dtype=np.uint8)
        for i, member in enumerate(members):
            data = self.read(member)
            try:
                with Image.open(io.BytesIO(data)) as im:
                    out[i] = np.asarray(im.convert("RGB").resize((32, 32), Image.BILINEAR)).transpose(2, 0, 1)
            except (OSError, SyntaxError, ValueError) as e:
                raise self.broken(member, e) from None
        return out


# ---------------------------------------------------------------- CIFAR-100


def _cifar(root: Path, classes, download):
    """Task classes of the official python release ``cifar-100-python/{train,test,meta}``."""
    folder = root / "cifar-100-python"
    if not all((folder / n).is_file() for n in ("train", "test", "meta")):
        if not download:
            raise WsmError(f"CIFAR-100 not found: expected {folder}/ with files train, test and meta (the official "
                           "python release, cifar-100-python.tar.gz extracted). Put it there, point WSM_DATA "
                           "(make DATA=...) at the folder that holds it, or allow downloading (WSM_DOWNLOAD=1, "
                           "make DOWNLOAD=1, or download=True).")
        import torchvision

        try:
            for train in (True, False):
                torchvision.datasets.CIFAR100(str(root), train=train, download=True)
        except (OSError, RuntimeError) as e:
            raise WsmError(f"could not download CIFAR-100 into {root} ({e}); download cifar-100-python.tar.gz "
                           f"by hand and extract it into {root}") from None
    (names,) = _unpickle(folder / "meta", "fine_label_names")
    if classes[-1] >= len(names):
        raise WsmError(f"{folder / 'meta'} names only {len(names)} fine classes; {_REPLACE_CIFAR}")
    train, test = (_cifar_split(folder / split, classes) for split in ("train", "test"))
    return [str(names[c]) for c in classes], train, test, f"CIFAR-100 (official python release {folder}), 32x32"


def _cifar_split(path: Path, classes):
    data, labels = _unpickle(path, "data", "fine_labels")
    data, labels = np.asarray(data), np.asarray(labels)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (len(data),):
        raise WsmError(f"{path} does not hold CIFAR-100 images (uint8 N x 3072 'data', N 'fine_labels'); "
                       f"{_REPLACE_CIFAR}")
    parts = [data[labels == c].reshape(-1, 3, 32, 32) for c in classes]  # a row = R, G, B planes, row-major
    if any(len(p) == 0 for p in parts):
        raise WsmError(f"{path} has no images of some of the fine classes {classes}; {_REPLACE_CIFAR}")
    return _stack(parts)


def _unpickle(path: Path, *keys):
    try:
        with open(path, "rb") as f:
            d = pickle.load(f, encoding="latin1")
        return [d[k] for k in keys]
    except (*_BROKEN, pickle.UnpicklingError, TypeError, AttributeError, ImportError, IndexError) as e:
        raise WsmError(f"cannot read {path} as CIFAR-100 ({type(e).__name__}: {e}); it looks truncated or "
                       f"garbled: {_REPLACE_CIFAR}") from None


# ---------------------------------------------------------------- NameData (text: see wsm.zoos.namedata)


def _n_tasks(dataset) -> int:
    return namedata.N_TASKS if dataset == "namedata" else N_TASKS

# ---------------------------------------------------------------- which CIFAR-100


STANDIN_LABEL = ("CIFAR-100 STAND-IN (Tiny ImageNet classes 0-99 cut to CIFAR-100's shape: 100 classes at 32x32, "
                 "500 training images each, 50 two-class tasks; CIFAR-100 is not available here)")


def resolve_cifar100(profile: str, root=None, download=False) -> str:
    """The dataset to use when a page asks for CIFAR-100 under ``profile``.

    ``"cifar100"`` when ``<data root>/cifar-100-python/{train,test,meta}`` are present (or may be
    downloaded: ``download=True`` or ``WSM_DOWNLOAD=1``); otherwise ``"cifar100-standin"`` for the
    scaled-down profiles. The ``paper`` profile never substitutes: it raises a :class:`WsmError`."""
    download = download_allowed(download)
    folder = data_root(root) / "cifar-100-python"
    if download or all((folder / n).is_file() for n in ("train", "test", "meta")):
        return "cifar100"
    if profile == "paper":
        raise WsmError(f"CIFAR-100 is missing: expected {folder}/ with files train, test and meta (the official "
                       "python release, cifar-100-python.tar.gz extracted). Put it there, point WSM_DATA at the "
                       "folder that holds it, or allow downloading (WSM_DOWNLOAD=1). The paper profile never "
                       "substitutes the Tiny ImageNet stand-in for CIFAR-100.")
    return "cifar100-standin"


def short_name(dataset: str) -> str:
    """A dataset's name in figure titles (the stand-in always says so)."""
    return {"cifar100": "CIFAR-100", "cifar100-standin": "CIFAR-100 STAND-IN (Tiny ImageNet classes)",
            "tiny-imagenet": "Tiny ImageNet", "namedata": "NameData"}[_check_dataset(dataset)]


def describe(dataset: str) -> str:
    """How a page names ``dataset`` in its banner and headings (the stand-in always says so)."""
    return {"cifar100": "CIFAR-100 (official python release), 2-class tasks",
            "cifar100-standin": STANDIN_LABEL,
            "tiny-imagenet": "Tiny ImageNet (official archive, resized to 32x32), 4-class tasks",
            "namedata": "NameData (surnames by language), 2-language tasks"}[_check_dataset(dataset)]
