"""Metrics, tables and figures of notebook 02 (arXiv topic classification).

Every function takes integer labels ``y: (n,)``, probabilities ``proba: (n, C)`` whose
column j is class j, and the class names (length C).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib.arxiv.head import top_k_accuracy
from lib.core.metrics import classification_summary, confusion_frame


def summarize(y_true, proba, names: list[str], k: int = 5) -> dict:
    """{"accuracy", "macro_f1", "weighted_f1", "top5_accuracy", "n", "per_class": {...}} on one split."""
    y_true = np.asarray(y_true)
    proba = np.asarray(proba)
    if proba.shape != (len(y_true), len(names)):
        raise ValueError(f"proba must have shape ({len(y_true)}, {len(names)}), got {proba.shape}")
    y_pred = proba.argmax(1)
    s = classification_summary(y_true, y_pred, labels=list(range(len(names))), names=names)
    return {
        "n": s["n"],
        "accuracy": s["accuracy"],
        "macro_f1": s["macro_f1"],
        "weighted_f1": s["weighted_f1"],
        f"top{k}_accuracy": top_k_accuracy(y_true, proba, k),
        "per_class": s["per_class"],
    }


def headline(summary: dict) -> dict:
    """A summarize() dict without its per-class block (what goes into the metrics file)."""
    return {k: v for k, v in summary.items() if k != "per_class"}


def per_class_table(summaries: dict[str, dict], train_counts) -> pd.DataFrame:
    """One row per class: train count, test support, F1 of each model in ``summaries`` (name -> summarize())."""
    first = next(iter(summaries.values()))["per_class"]
    df = pd.DataFrame(
        {"category": list(first), "n_train": list(train_counts), "test_support": [v["support"] for v in first.values()]}
    )
    for model, s in summaries.items():
        df[f"f1_{model}"] = [s["per_class"][c]["f1"] for c in df["category"]]
    return df


def comparison_table(rows: dict[str, dict], k: int = 5) -> pd.DataFrame:
    """Model name -> summarize() dict  =>  DataFrame[model, n_test, accuracy, macro_f1, topk_accuracy]."""
    return pd.DataFrame(
        [
            {
                "model": m,
                "n_test": s["n"],
                "accuracy": s["accuracy"],
                "macro_f1": s["macro_f1"],
                f"top{k}_accuracy": s[f"top{k}_accuracy"],
            }
            for m, s in rows.items()
        ]
    )


def largest_classes_confusion(y_true, y_pred, names: list[str], counts, top: int = 20) -> pd.DataFrame:
    """Confusion matrix (rows true) restricted to the ``top`` classes with the largest ``counts``.

    Rows/columns are those classes in decreasing count order; predictions outside them are
    not shown (the row sums can be below the support).
    """
    order = np.argsort(-np.asarray(counts), kind="stable")[:top]
    return confusion_frame(y_true, y_pred, labels=order.tolist(), names=[names[i] for i in order])
