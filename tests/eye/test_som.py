"""Tests of lib.eye.som: map size rule, BMUs, majority and empty-neuron rules, the SOM classifier."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from lib.eye import som


def test_map_side_rule():
    assert som.map_side(540) == 11  # 5*sqrt(540) = 116.2 neurons -> 11 x 11
    assert som.map_side(100) == 8  # 50 -> 8 x 8
    assert som.map_side(1) == 3
    with pytest.raises(ValueError):
        som.map_side(0)


def test_bmu_matches_loop():
    rng = np.random.default_rng(0)
    cb = rng.normal(size=(3, 4, 5))
    X = rng.normal(size=(20, 5))
    flat = cb.reshape(-1, 5)
    loop = [int(np.argmin([np.linalg.norm(x - w) for w in flat])) for x in X]
    assert som.bmu_indices(cb, X).tolist() == loop


def test_hit_counts_and_majority_tie():
    counts = som.hit_counts(np.array([0, 0, 1, 1, 3]), np.array([2, 2, 0, 1, 1]), n_neurons=4, n_classes=3)
    assert counts.tolist() == [[0, 0, 2], [1, 1, 0], [0, 0, 0], [0, 1, 0]]
    assert som.majority_labels(counts).tolist() == [2, 0, -1, 1]  # tie -> smallest class; empty -> -1


def test_fill_empty_grid_hand_set():
    labels = np.array([0, -1, 1, -1, -1, -1, 2, -1, 2])
    filled = som.fill_empty(labels, (3, 3), rule="grid", n_classes=3)
    # (0,1): neighbours 0 and 1 tie -> 0; (1,0): 0 and 2 tie -> 0; centre: diagonals 0,1,2,2 -> 2;
    # (1,2): 1 and 2 tie -> 1; (2,1): 2 and 2 -> 2
    assert filled.tolist() == [0, 0, 1, 0, 2, 1, 2, 2, 2]
    assert labels[1] == -1  # input not modified


def test_fill_empty_codebook_hand_set():
    labels = np.array([0, -1, -1, 1])
    codebook = np.array([[[0.0], [0.9]], [[2.2], [3.0]]])  # 2x2 map, 1-d weights
    assert som.fill_empty(labels, (2, 2), rule="codebook", codebook=codebook).tolist() == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="empty_rule must be one of"):
        som.fill_empty(labels, (2, 2), rule="nearest")
    with pytest.raises(ValueError, match="no neuron has a label"):
        som.fill_empty(np.full(4, -1), (2, 2))


def test_pca_codebook_spans_principal_plane():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 3)) * np.array([5.0, 2.0, 0.1]) + np.array([1.0, -1.0, 3.0])
    cb = som.pca_codebook(X, 3, 5)
    assert cb.shape == (3, 5, 3)
    np.testing.assert_allclose(cb[1, 2], X.mean(axis=0), atol=1e-12)  # centre neuron = mean
    span0 = cb[2, 2] - cb[0, 2]
    assert abs(span0[0]) > 9.0 and abs(span0[2]) < 0.5  # first PC: x axis, +-1 std (about 5)
    np.testing.assert_array_equal(cb, som.pca_codebook(X, 3, 5))


def _blobs():
    X, y = make_blobs(n_samples=240, centers=4, n_features=12, cluster_std=1.5, center_box=(-10, 10), random_state=0)
    return X, y


def test_som_classifier_blobs_accuracy():
    X, y = _blobs()
    clf = som.SOMClassifier(epochs=5, seed=0).fit(X[:180], y[:180])
    acc = (clf.predict(X[180:]) == y[180:]).mean()
    assert acc >= 0.95
    assert clf.shape == (som.map_side(180),) * 2
    assert 0 <= clf.topographic_error(X) <= 1 and clf.quantization_error(X) > 0
    assert clf.u_matrix().shape == clf.shape
    assert (clf.labels_ >= 0).all()


def test_som_classifier_same_seed_same_output():
    X, y = _blobs()
    a = som.SOMClassifier(epochs=2, seed=7, init="random").fit(X, y)
    b = som.SOMClassifier(epochs=2, seed=7, init="random").fit(X, y)
    np.testing.assert_array_equal(a.codebook, b.codebook)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_som_classifier_invalid_and_unfitted():
    with pytest.raises(ValueError, match="empty_rule"):
        som.SOMClassifier(empty_rule="x")
    with pytest.raises(ValueError, match="init must be one of"):
        som.SOMClassifier(init="zeros")
    with pytest.raises(RuntimeError, match="not fitted"):
        som.SOMClassifier().predict(np.zeros((1, 2)))
