"""lib.core.checksums, lib.core.io, lib.core.params: checksums, atomic writes, writers, params."""

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from lib.core import checksums, io, params, paths
from lib.core.checksums import DataError


def test_sha256_file_matches_hashlib(tmp_path):
    f = tmp_path / "a.bin"
    data = bytes(range(256)) * 5000  # > 1 chunk boundary is not needed for correctness, but exercises the loop
    f.write_bytes(data)
    assert checksums.sha256_file(f, chunk=1000) == hashlib.sha256(data).hexdigest()


def test_verify_sha256sums_accepts_good_and_names_bad_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.txt").write_text("hello")
    (tmp_path / "y.txt").write_text("world")
    sums = checksums.write_sha256sums(tmp_path)
    assert checksums.verify_sha256sums(tmp_path, sums) == 2
    (tmp_path / "sub" / "x.txt").write_text("hellO")
    with pytest.raises(DataError, match=r"x\.txt: checksum mismatch"):
        checksums.verify_sha256sums(tmp_path, sums)


def test_verify_sha256sums_missing_file(tmp_path):
    with pytest.raises(DataError, match="missing"):
        checksums.verify_sha256sums(tmp_path, {"nope.dat": "0" * 64})


def test_read_sha256sums_rejects_garbage(tmp_path):
    f = tmp_path / "SHA256SUMS"
    f.write_text("not a checksum line\n")
    with pytest.raises(DataError, match="SHA256SUMS: line 1"):
        checksums.read_sha256sums(f)


def test_atomic_dir_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "data" / "raw" / "set"
    with pytest.raises(RuntimeError):
        with io.atomic_dir(target) as tmp:
            (tmp / "half.dat").write_bytes(b"12")
            raise RuntimeError("boom")
    assert not target.exists()
    assert list((tmp_path / "data" / "raw").iterdir()) == []


def test_atomic_dir_replaces_existing_only_on_success(tmp_path):
    target = tmp_path / "set"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(ValueError):
        with io.atomic_dir(target) as tmp:
            (tmp / "new.txt").write_text("new")
            raise ValueError("fail")
    assert (target / "old.txt").read_text() == "old"
    with io.atomic_dir(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]


def test_write_json_converts_numpy_and_nan(tmp_path):
    out = io.write_json(
        tmp_path / "m.json",
        {"a": np.float32(0.5), "b": np.arange(3), "c": float("nan"), "d": np.int64(7), "e": np.bool_(True)},
    )
    assert json.loads(out.read_text()) == {"a": 0.5, "b": [0, 1, 2], "c": None, "d": 7, "e": True}


def test_to_markdown_exact():
    df = pd.DataFrame({"model": ["a|b", "c"], "acc": [0.5, 0.25]})
    assert io.to_markdown(df, floatfmt=".2f") == "| model | acc |\n|---|---|\n| a\\|b | 0.50 |\n| c | 0.25 |"


def test_write_table_and_metrics_go_under_output_root(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "TABLES", tmp_path / "tables")
    monkeypatch.setattr(paths, "METRICS", tmp_path / "metrics")
    csv, md = io.write_table(pd.DataFrame({"x": [1]}), "t", "01_odal_ecg", "default")
    assert csv == tmp_path / "tables" / "default" / "01_odal_ecg" / "t.csv"
    assert md.read_text().startswith("| x |")
    m = io.write_metrics("01_odal_ecg", "real", {"acc": 1.0})
    assert m == tmp_path / "metrics" / "real" / "01_odal_ecg.json"
    with pytest.raises(ValueError, match="run must be one of"):
        io.write_metrics("01_odal_ecg", "ci", {})


def test_load_params_real_overrides(tmp_path, monkeypatch):
    from lib.core import schema

    monkeypatch.setattr(schema, "SECTIONS", {"nb01": schema.DICT({"a": schema.INT(), "b": schema.INT()})})
    (tmp_path / "params.yaml").write_text("nb01:\n  a: 1\n  b: 2\n")
    (tmp_path / "params_real.yaml").write_text("nb01:\n  b: 20\n")
    monkeypatch.setattr(paths, "PARAMS", tmp_path / "params.yaml")
    monkeypatch.setattr(paths, "PARAMS_REAL", tmp_path / "params_real.yaml")
    monkeypatch.setattr(paths, "PARAMS_PAPER", tmp_path / "params_paper.yaml")
    assert params.load_params("nb01") == {"a": 1, "b": 2}
    assert params.load_params("nb01", run="real") == {"a": 1, "b": 20}
    assert params.load_params("nb01", run="paper") == {"a": 1, "b": 2}  # no paper file: defaults
    (tmp_path / "params_paper.yaml").write_text("nb01:\n  a: 7\n")
    assert params.load_params("nb01", run="paper") == {"a": 7, "b": 2}  # paper overrides params.yaml, not real
    with pytest.raises(ValueError, match="not found"):
        params.load_params("nb09")
    with pytest.raises(ValueError, match="run must be one of"):
        params.load_params("nb01", run="ci")


def test_config_maps_a_section_onto_a_dataclass(tmp_path, monkeypatch):
    from dataclasses import dataclass

    @dataclass
    class Cfg:
        a: int
        b: int

    from lib.core import schema

    monkeypatch.setattr(schema, "SECTIONS", {"s": schema.DICT({"a": schema.INT(), "b": schema.INT()})})
    (tmp_path / "params.yaml").write_text("s:\n  a: 1\n  b: 2\n")
    monkeypatch.setattr(paths, "PARAMS", tmp_path / "params.yaml")
    assert params.config(Cfg, "s") == Cfg(1, 2)
    with pytest.raises(TypeError):
        params.config(Cfg, "s", c=3)


def test_data_error_names_file_and_problem(tmp_path):
    err = DataError(tmp_path / "100.dat", "truncated")
    assert str(err) == f"{tmp_path / '100.dat'}: truncated"
    assert isinstance(err, ValueError)
