import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lib.bias import statistics as st


def test_joint_ranks_share_the_better_rank():
    assert st.joint_ranks([0.9, 0.8, 0.9]).tolist() == [0, 2, 0]
    assert st.joint_ranks([0.1, 0.3, 0.2], higher_is_better=False).tolist() == [0, 2, 1]


def test_holm_by_hand():
    # sorted p: 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> running max 0.03, 0.06, 0.06
    np.testing.assert_allclose(st.holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(st.holm([0.5, 0.9]), [1.0, 1.0])


def test_ci95_by_hand():
    mean, half = st.ci95([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(4.302652729749464 / np.sqrt(3), rel=1e-12)
    assert np.isnan(st.ci95([0.5])[1])


def test_paired_t_matches_scipy_and_constant_differences():
    d = np.array([0.1, 0.12, 0.11, 0.13])
    mean, half, p = st.paired_t(d)
    assert mean == pytest.approx(0.115) and p == pytest.approx(stats.ttest_1samp(d, 0).pvalue, rel=1e-12)
    assert st.paired_t([0.0, 0.0, 0.0])[2] == 1.0


def _runs(diffs):
    """Two datasets; per seed s: sce = 0.8 + diffs[s], bce = 0.7 + diffs[s], l1 = 0.6, sos = 0.5."""
    rows = []
    for d in ("a", "b"):
        for s, delta in enumerate(diffs):
            for o, v in (("sce", 0.8 + delta), ("bce", 0.7 + delta), ("l1", 0.6), ("sos", 0.5)):
                rows.append({"dataset": d, "objective": o, "seed": s, "accuracy": v})
    return pd.DataFrame(rows)


def test_ranking_claims_supported_and_not_significant():
    out = st.ranking_claims(_runs([0.01, 0.03, 0.02, 0.04]), ("sce", "bce"), ("l1", "sos"))
    pa = out["probabilistic_above_margin"]
    # per seed: (0.8 + 0.7 + 2 delta) / 2 - (0.6 + 0.5) / 2 = 0.2 + delta
    assert pa["diff"] == pytest.approx(0.225) and pa["verdict"] == "supported"
    best = out["best_is_probabilistic"]
    assert best["compared"] == "sce vs l1" and best["diff"] == pytest.approx(0.225)
    expected_p = stats.ttest_1samp([0.21, 0.23, 0.22, 0.24], 0).pvalue
    assert pa["p"] == pytest.approx(expected_p, rel=1e-9) and pa["p_holm"] == pytest.approx(2 * expected_p, rel=1e-9)
    noisy = st.ranking_claims(_runs([-0.3, 0.3]), ("sce", "bce"), ("l1", "sos"))
    assert noisy["probabilistic_above_margin"]["verdict"] == "not significant"


def test_ranking_claims_pick_the_best_pair_on_another_metric():
    """review25s17 M4: the best pair is picked on validation accuracy, not on the test accuracy it is tested on."""
    runs = _runs([0.01, 0.03, 0.02, 0.04])
    runs["valid_accuracy"] = runs["accuracy"]
    runs.loc[runs["objective"] == "bce", "valid_accuracy"] = 0.95  # bce best on validation, sce best on test
    runs.loc[runs["objective"] == "sos", "valid_accuracy"] = 0.90
    best = st.ranking_claims(runs, ("sce", "bce"), ("l1", "sos"), pick="valid_accuracy")["best_is_probabilistic"]
    assert best["compared"] == "bce vs sos" and best["picked_on"] == "valid_accuracy"
    assert best["diff"] == pytest.approx(0.2 + 0.025)  # tested on test accuracy: bce 0.7 + delta - sos 0.5
    same = st.ranking_claims(runs, ("sce", "bce"), ("l1", "sos"))["best_is_probabilistic"]
    assert same["compared"] == "sce vs l1" and same["picked_on"] == "accuracy"


def test_pairwise_tests_holm_and_verdicts():
    table = st.pairwise_tests(_runs([0.01, 0.03, 0.02, 0.04]))
    assert len(table) == 6 and set(table["verdict"]) <= {"A > B", "A < B", "not significant"}
    row = table[(table.A == "l1") & (table.B == "sos")].iloc[0]
    assert row["diff"] == pytest.approx(0.1) and row["p"] == 0.0 and row["verdict"] == "A > B"
    assert (table["p_holm"] >= table["p"]).all()


def test_cka_noise_floor_exact():
    mats = {
        ("d", "sce", 0): np.zeros((2, 2)),
        ("d", "sce", 1): np.full((2, 2), 0.1),
        ("d", "l1", 0): np.full((2, 2), 0.5),
    }
    floor = st.cka_noise_floor(mats)
    # pairs: sce/s0-sce/s1 (seed) 0.1, l1/s0-sce/s0 (objective) 0.5; l1/s0-sce/s1 differs in both: left out
    assert sorted(zip(floor["kind"], floor["mean_abs_diff"].round(12))) == [("objective", 0.5), ("seed", 0.1)]
    summ = st.noise_floor_summary(floor)["d"]
    assert summ["seed_max"] == pytest.approx(0.1) and summ["objective_mean"] == pytest.approx(0.5)
    assert summ["objective_above_floor"] is True


def test_bootstrap_noise_floor_exact():
    # B = 2 replicates; seed pair sce/s0-sce/s1 differs by 0.1 then 0.3; objective pair sce/s0-l1/s0 by 0.5 then 0.2
    z = np.zeros((2, 2))
    boot = {
        ("d", "sce", 0): np.stack([z, z]),
        ("d", "sce", 1): np.stack([z + 0.1, z + 0.3]),
        ("d", "l1", 0): np.stack([z + 0.5, z + 0.2]),
    }
    out = st.bootstrap_noise_floor(boot)["d"]
    assert out["n_boot"] == 2
    assert out["seed_mean_ci"] == pytest.approx([0.105, 0.295])
    assert out["excess_ci"] == pytest.approx([-0.0875, 0.3875])  # excess per replicate: 0.4, -0.1 (linear percentiles)
    assert out["verdict"] == "within the floor"
    boot[("d", "l1", 0)] = np.stack([z + 0.5, z + 0.6])
    assert st.bootstrap_noise_floor(boot)["d"]["verdict"] == "above the floor"
    assert st.bootstrap_noise_floor({("d", "sce", 0): np.stack([z])}) == {}, "no pairs: no entry"


def test_wilson_interval_known_values():
    from lib.bias.statistics import wilson_interval

    lo, hi = wilson_interval(20, 100)  # textbook: 0.1333 .. 0.2888
    assert lo == pytest.approx(0.1334, abs=2e-4) and hi == pytest.approx(0.2888, abs=2e-4)
    assert wilson_interval(0, 10)[0] == 0.0 and np.isnan(wilson_interval(0, 0)[0])
