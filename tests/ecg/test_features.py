"""lib.ecg.features: exact values on hand-made windows, vectorised vs loop."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from lib.ecg import features as ef
from lib.ecg import preprocess as pp

FS = 360.0


def _box_windows(widths, L=200, before=80, amp=1.0):
    """Windows with a rectangular 'QRS' of the given widths (samples) centred on the R column."""
    X = np.zeros((len(widths), L))
    for i, w in enumerate(widths):
        X[i, before - w // 2 : before - w // 2 + w] = amp
    return X


def test_qrs_width_exact_on_boxes():
    widths = [11, 21, 31]
    got = ef.qrs_width(_box_windows(widths), FS, before=80)
    np.testing.assert_allclose(got, np.array(widths) / FS)


def test_qrs_width_capped():
    X = np.zeros((1, 1000))
    X[0, 350:650] = 1.0  # much wider than +-120 ms
    got = ef.qrs_width(X, FS, before=500)
    half = int(round(0.12 * FS))
    assert got[0] == pytest.approx((2 * half + 1) / FS)


def test_rr_features_exact():
    rr = {
        "prev": np.array([0.8, 0.4]),
        "next": np.array([0.8, 1.2]),
        "local_mean": np.array([0.8, 0.8]),
        "local_std": np.array([0.0, 0.2]),
        "record_mean": np.array([1.0, 1.0]),
    }
    F = ef.rr_features(rr, "raw")
    np.testing.assert_allclose(F[0], [0.8, 0.8, 0.8, 0.0, 1.0, 1.0, 1.0, 0.8, 0.0], rtol=1e-5)
    np.testing.assert_allclose(F[1], [0.4, 1.2, 0.8, 0.2, 0.5, 1.5, 1 / 3, 0.4, 0.25], rtol=1e-5)
    rec = ef.rr_features({**rr, "record_mean": np.array([0.5, 0.5])}, "record")  # RR in units of 0.5 s
    np.testing.assert_allclose(rec[1], [0.8, 2.4, 1.6, 0.4, 0.5, 1.5, 1 / 3, 0.8, 0.25], rtol=1e-5)
    with pytest.raises(ValueError, match="rr_features must be one of"):
        ef.rr_features(rr, "seconds")


def _times(seed=0, n=40):
    """Beat sample times (360 Hz) with irregular RR intervals."""
    return np.cumsum(np.random.default_rng(seed).integers(200, 400, n))


def test_record_reading_invariant_to_scaling_one_records_rr():
    s = _times()
    base = ef.rr_features(pp.rr_intervals(s, FS), "record")
    for c in (0.6, 1.7):  # the same rhythm at another heart rate
        np.testing.assert_allclose(ef.rr_features(pp.rr_intervals(s * c, FS), "record"), base, rtol=1e-5)
    raw = ef.rr_features(pp.rr_intervals(s * 1.7, FS), "raw")
    assert not np.allclose(raw[:, 0], ef.rr_features(pp.rr_intervals(s, FS), "raw")[:, 0], rtol=1e-3)
    past = ef.rr_features(pp.rr_intervals(s * 1.7, FS), "past")
    np.testing.assert_allclose(past, ef.rr_features(pp.rr_intervals(s, FS), "past"), rtol=1e-5)


def test_past_reading_ignores_later_beats():
    s = _times(1)
    full = ef.rr_features(pp.rr_intervals(s, FS, local=3), "past")
    altered = s.copy()
    altered[25:] = altered[24] + np.cumsum(np.full(15, 150))  # a different rhythm after beat 24
    for other in (s[:25], altered):
        got = ef.rr_features(pp.rr_intervals(other, FS, local=3), "past")
        np.testing.assert_allclose(got[:25], full[:25], rtol=1e-12)
    centred = [ef.rr_features(pp.rr_intervals(t, FS, local=3), "record")[:25] for t in (s, altered)]
    assert not np.allclose(*centred)  # the centred reading does see them (so the check can fail)


def test_past_reading_hand_computed():
    s = np.array([0, 360, 540, 900, 1080])  # RR 1.0, 0.5, 1.0, 0.5 s
    F = ef.rr_features(pp.rr_intervals(s, FS, local=1), "past")
    np.testing.assert_allclose(F[0], [1, 1, 1, 0, 1, 1, 1, 1, 0])  # nothing before the first beat
    # beat 1: prev 1.0, no prev2, past mean 1.0 (one interval), running mean 1.0
    np.testing.assert_allclose(F[1], [1, 1, 1, 0, 1, 1, 1, 1, 0], rtol=1e-5)
    # beat 2: prev 0.5, prev2 1.0; last 2 intervals (1.0, 0.5): mean 0.75, std 0.25; running mean 0.75
    m = 0.75
    want = [0.5 / m, 1 / m, 1, 0.25 / m, 0.5 / m, 1 / m, 0.5, 0.5 / m, 0.25 / m]
    np.testing.assert_allclose(F[2], want, rtol=1e-5)
    # beat 4: prev 0.5, prev2 1.0; last 2 intervals (1.0, 0.5); running mean of 4 intervals 0.75
    np.testing.assert_allclose(F[4], want, rtol=1e-5)
    # beat 3: prev 1.0, prev2 0.5; last 2 (0.5, 1.0): mean 0.75, std 0.25; running mean (1+0.5+1)/3
    r = 2.5 / 3
    np.testing.assert_allclose(F[3], [1 / r, 0.5 / r, m / r, 0.25 / r, 1 / m, 0.5 / m, 2, 1 / r, 0.25 / m], rtol=1e-5)


def test_spectral_features_pure_tones():
    t = np.arange(720) / FS
    X = np.stack([np.sin(2 * np.pi * 2 * t), np.sin(2 * np.pi * 10 * t), np.sin(2 * np.pi * 25 * t)])
    S = ef.spectral_features(X, FS)
    assert np.argmax(S[:, :3], axis=1).tolist() == [0, 1, 2]
    assert S[1, 1] > 0.95
    np.testing.assert_allclose(S[:, 3], [2, 10, 25], atol=0.6)


def test_statistical_features_vs_loop():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 64))
    S = ef.statistical_features(X)
    for i, x in enumerate(X):
        np.testing.assert_allclose(
            S[i], [x.mean(), x.std(), stats.skew(x), stats.kurtosis(x), np.mean(np.abs(np.diff(x)))], rtol=1e-10
        )


def test_morphology_amplitudes():
    X = np.zeros((1, 360))
    before = 120
    X[0, before] = 2.0  # R
    X[0, before + 10] = -0.5  # S, within the QRS region
    X[0, before - 50] = 0.3  # P (139 ms before R)
    X[0, before + 90] = -0.4  # T (250 ms after R)
    M = ef.morphology_features(X, FS, before)[0]
    names = dict(zip(ef.MORPH_NAMES, M))
    assert names["r_amp"] == 2.0 and names["qrs_min"] == -0.5
    assert names["p_amp"] == pytest.approx(0.3) and names["t_amp"] == pytest.approx(-0.4)
    assert names["win_max"] == 2.0 and names["win_min"] == -0.5


def test_beat_features_shape_and_names():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((7, 256)).astype(np.float32)
    rr = {k: np.full(7, 0.8) for k in ("prev", "next", "local_mean", "local_std", "record_mean")}
    F, names = ef.beat_features(X, rr, FS, 96)
    assert F.shape == (7, len(ef.FEATURE_NAMES)) and names == ef.FEATURE_NAMES and F.dtype == np.float32
    assert np.isfinite(F).all()
    with pytest.raises(ValueError, match="X must be"):
        ef.beat_features(X[0], rr, FS, 96)


def test_feature_scaler():
    F = np.array([[1.0, 5.0], [3.0, 5.0]])
    sc = ef.FeatureScaler().fit(F)
    np.testing.assert_allclose(sc.transform(F), [[-1, 0], [1, 0]])
