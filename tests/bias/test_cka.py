"""Tests of lib.bias.cka: agreement with a plain float64 loop of the published formula, invariances, streaming."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lib.bias import cka


# ------------------------------------------------------------ independent plain reference (float64)
def ref_hsic1(K: np.ndarray, L: np.ndarray) -> float:
    """Song et al. (2012) unbiased HSIC, written out literally with explicit loops over entries."""
    n = K.shape[0]
    Kt = np.array(K, dtype=np.float64)
    Lt = np.array(L, dtype=np.float64)
    for i in range(n):
        Kt[i, i] = 0.0
        Lt[i, i] = 0.0
    ones = np.ones(n)
    trace_kl = sum(Kt[i, j] * Lt[j, i] for i in range(n) for j in range(n))
    term2 = (ones @ Kt @ ones) * (ones @ Lt @ ones) / ((n - 1) * (n - 2))
    term3 = 2.0 / (n - 2) * (ones @ Kt @ Lt @ ones)
    return (trace_kl + term2 - term3) / (n * (n - 3))


def ref_minibatch_cka(xs: list[np.ndarray], ys: list[np.ndarray]) -> float:
    xy = xx = yy = 0.0
    for x, y in zip(xs, ys):
        x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        K, L = x @ x.T, y @ y.T
        xy += ref_hsic1(K, L)
        xx += ref_hsic1(K, K)
        yy += ref_hsic1(L, L)
    return xy / np.sqrt(xx * yy)


def batches(rng, n_batches=3, n=12, d=7, shift=0.0):
    return [rng.normal(size=(n, d)) + shift for _ in range(n_batches)]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# -------------------------------------------------------------------------------- formula level
def test_gram_linear_is_x_xt(rng):
    X = rng.normal(size=(6, 4))
    np.testing.assert_allclose(cka.gram_linear(X), X @ X.T, rtol=1e-12)
    G = cka.gram_linear(torch.from_numpy(X).float().reshape(6, 2, 2))  # (n, ...) is flattened
    assert isinstance(G, torch.Tensor) and G.dtype == torch.float64 and G.shape == (6, 6)


def test_hsic1_hand_computed_value():
    # K = L = [[0,1,1,1],[1,0,1,1],...] (n=4, all off-diagonal ones): tr(KL)=12, 1'K1=12, 1'KL1=36
    # HSIC1 = (12 + 144/6 - 2/2*36) / (4*1) = 0
    K = np.ones((4, 4))
    assert cka.hsic1(K, K) == pytest.approx(0.0, abs=1e-12)
    K2 = np.diag([9.0, 9, 9, 9]) + np.array([[0, 2, 0, 0], [2, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0.0]])
    # tr(KL) = 8, 1'K1 = 4, 1'KL1 = 8 -> (8 + 16/6 - 8) / 4 = 2/3
    assert cka.hsic1(K2, K2) == pytest.approx(2.0 / 3.0, rel=1e-12)


def test_hsic1_matches_loop_reference(rng):
    X, Y = rng.normal(size=(9, 5)), rng.normal(size=(9, 3))
    K, L = X @ X.T, Y @ Y.T
    assert cka.hsic1(K, L) == pytest.approx(ref_hsic1(K, L), rel=1e-10, abs=1e-12)


def test_hsic1_matrix_matches_pairwise_loop(rng):
    grams = np.stack([(lambda a: a @ a.T)(rng.normal(size=(10, d))) for d in (2, 5, 8, 3)])
    H = cka.hsic1_matrix(grams)
    assert H.shape == (4, 4)
    expected = np.array([[ref_hsic1(a, b) for b in grams] for a in grams])
    np.testing.assert_allclose(H, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(H, H.T, rtol=1e-12)  # symmetric
    cross = cka.hsic1_matrix(grams[:2], grams[1:])
    np.testing.assert_allclose(cross, expected[:2, 1:], rtol=1e-10, atol=1e-12)


def test_hsic1_matrix_non_symmetric_inputs(rng):
    A, B = rng.normal(size=(2, 7, 7))
    np.testing.assert_allclose(cka.hsic1_matrix(A[None], B[None])[0, 0], ref_hsic1(A, B), rtol=1e-10)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_batch_of_three_or_fewer_is_an_error(rng, n):
    K = np.ones((n, n))
    with pytest.raises(ValueError, match="at least 4"):
        cka.hsic1(K, K)
    with pytest.raises(ValueError, match="at least 4"):
        cka.cka_minibatch([rng.normal(size=(n, 3))], [rng.normal(size=(n, 3))])
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    with pytest.raises(ValueError, match="at least 4"):
        cka.cka_matrix(model, [torch.randn(n, 3)], device="cpu")


def test_invalid_precision_names_allowed_values(rng):
    with pytest.raises(ValueError, match="float64"):
        cka.gram_linear(rng.normal(size=(5, 2)), precision="float16")


# ------------------------------------------------------------------------------ CKA properties
def test_minibatch_cka_matches_reference_1e6(rng):
    xs = batches(rng, d=7, shift=3.0)  # non-centred data: the cancellation-prone case
    ys = [np.tanh(x @ rng.normal(size=(7, 5))) + rng.normal(size=(12, 5)) * 0.5 for x in xs]
    assert cka.cka_minibatch(xs, ys) == pytest.approx(ref_minibatch_cka(xs, ys), abs=1e-6)
    assert cka.cka_minibatch(xs, ys) == pytest.approx(ref_minibatch_cka(xs, ys), abs=1e-12)


def test_float32_products_stay_close(rng):
    xs = batches(rng, d=50, shift=5.0)
    ys = [np.maximum(x @ rng.normal(size=(50, 30)), 0) for x in xs]
    ref = ref_minibatch_cka(xs, ys)
    assert cka.cka_minibatch(xs, ys, precision="float32") == pytest.approx(ref, abs=1e-6)


def test_cka_self_is_one(rng):
    xs = batches(rng)
    assert cka.cka_minibatch(xs, xs) == pytest.approx(1.0, abs=1e-12)


def test_invariant_to_orthogonal_transform_and_isotropic_scaling(rng):
    xs = batches(rng, d=6, shift=1.0)
    ys = [np.sin(x[:, :4]) for x in xs]
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    base = cka.cka_minibatch(xs, ys)
    assert cka.cka_minibatch([x @ Q for x in xs], ys) == pytest.approx(base, abs=1e-10)
    assert cka.cka_minibatch([3.7 * x for x in xs], ys) == pytest.approx(base, abs=1e-10)
    assert cka.cka_minibatch([x + 5.0 for x in xs], ys) == pytest.approx(base, abs=1e-10)  # feature shift


def test_not_invariant_to_general_invertible_map(rng):
    xs = batches(rng, d=6)
    ys = [np.sin(x[:, :4]) for x in xs]
    A = np.diag([10.0, 1, 1, 0.1, 1, 1]) + 0.3 * rng.normal(size=(6, 6))
    assert abs(np.linalg.det(A)) > 1e-3
    assert abs(cka.cka_minibatch([x @ A for x in xs], ys) - cka.cka_minibatch(xs, ys)) > 1e-2


def test_streaming_equals_sum_of_batches(rng):
    xs, ys = batches(rng, n_batches=4, d=5), batches(rng, n_batches=4, d=3)
    acc = cka.MinibatchCKA(2)
    for x, y in zip(xs, ys):
        acc.update(np.stack([cka.gram_linear(x), cka.gram_linear(y)]))
    sums = {
        k: sum(ref_hsic1(cka.gram_linear(a), cka.gram_linear(b)) for a, b in pairs)
        for k, pairs in {"xy": zip(xs, ys), "xx": zip(xs, xs), "yy": zip(ys, ys)}.items()
    }
    np.testing.assert_allclose(acc.hsic_xy[0, 1], sums["xy"], rtol=1e-10)
    assert acc.result()[0, 1] == pytest.approx(sums["xy"] / np.sqrt(sums["xx"] * sums["yy"]), abs=1e-12)
    assert acc.n_batches == 4 and acc.n_samples == 48
    # two-set accumulator gives the same number
    acc2 = cka.MinibatchCKA(1, 1)
    for x, y in zip(xs, ys):
        acc2.update(cka.gram_linear(x)[None], cka.gram_linear(y)[None])
    assert acc2.result()[0, 0] == pytest.approx(acc.result()[0, 1], abs=1e-12)


def test_is_not_the_full_batch_cka(rng):
    # mini-batch CKA is a different estimator from one HSIC over the concatenated samples
    xs, ys = batches(rng, n_batches=2, d=3), batches(rng, n_batches=2, d=3)
    ys = [y + 0.8 * x for x, y in zip(xs, ys)]
    full = ref_minibatch_cka([np.concatenate(xs)], [np.concatenate(ys)])
    assert abs(cka.cka_minibatch(xs, ys) - full) > 1e-4


def test_permuting_samples_within_a_batch_changes_nothing(rng):
    xs, ys = batches(rng, d=5), batches(rng, d=4)
    perms = [rng.permutation(len(x)) for x in xs]
    permuted = cka.cka_minibatch([x[p] for x, p in zip(xs, perms)], [y[p] for y, p in zip(ys, perms)])
    assert permuted == pytest.approx(cka.cka_minibatch(xs, ys), abs=1e-12)
    swapped = cka.cka_minibatch(xs[::-1], ys[::-1])  # batch order does not matter either
    assert swapped == pytest.approx(cka.cka_minibatch(xs, ys), abs=1e-12)


# ------------------------------------------------------------------------------- models / hooks
def tiny_model():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(5, 8),
        nn.BatchNorm1d(8),
        nn.ReLU(),
        nn.Sequential(nn.Linear(8, 4), nn.Tanh()),
        nn.Sequential(),
        nn.Dropout(0.5),
        nn.Linear(4, 3),
    )


def test_leaf_layer_names_of_tiny_sequential():
    assert cka.leaf_layer_names(tiny_model()) == ["0", "1", "2", "3.0", "3.1", "5", "6"]


def test_cka_matrix_matches_reference_on_captured_activations():
    model = tiny_model()
    torch.manual_seed(1)
    data = [torch.randn(10, 5) for _ in range(3)]
    loader = [(x, torch.zeros(len(x))) for x in data]  # (x, y) tuples
    names, M = cka.cka_matrix(model, loader, device="cpu")
    assert names == cka.leaf_layer_names(model) and M.shape == (7, 7)
    model.eval()
    acts = {n: [] for n in names}
    mods = dict(model.named_modules())
    with torch.no_grad():
        for x in data:
            h = x
            for layer in ["0", "1", "2", "3.0", "3.1", "5", "6"]:
                h = mods[layer](h)
                acts[layer].append(h.double().numpy())
    expected = np.array([[ref_minibatch_cka(acts[a], acts[b]) for b in names] for a in names])
    np.testing.assert_allclose(M, expected, atol=1e-10)
    np.testing.assert_allclose(M, M.T, atol=1e-12)
    np.testing.assert_allclose(np.diag(M), 1.0, atol=1e-12)
    # dropout is the identity in eval mode: its row equals the Tanh row
    np.testing.assert_allclose(M[names.index("5")], M[names.index("3.1")], atol=1e-12)


def test_mode_restored_and_hooks_removed():
    model = tiny_model().train()
    cka.cka_matrix(model, [torch.randn(6, 5)], device="cpu")
    assert model.training
    assert all(len(m._forward_hooks) == 0 for m in model.modules())


def test_layer_subset_order_and_max_batches():
    model = tiny_model()
    data = [torch.randn(8, 5) for _ in range(4)]
    names, M = cka.cka_matrix(model, data, layers=["6", "0"], device="cpu", max_batches=2)
    assert names == ["6", "0"] and M.shape == (2, 2)
    _, full = cka.cka_matrix(model, data[:2], device="cpu")
    idx = [cka.leaf_layer_names(model).index(n) for n in names]
    np.testing.assert_allclose(M, full[np.ix_(idx, idx)], atol=1e-12)
    with pytest.raises(ValueError, match="unknown layer"):
        cka.cka_matrix(model, data, layers=["nope"], device="cpu")


def test_cka_between_two_models_and_itself():
    a, b = tiny_model(), tiny_model()
    data = [torch.randn(9, 5) for _ in range(2)]
    na, nb, M = cka.cka_between(a, b, data, device="cpu")
    _, S = cka.cka_matrix(a, data, device="cpu")
    assert M.shape == (len(na), len(nb))
    np.testing.assert_allclose(M, S, atol=1e-12)  # identical weights -> the self matrix
    torch.manual_seed(5)
    c = nn.Sequential(nn.Linear(5, 3), nn.ReLU())
    na, nc, M2 = cka.cka_between(a, c, data, layers_a=["0", "6"], device="cpu")
    assert na == ["0", "6"] and nc == ["0", "1"] and M2.shape == (2, 2)
    # exact values: the plain float64 loop of the published formula on the captured activations
    acts_a, acts_c = _activations(a, ["0", "6"], data), _activations(c, ["0", "1"], data)
    expected = np.array([[ref_minibatch_cka(acts_a[p], acts_c[q]) for q in nc] for p in na])
    np.testing.assert_allclose(M2, expected, atol=1e-10)
    assert not np.allclose(M2, M2[0, 0])  # the four pairs differ: a wrong pairing would show


def _activations(model: nn.Module, layers: list[str], data: list[torch.Tensor]) -> dict[str, list[np.ndarray]]:
    """Each named layer's float64 output per batch, from a plain forward pass (eval mode) with hooks."""
    model.eval()
    out = {n: [] for n in layers}
    mods = dict(model.named_modules())
    handles = [mods[n].register_forward_hook(lambda _m, _i, o, n=n: out[n].append(o.double().numpy())) for n in layers]
    with torch.no_grad():
        for x in data:
            model(x)
    for h in handles:
        h.remove()
    return out


def test_reused_module_is_a_clear_error():
    relu = nn.ReLU()
    model = nn.Sequential(nn.Linear(4, 4), relu, nn.Linear(4, 4), relu)
    with pytest.raises(ValueError, match="twice"):
        cka.cka_matrix(model, [torch.randn(6, 4)], device="cpu")


# -------------------------------------------------------------------------------------- plotting
def test_plot_cka_grid_panels():
    import matplotlib.pyplot as plt

    from lib.bias.plots import plot_cka_grid

    mats = {("SCE", "C-MNIST"): np.eye(4), ("NLL", "C-MNIST"): np.full((4, 4), 0.5)}
    fig = plot_cka_grid(mats, ["SCE", "NLL"], ["C-MNIST", "BFFHQ"])
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 2  # missing pairs are empty panels
    np.testing.assert_array_equal(images[0].get_array(), np.eye(4))
    assert images[0].get_clim() == (0.0, 1.0)
    plt.close(fig)
    with pytest.raises(ValueError, match="outside the labels"):
        plot_cka_grid({("x", "y"): np.eye(2)}, ["SCE"], ["C-MNIST"])


# ------------------------------------------------------------------- centring claim, edge cases
def test_hsic1_ignores_row_column_offsets(rng):
    # the streaming path centres features: K -> K + a_i + a_j + c off the diagonal must not change HSIC1
    X, Y = rng.normal(size=(8, 3)), rng.normal(size=(8, 4))
    K, L = X @ X.T, Y @ Y.T
    a = rng.normal(size=8)
    K2 = K + a[:, None] + a[None, :] + 2.5
    assert cka.hsic1(K2, L) == pytest.approx(cka.hsic1(K, L), rel=1e-10)
    Xc = X - X.mean(axis=0)
    assert cka.hsic1(Xc @ Xc.T, L) == pytest.approx(cka.hsic1(K, L), rel=1e-10)
    # a one-sided offset (a_i only) is not removed: the test above can fail
    assert abs(cka.hsic1(K + a[:, None], L) - cka.hsic1(K, L)) > 1e-6


def test_gram_linear_does_not_modify_its_input(rng):
    for X in (torch.from_numpy(rng.normal(size=(6, 5))), torch.randn(6, 5)):
        before = X.clone()
        cka.gram_linear(X, center=True)
        cka.gram_linear(X, center=True, precision="float32")
        assert torch.equal(X, before)


def test_constant_layer_gives_nan_not_a_crash():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    with torch.no_grad():
        model[2].weight.zero_()
        model[2].bias.fill_(1.0)  # constant output: zero self-HSIC
    names, M = cka.cka_matrix(model, [torch.randn(8, 4)], device="cpu")
    assert np.isnan(M[2]).all() and np.isnan(M[:, 2]).all() and np.isfinite(M[:2, :2]).all()


def test_accumulator_errors():
    acc = cka.MinibatchCKA(2)
    with pytest.raises(ValueError, match="no batch"):
        acc.result()
    with pytest.raises(ValueError, match=r"\(2, n, n\)"):
        acc.update(np.zeros((3, 5, 5)))
    with pytest.raises(ValueError, match="square"):
        acc.update(np.zeros((2, 5, 5)), np.zeros((2, 5, 5)))


def test_gram_linear_column_blocks_are_exact(rng):
    X = rng.normal(size=(7, 3, 5, 2)).astype(np.float32) + 10.0  # d = 30, not a multiple of the blocks
    flat = X.reshape(7, -1).astype(np.float64)
    centred = flat - flat.mean(axis=0)
    for block in (1, 4, 7, 30, 31, None, -1):
        np.testing.assert_allclose(
            cka.gram_linear(X, center=True, block=block), centred @ centred.T, rtol=1e-12, atol=1e-12
        )
        np.testing.assert_allclose(cka.gram_linear(X, block=block), flat @ flat.T, rtol=1e-12)
    with pytest.raises(ValueError, match="block"):
        cka.gram_linear(X, block=0)


def test_bootstrap_identity_replicate_is_the_streaming_cka():
    model = tiny_model()
    torch.manual_seed(2)
    x = torch.randn(30, 5)
    names, G = cka.probe_grams(model, x, device="cpu")
    assert G.shape == (len(names), 30, 30)
    _, M = cka.cka_matrix(model, [x[i : i + 8] for i in range(0, 30, 8)], device="cpu")  # last batch of 6
    B = cka.bootstrap_cka(G, np.arange(30)[None], batch_size=8)
    np.testing.assert_allclose(B[0], M, atol=1e-10)
    # a last batch of fewer than 4 images is dropped, as the streaming path refuses it
    _, M28 = cka.cka_matrix(model, [x[i : i + 7] for i in range(0, 28, 7)], device="cpu")
    np.testing.assert_allclose(cka.bootstrap_cka(G, np.arange(30)[None], batch_size=7)[0], M28, atol=1e-10)


def test_bootstrap_replicate_matches_recomputed_activations(rng):
    """Replicate b (with repeated images) equals the streaming CKA of the resampled images themselves."""
    model = tiny_model()
    torch.manual_seed(3)
    x = torch.randn(24, 5)
    _, G = cka.probe_grams(model, x, device="cpu")
    idx = rng.integers(0, 24, size=(3, 24))
    B = cka.bootstrap_cka(G, idx, batch_size=12)
    for b in range(3):
        xb = x[torch.as_tensor(idx[b])]
        _, M = cka.cka_matrix(model, [xb[:12], xb[12:]], device="cpu")
        np.testing.assert_allclose(B[b], M, atol=1e-9)
    assert not np.allclose(B[0], B[1]), "different resamples give different matrices"


@pytest.mark.parametrize(
    "indices, batch, match",
    [(np.zeros(5, int), 4, "integer array"), (np.full((1, 5), 9), 4, "lie in"), (np.zeros((1, 5), int), 3, ">= 4")],
)
def test_bootstrap_bad_input(indices, batch, match):
    with pytest.raises(ValueError, match=match):
        cka.bootstrap_cka(np.zeros((2, 6, 6)), indices, batch)


def test_gram_limits_numpy_blas_to_torch_threads(monkeypatch):
    """The CPU Gram runs NumPy's BLAS single-threaded (threadpoolctl), never one OpenBLAS thread per core; its
    parallelism is torch's thread count of column ranges (test below)."""
    from threadpoolctl import threadpool_info

    from lib.bias import cka as cka_mod

    seen = []
    real_limit = cka_mod.blas_threads

    def spy(n=None):
        ctx = real_limit(n)
        seen.append(ctx)
        return ctx

    monkeypatch.setattr(cka_mod, "blas_threads", spy)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    with real_limit():
        blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
        assert blas and all(i["num_threads"] == 1 for i in blas)
    cka_mod.gram_linear(np.ones((4, 8)))
    assert len(seen) == 1


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_gram_column_ranges_on_threads_are_exact(rng, monkeypatch, precision):
    """threads > 1 splits the column blocks into ranges summed in float64: the same Gram as one thread, as the
    float64 product of the centred data, and the workers' BLAS runs single-threaded."""
    from threadpoolctl import threadpool_info

    from lib.bias import cka as cka_mod

    X = (rng.normal(size=(9, 4, 5, 3)) + 5.0).astype(np.float32)  # d = 60 -> 8 blocks of 8 columns
    flat = X.reshape(9, -1).astype(np.float64)
    centred = flat - flat.mean(axis=0)
    tol = 1e-12 if precision == "float64" else 1e-5
    one = cka.gram_linear(X, center=True, precision=precision, block=8, threads=1)
    np.testing.assert_allclose(one, centred @ centred.T, rtol=tol, atol=tol * np.abs(centred @ centred.T).max())
    for threads in (2, 3, 8, 20):  # 20 > 8 blocks: capped at one block per worker
        many = cka.gram_linear(X, center=True, precision=precision, block=8, threads=threads)
        np.testing.assert_allclose(many, one, rtol=1e-12, atol=1e-12 * np.abs(one).max())
        raw = cka.gram_linear(X, precision=precision, block=8, threads=threads)
        np.testing.assert_allclose(raw, flat @ flat.T, rtol=tol)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)  # the default is torch's thread count
    np.testing.assert_allclose(cka.gram_linear(X, center=True, precision=precision, block=8), many, rtol=1e-12)
    seen = []
    real = cka_mod._gram_columns

    def spy(*args):
        seen.append([i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"])
        return real(*args)

    monkeypatch.setattr(cka_mod, "_gram_columns", spy)
    cka.gram_linear(X, center=True, precision=precision, block=8)
    assert len(seen) == 3 and all(s and set(s) == {1} for s in seen)
    with pytest.raises(ValueError, match="threads"):
        cka.gram_linear(X, threads=0)


def test_gram_float32_stays_within_1e6_of_float64_on_offset_relu_features(rng):
    """The float32 product (centred per block by the block's own float32 mean) keeps CKA within 1e-6 of the
    float64 Gram on features with a large common offset, the case centring exists for."""
    X = np.maximum(rng.normal(size=(64, 3000)), 0).astype(np.float32) * 3 + 40.0
    Y = np.maximum(X[:, :2000] @ rng.normal(size=(2000, 500)).astype(np.float32) / 50, 0) + 7.0
    G64 = np.stack([cka.gram_linear(a, center=True) for a in (X, Y)])
    G32 = np.stack([cka.gram_linear(a, center=True, precision="float32", block=512, threads=2) for a in (X, Y)])
    c64, c32 = (cka.cka_from_hsic(h, np.diag(h), np.diag(h)) for h in map(cka.hsic1_matrix, (G64, G32)))
    assert np.max(np.abs(c32 - c64)) <= 1e-6
