"""Tests of lib.arxiv.data: generator, JSON-lines/CSV loaders, bad input, import with checksums."""

import json
from collections import Counter

import numpy as np
import pytest

from lib.arxiv import data as arxiv_data
from lib.arxiv import synth as arxiv_synth
from lib.arxiv.synth import SynthConfig
from lib.core import paths
from lib.core.checksums import DataError, sha256_file
from tests.conftest import needs_shared


def small(**kw) -> SynthConfig:
    """A small generator config: params.yaml data_arxiv with fewer records and classes."""
    return SynthConfig(**{**arxiv_data.synth_config().as_dict(), "n_records": 300, "n_classes": 20, **kw})


SMALL = small(seed=3, min_per_class=5, n_rare_classes=0)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    return arxiv_data.generate(tmp_path_factory.mktemp("gen") / "arxiv", SMALL)


def _write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _rec(i, **kw):
    return {"id": f"0704.{i:04d}", "title": f"Title {i}", "abstract": f"Abstract {i}.", "categories": "hep-th", **kw}


# ---------------------------------------------------------------- ids
@pytest.mark.parametrize(
    ("raw", "fixed"),
    [
        ("704.0001", "0704.0001"),
        ("704.001", "0704.0010"),
        ("704.2", "0704.2000"),
        ("704.1999", "0704.1999"),
        ("0704.0001", "0704.0001"),
        ("1501.0001", "1501.00010"),
        ("2001.12345", "2001.12345"),
        ("hep-th/9901001", "hep-th/9901001"),
        (" 704.01 ", "0704.0100"),
    ],
)
def test_repair_id(raw, fixed):
    assert arxiv_data.repair_id(raw) == fixed


# ---------------------------------------------------------------- generator
def test_generator_deterministic_and_files(generated, tmp_path):
    again = arxiv_data.generate(tmp_path / "again", SMALL)
    name = arxiv_data.JSONL_NAME
    assert sha256_file(generated / name) == sha256_file(again / name)
    other = arxiv_data.generate(tmp_path / "other", small(seed=4, min_per_class=5, n_rare_classes=0))
    assert sha256_file(generated / name) != sha256_file(other / name)
    assert {p.name for p in generated.iterdir()} == {
        name,
        "SHA256SUMS",
        "SOURCE.md",
        "generator.json",
        ".verified.json",
    }
    assert "synthetic" in (generated / "SOURCE.md").read_text().lower()


def test_generator_classes_imbalance_and_shared_vocabulary(generated):
    df = arxiv_data.load(generated)
    assert len(df) == SMALL.n_records
    counts = Counter(df["primary"])
    assert len(counts) >= 20
    assert all(arxiv_data.is_arxiv_category(c) for c in counts)
    assert max(counts.values()) >= 5 * min(counts.values())  # imbalanced
    words = {
        c: Counter(" ".join(df.loc[df["primary"] == c, "abstract"]).lower().replace(".", " ").replace(",", " ").split())
        for c in ("hep-th", "hep-ph", "gr-qc", "math.AG")
    }
    physics = set(arxiv_synth.GROUPS["hep"])
    for c in ("hep-th", "hep-ph", "gr-qc"):
        assert len(physics & set(words[c])) >= 10
    assert sum(words["math.AG"][w] for w in physics) < 0.2 * sum(words["hep-th"][w] for w in physics)


def test_class_sizes_exact_sum_and_floor():
    sizes = arxiv_synth.class_sizes(500, 24, 1.0, 8)
    assert sizes.sum() == 500 and sizes.min() >= 8 and np.all(np.diff(sizes) <= 0)
    with pytest.raises(ValueError):
        arxiv_synth.class_sizes(10, 24, 1.0, 8)


def test_generator_rejects_too_few_classes(tmp_path):
    with pytest.raises(ValueError, match="n_classes"):
        arxiv_data.generate(tmp_path / "x", small(n_classes=10))
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------- loaders and bad input
def test_jsonl_missing_abstract_names_file_and_line(tmp_path):
    path = _write_jsonl(tmp_path / "a.json", [_rec(1), _rec(2), _rec(3, abstract="  ")])
    with pytest.raises(DataError) as err:
        arxiv_data.load(path)
    assert str(path) in str(err.value) and "line 3" in str(err.value) and "abstract" in str(err.value)
    rec = _rec(2)
    del rec["abstract"]
    _write_jsonl(path, [_rec(1), rec])
    with pytest.raises(DataError, match="line 2"):
        arxiv_data.load(path)


def test_jsonl_invalid_json_and_duplicates(tmp_path):
    path = tmp_path / "b.json"
    path.write_text(json.dumps(_rec(1)) + "\n{not json\n")
    with pytest.raises(DataError, match="line 2: not valid JSON"):
        arxiv_data.load(path)
    _write_jsonl(path, [_rec(1), _rec(1)])
    with pytest.raises(DataError, match="duplicate id"):
        arxiv_data.load(path)


def test_unknown_category_policies(tmp_path):
    path = _write_jsonl(tmp_path / "c.json", [_rec(1), _rec(2, categories="hep-th biology"), _rec(3)])
    with pytest.raises(DataError, match="unknown arXiv category 'biology'"):
        arxiv_data.load(path)
    df = arxiv_data.load(path, unknown_category="drop")
    assert df["id"].tolist() == ["0704.0001", "0704.0003"] and df.attrs["dropped_unknown"] == 1
    with pytest.raises(ValueError, match="unknown_category"):
        arxiv_data.load(path, unknown_category="ignore")


def test_csv_loader_repairs_ids(tmp_path):
    path = tmp_path / "arxiv_metadata_first2000.csv"
    path.write_text(
        'id,title,abstract,categories\n704.0009,T9,"A\nmultiline",hep-ph\n'
        "704.001,T10,B,math.AG math.NT\n704.2,T2000,C,cs.LG\n"
    )
    df = arxiv_data.load(path)
    assert df["id"].tolist() == ["0704.0009", "0704.0010", "0704.2000"]
    assert df["primary"].tolist() == ["hep-ph", "math.AG", "cs.LG"]
    path.write_text("id,title,categories\n704.1,T,hep-ph\n")
    with pytest.raises(DataError, match="missing column"):
        arxiv_data.load(path)


def test_load_folder_verifies_checksums(generated, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(generated, bad)
    with open(bad / arxiv_data.JSONL_NAME, "a") as fh:
        fh.write(json.dumps(_rec(9999)) + "\n")
    with pytest.raises(DataError, match="changed since the folder was verified"):
        arxiv_data.load(bad)  # the verification marker (sizes + checksum list) catches it cheaply
    (bad / ".verified.json").unlink()
    with pytest.raises(DataError, match="checksum mismatch"):
        arxiv_data.load(bad)  # without a marker every checksum is verified


# ---------------------------------------------------------------- import_local
def test_import_local_verifies_and_is_atomic(generated, tmp_path):
    import shutil

    out = arxiv_data.import_local(generated, tmp_path / "copy")
    assert sha256_file(out / arxiv_data.JSONL_NAME) == sha256_file(generated / arxiv_data.JSONL_NAME)
    src = tmp_path / "tampered"
    shutil.copytree(generated, src)
    data = bytearray((src / arxiv_data.JSONL_NAME).read_bytes())
    data[100] ^= 1
    (src / arxiv_data.JSONL_NAME).write_bytes(bytes(data))
    with pytest.raises(DataError, match="checksum mismatch"):
        arxiv_data.import_local(src, tmp_path / "never")
    assert not (tmp_path / "never").exists()
    before = sha256_file(out / arxiv_data.JSONL_NAME)
    with pytest.raises(DataError):
        arxiv_data.import_local(src, out)  # an existing good copy is left untouched
    assert sha256_file(out / arxiv_data.JSONL_NAME) == before
    (src / "SHA256SUMS").unlink()
    with pytest.raises(DataError, match="SHA256SUMS"):
        arxiv_data.import_local(src, tmp_path / "never")


# ---------------------------------------------------------------- real data
real = needs_shared("arxiv", arxiv_data.CSV_NAME)


@real
def test_real_csv_2000_rows_108_primary_categories():
    src = paths.shared_data("arxiv")
    df = arxiv_data.load(src / arxiv_data.CSV_NAME)
    assert len(df) == 2000
    assert df["primary"].nunique() == 108
    assert df["id"].is_unique
    assert df["id"].tolist() == [f"0704.{i:04d}" for i in range(1, 2001)]
    assert Counter(df["primary"]).most_common(3) == [("astro-ph", 398), ("hep-ph", 131), ("hep-th", 118)]


@real
def test_real_import_verifies(tmp_path):
    out = arxiv_data.import_local(paths.shared_data("arxiv"), tmp_path / "real")
    assert len(arxiv_data.load(out)) == 2000


def test_generator_rare_tail_classes():
    recs = arxiv_synth.synthetic_records(
        small(
            seed=0, n_records=200, n_classes=22, min_per_class=5, label_noise=0.0, n_rare_classes=2, rare_class_size=3
        )
    )
    counts = Counter(r["categories"].split()[0] for r in recs)
    assert len(recs) == 200 and len(counts) == 22
    assert [counts[arxiv_synth.CLASSES[k][0]] for k in (20, 21)] == [3, 3]
    with pytest.raises(ValueError, match="n_rare_classes"):
        arxiv_synth.synthetic_records(small(n_classes=22, n_rare_classes=21))
