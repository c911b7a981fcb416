"""The real and paper runs' data for notebook 04 (called by ``python -m lib.core.runner nb04 --run real|paper``).

This module sits above both builders so imports run one way: ``lib.bias.prepare`` -> ``lib.bias.cifar10c``
-> ``lib.bias.data`` (and ``lib.bias.corruptions``); neither builder imports this module.
"""

from __future__ import annotations

from pathlib import Path

from lib.bias import cifar10c, data

#: ``--variant`` name -> the function preparing that dataset for the real run
VARIANTS = {"": lambda: data.prepare_run("real"), "cifar10c": cifar10c.prepare_real}


def prepare_real(variant: str = "") -> Path:
    """Colored MNIST from ../shared/data/mnist (``lib.bias.data.prepare_run``), or with variant ``cifar10c``
    Corrupted CIFAR-10 from ../shared/data/cifar10 (``lib.bias.cifar10c.prepare_real``)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown data variant {variant!r} (known: {', '.join(v for v in VARIANTS if v)})")
    return VARIANTS[variant]()


def prepare_paper() -> Path:
    """The paper run's data (params_paper.yaml sizes, the paper's 55,000 / 5,000 / 10,000)."""
    return data.prepare_run("paper")
