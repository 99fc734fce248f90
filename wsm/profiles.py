"""Every notebook's papermill parameters, for each profile, in one place.

* ``smoke``: seconds per notebook; checks that everything runs (``make test``).
* ``quick``: the whole book within 45 minutes on a 2-core laptop CPU (``make reproduce``; each page's
  cost is on the Performance page).
* ``paper``: the paper's settings (Section 4.1): 50 tasks x 100 runs, 60/40 split, alpha = 5%,
  SGD batch 128, MLP-4 100 epochs (lr / 10 after 70), PlainNet-5 50 epochs (lr / 10 after 30),
  classifier 10 epochs of batch-1 SGD at lr 0.001 (/ 10 after 6). Meant for a GPU.

Scaled-down profiles keep the paper's ratios (60/40 runs, 60/40 tasks for retrieval, 20% queries)
and put the learning-rate drop at the same fraction of training. ``quick`` also keeps the weight
classifier's number of SGD steps: the paper's 10 epochs over 3,000 networks are 30,000 batch-1
steps, which over quick's 60 training networks is 500 epochs (lr / 10 after 300).
"""

from __future__ import annotations

from wsm import data
from wsm.errors import WsmError

NOTEBOOKS = ("s3_3_chain_normalization", "s4_1_tiny_imagenet", "s4_2_cifar100", "s4_3_namedata",
             "s4_4_network_variants", "s4_5_cross_network", "appendix_d_resnet_mlp", "iclr_bottom_up",
             "beyond_the_paper", "summary")


_FIG2_PAPER = dict(
    dataset="tiny-imagenet", n_tasks=50, runs=100, train_per_class=None,
    mlp_epochs=100, mlp_milestones=[70], cnn_epochs=50, cnn_milestones=[30], cnn_batch_size=128,
    chains=3, train_fraction=0.6, retrieval_train_fraction=0.6, query_fraction=0.2,
    clf_epochs=10, clf_lr=0.001, clf_milestones=[6], alpha=0.05, seed=0, device="auto",
    null_repeats=100,
)

# Table 1 (Appendix F): 9 tasks x 100 GRU-2 runs, 10,000 single-name SGD steps at lr 0.1, / 10 after
# 7,000; retrieval trains the classifier on 5 tasks (the authors' code) and tests 4 unseen ones.
_TABLE1_PAPER = dict(
    dataset="namedata", n_tasks=9, runs=100, steps=10_000, step_milestones=[7_000], lr=0.1,
    chains=2, train_fraction=0.6, retrieval_train_fraction=5 / 9, query_fraction=0.2,
    clf_epochs=10, clf_lr=0.001, clf_milestones=[6], alpha=0.05, seed=0, device="cpu", null_repeats=100,
)

# "Beyond the paper" reuses the s4_1 zoos (same zoo parameters), plus its controls' sizes.
_BEYOND = dict(copies=5, shuffled_runs=10, shuffled_per_class=None, rotation_nets=5, probe_per_task=25,
               runs_grid=[3, 5, 10, 30, 60, 100], wm_sweeps=20, baseline_depths=[1, 2, 3])

# The CIFAR-100 PlainNet-5 zoo of Fig. 3 is Fig. 4's Baseline and Fig. 5's Net A: its settings live
# here only, and every CIFAR page derives its zoo configurations from them (same config, same folder,
# trained once). Section 4.2 / Appendix E: 50 two-class tasks x 100 runs; the CIFAR schedule of the
# ICLR text and the authors' code: 50 epochs, lr 0.1 / 10 after 30, batch 128. "dataset": "cifar100"
# is resolved by wsm.data.resolve_cifar100 (the stand-in only for smoke and quick).
# quick: 5 CNN zoos must train in a few minutes on 2 cores: 8 tasks x 5 runs, 300 images per class,
# three epochs at batch 32 (57 SGD steps, lr / 10 after 2; one epoch left the Fig. 3 chains at or
# below chance in the first full quick run: 8 of 40 PlainNet-5 networks at chance). At batch 128, 150 images/class and 2 epochs (6 steps)
# the networks stayed at chance (train accuracy 0.56) and so did every chain; batch 32 buys 4x the
# steps for the same images. Checked on 4 tasks x 5 runs of this setting (stand-in, shared loaded
# CPU): train accuracy 0.61; chain C1 classified 5 of 8 held-out networks (chance 2 of 8), C2-C3 and
# the layers at chance: a weak signal only. See the Deviations page.
_CIFAR_ZOO = {
    "smoke": dict(dataset="cifar100", n_tasks=4, runs=5, train_per_class=50, cnn_epochs=1, cnn_milestones=[],
                  batch_size=128, seed=0, device="cpu"),
    "quick": dict(dataset="cifar100", n_tasks=8, runs=5, train_per_class=300, cnn_epochs=3, cnn_milestones=[2],
                  batch_size=32, seed=0, device="cpu"),
    "paper": dict(dataset="cifar100", n_tasks=50, runs=100, train_per_class=None, cnn_epochs=50,
                  cnn_milestones=[30], batch_size=128, seed=0, device="auto"),
}
# MLP-4 on CIFAR-100: "The implementation of CIFAR-100 is similar to that of tiny ImageNet" (App. E),
# so the Tiny ImageNet MLP-4 schedule of the ICLR text (100 epochs, / 10 after 70).
# quick: at batch 32 (the CNNs' quick batch) and lr 0.1 every MLP-4 died (the ReLU after its 2-unit
# output layer zeroes both logits: train accuracy 0.50); at the paper's batch 128, 10 epochs (50 SGD
# steps at 300 images per class) brought 7 of 8 probe networks to 0.56-0.91 train accuracy.
_CIFAR_MLP = {"smoke": dict(mlp_epochs=1, mlp_milestones=[], mlp_batch_size=128),
              "quick": dict(mlp_epochs=10, mlp_milestones=[7], mlp_batch_size=128),
              "paper": dict(mlp_epochs=100, mlp_milestones=[70], mlp_batch_size=128)}
_CIFAR_HTT = {
    "smoke": dict(chains=3, train_fraction=0.6, retrieval_train_fraction=0.6, query_fraction=0.2, clf_epochs=10,
                  clf_lr=0.001, clf_milestones=[6], alpha=0.05, null_repeats=20),
    "quick": dict(chains=3, train_fraction=0.6, retrieval_train_fraction=0.6, query_fraction=0.2, clf_epochs=100,
                  clf_lr=0.001, clf_milestones=[60], alpha=0.05, null_repeats=100),   # 2,400 steps over 24 networks
    "paper": dict(chains=3, train_fraction=0.6, retrieval_train_fraction=0.6, query_fraction=0.2, clf_epochs=10,
                  clf_lr=0.001, clf_milestones=[6], alpha=0.05, null_repeats=100),
}


def _cifar(profile: str, notebook: str) -> dict:
    """A CIFAR page's parameters: the shared zoo settings, MLP-4's schedule (Fig. 3) or Adam's lr
    (Fig. 4-5), and the weight classifier's."""
    extra = _CIFAR_MLP[profile] if notebook == "s4_2_cifar100" else dict(adam_lr=0.001)
    return _CIFAR_ZOO[profile] | extra | _CIFAR_HTT[profile]


# Section 4.4's zoos: name -> (architecture, optimizer). Baseline is Fig. 3's PlainNet-5 zoo.
VARIANTS = {"Baseline": ("plainnet5", "sgd"), "Depth": ("plainnet6", "sgd"), "Res5": ("res5", "sgd"),
            "Leaky": ("leaky", "sgd"), "Adam": ("plainnet5", "adam")}

# Appendix D (Table 2): ResNet-MLP-12 on 2-class CIFAR-100 tasks, weight classification only; the
# CIFAR schedule of the authors' code (SGD lr 0.1, momentum 0.9, wd 1e-4, batch 128, 50 epochs, / 10
# after 30). The dataset is chosen by wsm.data.resolve_cifar100 (the stand-in outside `paper`).
_TABLE2_PAPER = dict(
    n_tasks=50, runs=100, train_per_class=None, epochs=50, milestones=[30], chain_numbers=[3, 5, 7, 9, 11],
    train_fraction=0.6, clf_epochs=10, clf_lr=0.001, clf_milestones=[6], alpha=0.05, seed=0, device="auto",
    null_repeats=100,
)
# The ICLR "bottom-up" page reuses s4_1's zoos (the first n_tasks tasks of them).
_ICLR_PAPER = dict(n_tasks=50, chains=3, mixed_depths=[2, 3], train_fraction=0.6, clf_epochs=10, clf_lr=0.001,
                   clf_milestones=[6], alpha=0.05, seed=0, null_repeats=100)

PROFILES: dict[str, dict[str, dict]] = {
    "smoke": {
        "s3_3_chain_normalization": dict(dataset="tiny-imagenet", epochs=1, train_per_class=50, seed=0),
        "s4_1_tiny_imagenet": _FIG2_PAPER | dict(
            n_tasks=4, runs=5, train_per_class=50, mlp_epochs=1, mlp_milestones=[],
            cnn_epochs=1, cnn_milestones=[], clf_epochs=10, clf_milestones=[6], device="cpu",
            null_repeats=20),
        "summary": dict(alpha=0.05),
        "s4_3_namedata": _TABLE1_PAPER | dict(runs=4, steps=100, step_milestones=[70], null_repeats=20),

        "s4_2_cifar100": _cifar("smoke", "s4_2_cifar100"),
        "s4_4_network_variants": _cifar("smoke", "s4_4_network_variants"),
        "s4_5_cross_network": _cifar("smoke", "s4_5_cross_network"),

        "appendix_d_resnet_mlp": _TABLE2_PAPER | dict(
            n_tasks=2, runs=5, train_per_class=50, epochs=1, milestones=[], clf_epochs=10, clf_milestones=[6],
            device="cpu", null_repeats=20),
        "iclr_bottom_up": _ICLR_PAPER | dict(n_tasks=4, mixed_depths=[2], clf_epochs=10, clf_milestones=[6],
                                             null_repeats=20),
    },
    "quick": {
        "s3_3_chain_normalization": dict(dataset="tiny-imagenet", epochs=5, train_per_class=None, seed=0),
        # PlainNet-5: 3 epochs at batch 64 (96 SGD steps, lr / 10 after 2) instead of 4 at 128 (64 steps):
        # 720 s instead of 875 s for the 100 networks on 2 cores, and chain top-1 77.5 / 72.5 / 72.5%
        # against 72.5 / 72.5 / 65% (3 epochs at batch 128: 55 / 55 / 40%), so the quick book fits 45 min
        "s4_1_tiny_imagenet": _FIG2_PAPER | dict(
            n_tasks=10, runs=10, mlp_epochs=10, mlp_milestones=[7], cnn_epochs=3, cnn_milestones=[2],
            cnn_batch_size=64, clf_epochs=500, clf_milestones=[300], device="cpu", null_repeats=100),
        "summary": dict(alpha=0.05),
        # 1,500 GRU steps (drop at 70%) fit ~4 minutes on 2 cores with the batched trainer; 108 training
        # networks: 50 epochs keep the paper's 5,400 classifier steps (10 epochs x 540)
        "s4_3_namedata": _TABLE1_PAPER | dict(runs=20, steps=1_500, step_milestones=[1_050],
                                              clf_epochs=50, clf_milestones=[30]),

        "s4_2_cifar100": _cifar("quick", "s4_2_cifar100"),
        "s4_4_network_variants": _cifar("quick", "s4_4_network_variants"),
        "s4_5_cross_network": _cifar("quick", "s4_5_cross_network"),

        "appendix_d_resnet_mlp": _TABLE2_PAPER | dict(
            n_tasks=4, runs=10, epochs=5, milestones=[3], clf_epochs=200, clf_milestones=[120], device="cpu"),
        "iclr_bottom_up": _ICLR_PAPER | dict(n_tasks=3, mixed_depths=[2], clf_epochs=200, clf_milestones=[120]),
    },
    "paper": {
        "s3_3_chain_normalization": dict(dataset="tiny-imagenet", epochs=100, train_per_class=None, seed=0),
        "s4_1_tiny_imagenet": dict(_FIG2_PAPER),
        "summary": dict(alpha=0.05),

        "s4_3_namedata": dict(_TABLE1_PAPER),

        "s4_2_cifar100": _cifar("paper", "s4_2_cifar100"),
        "s4_4_network_variants": _cifar("paper", "s4_4_network_variants"),
        "s4_5_cross_network": _cifar("paper", "s4_5_cross_network"),

        "appendix_d_resnet_mlp": dict(_TABLE2_PAPER),
        "iclr_bottom_up": dict(_ICLR_PAPER),
    },
}

PROFILES["smoke"]["beyond_the_paper"] = PROFILES["smoke"]["s4_1_tiny_imagenet"] | _BEYOND | dict(
    copies=2, shuffled_runs=3, shuffled_per_class=50, rotation_nets=1, probe_per_task=10, runs_grid=[3, 5],
    wm_sweeps=2, baseline_depths=[1])
PROFILES["quick"]["beyond_the_paper"] = PROFILES["quick"]["s4_1_tiny_imagenet"] | _BEYOND | dict(
    copies=5, shuffled_runs=5, shuffled_per_class=100, rotation_nets=3, probe_per_task=20, runs_grid=[3, 5, 10],
    wm_sweeps=5)
PROFILES["paper"]["beyond_the_paper"] = PROFILES["paper"]["s4_1_tiny_imagenet"] | _BEYOND

# What every notebook receives besides its own parameters (filled in by wsm.reproduce).
COMMON = ("profile", "data_root", "zoo_root", "results_dir")


def parameters(profile: str, notebook: str) -> dict:
    """The parameters of ``notebook`` under ``profile`` (a copy)."""
    if profile not in PROFILES:
        raise WsmError(f"unknown profile {profile!r}: valid profiles are {', '.join(PROFILES)}")
    if notebook not in PROFILES[profile]:
        raise WsmError(f"unknown notebook {notebook!r}: valid notebooks are {', '.join(NOTEBOOKS)}")
    return dict(PROFILES[profile][notebook], profile=profile)


def check(notebook: str, params: dict) -> dict:
    """Refuse unknown parameter names and invalid values with a message listing the valid ones."""
    valid = set(PROFILES["paper"].get(notebook, {})) | set(COMMON)
    if notebook not in NOTEBOOKS:
        raise WsmError(f"unknown notebook {notebook!r}: valid notebooks are {', '.join(NOTEBOOKS)}")
    unknown = sorted(set(params) - valid)
    if unknown:
        raise WsmError(f"unknown parameter(s) {', '.join(unknown)} for notebook {notebook}: "
                       f"valid parameters are {', '.join(sorted(valid))}")
    if "profile" in params and params["profile"] not in PROFILES:
        raise WsmError(f"unknown profile {params['profile']!r}: valid profiles are {', '.join(PROFILES)}")
    if "dataset" in params and params["dataset"] not in data.DATASETS:
        raise WsmError(f"unknown dataset {params['dataset']!r}: valid datasets are {', '.join(data.DATASETS)}")
    if "device" in params and params["device"] not in ("cpu", "cuda", "auto"):
        raise WsmError(f"unknown device {params['device']!r}: valid devices are cpu, cuda, auto")
    for name in ("n_tasks", "runs", "epochs", "mlp_epochs", "cnn_epochs", "clf_epochs", "chains", "steps"):
        if name in params and not (isinstance(params[name], int) and params[name] >= 1):
            raise WsmError(f"parameter {name} must be a positive integer, got {params[name]!r}")
    if "null_repeats" in params and not (isinstance(params["null_repeats"], int) and params["null_repeats"] >= 0):
        raise WsmError(f"parameter null_repeats must be a non-negative integer (0: no permutation null), "
                       f"got {params['null_repeats']!r}")
    for name in ("train_fraction", "retrieval_train_fraction", "query_fraction", "alpha"):
        if name in params and not 0 < params[name] < 1:
            raise WsmError(f"parameter {name} must lie strictly between 0 and 1, got {params[name]!r}")
    return params


def zoo_config(params: dict, arch: str, tasks: int | None = None, runs: int | None = None,
               optimizer: str = "sgd"):
    """The :class:`wsm.zoo.ZooConfig` of ``arch`` under a notebook's parameters (``n_tasks``, ``runs``,
    ``mlp_*``/``cnn_*`` epochs and milestones, ...), optionally with fewer tasks or runs; with
    ``optimizer="adam"`` Adam at ``params["adam_lr"]`` (Section 4.4)."""
    from wsm import zoo

    prefix = "mlp_" if arch == "mlp4" else "" if "epochs" in params else "cnn_"   # one schedule: epochs
    extra = dict(optimizer="adam", lr=params["adam_lr"]) if optimizer == "adam" else {}
    return zoo.ZooConfig(dataset=params["dataset"], arch=arch, tasks=tuple(range(tasks or params["n_tasks"])),
                         runs=runs or params["runs"], epochs=params[f"{prefix}epochs"],
                         milestones=tuple(params[f"{prefix}milestones"]), train_per_class=params["train_per_class"],
                         seed=params["seed"], device=device(params["device"]),
                         batch_size=params.get(f"{prefix}batch_size", params.get("batch_size", 128)), **extra)


def variant_zoo(zoo_root, params: dict, name: str):
    """``(folder, config)`` of one of Section 4.4's zoos (:data:`VARIANTS`); ``Baseline`` is the very
    zoo of Fig. 3's PlainNet-5 (same folder, same configuration)."""
    if name not in VARIANTS:
        raise WsmError(f"unknown network variant {name!r}: valid ones are {', '.join(VARIANTS)}")
    arch, optimizer = VARIANTS[name]
    return (zoo_folder(zoo_root, params, arch, "-adam" if optimizer == "adam" else ""),
            zoo_config(params, arch, optimizer=optimizer))


def gru_zoo_config(params: dict):
    """The :class:`wsm.zoo.ZooConfig` of the GRU-2 NameData zoo (``epochs`` = single-name steps)."""
    from wsm import zoo

    return zoo.ZooConfig(dataset="namedata", arch="gru2", tasks=tuple(range(params["n_tasks"])), runs=params["runs"],
                         epochs=params["steps"], milestones=tuple(params["step_milestones"]), lr=params["lr"],
                         momentum=0.0, weight_decay=0.0, batch_size=1, augment=False, seed=params["seed"],
                         device=device(params["device"]))


def zoo_folder(zoo_root, params: dict, arch: str, suffix: str = ""):
    """Where a profile keeps the zoo of ``arch``: ``<zoo_root>/<dataset>-<arch>-<profile><suffix>``."""
    from pathlib import Path

    return Path(zoo_root) / f"{params['dataset']}-{arch}-{params['profile']}{suffix}"


def gram_cache(zoo_root):
    """Where the notebooks keep Gram matrices by content (:func:`wsm.chain.gram`'s ``cache``):
    ``<zoo_root>/grams``, so Fig. 2's Grams serve the pages that reuse its zoos."""
    from pathlib import Path

    return Path(zoo_root) / "grams"


def device(name: str) -> str:
    """Resolve ``auto`` to ``cuda`` when a GPU is present, else ``cpu``."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise WsmError("device 'cuda' was requested but no CUDA GPU is visible: use device='cpu' or 'auto'")
    return name
