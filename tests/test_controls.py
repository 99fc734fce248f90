"""wsm.analyses.controls: known answers (init = the zoo's init, permuted copies and rotations under phi)."""

import numpy as np
import pytest
import torch
from torch import nn

from wsm.maths import chain
from wsm.zoos import nets, zoo
from wsm.analyses import controls
from wsm.core.errors import WsmError

pytestmark = pytest.mark.usefixtures("one_thread")


def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(7, 6), nn.ReLU(), nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))


def test_initial_network_is_the_zoos_starting_point():
    cfg = zoo.ZooConfig(dataset="tiny-imagenet", arch="mlp4", tasks=(0, 3), runs=2, epochs=1, seed=0)
    net = controls.initial_network(cfg, 3, 1)
    torch.manual_seed(cfg.seed_of(3, 1))                 # what zoo.train_network does first
    ref = nets.build("mlp4", 4)
    for a, b in zip(chain.layer_weights(net), chain.layer_weights(ref)):
        assert torch.equal(a, b)
    w, y = controls.initial_weights(cfg)
    assert len(w) == 4 and list(y) == [0, 0, 3, 3]
    assert not torch.equal(w[0][0], w[1][0])             # runs differ
    assert controls.epoch_config(zoo.ZooConfig(dataset="tiny-imagenet", arch="mlp4", tasks=(0,), runs=1,
                                               epochs=10, milestones=(7,)), 1).milestones == ()


# controls' differences are relative (to max |f_a(x)|, max |phi_a|, max |W_a|) and float64: a permuted
# copy's outputs and phi are sums of <= 7 terms in another order, ~ 7 x u64 (1.1e-16) = 1e-15 apart, so
# < 1e-12 leaves 1000x; a rotation (an orthogonal Q from a float64 QR, ~1e-15 from orthogonal) enters
# phi twice, ~1e-14 (5e-16 measured; 2e-15 for MLP-4's 500 units): < 1e-10 leaves 1e4x. What they must
# tell apart is O(0.1-1): the > 0.1, > 1e-2 and > 1e-3 properties (measured 1.1-3.9, 0.37 and 1.6).


def test_permuted_copies_same_phi_same_function_different_weights(rounding):
    net = _mlp()
    x = torch.randn(11, 7, generator=torch.Generator().manual_seed(1))
    for c in controls.permuted_copies(net, 3, seed=0):
        assert controls.output_difference(net, c, x) < 1e-12
        for d in (1, 2, 3):
            assert controls.phi_difference(net, c, d) < 1e-12
        assert controls.weight_difference(net, c, 1) > 0.1


def test_rotation_keeps_phi_but_changes_the_function(rounding):
    net = _mlp()
    x = torch.randn(50, 7, generator=torch.Generator().manual_seed(1))
    rot = _mlp()
    q = controls.random_rotation(6, seed=3)
    assert not torch.equal(q.abs().round(), q.abs())       # not a (signed) permutation
    controls.rotate_hidden(rot.double(), 1, q.double())
    net = net.double()
    for d in (1, 2, 3):
        assert controls.phi_difference(net, rot, d) < 1e-10
        assert controls.phi_difference_probe(net, rot, d) < 1e-10
    other = _mlp(seed=5).double()
    assert controls.phi_difference_probe(net, other, 2) > 0.1         # the probe sees a real difference
    assert controls.weight_difference(net, rot, 1) > 0.1
    assert controls.output_difference(net, rot, x) > 1e-2      # ReLU: a different function
    # without the nonlinearity the rotation is an exact symmetry
    lin, lin_rot = nn.Sequential(nn.Linear(7, 6), nn.Linear(6, 3)).double(), None
    import copy
    lin_rot = copy.deepcopy(lin)
    controls.rotate_hidden(lin_rot, 1, q.double())
    assert controls.output_difference(lin, lin_rot, x) < 1e-12


def test_rotate_hidden_refuses_bad_input():
    with pytest.raises(WsmError, match="orthogonal"):
        controls.rotate_hidden(_mlp(), 1, torch.ones(6, 6))
    with pytest.raises(WsmError, match="no hidden units"):
        controls.rotate_hidden(_mlp(), 3, torch.eye(3))


def test_shuffled_labels_and_subsampling():
    from wsm.zoos import data
    td = data.TaskData("tiny-imagenet", 0, [0, 1], ["a", "b"], torch.zeros(10, 3, 32, 32, dtype=torch.uint8),
                       torch.tensor([0] * 5 + [1] * 5), torch.zeros(2, 3, 32, 32, dtype=torch.uint8),
                       torch.tensor([0, 1]), "test")
    s = controls.shuffle_task_labels(td, seed=0)
    assert sorted(s.y_train.tolist()) == sorted(td.y_train.tolist()) and not torch.equal(s.y_train, td.y_train)
    labels = np.repeat(np.arange(3), 5)
    idx = controls.subsample_runs(labels, 2, seed=0)
    assert len(idx) == 6 and (np.bincount(labels[idx]) == 2).all()
    with pytest.raises(WsmError, match="fewer than"):
        controls.subsample_runs(labels, 6)


def test_rotation_check_on_an_mlp4():
    from wsm.zoos import nets
    torch.manual_seed(0)
    sd = nets.build("mlp4", 4).state_dict()
    x = torch.randn(20, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    r = controls.rotation_check(sd, "mlp4", 4, x, seed=0, depths=(1, 2))
    assert r["phi_change"] < 1e-10 and r["weight_change"] > 0.1 and r["output_change"] > 1e-3
    assert 0 <= r["same_prediction"] <= 1


def test_twin_diagnostic_sees_shared_seeds_and_default_zoos_share_none():
    """Zoos that differ in any setting draw independent seeds; a zoo that asks to be another's twin
    by name (twin_of) shares them, and the diagnostic sees it at initialisation."""
    import dataclasses

    from wsm.zoos import zoo as zoo_mod
    from wsm.book import experiments

    base = zoo.ZooConfig(dataset="cifar100-standin", arch="plainnet5", tasks=(0, 1), runs=3, epochs=1)
    leaky = dataclasses.replace(base, arch="leaky")
    twin = dataclasses.replace(leaky, twin_of=base.scope)
    assert {base.seed_of(t, r) for t in base.tasks for r in range(3)}.isdisjoint(
        leaky.seed_of(t, r) for t in base.tasks for r in range(3))
    assert ([twin.seed_of(t, r) for t in (0, 1) for r in range(3)]
            == [base.seed_of(t, r) for t in (0, 1) for r in range(3)])

    def initial(cfg):
        runs = [zoo_mod.Run(task=t, run=r, seed=cfg.seed_of(t, r), classes=[0, 1], train_acc=0, test_acc=0,
                            final_loss=0, seconds=0, state_dict=controls.initial_network(cfg, t, r).state_dict())
                for t in cfg.tasks for r in range(cfg.runs)]
        return zoo_mod.Zoo(None, cfg, runs)

    twins = controls.twin_diagnostic(initial(base), initial(twin))
    independent = controls.twin_diagnostic(initial(base), initial(leaky))
    assert twins["same_index"] > 0.999 and twins["difference"] > 0.3        # same initial first layer
    assert abs(independent["difference"]) < 0.1          # a property of independent seeds, not of rounding
    # no two different zoo configurations of the book share a run seed (every profile, every page; a
    # folder whose configuration equals another's but for its tasks and runs holds the same networks)
    seeds = {}
    for profile in ("smoke", "quick", "paper"):
        for nb in experiments.profiles.NOTEBOOKS:
            page = experiments.page(nb, profile, check_data=False)
            for name, (folder, cfg) in page.zoos.items():
                if cfg.twin_of is not None:          # a twin by name (the one-epoch control)
                    continue
                for t in cfg.tasks:
                    for r in range(cfg.runs):
                        other = seeds.setdefault(cfg.seed_of(t, r), (folder.name, cfg.scope))
                        assert other[1] == cfg.scope, (folder.name, other, t, r)
