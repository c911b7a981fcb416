"""File output: atomic writes, JSON, metrics and table writers.

Every writer here is atomic: it writes to a temporary sibling and renames it
into place, so an error never leaves a half-written file or folder under ``data/``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lib.core import paths


# ---------------------------------------------------------------- signals
class Terminated(KeyboardInterrupt):
    """SIGTERM received: raised like Ctrl-C (SIGINT) so that every ``except BaseException`` cleanup runs."""


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`Terminated` in the main thread, so a killed import or run cleans
    up exactly as after Ctrl-C (temporaries removed, nothing half-written); the previous handler is restored
    after. Outside the main thread (where no handler can be set) it does nothing."""

    def handler(signum, frame):
        raise Terminated(f"signal {signal.Signals(signum).name}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# ---------------------------------------------------------------- atomic writes
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_tmp(target: os.PathLike | str) -> list[Path]:
    """Remove ``.<name>.tmp-<pid>-*`` folders beside ``target`` left by a killed process; return them.

    A temporary folder whose process is still alive (an import running in parallel) is kept.
    """
    target = Path(target)
    removed = []
    for tmp in target.parent.glob(f".{target.name}.tmp-*"):
        pid = tmp.name[len(f".{target.name}.tmp-") :].split("-", 1)[0]
        if pid.isdigit() and _pid_alive(int(pid)) and int(pid) != os.getpid():
            continue
        shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


@contextlib.contextmanager
def atomic_dir(target: os.PathLike | str, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``target``; on success it replaces ``target``.

    On any exception the temporary folder is removed and ``target`` is left as
    it was, so nothing half-written is ever visible at ``target``. Temporary folders
    left beside ``target`` by a killed process are removed first.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target}: already exists")
    remove_stale_tmp(target)
    with sigterm_as_interrupt():  # SIGTERM cleans up like SIGINT: no .<name>.tmp-* left behind
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent))
        old = None
        try:
            yield tmp
            if target.exists():
                old = target.parent / f".{target.name}.old-{os.getpid()}"
                os.replace(target, old)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            if old is not None and old.exists() and not target.exists():
                os.replace(old, target)  # interrupted between the two renames: the previous copy goes back
            raise
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


def write_table(
    df, name: str, notebook: str, run: str, *, index: bool = False, floatfmt: str = ".4f"
) -> tuple[Path, Path]:
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
