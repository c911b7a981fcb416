"""Rhythm episodes of notebook 01 (EC57-style): runs of consecutive beats of one record, gross episode and duration
sensitivity / positive predictivity (:func:`episode_scores`) and their patient-bootstrap intervals
(:func:`episode_cis`). lib.ecg.rhythm re-exports these names."""

from __future__ import annotations

import numpy as np

#: reference episodes shorter than this many beats are counted apart (``ref_short_share``)
SHORT_BEATS = 3


# ------------------------------------------------------------------ episodes
def runs(record, mask) -> list[tuple[int, int]]:
    """[start, end) index runs where ``mask`` is True, never crossing a record boundary."""
    mask = np.asarray(mask, dtype=bool)
    rec = np.asarray(record).astype(str)
    brk = np.concatenate([[True], (rec[1:] != rec[:-1]) | (mask[1:] != mask[:-1])])
    starts = np.flatnonzero(brk)
    ends = np.concatenate([starts[1:], [mask.size]])
    return [(int(s), int(e)) for s, e in zip(starts, ends) if mask[s]]


def _drop_short(rec, mask, dur, min_seconds: float) -> np.ndarray:
    """``mask`` without its runs shorter than ``min_seconds`` (a run lasts the summed duration of its beats)."""
    out = mask.copy()
    for s, e in runs(rec, mask):
        if dur[s:e].sum() < min_seconds:
            out[s:e] = False
    return out


def _prepare(record, sample, fs: float, ref, pred, min_seconds: float):
    """(record ids as str, ref, pred, per-beat durations in s): each beat lasts until the next beat of its record (the
    last beat of a record: 0); with ``min_seconds`` > 0, reference and detected episodes shorter than it dropped."""
    ref, pred = np.asarray(ref, dtype=bool), np.asarray(pred, dtype=bool)
    rec = np.asarray(record).astype(str)
    t = np.asarray(sample, dtype=float) / fs
    dur = np.concatenate([np.diff(t), [0.0]])
    dur[np.concatenate([rec[1:] != rec[:-1], [True]])] = 0.0
    if min_seconds > 0:
        ref, pred = _drop_short(rec, ref, dur, min_seconds), _drop_short(rec, pred, dur, min_seconds)
    return rec, ref, pred, dur


def episode_cis(record, sample, fs: float, ref, pred, *, min_seconds: float = 0.0, n_boot: int, seed: int) -> dict:
    """Patient-bootstrap 95% intervals of :func:`episode_scores`' four ratios: the patients (lib.ecg.data.patients:
    201 and 202 one) are drawn with replacement ``n_boot`` times (seeded; the resamples of
    lib.ecg.bootstrap.record_bootstrap for the same records and seed), each episode counted with its patient's draw
    count (an episode lies within one record). Returns {``<ratio>_ci``: [lo, hi] or None}."""
    from lib.ecg.bootstrap import _record_counts, percentile_interval

    rec, ref, pred, dur = _prepare(record, sample, fs, ref, pred, min_seconds)
    idx, counts = _record_counts(rec, n_boot, seed)
    n_pat = counts.shape[1]

    def per_patient(eps, other):  # (episodes, episodes overlapping ``other``) per patient
        n, h = np.zeros(n_pat), np.zeros(n_pat)
        for a, b in eps:
            n[idx[a]] += 1
            h[idx[a]] += bool(other[a:b].any())
        return n, h

    n_ref, h_ref = per_patient(runs(rec, ref), pred)
    n_det, h_det = per_patient(runs(rec, pred), ref)
    d_ref, d_det, d_both = (np.bincount(idx, weights=dur * m, minlength=n_pat) for m in (ref, pred, ref & pred))
    C = counts.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = {
            "episode_se": (C @ h_ref) / (C @ n_ref),
            "episode_ppv": (C @ h_det) / (C @ n_det),
            "duration_se": (C @ d_both) / (C @ d_ref),
            "duration_ppv": (C @ d_both) / (C @ d_det),
        }
    return {f"{k}_ci": percentile_interval(v, 0.95) for k, v in reps.items()}


def episode_scores(record, sample, fs: float, ref, pred, min_seconds: float = 0.0) -> dict:
    """EC57-style gross statistics of episodes (runs of consecutive beats) of ``pred`` against ``ref``:
    episode Se = share of reference episodes that overlap a detected one, episode +P = share of detected episodes
    that overlap a reference one; duration Se / +P = overlapping time over reference / detected time (each beat lasts
    until the next beat of its record). ``min_seconds``: reference and detected episodes shorter than this are
    dropped first (0: every run of one beat or more counts). NaN where a denominator is 0. ``ref_short_share``: the
    share of reference episodes shorter than :data:`SHORT_BEATS` beats (one- and two-beat runs say little as
    episodes)."""
    rec, ref, pred, dur = _prepare(record, sample, fs, ref, pred, min_seconds)
    er, ep = runs(rec, ref), runs(rec, pred)

    def hit(eps, other):
        return sum(bool(other[s:e].any()) for s, e in eps)

    def ratio(a, b):
        return float(a / b) if b > 0 else float("nan")

    both = float(dur[ref & pred].sum())
    return {
        "episodes_ref": len(er),
        "episodes_detected": len(ep),
        "ref_short_share": ratio(sum(e - s_ < SHORT_BEATS for s_, e in er), len(er)),
        "episode_se": ratio(hit(er, pred), len(er)),
        "episode_ppv": ratio(hit(ep, ref), len(ep)),
        "duration_se": ratio(both, dur[ref].sum()),
        "duration_ppv": ratio(both, dur[pred].sum()),
    }
