"""Tests of lib.eye.features: MobileNetV2 extractor (weights=None, small input), weights errors, cache."""

from __future__ import annotations

import io

import numpy as np
import pytest

from lib.core import paths
from lib.eye import data as eye_data
from lib.eye import features as image_features


@pytest.fixture(scope="module")
def model():
    return image_features.build_extractor(image_size=96, weights="none", seed=0)


def test_extract_shape_and_determinism(model):
    imgs = np.random.default_rng(0).integers(0, 256, size=(5, 96, 96, 3), dtype=np.uint8)
    f1 = image_features.extract(imgs, model, batch_size=2, progress=False)
    f2 = image_features.extract(imgs, model, batch_size=5, progress=False)
    assert f1.shape == (5, 1280) and f1.dtype == np.float32
    np.testing.assert_allclose(f1, f2, rtol=0, atol=1e-4 * np.abs(f1).max())  # batch size: rounding only
    other = image_features.build_extractor(image_size=96, weights="none", seed=0)  # same seed, same weights
    for w1, w2 in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(w1, w2)
    third = image_features.build_extractor(image_size=96, weights="none", seed=1)
    assert not all(np.array_equal(a, b) for a, b in zip(model.get_weights(), third.get_weights()))


def test_weights_options(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="weights must be one of"):
        image_features.build_extractor(weights="imagenet21k")
    with pytest.raises(ValueError, match="image_size must be one of"):
        image_features.build_extractor(image_size=100)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="not in the Keras cache"):
        image_features.build_extractor(image_size=160, weights="imagenet")
    assert "RANDOM" in image_features.describe_weights("none")
    assert "ImageNet" in image_features.describe_weights("imagenet")


def test_features_for_caches_by_fingerprint(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "DATA_RAW", tmp_path / "raw")
    monkeypatch.setattr(paths, "DATA_PROCESSED", tmp_path / "processed")
    eye_data.generate(tmp_path / "raw" / "eye", seed=0, n_per_class=1, size=48, progress=False)
    a = image_features.features_for("eye", image_size=96, batch_size=4, progress=False)
    assert not a["cached"] and a["features"].shape == (4, 1280)
    assert a["meta"]["weights"] == "none" and a["files"][0] == "cataract/0000_left.jpg"
    b = image_features.features_for("eye", image_size=96, batch_size=4, progress=False)
    assert b["cached"]
    np.testing.assert_array_equal(a["features"], b["features"])
    path = image_features.cache_path("eye", "none", 96, 0)
    assert path.is_file() and path.parent == tmp_path / "processed" / "eye_features"
    assert image_features._read_cache(path, "another dataset version") is None  # stale -> recomputed
    eye_data.generate(tmp_path / "raw" / "eye", seed=1, n_per_class=1, size=48, progress=False)
    assert eye_data.dataset_fingerprint(tmp_path / "raw" / "eye") != a["meta"]["dataset_fingerprint"]


def test_cache_file_bytes_are_reproducible(tmp_path, monkeypatch):
    """Same images, same seed -> the same cache bytes (the pipeline hashes this file); timing kept aside."""
    monkeypatch.setattr(paths, "DATA_RAW", tmp_path / "raw")
    monkeypatch.setattr(paths, "DATA_PROCESSED", tmp_path / "processed")
    eye_data.generate(tmp_path / "raw" / "eye", seed=0, n_per_class=1, size=48, progress=False)
    path = image_features.cache_path("eye", "none", 96, 0)
    first = image_features.features_for("eye", image_size=96, batch_size=4, progress=False)
    before = path.read_bytes()
    again = image_features.features_for("eye", image_size=96, batch_size=4, progress=False, recompute=True)
    assert path.read_bytes() == before
    assert first["meta"]["extract_seconds"] >= 0 and again["meta"]["images_per_second"] > 0
    cached = image_features.features_for("eye", image_size=96, batch_size=4, progress=False)
    assert cached["cached"] and cached["meta"]["extract_seconds"] == again["meta"]["extract_seconds"]
    assert list(path.parent.iterdir()) == [path]  # nothing but the cache inside the pipeline output


def test_npz_bytes_round_trip():
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "s": np.asarray(["x", "yz"])}
    blob = image_features.npz_bytes(arrays)
    assert blob == image_features.npz_bytes(arrays)
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        np.testing.assert_array_equal(z["a"], arrays["a"])
        np.testing.assert_array_equal(z["s"], arrays["s"])
