"""wsm.zoos.checkpoint: networks from files (weights-only by default, --trust to opt in), the usual
research checkpoint layouts, and the folder + labels file that ``wsm htt`` reads."""

import argparse
import dataclasses
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from wsm.maths import chain
from wsm.zoos import checkpoint
from wsm.analyses.compare import load_weights
from wsm.core.errors import WsmError


def cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.BatchNorm2d(8), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, 4))


@dataclasses.dataclass
class Settings:           # a class of the user's own, pickled into a checkpoint
    lr: float = 0.1


def _same(got, net):
    expected = chain.layer_weights(net)
    return len(got) == len(expected) and all(torch.equal(g, e) for g, e in zip(got, expected))


@pytest.mark.parametrize("layout", [
    lambda sd, opt: {"state_dict": sd, "args": argparse.Namespace(lr=0.1, arch="cnn", milestones=[30, 60]),
                     "best_acc": np.float64(0.93), "epoch": 90},
    lambda sd, opt: {"model": sd, "optimizer": opt, "best_acc1": torch.tensor(71.2), "arch": "cnn"},
    lambda sd, opt: {"model_state_dict": sd, "optimizer_state_dict": opt, "loss": 0.3, "history": np.arange(5.0)},
    lambda sd, opt: {"net": sd, "acc": np.float32(88.1), "epoch": np.int64(200)},
    lambda sd, opt: {"module." + k: v for k, v in sd.items()},                  # saved from nn.DataParallel
    lambda sd, opt: sd,
], ids=["state_dict+Namespace+numpy", "model+optimizer", "model_state_dict", "net+numpy", "DataParallel", "plain"])
def test_usual_research_checkpoints_load_weights_only(tmp_path, layout):
    net = cnn()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(torch.randn(2, 3, 6, 6)).sum().backward()
    opt.step()
    torch.save(layout(net.state_dict(), opt.state_dict()), tmp_path / "ckpt.pth")
    assert _same(load_weights(tmp_path / "ckpt.pth"), net)


def test_a_whole_model_is_refused_saying_what_the_file_holds_and_how_to_opt_in(tmp_path):
    net = cnn()
    torch.save(net, tmp_path / "model.pt")
    with pytest.raises(WsmError) as e:
        load_weights(tmp_path / "model.pt")
    message = str(e.value)
    assert "holds a whole model saved with torch.save(model, path) (pickled: torch.nn.modules." in message
    assert "--trust" in message and "trust=True" in message and "runs code" in message
    assert _same(load_weights(tmp_path / "model.pt", trust=True), net)
    torch.save({"model": net, "epoch": 3}, tmp_path / "in_dict.pt")                # a module inside a checkpoint
    assert _same(load_weights(tmp_path / "in_dict.pt", trust=True), net)


def test_other_pickled_objects_are_named(tmp_path):
    torch.save({"state_dict": cnn().state_dict(), "settings": Settings()}, tmp_path / "custom.pt")
    with pytest.raises(WsmError,
                       match=r"pickled objects a weights-only load does not rebuild \(pickled: .*Settings\).*--trust"):
        load_weights(tmp_path / "custom.pt")


def test_torchscript_archive_needs_trust(tmp_path):
    net = cnn().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")            # torch.jit.script/save are deprecated
        torch.jit.save(torch.jit.script(net), tmp_path / "scripted.pt")
    with pytest.raises(WsmError, match="TorchScript archive.*--trust"):
        load_weights(tmp_path / "scripted.pt")
    assert _same(load_weights(tmp_path / "scripted.pt", trust=True), net)


def test_unreadable_files(tmp_path):
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "junk.pt").write_text("junk")
    with pytest.raises(WsmError, match="empty.pt cannot be read as a PyTorch file \\(it is empty\\)"):
        checkpoint.read(tmp_path / "empty.pt")
    with pytest.raises(WsmError, match="junk.pt cannot be read as a PyTorch file"):
        checkpoint.read(tmp_path / "junk.pt")
    with pytest.raises(WsmError, match="is a folder, not a file"):
        checkpoint.read(tmp_path)
    torch.save({"epoch": 3, "note": "no weights"}, tmp_path / "meta.pt")
    with pytest.raises(WsmError, match=r"holds no network \(top-level keys: epoch, note\)"):
        checkpoint.load(tmp_path / "meta.pt")


# ---------------------------------------------------------------- a folder of networks + labels


def _folder(tmp_path, tasks=("a", "b"), runs=2, zoo=False):
    folder = tmp_path / "nets"
    (folder / "runs" if zoo else folder).mkdir(parents=True)
    lines = ["file,task"]
    for t in tasks:
        for r in range(runs):
            name = f"{t}{r}.pt"
            torch.save({"state_dict": cnn().state_dict(), "task": t} if zoo else cnn().state_dict(),
                       (folder / "runs" if zoo else folder) / name)
            lines.append(f"{name},{t}")
    if zoo:
        (folder / "zoo.json").write_text("{}")
    (tmp_path / "labels.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_labelled_reads_the_labels_file_or_each_file_s_task(tmp_path):
    folder = _folder(tmp_path)
    (folder / "extra.pt").write_bytes(b"")                  # not listed: not read
    files, tasks = checkpoint.labelled(folder, tmp_path / "labels.csv")
    assert [f.name for f in files] == ["a0.pt", "a1.pt", "b0.pt", "b1.pt"] and tasks == ["a", "a", "b", "b"]
    zoo = _folder(tmp_path / "z", tasks=("3", "7"), zoo=True)
    files, tasks = checkpoint.labelled(zoo)
    assert [f.parent.name for f in files] == ["runs"] * 4 and tasks == ["3", "3", "7", "7"]
    with pytest.raises(WsmError, match="a0.pt has no 'task' entry: give a labels file"):
        checkpoint.labelled(folder)


@pytest.mark.parametrize("text, message", [
    ("name,label\na0.pt,a\n", "has no column file or task"),
    ("file,task\na0.pt,a\nmissing.pt,b\n", "line 3: .*missing.pt does not exist"),
    ("file,task\na0.pt,a\na0.pt,b\n", "lists a0.pt more than once"),
    ("file,task\na0.pt,\n", "line 2: a file and a task are needed"),
])
def test_bad_labels_files_are_one_clear_error(tmp_path, text, message):
    folder = _folder(tmp_path)
    (tmp_path / "bad.csv").write_text(text)
    with pytest.raises(WsmError, match=message):
        checkpoint.labelled(folder, tmp_path / "bad.csv")
