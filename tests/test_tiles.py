"""wsm.zoos.tiles: a Gram matrix in block-pair tiles, assembled into the matrix of the one-piece
computation; tiles kept by content; networks read from their run files, two blocks at a time."""

import pytest
import torch

from wsm.maths import chain
from wsm.zoos import nets, tiles, training, zoo
from wsm.core.errors import WsmError

pytestmark = pytest.mark.usefixtures("one_thread")


def _zoo(arch: str, n: int, seed: int = 0):
    torch.manual_seed(seed)
    out = []
    for _ in range(n):
        net = nets.build(arch, 4)
        for w in chain.layer_weights(net):
            w.data.add_(0.05 * torch.randn_like(w))
        out.append(chain.layer_weights(net))
    return out


def test_plan_covers_the_upper_triangle_once():
    plan = tiles.plan(7, 3)
    assert [(t.a0, t.a1, t.b0, t.b1) for t in plan] == [(0, 3, 0, 3), (0, 3, 3, 6), (0, 3, 6, 7), (3, 6, 3, 6),
                                                        (3, 6, 6, 7), (6, 7, 6, 7)]
    covered = torch.zeros(7, 7, dtype=torch.int64)
    for t in tiles.plan(10, 4):
        covered[t.a0:t.a1, t.b0:t.b1] += 1
        if (t.a0, t.a1) != (t.b0, t.b1):
            covered[t.b0:t.b1, t.a0:t.a1] += 1
    assert (covered[:7, :7] == 1).all()
    with pytest.raises(WsmError, match="at least one network"):
        tiles.plan(3, 0)


# Both sides of every comparison here are float64 (tiles of the factor path, the one-piece factor path,
# float64 products of formed features). Tiles change only how the sums are split: over the <= 2187
# rows of M_a^T M_b and the <= 128^2 entries of its square, ~ (sqrt(2187) + sqrt(128^2)) x u64 (1.1e-16)
# = 2e-14 relative typically (the worst case, every rounding one way, 2e-12); rtol 1e-12, with atol 1e-12
# x max |K| (or allclose's default 1e-8, far below these entries' scale), is 50x the typical error.
# Centred Grams (double_centre after assembly against centring the features) cancel down to a few
# percent of max |K|: rtol 1e-9. Measured natively and perturbed: 4e-2 of these bounds at most.


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_tiles_assemble_to_the_one_piece_gram(depth, rounding):
    """Every block size gives the factor path's Gram of the whole (centred after assembly, as the
    one-piece factor path centres), to float64 rounding; sub-blocked products too."""
    weights = _zoo("plainnet5", 7)
    for center in (False, True):
        whole = chain.gram(weights, depth, method="factors", center=center, progress=False)
        for block in (1, 2, 3, 7):
            k = tiles.gram(weights, depth, block=block, center=center, progress=False)
            assert k.dtype == torch.float64 and torch.equal(k, k.t())
            assert torch.allclose(k, whole, rtol=1e-12, atol=1e-12 * whole.abs().max().item())
    tight = tiles.gram(weights, depth, block=4, memory_gb=1e-6, progress=False)       # one factor per product
    assert torch.allclose(tight, chain.gram(weights, depth, method="factors", progress=False), rtol=1e-12)


def test_raw_layer_tiles_are_the_float64_gram(rounding):
    weights = _zoo("mlp4", 6)
    for depth in (1, 3):
        f = torch.stack([w[depth - 1].reshape(-1).double() for w in weights])
        want = f @ f.t()
        k = tiles.gram(weights, depth, "unnormalized", block=4, progress=False)
        assert torch.allclose(k, want, rtol=1e-13)
        fc = f - f.mean(0)
        assert torch.allclose(tiles.gram(weights, depth, "unnormalized", block=4, center=True, progress=False),
                              fc @ fc.t(), rtol=1e-9, atol=1e-9 * want.abs().max().item())
    cnn = _zoo("plainnet5", 5)
    explicit = tiles.gram(cnn, 2, method="explicit", block=2, progress=False)      # phi formed in float64
    assert torch.allclose(explicit, tiles.gram(cnn, 2, block=2, progress=False), rtol=1e-12)
    with pytest.raises(WsmError, match="normalized"):
        tiles.gram(weights, 1, "unnormalized", method="factors")


def test_tiles_are_kept_by_content_and_read_back(tmp_path, monkeypatch):
    weights = _zoo("plainnet5", 5)
    info = {}
    first = tiles.gram(weights, 2, block=2, center=True, cache=tmp_path, progress=False, info=info)
    assert len(list(tmp_path.glob("*.pt"))) == 6 and info == {"cached": False}     # 3 blocks: 6 tiles
    monkeypatch.setattr(tiles, "compute", lambda *a, **k: pytest.fail("a cached tile was computed again"))
    assert torch.equal(tiles.gram(weights, 2, block=2, center=True, cache=tmp_path, progress=False, info=info), first)
    assert info == {"cached": True}
    monkeypatch.undo()
    changed = [list(w) for w in weights]
    changed[4] = [w.clone() for w in changed[4]]
    changed[4][0][0, 0, 0, 0] += 1.0                                # only the tiles with network 4 change
    ran = []
    monkeypatch.setattr(tiles, "local", lambda jobs: ran.extend(jobs) or [tiles.run(j) for j in jobs])
    tiles.gram(changed, 2, block=2, center=True, cache=tmp_path, progress=False, run_jobs=tiles.local)
    assert sorted((j["a"], j["b"]) for j in ran) == [((0, 2), (4, 5)), ((2, 4), (4, 5)), ((4, 5), (4, 5))]


def test_tiles_of_a_stored_zoo_read_its_run_files(tmp_path):
    """Networks of a loaded zoo are read from their files by each tile (pickled as file names):
    the same Gram as the weights in memory."""
    weights = _zoo("mlp4", 4)
    cfg = training.ZooConfig(dataset="tiny-imagenet", arch="mlp4", tasks=(0,), runs=4, epochs=1)
    states = []
    for r, w in enumerate(weights):
        net = nets.build("mlp4", 4)
        for p, x in zip(chain.layer_weights(net), w):
            p.data.copy_(x)
        states.append(net.state_dict())
        zoo._save_run(tmp_path, training.Run(0, r, r, [0, 1, 2, 3], 0.0, 0.0, 0.0, 0.0,
                                             {k: v.clone() for k, v in net.state_dict().items()}))
    (tmp_path / "zoo.json").write_text(__import__("json").dumps(cfg.as_dict()))
    stored, _ = zoo.load_zoo(tmp_path).usable()
    assert torch.equal(tiles.gram(stored, 2, block=3, progress=False), tiles.gram(weights, 2, block=3, progress=False))


def test_tiles_choose_the_path_with_fewer_flops():
    """MLP-4's 3072-row chains (500 columns) in large blocks: phi formed per block beats 2nk^2 per
    pair; PlainNet-5's chain 4 (19,683 rows): only the factors fit."""
    c = tiles.costs(5000, 3072, 500, 60.0)
    assert c["explicit"][0] < c["factors"][0] / 10 and c["explicit"][1] == 213
    assert tiles.costs(5000, 3072, 500, 2.0)["factors"][0] < tiles.costs(5000, 3072, 500, 2.0)["explicit"][0]
    weights = _zoo("plainnet5", 3)
    assert tiles.choose(weights, 4, "normalized", "auto", 2.0)[0] == "factors"
    assert tiles.choose(weights, 1, "normalized", "auto", 2.0)[0] == "explicit"
    assert tiles.choose(weights, 4, "normalized", "explicit", 2.0, block=2) == ("explicit", 2)
    assert tiles.choose(weights, 2, "unnormalized", "auto", 2.0)[0] == "explicit"
    with pytest.raises(WsmError, match="unknown tile method"):
        tiles.choose(weights, 1, "normalized", "sliced", 2.0)


def test_a_flipped_byte_in_a_cached_tile_is_caught_and_the_tile_recomputed(tmp_path):
    from test_chain import flip_a_data_byte

    from wsm.core import storage

    weights = _zoo("plainnet5", 4)
    first = tiles.gram(weights, 2, block=2, cache=tmp_path, progress=False)
    path = sorted(tmp_path.glob("*.pt"))[0]
    kept = storage.load_tensor(path)
    flip_a_data_byte(path, kept)
    assert storage.load_tensor(path) is None                          # fails its checksum
    ran = []
    again = tiles.gram(weights, 2, block=2, cache=tmp_path, progress=False,
                       run_jobs=lambda jobs: ran.extend(jobs) or [tiles.run(j) for j in jobs])
    assert len(ran) == 1 and torch.equal(again, first)                # that tile alone, computed again
    assert torch.equal(storage.load_tensor(path), kept)
