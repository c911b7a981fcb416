"""ECG preprocessing: band-pass filter, per-record normalisation, R-centred windows, labels.

Filter: Butterworth band-pass 0.5-40 Hz, designed with order 4 (second-order
sections) and applied forward and backward (``sosfiltfilt``): zero phase, the
magnitude response squared (effectively order 8).

Labels per window (integers index the class lists of :mod:`lib.ecg.data`):

- ``rhythm``: the rhythm in force at the beat (last ``'+'`` annotation at or
  before it) mapped to RHYTHM_CLASSES = sinus, af_flutter, ventricular, other;
- ``sinus``: 1 for non-sinus, 0 for normal sinus (so ``nonsinus`` is the positive class);
- ``aami``: AAMI EC57 class N, S, V, F, Q.

Bad samples: NaN samples (invalid ADC values) and flat segments (constant for at
least ``flat_s`` seconds) are masked; beats whose window touches a masked sample,
runs past the record ends, or precede the first rhythm annotation are skipped and
counted in ``BeatSet.skipped`` (never given a guessed label).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from scipy import signal as sps

from lib.ecg.data import AAMI_CLASSES, AAMI_MAP, RHYTHM_CLASSES, RHYTHM_MAP, EcgRecord, progress_kw

NORMALISATIONS = ("zscore", "robust", "none")
PEAK_SOURCES = ("reference", "xqrs")


# ------------------------------------------------------------------ filtering
def bandpass_sos(fs: float, low: float = 0.5, high: float = 40.0, order: int = 4) -> np.ndarray:
    """Second-order sections of a Butterworth band-pass of the given design order."""
    if not 0 < low < high < fs / 2:
        raise ValueError(f"need 0 < low < high < fs/2, got low={low}, high={high}, fs={fs}")
    return sps.butter(order, [low, high], btype="bandpass", fs=fs, output="sos")


def bandpass(x: np.ndarray, fs: float, low: float = 0.5, high: float = 40.0, order: int = 4) -> np.ndarray:
    """Zero-phase band-pass along axis 0. x: (n,) or (n, leads) -> same shape, float64."""
    return sps.sosfiltfilt(bandpass_sos(fs, low, high, order), np.asarray(x, dtype=np.float64), axis=0)


def bad_sample_mask(x: np.ndarray, fs: float, flat_s: float = 0.2) -> np.ndarray:
    """(n,) bool: NaN/inf samples and samples in runs of identical values lasting >= flat_s seconds."""
    x = np.asarray(x, dtype=np.float64)
    bad = ~np.isfinite(x)
    min_run = max(2, int(round(flat_s * fs)))
    same = np.concatenate([[False], np.diff(x) == 0])  # same[i]: x[i] == x[i-1]
    # run starts where same goes False->True; mark runs of length >= min_run
    idx = np.flatnonzero(np.diff(np.concatenate([[0], same.astype(np.int8), [0]])))
    for start, stop in zip(idx[::2], idx[1::2]):  # run of 'same' covers x[start-1 : stop]
        if stop - start + 1 >= min_run:
            bad[start - 1 : stop] = True
    return bad


def normalise(x: np.ndarray, method: str = "zscore", mask: np.ndarray | None = None) -> np.ndarray:
    """Per-record normalisation of a 1-d signal (statistics over unmasked samples)."""
    if method not in NORMALISATIONS:
        raise ValueError(f"normalisation must be one of {NORMALISATIONS}, got {method!r}")
    x = np.asarray(x, dtype=np.float64)
    good = x if mask is None else x[~mask]
    if method == "none" or good.size == 0:
        return x.copy()
    if method == "zscore":
        centre, scale = good.mean(), good.std()
    else:
        q25, centre, q75 = np.percentile(good, [25, 50, 75])
        scale = (q75 - q25) / 1.349
    return (x - centre) / (scale if scale > 0 else 1.0)


def clean_signal(
    x: np.ndarray, fs: float, *, low=0.5, high=40.0, order=4, normalisation="zscore", flat_s=0.2
) -> tuple[np.ndarray, np.ndarray]:
    """Filter + normalise one lead. x: (n,). Returns (y (n,), bad (n,) bool).

    Bad samples are linearly interpolated before filtering (so NaNs do not
    spread through the filter) and reported in ``bad``.
    """
    x = np.asarray(x, dtype=np.float64)
    bad = bad_sample_mask(x, fs, flat_s)
    if bad.all():
        return np.zeros_like(x), bad
    filled = x.copy()
    if bad.any():
        idx = np.arange(x.size)
        filled[bad] = np.interp(idx[bad], idx[~bad], x[~bad])
    y = bandpass(filled, fs, low, high, order)
    return normalise(y, normalisation, bad), bad


# ------------------------------------------------------------------ labels
def rhythm_at(beat_sample: np.ndarray, rhythm_sample: np.ndarray, rhythm_label: list[str]) -> np.ndarray:
    """Rhythm string in force at each beat (last rhythm annotation at or before it; '' if none)."""
    beat_sample = np.asarray(beat_sample)
    if len(rhythm_sample) == 0:
        return np.full(beat_sample.shape, "", dtype=object)
    order = np.argsort(rhythm_sample, kind="stable")
    rs = np.asarray(rhythm_sample)[order]
    rl = np.asarray(rhythm_label, dtype=object)[order]
    pos = np.searchsorted(rs, beat_sample, side="right") - 1
    out = np.where(pos >= 0, rl[np.clip(pos, 0, None)], "")
    return out.astype(object)


def rhythm_class(rhythm: np.ndarray) -> np.ndarray:
    """Rhythm strings -> index into RHYTHM_CLASSES (-1 for '' = no rhythm in force). Unknown -> ValueError."""
    unknown = sorted({r for r in rhythm if r and r not in RHYTHM_MAP})
    if unknown:
        raise ValueError(f"unknown rhythm string(s) {unknown}; known: {sorted(RHYTHM_MAP)}")
    lut = {k: RHYTHM_CLASSES.index(v) for k, v in RHYTHM_MAP.items()}
    return np.array([lut.get(r, -1) for r in rhythm], dtype=np.int64)


def aami_class(symbols: np.ndarray) -> np.ndarray:
    """Beat symbols -> index into AAMI_CLASSES (N, S, V, F, Q). Unmapped symbol -> ValueError."""
    unknown = sorted({s for s in symbols if s not in AAMI_MAP})
    if unknown:
        raise ValueError(f"symbol(s) {unknown} have no AAMI class; mapped: {sorted(AAMI_MAP)}")
    lut = {k: AAMI_CLASSES.index(v) for k, v in AAMI_MAP.items()}
    return np.array([lut[s] for s in symbols], dtype=np.int64)


# ------------------------------------------------------------------ windows
def window_indices(centres: np.ndarray, before: int, after: int) -> np.ndarray:
    """(n_beats, before + after) int sample indices ``c - before ... c + after - 1`` for each centre."""
    return np.asarray(centres, dtype=np.int64)[:, None] + np.arange(-before, after, dtype=np.int64)[None, :]


def xqrs_peaks(x: np.ndarray, fs: float) -> np.ndarray:
    """R-peak samples detected by wfdb's XQRS on a (raw) lead."""
    from wfdb import processing

    return np.asarray(processing.xqrs_detect(sig=np.nan_to_num(x), fs=fs, verbose=False), dtype=np.int64)


def match_peaks(detected: np.ndarray, reference: np.ndarray, tol: int) -> tuple[np.ndarray, np.ndarray]:
    """Pair each reference beat with the nearest detection within ``tol`` samples.

    Returns (ref_index (m,), detected_sample (m,)) for matched reference beats.
    """
    detected = np.sort(np.asarray(detected, dtype=np.int64))
    reference = np.asarray(reference, dtype=np.int64)
    if detected.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    pos = (
        np.clip(np.searchsorted(detected, reference), 1, detected.size - 1)
        if detected.size > 1
        else np.zeros(reference.size, dtype=np.int64)
    )
    cand = np.stack([detected[np.clip(pos - 1, 0, None)], detected[pos]], axis=1)
    best = cand[np.arange(reference.size), np.argmin(np.abs(cand - reference[:, None]), axis=1)]
    ok = np.abs(best - reference) <= tol
    return np.flatnonzero(ok), best[ok]


@dataclass
class BeatSet:
    """All beat windows of a set of records.

    X: (n, L) float32 windows (lead 0) on the cleaned signal; record: (n,) str;
    sample: (n,) int R position; symbol: (n,) str; rhythm / aami / nonsinus: (n,) int;
    rr: dict of (n,) float arrays in seconds (prev, next, local_mean, local_std, record_mean, and the past-only
    past_* of :func:`rr_intervals`);
    skipped: Counter of beats dropped, by reason; rhythm_string: (n,) the rhythm annotation in force ('(N', ...).
    """

    X: np.ndarray
    record: np.ndarray
    sample: np.ndarray
    symbol: np.ndarray
    rhythm: np.ndarray
    aami: np.ndarray
    nonsinus: np.ndarray
    rr: dict
    fs: float
    before: int
    after: int
    skipped: Counter = field(default_factory=Counter)
    rhythm_string: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def subset(self, idx: np.ndarray) -> BeatSet:
        idx = np.asarray(idx)
        return BeatSet(
            self.X[idx],
            self.record[idx],
            self.sample[idx],
            self.symbol[idx],
            self.rhythm[idx],
            self.aami[idx],
            self.nonsinus[idx],
            {k: v[idx] for k, v in self.rr.items()},
            self.fs,
            self.before,
            self.after,
            Counter(self.skipped),
            None if self.rhythm_string is None else self.rhythm_string[idx],
        )


def rr_intervals(beat_sample: np.ndarray, fs: float, local: int = 10) -> dict:
    """RR descriptors in seconds for each beat of one record (all beats, in order).

    prev/next: RR to the previous/next beat (edge beats copy their neighbour);
    local_mean / local_std: mean / std of the RR intervals within +-``local`` beats;
    record_mean: the record's mean RR.

    Past-only descriptors (beat i reads the beat times of beats <= i only; NaN where undefined):
    past_prev: RR to the previous beat (NaN for the first beat); past_prev2: the RR before that (NaN for the
    first two beats); past_local_mean / past_local_std: mean / std of the last ``local`` + 1 RR intervals ending
    at beat i (fewer at the record start); past_record_mean: the running mean of all RR intervals up to beat i.
    """
    s = np.asarray(beat_sample, dtype=np.float64) / fs
    n = s.size
    if n < 3:
        raise ValueError(f"need at least 3 beats for RR intervals, got {n}")
    d = np.diff(s)
    prev = np.concatenate([[d[0]], d])
    nxt = np.concatenate([d, [d[-1]]])
    csum = np.concatenate([[0.0], np.cumsum(prev)])
    csq = np.concatenate([[0.0], np.cumsum(prev**2)])
    lo = np.clip(np.arange(n) - local, 0, n)
    hi = np.clip(np.arange(n) + local + 1, 0, n)
    cnt = hi - lo
    mean = (csum[hi] - csum[lo]) / cnt
    var = np.maximum((csq[hi] - csq[lo]) / cnt - mean**2, 0.0)
    # past only: the intervals d[0..i-1] end at beats 1..i
    cd = np.concatenate([[0.0], np.cumsum(d)])
    cdq = np.concatenate([[0.0], np.cumsum(d**2)])
    i = np.arange(n)
    p_lo = np.maximum(i - 1 - local, 0)
    p_cnt = np.where(i > 0, i - p_lo, np.nan)
    p_mean = (cd[i] - cd[p_lo]) / p_cnt
    p_var = np.maximum((cdq[i] - cdq[p_lo]) / p_cnt - p_mean**2, 0.0)
    p_prev = np.concatenate([[np.nan], d])
    return {
        "prev": prev,
        "next": nxt,
        "local_mean": mean,
        "local_std": np.sqrt(var),
        "record_mean": np.full(n, d.mean()),
        "past_prev": p_prev,
        "past_prev2": np.concatenate([[np.nan], p_prev[:-1]]),
        "past_local_mean": p_mean,
        "past_local_std": np.sqrt(p_var),
        "past_record_mean": np.where(i > 0, cd[i] / np.maximum(i, 1), np.nan),
    }


def beat_windows(
    rec: EcgRecord,
    *,
    before: int = 96,
    after: int = 160,
    low=0.5,
    high=40.0,
    order=4,
    normalisation="zscore",
    flat_s=0.2,
    peaks: str = "reference",
    tol_s: float = 0.15,
    rr_local: int = 10,
) -> BeatSet:
    """Windows centred on the R peaks of one record (lead 0), with labels and RR intervals.

    peaks: 'reference' (annotation positions) or 'xqrs' (wfdb detector; each
    reference beat matched to the nearest detection within tol_s, unmatched ones skipped).
    """
    if peaks not in PEAK_SOURCES:
        raise ValueError(f"peaks must be one of {PEAK_SOURCES}, got {peaks!r}")
    fs = rec.fs
    raw = rec.signal[:, 0]
    y, bad = clean_signal(raw, fs, low=low, high=high, order=order, normalisation=normalisation, flat_s=flat_s)
    skipped: Counter = Counter()
    ref = rec.beat_sample
    centres = ref.copy()
    keep = np.ones(ref.size, dtype=bool)
    if peaks == "xqrs":
        ref_idx, det = match_peaks(xqrs_peaks(raw, fs), ref, int(round(tol_s * fs)))
        keep[:] = False
        keep[ref_idx] = True
        centres[ref_idx] = det
        skipped["no_xqrs_match"] += int((~keep).sum())
    rr = rr_intervals(ref, fs, rr_local)
    rhythm_str = rhythm_at(ref, rec.rhythm_sample, rec.rhythm_label)
    rhythm = rhythm_class(rhythm_str)
    no_rhythm = keep & (rhythm < 0)
    skipped["no_rhythm_annotation"] += int(no_rhythm.sum())
    keep &= ~no_rhythm
    edge = keep & ((centres - before < 0) | (centres + after > y.size))
    skipped["window_past_record_end"] += int(edge.sum())
    keep &= ~edge
    idx = window_indices(centres[keep], before, after)
    touches_bad = bad[idx].any(axis=1) if idx.size else np.zeros(0, dtype=bool)
    skipped["nan_or_flat_signal"] += int(touches_bad.sum())
    sel = np.flatnonzero(keep)[~touches_bad]
    idx = idx[~touches_bad]
    aami = aami_class(rec.beat_symbol[sel])
    return BeatSet(
        X=y[idx].astype(np.float32),
        record=np.full(sel.size, rec.name, dtype=object),
        sample=centres[sel],
        symbol=rec.beat_symbol[sel],
        rhythm=rhythm[sel],
        aami=aami,
        nonsinus=(rhythm[sel] != RHYTHM_CLASSES.index("sinus")).astype(np.int64),
        rr={k: v[sel] for k, v in rr.items()},
        fs=fs,
        before=before,
        after=after,
        skipped=Counter({k: v for k, v in skipped.items() if v}),
        rhythm_string=np.asarray(rhythm_str, dtype=object)[sel],
    )


def concat(sets: list[BeatSet]) -> BeatSet:
    """Concatenate BeatSets (same fs / window) and add their skip counts."""
    if not sets:
        raise ValueError("concat needs at least one BeatSet")
    skipped: Counter = Counter()
    for s in sets:
        skipped.update(s.skipped)
    return BeatSet(
        X=np.concatenate([s.X for s in sets]),
        record=np.concatenate([s.record for s in sets]),
        sample=np.concatenate([s.sample for s in sets]),
        symbol=np.concatenate([s.symbol for s in sets]),
        rhythm=np.concatenate([s.rhythm for s in sets]),
        aami=np.concatenate([s.aami for s in sets]),
        nonsinus=np.concatenate([s.nonsinus for s in sets]),
        rr={k: np.concatenate([s.rr[k] for s in sets]) for k in sets[0].rr},
        fs=sets[0].fs,
        before=sets[0].before,
        after=sets[0].after,
        skipped=skipped,
        rhythm_string=None
        if any(s.rhythm_string is None for s in sets)
        else np.concatenate([s.rhythm_string for s in sets]),
    )


def build_beats(records: list[EcgRecord], progress: bool = True, **kwargs) -> BeatSet:
    """:func:`beat_windows` over several records, concatenated (kwargs passed through)."""
    from tqdm import tqdm

    return concat([beat_windows(r, **kwargs) for r in tqdm(records, desc="windows", **progress_kw(progress))])


def class_names(task: str) -> list[str]:
    """Class names of a label task in {'rhythm', 'nonsinus', 'aami'}."""
    names = {"rhythm": RHYTHM_CLASSES, "nonsinus": ["sinus", "non-sinus"], "aami": AAMI_CLASSES}
    if task not in names:
        raise ValueError(f"task must be one of {sorted(names)}, got {task!r}")
    return list(names[task])


def labels(beats: BeatSet, task: str) -> np.ndarray:
    """(n,) int labels of a task in {'rhythm', 'nonsinus', 'aami'}."""
    class_names(task)
    return {"rhythm": beats.rhythm, "nonsinus": beats.nonsinus, "aami": beats.aami}[task]


def decimate_windows(X: np.ndarray, factor: int) -> np.ndarray:
    """Keep every ``factor``-th sample of (n, L) windows (signal already low-passed at 40 Hz)."""
    if factor < 1:
        raise ValueError(f"factor must be >= 1, got {factor}")
    return np.ascontiguousarray(X[:, ::factor])
