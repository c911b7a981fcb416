"""Tests of lib.eye.experiment and lib.eye.cluster_net: per-class accuracy both ways, tables, CV, the CBNN."""

from __future__ import annotations

import dataclasses

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


def _cfg(models=("som", "logreg", "knn"), **cv):
    from lib.core.params import load_params

    p = load_params("nb03")
    return eye_cv.EyeCVConfig.from_params(
        models, {**p["cv"], **cv}, {**p["som"], "epochs": 3}, {**p["cbnn"], "epochs": 20}, p["baselines"]
    )


def test_table3_exact_on_two_folds():
    """Fold 1: cm [[2,0],[0,2]] (all right); fold 2: cm [[2,0],[2,0]] (everything called class 0).

    Accuracy 1 and 1/2 -> mean 75 %, std (ddof 1) sqrt(2)/4 = 35.355 %; macro-F1 1 and (2/3 + 0)/2 -> 66.667 %;
    recall a (1, 1) -> 100 %, b (1, 0) -> 50 %; one-vs-rest (1, 1) and (1/2, 1/2) -> 75 %.
    """
    y = np.array([0, 0, 1, 1, 0, 0, 1, 1])
    p = np.array([0, 0, 1, 1, 0, 0, 0, 0])
    fold = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    s = eye_cv.fold_scores(y, p, fold, 2)
    t3 = eye_cv.comparison_table({"logreg": s}, _cfg(), ["a", "b"]).iloc[0]
    assert t3["Technique"] == "Logistic regression"
    assert t3["Accuracy (%)"] == pytest.approx(75.0)
    assert t3["Accuracy std (%)"] == pytest.approx(100 * np.sqrt(2) / 4)
    assert t3["Macro-F1 (%)"] == pytest.approx(100 * (1 + 1 / 3) / 2)
    assert (t3["a recall (%)"], t3["b recall (%)"]) == (pytest.approx(100.0), pytest.approx(50.0))
    assert t3["Mean per-class recall (%)"] == pytest.approx(75.0)
    assert t3["Mean per-class one-vs-rest acc. (%)"] == pytest.approx(75.0)


def test_tables_layout():
    y, p = _from_cm([[5, 1, 0], [2, 6, 2], [0, 0, 4]])
    fold = np.arange(len(y)) % 2
    s = eye_cv.fold_scores(y, p, fold, 3)
    t2 = eye_cv.per_class_table(s, ["a", "b", "c"], "recall")
    assert t2["Fold"].tolist() == ["1", "2", "Avg."]
    np.testing.assert_allclose(t2.iloc[-1][["a", "b", "c"]].to_numpy(float), 100 * s["recall"].mean(axis=0))
    with pytest.raises(ValueError, match="definition must be one of"):
        eye_cv.per_class_table(s, ["a", "b", "c"], "precision")
    t3 = eye_cv.comparison_table({"som": s, "knn": s}, _cfg(), ["a", "b", "c"])
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
    cfg = _cfg(n_splits=3)
    a = eye_cv.cross_validate(X, y, cfg, seed=0, progress=False)
    for m in cfg.models:
        assert (a["pred"][m] >= 0).all()
        assert (a["pred"][m] == y).mean() >= 0.95, m
    assert sorted(np.unique(a["fold"]).tolist()) == [0, 1, 2]
    assert len(a["som_quality"]) == 3
    b = eye_cv.cross_validate(X, y, cfg, seed=0, progress=False)
    for m in cfg.models:
        np.testing.assert_array_equal(a["pred"][m], b["pred"][m])
    np.testing.assert_allclose(a["proba"]["logreg"].sum(axis=1), 1.0)


def test_grouped_folds_keep_patients_together():
    y = np.repeat([0, 1, 2, 3], 10)
    groups = np.repeat(np.arange(20), 2)  # two eyes per patient
    for tr, te in eye_cv.folds(y, 5, seed=1, groups=groups):
        assert not set(groups[tr]) & set(groups[te])
    plain = eye_cv.folds(y, 5, seed=1)
    assert any(set(groups[tr]) & set(groups[te]) for tr, te in plain)  # the plain folds split patients


def test_cluster_network_blobs():
    X, y = _blobs(240)
    X = (X - X.mean(0)) / X.std(0)
    cfg = cluster_net.CBNNConfig(hidden=(64,), epochs=40, batch_size=32, learning_rate=1e-3, loss="mse")
    km = cluster_net.ClusterNetwork(cfg, clusters="kmeans", inputs="onehot", seed=0, n_clusters=8)
    km.fit(X[:180], y[:180])
    assert km.centroids_.shape == (8, 10)
    assert (km.predict(X[180:]) == y[180:]).mean() >= 0.9
    proba = km.predict_proba(X[180:])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    cent = cluster_net.ClusterNetwork(cfg, clusters="kmeans", inputs="centroid", seed=0, n_clusters=8)
    cent.fit(X[:180], y[:180])
    np.testing.assert_array_equal(
        cent.design(X[:3]), cent.centroids_[cluster_net.nearest_centroid(cent.centroids_, X[:3])].astype(np.float32)
    )
    alone = cluster_net.ClusterNetwork(cfg, clusters="none", inputs="features", seed=0).fit(X[:180], y[:180])
    assert alone.centroids_ is None and (alone.predict(X[180:]) == y[180:]).mean() >= 0.9


def test_cluster_network_invalid():
    cfg = cluster_net.CBNNConfig(hidden=(4,), epochs=1, batch_size=2, learning_rate=1e-3, loss="mse")
    with pytest.raises(ValueError, match="clusters must be one of"):
        cluster_net.ClusterNetwork(cfg, clusters="dbscan", inputs="onehot", seed=0)
    with pytest.raises(ValueError, match="goes with clusters='none'"):
        cluster_net.ClusterNetwork(cfg, clusters="som", inputs="features", seed=0)
    with pytest.raises(ValueError, match="needs centroids"):
        cluster_net.ClusterNetwork(cfg, "som", "onehot", 0).fit(np.zeros((4, 2)), np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="models must be among"):
        _cfg(models=("svm",))
    with pytest.raises(ValueError, match="protocols must be among"):
        _cfg(protocols=["loo"])


def test_bootstrap_weights_resample_patients():
    groups = np.array(["a", "a", "b", "c", "c", "c"])
    w = eye_cv.bootstrap_weights(groups, 200, seed=0)
    assert w.shape == (200, 6)
    assert (w[:, 0] == w[:, 1]).all() and (w[:, 3] == w[:, 5]).all()  # one patient, one weight
    assert (w[:, [0, 2, 3]].sum(axis=1) == 3).all()  # three patients drawn per replicate
    np.testing.assert_array_equal(w, eye_cv.bootstrap_weights(groups, 200, seed=0))


def test_weighted_readings_exact_and_against_a_loop():
    y = np.array([0, 0, 0, 1, 1, 2])
    pred = np.array([0, 0, 1, 1, 2, 2])
    proba = np.array([[0.8, 0.1, 0.1], [0.6, 0.2, 0.2], [0.3, 0.6, 0.1], [0.1, 0.7, 0.2], [0.2, 0.3, 0.5], [0, 0, 1.0]])
    r = eye_cv.weighted_readings(np.ones(6), y, pred, proba, 3)
    np.testing.assert_allclose(r["recall"], [2 / 3, 1 / 2, 1])
    # one-vs-rest: class 0 FN 1 FP 0 -> 5/6; class 1 FN 1 FP 1 -> 4/6; class 2 FN 0 FP 1 -> 5/6
    np.testing.assert_allclose(r["one_vs_rest"], [5 / 6, 4 / 6, 5 / 6])
    np.testing.assert_allclose(r["confidence"], [(0.8 + 0.6 + 0.3) / 3, (0.7 + 0.3) / 2, 1.0])
    assert r["accuracy"] == pytest.approx(4 / 6)
    # a bootstrap replicate (integer weights) equals the plain computation on the repeated samples
    w = np.array([2.0, 0, 1, 3, 1, 1])
    rep = np.repeat(np.arange(6), w.astype(int))
    s = eye_cv.fold_scores(y[rep], pred[rep], np.zeros(len(rep), int), 3)
    rw = eye_cv.weighted_readings(w, y, pred, proba, 3)
    np.testing.assert_allclose(rw["recall"], s["recall"][0])
    np.testing.assert_allclose(rw["one_vs_rest"], s["one_vs_rest"][0])
    assert rw["macro_f1"] == pytest.approx(s["macro_f1"][0])


def test_calibration_exact():
    cal = eye_cv.calibration(np.array([0, 1]), np.array([[1.0, 0.0], [0.5, 0.5]]))
    # Brier: (0 + 0.25 + 0.25) / 2; ECE: the 0.5 bin holds one wrong guess (argmax 0) at confidence 0.5, share 1/2
    assert cal == {"brier": pytest.approx(0.25), "ece": pytest.approx(0.25)}


def test_table2_consistency_on_the_papers_values():
    from lib.core.report import paper_values

    paper = eye_cv.paper_per_class(paper_values("03_eye_mobilenet_som"))
    classes = ["cataract", "diabetic_retinopathy", "glaucoma", "normal"]
    df, text = eye_cv.table2_consistency(paper, classes)
    total = 0.5 * sum(1 - paper[c] for c in classes)
    assert df["total error these imply (%)"].iloc[0] == pytest.approx(100 * total)
    assert df["possible (class error <= total)"].to_dict() == {c: c != "glaucoma" for c in classes}
    assert "impossible" in text and "glaucoma" in text
    ok, ok_text = eye_cv.table2_consistency({"a": 0.9, "b": 0.9}, ["a", "b"])
    assert ok["possible (class error <= total)"].all() and "consistent" in ok_text


def test_shortcut_features_exact():
    im = np.zeros((2, 32, 32, 3), np.uint8)
    im[1, :16, :, 0] = 255  # top half of image 1 red
    f = eye_cv.shortcut_features(im, thumb=2, bins=4)
    np.testing.assert_allclose(f["thumbnail 2x2"][1], [1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(f["colour histogram"][1], [0.5, 0, 0, 0.5, 1, 0, 0, 0, 1, 0, 0, 0])


def test_readings_paired_difference_of_identical_models_is_zero():
    y = np.repeat([0, 1], 10)
    pred = np.where(np.arange(20) % 3 == 0, 1 - y, y)
    proba = np.eye(2)[pred] * 0.8 + 0.1
    run = {"pred": {"a": pred, "b": pred.copy()}, "proba": {"a": proba, "b": proba}}
    cfg = _cfg().cv
    r = eye_cv.readings([run], y, np.arange(20) // 2, ["x", "z"], cfg, refs=("b",))
    assert r["a"]["accuracy_minus_b"] == 0 and r["a"]["accuracy_minus_b_ci"] == [0.0, 0.0]
    lo, hi = r["a"]["accuracy_ci"]
    assert r["a"]["accuracy"] == pytest.approx(13 / 20) and lo <= 13 / 20 <= hi


def test_table2_fold_check_hand_set():
    """Class a: 20 images, 2 folds of 10 -> recalls k/10; 0.9 fits, 0.95 does not. Class b: errors 0.4 and 0.0,
    so in fold 1 (a error 0.1, b 0.4) the total error is 0.25 < 0.4: b is impossible as one-vs-rest there; in fold 2
    (a 0.05, b 0) the total is 0.025 < 0.05: a is impossible there."""
    folds = {"a": [0.9, 0.95], "b": [0.6, 1.0]}
    df, summ = eye_cv.table2_fold_check(folds, {"a": [20], "b": [20]}, ["a", "b"], n_splits=2)
    assert df.set_index(["fold", "class"])["fits count-based recall"].to_dict() == {
        (1, "a"): True,
        (1, "b"): True,
        (2, "a"): False,
        (2, "b"): True,
    }
    assert summ["a"]["count_fits"] == 1 and summ["a"]["sizes"] == [10]
    assert summ["b"]["one_vs_rest_possible"] == 1 and summ["a"]["one_vs_rest_possible"] == 1
    assert summ["a"]["chance"] == pytest.approx(1 / 501)  # of 90.00, 90.01, ..., 95.00 only 90.00 is k/10
    assert eye_cv.fold_sizes(1007, 10) == [100, 101] and eye_cv.fold_sizes(1000, 10) == [100]


def test_table2_fold_check_on_the_papers_rows():
    """Generated from claims.yaml: no fold value is a count-based recall, glaucoma is impossible as one-vs-rest."""
    from lib.core.report import paper_values
    from lib.eye.data import KAGGLE_COUNTS

    values = paper_values("03_eye_mobilenet_som")
    classes = ["cataract", "diabetic_retinopathy", "glaucoma", "normal"]
    folds = eye_cv.paper_folds(values)
    assert sorted(folds) == classes and all(len(v) == 10 for v in folds.values())
    for c in classes:  # the fold rows average to the Avg. row the per-class claims hold
        assert np.mean(folds[c]) == pytest.approx(values[f"nb03_acc_{c}"], abs=6e-5)
    _, summ = eye_cv.table2_fold_check(folds, eye_cv.count_candidates(values, KAGGLE_COUNTS, classes), classes, 10)
    assert {c: s["count_fits"] for c, s in summ.items()} == dict.fromkeys(classes, 0)
    assert summ["glaucoma"]["one_vs_rest_possible"] == 0
    text = eye_cv.table2_fold_text(summ, classes, 10)
    assert "glaucoma's error exceeds the fold's total error in 10 of 10 folds" in text
    assert "0 of the paper's 40 fold values" in text and "not count-based recalls" in text


def test_paper_bars_only_with_the_papers_features():
    from lib.eye.features import FeatureConfig

    paper = {"a": 0.9, "b": 0.8}
    same = FeatureConfig(weights="imagenet", alpha=1.0, image_size=160, batch_size=8)
    assert eye_cv.paper_bars(paper, ["a", "b"], same) == {"a": pytest.approx(90.0), "b": pytest.approx(80.0)}
    for other in ({"alpha": 0.35}, {"weights": "random"}):
        assert eye_cv.paper_bars(paper, ["a", "b"], FeatureConfig(**{**same.__dict__, **other})) is None
    assert "one_vs_rest" not in eye_cv.PAPER_READINGS


def test_som_sensitivity_inside_the_cv():
    X, y = _blobs()
    groups = np.arange(len(y)) // 2
    cfg = _cfg(models=("som",), n_splits=3)
    grid = [{"label": "main"}, {"label": "ours: 3x3", "side": 3}]
    t = eye_cv.som_sensitivity(X, y, groups, cfg, grid, ["a", "b", "c", "d"], progress=False)
    assert t["setting"].tolist() == ["main", "ours: 3x3"] and t["map side"].tolist() == [cfg.som.side, 3]
    assert (t["_som"] >= 0.9).all() and (t["quantization error"] > 0).all()
    assert t.loc[1, "SOM"].startswith("3x3 ")
    assert dataclasses.replace(cfg.som, side=0).describe().startswith("ceil(sqrt(5 sqrt(N)))-per-side ")
    rows = eye_cv.sensitivity_metrics(t)
    assert rows[1]["side"] == 3 and len(rows[1]["som_accuracy_ci"]) == 2
    assert not any(c.startswith("_") for c in eye_cv.sensitivity_display(t).columns)
