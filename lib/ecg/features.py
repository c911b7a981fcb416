"""Hand-crafted beat features (vectorised over windows).

``beat_features(X, rr, fs, before)`` -> (F (n, n_features) float32, names):

- RR (s): prev, next, local mean (+-10 beats), local std; ratios prev/local,
  next/local, prev/next, prev/record mean; local coefficient of variation (an
  irregularity cue for AF);
- QRS width estimate (s): span around the R sample where |x - window median|
  stays above 30% of the R deflection, limited to +-120 ms;
- amplitudes: R deflection, QRS min, window max/min, P-region and T-region peak
  deviation (P: 250-80 ms before R; T: 100-400 ms after R);
- spectral: relative power in 0-5, 5-15, 15-40 Hz of the window (FFT, Hann),
  spectral centroid (Hz);
- statistical: mean, std, skewness, kurtosis, mean |first difference|.

X: (n, L) windows centred so that R is at column ``before``, at sampling rate fs.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

RR_NAMES = [
    "rr_prev",
    "rr_next",
    "rr_local_mean",
    "rr_local_std",
    "rr_prev_local",
    "rr_next_local",
    "rr_prev_next",
    "rr_prev_record",
    "rr_local_cv",
]
MORPH_NAMES = ["qrs_width", "r_amp", "qrs_min", "win_max", "win_min", "p_amp", "t_amp"]
SPEC_NAMES = ["pow_0_5", "pow_5_15", "pow_15_40", "spec_centroid"]
STAT_NAMES = ["mean", "std", "skew", "kurtosis", "mean_abs_diff"]
FEATURE_NAMES = RR_NAMES + MORPH_NAMES + SPEC_NAMES + STAT_NAMES


def rr_features(rr: dict) -> np.ndarray:
    """(n, 9) RR features from the dict of :func:`lib.ecg.preprocess.rr_intervals` (subset to beats)."""
    eps = 1e-6
    prev, nxt, mean, std, rec = (
        np.asarray(rr[k], dtype=np.float64) for k in ("prev", "next", "local_mean", "local_std", "record_mean")
    )
    return np.stack(
        [
            prev,
            nxt,
            mean,
            std,
            prev / (mean + eps),
            nxt / (mean + eps),
            prev / (nxt + eps),
            prev / (rec + eps),
            std / (mean + eps),
        ],
        axis=1,
    )


def qrs_width(X: np.ndarray, fs: float, before: int, frac: float = 0.3, max_half_s: float = 0.12) -> np.ndarray:
    """(n,) QRS width estimate in seconds (see module docstring). X: (n, L)."""
    X = np.asarray(X, dtype=np.float64)
    dev = np.abs(X - np.median(X, axis=1, keepdims=True))
    half = int(round(max_half_s * fs))
    lo, hi = max(0, before - half), min(X.shape[1], before + half + 1)
    seg = dev[:, lo:hi]
    centre = before - lo
    peak = seg[:, max(0, centre - 3) : centre + 4].max(axis=1, keepdims=True)
    above = seg >= frac * np.maximum(peak, 1e-9)
    # walk outwards from the centre: first column (each side) that falls below threshold
    right = above[:, centre:]
    left = above[:, : centre + 1][:, ::-1]
    r_len = np.where(right.all(axis=1), right.shape[1], np.argmin(right, axis=1))
    l_len = np.where(left.all(axis=1), left.shape[1], np.argmin(left, axis=1))
    return np.maximum(r_len + l_len - 1, 0) / fs  # the R column is counted on both sides


def morphology_features(X: np.ndarray, fs: float, before: int) -> np.ndarray:
    """(n, 7): qrs_width, r_amp, qrs_min, win_max, win_min, p_amp, t_amp."""
    X = np.asarray(X, dtype=np.float64)
    med = np.median(X, axis=1, keepdims=True)
    L = X.shape[1]

    def region(a_s, b_s):
        a, b = int(np.clip(before + a_s * fs, 0, L - 1)), int(np.clip(before + b_s * fs, 1, L))
        return X[:, a : max(b, a + 1)] - med

    qrs = region(-0.06, 0.06)
    p, t = region(-0.25, -0.08), region(0.10, 0.40)
    pick = np.argmax(np.abs(p), axis=1), np.argmax(np.abs(t), axis=1)
    rows = np.arange(X.shape[0])
    return np.stack(
        [
            qrs_width(X, fs, before),
            X[:, before] - med[:, 0],
            qrs.min(axis=1),
            X.max(axis=1),
            X.min(axis=1),
            p[rows, pick[0]],
            t[rows, pick[1]],
        ],
        axis=1,
    )


def spectral_features(X: np.ndarray, fs: float) -> np.ndarray:
    """(n, 4): relative power in 0-5, 5-15, 15-40 Hz and the spectral centroid (Hz)."""
    X = np.asarray(X, dtype=np.float64)
    Xc = (X - X.mean(axis=1, keepdims=True)) * np.hanning(X.shape[1])[None, :]
    power = np.abs(np.fft.rfft(Xc, axis=1)) ** 2
    freqs = np.fft.rfftfreq(X.shape[1], d=1.0 / fs)
    total = power.sum(axis=1) + 1e-12
    bands = [(freqs < 5), (freqs >= 5) & (freqs < 15), (freqs >= 15) & (freqs < 40)]
    rel = [power[:, b].sum(axis=1) / total for b in bands]
    centroid = (power * freqs[None, :]).sum(axis=1) / total
    return np.stack(rel + [centroid], axis=1)


def statistical_features(X: np.ndarray) -> np.ndarray:
    """(n, 5): mean, std, skewness, kurtosis (Fisher), mean |first difference|."""
    X = np.asarray(X, dtype=np.float64)
    return np.stack(
        [
            X.mean(axis=1),
            X.std(axis=1),
            np.nan_to_num(stats.skew(X, axis=1)),
            np.nan_to_num(stats.kurtosis(X, axis=1)),
            np.abs(np.diff(X, axis=1)).mean(axis=1),
        ],
        axis=1,
    )


def beat_features(X: np.ndarray, rr: dict, fs: float, before: int) -> tuple[np.ndarray, list[str]]:
    """All features: (n, len(FEATURE_NAMES)) float32 and FEATURE_NAMES."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be (n, L), got shape {X.shape}")
    F = np.concatenate(
        [rr_features(rr), morphology_features(X, fs, before), spectral_features(X, fs), statistical_features(X)], axis=1
    )
    return F.astype(np.float32), list(FEATURE_NAMES)


class FeatureScaler:
    """Standardise features with statistics of a training subset (robust to constant columns)."""

    def fit(self, F: np.ndarray) -> FeatureScaler:
        F = np.asarray(F, dtype=np.float64)
        self.mean_ = F.mean(axis=0)
        std = F.std(axis=0)
        self.std_ = np.where(std > 0, std, 1.0)
        return self

    def transform(self, F: np.ndarray) -> np.ndarray:
        return ((np.asarray(F, dtype=np.float64) - self.mean_) / self.std_).astype(np.float32)
