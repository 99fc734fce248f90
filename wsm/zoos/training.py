"""Training the networks of a weight zoo (Section 4.1, "Training"): the configuration, the run
record, the one-at-a-time loop, the random draws and batches every trainer shares, and the pool of
one-thread worker processes.

* :class:`ZooConfig`: everything that determines the weights of a zoo.
* :class:`Run`: one trained network and what is known of it.
* :func:`train_network`: the reference loop, one network at a time. :mod:`wsm.zoos.vectorized` (many
  image networks as one batched program) and :mod:`wsm.zoos.gru` (GRU-2 on NameData) train the same
  runs from the same seeds and the same :func:`draws`.
* :func:`workers_for`, :func:`process_pool`: how many one-thread processes train at once.

Storage (run files, checksums, resuming an interrupted build) is :mod:`wsm.zoos.zoo`'s.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from wsm.maths import chain
from wsm.zoos import data, nets
from wsm.core.errors import WsmError


OPTIMIZERS = ("sgd", "adam")
SEEDING = "identity-v1"      # how run seeds are derived (ZooConfig.seed_of); "index-v0": before zoos were independent


@dataclass(frozen=True)
class ZooConfig:
    """Everything that determines the weights of a zoo. Defaults: Section 4.1 with the authors'
    code for what the paper leaves open (momentum 0.9, weight decay 1e-4, crop+flip augmentation).
    For ``arch="gru2"`` (NameData, :mod:`wsm.zoos.gru`) ``epochs`` and ``milestones`` count single-name
    SGD steps, as Appendix F counts batches.

    ``device`` is where the missing runs are trained: provenance, not identity. A zoo trained on one
    device is read, and completed, on any other (the weights of two devices agree up to float
    rounding); each run records the device that trained it (:attr:`Run.device`)."""

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
    seeding: str = SEEDING               # how run seeds are derived: see seed_of
    twin_of: str | None = None           # another zoo's scope whose seeds this zoo shares, by name (seed_of)
    # epochs (before the last) after which each run is also saved (zoo.load_zoo(epoch=))
    checkpoints: tuple[int, ...] = ()

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
            _check_gru(self)
        if (any(not 1 <= e < self.epochs for e in self.checkpoints)
                or list(self.checkpoints) != sorted(set(self.checkpoints))):
            raise WsmError(f"checkpoints must be increasing epochs from 1 to {self.epochs - 1} (the last epoch is "
                           f"the run itself), got {list(self.checkpoints)}")
        if self.checkpoints and self.arch == "gru2":
            raise WsmError("checkpoints are for image zoos (a gru2 zoo counts steps, not epochs): use checkpoints=()")
        if self.seeding not in (SEEDING, "index-v0"):
            raise WsmError(f"unknown seeding {self.seeding!r}: valid ones are {SEEDING} and index-v0")

    @property
    def scope(self) -> str:
        """The name of this zoo's random stream: ``twin_of`` where the zoo asks to share another zoo's
        seeds, else a digest of every setting that makes it another zoo (all but its tasks, runs,
        device, seeding and checkpoints), so two zoos that differ in anything (architecture, optimizer,
        dataset, schedule, ...) never share an initialization or a batch stream; saving checkpoints
        changes no weight, so a zoo with checkpoints has the runs of the same zoo without."""
        if self.twin_of is not None:
            return self.twin_of
        d = {k: v for k, v in self.as_dict().items()
             if k not in ("tasks", "runs", "device", "seeding", "twin_of", "checkpoints")}
        return hashlib.blake2b(json.dumps(d, sort_keys=True).encode(), digest_size=8).hexdigest()

    def seed_of(self, task: int, run: int) -> int:
        """The seed of run ``run`` of task ``task`` (the authors set none): a digest of the zoo's
        :attr:`scope`, its base ``seed``, the task and the run. Zoos trained before seeds depended on
        the zoo (``seeding="index-v0"``) keep their ``seed * 10^6 + task * 10^3 + run``."""
        if self.seeding == "index-v0":
            return self.seed * 1_000_000 + task * 1_000 + run
        key = json.dumps([self.scope, self.seed, int(task), int(run)]).encode()
        return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little") & (2**63 - 1)

    def as_dict(self) -> dict:
        d = json.loads(json.dumps(dataclasses.asdict(self)))   # tuples -> lists, as stored
        if d["optimizer"] == "sgd":
            del d["optimizer"]        # zoos trained before the field existed stay valid
        for key in ("twin_of", "checkpoints"):       # absent from zoos stored before the field existed
            if not d[key]:
                del d[key]
        return d


@dataclass
class Run:
    task: int
    run: int
    seed: int
    classes: list[int]
    train_acc: float              # on train_subset (TRAIN_ACC_PER_CLASS images of each class)
    test_acc: float
    final_loss: float
    seconds: float
    state_dict: dict = field(repr=False)
    device: str | None = None     # where it was trained (provenance); None in run files older than the field
    epoch: int | None = None      # a checkpoint's epoch (ZooConfig.checkpoints); None: the trained run itself

    @property
    def weights(self) -> list[torch.Tensor]:
        return chain.layer_weights(self.state_dict)

    @property
    def finite(self) -> bool:
        known = getattr(self.state_dict, "finite", None)      # a stored run's, checked when its file was read
        return known if known is not None else all(torch.isfinite(w).all() for w in self.weights)


def _check_gru(cfg: ZooConfig) -> None:
    """A GRU-2 zoo is NameData with plain batch-1 SGD (Appendix F); ``cfg.epochs`` counts single-name steps."""
    bad = []
    if cfg.momentum != 0 or cfg.weight_decay != 0:
        bad.append(f"momentum {cfg.momentum} / weight_decay {cfg.weight_decay} (Appendix F: plain SGD, use 0)")
    if cfg.batch_size != 1 or cfg.augment or cfg.train_per_class is not None:
        bad.append("batch_size/augment/train_per_class (use 1 / False / None: one name per step)")
    if cfg.optimizer != "sgd":
        bad.append(f"optimizer {cfg.optimizer!r} (Appendix F: SGD)")
    if bad:
        raise WsmError("a gru2 zoo does not support " + "; ".join(bad))


def draws(n, batch_size, gen, augment):
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


def images(x, idx, oy=None, ox=None, flip=None):
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
    mean = torch.tensor(data.NORM_MEAN, device=dev).view(3, 1, 1)
    std = torch.tensor(data.NORM_STD, device=dev).view(3, 1, 1)
    return (xb.float() / 255 - mean) / std


def batches(x, y, batch_size, gen, augment):
    """Shuffled mini-batches, with random crop (padding 4) and horizontal flip when augmenting; the
    images are cut on ``x``'s device."""
    for idx, oy, ox, flip in draws(len(x), batch_size, gen, augment):
        yield images(x, idx, oy, ox, flip), y[idx.to(y.device)]


def accuracy(net, x, y, device, batch_size=None, memory_format=torch.contiguous_format) -> float:
    """The share of ``x`` that ``net`` (in eval mode) classifies as ``y``. The images are fed in the
    network's ``memory_format`` (a channels-last CNN fed NCHW images converts every layer's input)
    and, on the CPU, 128 at a time (faster there than 500 for the CNNs); the weights are not
    touched, so no result built on them moves."""
    if batch_size is None:
        batch_size = 128 if str(device) == "cpu" else 500
    net.eval()
    correct = 0
    with torch.no_grad():
        for xb, yb in batches(x, y, batch_size, torch.Generator().manual_seed(0), augment=False):
            correct += (net(xb.to(device).contiguous(memory_format=memory_format)).argmax(1).cpu() == yb).sum().item()
    return correct / len(x)


# A run's train accuracy is measured on at most this many training images of each class (the first
# of each class in the task's stored order, the same images for every run of the task). It is a
# diagnostic (the zoo tables' mean train accuracy, networks at chance); measured on every image
# (2,000 per Tiny ImageNet task) its evaluation passes cost PlainNet-5 a large share of its CPU
# training time (the Deviations page). A network that predicts one class scores exactly 1 / classes
# on it, as on all images.
TRAIN_ACC_PER_CLASS = 125


def train_subset(x: torch.Tensor, y: torch.Tensor, per_class: int | None = None):
    """``(x, y)`` cut to the training images a run's train accuracy is measured on
    (``per_class``, by default :data:`TRAIN_ACC_PER_CLASS`, of each class, the first in stored order)."""
    per_class = TRAIN_ACC_PER_CLASS if per_class is None else per_class
    idx = torch.cat([torch.nonzero(y == c).flatten()[:per_class] for c in torch.unique(y)])
    if len(idx) == len(y):
        return x, y
    idx = idx.sort().values
    return x[idx], y[idx]


def train_network(cfg: ZooConfig, task_data: data.TaskData, run: int, on_checkpoint=None) -> Run:
    """Train one network on one task with SGD (or Adam) and the step schedule (lr / 10 at each milestone).
    ``on_checkpoint``: called with a :class:`Run` of the network as it is after each epoch of
    ``cfg.checkpoints`` (its ``epoch`` set; accuracies measured then; ``seconds`` so far)."""
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
    xa, ya = train_subset(x, y)                         # the train accuracy's images
    loss = torch.tensor(float("nan"))

    def record(epoch=None):
        state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        return Run(task=task_data.task, run=run, seed=seed, classes=list(task_data.classes),
                   train_acc=accuracy(net, xa, ya, cfg.device, memory_format=fmt),
                   test_acc=accuracy(net, task_data.x_test, task_data.y_test, cfg.device, memory_format=fmt),
                   final_loss=float(loss.detach()), seconds=time.time() - t0, state_dict=state,
                   device=str(cfg.device), epoch=epoch)

    for epoch in range(1, cfg.epochs + 1):
        net.train()
        for xb, yb in batches(xd, y, cfg.batch_size, gen, cfg.augment):
            xb = xb.contiguous(memory_format=fmt)
            loss = F.cross_entropy(net(xb), yb.to(cfg.device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
        if on_checkpoint is not None and epoch in cfg.checkpoints:
            on_checkpoint(record(epoch))     # evaluation draws from its own generator: the training goes on alike
    return record()


def subsample(td: data.TaskData, per_class: int | None) -> data.TaskData:
    if per_class is None:
        return td
    keep = torch.cat([torch.nonzero(td.y_train == c).flatten()[:per_class] for c in range(len(td.classes))])
    return dataclasses.replace(td, x_train=td.x_train[keep], y_train=td.y_train[keep])


def workers_for(cfg: ZooConfig, n_runs: int, batched: bool, workers: int | None = None) -> int:
    """How many processes train the runs of a CPU zoo at once: ``workers`` when given; by default one
    per core, each on one thread, where networks are trained one at a time on the CPU (every image
    architecture: faster than one two-thread process, ``bench/bench_training.py``'s "processes x 1
    thread" rows in ``book/benchmarks/``) and for GRU-2, whose one-thread batched chunks (``n_runs``
    counts chunks there) then run side by side; else 1."""
    if workers is not None:
        if not (isinstance(workers, int) and workers >= 1):
            raise WsmError(f"workers must be a positive integer, got {workers!r}")
        return min(workers, max(1, n_runs))
    import os

    if batched or cfg.device != "cpu" or n_runs < 2:
        return 1
    return max(1, min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
                      n_runs))


def worker_init() -> None:
    """A zoo worker: one thread; on Linux it dies with its parent (a killed build leaves no orphan
    training on; its unfinished run leaves only a temporary file, removed by the next build)."""
    torch.set_num_threads(1)
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def process_pool(workers: int):
    """A pool of ``workers`` spawned one-thread processes (:func:`worker_init`), shared by the
    one-at-a-time image trainer (:func:`wsm.zoos.zoo.build_zoo`) and the GRU-2 chunks (:mod:`wsm.zoos.gru`)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=worker_init)
