"""The paper configuration: its CSV format, embedded synthetic data in that format, the protocol pieces, and the
clear error when the Kaggle CSV or the distilbert weights are missing."""

from dataclasses import replace

import numpy as np
import pytest

from lib.arxiv import data as arxiv_data
from lib.arxiv import experiment, synth
from lib.core import paths
from lib.core.checksums import DataError, write_sha256sums


@pytest.fixture(scope="module")
def paper_folder(tmp_path_factory):
    """Synthetic records written in the paper's CSV format, imported like the Kaggle file would be."""
    src = tmp_path_factory.mktemp("kaggle")
    cfg = replace(arxiv_data.synth_config(), n_records=400, n_classes=20, n_rare_classes=2, min_per_class=8)
    arxiv_data.write_paper_csv(synth.synthetic_records(cfg), src / arxiv_data.PAPER_CSV)
    write_sha256sums(src)
    return arxiv_data.import_local(src, tmp_path_factory.mktemp("raw") / "arxiv_paper")


def test_paper_csv_reader(paper_folder):
    df = arxiv_data.load(paper_folder)
    assert len(df) == 400 and df["id"].tolist()[:3] == ["0", "1", "2"]
    assert (df["categories"] == df["primary"]).all()
    assert df["abstract"].str.match(r"^[a-z0-9 ]+$").all()  # lower-cased, punctuation stripped, as on Kaggle


def test_paper_csv_bad_input(tmp_path):
    path = tmp_path / arxiv_data.PAPER_CSV
    path.write_text("abstract,title\nx,y\n")
    with pytest.raises(DataError, match=r"missing column\(s\) \['tag'\]"):
        arxiv_data.load(path)
    path.write_text('abstract,tag,title\n"a",cs.CV,t\n"b",not-a-tag,u\n')
    with pytest.raises(DataError, match="row 2 \\(id 1\\): unknown arXiv category 'not-a-tag'"):
        arxiv_data.load(path)


def test_paper_protocol_on_synthetic_csv(paper_folder, monkeypatch):
    """first N rows, < min_count dropped, cap in file order, title # abstract, 80/20 split with test = validation."""
    monkeypatch.setattr(arxiv_data, "prepare_paper", lambda: paper_folder)
    cfg = replace(experiment.load_config("paper"), max_records=300, min_count=10, class_cap=20)
    ds = experiment.load_dataset(cfg)
    full = arxiv_data.load(paper_folder).iloc[:300]
    assert len(ds.df) == int(np.minimum(full["primary"].value_counts(), 20).sum())
    assert min(ds.labels.counts) >= 10 and max(ds.labels.counts) == 20
    assert all(" # " in t for t in ds.texts)
    np.testing.assert_array_equal(ds.split["monitor"], ds.split["test"])
    assert not set(ds.split["val"]) & set(ds.split["test"])  # our grids are tuned off the test part
    assert len(ds.split["test"]) == round(0.2 * len(ds.y))


def test_paper_csv_rows_with_a_missing_text_are_dropped_and_counted(tmp_path):
    """As the paper's read_csv(...)[:N] + dropna: the first N FILE rows, then rows missing a text are dropped."""
    path = tmp_path / arxiv_data.PAPER_CSV
    path.write_text(
        "abstract,tag,title\n"
        "a one,cs.CV,t one\n"
        ",cs.CL,t two\n"  # empty abstract
        "a three,cs.CV,\n"  # empty title
        "a four,cs.LG,nan\n"  # a pandas NA string
        "a five,cs.CV,t five\n"
        "a six,cs.CV,t six\n"
    )
    df = arxiv_data.load(path)
    assert df["id"].tolist() == ["0", "4", "5"] and df.attrs["dropped_missing"] == 3
    assert df.attrs["dropped_missing_rows"] == [1, 2, 3]
    first = arxiv_data.load(path, max_rows=5)  # counted before dropping
    assert first["id"].tolist() == ["0", "4"] and first.attrs["dropped_missing"] == 3
    path.write_text("abstract,tag,title\n,cs.CV,\n")
    with pytest.raises(DataError, match="no records with a title"):
        arxiv_data.load(path)
    path.write_bytes(b"abstract,tag,title\n\xff,cs.CV,t\n")
    with pytest.raises(DataError, match="not UTF-8"):
        arxiv_data.load(path)


def test_paper_csv_drops_exactly_the_rows_pandas_dropna_drops(tmp_path):
    """The paper reads its CSV with pandas' defaults and calls dropna: our loader drops exactly those rows, checked
    against pandas itself on None / NaN / empty / quoted-empty / NA-string / whitespace-only cells (a whitespace-only
    text is not missing for pandas, so the paper keeps that row and so do we)."""
    import numpy as np
    import pandas as pd

    cells = [None, np.nan, "", "NA", "nan", "null", "N/A", "<NA>", "#N/A", "  ", "\t", " nan", "NaN ", "text"]
    rows = [{"abstract": "an abstract", "tag": "cs.CV", "title": c} for c in cells]
    rows += [{"abstract": c, "tag": "cs.LG", "title": "a title"} for c in cells]
    rows += [{"abstract": "an abstract", "tag": c, "title": "a title"} for c in (None, np.nan, "", "NA", "cs.CL")]
    path = tmp_path / arxiv_data.PAPER_CSV
    pd.DataFrame(rows).to_csv(path, index=False)
    with path.open("a") as f:  # quoted fields: pandas reads '""' as missing, '"NA"' too, '" "' not
        f.write('"an abstract","cs.CV",""\n"an abstract","cs.CV","NA"\n"an abstract","cs.CV"," "\n')
    kept_by_pandas = pd.read_csv(path).dropna().index.tolist()
    df = arxiv_data.load(path)
    assert [int(i) for i in df["id"]] == kept_by_pandas
    assert df.attrs["dropped_missing"] == len(rows) + 3 - len(kept_by_pandas)
    # the check can fail: per text column the 4 whitespace-only or padded cells and the plain text are kept (x 2),
    # then the valid tag and the quoted whitespace-only title
    assert len(kept_by_pandas) == 12
    path.write_text("abstract,tag,title\nan abstract, ,a title\n")
    with pytest.raises(DataError, match="row 1 .*'categories'"):  # a whitespace-only tag: refused (the paper would
        arxiv_data.load(path)  # count it as a rare tag and drop it; protocol table, "missing texts")


def test_prepare_paper_names_what_is_missing_and_where(monkeypatch, tmp_path):
    monkeypatch.setattr(paths, "DATA_RAW", tmp_path)
    with pytest.raises(FileNotFoundError) as err:
        arxiv_data.prepare_paper()
    message = str(err.value)
    assert "arxiv_data.csv" in message and "python -m lib.arxiv.data import" in message
    assert "distilbert-base-cased" in message and "never downloaded" in message


def test_ablations_paired_with_ours_only_on_our_test_part(paper_folder, monkeypatch):
    """An ablation keeping the test part gets a paired bootstrap against ours; one that changes the split does not."""
    monkeypatch.setattr(arxiv_data, "prepare_paper", lambda: paper_folder)

    def fake_embeddings(ds, cfg, progress=False):  # deterministic features per text, no encoder needed
        rng = np.random.default_rng(0)
        table = {t: rng.normal(size=8) for t in sorted(set(ds.texts))}
        return np.stack([table[t] for t in ds.kept_texts]), {}

    monkeypatch.setattr(experiment, "embeddings", fake_embeddings)
    cfg = replace(
        experiment.load_config("paper"),
        max_records=300,
        min_count=10,
        class_cap=20,
        split="train_val_test",
        head_features="cached",  # fake embeddings: no encoder to run in train mode
        epochs=2,
        head_width=16,
        head_outputs=0,
        n_bootstrap=50,
        ablations={"paper_batch": {"head_batch_size": 16}, "paper_split": {"split": "paper_80_20"}},
    )
    ds = experiment.load_dataset(cfg)
    ours = experiment.frozen_head(ds, fake_embeddings(ds, cfg)[0], cfg, progress=False)
    abl = experiment.ablations(cfg, ds, ours)
    paired = abl["paper_batch"]["paired_vs_ours"]["accuracy"]
    assert paired["diff"] == pytest.approx(abl["paper_batch"]["accuracy"] - ours.summary["accuracy"])
    assert abl["paper_split"]["paired_vs_ours"] is None
    table = experiment.ablation_table(cfg, ours, abl).set_index("setting")
    assert table.loc["paper_split", "paired_ci"] == "other test part"
    assert table.loc["paper_batch", "paired_ci"].startswith("[")
