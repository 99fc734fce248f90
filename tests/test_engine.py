"""wsm.zoos.engine on a real Ray cluster: a head and a second node started on this machine (two
``ray start`` processes on 127.0.0.1), a zoo built across both, then again with the second node
killed mid-build. Each must end with the run files of one builder, bit for bit."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import torch

from conftest import TINY_ZOO, assert_same_runs, one_process_zoo, tiny_imagenet_root
from wsm.zoos import engine, shards, training, zoo
from wsm.core.errors import WsmError

ray = pytest.importorskip("ray", reason="the ray engine's tests need the ray package (requirements.txt)")

REPO = Path(__file__).resolve().parent.parent
RAY = str(Path(sys.executable).with_name("ray"))
MARK = "WSM_TEST_RAY_NODE"            # set in each node's environment, to find its processes again
# fast node-death detection, so a killed node's tasks are retried within seconds
SYSTEM = json.dumps(dict(health_check_period_ms=500, health_check_failure_threshold=3,
                         health_check_initial_delay_ms=0))
AUTH = dict(RAY_AUTH_MODE="disabled")  # a cluster of this machine's loopback only: no token to hand around


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes(value: str, group: int) -> set[int]:
    """A node's processes: those of its ``ray start`` process group (GCS, raylet, agents), those whose
    environment has MARK=value (a process that rewrites its title loses it; the raylet keeps it),
    and the descendants of all of them (its workers, each in a session of its own)."""
    import psutil

    found = set()
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            if (os.getpgid(int(p.name)) == group
                    or f"{MARK}={value}".encode() in (p / "environ").read_bytes().split(b"\0")):
                found.add(int(p.name))
        except (OSError, ProcessLookupError):
            pass
    for pid in list(found):
        try:
            found |= {c.pid for c in psutil.Process(pid).children(recursive=True)}
        except psutil.Error:
            pass
    return found


class Cluster:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="wsmray", dir="/tmp")        # short: Ray's socket paths
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.tag = os.path.basename(self.tmp)
        self.env = dict(os.environ, PYTHONPATH=str(REPO), RAY_TMPDIR=self.tmp, **AUTH)
        self.groups = {}

    def start(self, name: str, *args: str):
        env = self.env | {MARK: f"{self.tag}-{name}"}
        log = open(Path(self.tmp) / f"{name}.log", "w")
        self.groups[name] = proc = subprocess.Popen(
            [RAY, "start", "--node-ip-address=127.0.0.1", "--num-cpus=1", "--num-gpus=0",
             "--disable-usage-stats", f"--temp-dir={self.tmp}", "--block", *args],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return proc

    def kill(self, name: str) -> None:
        """SIGKILL every process of node ``name`` (and reap its ``ray start``)."""
        if name not in self.groups:
            return
        for _ in range(2):                       # a second sweep for anything started meanwhile
            for pid in _processes(f"{self.tag}-{name}", self.groups[name].pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
        self.groups[name].wait()


@pytest.fixture(scope="module")
def cluster():
    root = tiny_imagenet_root()
    c = Cluster()
    saved = {k: os.environ.get(k) for k in AUTH}
    os.environ.update(AUTH)                                                     # the driver: this process
    try:
        c.head = c.start("head", "--head", f"--port={c.port}", "--include-dashboard=false", f"--system-config={SYSTEM}")
        deadline = time.time() + 120
        while time.time() < deadline:
            probe = subprocess.run([RAY, "status", f"--address={c.address}"], env=c.env, capture_output=True)
            if probe.returncode == 0:
                break
            if c.head.poll() is not None:
                break
            time.sleep(1)
        else:
            pytest.skip(f"the Ray head did not start in 120 s: {(Path(c.tmp) / 'head.log').read_text()[-1500:]}")
        if c.head.poll() is not None:
            pytest.skip(f"the Ray head could not start here: {(Path(c.tmp) / 'head.log').read_text()[-1500:]}")
        c.second = c.start("second", f"--address={c.address}", '--resources={"second": 1}')
        engine.connect(c.address)
        while len([n for n in ray.nodes() if n["Alive"]]) < 2 and time.time() < deadline:
            time.sleep(0.5)
        alive = [n for n in ray.nodes() if n["Alive"]]
        if len(alive) < 2:
            pytest.skip(f"the second Ray node did not join: {(Path(c.tmp) / 'second.log').read_text()[-1500:]}")
        c.second_id = next(n["NodeID"] for n in alive if "second" in n["Resources"])
        c.head_id = next(n["NodeID"] for n in alive if "second" not in n["Resources"])
        c.root = root
        yield c
    finally:
        if ray.is_initialized():
            ray.shutdown()
        c.kill("second")
        c.kill("head")
        shutil.rmtree(c.tmp, ignore_errors=True)
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


def _cfg(**kw):
    return training.ZooConfig(**(TINY_ZOO | kw))


def test_a_zoo_built_across_two_nodes_equals_one_builders(cluster, tmp_path):
    cfg = _cfg()
    nodes = {}
    z = engine.build_zoo(tmp_path / "ray", cfg, cluster.root, progress=False, address=cluster.address, nodes=nodes)
    assert len(z) == 6 and sorted(nodes) == sorted(u.name for u in shards.units(cfg))
    assert set(nodes.values()) == {cluster.head_id, cluster.second_id}         # both nodes trained units
    assert_same_runs(tmp_path / "ray", one_process_zoo(tmp_path / "one", cfg, cluster.root).path)
    again = {}
    engine.build_zoo(tmp_path / "ray", cfg, cluster.root, progress=False, address=cluster.address, nodes=again)
    assert again == {}                                                         # nothing left to do: no task


def test_gram_tiles_as_ray_tasks_assemble_to_the_one_piece_gram(cluster, tmp_path):
    from wsm.maths import chain

    weights, _ = zoo.load_zoo(one_process_zoo(tmp_path / "one", _cfg(), cluster.root).path).usable()
    k = engine.Engine("ray", cluster.address).gram(weights, 3, "unnormalized", center=True, progress=False,
                                                    cache=tmp_path / "grams")
    f = torch.stack([w[2].reshape(-1).double() for w in weights])
    f -= f.mean(0)
    assert torch.allclose(k, f @ f.t(), rtol=1e-9, atol=1e-9 * float((f @ f.t()).abs().max()))
    tiled = engine.gram(weights, 1, block=4, progress=False, address=cluster.address)    # stored nets: file names
    assert torch.allclose(tiled, chain.gram(weights, 1, method="factors", progress=False), rtol=1e-12)


def test_a_node_killed_mid_build_is_retried_and_the_zoo_equals_one_builders(cluster, tmp_path):
    cfg = _cfg(tasks=(0, 1), runs=2, epochs=15, train_per_class=100)          # a few seconds per network
    folder, nodes, failure = tmp_path / "ray", {}, []

    def build():
        try:
            engine.build_zoo(folder, cfg, cluster.root, progress=False, address=cluster.address, nodes=nodes)
        except BaseException as e:                                             # reported by the test below
            failure.append(e)

    driver = threading.Thread(target=build)
    driver.start()
    held, deadline = None, time.time() + 180
    while held is None and time.time() < deadline and driver.is_alive():
        for f in (folder / "claims").glob("*.claim") if (folder / "claims").is_dir() else []:
            info = shards.holder(f)
            if info and info.get("node") == cluster.second_id:
                held = (f, info)
        time.sleep(0.01)
    assert held is not None, f"the second node never held a unit: {failure}"
    cluster.kill("second")                                                     # mid-build, mid-unit
    unit = next(u for u in shards.units(cfg) if u.name == held[0].stem)
    killed_unfinished = bool(zoo.missing(folder, cfg, list(unit.pairs)))
    finished = {p.name: p.stat().st_mtime_ns for p in (folder / "runs").glob("*.pt")}
    driver.join(timeout=300)
    assert not driver.is_alive() and not failure, failure
    assert killed_unfinished, "the second node finished its unit before it was killed"
    assert nodes[unit.name] == cluster.head_id                                 # its task was retried on the head
    assert all((folder / "runs" / n).stat().st_mtime_ns == t for n, t in finished.items())   # nothing finished lost
    assert_same_runs(folder, one_process_zoo(tmp_path / "one", cfg, cluster.root).path)


def test_engine_settings_are_checked(monkeypatch):
    monkeypatch.delenv("WSM_ENGINE", raising=False)
    monkeypatch.delenv("WSM_RAY_ADDRESS", raising=False)
    assert engine.resolve() == engine.Engine("local") and engine.resolve(default="ray") == engine.Engine("ray")
    monkeypatch.setenv("WSM_ENGINE", "ray")
    monkeypatch.setenv("WSM_RAY_ADDRESS", "10.0.0.1:6379")
    assert engine.resolve(default="local") == engine.Engine("ray", "10.0.0.1:6379")     # the environment wins
    assert engine.resolve("local") == engine.Engine("local")                          # an argument wins over it
    with pytest.raises(WsmError, match="valid engines are local, ray"):
        engine.Engine("dask")
    with pytest.raises(WsmError, match="use engine 'ray'"):
        engine.Engine("local", "10.0.0.1:6379")
    assert engine.resources(_cfg()) == dict(num_cpus=1)
    assert engine.resources(_cfg(device="cuda"))["num_gpus"] == engine.GPU_SHARE_BATCHED
    assert engine.resources(_cfg(device="cuda", arch="res5"))["num_gpus"] == engine.GPU_SHARE_SINGLE


def test_the_zoo_command_builds_on_the_cluster(cluster, tmp_path):
    from wsm import cli

    argv = ["zoo", "--profile", "smoke", "--arch", "mlp4", "--tasks", "2", "--runs", "2", "--data", str(cluster.root),
            "--out", str(tmp_path / "cli"), "--engine", "ray", "--address", cluster.address]
    proc = subprocess.run([sys.executable, "-m", "wsm", *argv], cwd=REPO, capture_output=True, text=True,
                          env=cluster.env | {"WSM_ZOOS": str(tmp_path / "zoos")}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"engine: ray ({cluster.address})" in proc.stdout and "4 networks" in proc.stdout
    cfg, _, _ = cli.zoo_settings(cli.parser().parse_args(argv))
    assert_same_runs(tmp_path / "cli", one_process_zoo(tmp_path / "one", cfg, cluster.root).path)
