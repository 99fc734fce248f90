"""Zoo building on a small synthetic task (no dataset needed)."""

import json

import pytest
import torch

from wsm import data, zoo
from wsm.errors import WsmError


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
