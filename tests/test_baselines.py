"""wsm.analyses.baselines: CKA's invariances, weight matching recovers a known permutation, the protocols."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ortho_group

from wsm.analyses import baselines

PROPERTY = settings(max_examples=20, deadline=None, derandomize=True, database=None)


@PROPERTY
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(8, 30), p=st.integers(2, 12))
def test_cka_self_one_and_invariant_to_orthogonal_maps_and_scale(seed, n, p):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    y = rng.normal(size=(n, 5))
    # float64 CKA of <= 30 x 12 matrices, exactly invariant: a few hundred roundings of u64 (1.1e-16),
    # ~1e-14, under pytest.approx's default rel 1e-6 (measured 1e-9 of it); a broken invariance is O(0.1)
    assert baselines.linear_cka(x, x) == pytest.approx(1.0)
    q = ortho_group.rvs(p, random_state=seed % 2**32) if p > 1 else np.ones((1, 1))
    perm = rng.permutation(p)
    assert baselines.linear_cka(x @ q * 3.0, y) == pytest.approx(baselines.linear_cka(x, y))
    assert baselines.linear_cka(x[:, perm], y) == pytest.approx(baselines.linear_cka(x, y))
    m = baselines.cka_matrix([x, x @ q, y])
    assert m[0, 1] == pytest.approx(1.0) and m[0, 2] == pytest.approx(baselines.linear_cka(x, y))
    assert 0 <= m[0, 2] <= 1 + 1e-12                              # a cosine, 1 + a few u64 at most


@PROPERTY
@given(seed=st.integers(0, 2**31 - 1), conv=st.booleans())
def test_weight_matching_recovers_a_known_permutation(seed, conv):
    rng = np.random.default_rng(seed)
    if conv:
        shapes = [(6, 3, 3, 3), (7, 6, 3, 3), (4, 7)]
    else:
        shapes = [(9, 5), (8, 9), (7, 8), (3, 7)]
    ref = [rng.normal(size=s) for s in shapes]
    truth = [rng.permutation(s[0]) for s in shapes[:-1]]
    inverse = [np.argsort(p) for p in truth]
    scrambled = baselines.apply_permutation(ref, inverse)           # unit i of ref moves to place inverse...
    perms = baselines.weight_matching(scrambled, ref)
    aligned = baselines.apply_permutation(scrambled, perms)
    for a, r in zip(aligned, ref):
        np.testing.assert_array_equal(a, r)


def test_protocols_on_a_similarity_with_a_known_answer():
    labels = np.repeat(np.arange(5), 6)
    perfect = (labels[:, None] == labels[None, :]).astype(float) + 0.01 * np.eye(30)
    rows = baselines.protocols(perfect, labels)
    assert [r["accuracy"] for r in rows] == [1.0, 1.0]
    noise = np.random.default_rng(0).normal(size=(30, 30))
    top1, n = baselines.nn_classification(noise + noise.T, labels)
    assert n == 10 and top1 < 0.8
    f = np.random.default_rng(1).normal(size=(6, 4))
    # float64, 4-term sums two ways: ~1e-16 apart, under assert_allclose's default rtol 1e-7 (measured 2e-7 of it)
    np.testing.assert_allclose(baselines.cosine_from_gram(f @ f.T), baselines.cosine_matrix(f, center=False))
    np.testing.assert_allclose(np.diag(baselines.cosine_matrix(f)), 1.0)


def test_hidden_activations_shapes():
    from wsm.zoos import nets
    x = torch.randn(5, 3, 32, 32)
    for arch, sizes in (("mlp4", (500, 500, 500)), ("plainnet5", (32 * 16 * 16, 64 * 8 * 8, 128 * 4 * 4))):
        torch.manual_seed(0)
        sd = nets.build(arch, 4).state_dict()
        for d, size in zip((1, 2, 3), sizes):
            assert baselines.hidden_activations(sd, arch, 4, x, d).shape == (5, size)
