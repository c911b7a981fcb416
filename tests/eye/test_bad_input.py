"""Bad input for the eye images, table-driven: each case raises ``DataError`` whose message names the file the user
gave (never a temporary copy) and the problem, and leaves the data folders unchanged (nothing half-written)."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lib.core.checksums import DataError, sha256_file
from lib.eye import data as eye_data
from lib.eye import synth


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    return synth.generate(tmp_path_factory.mktemp("bad") / "eye", seed=1, n_per_class=2, size=48, progress=False)


def _tree(folder: Path) -> str:
    """A digest of every path and file content under ``folder`` (hidden files included)."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        h.update(p.relative_to(folder).as_posix().encode())
        if p.is_file() and not p.is_symlink():
            h.update(p.read_bytes())
    return h.hexdigest()


def _append_sums(src: Path, rel: str, digest: str | None = None):
    with open(src / "SHA256SUMS", "a") as fh:
        fh.write(f"{digest or sha256_file(src / rel)}  {rel}\n")


def _add_image(src: Path, rel: str, data: bytes):
    (src / rel).write_bytes(data)
    _append_sums(src, rel)


def _png(size, mode="RGB") -> bytes:
    import io

    buf = io.BytesIO()
    Image.new(mode, size).save(buf, format="PNG")
    return buf.getvalue()


def _first(src: Path, cls: str = "normal") -> Path:
    return sorted((src / cls).glob("*.jpg"))[0]


# (case id, how to break a copy of the source folder, expected file name in the message, expected problem)
IMPORT_CASES = [
    (
        "traversal entry",
        lambda s: _append_sums(s, "../../etc/passwd", "0" * 64),
        "SHA256SUMS",
        r"not a normalised path",
    ),
    ("absolute entry", lambda s: _append_sums(s, "/etc/passwd", "0" * 64), "SHA256SUMS", r"not a relative POSIX path"),
    (
        "entry outside <class>/<image>",
        lambda s: _append_sums(s, "normal/sub/x.jpg", "0" * 64),
        "SHA256SUMS",
        r"not a file this dataset has",
    ),
    ("unknown class entry", lambda s: _append_sums(s, "flu/x.jpg", "0" * 64), "SHA256SUMS", r"not a file this dataset"),
    ("SHA256SUMS missing", lambda s: (s / "SHA256SUMS").unlink(), "SHA256SUMS", r"missing: cannot verify"),
    (
        "checksum mismatch",
        lambda s: _first(s).write_bytes(_first(s).read_bytes() + b"x"),
        "normal/",
        r"checksum mismatch",
    ),
    ("corrupt image", lambda s: _add_image(s, "glaucoma/9_left.jpg", b"\xff\xd8 junk"), "9_left.jpg", r"corrupt"),
    (
        "truncated image",
        lambda s: _add_image(s, "glaucoma/9_left.jpg", _first(s).read_bytes()[:300]),
        "9_left.jpg",
        r"corrupt or unreadable",
    ),
    (
        "1x1 image",
        lambda s: _add_image(s, "cataract/9_left.png", _png((1, 1))),
        "9_left.png",
        r"below the minimum side",
    ),
    (
        "decompression bomb",
        lambda s: _add_image(s, "cataract/9_left.png", _png((8000, 7000), "1")),
        "9_left.png",
        r"decompression bomb",
    ),
    (
        "unknown class folder",
        lambda s: (s / "flu").mkdir() or (s / "flu" / "1_left.jpg").write_bytes(b"x"),
        "flu",
        r"unknown class folder 'flu'",
    ),
    (
        "class without images",
        lambda s: (s / "SHA256SUMS").write_text(
            "".join(ln + "\n" for ln in (s / "SHA256SUMS").read_text().splitlines() if "normal/" not in ln)
        ),
        "normal",
        r"class 'normal' has no images listed",
    ),
    (
        "symlink escaping the folder",
        lambda s: os.symlink("/etc/hostname", s / "normal" / "9_left.jpg") or _append_sums(s, "normal/9_left.jpg"),
        "9_left.jpg",
        r"outside",
    ),
]


@pytest.mark.parametrize("case, breaker, where, problem", IMPORT_CASES, ids=[c[0] for c in IMPORT_CASES])
def test_import_refuses(gen, tmp_path, case, breaker, where, problem):
    src = tmp_path / "src"
    shutil.copytree(gen, src)
    breaker(src)
    before = _tree(src)
    out = tmp_path / "out"
    with pytest.raises(DataError, match=problem) as err:
        eye_data.import_local(src, out, progress=False)
    msg = str(err.value)
    assert where in msg and str(src) in msg and ".tmp-" not in msg, msg  # names the source, never a temp copy
    assert _tree(src) == before and not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # nothing half-written


def _edit_image(root: Path):
    victim = _first(root)
    victim.write_bytes(victim.read_bytes()[:-10])


LOAD_CASES = [
    ("no verified marker", lambda r: (r / ".verified.json").unlink(), "", r"not a verified import"),
    ("image changed after import", _edit_image, "normal/", r"changed since the folder was verified"),
    (
        "unlisted image added",
        lambda r: shutil.copy(_first(r), r / "normal" / "9_left.jpg"),
        "9_left.jpg",
        r"not listed in SHA256SUMS",
    ),
    ("unknown class folder", lambda r: (r / "flu").mkdir(), "flu", r"unknown class folder"),
    ("SHA256SUMS edited", lambda r: _append_sums(r, "normal/x.jpg", "0" * 64), "SHA256SUMS", r"changed since"),
]


@pytest.mark.parametrize("case, breaker, where, problem", LOAD_CASES, ids=[c[0] for c in LOAD_CASES])
def test_load_verifies_the_import(gen, tmp_path, case, breaker, where, problem):
    root = eye_data.import_local(gen, tmp_path / "imported", progress=False)
    breaker(root)
    before = _tree(root)
    with pytest.raises(DataError, match=problem) as err:
        eye_data.load(root, size=32, progress=False)
    assert where in str(err.value) and str(root) in str(err.value)
    assert _tree(root) == before


def test_fetch_refuses_unverifiable_download(tmp_path):
    with pytest.raises(DataError, match="publishes no checksums") as err:
        eye_data.fetch(tmp_path / "kaggle")
    assert "kaggle:gunavenkatdoddi/eye-diseases-classification" in str(err.value)
    assert "--allow-unverified" in str(err.value)
    assert not (tmp_path / "kaggle").exists()
    assert eye_data.main(["fetch", "--out", str(tmp_path / "kaggle")]) == 2  # the CLI prints the error, exit 2


def test_integer_image_out_of_16_bit_range_refused():
    im = Image.fromarray(np.full((40, 40), 70000, dtype=np.int32))  # mode "I" (as a TIFF could decode)
    with pytest.raises(DataError, match="i32.png: I image with values outside 0..65535"):
        eye_data._to_rgb8(im, Path("i32.png"))
