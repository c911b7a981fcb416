"""Tests of lib.arxiv.head: head shapes, log-probabilities, seeded training, top-k accuracy."""

import numpy as np
import pytest
import torch

from lib.arxiv import head as topic_head
from lib.arxiv.head import TopicHead, predict_proba, top_k_accuracy, train_head


def test_head_shapes_and_log_probabilities():
    torch.manual_seed(0)
    head = TopicHead(hidden=12, n_classes=7, width=32)
    x = torch.randn(5, 12)
    out = head(x)
    assert out.shape == (5, 7)
    assert torch.all(out <= 0)
    assert torch.allclose(out.exp().sum(1), torch.ones(5), atol=1e-6)
    layers = [m for m in head.net if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in layers] == [(12, 32), (32, 7)]
    assert isinstance(head.net[1], torch.nn.ReLU) and isinstance(head.net[3], torch.nn.LogSoftmax)


def test_head_invalid_activation():
    with pytest.raises(ValueError, match="activation"):
        TopicHead(4, 3, activation="swish")


def _blobs(n=240, d=8, c=4, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 4, size=(c, d))
    y = np.arange(n) % c
    return (centers[y] + rng.normal(size=(n, d))).astype(np.float32), y


def test_train_head_learns_and_is_seeded():
    x, y = _blobs()
    m1, h1 = train_head(x[:200], y[:200], x[200:], y[200:], 4, width=16, epochs=6, lr=1e-2, seed=0, progress=False)
    m2, h2 = train_head(x[:200], y[:200], x[200:], y[200:], 4, width=16, epochs=6, lr=1e-2, seed=0, progress=False)
    assert list(h1.columns) == ["epoch", "train_loss", "train_acc", "val_loss", "val_acc"]
    assert len(h1) == 6 and h1["val_acc"].iloc[-1] > 0.9
    assert h1["train_loss"].iloc[-1] < h1["train_loss"].iloc[0]
    np.testing.assert_array_equal(h1.to_numpy(), h2.to_numpy())
    p = predict_proba(m1, x[200:])
    assert p.shape == (40, 4)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
    _, h3 = train_head(x[:200], y[:200], x[200:], y[200:], 4, width=16, epochs=6, lr=1e-2, seed=1, progress=False)
    assert not np.array_equal(h1.to_numpy(), h3.to_numpy())


def test_top_k_accuracy_against_loop():
    rng = np.random.default_rng(1)
    proba = rng.random((50, 9))
    y = rng.integers(0, 9, 50)
    for k in (1, 3, 5, 20):
        loop = np.mean([y[i] in np.argsort(-proba[i])[:k] for i in range(50)])
        assert top_k_accuracy(y, proba, k) == pytest.approx(loop)
    assert top_k_accuracy([0, 1], np.array([[0.9, 0.1], [0.8, 0.2]]), 1) == 0.5


def test_finetune_model_shapes_with_tiny_encoder(tmp_path):
    from lib.arxiv.encoder import load_encoder, write_tiny_bert

    enc = load_encoder(str(write_tiny_bert(tmp_path / "tiny", seed=0)))
    model, hist = topic_head.finetune(
        enc,
        ["a b c", "d e", "a a", "e d c"],
        [0, 1, 0, 1],
        2,
        max_length=8,
        epochs=2,
        batch_size=2,
        width=8,
        progress=False,
    )
    p = topic_head.finetune_predict_proba(model, enc.tokenizer, ["a b", "c"], max_length=8, progress=False)
    assert p.shape == (2, 2) and np.allclose(p.sum(1), 1, atol=1e-5)
    assert hist["epoch"].tolist() == [1, 2]
