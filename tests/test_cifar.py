"""Sections 4.2-4.5: the CIFAR-100 dataset policy, PlainNet-6 / Res5 / Leaky, the Adam zoo option,
and the cross-network protocol on a synthetic case with a known answer."""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from wsm.core import paths
from wsm.maths import chain, htt
from wsm.zoos import data, nets, zoo
from wsm.core.errors import WsmError

from conftest import gen as _gen
from test_data import write_cifar

pytestmark = pytest.mark.usefixtures("one_thread")

PLAIN5 = [(32, 3, 3, 3), (64, 32, 3, 3), (128, 64, 3, 3), (256, 128, 3, 3), (2, 256)]


# ---------------------------------------------------------------- dataset policy


@pytest.mark.parametrize("profile", ["smoke", "quick", "paper"])
def test_real_cifar100_is_used_when_present(tmp_path, monkeypatch, profile):
    monkeypatch.delenv("WSM_DOWNLOAD", raising=False)
    write_cifar(tmp_path)
    assert data.resolve_cifar100(profile, tmp_path) == "cifar100"
    assert "STAND-IN" not in data.describe("cifar100")


@pytest.mark.parametrize("profile", ["smoke", "quick"])
def test_scaled_down_profiles_fall_back_to_the_named_standin(tmp_path, monkeypatch, profile):
    monkeypatch.delenv("WSM_DOWNLOAD", raising=False)
    (tmp_path / "cifar-100-python").mkdir()
    (tmp_path / "cifar-100-python" / "train").write_bytes(b"")   # incomplete: test and meta missing
    assert data.resolve_cifar100(profile, tmp_path) == "cifar100-standin"
    assert data.describe("cifar100-standin").startswith("CIFAR-100 STAND-IN (Tiny ImageNet classes")


def test_paper_profile_refuses_the_standin(tmp_path, monkeypatch):
    monkeypatch.delenv("WSM_DOWNLOAD", raising=False)
    with pytest.raises(WsmError, match="CIFAR-100 is missing") as e:
        data.resolve_cifar100("paper", tmp_path)
    msg = str(e.value)
    assert str(tmp_path / "cifar-100-python") in msg and "train, test and meta" in msg
    assert "never substitutes" in msg and "WSM_DOWNLOAD=1" in msg


def test_download_allowed_means_the_real_dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("WSM_DOWNLOAD", "1")
    assert data.resolve_cifar100("paper", tmp_path) == "cifar100"
    monkeypatch.delenv("WSM_DOWNLOAD")
    assert data.resolve_cifar100("paper", tmp_path, download=True) == "cifar100"


def test_standin_has_cifar100s_shape():
    assert data.n_tasks("cifar100-standin") == 50
    classes = [c for t in range(50) for c in data.task_classes("cifar100-standin", t)]
    assert classes == list(range(100))                   # 100 classes, 50 two-class tasks
    root = paths.data_root()
    if not ((root / "tiny-imagenet-200.zip").is_file() or (root / "tiny-imagenet-200").is_dir()):
        pytest.skip(f"no Tiny ImageNet under {root} (set WSM_DATA)")
    d = data.load_task("cifar100-standin", 49, root=root)
    assert d.classes == [98, 99] and d.x_train.shape == (1000, 3, 32, 32)   # 500 training images each
    assert torch.bincount(d.y_train).tolist() == [500, 500] and "STAND-IN" in d.source


# ---------------------------------------------------------------- architectures


def _randomize(net, seed):
    g = _gen(seed)
    net.double()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g, dtype=torch.float64))
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g, dtype=torch.float64))
            elif isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(0.5 + torch.rand(c, generator=g, dtype=torch.float64))
                m.bias.copy_(torch.randn(c, generator=g, dtype=torch.float64))
                m.running_mean.copy_(torch.randn(c, generator=g, dtype=torch.float64))
                m.running_var.copy_(0.5 + torch.rand(c, generator=g, dtype=torch.float64))
    return net.eval()


@pytest.mark.parametrize("arch,shapes", [
    ("plainnet6", PLAIN5[:4] + [(256, 256, 3, 3), (2, 256)]),
    ("res5", PLAIN5),
    ("leaky", PLAIN5),
])
def test_forward_and_chain_weight_shapes(arch, shapes):
    torch.manual_seed(0)
    net = nets.build(arch, 2)
    assert net(torch.randn(3, 3, 32, 32)).shape == (3, 2)
    from_module = chain.layer_weights(net)
    from_state = chain.layer_weights(net.state_dict())
    assert [tuple(w.shape) for w in from_module] == shapes
    assert all(a is not None and torch.equal(a, b) for a, b in zip(from_module, from_state))
    assert len(from_state) == len(shapes)


def test_res5_chain_skips_the_shortcuts_and_matches_plainnet5():
    net = nets.build("res5", 2)
    shortcuts = [m for n, m in net.named_modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)]
    assert len(shortcuts) == 3 and all("shortcut" in n for n, m in net.named_modules() if m in shortcuts)
    ws = chain.layer_weights(net)
    assert not any(w.shape[-2:] == (1, 1) for w in ws if w.dim() == 4)
    assert [w.shape for w in ws] == [w.shape for w in chain.layer_weights(nets.build("plainnet5", 2))]
    assert any(isinstance(m, nn.LeakyReLU) and m.negative_slope == 0.01 for m in nets.build("leaky", 2).modules())


def _permute_res5(net, layer, perm):
    """Permute the output channels of Res5's chain layer 1 (stem) or 2-3 (blocks 1-2) and everything
    tied to them, so the function is unchanged: the block's conv and BN, its shortcut conv and BN
    (the residual sum shares the channels), and the inputs of the next block's conv and shortcut."""
    outs = [[net.stem[0], net.stem[2]]] + [[b.conv, b.bn, b.shortcut[0], b.shortcut[1]] for b in net.blocks]
    with torch.no_grad():
        for m in outs[layer - 1]:
            for name in ("weight", "bias", "running_mean", "running_var"):
                t = getattr(m, name, None)
                if t is not None:
                    t.copy_(t[perm])
        nxt = net.blocks[layer - 1]
        for m in (nxt.conv, nxt.shortcut[0]):
            m.weight.copy_(m.weight[:, perm])


@pytest.mark.parametrize("arch", ["plainnet6", "leaky", "res5"])
def test_chains_are_invariant_to_hidden_permutations(arch, rounding_cnn):
    torch.manual_seed(1)
    net = _randomize(nets.build(arch, 2), 1).to(memory_format=rounding_cnn.memory_format)
    x = torch.randn(4, 3, 32, 32, generator=_gen(2), dtype=torch.float64).contiguous(
        memory_format=rounding_cnn.memory_format)
    before_w = [w.clone() for w in chain.layer_weights(net)]
    with torch.no_grad():
        before = net(x)
    for layer, width in ((1, 32), (2, 64), (3, 128)):
        perm = torch.randperm(width, generator=_gen(10 + layer))
        if arch == "res5":
            _permute_res5(net, layer, perm)
        else:
            chain.permute_hidden(net, layer, perm)
    after_w = chain.layer_weights(net)
    # float64 throughout, sums in another order: ~ terms (<= 128 x 9) x u64 (1.1e-16) = 1e-13 relative
    # per layer, against rtol 1e-9 (atol for entries near 0). Measured (natively and perturbed): outputs
    # (up to 4e7 for these Gaussian weights) 4.5e-8 apart, phi's entries (up to 4e3) 3e-12, chain 3's
    # probes (up to 7e6) 7e-9: 1e-15 relative, 1e-6 of the bounds and less
    with torch.no_grad():
        torch.testing.assert_close(net(x), before, rtol=1e-9, atol=1e-9)     # the same function
    for depth in (1, 2):
        torch.testing.assert_close(chain.phi(after_w, depth), chain.phi(before_w, depth), rtol=1e-9, atol=1e-6)
    v = torch.randn(2187, 8, generator=_gen(3), dtype=torch.float64)       # chain 3 (2187^2) via probes
    m0, m1 = chain.chain_factor(before_w, 3), chain.chain_factor(after_w, 3)
    torch.testing.assert_close(m1 @ (m1.T @ v), m0 @ (m0.T @ v), rtol=1e-9, atol=1e-6)
    for depth in (1, 2, 3):                                                 # while the raw layers moved
        assert not torch.equal(after_w[depth - 1], before_w[depth - 1])


# ---------------------------------------------------------------- Adam


def test_optimizer_is_validated_with_the_valid_ones():
    with pytest.raises(WsmError, match="unknown optimizer 'rmsprop': valid ones are sgd, adam"):
        zoo.ZooConfig(dataset="cifar100", arch="plainnet5", tasks=(0,), runs=1, epochs=1, optimizer="rmsprop")
    sgd = zoo.ZooConfig(dataset="cifar100", arch="plainnet5", tasks=(0,), runs=1, epochs=1)
    adam = zoo.ZooConfig(dataset="cifar100", arch="plainnet5", tasks=(0,), runs=1, epochs=1, optimizer="adam", lr=1e-3)
    assert "optimizer" not in sgd.as_dict()         # zoos stored before the field existed stay valid
    assert adam.as_dict()["optimizer"] == "adam" and adam.as_dict() != sgd.as_dict()


def test_adam_takes_steps_of_size_lr():
    """One batch, one step: Adam moves every weight by lr * sign(gradient) (up to eps); SGD does not."""
    g = _gen(0)
    x = torch.randint(0, 256, (16, 3, 32, 32), generator=g, dtype=torch.uint8)
    td = data.TaskData("cifar100-standin", 0, [0, 1], ["a", "b"], x, torch.arange(16) % 2, x[:4],
                       torch.arange(4) % 2, "synthetic")
    steps = {}
    for opt, lr in (("adam", 1e-3), ("sgd", 0.1)):
        cfg = zoo.ZooConfig(dataset="cifar100-standin", arch="plainnet5", tasks=(0,), runs=1, epochs=1,
                            optimizer=opt, lr=lr, augment=False)
        run = zoo.train_network(cfg, td, 0)
        torch.manual_seed(cfg.seed_of(0, 0))
        init = nets.build("plainnet5", 2).state_dict()
        steps[opt] = torch.cat([(run.state_dict[k] - init[k]).abs().flatten() for k in init if k.endswith("weight")])
    # |w_1 - w_0| of float32 weights |w| < 0.5: within 1 ulp (6e-8 = 6e-5 of lr) of lr; 1.001 leaves 16
    # ulps. The median is a property: Adam's first step is lr x g / (|g| + 1e-8), lr for every |g| >> 1e-8
    assert steps["adam"].max() <= 1e-3 * 1.001 and steps["adam"].median() > 0.9e-3
    assert steps["sgd"].max() > 2e-3


# ---------------------------------------------------------------- cross-network protocol


def _zoo(means, task_of_mean, runs, seed, noise=0.01):
    g = _gen(seed)
    weights, labels = [], []
    for t in range(len(means)):
        for _ in range(runs):
            weights.append([means[task_of_mean[t]] + noise * torch.randn(means[0].shape, generator=g)])
            labels.append(t)
    return weights, np.array(labels)


CFG = htt.ClassifierConfig(epochs=20, lr=0.1, milestones=(15,))


def test_cross_network_known_answers():
    means = [torch.randn(5, 8, generator=_gen(100 + t)) for t in range(6)]
    wa, la = _zoo(means, list(range(6)), 5, seed=1)
    same_b, lb = _zoo(means, list(range(6)), 5, seed=2)              # Net B: the same solutions
    swapped, _ = _zoo(means, [1, 2, 3, 4, 5, 0], 5, seed=3)          # Net B: every task's solution moved
    same = htt.cross_network(wa, la, same_b, lb, depths=(1,), cfg=CFG, progress=False)
    moved = htt.cross_network(wa, la, swapped, lb, depths=(1,), cfg=CFG, progress=False)
    for df in (same, moved):
        assert (list(df.protocol) == ["classification", "retrieval"] * 2
                and set(df.kind) == {"normalized", "unnormalized"})
    assert (same.accuracy == 1.0).all()
    cls = moved[moved.protocol == "classification"]
    assert (cls.accuracy == 0.0).all()                                # predicts the task it was moved from
    # 40% of each task's runs of Net B are tested: 2 of 5 x 6 tasks
    assert (cls.n == 12).all()


def test_cross_classification_trains_on_a_and_tests_on_b_only():
    means = [torch.randn(4, 6, generator=_gen(200 + t)) for t in range(5)]
    wa, la = _zoo(means, list(range(5)), 5, seed=4)
    wb, lb = _zoo(means, list(range(5)), 5, seed=5)
    w = wa + wb
    k = chain.gram(w, 1, "normalized", center=True, progress=False)
    labels = np.concatenate([la, lb])
    source = np.arange(len(w)) < len(wa)
    res = htt.cross_classification(k, labels, source, cfg=CFG)
    assert res.n_test == 10 and res.top1 == 1.0
    r = htt.cross_retrieval(k, labels, source, cfg=CFG)
    assert set(r.train_tasks) | set(r.test_tasks) == {0, 1, 2, 3, 4} and (r.n_queries, r.n_gallery) == (2, 8)
    with pytest.raises(WsmError, match="both zoos"):
        htt.cross_classification(k, labels, np.ones(len(w), bool), cfg=CFG)


def test_cross_network_refuses_different_shapes():
    a = [[torch.randn(4, 6)] for _ in range(10)]
    b = [[torch.randn(4, 7)] for _ in range(10)]
    labels = np.repeat(np.arange(5), 2)
    with pytest.raises(WsmError, match="same weight shapes"):
        htt.cross_network(a, labels, b, labels, depths=(1,), progress=False)


# ---------------------------------------------------------------- profiles


@pytest.mark.parametrize("profile", ["smoke", "quick", "paper"])
def test_fig4_baseline_is_fig3s_plainnet5_zoo_and_fig5_tests_fig4s_zoos(profile, tmp_path):
    from wsm.book import experiments

    fig3, fig4, fig5 = (experiments.page(nb, profile, zoo_root=tmp_path, check_data=False)
                        for nb in ("s4_2_cifar100", "s4_4_network_variants", "s4_5_cross_network"))
    assert fig4.zoos["Baseline"] == fig3.zoos["plainnet5"] and fig5.zoos == fig4.zoos
    folder, cfg = fig4.zoos["Adam"]
    assert cfg.optimizer == "adam" and cfg.lr == 0.001 and folder.name.endswith("-adam")
    assert cfg == dataclasses.replace(fig3.zoos["plainnet5"].config, optimizer="adam", lr=0.001)
    for name in ("Depth", "Res5", "Leaky"):       # one factor changed: the architecture
        assert dataclasses.replace(fig4.zoos[name].config, arch="plainnet5") == fig3.zoos["plainnet5"].config


def test_paper_profile_holds_the_cifar_settings():
    from wsm.book import experiments

    page = experiments.page("s4_2_cifar100", "paper", check_data=False)
    mlp, cnn = page.zoos["mlp4"].config, page.zoos["plainnet5"].config
    assert (cnn.dataset, len(cnn.tasks), cnn.runs, cnn.train_per_class) == ("cifar100", 50, 100, None)
    assert (cnn.epochs, cnn.milestones, mlp.epochs, mlp.milestones) == (50, (30,), 100, (70,))
    c = page.protocol.classifier
    assert (c.epochs, c.lr, c.milestones) == (10, 0.001, (6,))


def test_cross_network_null_sits_at_chance_while_ours_is_perfect():
    means = [torch.randn(5, 8, generator=_gen(300 + t)) for t in range(6)]
    wa, la = _zoo(means, list(range(6)), 5, seed=6)
    wb, lb = _zoo(means, list(range(6)), 5, seed=7)
    df = htt.cross_network(wa, la, wb, lb, depths=(1,), kinds=("normalized",), cfg=CFG, progress=False,
                           null_repeats=40)
    cls = df[df.protocol == "classification"].iloc[0]
    assert cls.accuracy == 1.0
    assert cls.null_mean < 0.4 and cls.p_null == pytest.approx(1 / 41)   # chance is 1/6; no shuffle reaches 100%
    # the observed numbers do not depend on whether a null was run
    plain = htt.cross_network(wa, la, wb, lb, depths=(1,), kinds=("normalized",), cfg=CFG, progress=False)
    assert list(plain.accuracy) == list(df.accuracy)


def _cells(**zoos):
    """A percent table like a Fig. 4/5 page's: zoo -> [(protocol, ours)] chain cells."""
    import pandas as pd
    rows = [dict(zoo=z, kind="normalized", protocol=p, ours=v, n=10,
                 decision=htt.decide(v / 100, 0.05)) for z, cells in zoos.items() for p, v in cells]
    return pd.DataFrame(rows)


def test_claim_rules():
    from wsm.report import summary
    ours = _cells(Baseline=[("classification", 100), ("retrieval", 100)],
                  Depth=[("classification", 100), ("retrieval", 96)],
                  Leaky=[("classification", 90), ("retrieval", 100)],
                  Res5=[("classification", 40), ("retrieval", 100)],
                  Adam=[("classification", 100), ("retrieval", 30)])
    assert summary.claim_row(ours, "Fig. 4", "Depth", "holds")["agrees"] == "yes"
    assert summary.claim_row(ours, "Fig. 4", "Leaky", "holds")["agrees"] == "no"        # one cell below 95%
    assert summary.claim_row(ours, "Fig. 5", "Res5", "holds", protocol="retrieval")["agrees"] == "yes"
    drop = summary.claim_row(ours, "Fig. 5", "Res5", "fails", protocol="classification", below=["Depth", "Leaky"])
    assert drop["agrees"] == "yes" and drop["ours"] == 40 and drop["panel"] == "claim"
    # Adam's classification (100%) rejects nothing and is not below Depth's: "low" does not agree...
    assert summary.claim_row(ours, "Fig. 5", "Adam", "fails", protocol="classification",
                             below=["Depth"])["agrees"] == "no"
    assert summary.claim_row(ours, "Fig. 5", "Adam", "fails", protocol="retrieval",
                             below=["Depth", "Leaky"])["agrees"] == "yes"
    # ...and when everything fails alike, a "drops" claim is not confirmed by default
    flat = _cells(Depth=[("classification", 30)], Leaky=[("classification", 30)], Res5=[("classification", 30)])
    assert summary.claim_row(flat, "Fig. 5", "Res5", "fails", protocol="classification",
                             below=["Depth", "Leaky"])["agrees"] == "no"
    with pytest.raises(ValueError, match="no chain cells"):
        summary.claim_row(ours, "Fig. 4", "Missing", "holds")
