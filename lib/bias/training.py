"""Training loop of paper 04: Adam (``TrainConfig``: the paper's lr 1e-3, weight decay 1e-5, batch 512 in
params_paper.yaml; the batch of a run is its ``batch_size``), early stopping.

Images are held in memory as ``(n, 3, H, W) float32`` in [0, 1] (``to_tensor``:
the DisEnt ``ToTensor`` transform). ``augment="normalise"``: the per-channel
normalisation alone (DisEnt's constants below; the paper trains "without any augmentations (except
normalisation)"). Augmentation ``augment="disent_cifar"``: DisEnt's C-CIFAR-10 training
transform (``data/util.py`` ``transforms_preprcs["cifar10c"]`` of kakaoenterprise/Learning-Debiased-Disentangled:
RandomCrop(32, padding=4), RandomHorizontalFlip, Normalize(mean (0.4914, 0.4822, 0.4465), std (0.2023, 0.1994,
0.2010))), the evaluation inputs normalised the same way (``normalise``). Precision ``bf16``: the training
forward and backward under ``torch.autocast`` (bfloat16; weights, optimiser and every evaluation stay float32);
its speed and rounding depend on the processor (AVX-512 BF16 on the CPU measured here), so the default is
``fp32``. Early stopping watches the
validation accuracy (comparable across objectives, unlike their losses) with the run's
``patience`` (the paper's 12 in params_paper.yaml; the CPU runs' value in params_real.yaml) and restores the
best epoch's weights (``EarlyStop``: patience and the checkpoint may read a trailing moving average of the validation
curve, ``patience_smoothing`` epochs, and patience may not fire before ``min_epochs``, so that one shared early
validation spike neither stops some objectives long before others nor becomes the model kept; 1 and 1 are the
paper's rule). Runs on
CUDA when available, else CPU; seeded (same seed, same CPU result).
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm import tqdm

from lib.bias.objectives import get_objective, predict
from lib.core.device import DEVICES, pick_device
from lib.core.seeding import seed_everything


def quiet(progress: bool) -> dict:
    """tqdm keyword arguments: ``disable=True`` when progress is off; otherwise none, so that the environment
    variable TQDM_DISABLE (set by the runner for executed copies) still turns the bars off (an explicit
    ``disable=False`` would override it)."""
    return {} if progress else {"disable": True}


#: evaluation batch (inference only: it changes speed and memory, not results)
EVAL_BATCH_SIZE = 1024
PRECISIONS = ("fp32", "bf16")
AUGMENTS = ("none", "normalise", "disent_cifar")
#: DisEnt's C-CIFAR-10 normalisation (data/util.py transforms_preprcs["cifar10c"])
DISENT_MEAN = (0.4914, 0.4822, 0.4465)
DISENT_STD = (0.2023, 0.1994, 0.2010)
DISENT_PAD = 4  # RandomCrop(32, padding=4): zero (black) padding before normalisation


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser and stopping settings (values from params.yaml ``nb04``; no defaults here).

    max_epochs bounds the run; patience is the early-stopping patience in epochs; device one of DEVICES;
    precision one of PRECISIONS; augment one of AUGMENTS (the inputs must then be ``normalise``d already);
    patience_smoothing: patience counts epochs since the best value of the trailing ``patience_smoothing``-epoch
    mean of the validation accuracy (1: the raw curve); min_epochs: no early stop before this epoch (1: none).
    """

    learning_rate: float
    weight_decay: float
    batch_size: int
    max_epochs: int
    patience: int
    device: str
    precision: str
    augment: str
    patience_smoothing: int
    min_epochs: int

    def __post_init__(self):
        if self.batch_size < 1 or self.max_epochs < 1 or self.patience < 1:
            raise ValueError("batch_size, max_epochs and patience must be >= 1")
        if self.patience_smoothing < 1:
            raise ValueError(f"patience_smoothing must be >= 1 (1: the raw curve), got {self.patience_smoothing}")
        if not 1 <= self.min_epochs <= self.max_epochs:
            raise ValueError(f"min_epochs must be between 1 and max_epochs ({self.max_epochs}), got {self.min_epochs}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.augment not in AUGMENTS:
            raise ValueError(f"augment must be one of {AUGMENTS}, got {self.augment!r}")


class EarlyStop:
    """The early-stopping rule, fed one validation accuracy per epoch (``update``).

    Patience and the checkpoint read the same curve: the trailing mean of the last ``smoothing`` validation
    accuracies (``smoothed``; fewer at the start, where an epoch is only a provisional checkpoint that the first
    full window replaces). The checkpoint kept is the epoch where that curve is highest
    (``best_epoch``, the last epoch of the best window; ``best_acc`` its raw accuracy, ``best_smoothed`` the window
    mean); ``update`` returns True (stop) when ``patience`` epochs have passed since it at an epoch >= ``min_epochs``.
    ``raw_best_epoch`` / ``raw_best_acc``: the maximum of the raw curve, recorded beside it. With smoothing 1 and
    min_epochs 1 this is the paper's rule (patience and checkpoint on the raw curve). Why: a validation spike that
    every objective shares (C-CIFAR, epoch 3) stopped the objectives that did not beat it 10 epochs later, and the
    others ran 2-3 times longer, so a ranking compared training lengths; keeping the raw maximum would still make
    that spike the model tested and compared (review 25s5 M1), so the checkpoint follows the smoothed curve too.
    """

    def __init__(self, patience: int, smoothing: int = 1, min_epochs: int = 1):
        self.patience, self.smoothing, self.min_epochs = patience, smoothing, min_epochs
        self.curve: list[float] = []
        self.best_acc, self.best_epoch = -1.0, 0
        self.raw_best_acc, self.raw_best_epoch = -1.0, 0
        self.best_smoothed = -np.inf
        self.improved = False
        self._first_full = True  # the first full window always becomes the checkpoint

    @property
    def smoothed(self) -> float:
        """The trailing mean of the last ``smoothing`` validation accuracies."""
        return float(np.mean(self.curve[-self.smoothing :]))

    def update(self, valid_acc: float) -> bool:
        """Record one epoch; True when training should stop after it. ``improved`` tells whether this epoch is
        the new checkpoint (a new best of the smoothed curve)."""
        self.curve.append(float(valid_acc))
        epoch = len(self.curve)
        if valid_acc > self.raw_best_acc:
            self.raw_best_acc, self.raw_best_epoch = float(valid_acc), epoch
        # before the first full window the "mean" is of 1..smoothing-1 epochs, the single spike the smoothing is
        # there to ignore: such an epoch is only a provisional checkpoint, replaced by the first full window whatever
        # its value (review25s13run M1: a checkpoint at epoch 1 was kept on one raw value)
        full = epoch >= self.smoothing
        self.improved = not full or self._first_full or self.smoothed > self.best_smoothed
        self._first_full = self._first_full and not full
        if self.improved:
            self.best_smoothed, self.best_epoch, self.best_acc = self.smoothed, epoch, float(valid_acc)
            return False
        return epoch >= self.min_epochs and epoch - self.best_epoch >= self.patience


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """``(n, H, W, 3) uint8`` -> ``(n, 3, H, W) float32`` in [0, 1]."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be (n, H, W, 3), got {images.shape}")
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float().div_(255.0)


def normalise(x: torch.Tensor, augment: str) -> torch.Tensor:
    """The network's input for ``augment``: ``x`` unchanged for "none"; DisEnt's per-channel normalisation for
    "normalise" (the paper's only transform: "without any augmentations (except normalisation)") and for
    "disent_cifar" (applied to training, validation, test and CKA inputs alike)."""
    if augment == "none":
        return x
    mean, std = torch.tensor(DISENT_MEAN).view(1, 3, 1, 1), torch.tensor(DISENT_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def augment_batch(xb: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """DisEnt's RandomCrop(32, padding=4) + RandomHorizontalFlip on a normalised batch ``(B, 3, H, W)``: the
    padding carries the normalised value of black, as torchvision pads the image before normalising."""
    b, c, h, w = xb.shape
    fill = (-torch.tensor(DISENT_MEAN) / torch.tensor(DISENT_STD)).view(1, c, 1, 1)
    padded = fill.expand(b, c, h + 2 * DISENT_PAD, w + 2 * DISENT_PAD).clone()
    padded[:, :, DISENT_PAD : DISENT_PAD + h, DISENT_PAD : DISENT_PAD + w] = xb
    oy = torch.randint(0, 2 * DISENT_PAD + 1, (b,), generator=gen)
    ox = torch.randint(0, 2 * DISENT_PAD + 1, (b,), generator=gen)
    rows = (oy[:, None] + torch.arange(h))[:, None, :, None]
    cols = (ox[:, None] + torch.arange(w))[:, None, None, :]
    out = padded[torch.arange(b)[:, None, None, None], torch.arange(c)[None, :, None, None], rows, cols]
    flip = torch.rand(b, generator=gen) < 0.5
    out[flip] = out[flip].flip(-1)
    return out


@torch.no_grad()
def predict_logits(model: torch.nn.Module, x: torch.Tensor, batch_size: int = EVAL_BATCH_SIZE) -> torch.Tensor:
    """Logits ``(n, C)`` on CPU, in eval mode, computed batch by batch on the model's device."""
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([model(x[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)])


def accuracy_split(pred, target, bias) -> dict:
    """Accuracy overall, on bias-aligned (target == bias) / bias-conflicting samples, and of the worst
    (target, bias) group (with its class, bias and size); ``bias_rate``: the share of bias-conflicting samples
    predicted as their bias class (a model that follows the bias has bias_rate near 1 and conflicting accuracy
    near 0).

    pred, target, bias: ``(n,)`` int. Returns fractions (None where a group is empty) and group sizes.
    """
    pred, target, bias = (np.asarray(a) for a in (pred, target, bias))
    correct = pred == target
    aligned = target == bias

    def frac(mask):
        return float(correct[mask].mean()) if mask.any() else None

    k = int(max(target.max(), bias.max())) + 1 if len(target) else 1
    groups = target * k + bias if len(target) else target
    by_group = sorted(((frac(groups == g), int(g)) for g in np.unique(groups)), key=lambda t: t[0])
    worst = by_group[0] if by_group else (None, None)
    return {
        "accuracy": frac(np.ones_like(correct)),
        "aligned": frac(aligned),
        "conflicting": frac(~aligned),
        "bias_rate": float((pred == bias)[~aligned].mean()) if (~aligned).any() else None,
        "worst_group": worst[0],
        # which (class, bias) group is the worst and how many test samples it holds (one hard cell of ~100 images
        # can sit at 0 without the model following the bias)
        "worst_group_class": None if worst[1] is None else worst[1] // k,
        "worst_group_bias": None if worst[1] is None else worst[1] % k,
        "worst_group_n": None if worst[1] is None else int((groups == worst[1]).sum()),
        "n": int(len(correct)),
        "n_aligned": int(aligned.sum()),
        "n_conflicting": int((~aligned).sum()),
    }


def fit(
    model: torch.nn.Module,
    objective: str,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_valid: torch.Tensor,
    y_valid: torch.Tensor,
    config: TrainConfig,
    seed: int = 0,
    progress: bool = True,
    desc: str = "",
    x_test: torch.Tensor | None = None,
    y_test: torch.Tensor | None = None,
) -> dict:
    """Train ``model`` in place with ``objective`` and early stopping on validation accuracy (``EarlyStop``).

    x_*: ``(n, 3, H, W) float32``, y_*: ``(n,) int64``. Restores the weights of ``EarlyStop``'s checkpoint (the best
    epoch of the smoothed validation curve patience reads).
    Returns ``{"history": [{"epoch", "train_loss", "valid_acc", "valid_smoothed"}...], "best_epoch" (the checkpoint),
    "best_valid_acc" (its raw validation accuracy), "best_valid_smoothed", "raw_best_epoch" / "raw_best_valid_acc"
    (the raw curve's maximum, not kept unless smoothing is 1), "stopped_by_patience" (patience fired, possibly at the
    cap's epoch), "epochs", "seconds", "config"}``. With x_test/y_test,
    the test accuracy of every epoch is recorded too (``test_acc`` in the history; never used for selection here) with
    ``last_test_acc`` (the last epoch's model) and ``best_test_acc`` (the best epoch by TEST accuracy: what DisEnt's
    vanilla learner keeps and reports, an optimistic selection); ``seconds`` leaves those test passes out.
    """
    loss_fn = get_objective(objective)
    seed_everything(seed, torch=True)
    device = pick_device(config.device)
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    gen = torch.Generator().manual_seed(seed)
    stopper = EarlyStop(config.patience, config.patience_smoothing, config.min_epochs)
    best_state = None
    history, start, test_seconds = [], time.perf_counter(), 0.0
    bar = tqdm(range(1, config.max_epochs + 1), desc=desc or objective, leave=False, **quiet(progress))
    for epoch in bar:
        model.train()
        perm = torch.randperm(len(x_train), generator=gen)
        total, count = 0.0, 0
        for i in range(0, len(perm), config.batch_size):
            idx = perm[i : i + config.batch_size]
            xb = augment_batch(x_train[idx], gen) if config.augment == "disent_cifar" else x_train[idx]
            xb, yb = xb.to(device), y_train[idx].to(device)
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16"):
                logits = model(xb)
            loss = loss_fn(logits.float(), yb)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{objective}: non-finite loss at epoch {epoch}")
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            count += len(idx)
        valid_acc = float((predict(predict_logits(model, x_valid)) == y_valid).float().mean())
        stop = stopper.update(valid_acc)
        history.append(
            {"epoch": epoch, "train_loss": total / count, "valid_acc": valid_acc, "valid_smoothed": stopper.smoothed}
        )
        if x_test is not None:
            t0 = time.perf_counter()
            history[-1]["test_acc"] = float((predict(predict_logits(model, x_test)) == y_test).float().mean())
            test_seconds += time.perf_counter() - t0
        bar.set_postfix(loss=f"{total / count:.4f}", valid_acc=f"{valid_acc:.3f}")
        if stopper.improved:
            best_state = copy.deepcopy(model.state_dict())
        if stop:
            break
    model.load_state_dict(best_state)
    out = {
        "history": history,
        "stopped_by_patience": bool(stop),  # patience fired (at the cap too: not "ran to the cap")
        "best_epoch": stopper.best_epoch,
        "best_valid_acc": stopper.best_acc,
        "best_valid_smoothed": stopper.best_smoothed,
        "raw_best_epoch": stopper.raw_best_epoch,
        "raw_best_valid_acc": stopper.raw_best_acc,
        "epochs": len(history),
        "seconds": time.perf_counter() - start - test_seconds,
        "config": asdict(config),
    }
    if x_test is not None:
        out["last_test_acc"] = history[-1]["test_acc"]
        out["best_test_acc"] = max(h["test_acc"] for h in history)
    return out


def evaluate_groups(model: torch.nn.Module, x: torch.Tensor, target, bias) -> dict:
    """``accuracy_split`` of the model's predictions on ``x (n, 3, H, W)``; target, bias ``(n,)``."""
    pred = predict(predict_logits(model, x)).numpy()
    return accuracy_split(pred, target, bias)
