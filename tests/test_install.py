"""The package as a user installs it: metadata that declares what the code imports, one version,
user-level default folders outside a checkout, and a non-editable install into a fresh virtual
environment that runs ``wsm similarity`` and ``wsm htt`` on files this test writes.

The fresh environment does not download torch again: a ``.pth`` file lets it see the packages of
the environment running the tests, and wsm itself is built and installed from a copy of the
source in a temporary folder (``pip install --no-deps --no-build-isolation``), so nothing is
written into the checkout."""

import ast
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
from pathlib import Path

import pytest
import torch
from torch import nn

import wsm
from wsm.core import paths

from conftest import own_networks

REPO = Path(__file__).resolve().parent.parent


def _imported_top_level_packages() -> set[str]:
    """Every third-party top-level package the wsm module imports (anywhere in a module)."""
    names = set()
    for f in (REPO / "wsm").rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("wsm", "bench")}


DISTRIBUTION = {"PIL": "pillow", "yaml": "pyyaml", "IPython": "ipython"}    # import name -> package name


def test_pyproject_declares_every_imported_package_and_one_version():
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]

    def names(reqs):
        return {r.split(";")[0].split("[")[0].split("<")[0].split(">")[0].split("=")[0].strip().lower() for r in reqs}

    declared = names(meta["dependencies"]) | names(sum(meta["optional-dependencies"].values(), []))
    missing = {DISTRIBUTION.get(n, n).lower() for n in _imported_top_level_packages()} - declared
    assert not missing, f"imported but not declared in pyproject.toml: {sorted(missing)}"
    assert {"book", "dev"} <= set(meta["optional-dependencies"]) and meta["license"]
    assert "version" not in meta and meta["dynamic"] == ["version"]             # the one source: wsm.__version__
    pins = {line.split("==")[0].strip().lower() for line in (REPO / "requirements.txt").read_text().splitlines()
            if "==" in line}
    assert names(meta["dependencies"]) <= pins, "every dependency is pinned in requirements.txt"


def test_default_folders_are_the_checkout_s_or_the_user_s_and_variables_win(tmp_path, monkeypatch):
    import platformdirs

    for var in ("WSM_DATA", "WSM_ZOOS", "WSM_CACHE"):
        monkeypatch.delenv(var, raising=False)
    assert paths.checkout() and paths.zoo_root() == REPO / "zoos" and paths.data_root() == REPO / "data"
    installed = tmp_path / "site-packages"                     # an installed package: no pyproject.toml, no .git
    installed.mkdir()
    monkeypatch.setattr(paths, "REPO", installed)
    assert not paths.checkout()
    assert paths.data_root() == platformdirs.user_data_path("wsm") / "data"
    assert paths.zoo_root() == platformdirs.user_data_path("wsm") / "zoos"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert paths.cache_root() == platformdirs.user_cache_path("wsm") and paths.cache_root().is_dir()
    assert installed not in paths.cache_root().parents
    monkeypatch.setenv("WSM_ZOOS", str(tmp_path / "mine"))
    assert paths.zoo_root() == tmp_path / "mine"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh virtual environment with wsm installed (not editable) from a copy of the source."""
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    shutil.copytree(REPO / "wsm", src / "wsm", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, src / name)
    env_dir = tmp / "venv"
    try:
        venv.EnvBuilder(with_pip=False).create(env_dir)
    except Exception as e:          # e.g. no venv module in a minimal Python build
        pytest.skip(f"cannot create a virtual environment here ({type(e).__name__}: {e})")
    python = env_dir / "bin" / "python"
    site = Path(subprocess.check_output([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())
    # the test environment's packages (torch, numpy, ..., setuptools to build), after the venv's own
    (site / "test-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                           "--no-build-isolation", "--no-index", "--disable-pip-version-check", str(src)],
                          capture_output=True, text=True, timeout=600, cwd=tmp)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    home = tmp / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WSM_", "XDG_", "PYTHON", "VIRTUAL_ENV"))} | {"HOME": str(home)}
    work = tmp / "work"
    work.mkdir()
    return dict(bin=env_dir / "bin", site=site, home=home, env=env, work=work)


def run(installed, *args, env=None):
    proc = subprocess.run([str(a) for a in args], cwd=installed["work"], env=installed["env"] | (env or {}),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_installed_package_runs_both_commands_and_writes_to_user_folders(installed):
    before = sorted(p.name for p in REPO.iterdir())
    wsm_cmd, python = installed["bin"] / "wsm", installed["bin"] / "python"
    assert run(installed, wsm_cmd, "--version").strip() == f"wsm {wsm.__version__}"
    where = json.loads(run(installed, python, "-c",
                           "import json, importlib.metadata as m, wsm, wsm.core.paths as p; "
                           "print(json.dumps(dict(file=wsm.__file__, version=m.version('wsm'), "
                           "requires=m.requires('wsm'), license=m.metadata('wsm')['License-Expression'], "
                           "data=str(p.data_root()), zoos=str(p.zoo_root()), "
                           "cache=str(p.cache_root()), checkout=p.checkout())))"))
    assert Path(where["file"]).is_relative_to(installed["site"])            # the installed copy, not the checkout
    assert where["version"] == wsm.__version__ and where["license"] == "MIT" and not where["checkout"]
    assert any(r.startswith("platformdirs") for r in where["requires"])
    assert any("extra == \"book\"" in r for r in where["requires"])
    home = installed["home"]
    assert Path(where["data"]) == home / ".local" / "share" / "wsm" / "data"
    assert Path(where["zoos"]) == home / ".local" / "share" / "wsm" / "zoos"
    assert Path(where["cache"]) == home / ".cache" / "wsm"
    zoos = json.loads(run(installed, python, "-c", "import wsm.core.paths as p; print(repr(str(p.zoo_root())))",
                          env={"WSM_ZOOS": "/somewhere/else"}).replace("'", '"'))
    assert zoos == "/somewhere/else"                                        # the variable still wins

    work = installed["work"]
    torch.manual_seed(0)
    a = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 5))
    b = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 5))
    torch.save(a.state_dict(), work / "a.pt")
    torch.save({"state_dict": b.state_dict(), "epoch": 3}, work / "b.pt")
    text = " ".join(run(installed, wsm_cmd, "similarity", "a.pt", "b.pt", "--full").split())
    assert "cosine_init" in text and "orthogonal change of hidden basis" in text
    rows = json.loads(run(installed, wsm_cmd, "similarity", "a.pt", "b.pt", "--json"))["rows"]
    assert [r["chain"] for r in rows] == [1, 2, 3] and all(abs(r["cosine_rotated"] - 1) < 1e-9 for r in rows)

    labels = own_networks(work / "nets", tasks=("cats", "cars", "birds", "ships", "frogs"))   # 5: retrieval runs
    result = json.loads(run(installed, wsm_cmd, "htt", "nets", labels, "--depths", "1", "--epochs", "3",
                            "--null-repeats", "5", "--json"))
    cells = {(r["kind"], r["protocol"]): r for r in result["rows"]}
    assert result["networks"] == 25 and len(cells) == 4
    assert cells["normalized", "classification"]["accuracy"] == 1.0
    assert {r["evidence"] for r in result["rows"]} <= {"consistent with H0", "inconsistent with H0", "underpowered",
                                                       "not tested"}
    assert "feature" in run(installed, wsm_cmd, "htt", "nets", labels, "--depths", "1", "--epochs", "2",
                            "--null-repeats", "0")
    assert sorted(p.name for p in REPO.iterdir()) == before              # nothing written into the checkout
