"""lib.bias.sanity: in-memory Corrupted CIFAR-10 splits and the per-corruption accuracy table."""

from dataclasses import replace

import numpy as np

from lib.bias import sanity
from tests.bias.test_cifar10c import _fake_cifar


def test_in_memory_build_and_score(tmp_path):
    import torch

    torch.set_num_threads(1)
    src = _fake_cifar(tmp_path / "cifar10", n_train=8, n_test=4)
    cfg = replace(sanity.DEFAULT, n_train=60, n_valid=20, n_test=40, epochs=1, width=0.0625, batch_size=32)
    unbiased = sanity.build_in_memory(src, cfg, None)
    biased = sanity.build_in_memory(src, cfg, 10.0)
    assert [len(unbiased[s]) for s in ("train", "valid", "test")] == [60, 20, 40]
    assert (~biased["train"].aligned).sum() == 6  # exactly 10% bias-conflicting
    assert unbiased["train"].aligned.mean() < 0.5  # unbiased: corruption drawn uniformly
    np.testing.assert_array_equal(unbiased["test"].images, biased["test"].images)  # same unbiased test split
    table, summary = sanity.train_and_score(unbiased, cfg)
    t = table[table["n"] > 0]
    assert list(table["corruption"]) == list(sanity.cifar10c.CORRUPTIONS)
    assert table["n"].sum() == 40 and ((t["ci_low"] <= t["accuracy"]) & (t["accuracy"] <= t["ci_high"])).all()
    assert summary["epochs"] == 1 and 0 <= summary["accuracy"] <= 1
