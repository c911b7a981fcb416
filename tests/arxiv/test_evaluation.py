"""Tests of lib.arxiv.evaluation's uncertainty and lib.arxiv.tfidf's tuned baselines."""

import numpy as np
import pytest
from sklearn.metrics import f1_score

from lib.arxiv import evaluation, tfidf


def test_macro_f1_rows_against_sklearn_loop():
    rng = np.random.default_rng(0)
    yt, yp = rng.integers(0, 7, (6, 50)), rng.integers(0, 7, (6, 50))
    loop = [f1_score(yt[i], yp[i], average="macro", labels=range(7), zero_division=0) for i in range(6)]
    weighted = [f1_score(yt[i], yp[i], average="weighted", labels=range(7), zero_division=0) for i in range(6)]
    macro, wf1 = evaluation._f1_rows(yt, yp, 7)
    np.testing.assert_allclose(macro, loop)
    np.testing.assert_allclose(wf1, weighted)


def test_full_sample_equals_point_estimate_and_ci_brackets_it():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 5, 300)
    proba = rng.random((300, 5))
    proba[np.arange(300), y] += 0.6
    point = evaluation.summarize(y, proba, [str(c) for c in range(5)])
    full = evaluation.resample_metrics(y, proba, np.arange(300)[None, :])
    assert full["accuracy"][0] == pytest.approx(point["accuracy"])
    assert full["macro_f1"][0] == pytest.approx(point["macro_f1"])
    assert full["top5_accuracy"][0] == pytest.approx(point["top5_accuracy"])
    assert full["weighted_f1"][0] == pytest.approx(point["weighted_f1"])
    cis = evaluation.bootstrap_cis(y, proba, 500, seed=0)
    assert cis["accuracy_ci"][0] < point["accuracy"] < cis["accuracy_ci"][1]
    assert cis == evaluation.bootstrap_cis(y, proba, 500, seed=0)  # seeded
    # binomial standard error: the 95% interval spans about 4 standard errors
    se = np.sqrt(point["accuracy"] * (1 - point["accuracy"]) / 300)
    assert cis["accuracy_ci"][1] - cis["accuracy_ci"][0] == pytest.approx(3.92 * se, rel=0.2)


def test_stratified_bootstrap_keeps_class_supports_and_covers_macro_f1_with_rare_classes():
    # 10 classes, 6 of them with one or two test rows (as the real test part: many support-1 classes), a model
    # right on the rare classes: a plain bootstrap drops a support-1 class from ~37% of its resamples (F1 0 there),
    # so its macro-F1 interval lies below the point estimate; the stratified one must contain it
    y = np.array([0] * 30 + [1] * 30 + [2] * 20 + [3] * 20 + [4, 5, 6, 7, 7, 8, 8, 9])
    rng = np.random.default_rng(3)
    pred = y.copy()
    flip = rng.random(len(y)) < 0.3
    flip[-8:] = False
    pred[flip] = rng.integers(0, 4, flip.sum())
    proba = np.eye(10)[pred]
    idx = evaluation.bootstrap_indices(len(y), 400, seed=0, strata=y)
    assert all((np.bincount(y[row], minlength=10) == np.bincount(y, minlength=10)).all() for row in idx)
    point = evaluation.summarize(y, proba, [str(c) for c in range(10)])
    cis = evaluation.bootstrap_cis(y, proba, 1000, seed=0)
    for m in ("accuracy", "macro_f1", "weighted_f1"):
        assert cis[f"{m}_ci"][0] <= point[m] <= cis[f"{m}_ci"][1], m
    plain = evaluation.resample_metrics(y, proba, evaluation.bootstrap_indices(len(y), 1000, seed=0))
    assert np.median(plain["macro_f1"]) < point["macro_f1"] - 0.05  # the bias the stratification removes
    with pytest.raises(ValueError, match="strata"):
        evaluation.bootstrap_indices(len(y), 10, seed=0, strata=y[:5])


def test_paired_bootstrap_exact_cases():
    y = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    right = np.eye(2)[y]
    wrong = np.eye(2)[1 - y]
    same = evaluation.paired_bootstrap(y, right, right, 200, seed=0)["accuracy"]
    assert same == {"diff": 0.0, "ci": [0.0, 0.0], "p_value": 1.0}
    better = evaluation.paired_bootstrap(y, right, wrong, 200, seed=0)["accuracy"]
    assert better == {"diff": 1.0, "ci": [1.0, 1.0], "p_value": 0.0}


def test_tfidf_tune_picks_by_validation_and_scores_cover_all_classes():
    texts = ["apple banana", "banana apple fruit", "car engine", "engine wheel car", "apple fruit", "wheel car"]
    y = np.array([0, 0, 1, 1, 0, 1])
    vec = {"max_features": 100, "ngram_max": 1}
    for kind, grid in (("logreg", [1.0, 10.0]), ("linear_svm", [0.1, 1.0]), ("complement_nb", [0.1, 1.0])):
        best, scores = tfidf.tune(kind, grid, texts[:4], y[:4], texts[4:], y[4:], 3, **vec)
        assert best == grid[0] and scores == {grid[0]: 1.0, grid[1]: 1.0}  # ties go to the first value
        out = tfidf.fit_scores(kind, best, texts[:4], y[:4], texts[4:], 3, **vec)
        assert out.shape == (2, 3) and out.argmax(1).tolist() == [0, 1]
        assert np.all(np.isneginf(out[:, 2]))  # class 2 never seen in training: never ranked first
    with pytest.raises(ValueError, match="kind"):
        tfidf.make_model("forest", 1.0, **vec)
