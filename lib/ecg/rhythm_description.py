"""Notebook 01's rhythm study (lib.ecg.rhythm_study): the names of its floor rows, the section's description
generated from the parameters, and the curves figure. lib.ecg.rhythm_text (the reading of the results) re-exports
these names; this module imports nothing from it."""

from __future__ import annotations

import numpy as np
import pandas as pd

FLOOR_ECT = "floor, ectopic beats excluded (oracle)"


#: the floor scored like the sequence model: its inner fold forests' mean, at their own out-of-fold threshold
FLOOR_FOLDS = "floor, inner fold ensemble (like for like)"


def _values(v) -> list:
    return list(v) if isinstance(v, list | tuple) else [v]


def grid_words(sequence: dict) -> str:
    """How the sequence model's learning rate and units were set, from the parameters: the DS1 grid and its rule,
    or 'one setting, not tuned' for a one-point grid."""
    lr, units = _values(sequence["lr"]), _values(sequence["units"])
    if len(lr) * len(units) == 1:
        return (
            f"learning rate {lr[0]:g} and {units[0]} units: one setting, not tuned (a one-point grid; only the "
            "epochs and the threshold are chosen on DS1)"
        )
    where = (
        "on the first seed (the other seeds reuse its setting: the run's time budget)"
        if sequence.get("grid_on") == "first_seed"
        else "per seed"
    )
    return (
        f"learning rate and units chosen on DS1 {where} from the grid lr {{{', '.join(f'{v:g}' for v in lr)}}} x "
        f"units {{{', '.join(map(str, units))}}} ({len(lr) * len(units)} settings, each run through the same inner CV "
        "to its chosen epoch; the highest smoothed pooled out-of-fold non-sinus PR-AUC at that epoch wins)"
    )


def epoch_rule(sequence: dict) -> str:
    """How the sequence model's epoch is chosen and when training stops, from the parameters (review22s7 m1)."""
    w, p = int(sequence.get("smooth_epochs", 1)), int(sequence["patience"])
    if w == 1:
        return (
            f"the epoch with the best pooled non-sinus PR-AUC (at most {sequence['max_epochs']}; the fold models train "
            f"in lockstep and stop {p} epochs after the best)"
        )
    return (
        f"the epoch with the best moving mean of the pooled non-sinus PR-AUC over {w} epochs (centred on the epoch, "
        "shorter at the ends of the curve), not the raw per-epoch maximum, so one noisy epoch does not pick the "
        f"model (at most {sequence['max_epochs']} epochs; the fold models train in lockstep and stop once the "
        f"smoothed curve is {p} epochs past its best, an epoch's smoothed value counting once its whole window is "
        "trained)"
    )


def describe(floor: dict, sequence: dict, seeds, checks: dict | None = None) -> str:
    """Markdown: what the floor and the sequence model are, every setting read from the parameters (``checks``: the
    records left out in the sensitivity rows and the minimum episode length)."""
    sets = "; ".join(" + ".join(g) for g in floor["feature_sets"])
    w = " and ".join(str(v) for v in floor["windows"])
    ect = (
        "left out of the successive differences (the reference annotation as an oracle ectopic detector)"
        if floor["exclude_ectopic"]
        else "kept in the successive differences"
    )
    row = (
        "; the floor with them left out (an oracle: the reference beat annotation marks them) is paired beside it"
        if floor["ectopic_row"]
        else ""
    )
    return (
        f"Floor: a Random Forest ({floor['trees']} trees, at least {floor['min_leaf']} beats a leaf, "
        "class-balanced) on RR-derived features, trained on every DS1 beat (no cap), target non-sinus. Feature groups: "
        "rr = the 9 record-normalised beat RR features; irregularity = over windows of "
        f"{w} beats centred on each beat, RMSSD over mean RR, share of successive differences above "
        f"{floor['large']:.0%} of the mean RR, turning-point ratio, coefficient of variation, local mean |dRR| over "
        "local mean RR; robust = median |dRR| over median RR and the RR interquartile range over median RR (medians: "
        f"little moved by isolated ectopic beats). The candidate sets ({sets}) compete on DS1 alone (inner-CV PR-AUC); "
        f"the issue's target ROC-AUC on DS2 is {floor['target_roc_auc']:.2f}. Annotated ectopic (S, V) beats are "
        f"{ect}{row}.\n\n"
        f"Sequence model: a BiLSTM ({' or '.join(map(str, _values(sequence['units'])))} units each way, a "
        f"{sequence['dense']}-unit dense layer "
        f"before it, dropout {sequence['dropout']}) over {sequence['seq_len']} consecutive beats of one record, "
        f"per-beat inputs {' + '.join(sequence['inputs'])} (standardised on DS1), one 4-class rhythm output per beat; "
        "at prediction time the chunks overlap by half and the outputs are averaged. Adam, learning rate "
        f"{' or '.join(f'{v:g}' for v in _values(sequence['lr']))}, batches of {sequence['batch_size']} chunks, seeds "
        f"{', '.join(map(str, seeds))}; {grid_words(sequence)}."
        + (
            f" A second sequence model, the same but with per-beat inputs {' + '.join(sequence['alt_inputs'])}, is "
            "paired with the floor and with the first (does the beat's own morphology help tell ectopy from AF?); "
            "it runs at the first model's setting chosen for each seed, not tuned on its own inputs, so it is no test "
            "of whether morphology helps."
            if sequence.get("alt_inputs")
            else ""
        )
        + " The floor is fitted with each of these seeds too (its scores: the mean).\n\n"
        "Validation that holds the positive class. Both models choose what they choose on DS1 only, by an inner "
        f"patient-grouped CV ({floor['inner_k']} folds for the floor, {sequence['inner_k']} for the sequence model, "
        "stratified by rhythm, out-of-fold predictions of every DS1 patient pooled, so both DS1 AF patients are in "
        "it): the floor its feature set and its threshold on P(non-sinus); the sequence model its learning rate and "
        f"units (where the grid has more than one point), its number of epochs ({epoch_rule(sequence)}) and its "
        "threshold; DS2 is scored by the mean of the "
        f"{sequence['inner_k']} inner fold models at that epoch (no refit), the models the threshold was chosen on. "
        "The floor is refitted on every DS1 beat and its out-of-fold threshold transferred to that refit (the issue's "
        "floor); beside it, the like-for-like row scores the floor as the sequence model is scored (the mean of its "
        f"{floor['inner_k']} inner fold forests at their own out-of-fold threshold), and the sequence model is paired "
        "with both. DS2 chooses nothing.\n\n"
        "Both are offline (Holter-review) detectors, not real-time monitors: the irregularity and robust windows are "
        "centred on the beat (half of them after it), the beat RR features read the next RR and a +-10-beat local "
        "mean, and the BiLSTM reads its chunk in both directions.\n\n"
        "CIs: patient bootstrap of DS2 (mean over seeds), the same resamples for every model, so the differences are "
        "paired; seed variance is not in them. DS2's AF beats come from few patients: percentile intervals over so "
        "few positive clusters may under-cover. Episodes: EC57-style gross episode and duration Se / +P of the "
        "non-sinus and AF/flutter decisions; every model here reads the reference R-peak times of the annotation "
        "(no beat detector); 95% CIs over DS2 patients (patient bootstrap, each episode counted with its patient's "
        "draws); episodes are scored with no minimum length"
        + (f" and with episodes under {checks['episode_min_s']:g} s dropped." if checks else ".")
        + "\n\nBeside non-sinus: **AF/flutter vs the rest**, a target with no taxonomy ambiguity: a floor of its own "
        "(the same DS1-chosen columns, positives AF/flutter, its threshold from the same inner CV) and the sequence "
        "model's P(AF/flutter) at the F1-best threshold of its inner-CV out-of-fold predictions (DS1), paired"
        + (
            f"; both targets also on DS2 without record(s) {', '.join(checks['rhythm_without'])} (sensitivity check)."
            if checks and checks["rhythm_without"]
            else "."
        )
    )


def grid_clause(res) -> str:
    g = getattr(res, "grid", None)
    n = 0 if g is None or not len(g) else int(g.groupby("seed").size().max())
    return f", over the epochs and the {n} grid settings" if n > 1 else ""


#: the grid table's columns (lib.ecg.rhythm_grid re-exports them; named here, this module imports no Keras code)
GRID_SCORE = "DS1 inner-CV PR-AUC (smoothed, chosen epoch)"
GRID_RAW = "DS1 inner-CV PR-AUC (raw, chosen epoch)"
GRID_DS2 = "DS2 PR-AUC (not used for the choice)"


def _setting(r) -> str:
    return f"lr {float(r['lr']):g}, {int(r['units'])} units"


def selection_bullets(g) -> str:
    """Markdown bullets, one per seed of the grid table ``g`` (review22s7 m1): the chosen (lr, units), its smoothed
    inner-CV PR-AUC at its chosen epoch (the raw value at that epoch beside it), the epoch, and the runner-up
    setting with its score and the margin (none for a one-point grid)."""
    out = []
    for s_, rows in g.groupby("seed", sort=True):
        rows = rows.sort_values(GRID_SCORE, ascending=False, kind="stable")
        ch = rows[rows["chosen"].astype(bool)].iloc[0]
        raw = f"; raw {ch[GRID_RAW]:.3f} at that epoch" if GRID_RAW in rows and pd.notna(ch.get(GRID_RAW)) else ""
        line = (
            f"- seed {int(s_)}: {_setting(ch)}, smoothed inner-CV PR-AUC {ch[GRID_SCORE]:.3f} at epoch "
            f"{int(ch['epochs'])}{raw}"
        )
        others = rows[~rows["chosen"].astype(bool)]
        if len(others):
            ru = others.iloc[0]
            line += (
                f"; runner-up {_setting(ru)}, {ru[GRID_SCORE]:.3f} at epoch {int(ru['epochs'])} (margin "
                f"{ch[GRID_SCORE] - ru[GRID_SCORE]:+.3f})"
            )
        else:
            line += " (one setting: no runner-up)"
        if isinstance(ch.get("grid edge"), str) and ch["grid edge"]:
            line += f"; {ch['grid edge']}"
        out.append(line + ".")
    return "\n".join(out)


def grid_spread(g) -> pd.DataFrame:
    """Review22s7 m3: how much the inner-CV score (and, shown, not used, the DS2 PR-AUC) moves across seeds within a
    setting and across settings within a seed: per kind of spread, the number of groups, the mean and the largest
    within-group standard deviation (ddof 1) and range. Groups of one value are left out (no spread)."""
    rows = []
    for what, by in (("across seeds, within a setting", ["lr", "units"]), ("across settings, within a seed", ["seed"])):
        row = {"spread": what}
        for col, name in ((GRID_SCORE, "DS1 inner-CV"), (GRID_DS2, "DS2 (not used for the choice)")):
            if col not in g:
                continue
            grp = [v.dropna().to_numpy(float) for _, v in g.groupby(by)[col]]
            grp = [v for v in grp if v.size > 1]
            row["groups"] = len(grp)
            row[f"{name}: mean sd"] = float(np.mean([v.std(ddof=1) for v in grp])) if grp else None
            row[f"{name}: largest range"] = float(max(v.max() - v.min() for v in grp)) if grp else None
        rows.append(row)
    return pd.DataFrame(rows)


def spread_sentence(g, floor_pr_auc: float | None = None) -> str:
    """One sentence from :func:`grid_spread`: whether the settings differ by more or less than the seeds do, and
    the DS2 PR-AUC of every setting (mean over the seeds that ran it; not used for the choice); with
    ``floor_pr_auc`` (the floor's DS2 PR-AUC), whether any single run of the grid reaches it (review22s10 m4)."""
    t = grid_spread(g).set_index("spread")
    seeds_sd = t.loc["across seeds, within a setting", "DS1 inner-CV: mean sd"]
    sets_sd = t.loc["across settings, within a seed", "DS1 inner-CV: mean sd"]
    out = ""
    if seeds_sd is not None and sets_sd is not None and pd.notna(seeds_sd) and pd.notna(sets_sd):
        cmp = "less than" if sets_sd < seeds_sd else "more than"
        out = (
            f"The inner-CV score moves {cmp} the seeds move it: mean sd {sets_sd:.3f} across settings within a seed, "
            f"{seeds_sd:.3f} across seeds within a setting"
            + (" (the choice among these settings is within the seed noise)." if sets_sd < seeds_sd else ".")
        )
    if GRID_DS2 in g and g[GRID_DS2].notna().any():
        ds2 = g.groupby(["lr", "units"], sort=False)[GRID_DS2].agg(["mean", "size"])
        out += (" " if out else "") + (
            "DS2 PR-AUC of every setting (mean over the seeds that ran it; not used for the choice): "
            + "; ".join(
                f"lr {lr:g}, {int(u)} units {r['mean']:.3f} ({int(r['size'])} seeds)" for (lr, u), r in ds2.iterrows()
            )
            + "."
        )
        runs = g[GRID_DS2].dropna()
        if floor_pr_auc is not None and np.isfinite(floor_pr_auc):
            some = int((runs >= floor_pr_auc).sum())
            out += (
                f" {'No' if not some else f'{some} of {len(runs)}'} grid run{'s' if some != 1 else ''} (setting x "
                f"seed, DS2 PR-AUC {runs.min():.3f}-{runs.max():.3f}) reach{'es' if some == 1 else ''} the floor's "
                f"DS2 PR-AUC {floor_pr_auc:.3f}"
                + ("." if some else ": no setting of the grid puts the sequence model above the floor on DS2 PR-AUC.")
            )
    return out


def _floor_pr_auc(res) -> float | None:
    """The floor's DS2 PR-AUC (primary reading) where the result carries a summary with it, else None."""
    s = getattr(res, "summary", None)
    if s is None or "pr_auc_nonsinus" not in getattr(s, "columns", ()):
        return None
    row = s[(s.reading == s.reading.iloc[0]) & (s.model == "floor")]
    return float(row["pr_auc_nonsinus"].iloc[0]) if len(row) else None


def grid_reading(res, detail: bool = True) -> str:
    """How the sequence model's (lr, units) were set (the grid from the parameters), the grid-edge flags and what
    the verdict is a verdict on; with ``detail``, one bullet per seed with its choice, score, epoch and runner-up
    (:func:`selection_bullets`) and the spread across seeds vs settings with the DS2 score of every setting
    (:func:`spread_sentence`); without (the verdict line of lib.ecg.rhythm_text.reading), the summary alone."""
    sq, g = res.settings.get("sequence", {}), getattr(res, "grid", None)
    words = grid_words(sq) if {"lr", "units"} <= set(sq) else "settings as given"
    rule = f" Epochs: {epoch_rule(sq)}." if detail and {"patience", "max_epochs"} <= set(sq) else ""
    if g is None or not len(g):
        return f"The sequence model: {words}.{rule}"
    n = int(g.groupby("seed").size().max())
    bullets = "\n\n" + selection_bullets(g) if detail else ""
    if n == 1:
        return f"The sequence model: {words}: a verdict on this setting, not on whether timing helps.{rule}" + bullets
    ch = g[g["chosen"].astype(bool)]
    reuse = sorted(set(map(int, res.settings.get("sequence_chosen", {}))) - set(map(int, ch.seed)))
    reuse_txt = (
        f" Seed(s) {', '.join(map(str, reuse))} reuse seed {int(ch.seed.iloc[0])}'s setting (the grid ran on the "
        "first seed only, to keep the run within its time budget)."
        if reuse
        else ""
    )
    rng = g.groupby("seed")[GRID_SCORE].agg(["min", "max"])
    edges = int((ch["grid edge"].astype(str) != "").sum())
    return (
        f"The sequence model: {words}.{rule}{reuse_txt} The {n} settings' smoothed inner-CV PR-AUCs range "
        + "; ".join(f"seed {int(s_)} {r['min']:.3f}-{r['max']:.3f}" for s_, r in rng.iterrows())
        + ". "
        + (spread_sentence(g, _floor_pr_auc(res)) + " " if detail else "")
        + (
            f"{edges} of {len(ch)} chosen settings sit on a grid edge (the best may lie beyond the grid there): "
            "the verdict is on this grid, not on whether timing helps."
            if edges
            else "No chosen setting sits on a grid edge."
        )
        + bullets
    )


def curves_figure(res, stamp: str | None = None):
    """Three panels: DS2 ROC and precision-recall curves of non-sinus, the floor vs the sequence model (scores
    averaged over each model's seeds; primary reading), and each sequence seed's inner-CV PR-AUC per epoch on DS1
    with the chosen epoch marked and the floor's inner-CV PR-AUC as a line."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve, roc_curve

    sc = res.scores or {}
    y = sc.get("y")
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for name in [k for k in sc if k != "y" and k != FLOOR_ECT]:
        fpr, tpr, _ = roc_curve(y, sc[name])
        prec, rec, _ = precision_recall_curve(y, sc[name])
        axes[0].plot(fpr, tpr, label=name)
        axes[1].plot(rec, prec, label=name)
    axes[0].plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    axes[0].set(xlabel="false-positive rate", ylabel="sensitivity", title="DS2 non-sinus ROC (mean over seeds)")
    if y is not None:
        axes[1].axhline(float(np.mean(y)), color="grey", lw=0.8, ls=":", label="prevalence")
    axes[1].set(xlabel="recall", ylabel="precision", title="DS2 non-sinus precision-recall")
    primary = res.summary["reading"].iloc[0]
    inn = res.inner[res.inner.reading == primary]
    smooth = "inner_cv_pr_auc_smoothed" in inn and inn["inner_cv_pr_auc_smoothed"].notna().any()
    chose = "inner_cv_pr_auc_smoothed" if smooth else "inner_cv_pr_auc"
    for s_, g in inn[inn.model == "sequence"].groupby("seed"):
        (line,) = axes[2].plot(g["epoch"], g["inner_cv_pr_auc"], marker=".", label=f"sequence seed {int(s_)}")
        if smooth:  # review22s10 m3: the curve that chose the epoch, beside the raw one
            axes[2].plot(g["epoch"], g["inner_cv_pr_auc_smoothed"], ls="--", lw=1, color=line.get_color())
        ch = g[g["chosen"].astype(bool)]
        axes[2].plot(ch["epoch"], ch[chose], marker="o", ms=10, mfc="none", color=line.get_color())
    fl = inn[inn.model == "floor"]["inner_cv_pr_auc"]
    if len(fl):
        axes[2].axhline(float(fl.iloc[0]), color="k", ls="--", lw=1, label="floor")
    title = "DS1 inner CV\n(" + ("dashed: moving mean; " if smooth else "") + "circle: chosen epoch)"
    axes[2].set(xlabel="epoch", ylabel="pooled out-of-fold PR-AUC", title=title)
    for ax in axes:
        ax.legend(fontsize=7)
    if stamp:
        fig.suptitle(stamp, fontsize=8)
    fig.tight_layout()
    return fig
