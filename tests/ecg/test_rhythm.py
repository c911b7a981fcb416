"""The rhythm study's pieces: irregularity features, thresholds, chunks, episodes, label readings, patients."""

from __future__ import annotations

import numpy as np
import pytest

from lib.ecg import data as ecg_data
from lib.ecg import irregularity as irr
from lib.ecg import readings
from lib.ecg import rhythm as R
from lib.ecg.al_forest import detectable_effect


def _times(rr):
    return np.concatenate([[0.0], np.cumsum(rr)])


def test_irregularity_of_a_regular_and_an_alternating_rhythm():
    fs = 360.0
    regular = _times(np.full(99, 0.8))
    alternating = _times(np.tile([0.6, 1.0], 50)[:99])
    record = np.repeat(["a", "b"], 100)
    sample = np.concatenate([regular, alternating]) * fs
    F = irr.irregularity_features(record, sample, fs, windows=(16,), large=0.1)
    names = irr.irregularity_names((16,))
    f = {n: F[:, i] for i, n in enumerate(names)}
    a, b = slice(20, 80), slice(120, 180)  # away from the record ends
    assert np.allclose(f["rmssd_16"][a], 0) and np.allclose(f["cv_16"][a], 0, atol=1e-6)
    assert np.allclose(f["plarge_16"][a], 0) and np.allclose(f["tpr_16"][a], 0)  # no turning point in a flat series
    # alternating 0.6/1.0 s: every |dRR| = 0.4 s, mean RR 0.8 s -> RMSSD/mean = mad/mean = 0.5, all large, every point
    # a turning point (ratio 1 / (2/3) = 1.5), CV = 0.2 / 0.8
    assert np.allclose(f["rmssd_16"][b], 0.5, atol=1e-3) and np.allclose(f["mad_16"][b], 0.5, atol=1e-3)
    assert np.allclose(f["plarge_16"][b], 1.0) and np.allclose(f["tpr_16"][b], 1.5)
    assert np.allclose(f["cv_16"][b], 0.25, atol=1e-3)


def test_irregularity_leaves_ectopic_differences_out():
    fs = 100.0
    rr = np.full(59, 1.0)
    rr[29], rr[30] = 0.6, 1.4  # RR ending at beat 30 (premature) and the compensatory pause after it
    t = _times(rr) * fs
    ect = np.zeros(60, dtype=bool)
    ect[30] = True
    rec = np.full(60, "r")
    with_ect = irr.irregularity_features(rec, t, fs, windows=(20,))
    without = irr.irregularity_features(rec, t, fs, windows=(20,), ectopic=ect)
    assert with_ect[30, 0] > 0.1 and np.allclose(without[:, 0], 0)  # the beat alone made the window irregular
    with pytest.raises(ValueError, match="increasing"):
        irr.irregularity_features(rec, t[::-1], fs)
    with pytest.raises(ValueError, match="windows"):
        irr.irregularity_features(rec, t, fs, windows=(2,))


def test_threshold_map_keeps_the_ranking_and_moves_the_decision():
    s = np.array([0.05, 0.2, 0.3, 0.9])
    two = R.at_threshold(s, 0.25)
    assert np.all(np.diff(two[:, 1]) > 0) and (two[:, 1] >= 0.5).tolist() == [False, False, True, True]
    assert np.allclose(two.sum(1), 1)
    y = np.array([0, 0, 1, 1])
    assert 0.2 < R.best_f1_threshold(y, s) <= 0.3
    assert R.best_f1_threshold(np.zeros(4), s) == 0.5


def test_chunks_cover_every_beat_within_its_record():
    record = np.repeat(["a", "b"], [10, 3])
    C, M = R.chunks(record, np.arange(13), length=4, stride=2)
    assert C.shape[1] == 4 and set(C[M].tolist()) == set(range(13))
    for c in C:
        assert len(set(record[c])) == 1  # never across records
    short = C[record[C[:, 0]] == "b"]
    assert short.tolist() == [[10, 11, 12, 12]] and M[record[C[:, 0]] == "b"].tolist() == [[True, True, True, False]]


def test_episode_scores_by_overlap_and_duration():
    record = np.repeat(["a", "b"], 10)
    sample = np.tile(np.arange(10) * 100, 2)
    ref = np.zeros(20, dtype=bool)
    ref[2:6] = True  # one episode in a, none in b
    pred = np.zeros(20, dtype=bool)
    pred[4:8] = True  # overlaps it
    pred[12:14] = True  # a false episode in b
    e = R.episode_scores(record, sample, 100.0, ref, pred)
    assert (e["episodes_ref"], e["episodes_detected"]) == (1, 2)
    assert e["episode_se"] == 1.0 and e["episode_ppv"] == 0.5
    assert e["duration_se"] == pytest.approx(2 / 4) and e["duration_ppv"] == pytest.approx(2 / 6)


def test_readings_and_patients():
    assert readings.READINGS[0] == "statement"
    with pytest.raises(ValueError, match="label_reading"):
        readings.rhythm_labels(np.zeros(1, dtype=int), np.array(["(N"]), np.zeros(1, dtype=int), "beat")
    assert ecg_data.patients(["201", "202", "100"]).tolist() == ["201+202", "201+202", "100"]
    assert "201" in ecg_data.DS1 and "202" in ecg_data.DS2  # the stated DS1/DS2 overlap of one patient


def test_detectable_effect_grows_with_the_spread_and_shrinks_with_seeds():
    assert detectable_effect([0.1]) is None
    small = detectable_effect([0.0, 0.01, -0.01, 0.0, 0.005])
    big = detectable_effect([0.0, 0.1, -0.1, 0.0, 0.05])
    assert 0 < small < big
    assert detectable_effect([0.0, 0.1, -0.1, 0.0, 0.05] * 4) < big


def test_robust_features_of_a_regular_and_an_alternating_rhythm_and_an_isolated_ectopic_beat():
    fs = 360.0
    regular = _times(np.full(99, 0.8))
    alternating = _times(np.tile([0.6, 1.0], 50)[:99])
    rr = np.full(99, 0.8)
    rr[49], rr[50] = 0.5, 1.1  # one premature beat (index 50) and its pause
    ectopic = _times(rr)
    record = np.repeat(["a", "b", "c"], 100)
    sample = np.concatenate([regular, alternating, ectopic]) * fs
    F = irr.robust_features(record, sample, fs, windows=(16,))
    f = {n: F[:, i] for i, n in enumerate(irr.robust_names((16,)))}
    a, b, c = slice(20, 80), slice(120, 180), slice(220, 280)
    assert np.allclose(f["mdrr_16"][a], 0) and np.allclose(f["iqr_16"][a], 0)
    # every |dRR| = 0.4 s, median RR 0.8 s (half 0.6, half 1.0: the median of an even window is 0.8)
    assert np.allclose(f["mdrr_16"][b], 0.5, atol=1e-3)
    # one ectopic beat moves the medians of a 16-beat window not at all; the mean-based RMSSD moves
    assert np.allclose(f["mdrr_16"][c], 0) and np.allclose(f["iqr_16"][c], 0)
    mean_based = irr.irregularity_features(record, sample, fs, windows=(16,))
    assert mean_based[250, 0] > 0.05
    with pytest.raises(ValueError, match="windows"):
        irr.robust_features(record, sample, fs, windows=(2,))


def test_floor_columns_by_group_and_a_ds1_choice_that_ignores_the_test_part():
    rng = np.random.default_rng(0)
    names = ["RR_pre", "RR_post"] + irr.irregularity_names((8,)) + irr.robust_names((8,))
    groups = R.column_groups(names)
    assert groups.tolist() == ["rr"] * 2 + ["irregularity"] * 5 + ["robust"] * 2
    assert R.select(names, ["robust"]).tolist() == [7, 8]
    with pytest.raises(ValueError, match="feature groups"):
        R.select(names, ["morphology"])
    n_rec, per = 12, 60
    record = np.repeat([f"r{i}" for i in range(n_rec)], per)
    y = np.repeat(np.arange(n_rec) % 2, per)  # half the records non-sinus
    X = rng.normal(size=(record.size, len(names)))
    X[:, 7] += 3 * y  # only a robust column carries the label
    train, test = np.arange(8 * per), np.arange(8 * per, n_rec * per)
    chosen, fit, fits = R.choose_floor(
        X,
        names,
        y,
        train,
        test,
        feature_sets=[["rr"], ["robust"]],
        record=record,
        seed=0,
        trees=20,
        min_leaf=2,
        inner_k=2,
    )
    assert chosen == ["robust"] and len(fits) == 2 and fit["inner_ap"] > fits[0][1]["inner_ap"]
    assert fit["score"].shape == (test.size,)


def test_statement_reading_keeps_af_under_a_bigeminy_episode():
    C, A = ecg_data.RHYTHM_CLASSES, ecg_data.AAMI_CLASSES
    af, sinus, vent = C.index("af_flutter"), C.index("sinus"), C.index("ventricular")
    rs = np.array(["(AFIB", "(B", "(B", "(N", "(B", "(B"])
    rhythm = np.array([af, vent, vent, sinus, vent, vent])  # the episode reading's classes
    aami = np.array([A.index(c) for c in ("N", "N", "V", "N", "N", "V")])
    record = np.array(["a", "a", "a", "b", "b", "b"])
    y = readings.rhythm_labels(rhythm, rs, aami, "statement", record=record)
    assert y.tolist() == [af, af, vent, sinus, sinus, vent]
    # a record that starts inside an episode: its normal beats are sinus
    y2 = readings.rhythm_labels(rhythm[1:3], rs[1:3], aami[1:3], "statement", record=record[1:3])
    assert y2.tolist() == [sinus, vent]
    assert readings.rhythm_labels(rhythm, rs, aami, "episode").tolist() == rhythm.tolist()


def test_convergence_reading_tells_a_cap_stop_from_a_patience_stop():
    """A seed that runs to the cap with fewer than ``patience`` epochs after its best was stopped by the cap (no
    verdict); one whose best lies ``patience`` epochs before its last epoch was stopped by patience."""
    import types

    import pandas as pd

    from lib.ecg import rhythm_text

    def res(ap_by_seed, cap=8, patience=2):
        inner = [
            {"reading": "statement", "model": "sequence", "seed": s, "epoch": e + 1, "inner_cv_pr_auc": v}
            for s, ap in ap_by_seed.items()
            for e, v in enumerate(ap)
        ] + [{"reading": "statement", "model": "floor", "seed": 0, "epoch": None, "inner_cv_pr_auc": 0.9}]
        runs = [
            {"reading": "statement", "model": "sequence", "seed": s, "epochs": int(np.argmax(ap)) + 1}
            for s, ap in ap_by_seed.items()
        ]
        return types.SimpleNamespace(
            inner=pd.DataFrame(inner),
            runs=pd.DataFrame(runs),
            settings={"sequence": {"max_epochs": cap, "patience": patience}},
            per_record=None,
        )

    # seed 0: best at epoch 7 of a cap of 8 (one epoch after it): stopped by the cap
    capped = rhythm_text._why(res({0: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.65]}), "statement")[0]
    assert "Seed(s) 0 stopped at the cap of 8 epochs" in capped and "not a DS2 artefact" not in capped
    # best at epoch 3, two epochs without a better one: stopped by patience, below the floor (0.9)
    done = rhythm_text._why(res({0: [0.1, 0.2, 0.5, 0.4, 0.45]}), "statement")[0]
    assert "stopped by patience" in done and "stopped at the cap" not in done
    # best at epoch 6 of 8, two epochs after it: stopped by patience at the cap, not capped
    edge = rhythm_text._why(res({0: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.55, 0.5]}), "statement")[0]
    assert "stopped by patience" in edge


def test_forest_al_pool_keeps_every_ds1_af_patient_and_charges_validation_to_odal_only():
    from lib.ecg import al_forest

    rng = np.random.default_rng(0)
    recs = ["201", "203", "101", "103", "105", "210", "219"]
    record = np.repeat(recs, 80)
    af = ecg_data.RHYTHM_CLASSES.index("af_flutter")
    y = np.zeros(record.size, dtype=int)
    for r in ("201", "203", "210", "219"):  # AF in half of each AF record
        y[np.flatnonzero(record == r)[:40]] = af
    Xf = np.c_[(y != 0) + rng.normal(0, 0.7, y.size), rng.normal(size=(y.size, 2))].astype("float32")
    split = {  # the held-out validation patients hold one of DS1's two AF patients, as the notebook's split does
        "train": np.flatnonzero(np.isin(record, ["203", "101", "103"])),
        "val": np.flatnonzero(np.isin(record, ["201", "105"])),
        "test": np.flatnonzero(np.isin(record, ["210", "219"])),
    }
    kw = dict(strategies=["random", "odal"], seeds=[0, 1], seed_size=20, batch=20, budget=100, trees=10)
    al = al_forest.run(Xf, y, split, fraction=0.9, val_size=30, record=record, **kw)
    s = al.settings
    assert s["af_patients_in_pool"] == ["201+202", "203"]
    assert s["validation_labels"] == 30 and s["pool"] == 5 * 80 - 30
    assert s["validation_charged_to"] == ["odal"]
    rnd = al.per_seed[al.per_seed.method == "random"]
    assert (rnd["saving_with_validation"].dropna() == 0).all()
    odal = al.per_seed[al.per_seed.method == "odal"].dropna(subset=["saving_with_validation", "saving_vs_random"])
    assert (odal["saving_with_validation"] <= odal["saving_vs_random"] + 1e-12).all()
    text = al_forest.reading(al)
    assert "AF/flutter patients in it: 201+202, 203" in text
    f = al.first_round
    n_rnd = int(al.per_seed[al.per_seed.method == "random"]["reached"].sum())
    assert f["saving_estimable"] == (n_rnd == 2)
    if not f["saving_estimable"]:  # no saving unless every seed of random reaches the target
        assert al.summary["saving_vs_random"].isna().all()
    assert (
        "Seeds whose curve reaches 90% of its reference within the budget: " in text and f"random {n_rnd} of 2" in text
    )
    # forced: a target above every curve makes the saving not estimated, whatever the seeds
    hard = al_forest.run(Xf, y, split, fraction=1.5, val_size=30, record=record, **kw)
    assert not hard.first_round["saving_estimable"] and hard.summary["saving_vs_random"].isna().all()
    assert hard.summary["saving_lower_bound"].isna().all()
    assert "not estimated: it needs every seed of both curves to reach the target (here 0 of 2" in al_forest.reading(
        hard
    )
    with pytest.raises(ValueError, match="val_size"):
        al_forest.run(Xf, y, split, fraction=0.9, val_size=0, record=record, **kw)


def test_censored_saving_is_a_lower_bound_on_every_seed_and_never_a_survivor_mean():
    """review22s4b N-M1: random reaches the target in 1 of 3 seeds, ODAL in all: the saving is a lower bound over all
    3 seeds (exact where random reaches, 1 - labels / random's most labels where it does not); a strategy that misses
    a seed gets none."""
    import pandas as pd

    from lib.ecg.al_forest import censored_savings

    rows = [("random", 0, 300.0), ("random", 1, None), ("random", 2, None)]
    rows += [("odal", 0, 200.0), ("odal", 1, 250.0), ("odal", 2, 500.0), ("entropy", 0, 100.0)]
    rows += [("entropy", 1, None), ("entropy", 2, 100.0)]
    ps = pd.DataFrame(
        [{"method": m, "seed": s, "labels_to_target": np.nan if v is None else v, "reached": v is not None}
         for m, s, v in rows]
    )  # fmt: skip
    rmax = pd.Series({0: 600, 1: 600, 2: 600})
    out = censored_savings(ps, rmax, {"odal": 100}, 3, ["random", "odal", "entropy"])
    assert out["seeds_reaching_target"] == [1, 3, 2]
    lb = np.mean([1 - 200 / 300, 1 - 250 / 600, 1 - 500 / 600])
    assert out["saving_lower_bound"][1] == pytest.approx(lb)
    assert out["saving_lower_bound_with_validation"][1] == pytest.approx(
        np.mean([1 - 300 / 300, 1 - 350 / 600, 1 - 600 / 600])
    )
    assert out["seeds_censored"][1] == 2
    assert out["saving_lower_bound"][0] is None and out["saving_lower_bound"][2] is None  # random; entropy misses one


def test_saving_interval_beyond_the_possible_range_is_cut_and_said():
    from lib.ecg.al_forest_text import _pct

    assert _pct([-0.2, 0.5]) == "[-20.0%, +50.0%]"
    assert _pct([-0.98, 1.229]) == "[-98.0%, +100.0%] (t-interval cut at the possible maximum; its upper end: +122.9%)"
