"""Metrics, tables and figures of notebook 02 (arXiv topic classification).

Every function takes integer labels ``y: (n,)``, scores ``proba: (n, C)`` whose column j is
class j (probabilities, or any scores whose order ranks the classes, e.g. a linear SVM's decision
values), and the class names (length C).

Uncertainty: 95% percentile bootstrap intervals over the test rows (:func:`bootstrap_cis`) and a
paired bootstrap of the difference between two models on the same rows (:func:`paired_bootstrap`),
both seeded and stratified by the true class (each class's test rows resampled within the class, so every
resample keeps each class's support: a plain bootstrap drops a support-1 class from ~37% of its resamples,
which scores that class F1 0 and pushes the macro-F1 distribution below its point estimate); the same
resamples serve every model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib.core.metrics import classification_summary, confusion_frame


def top_k_accuracy(y_true, proba, k: int = 5) -> float:
    """Fraction of rows whose true label is among the k most probable. proba: (n, C)."""
    proba = np.asarray(proba)
    k = min(k, proba.shape[1])
    top = np.argsort(-proba, axis=1, kind="stable")[:, :k]
    return float(np.mean((top == np.asarray(y_true)[:, None]).any(axis=1)))


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


# ---------------------------------------------------------------- uncertainty
def _f1_rows(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(macro-F1, support-weighted F1) over all ``n_classes`` of each row of ``y_true, y_pred: (b, n)`` -> (b,) each.

    A class with neither support nor predictions in a row counts as F1 0, as in :func:`summarize`
    (sklearn's ``labels=range(C), zero_division=0``), so the full-sample value equals the point estimate.
    """
    b = y_true.shape[0]
    offs = (np.arange(b) * n_classes)[:, None]
    size = b * n_classes
    tp = np.bincount((offs + y_true)[y_true == y_pred], minlength=size).reshape(b, n_classes)
    support = np.bincount((offs + y_true).ravel(), minlength=size).reshape(b, n_classes)
    predicted = np.bincount((offs + y_pred).ravel(), minlength=size).reshape(b, n_classes)
    denom = support + predicted
    present = denom > 0
    f1 = np.divide(2 * tp, denom, out=np.zeros(denom.shape, dtype=float), where=present)
    return f1.sum(1) / n_classes, (f1 * support).sum(1) / support.sum(1)


def resample_metrics(y_true, proba, idx: np.ndarray, k: int = 5) -> dict[str, np.ndarray]:
    """accuracy, macro-F1, weighted F1 and top-k accuracy of ``proba: (n, C)`` on each resample ``idx: (b, n)``
    -> {name: (b,)}."""
    y_true, proba = np.asarray(y_true), np.asarray(proba)
    y_pred = proba.argmax(1)
    top = np.argsort(-proba, axis=1, kind="stable")[:, : min(k, proba.shape[1])]
    in_top = (top == y_true[:, None]).any(1)
    yt, yp = y_true[idx], y_pred[idx]
    macro, weighted = _f1_rows(yt, yp, proba.shape[1])
    return {
        "accuracy": (yt == yp).mean(1),
        "macro_f1": macro,
        "weighted_f1": weighted,
        f"top{k}_accuracy": in_top[idx].mean(1),
    }


def bootstrap_indices(n: int, n_boot: int, seed: int, strata=None) -> np.ndarray:
    """(n_boot, n) row indices drawn with replacement (seeded); the same draws serve every model (paired).

    ``strata: (n,)`` (e.g. the true labels): rows are drawn within each stratum, as many as it has (a stratified
    bootstrap: every resample keeps each stratum's size); None: from all rows."""
    rng = np.random.default_rng(seed)
    if strata is None:
        return rng.integers(0, n, size=(n_boot, n))
    strata = np.asarray(strata)
    if len(strata) != n:
        raise ValueError(f"strata must have length {n}, got {len(strata)}")
    idx = np.empty((n_boot, n), dtype=np.int64)
    for value in np.unique(strata):
        rows = np.flatnonzero(strata == value)
        idx[:, rows] = rows[rng.integers(0, len(rows), size=(n_boot, len(rows)))]
    return idx


def bootstrap_cis(y_true, proba, n_boot: int, seed: int, k: int = 5) -> dict[str, list[float]]:
    """95% percentile bootstrap CI (stratified by the true class) of accuracy, macro-F1, weighted F1 and top-k
    accuracy: {"<metric>_ci": [low, high]}."""
    boots = resample_metrics(y_true, proba, bootstrap_indices(len(y_true), n_boot, seed, strata=y_true), k)
    return {f"{m}_ci": [float(np.quantile(v, 0.025)), float(np.quantile(v, 0.975))] for m, v in boots.items()}


def paired_bootstrap(y_true, proba_a, proba_b, n_boot: int, seed: int, k: int = 5) -> dict[str, dict]:
    """Model A minus model B on the same test rows, resampled together (stratified by the true class).

    Returns {metric: {"diff": observed A - B, "ci": [low, high] (95% percentile), "p_value": two-sided
    share of resamples whose difference has the other sign than the observed one, doubled, capped at 1}}.
    """
    idx = bootstrap_indices(len(y_true), n_boot, seed, strata=y_true)
    full = np.arange(len(y_true))[None, :]
    a, b = resample_metrics(y_true, proba_a, idx, k), resample_metrics(y_true, proba_b, idx, k)
    obs_a, obs_b = resample_metrics(y_true, proba_a, full, k), resample_metrics(y_true, proba_b, full, k)
    out = {}
    for m in a:
        d = a[m] - b[m]
        diff = float(obs_a[m][0] - obs_b[m][0])
        other_side = np.mean(d <= 0) if diff > 0 else np.mean(d >= 0) if diff < 0 else 1.0
        out[m] = {
            "diff": diff,
            "ci": [float(np.quantile(d, 0.025)), float(np.quantile(d, 0.975))],
            "p_value": float(min(1.0, 2 * other_side)),
        }
    return out
