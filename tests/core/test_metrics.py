"""lib.core.metrics on hand-made labels with exact expected values."""

import numpy as np
import pytest

from lib.core import metrics


def test_per_class_accuracy_both_definitions_exact():
    # rows = true, cols = predicted; N = 20
    cm = np.array([[5, 1, 0], [2, 6, 0], [0, 1, 5]])
    out = metrics.per_class_accuracy(cm)
    # class 0: TP 5, FN 1, FP 2, TN 12 -> (5 + 12) / 20
    np.testing.assert_allclose(out["one_vs_rest"], [17 / 20, 16 / 20, 19 / 20])
    np.testing.assert_allclose(out["recall"], [5 / 6, 6 / 8, 5 / 6])


def test_per_class_accuracy_rejects_non_square():
    with pytest.raises(ValueError, match="square"):
        metrics.per_class_accuracy(np.ones((2, 3)))


def test_classification_summary_exact():
    y = np.array([0, 0, 1, 1, 2, 2])
    p = np.array([0, 1, 1, 1, 2, 0])
    s = metrics.classification_summary(y, p, names=["a", "b", "c"])
    assert s["accuracy"] == pytest.approx(4 / 6)
    assert s["per_class"]["b"] == {
        "precision": pytest.approx(2 / 3),
        "recall": 1.0,
        "f1": pytest.approx(0.8),
        "support": 2,
    }
    assert s["macro_f1"] == pytest.approx(np.mean([0.5, 0.8, 2 / 3]))


def test_roc_auc_ovr_perfect_and_none():
    y = np.array([0, 1, 2, 0])
    proba = np.eye(3)[y]
    assert metrics.roc_auc_ovr(y, proba, [0, 1, 2]) == 1.0
    assert metrics.roc_auc_ovr(np.zeros(3, int), np.ones((3, 2)) / 2, [0, 1]) is None
    with pytest.raises(ValueError, match="shape"):
        metrics.roc_auc_ovr(y, proba[:, :2], [0, 1, 2])


def test_confusion_frame_orientation():
    df = metrics.confusion_frame([0, 0, 1], [1, 0, 1], [0, 1], ["n", "v"])
    assert df.loc["n", "v"] == 1 and df.loc["v", "v"] == 1 and df.loc["v", "n"] == 0


def test_mean_std():
    assert metrics.mean_std([1.0, 3.0]) == {"mean": 2.0, "std": pytest.approx(np.sqrt(2)), "n": 2}
    assert metrics.mean_std([4.0])["std"] == 0.0
    with pytest.raises(ValueError):
        metrics.mean_std([])
