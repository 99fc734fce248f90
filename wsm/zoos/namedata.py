"""NameData (Section 4.3, Appendix F): surnames of 18 languages, 9 learning tasks of 2 languages.

Read in place from ``<data root>/names/<Language>.txt`` (UTF-8, one surname per line; see
``SOURCE.md`` next to the files). A separate module because its data are text, not images:
:mod:`wsm.zoos.data` dispatches ``dataset="namedata"`` here.

* **Languages** in sorted file-name order; task ``i`` = languages ``2i`` and ``2i+1``, relabelled
  0 and 1 (the authors' code used the unsorted directory listing: see the Deviations page).
* **Names -> ASCII** by Unicode NFD with combining marks dropped, keeping only the 58 characters of
  :data:`ALPHABET` (ASCII letters and `` .,;'-``), as in the authors' code; a name is the sequence
  of its characters' indices in :data:`ALPHABET` (its one-hot rows, :func:`one_hot`).
* **Split**: per task, each language's names are shuffled once with a generator seeded by the task
  number and split half train (the first ``n // 2``) / half test; every run of that task uses the
  same split. Duplicate names are kept, as in the files.
"""

from __future__ import annotations

import string
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import torch

from wsm.core.errors import WsmError
from wsm.core.paths import data_root

ALPHABET = string.ascii_letters + " .,;'-"
N_CHARS = len(ALPHABET)          # 58
N_LANGUAGES = 18
N_TASKS = N_LANGUAGES // 2       # 9
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
_FIX = ("put the 18 files <Language>.txt of the PyTorch tutorial's data/names/ there (see "
        "shared/data/names/SOURCE.md), or point WSM_DATA at the folder that holds names/")


def to_ascii(name: str) -> str:
    """Unicode NFD, combining marks (category Mn) dropped, only :data:`ALPHABET` kept."""
    return "".join(c for c in unicodedata.normalize("NFD", name)
                   if unicodedata.category(c) != "Mn" and c in _INDEX)


def encode(name: str) -> torch.Tensor:
    """Character indices (int64, length ``len(name)``) of an ASCII name."""
    return torch.tensor([_INDEX[c] for c in name], dtype=torch.int64)


def one_hot(name: str) -> torch.Tensor:
    """``(len(name), 1, 58)`` float one-hot rows: the input layout of ``nn.GRU`` (sequence first)."""
    return torch.nn.functional.one_hot(encode(name), N_CHARS).float().unsqueeze(1)


def folder(root=None) -> Path:
    return data_root(root) / "names"


def languages(root=None) -> list[str]:
    """The 18 language names (file stems), sorted."""
    path = folder(root)
    files = sorted(path.glob("*.txt")) if path.is_dir() else []
    if len(files) != N_LANGUAGES:
        found = "no such folder" if not path.is_dir() else f"found {len(files)} .txt files"
        raise WsmError(f"NameData not found in {path} ({found}; expected {N_LANGUAGES}): {_FIX}")
    return [f.stem for f in files]


def read_language(language: str, root=None) -> list[str]:
    """The ASCII names of one language file, in file order (empty lines skipped)."""
    path = folder(root) / f"{language}.txt"
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise WsmError(f"cannot read {path} as UTF-8 text ({type(e).__name__}: {e}); the file looks "
                       f"truncated or garbled: {_FIX}") from None
    names = [to_ascii(line.strip()) for line in text.splitlines() if line.strip()]
    names = [n for n in names if n]
    if len(names) < 2:
        raise WsmError(f"{path} holds {len(names)} usable names (at least 2 are needed for a train/test "
                       f"split); the file looks truncated or garbled: {_FIX}")
    return names


@dataclass
class NameTask:
    """One learning task: two languages; label = position of the language in the task."""

    task: int
    languages: list[str]
    train: list[list[str]]       # train[label] = that language's training names
    test: list[list[str]]
    source: str

    @property
    def classes(self) -> list[int]:
        return [2 * self.task, 2 * self.task + 1]


def task_languages(task, root=None) -> list[str]:
    langs = languages(root)
    if not isinstance(task, int) or not 0 <= task < N_TASKS:
        raise WsmError(f"task {task!r} is out of range for namedata: valid tasks are 0..{N_TASKS - 1}")
    return langs[2 * task:2 * task + 2]


def load_task(task: int, root=None) -> NameTask:
    """The two languages of ``task``, each split half train / half test (fixed per task)."""
    langs = task_languages(task, root)
    train, test = [], []
    for label, lang in enumerate(langs):
        names = read_language(lang, root)
        gen = torch.Generator().manual_seed(1000 * task + label)
        order = torch.randperm(len(names), generator=gen).tolist()
        half = len(names) // 2
        train.append([names[i] for i in order[:half]])
        test.append([names[i] for i in order[half:]])
    return NameTask(task, langs, train, test, f"NameData ({folder(root)}): {langs[0]} vs {langs[1]}")


@dataclass
class Encoded:
    """Names as one padded index table: ``chars[i, :lengths[i]]`` is name i, ``labels[i]`` its language."""

    chars: torch.Tensor     # int64 (N, Lmax), padding 0
    lengths: torch.Tensor   # int64 (N,)
    labels: torch.Tensor    # int64 (N,)

    def __len__(self):
        return len(self.lengths)

    def name(self, i: int) -> torch.Tensor:
        return self.chars[i, :self.lengths[i]]


def encode_all(groups: list[list[str]]) -> Encoded:
    """``groups[label]`` = names -> one :class:`Encoded` table, group after group."""
    seqs = [encode(n) for g in groups for n in g]
    labels = torch.tensor([lab for lab, g in enumerate(groups) for _ in g], dtype=torch.int64)
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.int64)
    chars = torch.nn.utils.rnn.pad_sequence(seqs, batch_first=True) if seqs else torch.zeros(0, 1, dtype=torch.int64)
    return Encoded(chars, lengths, labels)


def sample_order(seed: int, sizes: list[int], steps: int) -> torch.Tensor:
    """The training sequence of one run, as indices into :func:`encode_all` of its training names:
    at each step a language uniformly at random, then one of its names uniformly at random (with
    replacement; the sampling of the PyTorch tutorial the authors' code follows)."""
    gen = torch.Generator().manual_seed(seed)
    lang = torch.randint(0, len(sizes), (steps,), generator=gen)
    u = torch.rand(steps, generator=gen, dtype=torch.float64)
    size = torch.tensor(sizes, dtype=torch.int64)
    offset = torch.cumsum(torch.cat([torch.zeros(1, dtype=torch.int64), size[:-1]]), 0)
    return offset[lang] + (u * size[lang]).long().clamp_max(size[lang] - 1)


def per_task(zoo, root=None):
    """A NameData zoo's mean train and test accuracy and final loss per task, with the task's languages."""
    langs = languages(root)
    table = zoo.table().groupby("task")[["train_acc", "test_acc", "final_loss"]].mean().round(3)
    table.insert(0, "languages", [f"{langs[2 * t]} / {langs[2 * t + 1]}" for t in table.index])
    return table
