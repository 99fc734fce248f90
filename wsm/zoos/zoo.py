"""Weight zoos: one architecture trained many times per learning task (Section 4.1, "Training").

A zoo lives in a folder::

    <zoo>/zoo.json                 the configuration it was trained with
    <zoo>/runs/t003-r007.pt        one finished network: weights + metadata (+ the device that trained it)

Every run is written atomically (temporary file, then rename) the moment it finishes, so an
interrupted build loses nothing finished and leaves no half-written file; building again trains
only the missing runs. A folder trained with another configuration is refused, never overwritten;
the device is not part of that comparison (a zoo trained with CUDA is read, and completed, on a
CPU machine), it is recorded per run instead. Several builders may share a folder
(:mod:`wsm.zoos.shards`): a temporary file is removed only when its writer is dead.

A loaded zoo holds its runs' metadata; their weights stay in the run files and are read (memory
mapped) when used (:class:`StoredState`, :class:`StoredWeights`), so the memory an analysis needs
does not grow with the number of networks.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from wsm.core import storage
from wsm.maths import chain
from wsm.zoos import data, gru, nets, training
from wsm.zoos import vectorized as _vectorized
from wsm.core.errors import WsmError
from wsm.core.progress import bar
from wsm.core.storage import atomic_write
from wsm.zoos.training import Run, ZooConfig, train_network, workers_for   # the zoo API: wsm.zoos.zoo.ZooConfig, ...

# A temporary run file whose writer cannot be asked (another host) is left over after this long.
STALE_SECONDS = 600.0


class StoredState(Mapping):
    """The state_dict of a run file, read from the file (memory mapped) each time it is used and
    not kept: ``finite`` and the keys were found when :func:`load_zoo` checked the file. A tensor
    it returns is a private copy-on-write mapping: changing it changes neither the file nor a
    later read (to change weights, copy them: ``dict(run.state_dict)``)."""

    def __init__(self, file: Path, keys: list[str], finite: bool, n_layers: int):
        self.file, self.keys_, self.finite, self.n_layers = Path(file), list(keys), finite, n_layers

    def load(self) -> dict:
        try:
            return torch.load(self.file, mmap=True, weights_only=True, map_location="cpu")["state_dict"]
        except FileNotFoundError:
            raise WsmError(f"{self.file} was removed after its zoo was loaded: load the zoo again") from None

    def __getitem__(self, key):
        return self.load()[key]

    def __iter__(self):
        return iter(self.keys_)

    def __len__(self):
        return len(self.keys_)

    def __contains__(self, key):
        return key in self.keys_

    def items(self):
        return self.load().items()

    def values(self):
        return self.load().values()

    def __repr__(self):
        return f"StoredState({str(self.file)!r})"


class StoredWeights(Sequence):
    """A stored network's chain weights (:func:`wsm.maths.chain.layer_weights`), read from its run file
    on every access; picklable as its file name, so a worker elsewhere reads them itself."""

    def __init__(self, state: StoredState):
        self.state = state

    def __len__(self):
        return self.state.n_layers

    def __getitem__(self, i):
        return chain.layer_weights(self.state.load())[i]     # one read of the file (not one per pass)

    def __iter__(self):
        return iter(chain.layer_weights(self.state.load()))

    def __repr__(self):
        return f"StoredWeights({str(self.state.file)!r})"


def _weights(run: Run):
    """A run's chain weights: read lazily for a stored run, the in-memory list otherwise."""
    return StoredWeights(run.state_dict) if isinstance(run.state_dict, StoredState) else run.weights


class Zoo:
    """The trained networks of one configuration, in (task, run) order."""

    def __init__(self, path: Path, config: ZooConfig, runs: list[Run]):
        self.path, self.config, self.runs = path, config, runs

    @property
    def labels(self) -> torch.Tensor:
        return torch.tensor([r.task for r in self.runs])

    @property
    def weights(self) -> list[Sequence[torch.Tensor]]:
        """Every run's chain weights (a stored zoo's read from the run files when used)."""
        return [_weights(r) for r in self.runs]

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
        return [_weights(r) for r in good], np.array([r.task for r in good])

    def only(self, tasks) -> "Zoo":
        """The same zoo restricted to ``tasks`` (its runs of those tasks, in order)."""
        keep = set(tasks)
        return Zoo(self.path, dataclasses.replace(self.config, tasks=tuple(t for t in self.config.tasks if t in keep)),
                   [r for r in self.runs if r.task in keep])

    def usable_runs(self):
        """The run number of each network :meth:`usable` returns (splits follow run identity)."""
        import numpy as np

        return np.array([r.run for r in self.runs if r.finite])

    def table(self):
        import pandas as pd
        return pd.DataFrame([{f.name: getattr(r, f.name) for f in dataclasses.fields(r) if f.name != "state_dict"}
                             | {"finite": r.finite} for r in self.runs])

    def __len__(self):
        return len(self.runs)


# Fields of a zoo's configuration that record how it was built, not what it is.
PROVENANCE = ("device",)


def _check_config(path: Path, cfg: ZooConfig) -> None:
    meta = path / "zoo.json"
    if not meta.exists():
        return
    try:
        stored = json.loads(meta.read_text())
    except (OSError, json.JSONDecodeError):
        raise WsmError(f"{meta} is unreadable: delete the folder {path} to retrain this zoo") from None
    stored.setdefault("seeding", "index-v0")        # zoo.json written before seeds depended on the zoo
    want = cfg.as_dict()
    diff = {k: (stored.get(k), v) for k, v in want.items() if stored.get(k) != v and k not in PROVENANCE}
    if diff:
        lines = ", ".join(f"{k}: stored {a!r}, requested {b!r}" for k, (a, b) in diff.items())
        raise WsmError(f"the zoo in {path} was trained with another configuration ({lines}). "
                       f"Use another zoo folder, or delete {path} to retrain it; nothing was changed.")


def use_vectorized(cfg: ZooConfig, vectorized: bool | None) -> bool:
    """Whether a zoo of ``cfg`` trains its runs as batched programs (:mod:`wsm.zoos.vectorized`): ``vectorized``
    where given (and the architecture supports it), else the batched path's own preference for ``cfg``."""
    return _vectorized.preferred(cfg) if vectorized is None else bool(vectorized and _vectorized.supports(cfg))


def chunks(cfg: ZooConfig, todo: list[tuple[int, int]], vectorized: bool | None):
    """``(task, [runs])`` groups of the missing runs: where the batched path is used, each task's
    runs in as few chunks of at most :func:`wsm.zoos.vectorized.chunk_size` runs as possible, of nearly
    equal sizes (100 runs at 64 a chunk: 50 + 50, not 64 + 36); single runs otherwise (the loop)."""
    size = _vectorized.chunk_size(cfg) if use_vectorized(cfg, vectorized) else 1
    groups: list[tuple[int, list[int]]] = []
    for t in dict.fromkeys(t for t, _ in todo):
        runs = [r for tt, r in todo if tt == t]
        n = -(-len(runs) // size)
        bounds = [round(i * len(runs) / n) for i in range(n + 1)]
        groups += [(t, runs[a:b]) for a, b in zip(bounds, bounds[1:])]
    return groups


def _train_and_save(path: Path, cfg: ZooConfig, task_data: data.TaskData, run: int) -> None:
    _save_run(path, train_network(cfg, task_data, run, on_checkpoint=_saver(path)))


def _saver(path: Path):
    """Saves a run's checkpoint (:attr:`ZooConfig.checkpoints`) unless a file holds it already (a run
    interrupted after it was saved is trained again from its seed and reaches the same weights)."""
    def save(run: Run) -> None:
        if not _run_file(path, run.task, run.run, run.epoch).exists():
            _save_run(path, run)
    return save


def _train_in_processes(path: Path, cfg: ZooConfig, todo, data_root, download: bool, workers: int, pbar) -> None:
    """Train ``todo`` runs in ``workers`` spawned one-thread processes; each run is saved by its
    worker as it finishes. The tasks are loaded here, one after another while the workers train
    the runs already handed out. A failure stops the build with the worker's own message (finished
    runs stay saved)."""
    from concurrent.futures import FIRST_EXCEPTION, wait

    with training.process_pool(workers) as pool:
        futures = []
        try:
            for t in dict.fromkeys(t for t, _ in todo):
                task_data = training.subsample(data.load_task(cfg.dataset, t, data_root, download), cfg.train_per_class)
                for r in (r for tt, r in todo if tt == t):
                    futures.append(pool.submit(_train_and_save, path, cfg, task_data, r))
                    futures[-1].add_done_callback(
                        lambda f: not f.cancelled() and f.exception() is None and pbar.update())
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


def prepare(path: Path, cfg: ZooConfig, only_tasks=None) -> tuple[ZooConfig, ZooConfig]:
    """Make ``path`` ready for building ``cfg`` (of which only the tasks ``only_tasks``, if given):
    refuse another configuration's folder, write ``zoo.json`` if missing, remove the temporary
    files of dead writers (never a live builder's). Returns ``(full config, config of the tasks to build)``."""
    if only_tasks is not None:
        if not set(only_tasks) <= set(cfg.tasks):
            raise WsmError(f"tasks {sorted(set(only_tasks) - set(cfg.tasks))} are not tasks of the zoo in {path}")
        full, cfg = cfg, dataclasses.replace(cfg, tasks=tuple(only_tasks))
    else:
        full = cfg
    _check_config(path, full)
    path.mkdir(parents=True, exist_ok=True)
    if not (path / "zoo.json").exists():     # builders racing here write the same bytes
        atomic_write(path / "zoo.json", lambda f: f.write(json.dumps(full.as_dict(), indent=1).encode()))
    for tmp in (path / "runs").glob(".*.tmp"):     # left by a run killed while saving
        if storage.stale_temporary(tmp, STALE_SECONDS):
            tmp.unlink(missing_ok=True)
    return full, cfg


def missing(path: Path, cfg: ZooConfig, pairs=None) -> list[tuple[int, int]]:
    """The ``(task, run)`` pairs of ``cfg`` (or of ``pairs``) that have no run file in ``path`` yet."""
    pairs = [(t, r) for t in cfg.tasks for r in range(cfg.runs)] if pairs is None else pairs
    return [(t, r) for t, r in pairs if not _run_file(path, t, r).exists()]


def train_group(path: Path, cfg: ZooConfig, group, data_root=None, download: bool = False,
                vectorized: bool | None = None, loaded: dict | None = None):
    """Train the runs ``group`` = ``[(task, run), ...]`` as one chunk and save those that have no run
    file yet (a finished run is never rewritten); yields every :class:`Run` it saves.

    An image zoo's group is runs of one task (:func:`chunks`): trained as one batched program where
    that path is used (a run's weights depend on its chunk's runs up to float rounding, so the
    whole group is trained even when some of it is saved already), else one network at a time
    (only the missing ones). A GRU-2 group is one :mod:`wsm.zoos.gru` chunk (runs of any tasks), trained
    whole likewise. ``loaded``: a dict in which the last task's data is kept between calls."""
    todo = missing(path, cfg, list(group))
    if not todo:
        return
    if cfg.arch == "gru2":
        trained = gru.train_runs(cfg, list(group), data_root, chunk=len(group), progress=False)
    else:
        loaded = {} if loaded is None else loaded
        t = group[0][0]
        if any(tt != t for tt, _ in group):
            raise ValueError(f"an image zoo's group holds runs of one task, got {group}")
        if t not in loaded:
            loaded.clear()
            loaded[t] = training.subsample(data.load_task(cfg.dataset, t, data_root, download), cfg.train_per_class)
        if use_vectorized(cfg, vectorized):     # one batched program for the chunk (wsm.zoos.vectorized), same weights
            trained = _vectorized.train_networks(cfg, loaded[t], [r for _, r in group])
        else:
            trained = (train_network(cfg, loaded[t], r, on_checkpoint=_saver(path)) for _, r in todo)
    for run in trained:
        if (run.task, run.run) in todo and not _run_file(path, run.task, run.run).exists():
            _save_run(path, run)
            yield run


@_no_trace_on_failure
def build_zoo(path: str | Path, cfg: ZooConfig, data_root=None, download: bool = False,
              progress: bool = True, vectorized: bool | None = None, only_tasks=None,
              workers: int | None = None) -> Zoo:
    """Train every missing run of ``cfg`` into ``path`` (finished runs are reused) and load the zoo.

    ``vectorized``: train the runs of a task in chunks as one batched program
    (:mod:`wsm.zoos.vectorized`; same weights as one at a time, up to float rounding). ``None`` (default)
    uses it where it is faster (:func:`wsm.zoos.vectorized.preferred`); configurations it does not support
    (other architectures or optimizers) always train one network at a time (:func:`train_network`).
    Every run is saved atomically as soon as its chunk finishes.

    ``only_tasks``: train and load only these tasks of ``cfg`` (the folder stays ``cfg``'s, and a
    run's weights do not depend on which tasks are built, so a later full build completes it).

    ``workers``: processes training networks at once, one thread each (:func:`workers_for`: by
    default one per core for CPU zoos trained one network at a time). A run's weights do not depend
    on which process trains it; they may differ from a two-thread run in float rounding only.

    One builder per folder; several builders of one folder, on one machine or many, share its
    work through claims (:func:`wsm.zoos.shards.build`), and a Ray cluster builds it with
    :func:`wsm.zoos.engine.build_zoo`.
    """
    path = Path(path)
    full, cfg = prepare(path, cfg, only_tasks)
    todo = missing(path, cfg)
    label = f"{nets.LABELS[cfg.arch]} zoo ({cfg.dataset})"
    with bar(total=len(cfg.tasks) * cfg.runs, initial=len(cfg.tasks) * cfg.runs - len(todo),
             desc=label, disable=not progress) as pbar:
        if cfg.arch == "gru2":   # NameData: many runs trained at once (wsm.zoos.gru), each saved as its chunk ends
            n_chunks = -(-len(todo) // gru.CHUNK)
            for run in gru.train_runs(cfg, todo, data_root, progress=progress,
                                      workers=workers_for(cfg, n_chunks, False, workers)):
                _save_run(path, run)
                pbar.update()
            todo = []
        n_workers = workers_for(cfg, len(todo), use_vectorized(cfg, vectorized), workers)
        if n_workers > 1:
            _train_in_processes(path, cfg, todo, data_root, download, n_workers, pbar)
            todo = []
        loaded = {}
        for t, runs in chunks(cfg, todo, vectorized):
            for _ in train_group(path, cfg, [(t, r) for r in runs], data_root, download, vectorized, loaded):
                pbar.update()
    return load_zoo(path, full, only_tasks)


def build_zoos(specs: dict, data_root=None, download: bool = False, only_tasks=None, build=build_zoo):
    """Build several zoos, ``specs = {name: (folder, config)}``: ``(zoos, table)`` with the zoos by
    name and one row per zoo (architecture, optimizer, networks, mean train/test accuracy, how many
    sit at chance on their training set, how many diverged, seconds spent building). ``only_tasks``:
    the tasks to build of every zoo, or ``{name: tasks}`` for some of them (the others in full).
    ``build``: the function that builds one zoo, :func:`build_zoo`'s arguments
    (:meth:`wsm.zoos.engine.Engine.build_zoo` spreads the work over a Ray cluster)."""
    import pandas as pd

    zoos, rows = {}, []
    for name, (folder, cfg) in specs.items():
        t0 = time.time()
        only = only_tasks.get(name) if isinstance(only_tasks, dict) else only_tasks
        z = zoos[name] = build(folder, cfg, data_root, download, only_tasks=only)
        runs = z.table()
        chance = 1 / len(z.runs[0].classes)
        rows.append(dict(zoo=name, architecture=nets.LABELS[cfg.arch], optimizer=cfg.optimizer, lr=cfg.lr,
                         networks=len(z), train_acc=round(runs.train_acc.mean(), 3),
                         test_acc=round(runs.test_acc.mean(), 3),
                         at_chance=int((runs.train_acc <= chance + 0.02).sum()),
                         diverged=int((~runs.finite).sum()), build_seconds=round(time.time() - t0)))
    return zoos, pd.DataFrame(rows).set_index("zoo")


def load_zoo(path: str | Path, cfg: ZooConfig | None = None, only_tasks=None, epoch: int | None = None) -> Zoo:
    """Load a zoo (only the tasks ``only_tasks`` of it, if given); with ``cfg``, refuse a folder
    trained with another configuration (on whatever device: the device is provenance). ``epoch``:
    the zoo's networks as they were after that epoch, one of its ``checkpoints`` (its last epoch:
    the runs themselves).

    Every run file is read once here, one at a time, to check its checksum and whether its weights
    are finite; the zoo then keeps its runs' metadata only, and their weights are read from the
    files when used (:class:`StoredState`), so a zoo of any size loads in the memory of one network.
    Run files written before runs recorded their device get the zoo's recorded device."""
    path = Path(path)
    if not (path / "zoo.json").exists():
        raise WsmError(f"no zoo in {path} (zoo.json missing): build it with wsm.zoos.zoo.build_zoo")
    if cfg is not None:
        _check_config(path, cfg)
    stored = {"seeding": "index-v0"} | json.loads((path / "zoo.json").read_text())   # zoos from before seeding
    cfg = cfg or ZooConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in stored.items()})
    if only_tasks is not None:
        cfg = dataclasses.replace(cfg, tasks=tuple(only_tasks))
    if epoch == cfg.epochs:
        epoch = None
    if epoch is not None and epoch not in cfg.checkpoints:
        raise WsmError(f"the zoo in {path} keeps no checkpoint of epoch {epoch}: its checkpoints are "
                       f"{list(cfg.checkpoints) or 'none'} and its last epoch is {cfg.epochs}")
    runs = []
    for t in cfg.tasks:
        for r in range(cfg.runs):
            f = _run_file(path, t, r, epoch)
            if not f.exists():
                raise WsmError(f"{f} is missing: run build_zoo again to train the missing runs")
            runs.append(_read_run(f, stored.get("device")))
    return Zoo(path, cfg, runs)


def _read_run(f: Path, zoo_device: str | None) -> Run:
    """The run of file ``f``, checked, with its weights left in the file (:class:`StoredState`)."""
    try:
        record = torch.load(f, weights_only=True, map_location="cpu")
        digest = record.pop("sha256", None)
        record.setdefault("device", zoo_device)      # written when the device was part of the zoo's identity
        run = Run(**record)
    except Exception as e:  # a damaged file: say which, and how to recover
        raise WsmError(f"{f} cannot be read ({type(e).__name__}): delete that file and "
                       "build the zoo again; only that run is retrained") from None
    if digest != _digest(run.state_dict):
        raise WsmError(f"{f} fails its checksum (its weights changed after training): delete "
                       "that file and build the zoo again; only that run is retrained")
    weights = run.weights
    run.state_dict = StoredState(f, list(run.state_dict), _finite(weights), len(weights))
    return run


def _finite(weights) -> bool:
    """Whether every weight is finite (numpy's check: torch's is slow with threads on a busy machine)."""
    import numpy as np

    return all(bool(np.isfinite((w if w.dtype != torch.bfloat16 else w.float()).numpy()).all()) for w in weights)


def _save_run(path: Path, run: Run) -> None:
    record = dataclasses.asdict(run)
    record["sha256"] = _digest(run.state_dict)
    atomic_write(_run_file(path, run.task, run.run, run.epoch), lambda f: torch.save(record, f))


def _digest(state_dict: dict) -> str:
    """SHA-256 of a state_dict's names, shapes, dtypes and bytes, in key order."""
    h = hashlib.sha256()
    for k in sorted(state_dict):
        t = state_dict[k].detach().cpu().contiguous()
        h.update(f"{k}:{tuple(t.shape)}:{t.dtype};".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()


def is_checkpoint(name: str) -> bool:
    """Whether a file name in a zoo's ``runs`` folder is a checkpoint's (:func:`_run_file` with an epoch)."""
    return re.fullmatch(r"t\d{3,}-r\d{3,}-e\d{3,}\.pt", name) is not None


def _run_file(path: Path, task: int, run: int, epoch: int | None = None) -> Path:
    """A run's file; a checkpoint's (``epoch``) sits beside it: ``t000-r000-e003.pt``."""
    name = f"t{task:03d}-r{run:03d}"
    return path / "runs" / (f"{name}.pt" if epoch is None else f"{name}-e{epoch:03d}.pt")
