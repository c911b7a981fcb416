"""SOM building blocks (rules in :mod:`lib.eye.som`): grid geometry and link distances, MATLAB's batch training
rule, the map-size rule, BMUs, hit counts, the labelling rules (majority with ties, empty neurons) and the PCA
initial codebook.
"""

from __future__ import annotations

import math

import numpy as np

EMPTY_RULES = ("grid", "codebook")


TIE_RULES = ("lowest", "random")


INITS = ("pca", "random")


TOPOLOGIES = ("rectangular", "hexagonal")


TRAININGS = ("online", "batch")


BATCH_NEIGHBORHOODS = ("bubble", "gaussian")


def grid_positions(rows: int, cols: int, topology: str = "rectangular") -> np.ndarray:
    """(rows*cols, 2) plot/grid coordinates (x, y) of the units (:mod:`lib.eye.som` docstring, grid geometry)."""
    if topology not in TOPOLOGIES:
        raise ValueError(f"topology must be one of {TOPOLOGIES}, got {topology!r}")
    r, c = np.divmod(np.arange(rows * cols), cols)
    if topology == "rectangular":
        return np.stack([c, r], axis=1).astype(np.float64)
    return np.stack([c + 0.5 * (r % 2), r * math.sqrt(3) / 2], axis=1)


def neighbours(rows: int, cols: int, topology: str = "rectangular", diagonal: bool = True) -> np.ndarray:
    """(units, units) bool adjacency: hexagonal: the 6 adjacent cells; rectangular: the 8 surrounding cells
    (``diagonal``) or the 4 edge neighbours (link distance 1)."""
    pos = grid_positions(rows, cols, topology)
    diff = np.abs(pos[:, None, :] - pos[None, :, :])
    if topology == "rectangular" and diagonal:
        near = diff.max(axis=-1) <= 1.0 + 1e-9
    else:
        near = np.sqrt((diff**2).sum(-1)) <= 1.0 + 1e-9
    np.fill_diagonal(near, False)
    return near


def link_distances(rows: int, cols: int, topology: str = "rectangular") -> np.ndarray:
    """(units, units) number of links between units (MATLAB ``linkdist``; 4- or 6-neighbour links)."""
    from scipy.sparse.csgraph import shortest_path

    adj = neighbours(rows, cols, topology, diagonal=False).astype(float)
    return shortest_path(adj, method="D", unweighted=True)


def batch_train(
    X: np.ndarray,
    weights: np.ndarray,
    topology: str,
    epochs: int,
    initial_neighborhood: float,
    cover_steps: int,
    neighborhood: str = "bubble",
) -> np.ndarray:
    """Batch SOM (:mod:`lib.eye.som` docstring, ``"batch"``): X (n, d), weights (rows, cols, d) -> trained weights
    (same shape)."""
    if neighborhood not in BATCH_NEIGHBORHOODS:
        raise ValueError(f"batch neighborhood must be one of {BATCH_NEIGHBORHOODS}, got {neighborhood!r}")
    from scipy.sparse import csr_matrix

    rows, cols, d = weights.shape
    units = rows * cols
    W = weights.reshape(units, d).astype(np.float64).copy()
    X = np.asarray(X, dtype=np.float64)
    X32 = X.astype(np.float32)  # BMU search in float32 (ties aside, the same winners), sums in float64
    dist = link_distances(rows, cols, topology)
    eye = np.eye(units)
    cols_idx, ones = np.arange(len(X)), np.ones(len(X))
    for t in range(epochs):
        nd = 1.0 + (initial_neighborhood - 1.0) * (1.0 - t / cover_steps) if t < cover_steps else 1.0
        if neighborhood == "bubble":
            # the BMU counts twice (learnsomb); a bubble of a few links holds a few units per row: sparse products
            # (the same terms as the dense product, summed in another order: rounding-level differences; side 32:
            # about half the training time)
            H = csr_matrix((dist <= nd + 1e-9).astype(np.float64) + eye)
        else:
            H = np.exp(-(dist**2) / (2.0 * nd**2)) + eye
        W32 = W.astype(np.float32)
        bmu = np.argmin((W32**2).sum(1)[None, :] - 2.0 * (X32 @ W32.T), axis=1)
        member = csr_matrix((ones, (bmu, cols_idx)), shape=(units, len(X)))
        sums = np.asarray(member @ X)
        n = np.bincount(bmu, minlength=units).astype(np.float64)
        num, den = np.asarray(H @ sums), np.asarray(H @ n)
        hit = den > 0
        W[hit] = num[hit] / den[hit, None]
    return W.reshape(rows, cols, d)


def map_side(n_samples: int) -> int:
    """Side of a square map with about 5*sqrt(n) neurons: ceil(sqrt(5 sqrt(n))), at least 2."""
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    return max(2, math.ceil(math.sqrt(5.0 * math.sqrt(n_samples))))


def bmu_indices(codebook: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Flat index of each sample's best-matching unit. codebook (rows, cols, d), X (n, d) -> (n,)."""
    W = codebook.reshape(-1, codebook.shape[-1]).astype(np.float64)
    X = np.asarray(X, dtype=np.float64)
    d2 = (X**2).sum(1)[:, None] - 2.0 * X @ W.T + (W**2).sum(1)[None, :]
    return np.argmin(d2, axis=1)


def hit_counts(bmu: np.ndarray, y: np.ndarray, n_neurons: int, n_classes: int) -> np.ndarray:
    """Per-neuron class counts (n_neurons, n_classes) from BMUs (n,) and labels (n,)."""
    counts = np.zeros((n_neurons, n_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(bmu), np.asarray(y)), 1)
    return counts


def majority_labels(counts: np.ndarray, tie_rule: str = "lowest", seed: int = 0) -> np.ndarray:
    """Majority class per neuron (n_neurons,), -1 where the neuron has no hits.

    Ties: the smallest class index (``"lowest"``) or a seeded uniform choice among the tied classes (``"random"``).
    """
    if tie_rule not in TIE_RULES:
        raise ValueError(f"tie_rule must be one of {TIE_RULES}, got {tie_rule!r}")
    counts = np.asarray(counts)
    labels = np.argmax(counts, axis=1)  # argmax returns the first maximum: smallest class index
    if tie_rule == "random":
        rng = np.random.default_rng(seed)
        top = counts == counts.max(axis=1, keepdims=True)
        for k in np.flatnonzero(top.sum(axis=1) > 1):
            labels[k] = rng.choice(np.flatnonzero(top[k]))
    labels[counts.sum(axis=1) == 0] = -1
    return labels


def tied(counts: np.ndarray) -> np.ndarray:
    """(n_neurons,) bool: the neuron has hits and two or more classes share its largest count."""
    counts = np.asarray(counts)
    return (counts.sum(axis=1) > 0) & ((counts == counts.max(axis=1, keepdims=True)).sum(axis=1) > 1)


def fill_empty(
    labels: np.ndarray,
    shape: tuple[int, int],
    rule: str = "grid",
    codebook: np.ndarray | None = None,
    n_classes: int | None = None,
) -> np.ndarray:
    """Labels (rows*cols,) with every -1 replaced by the nearest labelled neuron's label (:mod:`lib.eye.som` rule 2).

    codebook (rows, cols, d) is needed for rule="codebook".
    """
    if rule not in EMPTY_RULES:
        raise ValueError(f"empty_rule must be one of {EMPTY_RULES}, got {rule!r}")
    labels = np.asarray(labels).copy()
    rows, cols = shape
    if labels.shape != (rows * cols,):
        raise ValueError(f"labels must have shape ({rows * cols},), got {labels.shape}")
    known = np.flatnonzero(labels >= 0)
    empty = np.flatnonzero(labels < 0)
    if known.size == 0:
        raise ValueError("no neuron has a label: nothing to fill from")
    if empty.size == 0:
        return labels
    if rule == "codebook":
        if codebook is None:
            raise ValueError("rule='codebook' needs the codebook")
        W = codebook.reshape(rows * cols, -1).astype(np.float64)
        d2 = ((W[empty][:, None, :] - W[known][None, :, :]) ** 2).sum(-1)
        labels[empty] = labels[known[np.argmin(d2, axis=1)]]
        return labels
    n_classes = int(n_classes if n_classes is not None else labels.max() + 1)
    grid = np.stack(np.divmod(np.arange(rows * cols), cols), axis=1).astype(np.float64)
    d2 = ((grid[empty][:, None, :] - grid[known][None, :, :]) ** 2).sum(-1)  # (n_empty, n_known)
    nearest = np.isclose(d2, d2.min(axis=1, keepdims=True))
    fill = np.empty(empty.size, dtype=labels.dtype)
    for i in range(empty.size):
        votes = np.bincount(labels[known[nearest[i]]], minlength=n_classes)
        fill[i] = int(np.argmax(votes))
    labels[empty] = fill
    return labels


def pca_codebook(X: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Initial codebook (rows, cols, d) on the plane of the first two principal components of X (n, d).

    Neuron (i, j) = mean + a_i sqrt(l1) v1 + b_j sqrt(l2) v2 with a, b evenly spaced in [-1, 1]
    (+-1 standard deviation along each component). Only the two leading eigenpairs are computed (of the
    smaller of the (d, d) scatter and the (n, n) Gram matrix of the centred data, ``scipy.linalg.eigh`` with
    an index subset: several times faster than a full SVD); each component's sign is fixed (largest-magnitude
    entry positive) so the result is deterministic.
    """
    from scipy.linalg import eigh

    X = np.asarray(X, dtype=np.float64)
    if X.shape[0] < 2 or X.shape[1] < 2:
        raise ValueError(f"PCA initialisation needs at least 2 samples and 2 features, got {X.shape}")
    mean = X.mean(axis=0)
    Xc = X - mean
    n, d = Xc.shape
    gram = n < d
    k = min(n, d)
    vals, vecs = eigh(Xc @ Xc.T if gram else Xc.T @ Xc, subset_by_index=[k - 2, k - 1])
    vals, vecs = np.maximum(vals[::-1], 0.0), vecs[:, ::-1]
    sv = np.sqrt(vals)
    vt = (Xc.T @ vecs / np.where(sv > 0, sv, 1.0)).T if gram else vecs.T
    comps = vt[:2] * np.sign(vt[:2, np.argmax(np.abs(vt[:2]), axis=1)].diagonal())[:, None]
    scale = sv[:2] / np.sqrt(max(len(X) - 1, 1))
    a = np.linspace(-1, 1, rows)[:, None, None] * scale[0] * comps[0]
    b = np.linspace(-1, 1, cols)[None, :, None] * scale[1] * comps[1]
    return mean + a + b
