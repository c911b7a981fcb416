"""Rhythm-irregularity features over a window of beats (the RR-only floor of notebook 01).

For every beat, over the ``w`` beats centred on it within its record (clipped at the record ends), with
RR_i = the interval ending at beat i and dRR_i = RR_i - RR_(i-1):

- ``rmssd_w``: root mean square of dRR over the mean RR (RMSSD / mean RR);
- ``plarge_w``: share of successive differences with |dRR| > ``large`` x mean RR (a relative pNN50);
- ``tpr_w``: turning-point ratio: share of RR_i that are a strict local maximum or minimum of (RR_(i-1), RR_i,
  RR_(i+1)), over its expectation 2/3 for an i.i.d. series (about 1 in AF, lower in sinus rhythm);
- ``cv_w``: coefficient of variation of RR (std / mean);
- ``mad_w``: local mean |dRR| over local mean RR.

Robust features (:func:`robust_features`, the ``robust`` group of the floor), over the same windows: ``mdrr_w`` the
median |dRR| over the median RR and ``iqr_w`` the interquartile range of RR over the median RR: medians are
little moved by a few ectopic beats and their compensatory pauses, which inflate the means above.

Ectopic beats: with ``ectopic`` given (a boolean per beat, e.g. the reference beat annotation says S or V), a
successive difference (and a turning point) that involves an ectopic beat or the interval after one (the
compensatory pause) is left out, as in heart-rate-variability practice; RR intervals touching an ectopic beat are
left out of the mean and the CV. The annotation is then an oracle ectopic-beat detector: say so beside results.
"""

from __future__ import annotations

import numpy as np

IRREGULARITY = ("rmssd", "plarge", "tpr", "cv", "mad")
ROBUST = ("mdrr", "iqr")


def irregularity_names(windows) -> list[str]:
    return [f"{f}_{w}" for w in windows for f in IRREGULARITY]


def robust_names(windows) -> list[str]:
    return [f"{f}_{w}" for w in windows for f in ROBUST]


def _window_sum(v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    c = np.concatenate([[0.0], np.cumsum(v)])
    return c[hi] - c[lo]


def _one_record(t: np.ndarray, ectopic: np.ndarray, windows, large: float) -> np.ndarray:
    n = t.size
    rr = np.diff(t, prepend=t[0] - (t[1] - t[0]) if n > 1 else 1.0)  # RR_i ends at beat i (first copies the next)
    ect = ectopic.astype(bool)
    prev_ect = np.concatenate([[False], ect[:-1]])
    rr_ok = ~(ect | prev_ect)  # interval i touches beat i-1 and beat i
    d = np.concatenate([[0.0], np.diff(rr)])
    d_ok = np.concatenate([[False], rr_ok[1:] & rr_ok[:-1]])  # both intervals clean (covers the pause)
    tp = np.zeros(n)
    tp_ok = np.zeros(n, dtype=bool)
    if n >= 3:
        a, b, c = rr[:-2], rr[1:-1], rr[2:]
        eps = 1e-9  # seconds: equal intervals (up to rounding) are no turning point
        tp[1:-1] = ((b > a + eps) & (b > c + eps)) | ((b < a - eps) & (b < c - eps))
        tp_ok[1:-1] = rr_ok[:-2] & rr_ok[1:-1] & rr_ok[2:]
    cols = []
    idx = np.arange(n)
    for w in windows:
        lo = np.clip(idx - w // 2, 0, n)
        hi = np.clip(idx - w // 2 + w, 0, n)
        n_rr = np.maximum(_window_sum(rr_ok.astype(float), lo, hi), 1.0)
        mean = _window_sum(np.where(rr_ok, rr, 0.0), lo, hi) / n_rr
        var = np.maximum(_window_sum(np.where(rr_ok, rr**2, 0.0), lo, hi) / n_rr - mean**2, 0.0)
        n_d = _window_sum(d_ok.astype(float), lo, hi)
        den = np.maximum(n_d, 1.0)
        msd = _window_sum(np.where(d_ok, d**2, 0.0), lo, hi) / den
        mad = _window_sum(np.where(d_ok, np.abs(d), 0.0), lo, hi) / den
        big = _window_sum((d_ok & (np.abs(d) > large * np.maximum(mean, 1e-6))).astype(float), lo, hi) / den
        n_tp = _window_sum(tp_ok.astype(float), lo, hi)
        tpr = _window_sum(np.where(tp_ok, tp, 0.0), lo, hi) / np.maximum(n_tp, 1.0) / (2.0 / 3.0)
        m = np.maximum(mean, 1e-6)
        none = n_d == 0  # no clean successive difference in the window: no evidence of irregularity
        cols += [
            np.where(none, 0.0, np.sqrt(msd) / m),
            np.where(none, 0.0, big),
            np.where(n_tp == 0, 1.0, tpr),
            np.sqrt(var) / m,
            np.where(none, 0.0, mad / m),
        ]
    return np.stack(cols, axis=1)


def _checked_beats(record, sample, windows, ectopic):
    """(record as str, sample as float64, windows as ints, ectopic as bool) for n beats, or a ValueError naming
    the argument that does not fit (shared by :func:`irregularity_features` and :func:`robust_features`)."""
    record = np.asarray(record).astype(str)
    sample = np.asarray(sample, dtype=np.float64)
    n = record.size
    if sample.shape != (n,):
        raise ValueError(f"sample must have one entry per beat ({n}), got shape {sample.shape}")
    windows = [int(w) for w in windows]
    if not windows or min(windows) < 3:
        raise ValueError(f"windows must be beat counts >= 3, got {windows}")
    ect = np.zeros(n, dtype=bool) if ectopic is None else np.asarray(ectopic, dtype=bool)
    if ect.shape != (n,):
        raise ValueError(f"ectopic must have one entry per beat ({n}), got shape {ect.shape}")
    return record, sample, windows, ect


def irregularity_features(
    record: np.ndarray, sample: np.ndarray, fs: float, *, windows=(32, 64), large: float = 0.1, ectopic=None
) -> np.ndarray:
    """(n, 5 * len(windows)) float32 features (:func:`irregularity_names` order) for beats ordered by (record,
    sample). ``ectopic``: optional (n,) bool (True = ectopic beat, left out as the module docstring says)."""
    if not 0 < large < 1:
        raise ValueError(f"large must be a share of the mean RR in (0, 1), got {large}")
    record, sample, windows, ect = _checked_beats(record, sample, windows, ectopic)
    n = record.size
    out = np.zeros((n, 5 * len(windows)))
    starts = np.flatnonzero(np.concatenate([[True], record[1:] != record[:-1]]))
    ends = np.concatenate([starts[1:], [n]])
    for s, e in zip(starts, ends):
        if e - s < 2:
            out[s:e] = np.tile([0.0, 0.0, 1.0, 0.0, 0.0] * len(windows), (e - s, 1))
            continue
        t = sample[s:e] / fs
        if np.any(np.diff(t) <= 0):
            raise ValueError(f"beats of record {record[s]} must be in increasing sample order")
        out[s:e] = _one_record(t, ect[s:e], windows, large)
    return out.astype(np.float32)


def robust_features(record: np.ndarray, sample: np.ndarray, fs: float, *, windows=(32, 64), ectopic=None) -> np.ndarray:
    """(n, 2 * len(windows)) float32 robust features (:func:`robust_names` order), beats ordered by (record, sample):
    rolling medians over the ``w`` beats centred on each beat (pandas ``center=True``), clipped at the record ends.
    With ``ectopic``, intervals and differences touching an ectopic beat (or its pause) are left out as above."""
    import pandas as pd

    record, sample, windows, ect = _checked_beats(record, sample, windows, ectopic)
    n = record.size
    out = np.zeros((n, 2 * len(windows)))
    starts = np.flatnonzero(np.concatenate([[True], record[1:] != record[:-1]]))
    for s, e in zip(starts, np.concatenate([starts[1:], [n]])):
        if e - s < 3:
            continue
        t = sample[s:e] / fs
        if np.any(np.diff(t) <= 0):
            raise ValueError(f"beats of record {record[s]} must be in increasing sample order")
        rr = np.diff(t, prepend=t[0] - (t[1] - t[0]))
        ec = ect[s:e]
        rr_ok = ~(ec | np.concatenate([[False], ec[:-1]]))
        d = np.abs(np.concatenate([[np.nan], np.diff(rr)]))
        d_ok = np.concatenate([[False], rr_ok[1:] & rr_ok[:-1]])
        R, D = pd.Series(np.where(rr_ok, rr, np.nan)), pd.Series(np.where(d_ok, d, np.nan))
        cols = []
        for w in windows:
            rr_roll = R.rolling(w, center=True, min_periods=1)
            med = rr_roll.median().to_numpy()
            med = np.where(np.isfinite(med) & (med > 0), med, np.nanmedian(rr))
            md = D.rolling(w, center=True, min_periods=1).median().to_numpy()
            iqr = (rr_roll.quantile(0.75) - rr_roll.quantile(0.25)).to_numpy()
            cols += [np.nan_to_num(md / med), np.nan_to_num(iqr / med)]
        out[s:e] = np.stack(cols, axis=1)
    return out.astype(np.float32)
