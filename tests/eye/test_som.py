"""Tests of lib.eye.som: map size rule, BMUs, majority and empty-neuron rules, the SOM classifier."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from lib.eye import som, som_grid


def test_map_side_rule():
    assert som_grid.map_side(540) == 11  # 5*sqrt(540) = 116.2 neurons -> 11 x 11
    assert som_grid.map_side(100) == 8  # 50 -> 8 x 8
    assert som_grid.map_side(1) == 3
    with pytest.raises(ValueError):
        som_grid.map_side(0)


def test_bmu_matches_loop():
    rng = np.random.default_rng(0)
    cb = rng.normal(size=(3, 4, 5))
    X = rng.normal(size=(20, 5))
    flat = cb.reshape(-1, 5)
    loop = [int(np.argmin([np.linalg.norm(x - w) for w in flat])) for x in X]
    assert som_grid.bmu_indices(cb, X).tolist() == loop


def test_hit_counts_and_majority_tie():
    counts = som_grid.hit_counts(np.array([0, 0, 1, 1, 3]), np.array([2, 2, 0, 1, 1]), n_neurons=4, n_classes=3)
    assert counts.tolist() == [[0, 0, 2], [1, 1, 0], [0, 0, 0], [0, 1, 0]]
    assert som_grid.majority_labels(counts).tolist() == [2, 0, -1, 1]  # tie -> smallest class; empty -> -1


def test_fill_empty_grid_hand_set():
    labels = np.array([0, -1, 1, -1, -1, -1, 2, -1, 2])
    filled = som_grid.fill_empty(labels, (3, 3), rule="grid", n_classes=3)
    # (0,1): neighbours 0 and 1 tie -> 0; (1,0): 0 and 2 tie -> 0; centre: diagonals 0,1,2,2 -> 2;
    # (1,2): 1 and 2 tie -> 1; (2,1): 2 and 2 -> 2
    assert filled.tolist() == [0, 0, 1, 0, 2, 1, 2, 2, 2]
    assert labels[1] == -1  # input not modified


def test_fill_empty_codebook_hand_set():
    labels = np.array([0, -1, -1, 1])
    codebook = np.array([[[0.0], [0.9]], [[2.2], [3.0]]])  # 2x2 map, 1-d weights
    assert som_grid.fill_empty(labels, (2, 2), rule="codebook", codebook=codebook).tolist() == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="empty_rule must be one of"):
        som_grid.fill_empty(labels, (2, 2), rule="nearest")
    with pytest.raises(ValueError, match="no neuron has a label"):
        som_grid.fill_empty(np.full(4, -1), (2, 2))


def test_pca_codebook_spans_principal_plane():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 3)) * np.array([5.0, 2.0, 0.1]) + np.array([1.0, -1.0, 3.0])
    cb = som_grid.pca_codebook(X, 3, 5)
    assert cb.shape == (3, 5, 3)
    np.testing.assert_allclose(cb[1, 2], X.mean(axis=0), atol=1e-12)  # centre neuron = mean
    span0 = cb[2, 2] - cb[0, 2]
    assert abs(span0[0]) > 9.0 and abs(span0[2]) < 0.5  # first PC: x axis, +-1 std (about 5)
    np.testing.assert_array_equal(cb, som_grid.pca_codebook(X, 3, 5))


CFG = som.SOMConfig(
    side=0,
    topology="rectangular",
    training="online",
    epochs=5,
    cover_steps=0,
    sigma=0.0,
    learning_rate=0.5,
    neighborhood="gaussian",
    init="pca",
    empty_rule="grid",
    tie_rule="lowest",
)


def _blobs():
    X, y = make_blobs(n_samples=240, centers=4, n_features=12, cluster_std=1.5, center_box=(-10, 10), random_state=0)
    return X, y


def _hand_set(weights, X, y):
    """A SOMClassifier with a hand-set 1-d codebook on an identity scaling, labelled from (X, y)."""
    from sklearn.preprocessing import StandardScaler

    weights = np.asarray(weights, dtype=float)
    clf = som.SOMClassifier(CFG, seed=0)
    clf.scaler_ = StandardScaler(with_mean=False, with_std=False).fit(X)
    clf.weights_ = weights.copy()
    clf.n_classes_ = 2
    clf.counts_ = som_grid.hit_counts(clf.bmu(X), y, weights.shape[0] * weights.shape[1], 2)
    clf.labels_ = som_grid.fill_empty(som_grid.majority_labels(clf.counts_), weights.shape[:2], "grid", n_classes=2)
    return clf


def test_hand_set_codebook_exact_errors():
    """1x3 map with weights 0, 5, 1 (as MiniSom's own tests: hand-set codebook, exact errors).

    x=0.1: BMU 0 (0.1), second 2 (0.9): two cells apart -> topographic error; x=0.6: BMU 2 (0.4), second 0 -> error;
    x=4.0: BMU 1 (1.0), second 2 -> adjacent; x=5.5: BMU 1 (0.5), second 2 -> adjacent.
    QE = (0.1 + 0.4 + 1.0 + 0.5) / 4 = 0.5, TE = 2 / 4 = 0.5.
    """
    X = np.array([[0.1], [0.6], [4.0], [5.5]])
    y = np.array([0, 1, 1, 0])
    clf = _hand_set([[[0.0], [5.0], [1.0]]], X, y)
    assert clf.bmu(X).tolist() == [0, 2, 1, 1]
    assert clf.quantization_error(X) == pytest.approx(0.5, abs=1e-12)
    assert clf.topographic_error(X) == 0.5
    q = clf.quality(X)
    # neuron 1 holds one sample of each class: tied; no empty neuron; samples 2 and 3 land on the tied neuron
    assert (q["tied_neuron_rate"], q["empty_neuron_rate"]) == (pytest.approx(1 / 3), 0.0)
    assert (q["samples_on_tied_rate"], q["samples_on_empty_rate"]) == (0.5, 0.0)
    assert clf.predict(X).tolist() == [0, 1, 0, 0]  # tied neuron 1 -> class 0 under the 'lowest' rule


def test_tie_rules():
    counts = np.array([[2, 2, 0], [0, 3, 1], [0, 0, 0], [1, 1, 1]])
    assert som_grid.majority_labels(counts, "lowest").tolist() == [0, 1, -1, 0]
    assert som_grid.tied(counts).tolist() == [True, False, False, True]
    draws = np.array([som_grid.majority_labels(counts, "random", seed=s) for s in range(200)])
    assert set(draws[:, 0]) == {0, 1} and set(draws[:, 3]) == {0, 1, 2}  # every tied class can win
    assert (draws[:, 1] == 1).all() and (draws[:, 2] == -1).all()
    np.testing.assert_array_equal(
        som_grid.majority_labels(counts, "random", 5), som_grid.majority_labels(counts, "random", 5)
    )
    with pytest.raises(ValueError, match="tie_rule must be one of"):
        som_grid.majority_labels(counts, "first")


def test_som_classifier_blobs_accuracy():
    X, y = _blobs()
    clf = som.SOMClassifier(CFG, seed=0).fit(X[:180], y[:180])
    acc = (clf.predict(X[180:]) == y[180:]).mean()
    assert acc >= 0.95
    assert clf.shape == (som_grid.map_side(180),) * 2
    assert clf.u_matrix().shape == clf.shape
    assert (clf.labels_ >= 0).all()


def test_som_classifier_same_seed_same_output():
    X, y = _blobs()
    cfg = som.SOMConfig(**{**CFG.__dict__, "epochs": 2, "init": "random"})
    a = som.SOMClassifier(cfg, seed=7).fit(X, y)
    b = som.SOMClassifier(cfg, seed=7).fit(X, y)
    np.testing.assert_array_equal(a.codebook, b.codebook)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_som_classifier_invalid_and_unfitted():
    with pytest.raises(ValueError, match="empty_rule"):
        som.SOMConfig(**{**CFG.__dict__, "empty_rule": "x"})
    with pytest.raises(ValueError, match="init must be one of"):
        som.SOMConfig(**{**CFG.__dict__, "init": "zeros"})
    with pytest.raises(RuntimeError, match="not fitted"):
        som.SOMClassifier(CFG, seed=0).predict(np.zeros((1, 2)))


def test_hexagonal_grid_and_link_distances():
    pos = som_grid.grid_positions(2, 3, "hexagonal")  # row 1 shifted right by half a cell (MATLAB hextop)
    np.testing.assert_allclose(pos[3], [0.5, np.sqrt(3) / 2])
    near = som_grid.neighbours(2, 3, "hexagonal")
    assert sorted(np.flatnonzero(near[4]).tolist()) == [1, 2, 3, 5]  # (1,1): the two cells below are adjacent
    assert sorted(np.flatnonzero(near[3]).tolist()) == [0, 1, 4]
    d = som_grid.link_distances(2, 3, "hexagonal")
    assert (d[0, 5], d[3, 2], d[0, 2]) == (3, 2, 2)
    rect = som_grid.link_distances(2, 3, "rectangular")  # 4-neighbour links
    assert (rect[0, 5], rect[0, 4]) == (3, 2)
    assert som_grid.neighbours(2, 3, "rectangular")[0, 4]  # the topographic error counts diagonals as neighbours
    with pytest.raises(ValueError, match="topology"):
        som_grid.grid_positions(2, 2, "triangular")


def test_batch_epoch_hand_computed():
    """1x3 map, weights 0, 5, 10, samples 1, 4, 9, 11, neighbourhood 1 (learnsomb: BMU twice, neighbours once).

    BMUs 0, 1, 2, 2 -> sums 1, 4, 20 and counts 1, 1, 2; unit 0: (2*1 + 4) / (2 + 1) = 2; unit 1:
    (1 + 2*4 + 20) / (1 + 2 + 2) = 5.8; unit 2: (4 + 2*20) / (1 + 4) = 8.8.
    """
    W = np.array([[[0.0], [5.0], [10.0]]])
    X = np.array([[1.0], [4.0], [9.0], [11.0]])
    out = som_grid.batch_train(X, W, "rectangular", epochs=1, initial_neighborhood=1.0, cover_steps=1)
    np.testing.assert_allclose(out.ravel(), [2.0, 5.8, 8.8])
    np.testing.assert_array_equal(W.ravel(), [0.0, 5.0, 10.0])  # input not modified
    far = som_grid.batch_train(X, W, "rectangular", epochs=1, initial_neighborhood=3.0, cover_steps=2)  # nd 3: all
    np.testing.assert_allclose(far.ravel(), [(2 * 1 + 4 + 20) / 5, (1 + 8 + 20) / 5, (1 + 4 + 40) / 6])


MATLAB = {
    **CFG.__dict__,
    "side": 8,
    "topology": "hexagonal",
    "training": "batch",
    "epochs": 30,
    "cover_steps": 15,
    "sigma": 3.0,
    "neighborhood": "bubble",
}


def test_batch_hexagonal_som_classifier_blobs():
    X, y = _blobs()
    cfg = som.SOMConfig(**MATLAB)
    clf = som.SOMClassifier(cfg, seed=0).fit(X[:180], y[:180])
    assert (clf.predict(X[180:]) == y[180:]).mean() >= 0.95
    assert clf.shape == (8, 8) and clf.positions().shape == (64, 2)
    assert clf.u_matrix().shape == (8, 8) and clf.u_matrix().max() == pytest.approx(1.0)
    q = clf.quality(X[180:])
    assert 0.0 <= q["topographic_error"] <= 0.5 and q["quantization_error"] > 0
    again = som.SOMClassifier(cfg, seed=0).fit(X[:180], y[:180])
    np.testing.assert_array_equal(clf.codebook, again.codebook)
    assert "8x8 hexagonal batch SOM" in cfg.describe() and "3 -> 1 over 15 cover steps" in cfg.describe()


def test_som_config_rejects_bad_combinations():
    with pytest.raises(ValueError, match="rectangular grid here"):
        som.SOMConfig(**{**CFG.__dict__, "topology": "hexagonal"})
    with pytest.raises(ValueError, match="batch neighborhood"):
        som.SOMConfig(**{**MATLAB, "neighborhood": "mexican_hat"})
    with pytest.raises(ValueError, match="cover_steps"):
        som.SOMConfig(**{**MATLAB, "cover_steps": 0})


def test_batch_bubble_sparse_products_match_a_dense_reference():
    """The bubble neighbourhood runs as sparse products: the same codebook as the dense rule (rounding level)."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(150, 7))
    W0 = rng.normal(size=(6, 6, 7))
    dist = som_grid.link_distances(6, 6, "hexagonal")
    W = W0.reshape(36, 7).copy()
    for t in range(12):
        nd = 1.0 + (3.0 - 1.0) * (1.0 - t / 8) if t < 8 else 1.0
        H = (dist <= nd + 1e-9).astype(float) + np.eye(36)
        W32, X32 = W.astype(np.float32), X.astype(np.float32)
        bmu = np.argmin((W32**2).sum(1)[None, :] - 2.0 * (X32 @ W32.T), axis=1)
        sums = np.zeros((36, 7))
        np.add.at(sums, bmu, X)
        n = np.bincount(bmu, minlength=36).astype(float)
        num, den = H @ sums, H @ n
        hit = den > 0
        W[hit] = num[hit] / den[hit, None]
    out = som_grid.batch_train(X, W0, "hexagonal", epochs=12, initial_neighborhood=3.0, cover_steps=8)
    np.testing.assert_allclose(out.reshape(36, 7), W, rtol=0, atol=1e-10)
