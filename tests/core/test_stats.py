"""lib.core.stats: bootstrap resamples (rows and groups), CIs, paired differences, Holm."""

import numpy as np
import pytest

from lib.core import stats


def test_group_bootstrap_draws_whole_groups():
    groups = np.array(["a", "a", "b", "c", "c", "c"])
    for idx in stats.bootstrap_samples(6, 50, seed=1, groups=groups):
        drawn = groups[idx]
        for g in "abc":  # a group is drawn whole: its count is a multiple of its size
            assert (drawn == g).sum() % (groups == g).sum() == 0
    same = stats.bootstrap_samples(6, 5, seed=1, groups=groups)
    again = stats.bootstrap_samples(6, 5, seed=1, groups=groups)
    assert all(np.array_equal(x, y) for x, y in zip(same, again, strict=True))


def test_ci_of_a_constant_is_the_constant_and_covers_the_mean():
    x = np.full(40, 0.7)
    assert stats.bootstrap_ci(lambda i: x[i].mean(), 40, n_boot=200) == (pytest.approx(0.7), pytest.approx(0.7))
    y = np.random.default_rng(0).normal(1.0, 1.0, 400)
    lo, hi = stats.bootstrap_ci(lambda i: y[i].mean(), 400, n_boot=500)
    assert lo < y.mean() < hi and hi - lo == pytest.approx(2 * 1.96 / 20, rel=0.2)


def test_paired_bootstrap_detects_a_real_difference_only():
    rng = np.random.default_rng(0)
    a = rng.random(300) < 0.8
    b = rng.random(300) < 0.6
    res = stats.paired_bootstrap(lambda i: a[i].mean(), lambda i: b[i].mean(), 300, n_boot=500)
    assert res["diff"] == pytest.approx(a.mean() - b.mean()) and res["ci"][0] > 0 and res["p"] < 0.01
    same = stats.paired_bootstrap(lambda i: a[i].mean(), lambda i: a[i].mean(), 300, n_boot=100)
    assert same["diff"] == 0 and same["p"] == 1.0


def test_holm_matches_hand_computed_values():
    np.testing.assert_allclose(stats.holm([0.01, 0.04, 0.03, 0.5]), [0.04, 0.09, 0.09, 0.5])
    np.testing.assert_allclose(stats.holm([0.6, 0.9]), [1.0, 1.0])


def test_t_interval_is_the_student_t_half_width():
    mean, half = stats.t_interval([1.0, 2.0, 3.0])
    assert mean == pytest.approx(2.0) and half == pytest.approx(4.302653 / np.sqrt(3), rel=1e-5)
    assert stats.t_interval([1.0, 2.0, 3.0], 0.9)[1] == pytest.approx(2.919986 / np.sqrt(3), rel=1e-5)
    assert stats.t_interval([0.5])[0] == 0.5 and np.isnan(stats.t_interval([0.5])[1])
