"""Zoo building on a small synthetic task (no dataset needed)."""

import json

import pytest
import torch

from wsm.core import storage
from wsm.maths import chain
from wsm.zoos import data, zoo
from wsm.core.errors import WsmError


def fake_task(dataset, task, root=None, download=False):
    g = torch.Generator().manual_seed(task)
    y = torch.arange(4).repeat(16)
    x = torch.randint(0, 256, (64, 3, 32, 32), generator=g, dtype=torch.uint8)
    x[:, 0] = (y * 60).view(-1, 1, 1).to(torch.uint8)          # a learnable signal
    return data.TaskData(dataset, task, [4 * task + i for i in range(4)], list("abcd"),
                         x, y, x[:16].clone(), y[:16].clone(), "synthetic")


@pytest.fixture
def fake_data(monkeypatch):
    calls = []
    monkeypatch.setattr(data, "load_task", lambda *a, **k: calls.append(a[1]) or fake_task(*a, **k))
    return calls


def cfg(**kw):
    return zoo.ZooConfig(**(dict(dataset="tiny-imagenet", arch="mlp4", tasks=(0, 1), runs=2, epochs=1,
                                 batch_size=32) | kw))


def test_build_is_reproducible_and_resumes_without_retraining(tmp_path, fake_data):
    z1 = zoo.build_zoo(tmp_path / "a", cfg(), progress=False)
    assert len(z1) == 4 and z1.labels.tolist() == [0, 0, 1, 1]
    # same seeds -> identical weights in a second folder
    z2 = zoo.build_zoo(tmp_path / "b", cfg(), progress=False)
    for r1, r2 in zip(z1.runs, z2.runs):
        for k in r1.state_dict:
            assert torch.equal(r1.state_dict[k], r2.state_dict[k])
    # distinct runs differ
    assert not torch.equal(z1.runs[0].weights[0], z1.runs[1].weights[0])
    # interrupted build: delete one run; building again trains only that one
    (tmp_path / "a" / "runs" / "t001-r000.pt").unlink()
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "a" / "runs").iterdir()}
    fake_data.clear()
    z3 = zoo.build_zoo(tmp_path / "a", cfg(), progress=False)
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "a" / "runs").iterdir()}
    assert fake_data == [1]
    assert all(after[n] == t for n, t in before.items())
    assert torch.equal(z3.runs[2].weights[0], z1.runs[2].weights[0])
    assert not list((tmp_path / "a" / "runs").glob("*.tmp"))


def test_mismatched_configuration_is_refused_and_nothing_is_lost(tmp_path, fake_data):
    zoo.build_zoo(tmp_path, cfg(), progress=False)
    files = sorted(p.name for p in (tmp_path / "runs").iterdir())
    with pytest.raises(WsmError, match=r"another configuration \(epochs: stored 1, requested 2\)"):
        zoo.build_zoo(tmp_path, cfg(epochs=2), progress=False)
    with pytest.raises(WsmError, match="arch: stored 'mlp4', requested 'plainnet5'"):
        zoo.load_zoo(tmp_path, cfg(arch="plainnet5"))
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == files
    assert json.loads((tmp_path / "zoo.json").read_text())["epochs"] == 1


def test_damaged_run_file_names_the_file(tmp_path, fake_data):
    zoo.build_zoo(tmp_path, cfg(), progress=False)
    bad = tmp_path / "runs" / "t000-r001.pt"
    bad.write_bytes(bad.read_bytes()[:100])
    with pytest.raises(WsmError, match="t000-r001.pt cannot be read"):
        zoo.load_zoo(tmp_path)


def test_bad_configuration_names_valid_values():
    with pytest.raises(WsmError, match="valid ones are mlp4, plainnet5"):
        cfg(arch="resnet")
    with pytest.raises(WsmError, match="valid ones are tiny-imagenet"):
        cfg(dataset="mnist")


def test_plainnet_trains_and_records_metadata(tmp_path, fake_data):
    z = zoo.build_zoo(tmp_path, cfg(arch="plainnet5", tasks=(3,), runs=1), progress=False)
    t = z.table()
    assert list(t.columns[:4]) == ["task", "run", "seed", "classes"]
    assert t.task.tolist() == [3] and t.classes[0] == [12, 13, 14, 15]
    assert 0 <= t.test_acc[0] <= 1 and t.finite[0]
    assert [w.dim() for w in z.runs[0].weights] == [4, 4, 4, 4, 2]


def test_worker_processes_give_the_weights_of_one_thread_training(tmp_path, fake_data):
    # the default for a CPU zoo trained one network at a time: one one-thread process per core
    c = cfg(arch="plainnet5", tasks=(0, 1), runs=2)
    assert zoo.workers_for(c, 4, batched=False, workers=2) == 2
    assert zoo.workers_for(c, 1, batched=False) == 1                       # one run: no pool
    assert zoo.workers_for(cfg(), 4, batched=True) == 1                     # MLP-4 is trained batched
    with pytest.raises(WsmError, match="positive integer"):
        zoo.workers_for(c, 4, batched=False, workers=0)
    pooled = zoo.build_zoo(tmp_path / "pool", c, progress=False, workers=2)
    assert fake_data == [0, 1]                     # the tasks are loaded once, here, and handed out
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        here = zoo.build_zoo(tmp_path / "here", c, progress=False, workers=1)
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(pooled.runs, here.runs):
        assert (a.task, a.run) == (b.task, b.run)
        assert all(torch.equal(x, y) for x, y in zip(a.weights, b.weights))


def test_a_failing_worker_stops_the_build_with_its_message(tmp_path, monkeypatch):
    def bad_task(dataset, task, root=None, download=False):
        td = fake_task(dataset, task)
        return data.TaskData(dataset, task, td.classes, td.class_names, td.x_train[:, :2], td.y_train,
                             td.x_test, td.y_test, "synthetic")     # 2 channels: the network wants 3
    monkeypatch.setattr(data, "load_task", bad_task)
    with pytest.raises(IndexError, match="out of bounds"):     # the worker's own error, raised here
        zoo.build_zoo(tmp_path, cfg(arch="plainnet5", runs=2), progress=False, workers=2)
    assert not list((tmp_path / "runs").glob("*.pt"))


def test_a_zoo_recorded_on_cuda_loads_and_resumes_on_cpu(tmp_path, fake_data):
    """The device is provenance, not identity: a zoo whose zoo.json and runs say CUDA (as a GPU build
    writes them) is read, and completed, on a CPU machine; every run keeps the device that trained it."""
    zoo.build_zoo(tmp_path, cfg(), progress=False, workers=1)
    meta = json.loads((tmp_path / "zoo.json").read_text())
    (tmp_path / "zoo.json").write_text(json.dumps(meta | {"device": "cuda"}))
    for f in (tmp_path / "runs").glob("*.pt"):
        record = torch.load(f, weights_only=True)
        assert record["device"] == "cpu"
        torch.save(record | {"device": "cuda:0"}, f)              # the weights (and checksum) unchanged
    (tmp_path / "runs" / "t001-r001.pt").unlink()
    # no refusal: the missing run is trained here
    z = zoo.build_zoo(tmp_path, cfg(device="cpu"), progress=False, workers=1)
    assert [r.device for r in z.runs] == ["cuda:0", "cuda:0", "cuda:0", "cpu"]
    assert zoo.load_zoo(tmp_path).config.device == "cuda"           # the zoo's own record is kept
    assert z.table().device.tolist() == ["cuda:0", "cuda:0", "cuda:0", "cpu"]
    with pytest.raises(WsmError, match="epochs: stored 1, requested 3"):    # what the weights depend on still counts
        zoo.load_zoo(tmp_path, cfg(epochs=3, device="cuda"))


def test_run_files_without_a_device_get_the_zoos(tmp_path, fake_data):
    zoo.build_zoo(tmp_path, cfg(), progress=False, workers=1)
    f = tmp_path / "runs" / "t000-r000.pt"
    record = torch.load(f, weights_only=True)
    del record["device"]                                            # a run file older than the field
    torch.save(record, f)
    (tmp_path / "zoo.json").write_text(json.dumps(json.loads((tmp_path / "zoo.json").read_text()) | {"device": "cuda"}))
    assert zoo.load_zoo(tmp_path).runs[0].device == "cuda"


def test_a_loaded_zoo_reads_weights_from_its_files_when_used(tmp_path, fake_data):
    import pickle

    built = zoo.build_zoo(tmp_path, cfg(), progress=False, workers=1)
    z = zoo.load_zoo(tmp_path)
    weights, labels = z.usable()
    assert all(isinstance(w, zoo.StoredWeights) for w in weights) and labels.tolist() == [0, 0, 1, 1]
    eager = [chain.layer_weights(torch.load(f, weights_only=True)["state_dict"])
             for f in sorted((tmp_path / "runs").glob("*.pt"))]
    for lazy, want, run in zip(weights, eager, built.runs):
        assert len(lazy) == len(want) == 4
        assert all(torch.equal(a, b) for a, b in zip(lazy, want)) and torch.equal(lazy[1], want[1])
        assert [x.shape for x in lazy[:2]] == [x.shape for x in want[:2]]
        assert torch.equal(run.state_dict["layers.0.weight"], want[0])
    assert len(pickle.dumps(weights[0])) < 1000                    # travels as its file name
    assert torch.equal(pickle.loads(pickle.dumps(weights[0]))[0], eager[0][0])
    assert torch.equal(chain.gram(weights, 2, progress=False), chain.gram(eager, 2, progress=False))
    (tmp_path / "runs" / "t000-r001.pt").unlink()
    with pytest.raises(WsmError, match="t000-r001.pt was removed after its zoo was loaded"):
        weights[1][0]


def test_a_build_removes_only_the_temporary_files_of_dead_writers(tmp_path, fake_data):
    import os
    import subprocess
    import sys
    import time

    runs = tmp_path / "runs"
    runs.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    here = storage.host()
    files = {"live": runs / f".t000-r000.pt~{here}~{os.getpid()}~abc.tmp",        # this test: a live builder
             "dead": runs / f".t000-r001.pt~{here}~{dead.pid}~abc.tmp",
             "far": runs / ".t001-r000.pt~elsewhere~123~abc.tmp",                 # another host, recent
             "far-old": runs / ".t001-r001.pt~elsewhere~123~abc.tmp",
             "unnamed-old": runs / ".t001-r001.pt.abc.tmp"}                        # an older version's
    for f in files.values():
        f.write_bytes(b"partial")
    old = time.time() - 2 * zoo.STALE_SECONDS
    for name in ("far-old", "unnamed-old"):
        os.utime(files[name], (old, old))
    zoo.build_zoo(tmp_path, cfg(), progress=False, workers=1)
    assert {k for k, f in files.items() if f.exists()} == {"live", "far"}


def test_checkpoints_are_the_networks_after_those_epochs_and_change_no_run(tmp_path, fake_data):
    """A zoo with checkpoints keeps each run after those epochs too: a checkpoint of epoch 1 is the
    one-epoch twin zoo's run (same seed, same batches, same schedule so far), the runs themselves are
    those of the zoo without checkpoints, and an interrupted build resumes without rewriting any."""
    with_cp = zoo.build_zoo(tmp_path / "cp", cfg(epochs=3, checkpoints=(1, 2)), progress=False, workers=1)
    plain = zoo.build_zoo(tmp_path / "plain", cfg(epochs=3), progress=False, workers=1)
    one = zoo.build_zoo(tmp_path / "one", cfg(epochs=1, twin_of=cfg(epochs=3).scope), progress=False, workers=1)
    at1 = zoo.load_zoo(tmp_path / "cp", epoch=1)
    names = sorted(p.name for p in (tmp_path / "cp" / "runs").iterdir())
    assert names[:3] == ["t000-r000-e001.pt", "t000-r000-e002.pt", "t000-r000.pt"]
    assert [zoo.is_checkpoint(n) for n in names[:3]] == [True, True, False]
    for a, b in zip(with_cp.runs, plain.runs):
        assert a.seed == b.seed and all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in b.state_dict)
    for a, b in zip(at1.runs, one.runs):
        assert a.epoch == 1 and all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in b.state_dict)
    at2 = zoo.load_zoo(tmp_path / "cp", epoch=2)
    assert not torch.equal(at2.runs[0].weights[0], at1.runs[0].weights[0])
    assert zoo.load_zoo(tmp_path / "cp", epoch=3).runs[0].epoch is None       # the last epoch: the runs
    with pytest.raises(WsmError, match=r"no checkpoint of epoch 4: its checkpoints are \[1, 2\]"):
        zoo.load_zoo(tmp_path / "cp", epoch=4)
    (tmp_path / "cp" / "runs" / "t001-r001.pt").unlink()          # killed after its checkpoints were saved
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "cp" / "runs").iterdir()}
    zoo.build_zoo(tmp_path / "cp", cfg(epochs=3, checkpoints=(1, 2)), progress=False, workers=1)
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "cp" / "runs").iterdir()}
    assert all(after[n] == t for n, t in before.items()) and "t001-r001.pt" in after


def test_checkpoints_outside_the_schedule_are_refused():
    with pytest.raises(WsmError, match="checkpoints must be increasing epochs from 1 to 2"):
        cfg(epochs=3, checkpoints=(3,))
    with pytest.raises(WsmError, match="checkpoints must be increasing"):
        cfg(epochs=3, checkpoints=(2, 1))
