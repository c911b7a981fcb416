import numpy as np
import pytest
import torch

from lib.bias.resnet import ResNet18
from lib.bias.training import (
    DISENT_MEAN,
    DISENT_STD,
    EarlyStop,
    TrainConfig,
    accuracy_split,
    augment_batch,
    evaluate_groups,
    fit,
    normalise,
    to_tensor,
)


def train_config(**kw):
    """A TrainConfig with the paper's optimiser settings and small-test defaults."""
    base = dict(
        learning_rate=1e-3,
        weight_decay=1e-5,
        batch_size=16,
        max_epochs=1,
        patience=12,
        device="cpu",
        precision="fp32",
        augment="none",
        patience_smoothing=1,
        min_epochs=1,
    )
    return TrainConfig(**{**base, **kw})


def test_accuracy_split_exact():
    pred = [0, 1, 2, 3, 0, 0]
    target = [0, 1, 2, 0, 0, 1]
    bias = [0, 1, 5, 0, 3, 1]  # aligned: idx 0, 1, 3, 5 ; conflicting: 2, 4
    out = accuracy_split(pred, target, bias)
    assert out["accuracy"] == pytest.approx(4 / 6)
    assert out["aligned"] == pytest.approx(2 / 4) and out["conflicting"] == 1.0
    assert (out["n_aligned"], out["n_conflicting"]) == (4, 2)
    # groups (target, bias): (0,0): idx 0, 3 -> 1/2; (1,1): 1, 5 -> 1/2; (2,5): 2 -> 1; (0,3): 4 -> 1
    assert out["worst_group"] == pytest.approx(0.5)
    assert accuracy_split([0, 1, 1], [0, 1, 2], [0, 1, 2])["worst_group"] == 0.0
    worst = accuracy_split([0, 1, 1, 2], [0, 1, 2, 2], [0, 1, 2, 2])  # group (class 2, bias 2): 1 of 2 right
    assert (worst["worst_group_class"], worst["worst_group_bias"], worst["worst_group_n"]) == (2, 2, 2)
    assert accuracy_split([1], [1], [1])["conflicting"] is None


def test_to_tensor():
    img = np.zeros((2, 4, 5, 3), np.uint8)
    img[1, 2, 3] = [255, 0, 51]
    t = to_tensor(img)
    assert t.shape == (2, 3, 4, 5) and t.dtype == torch.float32
    assert t[1, :, 2, 3].tolist() == pytest.approx([1.0, 0.0, 0.2])
    with pytest.raises(ValueError):
        to_tensor(np.zeros((2, 4, 5)))


@pytest.fixture
def one_thread():
    """One torch thread: on a shared machine, the default thread pool can make this tiny training 50x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _toy(n=64, seed=0):
    """Class = which half of the image is bright; learnable in a few steps."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.rand(n, 3, 8, 8, generator=g) * 0.2
    x[y == 0, :, :4] += 0.8
    x[y == 1, :, 4:] += 0.8
    return x, y


def test_fit_learns_is_deterministic_and_stops_early(one_thread):
    x, y = _toy(128)
    xv, yv = _toy(64, seed=1)
    cfg = train_config(max_epochs=30, patience=4)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = ResNet18(num_classes=2, width=0.0625)
        info = fit(model, "sce", x, y, xv, yv, cfg, seed=5, progress=False)
        runs.append((info, model))
    (info, model), (info2, _) = runs
    assert [h["train_loss"] for h in info["history"]] == [h["train_loss"] for h in info2["history"]]
    assert info["best_valid_acc"] >= 0.9
    assert info["epochs"] <= info["best_epoch"] + cfg.patience
    assert info["epochs"] < cfg.max_epochs  # early stopping fired
    # the best epoch's weights are restored
    res = evaluate_groups(model, xv, yv.numpy(), yv.numpy())
    assert res["accuracy"] == pytest.approx(info["best_valid_acc"])


def test_config_validation():
    with pytest.raises(ValueError, match="precision must be one of"):
        train_config(precision="fp16")
    with pytest.raises(ValueError, match="augment must be one of"):
        train_config(augment="randaugment")
    with pytest.raises(ValueError, match="device must be one of"):
        train_config(device="tpu")
    with pytest.raises(ValueError):
        train_config(patience=0)
    with pytest.raises(ValueError, match="patience_smoothing must be >= 1"):
        train_config(patience_smoothing=0)
    with pytest.raises(ValueError, match="min_epochs must be between 1 and max_epochs"):
        train_config(max_epochs=5, min_epochs=6)


def _stop_epoch(curve, patience, smoothing=1, min_epochs=1):
    """The epoch at which EarlyStop stops on ``curve`` (None: ran to the end) and its checkpoint epoch."""
    stop = EarlyStop(patience, smoothing, min_epochs)
    for epoch, acc in enumerate(curve, 1):
        if stop.update(acc):
            return epoch, stop.best_epoch
    return None, stop.best_epoch


#: a validation spike at epoch 3 that later epochs need a while to beat (review 25s3: C-CIFAR, 9 of 10 models)
SPIKE = [0.20, 0.21, 0.30, 0.22, 0.24, 0.26, 0.27, 0.28, 0.28, 0.29, 0.29, 0.30] + [0.31] * 7


def test_early_stop_default_is_the_raw_patience_rule():
    # raw rule: best 0.30 at epoch 3, no better within 3 epochs -> stops at epoch 6
    assert _stop_epoch(SPIKE, patience=3) == (6, 3)
    # equivalent to the loop the paper's rule describes: stop when epoch - best_epoch >= patience
    best, expected = (-1.0, 0), None
    for e, a in enumerate(SPIKE, 1):
        if a > best[0]:
            best = (a, e)
        elif e - best[1] >= 3:
            expected = e
            break
    assert _stop_epoch(SPIKE, 3)[0] == expected


def test_early_stop_smoothing_and_min_epochs_let_a_rising_curve_run_past_a_spike():
    # trailing 3-epoch mean: the spike lifts epochs 3-5 a little only; the rising curve keeps setting new smoothed
    # bests, so patience 3 does not fire until the curve flattens; the checkpoint is the smoothed best, epoch 15 (the
    # first full window on the 0.31 plateau), 3 epochs before the stop
    assert _stop_epoch(SPIKE, patience=3, smoothing=3) == (18, 15)
    # min_epochs: no stop before epoch 12 even on the raw curve
    assert _stop_epoch(SPIKE, patience=3, min_epochs=12)[0] == 12
    # a flat curve still stops: smoothing delays, it does not disable patience (the first full window, epoch 3, is
    # the checkpoint; 3 epochs later it stops)
    assert _stop_epoch([0.5] * 20, patience=3, smoothing=3) == (6, 3)


def test_a_partial_window_is_never_the_kept_checkpoint():
    """review25s13run M1: at epoch 1 the 'trailing mean' is one raw value; a first epoch the smoothed curve never
    beats was kept as the model (C-CIFAR L2 seed 1). The first full window replaces any earlier checkpoint."""
    curve = [0.24, 0.22, 0.21, 0.215, 0.22, 0.2, 0.21, 0.2, 0.21, 0.2] + [0.205] * 15
    assert _stop_epoch(curve, patience=10, smoothing=3, min_epochs=20) == (20, 3)
    assert _stop_epoch(curve, patience=10, smoothing=1, min_epochs=20) == (20, 1)  # the paper's raw rule keeps epoch 1


def test_checkpoint_is_the_smoothed_best_not_a_shared_early_spike():
    """Review 25s5 M1: the model kept is read on the curve patience reads. A spike at epoch 3 that the raw curve
    never beats is the raw maximum (recorded as raw_best_epoch) but not the checkpoint once smoothing is on."""
    curve = [0.10, 0.15, 0.30, 0.18, 0.20, 0.22, 0.24, 0.25, 0.26, 0.26, 0.27, 0.27, 0.27] + [0.26] * 15
    stop = EarlyStop(patience=5, smoothing=3, min_epochs=20)
    stopped = next(e for e, a in enumerate(curve, 1) if stop.update(a))
    assert (stop.raw_best_epoch, stop.raw_best_acc) == (3, 0.30)
    # windows: epoch 5 (0.30, 0.18, 0.20) = 0.227; epoch 13 (0.27, 0.27, 0.27) = 0.27, the highest
    assert stop.best_epoch == 13 and stop.best_acc == 0.27
    assert stop.best_smoothed == pytest.approx(0.27)
    assert stopped == 20  # patience 5 ran out at 18, min_epochs holds it to 20
    # smoothing 1 is the paper's rule: the checkpoint is the raw maximum, the spike
    raw = EarlyStop(patience=5)
    for a in curve[:8]:
        stopped_raw = raw.update(a)
    assert stopped_raw and raw.best_epoch == raw.raw_best_epoch == 3


def test_progress_bars_obey_tqdm_disable():
    """The runner sets TQDM_DISABLE=1 for executed copies (tqdm reads it at import): a bar asked for
    (progress=True) must stay silent there, and show otherwise."""
    import os
    import subprocess
    import sys

    from lib.bias.training import quiet

    code = "from tqdm import tqdm; from lib.bias.training import quiet; list(tqdm(range(3), desc='x', **quiet(True)))"
    env = {k: v for k, v in os.environ.items() if k != "TQDM_DISABLE"}
    shown = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    hidden = subprocess.run(
        [sys.executable, "-c", code], env={**env, "TQDM_DISABLE": "1"}, capture_output=True, text=True, check=True
    )
    assert "x: 100%" in shown.stderr and hidden.stderr == ""
    assert quiet(False) == {"disable": True}


def test_disent_augmentation_crops_flips_and_pads_with_black():
    x = torch.rand(64, 3, 32, 32)
    xn = normalise(x, "disent_cifar")
    mean, std = torch.tensor(DISENT_MEAN).view(1, 3, 1, 1), torch.tensor(DISENT_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(xn * std + mean, x)
    assert normalise(x, "none") is x
    a = augment_batch(xn, torch.Generator().manual_seed(0))
    b = augment_batch(xn, torch.Generator().manual_seed(0))
    assert a.shape == xn.shape and torch.equal(a, b)
    black = (-mean / std).view(3)
    padded = (a == black.view(1, 3, 1, 1)).all(1)  # pixels equal to the normalised black fill
    assert padded.any() and not padded.all()
    # every augmented image is a shifted (maybe flipped) window of its original: its unpadded pixels occur there
    img, orig = a[0], xn[0]
    inside = ~padded[0]
    vals = set(torch.round(img[0][inside] * 1e4).tolist())
    assert vals <= set(torch.round(orig[0] * 1e4).flatten().tolist())


def test_bf16_training_runs_and_learns(one_thread):
    x, y = _toy(128)
    xv, yv = _toy(64, seed=1)
    torch.manual_seed(0)
    model = ResNet18(num_classes=2, width=0.0625)
    info = fit(model, "sce", x, y, xv, yv, train_config(max_epochs=8, precision="bf16"), seed=5, progress=False)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert info["best_valid_acc"] >= 0.9


def test_short_checks_on_the_real_configuration_switch_early_stopping_off():
    # lib.bias.precision_check trains a few epochs with the real run's settings: the real min_epochs (above its cap)
    # must not make the configuration invalid, and stopping is off (patience = cap)
    from lib.bias import precision_check

    tc = precision_check.config([0], 100, 4, "sce").train_config()
    assert (tc.max_epochs, tc.patience, tc.min_epochs, tc.patience_smoothing) == (4, 4, 1, 1)


def test_normalise_only_normalises_and_trains_without_crop_or_flip(one_thread, monkeypatch):
    """augment "normalise" (the paper's transform): the same normalisation as DisEnt's, no crop or flip in fit."""
    import lib.bias.training as tr

    x = torch.rand(8, 3, 32, 32)
    torch.testing.assert_close(normalise(x, "normalise"), normalise(x, "disent_cifar"))
    assert not torch.equal(normalise(x, "normalise"), x)
    calls = []
    monkeypatch.setattr(tr, "augment_batch", lambda xb, gen: calls.append(1) or xb)
    xt, yt = _toy(64)
    for augment, expected in (("normalise", 0), ("disent_cifar", 1)):
        calls.clear()
        fit(
            ResNet18(num_classes=2, width=0.0625),
            "sce",
            xt,
            yt,
            xt,
            yt,
            train_config(max_epochs=1, augment=augment),
            progress=False,
        )
        assert bool(calls) == bool(expected), augment
