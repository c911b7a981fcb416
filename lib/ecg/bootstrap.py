"""Record-level bootstrap 95% confidence intervals (patients, not beats, are the sampling unit).

Beats of one record are correlated, so a beat-level bootstrap understates the uncertainty of an
inter-patient score. Here each bootstrap replicate draws the test RECORDS with replacement; a beat's
weight is the number of times its record was drawn, and every metric is the weighted one:

- ``accuracy``, ``macro_f1`` (over ``n_classes``), ``nonsinus_f1`` (class 0 = sinus vs the rest)
  from weighted confusion counts;
- ``roc_auc_nonsinus`` (weighted Mann-Whitney statistic, ties counted one half) and
  ``pr_auc_nonsinus`` (average precision, sklearn's step definition) of the score P(non-sinus) = 1 - p0.

All replicates are computed at once from the sorted scores (vectorised); the tests check each metric
against sklearn with the same sample weights. Replicates whose test set lacks a class give NaN for the
AUCs and are left out of that interval.
"""

from __future__ import annotations

import numpy as np

METRICS = ("accuracy", "macro_f1", "nonsinus_f1", "roc_auc_nonsinus", "pr_auc_nonsinus")


def _f1(tp, fp, fn):
    den = 2 * tp + fp + fn
    return np.where(den > 0, 2 * tp / np.where(den > 0, den, 1), 0.0)


def weighted_scores(y: np.ndarray, proba: np.ndarray, W: np.ndarray) -> dict[str, np.ndarray]:
    """Every METRICS entry for each weight row. y: (n,) int; proba: (n, c); W: (B, n) beat weights -> {m: (B,)}."""
    y = np.asarray(y, dtype=int)
    proba = np.asarray(proba, dtype=float)
    W = np.atleast_2d(np.asarray(W, dtype=float))
    n_classes = proba.shape[1]
    pred = proba.argmax(1)
    out = {"accuracy": (W * (pred == y)).sum(1) / W.sum(1)}
    f1s = []
    for c in range(n_classes):
        tp = (W * ((pred == c) & (y == c))).sum(1)
        fp = (W * ((pred == c) & (y != c))).sum(1)
        fn = (W * ((pred != c) & (y == c))).sum(1)
        f1s.append(_f1(tp, fp, fn))
    out["macro_f1"] = np.mean(f1s, axis=0)
    pos, ppos = y != 0, pred != 0
    out["nonsinus_f1"] = _f1((W * (ppos & pos)).sum(1), (W * (ppos & ~pos)).sum(1), (W * (~ppos & pos)).sum(1))
    score = 1.0 - proba[:, 0]
    order = np.argsort(score, kind="stable")
    s, p, Ws = score[order], pos[order], W[:, order]
    starts = np.flatnonzero(np.concatenate([[True], s[1:] != s[:-1]]))  # tie groups, ascending score
    wp = np.add.reduceat(Ws * p, starts, axis=1)  # (B, g) positive weight per group
    wn = np.add.reduceat(Ws * ~p, starts, axis=1)
    P, N = wp.sum(1), wn.sum(1)
    below = np.cumsum(wn, axis=1) - wn  # negative weight strictly below each group
    with np.errstate(invalid="ignore", divide="ignore"):
        out["roc_auc_nonsinus"] = np.where((P > 0) & (N > 0), (wp * (below + 0.5 * wn)).sum(1) / (P * N), np.nan)
        tp = np.cumsum(wp[:, ::-1], axis=1)  # thresholds from the highest score down
        fp = np.cumsum(wn[:, ::-1], axis=1)
        prec = np.where(tp + fp > 0, tp / np.where(tp + fp > 0, tp + fp, 1), 0.0)
        out["pr_auc_nonsinus"] = np.where(P > 0, (wp[:, ::-1] * prec).sum(1) / P, np.nan)
    return out


def _record_counts(record, n_boot: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(patient index of each beat (n,), draw counts per replicate and patient (n_boot, patients)), seeded.
    The clusters are patients (lib.ecg.data.patients: records 201 and 202 are one)."""
    from lib.ecg.data import patients

    record = patients(record)
    names, rec_idx = np.unique(record, return_inverse=True)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, names.size, size=(n_boot, names.size))
    return rec_idx, np.stack([np.bincount(d, minlength=names.size) for d in draws])


def percentile_interval(v: np.ndarray, level: float) -> list[float] | None:
    v = v[np.isfinite(v)]
    lo, hi = 100 * (1 - level) / 2, 100 * (1 + level) / 2
    return [float(np.percentile(v, lo)), float(np.percentile(v, hi))] if v.size else None


def record_bootstrap(
    y, proba, record, *, n_boot: int, seed: int, level: float = 0.95, chunk: int = 100
) -> dict[str, list[float]]:
    """{``<metric>_ci``: [low, high]} percentile intervals over ``n_boot`` record resamples (seeded)."""
    reps = seed_mean_replicates(y, {"m": [proba]}, record, n_boot=n_boot, seed=seed, chunk=chunk)["m"]
    return {f"{m}_ci": percentile_interval(reps[m], level) for m in METRICS}


def seed_mean_replicates(
    y, probas: dict[str, list], record, *, n_boot: int, seed: int, chunk: int = 100
) -> dict[str, dict[str, np.ndarray]]:
    """{variant: {metric: (n_boot,)}}: each METRICS entry averaged over a variant's seeds (its list of (n, c)
    probabilities), on the SAME ``n_boot`` record resamples for every variant (so differences are paired)."""
    rec_idx, counts = _record_counts(record, n_boot, seed)
    out = {v: {m: [] for m in METRICS} for v in probas}
    for start in range(0, n_boot, chunk):
        W = counts[start : start + chunk][:, rec_idx]
        for v, ps in probas.items():
            scores = [weighted_scores(y, p, W) for p in ps]
            for m in METRICS:
                out[v][m].append(np.mean([sc[m] for sc in scores], axis=0))
    return {v: {m: np.concatenate(r) for m, r in by_m.items()} for v, by_m in out.items()}


def paired_difference(a: np.ndarray, b: np.ndarray, point: float, level: float = 0.95) -> dict:
    """Replicates of A and B on the same resamples -> {'diff': point, 'ci': [lo, hi], 'p': two-sided bootstrap p}
    (p = twice the smaller share of replicate differences on either side of zero, at most 1)."""
    d = np.asarray(a) - np.asarray(b)
    d = d[np.isfinite(d)]
    p = float(min(1.0, 2 * min((d <= 0).mean(), (d >= 0).mean()))) if d.size else float("nan")
    return {"diff": float(point), "ci": percentile_interval(d, level), "p": p}
