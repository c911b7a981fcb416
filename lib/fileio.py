"""File input/output: checksums, atomic writes, metrics/table writers, params.

Every writer here is atomic: it writes to a temporary sibling and renames it
into place, so an error never leaves a half-written file or folder under
``data/`` (SPEC §9).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from lib import paths


class DataError(ValueError):
    """Bad input data. The message always names the offending file and the problem."""

    def __init__(self, path: os.PathLike | str, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


# ---------------------------------------------------------------- checksums
def sha256_file(path: os.PathLike | str, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def read_sha256sums(sums_file: os.PathLike | str) -> dict[str, str]:
    """Parse a ``sha256sum``-style file (``<hex>  <relative path>`` per line)."""
    sums_file = Path(sums_file)
    out: dict[str, str] = {}
    for lineno, line in enumerate(sums_file.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise DataError(sums_file, f"line {lineno} is not '<sha256>  <path>': {line!r}")
        out[parts[1].strip().lstrip("*")] = parts[0].lower()
    return out


def verify_sha256sums(folder: os.PathLike | str, sums: Mapping[str, str] | os.PathLike | str) -> int:
    """Check every file listed in ``sums`` (mapping or SHA256SUMS path) under ``folder``.

    Returns the number of files verified; raises DataError naming the first
    missing file or checksum mismatch.
    """
    folder = Path(folder)
    if not isinstance(sums, Mapping):
        sums = read_sha256sums(sums)
    for rel, expected in sums.items():
        path = folder / rel
        if not path.is_file():
            raise DataError(path, "listed in SHA256SUMS but missing")
        got = sha256_file(path)
        if got != expected:
            raise DataError(path, f"checksum mismatch: expected sha256 {expected}, got {got}")
    return len(sums)


def write_sha256sums(folder: os.PathLike | str, name: str = "SHA256SUMS") -> Path:
    """Write ``SHA256SUMS`` for every file under ``folder`` (sorted, relative paths)."""
    folder = Path(folder)
    lines = [
        f"{sha256_file(p)}  {p.relative_to(folder).as_posix()}"
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != name
    ]
    out = folder / name
    atomic_write_text(out, "\n".join(lines) + "\n")
    return out


# ---------------------------------------------------------------- atomic writes
@contextlib.contextmanager
def atomic_dir(target: os.PathLike | str, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``target``; on success it replaces ``target``.

    On any exception the temporary folder is removed and ``target`` is left as
    it was, so nothing half-written is ever visible at ``target``.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target}: already exists")
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()


def atomic_write_bytes(path: os.PathLike | str, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: os.PathLike | str, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


# ---------------------------------------------------------------- json / metrics
def _to_jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _to_jsonable(obj.tolist())
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, Path):
        return obj.as_posix()
    return obj


def write_json(path: os.PathLike | str, obj: Any) -> Path:
    """Atomic, sorted, indented JSON; numpy scalars/arrays converted, NaN -> null."""
    return atomic_write_text(path, json.dumps(_to_jsonable(obj), indent=2, sort_keys=True) + "\n")


def read_json(path: os.PathLike | str) -> Any:
    return json.loads(Path(path).read_text())


def write_metrics(notebook: str, run: str, metrics: Mapping[str, Any]) -> Path:
    """Write ``metrics/<run>/<notebook>.json`` (the notebook's DVC metrics file).

    ``metrics`` is a nested mapping of plain numbers/strings. Call it once at the
    end of a notebook with everything the notebook reports.
    """
    return write_json(paths.metrics_file(notebook, run), metrics)


def write_table(df, name: str, notebook: str, run: str, *, index: bool = False, floatfmt: str = ".4f") -> tuple[Path, Path]:
    """Write a pandas DataFrame as ``tables/<run>/<notebook>/<name>.csv`` and ``.md``."""
    if not name or "/" in name:
        raise ValueError(f"table name must be a plain file stem, got {name!r}")
    folder = paths.table_dir(notebook, run)
    csv_path = atomic_write_text(folder / f"{name}.csv", df.to_csv(index=index, float_format="%.6g"))
    md_path = atomic_write_text(folder / f"{name}.md", to_markdown(df, index=index, floatfmt=floatfmt) + "\n")
    return csv_path, md_path


def to_markdown(df, *, index: bool = False, floatfmt: str = ".4f") -> str:
    """A GitHub Markdown table of a DataFrame (no ``tabulate`` dependency)."""

    def fmt(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return "" if math.isnan(float(v)) else format(float(v), floatfmt)
        return str(v).replace("|", "\\|").replace("\n", " ")

    cols = ([df.index.name or ""] if index else []) + [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join(["---"] * len(cols)) + "|"]
    for idx, row in df.iterrows():
        cells = ([fmt(idx)] if index else []) + [fmt(v) for v in row.tolist()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------- params
def load_params(section: str | None = None, run: str = "default") -> dict:
    """``params.yaml`` (optionally one section), with ``params_real.yaml`` overrides for run='real'."""
    params = yaml.safe_load(paths.PARAMS.read_text()) or {}
    if run == "real" and paths.PARAMS_REAL.exists():
        real = yaml.safe_load(paths.PARAMS_REAL.read_text()) or {}
        for key, value in real.items():
            if isinstance(value, dict) and isinstance(params.get(key), dict):
                params[key] = {**params[key], **value}
            else:
                params[key] = value
    elif run not in paths.RUNS:
        raise ValueError(f"run must be one of {paths.RUNS}, got {run!r}")
    if section is None:
        return params
    if section not in params:
        raise ValueError(f"params section {section!r} not found; have {sorted(params)}")
    return params[section]
