"""The paper's clustered-based neural network (CBNN): cluster assignment -> dense network (Keras).

Paper eq. 5: F_c(x) = argmin_i |x - c_i| (nearest of m centroids); eq. 6-8: dense layers over the
cluster assignment; eq. 9: squared-error loss, trained by back-propagation (gradient descent).
Algorithm 2 finds the centroids by k-means; Sec. 2.4 says the clusters are a SOM's neurons.

Here (shapes: X (n, d) standardized features, y (n,) int labels):
- ``clusters="som"``: the centroids are the codebook (rows*cols, d) of a trained SOM (passed in);
  ``clusters="kmeans"``: k-means with m centroids (seeded).
  ``clusters="none"``: no clustering (the ablation: the same network on the features alone).
- ``inputs="onehot"``: the literal eq. 6 input, the one-hot assignment F_c(x) (n, m);
  ``inputs="soft"``: soft assignments to all m units (an RBF layer), exp(-|x - c_i|^2 / (2 s^2)) normalised to
  sum 1 over i, with s = ``bandwidth_factor`` x the median distance of the training samples to their nearest unit
  (set at fit; the factor is tuned on inner folds); the m assignments are then standardized (mean 0, sd 1 per unit,
  from the training samples) so the network sees inputs of unit scale, not values of order 1/m;
  ``inputs="centroid"``: the winning centroid's weight vector c_F(x) (n, d) (eq. 5's text: "this centroid
  represents the features of the image");
  ``inputs="features+onehot"``: the feature vector concatenated with the one-hot assignment (n, d + m), reading
  Algorithm 2 step 3 ("integrate feature vectors into a neural network ... as input layers");
  ``inputs="features"``: the feature vector alone (n, d), with ``clusters="none"``.
- network: Dense(hidden, relu) x len(hidden) -> Dense(n_classes, softmax), Adam, loss "mse" on
  one-hot targets (paper eq. 9) or "crossentropy"; all epochs run as one Keras fit over a seeded,
  reshuffled tf.data stream (fast on CPU).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lib.eye.som_grid import map_side

CLUSTERS = ("som", "kmeans", "none")
INPUTS = ("onehot", "soft", "centroid", "features+onehot", "features")
LOSSES = ("mse", "crossentropy")


def one_hot(index: np.ndarray, m: int) -> np.ndarray:
    """(n,) ints in [0, m) -> (n, m) float32 one-hot."""
    out = np.zeros((len(index), m), dtype=np.float32)
    out[np.arange(len(index)), np.asarray(index)] = 1.0
    return out


def squared_distances(centroids: np.ndarray, X: np.ndarray) -> np.ndarray:
    """(n, m) squared Euclidean distances of X (n, d) to centroids (m, d), clipped at 0."""
    C = np.asarray(centroids, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    return np.maximum((X**2).sum(1)[:, None] - 2.0 * X @ C.T + (C**2).sum(1)[None, :], 0.0)


def soft_assignment(d2: np.ndarray, bandwidth: float) -> np.ndarray:
    """(n, m) float32 RBF soft assignment: exp(-d2 / (2 bandwidth^2)) normalised per row (stable: shifted by the
    row minimum)."""
    z = np.exp(-(d2 - d2.min(axis=1, keepdims=True)) / (2.0 * bandwidth**2))
    return (z / z.sum(axis=1, keepdims=True)).astype(np.float32)


def nearest_centroid(centroids: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Paper eq. 5, F_c(x) = argmin_i |x - c_i|. centroids (m, d), X (n, d) -> (n,)."""
    C = np.asarray(centroids, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    d2 = (X**2).sum(1)[:, None] - 2.0 * X @ C.T + (C**2).sum(1)[None, :]
    return np.argmin(d2, axis=1)


_NETWORKS: dict[tuple, tuple] = {}


def _compiled_network(
    n_in: int,
    hidden: tuple[int, ...],
    n_classes: int,
    loss: str,
    learning_rate: float,
    steps_per_execution: int,
    seed: int,
):
    """A compiled Keras network in its seeded initial state.

    Built (and its training graph traced) once per configuration, then reset to the same initial
    weights and a zeroed optimizer for every later fit: the same result as a fresh build, without
    paying model construction and tracing again for every fold (seconds each on a shared CPU).
    """
    import keras

    key = (n_in, hidden, n_classes, loss, learning_rate, steps_per_execution, seed)
    if key not in _NETWORKS:
        keras.utils.set_random_seed(seed)
        layers = [keras.Input((n_in,))]
        layers += [keras.layers.Dense(h, activation="relu") for h in hidden]
        layers += [keras.layers.Dense(n_classes, activation="softmax")]
        model = keras.Sequential(layers)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss="mean_squared_error" if loss == "mse" else "categorical_crossentropy",
            steps_per_execution=steps_per_execution,
        )
        _NETWORKS[key] = (model, [w.copy() for w in model.get_weights()])
        return model
    model, initial = _NETWORKS[key]
    model.set_weights(initial)
    for var in model.optimizer.variables:
        if "learning_rate" not in var.path:
            var.assign(np.zeros(var.shape, dtype=var.dtype))
    return model


@dataclass(frozen=True)
class CBNNConfig:
    """params.yaml ``nb03.cbnn`` (every value is ours: the paper gives no network size or training setting).

    hidden: ReLU layer widths; epochs, batch_size, learning_rate (Adam); loss: 'mse' (paper eq. 9) | 'crossentropy';
    check_factor: the learning check (loss curves) runs check_factor x epochs.
    """

    hidden: tuple[int, ...]
    epochs: int
    batch_size: int
    learning_rate: float
    loss: str
    check_factor: int = 4  # the learning check trains check_factor x epochs

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        object.__setattr__(self, "hidden", tuple(self.hidden))


@dataclass
class ClusterNetwork:
    """CBNN on already standardized features. Fit with ``fit(Xs, y, centroids=...)``.

    n_clusters: k-means only (None: as many as the 5*sqrt(n) rule's neurons).
    """

    config: CBNNConfig
    clusters: str
    inputs: str
    seed: int
    n_clusters: int | None = None
    centroids_: np.ndarray | None = field(default=None, repr=False)
    model_: object = field(default=None, repr=False)
    n_classes_: int = 0
    bandwidth_: float = 1.0
    bandwidth_factor: float = 1.0
    scale_: tuple | None = field(default=None, repr=False)

    def __post_init__(self):
        for name, value, allowed in (("clusters", self.clusters, CLUSTERS), ("inputs", self.inputs, INPUTS)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if (self.clusters == "none") != (self.inputs == "features"):
            raise ValueError("inputs='features' goes with clusters='none', and only with it")

    def design(self, Xs: np.ndarray) -> np.ndarray:
        """Network input for standardized X (n, d): (n, m), (n, d) or (n, d + m) float32."""
        if self.inputs == "features":
            return np.asarray(Xs, dtype=np.float32)
        if self.inputs == "soft":
            Z = soft_assignment(squared_distances(self.centroids_, Xs), self.bandwidth_)
            if self.scale_ is not None:
                Z = ((Z - self.scale_[0]) / self.scale_[1]).astype(np.float32)
            return Z
        winner = nearest_centroid(self.centroids_, Xs)
        if self.inputs == "centroid":
            return self.centroids_[winner].astype(np.float32)
        onehot = one_hot(winner, len(self.centroids_))
        if self.inputs == "onehot":
            return onehot
        return np.concatenate([np.asarray(Xs, dtype=np.float32), onehot], axis=1)

    def fit(
        self, Xs: np.ndarray, y: np.ndarray, centroids: np.ndarray | None = None, n_classes: int | None = None
    ) -> ClusterNetwork:
        """centroids (m, d): required for clusters='som' (the SOM codebook, flattened)."""
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")  # retracing notices (one per new input width) are not results

        y = np.asarray(y, dtype=np.int64)
        self.n_classes_ = int(n_classes if n_classes is not None else y.max() + 1)
        if self.clusters == "som":
            if centroids is None:
                raise ValueError("clusters='som' needs centroids (the SOM codebook, (m, d))")
            self.centroids_ = np.asarray(centroids, dtype=np.float64).reshape(-1, np.shape(Xs)[1])
        elif self.clusters == "kmeans":
            from sklearn.cluster import KMeans

            m = self.n_clusters or map_side(len(Xs)) ** 2
            km = KMeans(n_clusters=min(m, len(Xs)), n_init=3, random_state=self.seed).fit(Xs)
            self.centroids_ = km.cluster_centers_
        if self.inputs == "soft":
            d = float(np.sqrt(np.median(squared_distances(self.centroids_, Xs).min(axis=1)))) or 1.0
            self.bandwidth_ = self.bandwidth_factor * d
            self.scale_ = None
            Z = self.design(Xs)
            self.scale_ = (Z.mean(axis=0), Z.std(axis=0) + 1e-6)
        c = self.config
        Z = self.design(Xs)
        steps = -(-len(Z) // c.batch_size)
        model = _compiled_network(
            Z.shape[1], c.hidden, self.n_classes_, c.loss, c.learning_rate, min(200, steps * c.epochs), self.seed
        )
        ds = (
            tf.data.Dataset.from_tensor_slices((Z, one_hot(y, self.n_classes_)))
            .shuffle(len(Z), seed=self.seed, reshuffle_each_iteration=True)
            .batch(c.batch_size)
            .repeat(c.epochs)
        )
        model.fit(ds, epochs=1, steps_per_epoch=steps * c.epochs, verbose=0, shuffle=False)
        self.model_ = model
        return self

    def loss_curve(self, Xs, y, Xv, yv, epochs: int) -> dict:
        """The learning check: a fresh network of this configuration (design fitted by :meth:`fit` on Xs) trained
        ``epochs`` epochs on (Xs, y), with the loss of the training samples and of the held-out (Xv, yv) after every
        epoch. Returns {"epoch", "train_loss", "val_loss", "val_accuracy"} lists."""
        import tensorflow as tf

        c = self.config
        Z, Zv = self.design(Xs), self.design(Xv)
        Y, Yv = one_hot(np.asarray(y), self.n_classes_), one_hot(np.asarray(yv), self.n_classes_)
        steps = -(-len(Z) // c.batch_size)
        model = _compiled_network(Z.shape[1], c.hidden, self.n_classes_, c.loss, c.learning_rate, steps, self.seed)
        ds = (
            tf.data.Dataset.from_tensor_slices((Z, Y))
            .shuffle(len(Z), seed=self.seed, reshuffle_each_iteration=True)
            .batch(c.batch_size)
            .repeat(epochs)
        )
        out: dict = {"epoch": [], "train_loss": [], "val_loss": [], "val_accuracy": []}
        it = iter(ds)
        for e in range(1, epochs + 1):
            for _ in range(steps):
                model.train_on_batch(*next(it))
            out["epoch"].append(e)
            out["train_loss"].append(float(model.evaluate(Z, Y, verbose=0, batch_size=1024)))
            out["val_loss"].append(float(model.evaluate(Zv, Yv, verbose=0, batch_size=1024)))
            out["val_accuracy"].append(float((np.asarray(model(Zv, training=False)).argmax(1) == yv).mean()))
        return out

    def predict_proba(self, Xs: np.ndarray) -> np.ndarray:
        """Class probabilities (n, n_classes)."""
        if self.model_ is None:
            raise RuntimeError("ClusterNetwork is not fitted: call fit first")
        # a direct call: Keras' predict() would trace a new function for every fitted model
        return np.asarray(self.model_(self.design(Xs), training=False))

    def predict(self, Xs: np.ndarray) -> np.ndarray:
        return np.argmax(self.predict_proba(Xs), axis=1)
