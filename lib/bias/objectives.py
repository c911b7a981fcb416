"""The six training objectives of paper 04 (Table 2), as functions of the logits.

Every loss takes ``logits (n, C)`` (the FC output ``fv``) and integer targets
``y (n,)`` and returns the batch mean of a per-sample loss (a scalar tensor).
``y_c`` is the one-hot target, ``S`` the softmax, ``sigma`` the sigmoid.

============ ========================================================== =========================
name          per-sample loss (what we implement)                         paper Table 2 as printed
============ ========================================================== =========================
``sce``       ``-sum_c y_c log S(fv)_c``                                  same
``bce``       ``-(1/C) sum_c [y_c log sigma(fv_c) + (1-y_c) log(1-sigma)]`` no minus sign, no sum
``nll``       ``-sum_c y_c log(p_c)``, ``p = S(fv)`` (log-softmax + NLL)    ``-sum y_c log(fv_c)``
``l1``        ``sum_c |y_c - S(fv)_c|``                                   with a leading minus
``l2``        ``sum_c (y_c - S(fv)_c)^2``                                 with a leading minus
``sos``       ``(1/C) sum_c [a y_c (fv_c - b)^2 + (1-y_c) fv_c^2]``        ``a y_c (fv_c - b)`` unsquared
============ ========================================================== =========================

Notes on the paper's definitions (where Table 2 is ambiguous or mistyped):

- The leading minus of L1/L2 and the missing minus of BCE would make those
  losses maximise the error; we use the evident intent.
- BCE is one-vs-rest over the C sigmoid outputs, averaged over classes as
  ``torch.nn.BCEWithLogitsLoss`` does (the text: "applying sigmoid ... minimised by NLL").
- NLL: Table 2 writes ``-sum y_c log(fv_c)``, and Sec. 4.1 says SCE is "softmax
  ... minimised by the negative log-likelihood". ``log fv`` is only defined when
  the network's outputs are probabilities, so we read NLL as the NLL of a
  softmax output layer (``log_softmax`` + ``nll_loss``). That is the *same
  function of the logits* as SCE: with the same seed the two train identically
  on CPU; the paper's SCE/NLL differences can only come from run-to-run noise.
  ``nll_raw`` (``-fv_y``: ``torch.nn.NLLLoss`` fed the raw outputs, Table 2
  read literally without the log) is unbounded below; it is offered only as a
  negative control, not as one of the six objectives.
- SoS is Hui & Belkin's (2021) rescaled square loss
  ``(1/C)[k (f_y - M)^2 + sum_{c != y} f_c^2]`` with ``a = k``, ``b = M``; with
  ``a = b = 1`` (the paper's choice) it is the mean squared error of the logits
  against the one-hot target. The printed ``a y_c (fv_c - b)`` misses the square.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

PROBABILISTIC = ("sce", "bce", "nll")
MARGIN = ("l1", "l2", "sos")
#: objectives that are the same function of the logits as another: trained once, reported under both names
ALIASES = {"nll": "sce"}
LABELS = {
    "sce": "L_SCE",
    "bce": "L_BCE",
    "nll": "L_NLL",
    "l1": "L_1",
    "l2": "L_2",
    "sos": "L_SoS",
    "nll_raw": "L_NLL(raw)",
}


def _onehot(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if logits.ndim != 2 or y.shape != (logits.shape[0],):
        raise ValueError(f"logits must be (n, C) and y (n,), got {tuple(logits.shape)} and {tuple(y.shape)}")
    return F.one_hot(y.long(), logits.shape[1]).to(logits.dtype)


def sce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy."""
    _onehot(logits, y)
    return F.cross_entropy(logits, y.long())


def bce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """One-vs-rest binary cross-entropy on sigmoid outputs (mean over classes and samples)."""
    return F.binary_cross_entropy_with_logits(logits, _onehot(logits, y))


def nll(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood of a softmax output layer (see module notes: equals ``sce``)."""
    _onehot(logits, y)
    return F.nll_loss(F.log_softmax(logits, dim=1), y.long())


def nll_raw(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``torch.nn.NLLLoss`` applied to the raw outputs: ``-fv_y`` (unbounded below; a negative control)."""
    _onehot(logits, y)
    return F.nll_loss(logits, y.long())


def l1(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """L1 distance between the one-hot target and the softmax output (summed over classes)."""
    return (_onehot(logits, y) - F.softmax(logits, dim=1)).abs().sum(dim=1).mean()


def l2(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Squared L2 distance between the one-hot target and the softmax output (summed over classes)."""
    return (_onehot(logits, y) - F.softmax(logits, dim=1)).pow(2).sum(dim=1).mean()


def sos(logits: torch.Tensor, y: torch.Tensor, alpha: float = 1.0, beta: float = 1.0) -> torch.Tensor:
    """Hui & Belkin square loss on the logits: ``(1/C) sum_c [alpha y_c (fv_c - beta)^2 + (1 - y_c) fv_c^2]``."""
    t = _onehot(logits, y)
    per = alpha * t * (logits - beta) ** 2 + (1 - t) * logits**2
    return per.mean(dim=1).mean()


_REGISTRY: dict[str, Callable] = {
    "sce": sce,
    "bce": bce,
    "nll": nll,
    "l1": l1,
    "l2": l2,
    "sos": sos,
    "nll_raw": nll_raw,
}


def get_objective(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The loss function called ``name`` (one of ``sce, bce, nll, l1, l2, sos, nll_raw``)."""
    if name not in _REGISTRY:
        raise ValueError(f"objective must be one of {sorted(_REGISTRY)}, got {name!r}")
    return _REGISTRY[name]


def predict(logits: torch.Tensor) -> torch.Tensor:
    """Predicted class ``(n,)``: argmax of the logits (the same for every objective: all are monotone in fv)."""
    return logits.argmax(dim=1)
