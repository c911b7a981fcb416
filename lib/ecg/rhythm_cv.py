"""Notebook 01's rhythm study, section 5: patient-grouped k-fold CV over every non-paced record (records 201 and 202
one patient), the floor and the sequence model on each fold (lib.ecg.rhythm_study re-exports :func:`patient_cv`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib.ecg import bootstrap as ecg_boot
from lib.ecg import rhythm as R
from lib.ecg.data import RHYTHM_CLASSES, patients
from lib.ecg.splits import patient_kfold

METRICS = ("nonsinus_f1", "roc_auc_nonsinus", "pr_auc_nonsinus")
AF = RHYTHM_CLASSES.index("af_flutter")


def _ci(reps, level=0.95):
    return ecg_boot.percentile_interval(np.asarray(reps), level)


def af_patients(record, y, idx) -> list[str]:
    """The patients (lib.ecg.data.patients) with AF/flutter beats among ``idx``."""
    idx = np.asarray(idx)
    af = np.asarray(y)[idx] == AF
    return sorted(set(patients(np.asarray(record)[idx][af]).tolist()))


def split_af_patients(data, split: dict) -> list[str]:
    """The AF/flutter patients of ``split``'s training and validation parts together (DS1 for the inter-patient
    split)."""
    return af_patients(data.record, data.y, np.concatenate([split["train"], split["val"]]))


def fold_pr_aucs(pos, scores: dict) -> dict:
    """One fold's non-sinus PR-AUC per model ('floor', 'sequence') and their difference (None where the fold's
    test part lacks a class): which folds drive the pooled result (review22s7 m2)."""
    from sklearn.metrics import average_precision_score

    pos = np.asarray(pos, dtype=bool)
    ok = 0 < pos.sum() < pos.size
    out = {f"{n} PR-AUC": float(average_precision_score(pos, s)) if ok else None for n, s in scores.items()}
    both = ok and {"floor", "sequence"} <= set(scores)
    out["sequence - floor PR-AUC"] = out["sequence PR-AUC"] - out["floor PR-AUC"] if both else None
    return out


def patient_cv(data, Xf, Z, *, k: int, seed: int, floor_kw: dict, seq_kw: dict, epochs: int, n_boot: int):
    """Patient-grouped k-fold CV over every beat of ``data`` (records 201 and 202 one patient): the floor and the
    sequence model (``epochs`` fixed, the number chosen on DS1) on each fold; pooled out-of-fold scores with
    patient-bootstrap CIs. No threshold is tuned inside the folds: F1 (at 0.5, far from either model's operating
    point) is shown per model but not paired; the comparison rests on ROC-AUC and PR-AUC. Returns (table, folds)."""
    y = np.asarray(data.y)
    score = {"floor": np.zeros(len(y)), "sequence": np.zeros(len(y))}
    folds = []
    for i, f in enumerate(patient_kfold(data.record, y, k=k, seed=seed)):
        tr, te = f["train"], f["test"]
        forest = R._forest(floor_kw["trees"], floor_kw["min_leaf"], seed).fit(Xf[tr], y[tr] != 0)
        score["floor"][te] = forest.predict_proba(Xf[te])[:, -1]
        Zs = R.standardise(Z, tr)
        kw = {
            k2: v
            for k2, v in seq_kw.items()
            if k2 not in ("inner_k", "max_epochs", "patience", "grid_on", "smooth_epochs")
        }
        m = R.SequenceRhythmModel(Z.shape[1], len(RHYTHM_CLASSES), data.record, seed=seed, **kw)
        for _ in range(epochs):
            m.fit_epoch(Zs, y, tr)
        score["sequence"][te] = 1.0 - m.predict(Zs, te)[:, 0]
        folds.append(
            {
                "fold": i,
                "test patients": int(np.unique(patients(data.record[te])).size),
                "test beats": int(te.size),
                "test non-sinus": int((y[te] != 0).sum()),
                "test AF": int((y[te] == AF).sum()),
                "train AF patients": len(af_patients(data.record, y, tr)),
                "test AF patients": ", ".join(af_patients(data.record, y, te)),
            }
            | fold_pr_aucs(y[te] != 0, {n: score[n][te] for n in score})
        )
    yb = (y != 0).astype(int)
    probas = {n: [R.at_threshold(s, 0.5)] for n, s in score.items()}
    reps = ecg_boot.seed_mean_replicates(yb, probas, data.record, n_boot=n_boot, seed=seed)
    rows = []
    for n, ps in probas.items():
        pt = ecg_boot.weighted_scores(yb, ps[0], np.ones((1, yb.size)))
        rows.append(
            {"protocol": f"patient-grouped {k}-fold CV", "model": n}
            | {m: float(pt[m][0]) for m in METRICS}
            | {f"{m}_ci": _ci(reps[n][m]) for m in METRICS}
        )
    for m in METRICS[1:]:  # threshold-free metrics only
        d = ecg_boot.paired_difference(reps["sequence"][m], reps["floor"][m], rows[1][m] - rows[0][m])
        rows.append(
            {"protocol": f"patient-grouped {k}-fold CV", "model": "sequence - floor", m: d["diff"], f"{m}_ci": d["ci"]}
        )
    table = pd.DataFrame(rows).groupby(["protocol", "model"], sort=False).first().reset_index()
    return table, pd.DataFrame(folds)
