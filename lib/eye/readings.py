"""Scores of the out-of-fold predictions with 95% CIs that include retraining: a seeds x group bootstrap.

Per-class readings of the paper's Table 2 (it does not say which it uses): ``recall`` = TP / (TP + FN);
``one_vs_rest`` = (TP + TN) / N of the class-vs-rest problem; ``confidence`` = mean predicted probability of the
true class over the class's images (the paper's app shows a per-image confidence; not for the SOM classifier,
whose output is a label).

Bootstrap (:func:`replicates`): replicate b draws one seed s_b uniformly from the protocol's seeds (one complete
retraining of every model: its folds, SOMs and networks) and resamples the groups (linked groups: a patient's eyes
with every augmented copy of them) with replacement, weighting each image by its group's number of draws. A
score's CI is the 2.5 / 97.5 percentiles of the score of run s_b under weights w_b, so it holds the test-sample
and the retraining variability; with one seed it is a group bootstrap only. The point value is the mean over
seeds. Differences between models (or protocols) use the same (s_b, w_b): paired. A model run on fewer seeds than
the protocol (``cv.seed_models``) uses its run s_b modulo its number of seeds: with one seed its CI is a group
bootstrap of one fold assignment, without retraining variability (every label says which).
"""

from __future__ import annotations

import numpy as np

READINGS = ("recall", "one_vs_rest", "confidence")
#: models whose output is a label only (no confidence reading)
LABEL_ONLY = ("som",)


def bootstrap_weights(groups: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n) weights: each replicate draws the groups with replacement; an image's weight is its group's
    number of draws."""
    codes = np.unique(np.asarray(groups), return_inverse=True)[1]
    n_groups = int(codes.max()) + 1
    draws = np.random.default_rng(seed).integers(0, n_groups, size=(n_boot, n_groups))
    counts = np.bincount((draws + n_groups * np.arange(n_boot)[:, None]).ravel(), minlength=n_boot * n_groups)
    return counts.reshape(n_boot, n_groups)[:, codes].astype(float)


def replicates(groups: np.ndarray, n_seeds: int, n_boot: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(seed index (n_boot,), weights (n_boot, n)) of the seeds x group bootstrap."""
    w = bootstrap_weights(groups, n_boot, seed)
    s = np.random.default_rng(seed + 1).integers(0, n_seeds, size=n_boot)
    return s, w


def weighted_scores(w: np.ndarray, y: np.ndarray, pred: np.ndarray, proba, n_classes: int) -> dict:
    """Scores under weights w (n,) or (B, n); images with pred < 0 (not in the protocol) get weight 0.
    Per class (.., c): recall, one_vs_rest, confidence (None without proba); (..): accuracy, balanced_accuracy (the
    mean of the per-class recalls: free of the class mix), macro_f1 (over the classes present in y, as balanced
    accuracy: a class with no image scored, e.g. outside a same-source block, is not counted as an F1 of 0)."""
    w = w * (pred >= 0)
    Y = np.eye(n_classes)[y]
    P = np.eye(n_classes)[np.maximum(pred, 0)] * (pred >= 0)[:, None]
    correct = (pred == y).astype(float)
    tp, pos, called, total = w @ (Y * correct[:, None]), w @ Y, w @ P, w.sum(axis=-1)
    fn, fp = pos - tp, called - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {
            "recall": tp / pos,
            "one_vs_rest": 1 - (fn + fp) / total[..., None],
            "accuracy": (w @ correct) / total,
            "balanced_accuracy": np.nanmean(tp / pos, axis=-1),
            "macro_f1": np.nanmean(np.where(pos > 0, 2 * tp / (2 * tp + fn + fp), np.nan), axis=-1),
            "confidence": None,
        }
        if proba is not None:
            p_true = np.nan_to_num(proba[np.arange(len(y)), y])
            out["confidence"] = (w @ (Y * p_true[:, None])) / pos
    return out


def model_runs(runs: list[dict], model: str) -> list[dict]:
    """The runs (seeds) of ``runs`` that hold ``model`` (a model may run fewer seeds than the protocol)."""
    return [r for r in runs if model in r["pred"]]


def _scores_over(runs: list[dict], model: str, y, n_classes: int, s_idx, w) -> tuple[list[dict], dict]:
    """Point scores per seed and the bootstrap scores (replicate b: seed s_idx[b] modulo the model's number of
    seeds, weights w[b]; a model run on one seed gets a group bootstrap only)."""
    use_proba = model not in LABEL_ONLY
    runs = model_runs(runs, model)
    point, boot = [], {}
    for r in runs:
        point.append(
            weighted_scores(np.ones(len(y)), y, r["pred"][model], r["proba"][model] if use_proba else None, n_classes)
        )
    own = s_idx % len(runs)
    for i, r in enumerate(runs):
        sel = np.flatnonzero(own == i)
        if not len(sel):
            continue
        sc = weighted_scores(w[sel], y, r["pred"][model], r["proba"][model] if use_proba else None, n_classes)
        for key, v in sc.items():
            if v is None:
                continue
            boot.setdefault(key, np.full((len(s_idx), *v.shape[1:]), np.nan))[sel] = v
    return point, boot


def _ci(v: np.ndarray) -> list[float]:
    return [float(x) for x in np.nanpercentile(v, [2.5, 97.5], axis=0)]


def readings(runs: list[dict], y, groups, classes: list[str], n_boot: int, seed: int, refs=()) -> dict:
    """Every model's pooled out-of-fold scores (mean over the seeds of ``runs``) with seeds x group bootstrap CIs.

    Returns {model: {reading: {class: v, class_ci, "mean", "mean_ci"}, "accuracy", "accuracy_ci",
    "balanced_accuracy", "balanced_accuracy_ci", "macro_f1", "macro_f1_ci", "accuracy_minus_<ref>", "..._ci",
    "balanced_accuracy_minus_<ref>", "..._ci", "n_seeds", "vs_best": {"best", "accuracy", "accuracy_ci",
    "balanced_accuracy", "balanced_accuracy_ci", "tied"}}}: ``vs_best`` is the paired difference to the model with
    the highest balanced accuracy (the criterion: free of the test class mix); "tied": its 95% CI contains 0.
    """
    c = len(classes)
    s_idx, w = replicates(groups, len(runs), n_boot, seed)
    out, boot_acc, boot_bal = {}, {}, {}
    for m in runs[0]["pred"]:
        point, boot = _scores_over(runs, m, y, c, s_idx, w)
        entry = {}
        for reading in READINGS:
            if point[0][reading] is None:
                continue
            pt = np.mean([p[reading] for p in point], axis=0)
            lo, hi = np.nanpercentile(boot[reading], [2.5, 97.5], axis=0)
            entry[reading] = {cl: float(pt[i]) for i, cl in enumerate(classes)}
            entry[reading].update({f"{cl}_ci": [float(lo[i]), float(hi[i])] for i, cl in enumerate(classes)})
            entry[reading]["mean"] = float(pt.mean())
            entry[reading]["mean_ci"] = _ci(boot[reading].mean(axis=1))
        for score in ("accuracy", "balanced_accuracy", "macro_f1"):
            entry[score] = float(np.mean([p[score] for p in point]))
            entry[f"{score}_ci"] = _ci(boot[score])
        entry["n_seeds"] = len(model_runs(runs, m))
        boot_acc[m], boot_bal[m] = boot["accuracy"], boot["balanced_accuracy"]
        out[m] = entry
    best = max(out, key=lambda m: out[m]["balanced_accuracy"]) if out else None
    for m in out:
        for ref in [r for r in refs if r in out and r != m]:
            out[m][f"accuracy_minus_{ref}"] = out[m]["accuracy"] - out[ref]["accuracy"]
            out[m][f"accuracy_minus_{ref}_ci"] = _ci(boot_acc[m] - boot_acc[ref])
            out[m][f"balanced_accuracy_minus_{ref}"] = out[m]["balanced_accuracy"] - out[ref]["balanced_accuracy"]
            out[m][f"balanced_accuracy_minus_{ref}_ci"] = _ci(boot_bal[m] - boot_bal[ref])
        vs = {"best": best}
        for key, b in (("accuracy", boot_acc), ("balanced_accuracy", boot_bal)):
            vs[key] = out[m][key] - out[best][key]
            vs[f"{key}_ci"] = [0.0, 0.0] if m == best else _ci(b[m] - b[best])
        vs["tied"] = bool(m == best or vs["balanced_accuracy_ci"][1] >= 0.0)
        out[m]["vs_best"] = vs
    return out


def protocol_accuracy(runs: dict, y, clusters, models, n_boot: int, seed: int, classes, score=None) -> dict:
    """Paired comparison of protocols over all their seeds: {model: {protocol: {"accuracy", "boot",
    "balanced_accuracy", "balanced_boot", "recall", "recall_boot"}}} under the same group resamples (``clusters``:
    groups that contain every protocol's groups, e.g. the union of the old and the linked groups); replicate b also
    draws one seed of each protocol (the same uniform draw, so protocols with equal seed lists pair seed by seed);
    point values are means over seeds. ``score``: (n,) bool, the images every protocol is scored on (e.g. the
    originals: a like-for-like population); a protocol that did not score an image leaves it out."""
    w = bootstrap_weights(clusters, n_boot, seed)
    if score is not None:
        w = w * np.asarray(score, bool)
    u = np.random.default_rng(seed + 1).random(n_boot)
    ones = np.ones(len(y)) if score is None else np.asarray(score, float)
    c = len(classes)
    out = {}
    for m in models:
        out[m] = {}
        for p, rs in runs.items():
            if m not in rs[0]["pred"]:
                continue
            rs = model_runs(rs, m)
            s_idx = np.minimum((u * len(rs)).astype(int), len(rs) - 1)
            pts = [weighted_scores(ones, y, r["pred"][m], None, c) for r in rs]
            boot = {
                k: np.full((n_boot, *np.shape(pts[0][k])), np.nan) for k in ("accuracy", "balanced_accuracy", "recall")
            }
            for i, r in enumerate(rs):
                sel = np.flatnonzero(s_idx == i)
                if len(sel):
                    bt = weighted_scores(w[sel], y, r["pred"][m], None, c)
                    for k in boot:
                        boot[k][sel] = bt[k]
            out[m][p] = {
                "accuracy": float(np.mean([q["accuracy"] for q in pts])),
                "boot": boot["accuracy"],
                "balanced_accuracy": float(np.mean([q["balanced_accuracy"] for q in pts])),
                "balanced_boot": boot["balanced_accuracy"],
                "recall": np.mean([q["recall"] for q in pts], axis=0),
                "recall_boot": boot["recall"],
                "seeds": len(rs),
            }
    return out


def calibration(y: np.ndarray, proba: np.ndarray, bins: int = 15) -> dict[str, float]:
    """Brier score and expected calibration error (``bins`` equal-width bins of the top probability) over the
    images with a prediction (rows without NaN)."""
    ok = ~np.isnan(proba).any(axis=1)
    y, proba = y[ok], proba[ok]
    Y = np.eye(proba.shape[1])[y]
    top, guess = proba.max(axis=1), proba.argmax(axis=1)
    which = np.minimum((top * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            ece += m.mean() * abs((guess[m] == y[m]).mean() - top[m].mean())
    return {"brier": float(((proba - Y) ** 2).sum(axis=1).mean()), "ece": float(ece)}


def ci_text(entry: dict, key: str, scale: float = 100.0) -> str:
    lo, hi = entry[f"{key}_ci"]
    return f"{scale * entry[key]:.2f} [{scale * lo:.2f}, {scale * hi:.2f}]"
