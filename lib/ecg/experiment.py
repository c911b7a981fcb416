"""Notebook-01 glue: model inputs from WFDB records, rhythm/non-sinus evaluation, model comparison, CV.

``EcgInputs`` holds, for every kept beat, the model inputs and labels:
X: (n, L') float32 windows (decimated), or (n, k, L') with k consecutive beats;
F: (n, f) float32 hand-crafted features (raw; the models standardise them);
y: (n,) int task labels; record: (n,) str; beats: the underlying BeatSet.

Evaluation of the rhythm task (RHYTHM_CLASSES, class 0 = sinus) adds the binary
non-sinus view: P(non-sinus) = 1 - P(sinus); prediction non-sinus iff the arg-max
class is not sinus.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from lib.core.metrics import classification_summary, confusion_frame
from lib.ecg import data as ecg_data
from lib.ecg import features as ecg_features
from lib.ecg import preprocess as ecg_preprocess
from lib.ecg import splits as ecg_splits


@dataclass
class EcgInputs:
    X: np.ndarray
    F: np.ndarray
    y: np.ndarray
    record: np.ndarray
    beats: ecg_preprocess.BeatSet
    task: str
    class_names: list
    feature_names: list

    def __len__(self) -> int:
        return int(self.y.size)

    @property
    def window_shape(self) -> tuple:
        return tuple(self.X.shape[1:])


def context_index(record: np.ndarray, sample: np.ndarray, k: int) -> np.ndarray:
    """(n, k) indices of each beat and its k-1 predecessors in the same record (oldest first).

    Beats are assumed ordered by (record, sample) as built; at a record start the
    first beat is repeated. k=1 gives (n, 1) = arange.
    """
    record = np.asarray(record).astype(str)
    n = record.size
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if n > 1 and not all((record[1:] != record[:-1]) | (np.diff(sample) > 0)):
        raise ValueError("beats must be sorted by sample within each record")
    start = np.zeros(n, dtype=np.int64)
    new = np.concatenate([[True], record[1:] != record[:-1]])
    start[new] = np.flatnonzero(new)
    start = np.maximum.accumulate(start)
    idx = np.arange(n)[:, None] + np.arange(-k + 1, 1)[None, :]
    return np.maximum(idx, start[:, None])


def prepare_inputs(
    folder,
    *,
    task: str = "rhythm",
    exclude=None,
    before: int = 96,
    after: int = 160,
    decimate: int = 2,
    context_beats: int = 1,
    peaks: str = "reference",
    order: int = 4,
    normalisation: str = "zscore",
    progress: bool = True,
) -> EcgInputs:
    """Load every record of ``folder`` (minus ``exclude``), window, label and featurise."""
    records = ecg_data.load(folder, exclude=exclude, progress=progress)
    beats = ecg_preprocess.build_beats(
        records, progress=progress, before=before, after=after, order=order, normalisation=normalisation, peaks=peaks
    )
    F, names = ecg_features.beat_features(beats.X, beats.rr, beats.fs, beats.before)
    Xd = ecg_preprocess.decimate_windows(beats.X, decimate)
    if context_beats > 1:
        Xd = Xd[context_index(beats.record, beats.sample, context_beats)]
    return EcgInputs(
        X=Xd,
        F=F,
        y=ecg_preprocess.labels(beats, task),
        record=beats.record.astype(str),
        beats=beats,
        task=task,
        class_names=ecg_preprocess.class_names(task),
        feature_names=names,
    )


def make_splits(
    data: EcgInputs,
    seed: int = 0,
    max_train: int | None = None,
    max_val: int | None = None,
    max_test: int | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """{'random': 70/15/15 beat split, 'interpatient': DS1 (train/val) / DS2 (test)}.

    Train and validation are capped at max_train / max_val beats (stratified
    subsample); the test part is capped only for the random split (never whole
    patients of DS2 are dropped: ``max_test`` is ignored for 'interpatient').
    """
    out = {
        "random": ecg_splits.random_split(data.y, seed=seed),
        "interpatient": ecg_splits.interpatient_split(data.record, data.y, seed=seed),
    }
    for name, sp in out.items():
        sp["train"] = ecg_splits.subsample(sp["train"], data.y, max_train, seed)
        sp["val"] = ecg_splits.subsample(sp["val"], data.y, max_val, seed)
        if name == "random":
            sp["test"] = ecg_splits.subsample(sp["test"], data.y, max_test, seed)
    return out


def split_counts(data: EcgInputs, splits: dict) -> pd.DataFrame:
    """Class counts per split part: rows (split, part), one column per class + total + n_records."""
    rows = []
    for name, sp in splits.items():
        for part, idx in sp.items():
            counts = np.bincount(data.y[idx], minlength=len(data.class_names))
            rows.append(
                {
                    "split": name,
                    "part": part,
                    **dict(zip(data.class_names, counts.tolist())),
                    "total": int(idx.size),
                    "n_records": int(np.unique(data.record[idx]).size),
                }
            )
    return pd.DataFrame(rows)


def evaluate(y_true: np.ndarray, proba: np.ndarray, class_names: list, task: str = "rhythm") -> dict:
    """classification_summary + (rhythm task) non-sinus F1/precision/recall and binary ROC-AUC."""
    y_true = np.asarray(y_true)
    proba = np.asarray(proba, dtype=float)
    pred = proba.argmax(1)
    labels = list(range(len(class_names)))
    out = classification_summary(y_true, pred, proba, labels=labels, names=class_names)
    if task in ("rhythm", "nonsinus"):
        ns_true = (y_true != 0).astype(int)
        ns_pred = (pred != 0).astype(int)
        ns_score = 1.0 - proba[:, 0]
        p, r, f, _ = skm.precision_recall_fscore_support(ns_true, ns_pred, average="binary", zero_division=0)
        out["nonsinus_precision"], out["nonsinus_recall"], out["nonsinus_f1"] = float(p), float(r), float(f)
        both = 0 < ns_true.sum() < ns_true.size
        out["roc_auc_nonsinus"] = float(skm.roc_auc_score(ns_true, ns_score)) if both else None
    return out


def fit_predict(
    kind: str, data: EcgInputs, split: dict, *, seed: int = 0, use_features: bool = True, model_kw: dict | None = None
) -> tuple[object, np.ndarray, float]:
    """Train one model kind on split['train'] (early stopping on split['val']); return (model, test proba, seconds)."""
    from lib.ecg.models import make_classifier

    F = data.F if use_features else None
    nf = data.F.shape[1] if use_features else 0
    model = make_classifier(kind, data.window_shape, nf, len(data.class_names), seed=seed, **(model_kw or {}))
    tr, va, te = split["train"], split["val"], split["test"]
    t0 = time.perf_counter()
    model.fit(
        data.X[tr], None if F is None else F[tr], data.y[tr], data.X[va], None if F is None else F[va], data.y[va]
    )
    proba = model.predict_proba(data.X[te], None if F is None else F[te])
    return model, proba, time.perf_counter() - t0


def compare_models(
    kinds: list[str],
    data: EcgInputs,
    splits: dict,
    *,
    seed: int = 0,
    model_kw: dict | None = None,
    progress: bool = True,
) -> tuple[dict, dict]:
    """Fit every kind on every split. Returns (metrics[split][kind], test proba[split][kind]).

    model_kw: {kind: kwargs} for make_classifier (e.g. epochs, dropout; RF: n_estimators).
    """
    from tqdm.auto import tqdm

    results: dict = {s: {} for s in splits}
    probas: dict = {s: {} for s in splits}
    jobs = [(s, k) for s in splits for k in kinds]
    for s, k in tqdm(jobs, desc="models", disable=not progress):
        model, proba, secs = fit_predict(k, data, splits[s], seed=seed, model_kw=(model_kw or {}).get(k))
        results[s][k] = {**evaluate(data.y[splits[s]["test"]], proba, data.class_names, data.task), "fit_seconds": secs}
        probas[s][k] = proba
    return results, probas


def comparison_table(
    results: dict, columns=("accuracy", "macro_f1", "nonsinus_f1", "roc_auc_nonsinus", "roc_auc_ovr_macro")
) -> pd.DataFrame:
    """Long table: one row per (split, model) with the chosen metric columns."""
    rows = [
        {"split": s, "model": k, **{c: res.get(c) for c in columns}}
        for s, by_kind in results.items()
        for k, res in by_kind.items()
    ]
    return pd.DataFrame(rows)


def inflation_table(results: dict, columns=("accuracy", "macro_f1", "nonsinus_f1", "roc_auc_nonsinus")) -> pd.DataFrame:
    """Per model: random-split score, inter-patient score and their difference (the inflation)."""
    rows = []
    for k in results.get("random", {}):
        if k not in results.get("interpatient", {}):
            continue
        for c in columns:
            a, b = results["random"][k].get(c), results["interpatient"][k].get(c)
            rows.append(
                {
                    "model": k,
                    "metric": c,
                    "random_split": a,
                    "interpatient": b,
                    "inflation": None if a is None or b is None else a - b,
                }
            )
    return pd.DataFrame(rows)


def patient_cv(
    kind: str,
    data: EcgInputs,
    *,
    k: int = 5,
    seed: int = 0,
    val_fraction: float = 0.15,
    max_train: int | None = None,
    model_kw: dict | None = None,
    progress: bool = True,
) -> list[dict]:
    """K-fold patient-grouped CV: per fold, train (minus a random validation share) -> held-out patients."""
    from tqdm.auto import tqdm

    folds = ecg_splits.patient_kfold(data.record, data.y, k=k, seed=seed)
    out = []
    for i, fold in enumerate(tqdm(folds, desc=f"{k}-fold CV", disable=not progress)):
        rng = np.random.default_rng([seed, i])
        tr = rng.permutation(fold["train"])
        n_val = max(1, int(round(val_fraction * tr.size)))
        split = {
            "val": np.sort(tr[:n_val]),
            "test": fold["test"],
            "train": ecg_splits.subsample(np.sort(tr[n_val:]), data.y, max_train, seed),
        }
        _, proba, secs = fit_predict(kind, data, split, seed=seed, model_kw=model_kw)
        res = evaluate(data.y[fold["test"]], proba, data.class_names, data.task)
        res.update(fold=i, test_records=sorted(np.unique(data.record[fold["test"]]).tolist()), fit_seconds=secs)
        out.append(res)
    return out


def confusion(y_true, proba, class_names) -> pd.DataFrame:
    """Confusion matrix (rows true, columns predicted) as a DataFrame."""
    return confusion_frame(np.asarray(y_true), np.asarray(proba).argmax(1), list(range(len(class_names))), class_names)


# ------------------------------------------------------------------ active learning glue
def ModelFactory(kind: str, window_shape, n_features: int, n_classes: int, **model_kw):
    """``factory(seed) -> classifier`` for lib.ecg.active_learning (``.last``: the model returned last).

    One Keras model is built once and re-initialised per call (identical to a fresh build with that
    seed, without re-tracing: lib.ecg.models.ClassifierFactory), which saves seconds per AL run.
    """
    from lib.ecg.models import ClassifierFactory

    return ClassifierFactory(kind, window_shape, n_features, n_classes, reuse=True, **model_kw)


def al_sets(
    data: EcgInputs,
    split: dict,
    *,
    pool_max: int | None = None,
    val_max: int | None = None,
    test_max: int | None = None,
    seed: int = 0,
) -> dict:
    """Pool (= the split's training part, optionally subsampled), validation and test tuples (X, F, y) for AL.

    Returns {'pool_idx', 'val_idx', 'test_idx', 'X_pool', 'F_pool', 'y_pool', 'val', 'test'}; subsampling
    is stratified over beats (every test patient keeps beats).
    """
    pool = ecg_splits.subsample(split["train"], data.y, pool_max, seed)
    val = ecg_splits.subsample(split["val"], data.y, val_max, seed)
    test = ecg_splits.subsample(split["test"], data.y, test_max, seed)

    def tup(i):
        return data.X[i], data.F[i], data.y[i]

    return {
        "pool_idx": pool,
        "val_idx": val,
        "test_idx": test,
        "X_pool": data.X[pool],
        "F_pool": data.F[pool],
        "y_pool": data.y[pool],
        "val": tup(val),
        "test": tup(test),
    }


def run_odal(
    data: EcgInputs,
    split: dict,
    al_config,
    factory,
    *,
    sets: dict | None = None,
    fit_kw: dict | None = None,
    evaluate_test: bool = True,
    progress: bool = True,
) -> tuple[pd.DataFrame, dict | None, np.ndarray | None]:
    """One AL run (any strategy) on a split; the final model is evaluated on the split's whole test part.

    Returns (learning curve, metrics on split['test'], test proba); the last two are None when
    ``evaluate_test`` is False.
    """
    from lib.ecg.active_learning import Annotator, run_active_learning

    sets = sets or al_sets(data, split)
    t0 = time.perf_counter()
    curve = run_active_learning(
        factory,
        sets["X_pool"],
        sets["F_pool"],
        Annotator(sets["y_pool"]),
        sets["val"],
        sets["test"],
        al_config,
        n_classes=len(data.class_names),
        positive_classes=list(range(1, len(data.class_names))),
        fit_kw=fit_kw,
        progress=progress,
    )
    if not evaluate_test:
        return curve, None, None
    te = split["test"]
    proba = factory.last.predict_proba(data.X[te], data.F[te])
    res = {
        **evaluate(data.y[te], proba, data.class_names, data.task),
        "fit_seconds": time.perf_counter() - t0,
        "labels_used": int(curve["n_labels"].iloc[-1]),
    }
    return curve, res, proba


def full_supervision_score(
    data: EcgInputs, split: dict, proba_full: np.ndarray, test_idx: np.ndarray, metric: str = "macro_f1"
) -> float:
    """Score of the fully supervised model on the AL test subset ``test_idx`` (a subset of split['test'])."""
    pos = np.searchsorted(split["test"], test_idx)
    if not np.array_equal(split["test"][pos], test_idx):
        raise ValueError("test_idx must be a subset of split['test']")
    res = evaluate(data.y[test_idx], proba_full[pos], data.class_names, data.task)
    return float(res[metric])


def run_al_curves(
    data: EcgInputs,
    split: dict,
    configs: dict,
    seeds,
    factory,
    sets: dict,
    *,
    keep: tuple[str, int] | None = None,
    fit_kw: dict | None = None,
    progress: bool = True,
) -> tuple[pd.DataFrame, dict | None, np.ndarray | None]:
    """Every (method -> ALConfig) x seed on the same pool/val/test ``sets``; long table with method, seed.

    Each run uses a fresh annotator and the loop seed (same seed -> same seed set across methods).
    keep=(method, seed): that run's final model is also evaluated on the split's whole test part and
    returned as (metrics, proba) - so the headline ODAL model is one of the learning-curve runs.
    """
    from dataclasses import replace

    frames, kept, kept_proba = [], None, None
    for name, cfg in configs.items():
        for s in seeds:
            is_kept = keep is not None and (name, int(s)) == (keep[0], int(keep[1]))
            curve, res, proba = run_odal(
                data,
                split,
                replace(cfg, seed=int(s)),
                factory,
                sets=sets,
                fit_kw=fit_kw,
                evaluate_test=is_kept,
                progress=progress,
            )
            frames.append(curve.assign(method=name, seed=int(s)))
            if is_kept:
                kept, kept_proba = res, proba
    return pd.concat(frames, ignore_index=True), kept, kept_proba
