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
  "ventricular premature complex(es)") over the underlying rhythm: inside such an episode an AAMI-N beat is
  **sinus** and an AAMI-V beat **ventricular** (other beats keep the episode's class, ventricular).

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


def rhythm_labels(rhythm: np.ndarray, rhythm_string: np.ndarray, aami: np.ndarray, reading: str) -> np.ndarray:
    """(n,) rhythm class per beat under ``reading`` from the episode-reading classes ``rhythm``, the rhythm
    strings in force and the AAMI classes."""
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
    y[inside & (aami == ecg_data.AAMI_CLASSES.index("N"))] = sinus
    y[inside & (aami == ecg_data.AAMI_CLASSES.index("V"))] = vent
    return y
