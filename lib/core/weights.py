"""The one checked loader for weight files: a bad file is a :class:`DataError` naming it, never a bare crash.

``checked_keras_h5(path)`` opens a Keras ``.h5`` weights file read-only before Keras does and refuses, naming
the file: a missing file, a symbolic link leaving its folder, a file that is not HDF5 (no signature), a
truncated or corrupt HDF5 file (h5py cannot open it), and a foreign HDF5 file (no Keras ``layer_names``, or
none of the layers the caller expects). Keras then reads a file known to open. (SPEC section 9: weights are
safetensors, ``torch.load(weights_only=True)`` or Keras HDF5 read as data; never code shipped with a model.)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from lib.core.checksums import DataError

#: the HDF5 format signature; HDF5 looks for it at offset 0, 512, 1024, 2048, ... (a user block may precede it)
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _has_hdf5_signature(path: Path) -> bool:
    size = path.stat().st_size
    with open(path, "rb") as fh:
        offset = 0
        while offset + len(HDF5_SIGNATURE) <= size:
            fh.seek(offset)
            if fh.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
                return True
            offset = 512 if offset == 0 else offset * 2
    return False


def checked_keras_h5(path: os.PathLike | str, *, expect_layers: Iterable[str] = ()) -> Path:
    """``path`` after checking it is a readable Keras HDF5 weights file (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "weights file missing")
    if path.is_symlink() and not path.resolve().is_relative_to(path.parent.resolve()):
        raise DataError(path, f"a symbolic link to {path.resolve()}, outside its folder: refused")
    if path.stat().st_size == 0:
        raise DataError(path, "empty weights file (0 bytes)")
    if not _has_hdf5_signature(path):
        raise DataError(path, "not an HDF5 file (no HDF5 signature): not a Keras .h5 weights file")
    import h5py

    try:
        with h5py.File(path, "r") as f:
            group = f["model_weights"] if "model_weights" in f else f
            names = group.attrs.get("layer_names")
            if names is None:
                raise DataError(path, "an HDF5 file without Keras 'layer_names': not a Keras weights file")
            names = {n.decode() if isinstance(n, bytes) else str(n) for n in names}
            missing = sorted(set(expect_layers) - names)
            if missing:
                raise DataError(
                    path, f"Keras weights of another model: no layer(s) {', '.join(missing[:5])} ({len(names)} layers)"
                )
            for name in list(names)[:1]:
                _ = group[name]  # touch one layer group: a truncated file fails here if not at open
    except DataError:
        raise
    except (OSError, KeyError, ValueError) as err:
        reason = str(err).split(" (", 1)[0] if "truncated" not in str(err) else "truncated file"
        raise DataError(path, f"unreadable HDF5 weights file ({reason}): download or copy it again") from None
    return path
