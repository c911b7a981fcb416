"""Notebook-01: claims, the metrics file, and the headline reading (Markdown; every number read from results). The
other generated readings are in lib.ecg.readings_text."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from lib.ecg.headline import BASELINES
from lib.ecg.inputs import EcgInputs
from lib.ecg.networks import RhythmStudy
from lib.ecg.readings_text import _bullets

CLAIM_METRICS = {"accuracy": "accuracy", "nonsinus_f1": "nonsinus_f1", "roc_auc": "roc_auc_nonsinus"}


def claims_block(
    results: dict,
    savings: dict,
    floor: dict,
    forest_al=None,
    paper_split: str = "random",
    seeds=None,
    saving_rule: dict | None = None,
) -> dict:
    """The values the claims of claims.yaml read (``claims.*``): ODAL on ``paper_split`` plus inter-patient.
    ``savings``: {split: ALAnalysis.saving} of the AL study's splits (None where a split had no study); ``floor``:
    the RR-irregularity floor's DS2 row of the rhythm study (lib.ecg.rhythm_study, primary reading);
    ``forest_al``: the forest AL study (lib.ecg.al_forest.ForestAL): where it runs, the inter-patient saving is its
    ODAL saving in pool labels, None when its verdict is "not measurable in this setting"; ``seeds``: the headline
    over seeds (lib.ecg.headline_seeds.SeedStudy): ODAL's and the baselines' scores are then the means over the
    headline seeds with the patient CI of the mean (one-vs-rest macro ROC-AUC: the headline seed only);
    ``saving_rule``: the row of lib.ecg.al_forest_rules.claim_row (ODAL's first crossing on random's label grid):
    given, it is the inter-patient saving, and the first crossing on ODAL's own points goes beside it
    (``interpatient_annotation_saving_own_grid``)."""
    none = {"saving_vs_random": None, "saving_vs_random_ci": None, "auc_minus_random": None}
    paper_al = savings.get(paper_split, {}).get("odal", {**none, "auc_minus_random_ci": None})
    inter_al = savings.get("interpatient", {}).get("odal", {**none, "auc_minus_random_ci": None})
    verdict = None
    if forest_al is not None and "odal" in set(forest_al.summary["method"]):
        verdict = "not measurable in this setting" if forest_al.flat else "measurable"
        row = forest_al.summary.set_index("method").loc["odal"]
        inter_al = {
            "saving_vs_random": None if forest_al.flat else row["saving_vs_random"],
            "saving_vs_random_ci": None if forest_al.flat else row["saving_vs_random_ci"],
            "auc_minus_random": row["auc_minus_random"],
            "auc_minus_random_ci": row["auc_minus_random_ci"],
            # censored (random misses the target in some seeds): a lower bound, shown, never the claim's value
            "saving_lower_bound": None
            if forest_al.flat or pd.isna(row.get("saving_lower_bound"))
            else float(row["saving_lower_bound"]),
        }
        if saving_rule is not None:  # review22s6b N-M1: the claim reads random's grid, the own-grid value beside it
            own = {"own": inter_al["saving_vs_random"], "own_ci": inter_al["saving_vs_random_ci"]}
            rule_value = saving_rule.get("saving")
            inter_al |= {
                "saving_vs_random": None if forest_al.flat or pd.isna(rule_value) else float(rule_value),
                "saving_vs_random_ci": None if forest_al.flat or pd.isna(rule_value) else saving_rule["saving_ci"],
                "saving_own_grid": own["own"],
                "saving_own_grid_ci": own["own_ci"],
                "saving_rule": f"{saving_rule['fraction']:.0%} of the reference, first crossing, random's label grid",
            }
            wv = saving_rule.get("saving_with_validation")  # review22s7 m4: ODAL's validation labels charged
            inter_al |= {
                "saving_with_validation": None if forest_al.flat or wv is None or pd.isna(wv) else float(wv),
                "saving_with_validation_ci": None
                if forest_al.flat or wv is None or pd.isna(wv)
                else saving_rule.get("saving_with_validation_ci"),
                "validation_labels": saving_rule.get("validation_labels"),
            }
    entropy = ((getattr(forest_al, "odal_minus", None) or {}).get("entropy") or {}) if forest_al is not None else {}
    results = seed_means(results, seeds)
    odal = results[paper_split]["odal"]
    baseline_acc = {k: results[paper_split][k]["accuracy"] for k in BASELINES}
    inter = results["interpatient"]["odal"]
    inter_acc = [results["interpatient"][k]["accuracy"] for k in BASELINES if k in results["interpatient"]]
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
        "interpatient_annotation_saving_lower_bound": inter_al.get("saving_lower_bound"),
        "interpatient_annotation_saving_rule": inter_al.get("saving_rule"),
        "interpatient_annotation_saving_own_grid": inter_al.get("saving_own_grid"),
        "interpatient_annotation_saving_with_validation": inter_al.get("saving_with_validation"),
        "interpatient_annotation_saving_with_validation_ci": inter_al.get("saving_with_validation_ci"),
        "interpatient_annotation_saving_validation_labels": inter_al.get("validation_labels"),
        "interpatient_annotation_saving_own_grid_ci": inter_al.get("saving_own_grid_ci"),
        "interpatient_al_auc_minus_random": inter_al["auc_minus_random"],
        "interpatient_al_auc_minus_random_ci": inter_al["auc_minus_random_ci"],
        "interpatient_al_verdict": verdict,
        # review22s6c P2: ODAL against plain entropy sampling (forest AL, learning-curve AUC, paired by seed)
        "interpatient_odal_minus_entropy_auc": entropy.get("auc_difference"),
        "interpatient_odal_minus_entropy_auc_ci": entropy.get("auc_difference_ci"),
        "odal_above_baselines": bool(odal["accuracy"] > max(baseline_acc.values())),
        # review22s11 m2: the same reading under DS1 -> DS2 (its paired CIs: the headline's ODAL-minus-each table)
        "interpatient_odal_above_baselines": bool(inter["accuracy"] > max(inter_acc)) if inter_acc else None,
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


ODAL_CLAIMS = ("accuracy", "nonsinus_f1", "roc_auc", "odal_above_baselines")


def claims_table(claims: dict, paper: dict, results: dict | None = None, **caps) -> pd.DataFrame:
    """Paper value (claims.yaml, via lib.core.report.paper_values) beside ours, one row per claim id: ours under the
    paper's random split with its 95% CI, the same quantity under DS1 -> DS2 (``interpatient_<key>``; for the
    annotation saving the forest AL study's claim row) with its CI, and the RR-irregularity floor's DS1 -> DS2 value
    where the claims hold one (``interpatient_floor_<key>``); with ``results`` and the run's ``caps`` (max_train,
    max_val, al_pool_max), what our ODAL row was trained on (review22s10 M1: the caption named columns the table
    did not have)."""
    odal = _reductions(results, **caps)["odal"] if results is not None else None
    rows = []
    for cid, value in paper.items():
        key = cid.removeprefix("nb01_")
        inter, floor = f"interpatient_{key}", claims.get(f"interpatient_floor_{key}")
        row = {
            "claim": cid,
            "paper": value,
            "ours, random split": "" if claims.get(key) is None else claims.get(key),
            "random split: 95% CI": claim_ci_text(claims, key),
            "ours, DS1 -> DS2": claims.get(inter) if inter in claims else "not computed",
            "DS1 -> DS2: 95% CI": claim_ci_text(claims, inter) if inter in claims else "",
            "floor, DS1 -> DS2": floor if floor is not None else "",
        }
        if odal:
            row["ODAL trained on"] = odal if key in ODAL_CLAIMS else ""
        rows.append(row)
    return pd.DataFrame(rows)


def claim_ci_text(claims: dict, key: str) -> str:
    """The claims-table cell of ``claims[key]``'s 95% CI (``claims[key + '_ci']``, review22s7 m5): "[lo, hi]"; for
    a yes/no claim "not an estimate (yes/no)"; for a number without a value or without an interval, why."""
    v, ci = claims.get(key), claims.get(f"{key}_ci")
    if isinstance(v, bool | np.bool_):
        return "not an estimate (yes/no)"
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a (no value)"
    if not ci or ci[0] is None or ci[1] is None:
        return "n/a (no interval computed)"
    return f"[{float(ci[0]):.3f}, {float(ci[1]):.3f}]"


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
    headline_seeds=None,
    forest_al_seeds=None,
) -> dict:
    """The metrics ``meta`` block: data provenance (lib.core.provenance), configuration, counts, runtime.

    Window/filter settings come from ``data.settings``, the AL settings from ``studies`` ({split: ALStudy}, the
    whole-study splits first); caps of 0 mean none. ``seeds`` are the CNN-BiLSTM AL study's; ``seeds_by_claim``
    (lib.core.report reads it for the report's context column) names the seeds each claims.yaml row rests on: the
    headline seeds (``headline_seeds``) for the ODAL rows, both AL studies' for the saving (review22s6c P4).
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
    } | {"seeds_by_claim": _claim_seeds(list(study.seeds), headline_seeds, forest_al_seeds)}


def _claim_seeds(al_seeds: list, headline_seeds, forest_al_seeds) -> dict:
    out = {}
    if headline_seeds is not None:
        head = f"{list(headline_seeds)} (headline seeds; the value is their mean)"
        out |= {f"nb01_{k}": head for k in ("accuracy", "nonsinus_f1", "roc_auc", "odal_above_baselines")}
    if forest_al_seeds is not None:
        out["nb01_annotation_saving"] = (
            f"{al_seeds} (CNN-BiLSTM AL, the paper's protocol); {list(forest_al_seeds)} (forest AL, the honest "
            "protocol)"
        )
    return out


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


def _with_ci(res: dict, metric: str) -> str:
    value, ci = res.get(metric), res.get(f"{metric}_ci")
    if value is None:
        return "n/a"
    return f"{value:.3f}" + (f" [95% CI {ci[0]:.3f}-{ci[1]:.3f}]" if ci else "")


def _reductions(results: dict, max_train: int = 0, max_val: int = 0, al_pool_max: int = 0) -> dict:
    """What each headline model was trained on, in words (the real run's reductions of the paper's recipe)."""
    cap = f"a stratified {max_train:,}-beat subsample of the training part" if max_train else "the whole training part"
    val = f", validation {max_val:,} beats" if max_val else ""
    odal = results["random"]["odal"].get("labels_used")
    pool = f"a {al_pool_max:,}-beat pool" if al_pool_max else "the whole training part as pool"
    return {
        "cnn_bilstm": f"trained on {cap}{val}",
        "odal": f"{odal:,} labels from {pool}" if odal else f"labels from {pool}",
    }


def seed_means(results: dict, seeds=None) -> dict:
    """{split: {model: {metric: value, metric_ci: [lo, hi]}}}: the seed means of the headline over seeds
    (lib.ecg.headline_seeds.SeedStudy) where given, else ``results`` (one seed) as they are."""
    if seeds is None:
        return results
    out = {s: dict(by) for s, by in results.items()}
    for r in seeds.summary.to_dict("records"):
        row = {**out.get(r["split"], {}).get(r["model"], {}), "seeds": r["seeds"]}
        for key, v in r.items():
            if key.endswith("_mean"):
                row[key.removesuffix("_mean")] = v
            elif key.endswith("_ci") or key.endswith("_sd"):
                row[key] = v
        out.setdefault(r["split"], {})[r["model"]] = row
    return out


def interpretation(
    results: dict, source, max_train: int = 0, max_val: int = 0, al_pool_max: int = 0, seeds=None
) -> str:
    """Generated sentences on the headline: ODAL, the full CNN-BiLSTM and the 9-feature beat-RR forest across patients,
    and the paper's intra-patient split beside it (every number read from ``results``, or with ``seeds``
    (lib.ecg.headline_seeds.SeedStudy) the means over the headline seeds with the patient CI of the mean). The floor
    every rhythm model is compared with (the RR-irregularity forest) comes later, in the rhythm study."""
    red = _reductions(results, max_train, max_val, al_pool_max)
    results = seed_means(results, seeds)
    inter, rand = results["interpatient"], results["random"]
    lines = [f"Data: {source.stamp}."]
    if seeds is not None:
        lines.append(
            f"Every number below is the mean over the headline seeds {', '.join(map(str, seeds.seeds))} with the "
            "patient-bootstrap 95% CI of that mean (the tables above and below give each seed and the sd)."
        )
    else:
        lines.append("One seed per model (no seed spread).")
    names = (
        ("odal", f"ODAL ({red['odal']})"),
        ("cnn_bilstm", f"CNN-BiLSTM (full supervision, {red['cnn_bilstm']})"),
        (
            "rr_forest",
            "the forest on the 9 beat-RR features (not the floor: that is the RR-irregularity forest of "
            "section 4, its features chosen on DS1)",
        ),
    )
    for k, name in names:
        r = inter[k]
        lines.append(
            f"Across patients (DS1 -> DS2) {name}: non-sinus F1 {_with_ci(r, 'nonsinus_f1')}, "
            f"ROC-AUC {_with_ci(r, 'roc_auc_nonsinus')}, PR-AUC {_with_ci(r, 'pr_auc_nonsinus')}."
        )
    lines.append(
        "Every headline model against the RR-irregularity floor, paired over its seeds: section 4 (table "
        "headline_minus_floor_over_seeds)."
        if seeds is not None
        else "Paired with the floor over seeds: section 4 (the rhythm study's networks only)."
    )
    lines.append(
        f"Under the paper's random beat split (intra-patient, optimistic) ODAL ({red['odal']}) reaches non-sinus F1 "
        f"{_with_ci(rand['odal'], 'nonsinus_f1')} and ROC-AUC {_with_ci(rand['odal'], 'roc_auc_nonsinus')}; the "
        f"CNN-BiLSTM ({red['cnn_bilstm']}) {_with_ci(rand['cnn_bilstm'], 'nonsinus_f1')} and "
        f"{_with_ci(rand['cnn_bilstm'], 'roc_auc_nonsinus')}. These are reductions of the paper's recipe (it trains "
        "on the whole 70% training part until the validation loss settles), so the claim rows below compare a "
        "budget, not the method, wherever a cap is named."
    )
    return "\n".join(lines)


def headline_reading(results: dict, source, seeds=None, **caps) -> str:
    """:func:`interpretation` as Markdown bullets (for IPython.display.Markdown); ``caps``: max_train, max_val,
    al_pool_max of the run (0: none); ``seeds``: the headline over seeds (lib.ecg.headline_seeds.SeedStudy)."""
    return _bullets(interpretation(results, source, seeds=seeds, **caps).split("\n"))
