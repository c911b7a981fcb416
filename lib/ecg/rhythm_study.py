"""Notebook 01's rhythm study (lib.ecg.rhythm): the floor and the sequence model DS1 -> DS2 over seeds, paired
record-bootstrap comparisons, AF episodes, both label readings, and patient-grouped CV over all non-paced records."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lib.ecg import bootstrap as ecg_boot
from lib.ecg import rhythm as R
from lib.ecg import rhythm_checks
from lib.ecg import rhythm_grid as G
from lib.ecg.data import RHYTHM_CLASSES
from lib.ecg.rhythm_cv import METRICS
from lib.ecg.rhythm_cv import patient_cv as patient_cv
from lib.ecg.rhythm_cv import split_af_patients as split_af_patients
from lib.ecg.rhythm_text import FLOOR_ECT, FLOOR_FOLDS

AF = RHYTHM_CLASSES.index("af_flutter")


@dataclass
class RhythmResult:
    summary: pd.DataFrame  # one row per (reading, model): mean over seeds with record-bootstrap CIs
    runs: pd.DataFrame  # one row per (reading, model, seed)
    paired: pd.DataFrame  # sequence model minus floor (and the ectopic-excluded floor minus the floor), paired
    episodes: pd.DataFrame  # non-sinus and AF episodes on DS2
    confusion: pd.DataFrame  # 4-class counts of the sequence model (seed of ``seeds[0]``), DS2
    inner: pd.DataFrame  # inner-CV PR-AUC and training loss per epoch and seed (DS1 only)
    floor_choice: pd.DataFrame  # the floor's candidate feature sets: DS1 inner CV (chooses) and DS2 (shown)
    per_record: pd.DataFrame  # DS2 errors per record, floor vs sequence model (first seed), primary reading
    settings: dict
    floor_score: np.ndarray  # the floor's P(non-sinus) on DS2 (primary reading)
    floor_threshold: float  # chosen on DS1 (inner CV)
    chosen_epochs: int  # the sequence model's epochs chosen on DS1 (first seed, primary reading)
    floor_columns: np.ndarray  # columns of the floor matrix the DS1 choice kept
    checks: pd.DataFrame  # non-sinus and AF/flutter-vs-rest, all DS2 beats and without named records (CIs)
    checks_paired: pd.DataFrame  # sequence minus floor on each of those (paired resamples)
    af_per_patient: pd.DataFrame  # AF/flutter Se / +P per DS2 patient, floor vs sequence model (first seed)
    #: DS2 non-sinus truth and each model's P(non-sinus) averaged over its seeds (primary reading; the figure)
    scores: dict | None = None
    #: (P(non-sinus) on DS2, DS1 threshold) of every forest seed of the floor (primary reading)
    floor_fits: list | None = None
    #: the sequence model's DS1 grid: one row per (seed, setting), its inner-CV PR-AUC, the chosen one, edge flags
    grid: pd.DataFrame | None = None

    def chosen_setting(self, seed: int | None = None) -> dict:
        """The (lr, units) the sequence model of ``seed`` (None: the first sequence seed) ran with (DS1-chosen)."""
        ch = self.settings["sequence_chosen"]
        return dict(ch[int(seed) if seed is not None else next(iter(ch))])

    @property
    def chosen_seq_kw(self) -> dict:
        """The sequence settings with the first seed's DS1-chosen (lr, units) (the patient CV's model)."""
        return dict(self.settings["sequence"]) | self.chosen_setting()

    @property
    def floor_probas(self) -> list:
        """One (n_test, 4) rhythm-shaped probability array per forest seed of the floor (each at its own DS1
        threshold, as the summary scores them): pair a model with the floor's seed mean on the same resamples."""
        fits = self.floor_fits or [(self.floor_score, self.floor_threshold)]
        pad = len(RHYTHM_CLASSES) - 2
        return [np.hstack([R.at_threshold(s, t), np.zeros((len(s), pad))]) for s, t in fits]

    @property
    def floor_proba(self) -> np.ndarray:
        """(n_test, 4) rhythm-shaped probabilities of the floor: [1 - s', s', 0, 0] with s' thresholded (0.5)."""
        two = R.at_threshold(self.floor_score, self.floor_threshold)
        return np.hstack([two, np.zeros((two.shape[0], len(RHYTHM_CLASSES) - 2))])

    def primary_row(self, model: str) -> dict:
        s = self.summary
        return s[(s.reading == s.reading.iloc[0]) & (s.model == model)].iloc[0].to_dict()


def _two(res) -> np.ndarray:
    return R.at_threshold(res["score"], res["threshold"])


def _ci(reps, level=0.95):
    return ecg_boot.percentile_interval(np.asarray(reps), level)


def _choice_rows(fits, chosen, yb) -> list[dict]:
    from sklearn.metrics import f1_score, roc_auc_score

    return [
        {
            "feature groups": " + ".join(g),
            "chosen (DS1)": g == chosen,
            "DS1 inner-CV PR-AUC": f["inner_ap"],
            "DS1 inner-CV ROC-AUC": f["inner_auc"],
            "DS1 threshold": f["threshold"],
            "DS2 ROC-AUC (shown, not used)": float(roc_auc_score(yb, f["score"])),
            "DS2 F1 at DS1 threshold (shown, not used)": float(f1_score(yb, f["score"] >= f["threshold"])),
        }
        for g, f in fits
    ]


def _per_record(data, te, y, fits: dict) -> pd.DataFrame:
    from lib.ecg.data import AAMI_CLASSES

    rec = data.record[te]
    aami = np.asarray(data.beats.aami)[te]
    df = pd.DataFrame({"record": rec, "non-sinus": y[te] != 0, "AF/flutter": y[te] == AF})
    df["S beats"] = aami == AAMI_CLASSES.index("S")
    df["V beats"] = aami == AAMI_CLASSES.index("V")
    for name, fit in fits.items():
        pred = fit["score"] >= fit["threshold"]
        df[f"{name} FN"] = df["non-sinus"] & ~pred
        df[f"{name} FP"] = ~df["non-sinus"] & pred
    out = df.groupby("record").sum().astype(int)
    out.insert(0, "beats", df.groupby("record").size())
    return out.reset_index()


def study(
    data,
    split,
    X,
    names,
    Z,
    *,
    alt_y,
    alt_name: str,
    floor_kw: dict,
    feature_sets,
    X_ectopic=None,
    seq_kw: dict,
    seeds,
    n_boot: int,
    seed: int,
    target_auc: float,
    without=(),
    episode_min_s: float = 0.0,
    Z_alt=None,
):
    """Floor (seed ``seed``; its feature set chosen on DS1 among ``feature_sets``) and sequence model (each of
    ``seeds``) trained on ALL of DS1 (``split``'s training and validation parts; thresholds, epochs and the feature
    set come from the inner patient-grouped CV on it), scored on DS2, under the primary labels ``data.y`` and, with
    the first seed, under ``alt_y`` (the other reading, named ``alt_name``). ``X_ectopic``: the floor matrix with
    annotated ectopic beats left out of the differences; its floor (same columns) is paired with the floor.
    Under the primary reading also: a floor for AF/flutter vs the rest (same columns, its own DS1 threshold) beside
    the sequence model's P(AF/flutter) at its DS1 threshold, both targets on all DS2 beats and without each record
    of ``without`` (lib.ecg.rhythm_checks), AF/flutter per patient; episodes with no minimum length and with
    ``episode_min_s`` seconds. Under the primary reading the floor is refitted with every seed of ``seeds`` (its
    scores, and the checks', are the mean over them; decisions and per-record errors use the fit with ``seed``),
    and ``Z_alt`` = (name, per-beat inputs) adds a second sequence model (e.g. with morphology) paired with the
    floor and with the first sequence model. The sequence model's (lr, units) come from the grid of ``seq_kw``
    (lib.ecg.rhythm_grid.sequence_grid), chosen per seed on DS1 by lib.ecg.rhythm_grid.tune_sequence
    (``seq_kw['grid_on']`` 'first_seed': on the first seed only, the others reuse it); the other reading and
    ``Z_alt`` run at each seed's chosen setting (not tuned on their own)."""
    # every DS1 beat trains (the held-out validation patients too: the inner CV on DS1 chooses what is chosen)
    tr, te = np.sort(np.concatenate([split["train"], split["val"]])), split["test"]
    rec_te = data.record[te]
    rows, summary, paired, episodes, inner = [], [], [], [], []
    primary = data.settings.get("label_reading", "statement")
    confusion = keep = choice = per_record = checks = mean_scores = floor_fits = None
    cols = None
    grid, n_cls, grid_rows, chosen = G.sequence_grid(seq_kw), len(RHYTHM_CLASSES), [], {}
    grid_on = seq_kw.get("grid_on", "each_seed")
    if grid_on not in G.GRID_ON:
        raise ValueError(f"sequence.grid_on must be one of {G.GRID_ON}, got {grid_on!r}")
    settings_kw, seq_kw = dict(seq_kw), {k: v for k, v in seq_kw.items() if k != "grid_on"}
    for rd, y, seq_seeds in ((primary, data.y, list(seeds)), (alt_name, alt_y, list(seeds)[:1])):
        y = np.asarray(y)
        yb = (y[te] != 0).astype(int)
        if cols is None:
            groups, floor, fits = R.choose_floor(
                X, names, y, tr, te, feature_sets=feature_sets, record=data.record, seed=seed, fold_score=True,
                **floor_kw,
            )  # fmt: skip
            cols = R.select(names, groups)
            choice = pd.DataFrame(_choice_rows(fits, groups, yb))
        else:
            floor = R.fit_floor(X[:, cols], y, tr, te, record=data.record, seed=seed, **floor_kw)
        if rd == primary:  # (lr, units) chosen per seed on DS1 by the inner CV's PR-AUC (R.tune_sequence)
            tuned = [
                G.tune_sequence(Z, y, tr, te, record=data.record, n_classes=n_cls, grid=grid, seed=s, **seq_kw)
                for s in (seq_seeds if grid_on == "each_seed" else seq_seeds[:1])
            ]
            seqs = [f for f, _ in tuned]
            grid_rows = [r for _, rows_ in tuned for r in rows_]
            # grid_on first_seed: the other seeds reuse the first seed's setting (fitted at it, not tuned)
            first = seqs[0]["setting"]
            seqs += [
                R.fit_sequence(Z, y, tr, te, record=data.record, n_classes=n_cls, seed=s, **(seq_kw | first))
                | {"setting": first}
                for s in seq_seeds[len(seqs) :]
            ]
            chosen = {s: f["setting"] for s, f in zip(seq_seeds, seqs)}
        else:  # the other reading: each seed's setting chosen under the primary one
            seqs = [
                R.fit_sequence(Z, y, tr, te, record=data.record, n_classes=n_cls, seed=s, **(seq_kw | chosen[s]))
                | {"setting": chosen[s]}
                for s in seq_seeds
            ]
        fit_seeds = {"floor": [seed], "sequence": list(seq_seeds)}
        models = {"floor": [floor], "sequence": seqs}
        if rd == primary:
            more = [s_ for s_ in seq_seeds if s_ != seed]
            models["floor"] += [
                R.fit_floor(X[:, cols], y, tr, te, record=data.record, seed=s_, fold_score=True, **floor_kw)
                for s_ in more
            ]
            fit_seeds["floor"] += more
            # like for like with the sequence model: the floor's inner fold forests, scored as an ensemble at the
            # threshold chosen on their own out-of-fold predictions (no refit, no threshold transfer)
            models[FLOOR_FOLDS] = [
                {"score": f["fold_score"], "threshold": f["threshold"], "fit_seconds": f["fit_seconds"]}
                for f in models["floor"]
            ]
            fit_seeds[FLOOR_FOLDS] = list(fit_seeds["floor"])
            if Z_alt is not None:
                alt_model, Za = Z_alt
                models[alt_model] = [  # each seed at the first model's chosen setting (not tuned on its own)
                    R.fit_sequence(Za, y, tr, te, record=data.record, n_classes=n_cls, seed=s_, **(seq_kw | chosen[s_]))
                    | {"setting": chosen[s_]}
                    for s_ in seq_seeds
                ]
                fit_seeds[alt_model] = list(seq_seeds)
        if X_ectopic is not None and rd == primary:
            models[FLOOR_ECT] = [R.fit_floor(X_ectopic[:, cols], y, tr, te, record=data.record, seed=seed, **floor_kw)]
        probas = {name: [_two(f) for f in fits_] for name, fits_ in models.items()}
        reps = ecg_boot.seed_mean_replicates(yb, probas, rec_te, n_boot=n_boot, seed=seed)
        ones = np.ones((1, yb.size))
        points = {}
        for name, fits_ in models.items():
            pts = [ecg_boot.weighted_scores(yb, p, ones) for p in probas[name]]
            for s_, (pt, fit) in enumerate(zip(pts, fits_)):
                rows.append(
                    {"reading": rd, "model": name, "seed": fit_seeds.get(name, [seed] * len(fits_))[s_]}
                    | {m: float(pt[m][0]) for m in METRICS}
                    | {"threshold": fit["threshold"], "epochs": fit.get("epochs"), "fit_seconds": fit["fit_seconds"]}
                    | {k: fit.get("setting", {}).get(k) for k in G.GRID_KEYS}
                )
            points[name] = {m: float(np.mean([pt[m][0] for pt in pts])) for m in METRICS}
            summary.append(
                {"reading": rd, "model": name, "n_seeds": len(pts)}
                | points[name]
                | {f"{m}_ci": _ci(reps[name][m]) for m in METRICS}
            )
        pairs = [(n, "floor") for n in models if n != "floor"]
        pairs += [(n, "sequence") for n in models if n not in ("floor", "sequence", FLOOR_ECT, FLOOR_FOLDS)]
        pairs += [("sequence", FLOOR_FOLDS)] if FLOOR_FOLDS in models else []
        for name, base in pairs:
            for m in METRICS:
                paired.append(
                    {"reading": rd, "comparison": f"{name} - {base}", "metric": m, "n_seeds": len(models[name])}
                    | ecg_boot.paired_difference(reps[name][m], reps[base][m], points[name][m] - points[base][m])
                )
        b = data.beats
        p0 = seqs[0]["proba"]
        s0 = int(seq_seeds[0])  # episodes: one fit per model, named per row (the floor's seed, the first sequence seed)
        decisions = [
            ("floor", "non-sinus", y[te] != 0, floor["score"] >= floor["threshold"], int(seed)),
            ("sequence", "non-sinus", y[te] != 0, seqs[0]["score"] >= seqs[0]["threshold"], s0),
            (
                "sequence (non-sinus decision, AF the likeliest non-sinus class)",
                "AF/flutter",
                y[te] == AF,
                (seqs[0]["score"] >= seqs[0]["threshold"]) & (p0[:, 1:].argmax(1) + 1 == AF),
                s0,
            ),
        ]
        if rd == primary:
            # the checks' floor is the headline's: every forest seed of the primary reading (scores: the mean)
            af_floors = [
                R.fit_floor(X[:, cols], y, tr, te, record=data.record, seed=s_, positive=AF, **floor_kw)
                for s_ in fit_seeds["floor"]
            ]
            af_floor = af_floors[0]
            af_fits = {
                "floor": [(f_["score"], f_["threshold"]) for f_ in af_floors],
                "sequence": [(f["af_score"], f["af_threshold"]) for f in seqs],
            }
            ns_fits = {"floor": [(f_["score"], f_["threshold"]) for f_ in models["floor"]]}
            ns_fits["sequence"] = [(f["score"], f["threshold"]) for f in seqs]
            tabs = [
                rhythm_checks.scores(t, pos, fits_, rec_te, n_boot=n_boot, seed=seed, without=without)
                for t, pos, fits_ in (
                    ("non-sinus", y[te] != 0, ns_fits),
                    ("AF/flutter vs rest", y[te] == AF, af_fits),
                )
            ]
            checks = (pd.concat([a for a, _ in tabs]), pd.concat([p_ for _, p_ in tabs]))
            af_dec = {
                "floor (AF vs rest)": af_floor["score"] >= af_floor["threshold"],
                f"sequence seed {seq_seeds[0]} (P(AF))": seqs[0]["af_score"] >= seqs[0]["af_threshold"],
            }
            af_patients = rhythm_checks.per_patient(y[te] == AF, af_dec, rec_te)
            dec_seeds = (int(fit_seeds["floor"][0]), s0)
            decisions += [(name, "AF/flutter", y[te] == AF, d, s_) for (name, d), s_ in zip(af_dec.items(), dec_seeds)]
        for min_s in sorted({0.0, float(episode_min_s)}, reverse=True):  # review22s6c P3: the minimum rows first
            level = f"episodes of at least {min_s:g} s" if min_s > 0 else "no minimum: fragment-level, not EC57"
            for name, of, ref, pred, fit_seed in decisions:
                episodes.append(
                    {"reading": rd, "model": name, "seed": fit_seed, "episodes of": of, "min episode (s)": min_s}
                    | {"level": level}
                    | R.episode_scores(rec_te, b.sample[te], b.fs, ref, pred, min_seconds=min_s)
                    | R.episode_cis(rec_te, b.sample[te], b.fs, ref, pred, min_seconds=min_s, n_boot=n_boot, seed=seed)
                )
        for s_, fit in zip(seq_seeds, seqs):
            inner += [
                {
                    "reading": rd,
                    "model": "sequence",
                    "seed": s_,
                    "epoch": e + 1,
                    "inner_cv_pr_auc": v,
                    "inner_cv_pr_auc_smoothed": fit["inner_ap_smoothed"][e],
                    "inner_train_loss": fit["inner_loss"][e],
                    "chosen": e + 1 == fit["epochs"],
                }
                for e, v in enumerate(fit["inner_ap"])
            ]
        inner.append(
            {"reading": rd, "model": "floor", "seed": seed, "epoch": None, "inner_cv_pr_auc": floor["inner_ap"]}
        )
        if rd == primary:
            keep = (floor["score"], floor["threshold"], seqs[0]["epochs"])
            floor_fits = [(f_["score"], f_["threshold"]) for f_ in models["floor"]]
            mean_scores = {"y": yb} | {
                name: np.mean([np.asarray(f_["score"], dtype=float) for f_ in fits_], axis=0)
                for name, fits_ in models.items()
            }
            per_record = _per_record(data, te, y, {"floor": floor, "sequence": seqs[0]})
            pred = np.where(seqs[0]["score"] >= seqs[0]["threshold"], p0[:, 1:].argmax(1) + 1, 0)
            cm = pd.crosstab(
                pd.Categorical(np.array(RHYTHM_CLASSES)[y[te]], RHYTHM_CLASSES),
                pd.Categorical(np.array(RHYTHM_CLASSES)[pred], RHYTHM_CLASSES),
                dropna=False,
            )
            confusion = cm.rename_axis(index="reference", columns="predicted")
    settings = {"floor": floor_kw, "feature_sets": [list(f) for f in feature_sets], "sequence": settings_kw}
    settings["sequence_chosen"] = {int(s_): v for s_, v in chosen.items()}
    settings |= {"seeds": list(seeds), "n_boot": n_boot, "target_auc": target_auc}
    return RhythmResult(
        pd.DataFrame(summary),
        pd.DataFrame(rows),
        pd.DataFrame(paired),
        pd.DataFrame(episodes),
        confusion,
        pd.DataFrame(inner),
        choice,
        per_record,
        settings,
        *keep,
        cols,
        checks[0].reset_index(drop=True),
        checks[1].reset_index(drop=True),
        af_patients,
        mean_scores,
        floor_fits,
        pd.DataFrame(grid_rows),
    )


def alt_sequence_inputs(data, X, names, sequence: dict):
    """(name, per-beat inputs) of the second sequence model (``sequence['alt_inputs']``; None when empty), named by
    the input groups it adds to (or drops from) ``sequence['inputs']``."""
    alt = list(sequence.get("alt_inputs") or [])
    if not alt:
        return None
    main = list(sequence["inputs"])
    plus = [g for g in alt if g not in main]
    minus = [g for g in main if g not in alt]
    name = "sequence" + "".join(f" + {g}" for g in plus) + "".join(f" - {g}" for g in minus)
    if name == "sequence":
        raise ValueError("sequence.alt_inputs must differ from sequence.inputs")
    return name, R.sequence_features(data, X, names, alt)


def metrics(res: RhythmResult, cv: pd.DataFrame, folds: pd.DataFrame) -> dict:
    """The metrics-file blocks of the rhythm study and the patient-grouped CV."""
    return {
        "rhythm_time": {
            "summary": res.summary.to_dict("records"),
            "paired_sequence_minus_floor": res.paired.to_dict("records"),
            "episodes": res.episodes.to_dict("records"),
            "runs": res.runs.to_dict("records"),
            "floor_threshold_ds1": res.floor_threshold,
            "floor_choice": res.floor_choice.to_dict("records"),
            "per_record_ds2": res.per_record.to_dict("records"),
            "sequence_epochs_ds1": res.chosen_epochs,
            "sequence_grid_ds1": res.grid.to_dict("records") if res.grid is not None else [],
            "checks": res.checks.to_dict("records"),
            "checks_paired": res.checks_paired.to_dict("records"),
            "af_per_patient_ds2": res.af_per_patient.to_dict("records"),
            "settings": res.settings,
        },
        "patient_cv": {"table": cv.to_dict("records"), "folds": folds.to_dict("records")},
    }
