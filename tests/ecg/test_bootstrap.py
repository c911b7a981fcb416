"""lib.ecg.bootstrap: weighted metrics against sklearn with the same weights, record resampling, seeds."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from lib.ecg.bootstrap import METRICS, record_bootstrap, weighted_scores


def _case(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    proba = rng.dirichlet([1, 1, 1], n)
    proba[:, 0] = np.round(proba[:, 0], 1)  # ties in the non-sinus score
    proba /= proba.sum(1, keepdims=True)
    return y, proba


def test_weighted_scores_equal_sklearn_with_sample_weights():
    y, proba = _case()
    W = np.random.default_rng(1).integers(0, 4, size=(5, y.size)).astype(float)
    got = weighted_scores(y, proba, W)
    pred, pos, score = proba.argmax(1), (y != 0).astype(int), 1 - proba[:, 0]
    for b, w in enumerate(W):  # the plain loop: one sklearn call per replicate
        assert got["accuracy"][b] == pytest.approx(skm.accuracy_score(y, pred, sample_weight=w))
        assert got["macro_f1"][b] == pytest.approx(
            skm.f1_score(y, pred, labels=[0, 1, 2], average="macro", sample_weight=w, zero_division=0)
        )
        assert got["nonsinus_f1"][b] == pytest.approx(skm.f1_score(pos, pred != 0, sample_weight=w))
        assert got["roc_auc_nonsinus"][b] == pytest.approx(skm.roc_auc_score(pos, score, sample_weight=w))
        assert got["pr_auc_nonsinus"][b] == pytest.approx(skm.average_precision_score(pos, score, sample_weight=w))


def test_unit_weights_give_the_plain_scores_and_a_missing_class_gives_nan():
    y, proba = _case(seed=2)
    one = weighted_scores(y, proba, np.ones((1, y.size)))
    assert one["roc_auc_nonsinus"][0] == pytest.approx(skm.roc_auc_score(y != 0, 1 - proba[:, 0]))
    only_sinus = weighted_scores(np.zeros(4, dtype=int), proba[:4], np.ones((1, 4)))
    assert np.isnan(only_sinus["roc_auc_nonsinus"][0]) and only_sinus["accuracy"][0] == np.mean(
        proba[:4].argmax(1) == 0
    )


def test_record_bootstrap_resamples_records_and_is_seeded():
    y, proba = _case(400, seed=3)
    record = np.repeat([f"r{i}" for i in range(8)], 50)
    a = record_bootstrap(y, proba, record, n_boot=200, seed=0)
    assert a == record_bootstrap(y, proba, record, n_boot=200, seed=0)
    assert a != record_bootstrap(y, proba, record, n_boot=200, seed=1)
    assert set(a) == {f"{m}_ci" for m in METRICS}
    point = weighted_scores(y, proba, np.ones((1, y.size)))
    for m in METRICS:
        lo, hi = a[f"{m}_ci"]
        assert lo <= point[m][0] <= hi and hi - lo < 0.3
    # one record holding every beat: each resample is the whole set -> a zero-width interval
    same = record_bootstrap(y, proba, np.full(y.size, "r"), n_boot=20, seed=0)
    assert same["accuracy_ci"][0] == same["accuracy_ci"][1] == pytest.approx(point["accuracy"][0])


def test_seed_mean_replicates_pair_the_resamples_and_average_seeds():
    from lib.ecg.bootstrap import paired_difference, seed_mean_replicates

    y, pa = _case(n=120, seed=3)
    _, pb = _case(n=120, seed=4)
    record = np.repeat(np.arange(12).astype(str), 10)
    reps = seed_mean_replicates(y, {"a": [pa], "ab": [pa, pb], "b": [pb]}, record, n_boot=50, seed=0)
    for m in METRICS:  # the mean over two seeds is the mean of the two single-seed replicates (same resamples)
        np.testing.assert_allclose(reps["ab"][m], (reps["a"][m] + reps["b"][m]) / 2)
    # the same draws as record_bootstrap (one definition of a resample)
    ci = record_bootstrap(y, pa, record, n_boot=50, seed=0)["accuracy_ci"]
    assert ci == pytest.approx(list(np.percentile(reps["a"]["accuracy"], [2.5, 97.5])))
    same = paired_difference(reps["a"]["accuracy"], reps["a"]["accuracy"], 0.0)
    assert same == {"diff": 0.0, "ci": [0.0, 0.0], "p": 1.0}
    up = paired_difference(reps["a"]["accuracy"] + 0.1, reps["a"]["accuracy"], 0.1)
    assert up["ci"] == pytest.approx([0.1, 0.1]) and up["p"] == 0.0
