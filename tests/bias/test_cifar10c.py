"""lib.bias.cifar10c: Corrupted CIFAR-10 builder (DisEnt layout, one corruption per class, DataError on bad input)."""

import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from lib.bias import cifar10c as cc
from lib.bias import data as biased_data
from lib.core.checksums import DataError


def _fake_cifar(root, n_train=6, n_test=3, size=32):
    """A CIFAR-10-shaped JPEG folder (train|test/<class>/NNNN.jpg) with its SHA256SUMS."""
    rng = np.random.default_rng(0)
    lines = []
    for split, n in (("train", n_train), ("test", n_test)):
        for name in cc.CLASSES:
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(n):
                path = folder / f"{i:04d}.jpg"
                Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path, quality=75)
                lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {split}/{name}/{path.name}")
    (root / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    return root


def _cfg(**kw):
    base = dict(seed=0, n_train=40, n_valid=20, n_test=20, conflict_pct=10.0, severity=5)
    return cc.build_config(**{**base, **kw})


def test_params_follow_lff_type0_at_their_severity4():
    cfg = cc.build_config()
    assert tuple(cfg.corruptions) == cc.CORRUPTIONS and cfg.severity == 5 and cfg.conflict_pct == 5.0
    assert (cfg.n_train, cfg.n_valid, cfg.n_test) == (45000, 4800, 10000)


def test_corruptions_change_images_deterministically():
    img = np.random.default_rng(1).integers(0, 256, (10, 32, 32, 3), dtype=np.uint8)
    bias = np.arange(10)
    a = cc.corrupt_images(img, bias, cc.CORRUPTIONS, 5, seed=3)
    b = cc.corrupt_images(img, bias, cc.CORRUPTIONS, 5, seed=3)
    assert a.shape == img.shape and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    changed = np.abs(a.astype(int) - img).reshape(10, -1).mean(1)
    assert (changed > 1).all(), f"every corruption alters the image (mean |change| {changed})"
    with pytest.raises(ValueError, match="uint8"):
        cc.corrupt_images(img.astype(float), bias, cc.CORRUPTIONS, 5, seed=0)


def test_build_writes_the_disent_layout_read_by_load(tmp_path):
    src = _fake_cifar(tmp_path / "cifar10")
    out = cc.build(src, tmp_path / "out", _cfg())
    info = json.loads((out / "build.json").read_text())
    assert info["counts"]["cifar10c"] == {"align": 36, "conflict": 4, "valid": 20, "test": 20}
    assert "JPEG" in info["source"] and info["build_version"] == cc.BUILD_VERSION
    train = biased_data.load(out, "cifar10c", "10pct", "train")
    assert len(train) == 40 and (~train.aligned).sum() == 4
    assert np.bincount(train.target, minlength=10).tolist() == [4] * 10, "class-balanced split"
    valid = biased_data.load(out, "cifar10c", "10pct", "valid")
    test = biased_data.load(out, "cifar10c", "10pct", "test")
    assert valid.images.shape == (20, 32, 32, 3) and len(test) == 20
    assert all(f.parent.name == str(t) for f, t in zip(test.files, test.target)), "test nested by target"
    again = cc.build(src, tmp_path / "again", _cfg())

    def images(folder):  # build.json differs only by its timing field
        return [line for line in (folder / "SHA256SUMS").read_text().splitlines() if "build.json" not in line]

    assert images(again) == images(out), "deterministic build"


def test_bad_source_is_a_data_error_and_leaves_nothing(tmp_path):
    src = _fake_cifar(tmp_path / "cifar10", n_train=5, n_test=2)
    with pytest.raises(DataError, match="n_train"):
        cc.build(src, tmp_path / "out", _cfg(n_train=60))
    (src / "train" / "cat" / "0000.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="0000.jpg"):
        cc.build(src, tmp_path / "out", _cfg(n_train=30, n_valid=10, n_test=10))
    assert not (tmp_path / "out").exists()
    src2 = _fake_cifar(tmp_path / "small", n_train=5, n_test=2, size=16)
    with pytest.raises(DataError, match="32x32"):
        cc.read_cifar10(src2, "train")
    (src2 / "test" / "dog" / "extra.jpg").write_bytes(b"x")
    with pytest.raises(DataError, match="not listed"):
        cc.read_cifar10(src2, "test")
    (src2 / "test" / "dog" / "extra.jpg").unlink()
    for p in (src2 / "test" / "dog").iterdir():
        p.unlink()
    (src2 / "test" / "dog").rmdir()
    with pytest.raises(DataError, match="class folder missing"):
        cc.read_cifar10(src2, "test")


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="one corruption per class"):
        _cfg(corruptions=["snow"])
    with pytest.raises(ValueError, match="severity"):
        _cfg(severity=6)


def test_prepare_real_rebuilds_an_older_build(tmp_path, monkeypatch):
    """A folder built by an older builder version (the imagecorruptions build) is rebuilt, never reused."""
    src = _fake_cifar(tmp_path / "cifar10")
    out = tmp_path / "raw" / "cifar10c_real"
    cfg = _cfg()
    monkeypatch.setattr(cc, "build_config", lambda run="default", **kw: cfg)
    monkeypatch.setattr(cc.paths, "raw_dir", lambda name: tmp_path / "raw" / name)
    monkeypatch.setattr(cc.paths, "shared_data", lambda name: src)
    cc.prepare_real()
    info = json.loads((out / "build.json").read_text())
    calls = []
    monkeypatch.setattr(cc, "build", lambda *a, **k: calls.append(a) or out)
    cc.prepare_real()
    assert calls == [], "the same build is reused"
    info["build_version"] = 1
    (out / "build.json").write_text(json.dumps(info))
    cc.prepare_real()
    assert len(calls) == 1, "an older build version is rebuilt"


def test_imports_run_one_way():
    """lib.bias.prepare sits above both builders: data imports neither cifar10c nor prepare, cifar10c not prepare."""
    import ast
    from pathlib import Path

    import lib.bias

    root = Path(lib.bias.__file__).parent

    def imported(name):
        tree = ast.parse((root / f"{name}.py").read_text())
        mods = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                mods |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                mods |= {a.name for a in node.names}
        return mods

    assert not {"lib.bias.cifar10c", "lib.bias.prepare"} & imported("data")
    assert "lib.bias.prepare" not in imported("cifar10c")
    assert {"lib.bias.cifar10c", "lib.bias.data"} <= imported("prepare")
