"""Tests of lib.arxiv.encoder: hash verification before loading, pooling, encoding order, embedding cache."""

import json
import shutil

import numpy as np
import pytest
import torch

from lib.arxiv import encoder as text_encoder
from lib.arxiv.encoder import PACKAGED, PACKAGED_SHA256, cached_embeddings, pool, verify_model_dir
from lib.core.checksums import DataError
from tests.arxiv.helpers import write_tiny_bert

TEXTS = ["a b c", "hello world", "x", "the quick brown fox jumps", "abc 123"]
KW = {"pooling": "cls", "max_length": 16, "batch_size": 32, "progress": False}


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
        cached_embeddings(["x"], **{**KW, "encoder": PACKAGED, "cache_dir": tampered.parent / "cache"})
    assert calls == []


def test_tampered_vocab_refused(tmp_path):
    dst = tmp_path / "m"
    dst.mkdir()
    src = text_encoder.packaged_model_dir()
    for name in PACKAGED_SHA256:
        if name != "vocab.txt":
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
    with pytest.raises(FileNotFoundError, match="never downloaded") as err:
        text_encoder.hf_cache_dir("distilbert-base-cased", cache_dir=tmp_path)
    assert f"--revision {text_encoder.PAPER_REVISION}" in str(err.value)  # the pinned commit, and how to get it


def test_encode_sorts_by_tokens_and_keeps_the_input_order(tiny):
    """Batches are formed longest-first by token count; rows come back in the input order, equal to one by one."""
    enc = text_encoder.load_encoder(str(tiny[0]), device="cpu", progress=False)
    texts = ["x", "the quick brown fox jumps over", "a b", "hello world again", "q"]
    kw = {"max_length": 16, "pooling": "mean", "progress": False}
    batched = text_encoder.encode(enc, texts, batch_size=2, **kw)
    single = np.vstack([text_encoder.encode(enc, [t], batch_size=1, **kw) for t in texts])
    np.testing.assert_allclose(batched, single, atol=1e-5)
    assert text_encoder.encode(enc, [], batch_size=2, **kw).shape == (0, enc.hidden_size)


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
    kw = {"max_length": 16, "pooling": "cls", "progress": False}
    batched = text_encoder.encode(enc, TEXTS, batch_size=2, **kw)
    single = np.stack([text_encoder.encode(enc, [t], batch_size=1, **kw)[0] for t in TEXTS])
    assert batched.shape == (5, 16)
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_cache_hit_and_invalidation(tiny, tmp_path):
    a, b = (str(p) for p in tiny)
    kw = {**KW, "cache_dir": tmp_path}
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
    assert not cached_embeddings(TEXTS, encoder=a, **{**kw, "pooling": "mean"})[1]["hit"]
    assert not cached_embeddings(TEXTS, encoder=a, **{**kw, "max_length": 8})[1]["hit"]
    # same weights in another folder -> same key (the key is content, not path)
    c = shutil.copytree(a, tmp_path / "copy_of_A")
    assert cached_embeddings(TEXTS, encoder=str(c), **kw)[1]["key"] == i1["key"]


def test_cache_key_is_order_and_boundary_sensitive_and_covers_every_file():
    sums = {"model.safetensors": "0" * 64, "tokenizer.json": "1" * 64}
    k = text_encoder.cache_key(sums, ["ab", "c"], "cls", 16)
    assert k != text_encoder.cache_key(sums, ["a", "bc"], "cls", 16)
    assert k != text_encoder.cache_key(sums, ["c", "ab"], "cls", 16)
    assert k != text_encoder.cache_key({**sums, "tokenizer.json": "2" * 64}, ["ab", "c"], "cls", 16)
    assert k != text_encoder.cache_key(sums, ["ab", "c"], "mean", 16)
    assert k != text_encoder.cache_key(sums, ["ab", "c"], "cls", 17)
    assert k == text_encoder.cache_key(dict(sums), ["ab", "c"], "cls", 16)


def test_cache_key_includes_code_version_and_library_versions(monkeypatch):
    import transformers

    sums = {"model.safetensors": "0" * 64}
    k = text_encoder.cache_key(sums, ["a"], "cls", 16)
    monkeypatch.setattr(text_encoder, "CODE_VERSION", "other")
    assert text_encoder.cache_key(sums, ["a"], "cls", 16) != k
    monkeypatch.undo()
    monkeypatch.setattr(transformers, "__version__", "0.0.0")
    assert text_encoder.cache_key(sums, ["a"], "cls", 16) != k
    monkeypatch.undo()
    monkeypatch.setattr(torch, "__version__", "0.0.0")
    assert text_encoder.cache_key(sums, ["a"], "cls", 16) != k


def test_swapped_tokenizer_entries_refused(tmp_path):
    """Swapping two vocabulary entries of tokenizer.json changes the tokenization: refused before loading."""
    dst = tmp_path / "m"
    dst.mkdir()
    src = text_encoder.packaged_model_dir()
    for name in PACKAGED_SHA256:
        if name != "tokenizer.json":
            (dst / name).symlink_to(src / name)
    tok = json.loads((src / "tokenizer.json").read_text())
    vocab = tok["model"]["vocab"]
    vocab["the"], vocab["of"] = vocab["of"], vocab["the"]
    (dst / "tokenizer.json").write_text(json.dumps(tok))
    with pytest.raises(DataError, match="tokenizer.json: checksum mismatch"):
        verify_model_dir(dst, PACKAGED_SHA256)
    # an extra loadable file the pinned list does not have is refused too
    (dst / "tokenizer.json").unlink()
    (dst / "tokenizer.json").symlink_to(src / "tokenizer.json")
    (dst / "added_tokens.json").write_text('{"[NEW]": 30522}')
    with pytest.raises(DataError, match="added_tokens.json: not part of the pinned encoder files"):
        verify_model_dir(dst, PACKAGED_SHA256)


@pytest.mark.parametrize("damage", ["truncated", "not_safetensors"])
def test_bad_safetensors_is_a_data_error(tiny, tmp_path, damage):
    dst = shutil.copytree(tiny[0], tmp_path / damage)
    weights = dst / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"PK\x03\x04" + b"\0" * 64)
    with pytest.raises(DataError, match=r"model.safetensors: not a complete safetensors file"):
        text_encoder.load_encoder(str(dst))


def test_cache_entries_rounded_and_truncated_entry_rebuilt(tiny, tmp_path):
    kw = {**KW, "encoder": str(tiny[0]), "cache_dir": tmp_path}
    e1, i1 = cached_embeddings(TEXTS, **kw)
    np.testing.assert_array_equal(e1, np.round(e1.astype(np.float64), 4).astype(np.float32))
    entry = tmp_path / i1["file"]
    good = entry.read_bytes()
    entry.write_bytes(good[: len(good) // 2])
    with pytest.warns(UserWarning, match=f"{entry.name}: corrupt cache entry"):
        e2, i2 = cached_embeddings(TEXTS, **kw)
    assert not i2["hit"]
    np.testing.assert_array_equal(e1, e2)
    assert entry.read_bytes() == good
