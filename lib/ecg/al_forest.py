"""Notebook 01's active-learning study with a learner whose full-pool reference clearly beats small budgets.

Learner: a class-balanced Random Forest on the floor's RR + irregularity features (lib.ecg.rhythm), binary target
non-sinus, refitted from scratch every round; pool = every DS1 beat (both DS1 AF patients, 201 and 203, in it) but
a small stratified validation sample of ``val_size`` DS1 beats, which only ODAL's fuzzy controller reads (its
validation-loss trend; the forest itself is not early-stopped); curves scored on every DS2 beat. Metric: non-sinus
PR-AUC (threshold-free: F1 at the arg-max of a class-balanced forest moves with the class mix of the labelled set,
so a few hundred selected labels can "beat" the whole pool). Strategies from lib.ecg.experiment.STRATEGY_SETTINGS
(random is the floor), seeds paired.

Decidability: the study can only measure a saving if the reference (the same forest on the whole pool) is clearly
above what small budgets reach. ``flat`` is True (verdict "not measurable in this setting") when random sampling's
mean curve reaches ``fraction`` of the mean reference within its first two queried rounds, or when the reference is
not above random's first queried round by at least the largest detectable effect size of the strategies (the
reference does not clearly beat small budgets). The fuzzy controller's own effect is ODAL minus ODAL without it
(same query rule, paired over seeds; ``controller``). The detectable effect size of a paired comparison over n
seeds (two-sided 5% level, 80% power, Student t) is (t_0.975 + t_0.8) x sd(paired differences) / sqrt(n).

Label savings are given twice: in pool labels (what the strategies choose) and with the validation labels charged to
the strategies that read them (ODAL with its fuzzy controller), not to random sampling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from lib.ecg.active_learning import (
    ALConfig,
    fit_reference,
    mean_curve,
    per_seed_table,
    run_strategies,
    seed_interval,
    summarise_seeds,
)
from lib.ecg.al_forest_text import curves_figure, describe, metrics, reading
from lib.ecg.models import RandomForestECGClassifier

__all__ = [
    "ForestAL",
    "censored_savings",
    "curves_figure",
    "describe",
    "detectable_effect",
    "metrics",
    "reading",
    "run",
]

METRIC = "test_pos_ap"  # DS2 non-sinus PR-AUC (threshold-free; F1 at the arg-max moves with the labelled class mix)


@dataclass
class ForestAL:
    long: pd.DataFrame
    reference: pd.DataFrame
    per_seed: pd.DataFrame
    summary: pd.DataFrame
    curves: pd.DataFrame  # mean / std per method and label count
    flat: bool
    first_round: dict
    settings: dict
    controller: dict | None = None  # ODAL minus ODAL without the fuzzy controller: curve AUC, paired over seeds
    #: ODAL minus each other query rule (plain uncertainty sampling, ...): curve AUC, paired over seeds
    odal_minus: dict | None = None


def detectable_effect(diffs, level: float = 0.95, power: float = 0.8) -> float | None:
    """Smallest mean paired difference a two-sided t test over these seeds detects with ``power``."""
    d = np.asarray([v for v in diffs if v is not None and np.isfinite(v)], dtype=float)
    if d.size < 2:
        return None
    df = d.size - 1
    return float((stats.t.ppf(0.5 + level / 2, df) + stats.t.ppf(power, df)) * d.std(ddof=1) / np.sqrt(d.size))


def reads_validation(method: str) -> bool:
    """Whether a strategy reads the validation set (ODAL's fuzzy controller: its validation-loss trend)."""
    from lib.ecg.experiment import STRATEGY_SETTINGS

    return bool(STRATEGY_SETTINGS[method].get("fuzzy", False))


def _charge_validation(per_seed: pd.DataFrame, extra: dict) -> pd.DataFrame:
    """``per_seed`` with ``extra[method]`` labels added to each method's labels to the target, the saving vs random
    recomputed (random is charged ``extra['random']``, 0 when it does not read the validation set)."""
    df = per_seed.copy()
    df["labels_to_target"] = df["labels_to_target"] + df["method"].map(extra).fillna(0)
    base = df[df["method"] == "random"].set_index("seed")["labels_to_target"]
    df["saving_vs_random"] = 1.0 - df["labels_to_target"] / df["seed"].map(base)
    return df


def _af_patients(record, y, idx) -> list[str]:
    """The patients (lib.ecg.data.patients) with AF/flutter beats among ``idx``."""
    from lib.ecg.data import RHYTHM_CLASSES, patients

    idx = np.asarray(idx)
    af = np.asarray(y)[idx] == RHYTHM_CLASSES.index("af_flutter")
    return sorted(set(patients(np.asarray(record)[idx][af]).tolist()))


def run(
    Xf,
    y,
    split,
    *,
    strategies,
    seeds,
    seed_size: int,
    batch: int,
    budget: int,
    trees: int,
    val_size: int,
    fraction: float,
    record=None,
):
    """The study on the DS1 beats of ``split`` (train + val; pool and validation as in the module docstring) and its
    DS2 test part; ``record`` (every beat's record) names the AF/flutter patients of the pool in the settings."""
    from lib.ecg.experiment import STRATEGY_SETTINGS
    from lib.ecg.inputs import _cap

    bad = sorted(set(strategies) - set(STRATEGY_SETTINGS) | ({"bald"} & set(strategies)))
    if bad or "random" not in strategies:
        raise ValueError(
            f"strategies must include 'random' and come from {sorted(set(STRATEGY_SETTINGS) - {'bald'})}"
            f" (a forest has no MC dropout), got {list(strategies)}"
        )
    yb = (np.asarray(y) != 0).astype(int)
    ds1 = np.sort(np.concatenate([split["train"], split["val"]]))
    if not 0 < val_size < ds1.size:
        raise ValueError(f"forest_al.val_size must be in (0, {ds1.size}) (DS1 beats), got {val_size}")
    val = _cap(ds1, yb, val_size, min(seeds))
    pool, test = np.setdiff1d(ds1, val), split["test"]

    def factory(s):
        return RandomForestECGClassifier(
            n_classes=2, n_estimators=trees, class_weight="balanced", seed=int(s), n_jobs=1, use_window=False
        )

    configs = {
        m: ALConfig(seed_size=seed_size, batch_size=batch, budget=budget, **STRATEGY_SETTINGS[m]) for m in strategies
    }
    v, t = (Xf[val], Xf[val], yb[val]), (Xf[test], Xf[test], yb[test])
    long = run_strategies(
        factory, Xf[pool], Xf[pool], yb[pool], v, t, configs, seeds, n_classes=2, positive_classes=[1], progress=False
    )
    ref = fit_reference(factory, Xf[pool], Xf[pool], yb[pool], v, t, seeds, n_classes=2, positive_classes=[1])
    per_seed = per_seed_table(long, ref, metric=METRIC, fraction=fraction, extra_labels=0)
    with_val = _charge_validation(per_seed, {m: len(val) if reads_validation(m) else 0 for m in strategies})
    per_seed["saving_with_validation"] = with_val["saving_vs_random"].to_numpy()
    summary = summarise_seeds(per_seed)
    sv = summarise_seeds(with_val).set_index("method")
    summary["saving_with_validation"] = summary["method"].map(sv["saving_vs_random"])
    summary["saving_with_validation_ci"] = summary["method"].map(sv["saving_vs_random_ci"])
    summary["detectable_auc_difference"] = [
        detectable_effect(per_seed.loc[per_seed.method == m, "auc_minus_random"]) for m in summary["method"]
    ]
    curves = pd.concat(
        [
            mean_curve([g.sort_values("n_labels") for _, g in long[long.method == m].groupby("seed")], METRIC).assign(
                method=m
            )
            for m in strategies
        ],
        ignore_index=True,
    )
    rnd = long[long.method == "random"]
    first_n = sorted(rnd["n_labels"].unique())[1] if rnd["n_labels"].nunique() > 1 else rnd["n_labels"].min()
    first = float(rnd.loc[rnd.n_labels == first_n, METRIC].mean())
    ref_mean = float(ref[METRIC].mean())
    rc = curves[curves.method == "random"].sort_values("n_labels")
    reached = np.flatnonzero(rc["mean"].to_numpy() >= fraction * ref_mean)
    reach_round = int(reached[0]) if reached.size else None  # 0 = the seed set, 1 = the first queried round
    best_random = float(rc["mean"].max())
    dets = [d for d in summary["detectable_auc_difference"] if d is not None and np.isfinite(d)]
    det = max(dets) if dets else float("nan")
    early = reach_round is not None and reach_round <= 2
    small_gap = not (ref_mean - first >= det)  # the reference does not clearly beat random's first queried round
    flat = early or small_gap
    # a saving to the target is a paired estimate only when every seed of both curves reaches it (review22s4b N-M1:
    # averaging over the seeds where random happens to reach it keeps exactly the seeds where random did well).
    # Where random does not reach it within the budget but the strategy does, that seed's saving is censored: at
    # least 1 - labels / (the most labels random saw); the mean of those bounds (exact where random reaches) is a
    # lower bound on the mean saving, shown when the strategy reaches the target in every seed.
    rnd_seeds = per_seed[per_seed.method == "random"]
    n_seeds = len(seeds)
    saving_estimable = bool(rnd_seeds["reached"].all()) and len(rnd_seeds) == n_seeds
    rnd_max = long[long.method == "random"].groupby("seed")["n_labels"].max()
    extra = {m: len(val) if reads_validation(m) else 0 for m in strategies}
    for col, vals in censored_savings(per_seed, rnd_max, extra, n_seeds, summary["method"]).items():
        summary[col] = vals
    paired_all = [saving_estimable and int(n) == n_seeds for n in summary["seeds_paired"].fillna(0)]
    for col in ("saving_vs_random", "saving_with_validation"):
        summary[col] = [v if ok else None for v, ok in zip(summary[col], paired_all)]
        summary[col + "_ci"] = [list(c) if ok else [None, None] for c, ok in zip(summary[col + "_ci"], paired_all)]
    has_both = {"odal", "odal_no_fuzzy"} <= set(strategies)
    controller = _paired_auc(per_seed, "odal", "odal_no_fuzzy") if has_both else None
    others = [m for m in strategies if m not in ("random", "odal", "odal_no_fuzzy")] if "odal" in strategies else []
    odal_minus = {m: _paired_auc(per_seed, "odal", m) for m in others} or None
    return ForestAL(
        long,
        ref,
        per_seed,
        summary,
        curves,
        bool(flat),
        {
            "n_labels": int(first_n),
            "random_mean": first,
            "reference_mean": ref_mean,
            "random_best": best_random,
            "random_reaches_target_round": reach_round,
            "random_reaches_target_labels": None if reach_round is None else int(rc["n_labels"].iloc[reach_round]),
            "largest_detectable_effect": det,
            "reaches_early": bool(early),
            "reference_gap_below_detectable": bool(small_gap),
            "saving_estimable": bool(saving_estimable),
            "random_max_labels": int(rnd_max.max()) if len(rnd_max) else None,
            "random_seeds_reaching_target": int(rnd_seeds["reached"].sum()),
        },
        {
            "strategies": list(strategies),
            "seeds": list(seeds),
            "seed_size": seed_size,
            "batch": batch,
            "budget": budget,
            "trees": trees,
            "fraction": fraction,
            "pool": int(len(pool)),
            "validation_labels": int(len(val)),
            "validation_charged_to": [m for m in strategies if reads_validation(m)],
            "af_patients_in_pool": _af_patients(record, y, pool) if record is not None else None,
            "test_beats": int(len(test)),
        },
        controller,
        odal_minus,
    )


def _paired_auc(per_seed: pd.DataFrame, a: str, b: str) -> dict:
    """Learning-curve AUC of ``a`` minus ``b``, paired by seed: mean, 95% t-interval, detectable effect, seeds."""
    x = per_seed[per_seed.method == a].set_index("seed")["auc"]
    y = per_seed[per_seed.method == b].set_index("seed")["auc"]
    d = (x - y.reindex(x.index)).dropna().to_numpy()
    return {
        "auc_difference": float(d.mean()) if d.size else None,
        "auc_difference_ci": seed_interval(d),
        "detectable": detectable_effect(d),
        "seeds": int(d.size),
    }


def censored_savings(per_seed: pd.DataFrame, random_max: pd.Series, extra: dict, n_seeds: int, methods) -> dict:
    """Per method (in ``methods``' order): seeds reaching the target, and, where the method reaches it in all
    ``n_seeds`` seeds, a lower bound on its mean saving vs random: per seed 1 - labels / random's labels where
    random reaches the target, else 1 - labels / ``random_max`` (the most labels random saw in that seed: random
    needs more); with ``extra[method]`` labels added to the method's count (the validation its controller reads)
    in ``saving_lower_bound_with_validation``; ``seeds_censored``: seeds where random does not reach it (none: no
    bound, the saving itself is estimated)."""
    rnd = per_seed[per_seed.method == "random"].set_index("seed")["labels_to_target"]
    out = {k: [] for k in ("seeds_reaching_target", "saving_lower_bound", "saving_lower_bound_with_validation")}
    out["seeds_censored"] = []
    for m in methods:
        g = per_seed[per_seed.method == m].set_index("seed")
        out["seeds_reaching_target"].append(int(g["reached"].sum()))
        if m == "random" or len(g) != n_seeds or not g["reached"].all():
            for k in ("saving_lower_bound", "saving_lower_bound_with_validation", "seeds_censored"):
                out[k].append(None)
            continue
        den = rnd.reindex(g.index).fillna(random_max.reindex(g.index))
        censored = int(rnd.reindex(g.index).isna().sum())
        out["seeds_censored"].append(censored)
        if not censored:  # nothing censored: the saving itself is estimated, no bound (review22s6 m5)
            out["saving_lower_bound"].append(None)
            out["saving_lower_bound_with_validation"].append(None)
            continue
        out["saving_lower_bound"].append(float((1.0 - g["labels_to_target"] / den).mean()))
        out["saving_lower_bound_with_validation"].append(
            float((1.0 - (g["labels_to_target"] + extra.get(m, 0)) / den).mean())
        )
    return out
