"""Notebook-01: the headline networks over seeds on the inter-patient split, paired with the floor."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lib.core.outputs import Outputs
from lib.ecg import data as ecg_data
from lib.ecg import features as ecg_features
from lib.ecg.headline import _rounded, _with_rounded_ci, fit_predict, nonsinus_threshold, score_predictions
from lib.ecg.inputs import EcgInputs, _cap, context_index, model_features, with_rr_reading
from lib.ecg.rhythm import at_threshold

RHYTHM_METRICS = ("nonsinus_f1", "roc_auc_nonsinus", "pr_auc_nonsinus", "accuracy", "macro_f1")


@dataclass
class RhythmStudy:
    runs: pd.DataFrame  # one row per (variant, seed): test metrics on DS2 and fit seconds
    summary: pd.DataFrame  # one row per variant (+ the RR-only forest): mean over seeds with record-bootstrap CIs
    paired: pd.DataFrame  # differences (mean over seeds) vs the RR-only forest and vs one beat, paired resamples
    n_pool: int | None = None  # training beats of the split before this study's cap


#: how the rhythm study names a non-default RR reading
READING_LABELS = {"past": "past-only RR", "raw": "RR in seconds", "record": "RR per record mean"}


FLOOR = "RR-irregularity floor (DS1-chosen features)"
VAL_THR = ", at its validation threshold"


def _epochs_run(model) -> tuple[int | None, int | None]:
    """(epochs trained, best epoch restored) of a Keras classifier's last fit (``history_``); None otherwise."""
    h = getattr(model, "history_", None)
    if not h or not h[-1].get("loss"):
        return None, None
    hist = h[-1]
    mon = getattr(model, "monitor", None)
    best = None
    if mon and hist.get(mon if mon != "val_loss" else "val_loss"):
        v = np.asarray(hist[mon], dtype=float)
        best = int(np.argmin(v) if mon == "val_loss" else np.nanargmax(v)) + 1
    return len(hist["loss"]), best


def _variant(kind: str, k: int, feats: bool, reading: str | None = None) -> str:
    name = f"{kind}, {k} beat{'s' if k > 1 else ''}, {'signal + features' if feats else 'signal only'}"
    return name + (f", {READING_LABELS[reading]}" if reading else "")


def _floor(reading: str | None) -> str:
    """The floor's name; in another RR reading the study refits the 9-feature RR forest (no irregularity features)."""
    return FLOOR if not reading else f"RR-only forest, {READING_LABELS[reading]}"


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
    epochs: int | None = None,
    patience: int | None = None,
    floor_kw: dict | None = None,
    progress: bool = True,
) -> RhythmStudy:
    """Does the network see rhythm across patients, and what do the features add? Each ``variants`` entry
    ``[kind, k, features]`` is a Keras kind trained on the inter-patient split (DS1, early stopping on held-out DS1
    records) with input context k (the beat and its k-1 predecessors in the same record; the recurrent layer runs
    across the k beats; the hand-crafted RR features of the ``record`` reading still read the next RR and the
    record's mean RR, so only the ``past`` reading is causal), hybrid (+ hand-crafted features) or
    standalone (the signal alone), over ``seeds``; scored on DS2 (never subsampled). ``model_kw``: the Keras
    settings every kind shares. ``floor_proba``: the floor's DS2 probabilities, or a list of them (one per forest seed:
    the floor's point and replicates are then the mean over them).
    ``max_train``: a stratified cap on the training beats of this study (None/0: the split's training part).
    An optional 4th entry names another RR reading of the features (lib.ecg.features.RR_READINGS, e.g. ``past``:
    every feature of beat i reads beats <= i only; with k > 1 the k beats end at beat i, so the input holds no
    later beat, only the window's fixed ~0.44 s after R); for each such reading the RR-only forest is refitted on
    it (``floor_kw``, seed ``seed``) and paired with its variants, and each variant is paired with the same
    variant in the data's reading (what the restriction costs).

    ``epochs`` / ``patience``: this study's cap and early-stopping patience (None: those of ``model_kw``).
    Each variant is scored twice: at its arg-max and at the threshold on P(non-sinus) chosen on its validation
    patients (held-out DS1; variant name + VAL_THR); the threshold does not change its ROC-AUC or PR-AUC.

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

    model_kw = (
        {**model_kw}
        | ({"epochs": int(epochs)} if epochs else {})
        | ({"patience": int(patience)} if patience is not None else {})
    )
    variants = [(str(v[0]), int(v[1]), bool(v[2]), reading_of(v)) for v in variants]
    inputs = {r: data if r is None else with_rr_reading(data, r) for r in {v[3] for v in variants}}
    jobs = [(*v, s) for v in variants for s in seeds]
    rows, probas = [], {}
    for kind, k, f, r, s in tqdm(jobs, desc="rhythm study", **ecg_data.progress_kw(progress)):
        X = data.X if k == 1 else data.X[context_index(data.record, data.beats.sample, k)]
        dk = replace(inputs[r], X=X)
        model, proba, secs = fit_predict(kind, dk, sp, seed=int(s), use_features=f, model_kw=model_kw)
        probas.setdefault(_variant(kind, k, f, r), []).append(proba)
        Fv = model_features(kind, dk, f)
        va = sp["val"]
        thr = nonsinus_threshold(data.y[va], model.predict_proba(dk.X[va], None if Fv is None else Fv[va]))
        two = at_threshold(1.0 - proba[:, 0], thr)
        probas.setdefault(_variant(kind, k, f, r) + VAL_THR, []).append(two)
        res = score_predictions(y, proba, data.class_names, data.task)
        at_val = score_predictions((y != 0).astype(int), two, ["sinus", "non-sinus"], "nonsinus")
        rows.append(
            {"variant": _variant(kind, k, f, r), "kind": kind, "context_beats": k, "features": f}
            | {"rr_features": r or base, "seed": int(s)}
            | {m: res.get(m) for m in RHYTHM_METRICS}
            | {"val_threshold": thr, "nonsinus_f1_at_val_threshold": at_val.get("nonsinus_f1")}
            | {"n_train": int(tr.size)}
            | dict(zip(("epochs_run", "best_epoch"), _epochs_run(model)))
            | {"epoch_cap": int(model_kw.get("epochs", 0)) or None, "patience": model_kw.get("patience")}
            | {"fit_seconds": secs}
        )
    runs = pd.DataFrame(rows)
    floors = {FLOOR: list(floor_proba) if isinstance(floor_proba, list) else [floor_proba]}
    for r in sorted(r for r in inputs if r is not None):  # the floor in every other reading, on the study's split
        if floor_kw is None:
            raise ValueError(f"rhythm_study needs floor_kw to refit the RR-only forest on the {r!r} reading")
        floors[_floor(r)] = [fit_predict("rr_forest", inputs[r], split, seed=seed, model_kw=floor_kw)[1]]
    reps = seed_mean_replicates(y, {**probas, **floors}, data.record[te], n_boot=n_boot, seed=seed)
    arg_max = [v for v in probas if not v.endswith(VAL_THR)]
    point = {v: runs[runs.variant == v][list(RHYTHM_METRICS)].mean().to_dict() for v in arg_max}
    for v in [v for v in probas if v.endswith(VAL_THR)]:  # non-sinus scores only: the decision is binary
        pts = [score_predictions((y != 0).astype(int), p, ["sinus", "non-sinus"], "nonsinus") for p in probas[v]]
        point[v] = {m: float(np.mean([pt.get(m) for pt in pts])) if m in pts[0] else None for m in RHYTHM_METRICS}
        point[v] |= {"accuracy": None, "macro_f1": None}
    for v, ps in floors.items():  # the mean over the floor's forest seeds, as the bootstrap replicates average
        pts = [score_predictions(y, p, data.class_names, data.task) for p in ps]
        point[v] = {m: float(np.mean([pt[m] for pt in pts])) if pts[0].get(m) is not None else None
                    for m in RHYTHM_METRICS}  # fmt: skip
    for v in floors:  # the floor decides non-sinus only: its 4-class scores are not defined
        point[v] = {**point[v], "accuracy": None, "macro_f1": None}
    summary = pd.DataFrame(
        [
            {"variant": v, "seeds": len({**probas, **floors}[v])}  # the floor: its forest seeds, as averaged
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
        + [(_variant(*v) + VAL_THR, _floor(v[3])) for v in dict.fromkeys(variants)]
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
    return RhythmStudy(runs, summary, paired, int(split["train"].size))


def write_rhythm(study: RhythmStudy, out: Outputs, headline: pd.DataFrame | None = None) -> pd.DataFrame:
    """Write the rhythm study's tables, print its generated reading (``headline``: the headline models over seeds,
    lib.ecg.headline_seeds.SeedStudy.summary, set beside); returns the summary for display."""
    out.tables({"rhythm_runs": study.runs, "rhythm_summary": study.summary, "rhythm_paired": study.paired})
    out.markdown(rhythm_reading(study, headline))
    return study.summary.round(3)


def _beside_headline(study: RhythmStudy, headline: pd.DataFrame | None, n: int | None) -> list[str]:
    """review22s6b n1: each arg-max network of the study in the headline's configuration (one beat, signal +
    features) beside the headline's row of the same kind (inter-patient, seed means), points only (different
    training sets: not paired)."""
    if headline is None or not len(headline) or n is None:
        return []
    lines = []
    s = study.summary
    for r in s[(s.variant != FLOOR) & ~s.variant.str.endswith(VAL_THR) & s.accuracy.notna()].itertuples():
        kind = r.variant.split(",")[0]
        if r.variant != _variant(kind, 1, True):  # the headline's configuration only: one beat, signal + features
            continue
        h = headline[(headline.split == "interpatient") & (headline.model == kind)]
        if not len(h):
            continue
        h = h.iloc[0]
        lines.append(
            f"{r.variant}, trained on these {n:,} beats (mean of {r.seeds} seed(s)): non-sinus F1 {r.nonsinus_f1:.3f}, "
            f"ROC-AUC {r.roc_auc_nonsinus:.3f}; the headline's {kind} (inter-patient, its own training part, mean of "
            f"{int(h.seeds)} seeds): F1 {h.nonsinus_f1_mean:.3f}, ROC-AUC {h.roc_auc_nonsinus_mean:.3f} "
            f"(differences {r.nonsinus_f1 - h.nonsinus_f1_mean:+.3f} / "
            f"{r.roc_auc_nonsinus - h.roc_auc_nonsinus_mean:+.3f}; points, not paired: different training beats and "
            "validation)."
        )
    return lines


def _per_seed(study: RhythmStudy, a: str, b: str, metric: str) -> list[float]:
    """Each seed's DS2 ``metric`` of variant ``a`` minus ``b``'s (seed by seed when ``b`` has the same seeds, else
    minus ``b``'s point in the summary); empty when ``a`` has no per-seed rows."""
    r = study.runs
    if "variant" not in r.columns or metric not in r.columns:
        return []
    va = r[r.variant == a].set_index("seed")[metric].astype(float)
    vb = r[r.variant == b].set_index("seed")[metric].astype(float)
    if not len(va):
        return []
    if len(vb) and set(vb.index) == set(va.index):
        return [float(va[s] - vb[s]) for s in va.index]
    base = study.summary[study.summary.variant == b][metric]
    return [float(v - base.iloc[0]) for v in va] if len(base) and pd.notna(base.iloc[0]) else []


def rhythm_reading(study: RhythmStudy, headline: pd.DataFrame | None = None) -> str:
    """Generated sentences: each variant vs the RR-only floor and longer context vs one beat (paired CIs); with
    ``headline`` (the headline models' seed means), each network beside the same kind's inter-patient headline row."""
    lines = []
    n = int(study.runs["n_train"].iloc[0]) if len(study.runs) else None
    if n is not None and study.n_pool:
        lines.append(
            f"Every network here is trained on a {n:,}-beat stratified subsample of the {study.n_pool:,} DS1 training "
            "beats (the floor on every DS1 beat):"
            if n < study.n_pool
            else f"Every network here is trained on all {n:,} DS1 training beats (no cap; the floor on every DS1 beat):"
        )
    lines += _beside_headline(study, headline, n)
    runs = study.runs
    if len(runs) and {"best_epoch", "epoch_cap", "patience"} <= set(runs.columns):
        # stopped by the cap, not by early stopping: fewer than `patience` epochs after the best
        num = runs[["epochs_run", "epoch_cap", "best_epoch", "patience"]].apply(pd.to_numeric, errors="coerce")
        at_cap = runs[(num.epochs_run >= num.epoch_cap) & (num.epoch_cap - num.best_epoch < num.patience)]
        if len(at_cap):
            lines.append(
                "Stopped by the epoch cap, fewer than `patience` epochs after their best (not shown to have "
                "converged): "
                + ", ".join(
                    f"{r.variant} seed {int(r.seed)} (best epoch {int(r.best_epoch)} of {int(r.epoch_cap)})"
                    for r in at_cap.itertuples()
                )
                + "."
            )
    from lib.ecg.rhythm_text import decide  # the one verdict rule of the cell (CI, edge of 0, every seed's sign)

    words = {"above": "higher", "below": "lower", "not separable from": "not separable"}
    for r in study.paired.itertuples():
        lo, hi = r.ci if r.ci else (float("nan"), float("nan"))
        verdict = decide(r.ci, _per_seed(study, r.a, r.b, r.metric))
        verdict = words.get(verdict, verdict.replace(" against", "").replace(" from", ""))
        lines.append(
            f"- {r.a} minus {r.b}, {r.metric}: {r.diff:+.3f} [95% CI {lo:+.3f} to {hi:+.3f}], p = {r.p:.3f} "
            f"-> {verdict}."
        )
    return "\n".join(lines)


def af_patients_text(data: EcgInputs, split: dict) -> str:
    """One sentence: which patients hold AF/flutter beats in the split's training and validation parts (the networks
    of the rhythm study) against the floor's training set (every DS1 patient, both parts)."""
    from lib.ecg.data import RHYTHM_CLASSES, patients

    af = RHYTHM_CLASSES.index("af_flutter")

    def holders(idx) -> str:
        idx = np.asarray(idx)
        names = sorted(set(patients(data.record[idx][np.asarray(data.y)[idx] == af])))
        return ", ".join(names) if names else "none"

    return (
        f"Patients with AF/flutter beats among these networks' training beats: {holders(split['train'])}; among "
        f"their validation patients (early stopping and threshold only): {holders(split['val'])}. The floor trains "
        f"on both parts (AF/flutter patients: {holders(np.concatenate([split['train'], split['val']]))}), so these "
        "pairings also differ in the AF patients each side learned from."
    )
