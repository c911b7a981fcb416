"""ECG classifiers for notebook 01: Keras 3 CNN-BiLSTM (ODAL backbone), baselines and a Random Forest.

Inputs (plain arrays, no file I/O):
- windows ``X``: ``(n, L)`` or ``(n, L, 1)`` = one beat window per sample, or ``(n, k, L)`` /
  ``(n, k, L, 1)`` = a run of k consecutive beat windows (rhythm context). The model input keeps
  the array's shape; it is reshaped inside the model.
- hand-crafted features ``F``: ``(n, f)`` float32 (``f`` may be 0: pass ``None``).
- labels ``y``: ``(n,)`` int in ``[0, n_classes)``.

Architectures (all share the head: ``concat(signal_branch, Dense(features)) -> Dropout -> softmax``):
- ``cnn_bilstm``: Conv1D blocks (Conv -> BatchNorm -> ReLU -> MaxPool) -> Bidirectional LSTM.
- ``cnn``: the same Conv1D blocks -> global average pooling.
- ``lstm``: average-pool the raw signal by ``downsample`` (CPU speed) -> LSTM.
- ``cnn_lstm``: Conv1D blocks -> (unidirectional) LSTM.
For a k-beat input the per-beat encoder (conv blocks + global pooling, or the downsampled beat for
``lstm``) runs on each beat (TimeDistributed) and the recurrent layer runs across the k beats
(``cnn``: average over beats).

``KerasECGClassifier`` is the uniform fit/predict_proba wrapper. The head's dropout is a
``VariableDropout`` layer whose rate is a non-trainable Keras variable: ``set_dropout`` assigns it in
place (weights, optimizer state and the compiled train step are kept; Keras' own ``Dropout`` traces
its Python ``rate`` into the compiled step, so changing ``layer.rate`` there would be silently
ignored). ``set_learning_rate`` assigns the optimizer's learning-rate variable in place.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import keras
import numpy as np
from sklearn.ensemble import RandomForestClassifier


class _DropRetracingNotice(logging.Filter):
    """TensorFlow warns when several freshly built models each trace their predict function ("... triggered
    tf.function retracing"): expected here (studies build one model per seed/fold), so that notice is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


logging.getLogger("tensorflow").addFilter(_DropRetracingNotice())

KERAS_KINDS = ("cnn_bilstm", "cnn", "lstm", "cnn_lstm")
MONITORS = ("val_loss", "val_macro_f1", "val_nonsinus_ap")
MODEL_KINDS = KERAS_KINDS + ("random_forest",)


def signal_layout(window_shape) -> tuple[int, int]:
    """(k beats, L samples) of a window shape: (L,), (L, 1) -> (1, L); (k, L), (k, L, 1) -> (k, L)."""
    s = tuple(int(v) for v in window_shape)
    if len(s) == 1 or (len(s) == 2 and s[1] == 1):
        return 1, s[0]
    if len(s) == 2 or (len(s) == 3 and s[2] == 1):
        return s[0], s[1]
    raise ValueError(f"window_shape must be (L,), (L, 1), (k, L) or (k, L, 1); got {window_shape}")


@keras.saving.register_keras_serializable(package="ecg_models")
class VariableDropout(keras.layers.Layer):
    """Inverted dropout whose rate is a non-trainable variable (changeable without retracing)."""

    def __init__(self, rate: float, seed: int | None = None, **kw):
        super().__init__(**kw)
        self.initial_rate, self.seed = float(rate), seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.rate = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(self.initial_rate), trainable=False, name="rate"
        )

    def call(self, inputs, training=False):
        if not training:
            return inputs
        keep = 1.0 - keras.ops.cast(self.rate, inputs.dtype)
        mask = keras.random.uniform(keras.ops.shape(inputs), seed=self.seed_generator) < keep
        return keras.ops.where(mask, inputs / keep, keras.ops.zeros_like(inputs))

    def get_config(self):
        return {**super().get_config(), "rate": self.initial_rate, "seed": self.seed}


def _conv_encoder(x, filters, kernel_size, pool, name):
    """(…, L, 1) -> (…, L / pool**len(filters), filters[-1]) via Conv-BN-ReLU-MaxPool blocks."""
    for i, nf in enumerate(filters):
        x = keras.layers.Conv1D(nf, kernel_size, padding="same", use_bias=False, name=f"{name}_conv{i}")(x)
        x = keras.layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        x = keras.layers.Activation("relu", name=f"{name}_relu{i}")(x)
        x = keras.layers.MaxPooling1D(pool, name=f"{name}_pool{i}")(x)
    return x


def _beat_encoder(length, kind, filters, kernel_size, pool, downsample):
    """Sub-model for one beat (L, 1) -> vector (used TimeDistributed over k beats)."""
    inp = keras.Input((length, 1))
    if kind == "lstm":
        out = keras.layers.Flatten()(keras.layers.AveragePooling1D(downsample)(inp))
    else:
        out = keras.layers.GlobalAveragePooling1D()(_conv_encoder(inp, filters, kernel_size, pool, "beat"))
    return keras.Model(inp, out, name="beat_encoder")


def build_keras_model(
    kind: str,
    window_shape,
    n_features: int,
    n_classes: int,
    *,
    dropout: float = 0.3,
    lr: float = 5e-3,
    filters=(8, 16, 32),
    kernel_size: int = 5,
    pool: int = 2,
    lstm_units: int = 32,
    feature_units: int = 16,
    downsample: int = 4,
    seed: int = 0,
) -> keras.Model:
    """Build and compile one of KERAS_KINDS; inputs ``[window, features]`` (or ``window`` if n_features=0).

    Output: softmax ``(n, n_classes)``; loss sparse categorical cross-entropy, Adam(lr).
    ``seed`` seeds every initializer and the dropout mask (same seed -> same initial weights).
    """
    if kind not in KERAS_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; allowed: {KERAS_KINDS}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes}")
    k, length = signal_layout(window_shape)
    keras.utils.set_random_seed(int(seed))
    win_in = keras.Input(tuple(int(v) for v in window_shape), name="window")
    recurrent = {
        "cnn_bilstm": lambda: keras.layers.Bidirectional(keras.layers.LSTM(lstm_units), name="bilstm"),
        "cnn_lstm": lambda: keras.layers.LSTM(lstm_units, name="lstm"),
        "lstm": lambda: keras.layers.LSTM(lstm_units, name="lstm"),
    }
    if k == 1:
        x = keras.layers.Reshape((length, 1), name="as_signal")(win_in)
        if kind == "lstm":
            x = recurrent[kind]()(keras.layers.AveragePooling1D(downsample, name="downsample")(x))
        else:
            x = _conv_encoder(x, filters, kernel_size, pool, "sig")
            x = keras.layers.GlobalAveragePooling1D(name="gap")(x) if kind == "cnn" else recurrent[kind]()(x)
    else:
        x = keras.layers.Reshape((k, length, 1), name="as_beats")(win_in)
        enc = _beat_encoder(length, kind, filters, kernel_size, pool, downsample)
        x = keras.layers.TimeDistributed(enc, name="per_beat")(x)
        x = keras.layers.GlobalAveragePooling1D(name="gap")(x) if kind == "cnn" else recurrent[kind]()(x)
    inputs = [win_in]
    if n_features > 0:
        feat_in = keras.Input((int(n_features),), name="features")
        inputs.append(feat_in)
        f = keras.layers.Dense(feature_units, activation="relu", name="feat_dense")(feat_in)
        x = keras.layers.Concatenate(name="fuse")([x, f])
    x = VariableDropout(dropout, seed=int(seed), name="dropout")(x)
    out = keras.layers.Dense(n_classes, activation="softmax", name="softmax")(x)
    model = keras.Model(inputs if len(inputs) > 1 else win_in, out, name=kind)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr), loss="sparse_categorical_crossentropy", jit_compile=False
    )
    return model


def balanced_sample_weights(y, n_classes: int) -> np.ndarray:
    """(n,) weights n / (n_present * count[y]) (sklearn 'balanced' over the classes present)."""
    y = np.asarray(y, dtype=int)
    counts = np.bincount(y, minlength=n_classes).astype(float)
    present = int((counts > 0).sum())
    return (len(y) / (present * counts[y])).astype("float32")


def macro_f1(y, pred, n_classes: int) -> float:
    """Unweighted mean of the per-class F1 over the classes present in ``y`` or ``pred``."""
    from sklearn.metrics import f1_score

    return float(f1_score(y, pred, labels=np.union1d(np.unique(y), np.unique(pred)), average="macro", zero_division=0))


def nonsinus_ap(y, proba) -> float:
    """Average precision of P(non-sinus) = 1 - P(class 0) for class != 0 (NaN when one side is absent)."""
    from sklearn.metrics import average_precision_score

    pos = np.asarray(y) != 0
    if pos.all() or not pos.any():
        return float("nan")
    return float(average_precision_score(pos, 1.0 - np.asarray(proba)[:, 0]))


def class_weights(y, n_classes: int) -> np.ndarray:
    """(n_classes,) the 'balanced' weight of each class in ``y`` (n / (n_present * count)); 1 for absent classes."""
    counts = np.bincount(np.asarray(y, dtype=int), minlength=n_classes).astype(float)
    present = int((counts > 0).sum())
    return np.where(counts > 0, len(y) / (present * np.maximum(counts, 1)), 1.0)


def _rows(inputs: list[np.ndarray], idx):
    """The model input for rows ``idx`` of each input array (a bare array for a single-input model)."""
    rows = [a[idx] for a in inputs]
    return rows if len(rows) > 1 else rows[0]


def _check_fit_inputs(X, F, y, n_classes):
    if len(X) != len(y) or (F is not None and len(F) != len(y)):
        raise ValueError(f"X, F, y lengths differ: {len(X)}, {None if F is None else len(F)}, {len(y)}")
    y = np.asarray(y)
    if y.ndim != 1 or (len(y) and (y.min() < 0 or y.max() >= n_classes)):
        raise ValueError(f"y must be 1-d ints in [0, {n_classes})")


@dataclass
class KerasECGClassifier:
    """Uniform wrapper: ``fit(X, F, y, X_val, F_val, y_val)``, ``predict_proba(X, F) -> (n, n_classes)``.

    Features are standardised with mean/std frozen at the first ``fit`` (or ``set_feature_scaler``).
    Early stopping on validation loss (best weights restored) when validation data is given.
    Every ``fit`` call shuffles with a generator seeded by ``seed + number of previous fits``; the
    dropout masks continue the model's seeded stream (same seed and call sequence -> same masks).
    ``class_weight``: None or "balanced" (sample weights over the classes present).
    """

    kind: str
    window_shape: tuple
    n_features: int
    n_classes: int
    dropout: float = 0.3
    lr: float = 5e-3
    epochs: int = 20
    batch_size: int = 64
    patience: int = 3
    class_weight: str | None = None
    monitor: str = "val_loss"  # early stopping on: val_loss (class-weighted) | val_macro_f1 | val_nonsinus_ap
    seed: int = 0
    arch: dict = field(default_factory=dict)
    tunable = True  # the fuzzy controller may call set_learning_rate / set_dropout

    def __post_init__(self):
        if self.kind not in KERAS_KINDS:
            raise ValueError(f"unknown model kind {self.kind!r}; allowed: {KERAS_KINDS}")
        if self.monitor not in MONITORS:
            raise ValueError(f"monitor must be one of {MONITORS}, got {self.monitor!r}")
        if self.class_weight not in (None, "balanced"):
            raise ValueError(f"class_weight must be one of (None, 'balanced'), got {self.class_weight!r}")
        self.window_shape = tuple(int(v) for v in self.window_shape)
        self._n_fits = 0
        self._f_mean = self._f_std = None
        self.history_: list[dict] = []
        self._init = (float(self.lr), float(self.dropout))
        self.model = build_keras_model(
            self.kind,
            self.window_shape,
            self.n_features,
            self.n_classes,
            dropout=self.dropout,
            lr=self.lr,
            seed=self.seed,
            **self.arch,
        )
        self._snapshot()

    def _snapshot(self) -> None:
        """Remember every variable of the freshly initialised model (for :meth:`reset_weights`)."""
        self._initial = [v.numpy() for v in self.model.variables]

    def reset_weights(self) -> KerasECGClassifier:
        """Back to this seed's initial weights (optimizer state zeroed), keeping the feature scaler, lr and dropout.

        Active learning retrains from these weights every round (no warm start), as baal's ``reset_weights``.
        """
        for v, w in zip(self.model.variables, self._initial, strict=True):
            v.assign(w)
        for v in self.model.optimizer.variables:
            v.assign(keras.ops.zeros(v.shape, v.dtype))
        self.set_learning_rate(self.lr)
        self.set_dropout(self.dropout)
        return self

    def mc_dropout_proba(self, X, F=None, n_samples: int = 20, seed: int = 0) -> np.ndarray:
        """``(n_samples, n, n_classes)`` softmax outputs with the head's dropout active (MC dropout).

        The head's ``VariableDropout`` is the model's only dropout and sits right before the output layer, so
        each sample draws an inverted-dropout mask (rate = the current dropout) on the penultimate activations
        ``h: (n, d)`` (computed once, BatchNorm in inference mode) and applies the softmax layer:
        ``softmax((m * h / keep) W + b)``. Equal to ``n_samples`` stochastic forward passes of the network.
        """
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        if getattr(self, "_penultimate", None) is None:
            self._penultimate = keras.Model(self.model.inputs, self.model.get_layer("dropout").input)
        inputs = self._inputs(X, F)
        h = self._predict_inputs(inputs, model=self._penultimate)
        W, b = (np.asarray(w, dtype="float64") for w in self.model.get_layer("softmax").get_weights())
        keep = 1.0 - self.dropout
        rng = np.random.default_rng(seed)
        out = np.empty((n_samples, len(h), self.n_classes))
        for t in range(n_samples):
            z = (h * (rng.random(h.shape) < keep) / keep) @ W + b
            z = np.exp(z - z.max(1, keepdims=True))
            out[t] = z / z.sum(1, keepdims=True)
        return out

    def set_feature_scaler(self, F) -> None:
        """Freeze feature standardisation to the mean/std of ``F: (n, f)`` (e.g. the unlabelled pool)."""
        F = np.asarray(F, dtype="float64")
        self._f_mean, self._f_std = F.mean(0), np.where(F.std(0) > 1e-12, F.std(0), 1.0)

    def _inputs(self, X, F) -> list[np.ndarray]:
        """The model's input arrays: ``[window]`` or ``[window, standardised features]``."""
        X = np.asarray(X, dtype="float32").reshape((len(X),) + self.window_shape)
        if self.n_features == 0:
            return [X]
        if F is None or np.shape(F)[1] != self.n_features:
            raise ValueError(f"F must have shape (n, {self.n_features})")
        if self._f_mean is None:
            self.set_feature_scaler(F)
        return [X, ((np.asarray(F, dtype="float64") - self._f_mean) / self._f_std).astype("float32")]

    def fit(self, X, F, y, X_val=None, F_val=None, y_val=None, epochs: int | None = None):
        """Train (continuing from the current weights) on ``X: (n, *window_shape)``, ``F: (n, f)``, ``y: (n,)``.

        Mini-batch Adam through Keras' compiled train step (``train_on_batch``), one shuffled pass per
        epoch (permutation from ``numpy.random.default_rng(seed + number of previous fits)``). With
        validation data: the validation loss (mean cross-entropy of the softmax outputs, clipped at
        1e-7; with ``class_weight="balanced"`` each validation beat weighted by its class's training weight, so
        that stopping follows the objective being trained) and the macro-F1 after every epoch, early stopping
        after ``patience`` epochs without improvement of ``monitor``, and the best epoch's weights restored at
        the end, as ``keras.callbacks.EarlyStopping(restore_best_weights=True)`` does. ``history_`` gets
        ``loss`` (sample-weighted epoch mean over batches, as in ``Model.fit``) and ``val_loss``/``val_accuracy``/
        ``val_macro_f1``.
        Same numbers as ``Model.fit`` up to the shuffle order, without its per-call tf.data and callback
        set-up, which cost ~1 s per call and dominated the small active-learning fits.
        """
        _check_fit_inputs(X, F, y, self.n_classes)
        # Shuffles from a per-fit numpy generator. Dropout masks come from the model's own seeded
        # SeedGenerator (a variable, copied by ``reinitialize``), so no global re-seeding here:
        # ``tf.random.set_seed`` makes TensorFlow re-instantiate every compiled function on its next
        # call (~0.4 s each on CPU), which used to dominate the small active-learning fits.
        rng = np.random.default_rng(self.seed + self._n_fits)
        self._n_fits += 1
        n = len(y)
        y = np.asarray(y, dtype="int32")
        sw = balanced_sample_weights(y, self.n_classes) if self.class_weight == "balanced" else None
        inputs = self._inputs(X, F)
        has_val = y_val is not None
        if has_val:
            val_inputs, y_val = self._inputs(X_val, F_val), np.asarray(y_val, dtype="int64")
            # early stopping on the objective that is trained: the training labels' class weights, applied to
            # the validation beats (a class absent from training gets weight 1)
            val_w = class_weights(y, self.n_classes)[y_val] if self.class_weight == "balanced" else None
        hist = {"loss": []} | (
            {"val_loss": [], "val_accuracy": [], "val_macro_f1": [], "val_nonsinus_ap": []} if has_val else {}
        )
        best, best_weights, wait = -np.inf, None, 0
        for _ in range(epochs or self.epochs):
            order, total = rng.permutation(n), 0.0
            for start in range(0, n, self.batch_size):
                idx = order[start : start + self.batch_size]
                loss = self.model.train_on_batch(
                    _rows(inputs, idx), y[idx], sample_weight=None if sw is None else sw[idx]
                )
                total += float(np.ravel(loss)[0]) * len(idx)
            hist["loss"].append(total / max(n, 1))
            if not has_val:
                continue
            p = self._predict_inputs(val_inputs)
            nll = -np.log(np.clip(p[np.arange(len(y_val)), y_val], 1e-7, 1.0))
            val_loss = float(np.average(nll, weights=val_w))
            hist["val_loss"].append(val_loss)
            hist["val_accuracy"].append(float((p.argmax(1) == y_val).mean()))
            hist["val_macro_f1"].append(macro_f1(y_val, p.argmax(1), self.n_classes))
            hist["val_nonsinus_ap"].append(nonsinus_ap(y_val, p))
            score = -val_loss if self.monitor == "val_loss" else hist[self.monitor][-1]  # higher is better
            if best_weights is None or score > best:
                best, best_weights, wait = score, self.model.get_weights(), 0
            else:
                wait += 1
                if wait >= self.patience:
                    break
        if best_weights is not None:
            self.model.set_weights(best_weights)
        self.history_.append(hist)
        return self

    def _predict_inputs(self, inputs, chunk: int = 1024, model=None) -> np.ndarray:
        """Outputs ``(n, ...)`` float64 of ``model`` (default: the softmax model) for model-ready inputs, in
        inference mode, in chunks of ``chunk`` rows; a shorter last chunk is zero-padded to a power of two (>= 32)
        and the padding dropped, so only a few input shapes are ever traced (no tf.function retracing)."""
        model = model or self.model
        n, out = len(inputs[0]), []
        for start in range(0, n, chunk):
            rows = _rows(inputs, slice(start, start + chunk))
            rows = rows if isinstance(rows, list) else [rows]
            m = len(rows[0])
            size = chunk if m == chunk else max(32, 1 << (m - 1).bit_length())
            padded = [np.concatenate([a, np.zeros((size - m,) + a.shape[1:], a.dtype)]) for a in rows]
            pred = model.predict_on_batch(padded if len(padded) > 1 else padded[0])
            out.append(np.asarray(pred, dtype="float64")[:m])
        return np.concatenate(out) if out else np.zeros((0, self.n_classes))

    def predict_proba(self, X, F=None) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` float64."""
        if len(X) == 0:
            return np.zeros((0, self.n_classes))
        return self._predict_inputs(self._inputs(X, F))

    def predict(self, X, F=None) -> np.ndarray:
        """Arg-max class ``(n,)``."""
        return self.predict_proba(X, F).argmax(1)

    def reinitialize(self, seed: int) -> KerasECGClassifier:
        """Reset to the exact state of a fresh ``seed`` model, keeping the compiled/traced functions.

        Copies every variable (weights, BN statistics, dropout rate, RNG seed-generator states) of a
        newly built model, zeroes the optimizer state and restores the initial lr/dropout and the
        feature scaler. Saves the tf.function tracing (seconds per model on CPU) across AL runs.
        """
        fresh = build_keras_model(
            self.kind,
            self.window_shape,
            self.n_features,
            self.n_classes,
            dropout=self._init[1],
            lr=self._init[0],
            seed=seed,
            **self.arch,
        )
        for v, w in zip(self.model.variables, fresh.variables, strict=True):
            v.assign(w)
        for v in self.model.optimizer.variables:
            v.assign(keras.ops.zeros(v.shape, v.dtype))
        self._snapshot()
        self.seed, self._n_fits, self._f_mean, self._f_std, self.history_ = int(seed), 0, None, None, []
        self.set_learning_rate(self._init[0])
        self.set_dropout(self._init[1])
        return self

    def set_learning_rate(self, lr: float) -> None:
        """Set the optimizer's learning rate in place (takes effect at the next fit)."""
        if not lr > 0:
            raise ValueError(f"learning rate must be > 0, got {lr}")
        self.lr = float(lr)
        self.model.optimizer.learning_rate.assign(self.lr)

    def set_dropout(self, rate: float) -> None:
        """Assign the head's dropout rate in place (takes effect at the next fit; nothing rebuilt)."""
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {rate}")
        self.dropout = float(rate)
        self.model.get_layer("dropout").rate.assign(self.dropout)


def window_summary(X, n_bins: int = 16) -> np.ndarray:
    """Flattened-window summary ``(n, n_bins + 8)``: bin means of the flattened window + statistics.

    Statistics: mean, std, min, max, argmax/len, argmin/len, mean |diff|, max |diff|.
    """
    X = np.asarray(X, dtype="float64").reshape(len(X), -1)
    n, m = X.shape
    edges = np.linspace(0, m, n_bins + 1).astype(int)
    bins = np.stack([X[:, a:b].mean(1) for a, b in zip(edges[:-1], edges[1:])], axis=1)
    d = np.abs(np.diff(X, axis=1)) if m > 1 else np.zeros((n, 1))
    stats = np.stack(
        [X.mean(1), X.std(1), X.min(1), X.max(1), X.argmax(1) / m, X.argmin(1) / m, d.mean(1), d.max(1)], axis=1
    )
    return np.concatenate([bins, stats], axis=1)


@dataclass
class RandomForestECGClassifier:
    """Random Forest on ``[window_summary(X), F]`` (or ``F`` alone: ``use_window=False``), same interface.

    Validation data is accepted and ignored (no early stopping); not tunable by the controller.
    """

    n_classes: int
    n_estimators: int = 200
    max_depth: int | None = None
    class_weight: str | None = None
    seed: int = 0
    n_jobs: int = 2
    n_bins: int = 16
    use_window: bool = True
    tunable = False

    def __post_init__(self):
        if self.class_weight not in (None, "balanced"):
            raise ValueError(f"class_weight must be one of (None, 'balanced'), got {self.class_weight!r}")
        self.model = RandomForestClassifier(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            class_weight=self.class_weight,
            random_state=self.seed,
            n_jobs=self.n_jobs,
        )

    def design(self, X, F):
        if not self.use_window:  # features only (e.g. the RR-interval floor)
            return np.asarray(F, dtype="float64")
        S = window_summary(X, self.n_bins)
        return S if F is None else np.concatenate([S, np.asarray(F, dtype="float64")], axis=1)

    def fit(self, X, F, y, X_val=None, F_val=None, y_val=None, epochs=None):
        """Fit on ``X: (n, ...)``, ``F: (n, f) | None``, ``y: (n,)`` (validation args ignored)."""
        _check_fit_inputs(X, F, y, self.n_classes)
        self.model.fit(self.design(X, F), np.asarray(y, dtype=int))
        return self

    def predict_proba(self, X, F=None) -> np.ndarray:
        """``(n, n_classes)``; classes unseen in training get probability 0."""
        out = np.zeros((len(X), self.n_classes))
        if len(X):
            out[:, self.model.classes_] = self.model.predict_proba(self.design(X, F))
        return out

    def predict(self, X, F=None) -> np.ndarray:
        """Arg-max class ``(n,)``."""
        return self.predict_proba(X, F).argmax(1)


def build_random_forest(n_classes: int, **kw) -> RandomForestECGClassifier:
    """Random Forest factory (see RandomForestECGClassifier for options)."""
    return RandomForestECGClassifier(n_classes=n_classes, **kw)


class ClassifierFactory:
    """``factory(seed) -> classifier`` for the AL loop (``last``: the classifier returned last).

    ``reuse=True`` re-initialises one Keras model per call (``reinitialize``: identical to a fresh
    build, without re-tracing) instead of building a new one; the previously returned classifier is
    then reset, so use one at a time. ``kw`` go to ``make_classifier``.
    """

    def __init__(self, kind: str, window_shape, n_features: int, n_classes: int, *, reuse: bool = True, **kw):
        self.kind, self.window_shape, self.n_features, self.n_classes = kind, tuple(window_shape), n_features, n_classes
        self.reuse, self.kw, self.last = reuse and kind != "random_forest", kw, None

    def __call__(self, seed: int):
        if self.reuse and self.last is not None:
            return self.last.reinitialize(int(seed))
        self.last = make_classifier(
            self.kind, self.window_shape, self.n_features, self.n_classes, seed=int(seed), **self.kw
        )
        return self.last


def make_classifier(kind: str, window_shape, n_features: int, n_classes: int, *, seed: int = 0, **kw):
    """One factory for every MODEL_KINDS entry; ``kw`` go to the wrapper (Keras: dropout, lr, epochs, ...)."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; allowed: {MODEL_KINDS}")
    if kind == "random_forest":
        return build_random_forest(n_classes, seed=seed, **kw)
    return KerasECGClassifier(kind, tuple(window_shape), n_features, n_classes, seed=seed, **kw)
