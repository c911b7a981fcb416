"""Self-Organizing Map (MiniSom) as a classifier, with an explicit rule for empty neurons.

Shapes: X (n, d) features, y (n,) int labels in [0, n_classes), a map of ``rows x cols``
neurons whose codebook is (rows, cols, d); neuron k is grid cell (k // cols, k % cols).

Classifier rule (stated, tested):
1. Each neuron takes the majority label of the training samples whose best-matching unit (BMU)
   it is; a tie goes to the smallest class index (``tie_rule="lowest"``, which favours class 0) or to a
   seeded random choice among the tied classes (``tie_rule="random"``, fair).
2. A neuron no training sample hit takes the label of the nearest labelled neuron:
   ``empty_rule="grid"`` (default): nearest on the map grid (Euclidean grid distance); when several
   labelled neurons are equally near, the majority of their labels, ties to the smallest class index.
   ``empty_rule="codebook"``: the labelled neuron whose weight vector is nearest (Euclidean).
3. A sample is labelled with its BMU's label.

Map size: ``map_side(n)`` = ceil(sqrt(5 * sqrt(n))) per side (the 5*sqrt(N) neurons rule, square).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from minisom import MiniSom
from sklearn.preprocessing import StandardScaler

EMPTY_RULES = ("grid", "codebook")
TIE_RULES = ("lowest", "random")
INITS = ("pca", "random")


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
    """Labels (rows*cols,) with every -1 replaced by the nearest labelled neuron's label (module rule 2).

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
    (+-1 standard deviation along each component). Computed by a thin SVD of the centred data,
    O(n^2 d) rather than MiniSom's (d, d) covariance eigendecomposition; each component's sign
    is fixed (largest-magnitude entry positive) so the result is deterministic.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.shape[0] < 2 or X.shape[1] < 2:
        raise ValueError(f"PCA initialisation needs at least 2 samples and 2 features, got {X.shape}")
    mean = X.mean(axis=0)
    _, sv, vt = np.linalg.svd(X - mean, full_matrices=False)
    comps = vt[:2] * np.sign(vt[:2, np.argmax(np.abs(vt[:2]), axis=1)].diagonal())[:, None]
    scale = sv[:2] / np.sqrt(max(len(X) - 1, 1))
    a = np.linspace(-1, 1, rows)[:, None, None] * scale[0] * comps[0]
    b = np.linspace(-1, 1, cols)[None, :, None] * scale[1] * comps[1]
    return mean + a + b


@dataclass(frozen=True)
class SOMConfig:
    """params.yaml ``nb03.som`` (every value is ours: the paper gives no SOM setting).

    side: map side (0: ``map_side(n_train)``); epochs: passes over the training set (MiniSom iterations =
    epochs * n, random order, seeded); sigma: initial neighbourhood radius (0: side / 2); learning_rate: MiniSom's
    initial learning rate; neighborhood: MiniSom neighbourhood function; init: 'pca' (``pca_codebook``) or
    'random' (MiniSom's sample-based init); empty_rule: labelling of neurons without hits (module rule 2);
    tie_rule: labelling of neurons whose largest class counts tie (module rule 1).
    """

    side: int
    epochs: int
    sigma: float
    learning_rate: float
    neighborhood: str
    init: str
    empty_rule: str
    tie_rule: str

    def __post_init__(self):
        if self.tie_rule not in TIE_RULES:
            raise ValueError(f"tie_rule must be one of {TIE_RULES}, got {self.tie_rule!r}")
        if self.empty_rule not in EMPTY_RULES:
            raise ValueError(f"empty_rule must be one of {EMPTY_RULES}, got {self.empty_rule!r}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init!r}")


@dataclass
class SOMClassifier:
    """MiniSom on standardized features, used as a classifier (see the module rule)."""

    config: SOMConfig
    seed: int
    scaler_: StandardScaler | None = field(default=None, repr=False)
    som_: MiniSom | None = field(default=None, repr=False)
    counts_: np.ndarray | None = field(default=None, repr=False)
    labels_: np.ndarray | None = field(default=None, repr=False)
    n_classes_: int = 0

    # -- training
    def fit(self, X: np.ndarray, y: np.ndarray, n_classes: int | None = None) -> SOMClassifier:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.int64)
        self.n_classes_ = int(n_classes if n_classes is not None else y.max() + 1)
        self.scaler_ = StandardScaler().fit(X)
        Xs = self.scaler_.transform(X)
        c = self.config
        side = c.side or map_side(len(X))
        sigma = c.sigma or max(1.0, side / 2.0)
        self.som_ = MiniSom(
            side,
            side,
            Xs.shape[1],
            sigma=sigma,
            learning_rate=c.learning_rate,
            neighborhood_function=c.neighborhood,
            random_seed=self.seed,
        )
        if c.init == "pca":
            self.som_._weights = pca_codebook(Xs, side, side)  # MiniSom's own pca init is O(d^3)
        else:
            self.som_.random_weights_init(Xs)
        self.som_.train(Xs, c.epochs * len(Xs), random_order=True)
        self.counts_ = hit_counts(bmu_indices(self.codebook, Xs), y, side * side, self.n_classes_)
        self.labels_ = fill_empty(
            majority_labels(self.counts_, c.tie_rule, self.seed),
            (side, side),
            c.empty_rule,
            self.codebook,
            self.n_classes_,
        )
        return self

    # -- inference
    @property
    def codebook(self) -> np.ndarray:
        """Neuron weights (rows, cols, d) in the standardized feature space."""
        self._check_fitted()
        return self.som_.get_weights()

    @property
    def shape(self) -> tuple[int, int]:
        return self.codebook.shape[:2]

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Standardize X (n, d) with the training mean/std."""
        self._check_fitted()
        return self.scaler_.transform(np.asarray(X, dtype=np.float64))

    def bmu(self, X: np.ndarray) -> np.ndarray:
        """Flat BMU index (n,) of each sample."""
        return bmu_indices(self.codebook, self.transform(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Label (n,) of each sample's BMU."""
        return self.labels_[self.bmu(X)]

    def quantization_error(self, X: np.ndarray) -> float:
        """Mean distance from each (standardized) sample to its BMU's weight vector."""
        return float(self.som_.quantization_error(self.transform(X)))

    def topographic_error(self, X: np.ndarray) -> float:
        """Fraction of samples whose first and second BMUs are not adjacent on the grid."""
        return float(self.som_.topographic_error(self.transform(X)))

    def quality(self, X: np.ndarray) -> dict:
        """Map quality on X (n, d): side, quantization and topographic error, the share of neurons that are
        empty or tied on the training data, and the share of X whose BMU is empty or tied."""
        bmu = self.bmu(X)
        empty = self.counts_.sum(axis=1) == 0
        tie = tied(self.counts_)
        return {
            "side": self.shape[0],
            "quantization_error": self.quantization_error(X),
            "topographic_error": self.topographic_error(X),
            "empty_neuron_rate": float(empty.mean()),
            "tied_neuron_rate": float(tie.mean()),
            "samples_on_empty_rate": float(empty[bmu].mean()),
            "samples_on_tied_rate": float(tie[bmu].mean()),
        }

    def u_matrix(self) -> np.ndarray:
        """(rows, cols) mean distance of each neuron to its neighbours, normalised to max 1."""
        return self.som_.distance_map()

    def _check_fitted(self):
        if self.som_ is None:
            raise RuntimeError("SOMClassifier is not fitted: call fit(X, y) first")
