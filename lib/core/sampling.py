"""The one seeded subsample helper (caps on training parts, pools, probe sets)."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split


def stratify_or_none(y: np.ndarray) -> np.ndarray | None:
    """``y`` when every class has at least 2 members (sklearn can stratify), else None."""
    _, counts = np.unique(y, return_counts=True)
    return y if counts.min() >= 2 else None


def subsample(idx, max_n: int | None, seed: int = 0, strata=None) -> np.ndarray:
    """At most ``max_n`` of the indices ``idx`` (n,), sorted; None or 0 keeps all (in their order).

    ``strata`` (n,) (optional): labels of ``idx``; the draw is stratified by them when every
    stratum has at least two members, else plain random. Same arguments, same result.
    """
    idx = np.asarray(idx)
    if not max_n or idx.size <= max_n:
        return idx
    stratify = None if strata is None else stratify_or_none(np.asarray(strata))
    keep, _ = train_test_split(idx, train_size=int(max_n), random_state=seed, stratify=stratify)
    return np.sort(keep)
