"""Networks from files: one way to read a saved network, safe by default.

:func:`read` loads a file with ``torch.load(weights_only=True)``, which runs no code from the file.
Besides tensors and plain containers it accepts the metadata research checkpoints usually carry
(:data:`METADATA`: an ``argparse.Namespace`` of arguments, numpy scalars and arrays such as a
``best_acc``). A file that holds anything else (a whole model saved with ``torch.save(model)``,
an optimizer or scheduler object of a library, a class of your own) is refused with a message
that lists what it holds; ``trust=True`` (``--trust`` on the command line) then loads it as a full
pickle, which runs code from the file: only for files whose source you trust.

:func:`network` finds the network in what was loaded: a state_dict, an ``nn.Module``, or a
checkpoint dict with the network under one of :data:`NESTED` (``state_dict``, ``model``,
``model_state_dict``, ``net``, ...; wsm's zoo run files keep it under ``state_dict``).
:func:`labelled` reads a folder of networks with the task of each (the input of ``wsm htt``).
"""

from __future__ import annotations

import argparse
import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from wsm.core.errors import WsmError

NESTED = ("state_dict", "model_state_dict", "model", "net", "network", "module", "model_state", "state",
          "weights", "params")
SUFFIXES = (".pt", ".pth", ".ckpt", ".tar", ".bin")


def _metadata_globals() -> list:
    """The harmless classes and functions a weights-only load may rebuild besides tensors."""
    try:
        from numpy._core import multiarray
    except ImportError:                       # numpy 1.x
        from numpy.core import multiarray

    allowed = [argparse.Namespace, np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar,
               (multiarray._reconstruct, "numpy.core.multiarray._reconstruct"),     # numpy 1.x pickles
               (multiarray.scalar, "numpy.core.multiarray.scalar")]
    return allowed + sorted({type(np.dtype(code)) for code in "?bBhHiIlLqQefdgFDGUSOMm"}, key=str)


METADATA = ("argparse.Namespace", "numpy scalars, arrays and dtypes")


def read(path, trust: bool = False):
    """What ``path`` holds, loaded on the CPU: weights-only (plus :data:`METADATA`) unless ``trust``.

    Raises :class:`WsmError` for a missing or unreadable file, and for a file with other pickled
    objects when ``trust`` is false, naming them and the way to opt in."""
    path = Path(path)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise WsmError(f"{path} {what}: give the path of a file written by torch.save(model.state_dict(), path)")
    with warnings.catch_warnings():             # torch's own advice would precede our one-line message
        warnings.simplefilter("ignore")
        if _torchscript(path):
            if not trust:
                raise WsmError(f"{path} is a TorchScript archive (torch.jit.save), which holds code, so it was not "
                               "loaded: if you trust the file's source, pass --trust (Python: trust=True) to read it "
                               "with torch.jit.load; otherwise save model.state_dict() instead")
            return torch.jit.load(path, map_location="cpu")
        try:
            if trust:
                return torch.load(path, map_location="cpu", weights_only=False)
            with torch.serialization.safe_globals(_metadata_globals()):
                return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:   # pickle, zip and permission errors all mean the same to the user
            if not trust and re.search(r"Unsupported global", str(e)):
                raise WsmError(_refusal(path)) from None
            missing = _unimportable(e, path) if trust else None
            if missing:
                raise WsmError(f"{path} is a PyTorch file holding {missing}, which cannot be imported here, so the "
                               "object cannot be rebuilt: run wsm where that class can be imported (its module on "
                               "PYTHONPATH; a class defined in the training script itself, __main__, never can), or "
                               "save model.state_dict() instead") from None
            kind = "it is empty" if isinstance(e, EOFError) else type(e).__name__
            raise WsmError(f"{path} cannot be read as a PyTorch file ({kind}): give a file written by "
                           "torch.save(model.state_dict(), path)") from None


def _unimportable(error: Exception, path: Path) -> str | None:
    """What class a full unpickling of ``path`` could not import (``error``: what ``torch.load`` raised), or None."""
    text = str(error)
    found = re.search(r"Can't get attribute '([^']+)' on <module '([^']+)'", text)
    if found:
        return f"an object of class {found.group(1)} from module {found.group(2)}"
    found = re.search(r"No module named '([^']+)'", text)
    if not (isinstance(error, ModuleNotFoundError) or found):
        return None
    module = found.group(1) if found else str(getattr(error, "name", "?"))
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:
        names = []
    classes = sorted({n.rsplit(".", 1)[1] for n in names if n.startswith(module + ".")})
    return (f"an object of class {', '.join(classes)} from module {module}" if classes
            else f"objects of module {module}")


def _torchscript(path: Path) -> bool:
    """Whether ``path`` is a TorchScript archive (a zip with the module's code), not a pickle."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            return any(n.split("/", 1)[-1].startswith("code/") for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _refusal(path: Path) -> str:
    """Why a weights-only load refused ``path``: the pickled types it holds, and how to opt in."""
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:
        names = []
    allowed = {f"{g.__module__}.{g.__qualname__}" if not isinstance(g, tuple) else g[1] for g in _metadata_globals()}
    names = [n for n in names if n not in allowed] or ["objects of unknown type"]
    modules = [n for n in names if n.startswith("torch.nn.modules.")]
    what = ("a whole model saved with torch.save(model, path)" if modules
            else "pickled objects a weights-only load does not rebuild")
    shown = ", ".join(sorted(names, key=lambda n: n not in modules)[:6]) + (
        f" and {len(names) - 6} more" if len(names) > 6 else "")
    return (f"{path} holds {what} (pickled: {shown}); loading it runs code from the file, so it was not loaded. If you "
            "trust the file's source, pass --trust (Python: trust=True); otherwise save model.state_dict() "
            "instead")


def network(obj, label: str):
    """The network in a loaded object: an ``nn.Module`` or a state_dict as is; from a checkpoint
    dict, the entry under the first of :data:`NESTED` that holds a module or tensors."""
    if isinstance(obj, torch.jit.ScriptModule):
        return obj.state_dict()                     # its submodules are not nn.Linear/nn.Conv2d objects
    if isinstance(obj, nn.Module):
        return obj
    if not isinstance(obj, Mapping):
        raise WsmError(f"{label} holds a {type(obj).__name__}, not a network: expected a state_dict, an "
                       f"nn.Module, or a dict with the state_dict under one of {', '.join(NESTED)}")
    for key in NESTED:
        inner = obj.get(key)
        if isinstance(inner, nn.Module) or (isinstance(inner, Mapping) and _tensors(inner)):
            return inner
    if _tensors(obj):
        return obj
    keys = ", ".join(map(str, list(obj)[:8])) or "none"
    raise WsmError(f"{label} holds no network (top-level keys: {keys}): expected a state_dict, or a dict with the "
                   f"state_dict under one of {', '.join(NESTED)}")


def _tensors(d: Mapping) -> bool:
    return any(isinstance(v, torch.Tensor) for v in d.values())


def load(path, trust: bool = False):
    """The network saved in ``path``: :func:`network` of :func:`read`."""
    return network(read(path, trust), str(path))


def labelled(folder, labels=None, trust: bool = False, notes: list | None = None):
    """``(files, tasks)``: the networks of ``folder`` and the task of each; ``notes``, a list given
    here, gets a sentence naming the network files of ``folder`` that a labels file leaves out.

    ``labels``: a CSV file with a header row and the columns ``file`` (a path relative to
    ``folder``, or absolute) and ``task`` (any name or number); only the files it lists are used.
    Without it, every network file of ``folder`` (:data:`SUFFIXES`; a wsm zoo folder: its ``runs/``)
    with the task its own ``task`` entry gives, as wsm's zoo run files have (a zoo's checkpoints,
    ``t000-r000-e003.pt``, are not its networks and are left out)."""
    import pandas as pd

    folder = Path(folder)
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.is_file() else "does not exist"
        raise WsmError(f"{folder} {what}: give the folder that holds the network files")
    if labels is None:
        from wsm.zoos import zoo

        base = folder / "runs" if (folder / "zoo.json").is_file() else folder
        files = sorted(f for f in base.iterdir() if f.suffix in SUFFIXES and f.is_file()
                       and not (base != folder and zoo.is_checkpoint(f.name)))
        if not files:
            raise WsmError(f"{base} holds no network files ({', '.join(SUFFIXES)})")
        tasks = []
        for f in files:
            record = read(f, trust)
            if not isinstance(record, Mapping) or "task" not in record:
                raise WsmError(f"{f} has no 'task' entry: give a labels file (CSV with columns file,task) naming "
                               "the task of each network")
            tasks.append(record["task"])
        return files, [str(t) for t in tasks]
    labels = Path(labels)
    if not labels.is_file():
        raise WsmError(f"labels file {labels} does not exist: give a CSV with the columns file,task")
    if labels.stat().st_size == 0:
        raise WsmError(f"labels file {labels} is empty: give a CSV with a header row file,task and one line per "
                       "network")
    try:            # utf-8-sig: a file saved by Excel starts with a byte-order mark, which is not part of "file"
        table = pd.read_csv(labels, sep=None, engine="python", dtype=str, skipinitialspace=True,
                            encoding="utf-8-sig")
    except Exception as e:
        raise WsmError(f"labels file {labels} cannot be read as CSV ({type(e).__name__}): give a CSV with a header "
                       "row and the columns file,task") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = {"file", "task"} - set(table.columns)
    if missing:
        raise WsmError(f"labels file {labels} has no column {' or '.join(sorted(missing))} (its columns: "
                       f"{', '.join(table.columns)}): give a CSV with a header row file,task")
    table = table.dropna(how="all")
    if table.empty:
        raise WsmError(f"labels file {labels} lists no networks (only its header row): add one line file,task per "
                       "network")
    for i, row in enumerate(table.itertuples(), start=2):
        if pd.isna(row.file) or pd.isna(row.task):
            raise WsmError(f"labels file {labels}, line {i}: a file and a task are needed on every line")
    dup = table.file[table.file.duplicated()]
    if len(dup):
        raise WsmError(f"labels file {labels} lists {dup.iloc[0]} more than once")
    files = [Path(f) if Path(f).is_absolute() else folder / f for f in table.file]
    for i, f in enumerate(files, start=2):
        if not f.is_file():
            raise WsmError(f"labels file {labels}, line {i}: {f} does not exist")
    listed = {f.resolve() for f in files}
    unlisted = sorted(f.name for f in folder.iterdir() if f.suffix in SUFFIXES and f.is_file()
                      and f.resolve() not in listed)
    if unlisted and notes is not None:
        shown = ", ".join(unlisted[:3]) + (f" and {len(unlisted) - 3} more" if len(unlisted) > 3 else "")
        notes.append(f"{len(unlisted)} network file{'s' if len(unlisted) > 1 else ''} of {folder} not in {labels.name} "
                     f"{'were' if len(unlisted) > 1 else 'was'} left out ({shown}): add a line file,task for each "
                     "network the test should use")
    return files, [str(t).strip() for t in table.task]


def chain_of(net, label: str, notes: list | None = None):
    """:func:`wsm.maths.chain.chain_layers` of a loaded network, with two explanations it does not give:
    weights that do not chain because they are stored out of forward order get a message naming
    an order in which they do chain, and ``notes`` (a list given here) gets a sentence naming the
    BatchNorm layers whose parameters are not part of any chain."""
    from wsm.maths import chain

    try:
        layers = chain.chain_layers(net, label)
    except WsmError as e:
        if "do not form a chain" not in str(e):
            raise
        order = _forward_order(_candidates(net))
        if order is None:
            raise
        stored = [name for name, _ in _candidates(net)]
        raise WsmError(f"the weight layers of {label} are stored in the order {', '.join(stored)}, in which they do "
                       f"not form a chain, but they do in the order {', '.join(order)}: PyTorch stores a module's "
                       "layers in the order __init__ creates them, not the order forward() uses them; create them in "
                       "forward order (or save a state_dict whose keys are in that order)") from None
    norms = list(dict.fromkeys(n[len("module."):] if n.startswith("module.") else n     # nn.DataParallel's prefix
                               for n in _batch_norms(net)))
    if norms and notes is not None:
        shown = ", ".join(norms[:3]) + (f" and {len(norms) - 3} more" if len(norms) > 3 else "")
        notes.append(f"BatchNorm layers ({shown}) carry no chain weight and are not used (as in the paper): the "
                     "chains are the Linear and Conv2d weights")
    return layers


def _candidates(net) -> list[tuple[str, torch.Tensor]]:
    """The Linear/Conv2d weights of a network (a module or a state_dict) in stored order, residual
    projections ('shortcut') left out, as :func:`wsm.maths.chain.chain_layers` takes them."""
    if isinstance(net, nn.Module):
        items = [(f"{n}.weight", m.weight) for n, m in net.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    elif isinstance(net, Mapping):
        items = [(str(k), v) for k, v in net.items()
                 if isinstance(v, torch.Tensor) and str(k).endswith("weight") and v.dim() in (2, 4)]
    else:
        items = []
    return [(n, w) for n, w in items if "shortcut" not in n.split(".")]


def _forward_order(named, most: int = 12) -> list[str] | None:
    """An order of the weights ``named`` in which each takes the previous one's outputs (a Linear may
    take a flattened feature map), or None (also for more than ``most`` layers)."""
    if not 1 < len(named) <= most:
        return None

    def follows(prev, w):
        out = prev.shape[0]
        return w.shape[1] == out or (w.dim() == 2 and prev.dim() == 4 and w.shape[1] % out == 0)

    def extend(seq, left):
        if not left:
            return seq
        for i in left:
            if not seq or follows(named[seq[-1]][1], named[i][1]):
                found = extend(seq + [i], [j for j in left if j != i])
                if found:
                    return found
        return None

    found = extend([], list(range(len(named))))
    return None if found is None or found == sorted(found) else [named[i][0] for i in found]


def _batch_norms(net) -> list[str]:
    """The names of a network's BatchNorm layers (a module's, or a state_dict's running statistics)."""
    if isinstance(net, nn.Module):
        return [n for n, m in net.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if isinstance(net, Mapping):
        return [str(k)[:-len(".running_mean")] for k in net if str(k).endswith(".running_mean")]
    return []
