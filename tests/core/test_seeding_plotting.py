"""lib.core.seeding and lib.core.plotting."""

import random

import matplotlib.pyplot as plt
import numpy as np
import pytest

from lib.core import paths, plotting
from lib.core.seeding import seed_everything


def test_same_seed_same_draws_numpy_python_torch():
    import torch

    out = []
    for _ in range(2):
        rng = seed_everything(3, torch=True)
        out.append((rng.random(3).tolist(), np.random.rand(2).tolist(), random.random(), torch.rand(2).tolist()))
    assert out[0] == out[1]
    seed_everything(4, torch=True)
    assert torch.rand(2).tolist() != out[0][3]


def test_seed_rejects_bad_values():
    with pytest.raises(ValueError, match="non-negative int"):
        seed_everything(-1)
    with pytest.raises(ValueError, match="non-negative int"):
        seed_everything(1.5)


def test_save_figure_is_deterministic_and_placed(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "FIGURES", tmp_path)
    plotting.use_style()
    blobs = []
    for _ in range(2):
        fig, ax = plt.subplots()
        ax.plot([0, 1, 2], [1, 0, 1])
        out = plotting.save_figure(fig, "curve", "02_arxiv_bert", "default", source="synthetic data")
        plt.close(fig)
        blobs.append(out.read_bytes())
    assert out == tmp_path / "default" / "02_arxiv_bert" / "curve.png"
    assert blobs[0] == blobs[1] and blobs[0][:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="fmt must be one of"):
        plotting.save_figure(fig, "x", "02_arxiv_bert", "default", fmt="jpg")
