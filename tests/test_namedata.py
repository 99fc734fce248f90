"""NameData (wsm.zoos.namedata), GRU-2 training (wsm.zoos.gru: batched trainer == one-at-a-time reference),
GRU-2 zoos and the GRU chains (wsm.maths.chain.gru_weights)."""

import os

import hypothesis.strategies as st
import pytest
import torch
from hypothesis import given, settings

from wsm.maths import chain
from wsm.zoos import gru, namedata, nets, zoo
from wsm.core.errors import WsmError

LANGS = [f"L{i:02d}" for i in range(18)]


def write_names(root, langs=LANGS, n=12):
    folder = root / "names"
    folder.mkdir(parents=True, exist_ok=True)
    for k, lang in enumerate(langs):
        names = [f"{'Ab' if k % 2 else 'Zy'}{'x' * (i % 5)}{chr(97 + k)}" for i in range(n)]
        (folder / f"{lang}.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    return root


@pytest.fixture
def root(tmp_path):
    return write_names(tmp_path)


def test_alphabet_and_ascii_folding():
    assert len(namedata.ALPHABET) == namedata.N_CHARS == 58
    assert namedata.to_ascii("Émile") == "Emile"
    assert namedata.to_ascii("Nguyễn") == "Nguyen"
    assert namedata.to_ascii("Ó'Brien-Łukasz") == "O'Brien-ukasz"       # Ł has no NFD base letter: dropped
    x = namedata.one_hot("Ab-")
    assert x.shape == (3, 1, 58) and x.sum() == 3 and x[2, 0, namedata.ALPHABET.index("-")] == 1


def test_languages_sorted_tasks_and_fixed_half_split(root):
    # files written in reverse order: the order is the sorted file names, not the listing
    assert namedata.languages(root) == LANGS
    t = namedata.load_task(3, root)
    assert t.languages == ["L06", "L07"] and t.classes == [6, 7]
    for tr, te in zip(t.train, t.test):
        assert len(tr) == 6 and len(te) == 6
    again = namedata.load_task(3, root)
    assert again.train == t.train and again.test == t.test          # the same split for every run
    assert sorted(t.train[0] + t.test[0]) == sorted(namedata.read_language("L06", root))
    assert namedata.load_task(4, root).train[0] != t.train[0]


def test_real_data_when_present():
    try:
        langs = namedata.languages()
    except WsmError:
        pytest.skip("NameData not under WSM_DATA")
    assert langs[:2] == ["Arabic", "Chinese"] and len(langs) == 18
    t = namedata.load_task(0)
    assert [len(g) for g in t.train] == [1000, 134] and [len(g) for g in t.test] == [1000, 134]


@pytest.mark.parametrize("damage,message", [
    (lambda r: (r / "names" / "L00.txt").unlink(), "found 17 .txt files"),
    (lambda r: [p.unlink() for p in (r / "names").glob("*.txt")] and (r / "names").rmdir(), "no such folder"),
    (lambda r: (r / "names" / "L05.txt").write_bytes(b"\xff\xfe\xfa garbage"), "cannot read .*L05.txt as UTF-8"),
    (lambda r: (r / "names" / "L05.txt").write_text("Ab\n\n"), "L05.txt holds 1 usable names"),
])
def test_missing_or_garbled_data_is_one_clear_error(root, damage, message):
    damage(root)
    with pytest.raises(WsmError, match=message):
        namedata.load_task(2, root)


def test_bad_task_number(root):
    for bad in (9, -1, "1"):
        with pytest.raises(WsmError, match=r"valid tasks are 0\.\.8"):
            namedata.load_task(bad, root)


def test_sample_order_is_seeded_and_stays_inside_the_languages():
    a = namedata.sample_order(7, [5, 3], 400)
    assert torch.equal(a, namedata.sample_order(7, [5, 3], 400))
    assert not torch.equal(a, namedata.sample_order(8, [5, 3], 400))
    assert a.min() == 0 and a.max() == 7 and len(set(a.tolist())) == 8
    assert 0.4 < (a < 5).float().mean() < 0.6                          # a language uniformly, then a name


@pytest.fixture(scope="module")
def task_names():
    t = namedata.NameTask(0, ["a", "b"], [["Ab", "Smith", "O'Neil-Kay", "Li"], ["Zed", "Nakamura", "Ivo"]],
                          [["Abe"], ["Zo"]], "test")
    return namedata.encode_all(t.train), [4, 3]


# The bounds of the GRU-2 trainers: 40 single-name SGD steps at lr 0.1 (no BatchNorm: no amplification),
# each summing <= 186 terms (128 hidden + 58 inputs) of weights |w| <= 0.26, accumulated linearly:
# steps x sqrt(186) x |w| x unit roundoff ~ 140 u = 8e-6 in float32 (u = 6e-8), 1.6e-14 in float64
# (u = 1.1e-16). Measured: 4.5e-8 and 6e-17 (natively and perturbed); training moves a weight by 0.06-0.2.
@pytest.mark.parametrize("dtype,tol,loss_tol", [(torch.float64, 1e-11, 1e-11), (torch.float32, 2e-5, 1e-5)])
def test_batched_trainer_equals_the_one_at_a_time_loop(one_thread, rounding, task_names, dtype, tol, loss_tol):
    names, sizes = task_names
    seeds, steps = [11, 12, 13], 40
    orders = torch.stack([namedata.sample_order(s, sizes, steps) for s in seeds])
    states, losses = gru.train_batched(seeds, names, orders, lr=0.1, milestones=[25], dtype=dtype)
    for seed, order, state, loss in zip(seeds, orders, states, losses):
        ref, ref_loss = gru.train_reference(seed, names, order, lr=0.1, milestones=[25], dtype=dtype)
        assert set(ref) == set(state)
        for k in ref:
            # 2.5x the bound above in float32; 600x in float64 (measured: 6e-17, 1 ulp of 0.26)
            assert torch.allclose(ref[k], state[k], rtol=0, atol=tol), k
        # the loss (~0.7) by the same basis; float64's was 1e-5, the float32 bound, before
        assert abs(ref_loss - loss) < loss_tol
        assert any(not torch.equal(ref[k], gru.initial_state(seed, dtype)[k]) for k in ref)   # it trained


def test_batched_init_is_nets_build_under_the_seed(task_names):
    names, _ = task_names
    states, _ = gru.train_batched([5, 6], names, torch.zeros(2, 0, dtype=torch.int64), lr=0.1)
    for seed, state in zip([5, 6], states):
        torch.manual_seed(seed)
        ref = nets.build("gru2", 2).state_dict()
        assert all(torch.equal(ref[k], state[k]) for k in ref)


def test_batched_forward_equals_nn_gru_on_padded_names(task_names, rounding):
    names, _ = task_names
    states = [gru.initial_state(s) for s in (1, 2)]
    p = {k: torch.stack([s[k] for s in states]) for k in gru.KEYS}
    r_ = len(states)
    logits = gru.forward(p, names.chars.expand(r_, -1, -1), names.lengths.expand(r_, -1))
    for r, seed in enumerate((1, 2)):
        torch.manual_seed(seed)
        net = nets.build("gru2", 2)
        for i in range(len(names)):
            x = torch.nn.functional.one_hot(names.name(i), 58).float().unsqueeze(1)
            # float32 logits (|z| < 0.1) of <= 10 GRU steps, each a sum of <= 186 terms: 10 x sqrt(186)
            # x eps32 (1.2e-7) = 1.6e-5 per unit of |z| at worst; measured 7.5e-9
            assert torch.allclose(net(x)[0], logits[r, i], atol=1e-5)
    acc = gru.accuracy(states, names)
    assert acc == [(logits[r].argmax(-1) == names.labels).float().mean().item() for r in range(r_)]


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), p1=st.permutations(range(128)), p2=st.permutations(range(128)))
def test_gru_chains_are_invariant_to_hidden_unit_permutations(seed, p1, p2):
    torch.manual_seed(seed)
    net = nets.build("gru2", 2).double()
    x = torch.nn.functional.one_hot(torch.randint(0, 58, (6, 3)), 58).double()
    out = net(x).detach()
    phis = [chain.feature(chain.layer_weights(net), d).clone() for d in (1, 2)]
    raw = chain.feature(chain.layer_weights(net), 1, "unnormalized").clone()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    chain.permute_gru_hidden(net, 1, torch.tensor(p1))
    chain.permute_gru_hidden(net, 2, torch.tensor(p2))
    # float64, the same sums in another order: |error| <= terms (<= 384) x u64 (1.1e-16) x |values|
    # (outputs < 1, phi's entries < 2) ~ 1e-13 at worst, under both atols (and allclose's default
    # rtol 1e-5); measured 6e-17 and 2e-15. A wrong permutation moves both by O(|values|)
    assert torch.allclose(net(x), out, atol=1e-12)                                 # the same function
    for d, f in zip((1, 2), phis):
        assert torch.allclose(chain.feature(chain.layer_weights(net), d), f, atol=1e-10)   # the same phi
    if p1 != list(range(128)):
        assert not torch.equal(chain.feature(chain.layer_weights(net), 1, "unnormalized"), raw)
        assert not torch.equal(net.state_dict()["gru.weight_hh_l0"], before["gru.weight_hh_l0"])


def test_gru_chain_one_is_the_authors_gram_and_works_from_a_state_dict():
    torch.manual_seed(0)
    sd = nets.build("gru2", 2).state_dict()
    w = sd["gru.weight_ih_l0"]
    ws = chain.layer_weights(sd)
    # default tolerances (rtol 1e-5): float32 w^T w (384 terms) against float64 phi: 384 x eps32 = 5e-5
    # at worst, sqrt(384) x eps32 = 2e-6 typically; measured: equal
    assert torch.allclose(chain.phi(ws, 1), w.t() @ w)
    assert chain.phi(ws, 2).shape == (58, 58) and chain.feature_size(ws, 2) == 58 * 58
    k = chain.gram([ws, ws], 2, progress=False)
    assert k.shape == (2, 2) and torch.allclose(k[0, 0], k[0, 1])     # one network twice: the same float32 products
    with pytest.raises(WsmError, match="chain 3 does not exist"):
        chain.phi(ws, 3)


def gru_cfg(**kw):
    return zoo.ZooConfig(**(dict(dataset="namedata", arch="gru2", tasks=(0, 1), runs=2, epochs=15, milestones=(10,),
                                 momentum=0.0, weight_decay=0.0, batch_size=1, augment=False) | kw))


def test_gru_zoo_builds_resumes_and_matches_the_reference(root, one_thread):
    z = zoo.build_zoo(root / "zoo", gru_cfg(), data_root=root, progress=False)
    assert len(z) == 4 and z.labels.tolist() == [0, 0, 1, 1]
    assert all(0 <= r.test_acc <= 1 for r in z.runs) and z.runs[2].classes == [2, 3]
    weights, labels = z.usable()
    assert weights[0][0].shape == (384, 58)
    # the stored run is what the one-at-a-time loop gives from its seed and order
    t = namedata.load_task(1, root)
    run = z.runs[3]
    order = namedata.sample_order(run.seed, [len(g) for g in t.train], 15)
    ref, _ = gru.train_reference(run.seed, namedata.encode_all(t.train), order, lr=0.1, milestones=[10])
    # 15 steps: the float32 bound of the trainers above (140 u at 40 steps) scaled, 3e-6; measured 1.4e-8
    assert all(torch.allclose(ref[k], run.state_dict[k], atol=1e-5) for k in ref)
    # resumable: a deleted run is retrained alone (in a chunk of one: equal up to float rounding)
    f = root / "zoo" / "runs" / "t001-r001.pt"
    f.unlink()
    again = zoo.build_zoo(root / "zoo", gru_cfg(), data_root=root, progress=False)
    # each replicate's steps are its own elementwise products, whatever its chunk's size: equal in
    # practice (measured: bit for bit); 1e-6 stays below one step's 1e-2 and above 15 steps x eps32 x |w|
    assert all(torch.allclose(again.runs[3].state_dict[k], run.state_dict[k], atol=1e-6) for k in ref)
    assert all(torch.equal(again.runs[0].state_dict[k], z.runs[0].state_dict[k]) for k in ref)   # kept
    with pytest.raises(WsmError, match="another configuration"):
        zoo.build_zoo(root / "zoo", gru_cfg(epochs=16), data_root=root, progress=False)


@pytest.mark.parametrize("kw,message", [
    (dict(momentum=0.9), "momentum 0.9"),
    (dict(batch_size=4), "one name per step"),
    (dict(dataset="tiny-imagenet"), "does not fit dataset"),
])
def test_gru_zoo_config_is_checked(kw, message):
    with pytest.raises(WsmError, match=message):
        gru_cfg(**kw)


def test_gru_chunks_in_worker_processes_give_the_same_weights(root):
    """Two one-thread processes train the chunks side by side; every chunk is the same batched
    program as in one process, so the weights are bit-identical."""
    cfg = gru_cfg(runs=3)
    todo = [(t, r) for t in cfg.tasks for r in range(cfg.runs)]
    one = {(r.task, r.run): r for r in gru.train_runs(cfg, todo, root, chunk=2, progress=False)}
    two = {(r.task, r.run): r for r in gru.train_runs(cfg, todo, root, chunk=2, progress=False, workers=2)}
    assert sorted(one) == sorted(two) == todo
    for key, run in one.items():
        assert run.seed == two[key].seed and run.train_acc == two[key].train_acc
        assert all(torch.equal(run.state_dict[k], two[key].state_dict[k]) for k in run.state_dict)
    # build_zoo's default: one process per core, at most one per chunk
    assert zoo.workers_for(cfg, 3, batched=False) == min(3, len(os.sched_getaffinity(0)))
    assert zoo.workers_for(cfg, 1, batched=False) == 1                      # one chunk: no pool
