"""lib.ecg.features: exact values on hand-made windows, vectorised vs loop."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from lib.ecg import features as ef

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
    F = ef.rr_features(rr)
    np.testing.assert_allclose(F[0], [0.8, 0.8, 0.8, 0.0, 1.0, 1.0, 1.0, 0.8, 0.0], rtol=1e-5)
    np.testing.assert_allclose(F[1], [0.4, 1.2, 0.8, 0.2, 0.5, 1.5, 1 / 3, 0.4, 0.25], rtol=1e-5)


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
