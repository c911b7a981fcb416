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

import textwrap
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from lib.core.metrics import classification_summary, confusion_frame
from lib.core.outputs import Outputs
from lib.core.sampling import subsample
from lib.ecg import data as ecg_data
from lib.ecg import features as ecg_features
from lib.ecg import preprocess as ecg_preprocess
from lib.ecg import splits as ecg_splits
from lib.ecg.active_learning import (
    ALConfig,
    curves_by_seed,
    fit_reference,
    mean_curve,
    per_seed_table,
    run_strategies,
    seed_interval,
    summarise_seeds,
)
from lib.ecg.readings import READINGS, rhythm_labels


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
    settings: dict = field(default_factory=dict)

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
    task: str,
    exclude,
    before: int,
    after: int,
    decimate: int,
    context_beats: int,
    peaks: str,
    order: int,
    normalisation: str,
    rr_features: str,
    label_reading: str = "statement",
    progress: bool = True,
) -> EcgInputs:
    """Load every record of ``folder`` (minus ``exclude``), window, label and featurise (the RR columns in the
    reading ``rr_features``: lib.ecg.features.RR_READINGS)."""
    records = ecg_data.load(folder, exclude=exclude, progress=progress)
    beats = ecg_preprocess.build_beats(
        records, progress=progress, before=before, after=after, order=order, normalisation=normalisation, peaks=peaks
    )
    F, names = ecg_features.beat_features(beats.X, beats.rr, beats.fs, beats.before, rr_features)
    Xd = ecg_preprocess.decimate_windows(beats.X, decimate)
    if context_beats > 1:
        Xd = Xd[context_index(beats.record, beats.sample, context_beats)]
    y = ecg_preprocess.labels(beats, task)
    if task == "rhythm":
        y = rhythm_labels(beats.rhythm, beats.rhythm_string, beats.aami, label_reading)
    return EcgInputs(
        X=Xd,
        F=F,
        y=y,
        record=beats.record.astype(str),
        beats=beats,
        task=task,
        class_names=ecg_preprocess.class_names(task),
        feature_names=names,
        settings={
            "before": before,
            "after": after,
            "decimate": decimate,
            "context_beats": context_beats,
            "peaks": peaks,
            "filter_order": order,
            "normalisation": normalisation,
            "rr_features": rr_features,
            "label_reading": label_reading,
        },
    )


def with_rr_reading(data: EcgInputs, reading: str) -> EcgInputs:
    """``data`` with its RR columns recomputed in another reading (lib.ecg.features.rr_features) from the beats."""
    from dataclasses import replace

    if data.settings.get("rr_features") == reading:
        return data
    F = np.array(data.F, copy=True)
    F[:, rr_columns(data)] = ecg_features.rr_features(data.beats.rr, reading).astype(np.float32)
    names = ecg_features.rr_names(reading) + list(data.feature_names[len(ecg_features.RR_NAMES) :])
    return replace(data, F=F, feature_names=names, settings={**data.settings, "rr_features": reading})


def _cap(idx: np.ndarray, y: np.ndarray, max_n: int | None, seed: int) -> np.ndarray:
    """At most ``max_n`` of ``idx`` (stratified by ``y[idx]``, seeded; None or 0 keeps all)."""
    return subsample(idx, max_n, seed, strata=np.asarray(y)[np.asarray(idx)])


def make_splits(
    data: EcgInputs,
    seed: int = 0,
    max_train: int | None = None,
    max_val: int | None = None,
    max_test: int | None = None,
    grouped_val: bool = False,
) -> dict[str, dict[str, np.ndarray]]:
    """{'random': 70/15/15 beat split, 'interpatient': DS1 (train/val) / DS2 (test)}.

    ``grouped_val``: the inter-patient validation part is whole held-out DS1 records (never beats of
    the training patients); otherwise a random share of DS1 beats.

    Train and validation are capped at max_train / max_val beats (stratified
    subsample); the test part is capped only for the random split (never whole
    patients of DS2 are dropped: ``max_test`` is ignored for 'interpatient').
    """
    out = {
        "random": ecg_splits.random_split(data.y, seed=seed),
        "interpatient": ecg_splits.interpatient_split(data.record, data.y, seed=seed, grouped_val=grouped_val),
    }
    for name, sp in out.items():
        sp["train"] = _cap(sp["train"], data.y, max_train, seed)
        sp["val"] = _cap(sp["val"], data.y, max_val, seed)
        if name == "random":
            sp["test"] = _cap(sp["test"], data.y, max_test, seed)
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


def score_predictions(y_true: np.ndarray, proba: np.ndarray, class_names: list, task: str = "rhythm") -> dict:
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
        out["pr_auc_nonsinus"] = float(skm.average_precision_score(ns_true, ns_score)) if both else None
    return out


def nonsinus_threshold(y_val: np.ndarray, proba_val: np.ndarray) -> float:
    """The threshold on P(non-sinus) = 1 - p0 that maximises non-sinus F1 on the validation beats ``(n,)``, ``(n, c)``
    (the decision rule is then fixed before the test set is seen)."""
    prec, rec, thr = skm.precision_recall_curve(np.asarray(y_val) != 0, 1.0 - np.asarray(proba_val)[:, 0])
    f1 = 2 * prec[:-1] * rec[:-1] / np.maximum(prec[:-1] + rec[:-1], 1e-12)
    return float(thr[int(np.argmax(f1))])


def thresholded(proba: np.ndarray, threshold: float) -> np.ndarray:
    """``(n, 2)`` one-hot sinus / non-sinus decisions P(non-sinus) >= ``threshold`` (argmax = the decision)."""
    ns = (1.0 - np.asarray(proba)[:, 0]) >= threshold
    return np.stack([~ns, ns], axis=1).astype(float)


def validation_threshold(res: dict, y_val, proba_val, y_test, proba_test) -> None:
    """Add ``nonsinus_threshold`` (chosen on validation) and the test ``nonsinus_f1_at_val_threshold`` to ``res``."""
    thr = nonsinus_threshold(y_val, proba_val)
    pred = thresholded(proba_test, thr).argmax(1)
    res["nonsinus_threshold"] = thr
    res["nonsinus_f1_at_val_threshold"] = float(skm.f1_score(np.asarray(y_test) != 0, pred == 1, zero_division=0))


def model_features(kind: str, data: EcgInputs, use_features: bool = True) -> np.ndarray | None:
    """The feature matrix a model kind reads: the RR columns for ``rr_forest``, none for signal-only models."""
    if kind == "rr_forest":
        return data.F[:, rr_columns(data)]
    return data.F if use_features else None


def rr_columns(data: EcgInputs) -> list[int]:
    """Columns of ``data.F`` holding the RR-interval features (lib.ecg.features.rr_names of any reading)."""
    cols = [i for i, n in enumerate(data.feature_names) if n.startswith("rr_")]
    if len(cols) != len(ecg_features.RR_NAMES):
        raise ValueError(f"expected {len(ecg_features.RR_NAMES)} RR columns, found {len(cols)}")
    return cols


def fit_predict(
    kind: str, data: EcgInputs, split: dict, *, seed: int = 0, use_features: bool = True, model_kw: dict | None = None
) -> tuple[object, np.ndarray, float]:
    """Train one model kind on split['train'] (early stopping on split['val']); return (model, test proba, seconds)."""
    from lib.ecg.models import make_classifier

    F = model_features(kind, data, use_features)
    if kind == "rr_forest":  # the RR-interval floor: a Random Forest on the RR features alone
        kind, model_kw = "random_forest", {**(model_kw or {}), "use_window": False}
    nf = F.shape[1] if F is not None else 0
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
    from tqdm import tqdm

    results: dict = {s: {} for s in splits}
    probas: dict = {s: {} for s in splits}
    jobs = [(s, k) for s in splits for k in kinds]
    for s, k in tqdm(jobs, desc="models", **ecg_data.progress_kw(progress)):
        model, proba, secs = fit_predict(k, data, splits[s], seed=seed, model_kw=(model_kw or {}).get(k))
        te, va = splits[s]["test"], splits[s]["val"]
        results[s][k] = {**score_predictions(data.y[te], proba, data.class_names, data.task), "fit_seconds": secs}
        if data.task == "rhythm":
            F = model_features(k, data)
            val_proba = model.predict_proba(data.X[va], None if F is None else F[va])
            validation_threshold(results[s][k], data.y[va], val_proba, data.y[te], proba)
        probas[s][k] = proba
    return results, probas


def equal_budget(data: EcgInputs, splits: dict, results: dict, *, kinds, budget: int, seed: int, model_kw: dict):
    """ODAL against each baseline at the SAME number of training labels: every ``kinds`` entry trained on a stratified
    random ``budget`` beats of each split's training part (same validation part), beside ODAL's row (its labels =
    ``labels_used``). Returns a long table (split, model, labels, metrics)."""
    rows = []
    for s, sp in splits.items():
        if "odal" not in results.get(s, {}):
            continue
        small = {**sp, "train": _cap(sp["train"], data.y, budget, seed)}
        r = results[s]["odal"]
        rows.append({"split": s, "model": "odal", "labels": r.get("labels_used")} | _metric_cols(r))
        for k in kinds:
            model, proba, _ = fit_predict(k, data, small, seed=seed, model_kw=model_kw.get(k))
            te = sp["test"]
            res = score_predictions(data.y[te], proba, data.class_names, data.task)
            rows.append({"split": s, "model": k, "labels": int(small["train"].size)} | _metric_cols(res))
    return pd.DataFrame(rows)


def _metric_cols(res: dict) -> dict:
    return {m: res.get(m) for m in ("accuracy", "nonsinus_f1", "roc_auc_nonsinus", "pr_auc_nonsinus")}


def confusion_pattern(data: EcgInputs, split: dict, probas: dict, kinds=("odal", "cnn_bilstm")) -> str:
    """Markdown: where each true rhythm class goes (arg-max) on the split's test part, for ``kinds``; names the
    class that takes most AF/flutter beats."""
    y = data.y[split["test"]]
    names = data.class_names
    lines = []
    for k in kinds:
        if k not in probas:
            continue
        pred = np.asarray(probas[k]).argmax(1)
        af = names.index("af_flutter") if "af_flutter" in names else None
        if af is None or not (y == af).any():
            continue
        counts = np.bincount(pred[y == af], minlength=len(names))
        top = names[int(counts.argmax())]
        sin = np.bincount(pred[y == 0], minlength=len(names))
        lines.append(
            f"- {k}: of {int((y == af).sum()):,} AF/flutter test beats, "
            + ", ".join(f"{int(c):,} are predicted {n}" for n, c in zip(names, counts))
            + f" (most go to **{top}**); of {int((y == 0).sum()):,} sinus beats {int(sin[1:].sum()):,} are predicted "
            "non-sinus."
        )
    return "\n".join(lines)


def comparison_table(
    results: dict,
    columns=(
        "accuracy",
        "macro_f1",
        "nonsinus_f1",
        "nonsinus_f1_at_val_threshold",
        "roc_auc_nonsinus",
        "pr_auc_nonsinus",
        "roc_auc_ovr_macro",
    ),
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


def confusion(y_true, proba, class_names) -> pd.DataFrame:
    """Confusion matrix (rows true, columns predicted) as a DataFrame."""
    return confusion_frame(np.asarray(y_true), np.asarray(proba).argmax(1), list(range(len(class_names))), class_names)


# ------------------------------------------------------------------ active learning glue
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
    pool = _cap(split["train"], data.y, pool_max, seed)
    val = _cap(split["val"], data.y, val_max, seed)
    test = _cap(split["test"], data.y, test_max, seed)

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


# ------------------------------------------------------------------ notebook steps (tables, studies, metrics)
MODEL_KINDS = ("cnn_bilstm", "cnn", "lstm", "cnn_lstm", "random_forest", "rr_forest")
AAMI_KINDS = ("cnn_bilstm", "random_forest", "rr_forest")
BASELINES = ("cnn", "lstm", "cnn_lstm", "random_forest")
#: the strategies compared by the AL study (name -> ALConfig fields besides the budget)
STRATEGY_SETTINGS = {
    "random": {"strategy": "random"},
    "least_confidence": {"strategy": "least_confidence"},
    "margin": {"strategy": "margin"},
    "entropy": {"strategy": "entropy"},
    "bald": {"strategy": "bald"},
    "odal": {"strategy": "odal", "fuzzy": True},
    "odal_no_fuzzy": {"strategy": "odal", "fuzzy": False},
    # the controller's two effects apart (same rounds otherwise): query = threshold + batch multiplier only,
    # training = learning rate + dropout only
    "odal_query_control": {"strategy": "odal", "fuzzy": True, "fuzzy_controls": "query"},
    "odal_training_control": {"strategy": "odal", "fuzzy": True, "fuzzy_controls": "training"},
}


def model_kwargs(
    *,
    epochs: int,
    batch_size: int,
    patience: int,
    dropout: float,
    learning_rate: float,
    class_weight: str | None,
    early_stopping: str,
    filters,
    lstm_units: int,
    feature_units: int,
    rf_trees: int,
) -> dict:
    """{kind: make_classifier kwargs} for every MODEL_KINDS entry (the Keras kinds share one setting)."""
    arch = {"filters": list(filters), "lstm_units": lstm_units, "feature_units": feature_units}
    keras_kw = dict(
        epochs=epochs,
        batch_size=batch_size,
        patience=patience,
        dropout=dropout,
        lr=learning_rate,
        class_weight=class_weight,
        monitor=early_stopping,
        arch=arch,
    )
    out = {k: keras_kw for k in MODEL_KINDS if not k.endswith("forest")}
    out["random_forest"] = out["rr_forest"] = {"n_estimators": rf_trees, "class_weight": class_weight}
    return out


def strategy_configs(seed_size: int, batch_size: int, budget: int, strategies=None) -> dict[str, ALConfig]:
    """{method: ALConfig} of STRATEGY_SETTINGS (or of its ``strategies``) with the seed set, batch and budget."""
    names = list(STRATEGY_SETTINGS) if strategies is None else list(strategies)
    bad = sorted(set(names) - set(STRATEGY_SETTINGS))
    if bad or "random" not in names or "odal" not in names:
        raise ValueError(f"strategies must include 'random' and 'odal' and come from {list(STRATEGY_SETTINGS)}")
    return {
        name: ALConfig(seed_size=seed_size, batch_size=batch_size, budget=budget, **STRATEGY_SETTINGS[name])
        for name in names
    }


@dataclass
class ALStudy:
    """Outputs of :func:`run_al_study`.

    long: learning curves of every strategy x seed on ``split``; sets: {split: al_sets(...)};
    results / probas: {split: metrics / (n_test, c) proba of the headline ODAL model on the split's whole test part};
    reference: per seed, the same recipe trained on the whole pool of ``split`` (:func:`fit_reference`; empty for
    a split that holds only the headline ODAL run).
    """

    split: str
    long: pd.DataFrame
    sets: dict
    results: dict
    probas: dict
    configs: dict
    seeds: list
    caps: dict
    epochs_per_round: int | None
    reference: pd.DataFrame

    def curve(self, method: str, seed: int) -> pd.DataFrame:
        """One run's learning curve (with the controller columns)."""
        return self.long[(self.long["method"] == method) & (self.long["seed"] == seed)]


def run_al_study(
    data: EcgInputs,
    splits: dict,
    configs: dict,
    seeds,
    keras_kw: dict,
    *,
    al_splits,
    seed: int,
    pool_max: int | None,
    val_max: int | None,
    test_max: int | None,
    fit_kw: dict | None = None,
    progress: bool = True,
) -> dict[str, ALStudy]:
    """The whole study (every strategy x seed, and the per-seed reference) on each split of ``al_splits`` (one
    CNN-BiLSTM factory, reused across runs), and one ODAL run on every other split; the ODAL run with seed ``seed``
    is the headline ODAL model of its split. Returns {split: ALStudy}, ``al_splits`` first (a split outside
    ``al_splits`` holds only that ODAL run: no reference).

    Pool = the split's training part, validation = its validation part, curves scored on its test part
    (each optionally subsampled: ``*_max``); the headline models are scored on the whole test part.
    """
    from lib.ecg.models import ClassifierFactory

    al_splits = [str(s) for s in al_splits]
    unknown = sorted(set(al_splits) - set(splits))
    if unknown or not al_splits:
        raise ValueError(f"al_splits must name splits of {sorted(splits)}, got {al_splits}")
    factory = ClassifierFactory("cnn_bilstm", data.window_shape, data.F.shape[1], len(data.class_names), **keras_kw)
    caps = {"al_pool_max": pool_max, "al_val_max": val_max, "al_test_max": test_max}
    epochs = (fit_kw or {}).get("epochs")
    n_classes, positive = len(data.class_names), list(range(1, len(data.class_names)))
    studies = {}
    for name in al_splits + [s for s in splits if s not in al_splits]:
        st = al_sets(data, splits[name], pool_max=pool_max, val_max=val_max, test_max=test_max, seed=seed)
        te = splits[name]["test"]
        results, probas, t0 = {}, {}, [time.perf_counter()]

        def keep(method, s, model, curve, name=name, te=te, t0=t0, st=st, results=results, probas=probas):
            if (method, s) == ("odal", int(seed)):
                probas[name] = model.predict_proba(data.X[te], data.F[te])
                res = score_predictions(data.y[te], probas[name], data.class_names, data.task)
                if data.task == "rhythm":
                    (Xv, Fv, yv) = st["val"]
                    validation_threshold(res, yv, model.predict_proba(Xv, Fv), data.y[te], probas[name])
                results[name] = {**res, "fit_seconds": time.perf_counter() - t0[0]}
                results[name]["labels_used"] = int(curve["n_labels"].iloc[-1])
            t0[0] = time.perf_counter()

        full = name in al_splits
        run_configs, run_seeds = (configs, list(seeds)) if full else ({"odal": configs["odal"]}, [seed])
        args = (st["X_pool"], st["F_pool"], st["y_pool"], st["val"], st["test"])
        long = run_strategies(
            factory, *args, run_configs, run_seeds, n_classes=n_classes, positive_classes=positive, fit_kw=fit_kw,
            after_run=keep, progress=progress,
        )  # fmt: skip
        reference = (
            fit_reference(factory, *args, run_seeds, n_classes=n_classes, positive_classes=positive, fit_kw=fit_kw)
            if full
            else pd.DataFrame()
        )
        studies[name] = ALStudy(
            name, long, {name: st}, results, probas, run_configs, run_seeds, caps, epochs, reference
        )
    return studies


def al_suffix(split: str) -> str:
    """File-name suffix of a split's AL outputs: none for the inter-patient split, ``_<split>_split`` otherwise."""
    return "" if split == "interpatient" else f"_{split}_split"


#: how the notebook text names each split's protocol
PROTOCOLS = {
    "interpatient": "inter-patient DS1 -> DS2 (the honest protocol)",
    "random": "the paper's intra-patient protocol (optimistic): random 70/15/15 beat split",
}


def per_class_table(results: dict) -> pd.DataFrame:
    """One row per (split, model, class) with that class's precision / recall / F1 / support."""
    return pd.DataFrame(
        [
            {"split": s, "model": m, "class": c, **v}
            for s, by in results.items()
            for m, r in by.items()
            for c, v in r["per_class"].items()
        ]
    )


def evaluation_tables(results: dict) -> dict[str, pd.DataFrame]:
    """{table name: DataFrame}: model_comparison, random_vs_interpatient, per_class_metrics."""
    return {
        "model_comparison": comparison_table(results),
        "random_vs_interpatient": inflation_table(results),
        "per_class_metrics": per_class_table(results),
    }


def confusion_tables(data: EcgInputs, splits: dict, probas: dict) -> dict[str, pd.DataFrame]:
    """{title: confusion DataFrame} of ODAL and the fully supervised CNN-BiLSTM on each split's test part."""
    out = {}
    for model, label in (("odal", "ODAL, {s} split"), ("cnn_bilstm", "CNN-BiLSTM full, {s}")):
        for s in splits:
            out[label.format(s=s)] = confusion(data.y[splits[s]["test"]], probas[s][model], data.class_names)
    return out


def confusion_file_name(title: str) -> str:
    """Table name of a confusion matrix title ("ODAL, random split" -> "confusion_ODAL_random_split")."""
    return "confusion_" + title.replace(", ", "_").replace(" ", "_").replace("-", "")


def write_confusions(cms: dict, out: Outputs, figure: str = "confusion_matrices", counts: bool = False) -> None:
    """Every confusion matrix as a table named by :func:`confusion_file_name`, and one heatmap figure
    (row-normalised, or raw counts with ``counts``)."""
    from lib.ecg import plots

    out.tables({confusion_file_name(t): cm.reset_index() for t, cm in cms.items()})
    out.figure(plots.confusion_matrices(cms, normalise=not counts), figure)


def rf_feature_names(data: EcgInputs, n_bins: int = 16) -> list[str]:
    """Names of the Random Forest's design columns: window summary (lib.ecg.models.window_summary) + features."""
    stats = ["win_mean", "win_std", "win_min", "win_max", "win_argmax", "win_argmin", "win_mad", "win_maxad"]
    return [f"win_bin{i}" for i in range(n_bins)] + stats + list(data.feature_names)


def nonsinus_f1_score(estimator, X, y) -> float:
    """Scorer (sklearn signature): F1 of 'not sinus' (class 0) from the estimator's class predictions."""
    from sklearn.metrics import f1_score

    return float(f1_score(np.asarray(y) != 0, estimator.predict(X) != 0, zero_division=0))


def rf_importance(
    data: EcgInputs, split: dict, seed: int, rf_kw: dict, out: Outputs, *, n_repeats: int, max_test: int | None
) -> pd.DataFrame:
    """Permutation importance of the Random Forest trained on ``split['train']``, measured on ``split['test']``
    (DS2 for the inter-patient split: which inputs carry over to unseen patients, unlike impurity importance,
    which is computed on the training patients): the drop in non-sinus F1 when one design column is shuffled,
    mean and sd over ``n_repeats`` shuffles; ``max_test``: a stratified cap on the test beats used for this
    estimate only (None/0: all). Writes the table and the figure; returns the table, most important first."""
    from sklearn.inspection import permutation_importance

    from lib.ecg import plots

    rf = fit_predict("random_forest", data, split, seed=seed, model_kw=rf_kw)[0]
    te = _cap(split["test"], data.y, max_test, seed)
    design = rf.design(data.X[te], data.F[te])
    r = permutation_importance(
        rf.model, design, data.y[te], scoring=nonsinus_f1_score, n_repeats=n_repeats, random_state=seed, n_jobs=1
    )
    names = rf_feature_names(data)
    table = pd.DataFrame(
        {"feature": names, "f1_drop_mean": r.importances_mean, "f1_drop_std": r.importances_std}
    ).sort_values("f1_drop_mean", ascending=False, ignore_index=True)
    table["n_test_beats"] = int(te.size)
    fig = plots.feature_importance(
        r.importances_mean, names, err=r.importances_std, xlabel="drop in non-sinus F1 when shuffled (test part)"
    )
    out.figure(fig, "rf_permutation_importance")
    out.table(table, "rf_permutation_importance")
    return table


#: what decides the AL study: non-sinus F1 on the test part (the 4-class macro-F1 is shown, never decides)
AL_METRIC = "test_pos_f1"


@dataclass
class ALAnalysis:
    """Learning curves (mean over seeds), per-seed curve AUC and label saving vs random with 95% intervals over
    seeds, and the final-round (fuzzy ablation) table. ``full_*``: the mean over seeds of the reference (the
    same recipe trained on the whole pool); ``saving``: {method: summary row} (what the claims read)."""

    full_f1: float
    full_ns: float
    curves_f1: dict
    curves_ns: dict
    per_seed: pd.DataFrame
    saving: dict
    saving_table: pd.DataFrame
    ablation: pd.DataFrame
    protocol: str
    split: str = "interpatient"


def analyse_al(study: ALStudy, fraction: float) -> ALAnalysis:
    """Curves, AUC and savings of every strategy against random, each seed against its own reference; the
    validation labels (early stopping in every round) count as annotation in the savings."""
    long, ref, st = study.long, study.reference, study.sets[study.split]
    n_val = len(st["val"][2])
    curves_f1 = {m: mean_curve(curves_by_seed(long, m), "test_macro_f1") for m in study.configs}
    curves_ns = {m: mean_curve(curves_by_seed(long, m), "test_pos_f1") for m in study.configs}
    per_seed = per_seed_table(long, ref, metric=AL_METRIC, fraction=fraction, extra_labels=n_val)
    pool_only = per_seed_table(long, ref, metric=AL_METRIC, fraction=fraction, extra_labels=0)
    per_seed["saving_pool_labels_only"] = pool_only["saving_vs_random"].to_numpy()
    summary = summarise_seeds(per_seed)
    saving = {r["method"]: r for r in summary.to_dict("records")}
    final = long.sort_values("n_labels").groupby(["method", "seed"]).tail(1)
    ablation = pd.DataFrame(
        [
            {
                "method": m,
                "labels": int(g["n_labels"].max()),
                "macro_f1_mean": g["test_macro_f1"].mean(),
                "macro_f1_std": g["test_macro_f1"].std(ddof=1),
                "nonsinus_f1_mean": g["test_pos_f1"].mean(),
                "nonsinus_f1_std": g["test_pos_f1"].std(ddof=1),
            }
            for m, g in final.groupby("method")
        ]
    )
    protocol = (
        f"{PROTOCOLS.get(study.split, study.split)}: pool {len(st['y_pool'])} training beats, {n_val} validation "
        f"beats (counted as labels in the saving), curves on {len(st['test'][2])} test beats; weights reset every "
        f"round, {study.epochs_per_round} epochs per round; reference = the same recipe on the whole pool, per seed "
        f"({len(study.seeds)} seeds)"
    )
    return ALAnalysis(
        float(ref["test_macro_f1"].mean()), float(ref["test_pos_f1"].mean()), curves_f1, curves_ns, per_seed,
        saving, summary, ablation, protocol, study.split,
    )  # fmt: skip


def write_al(al: ALAnalysis, fraction: float, out: Outputs) -> None:
    """Mean learning curves (one table per strategy, two figures titled with the protocol and the reference), the
    per-seed and summary saving tables and the final-round table, named with :func:`al_suffix` of the split."""
    from lib.ecg import plots

    x = al_suffix(al.split)
    out.tables({f"al_curve_macro_f1_{m}{x}": mc.assign(method=m) for m, mc in al.curves_f1.items()})
    title = "\n".join(textwrap.wrap(al.protocol, 110))
    fig = plots.learning_curves(al.curves_f1, "test macro-F1 (rhythm; shown, not deciding)", al.full_f1, None, title)
    out.figure(fig, f"al_learning_curves_macro_f1{x}")
    fig = plots.learning_curves(al.curves_ns, "test non-sinus F1 (decides)", al.full_ns, fraction * al.full_ns, title)
    out.figure(fig, f"al_learning_curves_nonsinus_f1{x}")
    out.tables(
        {
            f"al_per_seed{x}": al.per_seed,
            f"annotation_saving{x}": al.saving_table,
            f"al_final_and_fuzzy_ablation{x}": al.ablation,
        }
    )


def write_studies(studies: dict, out: Outputs) -> None:
    """:func:`write_study` of every split that holds a whole study (a reference); prints what was run."""
    for study in studies.values():
        if len(study.reference):
            write_study(study, out)
    print(describe_al_runs(studies))


def write_study(study: ALStudy, out: Outputs) -> None:
    """The long learning-curve table, the per-seed reference, the ODAL controller traces over seeds (table +
    figure), named with :func:`al_suffix` of the study's split."""
    from lib.ecg import plots

    odal, x = study.long[study.long["method"] == "odal"], al_suffix(study.split)
    out.tables(
        {
            f"al_learning_curves_long{x}": study.long,
            f"odal_controller_trace{x}": odal,
            f"al_reference{x}": study.reference,
        }
    )
    out.figure(plots.controller_traces(odal), f"odal_controller_trace{x}")


def example_figures(data: EcgInputs, seed: int, out: Outputs) -> None:
    """Example windows per rhythm class and per AAMI beat class."""
    from lib.ecg import plots

    b = data.beats
    for labels, names, kind, title in (
        (b.rhythm, ecg_data.RHYTHM_CLASSES, "rhythm", "rhythm class"),
        (b.aami, ecg_data.AAMI_CLASSES, "aami", "AAMI beat class"),
    ):
        fig = plots.example_windows(b.X, labels, names, b.fs, b.before, seed=seed, title=f"Example windows per {title}")
        out.figure(fig, f"example_windows_{kind}")


CLAIM_METRICS = {"accuracy": "accuracy", "nonsinus_f1": "nonsinus_f1", "roc_auc": "roc_auc_nonsinus"}


def add_bootstrap_cis(results: dict, probas: dict, data: EcgInputs, splits: dict, *, n_boot: int, seed: int) -> None:
    """Add record-level bootstrap 95% CIs (lib.ecg.bootstrap) beside every model's test metrics (``<metric>_ci``)."""
    from lib.ecg.bootstrap import record_bootstrap

    for s, by_kind in results.items():
        te = splits[s]["test"]
        for k, res in by_kind.items():
            res.update(record_bootstrap(data.y[te], probas[s][k], data.record[te], n_boot=n_boot, seed=seed))
            if "nonsinus_threshold" in res:  # the same resamples, on the fixed validation-chosen decisions
                decided = thresholded(probas[s][k], res["nonsinus_threshold"])
                ci = record_bootstrap((data.y[te] != 0).astype(int), decided, data.record[te], n_boot=n_boot, seed=seed)
                res["nonsinus_f1_at_val_threshold_ci"] = ci["nonsinus_f1_ci"]


def alternative_reading(data: EcgInputs) -> tuple[str, np.ndarray]:
    """(name, labels) of the other label reading (lib.ecg.readings) than the one ``data`` was built with."""
    if data.task != "rhythm" or data.beats is None or data.beats.rhythm_string is None:
        raise ValueError("alternative_reading needs rhythm-task inputs built from records (beats.rhythm_string)")
    own = data.settings.get("label_reading", "statement")
    alt = [r for r in READINGS if r != own][0]
    return alt, rhythm_labels(data.beats.rhythm, data.beats.rhythm_string, data.beats.aami, alt)


def label_readings(
    data: EcgInputs, split: dict, results: dict, *, kinds, model_kw: dict, n_boot: int, seed: int
) -> pd.DataFrame:
    """The inter-patient headline under both label readings (lib.ecg.readings): ``kinds`` retrained on the other
    reading (same split, seed and settings) beside their results on the data's own reading; non-sinus F1 and ROC-AUC
    with record-bootstrap CIs and the number of DS2 beats whose label the reading changes."""
    from dataclasses import replace

    alt_name, y_beat = alternative_reading(data)
    own = data.settings.get("label_reading", "statement")
    alt = replace(data, y=y_beat)
    res, probas = compare_models(list(kinds), alt, {"interpatient": split}, seed=seed, model_kw=model_kw)
    add_bootstrap_cis(res, probas, alt, {"interpatient": split}, n_boot=n_boot, seed=seed)
    changed = int((y_beat[split["test"]] != data.y[split["test"]]).sum())
    rows = []
    for reading, by_kind in ((own, results["interpatient"]), (alt_name, res["interpatient"])):
        for k in kinds:
            r = by_kind[k]
            rows.append(
                {"reading": reading, "model": k, "DS2 labels changed": changed if reading == alt_name else 0}
                | {m: r.get(m) for m in ("nonsinus_f1", "roc_auc_nonsinus")}
                | {f"{m}_ci": _rounded(r.get(f"{m}_ci")) for m in ("nonsinus_f1", "roc_auc_nonsinus")}
            )
    return pd.DataFrame(rows)


RHYTHM_METRICS = ("nonsinus_f1", "roc_auc_nonsinus", "pr_auc_nonsinus", "accuracy", "macro_f1")


@dataclass
class RhythmStudy:
    runs: pd.DataFrame  # one row per (variant, seed): test metrics on DS2 and fit seconds
    summary: pd.DataFrame  # one row per variant (+ the RR-only forest): mean over seeds with record-bootstrap CIs
    paired: pd.DataFrame  # differences (mean over seeds) vs the RR-only forest and vs one beat, paired resamples


#: how the rhythm study names a non-default RR reading
READING_LABELS = {"past": "past-only RR", "raw": "RR in seconds", "record": "RR per record mean"}
FLOOR = "RR + irregularity forest (floor)"


def _variant(kind: str, k: int, feats: bool, reading: str | None = None) -> str:
    name = f"{kind}, {k} beat{'s' if k > 1 else ''}, {'signal + features' if feats else 'signal only'}"
    return name + (f", {READING_LABELS[reading]}" if reading else "")


def _floor(reading: str | None) -> str:
    return FLOOR + (f", {READING_LABELS[reading]}" if reading else "")


def rhythm_study(
    data: EcgInputs,
    split: dict,
    *,
    variants,
    seeds,
    model_kw: dict,
    floor_proba: np.ndarray,
    max_train: int | None,
    n_boot: int,
    seed: int,
    floor_kw: dict | None = None,
    progress: bool = True,
) -> RhythmStudy:
    """Does the network see rhythm across patients, and what do the features add? Each ``variants`` entry
    ``[kind, k, features]`` is a Keras kind trained on the inter-patient split (DS1, early stopping on held-out DS1
    records) with input context k (the beat and its k-1 predecessors in the same record: past only, as a real-time
    monitor would see them; the recurrent layer runs across the k beats), hybrid (+ hand-crafted features) or
    standalone (the signal alone), over ``seeds``; scored on DS2 (never subsampled). ``model_kw``: the Keras
    settings every kind shares. ``floor_proba``: the RR-only forest's DS2 probabilities.
    ``max_train``: a stratified cap on the training beats of this study (None/0: the split's training part).
    An optional 4th entry names another RR reading of the features (lib.ecg.features.RR_READINGS, e.g. ``past``:
    every feature of beat i reads beats <= i only; with k > 1 the k beats end at beat i, so the input holds no
    later beat, only the window's fixed ~0.44 s after R); for each such reading the RR-only forest is refitted on
    it (``floor_kw``, seed ``seed``) and paired with its variants, and each variant is paired with the same
    variant in the data's reading (what the restriction costs).

    CIs: record-level bootstrap of the mean over seeds; every variant and the floor use the same resamples,
    so the differences are paired.
    """
    from dataclasses import replace

    from tqdm import tqdm

    from lib.ecg.bootstrap import paired_difference, percentile_interval, seed_mean_replicates

    if data.X.ndim != 2:
        raise ValueError(f"rhythm_study builds its own beat runs: give one-beat windows (n, L), got {data.X.shape}")
    tr = _cap(split["train"], data.y, max_train, seed)
    sp = {**split, "train": tr}
    te = split["test"]
    y = data.y[te]
    base = data.settings.get("rr_features", "record")

    def reading_of(v) -> str | None:  # None = the data's own reading
        r = str(v[3]) if len(v) > 3 else base
        ecg_features.rr_names(r)
        return None if r == base else r

    variants = [(str(v[0]), int(v[1]), bool(v[2]), reading_of(v)) for v in variants]
    inputs = {r: data if r is None else with_rr_reading(data, r) for r in {v[3] for v in variants}}
    jobs = [(*v, s) for v in variants for s in seeds]
    rows, probas = [], {}
    for kind, k, f, r, s in tqdm(jobs, desc="rhythm study", **ecg_data.progress_kw(progress)):
        X = data.X if k == 1 else data.X[context_index(data.record, data.beats.sample, k)]
        dk = replace(inputs[r], X=X)
        _, proba, secs = fit_predict(kind, dk, sp, seed=int(s), use_features=f, model_kw=model_kw)
        probas.setdefault(_variant(kind, k, f, r), []).append(proba)
        res = score_predictions(y, proba, data.class_names, data.task)
        rows.append(
            {"variant": _variant(kind, k, f, r), "kind": kind, "context_beats": k, "features": f}
            | {"rr_features": r or base, "seed": int(s)}
            | {m: res.get(m) for m in RHYTHM_METRICS}
            | {"n_train": int(tr.size), "fit_seconds": secs}
        )
    runs = pd.DataFrame(rows)
    floors = {FLOOR: [floor_proba]}
    for r in sorted(r for r in inputs if r is not None):  # the floor in every other reading, on the study's split
        if floor_kw is None:
            raise ValueError(f"rhythm_study needs floor_kw to refit the RR-only forest on the {r!r} reading")
        floors[_floor(r)] = [fit_predict("rr_forest", inputs[r], split, seed=seed, model_kw=floor_kw)[1]]
    reps = seed_mean_replicates(y, {**probas, **floors}, data.record[te], n_boot=n_boot, seed=seed)
    point = {v: runs[runs.variant == v][list(RHYTHM_METRICS)].mean().to_dict() for v in probas}
    for v, (p,) in floors.items():
        point[v] = {m: score_predictions(y, p, data.class_names, data.task).get(m) for m in RHYTHM_METRICS}
    for v in floors:  # the floor decides non-sinus only: its 4-class scores are not defined
        point[v] = {**point[v], "accuracy": None, "macro_f1": None}
    summary = pd.DataFrame(
        [
            {"variant": v, "seeds": len(probas.get(v, [None]))}
            | {m: point[v][m] for m in RHYTHM_METRICS}
            | {
                f"{m}_ci": _rounded(percentile_interval(reps[v][m], 0.95))
                for m in ("nonsinus_f1", "roc_auc_nonsinus", "pr_auc_nonsinus")
            }
            for v in [*probas, *floors]
        ]
    )
    keys = {(c, k, f, r) for c, k, f, r in variants}
    pairs = (
        [(_variant(*v), _floor(v[3])) for v in dict.fromkeys(variants)]
        + [(_variant(c, k, f, r), _variant(c, 1, f, r)) for c, k, f, r in variants if k != 1 and (c, 1, f, r) in keys]
        + [
            (_variant(c, k, True, r), _variant(c, k, False, r))
            for c, k, f, r in variants
            if f and (c, k, False, r) in keys
        ]
        + [(_variant(c, k, f, r), _variant(c, k, f)) for c, k, f, r in variants if r and (c, k, f, None) in keys]
        + [(v, FLOOR) for v in floors if v != FLOOR]
    )
    paired = pd.DataFrame(
        [
            {"a": a, "b": b, "metric": m}
            | _with_rounded_ci(paired_difference(reps[a][m], reps[b][m], point[a][m] - point[b][m]))
            for a, b in pairs
            for m in ("nonsinus_f1", "roc_auc_nonsinus")
        ]
    )
    return RhythmStudy(runs, summary, paired)


def write_rhythm(study: RhythmStudy, out: Outputs) -> pd.DataFrame:
    """Write the rhythm study's tables, print its generated reading; returns the summary for display."""
    out.tables({"rhythm_runs": study.runs, "rhythm_summary": study.summary, "rhythm_paired": study.paired})
    print(rhythm_reading(study))
    return study.summary.round(3)


def write_fuzzy(controller, out: Outputs) -> pd.DataFrame:
    """The fuzzy controller's membership functions (figure) and rule base (table, returned for display)."""
    out.figure(controller.plot_memberships(), "fuzzy_membership_functions")
    return out.table(controller.rule_table(), "fuzzy_rule_base")


def _rounded(ci: list[float] | None) -> list[float] | None:
    return [round(v, 4) for v in ci] if ci else None


def _with_rounded_ci(d: dict) -> dict:
    return {**d, "ci": _rounded(d["ci"])}


def rhythm_reading(study: RhythmStudy) -> str:
    """Generated sentences: each variant vs the RR-only floor and longer context vs one beat (paired CIs)."""
    lines = []
    for r in study.paired.itertuples():
        lo, hi = r.ci if r.ci else (float("nan"), float("nan"))
        verdict = "higher" if lo > 0 else ("lower" if hi < 0 else "not distinguishable")
        lines.append(
            f"{r.a} minus {r.b}, {r.metric}: {r.diff:+.3f} [95% CI {lo:+.3f} to {hi:+.3f}], p = {r.p:.3f} -> {verdict}."
        )
    return "\n".join(lines)


def aami_benchmark(data: EcgInputs, split: dict, seed: int, model_kw: dict, kinds=AAMI_KINDS, *, hgb_iter: int = 200):
    """AAMI EC57 beat classes N/S/V/F/Q, DS1 -> DS2, for ``kinds`` (the CNN-BiLSTM + features and the Random Forests
    on features + window and on RR only; ``model_kw``: {kind: make_classifier kwargs}) and the class-balanced
    feature models of lib.ecg.aami (trained on all DS1 beats).

    Returns (per-class table: sensitivity Se, positive predictivity +P, F1, support per model and class;
    {model: confusion counts DataFrame}; {model: classification summary}).
    """
    from dataclasses import replace

    from lib.ecg import aami as ecg_aami

    aami = replace(data, y=data.beats.aami, class_names=list(ecg_data.AAMI_CLASSES), task="aami")
    fitted = {kind: fit_predict(kind, aami, split, seed=seed, model_kw=model_kw.get(kind))[1:] for kind in kinds}
    fitted |= ecg_aami.fit_feature_models(aami.F, aami.y, split, seed=seed, hgb_iter=hgb_iter)
    rows, cms, summaries = [], {}, {}
    y = aami.y[split["test"]]
    for kind, (proba, secs) in fitted.items():
        summaries[kind] = {**score_predictions(y, proba, aami.class_names, "aami"), "fit_seconds": secs}
        cms[kind] = confusion(y, proba, aami.class_names)
        rows += [
            {"model": kind, "class": c, "Se": v["recall"], "+P": v["precision"], "F1": v["f1"], "support": v["support"]}
            for c, v in summaries[kind]["per_class"].items()
        ]
    return pd.DataFrame(rows), cms, summaries


def claims_block(results: dict, savings: dict, floor: dict, paper_split: str = "random") -> dict:
    """The values the claims of claims.yaml read (``claims.*``): ODAL on ``paper_split`` plus inter-patient.
    ``savings``: {split: ALAnalysis.saving} of the AL study's splits (None where a split had no study); ``floor``:
    the RR + irregularity floor's DS2 row of the rhythm study (lib.ecg.rhythm_study, primary reading)."""
    none = {"saving_vs_random": None, "saving_vs_random_ci": None, "auc_minus_random": None}
    paper_al = savings.get(paper_split, {}).get("odal", {**none, "auc_minus_random_ci": None})
    inter_al = savings.get("interpatient", {}).get("odal", {**none, "auc_minus_random_ci": None})
    odal = results[paper_split]["odal"]
    baseline_acc = {k: results[paper_split][k]["accuracy"] for k in BASELINES}
    inter = results["interpatient"]["odal"]
    rr = floor
    return {
        "accuracy": odal["accuracy"],
        "nonsinus_f1": odal["nonsinus_f1"],
        "roc_auc": odal["roc_auc_nonsinus"],
        "roc_auc_ovr_macro": odal["roc_auc_ovr_macro"],
        "annotation_saving": paper_al["saving_vs_random"],
        "annotation_saving_ci": paper_al["saving_vs_random_ci"],
        "al_auc_minus_random": paper_al["auc_minus_random"],
        "al_auc_minus_random_ci": paper_al["auc_minus_random_ci"],
        "interpatient_annotation_saving": inter_al["saving_vs_random"],
        "interpatient_annotation_saving_ci": inter_al["saving_vs_random_ci"],
        "interpatient_al_auc_minus_random": inter_al["auc_minus_random"],
        "interpatient_al_auc_minus_random_ci": inter_al["auc_minus_random_ci"],
        "odal_above_baselines": bool(odal["accuracy"] > max(baseline_acc.values())),
        "interpatient_accuracy": inter["accuracy"],
        "interpatient_nonsinus_f1": inter["nonsinus_f1"],
        "interpatient_roc_auc": inter["roc_auc_nonsinus"],
        **{f"{k}_ci": odal.get(f"{m}_ci") for k, m in CLAIM_METRICS.items()},
        **{f"interpatient_{k}_ci": inter.get(f"{m}_ci") for k, m in CLAIM_METRICS.items()},
        "interpatient_pr_auc": inter["pr_auc_nonsinus"],
        "interpatient_floor_nonsinus_f1": rr["nonsinus_f1"],
        "interpatient_floor_roc_auc": rr["roc_auc_nonsinus"],
        "interpatient_odal_beats_rr_floor": bool(
            inter["nonsinus_f1"] > rr["nonsinus_f1"] and inter["roc_auc_nonsinus"] > rr["roc_auc_nonsinus"]
        ),
    }


def claims_table(claims: dict, paper: dict) -> pd.DataFrame:
    """Paper value (claims.yaml, via lib.core.report.paper_values) beside ours, one row per claim id."""
    return pd.DataFrame(
        [{"claim": cid, "paper": value, "ours": claims.get(cid.removeprefix("nb01_"))} for cid, value in paper.items()]
    )


def run_meta(
    source,
    run: str,
    data: EcgInputs,
    studies: dict,
    t_start: float,
    *,
    model_seed: int,
    max_train: int,
    max_val: int,
    max_test: int,
    saving_fraction: float,
) -> dict:
    """The metrics ``meta`` block: data provenance (lib.core.provenance), configuration, counts, runtime.

    Window/filter settings come from ``data.settings``, the AL settings from ``studies`` ({split: ALStudy}, the
    whole-study splits first); caps of 0 mean none.
    """
    full = [s for s, st in studies.items() if len(st.reference)]
    study = studies[full[0]]
    cfg = study.configs["odal"]
    st = data.settings
    return {
        **source.meta(),
        "config": run,
        "seeds": list(study.seeds),
        "model_seed": model_seed,
        "split": "random 70/15/15 beats (claims) and inter-patient DS1/DS2; patient-grouped CV (201+202 one patient)",
        "label_reading": st.get("label_reading"),
        "task": data.task,
        "n_windows": len(data),
        "n_records": int(np.unique(data.record).size),
        "skipped_beats": dict(data.beats.skipped),
        "subsampling": {
            "max_train": max_train,
            "max_val": max_val,
            "max_test_random_split": max_test,
            **study.caps,
            "interpatient_test": "all DS2 beats (never subsampled)",
        },
        "filter": f"Butterworth band-pass 0.5-40 Hz, design order {st['filter_order']}, zero-phase sosfiltfilt",
        "window": {k: st[k] for k in ("before", "after", "decimate", "context_beats", "peaks")},
        "rr_features": st.get("rr_features"),
        "al": {
            "seed_size": cfg.seed_size,
            "batch": cfg.batch_size,
            "budget": cfg.budget,
            "epochs_per_round": study.epochs_per_round,
            "splits": full,
            "saving_metric": "test non-sinus F1",
            "weights": "reset to the seed's initial weights every round",
            "reference": "the same recipe trained on the whole pool, per seed",
            "validation_labels_counted": True,
            "saving_fraction": saving_fraction,
        },
        "runtime_s": time.perf_counter() - t_start,
    }


def metrics_block(
    meta: dict,
    claims: dict,
    results: dict,
    tables: dict,
    analyses: dict,
    counts,
    aami: dict | None = None,
    rhythm: RhythmStudy | None = None,
    readings: pd.DataFrame | None = None,
    extra: dict | None = None,
) -> dict:
    """The notebook's metrics file: meta, claims, per-model results, split inflation, CV, AL ({split: ALAnalysis}),
    class counts,
    the AAMI benchmark and the rhythm (input context) study."""
    return {
        "meta": meta,
        "claims": claims,
        "models": results,
        "split_inflation": tables["random_vs_interpatient"].to_dict("records"),
        "active_learning": {
            split: {
                "protocol": analysis.protocol,
                "metric": "test non-sinus F1",
                "reference_macro_f1": analysis.full_f1,
                "reference_nonsinus_f1": analysis.full_ns,
                "summary": analysis.saving_table.to_dict("records"),
                "per_seed": analysis.per_seed.to_dict("records"),
                "final": analysis.ablation.to_dict("records"),
            }
            for split, analysis in analyses.items()
        },
        "class_counts": counts.to_dict("records"),
        "aami_benchmark": aami or {},
        "rhythm_study": {"summary": rhythm.summary.to_dict("records"), "paired": rhythm.paired.to_dict("records")}
        if rhythm is not None
        else {},
        "label_readings": readings.to_dict("records") if readings is not None else [],
    } | (extra or {})


def class_counts_table(data: EcgInputs, splits: dict) -> pd.DataFrame:
    """Per split part: task-class counts, total, n_records and the AAMI class counts (``*_aami`` on clashes)."""
    from dataclasses import replace

    counts = split_counts(data, splits)
    aami = split_counts(replace(data, y=data.beats.aami, class_names=ecg_data.AAMI_CLASSES), splits)
    return counts.merge(aami.drop(columns=["total", "n_records"]), on=["split", "part"], suffixes=("", "_aami"))


def describe_inputs(data: EcgInputs) -> str:
    """A few lines: windows, records, input shape, skipped beats, rhythm and AAMI class counts."""
    n_rhythm = np.bincount(data.beats.rhythm, minlength=len(ecg_data.RHYTHM_CLASSES)).tolist()
    n_aami = np.bincount(data.beats.aami, minlength=len(ecg_data.AAMI_CLASSES)).tolist()
    return "\n".join(
        [
            f"{len(data)} windows from {len(np.unique(data.record))} records; model input shape {data.window_shape}, "
            f"{data.F.shape[1]} hand-crafted features",
            f"skipped beats by reason: {dict(data.beats.skipped)}",
            f"rhythm classes: {dict(zip(ecg_data.RHYTHM_CLASSES, n_rhythm))}",
            f"AAMI classes: {dict(zip(ecg_data.AAMI_CLASSES, n_aami))}",
        ]
    )


def add_headline_odal(results: dict, probas: dict, studies: dict) -> None:
    """Put the studies' headline ODAL models beside the fully supervised ones (``results[split]["odal"]``)."""
    for study in studies.values():
        for split, res in study.results.items():
            results[split]["odal"] = res
            probas[split]["odal"] = study.probas[split]


def describe_al_runs(studies: dict) -> str:
    """One line per split: what ran there, and the labels the headline ODAL model used out of its pool."""
    lines = []
    for st in studies.values():
        what = f"{len(st.configs)} strategies x {len(st.seeds)} seeds + reference" if len(st.reference) else "ODAL only"
        for split, res in st.results.items():
            pool = len(st.sets[split]["y_pool"])
            lines.append(f"{split} ({what}): ODAL used {res['labels_used']} labels of a pool of {pool}")
    return "\n".join(lines)


def _with_ci(res: dict, metric: str) -> str:
    value, ci = res.get(metric), res.get(f"{metric}_ci")
    if value is None:
        return "n/a"
    return f"{value:.3f}" + (f" [95% CI {ci[0]:.3f}-{ci[1]:.3f}]" if ci else "")


def interpretation(results: dict, source) -> str:
    """Generated sentences on the headline: ODAL and the full CNN-BiLSTM across patients vs the RR-only floor,
    and the paper's intra-patient split beside it (every number read from ``results``)."""
    inter, rand = results["interpatient"], results["random"]
    lines = [f"Data: {source.stamp}."]
    for k, name in (("odal", "ODAL"), ("cnn_bilstm", "CNN-BiLSTM (full supervision)"), ("rr_forest", "RR-only forest")):
        r = inter[k]
        lines.append(
            f"Across patients (DS1 -> DS2) {name}: non-sinus F1 {_with_ci(r, 'nonsinus_f1')}, "
            f"ROC-AUC {_with_ci(r, 'roc_auc_nonsinus')}, PR-AUC {_with_ci(r, 'pr_auc_nonsinus')}."
        )
    for k, name in (("odal", "ODAL"), ("cnn_bilstm", "the full CNN-BiLSTM")):
        beats = [m for m in ("nonsinus_f1", "roc_auc_nonsinus") if (inter[k][m] or 0) > (inter["rr_forest"][m] or 0)]
        verdict = "beats" if len(beats) == 2 else ("beats only on " + beats[0] if beats else "does not beat")
        lines.append(f"{name} {verdict} the RR-only floor across patients (non-sinus F1 and ROC-AUC).")
    lines.append(
        f"Under the paper's random beat split (intra-patient, optimistic) ODAL reaches non-sinus F1 "
        f"{_with_ci(rand['odal'], 'nonsinus_f1')} and ROC-AUC {_with_ci(rand['odal'], 'roc_auc_nonsinus')}."
    )
    return "\n".join(lines)


# ------------------------------------------------------------------ generated readings (Markdown, values only)
def _bullets(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


def _ci_text(ci) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return ""
    return f" [95% CI {ci[0]:+.3f} to {ci[1]:+.3f}]"


def _verdict(ci) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return "no interval"
    return "higher" if ci[0] > 0 else ("lower" if ci[1] < 0 else "not distinguishable")


def headline_reading(results: dict, source) -> str:
    """:func:`interpretation` as Markdown bullets (for IPython.display.Markdown)."""
    return _bullets(interpretation(results, source).split("\n"))


def rhythm_summary_reading(study: RhythmStudy) -> str:
    """Markdown: the best network vs the RR-only floor, and what the past-only (real-time) features cost, read
    from the paired differences of the rhythm study (every number from ``study``)."""
    p, lines = study.paired, []
    floor = p[p["b"].str.startswith(FLOOR) & ~p["a"].str.startswith(FLOOR)]
    for metric, label in (("nonsinus_f1", "non-sinus F1"), ("roc_auc_nonsinus", "ROC-AUC")):
        m = floor[floor.metric == metric]
        if m.empty:
            continue
        best = m.loc[m["diff"].idxmax()]
        above = [r.a for r in m.itertuples() if _verdict(r.ci) == "higher"]
        lines.append(
            f"{label}: the best network vs its floor is {best.a} ({best['diff']:+.3f}{_ci_text(best.ci)}); "
            + (f"above the floor with a CI excluding 0: {', '.join(above)}." if above else "no network is above the "
               "RR-only floor with a CI excluding 0.")
        )  # fmt: skip
    past = p[p["a"].str.contains(READING_LABELS["past"]) & ~p["b"].str.contains(READING_LABELS["past"])]
    for r in past.itertuples():
        if r.b.startswith(FLOOR) and r.a.startswith(FLOOR):
            what = "the RR-only forest on past-only RR minus the forest on the default RR features"
        elif r.b.startswith(FLOOR):
            continue
        else:
            what = f"{r.a} minus the same network on the default features"
        lines.append(f"Real-time cost, {r.metric}: {what}: {r.diff:+.3f}{_ci_text(r.ci)} -> {_verdict(r.ci)}.")
    lines.append("Differences are paired (the same record-bootstrap resamples); the lines printed above list them all.")
    return _bullets(lines)


def aami_reading(table: pd.DataFrame) -> str:
    """Markdown: per AAMI class, the model with the highest F1 on DS2 and every model's Se / +P (from ``table``)."""
    lines = []
    for c, g in table.groupby("class", sort=False):
        if not g["support"].sum():
            continue
        best = g.loc[g["F1"].idxmax()]
        each = "; ".join(f"{r['model']} Se {r['Se']:.3f} / +P {r['+P']:.3f}" for r in g.to_dict("records"))
        lines.append(f"{c} ({int(best.support)} DS2 beats): best F1 {best.F1:.3f} ({best.model}); {each}.")
    return _bullets(lines)


def al_reading(al: ALAnalysis, strategies=("odal", "odal_no_fuzzy", "bald", "entropy", "margin")) -> str:
    """Markdown: the protocol, ODAL's label saving and learning-curve AUC vs random (t-intervals over seeds), the
    strategies that beat random, and the fuzzy controller's effect (ODAL with vs without it)."""
    st, lines = al.saving, [f"Protocol: {al.protocol}."]
    lines.append(
        f"Reference (the same recipe on the whole pool, mean over seeds): non-sinus F1 {al.full_ns:.3f} (decides; "
        f"macro-F1 {al.full_f1:.3f}, shown only)."
    )
    first = al.curves_ns.get("random")
    if (
        first is not None
        and len(first) > 1
        and float(first["mean"].iloc[1]) >= al.per_seed.attrs.get("fraction", 0.95) * al.full_ns
    ):
        lines.append(
            f"Random sampling already reaches the target at {int(first['n_labels'].iloc[1])} labels: the reference is "
            "flat early, so a label saving is **not measurable in this setting**."
        )
    n_random = st["random"]["seeds_reaching_target"] if "random" in st else 0
    for m in [s for s in strategies if s in st]:
        r = st[m]
        sv, paired = r.get("saving_vs_random"), r.get("seeds_paired", 0)
        if sv is None or not np.isfinite(sv):
            saving = f"not estimable (both curves reach the target in {paired} seed{'s' * (paired != 1)}; two needed)"
        else:
            saving = f"{sv:+.3f}{_ci_text(r.get('saving_vs_random_ci'))} over {paired} seeds"
        lines.append(
            f"{m}: label saving vs random {saving} ({m} reaches the target in {r['seeds_reaching_target']} of "
            f"{r['n_seeds']} seeds, random in {n_random}); "
            f"curve AUC minus random {r['auc_minus_random']:+.3f}{_ci_text(r.get('auc_minus_random_ci'))} "
            f"-> {_verdict(r.get('auc_minus_random_ci'))}."
        )
    lines += fuzzy_effect_lines(al.per_seed)
    return _bullets(lines)


FUZZY_PARTS = {"odal": "the whole controller", "odal_query_control": "query control only",
               "odal_training_control": "learning-rate/dropout control only"}  # fmt: skip


def fuzzy_effect_lines(per_seed: pd.DataFrame) -> list[str]:
    """The fuzzy controller's effect: per part (``FUZZY_PARTS``), its curve AUC minus ODAL without the controller,
    paired by seed, with a 95% t-interval over seeds (``per_seed``: rows method, seed, auc)."""
    if per_seed.empty or "odal_no_fuzzy" not in set(per_seed["method"]):
        return []
    auc = per_seed.pivot(index="seed", columns="method", values="auc")
    lines = []
    for m, what in FUZZY_PARTS.items():
        if m not in auc:
            continue
        d = (auc[m] - auc["odal_no_fuzzy"]).dropna().to_numpy(dtype=float)
        ci = seed_interval(d)
        lines.append(
            f"Fuzzy controller, {what}: curve AUC minus ODAL without it {d.mean():+.3f}{_ci_text(ci)} over "
            f"{d.size} seeds -> {_verdict(ci)}."
        )
    return lines


def label_readings_text(table: pd.DataFrame) -> str:
    """Markdown: per model, non-sinus F1 and ROC-AUC under the two label readings (from ``table``)."""
    lines = []
    for m, g in table.groupby("model", sort=False):
        e, b = g.iloc[0], g.iloc[1]
        lines.append(
            f"{m}: non-sinus F1 {e.nonsinus_f1:.3f} ({e.reading} reading) vs {b.nonsinus_f1:.3f} ({b.reading}), "
            f"ROC-AUC {e.roc_auc_nonsinus:.3f} vs {b.roc_auc_nonsinus:.3f}; {int(b['DS2 labels changed'])} DS2 labels "
            "change."
        )
    return _bullets(lines)
