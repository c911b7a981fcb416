"""AAMI EC57 beat classes DS1 -> DS2 with class-balanced models on record-normalised RR + morphology features,
beside the published inter-patient rows.

Models (inputs: lib.ecg.features, RR in units of the record's mean RR: previous, next, local mean and spread,
their ratios, plus QRS width, amplitudes, spectral and statistical descriptors of the MLII window):

- ``logreg_balanced``: multinomial logistic regression on standardised features, class weights inversely
  proportional to the DS1 class frequencies (equal priors, chosen on DS1 only);
- ``hgb_balanced``: histogram gradient-boosted trees (scikit-learn), the same DS1 class weights; its number of
  boosting iterations is chosen on DS1 alone (:func:`choose_hgb_iter`: inner patient-grouped CV, pooled
  out-of-fold mean of the S and V F1), scikit-learn's internal early stopping (a random beat sample) off.

Nothing is tuned on DS2: the class weights come from DS1 counts, the decision is the arg-max.

Uncertainty (:func:`per_class_cis`): patient-bootstrap 95% CIs of every per-class Se and +P (DS2 patients
resampled, records 201 and 202 one patient), and the same scores with named records left out (record 232 holds
most of DS2's S beats); :func:`per_record` gives the S and V sensitivity of every DS2 record.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from lib.ecg.data import AAMI_CLASSES

FEATURE_MODELS = ("logreg_balanced", "hgb_balanced")

#: published inter-patient DS1 -> DS2 results (SPEC section 3), DS2 Se / +P in %
PUBLISHED = [
    {
        "study": "de Chazal, O'Dwyer & Reilly, IEEE Trans Biomed Eng 51(7), 2004 (about)",
        "S Se": 76.0,
        "S +P": 38.0,
        "V Se": 78.0,
        "V +P": 82.0,
    },
    {
        "study": "Mar, Zaunseder, Martinez, Llamedo & Poll, IEEE Trans Biomed Eng 58(8), 2011",
        "S Se": 83.2,
        "S +P": 33.5,
        "V Se": 86.8,
        "V +P": 75.9,
    },
    {
        "study": "Zhang, Dong, Luo, Choi & Wu, Comput Biol Med 46, 2014",
        "S Se": 79.1,
        "S +P": 36.0,
        "V Se": 85.5,
        "V +P": 92.7,
    },
    {"study": "Lin & Yang, Math Probl Eng 2014", "S Se": 81.0, "S +P": 31.0, "V Se": 86.0, "V +P": 73.0},
]


def make_model(name: str, seed: int, hgb_iter: int):
    if name == "logreg_balanced":
        return make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=2000))
    if name == "hgb_balanced":
        # no internal early stopping: scikit-learn's would pick the iterations on a random 10% of the training
        # BEATS (the same patients on both sides); the count is chosen by patient-grouped CV instead
        return HistGradientBoostingClassifier(
            max_iter=hgb_iter, class_weight="balanced", random_state=seed, early_stopping=False
        )
    raise ValueError(f"unknown AAMI feature model {name!r}; allowed: {FEATURE_MODELS}")


def choose_hgb_iter(F, y, train, record, *, iters, inner_k: int, seed: int) -> tuple[int, pd.DataFrame]:
    """The boosting iterations of ``hgb_balanced`` among ``iters``, chosen on the DS1 beats ``train`` alone: inner
    patient-grouped ``inner_k``-fold CV (lib.ecg.rhythm.inner_folds, stratified by class), one fit per fold at the
    largest candidate read at every candidate (staged predictions); the candidate with the best pooled
    out-of-fold mean of the S and V F1 wins (ties: fewer iterations). scikit-learn's internal early stopping is
    off (it would choose on a random beat sample of the training patients), so every fit runs the candidate's
    iterations. Returns (iterations, one row per candidate)."""
    from sklearn.metrics import f1_score

    from lib.ecg.rhythm import inner_folds

    iters = sorted({int(i) for i in iters})
    if not iters or iters[0] < 1:
        raise ValueError(f"aami_hgb.iters must be positive integers, got {iters}")
    y = np.asarray(y)
    oof = {i: np.zeros(len(y), dtype=int) for i in iters}
    held = []
    for a, b in inner_folds(record, y, train, inner_k, seed):
        m = make_model("hgb_balanced", seed, iters[-1]).fit(F[a], y[a])
        wanted = set(iters)
        for n, p in enumerate(m.staged_predict_proba(F[b]), start=1):
            if n in wanted:
                oof[n][b] = m.classes_[p.argmax(1)]
        held.append(b)
    held = np.concatenate(held)
    s, v = AAMI_CLASSES.index("S"), AAMI_CLASSES.index("V")
    rows = []
    for i in iters:
        f = f1_score(y[held], oof[i][held], labels=[s, v], average=None, zero_division=0)
        rows.append({"iterations": i, "DS1 inner-CV S F1": float(f[0]), "DS1 inner-CV V F1": float(f[1])})
    table = pd.DataFrame(rows)
    table["mean S, V F1"] = table[["DS1 inner-CV S F1", "DS1 inner-CV V F1"]].mean(1)
    best = int(table["iterations"][int(np.argmax(table["mean S, V F1"].to_numpy()))])
    table["chosen (DS1)"] = table["iterations"] == best
    return best, table


def _patient_counts(y, pred, pat_idx, n_pat: int, c: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per patient: true positives, false positives, false negatives of class ``c``."""

    def count(mask):
        return np.bincount(pat_idx[mask], minlength=n_pat).astype(float)

    return count((pred == c) & (y == c)), count((pred == c) & (y != c)), count((pred != c) & (y == c))


def _round(ci, digits: int = 4):
    return [round(float(v), digits) for v in ci] if ci else None


def _ratio(a, b):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def per_class_cis(y, probas: dict, record, *, n_boot: int, seed: int, without=(), level: float = 0.95) -> pd.DataFrame:
    """Per model (``probas``: {model: (n, 5) DS2 probabilities}, arg-max decision) and class: Se and +P with
    patient-bootstrap CIs (``n_boot`` resamples of the DS2 patients, the same ones for every model), on all DS2 beats
    and, for each record in ``without``, on DS2 without that record (its patient). A resample without a beat of a
    class gives no Se for it (left out of that interval)."""
    from lib.ecg.bootstrap import _record_counts, percentile_interval
    from lib.ecg.data import patients

    y, rec = np.asarray(y), np.asarray(record).astype(str)
    pat_idx, counts = _record_counts(rec, n_boot, seed)
    names = np.unique(patients(rec))
    rows = []
    for drop in [None, *[str(r) for r in without]]:
        keep = np.ones(names.size, dtype=bool)
        if drop is not None:
            gone = np.unique(patients(np.array([drop])))
            if not np.isin(gone, names).any():
                raise ValueError(f"per_class_cis: record {drop} is not among the DS2 records {sorted(set(rec))}")
            keep = ~np.isin(names, gone)
        W = counts * keep  # a left-out patient weighs 0 in every resample
        for model, proba in probas.items():
            pred = np.asarray(proba).argmax(1)
            for c, cname in enumerate(AAMI_CLASSES):
                tp, fp, fn = _patient_counts(y, pred, pat_idx, names.size, c)
                tp, fp, fn = tp * keep, fp * keep, fn * keep
                se_b, ppv_b = _ratio(W @ tp, W @ (tp + fn)), _ratio(W @ tp, W @ (tp + fp))
                rows.append(
                    {
                        "DS2 beats": "all" if drop is None else f"without record {drop}",
                        "model": model,
                        "class": cname,
                        "support": int((tp + fn).sum()),
                        "Se": float(_ratio(tp.sum(), (tp + fn).sum())),
                        "Se_ci": _round(percentile_interval(se_b, level)),
                        "+P": float(_ratio(tp.sum(), (tp + fp).sum())),
                        "+P_ci": _round(percentile_interval(ppv_b, level)),
                    }
                )
    return pd.DataFrame(rows)


def per_record(y, probas: dict, record, classes=("S", "V")) -> pd.DataFrame:
    """Per DS2 record with beats of ``classes``: their count and each model's sensitivity (arg-max decision)."""
    y, rec = np.asarray(y), np.asarray(record).astype(str)
    rows = []
    for r in np.unique(rec):
        m = rec == r
        row = {"record": r}
        for c in classes:
            ci = AAMI_CLASSES.index(c)
            pos = m & (y == ci)
            row[f"{c} beats"] = int(pos.sum())
            for model, proba in probas.items():
                pred = np.asarray(proba).argmax(1)
                row[f"{model} {c} Se"] = float((pred[pos] == ci).mean()) if pos.any() else None
        if any(row[f"{c} beats"] for c in classes):
            rows.append(row)
    return pd.DataFrame(rows)


def fit_feature_models(F, y, split, *, seed: int, hgb_iter: int, models=FEATURE_MODELS) -> dict:
    """{model: (DS2 probabilities (n_test, 5), fit seconds)} for ``models`` trained on ``split['train']`` and
    ``split['val']`` (all DS1 beats: nothing is early-stopped)."""
    tr = np.sort(np.concatenate([split["train"], split["val"]]))
    te = split["test"]
    out = {}
    for name in models:
        t0 = time.perf_counter()
        m = make_model(name, seed, hgb_iter).fit(F[tr], y[tr])
        p = np.zeros((te.size, len(AAMI_CLASSES)))
        p[:, m.classes_] = m.predict_proba(F[te])
        out[name] = (p, time.perf_counter() - t0)
    return out


def _pct_ci(ci) -> str:
    return f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else "-"


def beside_published(cis: pd.DataFrame) -> pd.DataFrame:
    """Our S and V rows (from :func:`per_class_cis`, every DS2 beat and each left-out record) in % with their
    patient-bootstrap 95% CIs, beside :data:`PUBLISHED` (point values only: the papers give no interval)."""
    ours = []
    for (beats, m), g in cis.groupby(["DS2 beats", "model"], sort=False):
        g = g.set_index("class")
        tag = "" if beats == "all" else f", DS2 {beats}"
        ours.append(
            {"study": f"this notebook: {m}{tag}"}
            | {f"{c} {k}": 100 * float(g.loc[c, k]) for c in ("S", "V") for k in ("Se", "+P")}
            | {f"{c} {k} 95% CI": _pct_ci(g.loc[c, f"{k}_ci"]) for c in ("S", "V") for k in ("Se", "+P")}
        )
    table = pd.DataFrame(PUBLISHED + ours)
    ci_cols = [c for c in table.columns if c.endswith("95% CI")]
    table[ci_cols] = table[ci_cols].fillna("-")
    return table


def _meets(g, c: str, se: float, ppv: float) -> str:
    point = g.loc[c, "Se"] >= se and g.loc[c, "+P"] >= ppv
    lo_se, lo_p = (g.loc[c, f"{k}_ci"][0] if g.loc[c, f"{k}_ci"] else float("nan") for k in ("Se", "+P"))
    hi_se, hi_p = (g.loc[c, f"{k}_ci"][1] if g.loc[c, f"{k}_ci"] else float("nan") for k in ("Se", "+P"))
    if point and lo_se >= se and lo_p >= ppv:
        how = "meets, and both lower CI ends clear it"
    elif point:
        how = "meets at the point estimate only: the CI reaches below the target, not established"
    elif hi_se >= se and hi_p >= ppv:
        how = "misses at the point estimate; the CI reaches the target"
    else:
        how = "misses"
    return (
        f"{c} Se {g.loc[c, 'Se']:.3f} {_ci_txt(g.loc[c, 'Se_ci'])} / +P {g.loc[c, '+P']:.3f} "
        f"{_ci_txt(g.loc[c, '+P_ci'])} ({how}: Se >= {se:.2f} with +P >= {ppv:.2f})"
    )


def _ci_txt(ci) -> str:
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "[no CI]"


def targets_reading(cis: pd.DataFrame, s_se: float, s_ppv: float, v_se: float, v_ppv: float) -> str:
    """Markdown: which models reach the issue's AAMI targets (S Se/+P and V Se/+P, shares), each qualified by its
    patient-bootstrap 95% CI, on all DS2 beats and on DS2 without each left-out record (:func:`per_class_cis`)."""
    lines = []
    for (beats, m), g in cis.groupby(["DS2 beats", "model"], sort=False):
        g = g.set_index("class")
        tag = "" if beats == "all" else f" (DS2 {beats})"
        lines.append(f"- {m}{tag}: {_meets(g, 'S', s_se, s_ppv)}; {_meets(g, 'V', v_se, v_ppv)}.")
    for m, g in cis.groupby("model", sort=False):
        full = g[g["DS2 beats"] == "all"].set_index("class")
        if full.empty or not (full.loc["S", "Se"] >= s_se and full.loc["S", "+P"] >= s_ppv):
            continue
        for beats, h in g[g["DS2 beats"] != "all"].groupby("DS2 beats", sort=False):
            h = h.set_index("class")
            if not (h.loc["S", "Se"] >= s_se and h.loc["S", "+P"] >= s_ppv):
                lines.append(
                    f"- {m}: S reaches the target only with that record: DS2 {beats}, S Se {h.loc['S', 'Se']:.3f} / "
                    f"+P {h.loc['S', '+P']:.3f} ({int(h.loc['S', 'support']):,} of {int(full.loc['S', 'support']):,} "
                    "S beats left)."
                )
    return "\n".join(lines) + (
        "\n\nCIs: percentile intervals over patient resamples of DS2 (one seed, one model fit: the interval is the "
        "patients' sampling error only); the published rows give no interval."
    )


def confusion_reading(cms: dict) -> str:
    """Markdown: per model, its largest off-diagonal confusion count on DS2 (true -> predicted) and that predicted
    class's +P (``cms``: {model: confusion counts DataFrame, rows true, columns predicted})."""
    lines = []
    for m, cm in cms.items():
        c = cm.to_numpy(dtype=float)
        off = c.copy()
        np.fill_diagonal(off, -1)
        i, j = np.unravel_index(int(np.argmax(off)), off.shape)
        ppv = c[j, j] / c[:, j].sum() if c[:, j].sum() else float("nan")
        lines.append(
            f"- {m}: largest confusion {cm.index[i]} -> {cm.columns[j]} ({int(c[i, j]):,} beats; {cm.columns[j]} +P "
            f"{ppv:.3f})."
        )
    return "Largest confusion per model on DS2 (counts in the figure above):\n" + "\n".join(lines)


def metrics(study, cis: pd.DataFrame) -> dict:
    """The metrics-file block of the AAMI benchmark's uncertainty: per-class Se / +P with patient-bootstrap CIs (all
    DS2 beats and without the named records) and hgb_balanced's DS1-chosen iterations."""
    return {
        "aami_uncertainty": {
            "per_class_ci": cis.to_dict("records"),
            "hgb_iterations_ds1": int(study.hgb_iter),
            "hgb_choice_ds1": study.hgb_choice.to_dict("records"),
        }
    }


def hgb_choice_reading(table: pd.DataFrame) -> str:
    """Markdown: which number of boosting iterations DS1 chose for hgb_balanced, and whether it decided anything."""
    best = int(table.loc[table["chosen (DS1)"], "iterations"].iloc[0])
    scores = table["mean S, V F1"].to_numpy()
    text = (
        f"hgb_balanced's boosting iterations, chosen on DS1 alone (inner patient-grouped CV, mean S and V F1): {best} "
        f"among {', '.join(str(int(i)) for i in table['iterations'])} (scikit-learn's internal early stopping, "
        "which would choose on a random sample of the training patients' beats, is off)."
    )
    if np.allclose(scores, scores[0], atol=0.005):
        text += (
            f" The candidates' DS1 scores lie within 0.005 of each other ({scores.min():.3f}-{scores.max():.3f}): "
            "the choice decides little."
        )
    its = [int(i) for i in table["iterations"]]
    if len(its) > 1 and best == its[-1]:  # the grid's top: did the score still rise there?
        step = float(scores[-1] - scores[-2])
        text += (
            f" The choice is the grid's largest candidate: from {its[-2]} to {its[-1]} iterations the DS1 score "
            f"changed by {step:+.3f} (over the whole grid {scores.min():.3f}-{scores.max():.3f}), "
            + (
                f"flat within {FLAT_STEP} at the top: more iterations would decide little."
                if abs(step) <= FLAT_STEP
                else "still rising at the top: more iterations might score higher (not tried)."
            )
        )
    return text


#: a DS1 score change at most this large between the grid's two largest candidates reads as flat
FLAT_STEP = 0.005
