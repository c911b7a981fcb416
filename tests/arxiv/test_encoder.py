"""Tests of lib.arxiv.encoder: hash verification before loading, pooling, encoding order, embedding cache."""

import json
import shutil

import numpy as np
import pytest
import torch

from lib.arxiv import encoder as text_encoder
from lib.arxiv.encoder import PACKAGED, PACKAGED_SHA256, cached_embeddings, pool, verify_model_dir, write_tiny_bert
from lib.core.checksums import DataError

TEXTS = ["a b c", "hello world", "x", "the quick brown fox jumps", "abc 123"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return write_tiny_bert(root / "A", seed=0), write_tiny_bert(root / "B", seed=1)


@pytest.fixture(scope="module")
def tampered(tmp_path_factory):
    """A copy of the packaged model folder with one byte of the weights flipped."""
    dst = tmp_path_factory.mktemp("tampered") / "model"
    shutil.copytree(text_encoder.packaged_model_dir(), dst)
    with open(dst / "model.safetensors", "r+b") as fh:
        fh.seek(4096)
        b = fh.read(1)
        fh.seek(4096)
        fh.write(bytes([b[0] ^ 0xFF]))
    return dst


def test_packaged_weights_match_official_hashes():
    assert verify_model_dir(text_encoder.packaged_model_dir(), PACKAGED_SHA256) == PACKAGED_SHA256


def test_tampered_weights_refused_and_nothing_loaded(tampered, monkeypatch):
    with pytest.raises(DataError, match="checksum mismatch"):
        verify_model_dir(tampered, PACKAGED_SHA256)
    calls = []
    import transformers

    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(text_encoder, "packaged_model_dir", lambda: tampered)
    with pytest.raises(DataError, match="model.safetensors"):
        text_encoder.load_encoder(PACKAGED)
    with pytest.raises(DataError):
        cached_embeddings(["x"], encoder=PACKAGED, cache_dir=tampered.parent / "cache")
    assert calls == []


def test_tampered_vocab_refused(tmp_path):
    dst = tmp_path / "m"
    dst.mkdir()
    src = text_encoder.packaged_model_dir()
    for name in ("model.safetensors", "config.json"):
        (dst / name).symlink_to(src / name)
    (dst / "vocab.txt").write_text((src / "vocab.txt").read_text() + "extra\n")
    with pytest.raises(DataError, match="vocab.txt"):
        verify_model_dir(dst, PACKAGED_SHA256)


def test_remote_code_config_refused(tiny, tmp_path):
    dst = shutil.copytree(tiny[0], tmp_path / "remote")
    cfg = json.loads((dst / "config.json").read_text())
    cfg["auto_map"] = {"AutoModel": "modeling_evil.EvilModel"}
    (dst / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(DataError, match="custom code"):
        text_encoder.load_encoder(str(dst))


def test_bert_base_absent_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="never downloaded"):
        text_encoder.hf_cache_dir("bert-base-uncased", cache_dir=tmp_path)


def test_unknown_encoder_and_pooling():
    with pytest.raises(ValueError, match="encoder must be one of"):
        text_encoder.resolve_encoder("no-such-model")
    with pytest.raises(ValueError, match="pooling"):
        pool(torch.zeros(1, 2, 3), torch.ones(1, 2), "max")


def test_pooling_exact():
    hidden = torch.arange(12, dtype=torch.float32).reshape(1, 4, 3)
    mask = torch.tensor([[1, 1, 0, 0]])
    assert pool(hidden, mask, "cls").tolist() == [[0.0, 1.0, 2.0]]
    assert pool(hidden, mask, "mean").tolist() == [[1.5, 2.5, 3.5]]


def test_encode_batched_equals_one_by_one(tiny):
    enc = text_encoder.load_encoder(str(tiny[0]))
    assert enc.hidden_size == 16
    batched = text_encoder.encode(enc, TEXTS, batch_size=2, max_length=16, progress=False)
    single = np.stack([text_encoder.encode(enc, [t], batch_size=1, max_length=16, progress=False)[0] for t in TEXTS])
    assert batched.shape == (5, 16)
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_cache_hit_and_invalidation(tiny, tmp_path):
    a, b = (str(p) for p in tiny)
    kw = {"max_length": 16, "cache_dir": tmp_path, "progress": False}
    e1, i1 = cached_embeddings(TEXTS, encoder=a, **kw)
    e2, i2 = cached_embeddings(TEXTS, encoder=a, **kw)
    assert (i1["hit"], i2["hit"]) == (False, True) and i1["key"] == i2["key"]
    np.testing.assert_array_equal(e1, e2)
    # encoder changed -> new key, recomputed, different embeddings
    e3, i3 = cached_embeddings(TEXTS, encoder=b, **kw)
    assert not i3["hit"] and i3["key"] != i1["key"] and not np.allclose(e1, e3)
    # data changed (one text) -> recomputed
    changed = TEXTS[:-1] + ["abc 124"]
    _, i4 = cached_embeddings(changed, encoder=a, **kw)
    assert not i4["hit"] and i4["key"] != i1["key"]
    # pooling or max_length changed -> recomputed
    assert not cached_embeddings(TEXTS, encoder=a, pooling="mean", **kw)[1]["hit"]
    assert not cached_embeddings(TEXTS, encoder=a, **{**kw, "max_length": 8})[1]["hit"]
    # same weights in another folder -> same key (the key is content, not path)
    c = shutil.copytree(a, tmp_path / "copy_of_A")
    assert cached_embeddings(TEXTS, encoder=str(c), **kw)[1]["key"] == i1["key"]


def test_cache_key_is_order_and_boundary_sensitive():
    sums = {"model.safetensors": "0" * 64}
    k = text_encoder.cache_key(sums, ["ab", "c"], "cls", 16)
    assert k != text_encoder.cache_key(sums, ["a", "bc"], "cls", 16)
    assert k != text_encoder.cache_key(sums, ["c", "ab"], "cls", 16)
    assert k == text_encoder.cache_key(dict(sums), ["ab", "c"], "cls", 16)
