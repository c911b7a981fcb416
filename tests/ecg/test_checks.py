"""Issue-22 checks: AAMI per-class CIs, records left out, per-record Se, DS1 choice of the boosting iterations; the
rhythm checks (AF vs rest, records left out, per patient); episodes with a minimum length."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lib.ecg import aami as A
from lib.ecg import rhythm as R
from lib.ecg import rhythm_checks as RC

N, S, V = (A.AAMI_CLASSES.index(c) for c in "NSV")


def _onehot(pred, k=5):
    p = np.zeros((len(pred), k))
    p[np.arange(len(pred)), pred] = 1.0
    return p


def _aami_case():
    record = np.repeat(["100", "105", "232"], 10)
    y = np.full(30, N)
    y[[0, 1]] = S  # record 100: 2 S
    y[[10, 11, 12, 13]] = V  # record 105: 4 V
    y[20:28] = S  # record 232: 8 S
    pred = y.copy()
    pred[1] = N  # one S missed in 100
    pred[[10, 11]] = N  # two V missed in 105
    pred[[28, 29]] = S  # two false S in 232
    return y, pred, record


def test_per_class_cis_points_match_counts_and_records_left_out():
    y, pred, record = _aami_case()
    t = A.per_class_cis(y, {"m": _onehot(pred)}, record, n_boot=200, seed=0, without=["232"])
    a = t[(t["DS2 beats"] == "all") & (t["class"] == "S")].iloc[0]
    assert a.Se == pytest.approx(9 / 10) and a["+P"] == pytest.approx(9 / 11) and a.support == 10
    lo, hi = a.Se_ci
    assert 0 <= lo <= a.Se <= hi <= 1
    w = t[(t["DS2 beats"] == "without record 232") & (t["class"] == "S")].iloc[0]
    assert w.Se == pytest.approx(1 / 2) and w["+P"] == pytest.approx(1.0) and w.support == 2
    v = t[(t["DS2 beats"] == "all") & (t["class"] == "V")].iloc[0]
    assert v.Se == pytest.approx(2 / 4)
    # the same seed gives the same intervals
    t2 = A.per_class_cis(y, {"m": _onehot(pred)}, record, n_boot=200, seed=0, without=["232"])
    assert t2.Se_ci.tolist() == t.Se_ci.tolist()
    with pytest.raises(ValueError, match="record 999"):
        A.per_class_cis(y, {"m": _onehot(pred)}, record, n_boot=10, seed=0, without=["999"])


def test_per_record_sensitivity_and_targets_reading_qualified_by_the_ci():
    y, pred, record = _aami_case()
    pr = A.per_record(y, {"m": _onehot(pred)}, record).set_index("record")
    assert pr.loc["100", "S beats"] == 2 and pr.loc["100", "m S Se"] == pytest.approx(0.5)
    assert pr.loc["105", "m V Se"] == pytest.approx(0.5) and pr.loc["232", "m S Se"] == pytest.approx(1.0)
    t = A.per_class_cis(y, {"m": _onehot(pred)}, record, n_boot=200, seed=0)
    text = A.targets_reading(t, s_se=0.76, s_ppv=0.35, v_se=0.85, v_ppv=0.75)
    assert "S Se 0.900" in text and "V Se 0.500" in text and "misses" in text
    assert "meets at the point estimate only" in text or "both lower CI ends clear it" in text
    side = A.beside_published(t)
    ours = side[side.study == "this notebook: m"].iloc[0]
    assert ours["S Se"] == pytest.approx(90.0) and ours["S Se 95% CI"].startswith("[")


def test_hgb_iterations_are_chosen_on_the_training_patients_only():
    rng = np.random.default_rng(0)
    record = np.repeat([f"{r}" for r in range(100, 106)], 60)
    y = rng.choice([N, S, V], size=record.size, p=[0.6, 0.2, 0.2])
    F = np.c_[y + rng.normal(0, 0.8, y.size), rng.normal(size=y.size)]
    train = np.flatnonzero(np.isin(record, ["100", "101", "102", "103"]))
    best, table = A.choose_hgb_iter(F, y, train, record, iters=[5, 20], inner_k=2, seed=0)
    assert best in (5, 20) and table["chosen (DS1)"].sum() == 1
    assert table.loc[table["chosen (DS1)"], "iterations"].item() == best
    # DS2 (records 104, 105) plays no part: changing its labels changes nothing
    y2 = y.copy()
    y2[~np.isin(np.arange(y.size), train)] = N
    best2, table2 = A.choose_hgb_iter(F, y2, train, record, iters=[5, 20], inner_k=2, seed=0)
    assert best2 == best and np.allclose(table2["mean S, V F1"], table["mean S, V F1"])


def test_rhythm_checks_pair_models_and_leave_records_out():
    record = np.repeat(["200", "202", "210"], 20)
    pos = np.zeros(60, dtype=int)
    pos[20:30] = 1
    pos[40:55] = 1
    good = pos + np.linspace(0, 0.1, 60)  # ranks every positive above every negative
    noisy = np.random.default_rng(1).random(60)
    fits = {"floor": [(good, 0.5)], "sequence": [(noisy, 0.5), (noisy[::-1], 0.5)]}
    summary, paired = RC.scores("AF/flutter vs rest", pos, fits, record, n_boot=100, seed=0, without=["202"])
    f = summary[(summary["DS2 beats"] == "all") & (summary.model == "floor")].iloc[0]
    assert f["ROC-AUC"] == pytest.approx(1.0) and f.F1 == pytest.approx(1.0)
    assert f["patients with positives"] == 2 and f.positives == 25
    w = summary[(summary["DS2 beats"] == "without record 202") & (summary.model == "sequence")].iloc[0]
    assert w.positives == 15 and w.n_seeds == 2
    assert set(paired.comparison) == {"sequence - floor"} and len(paired) == 6
    d = paired[(paired["DS2 beats"] == "all") & (paired.metric == "ROC-AUC")].iloc[0]
    assert d["diff"] < 0
    per = RC.per_patient(pos.astype(bool), {"floor": good >= 0.5}, record).set_index("patient")
    assert per.loc["201+202", "floor Se"] == pytest.approx(1.0) and per.loc["210", "AF/flutter beats"] == 15
    with pytest.raises(ValueError, match="record 999"):
        RC.scores("x", pos, fits, record, n_boot=10, seed=0, without=["999"])


def test_episode_minimum_length_drops_short_runs_of_both_sides():
    record = np.repeat(["a"], 40)
    sample = np.arange(40) * 100  # 1 s a beat at fs 100
    ref = np.zeros(40, dtype=bool)
    ref[2:20] = True  # an 18 s episode
    ref[30:32] = True  # a 2 s one
    pred = np.zeros(40, dtype=bool)
    pred[5:25] = True
    pred[35:36] = True  # a 1 s blip
    e0 = R.episode_scores(record, sample, 100.0, ref, pred)
    assert (e0["episodes_ref"], e0["episodes_detected"]) == (2, 2)
    e = R.episode_scores(record, sample, 100.0, ref, pred, min_seconds=10)
    assert (e["episodes_ref"], e["episodes_detected"]) == (1, 1)
    assert e["episode_se"] == 1.0 and e["episode_ppv"] == 1.0


def test_floor_can_score_af_against_the_rest():
    rng = np.random.default_rng(0)
    record = np.repeat([f"{r}" for r in range(100, 106)], 50)
    y = rng.choice([0, 1, 2], size=record.size, p=[0.6, 0.25, 0.15])
    X = np.c_[(y == 1) + rng.normal(0, 0.3, y.size), (y == 2) + rng.normal(0, 0.3, y.size)]
    tr = np.flatnonzero(np.isin(record, ["100", "101", "102", "103"]))
    te = np.setdiff1d(np.arange(y.size), tr)
    f = R.fit_floor(X, y, tr, te, trees=20, min_leaf=2, inner_k=2, record=record, seed=0, positive=1)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y[te] == 1, f["score"]) > 0.9
    assert isinstance(pd.Series(f["score"]).iloc[0], float)


def test_rhythm_study_integrates_the_checks_on_a_tiny_case():
    """rs.study end to end on 8 small records: AF vs rest, a record left out, per-patient AF, minimum episodes."""
    from lib.ecg import rhythm_study as rs
    from tests.ecg.tiny_rhythm import SEQ as seq
    from tests.ecg.tiny_rhythm import tiny_case

    data, split, X, _ = tiny_case(v_beats=True)
    y = data.y
    names = ["rr_pre", "rmssd_32"]  # one rr column, one irregularity column
    res = rs.study(
        data, split, X, names, X, alt_y=y, alt_name="episode",
        floor_kw={"trees": 10, "min_leaf": 2, "inner_k": 2}, feature_sets=[["rr", "irregularity"]],
        seq_kw=seq | {"max_epochs": 2, "patience": 1}, seeds=[0, 1], n_boot=30, seed=0, target_auc=0.9,
        without=["202"], episode_min_s=2.0, Z_alt=("sequence + extra", X),
    )  # fmt: skip
    c = res.checks
    assert set(c.target) == {"non-sinus", "AF/flutter vs rest"}
    assert set(c["DS2 beats"]) == {"all", "without record 202"}
    af_all = c[(c.target == "AF/flutter vs rest") & (c["DS2 beats"] == "all") & (c.model == "floor")].iloc[0]
    assert af_all.positives == 40 and af_all["patients with positives"] == 2
    assert af_all["ROC-AUC"] > 0.8
    assert set(res.checks_paired.comparison) == {"sequence - floor"}
    assert set(res.af_per_patient.patient) >= {"201+202", "210"}
    assert set(res.episodes["min episode (s)"]) == {0.0, 2.0}
    text = __import__("lib.ecg.rhythm_text", fromlist=["reading"]).reading(res)
    assert "AF/flutter vs rest, DS2 without record 202" in text and "from 2 patients" in text
    # the floor over the sequence seeds (primary reading), the second sequence model paired with floor and sequence
    s = res.summary[res.summary.reading == "statement"].set_index("model")
    assert s.loc["floor", "n_seeds"] == 2 and s.loc["sequence + extra", "n_seeds"] == 2
    comps = set(res.paired[res.paired.reading == "statement"].comparison)
    assert {"sequence + extra - floor", "sequence + extra - sequence"} <= comps
    assert "sequence + extra - sequence (mean of 2 seed(s)" in text and "mean of 2 forest seeds" in text
    # review22s6 M1: the floor scored like the sequence model (inner fold forests, own OOF threshold), paired
    from lib.ecg.rhythm_text import FLOOR_FOLDS

    assert f"sequence - {FLOOR_FOLDS}" in comps and s.loc[FLOOR_FOLDS, "n_seeds"] == 2
    assert s.loc[FLOOR_FOLDS, "roc_auc_nonsinus"] != s.loc["floor", "roc_auc_nonsinus"]
    line = next(x for x in text.splitlines() if x.startswith("- Like for like: the floor scored as the sequence"))
    assert (
        "(the mean of its 2 inner fold forests" in line
        and "The sequence model against this floor: non-sinus F1" in line
    )
    assert f"{FLOOR_FOLDS} - floor (mean" not in text  # not read as an untuned model
    # review22s6 M4: a one-point grid: the primary verdict names the sequence model as one untuned setting
    assert "The sequence model: learning rate 0.01 and 2 units: one setting, not tuned (a one-point grid;" in text
    assert {"S beats", "V beats"} <= set(res.per_record.columns) and res.per_record["V beats"].sum() == 3
    # review22s4b N-M2: the checks use the headline's floor (every forest seed, mean) and each comparison gets one
    # verdict in the cell: non-sinus on all DS2 beats is decided in the primary bullet only
    assert (c[c.model == "floor"]["n_seeds"] == 2).all()
    assert all(len(v) == 2 for v in res.checks_paired["per_seed"])
    line = next(x for x in text.splitlines() if x.startswith("- non-sinus, DS2 all"))
    assert "F1 and ROC-AUC: the primary reading's verdicts above" in line
    assert "F1 " + "above" not in line and "ROC-AUC below" not in line and "ROC-AUC above" not in line
    assert sum(x.startswith("- statement reading (primary)") for x in text.splitlines()) == 1
    # review22s4b N-m10: the rhythm figure (DS2 ROC / PR, floor vs sequence; DS1 inner CV per epoch)
    assert set(res.scores) >= {"y", "floor", "sequence"} and res.scores["floor"].shape == res.scores["y"].shape
    fig = __import__("lib.ecg.rhythm_text", fromlist=["curves_figure"]).curves_figure(res, "stamp")
    assert len(fig.axes) == 3 and len(fig.axes[2].lines) >= 2 * 3 + 1  # 2 seeds (raw, smoothed, chosen) + floor
    # review22s10 m3: each seed's smoothed curve is drawn dashed and the chosen epoch is marked on it
    inn = res.inner[(res.inner.reading == "statement") & (res.inner.model == "sequence")]
    dashed = [ln for ln in fig.axes[2].lines if ln.get_linestyle() == "--" and ln.get_label() != "floor"]
    assert len(dashed) == 2
    for (_, g), ln in zip(inn.groupby("seed"), dashed):
        assert np.allclose(ln.get_ydata(), g["inner_cv_pr_auc_smoothed"])
    marks = [ln for ln in fig.axes[2].lines if ln.get_marker() == "o"]
    assert [float(m.get_ydata()[0]) for m in marks] == list(inn[inn.chosen.astype(bool)]["inner_cv_pr_auc_smoothed"])
    # review22s10 m2: the alternative reading's line carries its PR-AUC verdict (the primary's has its own bullet)
    alt = next(x for x in text.splitlines() if x.startswith("- episode reading (alternative)"))
    assert "; PR-AUC " in alt and "the floor (difference" in alt.split("; PR-AUC ")[1]
    prim = next(x for x in text.splitlines() if x.startswith("- statement reading (primary)"))
    assert "; PR-AUC " not in prim


def test_aami_readings_name_the_record_a_target_rests_on_and_the_largest_confusion():
    import pandas as pd

    rows = []
    for beats, s_se, s_ppv, sup in (("all", 0.9, 0.5, 100), ("without record 232", 0.6, 0.1, 20)):
        for c, se, ppv in (("N", 0.9, 0.99), ("S", s_se, s_ppv), ("V", 0.9, 0.9), ("F", 0.1, 0.1), ("Q", 0.0, 0.0)):
            rows.append(
                {"DS2 beats": beats, "model": "m", "class": c, "support": sup, "Se": se, "Se_ci": [0, 1]}
                | {"+P": ppv, "+P_ci": [0, 1]}
            )
    text = A.targets_reading(pd.DataFrame(rows), s_se=0.76, s_ppv=0.35, v_se=0.85, v_ppv=0.75)
    assert "m: S reaches the target only with that record: DS2 without record 232, S Se 0.600 / +P 0.100" in text
    counts = [[90, 1, 0, 9], [2, 8, 0, 0], [0, 0, 5, 0], [0, 0, 0, 1]]
    cm = pd.DataFrame(counts, index=list("NSVF"), columns=list("NSVF"))
    assert "largest confusion N -> F (9 beats; F +P 0.100)" in A.confusion_reading({"hgb": cm})


def test_rhythm_reading_flags_seeds_stopped_by_the_epoch_cap():
    import pandas as pd

    from lib.ecg import networks

    runs = pd.DataFrame(
        {"variant": ["v", "v"], "seed": [0, 1], "n_train": [50, 50], "epochs_run": [12, 10]}
        | {"best_epoch": [12, 7], "epoch_cap": [12, 12], "patience": [3, 3]}
    )
    paired = pd.DataFrame(columns=["a", "b", "metric", "diff", "ci", "p"])
    study = networks.RhythmStudy(runs, pd.DataFrame(), paired, 50)
    text = networks.rhythm_reading(study)
    assert "v seed 0 (best epoch 12 of 12)" in text and "seed 1" not in text


def test_one_verdict_rule_for_the_cell_edge_of_zero_and_seed_signs():
    """review22s4b N-M2 / N-m8: rhythm_text.decide is the rule of both readers: a CI end within 0.001 of 0 is 'at
    the edge of 0', a CI excluding 0 needs every seed's difference of that sign."""
    import pandas as pd

    from lib.ecg import networks
    from lib.ecg.rhythm_text import decide

    assert decide([-0.055, 0.00004], [-0.03, -0.01]).startswith("at the edge of 0")
    assert decide([-0.055, -0.0002], [-0.03, -0.01]).startswith("at the edge of 0")
    assert decide([-0.06, -0.01], [-0.03, -0.01]) == "below"
    assert decide([0.01, 0.06], [0.03, -0.01]).startswith("not separable from (the patient CI excludes 0")
    assert decide([-0.05, 0.04], [0.1, 0.2]) == "not separable from"
    assert decide(None) == "not separable from"
    assert decide([-0.15, -0.006], [-0.064]) == "not decided (one seed: indicative only) against"  # review22s6 m3
    assert decide([-0.15, 0.006], [-0.064]) == "not separable from"
    runs = pd.DataFrame([{"variant": "v", "seed": s, "nonsinus_f1": f, "n_train": 10} for s, f in ((0, 0.5), (1, 0.7))])
    summary = pd.DataFrame([{"variant": "floor", "nonsinus_f1": 0.6}])
    paired = pd.DataFrame(
        [{"a": "v", "b": "floor", "metric": "nonsinus_f1", "diff": 0.1, "ci": [0.02, 0.2], "p": 0.01}]
    )
    text = networks.rhythm_reading(networks.RhythmStudy(runs, summary, paired, 0))
    assert "not separable (the patient CI excludes 0, but the seeds disagree in sign)" in text
    paired["ci"] = [[0.0005, 0.2]]
    text = networks.rhythm_reading(networks.RhythmStudy(runs.assign(nonsinus_f1=[0.65, 0.7]), summary, paired, 0))
    assert "-> at the edge of 0 (a CI end within 0.001 of 0: not established)." in text
