"""One call to seed python, numpy, torch and tensorflow."""

from __future__ import annotations

import os
import random
import sys

import numpy as np


def seed_everything(seed: int, *, torch: bool | None = None, tensorflow: bool | None = None) -> np.random.Generator:
    """Seed every RNG in use and return a fresh ``numpy.random.Generator(seed)``.

    torch / tensorflow: True seeds (importing the framework), False skips, None
    (default) seeds only a framework that is already imported, so a numpy-only
    notebook does not pay the import of TensorFlow.
    Also asks for deterministic kernels where the framework offers them.
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    seed = int(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    if torch or (torch is None and "torch" in sys.modules):
        import torch as _torch

        _torch.manual_seed(seed)
        if _torch.cuda.is_available():
            _torch.cuda.manual_seed_all(seed)
        _torch.backends.cudnn.benchmark = False
        _torch.backends.cudnn.deterministic = True
    if tensorflow or (tensorflow is None and "tensorflow" in sys.modules):
        os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
        import tensorflow as _tf

        _tf.random.set_seed(seed)
        try:
            _tf.config.experimental.enable_op_determinism()
        except Exception:
            pass
        try:
            import keras

            keras.utils.set_random_seed(seed)
        except ImportError:
            pass
    return np.random.default_rng(seed)
