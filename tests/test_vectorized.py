"""Vectorized zoo training (wsm.zoos.vectorized) gives the loop's weights; build_zoo uses it, falls back, resumes."""

from types import SimpleNamespace

import pytest
import torch

from wsm.zoos import nets, training, vectorized, zoo
from test_zoo import fake_task, fake_data, cfg  # noqa: F401  (fixture)


def rel(a, b):
    return ((a.double() - b.double()).norm() / a.double().norm().clamp_min(1e-30)).item()


@pytest.fixture
def float64():
    """torch's default dtype float64 for one test: both trainers then build their networks, normalize
    their images and train in float64 (restored after)."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def test_mlp4_batched_equals_loop(one_thread, rounding):
    c = cfg(tasks=(0,), runs=3, epochs=2, milestones=(1,), batch_size=16)
    td = fake_task("tiny-imagenet", 0)
    loop = [zoo.train_network(c, td, r) for r in range(3)]
    batched = vectorized.train_networks(c, td, [0, 1, 2])
    for a, b in zip(loop, batched):
        assert (a.task, a.run, a.seed, a.classes) == (b.task, b.run, b.seed, b.classes)
        assert list(a.state_dict) == list(b.state_dict)
        for k in a.state_dict:
            # float32, 8 SGD steps, no BatchNorm, so no amplification: the two paths sum each dot
            # product (up to 3,072 terms) in other blocks, eps32 (1.2e-7) x sqrt(3072) ~ 7e-6 relative
            # at worst. Measured 1.1e-8 absolute (7e-8 relative) natively, under every rounding
            # perturbation and under AVX2 / SSE4.2 kernels: 1% of this bound; the last step left out
            # moves every tensor by 1e-4 to 5e-3, 130x to 3,000x the bound
            assert torch.allclose(a.state_dict[k], b.state_dict[k], rtol=1e-5, atol=1e-6), k
        assert b.final_loss == pytest.approx(a.final_loss, rel=1e-5)     # the same basis (measured 9e-8)
        # counts of 64 and 16 images: equal unless a logit margin lies within rounding (1e-7), which
        # none does here, natively or perturbed
        assert (b.train_acc, b.test_acc) == (a.train_acc, a.test_acc)
    assert not torch.equal(batched[0].weights[0], batched[1].weights[0])


def test_plainnet5_batched_equals_loop_with_batchnorm_stats(one_thread, float64, rounding_cnn, monkeypatch):
    """PlainNet-5 trained with BatchNorm at lr 0.1 amplifies float rounding, with ReLU and max-pool
    switches on top: in float32 the loop itself moves by 0.08-0.15 (relative; a running variance)
    between its memory formats, and the batched path lies 2e-4 (AVX-512), 1e-3 (AVX2) or 0.19 (oneDNN
    off) from the loop; a float32 bound between the two paths is a bound that one machine's kernels
    happen to meet. The paths are equal in exact arithmetic (the same initialisation, batches, steps
    and running statistics), so they are compared in float64, tightly, running stats included; the loop
    in rounding_cnn's memory format (contiguous natively, channels-last, the zoo's own, as a perturbation)."""
    c = cfg(arch="plainnet5", tasks=(0,), runs=2, epochs=2, milestones=(1,), batch_size=16)
    td = fake_task("tiny-imagenet", 0)
    batched = vectorized.train_networks(c, td, [0, 1])
    monkeypatch.setattr(torch, "channels_last", rounding_cnn.memory_format)
    loop = [zoo.train_network(c, td, r) for r in range(2)]
    for a, b in zip(loop, batched):
        assert list(a.state_dict) == list(b.state_dict)
        for k, v in a.state_dict.items():
            if k.endswith("num_batches_tracked"):
                assert torch.equal(v, b.state_dict[k]) and v.item() == 8
            else:
                assert v.dtype == b.state_dict[k].dtype == torch.float64, k
                # float64 unit roundoff (1.1e-16) x the amplification of this training: 3e4 as the
                # loop's own float64 spread shows (3.6e-12 between its memory formats at 2 threads;
                # batched vs loop 3e-14 to 4e-12 under every perturbation), 2.5e6 at most as its
                # float32 spread shows (0.15 / 6e-8) -> 3e-10; 1e-8 is 30x that, and 1e7x below what
                # a wrong step does (the last step left out: 0.11 in some tensor; the first: 0.86;
                # running statistics left at their initial values: 0.5 to 1)
                assert rel(v, b.state_dict[k]) < 1e-8, k
        assert b.final_loss == pytest.approx(a.final_loss, rel=1e-8)       # the same basis
        assert (b.train_acc, b.test_acc) == (a.train_acc, a.test_acc)     # counts; float64 logits: no tie


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("arch", ["mlp4", "plainnet5"])
def test_cuda_batched_equals_loop(arch, monkeypatch):
    """On CUDA too (the path build_zoo takes there), within float tolerance, TF32 off. MLP-4 agrees
    to about 1e-7. PlainNet-5 does not agree that tightly on CUDA (2.4e-2 relative after 16 steps on
    an H200): cuDNN picks other algorithms for the batched (grouped) convolutions than for one
    network's, and BatchNorm at lr 0.1 amplifies the rounding. So "within float tolerance" is
    measured against the loop itself: batched vs loop may differ at most as much as the loop differs
    from itself when only its memory format (so only its rounding) changes."""
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    c = cfg(arch=arch, tasks=(0,), runs=3, epochs=2, milestones=(1,), batch_size=16, device="cuda")
    td = fake_task("tiny-imagenet", 0)

    def worst(xs, ys):
        return max(rel(a.state_dict[k], b.state_dict[k]) for a, b in zip(xs, ys) for k in a.state_dict
                   if not k.endswith("num_batches_tracked"))

    batched = vectorized.train_networks(c, td, [0, 1, 2])
    loop_cl = [zoo.train_network(c, td, r) for r in range(3)]          # PlainNet-5: channels-last
    monkeypatch.setattr(torch, "channels_last", torch.contiguous_format)
    loop = [zoo.train_network(c, td, r) for r in range(3)]
    d_batched, d_self = worst(loop, batched), worst(loop, loop_cl)
    print(f"{arch} on CUDA: relative difference batched vs loop {d_batched:.2e}; "
          f"loop vs loop in another memory format {d_self:.2e}")
    if arch == "mlp4":
        assert d_batched < 1e-4
    else:
        assert d_batched < 0.1 and d_batched <= 3 * d_self
    assert not torch.equal(batched[0].weights[0], batched[1].weights[0])


def test_build_zoo_vectorized_matches_loop_and_resumes(tmp_path, fake_data):  # noqa: F811
    c = cfg(runs=3)
    zl = zoo.build_zoo(tmp_path / "loop", c, progress=False, vectorized=False)
    zv = zoo.build_zoo(tmp_path / "vec", c, progress=False, vectorized=True)
    assert [(r.task, r.run) for r in zv.runs] == [(r.task, r.run) for r in zl.runs]
    for a, b in zip(zl.runs, zv.runs):
        for k in a.state_dict:
            assert torch.allclose(a.state_dict[k], b.state_dict[k], rtol=1e-5, atol=1e-6)
    # interrupted: two runs of task 1 missing -> only they are retrained (as one chunk), others untouched
    for r in (0, 2):
        (tmp_path / "vec" / "runs" / f"t001-r00{r}.pt").unlink()
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "vec" / "runs").iterdir()}
    fake_data.clear()
    z2 = zoo.build_zoo(tmp_path / "vec", c, progress=False, vectorized=True)
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "vec" / "runs").iterdir()}
    assert fake_data == [1] and all(after[n] == t for n, t in before.items())
    for a, b in zip(zv.runs, z2.runs):
        assert torch.equal(a.weights[-1], b.weights[-1])


def test_chunks_and_fallback(monkeypatch):
    todo = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
    monkeypatch.setattr(vectorized, "chunk_size", lambda c: 2)
    assert zoo.chunks(cfg(), todo, True) == [(0, [0, 1]), (0, [2]), (1, [0, 1])]
    assert zoo.chunks(cfg(), todo, False) == [(t, [r]) for t, r in todo]
    monkeypatch.setattr(vectorized, "chunk_size", lambda c: 64)        # 100 runs: two even chunks
    assert [len(r) for _, r in zoo.chunks(cfg(), [(0, r) for r in range(100)], True)] == [50, 50]
    assert zoo.chunks(cfg(), [(0, r) for r in range(100)], True)[1][1] == list(range(50, 100))
    monkeypatch.setattr(vectorized, "chunk_size", lambda c: 2)
    # a configuration the batched path does not know (another helper's optimizer) falls back to the loop
    for other in (SimpleNamespace(arch="mlp4", optimizer="adam", device="cpu"),
                  SimpleNamespace(arch="gru2", optimizer="sgd", device="cuda")):
        assert not vectorized.supports(other) and not vectorized.preferred(other)
        assert zoo.chunks(other, todo, True) == [(t, [r]) for t, r in todo]
        assert zoo.chunks(other, todo, None) == [(t, [r]) for t, r in todo]
    assert vectorized.supports(cfg(arch="plainnet5"))
    assert vectorized.preferred(SimpleNamespace(arch="plainnet5", device="cuda"))
    assert not vectorized.preferred(cfg()) and not vectorized.preferred(cfg(arch="plainnet5"))   # CPU: one at a time


def test_train_accuracy_is_measured_on_a_class_balanced_subset(one_thread, monkeypatch):
    """A run's train accuracy: TRAIN_ACC_PER_CLASS images of each class, the first in stored
    order, the same for every run and both training paths; a smaller task keeps every image."""
    y = torch.tensor([2, 0, 0, 1, 2, 0, 1, 1, 0, 2])
    x = torch.arange(10)[:, None]
    xs, ys = training.train_subset(x, y, per_class=2)
    assert xs.flatten().tolist() == [0, 1, 2, 3, 4, 6] and ys.tolist() == [2, 0, 0, 1, 2, 1]
    assert training.train_subset(x, y, per_class=4)[0] is x                 # every class has at most 4
    monkeypatch.setattr(training, "TRAIN_ACC_PER_CLASS", 3)
    c = cfg(tasks=(0,), runs=1, epochs=1, batch_size=16)
    td = fake_task("tiny-imagenet", 0)
    run = zoo.train_network(c, td, 0)
    net = nets.build("mlp4", len(td.classes))
    net.load_state_dict(run.state_dict)
    xa, ya = training.train_subset(td.x_train, td.y_train)
    assert len(ya) == 3 * len(td.classes) < len(td.y_train)
    assert run.train_acc == training.accuracy(net, xa, ya, "cpu")
    assert vectorized.train_networks(c, td, [0])[0].train_acc == run.train_acc
