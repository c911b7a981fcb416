"""lib.ecg.experiment: context windows, rhythm/non-sinus evaluation (incl. a missing class), split tables."""

from __future__ import annotations

import dataclasses
import types

import numpy as np
import pytest

from lib.ecg import data as ecg_data
from lib.ecg import experiment as ex
from lib.ecg.models import window_summary

PREP = {
    "task": "rhythm",
    "rr_features": "record",
    "exclude": None,
    "before": 96,
    "after": 160,
    "peaks": "reference",
    "order": 4,
    "normalisation": "zscore",
}


def test_context_index_within_records():
    record = np.array(["a", "a", "a", "b", "b"])
    sample = np.array([10, 20, 30, 5, 9])
    idx = ex.context_index(record, sample, 3)
    np.testing.assert_array_equal(idx, [[0, 0, 0], [0, 0, 1], [0, 1, 2], [3, 3, 3], [3, 3, 4]])
    np.testing.assert_array_equal(ex.context_index(record, sample, 1)[:, 0], np.arange(5))
    with pytest.raises(ValueError, match="sorted"):
        ex.context_index(record, np.array([10, 5, 30, 5, 9]), 2)


def test_score_predictions_nonsinus_exact():
    names = ecg_data.RHYTHM_CLASSES
    y = np.array([0, 0, 1, 2, 3, 1])
    proba = np.array(
        [
            [0.9, 0.1, 0, 0],
            [0.2, 0.7, 0.1, 0],
            [0.1, 0.8, 0.1, 0],
            [0.6, 0, 0.4, 0],
            [0.1, 0, 0, 0.9],
            [0.3, 0.3, 0.4, 0],
        ]
    )
    res = ex.score_predictions(y, proba, names)
    # non-sinus: true [0,0,1,1,1,1], pred [0,1,1,0,1,1] -> tp 3, fp 1, fn 1
    assert res["nonsinus_precision"] == pytest.approx(0.75)
    assert res["nonsinus_recall"] == pytest.approx(0.75)
    assert res["nonsinus_f1"] == pytest.approx(0.75)
    assert res["accuracy"] == pytest.approx(3 / 6)
    # binary AUC of 1 - P(sinus): scores [0.1, 0.8, 0.9, 0.4, 0.9, 0.7]
    from sklearn.metrics import roc_auc_score

    assert res["roc_auc_nonsinus"] == pytest.approx(roc_auc_score([0, 0, 1, 1, 1, 1], 1 - proba[:, 0]))


def test_score_predictions_test_set_lacking_a_class():
    """A class absent from the test set: support 0, F1 0, AUC over the classes present (no crash, no guess)."""
    names = ecg_data.RHYTHM_CLASSES
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.8, 0.2, 0, 0], [0.6, 0.4, 0, 0], [0.3, 0.7, 0, 0], [0.4, 0.6, 0, 0]])
    res = ex.score_predictions(y, proba, names)
    assert res["per_class"]["ventricular"]["support"] == 0
    assert res["accuracy"] == 1.0 and res["roc_auc_nonsinus"] == 1.0
    only_sinus = ex.score_predictions(np.array([0, 0]), proba[:2], names)
    assert only_sinus["roc_auc_nonsinus"] is None


def test_threshold_is_chosen_on_validation_and_applied_unchanged_to_test():
    y_val = np.array([0, 0, 0, 1, 2, 0])
    p0_val = np.array([0.9, 0.8, 0.55, 0.5, 0.3, 0.7])  # P(non-sinus) = 0.1 0.2 0.45 0.5 0.7 0.3
    proba_val = np.stack([p0_val, 1 - p0_val, 0 * p0_val, 0 * p0_val], axis=1)
    assert ex.nonsinus_threshold(y_val, proba_val) == pytest.approx(0.5)  # F1 1.0: both non-sinus, no sinus
    p0_test = np.array([0.45, 0.55, 0.6, 0.9])  # P(non-sinus) 0.55 0.45 0.4 0.1: only the first is >= 0.5
    proba_test = np.stack([p0_test, 1 - p0_test, 0 * p0_test, 0 * p0_test], axis=1)
    np.testing.assert_array_equal(ex.thresholded(proba_test, 0.5).argmax(1), [1, 0, 0, 0])
    res = {}
    ex.validation_threshold(res, y_val, proba_val, np.array([1, 1, 0, 0]), proba_test)
    assert res["nonsinus_threshold"] == pytest.approx(0.5) and res["nonsinus_f1_at_val_threshold"] == pytest.approx(
        2 / 3
    )  # tp 1, fn 1, fp 0


def test_prepare_inputs_and_splits_on_synthetic(tmp_path):
    folder = ecg_data.generate(tmp_path / "syn", seed=1, n_patients=12, duration_s=30.0)
    data = ex.prepare_inputs(folder, decimate=4, context_beats=1, progress=False, **PREP)
    assert data.X.shape[1:] == (64,) and data.F.shape == (len(data), 25)
    assert set(np.unique(data.y)) <= {0, 1, 2, 3}
    splits = ex.make_splits(data, seed=0, max_train=100)
    assert splits["random"]["train"].size == 100
    inter = splits["interpatient"]
    assert set(data.record[inter["test"]]) == set(ecg_data.DS2[:6])
    assert set(data.record[inter["train"]]) <= set(ecg_data.DS1[:6])
    counts = ex.split_counts(data, splits)
    row = counts[(counts.split == "interpatient") & (counts.part == "test")].iloc[0]
    assert row["total"] == inter["test"].size and row["n_records"] == 6
    ctx = ex.prepare_inputs(folder, decimate=4, context_beats=3, progress=False, **PREP)
    assert ctx.X.shape[1:] == (3, 64)
    np.testing.assert_array_equal(ctx.X[:, -1], data.X)
    past = ex.with_rr_reading(data, "past")
    rr = ex.rr_columns(data)
    assert past.feature_names[1] == "rr_prev2" and ex.rr_columns(past) == rr
    np.testing.assert_array_equal(past.F[:, 9:], data.F[:, 9:])  # only the RR columns change
    assert not np.allclose(past.F[:, rr], data.F[:, rr])
    raw = ex.prepare_inputs(folder, decimate=4, context_beats=1, progress=False, **{**PREP, "rr_features": "raw"})
    np.testing.assert_allclose(raw.F[:, 4:7], data.F[:, 4:7], rtol=1e-5)  # the ratios are the same in both
    assert not np.allclose(raw.F[:, 0], data.F[:, 0])


def test_strategy_configs_share_the_budget_and_differ_in_strategy():
    cfgs = ex.strategy_configs(40, 20, 120)
    assert list(cfgs) == [
        "random", "least_confidence", "margin", "entropy", "bald", "odal", "odal_no_fuzzy", "odal_query_control",
        "odal_training_control",
    ]  # fmt: skip
    assert {(c.seed_size, c.batch_size, c.budget) for c in cfgs.values()} == {(40, 20, 120)}
    assert not any(c.warm_start for c in cfgs.values())  # weights reset every round, for every strategy
    assert (cfgs["odal"].strategy, cfgs["odal"].fuzzy, cfgs["odal"].fuzzy_controls) == ("odal", True, "both")
    assert (cfgs["odal_no_fuzzy"].strategy, cfgs["odal_no_fuzzy"].fuzzy) == ("odal", False)
    assert cfgs["odal_query_control"].fuzzy_controls == "query"
    assert cfgs["odal_training_control"].fuzzy_controls == "training"


def test_rf_feature_names_match_the_design_columns():
    data = ex.EcgInputs(
        X=np.zeros((2, 40)),
        F=np.zeros((2, 3)),
        y=np.zeros(2, dtype=int),
        record=np.array(["100", "100"]),
        beats=None,
        task="rhythm",
        class_names=ecg_data.RHYTHM_CLASSES,
        feature_names=["a", "b", "c"],
    )
    names = ex.rf_feature_names(data)
    assert len(names) == window_summary(data.X).shape[1] + 3 and names[-3:] == ["a", "b", "c"]
    assert names[:2] == ["win_bin0", "win_bin1"] and names[16] == "win_mean"


def test_claims_table_and_confusion_file_names():
    claims = {"accuracy": 0.5, "accuracy_ci": [0.41, 0.5925], "roc_auc": 0.7, "odal_above_baselines": False}
    paper = {
        "nb01_accuracy": 0.86,
        "nb01_roc_auc": 0.93,
        "nb01_odal_above_baselines": True,
        "nb01_annotation_saving": 0.3,
    }
    claims |= {"interpatient_accuracy": 0.3, "interpatient_accuracy_ci": [0.2, 0.4], "interpatient_roc_auc": 0.6}
    claims |= {"interpatient_floor_roc_auc": 0.93, "interpatient_annotation_saving": 0.25}
    claims |= {"interpatient_annotation_saving_ci": [-0.3, 0.9]}
    t = ex.claims_table(claims, paper)
    # review22s7 m5: every numeric row its CI, or why it has none; review22s10 M1: the DS1 -> DS2 column and the floor
    assert t.to_dict("records") == [
        {
            "claim": "nb01_accuracy",
            "paper": 0.86,
            "ours, random split": 0.5,
            "random split: 95% CI": "[0.410, 0.593]",
            "ours, DS1 -> DS2": 0.3,
            "DS1 -> DS2: 95% CI": "[0.200, 0.400]",
            "floor, DS1 -> DS2": "",
        },
        {
            "claim": "nb01_roc_auc",
            "paper": 0.93,
            "ours, random split": 0.7,
            "random split: 95% CI": "n/a (no interval computed)",
            "ours, DS1 -> DS2": 0.6,
            "DS1 -> DS2: 95% CI": "n/a (no interval computed)",
            "floor, DS1 -> DS2": 0.93,
        },
        {
            "claim": "nb01_odal_above_baselines",
            "paper": True,
            "ours, random split": False,
            "random split: 95% CI": "not an estimate (yes/no)",
            "ours, DS1 -> DS2": "not computed",  # computed where the claims hold it (below)
            "DS1 -> DS2: 95% CI": "",
            "floor, DS1 -> DS2": "",
        },
        {
            "claim": "nb01_annotation_saving",
            "paper": 0.3,
            "ours, random split": "",
            "random split: 95% CI": "n/a (no value)",
            "ours, DS1 -> DS2": 0.25,
            "DS1 -> DS2: 95% CI": "[-0.300, 0.900]",
            "floor, DS1 -> DS2": "",
        },
    ]
    inter = ex.claims_table(claims | {"interpatient_odal_above_baselines": False}, paper).set_index("claim")
    assert inter.loc["nb01_odal_above_baselines", "ours, DS1 -> DS2"] is False  # review22s11 m2
    assert inter.loc["nb01_odal_above_baselines", "DS1 -> DS2: 95% CI"] == "not an estimate (yes/no)"
    text = ex.saving_claim_text(claims, paper)
    assert text == (
        "The annotation saving that decides the claim is the DS1 -> DS2 one (the forest AL study's claim row, "
        "section 6): +25.0 % [95% CI -30.0 % to +90.0 %] against the paper's 30 %; it holds both 0 and the paper's "
        "value, so this run can neither confirm nor reject the claim."
    )
    ci = {"interpatient_annotation_saving": 0.05, "interpatient_annotation_saving_ci": [-0.1, 0.2]}
    assert "it holds 0 and excludes the paper's value" in ex.saving_claim_text(ci, paper)
    ci = {"interpatient_annotation_saving": 0.35, "interpatient_annotation_saving_ci": [0.1, 0.5]}
    assert "it excludes 0 and holds the paper's value: consistent" in ex.saving_claim_text(ci, paper)
    ci = {"interpatient_annotation_saving": 0.6, "interpatient_annotation_saving_ci": [0.5, 0.7]}
    assert "lies above it" in ex.saving_claim_text(ci, paper)
    assert ex.saving_claim_text({}, paper) == ""
    # review22s11 m1: the saving with ODAL's validation labels charged follows the deciding one
    charged = claims | {"interpatient_annotation_saving_with_validation": -0.748,
                        "interpatient_annotation_saving_with_validation_ci": [-2.131, 0.635],
                        "interpatient_annotation_saving_validation_labels": 500}  # fmt: skip
    assert ex.saving_claim_text(charged, paper) == text + (
        " With the 500 validation labels ODAL's controller reads charged to ODAL (random reads none) the saving is "
        "-74.8 % [95% CI -213.1 % to +63.5 %]."
    )
    assert ex.saving_claim_text(charged | {"interpatient_annotation_saving_validation_labels": 0}, paper) == text
    assert ex.confusion_file_name("ODAL, random split") == "confusion_ODAL_random_split"
    assert ex.confusion_file_name("CNN-BiLSTM full, interpatient") == "confusion_CNNBiLSTM_full_interpatient"


def test_rr_forest_sees_only_the_rr_features():
    rng = np.random.default_rng(0)
    names = ex.ecg_features.FEATURE_NAMES
    F = rng.standard_normal((80, len(names))).astype("float32")
    y = (F[:, names.index("rr_prev")] > 0).astype(int)  # decided by an RR feature
    F[:, names.index("qrs_width")] = np.where(y == 1, 5.0, -5.0) + 0.1 * rng.standard_normal(80)  # and a leak
    data = ex.EcgInputs(
        X=rng.standard_normal((80, 16)),
        F=F,
        y=y,
        record=np.repeat(["101", "100"], 40),
        beats=None,
        task="rhythm",
        class_names=ecg_data.RHYTHM_CLASSES,
        feature_names=list(names),
    )
    assert ex.rr_columns(data) == list(range(9))
    split = {"train": np.arange(60), "val": np.arange(60, 70), "test": np.arange(60, 80)}
    model, proba, _ = ex.fit_predict("rr_forest", data, split, seed=0, model_kw={"n_estimators": 10})
    assert model.model.n_features_in_ == 9 and proba.shape == (20, 4)
    full, _, _ = ex.fit_predict("random_forest", data, split, seed=0, model_kw={"n_estimators": 10})
    assert full.model.n_features_in_ == 16 + 8 + len(names)


def test_interpretation_reads_every_number_from_the_results():
    from lib.core.provenance import data_source

    def res(f1, auc):
        return {"nonsinus_f1": f1, "roc_auc_nonsinus": auc, "pr_auc_nonsinus": 0.5, "nonsinus_f1_ci": [f1 - 0.1, f1]}

    results = {
        "interpatient": {"odal": res(0.6, 0.9), "cnn_bilstm": res(0.7, 0.7), "rr_forest": res(0.5, 0.8)},
        "random": {"odal": res(0.95, 0.99) | {"labels_used": 600}, "cnn_bilstm": res(0.8, 0.85)},
    }
    text = ex.interpretation(results, data_source("real", "MIT-BIH"), max_train=4000, al_pool_max=2000)
    assert "ODAL (600 labels from a 2,000-beat pool): non-sinus F1 0.600 [95% CI 0.500-0.600], ROC-AUC 0.900" in text
    assert "CNN-BiLSTM (full supervision, trained on a stratified 4,000-beat subsample" in text
    assert "9 beat-RR features (not the floor" in text and "non-sinus F1 0.500" in text
    assert "RR-only floor" not in text  # the floor is the RR + irregularity forest of the rhythm study
    assert "intra-patient, optimistic) ODAL (600 labels from a 2,000-beat pool) reaches non-sinus F1 0.950" in text
    assert "trained on the whole training part" in ex.interpretation(results, data_source("real", "MIT-BIH"))
    table = ex.claims_table({"accuracy": 0.5}, {"nb01_accuracy": 0.86}, results, al_pool_max=2000)
    assert table["ODAL trained on"].tolist() == ["600 labels from a 2,000-beat pool"]


def test_rhythm_study_context_sees_what_one_beat_cannot():
    """Beats are identical noise; the class is set by whether the PREVIOUS beat was 'loud'. One beat cannot
    tell, a 2-beat run can: the study must show it, with paired CIs against the floor and against one beat."""
    rng = np.random.default_rng(0)
    n_rec, per = 8, 60
    record = np.repeat([f"r{i}" for i in range(n_rec)], per)
    sample = np.tile(np.arange(per) * 300, n_rec)
    loud = rng.random(n_rec * per) < 0.5
    X = rng.standard_normal((n_rec * per, 16)).astype("float32") * np.where(loud, 3.0, 0.3)[:, None]
    prev_loud = np.concatenate([[False], loud[:-1]]) & (np.concatenate([[""], record[:-1]]) == record)
    y = prev_loud.astype(int)
    beats = types.SimpleNamespace(sample=sample)
    data = ex.EcgInputs(
        X=X,
        F=np.zeros((y.size, 0), "float32"),
        y=y,
        record=record,
        beats=beats,
        task="rhythm",
        class_names=ecg_data.RHYTHM_CLASSES,
        feature_names=[],
    )
    split = {
        "train": np.flatnonzero(np.isin(record, ["r0", "r1", "r2", "r3", "r4"])),
        "val": np.flatnonzero(record == "r5"),
        "test": np.flatnonzero(np.isin(record, ["r6", "r7"])),
    }
    kw = dict(
        epochs=25,
        batch_size=32,
        patience=25,
        dropout=0.0,
        lr=1e-2,
        class_weight=None,
        arch={"filters": [4], "lstm_units": 4, "feature_units": 4},
    )
    floor = np.tile([0.5, 0.5, 0.0, 0.0], (split["test"].size, 1))
    common = dict(seeds=[0], model_kw=kw, floor_proba=[floor, floor], max_train=0)  # two forest seeds
    two = [["cnn_bilstm", 1, False], ["cnn_bilstm", 2, False]]
    study = ex.rhythm_study(data, split, variants=two, **common, n_boot=50, seed=0, progress=False)
    acc = study.runs.set_index("context_beats")["accuracy"]
    assert acc[2] > 0.9 and acc[1] < 0.75, acc.to_dict()
    one, both = "cnn_bilstm, 1 beat, signal only", "cnn_bilstm, 2 beats, signal only"
    at_val = ", at its validation threshold"
    assert list(study.summary.variant) == [one, one + at_val, both, both + at_val, ex.FLOOR]
    # the floor's row counts the forest seeds its (mean) value averages, not one
    assert study.summary.set_index("variant").loc[ex.FLOOR, "seeds"] == 2
    runs = study.runs.set_index("context_beats")
    assert runs["val_threshold"].between(0, 1).all() and runs["epochs_run"].le(25).all()
    row = study.paired[(study.paired.a == both) & (study.paired.b == one)]
    assert set(row.metric) == {"nonsinus_f1", "roc_auc_nonsinus"} and (row["diff"] > 0).all()
    assert "higher" in ex.rhythm_reading(study)
    # the training size is stated either way: every training beat here (max_train 0), a subsample with a cap
    assert (study.runs["n_train"] == split["train"].size).all() and study.n_pool == split["train"].size
    assert f"trained on all {split['train'].size:,} DS1 training beats" in ex.rhythm_reading(study)
    capped = dataclasses.replace(study, runs=study.runs.assign(n_train=100))
    assert f"a 100-beat stratified subsample of the {split['train'].size:,}" in ex.rhythm_reading(capped)
    with pytest.raises(ValueError, match="one-beat windows"):
        ex.rhythm_study(dataclasses.replace(data, X=X[:, None, :]), split, variants=two[:1], **common, n_boot=5, seed=0)


def test_alternative_reading_relabels_conduction_rhythms_and_episode_beats():
    N, S, V = (ecg_data.AAMI_CLASSES.index(c) for c in "NSV")
    sinus, vent, other = (ecg_data.RHYTHM_CLASSES.index(c) for c in ("sinus", "ventricular", "other"))
    strings = np.array(["(N", "(B", "(B", "(B", "(T", "(VT", "(SBR", "(PREX", "(BII", "(NOD"], dtype=object)
    aami = np.array([N, N, V, S, N, N, N, N, N, N])
    y = ex.ecg_preprocess.rhythm_class(strings)  # the episode reading
    assert y.tolist() == [sinus, vent, vent, vent, vent, vent, sinus, other, other, other]
    beats = types.SimpleNamespace(rhythm_string=strings, aami=aami, rhythm=y, record=np.array(["100"] * 10))
    data = ex.EcgInputs(
        X=np.zeros((10, 4)),
        F=np.zeros((10, 0)),
        y=y,
        record=np.array(["100"] * 10),
        beats=beats,
        task="rhythm",
        class_names=ecg_data.RHYTHM_CLASSES,
        feature_names=[],
        settings={"label_reading": "episode"},
    )
    # statement reading: (B N -> the underlying rhythm (here sinus, the (N before it), (B V ventricular, (B S keeps
    # the episode label, (T N -> sinus, (VT untouched;
    # (PREX and (BII are sinus rhythms with a conduction abnormality; (NOD stays "other"
    name, alt = ex.alternative_reading(data)
    assert name == "statement"
    assert alt.tolist() == [sinus, sinus, vent, vent, sinus, vent, sinus, sinus, sinus, other]
    back_name, back = ex.alternative_reading(dataclasses.replace(data, y=alt, settings={"label_reading": "statement"}))
    assert back_name == "episode" and back.tolist() == y.tolist()
    with pytest.raises(ValueError, match="rhythm_string"):
        ex.alternative_reading(
            dataclasses.replace(data, beats=types.SimpleNamespace(rhythm_string=None, aami=aami, record=beats.record))
        )


def test_permutation_importance_finds_the_only_informative_feature():
    rng = np.random.default_rng(0)
    names = list(ex.ecg_features.FEATURE_NAMES)
    F = rng.standard_normal((300, len(names))).astype("float32")
    y = np.where(F[:, names.index("rr_prev")] > 0, 1, 0)  # non-sinus decided by one RR feature
    data = ex.EcgInputs(
        X=rng.standard_normal((300, 16)),
        F=F,
        y=y,
        record=np.repeat(["a", "b", "c"], 100),
        beats=None,
        task="rhythm",
        class_names=ecg_data.RHYTHM_CLASSES,
        feature_names=names,
    )
    split = {"train": np.arange(200), "val": np.arange(200, 210), "test": np.arange(200, 300)}
    written = []
    out = types.SimpleNamespace(
        figure=lambda fig, name: written.append(("figure", name)),
        table=lambda df, name: written.append(("table", name)) or df,
    )
    table = ex.rf_importance(data, split, 0, {"n_estimators": 50}, out, n_repeats=3, max_test=0)
    assert written == [("figure", "rf_permutation_importance"), ("table", "rf_permutation_importance")]
    assert table["feature"].iloc[0] == "rr_prev" and table["f1_drop_mean"].iloc[0] > 0.3
    assert (table["f1_drop_mean"].iloc[1:].abs() < 0.1).all() and (table["n_test_beats"] == 100).all()
    assert ex.nonsinus_f1_score(
        types.SimpleNamespace(predict=lambda X: np.array([0, 2, 1, 0])), None, np.array([0, 1, 0, 0])
    ) == pytest.approx(2 / 3)


def test_rhythm_study_past_reading_cannot_see_the_next_beat():
    """The class is whether the NEXT RR interval is long: the default (centred) features see it, the past-only
    reading cannot. The study must refit the RR-only floor on past-only RR, pair each past-only variant with the
    same variant on the default features, and the past-only floor must come out lower."""
    from lib.ecg import features as ef
    from lib.ecg import preprocess as pp

    rng = np.random.default_rng(0)
    n_rec, per = 8, 60
    record = np.repeat([f"r{i}" for i in range(n_rec)], per)
    sample, rr, y = [], [], []
    for _ in range(n_rec):
        d = rng.choice([216, 432], size=per)  # RR 0.6 or 1.2 s at 360 Hz, independent beat to beat
        s = np.cumsum(d)
        sample.append(s)
        rr.append(pp.rr_intervals(s, 360.0))
        y.append((np.concatenate([d[1:], [d[-1]]]) == 432).astype(int))
    beats = types.SimpleNamespace(
        sample=np.concatenate(sample), rr={k: np.concatenate([r[k] for r in rr]) for k in rr[0]}
    )
    y = np.concatenate(y)
    data = ex.EcgInputs(
        X=rng.standard_normal((y.size, 16)).astype("float32"),
        F=ef.rr_features(beats.rr, "record").astype("float32"),
        y=y,
        record=record,
        beats=beats,
        task="rhythm",
        class_names=ecg_data.RHYTHM_CLASSES,
        feature_names=ef.rr_names("record"),
        settings={"rr_features": "record"},
    )
    past = ex.with_rr_reading(data, "past")
    np.testing.assert_allclose(past.F, ef.rr_features(beats.rr, "past"), rtol=1e-6)
    split = {
        "train": np.flatnonzero(np.isin(record, ["r0", "r1", "r2", "r3", "r4"])),
        "val": np.flatnonzero(record == "r5"),
        "test": np.flatnonzero(np.isin(record, ["r6", "r7"])),
    }
    kw = dict(epochs=3, batch_size=32, patience=3, dropout=0.0, lr=1e-2, class_weight=None,
              arch={"filters": [4], "lstm_units": 4, "feature_units": 4})  # fmt: skip
    forest = {"n_estimators": 30, "class_weight": None}
    floor = ex.fit_predict("rr_forest", data, split, seed=0, model_kw=forest)[1]
    variants = [["cnn_bilstm", 1, True], ["cnn_bilstm", 1, True, "past"]]
    common = dict(seeds=[0], model_kw=kw, floor_proba=floor, max_train=0, n_boot=50, seed=0, progress=False)
    with pytest.raises(ValueError, match="floor_kw"):
        ex.rhythm_study(data, split, variants=variants, **common)
    study = ex.rhythm_study(data, split, variants=variants, floor_kw=forest, **common)
    hyb, hyb_past = "cnn_bilstm, 1 beat, signal + features", "cnn_bilstm, 1 beat, signal + features, past-only RR"
    past_floor = "RR-only forest, past-only RR"
    at_val = ", at its validation threshold"
    assert list(study.summary.variant) == [hyb, hyb + at_val, hyb_past, hyb_past + at_val, ex.FLOOR, past_floor]
    assert (hyb + at_val, ex.FLOOR) in set(zip(study.paired.a, study.paired.b))
    pairs = set(zip(study.paired.a, study.paired.b))
    assert {(hyb_past, past_floor), (hyb_past, hyb), (past_floor, ex.FLOOR)} <= pairs
    cost = study.paired[(study.paired.a == past_floor) & (study.paired.metric == "roc_auc_nonsinus")].iloc[0]
    assert cost["diff"] < -0.3 and cost.ci[1] < 0, cost.to_dict()
    text = ex.rhythm_summary_reading(study)
    assert "Real-time cost" in text and "lower" in text


def test_generated_readings_read_the_values():
    import pandas as pd

    saving = {}
    for m, a, sv in (("random", 0.5, 0.0), ("odal", 0.6, 0.25), ("odal_no_fuzzy", 0.58, None)):
        saving[m] = {"method": m, "n_seeds": 5, "auc": a, "auc_minus_random": a - 0.5}
        saving[m]["auc_minus_random_ci"] = [a - 0.55, a - 0.45]
        saving[m]["saving_vs_random"] = sv
        saving[m]["saving_vs_random_ci"] = [None, None] if sv is None else [sv - 0.1, sv + 0.1]
        saving[m]["seeds_reaching_target"] = 1 if sv is None else 4
        saving[m]["seeds_paired"] = 1 if sv is None else 4
    per_seed = pd.DataFrame(
        [{"method": m, "seed": k, "auc": a + 0.01 * k * (m == "odal")} for m, a in (("odal", 0.6), ("odal_no_fuzzy",
         0.58)) for k in range(3)]
    )  # fmt: skip
    al = ex.ALAnalysis(0.7, 0.6, {}, {}, per_seed, saving, pd.DataFrame(), pd.DataFrame(), "P", "random")
    text = ex.al_reading(al)
    assert "odal: label saving vs random +0.250 [95% CI +0.150 to +0.350] over 4 seeds" in text
    assert "(odal reaches the target in 4 of 5 seeds, random in 4)" in text
    assert "curve AUC minus random +0.100 [95% CI +0.050 to +0.150] -> higher" in text
    assert "odal_no_fuzzy: label saving vs random not estimable (both curves reach the target in 1 seed; two" in text
    # paired by seed: differences 0.02, 0.03, 0.04 -> mean 0.03, t-interval 0.03 +- 4.303 * 0.01 / sqrt(3)
    half = 4.302653 * 0.01 / 3**0.5
    line = f"whole controller: curve AUC minus ODAL without it +0.030 [95% CI {0.03 - half:+.3f} to {0.03 + half:+.3f}]"
    assert f"Fuzzy controller, the {line} over 3 seeds -> higher." in text
    assert "query control only" not in text, "a part that was not run is not read"
    assert ex.al_suffix("interpatient") == "" and ex.al_suffix("random") == "_random_split"

    def res(acc):
        return {"accuracy": acc, "nonsinus_f1": acc, "roc_auc_nonsinus": acc, "roc_auc_ovr_macro": acc,
                "pr_auc_nonsinus": acc}  # fmt: skip

    results = {
        s: {k: res(v) for k in ("odal", "rr_forest", *ex.BASELINES)}
        for s, v in (("random", 0.9), ("interpatient", 0.6))
    }
    floor = {"nonsinus_f1": 0.5, "roc_auc_nonsinus": 0.7}
    claims = ex.claims_block(
        results, {"random": saving, "interpatient": {"odal": {**saving["odal"], "saving_vs_random": -0.1}}}, floor
    )
    assert claims["annotation_saving"] == 0.25 and claims["interpatient_annotation_saving"] == -0.1
    assert claims["interpatient_floor_roc_auc"] == 0.7 and not claims["interpatient_odal_beats_rr_floor"]
    assert (
        ex.claims_block(results, {"interpatient": saving}, floor)["annotation_saving"] is None
    )  # no study on the paper's split
    aami = pd.DataFrame(
        [
            {"model": m, "class": "V", "Se": se, "+P": 0.5, "F1": f1, "support": 10}
            for m, se, f1 in (("a", 0.9, 0.4), ("b", 0.2, 0.7))
        ]
    )
    assert "V (10 DS2 beats): best F1 0.700 (b); a Se 0.900 / +P 0.500" in ex.aami_reading(aami)
