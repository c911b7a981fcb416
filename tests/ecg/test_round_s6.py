"""nb01 review22s4b leftovers: episode CIs over patients (d), the HGB grid-top reading (N-m6), the equal-budget
recipe sentence (N-m7)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lib.ecg import aami as ecg_aami
from lib.ecg import rhythm as R


def _two_records():
    record = np.repeat(["100", "101"], 10)
    sample = np.tile(np.arange(10) * 100, 2)
    ref = np.zeros(20, dtype=bool)
    ref[2:6] = True  # one episode in 100, none in 101
    pred = np.zeros(20, dtype=bool)
    pred[4:8] = True  # overlaps it
    pred[12:14] = True  # a false episode in 101
    return record, sample, ref, pred


def test_episode_cis_resample_patients_and_hold_the_point():
    record, sample, ref, pred = _two_records()
    e = R.episode_scores(record, sample, 100.0, ref, pred)
    ci = R.episode_cis(record, sample, 100.0, ref, pred, n_boot=400, seed=0)
    # record 100 alone (drawn twice): episode +P 1/1; both: 1/2; 101 alone: 0/1 -> the interval spans 0..1
    assert ci["episode_ppv_ci"] == pytest.approx([0.0, 1.0])
    assert ci["episode_ppv_ci"][0] <= e["episode_ppv"] <= ci["episode_ppv_ci"][1]
    # record 100 holds every reference episode: each resample that has it gives Se 1 (the others: no episode, NaN)
    assert ci["episode_se_ci"] == pytest.approx([1.0, 1.0])
    lo, hi = ci["duration_ppv_ci"]
    assert lo <= e["duration_ppv"] <= hi and hi == pytest.approx(2 / 4)  # 100 alone: 2 of its 4 detected beats
    # one patient in two records (201 and 202) is one cluster: both records always drawn together
    rec2 = np.repeat(["201", "202"], 10)
    ci2 = R.episode_cis(rec2, sample, 100.0, ref, pred, n_boot=50, seed=0)
    assert ci2["episode_ppv_ci"] == pytest.approx([e["episode_ppv"]] * 2)


def _choice(scores, iters=(50, 100, 200, 400, 800)):
    t = pd.DataFrame({"iterations": list(iters), "mean S, V F1": scores})
    t["chosen (DS1)"] = t["iterations"] == t["iterations"][int(np.argmax(scores))]
    return t


def test_hgb_reading_says_when_the_choice_is_the_grid_top_and_whether_it_is_flat():
    flat = ecg_aami.hgb_choice_reading(_choice([0.50, 0.51, 0.512, 0.513, 0.514]))
    top = "The choice is the grid's largest candidate: from 400 to 800 iterations the DS1 score changed by +0.001"
    assert top in flat
    assert "(over the whole grid 0.500-0.514), flat within 0.005 at the top" in flat
    rising = ecg_aami.hgb_choice_reading(_choice([0.40, 0.45, 0.50, 0.55, 0.60]))
    assert "changed by +0.050" in rising and "still rising at the top" in rising
    inside = ecg_aami.hgb_choice_reading(_choice([0.40, 0.52, 0.50, 0.49, 0.48]))
    assert "largest candidate" not in inside and ": 100 among 50, 100, 200, 400, 800" in inside


def test_equal_budget_reading_names_the_recipe_and_the_like_for_like_comparator():
    import types

    from lib.ecg import experiment as ex

    table = pd.DataFrame(
        [
            {"split": sp, "model": m, "labels": 600, "nonsinus_f1": f}
            for sp in ("random", "interpatient")
            for m, f in (("odal", 0.382), ("cnn", 0.494), ("cnn_bilstm", 0.513))
        ]
    )
    sets = {"y_pool": np.zeros(2000), "test": (None, None, np.zeros(3000))}
    study = types.SimpleNamespace(sets={"random": sets}, epochs_per_round=3)
    other = types.SimpleNamespace(sets={"interpatient": {**sets, "y_pool": np.zeros(1500)}}, epochs_per_round=3)
    ablation = pd.DataFrame(
        [
            {"method": "odal", "labels": 600, "nonsinus_f1_mean": 0.404, "nonsinus_f1_std": 0.031},
            {"method": "random", "labels": 600, "nonsinus_f1_mean": 0.396, "nonsinus_f1_std": 0.036},
        ]
    )
    per_seed = pd.DataFrame({"method": ["odal", "odal"], "seed": [0, 1]})
    al = ex.ALAnalysis(0.5, 0.5, {}, {}, per_seed, {}, pd.DataFrame(), ablation, "P", "random")
    text = ex.equal_budget_reading(
        table, {"random": study, "interpatient": other}, {"random": al}, train_sizes={"random": 4000,
        "interpatient": 4000}, epochs=6, patience=2, seed=0,
    )  # fmt: skip
    assert (
        "random: every baseline row is trained once (seed 0) on 600 stratified labels drawn from the headline" in text
    )
    assert (
        "training part (4,000 beats), up to 6 epochs with early stopping (patience 2); ODAL's 600 labels come" in text
    )
    assert "from a 2,000-beat pool, retrained 3 epochs a round from reset weights." in text
    assert "at 600 labels random non-sinus F1 0.396 (sd 0.036) vs ODAL 0.404 (sd 0.031) over 2 seeds, on the" in text
    assert (
        "study's 3,000 test beats; this table's CNN-BiLSTM row (the same network, the baselines' recipe) 0.513" in text
    )
    assert "interpatient: " in text and "a 1,500-beat pool" in text and "No AL study ran on this split" in text


def test_no_lower_bound_when_nothing_is_censored():
    """review22s6 m5: random reaches the target in every seed: the saving is estimated, no bound is reported."""
    from lib.ecg.al_forest import censored_savings

    rows = [("random", 0, 300.0), ("random", 1, 400.0), ("odal", 0, 200.0), ("odal", 1, 250.0)]
    ps = pd.DataFrame([{"method": m, "seed": s, "labels_to_target": v, "reached": True} for m, s, v in rows])
    out = censored_savings(ps, pd.Series({0: 600, 1: 600}), {"odal": 100}, 2, ["random", "odal"])
    assert out["seeds_censored"] == [None, 0]
    assert out["saving_lower_bound"] == [None, None] and out["saving_lower_bound_with_validation"] == [None, None]


def test_af_patients_text_and_confusion_titles_name_what_trained():
    """review22s6 m1 / m10: which patients hold AF in the networks' training and validation parts; the confusion
    titles name the CNN-BiLSTM's training beats, not 'full'."""
    import types

    from lib.ecg import experiment as ex
    from lib.ecg.data import RHYTHM_CLASSES

    af = RHYTHM_CLASSES.index("af_flutter")
    record = np.repeat(["201", "202", "203", "100"], 5)
    y = np.zeros(20, dtype=int)
    y[[0, 5, 10]] = af
    data = types.SimpleNamespace(record=record, y=y, class_names=RHYTHM_CLASSES)
    split = {"train": np.arange(10, 20), "val": np.arange(0, 5), "test": np.arange(5, 10)}
    text = ex.af_patients_text(data, split)
    assert "training beats: 203; among their validation patients (early stopping and threshold only): 201+202." in text
    assert "(AF/flutter patients: 201+202, 203)" in text
    probas = {"interpatient": {m: np.tile([1.0, 0, 0, 0], (5, 1)) for m in ("odal", "cnn_bilstm")}}
    cms = ex.confusion_tables(data, {"interpatient": split}, probas)
    assert set(cms) == {"ODAL, interpatient split", "CNN-BiLSTM supervised 10 beats, interpatient"}
    assert ex.confusion_file_name("CNN-BiLSTM supervised 10 beats, interpatient") == (
        "confusion_CNNBiLSTM_supervised_10_beats_interpatient"
    )


def _al_long():
    """random sees 100, 150, ..., 400 labels; odal sees 100, 130, ..., 400 (shrunken rounds) and touches the target
    early (around 200), dips below it, then stays above from about 317."""
    rows = []
    for s in (0, 1):
        for n in range(100, 401, 50):
            rows.append({"method": "random", "seed": s, "n_labels": n, "ap": 0.5 + 0.001 * (n - 100)})
        for n in range(100, 401, 30):
            v = 0.5 + 0.0012 * (n - 100) + (0.2 if n in (190, 220) else 0.0)
            rows.append({"method": "odal", "seed": s, "n_labels": n, "ap": v})
    return pd.DataFrame(rows)


def test_saving_rules_on_randoms_grid_first_and_sustained():
    """review22s6 M3: every curve on random's grid, first vs sustained crossing, two targets, early-budget AUC."""
    from lib.ecg import al_forest_rules as alr

    long = _al_long()
    np.testing.assert_allclose(alr.grid(long), [100, 150, 200, 250, 300, 350, 400])
    ref = pd.DataFrame({"seed": [0, 1], "ap": [0.8, 0.8]})  # target 0.95 x 0.8 = 0.76
    t = alr.savings(long, ref, "ap", alr.fractions(0.95), budget=400).set_index(["fraction", "rule"])
    assert alr.fractions(0.95) == [0.9, 0.95]
    first, sust = t.loc[(0.95, "first")], t.loc[(0.95, "sustained")]
    # random reaches 0.76 at 360 labels: first grid point 400; odal on the grid: 200 -> 0.5+0.12+0.2*(1/3)... above
    assert first["random_labels_per_seed"] == [400.0, 400.0]
    assert first["labels_per_seed"] == [200.0, 200.0] and sust["labels_per_seed"] == [350.0, 350.0]
    assert first["saving"] == pytest.approx(1 - first["labels_per_seed"][0] / 400)
    # review22s6b N-M1: random touches the target only at the last grid point: not sustained (censored), no saving
    assert sust["random_labels_per_seed"] == [None, None] and pd.isna(sust["saving"])
    v = alr.on_grid(long[(long.method == "odal") & (long.seed == 0)], "ap", alr.grid(long))
    assert alr.labels_at(alr.grid(long), v, 0.76, "sustained") == sust["labels_per_seed"][0]
    assert first["early_window"] == [100, 200]
    text = alr.reading(t.reset_index())
    assert (
        "95% of the reference, sustained crossing: " in text
        and "(odal reaches it in 2 of 2 seeds, random in 2)" in text
    )
    assert "over the early budget (100-200 labels, on the grid)" in text
    curves = alr.per_seed_curves(long, "ap")
    assert len(curves) == 2 * 2 * 7 and set(curves.n_labels) == {100, 150, 200, 250, 300, 350, 400}
    with pytest.raises(ValueError, match="rule must be one of"):
        alr.labels_at(alr.grid(long), v, 0.7, "last")
