"""The one feature cache for images and texts: keyed, atomic, byte-reproducible.

An entry is one uncompressed ``.npz`` named by its key: the arrays plus a JSON ``meta`` member.
- **Key.** :func:`cache_key` hashes every input that changes the arrays (data fingerprint, weights
  hashes, model settings, library versions, a code-version salt): different inputs, different file.
- **Same bytes for the same arrays.** Members carry fixed timestamps (``np.savez`` stamps the time).
- **Same arrays on every machine of a kind.** The default pipeline computes features with the kernels pinned by
  :mod:`lib.core.determinism` (AVX2 level, one thread), so an AVX2 and an AVX-512 processor give the same bits.
  Float features are also rounded to :data:`DECIMALS` decimal places (:func:`round_features`); rounding
  alone does NOT make them machine-independent (a value near a rounding
  boundary still flips: 4 of 3,072 text-embedding values and 37 of 5,120 image-feature values did between
  AVX-512 and AVX2 kernels, ``scripts/check_dispatch.py``).
- **Corruption is detected.** A truncated or unreadable entry is reported (naming the file) and
  rebuilt by the caller; it is never half-read.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from lib.core.io import atomic_write_bytes

#: decimal places kept in cached float features (see the module docstring)
DECIMALS = 4


def cache_key(**parts: Any) -> str:
    """sha256 hex of the canonical JSON of ``parts`` (str/int/float/list/dict values)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def round_features(x: np.ndarray, decimals: int = DECIMALS) -> np.ndarray:
    """``x`` rounded to ``decimals`` places, as float32 (``-0.0`` normalised to ``0.0``)."""
    out = np.round(np.asarray(x, dtype=np.float64), decimals).astype(np.float32)
    out[out == 0] = 0.0
    return out


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An uncompressed ``.npz`` (readable by ``np.load``) with fixed member timestamps: same arrays, same bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with zf.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(arr), allow_pickle=False)
    return buf.getvalue()


def store(path: os.PathLike | str, arrays: dict[str, np.ndarray], meta: dict) -> Path:
    """Write one entry atomically: ``arrays`` plus ``meta`` (JSON) as the member ``meta``."""
    if "meta" in arrays:
        raise ValueError("'meta' is reserved for the entry's metadata")
    members = {**arrays, "meta": np.asarray(json.dumps(meta, sort_keys=True))}
    return atomic_write_bytes(path, npz_bytes(members))


def load(path: os.PathLike | str) -> tuple[dict[str, np.ndarray], dict] | None:
    """``(arrays, meta)`` of an entry; None when absent or corrupt (corrupt: a warning naming the file)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {name: z[name] for name in z.files if name != "meta"}
            meta = json.loads(str(z["meta"]))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        warnings.warn(f"{path}: corrupt cache entry ({type(err).__name__}: {err}); rebuilding it", stacklevel=2)
        return None
    return arrays, meta
