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

Training (``SOMConfig.training``):
- ``"online"``: MiniSom's sequential rule (rectangular grid, ``epochs * n`` single-sample steps, MiniSom's
  asymptotic decay of the learning rate and radius);
- ``"batch"``: the batch rule of MATLAB's ``selforgmap`` (training function ``trainbu``, learning function
  ``learnsomb``): every epoch each unit becomes the weighted mean of the samples whose BMU lies within the current
  link distance ``nd`` of it on the grid (the BMU itself counted twice, its neighbours within ``nd`` once for
  ``neighborhood="bubble"``; ``"gaussian"``: weights exp(-d^2 / (2 nd^2)) plus the BMU's extra 1); ``nd`` shrinks
  linearly from ``sigma`` to 1 over ``cover_steps`` epochs, then stays 1. A unit no sample reaches keeps its weights.
  Deterministic given the initial codebook. The documented selforgmap defaults are an 8x8 ``hextop`` grid,
  ``linkdist`` distances, 100 cover steps and an initial neighbourhood of 3.

Grid geometry: unit k = (row k // cols, col k % cols) sits at (col, row) on a rectangular grid and at
(col + 0.5 * (row % 2), row * sqrt(3) / 2) on a hexagonal one (MATLAB's ``hextop``). Link distance = number of
steps between directly neighbouring units (4 on a rectangular grid, 6 on a hexagonal one). The topographic error and
U-matrix use the neighbours of a unit: the 8 surrounding cells on a rectangular grid (MiniSom's convention), the 6
adjacent cells on a hexagonal one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from minisom import MiniSom
from sklearn.preprocessing import StandardScaler

from lib.eye.som_grid import (
    BATCH_NEIGHBORHOODS,
    EMPTY_RULES,
    INITS,
    TIE_RULES,
    TOPOLOGIES,
    TRAININGS,
    batch_train,
    bmu_indices,
    fill_empty,
    grid_positions,
    hit_counts,
    majority_labels,
    map_side,
    neighbours,
    pca_codebook,
    tied,
)


@dataclass(frozen=True)
class SOMConfig:
    """params.yaml ``nb03.som`` (the paper gives no SOM setting: every value is ours or MATLAB's default).

    side: map side (0: ``map_side(n_train)``); topology: 'rectangular' | 'hexagonal' (batch training only);
    training: 'online' (MiniSom) | 'batch' (MATLAB's rule, module docstring); epochs: passes over the training set
    (online: MiniSom iterations = epochs * n, random order, seeded; batch: batch epochs); cover_steps: batch only,
    epochs over which the neighbourhood shrinks to 1; sigma: initial neighbourhood radius (online: Gaussian radius;
    batch: link distance; 0: side / 2); learning_rate: MiniSom's initial learning rate (online only);
    neighborhood: MiniSom neighbourhood function (online) | 'bubble' or 'gaussian' (batch); init: 'pca'
    (``pca_codebook``) or 'random' (sample-based, seeded); empty_rule: labelling of neurons without hits (module
    rule 2); tie_rule: labelling of neurons whose largest class counts tie (module rule 1).
    """

    side: int
    topology: str
    training: str
    epochs: int
    cover_steps: int
    sigma: float
    learning_rate: float
    neighborhood: str
    init: str
    empty_rule: str
    tie_rule: str

    def describe(self) -> str:
        """One line naming the SOM: size, topology, training and neighbourhood schedule."""
        size = f"{self.side}x{self.side}" if self.side else "ceil(sqrt(5 sqrt(N)))-per-side"
        sigma = f"{self.sigma:g}" if self.sigma else "side/2"
        if self.training == "batch":
            sched = f"{self.neighborhood} neighbourhood {sigma} -> 1 over {self.cover_steps} cover steps"
            return f"{size} {self.topology} batch SOM, {self.epochs} epochs, {sched}"
        return (
            f"{size} {self.topology} online SOM (MiniSom), {self.epochs} epochs, {self.neighborhood} "
            f"radius {sigma}, learning rate {self.learning_rate:g}"
        )

    def __post_init__(self):
        if self.topology not in TOPOLOGIES:
            raise ValueError(f"topology must be one of {TOPOLOGIES}, got {self.topology!r}")
        if self.training not in TRAININGS:
            raise ValueError(f"training must be one of {TRAININGS}, got {self.training!r}")
        if self.training == "online" and self.topology != "rectangular":
            raise ValueError("online (MiniSom) training runs on a rectangular grid here; use training='batch'")
        if self.training == "batch" and self.neighborhood not in BATCH_NEIGHBORHOODS:
            raise ValueError(f"batch neighborhood must be one of {BATCH_NEIGHBORHOODS}, got {self.neighborhood!r}")
        if self.training == "batch" and self.cover_steps < 1:
            raise ValueError(f"batch training needs cover_steps >= 1, got {self.cover_steps}")
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
    weights_: np.ndarray | None = field(default=None, repr=False)
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
        if c.init == "pca":
            init = pca_codebook(Xs, side, side)  # MiniSom's own pca init is O(d^3)
        else:
            pick = np.random.default_rng(self.seed).integers(0, len(Xs), size=side * side)
            init = Xs[pick].reshape(side, side, -1).copy()
        if c.training == "batch":
            self.weights_ = batch_train(Xs, init, c.topology, c.epochs, sigma, c.cover_steps, c.neighborhood)
        else:
            net = MiniSom(
                side,
                side,
                Xs.shape[1],
                sigma=sigma,
                learning_rate=c.learning_rate,
                neighborhood_function=c.neighborhood,
                random_seed=self.seed,
            )
            net._weights = init
            net.train(Xs, c.epochs * len(Xs), random_order=True)
            self.weights_ = net.get_weights()
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
        return self.weights_

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

    @property
    def topology(self) -> str:
        return self.config.topology

    def positions(self) -> np.ndarray:
        """(units, 2) grid coordinates of the units (for figures)."""
        return grid_positions(*self.shape, self.topology)

    def _distances(self, X: np.ndarray) -> np.ndarray:
        W = self.codebook.reshape(-1, self.codebook.shape[-1])
        Xs = self.transform(X)
        d2 = (Xs**2).sum(1)[:, None] - 2.0 * Xs @ W.T + (W**2).sum(1)[None, :]
        return np.sqrt(np.maximum(d2, 0.0))

    def quantization_error(self, X: np.ndarray) -> float:
        """Mean distance from each (standardized) sample to its BMU's weight vector."""
        return float(self._distances(X).min(axis=1).mean())

    def topographic_error(self, X: np.ndarray) -> float:
        """Fraction of samples whose first and second BMUs are not neighbours on the grid (module docstring)."""
        order = np.argsort(self._distances(X), axis=1)[:, :2]
        near = neighbours(*self.shape, self.topology)
        return float(1.0 - near[order[:, 0], order[:, 1]].mean())

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
        """(rows, cols) mean distance of each neuron to its grid neighbours, normalised to max 1."""
        W = self.codebook.reshape(-1, self.codebook.shape[-1])
        near = neighbours(*self.shape, self.topology)
        sq = (W**2).sum(1)
        dist = np.sqrt(np.maximum(sq[:, None] - 2.0 * W @ W.T + sq[None, :], 0.0))
        umat = (dist * near).sum(axis=1) / near.sum(axis=1)
        return (umat / umat.max()).reshape(self.shape)

    def _check_fitted(self):
        if self.weights_ is None:
            raise RuntimeError("SOMClassifier is not fitted: call fit(X, y) first")
