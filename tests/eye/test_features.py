"""Tests of lib.eye.features: MobileNetV2 extractor, weights files, the keyed machine-independent cache."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from lib.core import paths
from lib.core.checksums import DataError
from lib.eye import features as eye_features
from lib.eye import synth
from tests.conftest import needs_shared

SMALL = eye_features.FeatureConfig(weights="random", alpha=0.35, image_size=96, batch_size=4)


@pytest.fixture(scope="module")
def model():
    return eye_features.build_extractor(SMALL, seed=0)


def test_extract_shape_and_determinism(model):
    imgs = np.random.default_rng(0).integers(0, 256, size=(5, 96, 96, 3), dtype=np.uint8)
    f1 = eye_features.extract(imgs, model, batch_size=2, progress=False)
    f2 = eye_features.extract(imgs, model, batch_size=5, progress=False)
    assert f1.shape == (5, 1280) and f1.dtype == np.float32
    np.testing.assert_allclose(f1, f2, rtol=0, atol=1e-4 * np.abs(f1).max())  # batch size: rounding only
    third = eye_features.build_extractor(SMALL, seed=1)
    assert not all(np.array_equal(a, b) for a, b in zip(model.get_weights(), third.get_weights()))


def test_machine_independent_rounding_exact():
    x = np.array([[3.0e-12, 1.23456, 0.0], [-1.0e-12, -2.5, 0.0]])
    stored, e = eye_features.machine_independent(x)
    # column 0: 2**-39 <= 3e-12 < 2**-38 -> scaled by 2**39 then rounded to 4 decimals; column 1 (|x| >= 1): e = 0
    assert e.tolist() == [-39, 0, 0]
    np.testing.assert_array_equal(stored[:, 1], np.float32([1.2346, -2.5]))
    np.testing.assert_array_equal(stored[:, 0], np.float32([round(3e-12 * 2**39, 4), round(-1e-12 * 2**39, 4)]))
    back = eye_features.restore(stored, e)
    np.testing.assert_allclose(back[:, 0], x[:, 0], rtol=1e-4)
    # last-bit noise (as between two CPUs) away from a rounding boundary gives the same stored bytes
    noisy = x * (1 + 1e-7)
    assert eye_features.machine_independent(noisy)[0].tobytes() == stored.tobytes()


def test_weights_file_errors(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="weights must be one of"):
        eye_features.FeatureConfig(weights="imagenet21k", alpha=1.0, image_size=160, batch_size=4)
    with pytest.raises(ValueError, match="image_size must be one of"):
        eye_features.FeatureConfig(weights="random", alpha=1.0, image_size=100, batch_size=4)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(paths, "SHARED_DATA", tmp_path / "shared")
    with pytest.raises(FileNotFoundError, match=r"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1\.0_160_no_top\.h5"):
        eye_features.weights_file(1.0, 160)
    cfg = eye_features.FeatureConfig(weights="imagenet", alpha=0.35, image_size=160, batch_size=4)
    assert cfg.describe() == "ImageNet MobileNetV2 alpha 0.35"
    assert "RANDOM" in SMALL.describe()


@needs_shared("mobilenet_v2")
def test_shared_weights_verified(tmp_path, monkeypatch):
    name = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
    assert eye_features.weights_file(0.35, 160) == paths.shared_data("mobilenet_v2") / name
    fake = tmp_path / "shared" / "mobilenet_v2"
    fake.mkdir(parents=True)
    shutil.copy(paths.shared_data("mobilenet_v2") / "SHA256SUMS", fake / "SHA256SUMS")
    (fake / name).write_bytes(b"not the weights")
    monkeypatch.setattr(paths, "SHARED_DATA", tmp_path / "shared")
    with pytest.raises(DataError, match="checksum mismatch"):
        eye_features.weights_file(0.35, 160)


def _setup(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "DATA_RAW", tmp_path / "raw")
    monkeypatch.setattr(paths, "DATA_PROCESSED", tmp_path / "processed")
    synth.generate(tmp_path / "raw" / "eye", seed=0, n_per_class=1, size=48, progress=False)


def test_features_for_keyed_cache_rebuilds_truncated_entry(tmp_path, monkeypatch):
    _setup(tmp_path, monkeypatch)
    a = eye_features.features_for("synthetic", SMALL, seed=0, progress=False)
    assert not a["cached"] and a["features"].shape == (4, 1280)
    assert a["meta"]["weights"] == "random" and a["files"][0] == "cataract/0000_left.jpg"
    path = eye_features.cache_path("eye", SMALL, 0)
    before = path.read_bytes()
    b = eye_features.features_for("synthetic", SMALL, seed=0, progress=False)
    assert b["cached"]
    np.testing.assert_array_equal(a["features"], b["features"])
    assert list(path.parent.iterdir()) == [path]  # the timing lives outside the pipeline output
    # a truncated entry is named and rebuilt; the same inputs (same seed) give the same bytes
    path.write_bytes(before[:1000])
    with pytest.warns(UserWarning, match=f"{path.name}: corrupt cache entry"):
        c = eye_features.features_for("synthetic", SMALL, seed=0, progress=False)
    assert not c["cached"] and path.read_bytes() == before and c["meta"]["images_per_second"] > 0
    # the key covers the data version, alpha, seed and weights file: any change is another entry or a rebuild
    key, fp = a["meta"]["key"], a["meta"]["dataset_fingerprint"]
    assert eye_features.feature_key(fp, SMALL, 0, None)[0] == key
    wider = eye_features.FeatureConfig(weights="random", alpha=0.5, image_size=96, batch_size=4)
    assert eye_features.feature_key(fp, wider, 0, None)[0] != key
    assert eye_features.cache_path("eye", wider, 0) != path
    assert eye_features.feature_key("another data version", SMALL, 0, None)[0] != key
    assert eye_features.feature_key(fp, SMALL, 1, None)[0] != key
    imagenet = eye_features.FeatureConfig(weights="imagenet", alpha=0.35, image_size=96, batch_size=4)
    assert (
        eye_features.feature_key(fp, imagenet, 0, "a" * 64)[0] != eye_features.feature_key(fp, imagenet, 0, "b" * 64)[0]
    )
    assert eye_features.cache_path("eye_full", SMALL, 0).parent.name == "eye_full_features"
