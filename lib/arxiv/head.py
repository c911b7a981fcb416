"""The paper's classifier head on frozen embeddings, its training loop, and end-to-end fine-tuning.

Head (paper Sec. 4.2): ``Linear(hidden, 1024) -> activation -> Linear(1024, n_classes) ->
log-softmax``, trained with NLLLoss and Adam. The report names no activation between the two
linear layers; its notebook uses ReLU (``activation`` in ACTIVATIONS; "identity" is a literal reading of
the report with no non-linearity). The head itself has no dropout layer, but the paper's notebook calls
``model.train()`` on the WHOLE model (encoder + head) while the head trains, so the frozen encoder's own
dropout (DistilBERT p = 0.1) perturbs the CLS features: :func:`train_head` with ``batch_features`` (e.g.
:func:`lib.arxiv.encoder.train_mode_features`) reproduces that; without it the head trains on cached
eval-mode embeddings (our reading, an ablation in paper mode).

The paper's public notebook fixes what the report leaves open: ReLU, Adam lr 1e-2 with
``ReduceLROnPlateau(factor 0.25, patience 4, threshold 1e-3)`` on the validation loss and a stop once
the rate reaches 2e-6 (:data:`PLATEAU`, ``lr_schedule="plateau"``), batch 64, and an output layer of
152 units for 89 classes (``n_outputs``; the unused units are never a target).

Fine-tuning (beyond the paper): the encoder and the same head trained end to end with
AdamW (encoder and head learning rates separate), pooling as for the frozen path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from lib.arxiv.encoder import pool, show_progress
from lib.core.device import pick_device

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "identity": nn.Identity}


class TopicHead(nn.Module):
    """(b, hidden) float -> (b, n_classes) log-probabilities."""

    def __init__(self, hidden: int, n_classes: int, width: int, activation: str):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.net = nn.Sequential(
            nn.Linear(hidden, width), ACTIVATIONS[activation](), nn.Linear(width, n_classes), nn.LogSoftmax(dim=-1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _batches(n: int, batch_size: int, gen: torch.Generator | None):
    order = torch.randperm(n, generator=gen) if gen is not None else torch.arange(n)
    return [order[s : s + batch_size] for s in range(0, n, batch_size)]


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> tuple[float, float]:
    """(mean NLL, accuracy) of a log-prob model on x: (n, hidden), y: (n,)."""
    model.eval()
    logp = torch.cat([model(x[i]) for i in _batches(len(x), batch_size, None)])
    return float(nn.functional.nll_loss(logp, y)), float((logp.argmax(1) == y).float().mean())


#: the paper's learning-rate schedule (public notebook): ReduceLROnPlateau on the validation loss,
#: training stops once the rate has fallen to ``min_lr``
PLATEAU = {"factor": 0.25, "patience": 4, "threshold": 1e-3, "min_lr": 2e-6}
LR_SCHEDULES = ("constant", "plateau")


def train_head(
    x_train,
    y_train,
    x_val,
    y_val,
    n_classes: int,
    *,
    width: int,
    activation: str,
    epochs: int,
    learning_rate: float,
    batch_size: int,
    seed: int,
    lr_schedule: str,
    n_outputs: int,
    batch_features=None,
    progress: bool = True,
) -> tuple[TopicHead, pd.DataFrame]:
    """Train :class:`TopicHead` on embeddings x_*: (n, hidden) with labels y_*: (n,) ints.

    ``lr_schedule``: "constant" or "plateau" (:data:`PLATEAU`, stepped on the loss of the ``x_val`` part: the
    paper passes its test part there); ``n_outputs``: output units (0: n_classes). ``batch_features``: None
    (a batch's features are its rows of ``x_train``) or a callable ``idx (b,) positions into x_train -> (b, hidden)
    tensor`` that recomputes them for every batch (the paper's encoder in train mode, dropout active).
    Returns the model (after the last epoch, as in the paper: no early stopping on accuracy) and a
    history DataFrame with one row per epoch: epoch, steps (optimiser steps so far), lr, batch_loss (mean
    loss of the epoch's batches, as the features were during training: the paper's training curve),
    train_loss, train_acc, val_loss, val_acc (re-evaluated in eval mode on ``x_train`` / ``x_val`` after
    each epoch), device.
    """
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {lr_schedule!r}")
    n_outputs = n_outputs or n_classes
    if n_outputs < n_classes:
        raise ValueError(f"n_outputs ({n_outputs}) must be >= n_classes ({n_classes})")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    dev = pick_device("auto")
    xt, yt = torch.as_tensor(np.asarray(x_train), dtype=torch.float32, device=dev), torch.as_tensor(y_train, device=dev)
    xv, yv = torch.as_tensor(np.asarray(x_val), dtype=torch.float32, device=dev), torch.as_tensor(y_val, device=dev)
    model = TopicHead(xt.shape[1], n_outputs, width, activation).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=learning_rate)
    plateau = None
    if lr_schedule == "plateau":
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="min", factor=PLATEAU["factor"], patience=PLATEAU["patience"], threshold=PLATEAU["threshold"]
        )
    loss_fn = nn.NLLLoss()
    rows, steps = [], 0
    for epoch in tqdm(range(1, epochs + 1), desc="head epochs", disable=not show_progress(progress)):
        model.train()
        lr = opt.param_groups[0]["lr"]
        losses = []
        for idx in _batches(len(xt), batch_size, gen):
            xb = xt[idx.to(dev)] if batch_features is None else batch_features(idx).to(dev, torch.float32)
            opt.zero_grad()
            loss = loss_fn(model(xb), yt[idx.to(dev)])
            loss.backward()
            opt.step()
            steps += 1
            losses.append(loss.detach().item())
        tl, ta = evaluate(model, xt, yt)
        vl, va = evaluate(model, xv, yv)
        rows.append(
            {
                "epoch": epoch,
                "steps": steps,
                "lr": lr,
                "batch_loss": float(np.mean(losses)),
                "train_loss": tl,
                "train_acc": ta,
                "val_loss": vl,
                "val_acc": va,
                "device": str(dev),
            }
        )
        if plateau is not None:
            plateau.step(vl)
            if opt.param_groups[0]["lr"] <= PLATEAU["min_lr"]:
                break
    return model, pd.DataFrame(rows)


@torch.no_grad()
def predict_proba(model: nn.Module, x, batch_size: int = 512) -> np.ndarray:
    """x: (n, hidden) -> class probabilities (n, n_classes), rows sum to 1."""
    model.eval()
    dev = next(model.parameters()).device
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float32, device=dev)
    return torch.cat([model(xt[i]).exp() for i in _batches(len(xt), batch_size, None)]).cpu().numpy()


# ---------------------------------------------------------------- end-to-end fine-tuning
class FineTuneModel(nn.Module):
    """Encoder (trainable) + pooling + :class:`TopicHead`: tokenised batch -> (b, n_classes) log-probs."""

    def __init__(
        self,
        encoder_model: nn.Module,
        n_classes: int,
        pooling: str,
        width: int,
        activation: str,
    ):
        super().__init__()
        self.encoder = encoder_model
        self.pooling = pooling
        self.head = TopicHead(encoder_model.config.hidden_size, n_classes, width, activation)

    def forward(self, input_ids, attention_mask, **extra):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
        return self.head(pool(hidden, attention_mask, self.pooling))


def finetune(
    enc,
    texts_train,
    y_train,
    n_classes: int,
    *,
    pooling: str,
    max_length: int,
    epochs: int,
    encoder_learning_rate: float,
    head_learning_rate: float,
    batch_size: int,
    width: int,
    activation: str,
    seed: int,
    progress: bool = True,
) -> tuple[FineTuneModel, pd.DataFrame]:
    """Fine-tune ``enc.model`` (a :class:`lib.arxiv.encoder.Encoder`, modified in place) with a fresh head.

    Returns (model, history[epoch, steps, train_loss]): steps = optimiser steps so far, train_loss = the
    running mean over the epoch.
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    dev = next(enc.model.parameters()).device
    model = FineTuneModel(enc.model, n_classes, pooling, width, activation).to(dev)
    opt = torch.optim.AdamW(
        [
            {"params": model.encoder.parameters(), "lr": encoder_learning_rate},
            {"params": model.head.parameters(), "lr": head_learning_rate},
        ]
    )
    loss_fn = nn.NLLLoss()
    y_all = torch.as_tensor(np.asarray(y_train), device=dev)
    texts_train = list(texts_train)
    rows, steps = [], 0
    for epoch in range(1, epochs + 1):
        model.train()
        losses = []
        batches = _batches(len(texts_train), batch_size, gen)
        for idx in tqdm(batches, desc=f"fine-tune epoch {epoch}/{epochs}", disable=not show_progress(progress)):
            batch = enc.tokenizer(
                [texts_train[i] for i in idx.tolist()],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            ).to(dev)
            opt.zero_grad()
            loss = loss_fn(model(**batch), y_all[idx.to(dev)])
            loss.backward()
            opt.step()
            losses.append(loss.detach().item())
        steps += len(losses)
        rows.append({"epoch": epoch, "steps": steps, "train_loss": float(np.mean(losses))})
    model.eval()
    return model, pd.DataFrame(rows)


@torch.no_grad()
def finetune_predict_proba(
    model: FineTuneModel, tokenizer, texts, *, max_length: int, batch_size: int = 64, progress: bool = True
) -> np.ndarray:
    """Texts (n) -> probabilities (n, n_classes) from a fine-tuned model."""
    model.eval()
    dev = next(model.parameters()).device
    texts = list(texts)
    out = []
    for s in tqdm(range(0, len(texts), batch_size), desc="fine-tuned predict", disable=not show_progress(progress)):
        batch = tokenizer(
            texts[s : s + batch_size], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        ).to(dev)
        out.append(model(**batch).exp().cpu().numpy())
    return np.concatenate(out)
