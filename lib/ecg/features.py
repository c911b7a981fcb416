"""Hand-crafted beat features (vectorised over windows).

``beat_features(X, rr, fs, before, rr_reading)`` -> (F (n, n_features) float32, names):

- RR: prev, next, local mean (+-10 beats), local std, in units of the record's
  mean RR (reading ``record``, de Chazal) or in seconds (``raw``); ratios
  prev/local, next/local, prev/next, prev/record mean; local coefficient of
  variation (an irregularity cue for AF). ``past``: the past-only reading (beat i
  reads beats <= i only; see :func:`rr_features`);
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
#: the past-only reading's RR columns (the same positions; "next" becomes the RR before the previous one)
RR_NAMES_PAST = [
    "rr_prev",
    "rr_prev2",
    "rr_past_mean",
    "rr_past_std",
    "rr_prev_past",
    "rr_prev2_past",
    "rr_prev_prev2",
    "rr_prev_record",
    "rr_past_cv",
]
MORPH_NAMES = ["qrs_width", "r_amp", "qrs_min", "win_max", "win_min", "p_amp", "t_amp"]
SPEC_NAMES = ["pow_0_5", "pow_5_15", "pow_15_40", "spec_centroid"]
STAT_NAMES = ["mean", "std", "skew", "kurtosis", "mean_abs_diff"]
FEATURE_NAMES = RR_NAMES + MORPH_NAMES + SPEC_NAMES + STAT_NAMES
#: the RR readings of :func:`rr_features` (params.yaml nb01 ``rr_features``)
RR_READINGS = ("record", "raw", "past")
#: past reading: the value of a column where a beat has no earlier beat to read (no information: ratio 1, spread 0)
_PAST_FILL = np.array([1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0])


def rr_names(reading: str = "record") -> list[str]:
    """The RR column names of a reading (RR_NAMES, or RR_NAMES_PAST for ``past``)."""
    _check_reading(reading)
    return list(RR_NAMES_PAST if reading == "past" else RR_NAMES)


def feature_names(reading: str = "record") -> list[str]:
    """All feature names of a reading (the RR columns first)."""
    return rr_names(reading) + MORPH_NAMES + SPEC_NAMES + STAT_NAMES


def _check_reading(reading: str) -> None:
    if reading not in RR_READINGS:
        raise ValueError(f"rr_features must be one of {RR_READINGS}, got {reading!r}")


def rr_features(rr: dict, reading: str = "record") -> np.ndarray:
    """(n, 9) RR features from the dict of :func:`lib.ecg.preprocess.rr_intervals` (subset to beats).

    ``raw``: RR in seconds (prev, next, local mean, local std) beside the ratios prev/local, next/local, prev/next,
    prev/record mean and the local coefficient of variation; the seconds are patient-specific (heart rate).
    ``record`` (de Chazal et al. 2004): the same columns with every RR in units of the record's mean RR, so that
    scaling one record's RR intervals by a constant leaves its features unchanged (columns 0 and 7 then coincide).
    ``past``: beat i reads beats <= i only (a real-time monitor): RR to the previous beat, the RR before that
    (instead of the next RR), mean and std of the last intervals ending at beat i, each in units of the running
    record mean up to beat i; the ratios prev/past mean, prev2/past mean, prev/prev2, prev/running mean and the
    past coefficient of variation. A beat without an earlier beat to read gets ratio 1 and spread 0.
    """
    _check_reading(reading)
    eps = 1e-6
    if reading == "past":
        keys = ("past_prev", "past_prev2", "past_local_mean", "past_local_std", "past_record_mean")
    else:
        keys = ("prev", "next", "local_mean", "local_std", "record_mean")
    prev, nxt, mean, std, rec = (np.asarray(rr[k], dtype=np.float64) for k in keys)
    unit = 1.0 if reading == "raw" else rec + eps
    with np.errstate(invalid="ignore"):
        F = np.stack(
            [
                prev / unit,
                nxt / unit,
                mean / unit,
                std / unit,
                prev / (mean + eps),
                nxt / (mean + eps),
                prev / (nxt + eps),
                prev / (rec + eps),
                std / (mean + eps),
            ],
            axis=1,
        )
    if reading == "past":
        F = np.where(np.isnan(F), _PAST_FILL[None, :], F)
    return F


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


def beat_features(
    X: np.ndarray, rr: dict, fs: float, before: int, rr_reading: str = "record"
) -> tuple[np.ndarray, list[str]]:
    """All features: (n, len(FEATURE_NAMES)) float32 and their names (:func:`feature_names` of ``rr_reading``).

    Only the RR columns depend on ``rr_reading``; the others read the beat's own window, which ends ``after``
    samples after R (a fixed delay of the window length, not a later beat)."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be (n, L), got shape {X.shape}")
    F = np.concatenate(
        [
            rr_features(rr, rr_reading),
            morphology_features(X, fs, before),
            spectral_features(X, fs),
            statistical_features(X),
        ],
        axis=1,
    )
    return F.astype(np.float32), feature_names(rr_reading)


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
