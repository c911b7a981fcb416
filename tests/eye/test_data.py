"""Tests of lib.eye.data: class-folder loader, synthetic generator, import with checksums, bad input."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from lib.core import paths
from lib.core.checksums import DataError, read_sha256sums, sha256_file
from lib.eye import data as eye_data
from tests.conftest import needs_shared


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    out = tmp_path_factory.mktemp("eye") / "eye"
    return eye_data.generate(out, seed=3, n_per_class=4, size=64, png_every=2, progress=False)


def test_generate_layout_and_load(gen):
    files, labels = eye_data.list_images(gen)
    assert len(files) == 16 and np.bincount(labels).tolist() == [4, 4, 4, 4]
    assert {p.suffix for p in files} == {".jpg", ".png"}
    data = eye_data.load(gen, size=40, progress=False)
    assert data.images.shape == (16, 40, 40, 3) and data.images.dtype == np.uint8
    assert data.counts() == dict.fromkeys(eye_data.CLASSES, 4)
    assert "SYNTHETIC" in (gen / "SOURCE.md").read_text()
    assert eye_data.source_label(gen) == "synthetic data"
    sums = read_sha256sums(gen / "SHA256SUMS")
    assert len([k for k in sums if "/" in k]) == 16


def test_generate_deterministic(tmp_path, gen):
    again = eye_data.generate(tmp_path / "a", seed=3, n_per_class=4, size=64, png_every=2, progress=False)
    other = eye_data.generate(tmp_path / "b", seed=4, n_per_class=4, size=64, png_every=2, progress=False)
    assert (again / "SHA256SUMS").read_text() == (gen / "SHA256SUMS").read_text()
    assert (other / "SHA256SUMS").read_text() != (gen / "SHA256SUMS").read_text()


def test_generated_class_signal(tmp_path):
    root = eye_data.generate(tmp_path / "s", seed=0, n_per_class=6, size=128, progress=False)
    data = eye_data.load(root, size=128, progress=False)
    img = data.images.astype(float)
    sharp = np.abs(np.diff(img.mean(-1), axis=2)).mean(axis=(1, 2))  # blur lowers this
    yellow = ((img[..., 0] > 200) & (img[..., 1] > 170) & (img[..., 2] < 150)).mean(axis=(1, 2))  # exudates
    k = {c: data.labels == i for i, c in enumerate(data.classes)}
    assert sharp[k["cataract"]].max() < sharp[k["normal"]].min()
    assert yellow[k["diabetic_retinopathy"]].mean() > 3 * yellow[k["normal"]].mean()
    bright = (img.mean(-1) > 235).mean(axis=(1, 2))  # the pale optic cup
    assert bright[k["glaucoma"]].mean() > 1.5 * bright[k["normal"]].mean()


def _copy(gen, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(gen, dst)
    return dst


def test_corrupt_image_names_file(gen, tmp_path):
    root = _copy(gen, tmp_path)
    bad = root / "glaucoma" / "zz_bad.jpg"
    bad.write_bytes(b"this is not a jpeg")
    with pytest.raises(DataError, match="zz_bad.jpg.*corrupt"):
        eye_data.load(root, size=32, progress=False)


def test_truncated_image_names_file(gen, tmp_path):
    root = _copy(gen, tmp_path)
    good = sorted((root / "normal").glob("*.jpg"))[0]
    good.write_bytes(good.read_bytes()[:300])
    with pytest.raises(DataError, match=good.name):
        eye_data.load(root, size=32, progress=False)


def test_non_image_file_names_file(gen, tmp_path):
    root = _copy(gen, tmp_path)
    (root / "cataract" / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="notes.txt.*not an image"):
        eye_data.list_images(root)


def test_empty_and_missing_class(gen, tmp_path):
    root = _copy(gen, tmp_path)
    for p in (root / "normal").iterdir():
        p.unlink()
    with pytest.raises(DataError, match="normal.*empty"):
        eye_data.list_images(root)
    shutil.rmtree(root / "normal")
    with pytest.raises(DataError, match="class folder missing"):
        eye_data.list_images(root)


def test_import_local_verifies(gen, tmp_path):
    out = eye_data.import_local(gen, tmp_path / "imported", progress=False)
    assert eye_data.is_verified_copy(gen, out)
    assert eye_data.list_images(out)[0].__len__() == 16
    src = _copy(gen, tmp_path)
    victim = sorted((src / "cataract").iterdir())[0]
    victim.write_bytes(victim.read_bytes() + b"x")
    with pytest.raises(DataError, match="checksum mismatch"):
        eye_data.import_local(src, tmp_path / "never", progress=False)
    assert not (tmp_path / "never").exists()
    assert not any(p.name.startswith(".never") for p in tmp_path.iterdir())


def test_import_local_corrupt_with_matching_checksum(gen, tmp_path):
    src = _copy(gen, tmp_path)
    bad = src / "glaucoma" / "9999_left.jpg"
    bad.write_bytes(b"\xff\xd8 junk")
    with open(src / "SHA256SUMS", "a") as fh:
        fh.write(f"{sha256_file(bad)}  glaucoma/9999_left.jpg\n")
    with pytest.raises(DataError, match="9999_left.jpg"):
        eye_data.import_local(src, tmp_path / "never", progress=False)
    assert not (tmp_path / "never").exists()


def test_cli_generate(tmp_path):
    assert eye_data.main(["generate", "--out", str(tmp_path / "cli"), "--n-per-class", "1", "--size", "48"]) == 0
    assert len(eye_data.list_images(tmp_path / "cli")[0]) == 4


def test_invalid_options(tmp_path):
    with pytest.raises(ValueError, match="n_per_class"):
        eye_data.generate(tmp_path / "x", n_per_class=0)
    with pytest.raises(ValueError, match="classes must be among"):
        eye_data.generate(tmp_path / "x", classes=("cataract", "flu"))


@needs_shared("eye")
def test_real_sample_layout():
    root = paths.shared_data("eye")
    files, labels = eye_data.list_images(root)
    assert np.bincount(labels).tolist() == [150, 150, 150, 150]
    sums = read_sha256sums(root / "SHA256SUMS")
    assert len(sums) == 600
    for p in files[::150]:  # one per class: decodes, 400x400 RGB
        assert eye_data.read_image(p).shape == (400, 400, 3)
    assert eye_data.source_label(root).startswith("Kaggle")


def test_prepare_real_imports_once(gen, tmp_path, monkeypatch, capsys):
    shared = tmp_path / "shared"
    shutil.copytree(gen, shared / "eye")
    monkeypatch.setattr(paths, "SHARED_DATA", shared)
    monkeypatch.setattr(paths, "DATA_RAW", tmp_path / "raw")
    out = eye_data.prepare_real()
    assert out == tmp_path / "raw" / eye_data.REAL_NAME and len(eye_data.list_images(out)[0]) == 16
    assert eye_data.prepare_real() == out
    assert "verified copy already" in capsys.readouterr().out
    victim = sorted((out / "normal").iterdir())[0]
    victim.write_bytes(b"tampered")
    assert not eye_data.is_verified_copy(shared / "eye", out)
