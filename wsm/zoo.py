"""Weight zoos: one architecture trained many times per learning task (Section 4.1, "Training").

A zoo lives in a folder::

    <zoo>/zoo.json                 the configuration it was trained with
    <zoo>/runs/t003-r007.pt        one finished network: weights + metadata

Every run is written atomically (temporary file, then rename) the moment it finishes, so an
interrupted build loses nothing finished and leaves no half-written file; building again trains
only the missing runs. A folder trained with another configuration is refused, never overwritten.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from wsm import chain, data, nets
from wsm import vectorized as _vectorized
from wsm.progress import bar
from wsm.storage import atomic_write
from wsm.errors import WsmError


OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class ZooConfig:
    """Everything that determines the weights of a zoo. Defaults: Section 4.1 with the authors'
    code for what the paper leaves open (momentum 0.9, weight decay 1e-4, crop+flip augmentation).
    For ``arch="gru2"`` (NameData, :mod:`wsm.gru`) ``epochs`` and ``milestones`` count single-name
    SGD steps, as Appendix F counts batches."""

    dataset: str
    arch: str
    tasks: tuple[int, ...]
    runs: int
    epochs: int
    milestones: tuple[int, ...] = ()
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    batch_size: int = 128
    augment: bool = True
    train_per_class: int | None = None   # None: every training image of the class
    seed: int = 0
    device: str = "cpu"
    optimizer: str = "sgd"               # "adam": Section 4.4 (ICLR), lr 0.001; momentum unused

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise WsmError(f"unknown optimizer {self.optimizer!r}: valid ones are {', '.join(OPTIMIZERS)} "
                           "(Adam with lr=0.001 for Section 4.4's \"Adam\" zoo)")
        if self.dataset not in data.DATASETS:
            raise WsmError(f"unknown dataset {self.dataset!r}: valid ones are {', '.join(data.DATASETS)}")
        if self.arch not in nets.ARCHITECTURES:
            raise WsmError(f"unknown architecture {self.arch!r}: valid ones are {', '.join(nets.ARCHITECTURES)}")
        if self.runs < 1 or self.epochs < 1 or not self.tasks:
            raise WsmError(f"a zoo needs at least one task, run and epoch (got tasks={self.tasks}, "
                           f"runs={self.runs}, epochs={self.epochs})")
        if (self.arch == "gru2") != (self.dataset == "namedata"):
            raise WsmError(f"architecture {self.arch!r} does not fit dataset {self.dataset!r}: NameData "
                           "zoos are GRU-2 (arch='gru2'), image zoos are mlp4/plainnet5")
        if self.arch == "gru2":
            from wsm import gru
            gru.check_config(self)

    def seed_of(self, task: int, run: int) -> int:
        """Distinct, reproducible seed of one run (the authors set none)."""
        return self.seed * 1_000_000 + task * 1_000 + run

    def as_dict(self) -> dict:
        d = json.loads(json.dumps(dataclasses.asdict(self)))   # tuples -> lists, as stored
        if d["optimizer"] == "sgd":
            del d["optimizer"]        # zoos trained before the field existed stay valid
        return d


@dataclass
class Run:
    task: int
    run: int
    seed: int
    classes: list[int]
    train_acc: float
    test_acc: float
    final_loss: float
    seconds: float
    state_dict: dict = field(repr=False)

    @property
    def weights(self) -> list[torch.Tensor]:
        return chain.layer_weights(self.state_dict)

    @property
    def finite(self) -> bool:
        return all(torch.isfinite(w).all() for w in self.weights)


def _draws(n, batch_size, gen, augment):
    """The random draws of one epoch over ``n`` images, batch by batch, in the order the reference
    loop makes them from ``gen``: ``(idx, oy, ox, flip)`` (crop offsets and flips None without
    augmentation). Kept apart from the images so many runs' batches can be cut in one operation."""
    order = torch.randperm(n, generator=gen)
    for i in range(0, n, batch_size):
        idx = order[i:i + batch_size]
        if not augment:
            yield idx, None, None, None
            continue
        oy, ox = torch.randint(0, 9, (2, len(idx)), generator=gen)
        yield idx, oy, ox, torch.rand(len(idx), generator=gen) < 0.5


def _images(x, idx, oy=None, ox=None, flip=None):
    """``x[idx]`` (uint8 images on any device; ``idx`` of any leading shape, the draws alike) as
    normalized floats, randomly cropped from a 4-pixel zero padding and flipped where drawn."""
    dev = x.device
    idx = idx.to(dev)
    xb = x[idx]
    if oy is not None:
        lead, b = idx.shape, idx.numel()
        padded = F.pad(xb.reshape(b, *x.shape[1:]), (4, 4, 4, 4))
        ar = torch.arange(32, device=dev)
        rows = (oy.to(dev).reshape(b)[:, None] + ar)[:, None, :, None]
        cols = (ox.to(dev).reshape(b)[:, None] + ar)[:, None, None, :]
        xb = padded[torch.arange(b, device=dev)[:, None, None, None], torch.arange(3, device=dev)[None, :, None, None],
                    rows, cols]
        flip = flip.to(dev).reshape(b)
        xb = torch.where(flip[:, None, None, None], xb.flip(3), xb).reshape(*lead, *x.shape[1:])
    mean = torch.tensor(data.TINY_MEAN, device=dev).view(3, 1, 1)
    std = torch.tensor(data.TINY_STD, device=dev).view(3, 1, 1)
    return (xb.float() / 255 - mean) / std


def _batches(x, y, batch_size, gen, augment):
    """Shuffled mini-batches, with random crop (padding 4) and horizontal flip when augmenting; the
    images are cut on ``x``'s device."""
    for idx, oy, ox, flip in _draws(len(x), batch_size, gen, augment):
        yield _images(x, idx, oy, ox, flip), y[idx.to(y.device)]


def _accuracy(net, x, y, device, batch_size=500) -> float:
    net.eval()
    correct = 0
    with torch.no_grad():
        for xb, yb in _batches(x, y, batch_size, torch.Generator().manual_seed(0), augment=False):
            correct += (net(xb.to(device)).argmax(1).cpu() == yb).sum().item()
    return correct / len(x)


def train_network(cfg: ZooConfig, task_data: data.TaskData, run: int) -> Run:
    """Train one network on one task with SGD (or Adam) and the step schedule (lr / 10 at each milestone)."""
    t0 = time.time()
    seed = cfg.seed_of(task_data.task, run)
    torch.manual_seed(seed)
    net = nets.build(cfg.arch, len(task_data.classes)).to(cfg.device)
    fmt = torch.channels_last if cfg.arch != "mlp4" else torch.contiguous_format
    net = net.to(memory_format=fmt)
    if cfg.optimizer == "adam":
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, list(cfg.milestones), gamma=0.1)
    gen = torch.Generator().manual_seed(seed)
    x, y = task_data.x_train, task_data.y_train
    xd = x.to(cfg.device)                               # batches are cut where the network trains
    loss = torch.tensor(float("nan"))
    for _ in range(cfg.epochs):
        net.train()
        for xb, yb in _batches(xd, y, cfg.batch_size, gen, cfg.augment):
            xb = xb.contiguous(memory_format=fmt)
            loss = F.cross_entropy(net(xb), yb.to(cfg.device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    return Run(task=task_data.task, run=run, seed=seed, classes=list(task_data.classes),
               train_acc=_accuracy(net, x, y, cfg.device),
               test_acc=_accuracy(net, task_data.x_test, task_data.y_test, cfg.device),
               final_loss=float(loss.detach()), seconds=time.time() - t0, state_dict=state)


def _subsample(td: data.TaskData, per_class: int | None) -> data.TaskData:
    if per_class is None:
        return td
    keep = torch.cat([torch.nonzero(td.y_train == c).flatten()[:per_class] for c in range(len(td.classes))])
    return dataclasses.replace(td, x_train=td.x_train[keep], y_train=td.y_train[keep])


class Zoo:
    """The trained networks of one configuration, in (task, run) order."""

    def __init__(self, path: Path, config: ZooConfig, runs: list[Run]):
        self.path, self.config, self.runs = path, config, runs

    @property
    def labels(self) -> torch.Tensor:
        return torch.tensor([r.task for r in self.runs])

    @property
    def weights(self) -> list[list[torch.Tensor]]:
        return [r.weights for r in self.runs]

    def usable(self):
        """``(weights, labels)`` of the runs whose weights are finite. A diverged run (NaN or inf
        weights) is never used silently: it is excluded with a warning naming it."""
        import numpy as np

        bad = [r for r in self.runs if not r.finite]
        if bad:
            names = ", ".join(f"task {r.task} run {r.run}" for r in bad)
            warnings.warn(f"{len(bad)} of {len(self.runs)} networks in {self.path} diverged (non-finite "
                          f"weights) and are excluded: {names}", RuntimeWarning, stacklevel=2)
        good = [r for r in self.runs if r.finite]
        return [r.weights for r in good], np.array([r.task for r in good])

    def table(self):
        import pandas as pd
        return pd.DataFrame([{k: v for k, v in dataclasses.asdict(r).items() if k != "state_dict"}
                             | {"finite": r.finite} for r in self.runs])

    def __len__(self):
        return len(self.runs)


def _check_config(path: Path, cfg: ZooConfig) -> None:
    meta = path / "zoo.json"
    if not meta.exists():
        return
    try:
        stored = json.loads(meta.read_text())
    except (OSError, json.JSONDecodeError):
        raise WsmError(f"{meta} is unreadable: delete the folder {path} to retrain this zoo") from None
    want = cfg.as_dict()
    diff = {k: (stored.get(k), v) for k, v in want.items() if stored.get(k) != v}
    if diff:
        lines = ", ".join(f"{k}: stored {a!r}, requested {b!r}" for k, (a, b) in diff.items())
        raise WsmError(f"the zoo in {path} was trained with another configuration ({lines}). "
                       f"Use another zoo folder, or delete {path} to retrain it; nothing was changed.")


def _use_vectorized(cfg: ZooConfig, vectorized: bool | None) -> bool:
    return _vectorized.preferred(cfg) if vectorized is None else bool(vectorized and _vectorized.supports(cfg))


def _chunks(cfg: ZooConfig, todo: list[tuple[int, int]], vectorized: bool | None):
    """``(task, [runs])`` groups of the missing runs: where the batched path is used, each task's
    runs in as few chunks of at most :func:`wsm.vectorized.chunk_size` runs as possible, of nearly
    equal sizes (100 runs at 64 a chunk: 50 + 50, not 64 + 36); single runs otherwise (the loop)."""
    size = _vectorized.chunk_size(cfg) if _use_vectorized(cfg, vectorized) else 1
    groups: list[tuple[int, list[int]]] = []
    for t in dict.fromkeys(t for t, _ in todo):
        runs = [r for tt, r in todo if tt == t]
        n = -(-len(runs) // size)
        bounds = [round(i * len(runs) / n) for i in range(n + 1)]
        groups += [(t, runs[a:b]) for a, b in zip(bounds, bounds[1:])]
    return groups


def workers_for(cfg: ZooConfig, n_runs: int, batched: bool, workers: int | None = None) -> int:
    """How many processes train the runs of a CPU zoo at once: ``workers`` when given; by default one
    per core, each on one thread, where networks are trained one at a time on the CPU (every image
    architecture; measured on an idle 2-core machine, bench/bench_training.py's "processes x 1
    thread" rows: PlainNet-5 at 1.3x and MLP-4 at 1.1x the two-thread loop) and for GRU-2, whose
    one-thread batched chunks (``n_runs`` counts chunks there) then run side by side; else 1."""
    if workers is not None:
        if not (isinstance(workers, int) and workers >= 1):
            raise WsmError(f"workers must be a positive integer, got {workers!r}")
        return min(workers, max(1, n_runs))
    import os

    if batched or cfg.device != "cpu" or n_runs < 2:
        return 1
    return max(1, min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
                      n_runs))


def _worker_init() -> None:
    """A zoo worker: one thread; on Linux it dies with its parent (a killed build leaves no orphan
    training on; its unfinished run leaves only a temporary file, removed by the next build)."""
    torch.set_num_threads(1)
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _train_and_save(path: Path, cfg: ZooConfig, task_data: data.TaskData, run: int) -> None:
    _save_run(path, train_network(cfg, task_data, run))


def _train_in_processes(path: Path, cfg: ZooConfig, todo, data_root, download: bool, workers: int, pbar) -> None:
    """Train ``todo`` runs in ``workers`` spawned one-thread processes; each run is saved by its
    worker as it finishes. The tasks are loaded here, one after another while the workers train
    the runs already handed out. A failure stops the build with the worker's own message (finished
    runs stay saved)."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_worker_init) as pool:
        futures = []
        try:
            for t in dict.fromkeys(t for t, _ in todo):
                task_data = _subsample(data.load_task(cfg.dataset, t, data_root, download), cfg.train_per_class)
                for r in (r for tt, r in todo if tt == t):
                    futures.append(pool.submit(_train_and_save, path, cfg, task_data, r))
                    futures[-1].add_done_callback(lambda f: not f.cancelled() and f.exception() is None and pbar.update())
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for f in done:
                f.result()              # re-raises a worker's error here
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def _no_trace_on_failure(build):
    """A build that fails before its first run is saved leaves no ``zoo.json`` (nor the folders it
    created) behind: a folder with only a configuration would hold a later build to it."""
    import functools

    @functools.wraps(build)
    def wrapper(path, cfg, *args, **kwargs):
        path = Path(path)
        existed, configured = path.exists(), (path / "zoo.json").exists()
        try:
            return build(path, cfg, *args, **kwargs)
        except BaseException:
            if not configured and not any((path / "runs").glob("t*-r*.pt")):
                (path / "zoo.json").unlink(missing_ok=True)
                for folder in [path / "runs"] + ([path] if not existed else []):
                    try:
                        folder.rmdir()             # only when empty
                    except OSError:
                        pass
            raise
    return wrapper


@_no_trace_on_failure
def build_zoo(path: str | Path, cfg: ZooConfig, data_root=None, download: bool = False,
              progress: bool = True, vectorized: bool | None = None, only_tasks=None,
              workers: int | None = None) -> Zoo:
    """Train every missing run of ``cfg`` into ``path`` (finished runs are reused) and load the zoo.

    ``vectorized``: train the runs of a task in chunks as one batched program
    (:mod:`wsm.vectorized`; same weights as one at a time, up to float rounding). ``None`` (default)
    uses it where it is faster (:func:`wsm.vectorized.preferred`); configurations it does not support
    (other architectures or optimizers) always train one network at a time (:func:`train_network`).
    Every run is saved atomically as soon as its chunk finishes.

    ``only_tasks``: train and load only these tasks of ``cfg`` (the folder stays ``cfg``'s, and a
    run's weights do not depend on which tasks are built, so a later full build completes it).

    ``workers``: processes training networks at once, one thread each (:func:`workers_for`: by
    default one per core for CPU zoos trained one network at a time). A run's weights do not depend
    on which process trains it; they may differ from a two-thread run in float rounding only.
    """
    path = Path(path)
    if only_tasks is not None:
        if not set(only_tasks) <= set(cfg.tasks):
            raise WsmError(f"tasks {sorted(set(only_tasks) - set(cfg.tasks))} are not tasks of the zoo in {path}")
        full, cfg = cfg, dataclasses.replace(cfg, tasks=tuple(only_tasks))
    else:
        full = cfg
    _check_config(path, full)
    path.mkdir(parents=True, exist_ok=True)
    if not (path / "zoo.json").exists():
        atomic_write(path / "zoo.json", lambda f: f.write(json.dumps(full.as_dict(), indent=1).encode()))
    todo = [(t, r) for t in cfg.tasks for r in range(cfg.runs) if not _run_file(path, t, r).exists()]
    label = f"{nets.LABELS[cfg.arch]} zoo ({cfg.dataset})"
    for stale in (path / "runs").glob(".*.tmp"):     # left by a run killed while saving
        stale.unlink()
    with bar(total=len(cfg.tasks) * cfg.runs, initial=len(cfg.tasks) * cfg.runs - len(todo),
             desc=label, disable=not progress) as pbar:
        if cfg.arch == "gru2":   # NameData: many runs trained at once (wsm.gru), each saved as its chunk ends
            from wsm import gru
            n_chunks = -(-len(todo) // gru.CHUNK)
            for run in gru.train_runs(cfg, todo, data_root, progress=progress,
                                      workers=workers_for(cfg, n_chunks, False, workers)):
                _save_run(path, run)
                pbar.update()
            todo = []
        loaded = {}
        batched = _use_vectorized(cfg, vectorized)
        n_workers = workers_for(cfg, len(todo), batched, workers)
        if n_workers > 1:
            _train_in_processes(path, cfg, todo, data_root, download, n_workers, pbar)
            todo = []
        for t, runs in _chunks(cfg, todo, vectorized):
            if t not in loaded:
                loaded = {t: _subsample(data.load_task(cfg.dataset, t, data_root, download), cfg.train_per_class)}
            if batched:     # one batched program for the chunk (wsm.vectorized), same weights
                trained = _vectorized.train_networks(cfg, loaded[t], runs)
            else:
                trained = [train_network(cfg, loaded[t], runs[0])]
            for run in trained:
                _save_run(path, run)
                pbar.update()
    return load_zoo(path, full, only_tasks)


def build_zoos(specs: dict, data_root=None, download: bool = False, only_tasks=None):
    """Build several zoos, ``specs = {name: (folder, config)}``: ``(zoos, table)`` with the zoos by
    name and one row per zoo (architecture, optimizer, networks, mean train/test accuracy, how many
    sit at chance on their training set, how many diverged, seconds spent building)."""
    import pandas as pd

    zoos, rows = {}, []
    for name, (folder, cfg) in specs.items():
        t0 = time.time()
        z = zoos[name] = build_zoo(folder, cfg, data_root, download, only_tasks=only_tasks)
        runs = z.table()
        chance = 1 / len(z.runs[0].classes)
        rows.append(dict(zoo=name, architecture=nets.LABELS[cfg.arch], optimizer=cfg.optimizer, lr=cfg.lr,
                         networks=len(z), train_acc=round(runs.train_acc.mean(), 3),
                         test_acc=round(runs.test_acc.mean(), 3),
                         at_chance=int((runs.train_acc <= chance + 0.02).sum()),
                         diverged=int((~runs.finite).sum()), build_seconds=round(time.time() - t0)))
    return zoos, pd.DataFrame(rows).set_index("zoo")


def load_zoo(path: str | Path, cfg: ZooConfig | None = None, only_tasks=None) -> Zoo:
    """Load a zoo (only the tasks ``only_tasks`` of it, if given); with ``cfg``, refuse a folder
    trained with another configuration."""
    path = Path(path)
    if not (path / "zoo.json").exists():
        raise WsmError(f"no zoo in {path} (zoo.json missing): build it with wsm.zoo.build_zoo")
    if cfg is not None:
        _check_config(path, cfg)
    stored = json.loads((path / "zoo.json").read_text())
    cfg = cfg or ZooConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in stored.items()})
    if only_tasks is not None:
        cfg = dataclasses.replace(cfg, tasks=tuple(only_tasks))
    runs = []
    for t in cfg.tasks:
        for r in range(cfg.runs):
            f = _run_file(path, t, r)
            if not f.exists():
                raise WsmError(f"{f} is missing: run build_zoo again to train the missing runs")
            try:
                record = torch.load(f, weights_only=True)
                digest = record.pop("sha256", None)
                run = Run(**record)
            except Exception as e:  # a damaged file: say which, and how to recover
                raise WsmError(f"{f} cannot be read ({type(e).__name__}): delete that file and "
                               "build the zoo again; only that run is retrained") from None
            if digest != _digest(run.state_dict):
                raise WsmError(f"{f} fails its checksum (its weights changed after training): delete "
                               "that file and build the zoo again; only that run is retrained")
            runs.append(run)
    return Zoo(path, cfg, runs)


def _save_run(path: Path, run: Run) -> None:
    record = dataclasses.asdict(run)
    record["sha256"] = _digest(run.state_dict)
    atomic_write(_run_file(path, run.task, run.run), lambda f: torch.save(record, f))


def _digest(state_dict: dict) -> str:
    """SHA-256 of a state_dict's names, shapes, dtypes and bytes, in key order."""
    h = hashlib.sha256()
    for k in sorted(state_dict):
        t = state_dict[k].detach().cpu().contiguous()
        h.update(f"{k}:{tuple(t.shape)}:{t.dtype};".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()


def _run_file(path: Path, task: int, run: int) -> Path:
    return path / "runs" / f"t{task:03d}-r{run:03d}.pt"
