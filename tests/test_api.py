"""The public API (wsm/__init__.py): the names it promises, imported on first use; the test as values."""

import subprocess
import sys

import numpy as np
import torch

import wsm
from wsm.maths import chain, htt


def test_import_wsm_is_light_and_names_load_on_first_use():
    code = "import sys, wsm; print('torch' in sys.modules); wsm.phi; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True"]
    assert set(wsm.__all__) >= {"WsmError", "phi", "gram", "compare", "load_zoo", "WeightSet", "Test",
                                "hypothesis_test", "test_networks"}
    assert wsm.gram is chain.gram and wsm.hypothesis_test is htt.hypothesis_test


def test_the_cli_and_its_commands_start_without_ray():
    """Ray is the optional extra wsm[cluster]: only the ray engine imports it."""
    code = ("import sys, wsm.cli, wsm.analyses.compare, wsm.maths.htt, wsm.zoos.zoo, wsm.book.experiments; "
            "print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False"]


def _networks(tasks=5, runs=6, seed=0):
    """MLP weights 8-6-4 whose first layer carries a task's direction: the chains tell tasks apart."""
    g = torch.Generator().manual_seed(seed)
    centres = [torch.randn(6, 8, generator=g, dtype=torch.float64) for _ in range(tasks)]
    weights, labels, run_ids = [], [], []
    for t in range(tasks):
        for r in range(runs):
            w1 = centres[t] + 0.05 * torch.randn(6, 8, generator=g, dtype=torch.float64)
            w1 = w1[torch.randperm(6, generator=g)]                 # a hidden-unit permutation per run
            weights.append([w1, torch.randn(4, 6, generator=g, dtype=torch.float64)])
            labels.append(t)
            run_ids.append(r)
    return wsm.WeightSet(weights, np.array(labels), np.array(run_ids), runs)


def test_hypothesis_test_takes_a_weight_set_and_a_test():
    table = wsm.hypothesis_test(_networks(), wsm.Test(depths=(1,), protocols=("classification",), null_repeats=9))
    assert set(table.kind) == {"normalized", "unnormalized"} and set(table.protocol) == {"classification"}
    c1 = table[table.kind == "normalized"].iloc[0]
    l1 = table[table.kind == "unnormalized"].iloc[0]
    assert c1.accuracy == 1.0 and c1.n == 5 * 2        # 40% of each task's 6 runs are test networks
    assert l1.accuracy < c1.accuracy                    # the permutations hide the tasks from the raw weights
    assert {"decision", "evidence"} <= set(table.columns)
