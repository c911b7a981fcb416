"""Issue 22, round s7: the sequence model's (lr, units) chosen on DS1 by a grid (review22s6 M4 / review22s6b n7)."""

import numpy as np
import pytest

from lib.ecg import rhythm_grid as G


def test_sequence_grid_reads_numbers_or_lists_and_rejects_bad_values():
    assert G.sequence_grid({"lr": 0.01, "units": 4}) == [{"lr": 0.01, "units": 4}]
    g = G.sequence_grid({"lr": [0.001, 0.003], "units": [16, 32]})
    assert g == [{"lr": 0.001, "units": 16}, {"lr": 0.001, "units": 32}, {"lr": 0.003, "units": 16},
                 {"lr": 0.003, "units": 32}]  # fmt: skip
    for bad in ({"lr": [], "units": 4}, {"lr": 0.01, "units": [4, 0]}, {"lr": [0.1, 0.1], "units": 4},
                {"lr": "0.1", "units": 4}, {"units": 4}):  # fmt: skip
        with pytest.raises(ValueError, match="sequence"):
            G.sequence_grid(bad)


def test_grid_edges_flag_only_axes_with_more_than_one_value():
    g = G.sequence_grid({"lr": [0.001, 0.003, 0.01], "units": [16, 32]})
    assert G.grid_edges(g, {"lr": 0.003, "units": 16}) == "units at the grid's bottom"
    assert G.grid_edges(g, {"lr": 0.01, "units": 32}) == "lr at the grid's top; units at the grid's top"
    assert G.grid_edges(G.sequence_grid({"lr": [0.001, 0.003, 0.01], "units": 8}), {"lr": 0.003, "units": 8}) == ""


def _study(grid_on, seeds=(0, 1), z_alt=True):
    from lib.ecg import rhythm_study as rs
    from tests.ecg.tiny_rhythm import SEQ, tiny_case

    data, split, X, _ = tiny_case()
    seq = SEQ | {"lr": [0.01, 0.05], "units": [2], "max_epochs": 2, "patience": 1, "grid_on": grid_on}
    return rs.study(
        data, split, X, ["rr_pre", "rmssd_32"], X, alt_y=data.y, alt_name="episode",
        floor_kw={"trees": 5, "min_leaf": 2, "inner_k": 2}, feature_sets=[["rr", "irregularity"]],
        seq_kw=seq, seeds=list(seeds), n_boot=20, seed=0, target_auc=0.9, episode_min_s=2.0,
        Z_alt=("sequence + extra", X) if z_alt else None,
    )  # fmt: skip


def test_each_seed_chooses_the_setting_with_the_best_ds1_inner_cv_score_and_every_fit_runs_at_it():
    from lib.ecg import rhythm_text

    res = _study("each_seed")
    g = res.grid
    assert len(g) == 2 * 2 and set(g.seed) == {0, 1}
    for s_, rows in g.groupby("seed"):
        score = rows[G.GRID_SCORE]
        assert rows["chosen"].sum() == 1
        best = rows[rows["chosen"]].iloc[0]
        assert best[G.GRID_SCORE] == score.max()
        assert res.chosen_setting(s_) == {"lr": best.lr, "units": int(best.units)}
        # the sequence model, the morphology twin (primary reading) and the other reading run at the chosen setting
        runs = res.runs[res.runs.seed == s_]
        for model in ("sequence", "sequence + extra"):
            r = runs[(runs.reading == "statement") & (runs.model == model)].iloc[0]
            assert (r.lr, r.units) == (best.lr, best.units)
        inner = res.inner[(res.inner.reading == "statement") & (res.inner.model == "sequence") & (res.inner.seed == s_)]
        # smooth_epochs not set: a 1-epoch window, the smoothed curve is the raw one (review22s7 m1)
        assert inner.inner_cv_pr_auc.max() == pytest.approx(best[G.GRID_SCORE])
        assert inner[inner.chosen].inner_cv_pr_auc_smoothed.iloc[0] == pytest.approx(best[G.GRID_SCORE])
    alt = res.runs[(res.runs.reading == "episode") & (res.runs.model == "sequence")].iloc[0]
    assert (alt.lr, alt.units) == tuple(res.chosen_setting(0).values())
    assert res.chosen_seq_kw["lr"] == res.chosen_setting()["lr"] and "grid_on" in res.chosen_seq_kw
    text = rhythm_text.reading(res)
    assert "learning rate and units chosen on DS1 per seed from the grid lr {0.01, 0.05} x units {2}" in text
    assert "reuse" not in text
    detail = rhythm_text.grid_reading(res)
    assert "\n- seed 0: lr " in detail and "\n- seed 1: lr " in detail and "runner-up lr " in detail
    assert "over the epochs and the 2 grid settings" in text
    assert "The 2 settings' smoothed inner-CV PR-AUCs range seed 0 " in text and "; seed 1 " in text
    assert "one setting, untuned" not in text and "one setting, not tuned" not in text
    # review22s6c P3: the episode rows with the minimum length come first; the no-minimum ones are fragment-level
    ep = res.episodes[res.episodes.reading == "statement"]
    assert ep["min episode (s)"].iloc[0] == 2.0 and ep["min episode (s)"].iloc[-1] == 0.0
    assert set(ep[ep["min episode (s)"] == 0]["level"]) == {"no minimum: fragment-level, not EC57"}
    lines = [x for x in text.splitlines() if x.startswith("- AF/flutter episodes on DS2")]
    frag = [i for i, x in enumerate(lines) if "(no minimum: fragment-level, not EC57;" in x]
    kept = [i for i, x in enumerate(lines) if "episodes under 2 s dropped" in x]
    assert frag and kept and max(kept) < min(frag)


def test_first_seed_grid_is_reused_by_the_other_seeds_and_said():
    from lib.ecg import rhythm_text
    from lib.ecg.rhythm_cv import patient_cv

    res = _study("first_seed", z_alt=False)
    assert set(res.grid.seed) == {0} and len(res.grid) == 2
    assert res.chosen_setting(1) == res.chosen_setting(0)
    r1 = res.runs[(res.runs.model == "sequence") & (res.runs.seed == 1)].iloc[0]
    assert (r1.lr, r1.units) == tuple(res.chosen_setting(0).values())
    text = rhythm_text.grid_reading(res)
    assert "Seed(s) 1 reuse seed 0's setting (the grid ran on the first seed only" in text
    assert "chosen on DS1 on the first seed (the other seeds reuse its setting" in text and "per seed" not in text
    # the patient CV runs the chosen setting (grid_on is not a model setting)
    from tests.ecg.tiny_rhythm import tiny_case

    data, _, X, _ = tiny_case()
    cv, folds = patient_cv(data, X, X, k=2, seed=0, floor_kw={"trees": 5, "min_leaf": 2}, seq_kw=res.chosen_seq_kw,
                           epochs=1, n_boot=10)  # fmt: skip
    assert len(folds) == 2 and np.isfinite(cv.roc_auc_nonsinus).all()


def test_a_bad_grid_on_is_named():
    with pytest.raises(ValueError, match="grid_on"):
        _study("every_seed", seeds=(0,))


def test_headline_models_against_the_floor_without_a_record_are_scored_on_the_other_patients_only():
    """review22s6b n8: the without-202 rows of the headline-vs-floor table (same pairing, same verdict rule)."""
    import pandas as pd

    from lib.ecg import headline_seeds as hs
    from tests.ecg.test_headline_seeds import _data, _proba, hs_scores

    data, splits = _data()
    te = splits["interpatient"]["test"]
    y = data.y[te]
    rng = np.random.default_rng(3)
    noise = [_proba(np.zeros_like(y), 0.2, rng) for _ in range(2)]
    floor = [_proba(y, 0.0, rng) for _ in range(2)]
    runs = pd.DataFrame(
        [{"split": "interpatient", "model": "noise", "seed": s} | hs_scores(y, noise[s]) for s in (0, 1)]
    )
    study = hs.SeedStudy(runs, pd.DataFrame(), pd.DataFrame(), {"interpatient": {"noise": noise}}, [0, 1], 100, 0)
    gone = data.record[te][0]
    t = hs.against_floor(study, data, splits["interpatient"], floor, without=[gone])
    assert list(t["DS2 beats"].unique()) == ["all", f"without record {gone}"]
    keep = data.record[te] != gone
    w = t[t["DS2 beats"] != "all"].set_index("metric").loc["roc_auc_nonsinus"]
    want = np.mean([hs_scores(y[keep], p[keep])["roc_auc_nonsinus"] for p in noise])
    assert w["model mean"] == pytest.approx(want)
    fl = np.mean([hs_scores(y[keep], p[keep])["roc_auc_nonsinus"] for p in floor])
    assert w["floor"] == pytest.approx(fl) and len(w["per_seed"]) == 2
    a = t[t["DS2 beats"] == "all"].set_index("metric").loc["roc_auc_nonsinus"]
    assert a["model mean"] == pytest.approx(runs["roc_auc_nonsinus"].mean())
    text = hs.floor_reading(t)
    assert f"roc_auc_nonsinus, DS2 without record {gone} (its patient left out; same rule)" in text
    with pytest.raises(ValueError, match="record 999"):
        hs.against_floor(study, data, splits["interpatient"], floor, without=["999"])


def test_own_grid_saving_is_tagged_and_the_entropy_contrast_and_claim_seeds_reach_the_claims():
    """review22s6c P1 (own-grid saving tagged with the claim's value), P2 (claims key), P4 (seeds per claim)."""
    from lib.ecg import al_forest, prose

    rng = np.random.default_rng(0)
    recs = ["201", "203", "101", "103", "105", "210", "219"]
    record = np.repeat(recs, 60)
    y = np.zeros(record.size, dtype=int)
    for r in ("201", "203", "210", "219"):
        y[np.flatnonzero(record == r)[:30]] = 1
    Xf = np.c_[(y != 0) + rng.normal(0, 0.7, y.size), rng.normal(size=y.size)].astype("float32")
    split = {
        "train": np.flatnonzero(np.isin(record, ["203", "101", "103"])),
        "val": np.flatnonzero(np.isin(record, ["201", "105"])),
        "test": np.flatnonzero(np.isin(record, ["210", "219"])),
    }
    al = al_forest.run(Xf, y, split, fraction=0.9, val_size=20, record=record, strategies=["random", "entropy", "odal"],
                       seeds=[0, 1], seed_size=20, batch=20, budget=80, trees=5)  # fmt: skip
    text = al_forest.reading(al, claim={"saving": 0.123})
    odal_line = next(x for x in text.splitlines() if x.startswith("- odal:"))
    assert odal_line.endswith("(on its own points; the claim is the random-grid row: +12.3%).")
    assert "the claim is" not in next(x for x in text.splitlines() if x.startswith("- entropy:"))
    none = al_forest.reading(al, claim={"saving": None})
    assert "the claim is the random-grid row: no value" in none
    assert "the claim is" not in al_forest.reading(al)
    ent = al.odal_minus["entropy"]
    inter = {"odal": {"accuracy": 0.5, "nonsinus_f1": 0.5, "roc_auc_nonsinus": 0.5, "pr_auc_nonsinus": 0.5}}
    results = {"random": {k: {"accuracy": 0.4} for k in ("cnn", "lstm", "cnn_lstm", "random_forest")}}
    results["random"]["odal"] = dict(inter["odal"], roc_auc_ovr_macro=0.5)
    results["interpatient"] = inter
    c = prose.claims_block(results, {}, {"nonsinus_f1": 0.6, "roc_auc_nonsinus": 0.9}, forest_al=al)
    assert c["interpatient_odal_minus_entropy_auc"] == pytest.approx(ent["auc_difference"])
    assert c["interpatient_odal_minus_entropy_auc_ci"] == ent["auc_difference_ci"]
    no_forest = prose.claims_block(results, {}, {"nonsinus_f1": 0.6, "roc_auc_nonsinus": 0.9})
    assert no_forest["interpatient_odal_minus_entropy_auc"] is None
    seeds = prose._claim_seeds([0, 1], [0, 1, 2], [0, 1, 2, 3, 4])
    assert seeds["nb01_annotation_saving"] == (
        "[0, 1] (CNN-BiLSTM AL, the paper's protocol); [0, 1, 2, 3, 4] (forest AL, the honest protocol)"
    )
    assert seeds["nb01_accuracy"].startswith("[0, 1, 2] (headline seeds")
