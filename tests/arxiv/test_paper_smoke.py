"""The smoke run of the paper configuration: synthetic data in the paper's CSV format, a random-weight DistilBERT of
the paper's architecture with a tokenizer trained on that corpus, and the notebook parameters it runs with."""

import numpy as np
import pytest

from lib.arxiv import data as arxiv_data
from lib.arxiv import encoder as text_encoder
from lib.arxiv import experiment, paper_smoke
from lib.arxiv.text_clean import paper_inputs
from lib.core import paths

SMALL = {"dim": 32, "n_layers": 1, "n_heads": 2, "hidden_dim": 64, "max_position_embeddings": 128, "activation": "gelu"}


@pytest.fixture(scope="module")
def smoke_csv(tmp_path_factory):
    return arxiv_data.prepare_paper_synthetic(tmp_path_factory.mktemp("raw") / arxiv_data.PAPER_SYNTH_NAME)


def test_synthetic_csv_in_the_papers_format(smoke_csv):
    df = arxiv_data.load(smoke_csv)
    assert (smoke_csv / arxiv_data.PAPER_CSV).read_text().splitlines()[0] == "abstract,tag,title"
    assert len(df) == paper_smoke.settings()["data"]["n_records"]
    assert "NOT real data" in (smoke_csv / "SOURCE.md").read_text()
    assert arxiv_data.prepare_paper_synthetic(smoke_csv) == smoke_csv  # verified copy reused


def test_paper_settings_kept_and_smoke_overrides_applied():
    params = paper_smoke.notebook_parameters()
    paper = experiment.load_config("paper")
    for key in (
        "split",
        "seed",
        "text_format",
        "pooling",
        "max_length",
        "learning_rate",
        "lr_schedule",
        "head_batch_size",
        "head_outputs",
        "epochs",
        "head_features",
    ):
        assert params[key] == getattr(paper, key), key
    assert (params["split"], params["seed"], params["max_length"], params["head_outputs"]) == (
        "paper_80_20",
        777,
        512,
        152,
    )
    assert params["head_features"] == "train_mode" and params["epochs"] == 6
    assert params["seeds"][0] == paper.seeds[0] and set(params["seeds"]) <= set(paper.seeds)  # scaled for CPU
    assert params["data_source"] == "paper_synthetic" and params["run"] == "default"
    cfg = experiment.Config.from_namespace(params)
    assert experiment.data_source(cfg, "default").is_synthetic  # labelled synthetic everywhere
    with pytest.raises(ValueError, match="does not belong"):
        experiment.data_source(cfg, "paper")


def test_random_distilbert_folder_loads_and_encodes(smoke_csv, tmp_path, monkeypatch):
    monkeypatch.setattr(paper_smoke, "DISTILBERT_BASE", SMALL)
    df = arxiv_data.load(smoke_csv)
    texts = paper_inputs(df["title"], df["abstract"])
    folder = paper_smoke.build_random_distilbert(tmp_path / "enc", texts, vocab_size=300, seed=0)
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert paper_smoke.build_random_distilbert(tmp_path / "enc", texts, vocab_size=300, seed=0) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp  # same settings and corpus: reused
    enc = text_encoder.load_encoder(str(folder), device="cpu", progress=False)
    assert enc.model.config.model_type == "distilbert" and enc.hidden_size == SMALL["dim"]
    tokens = enc.tokenizer.tokenize(texts[0])
    assert "#" in tokens and "[UNK]" not in tokens  # the tokenizer was trained on this corpus
    emb = text_encoder.encode(enc, texts[:5], batch_size=2, max_length=64, pooling="cls", progress=False)
    assert emb.shape == (5, SMALL["dim"]) and np.isfinite(emb).all()


def test_relative_encoder_folder_is_read_from_the_repository_root(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "ROOT", tmp_path)
    with pytest.raises(ValueError, match="a local model folder"):
        text_encoder.resolve_encoder("data/processed/no_such_encoder")
