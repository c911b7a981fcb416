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
from lib.eye.som import SOMClassifier, SOMConfig, map_side

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
            "cbnn_kmeans": "CBNN: k-means clusters (Algorithm 2, as many as SOM units) + dense net (one-hot input)",
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
            units = (cfg.som.side or map_side(len(tr))) ** 2  # k-means: as many centroids as the SOM has units
            net = ClusterNetwork(cfg.cbnn, clusters, inputs, seed, n_clusters=units if clusters == "kmeans" else None)
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


def table2_layouts(
    scores: dict[str, dict], classes: list[str], models=("cbnn_onehot", "cbnn", "som")
) -> dict[tuple, pd.DataFrame]:
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
    """The model compared with the paper's Table 2: the paper's network read literally (eq. 6: the one-hot winning
    SOM unit into dense layers, MSE), ``cbnn_onehot``, when run; else ``cbnn``; else the first model."""
    return next((m for m in ("cbnn_onehot", "cbnn") if m in cfg.models), cfg.models[0])


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
    extra: dict,
) -> dict:
    """The notebook's metrics file: meta (data, configuration, definitions), feature and SOM facts, timings and
    the per-model results of :func:`summary`."""
    quality = cv["som_quality"]
    n_splits, cv_seed, first = cfg.cv.n_splits, cfg.cv.seeds[0], cfg.cv.protocols[0]
    return {
        "meta": {
            **source_meta,
            "data_source": data_source,
            "config": run,
            "seeds": [seed],
            "split": f"stratified {n_splits}-fold CV (shuffled, seed {cv_seed}); metrics = mean over folds",
            "protocols": {
                p: f"{'stratified group (patient)' if p == 'grouped' else 'stratified'} {n_splits}-fold, seeds "
                f"{list(cfg.cv.seeds) if p == first else list(cfg.cv.seeds[:1])}; readings pooled out of fold, "
                f"mean over seeds, patient-bootstrap 95% CIs ({cfg.cv.bootstrap} replicates)"
                for p in cfg.cv.protocols
            },
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
            "som": cfg.som.describe(),
            "quantization_error_mean": quality["quantization_error"].mean(),
            "topographic_error_mean": quality["topographic_error"].mean(),
            **{
                f"{k}_mean": quality[k].mean()
                for k in ("empty_neuron_rate", "tied_neuron_rate", "samples_on_empty_rate", "samples_on_tied_rate")
            },
            "side": int(quality["side"].iloc[0]),
        },
        "timing_seconds": {
            "note": "wall-clock, machine-dependent: excluded from the same-seed-same-metrics check",
            "cv_fit_predict": cv["seconds"],
            "feature_extraction": feats["meta"]["extract_seconds"],
            "feature_images_per_second": feats["meta"]["images_per_second"],
        },
        **results,
        **extra,
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


# ---------------------------------------------------------------- repeated, patient-grouped CV and its readings
def run_protocols(X, y, groups, cfg: EyeCVConfig, progress: bool = True) -> dict[str, list[dict]]:
    """{protocol: [:func:`cross_validate` result per seed]}: the first protocol of ``cfg.cv.protocols`` over every
    seed, the others over the first seed only (beside it, e.g. the paper's plain folds)."""
    out = {}
    for i, protocol in enumerate(cfg.cv.protocols):
        seeds = cfg.cv.seeds if i == 0 else cfg.cv.seeds[:1]
        g = groups if protocol == "grouped" else None
        out[protocol] = [cross_validate(X, y, cfg, s, g, progress) for s in seeds]
    return out


def bootstrap_weights(groups: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Patient-bootstrap sample weights (n_boot, n): each replicate draws the patients (groups) with replacement
    and weights every image by its patient's number of draws."""
    codes = np.unique(np.asarray(groups), return_inverse=True)[1]
    n_groups = int(codes.max()) + 1
    draws = np.random.default_rng(seed).integers(0, n_groups, size=(n_boot, n_groups))
    counts = np.bincount((draws + n_groups * np.arange(n_boot)[:, None]).ravel(), minlength=n_boot * n_groups)
    return counts.reshape(n_boot, n_groups)[:, codes].astype(float)


def weighted_readings(w: np.ndarray, y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None, n_classes: int):
    """Scores under sample weights w (n,) or (B, n): per class (.., c) 'recall', 'one_vs_rest' (1 - (FN+FP)/N),
    'confidence' (mean probability of the true class; None without proba), and 'accuracy', 'macro_f1' (..)."""
    Y = np.eye(n_classes)[y]
    P = np.eye(n_classes)[pred]
    correct = (pred == y).astype(float)
    tp, pos, called, total = w @ (Y * correct[:, None]), w @ Y, w @ P, w.sum(axis=-1)
    fn, fp = pos - tp, called - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {
            "recall": tp / pos,
            "one_vs_rest": 1 - (fn + fp) / total[..., None],
            "accuracy": (w @ correct) / total,
            "macro_f1": np.nanmean(np.where(2 * tp + fn + fp > 0, 2 * tp / (2 * tp + fn + fp), np.nan), axis=-1),
            "confidence": None,
        }
        if proba is not None:
            out["confidence"] = (w @ (Y * proba[np.arange(len(y)), y][:, None])) / pos
    return out


def calibration(y: np.ndarray, proba: np.ndarray, bins: int = 15) -> dict[str, float]:
    """Brier score (mean over images of the squared distance between proba (n, c) and the one-hot label) and expected
    calibration error (``bins`` equal-width bins of the top probability: sum of |accuracy - confidence| * share)."""
    Y = np.eye(proba.shape[1])[y]
    top, guess = proba.max(axis=1), proba.argmax(axis=1)
    which = np.minimum((top * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            ece += m.mean() * abs((guess[m] == y[m]).mean() - top[m].mean())
    return {"brier": float(((proba - Y) ** 2).sum(axis=1).mean()), "ece": float(ece)}


def _with_ci(point: np.ndarray, boot: np.ndarray, names: list[str]) -> dict:
    lo, hi = np.nanpercentile(boot, [2.5, 97.5], axis=0)
    out = {}
    for i, name in enumerate(names):
        out[name], out[f"{name}_ci"] = float(point[i]), [float(lo[i]), float(hi[i])]
    out["mean"] = float(np.mean(point))
    mlo, mhi = np.nanpercentile(boot.mean(axis=1), [2.5, 97.5])
    out["mean_ci"] = [float(mlo), float(mhi)]
    return out


def readings(runs: list[dict], y: np.ndarray, groups: np.ndarray, classes: list[str], cv: CVConfig, refs=()) -> dict:
    """Pooled out-of-fold scores of every model, averaged over the seeds of ``runs``, with patient-bootstrap 95% CIs
    (the same ``cv.bootstrap`` resamples of patients for every seed and model, so differences are paired).

    Returns {model: {"recall" | "one_vs_rest" | "confidence": {class: v, class_ci: [lo, hi], "mean", "mean_ci"},
    "accuracy", "accuracy_ci", "macro_f1", "macro_f1_ci", "brier", "ece" (probabilistic models),
    "accuracy_minus_<ref>", "..._ci" for each ``refs`` model}}.
    """
    n_classes = len(classes)
    w = bootstrap_weights(groups, cv.bootstrap, cv.seeds[0])
    ones = np.ones(len(y))
    out, boot_acc = {}, {}
    for m in runs[0]["pred"]:
        probas = [r["proba"].get(m) for r in runs]
        point = [weighted_readings(ones, y, r["pred"][m], p, n_classes) for r, p in zip(runs, probas)]
        boot = [weighted_readings(w, y, r["pred"][m], p, n_classes) for r, p in zip(runs, probas)]
        entry = {}
        for reading in READINGS:
            if point[0][reading] is None:
                continue
            pt = np.mean([p[reading] for p in point], axis=0)
            bt = np.mean([b[reading] for b in boot], axis=0)
            entry[reading] = _with_ci(pt, bt, classes)
        for score in ("accuracy", "macro_f1"):
            bt = np.mean([b[score] for b in boot], axis=0)
            entry[score] = float(np.mean([p[score] for p in point]))
            entry[f"{score}_ci"] = [float(v) for v in np.nanpercentile(bt, [2.5, 97.5])]
        boot_acc[m] = np.mean([b["accuracy"] for b in boot], axis=0)
        if probas[0] is not None:
            cal = [calibration(y, p) for p in probas]
            entry["brier"] = float(np.mean([c["brier"] for c in cal]))
            entry["ece"] = float(np.mean([c["ece"] for c in cal]))
        out[m] = entry
    for m in out:
        for ref in [r for r in refs if r in out and r != m]:
            d = boot_acc[m] - boot_acc[ref]
            out[m][f"accuracy_minus_{ref}"] = out[m]["accuracy"] - out[ref]["accuracy"]
            out[m][f"accuracy_minus_{ref}_ci"] = [float(v) for v in np.percentile(d, [2.5, 97.5])]
    return out


def _ci(entry: dict, key: str, scale: float = 100.0) -> str:
    lo, hi = entry[f"{key}_ci"]
    return f"{scale * entry[key]:.2f} [{scale * lo:.2f}, {scale * hi:.2f}]"


def readings_table(read: dict, model: str, paper: dict[str, float], classes: list[str]) -> pd.DataFrame:
    """Per class: the paper's value and our three readings (%, with 95% CIs) for one model."""
    entry = read[model]
    rows = {}
    for c in [*classes, "mean"]:
        rows[c] = {"paper (%)": f"{100 * paper[c]:.2f}"}
        for reading in READINGS:
            if reading in entry:
                rows[c][f"{reading} (%)"] = _ci(entry[reading], c)
    return pd.DataFrame(rows).T


def model_table(read: dict, cfg: EyeCVConfig, classes: list[str], refs=()) -> pd.DataFrame:
    """Paper Table 3 layout with CIs: accuracy, macro-F1, per-class recall (%), Brier, ECE, paired differences."""
    rows = []
    for m, e in read.items():
        row = {"Technique": cfg.label(m), "Accuracy (%)": _ci(e, "accuracy"), "Macro-F1 (%)": _ci(e, "macro_f1")}
        row.update({f"{c} recall (%)": f"{100 * e['recall'][c]:.2f}" for c in classes})
        row["Brier"] = f"{e['brier']:.3f}" if "brier" in e else "-"
        row["ECE"] = f"{e['ece']:.3f}" if "ece" in e else "-"
        for ref in refs:
            key = f"accuracy_minus_{ref}"
            row[f"minus {ref} (pp)"] = _ci(e, key) if key in e else "-"
        rows.append(row)
    return pd.DataFrame(rows)


def table2_consistency(paper: dict[str, float], classes: list[str]) -> tuple[pd.DataFrame, str]:
    """Can the paper's per-class values be one-vs-rest accuracies? A class's one-vs-rest error (FN_c + FP_c) / N
    counts only errors that involve the class, so it cannot exceed the total error E; and every error is one FN and
    one FP, so E = (1/2) * sum_c (FN_c + FP_c) / N. Returns the check per class and a one-line conclusion."""
    err = {c: 1 - paper[c] for c in classes}
    total = 0.5 * sum(err.values())
    df = pd.DataFrame(
        {
            "paper value (%)": {c: 100 * paper[c] for c in classes},
            "one-vs-rest error if so (%)": {c: 100 * err[c] for c in classes},
            "total error these imply (%)": dict.fromkeys(classes, 100 * total),
            "possible (class error <= total)": {c: err[c] <= total for c in classes},
        }
    )
    bad = [c for c in classes if err[c] > total]
    if bad:
        text = (
            f"Read as one-vs-rest accuracies, the four values imply a total error of {100 * total:.2f}%, yet "
            + ", ".join(f"{c}'s own error is {100 * err[c]:.2f}%" for c in bad)
            + ": impossible, so Table 2 is not one-vs-rest accuracy."
        )
    else:
        text = f"The values are consistent with one-vs-rest accuracy (implied total error {100 * total:.2f}%)."
    return df, text


# ---------------------------------------------------------------- shortcut floors
def shortcut_features(images: np.ndarray, thumb: int = 16, bins: int = 16) -> dict[str, np.ndarray]:
    """Features that cannot see lesions: 'thumbnail 16x16' (n, thumb*thumb*3) block means of the (n, s, s, 3) images
    (s divisible by thumb) and 'colour histogram' (n, 3*bins) per-channel histograms (fractions)."""
    n, s = images.shape[:2]
    k = s // thumb
    small = images[:, : k * thumb, : k * thumb].reshape(n, thumb, k, thumb, k, 3).mean(axis=(2, 4))
    offsets = np.arange(3) * bins
    hist = np.stack(
        [np.bincount((im.astype(np.int64) * bins // 256 + offsets).ravel(), minlength=3 * bins) for im in images]
    ) / float(s * s)
    return {f"thumbnail {thumb}x{thumb}": small.reshape(n, -1) / 255.0, "colour histogram": hist}


def shortcut_floors(images, y, groups, cfg: EyeCVConfig, classes: list[str], progress: bool = True) -> pd.DataFrame:
    """Table 3 layout for logistic regression and 1-NN on :func:`shortcut_features` (first protocol, first seed)."""
    from dataclasses import replace

    floor_cfg = replace(cfg, models=("logreg", "knn"), baselines=replace(cfg.baselines, knn_k=1))
    g = groups if cfg.cv.protocols[0] == "grouped" else None
    tables = []
    for name, F in shortcut_features(images).items():
        res = cross_validate(F, y, floor_cfg, cfg.cv.seeds[0], g, progress)
        table = comparison_table(all_fold_scores(y, res, len(classes)), floor_cfg, classes)
        table.insert(0, "Features", name)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


REFS = ("net_features", "logreg")


def all_readings(runs: dict[str, list[dict]], y, groups, classes: list[str], cfg: EyeCVConfig) -> dict:
    """{protocol: :func:`readings`} with paired differences against :data:`REFS`."""
    return {p: readings(r, y, groups, classes, cfg.cv, refs=REFS) for p, r in runs.items()}


def negative_control(data_source: str, control: dict | None, seed: int, y, groups, cfg: EyeCVConfig, classes):
    """Logistic regression on the control features (e.g. the same network with random weights), first protocol and
    seed: its readings, or None without a control."""
    if not control:
        return None
    from dataclasses import replace

    from lib.eye import features as eye_features

    fcfg = eye_features.FeatureConfig(**control)
    feats = eye_features.features_for(data_source, fcfg, seed)
    g = groups if cfg.cv.protocols[0] == "grouped" else None
    res = cross_validate(feats["features"], y, replace(cfg, models=("logreg",)), cfg.cv.seeds[0], g)
    return {"features": fcfg.describe(), **readings([res], y, groups, classes, cfg.cv)["logreg"]}


def reading_bars(read: dict, model: str, classes: list[str]) -> pd.DataFrame:
    """Rows = the three readings of one model, columns = classes (%), for the per-class figure."""
    return pd.DataFrame({r: {c: 100 * read[model][r][c] for c in classes} for r in READINGS if r in read[model]}).T


def save_readings(read: dict, cfg: EyeCVConfig, model: str, paper: dict, classes, label: str, notebook, run) -> list:
    """Write, per protocol, the three-readings table of ``model`` and the model table (with CIs); return titles and
    tables for display."""
    from IPython.display import Markdown

    from lib.core.io import write_table

    shown = []
    for protocol, r in read.items():
        three = readings_table(r, model, paper, classes)
        models = model_table(r, cfg, classes, REFS)
        write_table(three.reset_index(names="class").assign(Source=label), f"readings_{protocol}", notebook, run)
        write_table(models.assign(Source=label), f"models_{protocol}", notebook, run)
        shown += [
            Markdown(f"#### {protocol} CV: three readings of Table 2 for {cfg.label(model)} (%, 95% CI)"),
            three,
            Markdown(f"#### {protocol} CV: all models (pooled out of fold, mean over seeds, 95% CI)"),
            models,
        ]
    return shown


def floors_metrics(floors: pd.DataFrame) -> dict:
    """{features: {technique: accuracy}} (fractions) of the shortcut-floor table."""
    return {
        f: dict(zip(part["Technique"], part["Accuracy (%)"].to_numpy() / 100)) for f, part in floors.groupby("Features")
    }


def interpretation(
    read: dict, cfg: EyeCVConfig, model: str, paper: dict, classes, control, floors, sensitivity=None
) -> str:
    """Generated reading of the results (Markdown bullets): best model, the claim model's readings against the
    paper's values, the SOM's contribution, the negative control, the shortcut floors and the range of the SOM
    sensitivity grid (:func:`som_sensitivity`, optional)."""
    first = cfg.cv.protocols[0]
    r = read[first]
    best = max(r, key=lambda m: r[m]["accuracy"])
    lines = [
        f"- Best model under {first} CV: {cfg.label(best)}, accuracy {_ci(r[best], 'accuracy')} %.",
        f"- {cfg.label(model)}: mean per-class recall {_ci(r[model]['recall'], 'mean')} %, one-vs-rest "
        f"{_ci(r[model]['one_vs_rest'], 'mean')} %, paper {100 * paper['mean']:.2f} %.",
    ]
    inside = [
        c
        for c in classes
        for reading in READINGS
        if reading in r[model] and r[model][reading][f"{c}_ci"][0] <= paper[c] <= r[model][reading][f"{c}_ci"][1]
    ]
    lines.append(
        "- Paper values inside one of our CIs: " + (", ".join(sorted(set(inside))) if inside else "none") + "."
    )
    if "net_features" in r and model in r:
        lines.append(
            f"- SOM contribution ({cfg.label(model)} minus the same network on the features alone): "
            f"{_ci(r[model], 'accuracy_minus_net_features')} percentage points."
        )
    if control is not None:
        lines.append(f"- Negative control ({control['features']}, logistic regression): {_ci(control, 'accuracy')} %.")
    for f, accs in floors_metrics(floors).items():
        lines.append(f"- Shortcut floor, {f}: " + ", ".join(f"{k} {100 * v:.1f} %" for k, v in accs.items()) + ".")
    if sensitivity is not None and len(sensitivity):
        for m in [m for m in ("som", "cbnn_onehot") if f"_{m}" in sensitivity]:
            lo, hi = sensitivity[f"_{m}"].idxmin(), sensitivity[f"_{m}"].idxmax()
            lines.append(
                f"- SOM settings ({len(sensitivity)}, section 4b), {m}: accuracy from "
                f"{100 * sensitivity.loc[lo, f'_{m}']:.1f} % ({sensitivity.loc[lo, 'setting']}) to "
                f"{100 * sensitivity.loc[hi, f'_{m}']:.1f} % ({sensitivity.loc[hi, 'setting']})."
            )
    return "\n".join(lines)


def paper_bars(paper: dict[str, float], classes: list[str], feature_cfg) -> dict[str, float] | None:
    """The paper's per-class values (%) for the per-class figure, only where our features are the paper's (ImageNet
    MobileNetV2 alpha 1.0 at 160 px); None otherwise (e.g. alpha 0.35: other features, no bar beside ours)."""
    same = (feature_cfg.weights, float(feature_cfg.alpha), feature_cfg.image_size) == ("imagenet", 1.0, 160)
    return {c: 100 * paper[c] for c in classes} if same else None


#: readings the paper's Table 2 may be (one-vs-rest accuracy is impossible: :func:`table2_consistency`)
PAPER_READINGS = ("recall", "confidence")


# ---------------------------------------------------------------- Table 2 fold by fold (the paper's rows)
def paper_folds(values: dict) -> dict[str, list[float]]:
    """{class: the paper's ten Table 2 fold values (fractions)} from the claims' ``{claim id: value}``
    (ids ``nb03_folds_<class>``)."""
    prefix = "nb03_folds_"
    return {cid[len(prefix) :]: list(v) for cid, v in values.items() if cid.startswith(prefix)}


def count_candidates(values: dict, kaggle: dict[str, int], classes) -> dict[str, list[int]]:
    """{class: [the paper's count (claims ``nb03_count_<class>``), the Kaggle count]} (duplicates dropped)."""
    return {c: sorted({int(values[f"nb03_count_{c}"]), int(kaggle[c])}) for c in classes}


def count_recalls(n: int) -> np.ndarray:
    """Every recall k / n (k = 0..n) in % rounded to 2 decimals, as the paper prints them."""
    return np.round(100.0 * np.arange(n + 1) / n, 2)


def fold_sizes(count: int, n_splits: int) -> list[int]:
    """The class sizes a stratified ``n_splits``-fold split gives a class of ``count`` images: floor and ceil."""
    return sorted({count // n_splits, -(-count // n_splits)})


def table2_fold_check(folds: dict[str, list[float]], counts: dict[str, list[int]], classes, n_splits: int):
    """The paper's Table 2 fold by fold against two readings.

    One-vs-rest: within a fold, class c's error 1 - v_c cannot exceed the fold's total error, which under that
    reading is half the sum of the four class errors. Count-based recall: with stratified ``n_splits``-fold CV a
    class of N images has floor(N/k) or ceil(N/k) images per fold (``counts``: the candidate N per class, e.g. the
    paper's and the Kaggle count), so a recall is k/n for one of those n; a value "fits" when some k/n printed to 2
    decimals equals it. ``chance`` is the share of all 2-decimal values in the fold values' range that fit by
    construction (how often a value fits by luck).

    Returns (per-fold DataFrame, {class: {"count_fits", "folds", "one_vs_rest_possible", "sizes", "chance"}}).
    """
    rows, summary = [], {}
    n_folds = len(next(iter(folds.values())))
    for k in range(n_folds):
        errs = {c: 1 - folds[c][k] for c in classes}
        total = 0.5 * sum(errs.values())
        for c in classes:
            sizes = sorted({n for N in counts[c] for n in fold_sizes(N, n_splits)})
            v = round(100 * folds[c][k], 2)
            fits = [n for n in sizes if v in set(count_recalls(n))]
            rows.append(
                {
                    "fold": k + 1,
                    "class": c,
                    "paper value (%)": v,
                    "class error (%)": 100 * errs[c],
                    "fold total error if one-vs-rest (%)": 100 * total,
                    "one-vs-rest possible": errs[c] <= total + 1e-12,
                    "images per fold (n)": "/".join(map(str, sizes)),
                    "nearest k/n (%)": ", ".join(
                        f"{count_recalls(n)[np.argmin(np.abs(count_recalls(n) - v))]:.2f}" for n in sizes
                    ),
                    "fits count-based recall": bool(fits),
                }
            )
    df = pd.DataFrame(rows)
    for c in classes:
        part = df[df["class"] == c]
        sizes = sorted({n for N in counts[c] for n in fold_sizes(N, n_splits)})
        lo, hi = np.floor(part["paper value (%)"].min()), np.ceil(part["paper value (%)"].max())
        grid = np.round(np.arange(lo * 100, hi * 100 + 1) / 100, 2)
        attainable = set().union(*[set(count_recalls(n)) for n in sizes])
        summary[c] = {
            "folds": int(len(part)),
            "count_fits": int(part["fits count-based recall"].sum()),
            "one_vs_rest_possible": int(part["one-vs-rest possible"].sum()),
            "sizes": sizes,
            "chance": float(np.mean([g in attainable for g in grid])),
        }
    return df, summary


def table2_fold_text(summary: dict, classes, n_splits: int) -> str:
    """Generated conclusion of :func:`table2_fold_check` (Markdown)."""
    n = sum(s["folds"] for s in summary.values())
    fits = sum(s["count_fits"] for s in summary.values())
    expect = sum(s["folds"] * s["chance"] for s in summary.values())
    bad = {
        c: s["folds"] - s["one_vs_rest_possible"] for c, s in summary.items() if s["one_vs_rest_possible"] < s["folds"]
    }
    sizes = "; ".join(f"{c} {'/'.join(map(str, summary[c]['sizes']))}" for c in classes)
    lines = [
        "- One-vs-rest: "
        + (
            ", ".join(
                f"{c}'s error exceeds the fold's total error in {k} of {summary[c]['folds']} folds"
                for c, k in bad.items()
            )
            + ": not one-vs-rest accuracy."
            if bad
            else "every fold value is possible as one-vs-rest accuracy."
        ),
        f"- Count-based recall: with stratified {n_splits}-fold CV the classes have {sizes} images per fold; "
        f"{fits} of the paper's {n} fold values equal a recall k/n printed to 2 decimals (by luck about "
        f"{expect:.1f} would: that share of 2-decimal values is attainable). "
        + (
            "The fold values are not count-based recalls on these folds; a mean probability (confidence) or an "
            "accuracy over another set (e.g. training images, or images of several folds) is not excluded."
            if fits <= max(1.0, 2 * expect)
            else "The fold values are consistent with count-based recall."
        ),
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- SOM sensitivity inside the CV
def som_sensitivity(X, y, groups, cfg: EyeCVConfig, grid: list[dict], classes, progress: bool = True) -> pd.DataFrame:
    """The SOM classifier and the literal CBNN (``cbnn_onehot``) under each SOM setting of ``grid`` (each a
    ``label`` and overrides of ``cfg.som``), first protocol and first seed, the same folds: pooled out-of-fold
    accuracy with patient-bootstrap 95% CIs, and the test-fold map quality (quantization and topographic error,
    empty and tied units), mean over folds."""
    from dataclasses import replace

    rows = []
    g = groups if cfg.cv.protocols[0] == "grouped" else None
    models = tuple(m for m in ("som", "cbnn_onehot") if m in cfg.models) or ("som",)
    for setting in grid:
        over = {k: v for k, v in setting.items() if k != "label"}
        scfg = replace(cfg.som, **over)
        t = time.perf_counter()
        res = cross_validate(X, y, replace(cfg, models=models, som=scfg), cfg.cv.seeds[0], g, progress)
        read = readings([res], y, groups, classes, cfg.cv)
        q = res["som_quality"].mean(numeric_only=True)
        row = {"setting": setting["label"], "SOM": scfg.describe()}
        for m in models:
            row[f"{m} accuracy (%)"] = _ci(read[m], "accuracy")
        row.update(
            {
                "map side": int(q["side"]),
                "quantization error": q["quantization_error"],
                "topographic error": q["topographic_error"],
                "empty units": q["empty_neuron_rate"],
                "tied units": q["tied_neuron_rate"],
                "seconds": time.perf_counter() - t,
                **{f"_{m}": read[m]["accuracy"] for m in models},
                **{f"_{m}_ci": read[m]["accuracy_ci"] for m in models},
            }
        )
        rows.append(row)
    return pd.DataFrame(rows)


def sensitivity_metrics(table: pd.DataFrame) -> list[dict]:
    """JSON-ready rows of :func:`som_sensitivity` (accuracies as fractions with CIs)."""
    out = []
    for _, r in table.iterrows():
        entry = {
            "setting": r["setting"],
            "som": r["SOM"],
            "side": int(r["map side"]),
            "quantization_error": float(r["quantization error"]),
            "topographic_error": float(r["topographic error"]),
            "empty_units": float(r["empty units"]),
            "tied_units": float(r["tied units"]),
        }
        for m in ("som", "cbnn_onehot"):
            if f"_{m}" in r:
                entry[f"{m}_accuracy"], entry[f"{m}_accuracy_ci"] = float(r[f"_{m}"]), list(r[f"_{m}_ci"])
        out.append(entry)
    return out


def sensitivity_display(table: pd.DataFrame) -> pd.DataFrame:
    """The sensitivity table without its raw (underscore) columns, errors rounded."""
    shown = table[[c for c in table.columns if not c.startswith("_")]].copy()
    return shown.round(
        {"quantization error": 2, "topographic error": 3, "empty units": 3, "tied units": 3, "seconds": 1}
    )
