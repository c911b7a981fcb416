import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from lib.ecg.active_learning import ALConfig, Annotator, run_active_learning
from lib.ecg.models import (
    KERAS_KINDS,
    ClassifierFactory,
    balanced_sample_weights,
    build_random_forest,
    class_weights,
    macro_f1,
    make_classifier,
    signal_layout,
    window_summary,
)

TINY = {"filters": (4, 8), "kernel_size": 3, "lstm_units": 8, "feature_units": 4, "downsample": 2}


def _bumps(n, L=32, k=None, seed=0):
    """Separable 2-class windows: a positive (class 0) or negative (class 1) bump plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    bump = np.exp(-0.5 * ((np.arange(L) - L / 2) / 3) ** 2)
    X = (np.where(y[:, None] == 0, 1.0, -1.0) * bump + 0.3 * rng.standard_normal((n, L))).astype("float32")
    if k is not None:
        X = np.repeat(X[:, None, :], k, axis=1)
    F = rng.standard_normal((n, 3)).astype("float32")  # uninformative features
    return X, F, y


def test_signal_layout():
    assert signal_layout((256,)) == (1, 256)
    assert signal_layout((256, 1)) == (1, 256)
    assert signal_layout((3, 256)) == (3, 256)
    assert signal_layout((3, 256, 1)) == (3, 256)
    with pytest.raises(ValueError, match=r"\(k, L\)"):
        signal_layout((2, 3, 4))


@pytest.mark.parametrize("kind", KERAS_KINDS)
@pytest.mark.parametrize("shape", [(32,), (3, 32)])
def test_every_kind_and_input_layout_gives_probabilities(kind, shape):
    X, F, _ = _bumps(5, k=None if len(shape) == 1 else 3)
    m = make_classifier(kind, shape, 3, 4, seed=0, arch=TINY)
    p = m.predict_proba(X, F)
    assert p.shape == (5, 4)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)


def test_tiny_cnn_bilstm_learns_separable_data():
    X, F, y = _bumps(240)
    tr, va, te = slice(0, 160), slice(160, 200), slice(200, 240)
    m = make_classifier("cnn_bilstm", (32,), 3, 2, seed=1, epochs=8, batch_size=32, patience=3, lr=1e-2, arch=TINY)
    m.fit(X[tr], F[tr], y[tr], X[va], F[va], y[va])
    assert (m.predict(X[te], F[te]) == y[te]).mean() >= 0.9  # chance is 0.5


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        # conv0 3*1*4 + BN 2*4 + conv1 3*4*8 + BN 2*8 = 132 trainable in the conv blocks; feature Dense 3*4+4 = 16
        ("cnn", 132 + 16 + (8 + 4) * 2 + 2),  # head: softmax over [8 pooled, 4 feature] units
        ("cnn_bilstm", 132 + 16 + 2 * 4 * (8 * (8 + 8) + 8) + (16 + 4) * 2 + 2),  # BiLSTM(8) on 8 channels
        ("cnn_lstm", 132 + 16 + 4 * (8 * (8 + 8) + 8) + (8 + 4) * 2 + 2),
        ("lstm", 16 + 4 * (8 * (1 + 8) + 8) + (8 + 4) * 2 + 2),  # LSTM(8) on the 2x-averaged raw signal
    ],
)
def test_trainable_parameter_count_of_known_configurations(kind, expected):
    m = make_classifier(kind, (32,), 3, 2, seed=0, arch=TINY)
    assert sum(int(np.prod(w.shape)) for w in m.model.trainable_weights) == expected
    # k beats: the conv encoder's weights are shared over beats; the LSTM then runs across beats on the encoded
    # beat (for ``lstm``: the 16 averaged samples of each beat, hence 4 * (8 * (16 + 8) + 8) recurrent weights)
    ctx = make_classifier(kind, (3, 32), 3, 2, seed=0, arch=TINY)
    ctx_expected = expected if kind != "lstm" else 16 + 4 * (8 * (16 + 8) + 8) + (8 + 4) * 2 + 2
    assert sum(int(np.prod(w.shape)) for w in ctx.model.trainable_weights) == ctx_expected


def test_trivially_separable_features_learnt_to_100_percent_with_the_same_probabilities_per_seed():
    rng = np.random.default_rng(0)
    y = np.tile([0, 1], 60)
    F = np.stack([np.where(y == 1, 3.0, -3.0), rng.standard_normal(120), rng.standard_normal(120)], 1)
    X = rng.standard_normal((120, 32)).astype("float32")  # the signal carries nothing
    kw = dict(seed=4, epochs=15, batch_size=16, patience=15, lr=2e-2, arch=TINY)
    a = make_classifier("cnn", (32,), 3, 2, **kw).fit(X[:80], F[:80], y[:80], X[80:100], F[80:100], y[80:100])
    assert (a.predict(X[100:], F[100:]) == y[100:]).all()  # 20 of 20 unseen beats
    b = make_classifier("cnn", (32,), 3, 2, **kw).fit(X[:80], F[:80], y[:80], X[80:100], F[80:100], y[80:100])
    np.testing.assert_array_equal(a.predict_proba(X[100:], F[100:]), b.predict_proba(X[100:], F[100:]))
    c = make_classifier("cnn", (32,), 3, 2, **{**kw, "seed": 5})
    c.fit(X[:80], F[:80], y[:80], X[80:100], F[80:100], y[80:100])
    assert not np.allclose(a.predict_proba(X[100:], F[100:]), c.predict_proba(X[100:], F[100:]))


def test_fit_early_stopping_restores_the_best_epoch_and_is_reproducible():
    X, F, y = _bumps(120, seed=3)
    noisy = np.where(np.random.default_rng(0).random(120) < 0.3, 1 - y, y)  # 30% flipped: it overfits
    tr, va = slice(0, 40), slice(40, 120)
    kw = dict(seed=2, epochs=12, batch_size=8, patience=2, lr=3e-2, arch=TINY)
    m = make_classifier("cnn", (32,), 3, 2, **kw).fit(X[tr], F[tr], noisy[tr], X[va], F[va], y[va])
    h = m.history_[-1]
    best = int(np.argmin(h["val_loss"]))
    # stops `patience` epochs after the best one, before the epoch limit, and keeps the best weights
    assert len(h["val_loss"]) == best + 1 + 2 < 12 and len(h["loss"]) == len(h["val_loss"])
    p = m.predict_proba(X[va], F[va])
    restored = -np.log(np.clip(p[np.arange(80), y[va]], 1e-7, 1)).mean()
    assert restored == pytest.approx(h["val_loss"][best], rel=1e-5)
    assert (p.argmax(1) == y[va]).mean() == pytest.approx(h["val_accuracy"][best])
    again = make_classifier("cnn", (32,), 3, 2, **kw).fit(X[tr], F[tr], noisy[tr], X[va], F[va], y[va])
    assert again.history_[-1] == h
    np.testing.assert_array_equal(again.predict_proba(X[va], F[va]), p)


def test_balanced_training_stops_on_the_balanced_validation_loss():
    X, F, y = _bumps(120, seed=4)
    y = np.where(np.arange(120) % 4 == 0, 1, 0)  # imbalanced 3:1
    kw = dict(seed=1, epochs=3, batch_size=16, patience=2, lr=1e-2, arch=TINY, class_weight="balanced")
    m = make_classifier("cnn", (32,), 3, 2, **kw).fit(X[:60], F[:60], y[:60], X[60:], F[60:], y[60:])
    h = m.history_[-1]
    p = m.predict_proba(X[60:], F[60:])
    nll = -np.log(np.clip(p[np.arange(60), y[60:]], 1e-7, 1))
    w = np.where(y[60:] == 1, 60 / (2 * 15), 60 / (2 * 45))  # the training part's class weights (15 of 60 are 1)
    np.testing.assert_allclose(class_weights(y[:60], 3), [60 / 90, 2.0, 1.0])  # absent class: 1
    assert min(h["val_loss"]) == pytest.approx(np.average(nll, weights=w), rel=1e-5)
    assert not np.isclose(np.average(nll, weights=w), nll.mean())


def test_macro_f1_stopping_keeps_the_best_macro_f1_epoch():
    X, F, y = _bumps(120, seed=3)
    noisy = np.where(np.random.default_rng(0).random(120) < 0.3, 1 - y, y)
    kw = dict(seed=2, epochs=8, batch_size=8, patience=3, lr=3e-2, arch=TINY, monitor="val_macro_f1")
    m = make_classifier("cnn", (32,), 3, 2, **kw).fit(X[:40], F[:40], noisy[:40], X[40:], F[40:], y[40:])
    h = m.history_[-1]
    assert len(h["val_macro_f1"]) == len(h["val_loss"]) and max(h["val_macro_f1"]) > 0.5
    assert macro_f1(y[40:], m.predict(X[40:], F[40:]), 2) == pytest.approx(max(h["val_macro_f1"]))


def test_reset_weights_returns_to_the_seed_initialisation_and_keeps_settings():
    X, F, y = _bumps(64)
    m = make_classifier("cnn_bilstm", (32,), 3, 2, seed=5, epochs=1, arch=TINY)
    fresh = [w.copy() for w in m.model.get_weights()]
    m.fit(X, F, y)
    m.set_learning_rate(1e-4)
    m.set_dropout(0.1)
    assert not all(np.array_equal(a, b) for a, b in zip(fresh, m.model.get_weights()))
    m.reset_weights()
    after = m.model.get_weights()
    dropout_var = [i for i, v in enumerate(m.model.weights) if v.path.endswith("dropout/rate")]
    for i, (a, b) in enumerate(zip(fresh, after)):
        if i not in dropout_var:
            np.testing.assert_array_equal(a, b)
    assert m.lr == 1e-4 and float(m.model.get_layer("dropout").rate.numpy()) == pytest.approx(0.1)
    state = [v for v in m.model.optimizer.variables if "learning_rate" not in v.path]
    assert state and all(float(np.abs(v.numpy()).max(initial=0)) == 0 for v in state)  # moments and step zeroed


def test_mc_dropout_samples_are_stochastic_forward_passes_of_the_head():
    X, F, y = _bumps(40)
    m = make_classifier("cnn_bilstm", (32,), 3, 2, seed=0, epochs=2, dropout=0.0, arch=TINY).fit(X, F, y)
    off = m.mc_dropout_proba(X, F, n_samples=3, seed=0)
    assert off.shape == (3, 40, 2)
    for t in range(3):  # rate 0: every sample is the deterministic prediction
        np.testing.assert_allclose(off[t], m.predict_proba(X, F), atol=1e-5)
    m.set_dropout(0.5)
    on = m.mc_dropout_proba(X, F, n_samples=8, seed=1)
    np.testing.assert_allclose(on.sum(2), 1.0, atol=1e-9)
    assert np.abs(on - on.mean(0)).max() > 1e-3  # the masks differ between samples
    np.testing.assert_array_equal(on, m.mc_dropout_proba(X, F, n_samples=8, seed=1))
    np.testing.assert_allclose(m.predict_proba(X, F), off[0], atol=1e-5)  # inference itself stays deterministic
    with pytest.raises(ValueError, match="n_samples"):
        m.mc_dropout_proba(X, F, n_samples=0)


def test_seed_controls_initial_weights_and_feature_free_input():
    a = make_classifier("cnn", (32, 1), 0, 3, seed=0, arch=TINY)
    b = make_classifier("cnn", (32, 1), 0, 3, seed=0, arch=TINY)
    c = make_classifier("cnn", (32, 1), 0, 3, seed=1, arch=TINY)
    wa, wb, wc = (np.concatenate([w.ravel() for w in m.model.get_weights()]) for m in (a, b, c))
    np.testing.assert_array_equal(wa, wb)
    assert not np.allclose(wa, wc)
    assert a.predict_proba(_bumps(4)[0]).shape == (4, 3)


def test_hooks_change_lr_and_dropout_inside_the_compiled_train_step():
    X, F, y = _bumps(64)
    m = make_classifier("lstm", (32,), 3, 2, seed=0, epochs=1, dropout=0.0, lr=1e-9, batch_size=64, arch=TINY)
    m.fit(X, F, y)
    base = m.history_[-1]["loss"][0]
    m.set_dropout(0.9)  # lr ~ 0: weights stay put, only the dropout mask changes the training loss
    m.fit(X, F, y)
    assert m.history_[-1]["loss"][0] > base + 0.01
    m.set_dropout(0.0)
    m.fit(X, F, y)
    assert m.history_[-1]["loss"][0] == pytest.approx(base, abs=1e-5)
    m.set_learning_rate(3e-3)
    assert float(m.model.optimizer.learning_rate.numpy()) == pytest.approx(3e-3)
    with pytest.raises(ValueError, match="> 0"):
        m.set_learning_rate(0.0)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        m.set_dropout(1.0)


def test_balanced_weights_and_window_summary_exact():
    np.testing.assert_allclose(balanced_sample_weights([0, 0, 0, 1], 3), [2 / 3, 2 / 3, 2 / 3, 2.0], rtol=1e-6)
    s = window_summary(np.array([[0.0, 1.0, 2.0, 3.0]]), n_bins=2)
    np.testing.assert_allclose(s[0], [0.5, 2.5, 1.5, np.sqrt(1.25), 0.0, 3.0, 0.75, 0.0, 1.0, 1.0])
    loop = np.array([window_summary(x[None], 4)[0] for x in _bumps(5, k=2)[0]])
    np.testing.assert_allclose(window_summary(_bumps(5, k=2)[0], 4), loop)


def test_random_forest_interface_with_unseen_classes():
    X, F, y = _bumps(60)
    rf = build_random_forest(4, n_estimators=20, seed=0).fit(X, F, 2 * y)  # classes {0, 2} only
    p = rf.predict_proba(X, F)
    assert p.shape == (60, 4) and np.all(p[:, [1, 3]] == 0)
    assert (rf.predict(X, F) == 2 * y).mean() > 0.9


def test_bad_options_raise_naming_allowed_values():
    with pytest.raises(ValueError, match="cnn_bilstm"):
        make_classifier("transformer", (32,), 3, 2)
    with pytest.raises(ValueError, match="balanced"):
        make_classifier("cnn", (32,), 3, 2, class_weight="inverse")
    with pytest.raises(ValueError, match="val_macro_f1"):
        make_classifier("cnn", (32,), 3, 2, monitor="val_auc")
    m = make_classifier("cnn", (32,), 3, 2, arch=TINY)
    with pytest.raises(ValueError, match=r"F must have shape"):
        m.predict_proba(_bumps(3)[0], None)


@pytest.mark.slow
def test_keras_active_learning_same_seed_same_curve_fresh_or_reused_model():
    """Same seed -> same curve, whether the factory builds fresh models or re-initialises a used one."""
    X, F, y = _bumps(200)
    pool, val, test = slice(0, 120), slice(120, 160), slice(160, 200)
    kw = {"epochs": 1, "batch_size": 32, "arch": TINY}
    reused = ClassifierFactory("cnn_bilstm", (32,), 3, 2, reuse=True, **kw)
    used = reused(99)
    used.set_dropout(0.5)
    used.fit(X[pool], F[pool], y[pool])  # advance weights, optimizer, BN stats and RNG states
    curves = []
    for factory in (ClassifierFactory("cnn_bilstm", (32,), 3, 2, reuse=False, **kw), reused):
        cfg = ALConfig("odal", seed_size=20, batch_size=20, budget=40, seed=7)
        curves.append(
            run_active_learning(
                factory,
                X[pool],
                F[pool],
                Annotator(y[pool]),
                (X[val], F[val], y[val]),
                (X[test], F[test], y[test]),
                cfg,
                n_classes=2,
                progress=False,
            )
        )
    a, b = (c.drop(columns="fit_seconds") for c in curves)
    assert a.attrs["queried"] == b.attrs["queried"]
    np.testing.assert_allclose(a.to_numpy(dtype=float), b.to_numpy(dtype=float), atol=1e-6)
    assert a["lr"].notna().all() and a["dropout"].notna().all() and len(a) == 2


def test_the_expected_retracing_notice_is_dropped_and_nothing_else():
    import logging

    from lib.ecg.models import _DropRetracingNotice

    def rec(msg):
        return logging.LogRecord("tensorflow", logging.WARNING, __file__, 1, msg, None, None)

    keep = _DropRetracingNotice().filter
    assert not keep(rec("5 out of the last 16 calls to <function f> triggered tf.function retracing. Tracing is"))
    assert keep(rec("Gradients do not exist for variables"))
