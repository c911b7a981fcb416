"""Classification metrics shared by the notebooks (thin wrappers over scikit-learn).

All functions take integer label arrays ``y_true, y_pred: (n,)`` and, where
needed, class probabilities ``proba: (n, n_classes)`` whose columns follow
``labels``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn import metrics as skm


def classification_summary(
    y_true, y_pred, proba=None, labels: Sequence[int] | None = None, names: Sequence[str] | None = None
) -> dict:
    """Accuracy, macro/weighted P/R/F1, per-class P/R/F1/support and (if proba) ROC-AUC.

    Returns a JSON-ready dict. ROC-AUC is one-vs-rest macro over the classes
    present in ``y_true`` (None when fewer than two are present).
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-d of equal length, got {y_true.shape} and {y_pred.shape}")
    if labels is None:
        labels = np.unique(np.concatenate([y_true, y_pred]))
    labels = list(labels)
    names = [str(n) for n in (names if names is not None else labels)]
    if len(names) != len(labels):
        raise ValueError(f"names ({len(names)}) and labels ({len(labels)}) differ in length")
    p, r, f, s = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    out = {
        "n": int(len(y_true)),
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "macro_precision": float(np.mean(p)),
        "macro_recall": float(np.mean(r)),
        "macro_f1": float(np.mean(f)),
        "weighted_f1": float(skm.f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)),
        "per_class": {
            n: {"precision": float(pi), "recall": float(ri), "f1": float(fi), "support": int(si)}
            for n, pi, ri, fi, si in zip(names, p, r, f, s)
        },
    }
    if proba is not None:
        out["roc_auc_ovr_macro"] = roc_auc_ovr(y_true, proba, labels)
    return out


def roc_auc_ovr(y_true, proba, labels: Sequence[int]) -> float | None:
    """One-vs-rest macro ROC-AUC over the labels present in y_true (None if < 2 present).

    proba: (n, len(labels)); column j is the score of labels[j].
    """
    y_true = np.asarray(y_true)
    proba = np.asarray(proba, dtype=float)
    if proba.ndim != 2 or proba.shape != (len(y_true), len(labels)):
        raise ValueError(f"proba must have shape ({len(y_true)}, {len(labels)}), got {proba.shape}")
    aucs = []
    for j, lab in enumerate(labels):
        pos = y_true == lab
        if pos.any() and (~pos).any():
            aucs.append(skm.roc_auc_score(pos, proba[:, j]))
    return float(np.mean(aucs)) if len(aucs) >= 2 or (len(aucs) == 1 and len(labels) == 2) else None


def confusion_frame(y_true, y_pred, labels: Sequence[int], names: Sequence[str] | None = None) -> pd.DataFrame:
    """Confusion matrix as a DataFrame: rows = true class, columns = predicted class."""
    cm = skm.confusion_matrix(y_true, y_pred, labels=list(labels))
    names = [str(n) for n in (names if names is not None else labels)]
    return pd.DataFrame(cm, index=pd.Index(names, name="true"), columns=names)


def per_class_accuracy(cm) -> dict[str, np.ndarray]:
    """Both readings of "per-class accuracy" from a confusion matrix ``cm: (c, c)`` (rows true).

    - ``one_vs_rest``: (TP + TN) / N for each class treated as a binary problem.
    - ``recall``: TP / (TP + FN), the fraction of the class's samples labelled correctly.
    """
    cm = np.asarray(cm, dtype=float)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm must be square, got shape {cm.shape}")
    total = cm.sum()
    tp = np.diag(cm)
    fn = cm.sum(axis=1) - tp
    fp = cm.sum(axis=0) - tp
    tn = total - tp - fn - fp
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(tp + fn > 0, tp / (tp + fn), np.nan)
    return {"one_vs_rest": (tp + tn) / total, "recall": recall}


def mean_std(values) -> dict:
    """{'mean', 'std', 'n'} of a list of numbers; std is the sample std (ddof=1), 0 for a single value."""
    arr = np.asarray(list(values), dtype=float)
    if arr.size == 0:
        raise ValueError("mean_std needs at least one value")
    return {"mean": float(arr.mean()), "std": float(arr.std(ddof=1) if arr.size > 1 else 0.0), "n": int(arr.size)}
