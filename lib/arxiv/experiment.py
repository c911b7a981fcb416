"""Everything notebook 02 calls to produce its tables and metrics blocks.

The notebook's parameters (params.yaml section ``nb02``) map one to one onto :class:`Config`;
:func:`load_config` reads them for a run, :meth:`Config.from_namespace` takes them from the
notebook's parameters cell. The steps, in the notebook's order:

1. :func:`load_dataset`: the dataset folder of ``data_source``, loaded and verified; model inputs;
   the rare-category policy and label encoding; the stratified train/validation/test split.
2. :func:`embeddings`: frozen-encoder embeddings of every record, through the cache.
3. :func:`frozen_head`: the paper's head on the frozen embeddings (training history, test summary).
4. :func:`baselines`: TF-IDF + logistic regression and the majority class, on the same split.
5. :func:`finetune_vs_frozen`: end-to-end fine-tuning vs the frozen head on one training subsample.
6. :func:`comparison_table`, :func:`per_class_table`, :func:`metrics_block`: what is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from lib.arxiv import data as arxiv_data
from lib.arxiv import encoder as text_encoder
from lib.arxiv import evaluation, head, splits, tfidf
from lib.arxiv.text_clean import model_inputs
from lib.core import paths, provenance
from lib.core.params import config

NOTEBOOK = "02_arxiv_bert"


@dataclass(frozen=True)
class Config:
    """The params.yaml section ``nb02`` (one field per key; the values live only there)."""

    data_source: str
    seed: int
    min_count: int
    rare_policy: str
    test_frac: float
    val_frac: float
    encoder: str
    pooling: str
    max_length: int
    batch_size: int
    cache_name: str
    head_width: int
    activation: str
    epochs: int
    learning_rate: float
    head_batch_size: int
    tfidf_max_features: int
    tfidf_ngram_max: int
    tfidf_C: float
    finetune_n_train: int
    finetune_epochs: int
    finetune_max_length: int
    finetune_batch_size: int
    finetune_encoder_learning_rate: float
    finetune_head_learning_rate: float

    @classmethod
    def from_namespace(cls, namespace: Mapping) -> Config:
        """The config from a mapping holding (at least) every field, e.g. a notebook's ``globals()``."""
        return cls(**{f.name: namespace[f.name] for f in fields(cls)})


def load_config(run: str) -> Config:
    """:class:`Config` of ``run`` (params.yaml ``nb02`` with the run's overrides)."""
    return config(Config, "nb02", run)


def data_source(cfg: Config, run: str) -> provenance.DataSource:
    """The provenance of ``run`` (the one synthetic/real decision), described by ``cfg.data_source``.

    Refuses a data source that contradicts the run (synthetic data outside the default run, or the
    reverse), so a figure or metrics file can never be labelled with the wrong kind.
    """
    source = provenance.data_source(run, arxiv_data.DESCRIPTIONS[cfg.data_source])
    if source.is_synthetic != (cfg.data_source == "synthetic"):
        raise ValueError(f"data_source {cfg.data_source!r} does not belong to the {run!r} run")
    return source


# ---------------------------------------------------------------- 1. data
@dataclass
class Dataset:
    """The loaded records and the classification task built on them.

    df: all records (n rows); texts: (n,) model inputs; labels: the rare-category policy applied
    (``labels.keep`` (n,) selects the classified rows); y: (n_kept,) labels; names: class names (C);
    split: {"train", "val", "test"} -> sorted indices into the kept rows; train_counts: (C,).
    """

    folder: Path
    df: pd.DataFrame
    texts: np.ndarray
    labels: splits.Labels
    split: dict[str, np.ndarray]

    @property
    def y(self) -> np.ndarray:
        return self.labels.y

    @property
    def names(self) -> list[str]:
        return self.labels.names

    @property
    def n_classes(self) -> int:
        return len(self.labels.names)

    @property
    def kept_texts(self) -> np.ndarray:
        return self.texts[self.labels.keep]

    @property
    def train_counts(self) -> np.ndarray:
        return np.bincount(self.y[self.split["train"]], minlength=self.n_classes)

    @property
    def y_test(self) -> np.ndarray:
        return self.y[self.split["test"]]


def load_dataset(cfg: Config) -> Dataset:
    """Load (verified) the data of ``cfg.data_source``, encode labels, split (seeded)."""
    folder = arxiv_data.dataset_dir(cfg.data_source)
    df = arxiv_data.load(folder)
    texts = np.array(model_inputs(df["title"], df["abstract"]), dtype=object)
    labels = splits.encode_labels(df["primary"], min_count=cfg.min_count, rare_policy=cfg.rare_policy)
    split = splits.stratified_split(labels.y, test_frac=cfg.test_frac, val_frac=cfg.val_frac, seed=cfg.seed)
    return Dataset(folder, df, texts, labels, split)


def describe_dataset(ds: Dataset, cfg: Config) -> str:
    """A few lines: records, source file, categories -> classes under the policy, one example input."""
    return (
        f"{len(ds.df)} records from {Path(ds.df.attrs['source_file']).relative_to(paths.ROOT)}; "
        f"{ds.df['primary'].nunique()} distinct primary categories -> {ds.n_classes} classes with >= "
        f"{cfg.min_count} records (policy {cfg.rare_policy!r}: {ds.labels.n_rare_classes} rare categories, "
        f"{ds.labels.n_rare_records} records)\n"
        f"example title: {ds.df['title'].iloc[0][:120]}\n"
        f"model input  : {ds.texts[0][:160]}"
    )


def split_table(ds: Dataset) -> pd.DataFrame:
    """DataFrame[part, records, classes]: one row per split part."""
    return pd.DataFrame(
        {"part": part, "records": len(idx), "classes": len(np.unique(ds.y[idx]))} for part, idx in ds.split.items()
    )


# ---------------------------------------------------------------- 2. embeddings
def embeddings(ds: Dataset, cfg: Config, progress: bool = True) -> tuple[np.ndarray, dict]:
    """Frozen-encoder embeddings of the kept rows (n_kept, hidden) and the cache info.

    Every record is embedded (the cache entry depends on the data, not on the label policy).
    """
    emb, info = text_encoder.cached_embeddings(
        list(ds.texts),
        encoder=cfg.encoder,
        pooling=cfg.pooling,
        max_length=cfg.max_length,
        batch_size=cfg.batch_size,
        cache_dir=paths.processed_dir(cfg.cache_name),
        progress=progress,
    )
    return emb[ds.labels.keep], info


def describe_embeddings(emb: np.ndarray, info: dict) -> str:
    return (
        f"embeddings {emb.shape} ({'cache hit' if info['hit'] else 'computed'}, {info['seconds']:.1f} s), "
        f"key {info['key'][:16]}, cache file {info['file']}"
    )


# ---------------------------------------------------------------- 3. the paper's head
@dataclass
class HeadRun:
    """A trained head: model, history (one row per epoch), test probabilities (n_test, C), summary."""

    model: head.TopicHead
    history: pd.DataFrame
    proba: np.ndarray
    summary: dict


def _train_head(ds: Dataset, emb: np.ndarray, train_idx: np.ndarray, cfg: Config, progress: bool) -> HeadRun:
    model, history = head.train_head(
        emb[train_idx],
        ds.y[train_idx],
        emb[ds.split["val"]],
        ds.y[ds.split["val"]],
        ds.n_classes,
        width=cfg.head_width,
        activation=cfg.activation,
        epochs=cfg.epochs,
        learning_rate=cfg.learning_rate,
        batch_size=cfg.head_batch_size,
        seed=cfg.seed,
        progress=progress,
    )
    proba = head.predict_proba(model, emb[ds.split["test"]])
    return HeadRun(model, history, proba, evaluation.summarize(ds.y_test, proba, ds.names))


def frozen_head(ds: Dataset, emb: np.ndarray, cfg: Config, progress: bool = True) -> HeadRun:
    """The paper's head trained on the whole training part, evaluated on the test part."""
    return _train_head(ds, emb, ds.split["train"], cfg, progress)


def confusion(ds: Dataset, run: HeadRun, top: int = 20) -> pd.DataFrame:
    """Confusion matrix of the ``top`` largest classes (rows true) on the test part."""
    return evaluation.largest_classes_confusion(ds.y_test, run.proba.argmax(1), ds.names, ds.labels.counts, top=top)


# ---------------------------------------------------------------- 4. baselines
def baselines(ds: Dataset, cfg: Config) -> dict[str, dict]:
    """{"tfidf_logreg", "majority"} -> summarize() dict on the test part (same split as the head)."""
    train, test = ds.split["train"], ds.split["test"]
    proba_tfidf = tfidf.fit_predict_proba(
        ds.kept_texts[train],
        ds.y[train],
        ds.kept_texts[test],
        ds.n_classes,
        max_features=cfg.tfidf_max_features,
        ngram_max=cfg.tfidf_ngram_max,
        C=cfg.tfidf_C,
    )
    counts = ds.train_counts
    proba_majority = np.tile(counts / counts.sum(), (len(test), 1))
    return {
        "tfidf_logreg": evaluation.summarize(ds.y_test, proba_tfidf, ds.names),
        "majority": evaluation.summarize(ds.y_test, proba_majority, ds.names),
    }


# ---------------------------------------------------------------- 5. fine-tuning vs frozen
@dataclass
class FinetuneComparison:
    """Fine-tuned vs frozen on the same training subsample ``sub`` (indices into the kept rows)."""

    sub: np.ndarray
    frozen: dict
    finetuned: dict
    history: pd.DataFrame


def finetune_vs_frozen(ds: Dataset, emb: np.ndarray, cfg: Config, progress: bool = True) -> FinetuneComparison:
    """Fine-tune encoder + a fresh head on a stratified subsample of the training part and train the frozen
    head on the same subsample; both are evaluated on the whole test part."""
    train = ds.split["train"]
    sub = train[splits.subsample_stratified(ds.y[train], cfg.finetune_n_train, seed=cfg.seed)]
    frozen_sub = _train_head(ds, emb, sub, cfg, progress)
    enc = text_encoder.load_encoder(cfg.encoder, progress=progress)
    model, history = head.finetune(
        enc,
        ds.kept_texts[sub],
        ds.y[sub],
        ds.n_classes,
        pooling=cfg.pooling,
        max_length=cfg.finetune_max_length,
        epochs=cfg.finetune_epochs,
        encoder_learning_rate=cfg.finetune_encoder_learning_rate,
        head_learning_rate=cfg.finetune_head_learning_rate,
        batch_size=cfg.finetune_batch_size,
        width=cfg.head_width,
        activation=cfg.activation,
        seed=cfg.seed,
        progress=progress,
    )
    proba = head.finetune_predict_proba(
        model, enc.tokenizer, ds.kept_texts[ds.split["test"]], max_length=cfg.finetune_max_length, progress=progress
    )
    return FinetuneComparison(sub, frozen_sub.summary, evaluation.summarize(ds.y_test, proba, ds.names), history)


def describe_subsample(ds: Dataset, ft: FinetuneComparison) -> str:
    return f"subsample: {len(ft.sub)} training records, {len(np.unique(ds.y[ft.sub]))} classes"


# ---------------------------------------------------------------- 6. results
def results(cfg: Config, frozen: HeadRun, base: dict[str, dict], ft: FinetuneComparison) -> dict[str, dict]:
    """Display name -> summarize() dict of every model, in the comparison table's order."""
    return {
        f"frozen {cfg.encoder} + head (full train)": frozen.summary,
        "TF-IDF + logistic regression (full train)": base["tfidf_logreg"],
        "majority class": base["majority"],
        f"frozen {cfg.encoder} + head (subsample)": ft.frozen,
        f"fine-tuned {cfg.encoder} + head (subsample)": ft.finetuned,
    }


def comparison_table(cfg: Config, frozen: HeadRun, base: dict[str, dict], ft: FinetuneComparison) -> pd.DataFrame:
    """DataFrame[model, n_test, accuracy, macro_f1, top5_accuracy]: one row per model."""
    return evaluation.comparison_table(results(cfg, frozen, base, ft))


def per_class_table(ds: Dataset, frozen: HeadRun, base: dict[str, dict], ft: FinetuneComparison) -> pd.DataFrame:
    """One row per class: train count, test support, F1 of the frozen head, TF-IDF and the fine-tuned model."""
    return evaluation.per_class_table(
        {"frozen_head": frozen.summary, "tfidf": base["tfidf_logreg"], "finetuned_sub": ft.finetuned},
        ds.train_counts,
    )


def metrics_block(
    cfg: Config,
    run: str,
    source: provenance.DataSource,
    ds: Dataset,
    emb_info: dict,
    frozen: HeadRun,
    base: dict[str, dict],
    ft: FinetuneComparison,
) -> dict:
    """The notebook's metrics file: meta (configuration, provenance), data counts, claims and every model."""
    headline = evaluation.headline
    return {
        "meta": {
            **source.meta(),
            "config": run,
            "seeds": [cfg.seed],
            "encoder": cfg.encoder,
            "pooling": cfg.pooling,
            "max_length": cfg.max_length,
            "encoder_sha256": emb_info["sha256"],
            "split": f"stratified per class: test {cfg.test_frac}, val {cfg.val_frac}, rest train (seed {cfg.seed})",
            "rare_policy": f"{cfg.rare_policy}: categories with < {cfg.min_count} records",
            "head": f"Linear(hidden, {cfg.head_width}) -> {cfg.activation} -> Linear({cfg.head_width}, C) -> "
            f"log-softmax; NLLLoss, Adam lr {cfg.learning_rate}, {cfg.epochs} epochs, batch {cfg.head_batch_size}",
            "finetune": f"stratified subsample of {len(ft.sub)} training records, {cfg.finetune_epochs} epoch(s), "
            f"max_length {cfg.finetune_max_length}, AdamW lr "
            f"{cfg.finetune_encoder_learning_rate}/{cfg.finetune_head_learning_rate}",
        },
        "data": {
            "n_records": len(ds.df),
            "n_categories": int(ds.df["primary"].nunique()),
            "n_classes": ds.n_classes,
            "n_rare_categories": ds.labels.n_rare_classes,
            "n_rare_records": ds.labels.n_rare_records,
            "n_train": len(ds.split["train"]),
            "n_val": len(ds.split["val"]),
            "n_test": len(ds.split["test"]),
        },
        "claims": {"accuracy": frozen.summary["accuracy"], "n_classes": ds.n_classes},
        "frozen_head": {
            **headline(frozen.summary),
            "final_val_accuracy": float(frozen.history["val_acc"].iloc[-1]),
        },
        "tfidf_logreg": headline(base["tfidf_logreg"]),
        "majority": headline(base["majority"]),
        "finetune_vs_frozen": {
            "n_train_subsample": len(ft.sub),
            "frozen": headline(ft.frozen),
            "finetuned": headline(ft.finetuned),
        },
    }
