"""lib.core.cache: keyed entries, same bytes for the same arrays, rounding, corruption detected."""

import numpy as np
import pytest

from lib.core import cache


def test_key_changes_with_every_part():
    base = cache.cache_key(data="abc", weights="w1", size=160)
    assert base == cache.cache_key(size=160, weights="w1", data="abc")  # order-free
    assert base != cache.cache_key(data="abd", weights="w1", size=160)
    assert base != cache.cache_key(data="abc", weights="w1", size=96)
    assert len(base) == 64


def test_store_load_round_trip_and_same_bytes(tmp_path):
    arrays = {"features": np.arange(6, dtype=np.float32).reshape(2, 3), "labels": np.array([0, 1])}
    a = cache.store(tmp_path / "a.npz", arrays, {"n": 2})
    b = cache.store(tmp_path / "b.npz", arrays, {"n": 2})
    assert a.read_bytes() == b.read_bytes()
    got, meta = cache.load(a)
    assert meta == {"n": 2}
    np.testing.assert_array_equal(got["features"], arrays["features"])
    assert cache.load(tmp_path / "absent.npz") is None
    with pytest.raises(ValueError, match="reserved"):
        cache.store(tmp_path / "c.npz", {"meta": np.zeros(1)}, {})


def test_rounding_removes_last_bit_differences():
    x = np.array([0.123456789, -0.00001, 2.5], dtype=np.float32)
    y = np.nextafter(x, np.float32(np.inf))  # a last-bit difference, as between two CPUs
    np.testing.assert_array_equal(cache.round_features(x), cache.round_features(y))
    np.testing.assert_array_equal(cache.round_features(x), np.array([0.1235, 0.0, 2.5], dtype=np.float32))
    assert not np.signbit(cache.round_features(np.array([-0.00001]))).any()


def test_truncated_entry_is_reported_and_treated_as_absent(tmp_path):
    path = cache.store(tmp_path / "e.npz", {"x": np.ones((100, 10))}, {"k": 1})
    path.write_bytes(path.read_bytes()[:500])
    with pytest.warns(UserWarning, match=r"e\.npz: corrupt cache entry"):
        assert cache.load(path) is None
