"""Notebook 01's rhythm study in words: the reading of its results (lib.ecg.rhythm_study). The section's description,
the names of the floor rows and the curves figure live in lib.ecg.rhythm_description (re-exported here)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib.ecg.episodes import SHORT_BEATS
from lib.ecg.rhythm_cv_text import cv_vs_ds2 as cv_vs_ds2
from lib.ecg.rhythm_description import FLOOR_ECT as FLOOR_ECT
from lib.ecg.rhythm_description import FLOOR_FOLDS as FLOOR_FOLDS
from lib.ecg.rhythm_description import curves_figure as curves_figure
from lib.ecg.rhythm_description import describe as describe
from lib.ecg.rhythm_description import grid_clause as _grid_clause
from lib.ecg.rhythm_description import grid_reading as grid_reading
from lib.ecg.rhythm_description import grid_spread as grid_spread


def _fmt(v, ci) -> str:
    if v is None or not np.isfinite(v):
        return "n/a"
    return f"{v:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


#: a CI end this close to 0 is "at the edge of 0": no direction is established either way
EDGE = 0.001


def decide(ci, per_seed=()) -> str:
    """The one verdict rule of the cell (this reading and lib.ecg.networks.rhythm_reading): 'above' / 'below' when
    the paired patient CI excludes 0 by more than ``EDGE`` AND every seed's difference has that sign; 'at the edge
    of 0' when a CI end lies within ``EDGE`` of 0; 'not decided (one seed ...)' when the CI excludes 0 but
    ``per_seed`` holds a single seed's difference; otherwise 'not separable'. Returns the word before 'the floor'."""
    if not ci or not all(np.isfinite(ci)):
        return "not separable from"
    lo, hi = float(ci[0]), float(ci[1])
    if abs(lo) <= EDGE or abs(hi) <= EDGE:
        return "at the edge of 0 against (a CI end within 0.001 of 0: not established)"
    sign = 1 if lo > 0 else (-1 if hi < 0 else 0)
    if not sign:
        return "not separable from"
    per_seed = list(per_seed)
    if len(per_seed) == 1:  # one seed: the every-seed rule is vacuous (review22s6 m3)
        return "not decided (one seed: indicative only) against"
    if len(per_seed) > 1 and not all(d * sign > 0 for d in per_seed):
        return "not separable from (the patient CI excludes 0, but the seeds disagree in sign)"
    return "above" if sign > 0 else "below"


def _verdict(pr, m, per_seed=()) -> tuple[str, str]:
    ci = pr.loc[m, "ci"]
    return decide(ci, per_seed), _fmt(pr.loc[m, "diff"], ci)


def reading(res, cv: pd.DataFrame | None = None) -> str:
    """Generated prose: the floor's DS1 choice and its target, floor vs sequence model (paired), the ectopic
    exclusion, why (inner CV, convergence, per-record errors), where AF goes, episodes, patient CV."""
    s = res.summary
    primary = s["reading"].iloc[0]
    lines = []
    ch = res.floor_choice
    if ch is not None and len(ch):
        c = ch[ch["chosen (DS1)"]].iloc[0]
        others = "; ".join(
            f"{r['feature groups']} {r['DS1 inner-CV PR-AUC']:.3f}" for _, r in ch[~ch["chosen (DS1)"]].iterrows()
        )
        lines.append(
            f"- The floor's features, chosen on DS1 by inner-CV PR-AUC among {len(ch)} sets: {c['feature groups']} "
            f"({c['DS1 inner-CV PR-AUC']:.3f}; the others: {others}). DS2 chose nothing (its column is shown only)."
        )
    f0 = res.primary_row("floor")
    target = res.settings.get("target_auc")
    if target is not None:
        auc, ci = f0["roc_auc_nonsinus"], f0["roc_auc_nonsinus_ci"]
        met = "meets" if auc >= target else "misses"
        fr = res.runs[(res.runs.reading == primary) & (res.runs.model == "floor")]["roc_auc_nonsinus"]
        spread = f" (mean of {fr.size} forest seeds, range {fr.min():.3f}-{fr.max():.3f})" if fr.size > 1 else ""
        lines.append(
            f"- Floor ROC-AUC on all DS2 beats {_fmt(auc, ci)}{spread} {met} the issue's target {target:.2f} as a "
            "point "
            + (
                "estimate; the CI reaches below it (DS2's non-sinus beats come from few patients)."
                if ci and ci[0] < target <= auc
                else "estimate."
            )
        )
    for rd, g in s.groupby("reading", sort=False):
        f, q = g[g.model == "floor"].iloc[0], g[g.model == "sequence"].iloc[0]
        pr = res.paired[(res.paired.reading == rd) & (res.paired.comparison == "sequence - floor")].set_index("metric")
        verdict = []
        metrics = [("nonsinus_f1", "non-sinus F1"), ("roc_auc_nonsinus", "ROC-AUC")]
        if rd != primary and "pr_auc_nonsinus" in pr.index:  # review22s10 m2 (the primary's PR-AUC: _pr_auc_direction)
            metrics.append(("pr_auc_nonsinus", "PR-AUC"))
        for m, label in metrics:
            per_seed = _seed_differences(res, rd, m)
            word, txt = _verdict(pr, m, per_seed)
            seeds_txt = f"; per seed {', '.join(f'{d:+.3f}' for d in per_seed)}" if len(per_seed) > 1 else ""
            verdict.append(f"{label} {word} the floor (difference {txt}{seeds_txt})")
        one = " (1 seed: indicative)" if q.n_seeds == 1 else ""
        untuned = " " + grid_reading(res, detail=False) if rd == primary else ""
        lines.append(
            f"- {rd} reading ({'primary' if rd == primary else 'alternative'}){one}: floor non-sinus F1 "
            f"{_fmt(f.nonsinus_f1, f.nonsinus_f1_ci)}, ROC-AUC {_fmt(f.roc_auc_nonsinus, f.roc_auc_nonsinus_ci)}; "
            f"sequence model (mean of {q.n_seeds} seed(s)) F1 {_fmt(q.nonsinus_f1, q.nonsinus_f1_ci)}, ROC-AUC "
            f"{_fmt(q.roc_auc_nonsinus, q.roc_auc_nonsinus_ci)}: " + "; ".join(verdict) + "." + untuned
        )
    for comp, g in res.paired[res.paired.reading == primary].groupby("comparison", sort=False):
        name = comp.split(" - ")[0]
        if name in ("sequence", FLOOR_ECT, FLOOR_FOLDS):
            continue
        g = g.set_index("metric")
        row = s[(s.reading == primary) & (s.model == name)].iloc[0]
        words = []
        for m, label in (("nonsinus_f1", "non-sinus F1"), ("roc_auc_nonsinus", "ROC-AUC")):
            word, txt = _verdict(g, m, _seed_differences(res, primary, m, name, comp.split(" - ")[1]))
            words.append(f"{label} {word} (difference {txt})")
        lines.append(
            f"- {comp} (mean of {int(row.n_seeds)} seed(s); {name}: F1 {_fmt(row.nonsinus_f1, row.nonsinus_f1_ci)}, "
            f"ROC-AUC {_fmt(row.roc_auc_nonsinus, row.roc_auc_nonsinus_ci)}): "
            + "; ".join(words)
            + f" ({name}: each seed at the first model's DS1-chosen setting, not tuned on its own inputs; not a "
            "negative result on them)."
        )
    lines += _like_for_like(res, primary)
    lines += _pr_auc_direction(res, primary)
    ect = res.paired[res.paired.comparison == f"{FLOOR_ECT} - floor"].set_index("metric")
    if len(ect):
        e = res.primary_row(FLOOR_ECT)
        w_auc, t_auc = _verdict(ect, "roc_auc_nonsinus")
        w_f1, t_f1 = _verdict(ect, "nonsinus_f1")
        lines.append(
            f"- Ectopic beats excluded from the successive differences (the reference beat annotation as an oracle "
            f"ectopic detector, same feature columns): ROC-AUC {_fmt(e['roc_auc_nonsinus'], e['roc_auc_nonsinus_ci'])}"
            f" ({w_auc} the floor that keeps them, difference {t_auc}); F1 {w_f1} it (difference {t_f1})."
        )
    cm = res.confusion
    if cm is not None and cm.loc["af_flutter"].sum() > 0:
        row = cm.loc["af_flutter"]
        lines.append(
            f"- Where DS2's {int(row.sum()):,} AF/flutter beats go (sequence model, first seed): "
            + ", ".join(f"{int(v):,} to {c}" for c, v in row.items())
            + "."
            + (
                " Most go to ventricular: on RR alone the 4-class head files AF's irregularity under the class whose "
                "DS1 beats are also RR-irregular ((VT and the PVCs of bigeminy/trigeminy); the AF/flutter-vs-rest "
                "rows below score P(AF/flutter) instead."
                if row.idxmax() == "ventricular"
                else ""
            )
        )
    if cm is not None and cm.loc["sinus"].sum() > 0:
        row = cm.loc["sinus"]
        wrong = row.drop("sinus")
        lines.append(
            f"- Of DS2's {int(row.sum()):,} sinus beats the sequence model (first seed) calls {int(wrong.sum()):,} "
            "non-sinus: " + ", ".join(f"{int(v):,} {c}" for c, v in wrong.items()) + "."
        )
    lines += _why(res, primary)
    lines += _checks(res)
    e = res.episodes[(res.episodes.reading == primary) & (res.episodes["episodes of"] == "AF/flutter")]
    for _, r in e.sort_values("min episode (s)", ascending=False, kind="stable").iterrows():
        lim = (
            f"episodes under {r['min episode (s)']:.0f} s dropped"
            if r["min episode (s)"] > 0
            else "no minimum: fragment-level, not EC57"
        )
        ci = {k: r.get(f"{k}_ci") for k in ("episode_se", "episode_ppv", "duration_se", "duration_ppv")}
        ci = {k: v if isinstance(v, list | tuple) and len(v) == 2 else None for k, v in ci.items()}
        fit = f"one fit, seed {int(r['seed'])}" if pd.notna(r.get("seed")) else "one fit"
        what = (
            f"{fit}, 95% CI over DS2 patients (patient bootstrap; no seed spread in it), no paired test"
            if any(ci.values())
            else f"{fit}: no CI, no test"
        )
        lines.append(
            f"- AF/flutter episodes on DS2, {r.model} ({lim}; {what}; {int(r.episodes_ref)} reference"
            + (
                f" ({r['ref_short_share']:.0%} of them under {SHORT_BEATS} beats)"
                if pd.notna(r.get("ref_short_share"))
                else ""
            )
            + ", "
            f"{int(r.episodes_detected)} detected; reference R-peak times): episode Se "
            f"{_fmt(r.episode_se, ci['episode_se'])}, +P {_fmt(r.episode_ppv, ci['episode_ppv'])}; duration Se "
            f"{_fmt(r.duration_se, ci['duration_se'])}, +P {_fmt(r.duration_ppv, ci['duration_ppv'])}."
        )
    if cv is not None and len(cv):
        for _, r in cv.iterrows():
            paired_row = " - " in r.model
            f1 = "" if paired_row else f"non-sinus F1 at 0.5 (untuned) {_fmt(r.nonsinus_f1, r.nonsinus_f1_ci)}, "
            lines.append(
                f"- {r.protocol}, {r.model}: {f1}ROC-AUC {_fmt(r.roc_auc_nonsinus, r.roc_auc_nonsinus_ci)}, "
                f"PR-AUC {_fmt(r.pr_auc_nonsinus, r.pr_auc_nonsinus_ci)}."
            )
    return "\n".join(lines)


def _like_for_like(res, primary: str) -> list[str]:
    """The sequence model against the floor scored by the same protocol (its inner fold models' mean at their own
    out-of-fold threshold, no refit): the verdict per metric, the fold ensemble beside the refitted floor."""
    pr = res.paired[(res.paired.reading == primary) & (res.paired.comparison == f"sequence - {FLOOR_FOLDS}")]
    if not len(pr):
        return []
    pr, row = pr.set_index("metric"), res.primary_row(FLOOR_FOLDS)
    words = []
    for m, label in (("nonsinus_f1", "non-sinus F1"), ("roc_auc_nonsinus", "ROC-AUC"), ("pr_auc_nonsinus", "PR-AUC")):
        word, txt = _verdict(pr, m, _seed_differences(res, primary, m, "sequence", FLOOR_FOLDS))
        words.append(f"{label} {word} it (difference {txt})")
    k = res.settings["floor"]["inner_k"]
    return [
        f"- Like for like: the floor scored as the sequence model is (the mean of its {k} "
        "inner fold forests, each trained on part of DS1's patients, at the threshold chosen on their own "
        "out-of-fold predictions; no refit on all of DS1, no threshold transfer): F1 "
        f"{_fmt(row['nonsinus_f1'], row['nonsinus_f1_ci'])}, ROC-AUC "
        f"{_fmt(row['roc_auc_nonsinus'], row['roc_auc_nonsinus_ci'])}. The sequence model against this floor: "
        + "; ".join(words)
        + ". The refitted floor above (every DS1 patient, the threshold transferred) stays the issue's floor."
    ]


def _pr_auc_direction(res, primary: str) -> list[str]:
    """review22s6b n5: where every seed of every floor pairing (refit, like for like) puts the sequence model's DS2
    PR-AUC on the same side of the floor, say so beside the verdicts (which also need the CI to clear 0)."""
    m, bases = "pr_auc_nonsinus", [b for b in ("floor", FLOOR_FOLDS) if b in set(res.runs.model)]
    diffs, cis = [], []
    for base in bases:
        pr = res.paired[(res.paired.reading == primary) & (res.paired.comparison == f"sequence - {base}")]
        pr = pr.set_index("metric")
        if m not in pr.index:
            continue
        diffs += _seed_differences(res, primary, m, "sequence", base)
        cis.append((base, pr.loc[m, "ci"]))
    seeds = int((res.runs[res.runs.reading == primary].model == "sequence").sum())
    if seeds < 2 or not diffs or not (all(d < 0 for d in diffs) or all(d > 0 for d in diffs)):
        return []
    side = "lower" if diffs[0] < 0 else "higher"
    each = "; ".join(f"vs {b}: [{c[0]:+.3f}, {c[1]:+.3f}]" for b, c in cis)
    return [
        f"- PR-AUC: the sequence model is {side} than the floor in every seed of every pairing ({len(diffs)} per-seed "
        f"differences, {min(diffs):+.3f} to {max(diffs):+.3f}); paired CIs {each}. The verdict words above need the "
        "CI to clear 0 as well; the direction itself is the same in every seed."
    ]


def _seed_differences(res, reading: str, metric: str, name: str = "sequence", base: str = "floor") -> list[float]:
    """Each seed's DS2 score of ``name`` minus ``base``'s: minus the floor's mean over its fits when ``base`` is
    the floor, else seed by seed (the same seeds in the same order), one reading."""
    r = res.runs[res.runs.reading == reading]
    a = r[r.model == name][metric].to_numpy(float)
    b = r[r.model == base][metric].to_numpy(float)
    if base == "floor" or b.size != a.size:
        return [float(v - b.mean()) for v in a]
    return [float(v) for v in a - b]


def _why(res, primary: str) -> list[str]:
    """Evidence on the sequence model against the floor: inner CV on DS1, convergence, per-record errors."""
    lines = []
    inn = res.inner[res.inner.reading == primary]
    seq_in, floor_in = inn[inn.model == "sequence"], inn[inn.model == "floor"]
    runs = res.runs[(res.runs.reading == primary) & (res.runs.model == "sequence")]
    if len(seq_in) and len(floor_in) and floor_in.inner_cv_pr_auc.notna().all():
        smooth = int(res.settings["sequence"].get("smooth_epochs", 1)) > 1 and "inner_cv_pr_auc_smoothed" in seq_in
        col = "inner_cv_pr_auc_smoothed" if smooth else "inner_cv_pr_auc"
        ch_in = seq_in[seq_in["chosen"].astype(bool)] if "chosen" in seq_in else seq_in.iloc[0:0]
        best = ch_in.groupby("seed")[col].max() if len(ch_in) else seq_in.groupby("seed")[col].max()
        last = seq_in.groupby("seed").epoch.max()
        cap = int(res.settings["sequence"]["max_epochs"])
        patience = int(res.settings["sequence"]["patience"])
        ahead = int(res.settings["sequence"].get("smooth_epochs", 1)) // 2  # a smoothed value completes later
        # stopped by the cap, not by patience: ran to the cap with fewer than ``patience`` (complete smoothed)
        # epochs after the chosen one (lib.ecg.rhythm.fit_sequence)
        capped = [
            int(s_)
            for s_, e in zip(runs.seed, runs.epochs)
            if int(last.get(s_, 0)) >= cap and cap - int(e) - ahead < patience
        ]
        chosen = ", ".join(str(int(v)) for v in runs.epochs)
        fl = float(floor_in.inner_cv_pr_auc.iloc[0])
        text = (
            "- Inside DS1 (inner patient-grouped CV, pooled out-of-fold non-sinus PR-AUC; DS2 unseen): floor "
            f"{fl:.3f}, sequence model {best.min():.3f}-{best.max():.3f} at its chosen epoch over seeds"
            + (" (the moving mean that chose it)" if smooth else "")
            + f" (selected on these same scores{_grid_clause(res)}, so optimistic against the floor's single fit; "
            f"epochs chosen: {chosen}; training ran {', '.join(str(int(v)) for v in last)} epochs, stopping "
            f"{res.settings['sequence']['patience']} epochs after the "
            + ("smoothed curve's " if smooth else "")
            + f"best or at the cap of {cap}). "
        )
        if capped:
            text += (
                f"Seed(s) {', '.join(map(str, capped))} stopped at the cap of {cap} epochs, fewer than {patience} "
                "epochs after their best: not shown to have converged; no verdict on how the sequence model "
                "generalises."
            )
        elif best.max() < fl:
            text += (
                f"Every seed stopped by patience ({patience} epochs without a better inner-CV PR-AUC) below the "
                "floor: with "
                "the floor's own features as input, it does worse than the forest across DS1's own patients, so its "
                "DS2 gap is not a DS2 artefact."
            )
        elif best.min() > fl:
            every = seq_in.inner_cv_pr_auc
            text += (
                f"Every seed's best epoch is above the floor, but its per-epoch scores range {every.min():.3f}-"
                f"{every.max():.3f} (floor {fl:.3f}) and the best is chosen on them: no evidence either way on "
                "whether the model fits DS1 better than the floor."
            )
        else:
            text += (
                f"Its per-epoch scores range {seq_in.inner_cv_pr_auc.min():.3f}-{seq_in.inner_cv_pr_auc.max():.3f} "
                f"(floor {fl:.3f}): no evidence either way."
            )
        lines.append(text)
    pr = res.per_record
    if pr is not None and len(pr) and {"S beats", "V beats"} <= set(pr.columns) and pr["floor FP"].sum() > 0:
        top = pr.sort_values("floor FP", ascending=False).head(5)
        share = top["floor FP"].sum() / pr["floor FP"].sum()
        lines.append(
            f"- Where the floor errs (DS1 threshold): {int(pr['floor FP'].sum()):,} false positives and "
            f"{int(pr['floor FN'].sum()):,} false negatives on DS2; the 5 records with the most false positives hold "
            f"{share:.0%} of them: "
            + ", ".join(
                f"{r.record} {int(r['floor FP']):,} of {int(r.beats):,} beats ({int(r['non-sinus']):,} non-sinus, "
                f"{int(r['S beats']):,} S and {int(r['V beats']):,} V beats)"
                for _, r in top.iterrows()
            )
            + "."
            + (
                " Those records hold more ectopic (S + V) beats than non-sinus beats: an RR-only detector reads "
                "frequent ectopy as an irregular rhythm (it has no atrial activity to tell it from AF)."
                if (top["S beats"] + top["V beats"]).sum() > top["non-sinus"].sum()
                else ""
            )
        )
    if pr is not None and len(pr):
        err = pr.assign(d=(pr["sequence FN"] + pr["sequence FP"]) - (pr["floor FN"] + pr["floor FP"]))
        worse = err.sort_values("d", ascending=False).head(3)
        lines.append(
            "- Per DS2 record (first seed, DS1 thresholds), errors (FN + FP) of the sequence model minus the floor's, "
            "largest: "
            + ", ".join(
                f"{r.record} {int(r.d):+,} ({int(r['non-sinus']):,} non-sinus of {int(r.beats):,} beats)"
                for _, r in worse.iterrows()
            )
            + f"; in all, sequence {int(err['sequence FN'].sum() + err['sequence FP'].sum()):,} vs floor "
            f"{int(err['floor FN'].sum() + err['floor FP'].sum()):,} errors."
        )
    return lines


def _checks(res) -> list[str]:
    """AF/flutter vs the rest and the headline without named records: floor, sequence model, paired difference."""
    lines = []
    ch, cp = res.checks, res.checks_paired
    if ch is None or not len(ch):
        return lines
    for (target, beats), g in ch.groupby(["target", "DS2 beats"], sort=False):
        g = g.set_index("model")
        f, q = g.loc["floor"], g.loc["sequence"]
        pr = cp[(cp.target == target) & (cp["DS2 beats"] == beats)].set_index("metric")
        # non-sinus on all DS2 beats is the primary comparison above: its F1 and ROC-AUC verdicts are given there
        # once (the same floor fits, the same rule); here only what the primary bullet does not say
        same = target == "non-sinus" and beats == "all"
        verdict = []
        for m in ("PR-AUC",) if same else ("F1", "ROC-AUC", "PR-AUC"):
            seeds_ = pr.loc[m, "per_seed"] if "per_seed" in pr.columns else ()
            word, txt = _verdict(pr, m, seeds_ if isinstance(seeds_, (list, tuple, np.ndarray)) else ())
            verdict.append(f"{m} {word} the floor ({txt})")
        floor_seeds = int(f.n_seeds)
        lines.append(
            f"- {target}, DS2 {beats} ({int(f.positives):,} positive beats from {int(f['patients with positives'])} "
            f"patients): floor (mean of {floor_seeds} forest seed(s)) F1 {_fmt(f.F1, f.F1_ci)}, ROC-AUC "
            f"{_fmt(f['ROC-AUC'], f['ROC-AUC_ci'])}; sequence "
            f"model (mean of {int(q.n_seeds)} seeds) F1 {_fmt(q.F1, q.F1_ci)}, ROC-AUC "
            f"{_fmt(q['ROC-AUC'], q['ROC-AUC_ci'])}: "
            + ("F1 and ROC-AUC: the primary reading's verdicts above; " if same else "")
            + "; ".join(verdict)
            + "."
        )
    n_af = ch[ch.target != "non-sinus"]["patients with positives"]
    if len(n_af):
        lines.append(
            f"- DS2's AF/flutter beats come from {int(n_af.iloc[0])} patients: the AF intervals above resample so few "
            "positive clusters that they may under-cover; the per-patient AF table shows how the score splits."
        )
    return lines
