"""Everything notebook 03 calls to produce its tables and metrics: cross-validation of the SOM classifier, the
CBNN variants and baselines on the same features, the paper's Table 2 and Table 3 layouts, the three readings of
Table 2 with patient-bootstrap CIs, and the metrics block.

Shapes: X (n, d) raw features, y (n,) int labels in [0, c), groups (n,) patient ids. Every model is fitted inside
each fold on the training part only (standardization, SOM, k-means and networks included).

Models (:data:`MODELS`): ``som`` (the SOM as a classifier), the CBNN read four ways (``cbnn``: SOM clusters,
features + one-hot input; ``cbnn_onehot``: the one-hot winning unit alone, eq. 6 literally; ``cbnn_centroid``: the
winning unit's weight vector; ``cbnn_kmeans``: k-means centroids, Algorithm 2, one-hot input), ``net_features``
(the same network on the features alone: the ablation that separates the SOM's contribution), and ``logreg``,
``knn``, ``mlp`` (scikit-learn) on the same features.

Per-class readings of the paper's Table 2 (it does not say which it uses): ``recall`` = TP / (TP + FN);
``one_vs_rest`` = (TP + TN) / N of the class-vs-rest problem; ``confidence`` = mean predicted probability of the
true class over the class's images (the paper's app shows a per-image confidence).
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
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from lib.core.metrics import per_class_accuracy
from lib.eye import bar
from lib.eye.cluster_net import CBNNConfig, ClusterNetwork
from lib.eye.som import SOMClassifier, SOMConfig

#: model -> (clusters, network input) for the networks; None for the others
NETWORKS = {
    "cbnn": ("som", "features+onehot"),
    "cbnn_onehot": ("som", "onehot"),
    "cbnn_centroid": ("som", "centroid"),
    "cbnn_kmeans": ("kmeans", "onehot"),
    "net_features": ("none", "features"),
}
BASELINES = ("logreg", "knn", "mlp")
MODELS = ("som", *NETWORKS, *BASELINES)
DEFINITIONS = ("recall", "one_vs_rest")
READINGS = ("recall", "one_vs_rest", "confidence")
PROTOCOLS = ("plain", "grouped")


@dataclass(frozen=True)
class CVConfig:
    """params.yaml ``nb03.cv``: n_splits folds, repeated over ``seeds``, under each of ``protocols`` ('plain':
    stratified k-fold over images, the paper's; 'grouped': stratified group k-fold, no patient in two folds);
    blas_threads: numpy/scikit-learn BLAS threads in the loop (small matrices, shared cores); bootstrap:
    patient-bootstrap replicates for the 95% CIs."""

    n_splits: int
    seeds: tuple[int, ...]
    protocols: tuple[str, ...]
    blas_threads: int
    bootstrap: int

    def __post_init__(self):
        if self.n_splits < 2:
            raise ValueError(f"n_splits must be >= 2, got {self.n_splits}")
        bad = [p for p in self.protocols if p not in PROTOCOLS]
        if bad or not self.protocols:
            raise ValueError(f"protocols must be among {PROTOCOLS}, got {list(self.protocols)}")
        object.__setattr__(self, "seeds", tuple(self.seeds))
        object.__setattr__(self, "protocols", tuple(self.protocols))


@dataclass(frozen=True)
class BaselineConfig:
    """params.yaml ``nb03.baselines`` (ours): logistic regression C and max_iter, kNN k, MLP widths and iterations."""

    logreg_c: float
    logreg_max_iter: int
    knn_k: int
    mlp_hidden: tuple[int, ...]
    mlp_max_iter: int

    def __post_init__(self):
        object.__setattr__(self, "mlp_hidden", tuple(self.mlp_hidden))


@dataclass(frozen=True)
class EyeCVConfig:
    """The evaluation: models, the CV protocol and each model family's settings (one params section each)."""

    models: tuple[str, ...]
    cv: CVConfig
    som: SOMConfig
    cbnn: CBNNConfig
    baselines: BaselineConfig

    def __post_init__(self):
        bad = [m for m in self.models if m not in MODELS]
        if bad:
            raise ValueError(f"models must be among {MODELS}, got {bad}")
        object.__setattr__(self, "models", tuple(self.models))

    @classmethod
    def from_params(cls, models, cv: dict, som: dict, cbnn: dict, baselines: dict) -> EyeCVConfig:
        """From the notebook's parameters (the params.yaml ``nb03`` blocks, one dataclass per block)."""
        return cls(tuple(models), CVConfig(**cv), SOMConfig(**som), CBNNConfig(**cbnn), BaselineConfig(**baselines))

    def label(self, model: str) -> str:
        """Human-readable name of a model, with its configuration."""
        hidden = tuple(self.cbnn.hidden)
        return {
            "som": f"SOM classifier (majority label, empty neurons: nearest by {self.som.empty_rule})",
            "cbnn": "CBNN: som clusters + dense net (features+onehot input)",
            "cbnn_onehot": "CBNN: som clusters + dense net (one-hot input, eq. 6)",
            "cbnn_centroid": "CBNN: som clusters + dense net (winning unit's weight vector as input)",
            "cbnn_kmeans": "CBNN: k-means clusters (Algorithm 2) + dense net (one-hot input)",
            "net_features": f"Dense net {hidden} on the features alone (no clusters: ablation)",
            "logreg": "Logistic regression",
            "knn": f"kNN (k={self.baselines.knn_k})",
            "mlp": f"MLP {tuple(self.baselines.mlp_hidden)} (scikit-learn)",
        }[model]


def _baseline(name: str, b: BaselineConfig, seed: int):
    if name == "logreg":
        return LogisticRegression(max_iter=b.logreg_max_iter, C=b.logreg_c)
    if name == "knn":
        return KNeighborsClassifier(n_neighbors=b.knn_k)
    return MLPClassifier(
        hidden_layer_sizes=tuple(b.mlp_hidden), max_iter=b.mlp_max_iter, early_stopping=False, random_state=seed
    )


def folds(y: np.ndarray, n_splits: int, seed: int, groups: np.ndarray | None = None) -> list:
    """(train, test) index pairs: stratified k-fold (groups None) or stratified group k-fold, shuffled by seed."""
    if groups is None:
        return list(StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(y, y))
    return list(StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(y, y, groups))


def cross_validate(
    X: np.ndarray, y: np.ndarray, cfg: EyeCVConfig, seed: int, groups: np.ndarray | None = None, progress: bool = True
) -> dict:
    """Out-of-fold predictions of every model in ``cfg.models`` for one seed (grouped when ``groups`` is given).

    Returns {"pred": {model: (n,) int}, "proba": {model: (n, c) float, probabilistic models only},
    "fold": (n,) fold id 0..k-1, "som_quality": DataFrame (fold, side, quantization_error, topographic_error,
    tie/empty rates on the test fold), "seconds": {model: s}}.
    """
    with threadpool_limits(limits=cfg.cv.blas_threads):
        return _cross_validate(
            np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64), cfg, seed, groups, progress
        )


def _cross_validate(X, y, cfg: EyeCVConfig, seed: int, groups, progress: bool) -> dict:
    n_classes = int(y.max() + 1)
    pred = {m: np.full(len(y), -1, dtype=np.int64) for m in cfg.models}
    proba = {m: np.full((len(y), n_classes), np.nan) for m in cfg.models if m != "som"}
    fold_of = np.full(len(y), -1, dtype=np.int64)
    seconds = dict.fromkeys(cfg.models, 0.0)
    quality = []
    need_som = any(m == "som" or NETWORKS.get(m, ("",))[0] == "som" for m in cfg.models)
    splits = folds(y, cfg.cv.n_splits, seed, groups)
    for k, (tr, te) in enumerate(tqdm(splits, desc="CV folds", **bar(progress))):
        fold_of[te] = k
        scaler = StandardScaler().fit(X[tr])
        Xs_tr, Xs_te = scaler.transform(X[tr]), scaler.transform(X[te])
        som, dt = None, 0.0
        if need_som:
            t = time.perf_counter()
            som = SOMClassifier(cfg.som, seed).fit(X[tr], y[tr], n_classes)
            dt = time.perf_counter() - t
            quality.append({"fold": k + 1, **som.quality(X[te])})
            if "som" in cfg.models:
                pred["som"][te] = som.predict(X[te])
                seconds["som"] += dt
            Xs_tr, Xs_te = som.transform(X[tr]), som.transform(X[te])
        for m in [m for m in cfg.models if m in NETWORKS]:
            clusters, inputs = NETWORKS[m]
            t = time.perf_counter()
            net = ClusterNetwork(cfg.cbnn, clusters, inputs, seed)
            net.fit(Xs_tr, y[tr], centroids=som.codebook if clusters == "som" else None, n_classes=n_classes)
            proba[m][te] = net.predict_proba(Xs_te)
            pred[m][te] = np.argmax(proba[m][te], axis=1)
            seconds[m] += time.perf_counter() - t + (dt if clusters == "som" else 0.0)
        for m in [m for m in cfg.models if m in BASELINES]:
            t = time.perf_counter()
            with warnings.catch_warnings():  # the MLP runs a fixed iteration budget (max_iter) by design
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf = _baseline(m, cfg.baselines, seed).fit(scaler.transform(X[tr]), y[tr])
            proba[m][te] = clf.predict_proba(scaler.transform(X[te]))
            pred[m][te] = clf.classes_[np.argmax(proba[m][te], axis=1)]
            seconds[m] += time.perf_counter() - t
    return {"pred": pred, "proba": proba, "fold": fold_of, "som_quality": pd.DataFrame(quality), "seconds": seconds}


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


def all_fold_scores(y: np.ndarray, cv: dict, n_classes: int) -> dict[str, dict]:
    """:func:`fold_scores` of every model of one cross-validation result."""
    return {m: fold_scores(y, p, cv["fold"], n_classes) for m, p in cv["pred"].items()}


def per_class_table(scores: dict, classes: list[str], definition: str = "recall") -> pd.DataFrame:
    """Paper Table 2 layout: rows = folds 1..k and 'Avg.', columns = classes, values in %."""
    if definition not in DEFINITIONS:
        raise ValueError(f"definition must be one of {DEFINITIONS}, got {definition!r}")
    vals = 100.0 * scores[definition]
    df = pd.DataFrame(vals, columns=classes)
    df.insert(0, "Fold", [str(i + 1) for i in range(len(vals))])
    avg = pd.DataFrame([["Avg.", *np.nanmean(vals, axis=0)]], columns=df.columns)
    return pd.concat([df, avg], ignore_index=True)


def table2_layouts(scores: dict[str, dict], classes: list[str], models=("cbnn", "som")) -> dict[tuple, pd.DataFrame]:
    """{(model, definition): Table 2 layout} for the given models present in ``scores``, both definitions."""
    return {(m, d): per_class_table(scores[m], classes, d) for m in models if m in scores for d in DEFINITIONS}


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


def som_overview(som: SOMClassifier, X: np.ndarray, y: np.ndarray) -> dict:
    """Quality of a SOM trained on all of X (figures only): side, neurons, QE, TE, empty neurons, training acc."""
    return {
        "side": som.shape[0],
        "neurons": som.shape[0] * som.shape[1],
        "quantization_error": som.quantization_error(X),
        "topographic_error": som.topographic_error(X),
        "empty_neurons": int((som.counts_.sum(axis=1) == 0).sum()),
        "training_accuracy": float((som.predict(X) == y).mean()),
    }


def claim_model(cfg: EyeCVConfig) -> str:
    """The model compared with the paper's Table 2: the CBNN when run, else the first model."""
    return "cbnn" if "cbnn" in cfg.models else cfg.models[0]


def claims_view(results: dict, paper: dict[str, float], classes: list[str]) -> pd.DataFrame:
    """Paper per-class values (%) beside the claim model's recall and one-vs-rest (%); ``paper`` keyed by class
    and 'mean' (fractions)."""
    return pd.DataFrame(
        {
            "paper (%)": {k: 100 * v for k, v in paper.items()},
            **{
                f"ours: {d.replace('_', '-')} (%)": {k: 100 * v for k, v in results["claims"][d].items()}
                for d in DEFINITIONS
            },
        }
    ).loc[[*classes, "mean"]]


def paper_per_class(values: dict[str, float], notebook: str = "03_eye_mobilenet_som") -> dict[str, float]:
    """{class or 'mean': paper value} from the claims' ``{claim id: value}`` (ids ``nb03_acc_<class>``)."""
    prefix = "nb03_acc_"
    return {cid[len(prefix) :]: v for cid, v in values.items() if cid.startswith(prefix)}


def published_counts(values: dict, kaggle: dict[str, int], classes: list[str]) -> pd.DataFrame:
    """Class counts of the public Kaggle set beside the paper's (``values``: the claims' ``{claim id: value}``)."""
    paper = {c: values[f"nb03_count_{c}"] for c in classes}
    df = pd.DataFrame({"Kaggle eye_diseases_classification": kaggle, "paper (Sec. 2.1)": paper}).loc[classes]
    df.loc["sum of classes"] = df.sum()
    df.loc["total stated"] = [sum(kaggle.values()), values["nb03_count_total"]]
    return df


def metrics_block(
    source_meta: dict,
    data_source: str,
    run: str,
    seed: int,
    cfg: EyeCVConfig,
    feature_cfg,
    feats: dict,
    class_counts: dict[str, int],
    som_all: dict,
    cv: dict,
    results: dict,
) -> dict:
    """The notebook's metrics file: meta (data, configuration, definitions), feature and SOM facts, timings and
    the per-model results of :func:`summary`."""
    quality = cv["som_quality"]
    n_splits, cv_seed = cfg.cv.n_splits, cfg.cv.seeds[0]
    return {
        "meta": {
            **source_meta,
            "data_source": data_source,
            "config": run,
            "seeds": [seed],
            "split": f"stratified {n_splits}-fold CV (shuffled, seed {cv_seed}); metrics = mean over folds",
            "weights": feature_cfg.weights,
            "alpha": feature_cfg.alpha,
            "weights_note": feature_cfg.describe(),
            "image_size": feature_cfg.image_size,
            "n_images": int(sum(class_counts.values())),
            "class_counts": class_counts,
            "feature_dim": int(feats["features"].shape[1]),
            "per_class_accuracy_definitions": {"recall": "TP/(TP+FN)", "one_vs_rest": "(TP+TN)/N"},
            "models": {m: cfg.label(m) for m in cfg.models},
        },
        "features": {"keras_version": feats["meta"]["keras"], "from_cache": feats["cached"]},
        "som_all_data": som_all,
        "som_cv": {
            "quantization_error_mean": quality["quantization_error"].mean(),
            "topographic_error_mean": quality["topographic_error"].mean(),
            "side": int(quality["side"].iloc[0]),
        },
        "timing_seconds": {
            "note": "wall-clock, machine-dependent: excluded from the same-seed-same-metrics check",
            "cv_fit_predict": cv["seconds"],
            "feature_extraction": feats["meta"]["extract_seconds"],
            "feature_images_per_second": feats["meta"]["images_per_second"],
        },
        **results,
    }


def table2_means(tables2: dict[tuple, pd.DataFrame], classes: list[str]) -> pd.DataFrame:
    """Rows '<model> <definition>', columns classes: the 'Avg.' row of each Table 2 layout (%)."""
    return pd.DataFrame({f"{m} {d}": t.iloc[-1][classes] for (m, d), t in tables2.items()}).T


def save_tables2(tables2: dict[tuple, pd.DataFrame], cfg: EyeCVConfig, label: str, notebook: str, run: str) -> list:
    """Write each Table 2 layout (CSV + Markdown, ``label`` = data and features) and return, for display, a
    title (Markdown) and the table rounded to 2 decimals for each."""
    from IPython.display import Markdown

    from lib.core.io import write_table

    shown = []
    for (m, d), table in tables2.items():
        write_table(table.assign(Source=label), f"table2_{m}_{d}", notebook, run, floatfmt=".2f")
        shown += [Markdown(f"#### Table 2 layout: {cfg.label(m)}, per-class {d} (%), {label}"), table.round(2)]
    return shown


def timing_line(seconds: dict[str, float]) -> str:
    """'CV fit + predict seconds (all folds): som 1.2, ...'."""
    return "CV fit + predict seconds (all folds): " + ", ".join(f"{m} {s:.1f}" for m, s in seconds.items())
