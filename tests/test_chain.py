"""wsm.maths.chain: permutation invariance of the chain-normalized weights (Eq. 5-7), the CNN chain of
Appendix B against an independent einsum construction, shapes, the Gram matrix, and errors."""

import os

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from wsm.core import storage, version
from wsm.maths import chain
from wsm.zoos import nets
from wsm.core.errors import WsmError

from conftest import gen as _gen

PROPERTY = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


pytestmark = pytest.mark.usefixtures("one_thread")


# ----------------------------------------------------------------------------------------------
# helpers



def _randomize(net, seed):
    """Gaussian weights/biases and random BatchNorm affine parameters and running statistics,
    float64. Gaussian draws make every row (unit) of every weight distinct almost surely; the
    tests assert it instead of relying on it."""
    g = _gen(seed)
    net.double()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g, dtype=torch.float64))
                m.bias.copy_(torch.randn(m.bias.shape, generator=g, dtype=torch.float64))
            elif isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(0.5 + torch.rand(c, generator=g, dtype=torch.float64))
                m.bias.copy_(torch.randn(c, generator=g, dtype=torch.float64))
                m.running_mean.copy_(torch.randn(c, generator=g, dtype=torch.float64))
                m.running_var.copy_(0.5 + torch.rand(c, generator=g, dtype=torch.float64))
    return net.eval()


def _distinct_rows(w):
    """A property, not a tolerance: distinct Gaussian rows lie O(1) apart (1e-6 is far above rounding)."""
    rows = w.reshape(w.shape[0], -1)
    return torch.cdist(rows, rows).add(torch.eye(len(rows), dtype=rows.dtype)).min() > 1e-6


EPS32 = torch.finfo(torch.float32).eps          # 1.2e-7


def _float32_products_rtol(n: int) -> float:
    """The tolerance, relative to max |K|, of a Gram whose entries are float32 dot products of n-entry
    feature rows (scaled to a largest entry of 1; scales and sums over blocks in float64), against
    float64: each input rounds by eps32 / 2 and a sum of n products whose roundings have random signs
    errs by about sqrt(n) x eps32 x |f_i| |f_j|, where |f_i| |f_j| <= max_i K_ii = max |K|
    (Cauchy-Schwarz); 10x that: 6.5e-6 for n = 30, 2.9e-4 for n = 59,049 (phi of chain 2 of a 3-channel
    CNN), 2.6e-3 for n = 2187^2 (chain 3). Measured at most 1.5 sqrt(n) eps32 (with SSE4.2 kernels;
    0.2 natively, under AVX2 and under every in-process perturbation): 0.15 of the bound. A wrong
    feature, scale or centring moves K by O(max |K|)."""
    return 10 * n ** 0.5 * EPS32


def _assert_close(a, b, rtol=1e-10):
    """max |a - b| <= rtol * max |b| (cheaper than torch.testing.assert_close on 2187^2 chains).
    Its uses compare float64 products summed in another order (a permuted hidden axis): an entry of
    M M^T errs by <= k u64 sqrt(phi_aa phi_bb) <= k u64 max |phi| (Cauchy-Schwarz; k <= 128 columns,
    u64 = 1.1e-16), M itself by a few u64 per factor: ~1e-13 of max |phi| at worst, so 1e-10 leaves
    1000x; a wrong permutation moves phi by O(max |phi|)."""
    assert a.shape == b.shape
    err, scale = (a - b).abs().max().item(), b.abs().max().item()
    assert err <= rtol * scale, f"max abs difference {err:.3g} vs scale {scale:.3g}"


def _perm_strategy(width):
    return st.permutations(list(range(width))).map(lambda p: torch.tensor(p, dtype=torch.long))


def _ensure_nonidentity(perms):
    """At least one permutation must move something, so (c) is never vacuous."""
    if all(torch.equal(p, torch.arange(len(p))) for p in perms):
        perms[0] = perms[0].roll(1)
    return perms


def _check_invariance(net, x, perms):
    """Permute the hidden units of weight layers 1..len(perms) and check (a)-(c)."""
    before_w = [w.clone() for w in chain.layer_weights(net)]
    with torch.no_grad():
        before_out = net(x)
    for layer, perm in enumerate(perms, start=1):
        chain.permute_hidden(net, layer, perm)
    after_w = chain.layer_weights(net)
    with torch.no_grad():
        after_out = net(x)

    # (a) the function is unchanged: float64 forwards (widths <= 12, <= 4 layers) summing in another
    # order, ~ widths x layers x u64 x |activations| ~ 1e-13; measured 4e-14
    torch.testing.assert_close(after_out, before_out, rtol=1e-9, atol=1e-9)
    # (b) every chain is unchanged: phi^l itself up to 243 x 243; for the 2187 x 2187 chains of a
    # 3-conv stack, phi^l V = M (M^T V) on 32 random probe vectors (phi_a != phi_b would give
    # (phi_a - phi_b) V != 0 with probability 1), which avoids forming 38 MB matrices 20 times
    for depth in range(1, len(before_w) + 1):
        m_before, m_after = chain.chain_factor(before_w, depth), chain.chain_factor(after_w, depth)
        if m_before.shape[0] <= 300:
            _assert_close(chain.phi(after_w, depth), chain.phi(before_w, depth))
            _assert_close(m_after @ m_after.T, m_before @ m_before.T)
        else:
            v = torch.randn(m_before.shape[0], 32, generator=_gen(depth), dtype=torch.float64)
            _assert_close(m_after @ (m_after.T @ v), m_before @ (m_before.T @ v))
    # (c) the raw weights of every layer whose units moved did change
    moved = [layer for layer, p in enumerate(perms, start=1) if not torch.equal(p, torch.arange(len(p)))]
    assert moved
    for layer in moved:
        assert _distinct_rows(before_w[layer - 1])
        raw_before = chain.feature(before_w, layer, "unnormalized")
        raw_after = chain.feature(after_w, layer, "unnormalized")
        assert (raw_before - raw_after).abs().max() > 1e-3, f"layer {layer} unchanged"   # a property: O(1)


# ----------------------------------------------------------------------------------------------
# 1. MLP: permutation invariance


@st.composite
def mlp_case(draw):
    n_layers = draw(st.integers(2, 4))
    widths = draw(st.lists(st.integers(2, 12), min_size=n_layers + 1, max_size=n_layers + 1))
    perms = [draw(_perm_strategy(w)) for w in widths[1:-1]]
    return widths, _ensure_nonidentity(perms), draw(st.integers(0, 2**31 - 1))


@PROPERTY
@given(mlp_case())
def test_mlp_permutation_invariance(case):
    widths, perms, seed = case
    mods = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        mods.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            mods.append(nn.ReLU())
    net = _randomize(nn.Sequential(*mods), seed)
    x = torch.randn(7, widths[0], generator=_gen(seed + 1), dtype=torch.float64)
    _check_invariance(net, x, perms)


def test_permute_hidden_changes_function_if_next_layer_is_not_permuted():
    """Sanity of the property test itself: permuting only the rows of a layer (not the next
    layer's columns) changes the output and phi of the next chain, so (a) and (b) can fail."""
    net = _randomize(nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)), 0)
    x = torch.randn(5, 4, generator=_gen(1), dtype=torch.float64)
    w = [v.clone() for v in chain.layer_weights(net)]
    with torch.no_grad():
        y = net(x)
        net[0].weight.copy_(net[0].weight.roll(1, 0))
        net[0].bias.copy_(net[0].bias.roll(1, 0))
        assert not torch.allclose(net(x), y)             # an O(1) change, far beyond allclose's defaults
    # phi^1 survives a row permutation of W_1 alone (float64, the same products in another order:
    # ~1e-16, under assert_close's float64 defaults, rtol 1e-7), phi^2 does not (an O(1) change)
    torch.testing.assert_close(chain.phi(chain.layer_weights(net), 1), chain.phi(w, 1))
    assert not torch.allclose(chain.phi(chain.layer_weights(net), 2), chain.phi(w, 2))


# ----------------------------------------------------------------------------------------------
# 2. CNN with BatchNorm: permutation invariance


@st.composite
def cnn_case(draw):
    n_conv = draw(st.integers(2, 3))
    channels = draw(st.lists(st.integers(2, 6), min_size=n_conv, max_size=n_conv))
    pool = draw(st.booleans())               # a 2x2 max-pool after the first unit, as in PlainNet-5
    n_out = draw(st.integers(2, 5))
    perms = [draw(_perm_strategy(c)) for c in channels]
    return channels, pool, n_out, _ensure_nonidentity(perms), draw(st.integers(0, 2**31 - 1))


def _cnn(channels, pool, n_out):
    units, c_in = [], 3
    for i, c in enumerate(channels):
        units += [nn.Conv2d(c_in, c, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(c)]
        if pool and i == 0:
            units.append(nn.MaxPool2d(2))
        c_in = c
    units += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, n_out)]
    return nn.Sequential(*units)


@settings(PROPERTY, max_examples=20)
@given(cnn_case())
def test_cnn_permutation_invariance(case):
    channels, pool, n_out, perms, seed = case
    net = _randomize(_cnn(channels, pool, n_out), seed)
    x = torch.randn(4, 3, 8, 8, generator=_gen(seed + 1), dtype=torch.float64)
    # every conv layer is hidden (the Linear head follows): permute all of them
    assert len(perms) == len(chain.layer_weights(net)) - 1
    _check_invariance(net, x, perms)


def test_permute_hidden_layer_range():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    for bad in (0, 2):
        with pytest.raises(WsmError, match="1..1"):
            chain.permute_hidden(net, bad, torch.arange(4))


@pytest.mark.parametrize("bn", [dict(affine=False), dict(track_running_stats=False)],
                         ids=["affine=False", "no-running-stats"])
def test_permute_hidden_batchnorm_without_affine_or_stats(bn):
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(4, **bn),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)).double().eval()
    x = torch.randn(2, 3, 8, 8, generator=_gen(0), dtype=torch.float64)
    with torch.no_grad():
        before = net(x)
        chain.permute_hidden(net, 1, torch.tensor([2, 0, 3, 1]))
        torch.testing.assert_close(net(x), before)      # float64 defaults (rtol 1e-7); ~1e-16 apart


def test_permute_hidden_refuses_a_non_permutation():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    with pytest.raises(WsmError, match="not a permutation of the 4 units of layer 1"):
        chain.permute_hidden(net, 1, torch.tensor([0, 0, 1, 2]))


def test_centred_gram_equals_the_gram_of_centred_features_in_both_paths(rounding):
    nets = [[torch.randn(5, 7, generator=_gen(i), dtype=torch.float64) + 1000.0] for i in range(6)]
    feats = torch.stack([chain.feature(w, 1, "unnormalized") for w in nets])
    feats = feats - feats.mean(0)
    expected = feats @ feats.t()
    two = (chain._fixed_bytes(6, 1, 1) + 4 * 6 * 18) / chain.BUDGET_USED / 2**30   # 18 of the 35 entries a pass
    assert len(chain.slice_plan(6, 35, 1, two, "unnormalized")) == 2
    for memory_gb in (4.0, two):                     # one pass; two passes
        k = chain.gram(nets, 1, "unnormalized", memory_gb=memory_gb, center=True, progress=False)
        # centred before the float32 rounding (the common part cancels in float64), multiplied in
        # float32: 35 products of |f| < 3, ~ sqrt(35) x eps32 x 35 = 2.5e-5 absolute at worst, measured
        # 5.5e-6; a centring after the rounding to float32 (of features near 1000) would err by ~ 35 x
        # 1000 x eps32 = 2e-3 at least, after the float32 products by 4, a lost centring by 3.5e7
        torch.testing.assert_close(k, expected, rtol=1e-4, atol=1e-3)
        assert torch.equal(k, k.t())


# ----------------------------------------------------------------------------------------------
# 3. shapes of the paper's architectures


@pytest.fixture(scope="module")
def plainnet_weights():
    torch.manual_seed(0)
    return chain.layer_weights(nets.build("plainnet5", 4))


@pytest.fixture(scope="module")
def mlp_weights():
    torch.manual_seed(0)
    return chain.layer_weights(nets.build("mlp4", 4))


def test_plainnet5_chain_factor_shapes(plainnet_weights):
    assert [tuple(w.shape) for w in plainnet_weights] == [
        (32, 3, 3, 3), (64, 32, 3, 3), (128, 64, 3, 3), (256, 128, 3, 3), (4, 256)]
    expected = {1: (27, 32), 2: (243, 64), 3: (2187, 128), 4: (19683, 256), 5: (19683, 4)}
    for depth, shape in expected.items():
        assert tuple(chain.chain_factor(plainnet_weights, depth).shape) == shape
    assert tuple(chain.phi(plainnet_weights, 2).shape) == (243, 243)


def test_plainnet5_state_dict_gives_same_weights():
    torch.manual_seed(0)
    net = nets.build("plainnet5", 4)
    from_module = chain.layer_weights(net)
    from_state = chain.layer_weights(net.state_dict())
    assert len(from_state) == len(from_module) == 5
    for a, b in zip(from_module, from_state):
        assert torch.equal(a, b)


def test_mlp4_chain_factor_shapes(mlp_weights):
    assert [tuple(w.shape) for w in mlp_weights] == [(500, 3072), (500, 500), (500, 500), (4, 500)]
    for depth in (1, 2, 3):
        assert tuple(chain.chain_factor(mlp_weights, depth).shape) == (3072, 500)
    assert tuple(chain.chain_factor(mlp_weights, 4).shape) == (3072, 4)


@pytest.mark.parametrize("depth,kind", [(1, "normalized"), (2, "normalized"), (3, "normalized"),
                                        (1, "unnormalized"), (4, "unnormalized"), (5, "unnormalized")])
def test_feature_size_plainnet5(plainnet_weights, depth, kind):
    f = chain.feature(plainnet_weights, depth, kind)
    assert f.dim() == 1
    assert chain.feature_size(plainnet_weights, depth, kind) == f.numel()


@pytest.mark.parametrize("depth,kind", [(1, "normalized"), (1, "unnormalized"), (2, "unnormalized"),
                                        (4, "unnormalized")])
def test_feature_size_mlp4(mlp_weights, depth, kind):
    f = chain.feature(mlp_weights, depth, kind)
    assert chain.feature_size(mlp_weights, depth, kind) == f.numel()
    if kind == "normalized":
        assert f.numel() == 3072 * 3072


def test_feature_size_conv_then_linear():
    """A Linear head after the conv stack adds no kernel positions to the rows."""
    w = [torch.randn(4, 2, 3, 3), torch.randn(5, 4, 3, 3), torch.randn(3, 5)]
    for depth in (1, 2, 3):
        f = chain.feature(w, depth)
        assert chain.feature_size(w, depth) == f.numel() == (2 * 9 ** depth if depth < 3 else 2 * 81) ** 2


# ----------------------------------------------------------------------------------------------
# 4. the CNN chain against an explicit einsum (Appendix B remark)
#
# Exact comparison, not invariants: chain.py orders the rows of M_l as (c0, k1, k2, ..., kl) with
# c0 slowest and the kernel position of the last layer fastest, k = flattened (row-major) 3x3
# position. We build that same order independently with einsum and require equality of M_l
# itself (float64, allclose), hence of phi^l = M_l M_l^T.


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cnn_chain_matches_einsum(seed):
    g = _gen(seed)
    c0, c1, c2, c3 = 3, 4, 5, 2
    w1 = torch.randn(c1, c0, 3, 3, generator=g, dtype=torch.float64)
    w2 = torch.randn(c2, c1, 3, 3, generator=g, dtype=torch.float64)
    w3 = torch.randn(c3, c2, 3, 3, generator=g, dtype=torch.float64)
    weights = [w1, w2, w3]
    a, b, c = (w.reshape(w.shape[0], w.shape[1], 9) for w in weights)

    # chain 1: M1[(c0, k1), c1] = W1[c1, c0, k1]
    m1 = torch.einsum("iak->aki", a).reshape(c0 * 9, c1)
    # chain 2: M2[(c0, k1, k2), c2] = sum_c1 W1[c1, c0, k1] W2[c2, c1, k2]
    m2 = torch.einsum("iak,jil->aklj", a, b).reshape(c0 * 81, c2)
    # chain 3: M3[(c0, k1, k2, k3), c3] = sum_{c1,c2} W1[c1,c0,k1] W2[c2,c1,k2] W3[c3,c2,k3]
    # (summed over c1 first, then c2, to keep the einsum cheap)
    m3 = torch.einsum("aklj,hjm->aklmh", torch.einsum("iak,jil->aklj", a, b), c).reshape(c0 * 729, c3)

    # float64, the same sums of <= 5 x 4 products of N(0, 1) numbers in another order: ~ 20 x u64 x
    # |terms| (< 10) = 2e-14 at worst; measured: equal. A wrong row order moves entries by O(1)
    for depth, m in ((1, m1), (2, m2), (3, m3)):
        torch.testing.assert_close(chain.chain_factor(weights, depth), m, rtol=1e-12, atol=1e-12)
    for depth, m in ((1, m1), (2, m2)):                 # phi^3 (2187 x 2187) follows from M3
        torch.testing.assert_close(chain.phi(weights, depth), m @ m.T, rtol=1e-12, atol=1e-12)

    # the row order matters: phi^2 is not invariant to, e.g., swapping the k1/k2 order
    m2_swapped = torch.einsum("iak,jil->alkj", a, b).reshape(c0 * 81, c2)
    assert not torch.allclose(chain.phi(weights, 2), m2_swapped @ m2_swapped.T)
    # ...but its permutation invariants agree (same multiset of rows): eigenvalues of two float64 243 x
    # 243 matrices, ~ 243 x u64 x max eigenvalue apart, under assert_close's float64 defaults (rtol 1e-7)
    torch.testing.assert_close(torch.linalg.eigvalsh(chain.phi(weights, 2)),
                               torch.linalg.eigvalsh(m2_swapped @ m2_swapped.T))


def test_cnn_chain_factor_sums_to_composed_kernel():
    """A second, semantic check of chain 2: summing M2 over the kernel positions (k1, k2) whose
    offsets add to the same 5x5 offset gives the kernel of the composed linear conv W2 * W1
    (no padding, no bias), measured by applying the two convs to delta images."""
    g = _gen(5)
    w1 = torch.randn(4, 2, 3, 3, generator=g, dtype=torch.float64)
    w2 = torch.randn(3, 4, 3, 3, generator=g, dtype=torch.float64)
    m2 = chain.chain_factor([w1, w2], 2).reshape(2, 3, 3, 3, 3, 3)   # c0, k1y, k1x, k2y, k2x, c2
    composed = torch.zeros(3, 2, 5, 5, dtype=torch.float64)
    for k1y in range(3):
        for k1x in range(3):
            for k2y in range(3):
                for k2x in range(3):
                    composed[:, :, k1y + k2y, k1x + k2x] += m2[:, k1y, k1x, k2y, k2x, :].T
    # the 5x5 kernel of conv2(conv1(.)) by applying it to every delta input (cross-correlation)
    measured = torch.zeros(3, 2, 5, 5, dtype=torch.float64)
    for ci in range(2):
        delta = torch.zeros(1, 2, 9, 9, dtype=torch.float64)
        delta[0, ci, 4, 4] = 1.0
        out = nn.functional.conv2d(nn.functional.conv2d(delta, w1), w2)   # 1 x 3 x 5 x 5
        measured[:, ci] = out[0].flip(-1).flip(-2)
    # float64, sums of <= 4 x 9 products in two orders: ~ 36 x u64 x |terms| (< 10) = 4e-14; measured 6e-16
    torch.testing.assert_close(composed, measured, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------------------------
# 5. 1x1 convolutions reduce to the MLP chain


@pytest.mark.parametrize("seed", [0, 1])
def test_conv1x1_equals_linear_chain(seed):
    g = _gen(seed)
    dims = [5, 7, 4, 6]
    lin = [torch.randn(b, a, generator=g, dtype=torch.float64) for a, b in zip(dims[:-1], dims[1:])]
    conv = [w.reshape(*w.shape, 1, 1) for w in lin]
    mixed = conv[:2] + lin[2:]                       # 1x1 conv stack followed by a Linear head
    # float64, the same products (<= 7 terms) in the same or another order: ~ 7 x u64 x |terms| (< 50)
    # = 4e-14; measured: equal
    for depth in range(1, 4):
        ref = chain.phi(lin, depth)
        torch.testing.assert_close(chain.phi(conv, depth), ref, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(chain.phi(mixed, depth), ref, rtol=1e-12, atol=1e-12)
        # and the MLP chain is the paper's W_1 ... W_l W_l^T ... W_1^T in its layout (W = w.T)
        m = lin[0].T
        for w in lin[1:depth]:
            m = m @ w.T
        torch.testing.assert_close(ref, m @ m.T, rtol=1e-12, atol=1e-12)
        assert chain.feature_size(conv, depth) == chain.feature(conv, depth).numel() == 25


# ----------------------------------------------------------------------------------------------
# 6. Gram matrix


def _mlp_zoo(n, seed, dims=(6, 5, 4, 3)):
    g = _gen(seed)
    return [[torch.randn(b, a, generator=g) for a, b in zip(dims[:-1], dims[1:])] for _ in range(n)]


def _cnn_zoo(n, seed):
    g = _gen(seed)
    return [[torch.randn(4, 3, 3, 3, generator=g), torch.randn(3, 4, 3, 3, generator=g),
             torch.randn(2, 3, generator=g)] for _ in range(n)]


@pytest.mark.parametrize("zoo", ["mlp", "cnn"])
@pytest.mark.parametrize("kind", ["normalized", "unnormalized"])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_gram_is_matrix_of_feature_inner_products(zoo, kind, depth, rounding):
    weights = _mlp_zoo(7, depth) if zoo == "mlp" else _cnn_zoo(7, depth)
    feats = torch.stack([chain.feature([w.double() for w in ws], depth, kind) for ws in weights])
    expected = feats @ feats.T
    k = chain.gram(weights, depth, kind, progress=False)
    assert k.dtype == torch.float64 and k.shape == (7, 7)
    # gram forms the products in float32 (memory): 10 sqrt(n) eps32, _float32_products_rtol (1e-5
    # before, for every n: below sqrt(n) eps32 for n > 7,000)
    tol = _float32_products_rtol(feats.shape[1])
    torch.testing.assert_close(k, expected, rtol=tol, atol=tol * expected.abs().max().item())


def _gram64(weights, depth, kind, center):
    """The float64 reference: every feature formed in float64, centred in float64, products in float64."""
    f = torch.stack([chain.feature([w.double() for w in ws], depth, kind) for ws in weights])
    if center:
        f = f - f.mean(0)
    return f @ f.T


# The stated precision of chain.gram's slices (float32 products over at most PRODUCT_CHUNK entries,
# summed in float64; phi formed in float32): every entry within GRAM_RTOL of max |K| of the float64
# reference. Basis: a chunk's float32 sum of c products errs by about sqrt(c) eps32 |f_i,c| |f_j,c|
# (random signs), chunks add in float64, so for features of many chunks the error is far below
# sqrt(c) eps32 = 7.6e-6 of max |K| (Cauchy-Schwarz); phi's own float32 rounding (k-term sums) enters
# the products with random signs too. Measured: at most 8e-8 of max |K| on random MLP-4 and PlainNet-5
# zoos (chains 1-3, raw layers, centred or not; natively), 1e-8 to 4e-7 with the other thread count
# and kernels (see the tests below); 1e-6 leaves a factor 10 for other kernels (SSE4.2's were 7x
# coarser than AVX-512's on the float32 tests of the explicit path before it).
GRAM_RTOL = 1e-6


def _assert_gram_close(k, want, rtol=GRAM_RTOL):
    err = (k - want).abs().max().item() / want.abs().max().item()
    assert err <= rtol, f"{err:.2e} of max |K|, above {rtol:.0e}"


@pytest.mark.parametrize("kind", ["normalized", "unnormalized"])
@pytest.mark.parametrize("passes", [1, 2, 5])
def test_gram_in_passes_equals_one_pass(kind, passes, rounding):
    """Out of core: a budget that holds 1/passes of every network's feature gives the same Gram."""
    weights = _nets("plainnet5", 6)
    depth = 3
    n, k = (chain.factor_rows_cols(weights[0], depth) if kind == "normalized"
            else (chain.feature_size(weights[0], 3, kind), 1))
    entries = sum(r.size for r in chain.rects(n, 10**9, kind))
    memory_gb = (chain._fixed_bytes(6, n if kind == "normalized" else 1, k) + 4 * 6 * entries / passes * 1.05) \
        / chain.BUDGET_USED / 2**30
    assert len(chain.slice_plan(6, n, k, memory_gb, kind)) >= passes
    want = _gram64(weights, depth, kind, True)
    one = chain.gram(weights, depth, kind, center=True, progress=False, method="slices")
    split = chain.gram(weights, depth, kind, memory_gb=memory_gb, center=True, progress=False, method="slices")
    _assert_gram_close(one, want)
    _assert_gram_close(split, want)
    assert torch.equal(split, split.T)


@pytest.mark.parametrize("center", [False, True])
def test_gram_of_huge_features_does_not_overflow(center, rounding):
    # ResNet-MLP-12's chain 11 reaches entries of 1e17 and more after training: float32 products of
    # such features overflow to inf unless the factors are scaled first (by powers of two: exact)
    weights = [[w * 1e4 for w in ws] for ws in _mlp_zoo(5, 3)]
    feats = torch.stack([chain.feature([w.double() for w in ws], 3, "normalized") for ws in weights])
    assert feats.abs().max() > 1e22 and (feats.float() @ feats.float().T).isinf().any()
    k = chain.gram(weights, 3, "normalized", center=center, progress=False, method="slices")
    assert torch.isfinite(k).all()
    _assert_gram_close(k, _gram64(weights, 3, "normalized", center))


def test_centred_gram_of_networks_far_apart_in_scale_takes_the_float64_factors():
    # a trained ResNet-MLP-12's chain 11 differs by 2^68 between two runs of the quick book: one common
    # float32 scale cannot hold both, so the slices refuse and "auto" takes the exact factor path
    weights = _mlp_zoo(5, 3)
    weights[1] = [w * 2.0 ** 12 for w in weights[1]]               # exact: phi^3 of network 1 is 2^72 times
    with pytest.raises(chain.ScaleRangeError, match="too far apart for a centred float32 Gram"):
        chain.gram(weights, 3, "normalized", center=True, progress=False, method="slices")
    k = chain.gram(weights, 3, "normalized", center=True, progress=False)
    assert torch.isfinite(k).all()
    _assert_gram_close(k, _gram64(weights, 3, "normalized", True))


@pytest.mark.parametrize("arch, depths", [("mlp4", (1, 2, 3)), ("plainnet5", (1, 2, 3))])
@pytest.mark.parametrize("center", [False, True])
def test_gram_within_its_stated_precision_of_float64(arch, depths, center, rounding):
    """Random networks of the paper's shapes (MLP-4's 3072^2 phi: 9.4 million entries)."""
    weights = _nets(arch, 12 if arch == "mlp4" else 40)
    for depth in depths:
        for kind in chain.KINDS:
            _assert_gram_close(chain.gram(weights, depth, kind, center=center, progress=False),
                               _gram64(weights, depth, kind, center))


def test_gram_of_a_random_zoo_of_1000_networks_within_its_stated_precision():
    """1,000 random PlainNet-5 networks (phi of chains 1-2, raw layers 1-2) against float64, in
    passes of a 0.3 GB budget (the Gram alone is 8 MB)."""
    weights = _nets("plainnet5", 1000)
    for depth, kind in ((1, "normalized"), (2, "normalized"), (2, "unnormalized")):
        want = _gram64(weights, depth, kind, True)
        k = chain.gram(weights, depth, kind, memory_gb=0.3, center=True, progress=False)
        _assert_gram_close(k, want)


# ----------------------------------------------------------------------------------------------
# 7. errors


def test_depth_out_of_range():
    w = _mlp_zoo(1, 0)[0]                           # 3 layers
    for fn in (chain.chain_factor, chain.phi, chain.feature):
        for depth in (0, 4, -1):
            with pytest.raises(WsmError, match=r"chains 1\.\.3"):
                fn(w, depth)
    for depth in (0, 4):
        with pytest.raises(WsmError, match="3 weight layers"):
            chain.feature(w, depth, "unnormalized")
        with pytest.raises(WsmError):
            chain.gram([w, w], depth, "normalized", progress=False)


def test_weights_that_do_not_chain():
    w = [torch.randn(4, 3), torch.randn(5, 6)]
    assert tuple(chain.chain_factor(w, 1).shape) == (3, 4)        # chain 1 alone is fine
    with pytest.raises(WsmError, match="do not form a chain"):
        chain.chain_factor(w, 2)
    conv = [torch.randn(4, 3, 3, 3), torch.randn(5, 2, 3, 3)]
    with pytest.raises(WsmError, match="do not form a chain"):
        chain.phi(conv, 2)
    head = [torch.randn(4, 3, 3, 3), torch.randn(2, 5)]           # Linear head of the wrong width
    with pytest.raises(WsmError, match="do not form a chain"):
        chain.feature(head, 2)


def test_unknown_kind():
    w = _mlp_zoo(1, 0)[0]
    with pytest.raises(WsmError, match="unknown feature kind 'raw'.*normalized, unnormalized"):
        chain.feature(w, 1, "raw")
    with pytest.raises(WsmError, match="unknown feature kind"):
        chain.gram([w, w], 1, "raw", progress=False)


class _WithGRU(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(4, 8)
        self.recurrent = nn.GRU(8, 8)
        self.head = nn.Linear(8, 2)


@pytest.mark.parametrize("model", [_WithGRU(), nn.Sequential(nn.Linear(3, 4), nn.GRU(4, 4))],
                         ids=["named", "sequential"])
def test_gru_is_rejected_naming_the_layer(model):
    name = next(n for n, m in model.named_modules() if isinstance(m, nn.GRU))
    with pytest.raises(WsmError, match=f"layer '{name}' is not supported"):
        chain.layer_weights(model)


def test_layer_weights_forward_order_and_detached():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))
    ws = chain.layer_weights(net)
    assert [tuple(w.shape) for w in ws] == [(4, 3, 3, 3), (2, 4)]
    assert all(not w.requires_grad for w in ws)


# --- Gram by the kernel identity (chain.gram_from_factors) -------------------------------------------

def _nets(arch, n, seed=0):
    from wsm.zoos import nets as _n
    out = []
    for s in range(n):
        torch.manual_seed(seed + s)
        out.append(chain.layer_weights(_n.build(arch, 5)))
    return out


@pytest.mark.parametrize("center", [False, True])
def test_gram_from_factors_equals_float64(center, rounding):
    nets_ = _nets("plainnet5", 4)
    for depth in (1, 2, 3):
        want = _gram64(nets_, depth, "normalized", center)
        got = chain.gram(nets_, depth, center=center, progress=False, method="factors")
        assert got.dtype == torch.float64
        # float64 both ways, ||M_a^T M_b||^2 against sums over phi's n^2 <= 4.8e6 entries: ~ sqrt(n^2)
        # x u64 = 2.4e-13 of |K| (more where centring cancels); measured 1e-4 of this bound
        assert torch.allclose(got, want, rtol=1e-10, atol=1e-12 * want.abs().max().item())
        # the slices agree to their stated precision
        _assert_gram_close(chain.gram(nets_, depth, center=center, progress=False, method="slices"), want)


def test_chain_factor_rows_from_any_start():
    """Rows start: of a chain factor, formed from the rows of M_1 they come from, are those rows."""
    for arch in ("mlp4", "plainnet5"):
        ws = [w.double() for w in _nets(arch, 1)[0]]
        for depth in range(1, len(ws) + 1 if arch == "mlp4" else 4):
            m = chain.chain_factor(ws, depth)
            for start in (1, 27, 100, m.shape[0] - 1):
                # the same float64 products over fewer rows: BLAS may block their 500-term sums
                # otherwise (measured 2e-12 relative at most; a wrong row is off by O(1))
                torch.testing.assert_close(chain.chain_factor(ws, depth, start), m[start:], rtol=1e-10, atol=0)


def test_the_cost_model_picks_the_slices_for_mlp4_and_the_factors_for_plainnet5_chain_4_over_few_networks():
    """Slices wherever phi is not far larger than its factor, or the networks are many; the factors
    for PlainNet-5's chain 4 (19,683 rows, 256 columns: a 1.5 GB float32 phi per network) over a few."""
    mlp, cnn = _nets("mlp4", 1), _nets("plainnet5", 1)
    assert chain.auto_method(mlp * 100, 1, 2.0) == "slices"
    assert chain.auto_method(mlp * 5000, 1, 8.0) == "slices"
    assert chain.auto_method(cnn * 3, 4, 2.0) == "factors"
    assert chain.auto_method(cnn * 3, 1, 2.0) == "slices"
    assert chain.auto_method(cnn * 5000, 4, 8.0) == "slices"      # 5,000 networks: phi's pairs dominate
    # the slices' cost is what the Gram needs and little more: MLP-4's chain 1 at 5,000 networks in
    # 8 GB within 30% of the arithmetic minimum (phi's upper triangle formed once, the products of
    # the upper triangle of pairs; the rest: the block triangle of NET_BLOCK networks, about 10%,
    # the bands' squares and the memory traffic), where the blocks of 2 GB before cost 100 times that
    n, k = 3072, 500
    minimum = 5000 * n * n * k + 5000 * 5000 / 2 * n * n
    assert chain.gram_costs(5000, n, k, 8.0)["slices"] < 1.3 * minimum
    with pytest.raises(WsmError, match="needs at least"):
        chain.gram(mlp * 3, 1, memory_gb=1e-4, method="slices")


def test_gram_cache_key_names_the_device():
    nets_ = _nets("mlp4", 2)
    assert chain.gram_key(nets_, 1, "normalized", 2.0, True, "auto", "cpu") != \
        chain.gram_key(nets_, 1, "normalized", 2.0, True, "auto", "cuda")


def test_a_change_of_the_feature_code_never_reads_a_stale_gram(tmp_path, monkeypatch):
    """The Gram cache key holds the digest of the feature code (wsm.core.version.code of wsm.maths.chain and
    wsm.zoos.tiles): once that code changes, a cached Gram is not read back but computed again."""
    weights = _mlp_zoo(4, 3)
    first = chain.gram(weights, 1, center=True, progress=False, cache=tmp_path)
    key = chain.gram_key(weights, 1, "normalized", None, True, "auto")
    storage.save_tensor(tmp_path / f"{key}.pt", first + 1.0)        # what an older code would have left
    assert torch.equal(chain.gram(weights, 1, center=True, progress=False, cache=tmp_path), first + 1.0)
    monkeypatch.setattr(version, "code", lambda modules=version.FEATURE_MODULES: "0123456789abcdef")
    assert chain.gram_key(weights, 1, "normalized", None, True, "auto") != key
    assert torch.equal(chain.gram(weights, 1, center=True, progress=False, cache=tmp_path), first)
    assert len(list(tmp_path.glob("*.pt"))) == 2


def test_the_code_version_follows_every_byte_of_the_source(tmp_path, monkeypatch):
    module = tmp_path / "wsm_version_probe.py"
    module.write_text("def phi(m):\n    return m @ m.T\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = version.code(("wsm_version_probe",))
    module.write_text("def phi(m):\n    return m.T @ m\n")
    version.code.cache_clear()
    assert version.code(("wsm_version_probe",)) != before
    assert version.code() == version.code(("wsm.maths.chain", "wsm.zoos.tiles")) and len(version.code()) == 16


def test_gram_from_factors_blocks_and_chain4_shape():
    nets_ = _nets("plainnet5", 3)
    m = chain.chain_factor(nets_[0], 4)
    assert m.shape == (19683, 256) and chain.factor_rows_cols(nets_[0], 4) == (19683, 256)
    full = chain.gram_from_factors(nets_, 4, progress=False)
    tiny = chain.gram_from_factors(nets_, 4, memory_gb=0.09, progress=False)   # one factor per block
    # float64 throughout; blocks change only how the 19,683-term sums of M_a^T M_b are split: ~
    # sqrt(19683) x u64 = 1.6e-14 relative; measured 3.5e-9 and 2.2e-7 of these two bounds
    assert torch.allclose(full, tiny, rtol=1e-12)
    # <phi_0, phi_1> by the identity equals the explicit inner product of one pair (float64)
    m0, m1 = (chain.chain_factor([w.double() for w in n], 4) for n in nets_[:2])
    assert full[0, 1].item() == pytest.approx(((m0.t() @ m1) ** 2).sum().item(), rel=1e-12)
    assert torch.equal(chain.gram(nets_, 4, memory_gb=2.0, progress=False),
                       chain.gram_from_factors(nets_, 4, 2.0, progress=False))


def test_gram_method_errors():
    nets_ = _nets("mlp4", 2)
    with pytest.raises(WsmError, match="unknown Gram method"):
        chain.gram(nets_, 1, method="sliced")
    with pytest.raises(WsmError, match="normalized"):
        chain.gram(nets_, 1, kind="unnormalized", method="factors")
    with pytest.raises(WsmError, match="memory budget must be positive"):
        chain.gram(nets_, 1, memory_gb=0)


@pytest.mark.parametrize("kind", ["normalized", "unnormalized"])
def test_gram_cache_reads_back_the_same_matrix_and_is_keyed_by_the_weights(tmp_path, monkeypatch, kind):
    weights = _mlp_zoo(6, 5)
    info = {}
    first = chain.gram(weights, 2, kind, center=True, progress=False, cache=tmp_path, info=info)
    assert info == {"cached": False}
    assert torch.equal(first, chain.gram(weights, 2, kind, center=True, progress=False))
    assert len(list(tmp_path.glob("*.pt"))) == 1 and not list(tmp_path.glob(".*.tmp"))
    calls = []
    real = chain._gram
    monkeypatch.setattr(chain, "_gram", lambda *a: calls.append(a) or real(*a))
    assert torch.equal(chain.gram(weights, 2, kind, center=True, progress=False, cache=tmp_path, info=info), first)
    assert not calls and info == {"cached": True}             # read back, not computed
    # anything that changes the matrix is a new entry: the weights, the subset, centring, the depth
    changed = [[w.clone() for w in ws] for ws in weights]
    changed[3][1][0, 0] += 1.0
    for args in [(changed, 2, kind, True), (weights[:5], 2, kind, True), (weights, 2, kind, False),
                 (weights, 1, kind, True)]:
        k = chain.gram(*args[:3], center=args[3], progress=False, cache=tmp_path)
        assert torch.equal(k, chain.gram(*args[:3], center=args[3], progress=False))
    assert len(calls) == 8 and len(list(tmp_path.glob("*.pt"))) == 5
    # only the layers that enter the feature count: chain 2 ignores layer 3, layer 2 ignores layer 1
    other = [[w.clone() for w in ws] for ws in weights]
    for ws in other:
        ws[2] += 1.0
        if kind == "unnormalized":
            ws[0] += 1.0
    assert chain.gram_key(other, 2, kind, None, True, "auto") == chain.gram_key(weights, 2, kind, None, True, "auto")


def test_gram_cache_recomputes_a_damaged_file(tmp_path):
    weights = _mlp_zoo(4, 9)
    want = chain.gram(weights, 1, center=True, progress=False, cache=tmp_path)
    (path,) = tmp_path.glob("*.pt")
    path.write_bytes(b"not a tensor")
    assert torch.equal(chain.gram(weights, 1, center=True, progress=False, cache=tmp_path), want)
    assert torch.equal(storage.load_tensor(path), want)


def flip_a_data_byte(path, t):
    """Flip one bit of a byte in the middle of tensor ``t``'s data as ``path`` holds it (the file
    stays a readable archive: only the numbers change)."""
    raw, data = bytearray(path.read_bytes()), t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
    at = raw.find(data)
    assert at >= 0 and raw.find(data, at + 1) < 0           # the tensor's bytes, once
    raw[at + len(data) // 2 + 7] ^= 0x40                    # in the exponent byte of a float64: far off
    path.write_bytes(bytes(raw))


def test_a_flipped_byte_in_a_cached_gram_is_caught_and_the_gram_recomputed(tmp_path, monkeypatch):
    """A cache file whose data changed on disk loads as a valid tensor (torch.load checks nothing):
    its checksum catches it, and the Gram is computed again and the file rewritten."""
    weights = _mlp_zoo(5, 4)
    want = chain.gram(weights, 2, center=True, progress=False, cache=tmp_path)
    (path,) = tmp_path.glob("*.pt")
    flip_a_data_byte(path, want)
    damaged = torch.load(path, weights_only=True)["tensor"]       # what an unchecked cache would use
    assert damaged.shape == want.shape and not torch.equal(damaged, want)
    calls = []
    real = chain._gram
    monkeypatch.setattr(chain, "_gram", lambda *a: calls.append(a) or real(*a))
    info = {}
    assert torch.equal(chain.gram(weights, 2, center=True, progress=False, cache=tmp_path, info=info), want)
    assert len(calls) == 1 and info == {"cached": False}          # recomputed, not read
    assert torch.equal(storage.load_tensor(path), want)            # and the file replaced


def test_atomic_writes_reach_the_disk_before_the_rename(tmp_path, monkeypatch):
    """A run file, a cache file: the temporary file is fsynced before the rename publishes it."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: events.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(os, "replace", lambda a, b: events.append("replace") or real_replace(a, b))
    storage.save_tensor(tmp_path / "k.pt", torch.ones(3, dtype=torch.float64))
    assert events[:2] == ["fsync", "replace"]
    assert torch.equal(storage.load_tensor(tmp_path / "k.pt"), torch.ones(3, dtype=torch.float64))


def test_row_normalized_chains_stay_permutation_invariant():
    """The ICLR text's / authors' code's per-layer normalization of MLP weights (every input unit's
    outgoing weights at unit norm) commutes with hidden-unit permutations, so phi is still invariant."""
    torch.manual_seed(0)
    net = nets.build("mlp4", 4).double()
    w = chain.layer_weights(net)
    rn = chain.row_normalized(w)
    # float64 norms of <= 3072 entries: ~1e-15 from 1 (allclose's defaults, rtol 1e-5, leave room)
    assert all(torch.allclose(x.norm(dim=0), torch.ones(x.shape[1], dtype=x.dtype)) for x in rn)
    permuted = nets.build("mlp4", 4).double()
    permuted.load_state_dict(net.state_dict())
    for layer in (1, 2, 3):
        chain.permute_hidden(permuted, layer, torch.randperm(500, generator=torch.Generator().manual_seed(layer)))
    rp = chain.row_normalized(chain.layer_weights(permuted))
    for depth in (2, 3):
        # float64, sums of 500-term products in another order: ~ 500 x u64 = 6e-14 relative; measured
        # 4e-4 of the bound; a wrong permutation moves phi by O(|phi|)
        assert torch.allclose(chain.phi(rn, depth), chain.phi(rp, depth), rtol=1e-9, atol=1e-12)
        assert not torch.allclose(chain.phi(rn, depth), chain.phi(w, depth))     # it is another feature


# --- one definition of a network's chain layers (chain.chain_layers) ------------------------------

CHAIN_NAMES = {
    "mlp4": [f"layers.{i}.weight" for i in range(4)],
    "plainnet5": ["features.0.weight", "features.4.weight", "features.8.weight", "features.12.weight", "fc.weight"],
    "leaky": ["features.0.weight", "features.4.weight", "features.8.weight", "features.12.weight", "fc.weight"],
    "plainnet5bn": ["features.0.weight", "features.4.weight", "features.8.weight", "features.12.weight", "fc.weight"],
    "plainnet6": ["features.0.weight", "features.4.weight", "features.8.weight", "features.12.weight",
                  "features.16.weight", "fc.weight"],
    "res5": ["stem.0.weight", "blocks.0.conv.weight", "blocks.1.conv.weight", "blocks.2.conv.weight", "fc.weight"],
    "gru2": ["gru.weight_ih_l0", "gru.weight_ih_l1"],
    "resmlp12": [f"layers.{i}.weight" for i in range(12)] + ["head.weight"],
}


@pytest.mark.parametrize("arch", nets.ARCHITECTURES)
def test_chain_layers_of_every_zoo_architecture_from_module_and_state_dict(arch):
    """Forward order and names; Res5's shortcuts skipped; GRU-2 read as its two input weights; the
    same layers from the module and from its state_dict (what a zoo run file holds)."""
    torch.manual_seed(0)
    net = nets.build(arch, 5)
    from_module, from_state = chain.chain_layers(net), chain.chain_layers(net.state_dict())
    assert [layer.name for layer in from_module] == [layer.name for layer in from_state] == CHAIN_NAMES[arch]
    for a, b in zip(from_module, from_state):
        assert torch.equal(a.weight, b.weight) and a.stored_shape == b.stored_shape
        assert torch.equal(a.like(net.state_dict()[a.name]), a.weight)      # like() rereads the stored tensor
    weights = chain.layer_weights(net)
    for depth in range(1, len(weights) + 1):
        chain.chain_factor(weights, depth)                                  # every chain is well formed
    if arch == "gru2":
        assert all(torch.equal(a, b) for a, b in zip(weights, chain.gru_weights(net)))
        assert tuple(weights[1].shape) == (9 * 128, 3 * 128) and from_module[1].copies == 3


@pytest.mark.parametrize("model, message", [
    (nn.Sequential(nn.Linear(3, 4), nn.LSTM(4, 4)), "layer '1' is not supported.*nn.LSTM"),
    (nn.GRU(4, 4, num_layers=2, bidirectional=True), "layer '' is not supported.*nn.GRU"),
    (nn.GRU(4, 4, num_layers=3).state_dict(), "'weight_ih_l0'.*recurrent.*not part of a GRU-2"),
    (nn.Sequential(nn.Conv2d(3, 4, 3, groups=1), nn.Conv2d(4, 4, 3, groups=2)), "grouped nn.Conv2d"),
    (nn.Sequential(nn.Conv2d(3, 4, 3), nn.ConvTranspose2d(4, 2, 3)), "nn.ConvTranspose2d"),
    (nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 36 + 2, 2)), r"takes 146 inputs.*4 outputs"),
    ([torch.randn(4, 3), torch.randn(2, 5)], r"layer 2 \(weight layer 2\).*takes 5 inputs"),
    ({"bn.weight": torch.ones(3)}, "no weight layers"),
])
def test_chain_layers_refuses_what_has_no_chain_naming_the_layer(model, message):
    with pytest.raises(WsmError, match=message):
        chain.chain_layers(model)


@st.composite
def lenet_case(draw):
    n_conv = draw(st.integers(1, 2))
    channels = draw(st.lists(st.integers(2, 5), min_size=n_conv, max_size=n_conv))
    size = draw(st.sampled_from([(6, 8), (8, 8), (4, 6)]))        # square and non-square last feature maps
    hidden, n_out = draw(st.integers(2, 6)), draw(st.integers(2, 4))
    perms = [draw(_perm_strategy(c)) for c in channels] + [draw(_perm_strategy(hidden))]
    return channels, size, hidden, n_out, _ensure_nonidentity(perms), draw(st.integers(0, 2**31 - 1))


def _lenet(channels, hidden, n_out, size):
    """LeNet-style: conv units (a 2x2 max-pool after the first), flatten, Linear, ReLU, Linear."""
    units, c_in, (h, w) = [], 3, size
    for i, c in enumerate(channels):
        units += [nn.Conv2d(c_in, c, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(c)]
        if i == 0:
            units.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
        c_in = c
    units += [nn.Flatten(), nn.Linear(c_in * h * w, hidden), nn.ReLU(), nn.Linear(hidden, n_out)]
    return nn.Sequential(*units), h * w


@settings(PROPERTY, max_examples=20)
@given(lenet_case())
def test_linear_after_flatten_continues_the_chain_and_is_permutation_invariant(case):
    """The Linear over the flattened map is read as a conv over the last grid (its column block of
    each channel as that channel's kernel), so permuting the conv channels (and, with them, those
    blocks: the same function) leaves every phi unchanged, like any other hidden permutation."""
    channels, size, hidden, n_out, perms, seed = case
    net, positions = _lenet(channels, hidden, n_out, size)
    net = _randomize(net, seed)
    layers = chain.chain_layers(net)
    flat = layers[len(channels)]
    assert flat.stored_shape == (hidden, channels[-1] * positions)
    assert flat.weight.shape[:2] == (hidden, channels[-1]) and flat.weight[0, 0].numel() == positions
    assert torch.equal(flat.weight.reshape(flat.stored_shape), dict(net.named_parameters())[flat.name])
    x = torch.randn(3, 3, *size, generator=_gen(seed + 1), dtype=torch.float64)
    _check_invariance(net, x, perms)


def test_rotate_hidden_keeps_every_phi_and_changes_the_raw_weights():
    torch.manual_seed(0)
    lenet, _ = _lenet([4, 5], 6, 3, (8, 8))
    for net in (nets.build("mlp4", 3), nets.build("plainnet5", 3), nets.build("gru2", 2), lenet):
        w = [x.double() for x in chain.layer_weights(net)]
        r = chain.rotate_hidden(w, _gen(1))
        assert [x.shape for x in r] == [x.shape for x in w]
        for depth in range(1, len(w) + 1):
            ma, mb = chain.chain_factor(w, depth), chain.chain_factor(r, depth)
            # float64; an orthogonal Q (formed by QR in float64, ~1e-15 from orthogonal) enters squared
            # sums of up to 19,683 x 256 products: ~1e-12 relative at worst; 1e-9 leaves 1000x
            _assert_close((mb.T @ mb).norm() ** 2, (ma.T @ ma).norm() ** 2, rtol=1e-9)   # ||phi||^2
            _assert_close((ma.T @ mb).norm() ** 2, (ma.T @ ma).norm() ** 2, rtol=1e-9)   # <phi_a, phi_b> = ||phi||^2
        cos = torch.nn.functional.cosine_similarity(w[0].flatten(), r[0].flatten(), dim=0)
        assert cos < 0.5                                                   # the raw first layer moved


@pytest.mark.parametrize("blocks", [1, chain.GRU_GATES])
def test_invariant_split_is_the_part_a_hidden_permutation_keeps(blocks):
    """A first layer's column sums per row block do not move under a permutation of the hidden units;
    the rest moves with the rows; the two give the weight back."""
    g = torch.Generator().manual_seed(5)
    h, d = 16, 7
    w = torch.randn(blocks * h, d, generator=g, dtype=torch.float64)
    perm = torch.randperm(h, generator=g)
    rows = torch.cat([b * h + perm for b in range(blocks)])     # the same permutation in every block (I (x) P)
    sums, rest = chain.invariant_split(w, blocks)
    sums_p, rest_p = chain.invariant_split(w[rows], blocks)
    assert sums.shape == (blocks, d)
    torch.testing.assert_close(sums_p, sums)
    torch.testing.assert_close(rest_p, rest[rows])
    assert not torch.allclose(rest_p, rest)
    spread = sums.repeat_interleave(h, 0) / h
    torch.testing.assert_close(rest + spread, w)
    with pytest.raises(WsmError, match="equal row blocks"):
        chain.invariant_split(w[:-1], blocks if blocks > 1 else 2)
