"""Each page's experiment, resolved once: its dataset, its zoos, its protocol and its scale.

    page = experiments.page("s4_1_tiny_imagenet", "quick", {"null_repeats": 20})
    zoos, built = page.build_zoos()          # {name: Zoo}, one row per zoo
    table = page.evaluate(zoos)              # both protocols, every chain and layer, with intervals

A :class:`Page` holds everything a notebook needs, each resolved in one place from the profile's
settings (:mod:`wsm.core.profiles`) and the caller's overrides:

* ``dataset``: the dataset key (the CIFAR-100 stand-in where CIFAR-100 is missing and the profile
  allows it, :func:`wsm.zoos.data.resolve_cifar100`); ``device``: ``auto`` resolved to ``cuda`` or ``cpu``;
* ``engine``: where zoos are built and Grams computed (:class:`wsm.zoos.engine.Engine`: the profile's,
  :data:`wsm.core.profiles.ENGINES`, unless ``WSM_ENGINE`` / ``WSM_RAY_ADDRESS`` say otherwise);
* ``zoos``: every zoo the page trains or reuses, ``name -> ZooSpec(folder, ZooConfig)``. A page
  that reuses another page's zoos asks that page (:data:`OWNERS`): Fig. 4's Baseline *is* Fig. 3's
  PlainNet-5 zoo, Fig. 5 tests Fig. 4's zoos, and the ICLR and "Beyond" pages read Fig. 2's;
* ``protocol``: the splits, seeds, alpha, the permutation null, the weight classifier, the depths of
  the chains and layers, and where Gram matrices are computed and kept (:class:`Protocol`);
* ``scale``: the sentence every figure, banner and results row states;
* ``settings``: every resolved setting by name (the page's own and its owner's), for the banner and
  the page-specific ones (the controls' sizes of "Beyond", the chain numbers of Table 2, ...).

Overrides are checked here: an unknown name or a bad value is refused with the valid ones listed.
A name that only the owning page knows (``n_tasks`` on Fig. 5's page, say) is passed to that page.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from wsm.core import paths, profiles
from wsm.maths import htt
from wsm.zoos import data, engine, nets, training
from wsm.core.errors import WsmError

# The pages whose zoos another page owns: page -> owner.
OWNERS = {"s4_4_network_variants": "s4_2_cifar100", "s4_5_cross_network": "s4_4_network_variants",
          "iclr_bottom_up": "s4_1_tiny_imagenet", "beyond_the_paper": "s4_1_tiny_imagenet",
          "ablations": "s4_1_tiny_imagenet", "zoo_size": "s4_1_tiny_imagenet"}

# Section 4.4's zoos: name -> (architecture, optimizer). Baseline is Fig. 3's PlainNet-5 zoo.
VARIANTS = {"Baseline": ("plainnet5", "sgd"), "Depth": ("plainnet6", "sgd"), "Res5": ("res5", "sgd"),
            "Leaky": ("leaky", "sgd"), "Adam": ("plainnet5", "adam")}

DEVICES = ("cpu", "cuda", "auto")


class ZooSpec(NamedTuple):
    """Where a zoo lives and the configuration it is trained with."""

    folder: Path
    config: training.ZooConfig


def resolve_device(name: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; ``cuda`` without a GPU is refused."""
    import torch

    if name not in DEVICES:
        raise WsmError(f"unknown device {name!r}: valid devices are {', '.join(DEVICES)}")
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise WsmError("device 'cuda' was requested but no CUDA GPU is visible: use device='cpu' or 'auto'")
    return name


@dataclass(frozen=True)
class Protocol:
    """How a page tests the hypothesis (Sections 3.2-3.4): which chains and layers, both protocols
    (or classification only), their splits and seeds, alpha, the permutation null and the weight
    classifier; Gram matrices are computed on ``device`` by ``engine`` and kept in ``gram_cache``."""

    chains: tuple[int, ...]                   # depths of the chain-normalized features (C1, C2, ...)
    layers: tuple[int, ...]                   # depths of the unnormalized layers (L1, L2, ...)
    protocols: tuple[str, ...]
    train_fraction: float
    retrieval_train_fraction: float | None
    query_fraction: float | None
    seed: int
    alpha: float
    null_repeats: int
    classifier: htt.ClassifierConfig
    device: str
    gram_cache: Path | None
    engine: engine.Engine = engine.Engine()

    @property
    def splits(self) -> dict:
        """The split settings, as :func:`wsm.maths.htt.evaluate` and :func:`wsm.analyses.baselines.protocols` take
        them."""
        return dict(train_fraction=self.train_fraction, retrieval_train_fraction=self.retrieval_train_fraction,
                    query_fraction=self.query_fraction, seed=self.seed)

    def evaluate(self, weights, labels, runs=None, runs_per_task: int | None = None, progress: bool = True,
                 classifiers=("linear",)):
        """:func:`wsm.maths.htt.evaluate` of one set of networks: every layer, then every chain, under both
        protocols; ``runs`` (each network's run number) and ``runs_per_task`` make the splits follow
        run identity; ``classifiers``: the paper's linear weight classifier and/or the nearest neighbour."""
        import pandas as pd

        return htt.paired(pd.concat([
            htt.evaluate(weights, labels, depths, kinds=(kind,), cfg=self.classifier, alpha=self.alpha,
                         progress=progress, null_repeats=self.null_repeats, protocols=self.protocols,
                         gram_cache=self.gram_cache, device=self.device, gram=self.engine.gram, runs=runs,
                         runs_per_task=runs_per_task, classifiers=classifiers, **self.splits)
            for kind, depths in (("unnormalized", self.layers), ("normalized", self.chains)) if depths],
            ignore_index=True))

    def evaluate_zoo(self, zoo, progress: bool = True, classifiers=("linear",)):
        """:meth:`evaluate` of a :class:`wsm.zoos.zoo.Zoo` (its usable networks, split by run identity)."""
        return self.evaluate(*zoo.usable(), zoo.usable_runs(), zoo.config.runs, progress, classifiers)

    def cross_network(self, source, target, progress: bool = True):
        """:func:`wsm.maths.htt.cross_network`: classifiers trained on the zoo ``source`` (Net A) tested on
        the zoo ``target`` (Net B), every chain and layer; both zoos split by the same run numbers."""
        return htt.cross_network(*source.usable(), *target.usable(), depths=self.chains, cfg=self.classifier,
                                 alpha=self.alpha, progress=progress, null_repeats=self.null_repeats,
                                 device=self.device, runs_a=source.usable_runs(), runs_b=target.usable_runs(),
                                 runs_per_task=source.config.runs, gram=self.engine.gram, **self.splits)

    def classification(self, k, labels, null: bool = True, runs=None, runs_per_task: int | None = None):
        """:func:`wsm.maths.htt.classification` on a Gram matrix ``k`` (with the permutation null unless
        ``null=False``; split by run identity where ``runs`` is given)."""
        return htt.classification(k, labels, self.train_fraction, self.seed, self.classifier,
                                  self.null_repeats if null else 0, runs=runs, runs_per_task=runs_per_task)


@dataclass(frozen=True)
class Page:
    """One page's experiment, resolved (see the module's doc)."""

    notebook: str
    profile: str
    dataset: str
    device: str
    zoos: dict[str, ZooSpec]
    protocol: Protocol | None
    scale: str
    settings: dict
    data_root: Path
    zoo_root: Path
    results_dir: Path
    owner: Page | None = field(default=None, repr=False)
    only_tasks: dict = field(default_factory=dict)     # zoo name -> the tasks of it this page reads (absent: all)
    engine: engine.Engine = engine.Engine()

    def build_zoos(self, names=None, download: bool = False):
        """Train what is missing of the page's zoos (or of ``names``) with the page's engine and load
        them: ``(zoos, table)`` as :func:`wsm.zoos.zoo.build_zoos` (a zoo another page built is only loaded)."""
        from wsm.zoos import zoo

        names = list(self.zoos) if names is None else list(names)
        return zoo.build_zoos({n: self.zoos[n] for n in names}, self.data_root, download,
                              only_tasks={n: self.only_tasks[n] for n in names if n in self.only_tasks},
                              build=self.engine.build_zoo)

    def evaluate(self, zoos: dict, progress: bool = True):
        """The page's protocol on every zoo of ``zoos`` (name -> :class:`wsm.zoos.zoo.Zoo`): one table,
        a ``zoo`` column naming each row's zoo. A diverged run is excluded with a warning."""
        import pandas as pd

        return pd.concat([self.protocol.evaluate_zoo(z, progress).assign(zoo=name, **self.setting_columns(name))
                          for name, z in zoos.items()], ignore_index=True)

    def figure_rows(self, zoos: dict, figure: str, panels: dict, progress: bool = True):
        """:meth:`evaluate` as a figure's rows: in percent (:func:`wsm.maths.htt.percent`), each row with the
        figure, its panel (``panels``: (zoo, protocol) -> panel letter), the architecture's label and the
        paper's value (:func:`wsm.report.claims.paper_values`)."""
        from wsm.report import claims

        ours = self.evaluate(zoos, progress)
        ours = htt.percent(ours.assign(figure=figure, panel=[panels[(z, p)] for z, p in zip(ours.zoo, ours.protocol)],
                                       architecture=ours.zoo.map(nets.LABELS)), self.alpha)
        ours["paper"] = claims.paper_values(ours, figure)
        return ours

    def setting_columns(self, name: str) -> dict:
        """Where zoo ``name``'s results were measured, as the results table records it
        (:data:`wsm.report.claims.SETTING_COLUMNS`: the dataset key, its tasks as this page reads them, runs per
        task, the schedule's length and the protocol's split fractions); :mod:`wsm.report.claims` compares it
        with the paper's."""
        cfg = self.zoos[name].config
        proto = self.protocol
        return dict(data=cfg.dataset, tasks=len(self.only_tasks.get(name, cfg.tasks)), runs=cfg.runs,
                    epochs=cfg.epochs, train_fraction=proto.train_fraction if proto else np.nan,
                    retrieval_train_fraction=proto.retrieval_train_fraction if proto else np.nan,
                    query_fraction=proto.query_fraction if proto else np.nan)

    def zoo_for(self, arch: str, tasks: int | None = None, runs: int | None = None, suffix: str = "") -> ZooSpec:
        """The zoo of any architecture under this page's settings, optionally with fewer tasks or runs
        (the ``wsm zoo`` command); in the page's zoo root, with ``suffix`` after the profile."""
        p = self.settings | dict(dataset=self.dataset, device=self.device)
        ctx = dict(profile=self.profile, zoo_root=self.zoo_root)
        if arch == "gru2":
            return gru_zoo(p, ctx, tasks, runs, suffix)
        return image_zoo(p, ctx, arch, suffix, tasks=tasks, runs=runs)

    @property
    def alpha(self) -> float:
        """The page's significance level (the paper's rule: accept H0 when the test error is below it)."""
        return self.protocol.alpha if self.protocol is not None else self.settings["alpha"]

    @property
    def n_tasks(self) -> int:
        """How many learning tasks the page's zoos hold (or it reads of them)."""
        first = next(iter(self.zoos))
        return len(self.only_tasks.get(first, self.zoos[first].config.tasks))

    def label(self, name: str) -> str:
        """A zoo's name as pages show it (architecture keys become their labels: ``mlp4`` -> MLP-4)."""
        return nets.LABELS.get(name, name)

    def paper_scale(self) -> dict:
        """``n_tasks`` and ``runs`` of this page's zoos under the ``paper`` profile (:func:`paper_scale`)."""
        return paper_scale(self.notebook)

    def banner(self) -> None:
        """What the page is executed with: profile, dataset and scale in one line, then every resolved
        setting: the page's own and its protocol's (:meth:`table`), and each zoo's (:meth:`zoo_table`)."""
        from IPython.display import display

        from wsm.report import results

        results.banner(self.profile, self.dataset, self.scale)
        display(self.table().style.hide(axis="index"))
        if self.zoos:
            display(self.zoo_table())

    def table(self):
        """The page's and its protocol's settings, one row each: ``part`` (page or protocol), setting, value."""
        import pandas as pd

        rows = [("page", k, v) for k, v in [("notebook", self.notebook), ("profile", self.profile),
                                            ("dataset", self.dataset), ("device", self.device),
                                            ("engine", self.engine.name + (f" at {self.engine.address}"
                                                                           if self.engine.address else ""))]]
        rows += [("page", k, v) for k, v in self.settings.items() if k not in _ZOO_KEYS | _PROTOCOL_KEYS]
        rows += [("page", f"tasks read of zoo {n}", list(t)) for n, t in self.only_tasks.items()]
        if self.protocol is not None:
            for f in dataclasses.fields(self.protocol):
                if f.name == "engine":
                    continue                     # the page's, in the rows above
                v = getattr(self.protocol, f.name)
                rows += ([("protocol", f"classifier.{k}", x) for k, x in dataclasses.asdict(v).items()]
                         if f.name == "classifier" else [("protocol", f.name, v)])
        rows = [(p, s, f"<zoo root>/{v.relative_to(self.zoo_root)}" if isinstance(v, Path) else v) for p, s, v in rows]
        return pd.DataFrame([(p, s, _show(v)) for p, s, v in rows], columns=["part", "setting", "value"])

    def zoo_table(self):
        """Every zoo's folder and configuration: one column per zoo, one row per setting."""
        import pandas as pd

        return pd.DataFrame({name: {"folder": folder.name} | {k: _show(v) for k, v in dataclasses.asdict(cfg).items()}
                             for name, (folder, cfg) in self.zoos.items()})


# ---------------------------------------------------------------- resolving a page

# Settings that shape a zoo, and settings of the protocol (the rest are a page's own).
_ZOO_KEYS = {"dataset", "n_tasks", "runs", "train_per_class", "epochs", "milestones", "batch_size", "mlp_epochs",
             "mlp_milestones", "mlp_batch_size", "cnn_epochs", "cnn_milestones", "cnn_batch_size", "steps",
             "mlp_checkpoints", "cnn_checkpoints",
             "step_milestones", "lr", "adam_lr", "seed", "device"}
_PROTOCOL_KEYS = {"chains", "chain_numbers", "train_fraction", "retrieval_train_fraction", "query_fraction",
                  "clf_epochs", "clf_lr", "clf_milestones", "alpha", "null_repeats", "seed"}


def _show(v) -> str:
    """A setting's value as the banner shows it (no local paths: folders are named relative to their root)."""
    return (v if isinstance(v, str) and v.startswith("<")
            else repr(list(v)) if isinstance(v, tuple)
            else repr(v) if isinstance(v, str)
            else str(v))


def start(notebook: str, profile: str = "quick", overrides: dict | None = None, roots: dict | None = None):
    """What every page does first: resolve its experiment (:func:`page`; ``roots`` holds ``data_root``,
    ``zoo_root`` and ``results_dir``), set the figure style, show the banner with every setting, then
    train what is missing of its zoos and show them (one row per zoo). Returns ``(page, zoos)``."""
    from IPython.display import display

    from wsm.report import plots

    resolved = page(notebook, profile, overrides, **(roots or {}))
    plots.style()
    resolved.banner()
    if not resolved.zoos:
        return resolved, {}
    zoos, built = resolved.build_zoos()
    display(built)
    return resolved, zoos


def paper_scale(notebook: str) -> dict:
    """``n_tasks`` and ``runs`` of the zoos ``notebook`` reads under the ``paper`` profile: its own
    settings, else those of the page that owns its zoos (:data:`OWNERS`, followed to the end)."""
    found, page = {}, notebook
    while page is not None:
        found = {k: v for k, v in profiles.parameters("paper", page).items() if k in ("n_tasks", "runs")} | found
        page = OWNERS.get(page)
    return found


def valid_settings(notebook: str) -> set[str]:
    """The names a page's overrides may use: its own settings and those of the pages whose zoos it reuses."""
    _check_notebook(notebook)
    own = set(profiles.PROFILES["paper"][notebook])
    return own | (valid_settings(OWNERS[notebook]) if notebook in OWNERS else set())


def page(notebook: str, profile: str = "quick", overrides: dict | None = None, data_root=None, zoo_root=None,
         results_dir="results", check_data: bool = True) -> Page:
    """The resolved experiment of ``notebook`` under ``profile`` with ``overrides`` (a dict of setting
    names to values; :func:`valid_settings`). ``data_root`` and ``zoo_root`` default to
    :mod:`wsm.core.paths`'. ``check_data=False`` keeps a CIFAR-100 page on ``cifar100`` without looking
    for the data (planning: projections, tests of the settings)."""
    overrides = dict(overrides or {})
    _check_notebook(notebook)
    if profile not in profiles.PROFILES:
        raise WsmError(f"unknown profile {profile!r}: valid profiles are {', '.join(profiles.PROFILES)}")
    unknown = sorted(set(overrides) - valid_settings(notebook))
    if unknown:
        raise WsmError(f"unknown setting(s) {', '.join(unknown)} for page {notebook}: valid settings are "
                       f"{', '.join(sorted(valid_settings(notebook)))}")
    own_names = set(profiles.PROFILES["paper"][notebook])
    own = profiles.parameters(profile, notebook) | {k: v for k, v in overrides.items() if k in own_names}
    _check_values(own)
    ctx = dict(profile=profile, data_root=paths.data_root(data_root), zoo_root=paths.zoo_root(zoo_root),
               results_dir=Path(results_dir), check_data=check_data,
               engine=engine.resolve(default=profiles.ENGINES[profile]))
    owner = None
    if notebook in OWNERS:
        owner = page(OWNERS[notebook], profile, {k: v for k, v in overrides.items() if k not in own_names},
                     data_root, zoo_root, results_dir, check_data)
    return _BUILDERS[notebook](notebook, own, ctx, owner)


def _check_notebook(notebook: str) -> None:
    if notebook not in profiles.NOTEBOOKS:
        raise WsmError(f"unknown notebook {notebook!r}: valid notebooks are {', '.join(profiles.NOTEBOOKS)}")


def _check_values(p: dict) -> None:
    """Refuse invalid values, naming the valid range."""
    if "dataset" in p and p["dataset"] not in data.DATASETS:
        raise WsmError(f"unknown dataset {p['dataset']!r}: valid datasets are {', '.join(data.DATASETS)}")
    if "device" in p and p["device"] not in DEVICES:
        raise WsmError(f"unknown device {p['device']!r}: valid devices are {', '.join(DEVICES)}")
    for name in ("n_tasks", "runs", "epochs", "mlp_epochs", "cnn_epochs", "clf_epochs", "chains", "steps",
                 "batch_size", "mlp_batch_size", "cnn_batch_size", "copies", "shuffled_runs", "rotation_nets",
                 "probe_per_task", "wm_sweeps", "clf_steps"):
        if name in p and not (isinstance(p[name], int) and not isinstance(p[name], bool) and p[name] >= 1):
            raise WsmError(f"setting {name} must be a positive integer, got {p[name]!r}")
    if "null_repeats" in p and not (isinstance(p["null_repeats"], int) and p["null_repeats"] >= 0):
        raise WsmError(f"setting null_repeats must be a non-negative integer (0: no permutation null), "
                       f"got {p['null_repeats']!r}")
    for name in ("train_fraction", "retrieval_train_fraction", "query_fraction", "alpha"):
        if name in p and not (isinstance(p[name], (int, float)) and 0 < p[name] < 1):
            raise WsmError(f"setting {name} must lie strictly between 0 and 1, got {p[name]!r}")
    for name in ("mlp_milestones", "cnn_milestones", "milestones", "step_milestones", "clf_milestones",
                 "chain_numbers", "mixed_depths", "runs_grid", "baseline_depths", "split_seeds", "tasks_grid",
                 "mlp_checkpoints", "cnn_checkpoints"):
        if name in p and not (isinstance(p[name], (list, tuple)) and all(isinstance(x, int) and x >= 0 for x in p[name])
                              and (name == "split_seeds" or all(x >= 1 for x in p[name]))):
            raise WsmError(f"setting {name} must be a list of "
                           f"{'non-negative' if name == 'split_seeds' else 'positive'} "
                           f"integers, got {p[name]!r}")
    if p.get("train_per_class") is not None and not (isinstance(p["train_per_class"], int)
                                                     and p["train_per_class"] >= 1):
        raise WsmError(f"setting train_per_class must be a positive integer or None (every image), "
                       f"got {p['train_per_class']!r}")


def _dataset(p: dict, ctx: dict) -> str:
    if p["dataset"] == "cifar100" and ctx["check_data"]:
        return data.resolve_cifar100(ctx["profile"], ctx["data_root"])
    return p["dataset"]


def image_zoo(p: dict, ctx: dict, arch: str, suffix: str = "", optimizer: str = "sgd", tasks: int | None = None,
              runs: int | None = None) -> ZooSpec:
    """The zoo of ``arch`` under a page's settings ``p`` (``n_tasks``, ``runs``, the schedule: ``epochs``
    and ``milestones`` where a page has one schedule, else ``mlp_*`` for MLP-4 and ``cnn_*`` for the
    CNNs; ``adam_lr`` with ``optimizer="adam"``), in ``<zoo root>/<dataset>-<arch>-<profile><suffix>``."""
    prefix = "" if "epochs" in p else "mlp_" if arch == "mlp4" else "cnn_"
    extra = dict(optimizer="adam", lr=p["adam_lr"]) if optimizer == "adam" else {}
    cfg = training.ZooConfig(dataset=p["dataset"], arch=arch, tasks=tuple(range(tasks or p["n_tasks"])),
                             runs=runs or p["runs"], epochs=p[f"{prefix}epochs"],
                             milestones=tuple(p[f"{prefix}milestones"]), train_per_class=p["train_per_class"],
                             seed=p["seed"], device=p["device"], checkpoints=tuple(p.get(f"{prefix}checkpoints", ())),
                             batch_size=p.get(f"{prefix}batch_size", p.get("batch_size", 128)), **extra)
    return ZooSpec(folder(ctx, p["dataset"], arch, suffix), cfg)


def gru_zoo(p: dict, ctx: dict, tasks: int | None = None, runs: int | None = None, suffix: str = "") -> ZooSpec:
    """The GRU-2 NameData zoo (Appendix F: ``epochs`` counts single-name SGD steps)."""
    cfg = training.ZooConfig(dataset="namedata", arch="gru2", tasks=tuple(range(tasks or p["n_tasks"])),
                             runs=runs or p["runs"], epochs=p["steps"], milestones=tuple(p["step_milestones"]),
                             lr=p["lr"], momentum=0.0, weight_decay=0.0, batch_size=1, augment=False,
                             seed=p["seed"], device=p["device"])
    return ZooSpec(folder(ctx, "namedata", "gru2", suffix), cfg)


def folder(ctx: dict, dataset: str, arch: str, suffix: str = "") -> Path:
    """``<zoo root>/<dataset>-<arch>-<profile><suffix>``."""
    return ctx["zoo_root"] / f"{dataset}-{arch}-{ctx['profile']}{suffix}"


def _protocol(p: dict, ctx: dict, device: str, depths, layers=None, protocols=("classification", "retrieval")):
    """A page's :class:`Protocol` from its settings ``p`` (the split seed is the page's ``seed``; a page
    without one, Figs. 4-5, uses its zoos' seed, read from the owner's settings merged under ``p``)."""
    depths = tuple(depths)
    return Protocol(chains=depths, layers=depths if layers is None else tuple(layers), protocols=tuple(protocols),
                    train_fraction=p["train_fraction"], retrieval_train_fraction=p.get("retrieval_train_fraction"),
                    query_fraction=p.get("query_fraction"), seed=p["seed"], alpha=p["alpha"],
                    null_repeats=p["null_repeats"],
                    classifier=htt.ClassifierConfig(epochs=p["clf_epochs"], lr=p["clf_lr"],
                                                    milestones=tuple(p["clf_milestones"]), seed=1),
                    device=device, gram_cache=paths.gram_cache(ctx["zoo_root"]), engine=ctx["engine"])


def schedule(cfg: training.ZooConfig) -> str:
    """How a zoo's networks were trained, in words: ``3 epochs at batch 64`` (batch 128 unsaid),
    ``Adam lr 0.001``, ``1500 single-name SGD steps, lr 0.1 / 10 after 1050`` (GRU-2)."""
    if cfg.arch == "gru2":
        return (f"{cfg.epochs} single-name SGD steps, lr {cfg.lr} / 10 after "
                f"{', '.join(map(str, cfg.milestones)) or 'never'}")
    text = (f"{cfg.epochs} epoch{'s' * (cfg.epochs != 1)}"
            + ("" if cfg.batch_size == 128 else f" at batch {cfg.batch_size}"))
    return text + (f", Adam lr {cfg.lr}" if cfg.optimizer == "adam" else "")


def scale(zoos: dict[str, ZooSpec], device: str) -> str:
    """The sentence a page states its scale with: tasks x runs, each zoo's schedule (zoos of one
    schedule named together), the images per class and the device."""
    cfgs = [s.config for s in zoos.values()]
    groups: dict[str, list[str]] = {}
    for name, s in zoos.items():
        groups.setdefault(schedule(s.config), []).append(nets.LABELS.get(name, name))
    text = (f"{len(cfgs[0].tasks)} tasks x {cfgs[0].runs} runs per zoo; "
            + "; ".join(f"{', '.join(names)} {sched}" for sched, names in groups.items()))
    if cfgs[0].train_per_class is not None:
        text += f", {cfgs[0].train_per_class} images/class"
    return text + f"; device {device}"


def _make(notebook, p, ctx, dataset, device, zoos, protocol, scale_text, owner=None, only_tasks=None) -> Page:
    only_tasks = only_tasks or {}
    settings = dict(owner.settings if owner else {}) | p
    return Page(notebook=notebook, profile=ctx["profile"], dataset=dataset, device=device, zoos=zoos,
                protocol=protocol, scale=scale_text, settings=settings, data_root=ctx["data_root"],
                zoo_root=ctx["zoo_root"], results_dir=ctx["results_dir"], owner=owner, only_tasks=only_tasks,
                engine=ctx["engine"])


def _own_image_zoos(notebook, p, ctx, owner, archs=("mlp4", "plainnet5")):
    """Fig. 2 and Fig. 3: an MLP-4 and a PlainNet-5 zoo, both protocols, chains and layers 1..chains."""
    p = p | dict(dataset=_dataset(p, ctx), device=resolve_device(p["device"]))
    zoos = {a: image_zoo(p, ctx, a) for a in archs}
    return _make(notebook, p, ctx, p["dataset"], p["device"], zoos,
                 _protocol(p, ctx, p["device"], range(1, p["chains"] + 1)), scale(zoos, p["device"]))


def _single_networks(notebook, p, ctx, owner):
    """Section 3.3: one MLP-4 and one PlainNet-5 on task 0 (the permutation checks)."""
    zoos = {a: ZooSpec(folder(ctx, p["dataset"], a, "-single"),
                       training.ZooConfig(dataset=p["dataset"], arch=a, tasks=(0,), runs=1, epochs=p["epochs"],
                                          train_per_class=p["train_per_class"], seed=p["seed"]))
            for a in ("mlp4", "plainnet5")}
    return _make(notebook, p, ctx, p["dataset"], "cpu", zoos, None,
                 f"1 network per architecture on task 0, {p['epochs']} epoch{'s' * (p['epochs'] != 1)}")


def _names(notebook, p, ctx, owner):
    """Table 1: one GRU-2 zoo; the raw layer-1 input weight against chains 1..chains."""
    p = p | dict(device=resolve_device(p["device"]))
    zoos = {"gru2": gru_zoo(p, ctx)}
    return _make(notebook, p, ctx, "namedata", p["device"], zoos,
                 _protocol(p, ctx, p["device"], range(1, p["chains"] + 1), layers=(1,)), scale(zoos, p["device"]))


def _variants(notebook, p, ctx, owner):
    """Fig. 4: the Baseline (Fig. 3's PlainNet-5 zoo, asked of its page) and four zoos that each
    change one factor of it; same tasks, runs and schedule."""
    base = owner.zoos["plainnet5"]
    zoos = {}
    for name, (arch, optimizer) in VARIANTS.items():
        if name == "Baseline":
            zoos[name] = base
        elif optimizer == "adam":
            zoos[name] = ZooSpec(folder(ctx, owner.dataset, arch, "-adam"),
                                 dataclasses.replace(base.config, optimizer="adam", lr=p["adam_lr"]))
        else:
            zoos[name] = ZooSpec(folder(ctx, owner.dataset, arch), dataclasses.replace(base.config, arch=arch))
    return _make(notebook, p, ctx, owner.dataset, owner.device, zoos,
                 _protocol(owner.settings | p, ctx, owner.device, range(1, p["chains"] + 1)), scale(zoos, owner.device),
                 owner)


def _cross(notebook, p, ctx, owner):
    """Fig. 5: Fig. 4's zoos (asked of its page), classifiers trained on the Baseline."""
    return _make(notebook, p, ctx, owner.dataset, owner.device, dict(owner.zoos),
                 _protocol(owner.settings | p, ctx, owner.device, range(1, p["chains"] + 1)), owner.scale, owner)


def _resmlp(notebook, p, ctx, owner):
    """Table 2: one ResNet-MLP-12 zoo, weight classification at the chain numbers of the paper."""
    p = p | dict(dataset=_dataset(dict(dataset="cifar100"), ctx), device=resolve_device(p["device"]))
    zoos = {"resmlp12": image_zoo(p, ctx, "resmlp12")}
    return _make(notebook, p, ctx, p["dataset"], p["device"], zoos,
                 _protocol(p, ctx, p["device"], p["chain_numbers"], protocols=("classification",)),
                 scale(zoos, p["device"]))


def _bottom_up(notebook, p, ctx, owner):
    """ICLR Sec. 4.1: the first ``n_tasks`` tasks of Fig. 2's zoos (asked of its page)."""
    n_all = len(next(iter(owner.zoos.values())).config.tasks)
    if not 1 <= p["n_tasks"] <= n_all:
        raise WsmError(f"setting n_tasks={p['n_tasks']}: the {ctx['profile']} zoos of s4_1_tiny_imagenet have "
                       f"{n_all} tasks (use 1..{n_all})")
    text = (f"first {p['n_tasks']} of the tasks of s4_1's zoos ({owner.scale}); "
            f"classifier {p['clf_epochs']} epochs")
    return _make(notebook, p, ctx, owner.dataset, owner.device, dict(owner.zoos),
                 _protocol(p, ctx, owner.device, range(1, p["chains"] + 1), protocols=("classification",)),
                 text, owner, only_tasks={name: tuple(range(p["n_tasks"])) for name in owner.zoos})


def _beyond(notebook, p, ctx, owner):
    """Beyond the paper: Fig. 2's zoos and protocol (asked of its page), plus the MLP-4 zoo after one
    epoch (same seeds) for the controls: its checkpoint where the zoo keeps one, else a twin zoo."""
    from wsm.analyses import controls

    zoos = dict(owner.zoos)
    mlp = owner.zoos["mlp4"].config
    if mlp.epochs > 1 and 1 not in mlp.checkpoints:     # else its checkpoint (controls.after_epochs)
        zoos["mlp4-1epoch"] = ZooSpec(folder(ctx, owner.dataset, "mlp4", "-1epoch"), controls.epoch_config(mlp, 1))
    text = f"the s4_1 zoos ({owner.scale}); {owner.protocol.null_repeats} shuffles"
    return _make(notebook, p, ctx, owner.dataset, owner.device, zoos, owner.protocol, text, owner)


def _ablations(notebook, p, ctx, owner):
    """Ablations: Fig. 2's zoos and protocol (asked of its page; the null left out, ``null_repeats``),
    plus PlainNet-5 in the authors' code's unit order on the first ``unit_order_tasks`` tasks (its
    twin in everything but the order: same settings, its own seeds)."""
    base = owner.zoos["plainnet5"].config
    if not 3 <= p["unit_order_tasks"] <= len(base.tasks):     # retrieval: two training tasks, one unseen
        raise WsmError(f"setting unit_order_tasks={p['unit_order_tasks']}: use 3..{len(base.tasks)} (the tasks of "
                       "s4_1's PlainNet-5 zoo; retrieval needs two training tasks and one unseen)")
    # built on the first tasks only (only_tasks below); no checkpoints (saving them changes no weight,
    # and this page reads none)
    code = dataclasses.replace(base, arch="plainnet5bn", checkpoints=())
    zoos = dict(owner.zoos) | {"plainnet5bn": ZooSpec(folder(ctx, owner.dataset, "plainnet5bn"), code)}
    protocol = dataclasses.replace(owner.protocol, null_repeats=p["null_repeats"])
    text = (f"the s4_1 zoos ({owner.scale}); PlainNet-5 conv → BN → ReLU on {p['unit_order_tasks']} tasks; "
            f"split seeds {', '.join(map(str, p['split_seeds']))}")
    return _make(notebook, p, ctx, owner.dataset, owner.device, zoos, protocol, text, owner,
                 only_tasks={"plainnet5bn": tuple(range(p["unit_order_tasks"]))})


def _zoo_size(notebook, p, ctx, owner):
    """How big must a weight zoo be? Fig. 2's zoos and protocol (asked of its page; the null's
    shuffles are this page's ``null_repeats``): subsets of their runs and tasks, and their
    checkpoints (:mod:`wsm.analyses.scaling`)."""
    z = owner.zoos["plainnet5"].config
    if min(p["tasks_grid"]) < 3:
        raise WsmError(f"setting tasks_grid={p['tasks_grid']}: every point needs at least 3 tasks (retrieval "
                       "trains on two and tests one unseen)")
    if min(p["runs_grid"]) < 2:
        raise WsmError(f"setting runs_grid={p['runs_grid']}: every point needs at least 2 runs per task (one to "
                       "train the classifier, one to test it)")
    text = (f"subsets of the s4_1 zoos ({owner.scale}): runs per task {sorted({*p['runs_grid'], z.runs})}, tasks "
            f"{sorted({*p['tasks_grid'], len(z.tasks)})}, checkpoints "
            + "; ".join(f"{nets.LABELS[a]} {list(s.config.checkpoints) + [s.config.epochs]} epochs"
                        for a, s in owner.zoos.items()))
    protocol = dataclasses.replace(owner.protocol, null_repeats=p["null_repeats"])
    return _make(notebook, p, ctx, owner.dataset, owner.device, dict(owner.zoos), protocol, text, owner)


def _summary(notebook, p, ctx, owner):
    return _make(notebook, p, ctx, "every dataset of the book", "cpu", {}, None, "each page states its own scale")


_BUILDERS = {"s3_3_chain_normalization": _single_networks, "s4_1_tiny_imagenet": _own_image_zoos,
             "s4_2_cifar100": _own_image_zoos, "s4_3_namedata": _names, "s4_4_network_variants": _variants,
             "s4_5_cross_network": _cross, "appendix_d_resnet_mlp": _resmlp, "iclr_bottom_up": _bottom_up,
             "beyond_the_paper": _beyond, "ablations": _ablations, "zoo_size": _zoo_size, "summary": _summary}
