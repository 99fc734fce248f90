"""Faults a user meets: an interrupted zoo build, damaged files, diverged runs, bad input."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from wsm.zoos import data, zoo
from wsm.book import reproduce
from wsm.core.errors import WsmError

REPO = Path(__file__).resolve().parent.parent

# A zoo build on synthetic data (no dataset needed) slow enough to be killed midway.
BUILD = textwrap.dedent("""
    import sys, torch
    from wsm.zoos import data, zoo
    def fake(dataset, task, root=None, download=False):
        g = torch.Generator().manual_seed(task)
        y = torch.arange(4).repeat(64)
        x = torch.randint(0, 256, (256, 3, 32, 32), generator=g, dtype=torch.uint8)
        return data.TaskData(dataset, task, [0, 1, 2, 3], list("abcd"), x, y, x[:32], y[:32], "synthetic")
    data.load_task = fake
    cfg = zoo.ZooConfig(dataset="tiny-imagenet", arch="plainnet5", tasks=(0, 1), runs=3, epochs=3, batch_size=64)
    z = zoo.build_zoo(sys.argv[1], cfg, progress=False)
    print("built", len(z))
""")


def test_kill_9_midway_loses_nothing_finished_and_resumes(tmp_path):
    path = tmp_path / "zoo"
    proc = subprocess.Popen([sys.executable, "-c", BUILD, str(path)], cwd=REPO)
    runs = path / "runs"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(runs.glob("*.pt"))) < 2:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = sorted(runs.glob("*.pt"))
    assert 2 <= len(finished) < 6, "the build was not interrupted midway"
    stamps = {f.name: f.stat().st_mtime_ns for f in finished}
    for f in finished:                                   # every finished run is intact
        record = torch.load(f, weights_only=True)
        assert record["sha256"] == zoo._digest(record["state_dict"])
    # resuming trains only the missing runs and leaves the finished files untouched
    done = subprocess.run([sys.executable, "-c", BUILD, str(path)], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "built 6" in done.stdout
    assert all(stamps[f.name] == f.stat().st_mtime_ns for f in finished)
    assert len(list(runs.glob("*.pt"))) == 6 and not list(runs.glob(".*.tmp"))


def _fake(dataset, task, root=None, download=False):
    g = torch.Generator().manual_seed(task)
    y = torch.arange(4).repeat(8)
    x = torch.randint(0, 256, (32, 3, 32, 32), generator=g, dtype=torch.uint8)
    return data.TaskData(dataset, task, [0, 1, 2, 3], list("abcd"), x, y, x[:8], y[:8], "synthetic")


def test_tampered_weights_fail_the_checksum(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "load_task", _fake)
    cfg = zoo.ZooConfig(dataset="tiny-imagenet", arch="mlp4", tasks=(0,), runs=2, epochs=1, batch_size=16)
    zoo.build_zoo(tmp_path, cfg, progress=False)
    f = tmp_path / "runs" / "t000-r001.pt"
    record = torch.load(f, weights_only=True)
    record["state_dict"]["layers.0.weight"][0, 0] += 1.0
    torch.save(record, f)
    with pytest.raises(WsmError, match="t000-r001.pt fails its checksum"):
        zoo.load_zoo(tmp_path)


def test_diverged_run_is_excluded_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "load_task", _fake)
    cfg = zoo.ZooConfig(dataset="tiny-imagenet", arch="mlp4", tasks=(0, 1), runs=2, epochs=1, batch_size=16)
    zoo.build_zoo(tmp_path, cfg, progress=False, workers=1)
    f = tmp_path / "runs" / "t000-r001.pt"                 # a run that diverged in training: NaN weights saved
    record = torch.load(f, weights_only=True)
    record["state_dict"]["layers.1.weight"][0, 0] = float("nan")
    torch.save(record | {"sha256": zoo._digest(record["state_dict"])}, f)
    z = zoo.load_zoo(tmp_path)
    with pytest.warns(RuntimeWarning, match=r"1 of 4 networks .* diverged .* excluded: task 0 run 1"):
        weights, labels = z.usable()
    assert len(weights) == 3 and labels.tolist() == [0, 1, 1]
    assert not z.table().finite[1]


@pytest.fixture
def run_main(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WSM_ZOOS", str(tmp_path / "zoos"))

    def go(*extra, data_root):
        os.environ["WSM_DATA"] = str(data_root)
        rc = reproduce.main(["--profile", "smoke", "--only", "s4_1_tiny_imagenet", "--out", str(tmp_path / "out"),
                             *extra])
        return rc, capsys.readouterr().err
    old = os.environ.get("WSM_DATA")
    yield go
    if old is None:
        os.environ.pop("WSM_DATA", None)
    else:
        os.environ["WSM_DATA"] = old


def test_wrong_data_root_says_which_file_to_put_where(tmp_path, run_main):
    rc, err = run_main(data_root=tmp_path / "nowhere")
    assert rc == 2
    assert "Tiny ImageNet not found" in err and str(tmp_path / "nowhere" / "tiny-imagenet-200.zip") in err
    assert "Traceback" not in err


def test_truncated_archive_is_named(tmp_path, run_main):
    root = tmp_path / "data"
    root.mkdir()
    src = Path(os.environ.get("WSM_DATA", REPO.parent / "shared" / "data")) / "tiny-imagenet-200.zip"
    if not src.exists():
        pytest.fail(f"this test needs the Tiny ImageNet archive at {src} (set WSM_DATA)")
    with open(src, "rb") as f, open(root / "tiny-imagenet-200.zip", "wb") as g:
        g.write(f.read(1_000_000))
    os.environ["WSM_CACHE"] = str(tmp_path / "cache")
    try:
        rc, err = run_main(data_root=root)
    finally:
        os.environ.pop("WSM_CACHE")
    assert rc == 2 and "tiny-imagenet-200.zip" in err and "Traceback" not in err


def test_unknown_setting_is_refused_before_papermill_runs(tmp_path):
    with pytest.raises(WsmError, match=r"unknown setting\(s\) n_taks .* valid settings are"):
        reproduce.execute("s4_1_tiny_imagenet", "smoke", tmp_path, overrides={"n_taks": 3})
    assert not list(tmp_path.iterdir())                     # nothing was executed or written
    assert reproduce.main(["--profile", "fast", "--out", str(tmp_path)]) == 2
