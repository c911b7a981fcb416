"""The runner's data step for notebook 03 (``--run real`` / ``--run paper``): import the images, then cache their
features. It needs both :mod:`lib.eye.data` and :mod:`lib.eye.features`, so it sits above both (neither imports
the other's step)."""

from __future__ import annotations

from pathlib import Path

from lib.eye import data, features


def prepare_real() -> Path:
    """Import the real run's ``data_source`` from ../shared/data into data/raw (unless a current verified copy)
    and cache its features in a fresh process state (fixed thread settings)."""
    dst = data.prepare_run("real")
    features.cache_for_run("real")
    return dst


def prepare_paper() -> Path:
    """As :func:`prepare_real` for the paper configuration; a missing ImageNet weights file is one clear error."""
    dst = data.prepare_run("paper")
    features.cache_for_run("paper")
    return dst
