"""`wsm htt` and `wsm similarity` on networks a user trained with a script of their own.

The networks come from a plain-PyTorch training script written and run here, which does not
import wsm (small MLPs with a BatchNorm, on synthetic teacher tasks, saved the ways research code
saves them). The tests check what the command line concludes from them: no verdict on a protocol
that tested nothing, the same numbers whatever the tasks are called and in whichever order the
files are listed, repeated splits in the output, and one clear line for each bad input.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wsm import cli
from wsm.maths import htt, verdicts

REPO = Path(__file__).resolve().parent.parent

MODEL = '''
import torch
from torch import nn


class Net(nn.Module):
    """10-8-6-3 with a BatchNorm after the first layer."""

    def __init__(self):
        super().__init__()
        self.fc1, self.bn, self.fc2, self.fc3 = nn.Linear(10, 8), nn.BatchNorm1d(8), nn.Linear(8, 6), nn.Linear(6, 3)

    def forward(self, x):
        return self.fc3(torch.relu(self.fc2(torch.relu(self.bn(self.fc1(x))))))
'''

SCRIPT = '''
"""Train TASKS x RUNS small networks on synthetic teacher tasks and save them five ways (plain PyTorch)."""
import argparse, csv, sys
from pathlib import Path

import torch
from torch import nn

from ownnets import Net

out, tasks, runs = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
out.mkdir(parents=True, exist_ok=True)
rows = [("file", "task")]
for t in range(tasks):
    g = torch.Generator().manual_seed(t)
    x = torch.randn(512, 10, generator=g)
    y = (x @ torch.randn(10, 3, generator=g)).argmax(1)
    for r in range(runs):
        torch.manual_seed(100 * t + r)
        net = Net()
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        for step in range(80):
            i = torch.randint(0, 512, (32,))
            opt.zero_grad(); nn.functional.cross_entropy(net(x[i]), y[i]).backward(); opt.step()
        sd, name = net.state_dict(), f"t{t}-r{r}.pt"
        kind = r % 5
        if kind == 0:
            torch.save(sd, out / name)                                                    # plain state_dict
        elif kind == 1:
            torch.save({"state_dict": sd, "args": argparse.Namespace(lr=0.1)}, out / name)   # Lightning-style
        elif kind == 2:
            torch.save({f"module.{k}": v for k, v in sd.items()}, out / name)             # nn.DataParallel
        elif kind == 3:
            torch.save({"model": sd, "optimizer": opt.state_dict(), "epoch": 80}, out / name)
        else:
            torch.save(net, out / name)                                                   # a whole model
        rows.append((name, f"teacher {t}"))
with open(out / "labels.csv", "w", newline="") as f:
    csv.writer(f).writerows(rows)


class Local(nn.Module):          # a class only this script knows (its __main__)
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)


torch.save(Local(), out.parent / "local-class.pt")
'''

TASKS, RUNS = 6, 6
FAST = ("--epochs", 3, "--null-repeats", 20)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The folder of the script's networks (with labels.csv) and the environment that can import its model."""
    root = tmp_path_factory.mktemp("own")
    (root / "ownnets.py").write_text(MODEL)
    (root / "train.py").write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(root)}
    subprocess.run([sys.executable, str(root / "train.py"), str(root / "nets"), str(TASKS), str(RUNS)], check=True,
                   env=env, cwd=root, timeout=300)
    assert "wsm" not in (root / "train.py").read_text().replace("wsm htt", "")
    return root


@pytest.fixture
def importable(trained, monkeypatch):
    """The script's model class importable in this process (as --trust needs for its whole-model files)."""
    monkeypatch.syspath_prepend(str(trained))
    return trained


def run(capsys, *args):
    status = cli.main([str(a) for a in args])
    out = capsys.readouterr()
    return status, out.out, out.err


def wsm(*args, env=None):
    return subprocess.run([sys.executable, "-m", "wsm", *map(str, args)], cwd=REPO, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=300, check=False)


def one_line_error(status, err, *fragments):
    assert status == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[-1].startswith("error: ") and len([x for x in lines if x.startswith("error")]) == 1, err
    for fragment in fragments:
        assert fragment in lines[-1], lines[-1]
    return lines[-1]


def relabelled(trained, folder, rename, shuffle_seed=None):
    """A labels file for the script's networks with every task renamed by ``rename`` (and, with
    ``shuffle_seed``, its lines in another order)."""
    table = pd.read_csv(trained / "nets" / "labels.csv")
    table["task"] = table.task.map(rename)
    if shuffle_seed is not None:
        table = table.sample(frac=1, random_state=shuffle_seed)
    path = folder / f"labels-{abs(hash((tuple(sorted(set(table.task))), shuffle_seed)))}.csv"
    table.to_csv(path, index=False)
    return path


NUMBERS = ["accuracy", "n", "correct", "split_accuracies", "null_mean", "null_low", "null_high", "p_null",
           "decision", "evidence", "untested"]


def test_renamed_and_reordered_tasks_give_the_same_numbers(importable, tmp_path, capsys):
    folder = importable / "nets"
    names = sorted(pd.read_csv(folder / "labels.csv").task.unique())
    renames = [dict(zip(names, names)),
               {t: str(i) for i, t in enumerate(reversed(names))},                 # the 0..3
               {t: f"zz-{chr(ord('a') + (5 * i) % len(names))}" for i, t in enumerate(names)}]
    results = []
    for i, rename in enumerate(renames):
        labels = relabelled(importable, tmp_path, rename, shuffle_seed=i or None)
        status, out, err = run(capsys, "htt", folder, labels, *FAST, "--splits", 3, "--trust", "--json")
        assert status == 0, err
        result = json.loads(out)
        back = {v: k for k, v in rename.items()}
        by_file = {Path(n["file"]).name: {k: back[v] for k, v in n["predictions"].items()}
                   for n in result["per_network"]}
        results.append((pd.DataFrame(result["rows"])[NUMBERS], by_file,
                        [sorted(back[t] for t in s.get("retrieval_training_tasks", [])) for s in result["splits"]]))
    for table, predictions, training_tasks in results[1:]:
        pd.testing.assert_frame_equal(table, results[0][0])
        assert predictions == results[0][1]
        assert training_tasks == results[0][2]
    assert len(results[0][0]) == 2 * 3 * 2 * 2           # kinds x depths x protocols x classifiers


def test_repeated_splits_are_in_every_output(importable, capsys):
    folder = importable / "nets"
    status, out, err = run(capsys, "htt", folder, folder / "labels.csv", *FAST, "--depths", 1, "--trust")
    assert status == 0, err
    header = next(line for line in out.splitlines() if line.startswith("feature"))
    assert f"{htt.SPLITS} splits" in header and "shuffled labels" in header and "H0 by the interval" in header
    status, out, _ = run(capsys, "htt", folder, folder / "labels.csv", *FAST, "--depths", 1, "--trust", "--splits", 4,
                         "--json")
    result = json.loads(out)
    assert [s["seed"] for s in result["splits"]] == [0, 1, 2, 3]
    assert len({tuple(s["classification_test"]) for s in result["splits"]}) == 4       # four different splits
    for row in result["rows"]:
        accs = row["split_accuracies"]
        assert len(accs) == 4 and accs[0] == row["accuracy"]
        assert (row["split_min"], row["split_max"]) == (min(accs), max(accs))
        assert row["split_mean"] == pytest.approx(np.mean(accs))
    status, csv_text, _ = run(capsys, "htt", folder, folder / "labels.csv", *FAST, "--depths", 1, "--trust",
                              "--splits", 1, "--csv")
    table = pd.read_csv(__import__("io").StringIO(csv_text))
    assert (table.split_mean == table.accuracy).all()


def test_train_and_task_fractions_are_separate(importable, capsys):
    folder = importable / "nets"
    common = ("htt", folder, folder / "labels.csv", *FAST, "--depths", 1, "--kinds", "normalized", "--trust", "--json")
    base = json.loads(run(capsys, *common)[1])
    fewer = json.loads(run(capsys, *common, "--train-fraction", 0.5)[1])
    assert [s["retrieval_training_tasks"] for s in fewer["splits"]] == \
        [s["retrieval_training_tasks"] for s in base["splits"]]                       # retrieval untouched
    assert len(fewer["splits"][0]["classification_test"]) == TASKS * 3 != len(base["splits"][0]["classification_test"])
    tasks = json.loads(run(capsys, *common, "--task-fraction", 0.7)[1])
    assert len(tasks["splits"][0]["retrieval_training_tasks"]) == round(0.7 * TASKS)
    assert tasks["settings"]["task_fraction"] == 0.7 and tasks["settings"]["train_fraction"] == 0.6


def test_no_verdict_where_the_protocol_tested_nothing(importable, tmp_path, capsys):
    folder = importable / "nets"
    status, out, err = run(capsys, "htt", folder, folder / "labels.csv", *FAST, "--trust", "--json")
    assert status == 0, err
    rows = pd.DataFrame(json.loads(out)["rows"])
    for r in rows.itertuples():
        inside = r.null_low <= r.accuracy <= r.null_high
        one = r.protocol == "classification" and r.predicted_classes == 1
        assert (r.evidence == verdicts.NOT_TESTED) == bool(inside or one or r.collapsed), r
        assert (r.decision == verdicts.NOT_TESTED) == (r.evidence == verdicts.NOT_TESTED)
        assert isinstance(r.untested, str) == (r.evidence == verdicts.NOT_TESTED)
    # four tasks: retrieval's classifier would see two, so retrieval is left out with the reason, no verdict
    four = relabelled(importable, tmp_path, {f"teacher {t}": f"teacher {min(t, 3)}" for t in range(TASKS)})
    status, out, err = run(capsys, "htt", folder, four, *FAST, "--depths", 1, "--trust", "--json")
    assert status == 0 and "note: retrieval left out: retrieval's classifier would train on 2 tasks" in err
    assert {r["protocol"] for r in json.loads(out)["rows"]} == {"classification"}


def test_a_one_task_classifier_and_a_chance_accuracy_get_no_verdict(tmp_path, capsys):
    """Untrained networks of 128 inputs: a held-out network's raw first layer is nearly orthogonal to
    the training networks', so the linear classifier, trained from zero in their span, predicts one
    task for all of them (its bias decides); nothing is above the shuffled labels either."""
    import torch
    from torch import nn

    folder = tmp_path / "random"
    folder.mkdir()
    lines = ["file,task"]
    for t in range(3):
        for r in range(5):
            torch.manual_seed(10 * t + r)
            torch.save(nn.Sequential(nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 2)).state_dict(),
                       folder / f"{t}-{r}.pt")
            lines.append(f"{t}-{r}.pt,task {t}")
    (folder / "labels.csv").write_text("\n".join(lines) + "\n")
    status, out, err = run(capsys, "htt", folder, folder / "labels.csv", "--null-repeats", 20, "--depths", 1,
                           "--kinds", "unnormalized", "--classifier", "linear", "--splits", 1, "--json")
    assert status == 0, err
    row = json.loads(out)["rows"][0]
    assert row["predicted_classes"] == 1 and row["accuracy"] == pytest.approx(1 / 3)
    assert row["evidence"] == row["decision"] == verdicts.NOT_TESTED
    assert "predicts one task for every test network" in row["untested"]
    status, text, _ = run(capsys, "htt", folder, folder / "labels.csv", "--null-repeats", 20, "--depths", 1,
                          "--kinds", "unnormalized", "--classifier", "linear", "--splits", 1)
    assert "not tested (1)" in text and "(1) not tested: the classifier predicts one task" in text
    assert "inconsistent with H0" not in text


def test_nearest_neighbour_is_the_cosine_of_similarity(importable, capsys):
    """The nearest-neighbour rows predict the task of the training network of highest cosine, the
    cosine `wsm similarity` prints."""
    from wsm.analyses import compare

    folder = importable / "nets"
    status, out, _ = run(capsys, "htt", folder, folder / "labels.csv", *FAST, "--depths", 2, "--kinds", "normalized",
                         "--trust", "--json", "--protocols", "classification", "--splits", 1)
    result = json.loads(out)
    files = [n["file"] for n in result["per_network"]]
    c2 = np.array(result["similarity"]["C2"])
    pair = compare.compare(files[0], files[7], depths=[2], draws=0, trust=True)
    assert c2[0, 7] == pytest.approx(pair.cosine[0], abs=1e-6)
    test = set(result["splits"][0]["classification_test"])
    train = [i for i, f in enumerate(files) if f not in test]
    tasks = [n["task"] for n in result["per_network"]]
    for i, n in enumerate(result["per_network"]):
        if n["file"] in test:
            nearest = train[int(np.argmax(c2[i, train]))]
            assert n["predictions"]["C2 classification nearest"] == tasks[nearest]


# ---------------------------------------------------------------- bad input: one line each


def test_header_only_and_bom_labels_files(importable, tmp_path, capsys):
    folder = importable / "nets"
    (tmp_path / "header.csv").write_text("file,task\n")
    one_line_error(*run(capsys, "htt", folder, tmp_path / "header.csv")[::2], "lists no networks", "header.csv")
    (tmp_path / "empty.csv").write_text("")
    one_line_error(*run(capsys, "htt", folder, tmp_path / "empty.csv")[::2], "empty.csv is empty")
    text = (folder / "labels.csv").read_text().replace("\n", "\r\n")
    (tmp_path / "excel.csv").write_bytes("\ufeff".encode() + text.encode())         # Excel's UTF-8 with BOM
    status, out, err = run(capsys, "htt", folder, tmp_path / "excel.csv", *FAST, "--depths", 1, "--trust",
                           "--protocols", "classification", "--splits", 1, "--csv")
    assert status == 0, err
    assert len(pd.read_csv(__import__("io").StringIO(out))) == 4


def test_a_whole_model_whose_class_cannot_be_imported(trained, capsys):
    status, _, err = run(capsys, "similarity", trained / "local-class.pt", trained / "local-class.pt", "--trust")
    line = one_line_error(status, err, "holding an object of class Local from module", "cannot be imported here",
                          "PYTHONPATH", "state_dict")
    assert "cannot be read as a PyTorch file" not in line
    proc = wsm("htt", trained / "nets", trained / "nets" / "labels.csv", "--trust")         # ownnets not on the path
    one_line_error(proc.returncode, proc.stderr, "class Net from module ownnets", "cannot be imported here")


def test_one_task_names_the_task_plainly(importable, tmp_path, capsys):
    labels = relabelled(importable, tmp_path, {f"teacher {t}": "cats" for t in range(TASKS)})
    line = one_line_error(*run(capsys, "htt", importable / "nets", labels, "--trust")[::2],
                          "have the task cats:", "at least two tasks")
    assert "np.str_" not in line and "'cats'" not in line


def test_too_few_queries_speak_of_queries_and_gallery(importable, capsys):
    folder = importable / "nets"
    line = one_line_error(*run(capsys, "htt", folder, folder / "labels.csv", "--trust", "--protocols", "retrieval",
                               "--query-fraction", 0.05, *FAST)[::2], "no query or no gallery run")
    assert "training" not in line and "another query fraction" in line


def test_layers_out_of_forward_order_are_explained(tmp_path, capsys):
    import torch
    from torch import nn

    class Swapped(nn.Module):            # created fc2 first, used second
        def __init__(self):
            super().__init__()
            self.fc2, self.fc1 = nn.Linear(8, 3), nn.Linear(10, 8)

    for name in ("a", "b"):
        torch.save(Swapped().state_dict(), tmp_path / f"{name}.pt")
    one_line_error(*run(capsys, "similarity", tmp_path / "a.pt", tmp_path / "b.pt")[::2],
                   "stored in the order fc2.weight, fc1.weight", "do in the order fc1.weight, fc2.weight",
                   "forward order")


def test_unlisted_files_and_batchnorm_get_a_note(importable, tmp_path, capsys):
    folder = importable / "nets"
    table = pd.read_csv(folder / "labels.csv")
    table[~table.file.isin(["t0-r5.pt", "t1-r5.pt"])].to_csv(tmp_path / "part.csv", index=False)
    status, out, err = run(capsys, "htt", folder, tmp_path / "part.csv", *FAST, "--depths", 1, "--trust",
                           "--splits", 1, "--protocols", "classification", "--csv")
    assert status == 0, err
    notes = [line for line in err.splitlines() if line.startswith("note: ")]
    assert any("2 network files" in n and "t0-r5.pt, t1-r5.pt" in n and "left out" in n for n in notes), err
    assert sum("BatchNorm layers (bn)" in n for n in notes) == 1, err              # once, not once per file
    status, _, err = run(capsys, "compare", folder / "t0-r0.pt", folder / "t0-r1.pt", "--trust")   # the alias
    assert status == 0 and "note: BatchNorm layers (bn)" in err


def test_similarity_compact_and_full(importable, capsys):
    folder = importable / "nets"
    status, out, _ = run(capsys, "similarity", folder / "t0-r0.pt", folder / "t0-r2.pt")
    assert status == 0
    lines = [line for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert len(lines) == 3 and all(("above" in x) or ("within" in x) or ("below" in x) for x in lines)
    assert "relative_distance" not in out
    status, full, _ = run(capsys, "similarity", folder / "t0-r0.pt", folder / "t0-r2.pt", "--full")
    assert "relative_distance_rotated" in full and "cosine_init_low" in full


def test_help_imports_no_torch():
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "wsm", "--help"], cwd=REPO, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0 and "similarity" in proc.stdout
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "wsm.cli" in imported and not {m for m in imported if m.split(".")[0] in ("torch", "numpy", "pandas")}


def test_memory_option_reaches_the_grams(importable, capsys, monkeypatch):
    from wsm.maths import chain

    seen = []
    real = chain.gram

    def spy(*args, **kwargs):
        seen.append(kwargs.get("memory_gb"))
        return real(*args, **kwargs)

    monkeypatch.setattr(chain, "gram", spy)
    folder = importable / "nets"
    status, out, _ = run(capsys, "htt", folder, folder / "labels.csv", *FAST, "--depths", 1, "--trust", "--splits", 1,
                         "--memory-gb", 0.25, "--json")
    assert status == 0 and seen and set(seen) == {0.25}
    assert json.loads(out)["settings"]["memory_gb"] == 0.25
