"""Tests of lib.eye.data and lib.eye.synth: generator, loader, patient groups, import, prepare, CLI."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from lib.core import paths
from lib.core.checksums import read_sha256sums
from lib.eye import data as eye_data
from lib.eye import synth
from tests.conftest import needs_shared


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    out = tmp_path_factory.mktemp("eye") / "eye"
    return synth.generate(out, seed=3, n_per_class=4, size=64, png_every=2, progress=False)


def test_generate_layout_and_load(gen):
    files, labels = eye_data.list_images(gen)
    assert len(files) == 16 and np.bincount(labels).tolist() == [4, 4, 4, 4]
    assert {p.suffix for p in files} == {".jpg", ".png"}
    data = eye_data.load(gen, size=40, progress=False)
    assert data.images.shape == (16, 40, 40, 3) and data.images.dtype == np.uint8
    assert data.counts() == dict.fromkeys(eye_data.CLASSES, 4)
    assert "SYNTHETIC" in (gen / "SOURCE.md").read_text()
    sums = read_sha256sums(gen / "SHA256SUMS", pattern=eye_data.ENTRY_PATTERN)
    assert len([k for k in sums if "/" in k]) == 16


def test_generate_deterministic(tmp_path, gen):
    again = synth.generate(tmp_path / "a", seed=3, n_per_class=4, size=64, png_every=2, progress=False)
    other = synth.generate(tmp_path / "b", seed=4, n_per_class=4, size=64, png_every=2, progress=False)
    assert (again / "SHA256SUMS").read_text() == (gen / "SHA256SUMS").read_text()
    assert (other / "SHA256SUMS").read_text() != (gen / "SHA256SUMS").read_text()


def test_generated_class_signal(tmp_path):
    root = synth.generate(tmp_path / "s", seed=0, n_per_class=6, size=128, progress=False)
    data = eye_data.load(root, size=128, progress=False)
    img = data.images.astype(float)
    sharp = np.abs(np.diff(img.mean(-1), axis=2)).mean(axis=(1, 2))  # blur lowers this
    yellow = ((img[..., 0] > 200) & (img[..., 1] > 170) & (img[..., 2] < 150)).mean(axis=(1, 2))  # exudates
    k = {c: data.labels == i for i, c in enumerate(data.classes)}
    assert sharp[k["cataract"]].max() < sharp[k["normal"]].min()
    assert yellow[k["diabetic_retinopathy"]].mean() > 3 * yellow[k["normal"]].mean()
    bright = (img.mean(-1) > 235).mean(axis=(1, 2))  # the pale optic cup
    assert bright[k["glaucoma"]].mean() > 1.5 * bright[k["normal"]].mean()


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path):
    """A 16-bit greyscale PNG: 0 -> 0, 32768 -> 128 (32768 * 255 / 65535 = 127.5), 65535 -> 255; never clipped."""
    grey = np.zeros((40, 40), dtype=np.uint16)
    grey[:, 10:20], grey[:, 20:] = 32768, 65535
    Image.fromarray(grey).save(tmp_path / "g16.png")
    rgb = eye_data.read_image(tmp_path / "g16.png")
    assert rgb.shape == (40, 40, 3) and rgb.dtype == np.uint8
    assert [rgb[0, 0].tolist(), rgb[0, 15].tolist(), rgb[0, 30].tolist()] == [[0, 0, 0], [128] * 3, [255] * 3]
    assert (rgb == 255).mean() == pytest.approx(0.5)  # the clipped reading had 98% of pixels at 255


def test_patient_groups():
    rel = [
        "cataract/2101_left.jpg",
        "cataract/2101_right.jpg",
        "glaucoma/2101_left.jpg",
        "diabetic_retinopathy/2101_left.jpeg",
        "cataract/_101_5139882.jpg",
        "cataract/_101_709333.jpg",
        "glaucoma/_101_1.jpg",
        "glaucoma/Glaucoma_012.png",
    ]
    assert eye_data.patient_groups(rel).tolist() == [
        "p2101",
        "p2101",
        "p2101",
        "dr2101",
        "cataract:101",
        "cataract:101",
        "glaucoma:101",
        "glaucoma/Glaucoma_012.png",
    ]


def test_import_and_prepare_once(gen, tmp_path, monkeypatch, capsys):
    shared = tmp_path / "shared"
    shutil.copytree(gen, shared / "eye_full")
    (shared / "eye_full" / ".verified.json").unlink()  # a source folder need not carry a marker
    monkeypatch.setattr(paths, "SHARED_DATA", shared)
    monkeypatch.setattr(paths, "DATA_RAW", tmp_path / "raw")
    out = eye_data.prepare_run("real")  # the real run's data_source: eye_full
    assert out == tmp_path / "raw" / "eye_full" and len(eye_data.check_import(out)) == 16
    assert eye_data.prepare_run("real") == out
    assert "verified copy already" in capsys.readouterr().out
    victim = sorted((out / "normal").iterdir())[0]
    victim.write_bytes(b"tampered")
    assert not eye_data.is_current_copy(shared / "eye_full", out)
    assert eye_data.prepare_run("real") == out and eye_data.check_import(out)  # re-imported


def test_cli_generate_reads_params(tmp_path):
    assert eye_data.main(["generate", "--out", str(tmp_path / "cli")]) == 0
    n = eye_data.load_params("data_eye")["n_per_class"]
    assert len(eye_data.list_images(tmp_path / "cli")[0]) == 4 * n


def test_invalid_options(tmp_path):
    with pytest.raises(ValueError, match="n_per_class"):
        synth.generate(tmp_path / "x", seed=0, n_per_class=0, size=64)
    with pytest.raises(ValueError, match="classes must be among"):
        synth.generate(tmp_path / "x", seed=0, n_per_class=1, size=64, classes=("cataract", "flu"))
    with pytest.raises(ValueError, match="data_source must be one of"):
        eye_data.root_of("kaggle")


@needs_shared("eye_full")
def test_real_full_set_layout():
    root = paths.shared_data("eye_full")
    sums = read_sha256sums(root / "SHA256SUMS", pattern=eye_data.ENTRY_PATTERN)
    images = [k for k in sums if "/" in k]
    counts = {c: sum(k.startswith(c + "/") for k in images) for c in eye_data.CLASSES}
    assert counts == eye_data.KAGGLE_COUNTS
    groups = eye_data.patient_groups(images)
    assert len(set(groups)) < len(images)  # both eyes of many patients are in the set
    files, _ = eye_data.list_images(root)
    assert eye_data.read_image(files[0]).shape[2] == 3
