"""Notebook 01's rhythm study, section 5 in words (split from lib.ecg.rhythm_text, which re-exports
:func:`cv_vs_ds2`; this module imports nothing from it): the patient-grouped CV's sequence - floor PR-AUC beside
DS1 -> DS2's, whether they differ in direction, and what the folds show (review22s7 m2)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _side(v, ci) -> str:
    """'above 0' / 'below 0' when the CI excludes 0, else 'with a CI that includes 0' (the point's sign beside)."""
    if ci and ci[0] is not None and ci[1] is not None and (ci[0] > 0 or ci[1] < 0):
        return "above 0" if ci[0] > 0 else "below 0"
    return f"{'positive' if v > 0 else 'negative'} but with a CI that includes 0"


def cv_vs_ds2(res, cv: pd.DataFrame, folds: pd.DataFrame, ds1_af_patients) -> str:
    """Review22s7 m2: one paragraph that links the patient-grouped CV's sequence - floor PR-AUC with DS1 -> DS2's
    (primary reading), says whether they differ in direction, and gives the reasons the data can show: how many AF
    patients each CV fold trains on against the ``ds1_af_patients`` DS1 holds, and which folds carry the CV
    difference (``folds``: lib.ecg.rhythm_cv.patient_cv's per-fold PR-AUCs); candidate reasons, not tested ones."""
    primary = res.summary.reading.iloc[0]
    pr = res.paired[
        (res.paired.reading == primary)
        & (res.paired.comparison == "sequence - floor")
        & (res.paired.metric == "pr_auc_nonsinus")
    ]
    c = cv[cv.model == "sequence - floor"]
    if not len(pr) or not len(c) or pd.isna(c.iloc[0].get("pr_auc_nonsinus")):
        return ""
    d2, ci2, n2 = float(pr.iloc[0]["diff"]), pr.iloc[0]["ci"], int(pr.iloc[0]["n_seeds"])
    dc, cic = float(c.iloc[0]["pr_auc_nonsinus"]), c.iloc[0]["pr_auc_nonsinus_ci"]
    s2, sc = _side(d2, ci2), _side(dc, cic)
    if {s2, sc} == {"above 0", "below 0"}:
        direction = "They differ in direction: each CI excludes 0, on opposite sides."
    elif (d2 > 0) != (dc > 0):
        direction = "Their point estimates differ in sign; at least one CI includes 0, so the reversal is not shown."
    else:
        direction = "They agree in direction."
    text = (
        f"**Patient-grouped CV against DS1 -> DS2.** Sequence minus floor, non-sinus PR-AUC: "
        f"{dc:+.3f} [{cic[0]:+.3f}, {cic[1]:+.3f}] in the patient-grouped CV ({sc}; one seed, the first sequence "
        f"seed's setting and epochs), {d2:+.3f} [{ci2[0]:+.3f}, {ci2[1]:+.3f}] DS1 -> DS2 ({s2}; mean over {n2} "
        f"seed(s)). {direction}"
    )
    reasons = []
    if {"train AF patients", "sequence - floor PR-AUC"} <= set(folds.columns):
        tr = folds["train AF patients"].astype(int)
        n_ds1 = len(list(ds1_af_patients))
        text += (
            f" What the data show: each CV fold trains on {tr.min()}-{tr.max()} AF/flutter patients (every one but "
            f"those of its test fold), DS1 holds {n_ds1}"
            + (f" ({', '.join(map(str, ds1_af_patients))})" if n_ds1 else "")
            + "; per fold, sequence minus floor PR-AUC: "
            + "; ".join(
                f"fold {int(r.fold)} "
                + ("n/a" if pd.isna(r["sequence - floor PR-AUC"]) else f"{r['sequence - floor PR-AUC']:+.3f}")
                + f" (test AF patients: {r['test AF patients'] or 'none'})"
                for _, r in folds.iterrows()
            )
            + "."
        )
        fd = folds["sequence - floor PR-AUC"].dropna()
        if len(fd):
            top = folds.loc[fd.abs().idxmax()]
            same = int((np.sign(fd) == np.sign(dc)).sum())
            text += (
                f" {same} of {len(fd)} folds share the pooled CV difference's sign; the largest is fold "
                f"{int(top.fold)} ({top['sequence - floor PR-AUC']:+.3f})."
            )
            if same < len(fd):
                reasons.append("the pooled CV difference is not shared by every fold")
        if tr.min() > n_ds1:
            reasons.append(
                f"every CV fold trains the sequence model on more AF/flutter patients ({tr.min()} or more) than DS1 "
                f"holds ({n_ds1})"
            )
    if reasons and direction != "They agree in direction.":
        text += (
            " Plausible reasons the data are consistent with, not tested here: " + "; ".join(reasons) + ". The two "
            "protocols also differ in what they score (pooled out-of-fold scores over every patient vs DS2 alone)."
        )
    return text
