"""Notebook-01 headline over seeds (issue 22 point 8): every headline model (the Keras networks, the forests and ODAL)
on both splits over ``headline_seeds``; mean, seed sd and a patient-bootstrap 95% CI of the seed mean (the test
patients resampled, every seed's probabilities scored on the SAME resamples and averaged: the rhythm study's
method, lib.ecg.bootstrap.seed_mean_replicates); ODAL paired against every other model, and (inter-patient) every
model paired against the RR-irregularity floor (its features chosen on DS1) on those resamples. A verdict needs the
CI to exclude 0 and every seed's difference to share its sign (lib.ecg.rhythm_text.decide)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lib.ecg.headline import _rounded, compare_models

#: the metrics of the seed table (threshold-free ROC/PR-AUC and the arg-max decisions)
SEED_METRICS = ("accuracy", "nonsinus_f1", "roc_auc_nonsinus", "pr_auc_nonsinus")
#: the metrics of the paired comparisons
PAIRED_METRICS = ("accuracy", "nonsinus_f1", "roc_auc_nonsinus")
#: the metrics of the pairing against the floor (it decides non-sinus only: no 4-class accuracy)
FLOOR_METRICS = ("nonsinus_f1", "roc_auc_nonsinus", "pr_auc_nonsinus")
FLOOR = "RR-irregularity floor (DS1-chosen features)"


@dataclass
class SeedStudy:
    runs: pd.DataFrame  # one row per (split, model, seed): test metrics
    summary: pd.DataFrame  # one row per (split, model): mean, sd over seeds, patient-bootstrap CI of the mean
    paired: pd.DataFrame  # ODAL minus each other model per split: paired CI, p, per-seed differences, verdict
    probas: dict  # {split: {model: [test proba per seed]}}
    seeds: list  # the headline seeds
    n_boot: int
    boot_seed: int


def _score_row(split: str, model: str, seed: int, res: dict) -> dict:
    return (
        {"split": split, "model": model, "seed": int(seed)}
        | {m: res.get(m) for m in SEED_METRICS}
        | {"nonsinus_f1_at_val_threshold": res.get("nonsinus_f1_at_val_threshold")}
        | {"fit_seconds": res.get("fit_seconds")}
    )


def run(
    data,
    splits: dict,
    results: dict,
    probas: dict,
    *,
    kinds,
    seeds,
    seed: int,
    model_kw: dict,
    odal_runs: dict,
    n_boot: int,
    progress: bool = False,
) -> SeedStudy:
    """Every ``kinds`` model on every split over ``seeds`` (the headline seed ``seed`` reuses ``results`` /
    ``probas``; the others are fitted here with the same settings), plus ODAL's runs ``odal_runs`` ({split: {seed:
    (metrics, test proba)}}, lib.ecg.al_study.ALStudy.odal_runs). Scores on each split's whole test part; CIs from
    ``n_boot`` patient resamples (seeded with ``seed``)."""
    from lib.ecg.bootstrap import paired_difference, percentile_interval, seed_mean_replicates
    from lib.ecg.rhythm_text import decide

    seeds = [int(s) for s in seeds]
    if len(seeds) < 1 or len(set(seeds)) != len(seeds):
        raise ValueError(f"headline_seeds must be distinct seeds, got {seeds}")
    fitted = {seed: (results, probas)}
    for s in seeds:
        if s not in fitted:
            fitted[s] = compare_models(list(kinds), data, splits, seed=s, model_kw=model_kw, progress=progress)
    rows, by_split = [], {}
    for sp in splits:
        per = by_split.setdefault(sp, {})
        for k in kinds:
            for s in seeds:
                res, pr = fitted[s][0][sp][k], fitted[s][1][sp][k]
                rows.append(_score_row(sp, k, s, res))
                per.setdefault(k, []).append(pr)
        runs_sp = odal_runs.get(sp, {})
        missing = [s for s in seeds if s not in runs_sp]
        if missing:
            raise ValueError(f"ODAL has no run for seed(s) {missing} on the {sp} split (ALStudy.odal_runs)")
        for s in seeds:
            res, pr = runs_sp[s]
            rows.append(_score_row(sp, "odal", s, res))
            per.setdefault("odal", []).append(pr)
    runs = pd.DataFrame(rows)
    summary, paired = [], []
    for sp, per in by_split.items():
        te = splits[sp]["test"]
        reps = seed_mean_replicates(data.y[te], per, data.record[te], n_boot=n_boot, seed=seed)
        r_sp = runs[runs.split == sp]
        for k in per:
            g = r_sp[r_sp.model == k]
            summary.append(
                {"split": sp, "model": k, "seeds": len(g)}
                | {f"{m}_mean": float(g[m].mean()) for m in SEED_METRICS}
                | {f"{m}_sd": float(g[m].std(ddof=1)) if len(g) > 1 else None for m in SEED_METRICS}
                | {f"{m}_ci": _rounded(percentile_interval(reps[k][m], 0.95)) for m in SEED_METRICS}
                | {"nonsinus_f1_at_val_threshold_mean": float(g["nonsinus_f1_at_val_threshold"].mean())}
            )
        for b in [k for k in per if k != "odal"]:
            for m in PAIRED_METRICS:
                a_s = r_sp[r_sp.model == "odal"].set_index("seed")[m]
                b_s = r_sp[r_sp.model == b].set_index("seed")[m]
                per_seed = [float(a_s[s] - b_s[s]) for s in seeds]
                d = paired_difference(reps["odal"][m], reps[b][m], float(np.mean(per_seed)))
                paired.append(
                    {"split": sp, "a": "odal", "b": b, "metric": m, "diff": d["diff"], "ci": _rounded(d["ci"])}
                    | {"p": d["p"], "per_seed": [round(v, 4) for v in per_seed]}
                    | {"verdict": _word(decide(d["ci"], per_seed))}
                )
    return SeedStudy(runs, pd.DataFrame(summary), pd.DataFrame(paired), by_split, seeds, n_boot, seed)


def _word(verdict: str) -> str:
    """rhythm_text.decide's words for a difference A minus B ('above' -> 'higher', ...)."""
    words = {"above": "higher", "below": "lower"}
    return words.get(verdict, verdict.replace(" against", "").replace(" from", ""))


def against_floor(
    study: SeedStudy, data, split: dict, floor_proba: np.ndarray, *, split_name="interpatient", without=()
):
    """Every headline model (mean over its seeds) minus the RR-irregularity floor on the inter-patient test part:
    all of it (``DS2 beats`` 'all') and without each record of ``without`` (its patient left out: e.g. 202, the DS2
    half of the patient shared with DS1). The floor: ``floor_proba``, lib.ecg.rhythm_study.RhythmResult.floor_probas
    (one array per forest seed, each at its DS1 threshold, averaged like the models' seeds), on the same patient
    resamples; per-seed differences against the floor's mean point and the verdict of lib.ecg.rhythm_text.decide."""
    from lib.ecg.bootstrap import paired_difference, seed_mean_replicates
    from lib.ecg.headline import score_predictions
    from lib.ecg.rhythm_checks import _keep
    from lib.ecg.rhythm_text import decide

    te = split["test"]
    floors = list(floor_proba) if isinstance(floor_proba, list) else [floor_proba]
    if any(len(p) != te.size for p in floors):
        raise ValueError(f"against_floor: the floor's probabilities do not cover the {te.size} test beats")
    r = study.runs[study.runs.split == split_name]
    rows = []
    for beats, keep in _keep(data.record[te], without).items():
        y, rec = data.y[te][keep], data.record[te][keep]
        per = {k: [np.asarray(p)[keep] for p in v] for k, v in study.probas[split_name].items()}
        per[FLOOR] = [np.asarray(p)[keep] for p in floors]
        reps = seed_mean_replicates(y, per, rec, n_boot=study.n_boot, seed=study.boot_seed)
        pts = [score_predictions(y, p, data.class_names, data.task) for p in per[FLOOR]]
        fl = {m: float(np.mean([pt[m] for pt in pts])) for m in FLOOR_METRICS}
        for k in study.probas[split_name]:
            if beats == "all":  # the seed table's own points
                g = r[r.model == k]
            else:
                g = pd.DataFrame([score_predictions(y, p, data.class_names, data.task) for p in per[k]])
            for m in FLOOR_METRICS:
                per_seed = [float(v - fl[m]) for v in g[m]]
                d = paired_difference(reps[k][m], reps[FLOOR][m], float(np.mean(per_seed)))
                rows.append(
                    {"DS2 beats": beats, "model": k, "seeds": len(g), "metric": m, "model mean": float(g[m].mean())}
                    | {"floor": fl[m], "diff": d["diff"], "ci": _rounded(d["ci"]), "p": d["p"]}
                    | {"per_seed": [round(v, 4) for v in per_seed], "verdict": _word(decide(d["ci"], per_seed))}
                )
    return pd.DataFrame(rows)


def _fmt(mean, sd, ci) -> str:
    txt = f"{mean:.3f}"
    if sd is not None and np.isfinite(sd):
        txt += f" (sd {sd:.3f})"
    return txt + (f" [95% CI {ci[0]:.3f}-{ci[1]:.3f}]" if ci else "")


def reading(study: SeedStudy, names: dict | None = None) -> str:
    """Generated Markdown: each model's seed-mean non-sinus F1 / ROC-AUC / PR-AUC per split (sd over seeds, patient
    CI of the mean) and ODAL against each model with the verdict of the paired CI and the seeds' signs."""
    names = names or {}
    s, p = study.summary, study.paired
    seeds = ", ".join(map(str, study.seeds))
    lines = [
        f"Every headline model over seeds {seeds} ({len(study.seeds)} fits each; the mean over seeds, the seed sd, "
        f"and a 95% CI of the seed mean from {study.n_boot:,} patient resamples of the test part, every seed scored "
        "on the same resamples):"
    ]
    for sp in s.split.unique():
        g = s[s.split == sp]
        for r in g.itertuples():
            lines.append(
                f"{sp}, {names.get(r.model, r.model)}: non-sinus F1 "
                f"{_fmt(r.nonsinus_f1_mean, r.nonsinus_f1_sd, r.nonsinus_f1_ci)}, ROC-AUC "
                f"{_fmt(r.roc_auc_nonsinus_mean, r.roc_auc_nonsinus_sd, r.roc_auc_nonsinus_ci)}, PR-AUC "
                f"{_fmt(r.pr_auc_nonsinus_mean, r.pr_auc_nonsinus_sd, r.pr_auc_nonsinus_ci)}."
            )
        labels = {"accuracy": "accuracy", "nonsinus_f1": "non-sinus F1", "roc_auc_nonsinus": "non-sinus ROC-AUC"}
        rule = " (paired over seeds; 'higher'/'lower' only when the CI excludes 0 and every seed agrees)"
        for i, m in enumerate(dict.fromkeys(p.metric)):  # every paired metric (review22s6b n6: ROC-AUC too)
            q = p[(p.split == sp) & (p.metric == m)]
            if not len(q):
                continue
            lines.append(
                f"{sp}, ODAL minus each model, {labels.get(m, m)}{'' if i else rule}: "
                + "; ".join(
                    f"{r.b} {r.diff:+.3f} [{r.ci[0]:+.3f}, {r.ci[1]:+.3f}] -> {r.verdict}" if r.ci else f"{r.b} n/a"
                    for r in q.itertuples()
                )
                + "."
            )
    return "\n".join(f"- {line}" for line in lines)


def floor_reading(table: pd.DataFrame) -> str:
    """Generated Markdown: each headline model (seed mean) minus the floor, per metric, with the verdict."""
    seeds = int(table["seeds"].max()) if len(table) else 0
    lines = [
        f"Every headline model of section 2 (as trained there, {seeds} seeds each; ODAL at its label budget) against "
        "the RR-irregularity floor (its features chosen on DS1; the mean of its forest seeds) on all DS2 beats (and "
        "without each record the rows name, its patient left out): the "
        "models' arg-max decisions, the floor at its DS1 threshold, "
        "the seed mean paired with the floor on the same patient resamples; 'higher'/'lower' only when the 95% CI "
        "excludes 0 and every seed's difference has that sign."
    ]
    beats = table["DS2 beats"] if "DS2 beats" in table.columns else pd.Series("all", index=table.index)
    for b in beats.unique():
        for m in FLOOR_METRICS:
            q = table[(table.metric == m) & (beats == b)]
            if not len(q):
                continue
            where = "" if b == "all" else f", DS2 {b} (its patient left out; same rule)"
            lines.append(
                f"{m}{where}, each headline model (mean over its seeds) minus the floor "
                f"({float(q['floor'].iloc[0]):.3f}): "
                + "; ".join(
                    f"{r.model} {r.diff:+.3f} [{r.ci[0]:+.3f}, {r.ci[1]:+.3f}] -> {r.verdict}"
                    if r.ci
                    else f"{r.model} n/a"
                    for r in q.itertuples()
                )
                + "."
            )
    return "\n".join(f"- {line}" for line in lines)


def metrics(study: SeedStudy, floor: pd.DataFrame | None = None) -> dict:
    """The metrics file's ``headline_seeds`` block."""
    return {
        "headline_seeds": {
            "seeds": study.seeds,
            "ci": f"patient bootstrap of the seed mean, {study.n_boot} resamples, paired across models",
            "summary": study.summary.to_dict("records"),
            "odal_paired": study.paired.to_dict("records"),
            "vs_floor": floor.to_dict("records") if floor is not None else [],
        }
    }
