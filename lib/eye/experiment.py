"""Stratified k-fold evaluation of the SOM classifier, the CBNN and baselines on the same features.

Shapes: X (n, d) raw features, y (n,) int labels in [0, c). Every model is fitted inside each fold
on the training part only (standardization included). Out-of-fold predictions give the paper's
Table 2 (per-fold, per-class accuracy) and Table 3 (comparison) layouts.

Per-class accuracy is defined both ways (the paper does not say which it uses):
``one_vs_rest`` = (TP + TN) / N of the class-vs-rest problem; ``recall`` = TP / (TP + FN).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from lib.core.metrics import per_class_accuracy
from lib.eye.cluster_net import ClusterNetwork
from lib.eye.som import SOMClassifier

MODELS = ("som", "cbnn", "cbnn_onehot", "logreg", "knn", "mlp")
DEFINITIONS = ("recall", "one_vs_rest")


@dataclass
class EyeCVConfig:
    """Everything the evaluation needs; defaults are the notebook's."""

    n_splits: int = 10
    seed: int = 0
    models: tuple[str, ...] = MODELS
    som_side: int = 0  # 0: the 5*sqrt(N) rule on the training fold
    som_epochs: int = 10
    som_sigma: float = 0.0  # 0: side / 2
    som_learning_rate: float = 0.5
    empty_rule: str = "grid"
    cbnn_clusters: str = "som"
    cbnn_inputs: str = "features+onehot"
    cbnn_hidden: tuple[int, ...] = (64,)
    cbnn_epochs: int = 60
    cbnn_learning_rate: float = 1e-3
    cbnn_loss: str = "mse"
    knn_k: int = 5
    mlp_hidden: tuple[int, ...] = (128,)
    blas_threads: int = 1  # numpy/scikit-learn BLAS threads in the loop: small matrices, shared cores

    def __post_init__(self):
        bad = [m for m in self.models if m not in MODELS]
        if bad:
            raise ValueError(f"models must be among {MODELS}, got {bad}")
        if self.n_splits < 2:
            raise ValueError(f"n_splits must be >= 2, got {self.n_splits}")

    def label(self, model: str) -> str:
        """Human-readable name of a model, with its configuration."""
        return {
            "som": f"SOM classifier (majority label, empty neurons: nearest by {self.empty_rule})",
            "cbnn": f"CBNN: {self.cbnn_clusters} clusters + dense net ({self.cbnn_inputs} input)",
            "cbnn_onehot": f"CBNN: {self.cbnn_clusters} clusters + dense net (one-hot input, eq. 6)",
            "logreg": "Logistic regression",
            "knn": f"kNN (k={self.knn_k})",
            "mlp": f"MLP {tuple(self.mlp_hidden)} (scikit-learn)",
        }[model]

    def som(self) -> SOMClassifier:
        return SOMClassifier(
            side=self.som_side or None,
            epochs=self.som_epochs,
            sigma=self.som_sigma or None,
            learning_rate=self.som_learning_rate,
            empty_rule=self.empty_rule,
            seed=self.seed,
        )

    def cbnn(self, inputs: str) -> ClusterNetwork:
        return ClusterNetwork(
            clusters=self.cbnn_clusters,
            inputs=inputs,
            hidden=tuple(self.cbnn_hidden),
            epochs=self.cbnn_epochs,
            learning_rate=self.cbnn_learning_rate,
            loss=self.cbnn_loss,
            seed=self.seed,
        )


def _baseline(name: str, cfg: EyeCVConfig):
    if name == "logreg":
        return LogisticRegression(max_iter=2000, C=1.0)
    if name == "knn":
        return KNeighborsClassifier(n_neighbors=cfg.knn_k)
    return MLPClassifier(
        hidden_layer_sizes=tuple(cfg.mlp_hidden), max_iter=200, early_stopping=False, random_state=cfg.seed
    )


def cross_validate(X: np.ndarray, y: np.ndarray, cfg: EyeCVConfig, progress: bool = True) -> dict:
    """Stratified k-fold out-of-fold predictions for every model in ``cfg.models``.

    Returns {"pred": {model: (n,) int}, "fold": (n,) fold id 0..k-1, "som_quality": DataFrame
    (fold, side, quantization_error, topographic_error on the test fold), "seconds": {model: s}}.
    """
    with threadpool_limits(limits=cfg.blas_threads):
        return _cross_validate(np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64), cfg, progress)


def _cross_validate(X: np.ndarray, y: np.ndarray, cfg: EyeCVConfig, progress: bool) -> dict:
    n_classes = int(y.max() + 1)
    skf = StratifiedKFold(n_splits=cfg.n_splits, shuffle=True, random_state=cfg.seed)
    pred = {m: np.full(len(y), -1, dtype=np.int64) for m in cfg.models}
    fold_of = np.full(len(y), -1, dtype=np.int64)
    seconds = dict.fromkeys(cfg.models, 0.0)
    quality = []
    need_som = any(m in cfg.models for m in ("som", "cbnn", "cbnn_onehot"))
    for k, (tr, te) in enumerate(tqdm(list(skf.split(X, y)), desc="CV folds", disable=not progress)):
        fold_of[te] = k
        if need_som:
            t = time.perf_counter()
            som = cfg.som().fit(X[tr], y[tr], n_classes)
            dt = time.perf_counter() - t
            quality.append(
                {
                    "fold": k + 1,
                    "side": som.shape[0],
                    "quantization_error": som.quantization_error(X[te]),
                    "topographic_error": som.topographic_error(X[te]),
                }
            )
            if "som" in cfg.models:
                pred["som"][te] = som.predict(X[te])
                seconds["som"] += dt
            Xs_tr, Xs_te = som.transform(X[tr]), som.transform(X[te])
            for m, inputs in (("cbnn", cfg.cbnn_inputs), ("cbnn_onehot", "onehot")):
                if m in cfg.models:
                    t = time.perf_counter()
                    net = cfg.cbnn(inputs).fit(Xs_tr, y[tr], centroids=som.codebook, n_classes=n_classes)
                    pred[m][te] = net.predict(Xs_te)
                    seconds[m] += time.perf_counter() - t + dt
        scaler = StandardScaler().fit(X[tr])
        for m in ("logreg", "knn", "mlp"):
            if m in cfg.models:
                t = time.perf_counter()
                with warnings.catch_warnings():  # the MLP runs a fixed iteration budget (max_iter) by design
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    clf = _baseline(m, cfg).fit(scaler.transform(X[tr]), y[tr])
                pred[m][te] = clf.predict(scaler.transform(X[te]))
                seconds[m] += time.perf_counter() - t
    return {"pred": pred, "fold": fold_of, "som_quality": pd.DataFrame(quality), "seconds": seconds}


def fold_scores(y: np.ndarray, pred: np.ndarray, fold: np.ndarray, n_classes: int) -> dict[str, np.ndarray]:
    """Per-fold scores: "accuracy" (k,), "macro_f1" (k,), "recall" and "one_vs_rest" (k, c)."""
    out = {"accuracy": [], "macro_f1": [], "recall": [], "one_vs_rest": []}
    labels = list(range(n_classes))
    for k in np.unique(fold):
        idx = fold == k
        cm = confusion_matrix(y[idx], pred[idx], labels=labels)
        pca = per_class_accuracy(cm)
        out["accuracy"].append(np.trace(cm) / cm.sum())
        out["macro_f1"].append(f1_score(y[idx], pred[idx], labels=labels, average="macro", zero_division=0))
        out["recall"].append(pca["recall"])
        out["one_vs_rest"].append(pca["one_vs_rest"])
    return {key: np.asarray(v, dtype=float) for key, v in out.items()}


def per_class_table(scores: dict, classes: list[str], definition: str = "recall") -> pd.DataFrame:
    """Paper Table 2 layout: rows = folds 1..k and 'Avg.', columns = classes, values in %."""
    if definition not in DEFINITIONS:
        raise ValueError(f"definition must be one of {DEFINITIONS}, got {definition!r}")
    vals = 100.0 * scores[definition]
    df = pd.DataFrame(vals, columns=classes)
    df.insert(0, "Fold", [str(i + 1) for i in range(len(vals))])
    avg = pd.DataFrame([["Avg.", *np.nanmean(vals, axis=0)]], columns=df.columns)
    return pd.concat([df, avg], ignore_index=True)


def comparison_table(all_scores: dict[str, dict], cfg: EyeCVConfig, classes: list[str]) -> pd.DataFrame:
    """Paper Table 3 layout over our models: accuracy (mean, std over folds, %), macro-F1, and
    per-class accuracy averaged over folds (recall per class, then the one-vs-rest mean), in %."""
    rows = []
    for m, s in all_scores.items():
        row = {
            "Technique": cfg.label(m),
            "Accuracy (%)": 100 * s["accuracy"].mean(),
            "Accuracy std (%)": 100 * s["accuracy"].std(ddof=1),
            "Macro-F1 (%)": 100 * s["macro_f1"].mean(),
        }
        rec = 100 * np.nanmean(s["recall"], axis=0)
        for c, v in zip(classes, rec):
            row[f"{c} recall (%)"] = v
        row["Mean per-class recall (%)"] = rec.mean()
        row["Mean per-class one-vs-rest acc. (%)"] = 100 * np.nanmean(s["one_vs_rest"])
        rows.append(row)
    return pd.DataFrame(rows)


def summary(all_scores: dict[str, dict], classes: list[str], claim_model: str = "cbnn") -> dict:
    """JSON-ready metrics: per model accuracy/macro-F1 (mean, std over folds) and per-class accuracy in
    both definitions (fractions, mean over folds); ``claims`` holds ``claim_model``'s per-class
    values (the paper's Table 2 quantities) with their class mean."""
    out = {"models": {}}
    for m, s in all_scores.items():
        entry = {
            "accuracy_mean": s["accuracy"].mean(),
            "accuracy_std": s["accuracy"].std(ddof=1),
            "macro_f1_mean": s["macro_f1"].mean(),
        }
        for d in DEFINITIONS:
            per = np.nanmean(s[d], axis=0)
            entry[d] = {**{c: per[i] for i, c in enumerate(classes)}, "mean": per.mean()}
        out["models"][m] = entry
    if claim_model in all_scores:
        out["claims"] = {"model": claim_model, **{d: out["models"][claim_model][d] for d in DEFINITIONS}}
    return out
