"""Tests of lib.arxiv.head: head shapes, log-probabilities, seeded training, top-k accuracy."""

import numpy as np
import pytest
import torch

from lib.arxiv import head as topic_head
from lib.arxiv.evaluation import top_k_accuracy
from lib.arxiv.head import TopicHead, predict_proba, train_head
from tests.arxiv.helpers import write_tiny_bert


def test_head_shapes_and_log_probabilities():
    torch.manual_seed(0)
    head = TopicHead(hidden=12, n_classes=7, width=32, activation="relu")
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
        TopicHead(4, 3, width=8, activation="swish")


def _blobs(n=240, d=8, c=4, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 4, size=(c, d))
    y = np.arange(n) % c
    return (centers[y] + rng.normal(size=(n, d))).astype(np.float32), y


HEAD = {
    "width": 16,
    "activation": "relu",
    "epochs": 6,
    "learning_rate": 1e-2,
    "batch_size": 32,
    "lr_schedule": "constant",
    "n_outputs": 0,
    "progress": False,
}


def test_head_forward_exact_with_hand_set_weights():
    """Identity activation, identity layers: log-probs of x are log-softmax(x), exactly."""
    head = TopicHead(hidden=2, n_classes=2, width=2, activation="identity")
    with torch.no_grad():
        for layer in (head.net[0], head.net[2]):
            layer.weight.copy_(torch.eye(2))
            layer.bias.zero_()
    p = predict_proba(head, np.array([[np.log(3.0), 0.0], [0.0, 0.0]], dtype=np.float32))
    np.testing.assert_allclose(p, [[0.75, 0.25], [0.5, 0.5]], atol=1e-7)


def test_train_head_learns_a_separable_set_and_is_seeded():
    x, y = _blobs()
    m1, h1 = train_head(x[:200], y[:200], x[200:], y[200:], 4, seed=0, **HEAD)
    m2, h2 = train_head(x[:200], y[:200], x[200:], y[200:], 4, seed=0, **HEAD)
    assert list(h1.columns) == [
        "epoch",
        "steps",
        "lr",
        "batch_loss",
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
        "device",
    ]
    assert h1["epoch"].tolist() == [1, 2, 3, 4, 5, 6]
    assert h1["steps"].tolist() == [7, 14, 21, 28, 35, 42]  # ceil(200 / 32) = 7 optimiser steps per epoch
    # four well-separated blobs: every training and validation point right from the second epoch on
    assert h1["train_acc"].iloc[1:].tolist() == [1.0] * 5 and h1["val_acc"].iloc[-1] == 1.0
    assert h1["train_loss"].iloc[-1] < 0.1 * h1["train_loss"].iloc[0]
    # same seed: the same weights bit for bit, the same history and outputs
    for (k1, v1), (k2, v2) in zip(m1.state_dict().items(), m2.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2)
    np.testing.assert_array_equal(h1.to_numpy(), h2.to_numpy())
    np.testing.assert_array_equal(predict_proba(m1, x[200:]), predict_proba(m2, x[200:]))
    p = predict_proba(m1, x[200:])
    assert p.shape == (40, 4)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
    m3, _ = train_head(x[:200], y[:200], x[200:], y[200:], 4, seed=1, **HEAD)
    assert not torch.equal(m1.net[0].weight, m3.net[0].weight)


def test_plateau_schedule_and_extra_outputs(monkeypatch):
    """The paper's schedule: the rate drops by 0.25 after 4 epochs without validation improvement and training
    stops once it reaches the floor; the paper's wider output layer (152 units for 89 classes) trains the same way."""
    x, y = _blobs()
    y_val_shuffled = np.random.default_rng(1).permutation(y[200:])  # the validation loss soon rises
    kw = {**HEAD, "epochs": 12, "lr_schedule": "plateau", "n_outputs": 7}
    model, h = train_head(x[:200], y[:200], x[200:], y_val_shuffled, 4, seed=0, **kw)
    assert model.net[2].out_features == 7
    lrs = h["lr"].tolist()
    assert len(h) == 12 and lrs[0] == 1e-2 and 2.5e-3 in lrs
    assert all(b == a or b == pytest.approx(a * 0.25) for a, b in zip(lrs, lrs[1:]))
    monkeypatch.setitem(topic_head.PLATEAU, "min_lr", 3e-3)  # the first reduction (to 2.5e-3) reaches the floor
    _, h2 = train_head(x[:200], y[:200], x[200:], y_val_shuffled, 4, seed=0, **{**kw, "epochs": 30})
    assert len(h2) < 30 and set(h2["lr"]) == {1e-2}
    with pytest.raises(ValueError, match="lr_schedule"):
        train_head(x[:200], y[:200], x[200:], y[200:], 4, seed=0, **{**HEAD, "lr_schedule": "cosine"})


def test_train_head_chance_on_shuffled_labels():
    """The head cannot learn labels unrelated to the inputs: validation accuracy stays near chance (0.25)."""
    x, y = _blobs(n=400)
    y_perm = np.random.default_rng(5).permutation(y)
    _, h = train_head(x[:300], y_perm[:300], x[300:], y_perm[300:], 4, seed=0, **HEAD)
    assert h["val_acc"].iloc[-1] < 0.45


def test_top_k_accuracy_against_loop():
    rng = np.random.default_rng(1)
    proba = rng.random((50, 9))
    y = rng.integers(0, 9, 50)
    for k in (1, 3, 5, 20):
        loop = np.mean([y[i] in np.argsort(-proba[i])[:k] for i in range(50)])
        assert top_k_accuracy(y, proba, k) == pytest.approx(loop)
    assert top_k_accuracy([0, 1], np.array([[0.9, 0.1], [0.8, 0.2]]), 1) == 0.5


FT = {"pooling": "mean", "max_length": 8, "batch_size": 4, "width": 16, "activation": "relu", "progress": False}


def _finetune(enc_folder, seed, epochs=8):
    from lib.arxiv.encoder import load_encoder

    enc = load_encoder(str(enc_folder))
    texts = ["a a a a", "a a a b", "b a a a", "a b a a", "z z z z", "z z z y", "y z z z", "z y z z"]
    y = [0, 0, 0, 0, 1, 1, 1, 1]
    model, hist = topic_head.finetune(
        enc, texts, y, 2, epochs=epochs, encoder_learning_rate=1e-3, head_learning_rate=1e-2, seed=seed, **FT
    )
    p = topic_head.finetune_predict_proba(
        model, enc.tokenizer, texts + ["a a a z", "z z z a"], max_length=8, progress=False
    )
    return model, hist, p


def test_finetune_learns_a_toy_task_and_is_seeded(tmp_path):
    folder = write_tiny_bert(tmp_path / "tiny", seed=0)
    m1, h1, p1 = _finetune(folder, seed=0)
    _, h2, p2 = _finetune(folder, seed=0)
    assert p1.shape == (10, 2) and np.allclose(p1.sum(1), 1, atol=1e-5)
    assert h1["epoch"].tolist() == list(range(1, 9))
    # learns: every training text right, loss falls
    assert p1[:8].argmax(1).tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert h1["train_loss"].iloc[-1] < 0.5 * h1["train_loss"].iloc[0]
    # the encoder itself was trained (not only the head)
    from lib.arxiv.encoder import load_encoder

    fresh = load_encoder(str(folder)).model.state_dict()
    trained = m1.encoder.state_dict()
    assert any(not torch.equal(fresh[k], trained[k]) for k in fresh)
    # same seed, same outputs bit for bit; another seed differs
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(h1.to_numpy(), h2.to_numpy())
    _, _, p3 = _finetune(folder, seed=1)
    assert not np.array_equal(p1, p3)


def test_train_mode_features_have_dropout_and_leave_the_encoder_frozen(tmp_path):
    """The paper's reading: the encoder in train mode (dropout on) without gradients, features per batch."""
    from lib.arxiv.encoder import encode, load_encoder, train_mode_features

    folder = write_tiny_bert(tmp_path / "tiny", seed=0)
    enc = load_encoder(str(folder), device="cpu", progress=False)
    before = {k: v.clone() for k, v in enc.model.state_dict().items()}
    texts = ["a a b", "z y z z", "b a", "y y y"]
    feats = train_mode_features(enc, texts, pooling="cls", max_length=8)
    torch.manual_seed(0)
    f1 = feats(torch.tensor([0, 1, 2, 3]))
    f2 = feats(torch.tensor([0, 1, 2, 3]))
    assert f1.shape == (4, 16) and not f1.requires_grad
    assert not torch.allclose(f1, f2)  # dropout active: two passes differ
    torch.manual_seed(0)
    np.testing.assert_array_equal(f1.numpy(), feats(torch.tensor([0, 1, 2, 3])).numpy())  # seeded
    assert not enc.model.training  # back in eval mode
    assert all(torch.equal(before[k], v) for k, v in enc.model.state_dict().items())  # frozen
    clean = encode(enc, texts, batch_size=4, max_length=8, pooling="cls", progress=False)
    enc.model.config.hidden_dropout_prob = 0.0
    for m in enc.model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    np.testing.assert_allclose(feats(torch.tensor([0, 1, 2, 3])).numpy(), clean, atol=1e-5)  # no dropout: eval


def test_train_head_with_batch_features_uses_them(tmp_path):
    x, y = _blobs()
    calls = []

    def features(idx):
        calls.append(len(idx))
        return torch.as_tensor(x[idx.numpy()]) + 0.0

    _, h_cached = train_head(x, y, x, y, 4, seed=0, **HEAD)
    _, h_fn = train_head(x, y, x, y, 4, seed=0, batch_features=features, **HEAD)
    assert sum(calls) == HEAD["epochs"] * len(x)  # every row, every epoch
    np.testing.assert_allclose(h_fn["val_loss"], h_cached["val_loss"], rtol=1e-6)  # same features, same run
    assert {"batch_loss", "device"} <= set(h_fn.columns)
