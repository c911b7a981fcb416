"""Checks beside the rhythm study's headline (lib.ecg.rhythm_study): the binary AF/flutter-vs-rest target (no
taxonomy ambiguity), the headline with named DS2 records left out (record 202 is the DS2 half of the one patient
shared with DS1), and per-patient AF/flutter Se / +P.

Every score has a patient-bootstrap 95% CI (lib.ecg.bootstrap: DS2 patients resampled, the same resamples for every
model so differences are paired). DS2's AF/flutter beats come from few patients, so these percentile intervals rest
on few positive clusters and may under-cover: the per-patient table shows how the AF scores split by patient.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib.ecg import bootstrap as ecg_boot
from lib.ecg import rhythm as R
from lib.ecg.data import patients

#: the bootstrap module's binary metric names -> the names of this table (the positive class is the target's)
NAMES = {"nonsinus_f1": "F1", "roc_auc_nonsinus": "ROC-AUC", "pr_auc_nonsinus": "PR-AUC"}


def _keep(record, without) -> dict[str, np.ndarray]:
    """{'all': every beat, 'without record r': beats outside r's patient} (boolean masks over ``record``)."""
    rec = np.asarray(record).astype(str)
    out = {"all": np.ones(rec.size, dtype=bool)}
    pat = patients(rec)
    for r in without:
        gone = patients(np.array([str(r)]))[0]
        if not (pat == gone).any():
            raise ValueError(f"rhythm checks: record {r} is not among the DS2 records {sorted(set(rec))}")
        out[f"without record {r}"] = pat != gone
    return out


def scores(target: str, positive, fits: dict, record, *, n_boot: int, seed: int, without=()):
    """Binary ``positive`` (n,) against each model's decision score: ``fits`` {model: [(score (n,), DS1 threshold)
    per seed]}. Returns (summary: one row per (DS2 beats, model): F1 at the DS1 threshold, ROC-AUC, PR-AUC, mean
    over seeds, patient-bootstrap CIs; paired: each model minus the first one, paired resamples)."""
    positive = np.asarray(positive).astype(int)
    models = list(fits)
    rows, paired = [], []
    for beats, keep in _keep(record, without).items():
        yk, rk = positive[keep], np.asarray(record)[keep]
        probas = {m: [R.at_threshold(np.asarray(s)[keep], t) for s, t in fits[m]] for m in models}
        reps = ecg_boot.seed_mean_replicates(yk, probas, rk, n_boot=n_boot, seed=seed)
        ones = np.ones((1, yk.size))
        point, per_seed = {}, {}
        for m in models:
            pts = [ecg_boot.weighted_scores(yk, p, ones) for p in probas[m]]
            per_seed[m] = {k: [float(pt[k][0]) for pt in pts] for k in NAMES}
            point[m] = {k: float(np.mean(per_seed[m][k])) for k in NAMES}
            rows.append(
                {"target": target, "DS2 beats": beats, "model": m, "n_seeds": len(pts), "positives": int(yk.sum())}
                | {"patients with positives": int(np.unique(patients(rk[yk == 1])).size)}
                | {NAMES[k]: point[m][k] for k in NAMES}
                | {f"{NAMES[k]}_ci": ecg_boot.percentile_interval(reps[m][k], 0.95) for k in NAMES}
            )
        for m in models[1:]:
            for k in NAMES:
                d = ecg_boot.paired_difference(reps[m][k], reps[models[0]][k], point[m][k] - point[models[0]][k])
                # each seed of m minus the first model's mean over its seeds (the every-seed-same-sign rule)
                d["per_seed"] = [v - point[models[0]][k] for v in per_seed[m][k]]
                paired.append(
                    {"target": target, "DS2 beats": beats, "comparison": f"{m} - {models[0]}", "metric": NAMES[k]} | d
                )
    return pd.DataFrame(rows), pd.DataFrame(paired)


def per_patient(positive, preds: dict, record) -> pd.DataFrame:
    """Per DS2 patient with positive beats or detections: positives, and each model's Se and +P (``preds``: {model:
    boolean decisions at its DS1 threshold}); the patients with neither are summed in one last row."""
    positive = np.asarray(positive, dtype=bool)
    pat = patients(np.asarray(record).astype(str))
    rows = []
    shown = [p for p in np.unique(pat) if positive[pat == p].any() or any(d[pat == p].any() for d in preds.values())]
    rest = ~np.isin(pat, shown)
    for label, m in [(p, pat == p) for p in shown] + [("every other patient", rest)]:
        row = {"patient": label, "beats": int(m.sum()), "AF/flutter beats": int(positive[m].sum())}
        for name, d in preds.items():
            tp, det = int((d & positive & m).sum()), int((d & m).sum())
            row[f"{name} detected"] = det
            row[f"{name} Se"] = tp / int(positive[m].sum()) if positive[m].any() else None
            row[f"{name} +P"] = tp / det if det else None
        rows.append(row)
    return pd.DataFrame(rows)
