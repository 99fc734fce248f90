"""ResNet-MLP-12 (Appendix D): shapes, the chain's weights, the permutation symmetry that survives
the skip connections; the out-of-order chains of wsm.analyses.semantics (ICLR "bottom-up")."""

import json

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wsm.maths import chain, htt
from wsm.zoos import data, nets
from wsm.analyses import semantics
from wsm.book import experiments
from wsm.core.errors import WsmError

from conftest import gen

PROPERTY = settings(max_examples=15, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
pytestmark = pytest.mark.usefixtures("one_thread")


def _small(seed, n_in=12, width=6, n_classes=3):
    """A float64 ResNet-MLP-12 with random weights, biases and BatchNorm statistics, in eval mode."""
    net = nets.ResMLP12(n_classes, n_in=n_in, width=width).double().eval()
    g = gen(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
        for bn in net.norms:
            bn.running_mean.copy_(torch.randn(width, generator=g, dtype=torch.float64))
            bn.running_var.copy_(0.5 + torch.rand(width, generator=g, dtype=torch.float64))
    return net


def test_resmlp12_shapes_and_chain_weights():
    net = nets.build("resmlp12", 2)
    assert nets.LABELS["resmlp12"] == "ResNet-MLP-12"
    assert net(torch.randn(5, 3, 32, 32)).shape == (5, 2)
    ws = chain.layer_weights(net)
    assert [tuple(w.shape) for w in ws] == [(256, 3072)] + [(256, 256)] * 11 + [(2, 256)]
    expected = [layer.weight for layer in net.layers] + [net.head.weight]    # forward order, nothing else
    assert all(a.data_ptr() == b.data_ptr() for a, b in zip(ws, expected)) and len(ws) == len(expected)
    from_state = chain.layer_weights(net.state_dict())                    # what a zoo run stores
    assert len(from_state) == 13 and all(torch.equal(a, b) for a, b in zip(from_state, ws))
    assert chain.feature_size(ws, 11) == 3072 ** 2 and chain.chain_factor(ws, 11).shape == (3072, 256)


def test_symmetry_groups_are_the_stream_and_the_free_layers():
    groups = nets.ResMLP12(2).symmetry_groups()
    assert groups == [[1], [2, 4, 6, 8, 10, 12], [3], [5], [7], [9], [11]]
    assert sorted(sum(groups, [])) == list(range(1, 13))


@PROPERTY
@given(seed=st.integers(0, 10_000))
def test_the_symmetry_keeps_the_function_and_every_chain(seed):
    net = _small(seed)
    x = torch.randn(7, 12, generator=gen(seed + 1), dtype=torch.float64)
    before_out, before_w = net(x), [w.clone() for w in chain.layer_weights(net)]
    g = gen(seed + 2)
    net.permute_units({k: torch.randperm(6, generator=g) for k in range(7)})
    after_w = chain.layer_weights(net)
    # float64, the same sums (width 6, 13 layers) in another order. Outputs: ~ 13 x 6 x u64 = 1e-14
    # relative; measured 3e-4 of the bound. Chain features up to 13 factors deep cancel (entries far
    # below the products that form them): measured 4e-12 relative at worst over the examples, natively
    # and perturbed; 1e-10 is 25x that, while a wrong permutation moves a feature by O(1)
    torch.testing.assert_close(net(x), before_out, rtol=1e-10, atol=1e-10)
    for depth in range(1, 14):
        torch.testing.assert_close(chain.feature(after_w, depth), chain.feature(before_w, depth),
                                   rtol=1e-10, atol=1e-10)
    # the raw weights do move (the unnormalized baseline is not invariant)
    assert any(not torch.equal(a, b) for a, b in zip(after_w, before_w))


def test_permuting_one_block_of_the_stream_alone_breaks_the_function():
    """The skip connections tie the stream's units across blocks: permuting only layer 2's outputs
    (and layer 3's inputs, as permute_hidden would for a plain network) changes what the net computes."""
    net = _small(3)
    x = torch.randn(7, 12, generator=gen(4), dtype=torch.float64)
    before = net(x)
    p = torch.tensor([1, 0, 2, 3, 4, 5])
    with torch.no_grad():
        lin, bn = net.layers[1], net.norms[1]
        for t in (lin.weight, lin.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var):
            t.copy_(t[p])
        net.layers[2].weight.copy_(net.layers[2].weight[:, p])
    assert not torch.allclose(net(x), before)       # an O(1) change, far beyond allclose's defaults


def test_resmlp12_zoo_config_uses_its_single_schedule():
    page = experiments.page("appendix_d_resnet_mlp", "smoke", dict(n_tasks=2, runs=3, epochs=4, milestones=[3]))
    cfg = page.zoos["resmlp12"].config
    assert (cfg.arch, cfg.epochs, cfg.milestones, cfg.tasks, cfg.runs) == ("resmlp12", 4, (3,), (0, 1), 3)


# ---------------------------------------------------------------------------------- semantics


def _mlp_nets(n_tasks=3, runs=4, seed=0):
    g = gen(seed)
    nets_, labels = [], []
    for t in range(n_tasks):
        for _ in range(runs):
            nets_.append([torch.randn(5, 8, generator=g, dtype=torch.float64),
                          torch.randn(5, 5, generator=g, dtype=torch.float64),
                          torch.randn(5, 5, generator=g, dtype=torch.float64)])
            labels.append(t)
    return nets_, np.array(labels)


def test_swap_layers_forms_w1_w3_w2_and_refuses_other_shapes():
    (w,) = _mlp_nets(1, 1)[0]
    s = semantics.swap_layers(w, 2, 3)
    torch.testing.assert_close(chain.chain_factor(s, 3), w[0].t() @ w[2].t() @ w[1].t())   # the same float64 products
    assert s[0] is w[0] and s[1] is w[2] and s[2] is w[1] and w[1] is not w[2]
    with pytest.raises(WsmError, match="shapes differ"):
        semantics.swap_layers(w, 1, 2)
    with pytest.raises(WsmError, match="3 weight layers"):
        semantics.swap_layers(w, 2, 4)


@PROPERTY
@given(seed=st.integers(0, 10_000))
def test_in_order_chains_are_invariant_and_out_of_order_ones_are_not(seed):
    (w,) = _mlp_nets(1, 1, seed)[0]
    g = gen(seed + 1)
    p1, p2, p3 = (torch.eye(5, dtype=torch.float64)[torch.randperm(5, generator=g)] for _ in range(3))
    # torch layout (out, in): permuting layer l's outputs by P_l and the next layer's inputs to match
    v = [p1 @ w[0], p2 @ w[1] @ p1.t(), p3 @ w[2] @ p2.t()]
    # float64, 5-term sums in another order (~1e-15), under assert_close's float64 defaults (rtol 1e-7)
    torch.testing.assert_close(chain.phi(v, 3), chain.phi(w, 3))
    if not torch.equal(p1, p2):     # the swapped chain meets layer 1's units with layer 3's inputs
        assert not torch.allclose(chain.phi(semantics.swap_layers(v, 2, 3), 3),     # an O(1) change
                                  chain.phi(semantics.swap_layers(w, 2, 3), 3))


def test_mix_layer_takes_the_layer_from_another_run_of_the_same_task():
    nets_, labels = _mlp_nets(3, 4)
    mixed = semantics.mix_layer(nets_, labels, 2, seed=5)
    for i, m in enumerate(mixed):
        donors = [j for j, n in enumerate(nets_) if n[1] is m[1]]
        assert len(donors) == 1 and donors[0] != i and labels[donors[0]] == labels[i]
        assert m[0] is nets_[i][0] and m[2] is nets_[i][2]
    assert sorted(id(m[1]) for m in mixed) == sorted(id(n[1]) for n in nets_)     # each donor used once
    with pytest.raises(WsmError, match=r"1 run\(s\) on one side"):
        semantics.mix_layer(nets_[:1], labels[:1], 2)
    # with the classifier's split given, a donor is always on its recipient's side of it
    sides = np.tile([0, 0, 1, 1], 3)
    mixed = semantics.mix_layer(nets_, labels, 2, seed=5, sides=sides)
    for i, m in enumerate(mixed):
        donor = next(j for j, n in enumerate(nets_) if n[1] is m[1])
        assert donor != i and labels[donor] == labels[i] and sides[donor] == sides[i]


def test_variants_and_evaluate_rows():
    nets_, labels = _mlp_nets(3, 5)
    vs = semantics.variants(nets_, labels, depths=[1, 2, 3], mixed_depths=[2])
    assert [(v.name, v.order, v.depth) for v in vs] == [
        ("in order", "in order", 1), ("in order", "in order", 2), ("in order", "in order", 3),
        ("layers 2, 3 swapped", "out of order", 3), ("layer 2 from another run", "out of order", 2)]
    df = semantics.evaluate(nets_, labels, depths=[1, 3], mixed_depths=[2], cfg=htt.ClassifierConfig(epochs=2),
                            progress=False)
    assert list(df.variant) == ["in order", "in order", "layers 2, 3 swapped", "layer 2 from another run"]
    assert (df.protocol == "classification").all() and (df.n == 6).all()
    assert (df.ci_low <= df.accuracy).all() and (df.accuracy <= df.ci_high).all()
    pairs = semantics.against_in_order((df.assign(architecture="x", ours=100 * df.accuracy,
                                                  ci_low=100 * df.ci_low, ci_high=100 * df.ci_high)))
    assert list(pairs.depth) == [3] and list(pairs.variant) == ["layers 2, 3 swapped"]   # no in-order C2 here


def test_evaluate_can_skip_retrieval():
    nets_, labels = _mlp_nets(3, 5)
    df = htt.evaluate(nets_, labels, depths=[2], kinds=("normalized",), cfg=htt.ClassifierConfig(epochs=2),
                      progress=False, protocols=("classification",))
    assert list(df.protocol) == ["classification"]


# ---------------------------------------------------------------------------------- data


# ---------------------------------------------------------------------------------- zoo subsets


def test_a_zoo_built_for_some_tasks_is_the_full_zoo_in_part(tmp_path, monkeypatch):
    from test_zoo import cfg, fake_task
    from wsm.zoos import zoo

    calls = []
    monkeypatch.setattr(data, "load_task", lambda *a, **k: calls.append(a[1]) or fake_task(*a, **k))
    part = zoo.build_zoo(tmp_path / "a", cfg(), progress=False, only_tasks=[1])
    assert calls == [1] and part.labels.tolist() == [1, 1]
    assert json.loads((tmp_path / "a" / "zoo.json").read_text())["tasks"] == [0, 1]   # the full configuration
    full = zoo.build_zoo(tmp_path / "a", cfg(), progress=False)                        # completes it: task 0 only
    assert calls == [1, 0] and full.labels.tolist() == [0, 0, 1, 1]
    fresh = zoo.build_zoo(tmp_path / "b", cfg(), progress=False)
    for a, b in zip(full.runs, fresh.runs):
        assert all(torch.equal(x, y) for x, y in zip(a.weights, b.weights))
    with pytest.raises(WsmError, match=r"tasks \[5\] are not tasks"):
        zoo.build_zoo(tmp_path / "a", cfg(), progress=False, only_tasks=[5])
