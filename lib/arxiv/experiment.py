"""Everything notebook 02 calls to produce its tables and metrics blocks.

The notebook's parameters (params.yaml section ``nb02``) map one to one onto :class:`Config`;
:func:`load_config` reads them for a run, :meth:`Config.from_namespace` takes them from the
notebook's parameters cell. The steps, in the notebook's order:

1. :func:`load_dataset`: the dataset folder of ``data_source``, loaded and verified; the first
   ``max_records`` records; model inputs (``text_format``); the rare-category policy, the per-class cap
   (``class_cap``, in file order) and label encoding; the split (``split``).
2. :func:`embeddings`: frozen-encoder embeddings of every record, through the cache.
3. :func:`frozen_head`: the paper's head on the frozen embeddings (training history, test summary).
4. :func:`baselines`: TF-IDF + logistic regression / linear SVM / complement naive Bayes, each tuned on
   the validation part with the same grid budget, and the majority and class-prior baselines.
5. :func:`finetune_vs_frozen`: end-to-end fine-tuning vs the frozen head on one training subsample,
   with the same number of optimiser steps (same epochs and batch size): a small-budget smoke test.
6. :func:`seed_study`, :func:`ablations`, :func:`learning_curve`: other split/initialisation seeds,
   the paper's settings one at a time, and accuracy against the share of training data.
7. :func:`comparison_table`, :func:`paired_table`, :func:`protocol_table`, :func:`per_class_table`,
   :func:`metrics_block`: what is written. Every accuracy / macro-F1 / top-5 carries a 95% bootstrap CI
   over the test rows; every difference between models a paired bootstrap CI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd

from lib.arxiv import data as arxiv_data
from lib.arxiv import encoder as text_encoder
from lib.arxiv import evaluation, head, splits, tfidf
from lib.arxiv.text_clean import model_inputs, paper_inputs
from lib.core import paths, provenance
from lib.core.params import config
from lib.core.sampling import subsample

NOTEBOOK = "02_arxiv_bert"


@dataclass(frozen=True)
class Config:
    """The params.yaml section ``nb02`` (one field per key; the values live only there)."""

    data_source: str
    seed: int
    max_records: int
    text_format: str
    min_count: int
    rare_policy: str
    class_cap: int
    split: str
    test_frac: float
    val_frac: float
    encoder: str
    pooling: str
    max_length: int
    batch_size: int
    cache_name: str
    head_width: int
    activation: str
    head_outputs: int
    epochs: int
    learning_rate: float
    lr_schedule: str
    head_batch_size: int
    tfidf_max_features: int
    tfidf_ngram_max: int
    tfidf_logreg_C: list
    tfidf_svm_C: list
    tfidf_nb_alpha: list
    finetune_n_train: int
    finetune_max_length: int
    finetune_encoder_learning_rate: float
    finetune_head_learning_rate: float
    n_bootstrap: int
    seeds: list
    ablations: dict
    learning_curve: list

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
    if source.is_synthetic != (cfg.data_source in arxiv_data.SYNTHETIC_SOURCES):
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


TEXT_FORMATS = ("clean", "paper")


def load_dataset(cfg: Config) -> Dataset:
    """Load (verified) the data of ``cfg.data_source``, keep the first ``max_records`` (0: all) and at most
    ``class_cap`` per category in file order (0: no cap), build the inputs, encode labels, split (seeded)."""
    if cfg.text_format not in TEXT_FORMATS:
        raise ValueError(f"text_format must be one of {TEXT_FORMATS}, got {cfg.text_format!r}")
    if cfg.class_cap and cfg.class_cap < cfg.min_count:
        raise ValueError(f"class_cap ({cfg.class_cap}) must be 0 or >= min_count ({cfg.min_count})")
    folder = arxiv_data.dataset_dir(cfg.data_source)
    df = arxiv_data.load(folder)
    source_file = df.attrs["source_file"]
    if cfg.max_records:
        df = df.iloc[: cfg.max_records]
    df = df[splits.cap_per_class(df["primary"], cfg.class_cap)].reset_index(drop=True)
    df.attrs["source_file"] = source_file
    inputs = model_inputs if cfg.text_format == "clean" else paper_inputs
    texts = np.array(inputs(df["title"], df["abstract"]), dtype=object)
    labels = splits.encode_labels(df["primary"], min_count=cfg.min_count, rare_policy=cfg.rare_policy)
    split = splits.make_split(labels.y, cfg.split, cfg.test_frac, cfg.val_frac, cfg.seed)
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
    """DataFrame[part, records, classes]: one row per split part (the paper's split: val is the test part)."""
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
        lr_schedule=cfg.lr_schedule,
        n_outputs=cfg.head_outputs,
        progress=progress,
    )
    proba = head.predict_proba(model, emb[ds.split["test"]])[:, : ds.n_classes]  # the paper's unused units dropped
    return HeadRun(model, history, proba, summarize(ds, proba, cfg))


def summarize(ds: Dataset, scores: np.ndarray, cfg: Config) -> dict:
    """:func:`lib.arxiv.evaluation.summarize` on the test part plus 95% bootstrap CIs (``<metric>_ci``)."""
    return {
        **evaluation.summarize(ds.y_test, scores, ds.names),
        **evaluation.bootstrap_cis(ds.y_test, scores, cfg.n_bootstrap, cfg.seed),
    }


def frozen_head(ds: Dataset, emb: np.ndarray, cfg: Config, progress: bool = True) -> HeadRun:
    """The paper's head trained on the whole training part, evaluated on the test part."""
    return _train_head(ds, emb, ds.split["train"], cfg, progress)


def confusion(ds: Dataset, run: HeadRun, top: int = 20) -> pd.DataFrame:
    """Confusion matrix of the ``top`` largest classes (rows true) on the test part."""
    return evaluation.largest_classes_confusion(ds.y_test, run.proba.argmax(1), ds.names, ds.labels.counts, top=top)


# ---------------------------------------------------------------- 4. baselines
TFIDF = {"logreg": "tfidf_logreg_C", "linear_svm": "tfidf_svm_C", "complement_nb": "tfidf_nb_alpha"}


@dataclass
class Baselines:
    """Test scores (n_test, C) and summaries of every baseline; ``tuning``: {model: {value: val accuracy}}."""

    scores: dict[str, np.ndarray]
    summaries: dict[str, dict]
    tuning: dict[str, dict]
    chosen: dict[str, float]


def baselines(ds: Dataset, cfg: Config) -> Baselines:
    """TF-IDF + {logreg, linear_svm, complement_nb}, each tuned on the validation part over its grid and refit on
    the training part; majority class; class prior (labels drawn from the training distribution, seeded)."""
    train, val, test = ds.split["train"], ds.split["val"], ds.split["test"]
    texts, y = ds.kept_texts, ds.y
    vec = {"max_features": cfg.tfidf_max_features, "ngram_max": cfg.tfidf_ngram_max}
    scores, tuning, chosen = {}, {}, {}
    for kind, grid_key in TFIDF.items():
        best, tuning[kind] = tfidf.tune(
            kind, getattr(cfg, grid_key), texts[train], y[train], texts[val], y[val], ds.n_classes, **vec
        )
        chosen[kind] = best
        scores[f"tfidf_{kind}"] = tfidf.fit_scores(kind, best, texts[train], y[train], texts[test], ds.n_classes, **vec)
    prior = ds.train_counts / ds.train_counts.sum()
    scores["majority"] = np.tile(prior, (len(test), 1))
    draws = np.random.default_rng(cfg.seed).choice(ds.n_classes, size=len(test), p=prior)
    scores["class_prior"] = np.eye(ds.n_classes)[draws]
    summaries = {name: summarize(ds, sc, cfg) for name, sc in scores.items()}
    return Baselines(scores, summaries, tuning, chosen)


def tuning_table(base: Baselines) -> pd.DataFrame:
    """DataFrame[model, value, val_accuracy, chosen]: the validation grid of every TF-IDF model."""
    return pd.DataFrame(
        {"model": f"tfidf_{kind}", "value": value, "val_accuracy": acc, "chosen": value == base.chosen[kind]}
        for kind, grid in base.tuning.items()
        for value, acc in grid.items()
    )


# ---------------------------------------------------------------- 5. fine-tuning vs frozen
@dataclass
class FinetuneComparison:
    """Fine-tuned vs frozen on the same training subsample ``sub`` (indices into the kept rows), same steps."""

    sub: np.ndarray
    frozen: HeadRun
    finetuned: dict
    proba: np.ndarray
    history: pd.DataFrame

    @property
    def steps(self) -> dict[str, int]:
        return {"frozen": int(self.frozen.history["steps"].iloc[-1]), "finetuned": int(self.history["steps"].iloc[-1])}


def finetune_vs_frozen(ds: Dataset, emb: np.ndarray, cfg: Config, progress: bool = True) -> FinetuneComparison:
    """Fine-tune encoder + a fresh head on a stratified subsample of the training part and train the frozen
    head on the same subsample, both for ``epochs`` epochs of ``head_batch_size`` (the same optimiser steps);
    both are evaluated on the whole test part. A smoke test of the fine-tuning path at CPU scale."""
    train = ds.split["train"]
    sub = train[splits.subsample_stratified(ds.y[train], cfg.finetune_n_train, seed=cfg.seed)]
    frozen_sub = _train_head(ds, emb, sub, replace(cfg, lr_schedule="constant"), progress)
    enc = text_encoder.load_encoder(cfg.encoder, progress=progress)
    model, history = head.finetune(
        enc,
        ds.kept_texts[sub],
        ds.y[sub],
        ds.n_classes,
        pooling=cfg.pooling,
        max_length=cfg.finetune_max_length,
        epochs=cfg.epochs,
        encoder_learning_rate=cfg.finetune_encoder_learning_rate,
        head_learning_rate=cfg.finetune_head_learning_rate,
        batch_size=cfg.head_batch_size,
        width=cfg.head_width,
        activation=cfg.activation,
        seed=cfg.seed,
        progress=progress,
    )
    proba = head.finetune_predict_proba(
        model, enc.tokenizer, ds.kept_texts[ds.split["test"]], max_length=cfg.finetune_max_length, progress=progress
    )
    return FinetuneComparison(sub, frozen_sub, summarize(ds, proba, cfg), proba, history)


def describe_subsample(ds: Dataset, ft: FinetuneComparison) -> str:
    return (
        f"subsample: {len(ft.sub)} training records, {len(np.unique(ds.y[ft.sub]))} classes; optimiser steps: "
        f"frozen head {ft.steps['frozen']}, fine-tuning {ft.steps['finetuned']}"
    )


# ---------------------------------------------------------------- 6. seeds, ablations, learning curve
def seed_study(cfg: Config, progress: bool = False) -> pd.DataFrame:
    """DataFrame[seed, model, accuracy, macro_f1]: the frozen head and tuned TF-IDF + logreg with each seed of
    ``cfg.seeds`` as the split seed and the initialisation seed (the embeddings are shared)."""
    rows = []
    for seed in cfg.seeds:
        cfg_s = replace(cfg, seed=seed)
        ds = load_dataset(cfg_s)
        emb, _ = embeddings(ds, cfg_s, progress=progress)
        runs = {"frozen_head": frozen_head(ds, emb, cfg_s, progress).summary}
        runs["tfidf_logreg"] = _tfidf_logreg(ds, cfg_s)
        rows += [
            {"seed": seed, "model": m, "accuracy": r["accuracy"], "macro_f1": r["macro_f1"]} for m, r in runs.items()
        ]
    return pd.DataFrame(rows)


def _tfidf_logreg(ds: Dataset, cfg: Config) -> dict:
    train, val, test = ds.split["train"], ds.split["val"], ds.split["test"]
    vec = {"max_features": cfg.tfidf_max_features, "ngram_max": cfg.tfidf_ngram_max}
    texts, y = ds.kept_texts, ds.y
    best, _ = tfidf.tune("logreg", cfg.tfidf_logreg_C, texts[train], y[train], texts[val], y[val], ds.n_classes, **vec)
    return summarize(
        ds, tfidf.fit_scores("logreg", best, texts[train], y[train], texts[test], ds.n_classes, **vec), cfg
    )


def seed_summary(seeds: pd.DataFrame) -> pd.DataFrame:
    """DataFrame[model, n_seeds, accuracy_mean, accuracy_std, accuracy_min, accuracy_max, macro_f1_mean]."""
    g = seeds.groupby("model", sort=False)
    return pd.DataFrame(
        {
            "n_seeds": g["accuracy"].size(),
            "accuracy_mean": g["accuracy"].mean(),
            "accuracy_std": g["accuracy"].std(ddof=1),
            "accuracy_min": g["accuracy"].min(),
            "accuracy_max": g["accuracy"].max(),
            "macro_f1_mean": g["macro_f1"].mean(),
        }
    ).reset_index()


def ablations(cfg: Config, ds: Dataset | None = None, ours: HeadRun | None = None, progress: bool = False) -> dict:
    """{name: summary} of the frozen head with each override set of ``cfg.ablations`` (one change at a time).

    Given our dataset ``ds`` and head run ``ours``, each summary also holds ``paired_vs_ours``: the paired bootstrap
    (:func:`lib.arxiv.evaluation.paired_bootstrap`, ablation minus ours) where the ablation keeps our test part, or
    None where it changes it (e.g. the paper's split): differences on other rows cannot be paired.
    """
    out = {}
    for name, overrides in cfg.ablations.items():
        cfg_a = replace(cfg, **overrides)
        ds_a = load_dataset(cfg_a)
        emb, _ = embeddings(ds_a, cfg_a, progress=progress)
        run = frozen_head(ds_a, emb, cfg_a, progress)
        out[name] = {"overrides": dict(overrides), **run.summary}
        if ds is not None and ours is not None:
            same = (
                ds_a.names == ds.names
                and np.array_equal(ds_a.split["test"], ds.split["test"])
                and np.array_equal(ds_a.y_test, ds.y_test)
            )
            out[name]["paired_vs_ours"] = (
                evaluation.paired_bootstrap(ds.y_test, run.proba, ours.proba, cfg.n_bootstrap, cfg.seed)
                if same
                else None
            )
    return out


def ablation_table(cfg: Config, frozen: HeadRun, abl: dict[str, dict]) -> pd.DataFrame:
    """DataFrame[setting, change, n_test, accuracy, accuracy_ci, macro_f1, macro_f1_ci, accuracy_minus_ours,
    paired_ci]: ours first, then each ablation (each with its own test part where the ablation changes the split;
    the difference to ours is a paired bootstrap where the test part is ours, else "other test part")."""
    rows = [("ours", "-", frozen.summary)] + [
        (name, ", ".join(f"{k}={v}" for k, v in r["overrides"].items()), r) for name, r in abl.items()
    ]

    def paired(r: dict) -> tuple[object, str]:
        if "paired_vs_ours" not in r:
            return np.nan, "-"
        if r["paired_vs_ours"] is None:
            return np.nan, "other test part"
        d = r["paired_vs_ours"]["accuracy"]
        return d["diff"], f"{_fmt_ci(d['ci'])}, p {d['p_value']:.3f}"

    return pd.DataFrame(
        {
            "setting": name,
            "change": change,
            "n_test": r["n"],
            "accuracy": r["accuracy"],
            "accuracy_ci": _fmt_ci(r["accuracy_ci"]),
            "macro_f1": r["macro_f1"],
            "macro_f1_ci": _fmt_ci(r["macro_f1_ci"]),
            "accuracy_minus_ours": paired(r)[0],
            "paired_ci": paired(r)[1],
        }
        for name, change, r in rows
    )


def learning_curve(ds: Dataset, emb: np.ndarray, cfg: Config, base: Baselines, progress: bool = False) -> pd.DataFrame:
    """DataFrame[fraction, n_train, model, accuracy, accuracy_low, accuracy_high]: the frozen head and TF-IDF +
    logreg (its validation-chosen C) trained on stratified subsamples of the training part, same test part."""
    train, test = ds.split["train"], ds.split["test"]
    vec = {"max_features": cfg.tfidf_max_features, "ngram_max": cfg.tfidf_ngram_max}
    rows = []
    for frac in cfg.learning_curve:
        part = subsample(train, int(round(frac * len(train))), seed=cfg.seed, strata=ds.y[train])
        runs = {
            "frozen_head": _train_head(ds, emb, part, cfg, progress).summary,
            "tfidf_logreg": summarize(
                ds,
                tfidf.fit_scores(
                    "logreg",
                    base.chosen["logreg"],
                    ds.kept_texts[part],
                    ds.y[part],
                    ds.kept_texts[test],
                    ds.n_classes,
                    **vec,
                ),
                cfg,
            ),
        }
        rows += [
            {
                "fraction": frac,
                "n_train": len(part),
                "model": m,
                "accuracy": r["accuracy"],
                "accuracy_low": r["accuracy_ci"][0],
                "accuracy_high": r["accuracy_ci"][1],
            }
            for m, r in runs.items()
        ]
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- 7. results
def _fmt_ci(ci) -> str:
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def results(cfg: Config, frozen: HeadRun, base: Baselines, ft: FinetuneComparison) -> dict[str, dict]:
    """Display name -> summary of every model, in the comparison table's order."""
    return {
        f"frozen {cfg.encoder} + head ({cfg.pooling} pooling)": frozen.summary,
        "TF-IDF + logistic regression (tuned)": base.summaries["tfidf_logreg"],
        "TF-IDF + linear SVM (tuned)": base.summaries["tfidf_linear_svm"],
        "TF-IDF + complement naive Bayes (tuned)": base.summaries["tfidf_complement_nb"],
        "majority class": base.summaries["majority"],
        "class prior (random)": base.summaries["class_prior"],
        "frozen head, training subsample": ft.frozen.summary,
        "fine-tuned encoder + head, same subsample and steps": ft.finetuned,
    }


def comparison_table(cfg: Config, frozen: HeadRun, base: Baselines, ft: FinetuneComparison) -> pd.DataFrame:
    """DataFrame[model, n_test, accuracy, accuracy_ci, macro_f1, macro_f1_ci, top5_accuracy, top5_accuracy_ci]."""
    return pd.DataFrame(
        {
            "model": name,
            "n_test": r["n"],
            "accuracy": r["accuracy"],
            "accuracy_ci": _fmt_ci(r["accuracy_ci"]),
            "macro_f1": r["macro_f1"],
            "macro_f1_ci": _fmt_ci(r["macro_f1_ci"]),
            "top5_accuracy": r["top5_accuracy"],
            "top5_accuracy_ci": _fmt_ci(r["top5_accuracy_ci"]),
        }
        for name, r in results(cfg, frozen, base, ft).items()
    )


def paired_differences(
    ds: Dataset, cfg: Config, frozen: HeadRun, base: Baselines, ft: FinetuneComparison
) -> dict[str, dict]:
    """{"A - B": paired_bootstrap(...)}: the frozen head against every baseline, fine-tuned against frozen."""
    pairs = {f"frozen_head - {name}": (frozen.proba, sc) for name, sc in base.scores.items()}
    pairs["finetuned - frozen_head (subsample)"] = (ft.proba, ft.frozen.proba)
    return {
        name: evaluation.paired_bootstrap(ds.y_test, a, b, cfg.n_bootstrap, cfg.seed) for name, (a, b) in pairs.items()
    }


def paired_table(paired: dict[str, dict]) -> pd.DataFrame:
    """DataFrame[comparison, metric, difference, ci, p_value]: one row per pair and metric."""
    return pd.DataFrame(
        {"comparison": name, "metric": m, "difference": d["diff"], "ci": _fmt_ci(d["ci"]), "p_value": d["p_value"]}
        for name, by_metric in paired.items()
        for m, d in by_metric.items()
        if m != "top5_accuracy"
    )


#: the paper's protocol, from its public notebook (one row per aspect): (aspect, the paper's setting,
#: Config fields that hold ours, whether a difference is forced by what is reachable offline)
PAPER_PROTOCOL = (
    ("data", "Kaggle arxiv_data.csv (abstract, tag, title), first 70,000 rows", ("data_source", "max_records"), True),
    ("classes", "tags with >= 100 rows (89 classes)", ("min_count",), True),
    ("per-class cap", "first 1,500 rows of each tag (majority share 0.039)", ("class_cap",), False),
    ("model input", 'title + " # " + abstract (CSV already lower-cased)', ("text_format",), False),
    ("split", "stratified 80/20, random_state 777; test part = validation part", ("split", "seed"), False),
    ("encoder", "distilbert-base-cased, frozen (hidden 768)", ("encoder",), True),
    ("pooling", "CLS token of the last hidden state", ("pooling",), False),
    ("max length", "512 tokens", ("max_length",), False),
    ("head", "Linear(768, 1024) + ReLU + Linear(1024, 152) + LogSoftmax", ("head_width", "head_outputs"), False),
    (
        "optimiser",
        "NLLLoss, Adam lr 1e-2, ReduceLROnPlateau(0.25, patience 4) on test loss",
        ("learning_rate", "lr_schedule"),
        False,
    ),
    ("batch", "64 (evaluation 12)", ("head_batch_size",), False),
    ("epochs", "10 requested, about 6 completed", ("epochs",), False),
)


def protocol_table(cfg: Config, ds: Dataset) -> pd.DataFrame:
    """DataFrame[aspect, paper, ours, difference]: difference is "forced" (weights or data not reachable here)
    or "chosen" (a setting of this run; the paper's value runs with ``--run paper`` or as an ablation)."""
    rows = []
    for aspect, paper, keys, forced in PAPER_PROTOCOL:
        ours = ", ".join(f"{k}={getattr(cfg, k)}" for k in keys)
        if aspect == "classes":
            ours += f" ({ds.n_classes} classes, majority share {max(ds.labels.counts) / sum(ds.labels.counts):.3f})"
        rows.append({"aspect": aspect, "paper": paper, "ours": ours, "difference": "forced" if forced else "chosen"})
    return pd.DataFrame(rows)


def per_class_table(ds: Dataset, frozen: HeadRun, base: Baselines, ft: FinetuneComparison) -> pd.DataFrame:
    """One row per class: train count, test support, F1 of the frozen head, TF-IDF + logreg and fine-tuned."""
    return evaluation.per_class_table(
        {"frozen_head": frozen.summary, "tfidf": base.summaries["tfidf_logreg"], "finetuned_sub": ft.finetuned},
        ds.train_counts,
    )


def _headline(summary: dict) -> dict:
    return evaluation.headline({k: v for k, v in summary.items() if k != "overrides"})


def metrics_block(
    cfg: Config,
    run: str,
    source: provenance.DataSource,
    ds: Dataset,
    emb_info: dict,
    frozen: HeadRun,
    base: Baselines,
    ft: FinetuneComparison,
    paired: dict[str, dict],
    seeds: pd.DataFrame,
    abl: dict[str, dict],
    curve: pd.DataFrame,
) -> dict:
    """The notebook's metrics file: meta (configuration, provenance), data counts, claims (with CIs), every
    model with CIs, paired differences, the seed study, ablations and the learning curve."""
    return {
        "meta": {
            **source.meta(),
            "config": run,
            "seeds": list(cfg.seeds),
            "primary_seed": cfg.seed,
            "encoder": cfg.encoder,
            "pooling": cfg.pooling,
            "max_length": cfg.max_length,
            "encoder_sha256": emb_info["sha256"],
            "split": f"{cfg.split}: test {cfg.test_frac}, val {cfg.val_frac} (seed {cfg.seed})",
            "rare_policy": f"{cfg.rare_policy}: categories with < {cfg.min_count} records",
            "head": f"Linear(hidden, {cfg.head_width}) -> {cfg.activation} -> Linear({cfg.head_width}, "
            f"{cfg.head_outputs or 'C'}) -> log-softmax; NLLLoss, Adam lr {cfg.learning_rate} ({cfg.lr_schedule}), "
            f"{cfg.epochs} epochs, batch {cfg.head_batch_size}",
            "finetune": f"smoke test: stratified subsample of {len(ft.sub)} training records, {ft.steps['finetuned']} "
            f"optimiser steps (frozen head on the same subsample: {ft.steps['frozen']}), max_length "
            f"{cfg.finetune_max_length}, AdamW lr {cfg.finetune_encoder_learning_rate} (encoder) / "
            f"{cfg.finetune_head_learning_rate} (head)",
            "uncertainty": f"95% percentile bootstrap over test rows, {cfg.n_bootstrap} resamples (seed {cfg.seed}); "
            "paired bootstrap for differences",
        },
        "data": {
            "n_records": len(ds.df),
            "n_categories": int(ds.df["primary"].nunique()),
            "n_classes": ds.n_classes,
            "majority_share": max(ds.labels.counts) / sum(ds.labels.counts),
            "n_rare_categories": ds.labels.n_rare_classes,
            "n_rare_records": ds.labels.n_rare_records,
            "n_train": len(ds.split["train"]),
            "n_val": len(ds.split["val"]),
            "n_test": len(ds.split["test"]),
        },
        "claims": {
            "accuracy": frozen.summary["accuracy"],
            "accuracy_ci": frozen.summary["accuracy_ci"],
            "n_classes": ds.n_classes,
        },
        "frozen_head": {**_headline(frozen.summary), "final_val_accuracy": float(frozen.history["val_acc"].iloc[-1])},
        **{name: _headline(r) for name, r in base.summaries.items()},
        "tfidf_chosen": base.chosen,
        "finetune_vs_frozen": {
            "n_train_subsample": len(ft.sub),
            "steps": ft.steps,
            "frozen": _headline(ft.frozen.summary),
            "finetuned": _headline(ft.finetuned),
        },
        "paired": paired,
        "seeds": {
            "per_seed": seeds.to_dict("records"),
            "summary": seed_summary(seeds).to_dict("records"),
        },
        "ablations": {name: {"overrides": r["overrides"], **_headline(r)} for name, r in abl.items()},
        "learning_curve": curve.to_dict("records"),
    }


def interpretation(metrics: dict, paper: dict, source: provenance.DataSource) -> str:
    """A few generated sentences reading the metrics against the paper's values (``paper``: claim id -> value)."""
    acc, ci = metrics["claims"]["accuracy"], metrics["claims"]["accuracy_ci"]
    data = metrics["data"]
    tfidf_best = max(("tfidf_logreg", "tfidf_linear_svm", "tfidf_complement_nb"), key=lambda k: metrics[k]["accuracy"])
    diff = metrics["paired"][f"frozen_head - {tfidf_best}"]["accuracy"]
    head_seeds = next(r for r in metrics["seeds"]["summary"] if r["model"] == "frozen_head")
    verdict = "beats" if diff["ci"][0] > 0 else "is beaten by" if diff["ci"][1] < 0 else "is not distinguishable from"
    lines = [
        f"Frozen {metrics['meta']['encoder']} + head: test accuracy {acc:.3f} (95% CI {ci[0]:.3f}-{ci[1]:.3f}) over "
        f"{data['n_classes']} classes with majority share {data['majority_share']:.3f}; the paper reports "
        f"{paper['nb02_accuracy']} over {paper['nb02_n_classes']} classes with majority share "
        f"{paper['nb02_majority_accuracy']}.",
        f"The frozen head {verdict} the best tuned TF-IDF baseline ({tfidf_best}, accuracy "
        f"{metrics[tfidf_best]['accuracy']:.3f}): difference {diff['diff']:+.3f} (paired 95% CI "
        f"{diff['ci'][0]:+.3f} to {diff['ci'][1]:+.3f}).",
        f"Over {head_seeds['n_seeds']} split/initialisation seeds the frozen head's accuracy is "
        f"{head_seeds['accuracy_mean']:.3f} ± {head_seeds['accuracy_std']:.3f} (sd).",
    ]
    if source.is_synthetic:
        lines.append("These are results on SYNTHETIC data: they check the pipeline, not the paper.")
    return "\n".join(lines)
