"""lib.ecg.headline_seeds: every headline model over seeds (mean, sd, patient CI of the seed mean), ODAL paired
against each model, every model paired against the floor, and the readings/claims that use the seed means."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lib.ecg import data as ecg_data
from lib.ecg import experiment as ex
from lib.ecg import headline_seeds as hs


def _data(n=240, seed=0):
    rng = np.random.default_rng(seed)
    names = ex.ecg_features.FEATURE_NAMES
    y = rng.integers(0, 2, n)
    F = rng.standard_normal((n, len(names))).astype("float32")
    F[:, names.index("rr_prev")] += 1.5 * y  # an RR feature carries the label
    record = np.array([f"{100 + i % 8}" for i in range(n)])
    data = ex.EcgInputs(
        X=rng.standard_normal((n, 16)),
        F=F,
        y=y,
        record=record,
        beats=None,
        task="rhythm",
        class_names=ecg_data.RHYTHM_CLASSES,
        feature_names=list(names),
    )
    idx = np.arange(n)
    split = {"train": idx[:120], "val": idx[120:160], "test": idx[160:]}
    return data, {"interpatient": split}


def _proba(y, shift, rng):
    s = np.clip(0.5 * y + shift + 0.3 * rng.random(y.size), 0, 1)
    return np.stack([1 - s, s, 0 * s, 0 * s], axis=1)


def _odal_runs(data, splits, seeds, shift):
    rng = np.random.default_rng(1)
    out = {}
    for sp, split in splits.items():
        y = data.y[split["test"]]
        out[sp] = {}
        for s in seeds:
            p = _proba(y, shift + 0.01 * s, rng)
            out[sp][s] = (ex.score_predictions(y, p, data.class_names), p)
    return out


def test_every_model_over_seeds_reuses_the_headline_seed_and_pairs_odal():
    data, splits = _data()
    kw = {"rr_forest": {"n_estimators": 10}}
    results, probas = ex.compare_models(["rr_forest"], data, splits, seed=0, model_kw=kw, progress=False)
    results["interpatient"]["rr_forest"]["accuracy"] = 0.123  # a sentinel: seed 0 must be reused, not refitted
    study = hs.run(
        data, splits, results, probas, kinds=["rr_forest"], seeds=[0, 1, 2], seed=0, model_kw=kw,
        odal_runs=_odal_runs(data, splits, [0, 1, 2], 0.0), n_boot=50,
    )  # fmt: skip
    r = study.runs
    assert len(r) == 2 * 3 and set(r.model) == {"rr_forest", "odal"}
    forest = r[r.model == "rr_forest"].set_index("seed")
    assert forest.loc[0, "accuracy"] == 0.123
    assert forest.loc[1, "roc_auc_nonsinus"] != forest.loc[2, "roc_auc_nonsinus"]  # other seeds refitted
    row = study.summary.set_index("model").loc["rr_forest"]
    assert row["seeds"] == 3
    assert row["accuracy_mean"] == pytest.approx(forest["accuracy"].mean())
    assert row["nonsinus_f1_sd"] == pytest.approx(forest["nonsinus_f1"].std(ddof=1))
    lo, hi = row["roc_auc_nonsinus_ci"]
    assert lo <= hi and 0 <= lo and hi <= 1
    p = study.paired.set_index("metric").loc["roc_auc_nonsinus"]
    odal = r[r.model == "odal"].set_index("seed")
    per_seed = [odal.loc[s, "roc_auc_nonsinus"] - forest.loc[s, "roc_auc_nonsinus"] for s in (0, 1, 2)]
    assert p["diff"] == pytest.approx(np.mean(per_seed))
    assert p["per_seed"] == pytest.approx([round(v, 4) for v in per_seed])
    assert p["verdict"] in ("higher", "lower") or p["verdict"].startswith(("not separable", "at the edge"))
    text = hs.reading(study)
    assert "over seeds 0, 1, 2 (3 fits each" in text
    f1 = f"non-sinus F1 {row['nonsinus_f1_mean']:.3f} (sd {row['nonsinus_f1_sd']:.3f})"
    assert f"interpatient, rr_forest: {f1}" in text


def test_a_missing_odal_seed_and_duplicate_seeds_are_errors():
    data, splits = _data()
    kw = {"rr_forest": {"n_estimators": 5}}
    results, probas = ex.compare_models(["rr_forest"], data, splits, seed=0, model_kw=kw, progress=False)
    with pytest.raises(ValueError, match=r"ODAL has no run for seed\(s\) \[2\]"):
        hs.run(data, splits, results, probas, kinds=["rr_forest"], seeds=[0, 2], seed=0, model_kw=kw,
               odal_runs=_odal_runs(data, splits, [0], 0.0), n_boot=10)  # fmt: skip
    with pytest.raises(ValueError, match="distinct"):
        hs.run(data, splits, results, probas, kinds=["rr_forest"], seeds=[0, 0], seed=0, model_kw=kw,
               odal_runs=_odal_runs(data, splits, [0], 0.0), n_boot=10)  # fmt: skip


def test_against_the_floor_is_zero_for_the_floor_itself_and_signed_otherwise():
    data, splits = _data()
    y = data.y[splits["interpatient"]["test"]]
    good = np.stack([1 - y * 0.9 - 0.05, y * 0.9 + 0.05, 0 * y, 0 * y], axis=1).astype(float)  # perfect ranking
    rng = np.random.default_rng(3)
    bad = [_proba(np.zeros_like(y), 0.2, rng) for _ in range(3)]  # no signal
    study = hs.SeedStudy(
        runs=pd.DataFrame(
            [{"split": "interpatient", "model": "same", "seed": s} | hs_scores(y, good) for s in range(3)]
            + [{"split": "interpatient", "model": "noise", "seed": s} | hs_scores(y, bad[s]) for s in range(3)]
        ),
        summary=pd.DataFrame(),
        paired=pd.DataFrame(),
        probas={"interpatient": {"same": [good] * 3, "noise": bad}},
        seeds=[0, 1, 2],
        n_boot=200,
        boot_seed=0,
    )
    t = hs.against_floor(study, data, splits["interpatient"], good).set_index(["model", "metric"])
    assert t.loc[("same", "roc_auc_nonsinus"), "diff"] == pytest.approx(0)
    assert t.loc[("same", "roc_auc_nonsinus"), "verdict"].startswith(("not separable", "at the edge"))
    assert t.loc[("noise", "roc_auc_nonsinus"), "diff"] < -0.2
    assert t.loc[("noise", "roc_auc_nonsinus"), "verdict"] == "lower"
    assert "roc_auc_nonsinus, each headline model (mean over its seeds) minus the floor (1.000)" in hs.floor_reading(
        t.reset_index()
    )


def hs_scores(y, p):
    return {m: ex.score_predictions(y, p, ecg_data.RHYTHM_CLASSES).get(m) for m in hs.SEED_METRICS}


def test_headline_reading_and_claims_use_the_seed_means():
    from lib.core.provenance import data_source

    def res(v):
        return {"accuracy": v, "nonsinus_f1": v, "roc_auc_nonsinus": v, "pr_auc_nonsinus": v, "roc_auc_ovr_macro": v}

    results = {
        s: {k: res(v) for k in ("odal", "rr_forest", "cnn_bilstm", *ex.BASELINES)}
        for s, v in (("random", 0.9), ("interpatient", 0.6))
    }
    results["random"]["odal"]["labels_used"] = 600
    summary = pd.DataFrame(
        [
            {"split": s, "model": k, "seeds": 3}
            | {f"{m}_mean": v for m in hs.SEED_METRICS}
            | {f"{m}_sd": 0.01 for m in hs.SEED_METRICS}
            | {f"{m}_ci": [v - 0.05, v + 0.05] for m in hs.SEED_METRICS}
            for s, by in results.items()
            for k in by
            for v in [0.42 if k == "odal" else 0.77]
        ]
    )
    study = hs.SeedStudy(pd.DataFrame(), summary, pd.DataFrame(), {}, [0, 1, 2], 100, 0)
    text = ex.headline_reading(results, data_source("real", "MIT-BIH"), seeds=study)
    assert "mean over the headline seeds 0, 1, 2" in text
    assert "ODAL (600 labels from the whole training part as pool): non-sinus F1 0.420 [95% CI 0.370-0.470]" in text
    assert "non-sinus F1 0.600" not in text  # the single-seed value is not read
    claims = ex.claims_block(results, {}, {"nonsinus_f1": 0.5, "roc_auc_nonsinus": 0.7}, seeds=study)
    assert claims["accuracy"] == 0.42 and claims["accuracy_ci"] == [0.42 - 0.05, 0.42 + 0.05]
    assert claims["interpatient_roc_auc"] == 0.42 and claims["roc_auc_ovr_macro"] == 0.9
    assert claims["odal_above_baselines"] is False  # 0.42 against the baselines' 0.77 means
    assert claims["interpatient_odal_above_baselines"] is False  # DS1 -> DS2 too: 0.42 against 0.77 (review22s11 m2)
    assert "One seed per model" in ex.headline_reading(results, data_source("real", "MIT-BIH"))
