"""One training fit of notebook 04: its job, its settings, its inputs and the fit itself (``run_fit``).

This module holds exactly the code that decides a fit's result; ``lib.bias.fits`` runs fits (in this process or in
worker processes) and keeps them in the opt-in fit cache, whose key names the source of every file a fit runs
(``FIT_CODE``: this module and what it imports from ``lib``; tests/bias/test_fits.py checks the import closure).
``CODE_DIGESTS`` are taken when this module is imported, so a key names the code this process runs, not what is on
disk later; a worker process reports its own digests and a fit whose worker ran other code is never stored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lib.bias.resnet import ResNet18
from lib.bias.training import TrainConfig, evaluate_groups, fit, normalise, to_tensor
from lib.core.seeding import seed_everything

#: the files whose code a fit runs: this module and the lib files it imports (a change to one is a new cache key)
FIT_CODE = (
    "lib/bias/fitjob.py",
    "lib/bias/objectives.py",
    "lib/bias/resnet.py",
    "lib/bias/training.py",
    "lib/core/device.py",
    "lib/core/seeding.py",
)


def code_digests() -> dict:
    """sha256 of each ``FIT_CODE`` file as it is on disk now."""
    root = Path(__file__).resolve().parents[2]
    return {p: hashlib.sha256((root / p).read_bytes()).hexdigest() for p in FIT_CODE}


#: ``code_digests()`` when this process imported the fit's code (the code it runs)
CODE_DIGESTS = code_digests()


@dataclass(frozen=True)
class FitJob:
    """One training fit: ``dataset`` / ``objective`` / ``seed``; ``control``: a non-finite loss is a result (the
    fit's ``error``), not a failure."""

    dataset: str
    objective: str
    seed: int
    control: bool = False

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.objective}/s{self.seed}" + (" (control)" if self.control else "")


@dataclass(frozen=True)
class FitSpec:
    """What a fit needs besides its job and data: the network (10 classes, ``width``, ``dropout``, ``stem``), the
    training settings and the input transform (``augment``)."""

    width: float
    dropout: float
    stem: str
    train: TrainConfig

    def model(self) -> ResNet18:
        return ResNet18(num_classes=10, width=self.width, dropout=self.dropout, stem=self.stem)


def fit_data(split_train, train_idx, split_valid, valid_idx, split_test) -> dict:
    """One dataset's arrays for the fits (uint8 images, int labels): the training and validation subsets and the
    whole test split (with its bias labels, for the group accuracies)."""
    return {
        "train": (np.ascontiguousarray(split_train.images[train_idx]), np.asarray(split_train.target[train_idx])),
        "valid": (np.ascontiguousarray(split_valid.images[valid_idx]), np.asarray(split_valid.target[valid_idx])),
        "test": (np.asarray(split_test.images), np.asarray(split_test.target), np.asarray(split_test.bias)),
    }


def _tensors(data: dict, dataset: str, augment: str, cache: dict) -> dict:
    """The network inputs of ``dataset`` (``to_tensor`` + ``normalise``), built once per process and dataset."""
    if dataset not in cache:
        d = data[dataset]
        cache[dataset] = {
            "x_train": normalise(to_tensor(d["train"][0]), augment),
            "y_train": torch.from_numpy(d["train"][1]),
            "x_valid": normalise(to_tensor(d["valid"][0]), augment),
            "y_valid": torch.from_numpy(d["valid"][1]),
            "x_test": normalise(to_tensor(d["test"][0]), augment),
        }
    return cache[dataset]


def run_fit(job: FitJob, data: dict, spec: FitSpec, cache: dict, progress: bool = False) -> dict:
    """Train and evaluate one fit: ``{"state_dict": {name: ndarray}, "info": fit's dict, "acc": evaluate_groups}``,
    or ``{"error": message}`` for a control job whose loss stopped being finite."""
    t = _tensors(data, job.dataset, spec.train.augment, cache)
    seed_everything(job.seed, torch=True)
    model = spec.model()
    try:
        info = fit(
            model,
            job.objective,
            t["x_train"],
            t["y_train"],
            t["x_valid"],
            t["y_valid"],
            spec.train,
            seed=job.seed,
            progress=progress,
            desc=f"{job.dataset}/{job.objective}/s{job.seed}",
        )
    except FloatingPointError as exc:
        if job.control:
            return {"error": str(exc)}
        raise
    _, target, bias = data[job.dataset]["test"]
    acc = evaluate_groups(model, t["x_test"], target, bias)
    state = {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}
    return {"state_dict": state, "info": info, "acc": acc}


def load_model(spec: FitSpec, result: dict) -> ResNet18:
    """A ResNet18 of ``spec`` holding a fit's returned weights, in eval mode."""
    model = spec.model()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in result["state_dict"].items()})
    return model.eval()
