"""Issue 22, round s10: review22s7's minors (m1-m5) and D3, each new text piece and number on hand-built inputs."""

import types

import numpy as np
import pandas as pd
import pytest

from lib.ecg import rhythm as R
from lib.ecg import rhythm_description as RD
from lib.ecg import rhythm_grid as G

# ---------------------------------------------------------------- m1: the epoch on a moving mean of the inner CV


def test_smoothed_is_a_centred_moving_mean_shorter_at_the_ends():
    ap = [0.1, 0.5, 0.2, 0.3]
    assert R.smoothed(ap, 3) == pytest.approx([0.3, 0.8 / 3, 1.0 / 3, 0.25])
    assert R.smoothed(ap, 1) == pytest.approx(ap)
    assert R.smoothed(ap, 2) == pytest.approx([0.3, 0.35, 0.25, 0.3])  # epochs e and e + 1
    with pytest.raises(ValueError, match="smooth_epochs"):
        R.smoothed(ap, 0)


class _FakeSequenceModel:
    """A stand-in for R.SequenceRhythmModel: its weights are the number of epochs trained; its P(non-sinus) on any
    beat is that number / 100, so the restored weights show in the scores."""

    def __init__(self, n_in, n_classes, record, *, seed, **kw):
        self.n_classes, self.epoch, self.last_loss = n_classes, 0, 0.0
        self.model = self

    def fit_epoch(self, Z, y, idx):
        self.epoch += 1

    def get_weights(self):
        return [self.epoch]

    def set_weights(self, w):
        self.epoch = w[0]

    def predict(self, Z, idx):
        p = np.zeros((len(idx), self.n_classes))
        p[:, 1] = self.epoch / 100
        p[:, 0] = 1 - self.epoch / 100
        return p


#: an inner-CV PR-AUC curve with one noisy spike (epoch 3) and a broad later high (epochs 5-7)
CURVE = [0.20, 0.30, 0.90, 0.25, 0.60, 0.70, 0.65, 0.40, 0.30, 0.20]


def _fit(monkeypatch, smooth, max_epochs=10, patience=2):
    import sklearn.metrics

    from tests.ecg.tiny_rhythm import tiny_case

    data, split, X, _ = tiny_case()
    it = iter(CURVE)
    monkeypatch.setattr(sklearn.metrics, "average_precision_score", lambda *a, **k: next(it))
    monkeypatch.setattr(R, "SequenceRhythmModel", _FakeSequenceModel)
    tr = np.sort(np.concatenate([split["train"], split["val"]]))
    return R.fit_sequence(
        X, data.y, tr, split["test"], record=data.record, n_classes=4, inner_k=2, max_epochs=max_epochs,
        patience=patience, seed=0, smooth_epochs=smooth,
    )  # fmt: skip


def test_the_epoch_is_chosen_on_the_smoothed_curve_and_patience_counts_on_it(monkeypatch):
    f = _fit(monkeypatch, 3)
    # smoothed: .25 .467 .483 .583 .517 .65 .583 .45 ...: best at epoch 6; complete up to epoch 8 when the 9th ran
    assert f["epochs"] == 6 and not f["capped"] and len(f["inner_ap"]) == 9
    assert f["inner_ap_smoothed"][5] == pytest.approx(0.65)
    assert f["score"] == pytest.approx(np.full(f["score"].size, 0.06))  # epoch 6's weights were restored
    raw = _fit(monkeypatch, 1)  # the raw rule picks the spike and stops 2 epochs after it
    assert raw["epochs"] == 3 and len(raw["inner_ap"]) == 5 and not raw["capped"]
    assert raw["score"] == pytest.approx(np.full(raw["score"].size, 0.03))


def test_a_fit_stopped_by_the_cap_is_capped_and_chooses_on_the_truncated_end(monkeypatch):
    f = _fit(monkeypatch, 3, max_epochs=6)
    assert f["capped"] and len(f["inner_ap"]) == 6
    assert f["epochs"] == 6 and f["inner_ap_smoothed"][5] == pytest.approx(0.65)  # mean(.6, .7): the end's window


def test_tune_sequence_chooses_on_the_smoothed_score_and_shows_each_settings_ds2_pr_auc(monkeypatch):
    from sklearn.metrics import average_precision_score

    y = np.array([0, 1, 0, 1, 0, 1])
    test = np.array([2, 3, 4, 5])
    scores = {0.001: np.array([0.1, 0.9, 0.2, 0.8]), 0.003: np.array([0.9, 0.1, 0.2, 0.8])}

    def fake_fit(Z, y_, train, test_, *, lr, units, seed, **kw):
        # lr 0.003 has the higher raw best epoch, lr 0.001 the higher smoothed value at its chosen epoch
        raw, sm = ([0.5, 0.7, 0.6], [0.6, 0.6, 0.65]) if lr == 0.001 else ([0.9, 0.4, 0.3], [0.62, 0.53, 0.35])
        ep = int(np.argmax(sm)) + 1
        return {"inner_ap": raw, "inner_ap_smoothed": sm, "epochs": ep, "capped": False, "fit_seconds": 1.0,
                "score": scores[lr]}  # fmt: skip

    monkeypatch.setattr(R, "fit_sequence", fake_fit)
    grid = G.sequence_grid({"lr": [0.001, 0.003], "units": 8})
    best, rows = G.tune_sequence(None, y, None, test, grid=grid, seed=4)
    t = pd.DataFrame(rows)
    assert best["setting"] == {"lr": 0.001, "units": 8}
    assert list(t[G.GRID_SCORE]) == [0.65, 0.62]  # the raw rule would choose lr 0.003 (0.9 at its epoch 1)
    assert list(t["chosen"]) == [True, False] and list(t["epochs"]) == [3, 1]
    assert list(t[G.GRID_RAW]) == [0.6, 0.9]
    want = [average_precision_score(y[test] != 0, scores[lr]) for lr in (0.001, 0.003)]
    assert list(t[G.GRID_DS2]) == pytest.approx(want) and want[0] != want[1]


# ---------------------------------------------------------------- m1 / m3: the generated selection and spread


def _grid_table():
    rows = []
    for seed, vals, ds2 in ((0, [0.70, 0.60, 0.65, 0.50], [0.3, 0.4, 0.2, 0.1]), (1, [0.62, 0.64, 0.66, 0.40],
                                                                                   [0.5, 0.2, 0.4, 0.3])):  # fmt: skip
        best = int(np.argmax(vals))
        for i, (lr, u) in enumerate(((0.001, 16), (0.001, 32), (0.003, 16), (0.003, 32))):
            rows.append({"seed": seed, "lr": lr, "units": u, RD.GRID_SCORE: vals[i], RD.GRID_RAW: vals[i] + 0.01,
                         "epochs": i + 2, "capped": False, "fit_seconds": 1.0, "chosen": i == best,
                         "grid edge": ("lr at the grid's bottom; units at the grid's bottom" if seed == 0 else
                                       "lr at the grid's top; units at the grid's bottom") if i == best else "",
                         RD.GRID_DS2: ds2[i]})  # fmt: skip
    return pd.DataFrame(rows)


def test_selection_bullets_name_each_seeds_choice_its_score_epoch_and_runner_up():
    text = RD.selection_bullets(_grid_table())
    assert text.splitlines() == [
        "- seed 0: lr 0.001, 16 units, smoothed inner-CV PR-AUC 0.700 at epoch 2; raw 0.710 at that epoch; "
        "runner-up lr 0.003, 16 units, 0.650 at epoch 4 (margin +0.050); lr at the grid's bottom; units at the "
        "grid's bottom.",
        "- seed 1: lr 0.003, 16 units, smoothed inner-CV PR-AUC 0.660 at epoch 4; raw 0.670 at that epoch; "
        "runner-up lr 0.001, 32 units, 0.640 at epoch 3 (margin +0.020); lr at the grid's top; units at the "
        "grid's bottom.",
    ]
    one = _grid_table().query("lr == 0.001 and units == 16").assign(chosen=True, **{"grid edge": ""})
    assert RD.selection_bullets(one).splitlines()[0] == (
        "- seed 0: lr 0.001, 16 units, smoothed inner-CV PR-AUC 0.700 at epoch 2; raw 0.710 at that epoch "
        "(one setting: no runner-up)."
    )


def test_grid_spread_compares_seeds_with_settings_and_shows_ds2_unused():
    g = _grid_table()
    t = RD.grid_spread(g).set_index("spread")
    seeds = t.loc["across seeds, within a setting"]
    sets = t.loc["across settings, within a seed"]
    sd = lambda a, b: abs(a - b) / np.sqrt(2)  # noqa: E731 - the sd (ddof 1) of two values
    assert seeds["groups"] == 4 and sets["groups"] == 2
    assert seeds["DS1 inner-CV: mean sd"] == pytest.approx(np.mean([sd(0.7, 0.62), sd(0.6, 0.64), sd(0.65, 0.66),
                                                                     sd(0.5, 0.4)]))  # fmt: skip
    assert sets["DS1 inner-CV: mean sd"] == pytest.approx(
        np.mean([np.std([0.7, 0.6, 0.65, 0.5], ddof=1), np.std([0.62, 0.64, 0.66, 0.4], ddof=1)])
    )
    assert sets["DS1 inner-CV: largest range"] == pytest.approx(0.26)
    assert seeds["DS2 (not used for the choice): largest range"] == pytest.approx(0.2)
    text = RD.spread_sentence(g)
    assert text == (
        f"The inner-CV score moves more than the seeds move it: mean sd {sets['DS1 inner-CV: mean sd']:.3f} across "
        f"settings within a seed, {seeds['DS1 inner-CV: mean sd']:.3f} across seeds within a setting. DS2 PR-AUC "
        "of every setting (mean over the seeds that ran it; not used for the choice): lr 0.001, 16 units 0.400 (2 "
        "seeds); lr 0.001, 32 units 0.300 (2 seeds); lr 0.003, 16 units 0.300 (2 seeds); lr 0.003, 32 units 0.200 "
        "(2 seeds)."
    )


def test_spread_sentence_says_whether_any_grid_run_reaches_the_floor():
    g = _grid_table()  # DS2 PR-AUC of the 8 runs: 0.1-0.5
    base = RD.spread_sentence(g)
    assert RD.spread_sentence(g, 0.791) == base + (
        " No grid runs (setting x seed, DS2 PR-AUC 0.100-0.500) reach the floor's DS2 PR-AUC 0.791: no setting of the "
        "grid puts the sequence model above the floor on DS2 PR-AUC."
    )
    assert RD.spread_sentence(g, 0.4).endswith(
        " 3 of 8 grid runs (setting x seed, DS2 PR-AUC 0.100-0.500) reach the floor's DS2 PR-AUC 0.400."
    )
    assert RD.spread_sentence(g, 0.5).endswith(" 1 of 8 grid run (setting x seed, DS2 PR-AUC 0.100-0.500) reaches "
                                               "the floor's DS2 PR-AUC 0.500.")  # fmt: skip
    assert RD.spread_sentence(g, float("nan")) == base == RD.spread_sentence(g, None)


def test_grid_reading_carries_the_rule_the_bullets_the_spread_and_the_edges():
    seq = {"lr": [0.001, 0.003], "units": [16, 32], "grid_on": "each_seed", "max_epochs": 15, "patience": 2,
           "smooth_epochs": 3}  # fmt: skip
    res = types.SimpleNamespace(settings={"sequence": seq, "sequence_chosen": {0: {}, 1: {}}}, grid=_grid_table())
    text = RD.grid_reading(res)
    assert RD.epoch_rule(seq) in text and RD.spread_sentence(res.grid) in text
    assert text.endswith(RD.selection_bullets(res.grid))
    assert "2 of 2 chosen settings sit on a grid edge" in text
    short = RD.grid_reading(res, detail=False)
    assert "runner-up" not in short and "DS2 PR-AUC of every setting" not in short and "grid edge" in short
    assert RD.epoch_rule(seq) not in short  # the verdict line: the rule is in the description and the grid cell


def test_epoch_rule_says_smoothing_and_patience_from_the_parameters():
    assert RD.epoch_rule({"max_epochs": 15, "patience": 2, "smooth_epochs": 3}) == (
        "the epoch with the best moving mean of the pooled non-sinus PR-AUC over 3 epochs (centred on the epoch, "
        "shorter at the ends of the curve), not the raw per-epoch maximum, so one noisy epoch does not pick the "
        "model (at most 15 epochs; the fold models train in lockstep and stop once the smoothed curve is 2 epochs "
        "past its best, an epoch's smoothed value counting once its whole window is trained)"
    )
    assert RD.epoch_rule({"max_epochs": 4, "patience": 3}) == (
        "the epoch with the best pooled non-sinus PR-AUC (at most 4; the fold models train in lockstep and stop 3 "
        "epochs after the best)"
    )


def test_params_type_smooth_epochs_once_and_the_schema_rejects_zero():
    from lib.core import params

    assert params.load_params("nb01")["sequence"]["smooth_epochs"] == 3
    real = params.load_params("nb01", run="real")["sequence"]
    assert real["smooth_epochs"] == 3 and real["patience"] == 2
    from pathlib import Path

    from lib.core.schema import ParamsError, check_file

    check_file(params.load_params(), Path("params.yaml"), partial=False)
    for bad_value in (0, "3"):
        bad = params.load_params()
        bad["nb01"]["sequence"]["smooth_epochs"] = bad_value
        with pytest.raises(ParamsError, match="smooth_epochs"):
            check_file(bad, Path("params.yaml"), partial=False)
    missing = params.load_params()
    del missing["nb01"]["sequence"]["smooth_epochs"]
    with pytest.raises(ParamsError, match="smooth_epochs"):
        check_file(missing, Path("params.yaml"), partial=False)


# ---------------------------------------------------------------- m2: the patient CV beside DS1 -> DS2


def test_fold_pr_aucs_and_af_patients():
    from sklearn.metrics import average_precision_score

    from lib.ecg.rhythm_cv import af_patients, fold_pr_aucs

    pos = np.array([0, 1, 0, 1, 1])
    s = {"floor": np.array([0.1, 0.2, 0.3, 0.4, 0.9]), "sequence": np.array([0.1, 0.8, 0.2, 0.7, 0.9])}
    out = fold_pr_aucs(pos, s)
    assert out["floor PR-AUC"] == pytest.approx(average_precision_score(pos, s["floor"]))
    assert out["sequence PR-AUC"] == 1.0
    assert out["sequence - floor PR-AUC"] == pytest.approx(1.0 - out["floor PR-AUC"])
    assert fold_pr_aucs(np.zeros(3), {"floor": np.ones(3), "sequence": np.ones(3)})["sequence - floor PR-AUC"] is None
    af = R.RHYTHM_CLASSES.index("af_flutter")
    rec = np.array(["201", "202", "203", "100", "201"])
    assert af_patients(rec, np.array([af, af, 0, af, 0]), np.arange(5)) == ["100", "201+202"]


def _cv_case(cv_diff, cv_ci, ds2_diff, ds2_ci):
    res = types.SimpleNamespace(
        summary=pd.DataFrame({"reading": ["statement"]}),
        paired=pd.DataFrame([
            {"reading": "statement", "comparison": "sequence - floor", "metric": "pr_auc_nonsinus", "n_seeds": 3,
             "diff": ds2_diff, "ci": ds2_ci},
            {"reading": "statement", "comparison": "sequence - floor", "metric": "roc_auc_nonsinus", "n_seeds": 3,
             "diff": 9.0, "ci": [8.0, 10.0]},
        ]),
    )  # fmt: skip
    cv = pd.DataFrame([{"protocol": "patient-grouped 3-fold CV", "model": "sequence - floor",
                        "pr_auc_nonsinus": cv_diff, "pr_auc_nonsinus_ci": cv_ci}])  # fmt: skip
    folds = pd.DataFrame({"fold": [0, 1, 2], "train AF patients": [6, 7, 6],
                          "test AF patients": ["201+202, 203", "", "210"],
                          "sequence - floor PR-AUC": [0.30, None, -0.02]})  # fmt: skip
    return res, cv, folds


def test_cv_vs_ds2_states_both_results_the_reversal_and_what_the_folds_show():
    from lib.ecg import rhythm_text as rt

    res, cv, folds = _cv_case(0.119, [0.009, 0.250], -0.129, [-0.251, -0.012])
    assert rt.cv_vs_ds2(res, cv, folds, ["201+202", "203"]) == (
        "**Patient-grouped CV against DS1 -> DS2.** Sequence minus floor, non-sinus PR-AUC: +0.119 [+0.009, +0.250] "
        "in the patient-grouped CV (above 0; one seed, the first sequence seed's setting and epochs), -0.129 "
        "[-0.251, -0.012] DS1 -> DS2 (below 0; mean over 3 seed(s)). They differ in direction: each CI excludes 0, "
        "on opposite sides. What the data show: each CV fold trains on 6-7 AF/flutter patients (every one but those "
        "of its test fold), DS1 holds 2 (201+202, 203); per fold, sequence minus floor PR-AUC: fold 0 +0.300 (test "
        "AF patients: 201+202, 203); fold 1 n/a (test AF patients: none); fold 2 -0.020 (test AF patients: 210). 1 "
        "of 2 folds share the pooled CV difference's sign; the largest is fold 0 (+0.300). Plausible reasons the "
        "data are consistent with, not tested here: the pooled CV difference is not shared by every fold; every CV "
        "fold trains the sequence model on more AF/flutter patients (6 or more) than DS1 holds (2). The two "
        "protocols also differ in what they score (pooled out-of-fold scores over every patient vs DS2 alone)."
    )
    res, cv, folds = _cv_case(0.05, [-0.01, 0.12], 0.02, [-0.03, 0.07])
    agree = rt.cv_vs_ds2(res, cv, folds, ["201+202", "203"])
    assert "They agree in direction." in agree and "Plausible reasons" not in agree
    assert "(positive but with a CI that includes 0;" in agree
    res, cv, folds = _cv_case(0.05, [-0.01, 0.12], -0.02, [-0.03, 0.01])
    assert "Their point estimates differ in sign; at least one CI includes 0" in rt.cv_vs_ds2(res, cv, folds, [])


# ---------------------------------------------------------------- m4: the saving with the validation labels charged


def _long_and_reference():
    rows = []
    for seed in (0, 1):
        for n, v in ((100, 0.2), (200, 0.5), (300, 0.8), (400, 0.95)):  # random reaches 0.9 at 400
            rows.append({"method": "random", "seed": seed, "n_labels": n, "m": v})
        for n, v in ((100, 0.2), (200, 0.95 if seed == 0 else 0.6), (300, 0.95), (400, 0.95)):
            rows.append({"method": "odal", "seed": seed, "n_labels": n, "m": v})
    return pd.DataFrame(rows), pd.DataFrame({"seed": [0, 1], "m": [1.0, 1.0]})


def test_savings_charge_the_validation_labels_to_the_method_that_reads_them():
    from lib.ecg import al_forest_rules as alr

    long, ref = _long_and_reference()
    t = alr.savings(long, ref, "m", [0.9], budget=400, extra={"odal": 100})
    row = alr.claim_row(t, 0.9)
    assert row["labels_per_seed"] == [200.0, 300.0] and row["random_labels_per_seed"] == [400.0, 400.0]
    assert row["saving"] == pytest.approx(np.mean([0.5, 0.25]))
    assert row["saving_with_validation"] == pytest.approx(np.mean([1 - 300 / 400, 1 - 400 / 400]))
    assert row["validation_labels"] == 100 and row["saving_with_validation_ci"][0] < 0.125
    plain = alr.claim_row(alr.savings(long, ref, "m", [0.9], budget=400), 0.9)
    assert plain["saving_with_validation"] == pytest.approx(plain["saving"]) and plain["validation_labels"] == 0
    assert alr.with_validation_text(plain) == ""
    ci = row["saving_with_validation_ci"]
    assert alr.with_validation_text(row) == (
        " With the 100 validation labels odal's controller reads charged to odal (random reads none): +12.5% "
        f"[95% CI {ci[0]:+.1%} to {ci[1]:+.1%}]."
    )
    text = alr.reading(t, claim_fraction=0.9)
    claim = next(x for x in text.splitlines() if "**The claim**" in x)
    assert claim.endswith(alr.with_validation_text(row))


def test_the_claims_block_and_the_forest_reading_carry_the_saving_with_validation():
    from lib.ecg import al_forest_text, prose

    row = {"fraction": 0.95, "saving": 0.286, "saving_ci": [-0.34, 0.91], "saving_with_validation": -0.748,
           "saving_with_validation_ci": [-2.1, 0.6], "validation_labels": 500}  # fmt: skip
    summary = pd.DataFrame([{"method": "odal", "saving_vs_random": 0.31, "saving_vs_random_ci": [-0.35, 0.97],
                             "auc_minus_random": 0.01, "auc_minus_random_ci": [-0.03, 0.05]}])  # fmt: skip
    fal = types.SimpleNamespace(summary=summary, flat=False, odal_minus=None)
    inter = {"odal": {"accuracy": 0.5, "nonsinus_f1": 0.5, "roc_auc_nonsinus": 0.5, "pr_auc_nonsinus": 0.5}}
    results = {"random": {k: {"accuracy": 0.4} for k in ("cnn", "lstm", "cnn_lstm", "random_forest")}}
    results["random"]["odal"] = dict(inter["odal"], roc_auc_ovr_macro=0.5)
    results["interpatient"] = inter
    c = prose.claims_block(results, {}, {"nonsinus_f1": 0.6, "roc_auc_nonsinus": 0.9}, forest_al=fal,
                           saving_rule=row)  # fmt: skip
    assert c["interpatient_annotation_saving"] == 0.286
    assert c["interpatient_annotation_saving_with_validation"] == -0.748
    assert c["interpatient_annotation_saving_with_validation_ci"] == [-2.1, 0.6]
    assert c["interpatient_annotation_saving_validation_labels"] == 500
    assert al_forest_text._not_the_claim(row) == (
        " (on its own points; the claim is the random-grid row: +28.6%; -74.8% [-210.0%, +60.0%] with its 500 "
        "validation labels charged)"
    )
    fal.flat = True
    flat = prose.claims_block(results, {}, {"nonsinus_f1": 0.6, "roc_auc_nonsinus": 0.9}, forest_al=fal,
                              saving_rule=row)  # fmt: skip
    assert flat["interpatient_annotation_saving_with_validation"] is None


# ---------------------------------------------------------------- D3: one builder for the AUC-difference sentences


def test_one_builder_writes_both_auc_difference_sentences():
    from lib.ecg.al_forest_text import auc_difference_line

    c = {"auc_difference": -0.015, "auc_difference_ci": [-0.025, -0.005], "detectable": 0.012, "seeds": 5}
    assert auc_difference_line("ODAL minus entropy (5 seeds paired)", c, "ODAL") == (
        "- ODAL minus entropy (5 seeds paired): learning-curve AUC difference -0.015 [-0.025, -0.005], ODAL below "
        "(detectable with these seeds: 0.012)."
    )
    c2 = {"auc_difference": 0.004, "auc_difference_ci": [-0.01, 0.02], "detectable": None, "seeds": 3}
    assert auc_difference_line("X", c2, "ODAL with it") == (
        "- X: learning-curve AUC difference +0.004 [-0.010, 0.020], not separable (detectable with these seeds: n/a)."
    )


def test_the_inside_ds1_line_reads_the_smoothed_score_at_the_chosen_epoch_and_the_smoothed_cap_rule():
    from lib.ecg import rhythm_text as rt

    def case(smooth, epochs_run, chosen):
        ap = [0.5, 0.9, 0.6, 0.7, 0.72][:epochs_run]
        sm = list(R.smoothed(ap, smooth))
        inner = pd.DataFrame(
            [{"reading": "statement", "model": "sequence", "seed": 0, "epoch": e + 1, "inner_cv_pr_auc": v,
              "inner_cv_pr_auc_smoothed": sm[e], "chosen": e + 1 == chosen} for e, v in enumerate(ap)]
            + [{"reading": "statement", "model": "floor", "seed": 0, "epoch": None, "inner_cv_pr_auc": 0.95}]
        )  # fmt: skip
        runs = pd.DataFrame([{"reading": "statement", "model": "sequence", "seed": 0, "epochs": chosen}])
        seq = {"max_epochs": 5, "patience": 2, "smooth_epochs": smooth}
        res = types.SimpleNamespace(inner=inner, runs=runs, settings={"sequence": seq}, per_record=None, grid=None)
        return rt._why(res, "statement")[0]

    # smoothed .7 .667 .733 .673 .71: chosen epoch 3; 5 epochs ran = the cap; 5 - 3 - 1 < 2: stopped by the cap
    line = case(3, 5, 3)
    assert "sequence model 0.733-0.733 at its chosen epoch over seeds (the moving mean that chose it)" in line
    assert "stopping 2 epochs after the smoothed curve's best or at the cap of 5" in line
    assert "Seed(s) 0 stopped at the cap of 5 epochs" in line
    raw = case(1, 4, 2)  # raw: best 0.9 at epoch 2, patience 2 reached at epoch 4 (before the cap)
    assert "sequence model 0.900-0.900 at its chosen epoch over seeds (selected" in raw
    assert "stopping 2 epochs after the best or at the cap" in raw and "stopped at the cap" not in raw
