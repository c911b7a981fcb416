"""Labels, the rare-category policy and the stratified train/validation/test split (notebook 02).

Rare categories: a stratified three-way split needs at least one sample of a class in
each part, so a class needs ``min_count >= 3`` records. Classes with fewer than
``min_count`` records are either dropped (``rare_policy="drop"``, the default) or
merged into one class ``"other"`` (``rare_policy="other"``; the merged class must
itself reach ``min_count``, else it is dropped too).

Label encoding: classes sorted by name, exactly as sklearn's ``LabelEncoder`` numbers them (the paper's
notebook). The order matters beyond naming: a stratified ``train_test_split`` draws its per-class permutations
in label-code order, so the same seed selects the paper's test rows only with the paper's codes
(tests/arxiv/test_paper_test_set.py). The encoding depends only on the data, never on row order or hash seeds.

Splits: every split is a dict of sorted index arrays with the parts
``train`` (what every model is finally fitted on), ``test``, ``val`` (where OUR choices are tuned: the TF-IDF
grids), ``tune`` (what the grid models are fitted on while tuning; disjoint from ``val``) and ``monitor`` (the part
whose loss the head's learning-rate schedule and training curve read).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

RARE_POLICIES = ("drop", "other")
OTHER = "other"


@dataclass(frozen=True)
class Labels:
    """Encoded targets. keep: (n,) bool rows kept; y: (n_kept,) int64; names: class names (len C)."""

    keep: np.ndarray
    y: np.ndarray
    names: list[str]
    counts: list[int]
    n_rare_classes: int
    n_rare_records: int


def encode_labels(categories, min_count: int = 5, rare_policy: str = "drop") -> Labels:
    """Apply the rare-category policy to ``categories: (n,)`` strings and encode the rest.

    Returns :class:`Labels`; ``names[y[i]]`` is the (possibly merged) category of kept row i.
    """
    if rare_policy not in RARE_POLICIES:
        raise ValueError(f"rare_policy must be one of {RARE_POLICIES}, got {rare_policy!r}")
    if int(min_count) < 3:
        raise ValueError(f"min_count must be >= 3 (one sample per split part), got {min_count}")
    cats = np.asarray([str(c) for c in categories], dtype=object)
    counts = Counter(cats.tolist())
    rare = {c for c, n in counts.items() if n < min_count}
    n_rare_records = int(sum(counts[c] for c in rare))
    mapped = cats.copy()
    if rare_policy == "other" and rare:
        if OTHER in counts and OTHER not in rare:
            raise ValueError(f"a real category is named {OTHER!r}; cannot merge rare classes into it")
        mapped = np.where(np.isin(cats, list(rare)), OTHER, cats)
    new_counts = Counter(mapped.tolist())
    keep = np.array([new_counts[m] >= min_count for m in mapped], dtype=bool)
    kept_counts = Counter(mapped[keep].tolist())
    if len(kept_counts) < 2:
        raise ValueError(f"fewer than two classes have >= {min_count} records")
    names = sorted(kept_counts)  # sklearn LabelEncoder order (np.unique of the strings)
    index = {c: i for i, c in enumerate(names)}
    y = np.array([index[m] for m in mapped[keep]], dtype=np.int64)
    return Labels(
        keep=keep,
        y=y,
        names=names,
        counts=[kept_counts[c] for c in names],
        n_rare_classes=len(rare),
        n_rare_records=n_rare_records,
    )


def stratified_split(y, test_frac: float = 0.2, val_frac: float = 0.1, seed: int = 0) -> dict[str, np.ndarray]:
    """Per-class shuffled split of ``y: (n,)`` -> {"train", "val", "test", "tune", "monitor"}: sorted index arrays.

    Each class of size m gives ``max(1, round(m * test_frac))`` to test and
    ``max(1, round(m * val_frac))`` to validation, the rest (at least 1) to train. Ours: the grids are fitted
    on ``train`` (``tune`` = train) and the head's schedule reads ``val`` (``monitor`` = val).
    """
    if not (0 < test_frac < 1 and 0 < val_frac < 1 and test_frac + val_frac < 1):
        raise ValueError(f"need 0 < test_frac, val_frac and test_frac + val_frac < 1, got {test_frac}, {val_frac}")
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        m = len(idx)
        n_test = max(1, int(round(m * test_frac)))
        n_val = max(1, int(round(m * val_frac)))
        if m - n_test - n_val < 1:
            raise ValueError(f"class {c} has {m} samples: too few for a three-way split")
        parts["test"].append(idx[:n_test])
        parts["val"].append(idx[n_test : n_test + n_val])
        parts["train"].append(idx[n_test + n_val :])
    out = {k: np.sort(np.concatenate(v)) for k, v in parts.items()}
    return {**out, "tune": out["train"], "monitor": out["val"]}


SPLITS = ("train_val_test", "paper_80_20")


def paper_split(y, test_frac: float, val_frac: float, seed: int) -> dict[str, np.ndarray]:
    """The paper's split of ``y: (n,)`` (label codes in :func:`encode_labels` order = LabelEncoder's): sklearn
    ``train_test_split(test_size=test_frac, random_state=seed, stratify=y, shuffle=True)`` -> train / test.

    The paper steps its learning-rate scheduler on the test loss (``monitor`` = test; kept for the paper's head).
    OUR choices (the TF-IDF grids) are tuned on a validation part carved from the training part
    (:func:`carve_validation`: ``val_frac`` of all rows, stratified, seeded): the grid models are fitted on the
    rest (``tune``) and the chosen value refitted on the whole training part. -> sorted index arrays.
    """
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(
        np.arange(len(y)), test_size=test_frac, random_state=seed, stratify=np.asarray(y), shuffle=True
    )
    train, test = np.sort(train), np.sort(test)
    tune, val = carve_validation(np.asarray(y), train, val_frac / (1 - test_frac), seed)
    return {"train": train, "val": val, "test": test, "tune": tune, "monitor": test}


def carve_validation(y, train: np.ndarray, frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(tune, val): a stratified share ``frac`` of the rows ``train`` (indices into ``y``), at least one row per class
    with >= 2 rows and never a class's last row (every class stays in ``tune``). Sorted, disjoint, seeded."""
    rng = np.random.default_rng(seed)
    tune, val = [], []
    for c in np.unique(y[train]):
        idx = rng.permutation(train[y[train] == c])
        k = min(max(1, int(round(len(idx) * frac))), len(idx) - 1)
        val.append(idx[:k])
        tune.append(idx[k:])
    return np.sort(np.concatenate(tune)), np.sort(np.concatenate(val))


def make_split(y, kind: str, test_frac: float, val_frac: float, seed: int) -> dict[str, np.ndarray]:
    """:func:`stratified_split` (``"train_val_test"``, ours) or :func:`paper_split` (``"paper_80_20"``)."""
    if kind == "train_val_test":
        return stratified_split(y, test_frac=test_frac, val_frac=val_frac, seed=seed)
    if kind == "paper_80_20":
        return paper_split(y, test_frac=test_frac, val_frac=val_frac, seed=seed)
    raise ValueError(f"split must be one of {SPLITS}, got {kind!r}")


def cap_per_class(categories, cap: int) -> np.ndarray:
    """(n,) bool: the first ``cap`` rows of each category in file order (the paper's 1,500-row cap); 0 keeps all."""
    cats = np.asarray([str(c) for c in categories], dtype=object)
    if not cap:
        return np.ones(len(cats), dtype=bool)
    seen: Counter = Counter()
    keep = np.zeros(len(cats), dtype=bool)
    for i, c in enumerate(cats):
        seen[c] += 1
        keep[i] = seen[c] <= cap
    return keep


def subsample_stratified(y, n: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of about ``n`` rows of ``y: (m,)``, proportional per class, >= 1 per class."""
    y = np.asarray(y)
    if n >= len(y):
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    out = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        k = max(1, int(round(len(idx) * n / len(y))))
        out.append(rng.choice(idx, size=min(k, len(idx)), replace=False))
    return np.sort(np.concatenate(out))
