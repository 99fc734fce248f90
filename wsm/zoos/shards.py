"""Shards of one zoo: a fixed split of its runs into units of work, and claims, so that any number
of builders, on one machine or many, build one zoo folder together.

* :func:`units`: a deterministic split of a zoo's ``(task, run)`` pairs that depends only on its
  configuration: the chunks one builder trains (:func:`wsm.zoos.zoo.chunks`: a task's runs in batched
  chunks on CUDA, single runs on the CPU; GRU-2 chunks of :data:`wsm.zoos.gru.CHUNK` runs in order).
  A unit is always trained whole, so its runs get the weights a single builder gives them.
* :class:`Claim`: ``<zoo>/claims/<unit>.claim``, created exclusively (``O_CREAT | O_EXCL``) and
  holding the builder's host, process id and start time (and its Ray node, under Ray). A live
  builder touches its claim every :data:`HEARTBEAT` seconds. A claim whose builder is a dead
  process of this host, or that nobody touched for ``ttl`` seconds (a builder elsewhere), is
  abandoned: the next builder breaks it and trains the unit again.
* :func:`build_unit`: claim a unit, train what is missing of it into the folder (the atomic,
  checksummed run files of :mod:`wsm.zoos.zoo`), release the claim. :func:`build`: a builder without
  Ray, going through every unit; :mod:`wsm.zoos.engine` submits :func:`build_unit` as Ray tasks.

Claims only keep builders from doing the same work twice: a run trained twice is written twice
with the same weights (each write atomic), so correctness never depends on them. Nothing a live
builder is writing is removed (:func:`wsm.core.storage.stale_temporary`).
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from wsm.core import storage
from wsm.zoos import gru, nets, training, zoo
from wsm.core.errors import WsmError
from wsm.core.progress import bar

CLAIM_TTL = 120.0    # seconds without a heartbeat after which a claim of another host is abandoned
HEARTBEAT = 20.0     # seconds between the touches of a live builder's claim
POLL = 1.0           # seconds between looks at a unit that another builder holds


@dataclass(frozen=True)
class Unit:
    """One unit of work of a zoo: ``(task, run)`` pairs trained together."""

    pairs: tuple[tuple[int, int], ...]

    @property
    def name(self) -> str:
        t, r = self.pairs[0]
        return f"t{t:03d}-r{r:03d}-n{len(self.pairs)}"      # units partition the zoo: the first run names one


def units(cfg: training.ZooConfig, vectorized: bool | None = None) -> list[Unit]:
    """The units of ``cfg``'s zoo, in order: the same list wherever and whenever it is asked for."""
    pairs = [(t, r) for t in cfg.tasks for r in range(cfg.runs)]
    if cfg.arch == "gru2":
        return [Unit(tuple(pairs[a:a + gru.CHUNK])) for a in range(0, len(pairs), gru.CHUNK)]
    return [Unit(tuple((t, r) for r in runs)) for t, runs in zoo.chunks(cfg, pairs, vectorized)]


# ---------------------------------------------------------------- claims


class Claim:
    """A builder's exclusive claim on a unit (see the module's doc). Use :meth:`acquire`; leave the
    ``with`` block to release it (removed only while it is still this builder's)."""

    def __init__(self, file: Path, token: str):
        self.file, self.token = file, token
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, daemon=True)

    @staticmethod
    def file_of(path: Path, unit: Unit) -> Path:
        return Path(path) / "claims" / f"{unit.name}.claim"

    @classmethod
    def acquire(cls, path: Path, unit: Unit, ttl: float = CLAIM_TTL) -> Claim | None:
        """The claim on ``unit`` of the zoo in ``path``, or None while another live builder holds it."""
        file = cls.file_of(path, unit)
        file.parent.mkdir(parents=True, exist_ok=True)
        info = dict(host=storage.host(), pid=os.getpid(), time=time.time(), node=_ray_node(),
                    nonce=os.urandom(8).hex())
        token = json.dumps(info)
        for _ in range(3):
            try:
                fd = os.open(file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                held = holder(file)
                if held is None or not abandoned(file, held, ttl):
                    return None
                _break(file, held)
                continue
            with os.fdopen(fd, "w") as f:
                f.write(token)
            return cls(file, token)
        return None

    def __enter__(self):
        self._beat.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._beat.join()
        if self._mine():
            self.file.unlink(missing_ok=True)

    def _mine(self) -> bool:
        try:
            return self.file.read_text() == self.token
        except OSError:
            return False

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT):
            if not self._mine():
                return                         # broken by another builder (we looked dead): stop touching
            try:
                os.utime(self.file)
            except OSError:
                return


def holder(file: Path) -> dict | None:
    """Who holds the claim ``file`` (host, pid, time, node): None if it is gone or still being written."""
    try:
        return json.loads(file.read_text())
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError):
        return {}                              # being written, or damaged: judged by its age alone


def abandoned(file: Path, held: dict, ttl: float) -> bool:
    """Whether the claim ``file`` held by ``held`` is left over (:func:`wsm.core.storage.abandoned`)."""
    try:
        age = time.time() - file.stat().st_mtime
    except FileNotFoundError:
        return True
    if not held:
        return age > ttl
    return storage.abandoned(held.get("host", ""), int(held.get("pid", -1)), age, ttl)


def _break(file: Path, held: dict) -> None:
    """Remove the abandoned claim ``file`` (held by ``held``), unless another builder took it over
    first: it is renamed aside, and put back if it turns out to be a new, live claim."""
    aside = file.with_name(f".{file.name}{storage.SEP}{storage.host()}{storage.SEP}{os.getpid()}.broken")
    try:
        os.rename(file, aside)
    except FileNotFoundError:
        return
    if holder(aside) not in (held, {}):          # a fresh claim replaced the abandoned one meanwhile
        try:
            os.link(aside, file)
        except FileExistsError:
            pass
    aside.unlink(missing_ok=True)


def _ray_node() -> str | None:
    """The Ray node this process runs on, if it is a Ray worker."""
    import sys

    if "ray" not in sys.modules:
        return None
    try:
        import ray

        return ray.get_runtime_context().get_node_id() if ray.is_initialized() else None
    except Exception:
        return None


# ---------------------------------------------------------------- building


def build_unit(path: str | Path, cfg: training.ZooConfig, unit: Unit, data_root=None, download: bool = False,
               vectorized: bool | None = None, ttl: float = CLAIM_TTL, wait: bool = True) -> str:
    """Build ``unit`` of ``cfg``'s zoo in ``path``: ``"done"`` if its runs were all there,
    ``"built"`` once this builder trained what was missing, ``"busy"`` if another live builder holds
    it (only with ``wait=False``; else it waits until that builder finishes, or is found dead and
    the unit is taken over). ``path`` must be prepared (:func:`wsm.zoos.zoo.prepare`)."""
    path = Path(path)
    while True:
        if not zoo.missing(path, cfg, list(unit.pairs)):
            return "done"
        claim = Claim.acquire(path, unit, ttl)
        if claim is not None:
            break
        if not wait:
            return "busy"
        time.sleep(POLL)
    with claim:
        for _ in zoo.train_group(path, cfg, list(unit.pairs), data_root, download, vectorized):
            pass
    return "built"


def build(path: str | Path, cfg: training.ZooConfig, data_root=None, download: bool = False,
          progress: bool = True, vectorized: bool | None = None, only_tasks=None,
          ttl: float = CLAIM_TTL) -> zoo.Zoo:
    """One builder of ``cfg``'s zoo in ``path``, sharing it with any other builders of the folder:
    every unit nobody holds is claimed and trained here, in this process on one thread (the weights
    of one-thread training, whichever builder trains a run); then the units others held are waited
    for, and taken over if their builder dies. Returns the loaded zoo, as :func:`wsm.zoos.zoo.build_zoo`."""
    path = Path(path)
    full, cfg = zoo.prepare(path, cfg, only_tasks)
    plan = units(cfg, vectorized)
    total = len(cfg.tasks) * cfg.runs
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with bar(total=total, initial=total - len(zoo.missing(path, cfg)),
                 desc=f"{nets.LABELS[cfg.arch]} zoo ({cfg.dataset}), shared", disable=not progress) as pbar:
            for wait in (False, True):              # first what nobody holds, then what others held
                for unit in plan:
                    before = len(zoo.missing(path, cfg, list(unit.pairs)))
                    if before and build_unit(path, cfg, unit, data_root, download, vectorized, ttl, wait) != "busy":
                        pbar.update(before)
    finally:
        torch.set_num_threads(threads)
    left = zoo.missing(path, cfg)
    if left:
        raise WsmError(f"{len(left)} runs of the zoo in {path} are still missing after every unit was built "
                       f"(first: task {left[0][0]} run {left[0][1]}): build it again")
    return zoo.load_zoo(path, full, only_tasks)
