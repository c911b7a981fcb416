"""Rhythm label readings of notebook 01: which rhythm class a beat gets (lib.ecg.data.RHYTHM_CLASSES).

Rule (``statement``, the primary reading): a beat's rhythm class is the origin of the rhythm that drives the
atria and ventricles, as in the AHA/ACCF/HRS diagnostic statement list (Mason, Hancock & Gettes,
"Recommendations for the standardization and interpretation of the electrocardiogram, part II: electrocardiography
diagnostic statement list", Circulation 115:1325-1332, 2007, doi:10.1161/CIRCULATIONAHA.106.180201), which files
second-degree AV block and ventricular pre-excitation under conduction statements, apart from the rhythm
statements. Hence:

- ``(PREX`` (pre-excitation, sinus P waves conducted over an accessory pathway) and ``(BII`` (second-degree AV
  block, sinus P waves with dropped ventricular beats) are sinus-node rhythms with a conduction abnormality:
  **sinus**, like ``(N`` and ``(SBR``;
- ventricular bigeminy / trigeminy (``(B``, ``(T``) are patterns of premature ventricular complexes (statement list:
  "ventricular premature complex(es)") over the underlying rhythm: inside such an episode an AAMI-N beat gets the
  **underlying rhythm** (the class of the record's last rhythm before the episode that is not (B / (T, so a (B
  episode inside atrial fibrillation stays AF; sinus when the record starts with the episode) and an AAMI-V beat is
  **ventricular** (other beats keep the episode's class, ventricular). A PVC outside a (B / (T episode keeps the
  rhythm in force under both readings (the rhythm annotation, not the beat, decides).

``episode`` (the alternative, the label map of lib.ecg.data.RHYTHM_MAP): (PREX and (BII are "other" (non-sinus) and a
whole (B / (T episode is ventricular, its normal beats included. Results are reported under both.
"""

from __future__ import annotations

import numpy as np

from lib.ecg import data as ecg_data

READINGS = ("statement", "episode")
#: rhythm strings that the statement reading calls sinus (conduction abnormalities of a sinus rhythm)
CONDUCTION_RHYTHMS = ("(PREX", "(BII")
#: rhythm episodes whose beats the statement reading labels by their own AAMI class
EPISODE_RHYTHMS = ("(B", "(T")


def check_reading(reading: str) -> None:
    if reading not in READINGS:
        raise ValueError(f"label_reading must be one of {READINGS}, got {reading!r}")


def _underlying(y: np.ndarray, inside: np.ndarray, record, default: int) -> np.ndarray:
    """Per beat, the class of the last beat of its record (this one included) that is not inside an episode."""
    rec = (
        np.zeros(y.size, dtype=int)
        if record is None
        else np.unique(np.asarray(record).astype(str), return_inverse=True)[1]
    )
    out = np.full(y.size, default, dtype=y.dtype)
    starts = np.flatnonzero(np.concatenate([[True], rec[1:] != rec[:-1]]))
    for s, e in zip(starts, np.concatenate([starts[1:], [y.size]])):
        pos = np.where(~inside[s:e], np.arange(e - s), -1)
        last = np.maximum.accumulate(pos)
        out[s:e] = np.where(last >= 0, y[s:e][np.maximum(last, 0)], default)
    return out


def rhythm_labels(
    rhythm: np.ndarray, rhythm_string: np.ndarray, aami: np.ndarray, reading: str, record=None
) -> np.ndarray:
    """(n,) rhythm class per beat under ``reading`` from the episode-reading classes ``rhythm``, the rhythm
    strings in force and the AAMI classes; ``record`` (beats in record order) bounds the underlying rhythm of a
    (B / (T episode (None: one record)."""
    check_reading(reading)
    y = np.array(rhythm, dtype=np.int64, copy=True)
    if reading == "episode":
        return y
    if rhythm_string is None:
        raise ValueError("the statement reading needs the rhythm strings in force (BeatSet.rhythm_string)")
    rs = np.asarray(rhythm_string).astype(str)
    aami = np.asarray(aami)
    sinus, vent = ecg_data.RHYTHM_CLASSES.index("sinus"), ecg_data.RHYTHM_CLASSES.index("ventricular")
    y[np.isin(rs, CONDUCTION_RHYTHMS)] = sinus
    inside = np.isin(rs, EPISODE_RHYTHMS)
    under = _underlying(y, inside, record, sinus)
    normal = inside & (aami == ecg_data.AAMI_CLASSES.index("N"))
    y[normal] = under[normal]
    y[inside & (aami == ecg_data.AAMI_CLASSES.index("V"))] = vent
    return y
