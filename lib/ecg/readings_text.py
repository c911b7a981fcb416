"""Notebook-01: the generated readings of the network, AAMI, CNN-BiLSTM AL and label-reading results (Markdown
bullets; every number read from the results). lib.ecg.prose (claims, metrics, the headline reading) imports the
bullet helpers from here; this module imports nothing from it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib.ecg.active_learning import seed_interval
from lib.ecg.al_study import ALAnalysis
from lib.ecg.networks import FLOOR, READING_LABELS, RhythmStudy


# ------------------------------------------------------------------ generated readings (Markdown, values only)
def _bullets(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


def _ci_text(ci) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return ""
    return f" [95% CI {ci[0]:+.3f} to {ci[1]:+.3f}]"


def _verdict(ci) -> str:
    """The project's verdict words for a difference's 95% CI (lib.ecg.rhythm_text.decide, CI only): 'higher',
    'lower', 'not separable' or 'at the edge of 0 (...)' (review22s6b n8: no 'not distinguishable')."""
    from lib.ecg.rhythm_text import decide

    if not ci or ci[0] is None or ci[1] is None:
        return "no interval"
    word = decide(ci)
    return {"above": "higher", "below": "lower"}.get(word, word.replace(" against", "").replace(" from", ""))


def rhythm_summary_reading(study: RhythmStudy) -> str:
    """Markdown: the best network vs the RR-only floor, and what the past-only (real-time) features cost, read
    from the paired differences of the rhythm study (every number from ``study``)."""
    p, lines = study.paired, []
    floor = p[p["b"].str.startswith(FLOOR) & ~p["a"].str.startswith(FLOOR)]
    for metric, label in (("nonsinus_f1", "non-sinus F1"), ("roc_auc_nonsinus", "ROC-AUC")):
        m = floor[floor.metric == metric]
        if m.empty:
            continue
        best = m.loc[m["diff"].idxmax()]
        above = [r.a for r in m.itertuples() if _verdict(r.ci) == "higher"]
        lines.append(
            f"{label}: the best network vs its floor is {best.a} ({best['diff']:+.3f}{_ci_text(best.ci)}); "
            + (f"above the floor with a CI excluding 0: {', '.join(above)}." if above else "no network is above the "
               "RR-only floor with a CI excluding 0.")
        )  # fmt: skip
    past = p[p["a"].str.contains(READING_LABELS["past"]) & ~p["b"].str.contains(READING_LABELS["past"])]
    for r in past.itertuples():
        if r.b.startswith(FLOOR) and r.a.startswith(FLOOR):
            what = "the RR-only forest on past-only RR minus the forest on the default RR features"
        elif r.b.startswith(FLOOR):
            continue
        else:
            what = f"{r.a} minus the same network on the default features"
        lines.append(f"Real-time cost, {r.metric}: {what}: {r.diff:+.3f}{_ci_text(r.ci)} -> {_verdict(r.ci)}.")
    lines.append("Differences are paired (the same record-bootstrap resamples); the lines printed above list them all.")
    return _bullets(lines)


def aami_reading(table: pd.DataFrame) -> str:
    """Markdown: per AAMI class, the model with the highest F1 on DS2 and every model's Se / +P (from ``table``)."""
    lines = []
    for c, g in table.groupby("class", sort=False):
        if not g["support"].sum():
            continue
        best = g.loc[g["F1"].idxmax()]
        each = "; ".join(f"{r['model']} Se {r['Se']:.3f} / +P {r['+P']:.3f}" for r in g.to_dict("records"))
        lines.append(f"{c} ({int(best.support)} DS2 beats): best F1 {best.F1:.3f} ({best.model}); {each}.")
    return _bullets(lines)


def al_reading(al: ALAnalysis, strategies=("odal", "odal_no_fuzzy", "bald", "entropy", "margin")) -> str:
    """Markdown: the protocol, ODAL's label saving and learning-curve AUC vs random (t-intervals over seeds), the
    strategies that beat random, and the fuzzy controller's effect (ODAL with vs without it)."""
    st, lines = al.saving, [f"Protocol: {al.protocol}."]
    lines.append(
        f"Reference (the same recipe on the whole pool, mean over seeds): non-sinus F1 {al.full_ns:.3f} (decides; "
        f"macro-F1 {al.full_f1:.3f}, shown only)."
    )
    first = al.curves_ns.get("random")
    if (
        first is not None
        and len(first) > 1
        and float(first["mean"].iloc[1]) >= al.per_seed.attrs.get("fraction", 0.95) * al.full_ns
    ):
        lines.append(
            f"Random sampling already reaches the target at {int(first['n_labels'].iloc[1])} labels: the reference is "
            "flat early, so a label saving is not measurable in this setting."
        )
    n_random = st["random"]["seeds_reaching_target"] if "random" in st else 0
    for m in [s for s in strategies if s in st]:
        r = st[m]
        sv, paired = r.get("saving_vs_random"), r.get("seeds_paired", 0)
        if sv is None or not np.isfinite(sv):
            saving = f"not estimable (both curves reach the target in {paired} seed{'s' * (paired != 1)}; two needed)"
        else:
            saving = f"{sv:+.3f}{_ci_text(r.get('saving_vs_random_ci'))} over {paired} seeds"
        lines.append(
            f"{m}: label saving vs random {saving} ({m} reaches the target in {r['seeds_reaching_target']} of "
            f"{r['n_seeds']} seeds, random in {n_random}); "
            f"curve AUC minus random {r['auc_minus_random']:+.3f}{_ci_text(r.get('auc_minus_random_ci'))} "
            f"-> {_verdict(r.get('auc_minus_random_ci'))}."
        )
    lines += fuzzy_effect_lines(al.per_seed)
    return _bullets(lines)


FUZZY_PARTS = {"odal": "the whole controller", "odal_query_control": "query control only",
               "odal_training_control": "learning-rate/dropout control only"}  # fmt: skip


def fuzzy_effect_lines(per_seed: pd.DataFrame) -> list[str]:
    """The fuzzy controller's effect: per part (``FUZZY_PARTS``), its curve AUC minus ODAL without the controller,
    paired by seed, with a 95% t-interval over seeds (``per_seed``: rows method, seed, auc)."""
    if per_seed.empty or "odal_no_fuzzy" not in set(per_seed["method"]):
        return []
    auc = per_seed.pivot(index="seed", columns="method", values="auc")
    lines = []
    for m, what in FUZZY_PARTS.items():
        if m not in auc:
            continue
        d = (auc[m] - auc["odal_no_fuzzy"]).dropna().to_numpy(dtype=float)
        ci = seed_interval(d)
        lines.append(
            f"Fuzzy controller, {what}: curve AUC minus ODAL without it {d.mean():+.3f}{_ci_text(ci)} over "
            f"{d.size} seeds -> {_verdict(ci)}."
        )
    return lines


def label_readings_text(table: pd.DataFrame) -> str:
    """Markdown: per model, non-sinus F1 and ROC-AUC under the two label readings (from ``table``)."""
    lines = []
    for m, g in table.groupby("model", sort=False):
        e, b = g.iloc[0], g.iloc[1]
        lines.append(
            f"{m}: non-sinus F1 {e.nonsinus_f1:.3f} ({e.reading} reading) vs {b.nonsinus_f1:.3f} ({b.reading}), "
            f"ROC-AUC {e.roc_auc_nonsinus:.3f} vs {b.roc_auc_nonsinus:.3f}; {int(b['DS2 labels changed'])} DS2 labels "
            "change."
        )
    return _bullets(lines)
