"""wsm.zoos.shards: a zoo's fixed units, exclusive claims that expire, and several builders of one folder
ending with the files one builder writes. The builders here are plain processes (no Ray)."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from conftest import TINY_ZOO, assert_same_runs, one_process_zoo, tiny_imagenet_root
from wsm.core import storage
from wsm.zoos import shards, training, zoo

REPO = Path(__file__).resolve().parent.parent

# A builder process: waits for the go file, then shares the folder with any others; prints the
# units it trained itself.
BUILDER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from wsm.zoos import shards, training
    folder, go, config = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
    cfg = training.ZooConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})
    built, real = [], shards.build_unit
    def spy(path, cfg, unit, *args, **kw):
        outcome = real(path, cfg, unit, *args, **kw)
        if outcome == "built":
            built.append(unit.name)
        return outcome
    shards.build_unit = spy
    Path(str(go) + f".ready-{__import__('os').getpid()}").touch()
    while not go.exists():
        time.sleep(0.01)
    shards.build(folder, cfg, progress=False)
    print(json.dumps(built))
""")


def _builder(folder, go, cfg):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-c", BUILDER, str(folder), str(go), json.dumps(cfg.as_dict())],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _cfg(**kw):
    return training.ZooConfig(**(TINY_ZOO | kw))


# ---------------------------------------------------------------- units


def test_units_are_fixed_by_the_configuration(monkeypatch):
    cpu = shards.units(_cfg())
    assert [u.pairs for u in cpu] == [((t, r),) for t in (0, 1) for r in range(3)]       # one network each
    assert [u.name for u in cpu][:2] == ["t000-r000-n1", "t000-r001-n1"] and cpu == shards.units(_cfg())
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)    # a driver without the GPUs it plans for
    cuda = shards.units(_cfg(device="cuda", runs=100))
    assert [u.pairs for u in cuda] == [tuple((t, r) for r in range(100)) for t in (0, 1)]  # a task's batched chunk
    gru = shards.units(training.ZooConfig(dataset="namedata", arch="gru2", tasks=(0, 1, 2), runs=20, epochs=10,
                                          momentum=0, weight_decay=0, batch_size=1, augment=False))
    assert [len(u.pairs) for u in gru] == [32, 28] and gru[1].pairs[0] == (1, 12)


# ---------------------------------------------------------------- claims


def _write_claim(path, unit, host, pid, age=0.0):
    file = shards.Claim.file_of(path, unit)
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(dict(host=host, pid=pid, time=time.time() - age, node=None, nonce="x")))
    os.utime(file, (time.time() - age, time.time() - age))
    return file


def test_a_claim_is_exclusive_and_released(tmp_path):
    unit = shards.units(_cfg())[0]
    with shards.Claim.acquire(tmp_path, unit) as claim:
        held = shards.holder(claim.file)
        assert held["host"] == storage.host() and held["pid"] == os.getpid() and held["time"] <= time.time()
        assert shards.Claim.acquire(tmp_path, unit) is None                    # a live builder holds it
        assert shards.build_unit(tmp_path, _cfg(), unit, wait=False) == "busy"
    assert not claim.file.exists()


def test_abandoned_claims_are_taken_over_and_live_ones_are_not(tmp_path):
    unit = shards.units(_cfg())[1]
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _write_claim(tmp_path, unit, storage.host(), dead.pid)                 # a builder of this host that died
    claim = shards.Claim.acquire(tmp_path, unit, ttl=3600)
    assert claim is not None and shards.holder(claim.file)["pid"] == os.getpid()
    claim.file.unlink()
    _write_claim(tmp_path, unit, "elsewhere", 12345, age=10)               # another host, heard from 10 s ago
    assert shards.Claim.acquire(tmp_path, unit, ttl=60) is None
    _write_claim(tmp_path, unit, "elsewhere", 12345, age=120)              # silent for longer than the ttl
    assert shards.Claim.acquire(tmp_path, unit, ttl=60) is not None
    assert not [p for p in (tmp_path / "claims").iterdir() if p.name.startswith(".")]   # nothing left aside


def test_a_live_claim_is_touched_and_a_broken_one_is_left_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(shards, "HEARTBEAT", 0.05)
    unit = shards.units(_cfg())[2]
    with shards.Claim.acquire(tmp_path, unit) as claim:
        os.utime(claim.file, (time.time() - 1000, time.time() - 1000))
        time.sleep(0.5)
        assert time.time() - claim.file.stat().st_mtime < 1                 # the heartbeat touched it
        claim.file.write_text(json.dumps(dict(host="elsewhere", pid=1, time=0, node=None, nonce="y")))
    assert shards.holder(claim.file)["host"] == "elsewhere"                 # another builder's: not removed


# ---------------------------------------------------------------- builders


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    root = tiny_imagenet_root()
    path = tmp_path_factory.mktemp("reference") / "zoo"
    one_process_zoo(path, _cfg(), root)
    return path


def test_two_concurrent_builders_end_with_one_builders_files(tmp_path, reference):
    folder, go = tmp_path / "zoo", tmp_path / "go"
    procs = [_builder(folder, go, _cfg()) for _ in range(2)]
    deadline = time.time() + 120
    while len(list(tmp_path.glob("go.ready-*"))) < 2 and time.time() < deadline:
        time.sleep(0.05)
    go.touch()                                                      # both start claiming at once
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outs]
    built = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    assert all(built) and not set(built[0]) & set(built[1])         # both worked, no unit twice
    assert sorted(built[0] + built[1]) == sorted(u.name for u in shards.units(_cfg()))
    assert_same_runs(folder, reference)
    assert not list((folder / "claims").iterdir()) and not list((folder / "runs").glob(".*"))


def test_a_builder_killed_mid_run_leaves_a_claim_that_expires_and_the_run_is_redone(tmp_path):
    root = tiny_imagenet_root()
    cfg = _cfg(tasks=(0,), epochs=15, train_per_class=100)           # a few seconds per network
    folder, go = tmp_path / "zoo", tmp_path / "go"
    go.touch()
    proc = _builder(folder, go, cfg)
    claims = folder / "claims"
    deadline = time.time() + 180
    held = None
    while held is None and time.time() < deadline and proc.poll() is None:
        for f in claims.glob("*.claim") if claims.is_dir() else []:
            info = shards.holder(f)
            if info and info.get("pid") == proc.pid:
                held = f
        time.sleep(0.01)
    assert held is not None, proc.communicate()[1][-2000:]
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    unit = next(u for u in shards.units(cfg) if u.name == held.stem)
    assert zoo.missing(folder, cfg, list(unit.pairs)), "the builder finished its unit before it was killed"
    assert held.exists()                                             # the dead builder's claim is left behind
    finished = {p.name: p.stat().st_mtime_ns for p in (folder / "runs").glob("*.pt")}
    shards.build(folder, cfg, root, progress=False)                  # its claim is abandoned: taken over
    assert not held.exists() and not zoo.missing(folder, cfg)
    assert all((folder / "runs" / n).stat().st_mtime_ns == t for n, t in finished.items())   # nothing redone twice
    assert_same_runs(folder, one_process_zoo(tmp_path / "reference", cfg, root).path)
