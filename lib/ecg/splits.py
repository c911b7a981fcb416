"""Train/validation/test splits of ECG beats.

- ``random_split``: the paper's random 70/15/15 split of beats (stratified by label):
  beats of one patient land in train and test alike (intra-patient, optimistic).
- ``interpatient_split``: de Chazal et al. (2004) DS1 (train, validation carved out
  of DS1 at random) / DS2 (test); paced records are not in either list.
- ``patient_kfold``: K folds with whole patients held out (sklearn GroupKFold on
  patients (201 and 202 are one), stratified by the patients' label mix where possible).

Every function returns index arrays into the beat arrays.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, train_test_split

from lib.ecg.data import DS1, DS2, patients


def _safe_stratify(y: np.ndarray) -> np.ndarray | None:
    _, counts = np.unique(y, return_counts=True)
    return y if counts.min() >= 2 else None


def random_split(y: np.ndarray, fractions=(0.70, 0.15, 0.15), seed: int = 0) -> dict[str, np.ndarray]:
    """Random beat split stratified by y. Returns {'train', 'val', 'test'} index arrays."""
    if len(fractions) != 3 or not np.isclose(sum(fractions), 1.0) or min(fractions) <= 0:
        raise ValueError(f"fractions must be three positive numbers summing to 1, got {fractions}")
    y = np.asarray(y)
    idx = np.arange(y.size)
    train, rest = train_test_split(idx, train_size=fractions[0], random_state=seed, stratify=_safe_stratify(y))
    val_share = fractions[1] / (fractions[1] + fractions[2])
    val, test = train_test_split(rest, train_size=val_share, random_state=seed, stratify=_safe_stratify(y[rest]))
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def record_holdout(
    record: np.ndarray, idx: np.ndarray, fraction: float, seed: int, y: np.ndarray | None = None, must=(1,)
) -> tuple[np.ndarray, np.ndarray]:
    """Split beat indices ``idx`` by whole PATIENTS (lib.ecg.data.patients: 201 and 202 are one): (kept, held out).

    Patients are taken in a seeded random order until their beats reach ``fraction`` of ``idx`` (at least one,
    never all). With ``y`` given, the held-out part is stratified by rhythm: for each class in ``must`` (default:
    1 = AF/flutter) held by at least two patients of ``idx``, the first such patient of the seeded order is held out
    first, so that early stopping and thresholds see the class. Both parts sorted.
    """
    pat = patients(record)
    names = np.unique(pat[idx])
    if names.size < 2:
        raise ValueError(f"a patient hold-out needs at least 2 patients, got {names.size}")
    order = list(np.random.default_rng(seed).permutation(names))
    if y is not None:
        y = np.asarray(y)
        first = []
        for c in must:
            holders = [n for n in order if np.any(y[idx][pat[idx] == n] == c)]
            if len(holders) >= 2 and holders[0] not in first:
                first.append(holders[0])
        order = first + [n for n in order if n not in first]
    order = np.array(order)
    sizes = np.array([np.sum(pat[idx] == n) for n in order])
    n_out = int(np.clip(np.searchsorted(np.cumsum(sizes), fraction * idx.size) + 1, 1, names.size - 1))
    n_out = max(n_out, len(first) if y is not None else 1)
    out = np.isin(pat[idx], order[:n_out])
    return np.sort(idx[~out]), np.sort(idx[out])


def interpatient_split(
    record: np.ndarray,
    y: np.ndarray,
    val_fraction: float = 0.15,
    seed: int = 0,
    ds1: list[str] | None = None,
    ds2: list[str] | None = None,
    grouped_val: bool = False,
) -> dict[str, np.ndarray]:
    """DS1 -> train (+ a validation share), DS2 -> test.

    ``grouped_val``: the validation part is whole DS1 records (:func:`record_holdout`), so early
    stopping never sees beats of the training patients; otherwise a random, label-stratified share of
    DS1 beats. Records in neither list (e.g. paced ones) are ignored. Raises ValueError if DS1 or DS2
    has no beats.
    """
    record = np.asarray(record).astype(str)
    ds1, ds2 = ds1 or DS1, ds2 or DS2
    tr = np.flatnonzero(np.isin(record, ds1))
    te = np.flatnonzero(np.isin(record, ds2))
    if tr.size == 0 or te.size == 0:
        raise ValueError(f"inter-patient split needs beats in DS1 and DS2, got {tr.size} and {te.size}")
    if grouped_val:
        train, val = record_holdout(record, tr, val_fraction, seed, y=y)
    else:
        train, val = train_test_split(
            tr, test_size=val_fraction, random_state=seed, stratify=_safe_stratify(np.asarray(y)[tr])
        )
    return {"train": np.sort(train), "val": np.sort(val), "test": te}


def patient_kfold(record: np.ndarray, y: np.ndarray, k: int = 5, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """K patient-grouped folds: [{'train', 'test'}]; no patient (lib.ecg.data.patients) in both of a fold's parts."""
    pat = patients(record)
    n_pat = np.unique(pat).size
    if not 2 <= k <= n_pat:
        raise ValueError(f"k must be in [2, {n_pat}] (number of patients), got {k}")
    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return [{"train": tr, "test": te} for tr, te in cv.split(np.zeros(pat.size), np.asarray(y), groups=pat)]
