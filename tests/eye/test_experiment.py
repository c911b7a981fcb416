"""Tests of lib.eye.experiment and lib.eye.cluster_net: per-class accuracy both ways, tables, CV, the CBNN."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from lib.eye import cluster_net
from lib.eye import experiment as eye_cv


def _from_cm(cm):
    y, p = [], []
    for t, row in enumerate(cm):
        for q, n in enumerate(row):
            y += [t] * n
            p += [q] * n
    return np.array(y), np.array(p)


def test_per_class_accuracy_both_definitions_exact():
    cm = [[5, 1, 0], [2, 6, 2], [0, 0, 4]]  # rows = true, 20 samples
    y, p = _from_cm(cm)
    s = eye_cv.fold_scores(y, p, np.zeros(len(y), int), 3)
    np.testing.assert_allclose(s["recall"][0], [5 / 6, 6 / 10, 4 / 4])
    # one-vs-rest: class 0 TP5 FN1 FP2 TN12; class 1 TP6 FN4 FP1 TN9; class 2 TP4 FN0 FP2 TN14
    np.testing.assert_allclose(s["one_vs_rest"][0], [17 / 20, 15 / 20, 18 / 20])
    np.testing.assert_allclose(s["accuracy"], [15 / 20])


def test_tables_layout():
    y, p = _from_cm([[5, 1, 0], [2, 6, 2], [0, 0, 4]])
    fold = np.arange(len(y)) % 2
    s = eye_cv.fold_scores(y, p, fold, 3)
    t2 = eye_cv.per_class_table(s, ["a", "b", "c"], "recall")
    assert t2["Fold"].tolist() == ["1", "2", "Avg."]
    np.testing.assert_allclose(t2.iloc[-1][["a", "b", "c"]].to_numpy(float), 100 * s["recall"].mean(axis=0))
    with pytest.raises(ValueError, match="definition must be one of"):
        eye_cv.per_class_table(s, ["a", "b", "c"], "precision")
    cfg = eye_cv.EyeCVConfig(models=("som", "knn"))
    t3 = eye_cv.comparison_table({"som": s, "knn": s}, cfg, ["a", "b", "c"])
    assert len(t3) == 2 and "a recall (%)" in t3.columns
    summ = eye_cv.summary({"cbnn": s}, ["a", "b", "c"])
    assert summ["claims"]["recall"]["mean"] == pytest.approx(s["recall"].mean(axis=0).mean())


def test_nearest_centroid_and_one_hot():
    C = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    X = np.array([[1.0, 1.0], [9.0, 2.0], [-1.0, 8.0], [6.0, 0.0]])
    assert cluster_net.nearest_centroid(C, X).tolist() == [0, 1, 2, 1]
    np.testing.assert_array_equal(cluster_net.one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])


def _blobs(n=200):
    return make_blobs(n_samples=n, centers=4, n_features=10, cluster_std=1.5, center_box=(-10, 10), random_state=1)


def test_cross_validate_blobs_and_determinism():
    X, y = _blobs()
    cfg = eye_cv.EyeCVConfig(n_splits=3, models=("som", "logreg", "knn"), som_epochs=3)
    a = eye_cv.cross_validate(X, y, cfg, progress=False)
    for m in cfg.models:
        assert (a["pred"][m] >= 0).all()
        assert (a["pred"][m] == y).mean() >= 0.95, m
    assert sorted(np.unique(a["fold"]).tolist()) == [0, 1, 2]
    assert len(a["som_quality"]) == 3
    b = eye_cv.cross_validate(X, y, cfg, progress=False)
    for m in cfg.models:
        np.testing.assert_array_equal(a["pred"][m], b["pred"][m])


def test_cluster_network_blobs():
    X, y = _blobs(240)
    X = (X - X.mean(0)) / X.std(0)
    km = cluster_net.ClusterNetwork(clusters="kmeans", n_clusters=8, inputs="onehot", epochs=40, seed=0)
    km.fit(X[:180], y[:180])
    assert km.centroids_.shape == (8, 10)
    assert (km.predict(X[180:]) == y[180:]).mean() >= 0.9
    proba = km.predict_proba(X[180:])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


def test_cluster_network_invalid():
    with pytest.raises(ValueError, match="clusters must be one of"):
        cluster_net.ClusterNetwork(clusters="dbscan")
    with pytest.raises(ValueError, match="needs centroids"):
        cluster_net.ClusterNetwork(clusters="som").fit(np.zeros((4, 2)), np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="models must be among"):
        eye_cv.EyeCVConfig(models=("svm",))
