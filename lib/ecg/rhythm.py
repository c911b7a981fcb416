"""Notebook 01's rhythm study: the RR-irregularity floor and a network that sees time, DS1 -> DS2.

- Floor: a Random Forest on groups of RR-derived features (FLOOR_GROUPS: the 9 record-normalised RR features, the
  irregularity and the robust features of :mod:`lib.ecg.irregularity` over windows of beats), trained on every DS1
  beat (no cap), target non-sinus; which groups is chosen on DS1 (:func:`choose_floor`).
- Sequence model: a BiLSTM over consecutive beats of one record (``seq_len`` beats per chunk), per-beat inputs the
  standardised feature groups named by ``sequence["inputs"]`` (SEQ_INPUTS: RR, morphology, irregularity, robust),
  one 4-class rhythm output per beat (many-to-many);
  chunks overlap by half at prediction time and the per-beat outputs are averaged.
- Validation that holds the positive class: the number of epochs and the decision threshold on P(non-sinus) are
  chosen by an inner patient-grouped CV on DS1 (:func:`inner_folds`, stratified by rhythm); the out-of-fold
  predictions of all DS1 patients (both AF patients included) are pooled. DS2 never chooses anything; it is scored
  by the mean of the inner fold models at the chosen epoch (the models the threshold was chosen on).
- A threshold ``t`` chosen on DS1 is applied by the monotone map :func:`at_threshold` (t -> 0.5), so that the
  arg-max decision of the two-column output is the thresholded one and rankings (AUCs) are unchanged.
- Episodes: :mod:`lib.ecg.episodes` (EC57-style gross episode and duration sensitivity / positive predictivity;
  :func:`episode_scores`, :func:`episode_cis` and :func:`runs` are re-exported here).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import precision_recall_curve
from sklearn.model_selection import StratifiedGroupKFold

from lib.ecg.data import AAMI_CLASSES, RHYTHM_CLASSES, patients
from lib.ecg.episodes import episode_cis as episode_cis
from lib.ecg.episodes import episode_scores as episode_scores
from lib.ecg.episodes import runs as runs
from lib.ecg.features import MORPH_NAMES, RR_NAMES, SPEC_NAMES
from lib.ecg.irregularity import (
    IRREGULARITY,
    ROBUST,
    irregularity_features,
    irregularity_names,
    robust_features,
    robust_names,
)

FLOOR_GROUPS = ("rr", "irregularity", "robust")
SEQ_INPUTS = ("rr", "morphology", "irregularity", "robust")


def floor_features(data, *, windows, large: float, exclude_ectopic: bool) -> tuple[np.ndarray, list]:
    """(n, 9 + 7 * len(windows)) RR + irregularity + robust features and their names (groups: :func:`column_groups`).
    ``exclude_ectopic``: the reference beat annotation (AAMI S or V) marks the ectopic beats left out of the
    successive differences (an oracle)."""
    b = data.beats
    ect = np.isin(b.aami, [AAMI_CLASSES.index("S"), AAMI_CLASSES.index("V")]) if exclude_ectopic else None
    irr = irregularity_features(data.record, b.sample, b.fs, windows=windows, large=large, ectopic=ect)
    rob = robust_features(data.record, b.sample, b.fs, windows=windows, ectopic=ect)
    rr = np.asarray(data.F[:, : len(RR_NAMES)], dtype=np.float32)
    names = list(data.feature_names[: len(RR_NAMES)]) + irregularity_names(windows) + robust_names(windows)
    return np.hstack([rr, irr, rob]), names


def column_groups(names) -> np.ndarray:
    """The group (FLOOR_GROUPS) of every floor column, read from its name."""
    irr, rob = tuple(f"{f}_" for f in IRREGULARITY), tuple(f"{f}_" for f in ROBUST)
    return np.array(["irregularity" if n.startswith(irr) else "robust" if n.startswith(rob) else "rr" for n in names])


def select(names, groups) -> np.ndarray:
    """Column indices of the floor matrix that belong to ``groups``."""
    bad = sorted(set(groups) - set(FLOOR_GROUPS))
    if bad or not groups:
        raise ValueError(f"floor feature groups must be a non-empty subset of {FLOOR_GROUPS}, got {list(groups)}")
    return np.flatnonzero(np.isin(column_groups(names), list(groups)))


def sequence_features(data, floor: np.ndarray, names, inputs) -> np.ndarray:
    """Per-beat inputs of the sequence model: the groups of ``inputs`` (SEQ_INPUTS) as columns."""
    bad = sorted(set(inputs) - set(SEQ_INPUTS))
    if bad or not inputs:
        raise ValueError(f"seq inputs must be a non-empty subset of {SEQ_INPUTS}, got {list(inputs)}")
    n_rr, n_m = len(RR_NAMES), len(MORPH_NAMES) + len(SPEC_NAMES)
    groups = column_groups(names)
    cols = {"morphology": data.F[:, n_rr : n_rr + n_m]} | {g: floor[:, groups == g] for g in FLOOR_GROUPS}
    return np.hstack([np.asarray(cols[g], dtype=np.float32) for g in SEQ_INPUTS if g in inputs])


def inner_folds(record, y, idx, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """k patient-grouped folds of the beats ``idx`` stratified by ``y`` (global indices: (fit, held out)).
    Stratification is as close as the patients allow: a class held by fewer than k beats cannot reach every fold
    (scikit-learn's warning about it is silenced here; the folds stay patient-grouped)."""
    idx = np.asarray(idx)
    pat = patients(np.asarray(record)[idx])
    k = int(min(k, np.unique(pat).size))
    if k < 2:
        raise ValueError("inner CV needs at least 2 patients")
    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class in y has only", category=UserWarning)
        return [(idx[a], idx[b]) for a, b in cv.split(np.zeros(idx.size), np.asarray(y)[idx], groups=pat)]


def best_f1_threshold(positive, score) -> float:
    """The threshold on ``score`` that maximises F1 of ``positive`` (0.5 when there is no positive)."""
    positive = np.asarray(positive, dtype=bool)
    if not positive.any() or positive.all():
        return 0.5
    p, r, t = precision_recall_curve(positive, score)
    f = 2 * p[:-1] * r[:-1] / np.maximum(p[:-1] + r[:-1], 1e-12)
    return float(t[int(np.argmax(f))])


def at_threshold(score, t: float) -> np.ndarray:
    """(n, 2) [1 - s', s'] with s' the monotone piecewise-linear map of ``score`` that sends ``t`` to 0.5."""
    s = np.asarray(score, dtype=float)
    t = float(np.clip(t, 1e-6, 1 - 1e-6))
    s2 = np.where(s <= t, 0.5 * s / t, 0.5 + 0.5 * (s - t) / (1 - t))
    return np.stack([1 - s2, s2], axis=1)


# ------------------------------------------------------------------ floor
def _forest(trees: int, min_leaf: int, seed: int) -> RandomForestClassifier:
    return RandomForestClassifier(
        n_estimators=trees,
        min_samples_leaf=min_leaf,
        class_weight="balanced_subsample",
        random_state=seed,
        n_jobs=1,
    )


def fit_floor(
    Xf,
    y,
    train,
    test,
    *,
    trees: int,
    min_leaf: int,
    inner_k: int,
    record,
    seed: int,
    positive: int | None = None,
    fold_score: bool = False,
) -> dict:
    """The floor, DS1-chosen threshold: {'score': P(non-sinus) on ``test``, 'threshold', 'inner_ap' (pooled
    out-of-fold non-sinus PR-AUC of the inner CV on ``train``), 'fit_seconds'}. ``positive``: a class index whose
    beats are the positives instead (e.g. AF/flutter vs the rest); None: non-sinus (class != 0). ``score`` comes from
    a forest refitted on all of ``train`` (the threshold transferred to it); with ``fold_score`` also 'fold_score':
    the mean of the inner fold forests' scores on ``test``, the models the threshold was chosen on (the sequence
    model's protocol: lib.ecg.rhythm.fit_sequence scores DS2 with its inner fold models, no refit)."""
    t0 = time.perf_counter()
    pos = np.asarray(y) != 0 if positive is None else np.asarray(y) == positive
    oof = np.zeros(len(y))
    folds = []
    for a, b in inner_folds(record, y, train, inner_k, seed):
        m = _forest(trees, min_leaf, seed).fit(Xf[a], pos[a])
        oof[b] = m.predict_proba(Xf[b])[:, -1]
        if fold_score:
            folds.append(m.predict_proba(Xf[test])[:, -1])
    from sklearn.metrics import average_precision_score, roc_auc_score

    thr = best_f1_threshold(pos[train], oof[train])
    both = 0 < pos[train].sum() < train.size
    inner_ap = float(average_precision_score(pos[train], oof[train])) if both else None
    inner_auc = float(roc_auc_score(pos[train], oof[train])) if both else None
    score = _forest(trees, min_leaf, seed).fit(Xf[train], pos[train]).predict_proba(Xf[test])[:, -1]
    return {
        "score": score,
        "threshold": thr,
        "inner_ap": inner_ap,
        "inner_auc": inner_auc,
        "fit_seconds": time.perf_counter() - t0,
    } | ({"fold_score": np.mean(folds, axis=0)} if fold_score else {})


def choose_floor(X, names, y, train, test, *, feature_sets, record, seed: int, **floor_kw) -> tuple[list, dict, list]:
    """The floor's feature set chosen on DS1 alone: each of ``feature_sets`` (lists of FLOOR_GROUPS) is fitted with
    :func:`fit_floor` (inner patient-grouped CV on ``train``); the set with the highest pooled out-of-fold PR-AUC
    wins. Returns (chosen groups, its fit, one row per set: inner-CV PR-AUC / ROC-AUC and the fit)."""
    fits = []
    for groups in feature_sets:
        cols = select(names, groups)
        fits.append((list(groups), fit_floor(X[:, cols], y, train, test, record=record, seed=seed, **floor_kw)))
    best = int(np.argmax([f["inner_ap"] if f["inner_ap"] is not None else -1.0 for _, f in fits]))
    return fits[best][0], fits[best][1], fits


# ------------------------------------------------------------------ sequence model
def chunks(record, idx, length: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """(m, length) beat indices of chunks of consecutive beats of one record among ``idx`` (sorted) and a (m,
    length) mask (False = padding: a record shorter than ``length`` is padded with its last beat)."""
    idx = np.sort(np.asarray(idx))
    rec = np.asarray(record).astype(str)[idx]
    out, mask = [], []
    starts = np.flatnonzero(np.concatenate([[True], rec[1:] != rec[:-1]]))
    for s, e in zip(starts, np.concatenate([starts[1:], [idx.size]])):
        n = e - s
        if n <= length:
            pos = np.concatenate([np.arange(n), np.full(length - n, n - 1)])
            out.append(idx[s + pos])
            mask.append(np.arange(length) < n)
            continue
        firsts = list(range(0, n - length + 1, stride))
        if firsts[-1] != n - length:
            firsts.append(n - length)
        for f in firsts:
            out.append(idx[s + f : s + f + length])
            mask.append(np.ones(length, dtype=bool))
    return np.array(out), np.array(mask)


def build_sequence_model(n_in: int, n_classes: int, *, units: int, dense: int, dropout: float, lr: float, seed: int):
    import keras

    keras.utils.set_random_seed(int(seed))
    inp = keras.Input((None, n_in))
    x = keras.layers.Dense(dense, activation="relu")(inp)
    x = keras.layers.Bidirectional(keras.layers.LSTM(units, return_sequences=True))(x)
    x = keras.layers.Dropout(dropout, seed=int(seed))(x)
    out = keras.layers.Dense(n_classes, activation="softmax")(x)
    model = keras.Model(inp, out)
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy")
    return model


class SequenceRhythmModel:
    """BiLSTM over chunks of beats (see the module docstring); ``fit(Z, y, idx, epochs)``, ``predict(Z, idx)``."""

    def __init__(self, n_in, n_classes, record, *, seq_len, units, dense, dropout, lr, batch_size, seed):
        self.n_classes, self.record, self.seq_len, self.batch_size = n_classes, record, int(seq_len), int(batch_size)
        self.seed = int(seed)
        self.model = build_sequence_model(n_in, n_classes, units=units, dense=dense, dropout=dropout, lr=lr, seed=seed)
        self._epoch = 0

    def fit_epoch(self, Z, y, idx):
        """One shuffled pass over the training chunks (stride seq_len / 2), class-balanced per beat."""
        if not hasattr(self, "_train"):
            C, M = chunks(self.record, idx, self.seq_len, max(1, self.seq_len // 2))
            counts = np.bincount(np.asarray(y)[idx], minlength=self.n_classes).astype(float)
            w = np.where(counts > 0, counts.sum() / (self.n_classes * np.maximum(counts, 1)), 0.0)
            self._train = (Z[C], np.asarray(y)[C], (w[np.asarray(y)[C]] * M).astype("float32"))
        Xc, Yc, Wc = self._train
        order = np.random.default_rng(self.seed * 1000 + self._epoch).permutation(len(Xc))
        self._epoch += 1
        losses = []
        for s in range(0, len(order), self.batch_size):
            b = order[s : s + self.batch_size]
            losses.append(float(np.asarray(self.model.train_on_batch(Xc[b], Yc[b], sample_weight=Wc[b])).ravel()[0]))
        self.last_loss = float(np.mean(losses))  # mean weighted training loss of the epoch's batches
        return self

    def predict(self, Z, idx) -> np.ndarray:
        """(len(idx), n_classes) per-beat probabilities, averaged over the half-overlapping chunks."""
        idx = np.sort(np.asarray(idx))
        C, M = chunks(self.record, idx, self.seq_len, max(1, self.seq_len // 2))
        P = np.asarray(self.model.predict(Z[C], batch_size=256, verbose=0))
        acc = np.zeros((len(Z), self.n_classes))
        cnt = np.zeros(len(Z))
        np.add.at(acc, C[M], P[M])
        np.add.at(cnt, C[M], 1.0)
        return acc[idx] / np.maximum(cnt[idx], 1.0)[:, None]


def standardise(Z, train) -> np.ndarray:
    mu, sd = Z[train].mean(0), Z[train].std(0)
    return ((Z - mu) / np.where(sd > 0, sd, 1.0)).astype("float32")


def smoothed(ap, window: int) -> np.ndarray:
    """The centred moving mean of the per-epoch scores ``ap`` over ``window`` epochs (epoch e: epochs
    e - (window - 1) // 2 to e + window // 2), over the epochs that exist at the two ends (a shorter window there);
    ``window`` 1: the scores themselves."""
    if int(window) < 1:
        raise ValueError(f"sequence.smooth_epochs must be >= 1, got {window!r}")
    a = np.asarray(ap, dtype=float)
    lo, hi = (int(window) - 1) // 2, int(window) // 2
    return np.array([a[max(0, e - lo) : e + hi + 1].mean() for e in range(a.size)])


def fit_sequence(
    Z,
    y,
    train,
    test,
    *,
    record,
    n_classes: int,
    inner_k: int,
    max_epochs: int,
    patience: int,
    seed: int,
    smooth_epochs: int = 1,
    **kw,
) -> dict:
    """Epochs and threshold by inner patient-grouped CV on ``train``: the fold models train in lockstep, after every
    epoch the pooled out-of-fold non-sinus PR-AUC is measured; the epoch is chosen on its centred moving mean over
    ``smooth_epochs`` epochs (:func:`smoothed`; 1: the raw curve), so that one noisy epoch does not pick the model;
    training stops once the smoothed curve, where complete (an epoch's whole window seen), has gone ``patience``
    epochs past its best (or at ``max_epochs``); the chosen epoch's weights of every fold model and its F1-best
    threshold are kept. The model scored on ``test`` is the mean of those fold models (no refit), so the threshold
    is applied to the models it was chosen on. Returns {'proba' (test, 4 classes), 'score', 'threshold', 'epochs',
    'capped' (stopped by the cap, not by patience), 'inner_ap', 'inner_ap_smoothed' and 'inner_loss' (per epoch:
    PR-AUC, its moving mean, mean training loss of the fold models), 'af_score' (P(AF/flutter) on ``test``),
    'af_threshold' (F1-best on P(AF/flutter) of the inner CV's out-of-fold predictions at the chosen epoch:
    AF/flutter vs the rest), 'fit_seconds'}."""
    from sklearn.metrics import average_precision_score

    t0 = time.perf_counter()
    Z = standardise(Z, train)
    y = np.asarray(y)
    pos = y != 0
    folds = inner_folds(record, y, train, inner_k, seed)
    held = np.sort(np.concatenate([b for _, b in folds]))
    models = [SequenceRhythmModel(Z.shape[1], n_classes, record, seed=seed, **kw) for _ in folds]
    oof = np.zeros(len(y))
    oof_af = np.zeros(len(y))
    af = RHYTHM_CLASSES.index("af_flutter")
    ahead = int(smooth_epochs) // 2  # epochs after e in e's window: e's smoothed value is complete at e + ahead
    ap, loss, kept, capped = [], [], [], True
    for e in range(max_epochs):
        losses = []
        for m, (a, b) in zip(models, folds):
            m.fit_epoch(Z, y, a)
            losses.append(m.last_loss)
            pb = m.predict(Z, np.sort(b))
            oof[np.sort(b)] = 1.0 - pb[:, 0]
            oof_af[np.sort(b)] = pb[:, af]
        ap.append(float(average_precision_score(pos[held], oof[held])))
        loss.append(float(np.mean(losses)))
        kept.append((oof[held].copy(), oof_af[held].copy(), [m.model.get_weights() for m in models]))
        done = e - ahead  # the last epoch whose smoothed value is complete
        if done >= 0 and done - int(np.argmax(smoothed(ap, smooth_epochs)[: done + 1])) >= patience:
            capped = False
            break
    sm = smoothed(ap, smooth_epochs)
    best = int(np.argmax(sm[: len(ap) - ahead] if not capped and len(ap) > ahead else sm))
    best_oof, best_af, best_w = kept[best]
    thr = best_f1_threshold(pos[held], best_oof)
    for m, w in zip(models, best_w):
        m.model.set_weights(w)
    proba = np.mean([m.predict(Z, test) for m in models], axis=0)
    return {
        "proba": proba,
        "score": 1.0 - proba[:, 0],
        "threshold": thr,
        "epochs": best + 1,
        "capped": capped,
        "inner_ap": ap,
        "inner_ap_smoothed": [float(v) for v in sm],
        "inner_loss": loss,
        "af_score": proba[:, af],
        "af_threshold": best_f1_threshold(y[held] == af, best_af),
        "fit_seconds": time.perf_counter() - t0,
    }
