"""Checksums and the one error type for bad input data.

``DataError(path, problem)`` is raised for every bad input: its message names the
offending file and the problem. SHA256SUMS files are the ``sha256sum`` format.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from lib.core.io import atomic_write_text


class DataError(ValueError):
    """Bad input data. The message always names the offending file and the problem."""

    def __init__(self, path: os.PathLike | str, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def sha256_file(path: os.PathLike | str, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def check_entry(entry: str, sums_file: os.PathLike | str, pattern: str | re.Pattern | None = None) -> str:
    """Validate one SHA256SUMS path entry before anything is read or written; return it.

    Refused (``DataError`` naming ``sums_file``): empty, absolute (``/x``, ``C:``), a backslash, any
    ``..`` / ``.`` / empty component (``a//b``), NUL or control characters, and, when ``pattern`` is
    given, an entry that does not fully match it (the form the dataset expects, e.g. ``\\d{3}\\.(dat|hea|atr)``).
    """
    if not entry:
        raise DataError(sums_file, "empty path entry")
    if any(ord(ch) < 32 for ch in entry):
        raise DataError(sums_file, f"entry {entry!r} contains a control character")
    if "\\" in entry or entry.startswith("/") or re.match(r"^[A-Za-z]:", entry):
        raise DataError(sums_file, f"entry {entry!r} is not a relative POSIX path inside the folder")
    parts = entry.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise DataError(sums_file, f"entry {entry!r} is not a normalised path inside the folder (no '..', '.', '//')")
    if pattern is not None and not re.fullmatch(pattern, entry):
        raise DataError(
            sums_file,
            f"entry {entry!r} is not a file this dataset has (expected {getattr(pattern, 'pattern', pattern)})",
        )
    return entry


def read_sha256sums(sums_file: os.PathLike | str, pattern: str | re.Pattern | None = None) -> dict[str, str]:
    """Parse a ``sha256sum``-style file (``<hex>  <relative path>`` per line), every entry validated.

    Each path goes through :func:`check_entry` (with ``pattern`` when given); a malformed line,
    a non-hex digest or a duplicate entry is a ``DataError`` naming ``sums_file``.
    """
    sums_file = Path(sums_file)
    try:
        text = sums_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(sums_file, "SHA256SUMS file missing") from None
    except UnicodeDecodeError as err:
        raise DataError(sums_file, f"not UTF-8 text ({err.reason} at byte {err.start})") from None
    out: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or not re.fullmatch(r"[0-9a-fA-F]{64}", parts[0]):
            raise DataError(sums_file, f"line {lineno} is not '<sha256>  <path>': {line!r}")
        entry = check_entry(parts[1].strip().lstrip("*"), sums_file, pattern)
        if entry in out:
            raise DataError(sums_file, f"line {lineno}: {entry!r} listed twice")
        out[entry] = parts[0].lower()
    return out


def inside(folder: os.PathLike | str, rel: str) -> Path:
    """``folder / rel`` after checking that it resolves (symlinks followed) inside ``folder``."""
    folder = Path(folder)
    path = folder / check_entry(rel, folder)
    real = path.resolve()
    if not real.is_relative_to(folder.resolve()):
        raise DataError(path, f"resolves to {real}, outside {folder} (a symlink escaping the folder)")
    return path


def verify_sha256sums(folder: os.PathLike | str, sums: Mapping[str, str] | os.PathLike | str) -> int:
    """Check every file listed in ``sums`` (mapping or SHA256SUMS path) under ``folder``.

    Returns the number of files verified; raises DataError naming the first unsafe entry, missing
    file or checksum mismatch. Every path is checked to stay inside ``folder`` before it is read.
    """
    folder = Path(folder)
    if not isinstance(sums, Mapping):
        sums = read_sha256sums(sums)
    for rel, expected in sums.items():
        path = inside(folder, rel)
        if not path.is_file():
            raise DataError(path, "listed in SHA256SUMS but missing")
        got = sha256_file(path)
        if got != expected:
            raise DataError(path, f"checksum mismatch: expected sha256 {expected}, got {got}")
    return len(sums)


def require_listed(sums: Mapping[str, str], needed: Iterable[str], sums_file: os.PathLike | str) -> None:
    """Every file in ``needed`` must be listed in ``sums`` (e.g. a record's .hea, .dat and .atr)."""
    missing = sorted(set(needed) - set(sums))
    if missing:
        shown = ", ".join(missing[:5]) + (f" (+{len(missing) - 5} more)" if len(missing) > 5 else "")
        raise DataError(sums_file, f"does not list {shown}: every file the dataset needs must be listed and verified")


# ---------------------------------------------------------------- verified marker
MARKER = ".verified.json"

#: a verified folder up to this many bytes is rehashed in full on every check (a few tenths of a second);
#: a larger one is checked by size, mtime and inode (as DVC does), rehashing only files whose stat changed
AUTO_REHASH_BYTES = 128 * 2**20

#: files a verified folder may hold at its top level without a SHA256SUMS entry: documentation and provenance
#: notes written beside the data (an import's SOURCE.md, a fetch's fetch.json), never read as data
UNLISTED_OK = frozenset({"SOURCE.md", "README.md", "LICENSE", "LICENSE.txt", "fetch.json"})

#: set REPRO_REHASH=1 to rehash every verified folder in full on load, whatever its size
REHASH_ENV = "REPRO_REHASH"


def _stat_record(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino}


def write_verified_marker(folder: os.PathLike | str, sums_name: str = "SHA256SUMS") -> Path:
    """Record, atomically, that ``folder`` was verified against its SHA256SUMS (call at the end of an import).

    The marker holds the SHA256SUMS digest and, per listed file, its size, mtime (ns) and inode at verification
    time; :func:`check_verified` compares them (renaming the folder into place keeps all three).
    """
    folder = Path(folder)
    sums = read_sha256sums(folder / sums_name)
    info = {
        "version": 2,
        "sha256sums": sha256_file(folder / sums_name),
        "files": {rel: _stat_record(inside(folder, rel)) for rel in sorted(sums)},
    }
    return atomic_write_text(folder / MARKER, json.dumps(info, indent=1, sort_keys=True) + "\n")


def _walk_files(folder: Path) -> Iterable[tuple[Path, bool]]:
    """(path, is_symlink) of everything below ``folder`` that is not a plain folder; symlinks are not followed."""
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        base = Path(dirpath)
        for name in dirnames:
            if (base / name).is_symlink():
                yield base / name, True
        for name in filenames:
            p = base / name
            yield p, p.is_symlink()


def check_verified(
    folder: os.PathLike | str, sums_name: str = "SHA256SUMS", *, rehash: bool | None = None, extra: Iterable[str] = ()
) -> int:
    """Raise :class:`DataError` unless ``folder`` is exactly what was verified; return the files checked.

    Refused: no marker or an unreadable one; a changed SHA256SUMS; a symbolic link anywhere in the folder;
    a file SHA256SUMS does not list (besides the list, the marker, :data:`UNLISTED_OK` at the top level and
    the names in ``extra``); a listed
    file missing; a listed file changed since verification. "Changed": its size, mtime or inode differs from
    the marker and its content no longer matches SHA256SUMS (a file rewritten with the same content, e.g. by
    ``dvc checkout``, passes). ``rehash``: True rehashes every listed file (a change that kept size, mtime
    and inode is caught too); None (default) does so when the folder holds at most :data:`AUTO_REHASH_BYTES`
    or ``REPRO_REHASH=1`` is set; False only rehashes files whose stat changed.
    """
    folder = Path(folder)
    marker = folder / MARKER
    if folder.is_symlink():
        raise DataError(folder, "is a symbolic link: a verified folder must be a real folder")
    if not marker.is_file() or marker.is_symlink():
        raise DataError(folder, f"not a verified import (no {MARKER}): import it again")
    sums_file = folder / sums_name
    if sums_file.is_symlink():
        raise DataError(sums_file, "is a symbolic link: refused in a verified folder")
    try:
        info = json.loads(marker.read_text())
        ok = info["sha256sums"] == sha256_file(sums_file)
    except (ValueError, KeyError, TypeError, FileNotFoundError):
        raise DataError(marker, "unreadable verification marker: import the folder again") from None
    if not ok:
        raise DataError(sums_file, "changed since the folder was verified: import it again")
    sums = read_sha256sums(sums_file)
    allowed = {sums_name, MARKER, *UNLISTED_OK, *extra}
    for path, is_link in _walk_files(folder):
        rel = path.relative_to(folder).as_posix()
        if is_link:
            raise DataError(path, "a symbolic link inside a verified folder: refused (links are never followed)")
        if rel not in sums and rel not in allowed:
            raise DataError(
                path, f"not listed in {sums_name}: not part of the verified import (remove it or import again)"
            )
    recorded = info.get("files")
    if not isinstance(recorded, dict):  # a marker of an older version (sizes only): verify every file in full
        recorded, rehash = {}, True
    if rehash is None:
        total = sum(int(r.get("size", 0)) for r in recorded.values() if isinstance(r, dict))
        rehash = total <= AUTO_REHASH_BYTES or os.environ.get(REHASH_ENV, "") in ("1", "true", "yes")
    for rel, expected in sums.items():
        path = inside(folder, rel)
        if not path.is_file():
            raise DataError(path, "missing or changed since the folder was verified (listed in SHA256SUMS, not there)")
        if rehash or _stat_record(path) != recorded.get(rel):
            got = sha256_file(path)
            if got != expected:
                raise DataError(
                    path,
                    f"missing or changed since the folder was verified: the copy changed (sha256 {got}, verified "
                    f"{expected}); import it again",
                )
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
