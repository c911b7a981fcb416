"""Notebook-01 headline: the paper's models on both splits, scores and thresholds, comparison/inflation tables,
confusions, ODAL vs baselines at equal labels, both label readings, the AAMI benchmark, patient-bootstrap CIs.

Evaluation of the rhythm task (RHYTHM_CLASSES, class 0 = sinus) adds the binary non-sinus view: P(non-sinus) =
1 - P(sinus); prediction non-sinus iff the arg-max class is not sinus."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from lib.core.metrics import classification_summary, confusion_frame
from lib.core.outputs import Outputs
from lib.ecg import data as ecg_data
from lib.ecg.inputs import EcgInputs, _cap, model_features
from lib.ecg.readings import READINGS, rhythm_labels


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


def confusion_pattern(
    data: EcgInputs, split: dict, probas: dict, kinds=("odal", "cnn_bilstm"), seed: int | None = None
) -> str:
    """Markdown: where each true rhythm class goes (arg-max) on the split's test part, for ``kinds``; names the
    class that takes most AF/flutter beats; ``seed``: the one seed ``probas`` come from, named on every line."""
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
            f"- {'' if seed is None else f'seed {seed}, '}{k}: of {int((y == af).sum()):,} AF/flutter test beats, "
            + ", ".join(f"{int(c):,} are predicted {n}" for n, c in zip(names, counts))
            + f" (most go to {top}); of {int((y == 0).sum()):,} sinus beats {int(sin[1:].sum()):,} are predicted "
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


# ------------------------------------------------------------------ notebook steps (tables, studies, metrics)
MODEL_KINDS = ("cnn_bilstm", "cnn", "lstm", "cnn_lstm", "random_forest", "rr_forest")


AAMI_KINDS = ("cnn_bilstm", "random_forest", "rr_forest")


BASELINES = ("cnn", "lstm", "cnn_lstm", "random_forest")


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
    """{title: confusion DataFrame} of ODAL and the fully supervised CNN-BiLSTM on each split's test part (the title
    names the CNN-BiLSTM's training beats: "full" supervision, not the full data)."""
    out = {}
    for model, label in (("odal", "ODAL, {s} split"), ("cnn_bilstm", "CNN-BiLSTM supervised {n} beats, {s}")):
        for s in splits:
            name = label.format(s=s, n=int(splits[s]["train"].size))
            out[name] = confusion(data.y[splits[s]["test"]], probas[s][model], data.class_names)
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
    return alt, rhythm_labels(
        data.beats.rhythm, data.beats.rhythm_string, data.beats.aami, alt, record=data.beats.record
    )


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


def _rounded(ci: list[float] | None) -> list[float] | None:
    return [round(v, 4) for v in ci] if ci else None


def _with_rounded_ci(d: dict) -> dict:
    return {**d, "ci": _rounded(d["ci"])}


@dataclass
class AamiStudy:
    table: pd.DataFrame  # per model and class: Se, +P, F1, support (DS2)
    cms: dict  # {model: confusion counts DataFrame}
    summaries: dict  # {model: classification summary}
    probas: dict  # {model: (n_test, 5) DS2 probabilities}
    y: np.ndarray  # DS2 AAMI classes
    record: np.ndarray  # DS2 record of each beat
    hgb_choice: pd.DataFrame  # hgb_balanced iterations: DS1 inner-CV scores per candidate
    hgb_iter: int  # the DS1-chosen iterations


def aami_benchmark(
    data: EcgInputs, split: dict, seed: int, model_kw: dict, kinds=AAMI_KINDS, *, hgb: dict
) -> AamiStudy:
    """AAMI EC57 beat classes N/S/V/F/Q, DS1 -> DS2, for ``kinds`` (the CNN-BiLSTM + features and the Random Forests
    on features + window and on RR only; ``model_kw``: {kind: make_classifier kwargs}) and the class-balanced
    feature models of lib.ecg.aami (trained on all DS1 beats); ``hgb``: {'iters': candidate boosting iterations,
    'inner_k'}: hgb_balanced's iterations chosen by inner patient-grouped CV on DS1 (lib.ecg.aami.choose_hgb_iter).
    """
    from dataclasses import replace

    from lib.ecg import aami as ecg_aami

    aami = replace(data, y=data.beats.aami, class_names=list(ecg_data.AAMI_CLASSES), task="aami")
    ds1 = np.sort(np.concatenate([split["train"], split["val"]]))
    hgb_iter, choice = ecg_aami.choose_hgb_iter(
        aami.F, aami.y, ds1, data.record, iters=hgb["iters"], inner_k=hgb["inner_k"], seed=seed
    )
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
    probas = {k: p for k, (p, _) in fitted.items()}
    return AamiStudy(pd.DataFrame(rows), cms, summaries, probas, y, data.record[split["test"]], choice, hgb_iter)
