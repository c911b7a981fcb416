"""Tests of the notebook-03 evaluation: nested CV protocols (lib.eye.protocols), the seeds x group bootstrap
(lib.eye.readings), Table 2 (lib.eye.table2), the tables (lib.eye.experiment) and the CBNN (lib.eye.cluster_net)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from lib.eye import (
    cluster_net,
    copy_check,
    experiment,
    floors,
    leak,
    neardup,
    prose_data,
    prose_results,
    prose_tuning,
    protocols,
    readings,
    table2,
)


def _from_cm(cm):
    y, p = [], []
    for t, row in enumerate(cm):
        for q, n in enumerate(row):
            y += [t] * n
            p += [q] * n
    return np.array(y), np.array(p)


def _in_ci_table():
    """One Table 2 row: class a's CI holds the paper's value, class b's does not."""
    import pandas as pd

    return pd.DataFrame(
        {
            "model": ["LR"],
            "reading": ["recall"],
            "a (%)": ["90.00 [88.00, 92.00]"],
            "paper a": ["91.00 (in CI)"],
            "b (%)": ["50.00 [45.00, 55.00]"],
            "paper b": ["96.00 (above)"],
        }
    )


def test_per_class_accuracy_both_definitions_exact():
    cm = [[5, 1, 0], [2, 6, 2], [0, 0, 4]]  # rows = true, 20 samples
    y, p = _from_cm(cm)
    s = table2.fold_scores(y, p, np.zeros(len(y), int), 3)
    np.testing.assert_allclose(s["recall"][0], [5 / 6, 6 / 10, 4 / 4])
    # one-vs-rest: class 0 TP5 FN1 FP2 TN12; class 1 TP6 FN4 FP1 TN9; class 2 TP4 FN0 FP2 TN14
    np.testing.assert_allclose(s["one_vs_rest"][0], [17 / 20, 15 / 20, 18 / 20])
    np.testing.assert_allclose(s["accuracy"], [15 / 20])


def test_table2_layout():
    y, p = _from_cm([[5, 1, 0], [2, 6, 2], [0, 0, 4]])
    fold = np.arange(len(y)) % 2
    s = table2.fold_scores(y, p, fold, 3)
    t = table2.per_class_table(s, ["a", "b", "c"], "recall")
    assert t["Fold"].tolist() == ["1", "2", "Avg."]
    np.testing.assert_allclose(t.iloc[-1][["a", "b", "c"]].to_numpy(float), 100 * s["recall"].mean(axis=0), atol=5e-3)
    with pytest.raises(ValueError, match="definition must be one of"):
        table2.per_class_table(s, ["a", "b", "c"], "precision")


def _cfg(models=("som", "logreg", "knn"), tuning=None, **cv):
    from lib.core.params import load_params

    p = load_params("nb03")
    return protocols.EyeCVConfig.from_params(
        models,
        {**p["cv"], **cv},
        {**p["som"], "epochs": 3, "cover_steps": 2},
        {**p["cbnn"], "epochs": 20},
        {**p["tuning"], "som_side": [3], **(tuning or {})},
    )


def _blobs(n=200):
    return make_blobs(n_samples=n, centers=4, n_features=10, cluster_std=1.5, center_box=(-10, 10), random_state=1)


def test_nearest_centroid_one_hot_and_soft_assignment():
    C = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    X = np.array([[1.0, 1.0], [9.0, 2.0], [-1.0, 8.0], [6.0, 0.0]])
    assert cluster_net.nearest_centroid(C, X).tolist() == [0, 1, 2, 1]
    np.testing.assert_array_equal(cluster_net.one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    d2 = np.array([[0.0, 2.0], [8.0, 8.0]])
    s = cluster_net.soft_assignment(d2, bandwidth=1.0)  # exp(-d2 / 2): [1, e^-1] and equal
    np.testing.assert_allclose(s, [[1 / (1 + np.exp(-1)), np.exp(-1) / (1 + np.exp(-1))], [0.5, 0.5]], rtol=1e-6)


def test_cross_validate_blobs_determinism_and_chosen_settings():
    X, y = _blobs()
    cfg = _cfg(n_splits=3)
    a = protocols.cross_validate(X, y, cfg, seed=0, progress=False)
    for m in cfg.models:
        assert (a["pred"][m] == y).mean() >= 0.95, m
    assert sorted(np.unique(a["fold"]).tolist()) == [0, 1, 2]
    expected = {(k, m) for k in (1, 2, 3) for m in (*cfg.models, protocols.SIDE_ROW)}  # a SOM model: side rows
    assert {(c["fold"], c["model"]) for c in a["chosen"]} == expected
    b = protocols.cross_validate(X, y, cfg, seed=0, progress=False)
    for m in cfg.models:
        np.testing.assert_array_equal(a["pred"][m], b["pred"][m])
    np.testing.assert_allclose(a["proba"]["logreg"].sum(axis=1), 1.0)


def test_nested_selection_picks_the_better_setting():
    """kNN with k = 140 on 4 blobs of ~33 training images each (inner folds) votes across classes; k = 1 does not."""
    X, y = _blobs()
    cfg = _cfg(models=("knn",), tuning={"knn_k": [140, 1]}, n_splits=3)
    res = protocols.cross_validate(X, y, cfg, seed=0, progress=False)
    assert [c["setting"] for c in res["chosen"]] == [{"k": 1}] * 3
    assert all(c["inner_accuracy"] >= 0.9 for c in res["chosen"])


def test_grouped_folds_keep_groups_together():
    y = np.repeat([0, 1, 2, 3], 10)
    groups = np.repeat(np.arange(20), 2)  # two eyes per patient
    for tr, te in protocols.folds(y, 5, seed=1, groups=groups):
        assert not set(groups[tr]) & set(groups[te])
    plain = protocols.folds(y, 5, seed=1)
    assert any(set(groups[tr]) & set(groups[te]) for tr, te in plain)  # the plain folds split patients


def test_run_protocols_subset_and_models():
    X, y = _blobs(120)
    groups = np.arange(len(y)) // 2
    keep = {"originals": np.arange(len(y)) % 3 != 0}
    cfg = _cfg(models=("logreg", "knn"), n_splits=3, protocols=["linked", "originals"], other_models=["logreg"])
    runs = protocols.run_protocols(X, y, {"linked": groups, "originals": groups}, cfg, keep=keep, progress=False)
    r = runs["originals"][0]
    assert list(r["pred"]) == ["logreg"]
    assert (r["pred"]["logreg"][~keep["originals"]] == -1).all() and (r["pred"]["logreg"][keep["originals"]] >= 0).all()
    assert set(runs["linked"][0]["pred"]) == {"logreg", "knn"}


def test_cluster_network_blobs_every_input():
    X, y = _blobs(240)
    X = (X - X.mean(0)) / X.std(0)
    cfg = cluster_net.CBNNConfig(hidden=(64,), epochs=40, batch_size=32, learning_rate=1e-3, loss="mse")
    km = cluster_net.ClusterNetwork(cfg, clusters="kmeans", inputs="onehot", seed=0, n_clusters=8)
    km.fit(X[:180], y[:180])
    assert km.centroids_.shape == (8, 10)
    assert (km.predict(X[180:]) == y[180:]).mean() >= 0.9
    np.testing.assert_allclose(km.predict_proba(X[180:]).sum(axis=1), 1.0, rtol=1e-5)
    soft = cluster_net.ClusterNetwork(cfg, clusters="kmeans", inputs="soft", seed=0, n_clusters=8).fit(X[:180], y[:180])
    raw = cluster_net.soft_assignment(cluster_net.squared_distances(soft.centroids_, X[:5]), soft.bandwidth_)
    assert raw.shape == (5, 8) and np.allclose(raw.sum(axis=1), 1.0) and soft.bandwidth_ > 0
    np.testing.assert_allclose(soft.design(X[:5]), (raw - soft.scale_[0]) / soft.scale_[1], rtol=1e-5, atol=1e-5)
    assert (soft.predict(X[180:]) == y[180:]).mean() >= 0.9
    alone = cluster_net.ClusterNetwork(cfg, clusters="none", inputs="features", seed=0).fit(X[:180], y[:180])
    assert alone.centroids_ is None and (alone.predict(X[180:]) == y[180:]).mean() >= 0.9


def test_invalid_configurations():
    cfg = cluster_net.CBNNConfig(hidden=(4,), epochs=1, batch_size=2, learning_rate=1e-3, loss="mse")
    with pytest.raises(ValueError, match="clusters must be one of"):
        cluster_net.ClusterNetwork(cfg, clusters="dbscan", inputs="onehot", seed=0)
    with pytest.raises(ValueError, match="goes with clusters='none'"):
        cluster_net.ClusterNetwork(cfg, clusters="som", inputs="features", seed=0)
    with pytest.raises(ValueError, match="models must be among"):
        _cfg(models=("svm",))
    with pytest.raises(ValueError, match="protocols must be among"):
        _cfg(protocols=["grouped"])
    with pytest.raises(ValueError, match="inner_splits must be >= 2"):
        _cfg(tuning={"inner_splits": 1})


def test_bootstrap_weights_resample_groups_and_seeds():
    groups = np.array(["a", "a", "b", "c", "c", "c"])
    w = readings.bootstrap_weights(groups, 200, seed=0)
    assert w.shape == (200, 6)
    assert (w[:, 0] == w[:, 1]).all() and (w[:, 3] == w[:, 5]).all()  # one group, one weight
    assert (w[:, [0, 2, 3]].sum(axis=1) == 3).all()  # three groups drawn per replicate
    s, w2 = readings.replicates(groups, 3, 200, seed=0)
    np.testing.assert_array_equal(w, w2)
    assert set(s.tolist()) == {0, 1, 2}


def test_weighted_scores_exact_and_against_a_loop():
    y = np.array([0, 0, 0, 1, 1, 2])
    pred = np.array([0, 0, 1, 1, 2, 2])
    proba = np.array([[0.8, 0.1, 0.1], [0.6, 0.2, 0.2], [0.3, 0.6, 0.1], [0.1, 0.7, 0.2], [0.2, 0.3, 0.5], [0, 0, 1.0]])
    r = readings.weighted_scores(np.ones(6), y, pred, proba, 3)
    np.testing.assert_allclose(r["recall"], [2 / 3, 1 / 2, 1])
    # one-vs-rest: class 0 FN 1 FP 0 -> 5/6; class 1 FN 1 FP 1 -> 4/6; class 2 FN 0 FP 1 -> 5/6
    np.testing.assert_allclose(r["one_vs_rest"], [5 / 6, 4 / 6, 5 / 6])
    np.testing.assert_allclose(r["confidence"], [(0.8 + 0.6 + 0.3) / 3, (0.7 + 0.3) / 2, 1.0])
    assert r["accuracy"] == pytest.approx(4 / 6)
    w = np.array([2.0, 0, 1, 3, 1, 1])
    rep = np.repeat(np.arange(6), w.astype(int))
    s = table2.fold_scores(y[rep], pred[rep], np.zeros(len(rep), int), 3)
    rw = readings.weighted_scores(w, y, pred, proba, 3)
    np.testing.assert_allclose(rw["recall"], s["recall"][0])
    np.testing.assert_allclose(rw["one_vs_rest"], s["one_vs_rest"][0])
    # an image outside the protocol (pred -1) counts for nothing
    out = readings.weighted_scores(np.ones(6), y, np.array([0, 0, 1, 1, 2, -1]), None, 3)
    assert out["accuracy"] == pytest.approx(3 / 5) and np.isnan(out["recall"][2])


def test_seed_models_run_every_seed_the_others_one():
    X, y = _blobs(120)
    groups = np.arange(len(y)) // 2
    cfg = _cfg(
        models=("logreg", "knn"),
        n_splits=3,
        protocols=["linked", "plain"],
        seeds=[0, 1],
        seed_models=["logreg"],
        other_models=[],
    )
    assert cfg.cv.model_seeds("plain", "logreg") == (0, 1) and cfg.cv.model_seeds("linked", "knn") == (0,)
    runs = protocols.run_protocols(X, y, {"linked": groups, "plain": None}, cfg, progress=False)
    for p in ("linked", "plain"):
        assert [sorted(r["pred"]) for r in runs[p]] == [["knn", "logreg"], ["logreg"]]
    r = readings.readings(runs["linked"], y, groups, ["a", "b", "c", "d"], 200, seed=0, refs=("logreg",))
    assert r["logreg"]["n_seeds"] == 2 and r["knn"]["n_seeds"] == 1
    assert "knn" in r and np.isfinite(r["knn"]["accuracy_minus_logreg_ci"]).all()
    every = experiment.all_readings(runs, y, groups, ["a", "b", "c", "d"], cfg)  # calibration over a model's seeds
    assert every["plain"]["knn"]["n_seeds"] == 1 and np.isfinite(every["plain"]["knn"]["brier"])
    best = max(r, key=lambda m: r[m]["balanced_accuracy"])
    assert r[best]["vs_best"]["tied"] and r[best]["vs_best"]["balanced_accuracy_ci"] == [0.0, 0.0]
    from lib.eye import prose

    assert prose.seeds_text(cfg, "linked") == "seeds [0, 1] (logreg; the others seed 0)"
    assert "no retraining variability" in prose.ci_label(1) and "2 seeds" in prose.ci_label(2)


def test_vs_best_separates_a_clearly_worse_model():
    y = np.repeat([0, 1], 50)
    good = {"pred": {"a": y.copy(), "b": np.where(np.arange(100) % 2 == 0, y, 1 - y)}, "proba": {}}
    good["proba"] = {m: np.eye(2)[p] for m, p in good["pred"].items()}
    r = readings.readings([good], y, np.arange(100), ["x", "z"], 400, seed=0)
    assert r["b"]["vs_best"]["best"] == "a" and not r["b"]["vs_best"]["tied"]
    assert r["b"]["vs_best"]["balanced_accuracy"] == pytest.approx(-0.5)


def test_protocol_masks_drop_ambiguous_and_unscore_conflicted():
    files = ["c/1.jpg", "c/_0_1.jpg", "c/_1_2.jpg", "g/1.jpg"]
    keep, test = experiment.protocol_masks(
        files, ("neardup", "plain", "originals"), np.array([0, 0, 1, 0], bool), np.array([0, 0, 0, 1], bool)
    )
    assert keep["neardup"].tolist() == [True, True, False, True]
    assert keep["originals"].tolist() == [True, False, False, True]
    assert test["neardup"].tolist() == [True, False, False, False]
    assert test["plain"].tolist() == [True, True, True, False]


def test_leak_text_says_which_pairs_were_not_run():
    from lib.eye import prose

    cfg = _cfg(protocols=["neardup", "linked", "plain"])
    text = prose_results.leak_text(cfg, leak.LEAK_PAIRS)
    assert "*patient - linked*: not run (patient not among the protocols)" in text
    assert "*plain - linked*: the paper's image-level folds" in text
    assert "3 protocols" in prose.protocols_overview(cfg)


def test_readings_ci_holds_the_seeds_and_pairs_models():
    """Seed 0 predicts everything right, seed 1 everything wrong: the point is 1/2 and the seeds x group bootstrap CI
    spans both retrainings; a model paired with itself differs by exactly 0."""
    y = np.repeat([0, 1], 10)
    good = {"pred": {"a": y.copy(), "b": y.copy()}, "proba": {"a": np.eye(2)[y], "b": np.eye(2)[y]}}
    bad = {"pred": {"a": 1 - y, "b": 1 - y}, "proba": {"a": np.eye(2)[1 - y], "b": np.eye(2)[1 - y]}}
    r = readings.readings([good, bad], y, np.arange(20) // 2, ["x", "z"], 400, seed=0, refs=("b",))
    assert r["a"]["accuracy"] == pytest.approx(0.5)
    assert r["a"]["accuracy_ci"] == [0.0, 1.0]
    assert r["a"]["accuracy_minus_b"] == 0 and r["a"]["accuracy_minus_b_ci"] == [0.0, 0.0]
    one = readings.readings([good], y, np.arange(20) // 2, ["x", "z"], 400, seed=0)
    assert one["a"]["accuracy_ci"] == [1.0, 1.0]


def test_leak_table_paired_differences():
    y = np.repeat([0, 1], 10)
    pred = np.where(np.arange(20) % 4 == 0, 1 - y, y)
    run = {"pred": {"logreg": pred}, "proba": {"logreg": np.eye(2)[pred]}}
    worse = {"pred": {"logreg": 1 - y}, "proba": {"logreg": np.eye(2)[1 - y]}}
    cfg = _cfg(models=("logreg",), bootstrap=200)
    comp = leak.leak_comparison(
        {"patient": [run], "linked": [run], "originals": [worse]}, y, np.arange(20) // 2, cfg, ["x", "z"]
    )
    t = leak.leak_table(comp, cfg).iloc[0]
    assert t["patient - linked (pp)"] == "+0.00 [+0.00, +0.00]"
    assert t["linked - originals (pp)"].startswith("+75.00 ")
    m = leak.leak_metrics(comp)["logreg"]
    assert m["linked"] == pytest.approx(0.75) and m["originals"] == 0.0


def test_model_table_columns_and_baseline_rows():
    y = np.repeat([0, 1], 50)
    good = {"pred": {"logreg": y.copy(), "knn": np.where(np.arange(100) % 2 == 0, y, 1 - y)}, "proba": {}}
    good["proba"] = {m: np.eye(2)[p] for m, p in good["pred"].items()}
    r = readings.readings([good], y, np.arange(100), ["x", "z"], 200, seed=0)
    cfg = _cfg(models=("logreg", "knn"))
    floor = readings.readings([good], y, np.arange(100), ["x", "z"], 200, seed=0)["knn"]
    t = experiment.model_table(r, cfg, ["x", "z"], baselines={"floor": floor})
    # a baseline row is not ranked; review24s10 m1: a verdict on a 1-seed CI is marked indicative (the best: not)
    assert t["tied with the best"].tolist() == ["yes", "no (1 seed: indicative)", "-"]
    three = {m: e | {"n_seeds": 3} for m, e in r.items()}
    assert experiment.model_table(three, cfg, ["x", "z"])["tied with the best"].tolist() == ["yes", "no"]
    one_best = three | {"logreg": three["logreg"] | {"n_seeds": 1}}
    assert experiment.tied_word("knn", one_best["knn"]["vs_best"], one_best) == "no (1 seed: indicative)"
    assert t["Seeds"].tolist() == [1, 1, 1] and t["CI resamples"].str.contains("no retraining").all()


def test_calibration_exact():
    cal = readings.calibration(np.array([0, 1]), np.array([[1.0, 0.0], [0.5, 0.5]]))
    # Brier: (0 + 0.25 + 0.25) / 2; ECE: the 0.5 bin holds one wrong guess (argmax 0) at confidence 0.5, share 1/2
    assert cal == {"brier": pytest.approx(0.25), "ece": pytest.approx(0.25)}


def test_table2_vs_paper_marks_where_the_paper_lies():
    entry = {
        "recall": {"a": 0.9, "a_ci": [0.85, 0.95], "b": 0.5, "b_ci": [0.4, 0.6], "mean": 0.7, "mean_ci": [0.6, 0.8]}
    }
    t = table2.table2_vs_paper({"m": entry}, {"a": 0.9, "b": 0.7, "mean": 0.8}, ["a", "b"], str).iloc[0]
    assert t["paper a"] == "90.00 (in CI)" and t["paper b"] == "70.00 (above)" and t["classes with paper in CI"] == 1


def test_table2_consistency_on_the_papers_values():
    from lib.core.report import paper_values

    paper = table2.paper_per_class(paper_values("03_eye_mobilenet_som"))
    classes = ["cataract", "diabetic_retinopathy", "glaucoma", "normal"]
    df, text = table2.table2_consistency(paper, classes)
    total = 0.5 * sum(1 - paper[c] for c in classes)
    assert df["total error these imply (%)"].iloc[0] == pytest.approx(100 * total)
    assert df["possible (class error <= total)"].to_dict() == {c: c != "glaucoma" for c in classes}
    assert "impossible" in text and "glaucoma" in text
    ok, ok_text = table2.table2_consistency({"a": 0.9, "b": 0.9}, ["a", "b"])
    assert ok["possible (class error <= total)"].all() and "consistent" in ok_text


def test_shortcut_features_exact():
    im = np.zeros((2, 32, 32, 3), np.uint8)
    im[1, :16, :, 0] = 255  # top half of image 1 red
    f = floors.shortcut_features(im, thumb=2, bins=4)
    np.testing.assert_allclose(f["thumbnail 2x2"][1], [1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(f["colour histogram"][1], [0.5, 0, 0, 0.5, 1, 0, 0, 0, 1, 0, 0, 0])


def test_table2_fold_check_hand_set():
    """Class a: 20 images, 2 folds of 10 -> recalls k/10; 0.9 fits, 0.95 does not. Class b: errors 0.4 and 0.0,
    so in fold 1 (a error 0.1, b 0.4) the total error is 0.25 < 0.4: b is impossible as one-vs-rest there; in fold 2
    (a 0.05, b 0) the total is 0.025 < 0.05: a is impossible there."""
    folds = {"a": [0.9, 0.95], "b": [0.6, 1.0]}
    df, summ = table2.table2_fold_check(folds, {"a": [20], "b": [20]}, ["a", "b"], n_splits=2)
    assert df.set_index(["fold", "class"])["fits count-based recall"].to_dict() == {
        (1, "a"): True,
        (1, "b"): True,
        (2, "a"): False,
        (2, "b"): True,
    }
    assert summ["a"]["count_fits"] == 1 and summ["a"]["sizes"] == [10]
    assert summ["b"]["one_vs_rest_possible"] == 1 and summ["a"]["one_vs_rest_possible"] == 1
    assert summ["a"]["chance"] == pytest.approx(1 / 501)  # of 90.00, 90.01, ..., 95.00 only 90.00 is k/10
    assert table2.fold_sizes(1007, 10) == [100, 101] and table2.fold_sizes(1000, 10) == [100]


def test_table2_fold_check_on_the_papers_rows():
    """Generated from claims.yaml: no fold value is a count-based recall, glaucoma is impossible as one-vs-rest."""
    from lib.core.report import paper_values
    from lib.eye.data import KAGGLE_COUNTS

    values = paper_values("03_eye_mobilenet_som")
    classes = ["cataract", "diabetic_retinopathy", "glaucoma", "normal"]
    folds = table2.paper_folds(values)
    assert sorted(folds) == classes and all(len(v) == 10 for v in folds.values())
    for c in classes:  # the fold rows average to the Avg. row the per-class claims hold
        assert np.mean(folds[c]) == pytest.approx(values[f"nb03_acc_{c}"], abs=6e-5)
    _, summ = table2.table2_fold_check(folds, table2.count_candidates(values, KAGGLE_COUNTS, classes), classes, 10)
    assert {c: s["count_fits"] for c, s in summ.items()} == dict.fromkeys(classes, 0)
    assert summ["glaucoma"]["one_vs_rest_possible"] == 0
    text = table2.table2_fold_text(summ, classes, 10)
    assert "glaucoma's error exceeds the fold's total error in 10 of 10 folds" in text
    assert "0 of the paper's 40 fold values" in text and "not count-based recalls" in text


def test_test_mask_keeps_copies_in_training_only():
    """Images outside ``test`` (the augmented copies) are never scored, yet sit in training with their group."""
    X, y = _blobs(120)
    groups = np.arange(len(y)) // 3
    test = np.arange(len(y)) % 3 != 2
    cfg = _cfg(models=("logreg",), n_splits=3, protocols=["linked"])
    r = protocols.run_protocols(X, y, {"linked": groups}, cfg, progress=False, test={"linked": test})["linked"][0]
    assert (r["pred"]["logreg"][~test] == -1).all() and (r["pred"]["logreg"][test] >= 0).all()
    assert np.isnan(r["proba"]["logreg"][~test]).all() and (r["fold"][~test] == -1).all()
    assert (r["mask"] == test).all()
    for tr, te in protocols.folds(y, 3, 0, groups):  # the same outer folds: a copy's group is on one side only
        assert not set(groups[tr]) & set(groups[te])


def test_grid_edges_flag_the_extremes_only():
    grid = [{"C": 0.001}, {"C": 0.01}, {"C": 0.1}]
    assert protocols.grid_edges(grid, {"C": 0.001}) == ["C low"]
    assert protocols.grid_edges(grid, {"C": 0.01}) == []
    assert protocols.grid_edges(grid, {"C": 0.1}) == ["C high"]
    assert protocols.grid_edges([{"C": 1.0}], {"C": 1.0}) == []  # one value: not a choice
    X, y = _blobs()
    cfg = _cfg(models=("logreg",), tuning={"logreg_c": [0.001, 0.01, 0.1]}, n_splits=3)
    res = protocols.cross_validate(X, y, cfg, seed=0, progress=False)
    chosen = experiment.chosen_table({"linked": [res]})
    for _, row in chosen.iterrows():
        assert (row["grid edge"] != "") == (row["setting"] in ("C 0.001", "C 0.1"))
    summary = experiment.edge_summary(chosen, cfg).iloc[0]
    assert summary["on a grid edge"].endswith("of 3")


def test_balanced_accuracy_is_mean_recall_free_of_class_mix():
    y = np.array([0] * 8 + [1] * 2)
    pred = np.array([0] * 8 + [0, 1])  # recall 1.0 and 0.5; accuracy 0.9
    s = readings.weighted_scores(np.ones(10), y, pred, None, 2)
    assert s["accuracy"] == pytest.approx(0.9) and s["balanced_accuracy"] == pytest.approx(0.75)


def test_leak_comparison_scores_every_protocol_on_the_same_images():
    y = np.repeat([0, 1], 10)
    originals = np.arange(20) % 2 == 0
    good = {"pred": {"logreg": y.copy()}, "proba": {"logreg": np.eye(2)[y]}}
    bad_on_copies = np.where(originals, y, 1 - y)
    plain = {"pred": {"logreg": bad_on_copies}, "proba": {"logreg": np.eye(2)[bad_on_copies]}}
    cfg = _cfg(models=("logreg",), bootstrap=100)
    comp = leak.leak_comparison(
        {"plain": [plain], "linked": [good, good]}, y, np.arange(20) // 2, cfg, ["x", "z"], score=originals
    )
    assert comp["logreg"]["plain"]["accuracy"] == 1.0  # the copies it misses are not scored
    assert comp["logreg"]["linked"]["seeds"] == 2
    t = leak.leak_table(comp, cfg)
    assert list(t["score"]) == ["accuracy", "balanced accuracy"]
    assert t.iloc[0]["plain - linked (pp)"] == "+0.00 [+0.00, +0.00]"


def test_soft_cbnn_inputs_are_standardized_and_bandwidth_scales():
    X, y = _blobs(120)
    C = X[:9]
    cfg = cluster_net.CBNNConfig(hidden=(8,), epochs=1, batch_size=32, learning_rate=0.01, loss="mse")
    a = cluster_net.ClusterNetwork(cfg, "som", "soft", 0).fit(X, y, centroids=C, n_classes=4)
    Z = a.design(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(Z.std(axis=0), 1.0, atol=1e-2)
    b = cluster_net.ClusterNetwork(cfg, "som", "soft", 0, bandwidth_factor=2.0).fit(X, y, centroids=C, n_classes=4)
    assert b.bandwidth_ == pytest.approx(2.0 * a.bandwidth_)


def test_metadata_features_see_extension_and_size_only(tmp_path):
    from PIL import Image

    paths = []
    for i, (ext, size) in enumerate([("png", (40, 30))] * 5 + [("jpg", (64, 64))] * 5 + [("jpeg", (50, 70))]):
        p = tmp_path / f"im{i}.{ext}"
        Image.new("RGB", size, (i, i, i)).save(p)
        paths.append(p)
    F = floors.metadata_features(paths)
    assert F.shape == (11, 3 + 3 + 3)  # 3 extensions, sizes 40x30 / 64x64 / other, log w, log h, aspect
    np.testing.assert_allclose(F[0, -3:], [np.log(40), np.log(30), 40 / 30])
    assert (F[:5] == F[0]).all() and not (F[5] == F[0]).all()


def test_headline_seed_models_and_protocol_som_grid():
    cfg = _cfg(
        models=("som", "logreg", "mlp"),
        protocols=["neardup", "linked"],
        seeds=[0, 1, 2],
        seed_models=["logreg"],
        headline_seed_models=["mlp"],
        other_models=["som", "logreg"],
        tuning={"som_side": [3, 4], "som_side_others": [4]},
    )
    assert cfg.cv.model_seeds("neardup", "mlp") == (0, 1, 2) and cfg.cv.model_seeds("linked", "mlp") == (0,)
    assert cfg.cv.model_seeds("linked", "logreg") == (0, 1, 2) and cfg.cv.model_seeds("neardup", "som") == (0,)
    only = _cfg(protocols=["neardup", "linked"], seeds=[0, 1], headline_seed_models=["logreg"])
    assert only.cv.seeds_of("neardup") == (0, 1) and only.cv.seeds_of("linked") == (0,)
    assert cfg.for_protocol("neardup").tuning.som_side == (3, 4)
    assert cfg.for_protocol("linked").tuning.som_side == (4,)
    assert _cfg(tuning={"som_side": [3, 4]}).tuning.som_side_others == (3, 4)  # empty: the headline's grid
    from lib.eye import prose

    assert prose.som_side_text(cfg) == (
        "neardup: side tuned over [3, 4] by the SOM classifier's inner balanced accuracy; linked: side fixed at 4 "
        "(not tuned)."
    )
    text = prose.settings_text(cfg, {})
    assert (
        "3 seeds" in text and "SOM side: neardup: side tuned over [3, 4]" in text and "linked: side fixed at 4" in text
    )
    assert "one value" not in text and "(its side as above; the figures' map: side" in text
    assert "SOM side fixed at 4 inside the folds in linked (not tuned)" in prose.reductions_text(cfg)
    with pytest.raises(ValueError, match="models must be among"):
        _cfg(headline_seed_models=["nope"])


def test_inner_selection_uses_balanced_accuracy():
    assert protocols.balanced_accuracy(np.array([0, 0, 0, 1]), np.array([0, 0, 0, 0])) == 0.5
    assert protocols.balanced_accuracy(np.array([0, 1, 1]), np.array([0, 1, 0])) == 0.75


def test_generated_texts_for_sweep_in_ci_and_timing():
    import pandas as pd

    sweep = pd.DataFrame(
        {"side": [8, 16, 8, 16], "model": ["SOM", "SOM", "CBNN", "CBNN"], "balanced accuracy (%)": [70, 66, 68, 69]}
    )
    t = prose_tuning.sweep_text(sweep, "neardup")
    assert "SOM 66.00-70.00 % (spread 4.00 pp; best side 8)" in t and "never used to choose" in t
    tab = _in_ci_table()
    assert "LR, recall, a, plain: ours 90.00 [88.00, 92.00], paper 91.00" in prose_results.in_ci_text({"plain": tab})
    assert prose_results.in_ci_text({"plain": tab.iloc[:0]}).startswith("No reading")
    txt = prose_results.timing_text(600.0, {"extract_seconds": 120.0}, True, {"extract_seconds": 60.0, "cached": False})
    assert "10.0 min wall" in txt and "about 12.0 min" in txt and "within" in txt and "notebook: 60 s)" in txt
    assert "control" not in prose_results.timing_text(3000.0, {"extract_seconds": 1.0}, False, None)
    assert "over it" in prose_results.timing_text(3000.0, {"extract_seconds": 1.0}, False, None)


def test_pixel_check_rows_and_ambiguous_labels():
    import pandas as pd

    pairs = pd.DataFrame({"a": list("abcdef"), "b": list("ghijkl"), "pixel score": [0.9, 0.55, 0.52, 0.48, 0.3, 0.1]})
    rows = neardup.cut_pair_rows(pairs, 0.5, 2)
    assert [r["file"] for r in rows] == ["c", "b", "d", "e"]
    assert rows[0]["kind"] == "pixel 0.52 passes 0.5" and rows[2]["kind"] == "pixel 0.48 fails 0.5"
    ref = pd.DataFrame(
        {
            "a": list("abcd"),
            "b": list("wxyz"),
            "pixel score": [0.9, 0.4, 0.6, 0.1],
            "kind": ["copy and its source (same eye)"] * 2 + ["fellow eyes (one patient: different eyes)"] * 2,
        }
    )
    rows = neardup.hardest_known_rows(ref, 0.5, 1)
    assert [r["file"] for r in rows] == ["b", "c"]
    assert rows[1]["kind"] == "fellow eyes; pixel 0.60 passes 0.5"
    links = pd.DataFrame(
        {
            "file": ["x", "y"],
            "linked": [True, True],
            "score": [0.9, 0.8],
            "second_score": [0.5, 0.79],
            "candidates": [1, 2],
        }
    )
    kinds = {r["file"]: r["kind"] for r in copy_check.pair_rows(links, n_random=0, n_low=2, seed=0)}
    assert kinds["y"].endswith("(joined)") and not kinds["x"].endswith(")")
    assert not any("dropped" in k for k in kinds.values())


def test_claims_notes_of_nb03_state_no_run_specific_facts():
    """The nb03 claim notes point to the metrics for what ran (protocol, seeds, CI, SOM side), never state it: a
    typed 'first seed' or 'side tuned' went stale against the run before (review 24s4 M1)."""
    from lib.core.report import load_claims

    notes = [c.note for c in load_claims() if c.id.startswith("nb03") and c.note]
    assert notes
    for note in notes:
        for stale in ("first seed", "one seed (the literal", "side tuned inside", "3 seeds", "seeds [0"):
            assert stale not in note, stale


def test_pixel_check_text_reads_pass_rates():
    import pandas as pd

    s = pd.DataFrame(
        {
            "pairs": ["copy and its source (same eye)", "fellow eyes (one patient: different eyes)"],
            "n": [60, 60],
            "share at or above 0.5 (%)": [51.7, 3.3],
        }
    )
    t = prose_data.pixel_check_text(s, 0.5, 9)
    assert "passes 52 % of the same-eye pairs" in t and "3 % of the fellow-eye pairs" in t and "misses 48 %" in t
    assert "9 candidate pairs" in t
    assert prose_data.pixel_check_text(s.iloc[:1], 0.5, 0).startswith("*Pixel check on known pairs*: no")


def test_edge_text_names_models_mostly_on_an_edge():
    import pandas as pd

    edges = pd.DataFrame(
        {
            "protocol": ["neardup", "neardup"],
            "model": ["mlp", "logreg"],
            "on a grid edge": ["2 of 3", "1 of 9"],
            "edges hit": ["width high: 2", "C high: 1"],
        }
    )
    t = prose_tuning.edge_text(edges)
    assert "mlp (neardup: 2 of 3; width high: 2)" in t and "logreg" not in t
    assert prose_tuning.edge_text(edges.iloc[1:]).startswith("No model")


def _reading(bal, lo, hi, seeds):
    return {"balanced_accuracy": bal, "balanced_accuracy_ci": [lo, hi], "n_seeds": seeds, "ci": f"{seeds} seeds"}


def test_best_seeded_text_names_the_best_model_with_a_retraining_ci():

    cfg = _cfg(models=("net_features", "logreg", "mlp"))
    r = {
        "net_features": _reading(0.80, 0.78, 0.82, 1),
        "logreg": {
            **_reading(0.79, 0.77, 0.81, 3),
            "vs_best": {"balanced_accuracy": -0.01, "balanced_accuracy_ci": [-0.02, 0.01]},
        },
        "mlp": _reading(0.78, 0.76, 0.80, 3),
    }
    t = prose_results.best_seeded_text(r, cfg, "net_features")
    assert f"retraining CI: {cfg.label('logreg')}, 79.00 % [77.00, 81.00] (3 seeds" in t and "-1.00 pp" in t
    r["net_features"]["n_seeds"] = 3
    assert cfg.label("net_features") in prose_results.best_seeded_text(r, cfg, "net_features")
    assert "No model ran on more than one seed" in prose_results.best_seeded_text(
        {"logreg": _reading(0.7, 0.6, 0.8, 1)}, cfg, "logreg"
    )


def test_side_confound_is_stated_only_when_the_side_grids_differ():
    from lib.eye import prose

    cfg = _cfg(
        models=("som", "cbnn_onehot", "logreg"),
        tuning={"som_side": [8, 16], "som_side_others": [16]},
        protocols=["neardup", "linked"],
    )
    t = prose.side_confound_text(cfg, ("cbnn_onehot", "logreg"))
    assert cfg.label("cbnn_onehot") in t and cfg.label("logreg") not in t and "fixed at 16" in t
    assert prose.side_confound_text(cfg, ("logreg",)) == ""
    assert "fixed at 16" in prose_results.leak_footnote(cfg, ("cbnn_onehot",))
    same = _cfg(
        models=("som", "cbnn_onehot"),
        tuning={"som_side": [8, 16], "som_side_others": []},
        protocols=["neardup", "linked"],
    )
    assert prose.side_confound_text(same, ("cbnn_onehot",)) == ""
    assert "same SOM side grid" in prose_results.leak_footnote(same, ("cbnn_onehot",))


def test_side_edge_text_reads_the_chosen_side_against_the_sweep():
    import pandas as pd

    cfg = _cfg(models=("som", "cbnn_onehot"), tuning={"som_side": [8, 16, 32]}, protocols=["neardup"])
    edges = pd.DataFrame(
        [
            {
                "protocol": "neardup",
                "model": "som",
                "chosen (times)": "side 8: 3",
                "on a grid edge": "3 of 3",
                "edges hit": "side low: 3",
            }
        ]
    )
    sweep = pd.DataFrame(
        {"side": [8, 12, 16], "model": ["literal CBNN"] * 3, "balanced accuracy (%)": [66.11, 69.40, 68.69]}
    )
    t = prose_tuning.side_edge_text(edges, sweep, cfg, "cbnn_onehot")
    assert "side 8: 3" in t and "3 of 3" in t and "best side for" in t and "is 12 (69.40 %" in t
    assert "not among the sides chosen inside the folds ([8]" in t and "side 8, scores 66.11 %, 3.29 pp lower" in t
    chosen_best = edges.assign(**{"chosen (times)": "side 8: 1; side 12: 2"})
    t2 = prose_tuning.side_edge_text(chosen_best, sweep, cfg, "cbnn_onehot")
    assert "a side chosen inside the folds ([8, 12])" in t2 and "pp lower" not in t2
    gap = prose_tuning.sweep_gap_text(
        pd.concat([sweep, sweep.assign(model="SOM classifier", **{"balanced accuracy (%)": [65.11, 70.40, 68.69]})])
    )
    assert "stays within 1.00 pp of the SOM classifier" in gap and "spread over the sides 3.29 pp" in gap
    assert "not tuned" in prose_tuning.side_edge_text(edges, sweep, _cfg(tuning={"som_side": [8]}), "cbnn_onehot")


def test_in_ci_text_computes_whether_a_row_matches_every_class():

    tab = _in_ci_table()
    assert "no row (model, reading, protocol) holds" in prose_results.in_ci_text({"plain": tab})
    both = tab.assign(**{"paper b": ["52.00 (in CI)"]})
    assert "rows holding the paper's value in every class's CI: LR, recall, plain" in prose_results.in_ci_text(
        {"plain": both}
    )


def test_caveats_text_states_the_grouping_from_the_counts():
    import pandas as pd

    v = pd.DataFrame({"pairs": ["copy and its source (same eye)"], "n": [60], "share at or above 0.5 (%)": [51.7]})
    t = prose_data.caveats_text({"threshold": 0.9, "pairs": 19, "candidate_pairs": 116}, v, 0.5, "ImageNet alpha 0.35")
    assert "19 of 116 candidate pairs joined" in t and "passes 52 % of known same-eye pairs" in t
    assert "at least 0.9" in t and "ImageNet alpha 0.35" in t


def test_cut_pair_rows_marks_pairs_joined_by_a_copy_tie():
    import pandas as pd

    pairs = pd.DataFrame({"a": ["x", "y"], "b": ["x2", "y2"], "pixel score": [0.6, 0.37], "copy tie": [False, True]})
    rows = neardup.cut_pair_rows(pairs, 0.5, 1)
    assert rows[0]["kind"] == "pixel 0.60 passes 0.5" and rows[1]["kind"] == "pixel 0.37 fails 0.5 (joined: copy tie)"


def test_interpretation_reads_control_by_cis_and_flags_the_side_confound():
    import pandas as pd

    cfg = _cfg(
        models=("cbnn_onehot", "logreg"),
        tuning={"som_side": [8, 16], "som_side_others": [16]},
        protocols=["neardup", "linked"],
        seeds=[0, 1],
    )
    classes = ["a", "b"]

    def entry(bal, lo, hi, seeds=2):
        return {
            "accuracy": bal,
            "accuracy_ci": [lo, hi],
            "balanced_accuracy": bal,
            "balanced_accuracy_ci": [lo, hi],
            "ci": "ci",
            "n_seeds": seeds,
            "recall": {"a": bal, "b": bal},
        }

    read = {"neardup": {"logreg": entry(0.80, 0.78, 0.82), "cbnn_onehot": entry(0.68, 0.65, 0.71)}}
    read["neardup"]["cbnn_onehot"]["vs_best"] = {
        "balanced_accuracy": -0.12,
        "balanced_accuracy_ci": [-0.15, -0.1],
        "tied": False,
    }
    control = {**entry(0.67, 0.65, 0.69), "features": "random"}
    boot = np.zeros(10)
    leak = {
        m: {
            p: {"accuracy": 0.7, "boot": boot, "balanced_accuracy": 0.7, "balanced_boot": boot}
            for p in ("neardup", "linked")
        }
        for m in ("cbnn_onehot", "logreg")
    }
    t = prose_results.interpretation(
        read,
        leak,
        cfg,
        "cbnn_onehot",
        {"a": 0.9, "b": 0.9},
        classes,
        control,
        pd.DataFrame(),
        "neardup",
        None,
        [("linked", "neardup")],
    )
    assert "overlapping CIs (unpaired): not established" in t and "above it (unpaired CIs apart)" in t
    assert "Highest balanced accuracy with a retraining CI" in t
    lines = [x for x in t.splitlines() if x.startswith("- *linked - neardup*")]
    assert len(lines) == 2 and "also: SOM side tuned in neardup, fixed at 16" in lines[0] + lines[1]
    assert sum("also: SOM side" in x for x in lines) == 1


def test_sensitivity_protocol_runs_its_models_on_the_first_seed_and_shows_dashes():
    from lib.eye import prose

    X, y = _blobs(120)
    groups = np.arange(len(y)) // 2
    cfg = _cfg(
        models=("logreg", "mlp"),
        n_splits=3,
        seeds=[0, 1],
        protocols=["neardup", "linked", "neardup_all"],
        seed_models=["logreg"],
        sensitivity_models=["logreg"],
        bootstrap=100,
    )
    assert cfg.models_of("neardup_all") == ("logreg",) and cfg.models_of("linked") == ("logreg", "mlp")
    assert cfg.cv.model_seeds("neardup_all", "logreg") == (0,) and cfg.cv.seeds_of("neardup_all") == (0,)
    assert cfg.cv.model_seeds("linked", "logreg") == (0, 1)
    g = {"neardup": groups, "linked": groups, "neardup_all": groups // 2}
    runs = protocols.run_protocols(X, y, g, cfg, progress=False)
    assert len(runs["neardup_all"]) == 1 and list(runs["neardup_all"][0]["pred"]) == ["logreg"]
    assert len(runs["linked"]) == 2
    comp = leak.leak_comparison(runs, y, groups // 2, cfg, ["a", "b", "c", "d"])
    t = leak.leak_table(comp, cfg)
    lr, mlp = (t[(t["model"] == cfg.label(m)) & (t["score"] == "accuracy")].iloc[0] for m in ("logreg", "mlp"))
    assert mlp["neardup_all (%)"] == "-" and mlp["neardup - neardup_all (pp)"] == "-"
    assert lr["neardup_all (%)"] != "-" and lr["neardup - neardup_all (pp)"].startswith(("+", "-0"))
    assert "neardup_all 1" in lr["seeds per protocol"] and "neardup 2" in lr["seeds per protocol"]
    assert "neardup_minus_neardup_all" in leak.leak_metrics(comp)["logreg"]
    text = prose_results.leak_text(cfg, leak.LEAK_PAIRS, leak.LEAK_MODELS)
    assert "*neardup_all* is a sensitivity check" in text and f"{cfg.label('logreg')} only, seed 0" in text
    assert "*neardup - neardup_all*: what the candidate pairs the pixel check left apart" in text
    assert "sensitivity check" in prose.protocol_label("neardup_all", cfg)
    with pytest.raises(ValueError, match="cannot be a sensitivity check"):
        _cfg(protocols=["neardup_all", "linked"])


def test_som_side_tuned_in_every_protocol_is_said_once_and_skips_protocols_without_a_som():
    from lib.eye import prose

    cfg = _cfg(
        models=("som", "cbnn_onehot", "logreg"),
        protocols=["neardup", "linked", "neardup_all"],
        sensitivity_models=["logreg"],
        tuning={"som_side": [3, 4], "som_side_others": []},
    )
    assert prose.som_protocols(cfg) == ("neardup", "linked")
    assert prose.som_side_text(cfg) == (
        "every protocol with a SOM-based model (neardup, linked): side tuned over [3, 4] by the SOM classifier's inner "
        "balanced accuracy."
    )
    assert prose.side_confound_text(cfg, ("cbnn_onehot",)) == ""
    assert "SOM side fixed" not in prose.reductions_text(cfg)


def test_copy_target_text_counts_captured_against_the_issue_target():
    """Captured = linked to one source + joined to all candidates, read against the issue's wording (the linked
    grouping captures at least 95 % of the copies); no "dropped" for linked copies."""
    per = {
        "a": {
            "copies": 60,
            "linked to one source": 50,
            "joined to all candidates": 8,
            "captured": 58,
            "unmatched (dropped)": 2,
        },
        "b": {
            "copies": 40,
            "linked to one source": 40,
            "joined to all candidates": 0,
            "captured": 40,
            "unmatched (dropped)": 0,
        },
    }
    facts = {
        "copies": 100,
        "linked_one_source": 90,
        "joined_all_candidates": 8,
        "captured": 98,
        "unmatched": 2,
        "per_class": per,
    }
    t = prose_data.target_text(facts)
    assert "the linked grouping captures at least 95 % of the augmented copies" in t
    assert "captured 98 of 100 = 98.0 % (90 linked to one source + 8 joined to all their candidates): met" in t
    assert "linked to one source alone: 90.0 %; unmatched (dropped) 2" in t
    assert "a 58/60 (96.7 %; linked to one source 50, joined 8, unmatched 2)" in t
    low = {**facts, "linked_one_source": 80, "joined_all_candidates": 10, "captured": 90, "unmatched": 10}
    assert "= 90.0 % (80 linked to one source + 10 joined to all their candidates): **not met**" in (
        prose_data.target_text(low)
    )
    full = {
        **facts,
        "linked": 98,
        "linked_by_file_name": 3,
        "linked_k_unsupported": 1,
        "score_min": 0.71,
        "margin_min": 0.0,
        "candidates_max": 6,
        "tie_join": 3,
        "joined_over_tie_join": 4,
        "k_unsupported": 0,
        "k_unsupported_files": [],
        "k_check_below": 0.96,
        "method": "m",
    }
    text = prose_data.copies_text(full)
    assert "90 linked to one source (of them 3 by their file name" in text and "1 flagged by the k check" in text
    assert "8 **joined to all their candidates** (ambiguous:" in text and "up to 6 originals" in text
    assert "4 joined copies have more than 3 candidates and are joined all the same" in text
    assert "two eyes" not in text and "none did in this run" in text
    none_flagged = prose_data.copies_text({**full, "linked_k_unsupported": 0})
    assert "flagged by the k check with no other source" not in none_flagged  # a 0 count is left out
    assert "3 by their file name: a tie or the k check left the score undecided" in none_flagged
    # review24s8 m1 / m3: the groups made by joining and the k-flagged copies joined with their k-implied source
    big = {
        "images": 192,
        "originals": 71,
        "copies": 121,
        "class": "cataract",
        "scored originals": 71,
        "class scored originals": 396,
        "share of class (%)": 100 * 71 / 396,
    }
    text = prose_data.copies_text({**full, "joined_k_flagged": 2, "join_groups": {"groups": 30, "largest": big}})
    assert "8 **joined to all their candidates** (2 of them flagged by the k check and joined with their one" in text
    assert "the others ambiguous: a second candidate" in text
    assert (
        "may join many look-alike eyes into one group: 30 groups made by joining (originals of 2+ groups without the "
        "joins); largest: 192 images (71 originals, 121 copies; 71 of the 396 scored cataract originals = 17.9 %)"
    ) in text
    assert "only makes the copy-grouped protocols stricter" in text
    assert "*linked - originals* for cataract also contains this grouping change" in text
    assert "2 unmatched (**dropped from the data**" in text and "(dropped)" not in text.split("Method")[0]


def test_learning_summary_and_text_read_windows_and_say_what_ran():
    cfg = _cfg(models=("cbnn",), protocols=["neardup"])
    budget = cfg.cbnn.epochs
    n = 2 * budget
    flat = {"epoch": list(range(1, n + 1)), "val_loss": [0.1] * n, "train_loss": [0.1] * n}
    curves = {
        "flat": {**flat, "val_accuracy": [0.8] * n},
        "rising": {**flat, "val_accuracy": [0.8] * budget + [0.9] * budget},
    }
    s = experiment.learning_summary(curves, cfg, "neardup", 0)
    assert s["flat"]["protocol"] == "neardup" and s["flat"]["fold"] == 1 and s["flat"]["seed"] == 0
    assert s["rising"]["gain_after_budget"] == pytest.approx(0.1) and s["flat"]["gain_after_budget"] == 0
    text = prose_tuning.learning_text(s)
    assert "rising 80.0 % -> 90.0 % (+10.0 pp: under-trained at the budget" in text
    assert "flat 80.0 % -> 80.0 % (+0.0 pp: within 1 pp)" in text and "never used to choose a setting" in text


def test_class_mix_text_gives_both_training_pools_and_the_test_mix():
    y = np.array([0, 0, 0, 1, 1, 1])
    originals = np.array([True, False, False, True, True, True])
    keep = {"linked": np.ones(6, bool), "originals": originals}
    t = prose_results.class_mix_text(y, keep, {"linked": originals}, ["a", "b"])
    assert "*linked* (copies kept): a 3 (50 %), b 3 (50 %)" in t and "of *originals*: a 1 (25 %), b 3 (75 %)" in t
    assert prose_results.class_mix_text(y, {"linked": keep["linked"]}, {}, ["a", "b"]) == ""


def test_floors_and_sweep_metrics_carry_protocol_and_seeds():
    import pandas as pd

    entry = {"balanced_accuracy": 0.5, "balanced_accuracy_ci": [0.4, 0.6], "recall": {"a": 0.5}}
    floors_df = pd.DataFrame(
        [
            {
                "Features": "thumb",
                "Technique": "LR",
                "Seeds": 1,
                "CI resamples": "x",
                "_accuracy": 0.5,
                "_ci": [0.4, 0.6],
                "_entry": entry,
            }
        ]
    )
    m = floors.floors_metrics(floors_df, "neardup", (0, 1, 2))["thumb"]["LR"]
    assert m["protocol"] == "neardup" and m["seeds"] == [0] and m["ci"] == "x"
    sw = experiment.sweep_metrics(pd.DataFrame({"side": [8]}), "neardup", 0)
    assert sw["protocol"] == "neardup" and sw["fold"] == 1 and sw["rows"] == [{"side": 8}]


def test_every_scored_block_of_the_default_metrics_names_its_protocol():
    """Issue 24 point 5 (review24s6 m2): the readings, floors, control, learning check and side sweep blocks of the
    committed default metrics say which protocol (and seeds) they come from."""
    import json

    from lib.core import paths

    m = json.loads((paths.ROOT / "metrics" / "default" / "03_eye_mobilenet_som.json").read_text())
    blocks = [e for per in m["readings"].values() for e in per.values()]
    blocks += [e for per in m["shortcut_floors"].values() for e in per.values()]
    blocks += list(m["learning_check"].values()) + [m["som_side_sweep"]]
    blocks += [m["negative_control"]] if m["negative_control"] else []
    assert blocks and all(b.get("protocol") for b in blocks)
    assert all("seeds" in b or "seed" in b for b in blocks)


def test_same_source_block_picks_the_mixed_block_and_scores_it_alone(tmp_path):
    from PIL import Image

    paths, y = [], []
    for i, (cls, ext, size) in enumerate(
        [(0, "jpg", 40)] * 3 + [(1, "jpg", 40)] * 3 + [(2, "png", 30)] * 4 + [(0, "png", 50)] * 2
    ):
        p = tmp_path / f"{i}.{ext}"
        Image.new("RGB", (size, size)).save(p)
        paths.append(p)
        y.append(cls)
    y = np.array(y)
    block = floors.same_source_block(paths, y, np.ones(len(y), bool), ["a", "b", "c"], min_per_class=2)
    assert block["key"] == "jpg 40x40" and block["classes"] == ["a", "b"] and block["counts"] == {"a": 3, "b": 3}
    assert block["mask"].tolist() == [True] * 6 + [False] * 6
    assert floors.same_source_block(paths, y, np.ones(len(y), bool), ["a", "b", "c"], min_per_class=4) is None
    cfg = _cfg(models=("logreg",), bootstrap=50)
    pred = np.where(np.arange(len(y)) < 6, y, 0)  # right inside the block, wrong on class c outside it
    run = {"pred": {"logreg": pred}, "proba": {"logreg": np.eye(3)[pred]}}
    t = experiment.same_source_table([run], block, y, np.arange(len(y)), ["a", "b", "c"], cfg)
    assert t.iloc[0]["Balanced accuracy (%)"].startswith("100.00") and "c recall (%)" not in t.columns
    assert experiment.same_source_table([run], None, y, np.arange(len(y)), ["a", "b", "c"], cfg).empty
    assert "not scored" in prose_results.same_source_text(None, "neardup")


def test_round6_texts_do_not_overstate():
    import pandas as pd

    far = pd.DataFrame(
        {
            "side": [5, 8, 5, 8],
            "model": ["literal CBNN"] * 2 + ["SOM classifier"] * 2,
            "balanced accuracy (%)": [50.0, 60.0, 62.5, 61.0],
        }
    )
    assert "adds little" not in prose_tuning.sweep_gap_text(far) and "within 12.50 pp" in prose_tuning.sweep_gap_text(
        far
    )
    cfg = _cfg(models=("cbnn",), protocols=["neardup"])
    n = 2 * cfg.cbnn.epochs
    base = {"epoch": list(range(1, n + 1)), "val_loss": [0.1] * n, "train_loss": [0.1] * n}
    falling = {"falling": {**base, "val_accuracy": [0.8] * cfg.cbnn.epochs + [0.7] * cfg.cbnn.epochs}}
    text = prose_tuning.learning_text(experiment.learning_summary(falling, cfg, "neardup", 0))
    assert "-10.0 pp: lower after the budget" in text and "within 1 pp" not in text
    y = np.array([0, 1, 0, 1])
    same = prose_results.class_mix_text(
        y, {"linked": np.ones(4, bool), "originals": np.ones(4, bool)}, {"linked": np.ones(4, bool)}, ["a", "b"]
    )
    assert "do not change the class mix" in same
    facts = {"threshold": 0.9, "pairs": 1, "candidate_pairs": 5}
    assert "neardup - neardup_all" in prose_data.caveats_text(facts, None, 0.5, "f", sensitivity=True)
    assert "joined pairs only" in prose_data.caveats_text(facts, None, 0.5, "f")
