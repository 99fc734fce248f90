"""Every notebook's papermill parameters, for each profile, in one place.

* ``smoke``: seconds per notebook; checks that everything runs (``make test``).
* ``quick``: the whole book in well under 30 minutes on a 2-core laptop CPU (``make reproduce``).
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

NOTEBOOKS = ("s3_3_chain_normalization", "s4_1_tiny_imagenet", "appendix_d_resnet_mlp", "iclr_bottom_up")

_FIG2_PAPER = dict(
    dataset="tiny-imagenet", n_tasks=50, runs=100, train_per_class=None,
    mlp_epochs=100, mlp_milestones=[70], cnn_epochs=50, cnn_milestones=[30],
    chains=3, train_fraction=0.6, retrieval_train_fraction=0.6, query_fraction=0.2,
    clf_epochs=10, clf_lr=0.001, clf_milestones=[6], alpha=0.05, seed=0, device="auto",
)

# Appendix D (Table 2): ResNet-MLP-12 on 2-class CIFAR-100 tasks, weight classification only; the
# CIFAR schedule of the authors' code (SGD lr 0.1, momentum 0.9, wd 1e-4, batch 128, 50 epochs, / 10
# after 30). The dataset is chosen by wsm.data.resolve_cifar (the stand-in outside `paper`).
_TABLE2_PAPER = dict(
    n_tasks=50, runs=100, train_per_class=None, epochs=50, milestones=[30], chain_numbers=[3, 5, 7, 9, 11],
    train_fraction=0.6, clf_epochs=10, clf_lr=0.001, clf_milestones=[6], alpha=0.05, seed=0, device="auto",
)
# The ICLR "bottom-up" page reuses s4_1's zoos (the first n_tasks tasks of them).
_ICLR_PAPER = dict(n_tasks=50, chains=3, mixed_depths=[2, 3], train_fraction=0.6, clf_epochs=10, clf_lr=0.001,
                   clf_milestones=[6], alpha=0.05, seed=0)

PROFILES: dict[str, dict[str, dict]] = {
    "smoke": {
        "s3_3_chain_normalization": dict(dataset="tiny-imagenet", epochs=1, train_per_class=50, seed=0),
        "s4_1_tiny_imagenet": _FIG2_PAPER | dict(
            n_tasks=4, runs=5, train_per_class=50, mlp_epochs=1, mlp_milestones=[],
            cnn_epochs=1, cnn_milestones=[], clf_epochs=10, clf_milestones=[6], device="cpu"),
        "appendix_d_resnet_mlp": _TABLE2_PAPER | dict(
            n_tasks=2, runs=5, train_per_class=50, epochs=1, milestones=[], clf_epochs=10, clf_milestones=[6],
            device="cpu"),
        "iclr_bottom_up": _ICLR_PAPER | dict(n_tasks=4, mixed_depths=[2], clf_epochs=10, clf_milestones=[6]),
    },
    "quick": {
        "s3_3_chain_normalization": dict(dataset="tiny-imagenet", epochs=5, train_per_class=None, seed=0),
        "s4_1_tiny_imagenet": _FIG2_PAPER | dict(
            n_tasks=10, runs=10, mlp_epochs=10, mlp_milestones=[7], cnn_epochs=4, cnn_milestones=[3],
            clf_epochs=500, clf_milestones=[300], device="cpu"),
        "appendix_d_resnet_mlp": _TABLE2_PAPER | dict(
            n_tasks=4, runs=10, epochs=5, milestones=[3], clf_epochs=200, clf_milestones=[120], device="cpu"),
        "iclr_bottom_up": _ICLR_PAPER | dict(n_tasks=3, mixed_depths=[2], clf_epochs=200, clf_milestones=[120]),
    },
    "paper": {
        "s3_3_chain_normalization": dict(dataset="tiny-imagenet", epochs=100, train_per_class=None, seed=0),
        "s4_1_tiny_imagenet": dict(_FIG2_PAPER),
        "appendix_d_resnet_mlp": dict(_TABLE2_PAPER),
        "iclr_bottom_up": dict(_ICLR_PAPER),
    },
}

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
    for name in ("n_tasks", "runs", "epochs", "mlp_epochs", "cnn_epochs", "clf_epochs", "chains"):
        if name in params and not (isinstance(params[name], int) and params[name] >= 1):
            raise WsmError(f"parameter {name} must be a positive integer, got {params[name]!r}")
    for name in ("train_fraction", "retrieval_train_fraction", "query_fraction", "alpha"):
        if name in params and not 0 < params[name] < 1:
            raise WsmError(f"parameter {name} must lie strictly between 0 and 1, got {params[name]!r}")
    return params


def zoo_config(params: dict, arch: str, tasks: int | None = None, runs: int | None = None):
    """The :class:`wsm.zoo.ZooConfig` of ``arch`` under a notebook's parameters (``n_tasks``, ``runs``,
    ``mlp_*``/``cnn_*`` epochs and milestones, ...), optionally with fewer tasks or runs."""
    from wsm import zoo

    prefix = "mlp_" if arch == "mlp4" else "" if "epochs" in params else "cnn_"   # one schedule: epochs
    return zoo.ZooConfig(dataset=params["dataset"], arch=arch, tasks=tuple(range(tasks or params["n_tasks"])),
                         runs=runs or params["runs"], epochs=params[f"{prefix}epochs"],
                         milestones=tuple(params[f"{prefix}milestones"]), train_per_class=params["train_per_class"],
                         seed=params["seed"], device=device(params["device"]))


def zoo_folder(zoo_root, params: dict, arch: str, suffix: str = ""):
    """Where a profile keeps the zoo of ``arch``: ``<zoo_root>/<dataset>-<arch>-<profile><suffix>``."""
    from pathlib import Path

    return Path(zoo_root) / f"{params['dataset']}-{arch}-{params['profile']}{suffix}"


def device(name: str) -> str:
    """Resolve ``auto`` to ``cuda`` when a GPU is present, else ``cpu``."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise WsmError("device 'cuda' was requested but no CUDA GPU is visible: use device='cpu' or 'auto'")
    return name
