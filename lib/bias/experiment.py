"""Notebook 04's experiment grid: datasets x objectives x seeds -> accuracies and CKA matrices.

``run_grid`` trains one ResNet18 per (dataset, objective, seed) with ``lib.bias.training``,
evaluates it on the unbiased test set (overall, bias-aligned, bias-conflicting) and, for
the seed ``cka_seed``, computes the layer x layer mini-batch CKA matrix (``lib.bias.cka``) on
test images. ``accuracy_table`` turns the per-run rows into the paper's Table 3 layout
(mean +- std, best in bold, second best underlined).
"""

from __future__ import annotations

import itertools
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats
from tqdm import tqdm

from lib.bias import cka, cka_claims, fits
from lib.bias import data as biased_data
from lib.bias import statistics as st
from lib.bias.cka_claims import block_score, stage_starts  # noqa: F401 (re-exported for the notebook)
from lib.bias.objectives import ALIASES, LABELS, MARGIN, PROBABILISTIC
from lib.bias.resnet import ResNet18, count_parameters
from lib.bias.synth import PALETTE
from lib.bias.training import TrainConfig, normalise, quiet, to_tensor
from lib.core import paths, report
from lib.core.device import pick_device
from lib.core.sampling import subsample
from lib.core.seeding import seed_everything


@dataclass(frozen=True)
class ExperimentConfig:
    """The ``nb04`` params section, one to one (no defaults here: params.yaml is their one home).

    data_source: the data folder under data/raw (``biased``: synthetic digits; ``biased_real``: Colored MNIST
    from real MNIST); pct: the DisEnt ratio folder; width: channel multiplier of ResNet18; stem: ``cifar`` |
    ``standard`` (see lib.bias.resnet); train_size / valid_size: a seeded subset of the split (None: all of it);
    cka_samples test images in batches of cka_batch_size for the CKA matrices; cka_bootstrap: resamples of those
    probe images per model (0: none); negative_control: ``{objective, seed}`` trained once per dataset beside the
    grid (``negative_control``; None: none); torch_threads: CPU threads; workers: processes the independent training
    fits run in (``lib.bias.fits``: 1 in this process; more: spawned single-thread workers, the same results bit for
    bit, which needs ``torch_threads`` 1).
    """

    data_source: str
    datasets: list
    pct: str
    objectives: list
    seeds: list
    width: float
    stem: str
    dropout: float
    learning_rate: float
    weight_decay: float
    batch_size: int
    max_epochs: int
    patience: int
    patience_smoothing: int  # patience on the trailing mean of this many validation epochs (1: the raw curve)
    min_epochs: int  # no early stop before this epoch (1: none)
    train_size: int | None
    valid_size: int | None
    cka_samples: int
    cka_batch_size: int
    cka_probe_sets: int
    cka_bootstrap: int
    negative_control: dict | None
    torch_threads: int
    workers: int
    device: str
    precision: str  # fp32 (default, processor-independent) | bf16 (training under torch.autocast)
    augment: str  # none | normalise (the paper's: normalisation only) | disent_cifar (DisEnt's crop + flip + it)
    variant: str  # "" or the runner's --variant: the outputs are named paths.output_name("nb04", variant)
    plateau_tolerance: float  # "plateau" when the late slope's upper 95 % bound x 10 epochs is below (convergence)

    def __post_init__(self):
        if not isinstance(self.workers, int) or self.workers < 1:
            raise ValueError(f"nb04.workers must be an integer >= 1, got {self.workers!r}")
        if self.workers > 1 and self.torch_threads != 1:
            raise ValueError(
                f"nb04.workers {self.workers} runs single-thread fits: torch_threads must be 1 (got "
                f"{self.torch_threads}) so that the results equal those of workers 1"
            )

    @classmethod
    def from_namespace(cls, namespace: dict) -> ExperimentConfig:
        """The config from a notebook's parameter variables (``globals()``): one entry per field."""
        return cls(**{f: namespace[f] for f in cls.__dataclass_fields__})

    @property
    def root(self):
        """The dataset folder ``data/raw/<data_source>``."""
        return paths.raw_dir(self.data_source)

    def train_config(self) -> TrainConfig:
        return TrainConfig(
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            patience=self.patience,
            device=self.device,
            precision=self.precision,
            augment=self.augment,
            patience_smoothing=self.patience_smoothing,
            min_epochs=self.min_epochs,
        )

    def fit_spec(self) -> fits.FitSpec:
        """What each training fit needs (``lib.bias.fits``): the network and the training settings."""
        return fits.FitSpec(width=self.width, dropout=self.dropout, stem=self.stem, train=self.train_config())

    def model(self) -> ResNet18:
        """A fresh ResNet18 of this configuration (10 classes)."""
        return self.fit_spec().model()

    def n_parameters(self) -> int:
        return count_parameters(self.model())

    def describe(self) -> str:
        """One line: data folder, device, network size."""
        try:
            root = self.root.relative_to(paths.ROOT)
        except ValueError:
            root = self.root
        return (
            f"data: {root}; device: {pick_device(self.device)}; ResNet18 ({self.stem} stem) width "
            f"{self.width}: {self.n_parameters():,} parameters"
            + (f"; training fits in {self.workers} single-thread worker processes" if self.workers > 1 else "")
        )


@dataclass
class GridResult:
    """runs: one row per (dataset, objective, seed); history: one row per epoch; cka: (dataset, objective) ->
        (m, m) for the CKA seed; cka_seeds: (dataset, objective, seed) -> (m, m) for every seed; cka_boot: the same
        keys -> (B, m, m) CKA matrices of B bootstrap resamples of the probe images (the same resamples for every
        model; empty when cka_bootstrap is 0); cka_untrained: (dataset, seed) -> (m, m) of the untrained baseline
    (``untrained_cka``, BatchNorm in eval mode) on the same probe images; cka_untrained_bn: the same with BatchNorm
    statistics recalibrated on those probe images; control_fits: ``{FitJob: result}`` of the negative control's fits
    trained beside the grid (``lib.bias.fits``), for ``negative_control``; fit_cache: with the fit cache on
    (``lib.bias.fits.FIT_CACHE_ENV``), the names of the fits read from it and of those trained (``from_cache``,
    ``trained``); {} when it is off."""

    runs: pd.DataFrame
    history: pd.DataFrame
    cka: dict = field(default_factory=dict)
    layer_names: list = field(default_factory=list)
    cka_seeds: dict = field(default_factory=dict)
    probe: dict = field(default_factory=dict)
    cka_boot: dict = field(default_factory=dict)
    cka_untrained: dict = field(default_factory=dict)
    cka_untrained_bn: dict = field(default_factory=dict)
    control_fits: dict = field(default_factory=dict)
    fit_cache: dict = field(default_factory=dict)


def protocol_notes(cfg: ExperimentConfig) -> str:
    """Generated deviations from the datasets' reference builds that hold for this run's datasets (Markdown)."""
    notes = []
    if "cmnist" in cfg.datasets:
        notes.append(
            f"Colored MNIST colours: our palette (`lib.bias.synth.PALETTE`, {len(PALETTE)} colours), not LfF's "
            "`data/resource/colors.th`, whose closest colour pairs are nearer: the colour shortcut is likely easier "
            "to learn here than in LfF's build."
        )
    return "  \n".join(notes)


def load_splits(root, datasets, pct: str) -> dict:
    """``{dataset: {'train'|'valid'|'test': BiasedSplit}}`` read with ``lib.bias.data.load``."""
    return {d: {s: biased_data.load(root, d, pct, s) for s in ("train", "valid", "test")} for d in datasets}


def split_description(counts: pd.DataFrame) -> str:
    """One line from ``split_counts``: '<dataset>/<split>: n (k bias-conflicting); ...'."""
    return "; ".join(f"{r.dataset}/{r.split}: {r.n} ({r.conflicting} bias-conflicting)" for r in counts.itertuples())


def split_counts(data: dict) -> pd.DataFrame:
    """Rows (dataset, split) with n, aligned and conflicting counts."""
    rows = [
        {
            "dataset": d,
            "split": s,
            "n": len(sp),
            "aligned": int(sp.aligned.sum()),
            "conflicting": int((~sp.aligned).sum()),
        }
        for d, splits in data.items()
        for s, sp in splits.items()
    ]
    return pd.DataFrame(rows)


#: dtype of the Gram products of the CKA matrices (float32: about twice as fast; see lib.bias.cka)
CKA_PRECISION = "float32"
#: leaf layers left out of the CKA matrices: in eval mode ``flatten`` and ``dropout`` pass the average-pooled
#: features through unchanged, so their rows would repeat the ``avgpool`` row (CKA 1.0 with each other)
CKA_SKIP = ("flatten", "dropout")
#: the paper's Figure 1 discussion: representations change "after the 50th layer" (counted from 1)
PAPER_LAYER = 50
PAPER_PATIENCE = 12  # Sec. 3: early stopping with patience 12


def cka_layer_names(model) -> list[str]:
    """The layers of the CKA matrices: every leaf layer (convs, norms, ReLUs, shortcut convs/norms, pooling,
    FC) in forward order except ``CKA_SKIP``."""
    return [n for n in cka.leaf_layer_names(model) if n not in CKA_SKIP]


def split_subset(split: biased_data.BiasedSplit, size: int | None) -> np.ndarray:
    """Indices of a seeded subset of ``split`` (None: all), stratified by (target, aligned), so the
    subset keeps the class balance and the bias-conflicting share; the same subset for every model."""
    return subsample(np.arange(len(split)), size, seed=0, strata=split.target * 2 + split.aligned)


def grid_jobs(datasets, cfg: ExperimentConfig) -> tuple[list, dict]:
    """The grid's training fits and its aliases: ``(jobs, alias)``, jobs the ``fits.FitJob`` of every distinct
    (dataset, objective, seed) in grid order, alias ``{(dataset, objective, seed): trained_as}`` for an objective of
    ``ALIASES`` whose twin is in the run and comes before it (NLL of a softmax output = SCE: not trained again)."""
    jobs, alias, trained = [], {}, set()
    for dataset, objective, seed in ((d, o, s) for d in datasets for o in cfg.objectives for s in cfg.seeds):
        trained_as = ALIASES.get(objective, objective) if ALIASES.get(objective) in cfg.objectives else objective
        if (dataset, trained_as, seed) in trained:
            alias[(dataset, objective, seed)] = trained_as
        else:
            trained.add((dataset, objective, seed))
            jobs.append(fits.FitJob(dataset, objective, seed))
    return jobs, alias


def control_jobs(datasets, cfg: ExperimentConfig) -> list:
    """The negative control's fits (``cfg.negative_control``), one per dataset; [] when None."""
    if not cfg.negative_control:
        return []
    c = cfg.negative_control
    return [fits.FitJob(d, c["objective"], c["seed"], control=True) for d in datasets]


def fit_data(data: dict, cfg: ExperimentConfig) -> dict:
    """``{dataset: fits.fit_data(...)}``: the training / validation subsets (``split_subset``) and the test split."""
    return {
        d: fits.fit_data(
            sp["train"],
            split_subset(sp["train"], cfg.train_size),
            sp["valid"],
            split_subset(sp["valid"], cfg.valid_size),
            sp["test"],
        )
        for d, sp in data.items()
    }


def train_all(
    data: dict,
    cfg: ExperimentConfig,
    *,
    control: bool = True,
    progress: bool = True,
    stats: dict | None = None,
    cache: Path | None = None,
) -> dict:
    """Every training fit of ``data`` (the grid's distinct models and, with ``control``, the negative control's) in
    up to ``cfg.workers`` processes (``lib.bias.fits.train_fits``, with the fit cache folder ``cache``: None, no
    cache; ``run_grid`` passes ``fits.cache_dir()``, the folder ``NB04_FIT_CACHE`` names; ``stats`` gets what came
    from it): ``{FitJob: result}``."""
    jobs = grid_jobs(data, cfg)[0] + (control_jobs(data, cfg) if control else [])
    spec = cfg.fit_spec()
    return fits.train_fits(jobs, fit_data(data, cfg), spec, cfg.workers, progress=progress, cache=cache, stats=stats)


def run_grid(
    data: dict,
    cfg: ExperimentConfig,
    *,
    cka_seed: int | None = None,
    progress: bool = True,
    untrained: bool = True,
    control: bool = True,
) -> GridResult:
    """Train and evaluate every (dataset, objective, seed) of ``cfg``; the CKA matrix of every model
    (``cka_seeds``), those of seed ``cka_seed`` (default: the first seed) also as the grid ``cka``.

    The fits run first, in up to ``cfg.workers`` processes (``train_all``; with ``control`` the negative control's
    fits too, kept in ``control_fits`` for ``negative_control``), then everything else here on their weights.

    An objective in ``ALIASES`` whose twin is in the run (NLL of a softmax output = SCE) is not trained again:
    its rows repeat the twin's, with ``trained_as`` naming it.

    cfg.train_size / cfg.valid_size: ``split_subset`` of the training / validation split. CKA uses
    ``cfg.cka_samples`` test images drawn by a seeded permutation (the same for every model; files are
    stored by class, so a prefix would not do) in batches of ``cfg.cka_batch_size``. untrained: also the CKA
    matrices of the untrained baseline (``untrained_cka``, ``cka_claims.UNTRAINED_SEEDS``) on those probe images, in
    eval mode and with BatchNorm statistics recalibrated on them.
    """
    cka_seed = cfg.seeds[0] if cka_seed is None else cka_seed
    cache, cache_stats = fits.cache_dir(), {}  # read once: the fits and GridResult.fit_cache see the same folder
    trained = train_all(data, cfg, control=control, progress=progress, stats=cache_stats, cache=cache)
    spec = cfg.fit_spec()
    _, alias = grid_jobs(data, cfg)
    runs, hist, mats, names, probe, boot, base, base_bn = [], [], {}, [], {}, {}, {}, {}
    done, x_tests = {}, {}
    jobs = [(d, o, s) for d in data for o in cfg.objectives for s in cfg.seeds]
    for dataset, objective, seed in tqdm(jobs, desc="CKA", **quiet(progress)):
        if (dataset, objective, seed) in alias:  # an alias of an objective trained already: reuse that model's rows
            trained_as = alias[(dataset, objective, seed)]
            run_row, hist_rows = done[(dataset, trained_as, seed)]
            runs.append({**run_row, "objective": objective, "trained_as": trained_as})
            hist += [{**h, "objective": objective} for h in hist_rows]
            mats[(dataset, objective, seed)] = mats[(dataset, trained_as, seed)]
            if (dataset, trained_as, seed) in boot:
                boot[(dataset, objective, seed)] = boot[(dataset, trained_as, seed)]
            continue
        sp = data[dataset]
        idx = split_subset(sp["train"], cfg.train_size)
        if dataset not in x_tests:
            x_tests[dataset] = normalise(to_tensor(sp["test"].images), cfg.augment)
        x_te = x_tests[dataset]
        res = trained[fits.FitJob(dataset, objective, seed)]
        info, acc = res["info"], res["acc"]
        model = fits.load_model(spec, res)
        run_row = {
            "dataset": dataset,
            "objective": objective,
            "seed": seed,
            **acc,
            "best_epoch": info["best_epoch"],  # the checkpoint: best of the smoothed curve patience reads
            "raw_best_epoch": info["raw_best_epoch"],  # the raw validation maximum (the same with smoothing 1)
            "before_min_epochs": bool(info["best_epoch"] < cfg.min_epochs),
            "epochs": info["epochs"],
            # patience fired (a stop at the cap's own epoch counts; review25s12a m8)
            "stopped_by_patience": bool(info.get("stopped_by_patience", info["epochs"] < cfg.max_epochs)),
            "valid_accuracy": info["best_valid_acc"],
            "raw_best_valid_accuracy": info["raw_best_valid_acc"],
            "n_train": len(idx),
            "n_train_conflicting": int((~sp["train"].aligned[idx]).sum()),
            "seconds": info["seconds"],
            "trained_as": objective,
        }
        hist_rows = [{"dataset": dataset, "objective": objective, "seed": seed, **h} for h in info["history"]]
        done[(dataset, objective, seed)] = (run_row, hist_rows)
        runs.append(run_row)
        hist += hist_rows
        x_cka = x_te[np.random.default_rng(cka_seed).permutation(len(x_te))[: cfg.cka_samples]]
        names, mats[(dataset, objective, seed)] = _cka(model, x_cka, cfg)
        if untrained and not any(k[0] == dataset for k in base):
            base.update({(dataset, s): m for s, m in untrained_cka(cfg, x_cka).items()})
            base_bn.update({(dataset, s): m for s, m in untrained_cka(cfg, x_cka, bn="bn_recalibrated").items()})
        if cfg.cka_bootstrap:
            boot[(dataset, objective, seed)] = probe_bootstrap(model, x_cka, cfg, seed=cka_seed)
        if cfg.cka_probe_sets and seed == cka_seed:
            probe[(dataset, objective)] = cka_probe_study(model, x_te, sp["test"].aligned, cfg, seed=cka_seed)
    grid = {(d, o): m for (d, o, s), m in mats.items() if s == cka_seed}
    control_fits = {k: v for k, v in trained.items() if k.control}
    return GridResult(
        pd.DataFrame(runs),
        pd.DataFrame(hist),
        grid,
        names,
        mats,
        probe,
        boot,
        base,
        base_bn,
        control_fits,
        cache_stats if cache is not None else {},
    )


def recalibrate_batchnorm(model, x, batch_size: int):
    """Recompute every BatchNorm layer's running statistics on the images ``x``: ``reset_running_stats()``,
    ``momentum=None`` (a cumulative average over the batches), one forward pass in train mode under no_grad in
    batches of ``batch_size``, then eval mode. Returns the model."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            model(x[i : i + batch_size])
    return model.eval()


def untrained_cka(cfg: ExperimentConfig, x, seeds=None, bn: str = "eval") -> dict:
    """``{seed: (m, m)}``: CKA matrices of randomly initialised, untrained networks of the run's architecture
    (width, stem, dropout) on the probe images ``x``, one per seed of ``cka_claims.UNTRAINED_SEEDS`` (the
    initialisations the trained models of those seeds start from). The baseline of the CKA claims: banded heatmaps
    and late boxes that an untrained network shows too say nothing about an objective.

    bn: ``"eval"``: eval mode at the fresh BatchNorm statistics (running mean 0, variance 1): every BN layer is the
    identity (up to its eps), so the heatmap is that of an un-normalised ResNet whose residual stream is dominated by
    the identity path. ``"bn_recalibrated"``: BatchNorm statistics recomputed on ``x`` (``recalibrate_batchnorm``),
    so every BN layer standardises its channels as in a trained network (linear CKA is not invariant to per-channel
    rescaling); then eval mode."""
    from lib.bias.cka_claims import UNTRAINED_SEEDS

    if bn not in ("eval", "bn_recalibrated"):
        raise ValueError(f"untrained_cka: bn must be 'eval' or 'bn_recalibrated', got {bn!r}")
    out = {}
    for seed in UNTRAINED_SEEDS if seeds is None else seeds:
        seed_everything(seed, torch=True)
        model = cfg.model().eval()
        if bn == "bn_recalibrated":
            recalibrate_batchnorm(model, x, cfg.cka_batch_size)
        out[seed] = _cka(model, x, cfg)[1]
    return out


def _cka(model, x, cfg: ExperimentConfig, precision: str = CKA_PRECISION) -> tuple[list, np.ndarray]:
    """Layer names and the layer x layer CKA matrix of ``model`` on images ``x`` (batches of cfg.cka_batch_size)."""
    step = cfg.cka_batch_size
    batches = [b for b in (x[i : i + step] for i in range(0, len(x), step)) if len(b) >= 4]
    return cka.cka_matrix(
        model, batches, layers=cka_layer_names(model), device=pick_device(cfg.device), precision=precision
    )


def bootstrap_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n) bootstrap draws of probe-image positions, with replacement; the same for every model of a
    run (seeded by the CKA seed), so that differences between models are paired by resample."""
    return np.random.default_rng([seed, 11]).integers(0, n, size=(n_boot, n))


def probe_bootstrap(model, x, cfg: ExperimentConfig, seed: int, precision: str = CKA_PRECISION) -> np.ndarray:
    """(cfg.cka_bootstrap, m, m) CKA matrices of ``model`` on bootstrap resamples of the probe images ``x`` (in
    batches of cfg.cka_batch_size, as the point estimate ``_cka``): the probe set's Grams once, then
    ``lib.bias.cka.bootstrap_cka``."""
    _, G = cka.probe_grams(model, x, cka_layer_names(model), device=pick_device(cfg.device), precision=precision)
    return cka.bootstrap_cka(G, bootstrap_indices(len(x), cfg.cka_bootstrap, seed), cfg.cka_batch_size)


def bootstrap_table(result: GridResult, alpha: float = st.ALPHA) -> pd.DataFrame:
    """One row per trained model with a probe bootstrap: how far its CKA heatmap moves when the probe images
    are resampled. cell_halfwidth: half-width of the percentile interval of each off-diagonal cell (mean and max
    over cells); bootstrap_bias: mean over cells of (bootstrap mean - point estimate); block score with its
    percentile interval."""
    rows = []
    q = [100 * alpha / 2, 100 * (1 - alpha / 2)]
    trained = {(r.dataset, r.objective, r.seed) for r in distinct_runs(result.runs).itertuples()}
    for key in sorted(k for k in result.cka_boot if k in trained):
        b, point = result.cka_boot[key], result.cka_seeds[key]
        off = ~np.eye(len(point), dtype=bool)
        lo, hi = np.nanpercentile(b, q, axis=0)
        half = ((hi - lo) / 2)[off]
        blocks = [block_score(m, result.layer_names) for m in b]
        rows.append(
            {
                "dataset": key[0],
                "objective": key[1],
                "seed": key[2],
                "n_boot": len(b),
                "cell_halfwidth_mean": float(np.nanmean(half)),
                "cell_halfwidth_max": float(np.nanmax(half)),
                "bootstrap_bias": float(np.nanmean((np.nanmean(b, axis=0) - point)[off])),
                "block_score": block_score(point, result.layer_names),
                "block_score_low": float(np.percentile(blocks, q[0])),
                "block_score_high": float(np.percentile(blocks, q[1])),
            }
        )
    return pd.DataFrame(rows)


def _mean_abs(a, b) -> float:
    off = ~np.eye(len(a), dtype=bool)
    return float(np.nanmean(np.abs(a - b)[off]))


def cka_probe_study(model, x_te, aligned, cfg: ExperimentConfig, seed: int) -> dict:
    """How much a CKA heatmap depends on its probe images, for one trained model:

    - ``cfg.cka_probe_sets`` disjoint random probe sets of ``cfg.cka_samples`` test images (resampling of the probe
      set): mean and max |difference| between their matrices (off-diagonal), block score per set;
    - bias-aligned vs bias-conflicting probe sets of equal size (at most cfg.cka_samples, limited by the smaller
      group): their |difference| against the probe-set spread, and their block scores;
    - the float32 Gram path against float64 on the first probe set: max and mean absolute CKA error.
    """
    rng = np.random.default_rng([seed, 7])
    perm, n = rng.permutation(len(x_te)), cfg.cka_samples
    sets = [perm[i * n : (i + 1) * n] for i in range(min(cfg.cka_probe_sets, len(perm) // n))]
    names, first = _cka(model, x_te[sets[0]], cfg)
    mats = [first] + [_cka(model, x_te[s], cfg)[1] for s in sets[1:]]
    _, first64 = _cka(model, x_te[sets[0]], cfg, precision="float64")
    aligned = np.asarray(aligned, dtype=bool)
    n_group = int(min(n, aligned.sum(), (~aligned).sum()))
    m_al = _cka(model, x_te[rng.permutation(np.flatnonzero(aligned))[:n_group]], cfg)[1]
    m_co = _cka(model, x_te[rng.permutation(np.flatnonzero(~aligned))[:n_group]], cfg)[1]
    between = [_mean_abs(a, b) for a, b in itertools.combinations(mats, 2)]
    blocks = [block_score(m, names) for m in mats]
    return {
        "n_probe_sets": len(mats),
        "probe_size": n,
        "probe_set_diff_mean": float(np.mean(between)) if between else None,
        "probe_set_diff_max": float(np.max(between)) if between else None,
        "block_score_mean": float(np.mean(blocks)),
        "block_score_sd": float(np.std(blocks, ddof=1)) if len(blocks) > 1 else None,
        "block_score_range": [float(min(blocks)), float(max(blocks))],
        "group_size": n_group,
        "aligned_vs_conflicting_diff": _mean_abs(m_al, m_co),
        "aligned_vs_conflicting_above_probe_max": bool(between and _mean_abs(m_al, m_co) > max(between)),
        "block_score_aligned": block_score(m_al, names),
        "block_score_conflicting": block_score(m_co, names),
        "float32_max_abs_error": float(np.nanmax(np.abs(first - first64))),
        "float32_mean_abs_error": float(np.nanmean(np.abs(first - first64))),
    }


def probe_table(result: GridResult) -> pd.DataFrame:
    """One row per (dataset, objective) of ``cka_probe_study`` (empty when cka_probe_sets is 0)."""
    rows = [{"dataset": d, "objective": o, **v} for (d, o), v in result.probe.items()]
    return pd.DataFrame(rows).drop(columns=["block_score_range"], errors="ignore")


def _mark(text: str, rank: int) -> str:
    """Bold for rank 0 (best), underline for rank 1 (second best); ties share a rank (joint ranks)."""
    return f"**{text}**" if rank == 0 else (f"<u>{text}</u>" if rank == 1 else text)


def accuracy_table(runs: pd.DataFrame, metric: str = "accuracy") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 3 layout from per-run rows.

    Returns (display, numeric): display has one row per objective (group, objective, one
    "mean ± std" column per dataset in %, and Mean), best per column in **bold**, second
    <u>underlined</u>; numeric holds the means and sample stds (ddof=1; 0 for one seed) as fractions.
    """
    g = runs.groupby(["objective", "dataset"])[metric]
    numeric = pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=1).fillna(0.0), "n_seeds": g.count()}).reset_index()
    datasets = list(dict.fromkeys(runs["dataset"]))
    objectives = list(dict.fromkeys(runs["objective"]))
    means = numeric.pivot(index="objective", columns="dataset", values="mean").loc[objectives, datasets]
    stds = numeric.pivot(index="objective", columns="dataset", values="std").loc[objectives, datasets]
    means["Mean"] = means[datasets].mean(axis=1)
    stds["Mean"] = np.nan
    display = pd.DataFrame(
        {
            "group": ["Probabilistic" if o in PROBABILISTIC else "Margin-based" for o in objectives],
            "objective": [LABELS.get(o, o) for o in objectives],
        }
    )
    for col in [*datasets, "Mean"]:
        ranks = st.joint_ranks(means[col].round(12))
        display[col] = [
            _mark(f"{100 * m:.2f}" if col == "Mean" else f"{100 * m:.2f} ± {100 * sd:.2f}", r)
            for m, sd, r in zip(means[col], stds[col], ranks)
        ]
    return display, numeric


def best_vs_runner_up(runs: pd.DataFrame) -> dict:
    """Per dataset and over the datasets (``mean``): the best trained objective (by seed mean) against the
    runner-up, paired over seeds: ``{column: {best, runner_up, diff, ci95, n_seeds, within_noise}}``;
    ``within_noise`` when the paired 95 % interval holds 0 (or cannot be computed)."""
    distinct = distinct_runs(runs)
    out = {}
    subsets = {d: distinct[distinct["dataset"] == d] for d in dict.fromkeys(distinct["dataset"])}
    subsets["mean"] = distinct
    for name, sub in subsets.items():
        scores = st.seed_scores(sub).dropna()
        means = scores.mean().sort_values(ascending=False, kind="stable")
        if len(means) < 2:
            continue
        a, b = means.index[0], means.index[1]
        diff, half, _p = st.paired_t(scores[a] - scores[b])
        out[name] = {
            "best": a,
            "runner_up": b,
            "diff": float(diff),
            "ci95": float(half) if np.isfinite(half) else None,
            "n_seeds": int(len(scores)),
            "within_noise": bool(not np.isfinite(half) or abs(diff) <= half),
        }
    return out


def _noise_text(v: dict) -> str:
    half = "n/a" if v["ci95"] is None else f"±{100 * v['ci95']:.2f}"
    return (
        f"{v['best']} vs {v['runner_up']}: {100 * v['diff']:+.2f} points, paired 95% CI {half} over "
        f"{v['n_seeds']} seeds, " + ("within seed noise" if v["within_noise"] else "outside seed noise")
    )


def marks_note(runs: pd.DataFrame) -> str:
    """Generated Markdown under the accuracy table: per column, whether the **best** mark is within seed noise of
    the runner-up (``best_vs_runner_up``)."""
    rows = best_vs_runner_up(runs)
    if not rows:
        return "No runner-up to compare the best mark with."
    return (
        "Best mark against the runner-up (trained objectives): "
        + "; ".join(f"{'Mean' if k == 'mean' else k}: {_noise_text(v)}" for k, v in rows.items())
        + "."
    )


#: a training loss below this marks an unbounded objective that ran away (the six objectives of the grid are >= 0;
#: the raw-output NLL reading -f_y is unbounded below and reached -3,594 / -29,579 in the real runs): its value then
#: no longer measures fit
RUNAWAY_LOSS = -10.0


def negative_control(
    data: dict, cfg: ExperimentConfig, progress: bool = True, control_fits: dict | None = None
) -> pd.DataFrame:
    """Train ``cfg.negative_control["objective"]`` (``nll_raw``: torch.nn.NLLLoss fed the raw outputs, -f_y,
    unbounded below; Table 2's NLL read without the log) once per dataset at seed ``cfg.negative_control["seed"]``,
    with the run's other settings: a documented negative control, not one of the six objectives.

    control_fits: the fits ``run_grid`` trained beside the grid (``GridResult.control_fits``); the missing ones are
    trained here (in up to ``cfg.workers`` processes).

    One row per dataset: test accuracy (overall, aligned, conflicting, worst group), best/last epoch and the last
    training loss; ``diverged`` when the loss stopped being finite (training then stops there: no accuracy, the
    error text in ``note``) or ran away below ``RUNAWAY_LOSS`` (``ran_away``: the model is still evaluated, and the
    note says so). Empty when ``cfg.negative_control`` is None.
    """
    jobs = control_jobs(data, cfg)
    if not jobs:
        return pd.DataFrame()
    have = dict(control_fits or {})
    missing = [j for j in jobs if j not in have]
    if missing:
        sub = {j.dataset: data[j.dataset] for j in missing}
        have.update(
            fits.train_fits(
                missing, fit_data(sub, cfg), cfg.fit_spec(), cfg.workers, progress=progress, cache=fits.cache_dir()
            )
        )
    rows = []
    for job in jobs:
        res = have[job]
        row = {"dataset": job.dataset, "objective": job.objective, "seed": job.seed}
        if "error" in res:
            rows.append({**row, "diverged": True, "ran_away": False, "note": res["error"]})
            continue
        info, acc = res["info"], res["acc"]
        run = {**acc, "best_epoch": info["best_epoch"], "epochs": info["epochs"]}
        keep = ["accuracy", "aligned", "conflicting", "worst_group", "best_epoch", "epochs"]
        rows.append({**row, **{k: run[k] for k in keep}, **loss_status(float(info["history"][-1]["train_loss"]))})
    return pd.DataFrame(rows)


def loss_status(final_loss: float) -> dict:
    """``final_train_loss``, ``diverged`` / ``ran_away`` (True when the loss fell below ``RUNAWAY_LOSS``: an unbounded
    objective running away is a divergence of the loss, though the weights stay finite) and the ``note``."""
    ran_away = bool(final_loss < RUNAWAY_LOSS)
    return {
        "final_train_loss": final_loss,
        "diverged": ran_away,
        "ran_away": ran_away,
        "note": (
            f"unbounded loss ran away: last training loss {final_loss:.4g}, below {RUNAWAY_LOSS:g}" if ran_away else ""
        ),
    }


def control_vs_alias(control: pd.DataFrame, runs: pd.DataFrame, alias: str = "nll") -> pd.DataFrame:
    """The raw-output reading (``negative_control``) beside the reading the grid uses for ``alias`` (NLL on the
    softmax output, trained as its twin) at the same seed: test and conflicting accuracy of both and the
    difference raw - alias (one seed each: a description, no test)."""
    if not len(control) or "accuracy" not in control:
        return pd.DataFrame()
    rows = []
    for r in control.itertuples():
        if r.diverged and not getattr(r, "ran_away", False):  # no finite model to compare
            continue
        twin = runs[(runs["dataset"] == r.dataset) & (runs["objective"] == alias) & (runs["seed"] == r.seed)]
        if not len(twin):
            continue
        t = twin.iloc[0]
        rows.append(
            {
                "dataset": r.dataset,
                "seed": r.seed,
                "raw_reading": r.objective,
                "raw_accuracy": r.accuracy,
                "raw_conflicting": r.conflicting,
                "alias_reading": f"{alias} (= {t['trained_as']})",
                "alias_accuracy": float(t["accuracy"]),
                "alias_conflicting": float(t["conflicting"]),
                "raw_minus_alias": float(r.accuracy - t["accuracy"]),
            }
        )
    return pd.DataFrame(rows)


def negative_control_lines(control: pd.DataFrame, runs: pd.DataFrame | None = None) -> list[str]:
    """Generated lines on the raw-output NLL reading (``negative_control``), one per dataset, with the softmax
    reading of NLL (the alias of SCE) at the same seed beside it when ``runs`` has it."""
    lines = []
    beside = control_vs_alias(control, runs) if runs is not None and len(control) else pd.DataFrame()
    for r in control.itertuples() if len(control) else []:
        name = LABELS.get(r.objective, r.objective)
        head = f"- Raw-output NLL reading, a control ({r.dataset}, {name}, seed {r.seed}): "
        ran_away = bool(getattr(r, "ran_away", False))
        if r.diverged and not ran_away:
            lines.append(head + f"training stopped with a non-finite loss ({r.note}).")
            continue
        line = (
            head + f"test accuracy {100 * r.accuracy:.2f}% (bias-conflicting {100 * r.conflicting:.2f}%) after "
            f"{r.epochs} epochs, last training loss {r.final_train_loss:.4g} (unbounded below)"
            + (
                f": the loss diverged, running away below {RUNAWAY_LOSS:g}, so its value no longer measures fit and "
                f"the model kept is the early-stopping checkpoint (epoch {r.best_epoch})"
                if ran_away
                else ""
            )
        )
        b = beside[beside["dataset"] == r.dataset] if len(beside) else beside
        if len(b):
            b = b.iloc[0]
            line += (
                f"; the softmax reading used for NLL ({b['alias_reading']}) reaches {100 * b['alias_accuracy']:.2f}% "
                f"at the same seed ({100 * b['raw_minus_alias']:+.2f} points raw minus softmax, one seed each)"
            )
            if b["raw_minus_alias"] >= 0:
                line += (
                    ". The raw reading is not worse here, so this control is no evidence against it: reading "
                    "Table 2's NLL on softmax outputs (an alias of SCE) is our choice, not a finding"
                )
        lines.append(line + ".")
    return lines


def selection_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy (%) under three model selections, mean over seeds per (dataset, objective): the epoch with
    the best validation accuracy (ours, the table above), the last epoch, and the epoch with the best TEST accuracy
    (what DisEnt's vanilla learner keeps and reports: optimistic, shown only to read published numbers)."""
    cols = {
        "accuracy": "valid-selected",
        "last_epoch_accuracy": "last epoch",
        "best_test_accuracy": "best test (DisEnt)",
    }
    cols = {k: v for k, v in cols.items() if k in runs}  # the test set is no longer read every epoch
    out = distinct_runs(runs).groupby(["dataset", "objective"], sort=False)[list(cols)].mean() * 100
    return out.rename(columns=cols).round(2).reset_index()


def html_table(display: pd.DataFrame):
    """An ``accuracy_table`` display frame as rendered HTML (``**x**`` -> bold, ``<u>`` kept as a tag), so
    executed notebooks show the marks instead of raw Markdown or escaped tags."""
    from IPython.display import HTML

    bold = display.map(lambda v: re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", v) if isinstance(v, str) else v)
    return HTML(bold.to_html(index=False, escape=False))


def show_html(display: pd.DataFrame) -> None:
    """Display ``html_table(display)`` now (a marked table that is not its cell's last expression: shown with its
    marks rendered, not as raw Markdown); returns None."""
    from IPython.display import display as show

    show(html_table(display))


def cka_summary(cka_mats: dict) -> pd.DataFrame:
    """Per (dataset, objective): mean off-diagonal CKA, mean CKA of neighbouring layers, and CKA between
    the first and the last layer (a low value = representations change progressively with depth)."""
    rows = []
    for (d, o), m in cka_mats.items():
        off = m[~np.eye(len(m), dtype=bool)]
        rows.append(
            {
                "dataset": d,
                "objective": o,
                "mean_offdiag": float(np.nanmean(off)),
                "mean_adjacent": float(np.nanmean(np.diag(m, 1))),
                "first_last": float(m[0, -1]),
            }
        )
    return pd.DataFrame(rows)


#: a layer whose largest CKA to any other layer stays below this is "isolated" (named in the reading)
ISOLATED_CKA = 0.1
#: ... and so is a dip: a layer whose mean CKA to the other layers is below this share of the brightest row mean
#: within ``ISOLATED_WINDOW`` layers on EACH side (a dark row and column inside the heatmap, possibly a few layers
#: wide, e.g. a conv and its BatchNorm, which are similar to each other, so the absolute rule misses them;
#: review25s13run m7: the dark line before layer4 in the C-CIFAR SCE / BCE panels). The first and last layers, dark
#: at the heatmap's edge in any banded heatmap, have no side to dip from.
ISOLATED_RELATIVE = 0.5
ISOLATED_WINDOW = 4


def isolated_layers(
    cka_mats: dict,
    names,
    threshold: float = ISOLATED_CKA,
    relative: float = ISOLATED_RELATIVE,
    paper_layer: int = PAPER_LAYER,
) -> pd.DataFrame:
    """The layers of each heatmap whose CKA to every other layer is below ``threshold``, or whose mean CKA to the other
    layers is below ``relative`` x the brightest such mean within ``ISOLATED_WINDOW`` layers on each side (a near-zero
    or dark row and column: e.g. a ReLU whose units are all dead on the probe images, or a layer whose features one
    direction dominates), with their largest and mean CKA to the other layers and the heatmap's mean off-diagonal CKA
    with and without them, so that a reader sees what a dark line in a panel is and whether it moves the summary scores
    (review25s12b m5), and the heatmap's three claim scores (``cka_claims.model_scores``, the late box from
    ``paper_layer``) with and without them (``cka_claims.scores_without``, review25s14run m7)."""
    rows = []
    for (d, o), m in cka_mats.items():
        m = np.asarray(m, dtype=float)
        off = ~np.eye(len(m), dtype=bool)
        top, mean, sides = _line_stats(m)
        with np.errstate(invalid="ignore"):
            bad = np.flatnonzero((top < threshold) | (mean < relative * sides))
        if not len(bad):
            continue
        keep = np.setdiff1d(np.arange(len(m)), bad)
        sub = m[np.ix_(keep, keep)]
        full = cka_claims.scores_without(m, names, paper_layer, [])
        without = cka_claims.scores_without(m, names, paper_layer, bad)
        scores = {**full, **{f"{k}_without_isolated": v for k, v in without.items()}}
        for i in bad:
            rows.append(
                {
                    "dataset": d,
                    "objective": o,
                    "layer": int(i + 1),
                    "name": str(names[i]) if i < len(names) else "",
                    "max_cka_to_other_layers": float(top[i]),
                    "mean_cka_to_other_layers": float(mean[i]),
                    "brightest_neighbour_mean": float(sides[i]),
                    "mean_offdiag": float(np.nanmean(m[off])),
                    "mean_offdiag_without_isolated": float(np.nanmean(sub[~np.eye(len(sub), dtype=bool)])),
                    **{k: scores[k] for k in SCORE_COLUMNS},
                }
            )
    cols = ["dataset", "objective", "layer", "name", "max_cka_to_other_layers", "mean_cka_to_other_layers"]
    cols += ["brightest_neighbour_mean", "mean_offdiag", "mean_offdiag_without_isolated"]
    return pd.DataFrame(rows, columns=[*cols, *SCORE_COLUMNS])


def _line_stats(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per layer of an (n, n) CKA matrix: its largest and mean CKA to the other layers, and the brightest such mean
    within ``ISOLATED_WINDOW`` layers on each side (``_band_sides`` of a one-layer band: NaN for the first and last
    layers, which have no side to dip from)."""
    off = ~np.eye(len(m), dtype=bool)
    top = np.nanmax(np.where(off, m, -np.inf), axis=1)
    mean = np.nanmean(np.where(off, m, np.nan), axis=1) if len(m) > 1 else np.full(len(m), np.nan)
    return top, mean, _band_sides(mean, 1)


#: the widest dark band ``darkest_lines`` looks for (layers in a row)
DARK_BAND_MAX = 4


def _band_sides(mean: np.ndarray, width: int) -> np.ndarray:
    """For each start s, the brightest row mean within ``ISOLATED_WINDOW`` layers on each side of the band
    ``mean[s:s+width]`` (the smaller of the two sides' maxima); NaN where the band touches an edge."""
    n, w = len(mean), ISOLATED_WINDOW
    out = np.full(n, np.nan)
    for start in range(1, n - width):
        end = start + width
        out[start] = min(np.nanmax(mean[max(0, start - w) : start]), np.nanmax(mean[end : end + w]))
    return out


def _band_dips(mean: np.ndarray, width: int) -> np.ndarray:
    """For each start s, the mean of ``mean[s:s+width]`` over its ``_band_sides`` (a line's dip at width 1); NaN
    where the band touches an edge or its sides are not positive."""
    sides = _band_sides(mean, width)
    out = np.full(len(mean), np.nan)
    for start in np.flatnonzero(np.isfinite(sides) & (sides > 0)):
        out[start] = np.nanmean(mean[start : start + width]) / sides[start]
    return out


def darkest_lines(cka_mats: dict, names, paper_layer: int = PAPER_LAYER) -> pd.DataFrame:
    """Per heatmap, its darkest interior line and its darkest band of 2 to ``DARK_BAND_MAX`` layers in a row,
    whether or not ``isolated_layers`` flags them: the layers whose mean CKA to the other layers is the smallest
    share (``dip_ratio``) of the brightest row mean within ``ISOLATED_WINDOW`` layers on each side, with ``isolated``
    (the line only: the rule of ``isolated_layers``) and the heatmap's three claim scores with and without those
    layers (``cka_claims.scores_without``). A dark row and column a reader sees in a panel is then named, and its
    effect on the claims read, even below the flagging rule (review25s15run m4: the line just below layer4 in the
    C-CIFAR SCE, BCE and L2 panels) and when it is a few layers wide, where a single line's dip is muted by its dark
    neighbours (review25s16run m3). A stripe that is dark only against part of the heatmap (e.g. across a late box)
    need not show in these row means: the C-MNIST SoS stripe at layers 48-51 is not what this table finds."""
    rows = []
    for (d, o), m in cka_mats.items():
        m = np.asarray(m, dtype=float)
        top, mean, _ = _line_stats(m)
        full = cka_claims.scores_without(m, names, paper_layer, [])
        found = []
        dips = {b: _band_dips(mean, b) for b in range(1, DARK_BAND_MAX + 1)}  # width 1: a line
        line = dips[1]
        if np.isfinite(line).any():
            i = int(np.nanargmin(line))
            found.append((i, 1, float(line[i]), bool(top[i] < ISOLATED_CKA or line[i] < ISOLATED_RELATIVE)))
        # the darkest band; of bands equally dark, the first and widest (a band's dark part, not a slice of it)
        bands = [
            (round(float(r[s]), 9), s, -b) for b, r in dips.items() if b > 1 for s in np.flatnonzero(np.isfinite(r))
        ]
        best = min(bands, default=None)
        if best is not None:
            found.append((int(best[1]), -best[2], float(dips[-best[2]][best[1]]), None))
        for start, width, ratio, isolated in found:
            layers = list(range(start, start + width))
            without = cka_claims.scores_without(m, names, paper_layer, layers)
            rows.append(
                {
                    "dataset": d,
                    "objective": o,
                    "kind": "line" if width == 1 else "band",
                    "layer": start + 1,
                    "last_layer": start + width,
                    "name": " ... ".join(
                        dict.fromkeys(str(names[k]) for k in (layers[0], layers[-1]) if k < len(names))
                    ),
                    "mean_cka_to_other_layers": float(np.mean(mean[layers])),
                    "dip_ratio": ratio,
                    "isolated": isolated,
                    **{k: full[k] for k in ("change_after", "block_score", "progressive")},
                    **{f"{k}_without_it": without[k] for k in ("change_after", "block_score", "progressive")},
                }
            )
    return pd.DataFrame(rows)


#: the claim scores of ``isolated_layers``, each with and without the isolated layers
SCORE_COLUMNS = [c + tail for c in ("change_after", "block_score", "progressive") for tail in ("", "_without_isolated")]


def distinct_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The rows of objectives actually trained (an alias's repeated rows dropped)."""
    if "trained_as" not in runs:
        return runs
    return runs[runs["trained_as"] == runs["objective"]]


#: chance level of the 10-class tasks (every dataset here has 10 classes and 10 bias values)
CHANCE = 0.1
#: dataset -> the claim-id infix of its Table 3 column in claims.yaml (nb04_<infix>_<objective>)
TABLE3_IDS = {"cmnist": "cmnist", "cifar10c": "ccifar", "bffhq": "bffhq"}


def paper_table3(claims_file=None) -> dict:
    """``{dataset: {objective: accuracy}}`` of the paper's Table 3, read from the ``paper_value`` of the claims
    ``nb04_<infix>_<objective>`` in claims.yaml (the values are typed once, there)."""
    import yaml

    items = yaml.safe_load((claims_file or paths.CLAIMS).read_text()).get("claims", [])
    values = {c["id"]: c["paper_value"] for c in items}
    out: dict = {}
    for dataset, infix in TABLE3_IDS.items():
        for o in LABELS:
            v = values.get(f"nb04_{infix}_{o}")
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out.setdefault(dataset, {})[o] = float(v)
    return out


def rank_makeup_lines(summary_: dict, table3: dict | None = None) -> list[str]:
    """Per dataset with a Table 3 column: the rank of each trained objective (aliases left out) by mean test
    accuracy here and in the paper, so a group difference of the paper's size is also read for its makeup (which
    objectives make it: review25s15run m7, C-CIFAR's SoS 4th here and 1st in the paper), and whether every
    probabilistic objective ranks above every margin-based one, here and in the paper (review25s16run m1: C-MNIST's
    groups separate here, not in the paper, where BCE is 4th). Ties share the better rank."""
    table3 = paper_table3() if table3 is None else table3
    lines = []
    for d, objs in summary_.items():
        if d not in table3 or not isinstance(objs, dict):
            continue
        trained = [
            o
            for o, v in objs.items()
            if isinstance(v, dict) and "accuracy" in v and v.get("trained_as", o) == o and o in table3[d]
        ]
        if len(trained) < 2:
            continue
        here = st.joint_ranks([objs[o]["accuracy"] for o in trained])
        paper = st.joint_ranks([table3[d][o] for o in trained])
        order = sorted(range(len(trained)), key=lambda i: (here[i], trained[i]))
        prob = [i for i, o in enumerate(trained) if o in PROBABILISTIC]
        marg = [i for i, o in enumerate(trained) if o in MARGIN]

        def apart(ranks, prob=prob, marg=marg):  # every probabilistic objective ranked above every margin-based one
            return bool(prob and marg and max(ranks[i] for i in prob) < min(ranks[i] for i in marg))

        cells = ", ".join(
            f"{trained[i]} {cka_claims.ordinal(here[i] + 1)} ({cka_claims.ordinal(paper[i] + 1)})" for i in order
        )
        sides = {k: "all above" if apart(r) else "not all above" for k, r in (("here", here), ("paper", paper))}
        lines.append(
            f"  - Makeup ({d}): rank of the {len(trained)} trained objectives here (in the paper's Table 3): {cells}; "
            f"the probabilistic objectives are {sides['here']} the margin-based ones here and {sides['paper']} them "
            "in the paper"
            + (
                ": the two group differences are made of different orders, so a matching size does not mean a "
                "matching ranking."
                if sides["here"] != sides["paper"]
                else ("." if list(here) == list(paper) else " (other ranks differ within or across the groups).")
            )
        )
    return lines


def paper_effects(datasets, table3: dict | None = None, objectives=None) -> dict:
    """The paper's effect for the two ranking claims over ``datasets`` (mean over those with a Table 3 column),
    computed over the objectives the test compares (``objectives``: the trained ones, aliases dropped; default every
    objective of Table 3 less the aliases of ``lib.bias.objectives.ALIASES``, as ``distinct_runs`` drops NLL when it
    is SCE's alias): probabilistic_above_margin = mean(probabilistic) - mean(margin-based); best_is_probabilistic =
    best probabilistic - best margin-based. Counting the paper's separate NLL run would set the "underpowered" line
    by a different comparison than the one tested (review 25s5 M3: C-MNIST +0.56 points with NLL, +0.13 without;
    C-CIFAR best-is-probabilistic +0.44 with NLL, -0.37 without). Empty when no dataset has a column."""
    table3 = paper_table3() if table3 is None else table3
    if objectives is None:
        objectives = [o for o in PROBABILISTIC + MARGIN if not (o in ALIASES and ALIASES[o] in PROBABILISTIC + MARGIN)]
    prob = [o for o in PROBABILISTIC if o in objectives]
    marg = [o for o in MARGIN if o in objectives]
    cols = [table3[d] for d in datasets if d in table3 and all(o in table3[d] for o in prob + marg)]
    if not cols or not prob or not marg:
        return {}
    return {
        "probabilistic_above_margin": float(
            np.mean([np.mean([c[o] for o in prob]) - np.mean([c[o] for o in marg]) for c in cols])
        ),
        "best_is_probabilistic": float(np.mean([max(c[o] for o in prob) - max(c[o] for o in marg) for c in cols])),
        "objectives": prob + marg,
    }


def bias_guard(runs: pd.DataFrame, chance: float = CHANCE) -> dict:
    """Per dataset, over the trained models (every seed, not seed means): the lowest bias-conflicting and
    worst-group accuracy, the highest ``bias_rate`` (share of conflicting samples predicted as their bias class),
    and ``follows_bias``: some model's conflicting accuracy is at or below chance, or its worst group is 0, or it
    predicts the bias class on conflicting samples at least as often as the label (bias_rate >= conflicting). A
    ranking of such models measures how fast each loss fits the shortcut. ``models_following``: how many models
    meet one of the three conditions, of ``n_models``."""
    out = {}
    for d, grp in distinct_runs(runs).groupby("dataset", sort=False):
        conflicting = grp["conflicting"] if "conflicting" in grp else pd.Series(np.nan, index=grp.index)
        worst = grp["worst_group"] if "worst_group" in grp else pd.Series(np.nan, index=grp.index)
        rate = grp["bias_rate"] if "bias_rate" in grp else pd.Series(np.nan, index=grp.index)
        follows = (conflicting <= chance) | (worst <= 0) | (rate >= conflicting)
        out[d] = {
            "chance": chance,
            "min_conflicting": float(conflicting.min()) if conflicting.notna().any() else None,
            "min_worst_group": float(worst.min()) if worst.notna().any() else None,
            "max_bias_rate": float(rate.max()) if rate.notna().any() else None,
            "bias_rate_at_least_conflicting": int((rate >= conflicting).sum()),
            "models_following": int(follows.sum()),
            "n_models": int(len(grp)),
            "follows_bias": bool(follows.any()),
            "zero_groups": zero_groups(grp),
        }
    return out


def zero_groups(grp: pd.DataFrame) -> list[str]:
    """The models of ``grp`` whose worst (class, bias) test group is at 0: which group and how many test samples
    it holds (``objective sN: class c / bias b (n samples)``)."""
    if "worst_group_class" not in grp or "worst_group" not in grp:
        return []
    rows = grp[grp["worst_group"] <= 0]
    return [
        f"{r.objective} s{int(r.seed)}: class {int(r.worst_group_class)} / bias {int(r.worst_group_bias)} "
        f"({int(r.worst_group_n)} samples)"
        for r in rows.itertuples()
    ]


def underpowered(test: dict, effect: float) -> bool:
    """Whether the report would call this ranking test "underpowered" against the paper's signed ``effect``
    (``ranking_word``: the interval holds the effect, or lies wholly on the claim's side of 0 without the adjusted p;
    never when the paper's own effect is <= 0, which is "not comparable")."""
    return ranking_word({**test, "paper_effect": effect}) == "underpowered"


def early_checkpoints(runs: pd.DataFrame) -> dict:
    """``{dataset: ["<objective> s<seed> (epoch e)", ...]}``: the trained models whose kept checkpoint predates
    ``min_epochs`` (``before_min_epochs`` in ``runs``: the smoothed validation curve peaked before patience was
    allowed to fire, so the model tested, ranked and CKA'd is younger than the stopping rule intends). Empty lists
    are left out; {} when ``runs`` has no such column."""
    if "before_min_epochs" not in runs:
        return {}
    out: dict = {}
    for r in distinct_runs(runs).itertuples():
        if bool(r.before_min_epochs):
            out.setdefault(r.dataset, []).append(f"{r.objective} s{int(r.seed)} (epoch {int(r.best_epoch)})")
    return out


def early_clause(early: dict, datasets=None) -> str:
    """A generated clause naming the models of ``early_checkpoints`` (of ``datasets``; all when None); '' when
    none."""
    parts = [f"{d}: {', '.join(v)}" for d, v in early.items() if v and (datasets is None or d in datasets)]
    if not parts:
        return ""
    return "kept checkpoints that predate min_epochs (younger than the stopping rule intends): " + "; ".join(parts)


def best_epochs(runs: pd.DataFrame) -> dict:
    """``{(dataset, objective, seed): best epoch}`` of the trained models (aliases left out): the age of the
    checkpoint each heatmap is computed from."""
    return {(r.dataset, r.objective, int(r.seed)): int(r.best_epoch) for r in distinct_runs(runs).itertuples()}


#: what the matched-budget comparison reads (``valid_smoothed``)
SMOOTHED_TEXT = "trailing mean that patience and the checkpoint read"


def matched_budget_table(history: pd.DataFrame, runs: pd.DataFrame, window: int = 1) -> pd.DataFrame:
    """One row per trained model (aliases left out): epochs run, best epoch, the best validation accuracy over the
    whole run (``valid_best``) and within its first ``budget_epochs`` epochs (``valid_best_first_n``), where
    ``budget_epochs`` is the shortest run of the model's dataset, so every model of a dataset is read after the same
    number of epochs. Patience stops some objectives long before others (a validation spike they share stops those
    that do not beat it soon), and a ranking of the best checkpoints then compares training lengths too. The maxima
    are of the smoothed curve the checkpoint is chosen on (``valid_smoothed``, the trailing mean patience reads;
    review25s12a m6), or of the raw curve for a history without it, over the epochs the checkpoint may be chosen
    from: from the first full trailing ``window`` on (params ``patience_smoothing``; an earlier "mean" is of 1 or 2
    epochs, review25s14code m2)."""
    cols = ["dataset", "objective", "seed", "epochs", "best_epoch", "budget_epochs", "valid_best"]
    col = "valid_smoothed" if "valid_smoothed" in history else "valid_acc"  # the curve the checkpoint is read on
    rows = []
    for d, grp in distinct_runs(runs).groupby("dataset", sort=False):
        n = int(grp["epochs"].min())
        for r in grp.itertuples():
            h = history[(history["dataset"] == d) & (history["objective"] == r.objective) & (history["seed"] == r.seed)]
            h = h[h["epoch"] >= min(window, n)]  # no partial window (the shortest run keeps at least its last epoch)
            first = h[h["epoch"] <= n]
            if not len(first):
                raise ValueError(f"{d}/{r.objective}/s{r.seed}: no validation history in the first {n} epochs")
            rows.append(
                {
                    "dataset": d,
                    "objective": r.objective,
                    "seed": int(r.seed),
                    "epochs": int(r.epochs),
                    "best_epoch": int(r.best_epoch),
                    "budget_epochs": n,
                    "valid_best": float(h[col].max()),
                    "valid_best_first_n": float(first[col].max()),
                    "best_epoch_first_n": int(first.loc[first[col].idxmax(), "epoch"]),
                }
            )
    return pd.DataFrame(rows, columns=[*cols, "valid_best_first_n", "best_epoch_first_n"])


def matched_budget(history: pd.DataFrame, runs: pd.DataFrame, window: int = 1) -> dict:
    """The paper's two ranking comparisons on validation accuracy, paired over seeds and Holm-corrected exactly as
    the headline ranking (``lib.bias.statistics.ranking_claims``), once over the whole runs (``whole_runs``) and
    once within the first ``budget_epochs`` of every run (``first_n``, N = the shortest run per dataset), with the
    epochs each objective ran. ``same_length``: every model of every dataset ran the same number of epochs (then
    the two comparisons coincide and the ranking has no training-length confound). {} without both groups."""
    table = matched_budget_table(history, runs, window)
    if not len(table):
        return {}
    whole = st.ranking_claims(table, PROBABILISTIC, MARGIN, metric="valid_best")
    first = st.ranking_claims(table, PROBABILISTIC, MARGIN, metric="valid_best_first_n")
    if not whole:
        return {}
    epochs = {
        d: {o: [int(e) for e in g["epochs"]] for o, g in grp.groupby("objective", sort=False)}
        for d, grp in table.groupby("dataset", sort=False)
    }
    group_epochs = {
        name: [int(e) for e in table[table["objective"].isin(objs)]["epochs"]]
        for name, objs in (("probabilistic", PROBABILISTIC), ("margin", MARGIN))
    }
    return {
        "budget_epochs": {d: int(g["budget_epochs"].iloc[0]) for d, g in table.groupby("dataset", sort=False)},
        "epochs": epochs,
        "group_epochs": group_epochs,
        "same_length": bool(table.groupby("dataset")["epochs"].nunique().max() == 1),
        "whole_runs": whole,
        "first_n": first,
    }


def _points(x: float) -> str:
    """'1 point', '0.5 points', '2 points' (``x`` in points, printed with :g)."""
    return f"{x:g} point" + ("" if f"{x:g}" == "1" else "s")


def _range(values) -> str:
    lo, hi = min(values), max(values)
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def length_clause(mb: dict, early: dict | None = None) -> str:
    """A short generated clause for beside a ranking verdict: whether the compared models trained for the same
    number of epochs (see ``matched_budget_lines``), and the models whose kept checkpoint predates min_epochs
    (``early_checkpoints``)."""
    tail = early_clause(early or {})
    if not mb:
        return tail
    if mb["same_length"]:
        text = "every model ran the same number of epochs: no training-length confound"
    else:
        g = mb["group_epochs"]
        text = (
            f"training lengths differ (a confound): probabilistic models ran {_range(g['probabilistic'])} epochs, "
            f"margin-based {_range(g['margin'])} (matched-budget comparison below)"
        )
    return text + (f"; {tail}" if tail else "")


def matched_budget_lines(mb: dict, headline: dict | None = None) -> list[str]:
    """Generated lines: each ranking comparison on validation accuracy over the whole runs and within the first N
    epochs of every run (``matched_budget``), and what that says about training length. ``headline``: the ranking
    tests on test accuracy (``summary``'s ``ranking_tests``); where a best-vs-best comparison picks other objectives
    on validation accuracy than that test does on test accuracy, the line says so (review25s16run nit: BCE vs L2
    here, BCE vs L1 in the test)."""
    if not mb:
        return []
    headline = headline or {}
    budget = ", ".join(f"{d} {n}" for d, n in mb["budget_epochs"].items())
    lines = []
    for name, full in mb["whole_runs"].items():
        part = mb["first_n"].get(name)
        if part is None:
            continue

        def fmt(t):
            return (
                f"{100 * t['diff']:+.2f} points (unadjusted 95% CI ±{100 * t['ci95']:.2f}, Holm p = "
                f"{t['p_holm']:.3g}: {t['verdict']}" + (f"; {t['compared']}" if t.get("compared") else "") + ")"
            )

        line = (
            f"- Matched training budget, {name} (smoothed validation accuracy: the {SMOOTHED_TEXT}, paired over "
            f"{full['n_seeds']} seeds): "
            f"{fmt(full)} over the whole runs; {fmt(part)} within the first N epochs of every run (N = the shortest "
            f"run: {budget})"
        )
        pairs = {full.get("compared"), part.get("compared")} - {None}
        test_pair = headline.get(name, {}).get("compared")
        if test_pair and pairs and pairs != {test_pair}:
            line += (
                f" (the best objectives picked on validation accuracy; the test on test accuracy compares {test_pair})"
            )
        if mb["same_length"]:
            line += "; every model ran the same number of epochs, so the two coincide."
        elif full["diff"] <= 0:  # no ranking on the claim's side over the whole runs: nothing for length to explain
            line += ". Over the whole runs the difference is not on the claim's side: there is no ranking here for the "
            line += "longer runs to explain."
        else:
            shrink = abs(part["diff"]) < abs(full["diff"]) or np.sign(part["diff"]) != np.sign(full["diff"])
            line += (
                ". The difference is smaller at the matched budget, which suggests that part of the ranking on the "
                "best checkpoints is the extra epochs some objectives were allowed (a point comparison: the change is "
                "not tested, and a maximum over more epochs is biased upward for the longer runs)."
                if shrink
                else ". The difference is not smaller at the matched budget (a point comparison, not tested): the "
                "longer runs do not appear to explain it."
            )
        lines.append(line)
    return lines


def summary(runs: pd.DataFrame, history: pd.DataFrame | None = None, window: int = 1) -> dict:
    """Nested metrics: ``{dataset: {objective: {accuracy, accuracy_std, accuracy_ci95, aligned, conflicting,
    worst_group, seeds, trained_as}}}``, the mean over datasets per objective, the best objectives (joint:
    all tied for best), and the paper's two ranking claims (point values and paired-seed tests).

    Means over objective groups count each trained objective once (an alias is not counted twice). With
    ``history`` (the validation curves): ``matched_budget``, the ranking comparisons at a matched training budget
    (``window``: params ``patience_smoothing``, the first epoch a checkpoint may be chosen at).
    """
    out: dict = {}
    for (d, o), grp in runs.groupby(["dataset", "objective"], sort=False):
        mean, half = st.ci95(grp["accuracy"])
        out.setdefault(d, {})[o] = {
            "accuracy": mean,
            "accuracy_std": float(grp["accuracy"].std(ddof=1)) if len(grp) > 1 else 0.0,
            "accuracy_ci95": half if np.isfinite(half) else None,
            "aligned": float(grp["aligned"].mean()),
            "conflicting": float(grp["conflicting"].mean()),
            "worst_group": float(grp["worst_group"].mean()) if "worst_group" in grp else None,
            "worst_group_min": float(grp["worst_group"].min()) if "worst_group" in grp else None,
            "bias_rate": float(grp["bias_rate"].mean()) if "bias_rate" in grp else None,
            "seeds": int(len(grp)),
            "trained_as": str(grp["trained_as"].iloc[0]) if "trained_as" in grp else o,
        }
    per_obj = runs.groupby(["objective", "dataset"])["accuracy"].mean().groupby("objective").mean()
    distinct = sorted(set(distinct_runs(runs)["objective"]))
    best = sorted(per_obj.index[st.joint_ranks(per_obj.round(12)) == 0])
    prob = [o for o in distinct if o in PROBABILISTIC]
    marg = [o for o in distinct if o in MARGIN]
    out["mean_over_datasets"] = {o: float(v) for o, v in per_obj.items()}
    out["best_objectives"] = best
    out["best_objective"] = "=".join(best)
    out["best_objective_is_probabilistic"] = bool(all(o in PROBABILISTIC for o in best))
    if prob and marg:
        out["probabilistic_mean"] = float(per_obj[prob].mean())
        out["margin_mean"] = float(per_obj[marg].mean())
        out["probabilistic_best_on_average"] = bool(per_obj[prob].mean() > per_obj[marg].mean())
        # the best pair picked on validation accuracy, not on the test accuracy it is tested on (review25s17 M4)
        pick = "valid_accuracy" if "valid_accuracy" in runs else None
        out["ranking_tests"] = st.ranking_claims(distinct_runs(runs), PROBABILISTIC, MARGIN, pick=pick)
        effects = paper_effects(list(dict.fromkeys(runs["dataset"])), objectives=distinct)
        for name, test in out["ranking_tests"].items():
            if name in effects:
                test["paper_effect"] = effects[name]
                test["paper_effect_objectives"] = effects["objectives"]  # the paper's values it is computed from
                test["underpowered"] = underpowered(test, effects[name])
    out["chance"] = CHANCE
    out["bias_guard"] = bias_guard(runs)
    out["early_checkpoints"] = early_checkpoints(runs)
    if history is not None and len(history):
        out["matched_budget"] = matched_budget(history, runs, window)
    return out


def pairwise_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Paired-seed tests between every two trained objectives (``lib.bias.statistics.pairwise_tests``)."""
    return st.pairwise_tests(distinct_runs(runs))


def cka_noise_floor(result: GridResult) -> tuple[pd.DataFrame, dict]:
    """Heatmap differences across seeds (noise floor) and across objectives, and their per-dataset summary
    (with ``bootstrap``: percentile intervals over probe-image resamples, when the run has them); aliases are left
    out (their matrices are their twin's)."""
    trained = {(r.dataset, r.objective, r.seed) for r in distinct_runs(result.runs).itertuples()}
    floor = st.cka_noise_floor({k: m for k, m in result.cka_seeds.items() if k in trained})
    summary_ = st.noise_floor_summary(floor)
    boot = st.bootstrap_noise_floor({k: b for k, b in result.cka_boot.items() if k in trained})
    for d, v in boot.items():
        summary_.setdefault(d, {})["bootstrap"] = v
    return floor, summary_


def probe_metrics(result: GridResult) -> dict:
    """``{"<dataset>.<objective>": cka_probe_study(...)}`` ({} when cka_probe_sets is 0)."""
    return {f"{d}.{o}": v for (d, o), v in result.probe.items()}


def cka_metrics(cka_table: pd.DataFrame) -> dict:
    """``{"<dataset>.<objective>": {mean_offdiag, first_last}}`` from ``cka_summary``."""
    return {
        f"{r.dataset}.{r.objective}": {"mean_offdiag": r.mean_offdiag, "first_last": r.first_last}
        for r in cka_table.itertuples()
    }


def metrics_meta(
    cfg: ExperimentConfig, run: str, source, counts: pd.DataFrame, result: GridResult, clock: dict | None = None
) -> dict:
    """The metrics ``meta`` block: data source (lib.core.provenance), configuration, timing (with ``clock``, the
    notebook's wall time and the load average at its start and end)."""
    clock = stop_clock(clock)
    timing = (
        {}
        if clock is None
        else {
            "wall_seconds": clock["wall_seconds"],
            "budget_minutes_per_dataset": BUDGET_MINUTES,
            "load_average_start": clock["load_start"],
            "load_average_end": clock["load_end"],
            "cores": clock["cores"],
        }
    )
    return {
        **source.meta(),
        "config": run,
        "seeds": list(cfg.seeds),
        "datasets": list(cfg.datasets),
        "objectives": list(cfg.objectives),
        "split": split_description(counts),
        "width": cfg.width,
        "stem": cfg.stem,
        "n_parameters": cfg.n_parameters(),
        "max_epochs": cfg.max_epochs,
        "patience": cfg.patience,
        "patience_smoothing": cfg.patience_smoothing,
        "min_epochs": cfg.min_epochs,
        "batch_size": cfg.batch_size,
        "learning_rate": cfg.learning_rate,
        "weight_decay": cfg.weight_decay,
        "train_size": cfg.train_size,
        "valid_size": cfg.valid_size,
        "cka_samples": cfg.cka_samples,
        "cka_probe_sets": cfg.cka_probe_sets,
        "cka_bootstrap": cfg.cka_bootstrap,
        "n_cka_layers": len(result.layer_names),
        "device": str(pick_device(cfg.device)),
        "precision": cfg.precision,
        "augment": cfg.augment,
        "total_train_seconds": float(distinct_runs(result.runs)["seconds"].sum()),  # aliases not counted twice
        **timing,
        **({"fit_cache": cache_counts(result.fit_cache)} if result.fit_cache else {}),
        "reductions": reductions(cfg, result.runs, clock, result.history, fit_cache=result.fit_cache),
    }


def cka_grid_title(result: GridResult) -> str:
    """Title of the CKA grid: how many layers each matrix covers and which layer the paper's 50th is."""
    mark = result.layer_names[PAPER_LAYER - 1] if len(result.layer_names) >= PAPER_LAYER else "n/a"
    return (
        f"CKA between {len(result.layer_names)} layers of ResNet18 (conv, norm, ReLU, shortcut, pool, FC); "
        f"dashed: the paper's layer {PAPER_LAYER} ({mark})"
    )


#: a paired t-test over this many seeds or fewer is labelled "little power" wherever its verdict is written
LOW_POWER_SEEDS = 3


def _pairs_power(n: int) -> str:
    """ "; paired t with n-1 df: little power" for the CKA t-tests over ``n`` seed pairs (review25s13run m6), '' when
    there are more than ``LOW_POWER_SEEDS`` or fewer than 2."""
    return f"; the t-tests are paired t with {n - 1} df: little power" if 2 <= n <= LOW_POWER_SEEDS else ""


def _verdict_line(name: str, test: dict, length: str = "") -> str:
    """One ranking verdict: Holm-adjusted p beside the unadjusted paired interval (said so), and ``length``
    (``length_clause``) after it."""
    n = int(test["n_seeds"])
    power = f"paired t with {n - 1} df" + (": little power" if n <= LOW_POWER_SEEDS else "")
    return (
        f"- {name}: {test['verdict']} (paired over {n} seeds, {power}: difference "
        f"{100 * test['diff']:+.2f} points, unadjusted 95% CI ±{100 * test['ci95']:.2f}, Holm-adjusted p = "
        f"{test['p_holm']:.3g} over the two ranking tests, not the pairwise table's family)"
        + (f"; {length}" if length else "")
    )


def probe_lines(probe: dict) -> list[str]:
    """Generated lines on the probe-set study (``probe_metrics``), one per dataset (means over objectives)."""
    lines = []
    by_dataset: dict = {}
    for key, v in probe.items():
        by_dataset.setdefault(key.split(".")[0], []).append(v)
    for d, vs in by_dataset.items():
        if vs[0]["probe_set_diff_max"] is None:
            continue
        diff = np.mean([v["probe_set_diff_mean"] for v in vs])
        dmax = max(v["probe_set_diff_max"] for v in vs)
        group = np.mean([v["aligned_vs_conflicting_diff"] for v in vs])
        n_above = sum(v["aligned_vs_conflicting_above_probe_max"] for v in vs)
        lines.append(
            f"- CKA probe sets ({d}, {vs[0]['n_probe_sets']} disjoint sets of {vs[0]['probe_size']} test images, "
            f"first-seed models): mean |difference| between sets {diff:.3f} (max {dmax:.3f}); bias-aligned vs "
            f"bias-conflicting probes ({vs[0]['group_size']} each) {group:.3f}, above the largest probe-set "
            f"difference for {n_above} of {len(vs)} objectives; block score (within minus between stages) "
            f"{np.mean([v['block_score_mean'] for v in vs]):.3f} (probe-set sd "
            f"{np.mean([v['block_score_sd'] or 0 for v in vs]):.3f}); float32 Gram path: max |CKA error| vs "
            f"float64 {max(v['float32_max_abs_error'] for v in vs):.1e}."
        )
    return lines


def plateau_sentence(convergence: pd.DataFrame) -> str:
    """One generated sentence against SPEC section 8 ("training to convergence (validation curves shown to
    plateau)"): how many (dataset, objective) rows of ``convergence_table`` are shown to plateau, and what the others
    are (a late linear trend rising; stopped by patience or at the epoch cap with a rise that is not excluded). '' when
    empty."""
    if convergence is None or not len(convergence):
        return ""
    verdicts = convergence["verdict"].astype(str)
    n, k = len(verdicts), int(verdicts.str.startswith("plateau").sum())
    what = "(dataset, objective) validation curves" if convergence["dataset"].nunique() > 1 else "objectives"
    text = f"{k} of {n} {what} shown to plateau (SPEC section 8 asks for validation curves shown to plateau)"
    if k == n:
        return text
    rising = int(verdicts.str.startswith(RISING).sum())
    short = int(verdicts.str.contains("too few epochs").sum())
    open_ = n - k - rising - short
    others = [
        f"{rising} with a rising late linear trend" if rising else "",
        f"{open_} stopped (by patience or at the epoch cap) with a rise above the tolerance not excluded"
        if open_
        else "",
        f"{short} with too few epochs for a slope" if short else "",
    ]
    return text + "; the others: " + ", ".join(o for o in others if o) + ": for them that requirement is not met"


#: the reductions' sentence on the input transform, one per ``augment`` value (lib.bias.training.AUGMENTS)
AUGMENT_TEXT = {
    "none": "no augmentation and no input normalisation (the paper normalises: 'without any augmentations (except "
    "normalisation)')",
    "normalise": "no augmentation, input normalisation only (the paper's transform; DisEnt's C-CIFAR channel means "
    "and standard deviations)",
    "disent_cifar": "augmentation: DisEnt's C-CIFAR random crop (padding 4) and horizontal flip, with its "
    "normalisation (the paper trains without augmentation)",
}


def reductions(
    cfg: ExperimentConfig,
    runs: pd.DataFrame,
    clock: dict | None = None,
    history: pd.DataFrame | None = None,
    fit_cache: dict | None = None,
) -> str:
    """Generated Markdown: how this run departs from the paper's protocol (Sec. 3), from the configuration and
    the runs table (how many models were still improving at the epoch cap); with ``history`` (the validation
    curves) also how many objectives are shown to plateau (``plateau_sentence``, review 25s5 M4); ``fit_cache``
    (``GridResult.fit_cache``): the run time says how many fits came from the fit cache."""
    runs = distinct_runs(runs) if len(runs) else runs
    at_cap = int((runs["epochs"] >= cfg.max_epochs).sum()) if len(runs) else 0
    # a patience stop can fall on the cap's epoch: "ran to the cap" counts it, "reached the cap unstopped" does not
    stopped_there = (
        int(((runs["epochs"] >= cfg.max_epochs) & runs["stopped_by_patience"].fillna(False).astype(bool)).sum())
        if len(runs) and "stopped_by_patience" in runs
        else 0
    )
    # the kept checkpoint is the cap's own epoch: the curve was at its maximum when the run ended (review25s14run m2)
    last = runs[runs["best_epoch"] >= cfg.max_epochs] if len(runs) and "best_epoch" in runs else runs.iloc[:0]
    there = [
        f"{stopped_there} of them a patience stop there" if stopped_there else "",
        (
            f"{len(last)} of them with the checkpoint at epoch {cfg.max_epochs} itself, the smoothed curve's maximum "
            "at the run's last epoch: "
            + ", ".join(f"{r.dataset} {r.objective} s{int(r.seed)}" for r in last.itertuples())
        )
        if len(last)
        else "",
    ]
    there = "; ".join(t for t in there if t)
    items = [
        f"width {cfg.width:g} of ResNet18 ({cfg.n_parameters():,} parameters; paper: 1.0, 11.2 M)",
        f"{cfg.stem} stem",
        f"batch {cfg.batch_size} (paper: 512)",
        f"at most {cfg.max_epochs} epochs, early stopping after {cfg.patience} epochs without improvement "
        + (
            f"of the {cfg.patience_smoothing}-epoch trailing mean of the validation accuracy "
            if cfg.patience_smoothing > 1
            else "of the validation accuracy "
        )
        + (f"and not before epoch {cfg.min_epochs} " if cfg.min_epochs > 1 else "")
        + f"(paper: patience {PAPER_PATIENCE} on the raw curve, no cap); {at_cap} of {len(runs)} runs ran to epoch "
        f"{cfg.max_epochs}" + (f" ({there})" if there else "") + "; a patience "
        "stop is not a plateau: the convergence table calls a curve a plateau only when the upper 95 % bound of its "
        f"late slope x {GAIN_EPOCHS} epochs is below {_points(100 * cfg.plateau_tolerance)}, and otherwise states the "
        f"rise per {GAIN_EPOCHS} epochs that this run does not exclude",
        "training in "
        + ("float32" if cfg.precision == "fp32" else "bfloat16 autocast (weights and evaluation float32)"),
        AUGMENT_TEXT[cfg.augment],
        "training split: " + ("all of it" if cfg.train_size is None else f"a stratified subset of {cfg.train_size:,}"),
        "validation split: "
        + ("all of it" if cfg.valid_size is None else f"a stratified subset of {cfg.valid_size:,}"),
        f"seeds {list(cfg.seeds)} (paper: 3 runs)",
        "the full-width network "
        + (
            "(the issue's deliverable: one seed per objective on C-MNIST) is not run: at its throughput measured in "
            "benchmarks/results/train_throughput.md the five models alone exceed the per-dataset CPU budget"
            if cfg.width < 1
            else "is this run's network"
        ),
        f"CKA on {cfg.cka_samples:,} test images"
        + (f" ({cfg.cka_bootstrap} bootstrap resamples)" if cfg.cka_bootstrap else ""),
    ]
    if history is not None and len(history) and len(runs):
        conv = convergence_table(
            history, runs, cfg.max_epochs, cfg.plateau_tolerance, min_epochs=cfg.min_epochs, patience=cfg.patience
        )
        items.append(plateau_sentence(conv))
        items.append(converged_sentence(conv))
    if clock is not None:
        seconds = float(runs["seconds"].sum()) if len(runs) and "seconds" in runs else None
        items.append(budget_line(cfg, clock, fit_cache, train_seconds=seconds))
    return "Reductions against the paper's protocol (this run): " + "; ".join(i for i in items if i) + "."


def interpretation(
    summary_: dict,
    floor_summary: dict,
    source,
    probe: dict | None = None,
    control: pd.DataFrame | None = None,
    cka_tested: dict | None = None,
    runs: pd.DataFrame | None = None,
) -> str:
    """Generated reading of the results (Markdown): the two ranking claims with their tests, the alias, and the
    CKA noise floor against the between-objective differences. No number in it is typed by hand."""
    lines = [f"Data: {source.stamp}.", ""]
    guards = guard_lines(summary_)
    lines += guards
    tests = summary_.get("ranking_tests", {})
    early = summary_.get("early_checkpoints", {})
    length = length_clause(summary_.get("matched_budget", {}), early)
    if "probabilistic_above_margin" in tests:
        lines.append(
            _verdict_line(
                "Probabilistic objectives above margin-based ones", tests["probabilistic_above_margin"], length
            )
        )
        lines += rank_makeup_lines(summary_)
    if "best_is_probabilistic" in tests:
        best = tests["best_is_probabilistic"]
        picked = {"valid_accuracy": ", the best of each group on validation accuracy"}.get(best.get("picked_on"), "")
        lines.append(_verdict_line(f"Best objective is probabilistic ({best['compared']}{picked})", best, length))
    noise = best_vs_runner_up(runs).get("mean") if runs is not None and len(runs) else None
    lines.append(
        f"- Best mean accuracy: {', '.join(summary_['best_objectives'])} (ties share the rank)"
        + (f" ({_noise_text(noise)})" if noise else "")
        + f"; probabilistic {'above' if summary_.get('probabilistic_best_on_average') else 'not above'} "
        "margin-based on the point means" + (f"; {length}." if length else ".")
    )
    lines += matched_budget_lines(summary_.get("matched_budget", {}), summary_.get("ranking_tests"))
    aliases = sorted(
        {
            (o, v["trained_as"])
            for d, objs in summary_.items()
            if isinstance(objs, dict)
            for o, v in objs.items()
            if isinstance(v, dict) and v.get("trained_as", o) != o
        }
    )
    for alias, twin in aliases:
        lines.append(f"- {alias} was not trained separately: it is the same function of the logits as {twin}.")
    for d, f in floor_summary.items():
        if "bootstrap" in f and f.get("objective_mean") is not None:
            b = f["bootstrap"]
            lines.append(
                f"- Probe-image sensitivity ({d}, {b['n_boot']} bootstrap resamples of the probe images, the same for "
                f"every model): between-objective minus same-objective heatmap difference "
                f"{f['objective_mean'] - f['seed_mean']:+.3f}, 95% interval over probe images "
                f"[{b['excess_ci'][0]:+.3f}, {b['excess_ci'][1]:+.3f}]. This describes the probe images only; the "
                "noise-floor verdict is the test over trained models in the CKA line below."
            )
    if guards:  # the ranking verdicts above are on models that follow the bias or did not converge
        lines.append("- The ranking verdicts above are read under the guards that open this reading: not comparable.")
    lines += ranking_lines(summary_)
    lines += cka_claim_lines(cka_tested or {}, early)
    lines += probe_lines(probe or {})
    lines += negative_control_lines(control if control is not None else pd.DataFrame(), runs)
    return "\n".join(lines)


def cka_claim_lines(cka_tested: dict, early: dict | None = None) -> list[str]:
    """Prose for ``lib.bias.cka_claims.cka_claims``: per dataset the four verdicts (relative to the untrained
    baseline, Holm-adjusted over the run's CKA claims), the checkpoint-age reading with the models whose kept
    checkpoint predates min_epochs (``early_checkpoints``), and where change_after peaks."""
    lines = []
    for d, c in cka_tested.items():
        ch, b, p, n = c["change_after_layer"], c["block_structured"], c["progressive"], c["noise_floor"]
        by_base = c.get("untrained_scores_by_baseline", {"eval": c.get("untrained_scores", {})})

        def holm_p(v):
            return (
                f" (Holm p = {v['p_holm']:.3g} over this run's {v['n_tests_holm']} tests; "
                + (f"smallest attainable {v['p_min_holm']:.3g})" if v.get("p_min_holm") else "no floor (t-test))")
                if v.get("p_holm") is not None
                else ""
            )

        def bmean(key, by_base=by_base):
            parts = [
                f"{label} {np.mean(by_base[k][key]):.3f}"
                for k, label in (("eval", "eval-mode BN"), ("bn_recalibrated", "BN recalibrated"))
                if by_base.get(k, {}).get(key)
            ]
            return ", ".join(parts) if parts else "n/a"

        peaks = ch.get("peaks", {})
        peak_text = ", ".join(f"{o} k = {v['k']} ({v['height']:.3f})" for o, v in peaks.items())
        lines.append(
            f"- CKA claims ({d}, tested over {c.get('n_models', 'the')} trained models, paired by seed against "
            f"{len(c.get('untrained_seeds', []))} untrained networks of the same architecture and initialisation on "
            "the same probe images, BatchNorm in eval mode and recalibrated on the probes, the more conservative "
            "deciding" + _pairs_power(len(c.get("untrained_seeds", []))) + f"): box from layer {c['paper_layer']} on: "
            f"{ch['verdict']}{holm_p(ch)} (untrained score {bmean('change_after')}); {b['objective']} "
            f"block-structured: {b['verdict']}{holm_p(b)} (untrained block score {bmean('block_score')}); "
            f"{p['objective']} progressive, compared with "
            + (
                f"{p['compared_with']} and the untrained network: "
                if p.get("compared_with")
                else f"the untrained network only (the paper calls {b['objective']} progressive on this dataset too): "
            )
            + f"{p['verdict']}{holm_p(p)} (untrained score {bmean('progressive')}); heatmaps between objectives: "
            f"{n['verdict']}"
            + (
                f" (permutation p = {n['p']:.3g} over {n['n_models']} models, labels permuted within seeds"
                + (f": exact over {n['n_arrangements']} arrangements" if n.get("exact") else "")
                + f"){holm_p(n)}."
                if n.get("p") is not None
                else "."
            )
            + (f" {age}" if (age := cka_claims.age_sentence(n.get("checkpoint_age", {}))) else "")
            + (f" Heatmaps from {young}." if (young := early_clause(early or {}, [d])) else "")
            + (f" The late-box score change_after(k) peaks at: {peak_text}." if peak_text else "")
        )
    return lines


def alias_map(runs: pd.DataFrame) -> dict:
    """``{alias: twin}`` of the objectives not trained separately in ``runs`` (e.g. nll -> sce)."""
    if "trained_as" not in runs:
        return {}
    pairs = runs[runs["trained_as"] != runs["objective"]][["objective", "trained_as"]].drop_duplicates()
    return dict(zip(pairs["objective"], pairs["trained_as"]))


def corruption_grid(cfg: ExperimentConfig, n: int = 6):
    """Every corruption on the same clean CIFAR-10 test images (``lib.bias.plots.plot_corruption_grid``) at the
    build's level, when the run has the ``cifar10c`` dataset; else None."""
    if "cifar10c" not in cfg.datasets:
        return None
    from lib.bias import cifar10c
    from lib.bias.plots import plot_corruption_grid

    build = cifar10c.build_config("real")
    images, names = cifar10c.grid_images(paths.shared_data(cifar10c.SOURCE_NAME), n)
    return plot_corruption_grid(images, names, build.severity, seed=build.seed)


def corruption_constants(cfg: ExperimentConfig) -> pd.DataFrame:
    """The constants of every corruption at the build's level, with their source (``lib.bias.corruptions``)."""
    from lib.bias import cifar10c, corruptions

    return corruptions.constants_table(cifar10c.build_config("real").severity)


def sanity_tables(cfg: ExperimentConfig, path=None) -> dict:
    """The committed sanity runs of the Corrupted CIFAR-10 build (``lib.bias.sanity``,
    benchmarks/results/cifar10c_sanity.json) as tables and a sentence, when the run has ``cifar10c`` and the file
    exists; else {}."""
    import json

    path = path or paths.ROOT / "benchmarks" / "results" / "cifar10c_sanity.json"
    if "cifar10c" not in cfg.datasets or not path.is_file():
        return {}
    res = json.loads(path.read_text())
    c = res["config"]
    unbiased = pd.DataFrame(res["unbiased"]["table"]) if "unbiased" in res else pd.DataFrame()
    biased = pd.DataFrame(
        [
            {"seed": r["seed"], **{k: v for k, v in r["summary"].items() if k != "valid_history"}}
            for r in res.get("biased", {}).get("runs", [])
        ]
    )
    text = (
        "Sanity runs of this build (`lib.bias.sanity`, measured apart and committed in "
        f"`{path.relative_to(paths.ROOT)}`): "
        f"a ResNet18 of width {c['width']} ({c['stem']} stem, {c['objective'].upper()}, {c['epochs']} epochs) on "
        f"{c['n_train']:,} training images. Unbiased corruptions (no label information in them): test accuracy per "
        f"corruption with its Wilson 95% interval, chance 10%; then the same subset at {c['conflict_pct']:g}% "
        "bias-conflicting, unbiased test."
    )
    return {"text": text, "unbiased": unbiased, "biased": biased}


#: SPEC section 8: notebook 04 may take up to this many minutes per dataset
BUDGET_MINUTES = 60


def run_clock() -> dict:
    """The notebook's clock, started in its first code cell: wall time and the 1-minute load average."""
    return {"start": time.time(), "load_start": float(os.getloadavg()[0]), "cores": os.cpu_count()}


def stop_clock(clock: dict | None) -> dict | None:
    """Stop ``run_clock`` once (later calls keep the first reading): ``wall_seconds`` and ``load_end``."""
    if clock is not None and "wall_seconds" not in clock:
        clock["wall_seconds"] = float(time.time() - clock["start"])
        clock["load_end"] = float(os.getloadavg()[0])
    return clock


def cache_counts(fit_cache: dict) -> dict:
    """``{"from_cache": k, "trained": n}`` of a run's ``GridResult.fit_cache``."""
    return {k: len(fit_cache.get(k, [])) for k in ("from_cache", "trained")}


def cache_clause(fit_cache: dict | None, train_seconds: float | None = None) -> str:
    """With fits read from the fit cache: that the run time does not include their training, and the grid's fit
    time when the fits ran (``train_seconds``: the runs table's seconds summed over the grid's fits, the negative
    control's aside; a sum over fits, not the wall time of the run that trained them); '' otherwise."""
    c = cache_counts(fit_cache or {})
    if not c["from_cache"]:
        return ""
    total = c["from_cache"] + c["trained"]
    when = (
        f": the grid's fits took {train_seconds / 60:.1f} min when they ran, summed over the fits (the negative "
        "control's aside), not the wall time of the run that trained them"
        if train_seconds
        else ""
    )
    return (
        f" ({c['from_cache']} of {total} training fits were read from the fit cache ({fits.FIT_CACHE_ENV}, "
        "lib.bias.fits: the same fit code, data, settings and CPU kernels), so this time does not include "
        f"their training{when}; the runs table's seconds are each fit's training time when it ran)"
    )


def budget_line(
    cfg: ExperimentConfig, clock: dict | None, fit_cache: dict | None = None, train_seconds: float | None = None
) -> str:
    """One generated sentence: this run's wall time against the budget, with the load beside it (and, with fits
    read from the fit cache, that it does not include their training)."""
    clock = stop_clock(clock)
    if clock is None:
        return ""
    n = len(cfg.datasets)
    cached = cache_clause(fit_cache, train_seconds)
    return (
        f"this run took {clock['wall_seconds'] / 60:.1f} min{cached} against the {BUDGET_MINUTES}-min budget per "
        "dataset "
        f"({n} dataset{'s' if n > 1 else ''} here: {BUDGET_MINUTES * n} min), load average {clock['load_start']:.2f} "
        f"at its start and {clock['load_end']:.2f} at its end on {clock['cores']} cores, the training fits in "
        + ("this process" if cfg.workers == 1 else f"up to {cfg.workers} single-thread worker processes")
        + "; "
        + pin_clause()
    )


def pin_clause() -> str:
    """Which CPU kernels ran: the processor pin of ``lib.core.determinism`` (``REPRO_PINNED``) or none (native
    kernels: numbers may differ in the last bits on another processor, so a run compared with a pinned one mixes that
    difference with any change of code; review25s12a M2)."""
    pinned = os.environ.get("REPRO_PINNED")
    if pinned:
        return f"CPU kernels pinned to {pinned} (lib.core.determinism: the same numbers on AVX2 and AVX-512 machines)"
    return "CPU kernels not pinned (native dispatch: the last bits may differ on another processor)"


#: the "most this run could still gain" is read per this many epochs
GAIN_EPOCHS = 10
#: "still rising" is read over a curve's last this many epochs (at least 3): where the run ended (review25s17 M1: over
#: the second half of a 40-epoch curve that rose and then levelled off, a line fit called C-CIFAR SCE rising while its
#: last 10 epochs were flat; C-CIFAR BCE seed 0, stopped by patience at epoch 24, rose over its last 10)
LATE_EPOCHS = 10
#: the convergence verdict of a curve whose slope interval over its last epochs lies above 0 (``convergence_verdict``)
RISING = "late linear trend rising"


def _slope_fit(y: np.ndarray) -> dict:
    """Least-squares slope of ``y`` against its index with its two-sided 95 % t-interval (n - 2 df); Nones below 3
    points."""
    if len(y) < 3:
        return {"slope": None, "low": None, "high": None, "half": None, "n": len(y)}
    fit_ = stats.linregress(np.arange(len(y), dtype=float), y)
    half = float(stats.t.ppf(1 - st.ALPHA / 2, len(y) - 2) * fit_.stderr)
    return {"slope": float(fit_.slope), "low": float(fit_.slope - half), "high": float(fit_.slope + half), "half": half,
            "n": len(y)}  # fmt: skip


def late_slope(valid_acc) -> dict:
    """The late trend of one validation curve, read twice.

    - Over its second half (at least its last 3 epochs; the whole curve when shorter): the least-squares slope
      (accuracy per epoch) with its two-sided 95 % t-interval (n - 2 degrees of freedom); ``gain_bound``: the
      interval's upper end x ``GAIN_EPOCHS``, the most this run could still gain per ``GAIN_EPOCHS`` epochs at that
      trend (a plateau must hold over the whole second half); ``flat_bound``: the interval's half-width x
      ``GAIN_EPOCHS``, the bound a perfectly flat curve with this curve's noise would get (above the plateau
      tolerance, these epochs cannot show a plateau at all: review25s17 M2).
    - Over its last ``LATE_EPOCHS`` epochs, at most its second half (``end_slope``, ``end_low``, ``end_epochs``):
      whether it was still rising where the run ended, which decides ``RISING`` (a rise before a curve levels off
      does not).

    None where fewer than 3 epochs. The second half, not only the epochs after the best one: those are by
    construction the epochs that never beat the best, on which a rise can hardly show."""
    y = np.asarray(valid_acc, dtype=float)
    half_ = _slope_fit(y[len(y) - max(3, (len(y) + 1) // 2) :] if len(y) >= 3 else y)
    end = _slope_fit(y[len(y) - max(3, min(LATE_EPOCHS, (len(y) + 1) // 2)) :] if len(y) >= 3 else y)
    out = {
        "slope": half_["slope"],
        "low": half_["low"],
        "high": half_["high"],
        "gain_bound": None if half_["high"] is None else float(half_["high"] * GAIN_EPOCHS),
        "flat_bound": None if half_["half"] is None else float(half_["half"] * GAIN_EPOCHS),
        "n_epochs": half_["n"],
        "end_slope": end["slope"],
        "end_low": end["low"],
        "end_epochs": end["n"],
    }
    return out


def _end_low(slope: dict):
    """The lower 95 % bound of a seed's slope over its last epochs (``late_slope``'s ``end_low``; the second half's
    ``low`` for a slope without it)."""
    return slope.get("end_low", slope.get("low"))


def convergence_verdict(slopes: dict, stopped: int, n_seeds: int, tolerance: float, ends: dict | None = None) -> str:
    """The convergence verdict of one (dataset, objective) from its seeds' ``late_slope``: ``RISING`` when
    some seed's slope interval over its last ``LATE_EPOCHS`` epochs lies above 0 (a linear trend where the run ended,
    which can hold while the mean curve dips over the last few epochs: the words say so, review25s14run m3; a
    patience-stopped seed included, review25s17 M1); "plateau" only when every seed's
    ``gain_bound`` is below ``tolerance`` (an equivalence statement: a rise above the tolerance per ``GAIN_EPOCHS``
    epochs is excluded); else the largest rise that is not excluded, with the seed it belongs to and how that seed
    ended when ``ends`` ({seed: "stopped by patience" | "at the epoch cap"}) is given (review25s15run m2: C-CIFAR BCE
    read "at the epoch cap; a rise of up to 2.61 ..." where the bound was the patience-stopped seed's and the capped
    seed was flat). Never "converged" on a patience stop alone."""
    rising = [s for s, v in slopes.items() if _end_low(v) is not None and _end_low(v) > 0]
    if rising:
        seeds = ("seeds " if len(rising) > 1 else "seed ") + ", ".join(str(s) for s in rising)
        n = max(int(slopes[s].get("end_epochs") or slopes[s].get("n_epochs") or 0) for s in rising)
        return f"{RISING} (slope over the last {n} epochs above 0 in {seeds})"
    bounds = [v["gain_bound"] for v in slopes.values()]
    how = "stopped by patience" if stopped == n_seeds else "at the epoch cap"
    if not bounds or any(b is None for b in bounds):
        return f"{how}; too few epochs for a slope"
    gain = max(bounds)
    if gain < tolerance:
        return f"plateau (at most {100 * gain:+.2f} points per {GAIN_EPOCHS} epochs, tolerance {100 * tolerance:g})"
    whose = ""
    seed = max(slopes, key=lambda k: slopes[k]["gain_bound"])
    if ends:
        # a seed at the cap that is not flat decides "not converged": its bound, not a patience-stopped seed's
        # larger one (review25s16run m2: C-MNIST SoS gave seed 0's patience-stop bound for the capped seed 1)
        open_ = [k for k in slopes if ends.get(k) != "stopped by patience" and slopes[k]["gain_bound"] >= tolerance]
        if open_:
            seed = max(open_, key=lambda k: slopes[k]["gain_bound"])
            gain = slopes[seed]["gain_bound"]
        mixed = len(set(ends.values())) > 1  # say how the seed ended only when the seeds ended differently
        whose = f" (seed {seed}" + (f", {ends[seed]}" if mixed and seed in ends else "") + ")"
    text = f"{how}; a rise of up to {100 * gain:.2f} points per {GAIN_EPOCHS} epochs is not excluded{whose}"
    flat = slopes[seed].get("flat_bound")
    if flat is not None and flat >= tolerance:  # review25s17 M2: the test, not the curve, decides such a verdict
        text += (
            f"; a plateau is not resolvable from the {slopes[seed]['n_epochs']} epochs of its second half (a flat "
            f"curve with this noise would get a bound of {100 * flat:.2f} points, tolerance {100 * tolerance:g})"
        )
    return text


def flat_at_cap(slope: dict, tolerance: float) -> bool:
    """Whether a run that reached the epoch cap is flat at its end: the upper 95 % bound of its late slope
    (``late_slope``) x ``GAIN_EPOCHS`` is below ``tolerance``, i.e. a rise above the tolerance per 10 epochs is
    excluded. The issue's "last 3 epochs within seed noise" read this way because three points within a 2-seed
    standard deviation (1 degree of freedom) cannot see a trend: such a rule called a curve rising +1.3 points over its
    last 2 epochs flat (review25s13code M2)."""
    return slope.get("gain_bound") is not None and slope["gain_bound"] < tolerance


def convergence_table(
    history: pd.DataFrame,
    runs: pd.DataFrame,
    max_epochs: int,
    tolerance: float = 0.01,
    window: int = 3,
    min_epochs: int = 1,
    patience: int = 0,
) -> pd.DataFrame:
    """Did training stop on a plateau? Per (dataset, objective) of the trained models: how many seeds stopped by
    patience (the run's own flag, ``stopped_by_patience``: a stop at the cap's epoch counts; older runs without it:
    fewer epochs than the cap), the kept checkpoints' epochs (``best_epochs``: the best of the smoothed curve patience
    reads), the raw maxima's epochs (``raw_best_epochs``), how many checkpoints predate min_epochs, how many are the
    cap's own epoch (``checkpoint_at_cap``: the smoothed curve was at its maximum when the run ended), the range of the
    seed-mean validation curve over its last ``window`` epochs and the seed noise there (mean over those epochs of the
    standard deviation across seeds), how many runs that reached the cap are flat at their end (``flat_at_cap``: a
    rise above ``tolerance`` per 10 epochs excluded for that run), per seed the least-squares slope of the second
    half of its validation curve with a 95 % interval (``late_slope``), the largest upper bound over seeds x
    ``GAIN_EPOCHS`` (``max_gain_per_10_epochs``: the most a run could still gain per 10 epochs at its late trend),
    ``convergence_verdict`` against ``tolerance`` (params ``plateau_tolerance``: the stricter reading, an
    equivalence test on the slope, over every seed) and ``converged``: every seed stopped by patience or flat at the
    cap, and no seed's late linear trend rising (the issue's reading, "flat at the end or stopped by patience"; a
    "plateau" is always converged, a patience stop need not be a plateau). A patience stop at ``min_epochs`` that the
    minimum forced (more than ``patience`` epochs after the kept checkpoint: patience had run out before it) is no
    evidence of a plateau: the model never improved after its first epochs, and its curve may still be moving
    (review25s13run M1: C-CIFAR L2 seed 1 fell, then rose through epoch 20). Such a seed must be flat by the same
    slope rule as a capped one (``flat_at_min_stop``). Any other patience stop counts as converged (the issue's
    reading) whether or not it is flat by that rule: ``flat_at_patience_stop`` counts the patience-stopped seeds that
    are, and ``patience_rise_per_10_epochs`` is the largest rise per 10 epochs not excluded for the others (None when
    none, or too few epochs for a slope), so that a "converged" resting on such stops is said so (review25s14run
    m1)."""
    rows = []
    distinct = distinct_runs(runs)
    for (d, o), grp in distinct.groupby(["dataset", "objective"], sort=False):
        h = history[(history["dataset"] == d) & (history["objective"] == o)]
        flags = (
            grp["stopped_by_patience"].fillna(False).astype(bool)
            if "stopped_by_patience" in grp
            else (grp["epochs"] < max_epochs)
        )
        stopped = int(flags.sum())
        common = int(h.groupby("seed")["epoch"].max().min())  # epochs every seed has
        last = h[(h["epoch"] > common - window) & (h["epoch"] <= common)]
        by_epoch = last.groupby("epoch")["valid_acc"]
        curve = by_epoch.mean()
        noise = float(by_epoch.std(ddof=1).mean()) if grp["seed"].nunique() > 1 else float("nan")
        spread = float(curve.max() - curve.min()) if len(curve) else float("nan")
        slopes = {s: late_slope(g.sort_values("epoch")["valid_acc"]) for s, g in h.groupby("seed", sort=True)}
        bounds = [v["gain_bound"] for v in slopes.values()]
        capped = [int(r.seed) for r, f in zip(grp.itertuples(), flags) if not f]
        flat = {s: flat_at_cap(slopes[s], tolerance) for s in capped}
        at_min = [  # stopped at the minimum, which held the run past the end of its patience
            int(r.seed)
            for r, f in zip(grp.itertuples(), flags)
            if f and int(r.epochs) <= min_epochs < max_epochs and int(r.epochs) - int(r.best_epoch) > patience
        ]
        flat_min = {s: flat_at_cap(slopes[s], tolerance) for s in at_min}
        # patience stops that converge by the issue's reading without being flat by the slope rule (review25s14run m1)
        flat_stop = {
            int(r.seed): flat_at_cap(slopes[int(r.seed)], tolerance) for r, f in zip(grp.itertuples(), flags) if f
        }
        open_bounds = [slopes[s]["gain_bound"] for s, ok in flat_stop.items() if not ok]
        ends = {
            int(r.seed): "stopped by patience" if f else "at the epoch cap" for r, f in zip(grp.itertuples(), flags)
        }
        verdict = convergence_verdict(slopes, stopped, int(len(grp)), tolerance, ends)
        rows.append(
            {
                "dataset": d,
                "objective": o,
                "seeds": int(len(grp)),
                "stopped_by_patience": stopped,
                "best_epochs": ", ".join(str(int(e)) for e in grp["best_epoch"]),  # the checkpoints (smoothed best)
                "raw_best_epochs": (
                    ", ".join(str(int(e)) for e in grp["raw_best_epoch"]) if "raw_best_epoch" in grp else "n/a"
                ),
                "kept_before_min_epochs": int(grp["before_min_epochs"].sum()) if "before_min_epochs" in grp else 0,
                # the kept checkpoint is the cap's own epoch: the curve peaked where the run ended (review25s14run m2)
                "checkpoint_at_cap": f"{int((grp['best_epoch'] >= max_epochs).sum())} of {len(grp)}",
                "epochs_run": ", ".join(str(int(e)) for e in grp["epochs"]),
                f"last_{window}_range": spread,
                "seed_noise": noise,
                "flat_at_cap": f"{sum(bool(v) for v in flat.values())} of {len(flat)}",
                "flat_at_min_stop": f"{sum(bool(v) for v in flat_min.values())} of {len(flat_min)}",
                "flat_at_patience_stop": f"{sum(bool(v) for v in flat_stop.values())} of {len(flat_stop)}",
                f"patience_rise_per_{GAIN_EPOCHS}_epochs": max((b for b in open_bounds if b is not None), default=None),
                "slope_second_half": "; ".join(
                    f"s{s}: n/a"
                    if v["slope"] is None
                    else f"s{s}: {v['slope']:+.4f} [{v['low']:+.4f}, {v['high']:+.4f}] over {v['n_epochs']} epochs"
                    for s, v in slopes.items()
                ),
                # where the run ended: decides "late linear trend rising" (review25s17 M1)
                f"slope_last_{LATE_EPOCHS}_low": "; ".join(
                    f"s{s}: n/a" if v["end_low"] is None else f"s{s}: {v['end_slope']:+.4f} (low {v['end_low']:+.4f})"
                    for s, v in slopes.items()
                ),
                f"max_gain_per_{GAIN_EPOCHS}_epochs": (
                    None if not bounds or any(b is None for b in bounds) else float(max(bounds))
                ),
                # the bound a perfectly flat curve with each seed's noise would get (largest over seeds): above the
                # tolerance, these epochs cannot show a plateau (review25s17 M2)
                f"flat_curve_bound_per_{GAIN_EPOCHS}_epochs": (
                    None
                    if any(v.get("flat_bound") is None for v in slopes.values()) or not slopes
                    else float(max(v["flat_bound"] for v in slopes.values()))
                ),
                "tolerance": tolerance,
                "verdict": verdict,
                "converged": bool(all(flat.values()) and all(flat_min.values()) and not verdict.startswith(RISING)),
                # the issue's test read literally: every seed stopped by patience, or the seed-mean curve's last
                # epochs within the seed noise; shown beside `converged`, which decides flat by the late slope
                # instead (review25s16run m4: the two pick different objectives)
                f"last_{window}_within_noise_or_stopped": bool(
                    stopped == len(grp) or (spread is not None and noise is not None and spread <= noise)
                ),
            }
        )
    return pd.DataFrame(rows)


def converged_flags(convergence: pd.DataFrame) -> dict:
    """``{dataset: {objective: converged}}`` of ``convergence_table`` (the report's ``converged_metric`` guard)."""
    out: dict = {}
    for r in convergence.itertuples():
        out.setdefault(r.dataset, {})[r.objective] = bool(r.converged)
    return out


def _open_patience_stops(convergence: pd.DataFrame) -> pd.DataFrame:
    """The converged rows of ``convergence_table`` with a patience-stopped seed that is not flat by the slope rule
    (``flat_at_patience_stop``: 'converged' by the issue's reading is not a plateau, review25s14run m1); no rows
    for a table without those columns."""
    col = f"patience_rise_per_{GAIN_EPOCHS}_epochs"
    if "flat_at_patience_stop" not in convergence or col not in convergence:
        return convergence.iloc[:0]
    ok = convergence[convergence["converged"].astype(bool)]
    split = [str(v).split(" of ") for v in ok["flat_at_patience_stop"]]
    return ok[np.array([int(k) < int(n) for k, n in split], dtype=bool)]


def _rise_text(bounds) -> str:
    """'a rise of up to X points per 10 epochs not excluded' for the largest of ``bounds`` (accuracy per 10 epochs;
    None entries skipped), 'too few epochs for a slope' when none is known."""
    known = [float(b) for b in bounds if b is not None and pd.notna(b)]
    if not known:
        return "too few epochs for a slope"
    return f"a rise of up to {100 * max(known):.2f} points per {GAIN_EPOCHS} epochs not excluded"


def converged_caveats(convergence: pd.DataFrame) -> dict:
    """``{dataset: {objective: text}}``, the report's note beside each objective's verdict on what its convergence
    reading rests on: for a converged (dataset, objective) whose 'converged' rests on a patience stop that is not
    flat by the slope rule, 'converged by patience stops that are not a plateau (...): a rise of up to X points per
    10 epochs not excluded' (review25s16run m5: C-MNIST L2 read "reproduced" with no word that its convergence is
    not a plateau); for one not converged, 'not converged: <its verdict>', so that a plateau the epochs cannot
    resolve is told apart from a curve still rising (review25s17 m-A)."""
    col = f"patience_rise_per_{GAIN_EPOCHS}_epochs"
    out: dict = {}
    for row in _open_patience_stops(convergence).to_dict("records"):
        out.setdefault(row["dataset"], {})[row["objective"]] = (
            f"converged by patience stops that are not a plateau ({row['flat_at_patience_stop']} patience-stopped "
            f"seeds flat by the slope rule): {_rise_text([row[col]])}"
        )
    if "converged" in convergence and "verdict" in convergence:
        for row in convergence[~convergence["converged"].astype(bool)].to_dict("records"):
            out.setdefault(row["dataset"], {})[row["objective"]] = f"not converged: {row['verdict']}"
    return out


def patience_clause(convergence: pd.DataFrame) -> str:
    """', k of them by patience with a rise of up to X points per 10 epochs not excluded (<names>)': the converged
    (dataset, objective) of ``convergence_table`` with a patience-stopped seed that is not flat by the slope rule
    (``_open_patience_stops``), and the largest such rise; '' when none, or for a table without those columns."""
    open_ = _open_patience_stops(convergence)
    if not len(open_):
        return ""
    rise = _rise_text(open_[f"patience_rise_per_{GAIN_EPOCHS}_epochs"])
    names = ", ".join(f"{r.dataset} {r.objective}" for r in open_.itertuples())
    return f", {len(open_)} of them by patience with {rise} ({names})"


def converged_sentence(convergence: pd.DataFrame) -> str:
    """How many objectives converged by the issue's reading (``convergence_table``'s ``converged``), naming the
    others ('' without a table)."""
    if convergence is None or not len(convergence):
        return ""
    bad = convergence[~convergence["converged"].astype(bool)]
    text = (
        f"{len(convergence) - len(bad)} of {len(convergence)} (dataset, objective) converged (every seed stopped by "
        "patience after the minimum number of epochs, or, at the epoch cap or stopped at that minimum, with a rise "
        "above the plateau tolerance excluded for it; and no seed's late linear trend rising)"
    )
    text += patience_clause(convergence)
    if len(bad):
        text += "; not converged: " + ", ".join(
            f"{r.dataset} {r.objective} ({r.verdict}"
            + ("" if r.flat_at_cap == "0 of 0" else f"; flat at the cap {r.flat_at_cap}")
            + ("" if r.flat_at_min_stop == "0 of 0" else f"; flat when stopped at the minimum {r.flat_at_min_stop}")
            + ")"
            for r in bad.itertuples()
        )
        text += ": a ranking that involves them may compare training speed as well as the objective" + (
            " (where a plateau is not resolvable, the test cannot tell a flat curve from a slowly rising one)"
            if bad["verdict"].str.contains("not resolvable").any()
            else ""
        )
    return text


def floor_description(floor_summary: dict) -> dict:
    """``cka_noise_floor``'s per-dataset summary without its own verdicts (``objective_above_floor``, the
    bootstrap's ``verdict``): the one noise-floor verdict is ``lib.bias.cka_claims``' test over trained models;
    these numbers describe the seed pairs and the probe images."""
    out = {}
    for d, f in floor_summary.items():
        row = {k: v for k, v in f.items() if k not in ("objective_above_floor", "bootstrap")}
        if "bootstrap" in f:
            row["probe_bootstrap"] = {k: v for k, v in f["bootstrap"].items() if k != "verdict"}
        out[d] = row
    return out


def floor_summary_table(floor_summary: dict) -> pd.DataFrame:
    """``floor_description`` as a table (one row per dataset): descriptive means of the heatmap differences (the
    maxima of the old "above the largest seed difference" rule are left out: the verdict is the permutation test of
    ``lib.bias.cka_claims``)."""
    rows = []
    for d, f in floor_description(floor_summary).items():
        row = {
            "dataset": d,
            **{k: v for k, v in f.items() if k not in ("probe_bootstrap", "seed_max", "objective_max")},
        }
        if "probe_bootstrap" in f:
            b = f["probe_bootstrap"]
            row["probe_bootstrap_resamples"] = b["n_boot"]
            row["probe_excess_ci"] = f"[{b['excess_ci'][0]:+.3f}, {b['excess_ci'][1]:+.3f}]"
        rows.append(row)
    return pd.DataFrame(rows)


def bias_rate_excess(bias_rate: float | None, conflicting: float, chance: float = CHANCE) -> float | None:
    """A descriptor of shortcut reliance short of dominance (review 25s5 m7): the bias rate minus what a bias-blind
    model with this conflicting accuracy would give, its errors spread evenly over the other C - 1 classes
    (C = 1 / chance): ``bias_rate - (1 - conflicting) / (C - 1)``. > 0: the bias class is over-chosen among the
    errors; the guard ``bias_rate >= conflicting`` flags only dominance. None without a bias rate."""
    if bias_rate is None or conflicting is None or not np.isfinite(bias_rate):
        return None
    n_classes = round(1 / chance)
    return float(bias_rate - (1 - conflicting) / (n_classes - 1))


def headline_table(summary_: dict) -> pd.DataFrame:
    """Per dataset and objective: test accuracy, bias-conflicting and worst-group accuracy (seed mean and lowest
    seed) beside chance, the bias rate and its excess over a bias-blind model's (``bias_rate_excess``, a
    descriptor), and whether the models follow the bias (conflicting <= chance, some seed's worst group 0, or bias
    rate >= conflicting accuracy)."""
    chance = summary_.get("chance", CHANCE)
    rows = []
    for d, objs in summary_.items():
        skip = (
            "mean_over_datasets",
            "ranking_tests",
            "bias_guard",
            "matched_budget",
            "early_checkpoints",
            "converged",
            "converged_caveat",
        )
        if not isinstance(objs, dict) or d in skip:
            continue
        for o, v in objs.items():
            if not isinstance(v, dict) or "accuracy" not in v:
                continue
            worst = v.get("worst_group_min", v["worst_group"])
            rate = v.get("bias_rate")
            follows = (
                v["conflicting"] <= chance
                or (worst is not None and worst <= 0)
                or (rate is not None and rate >= v["conflicting"])
            )
            rows.append(
                {
                    "dataset": d,
                    "objective": o,
                    "accuracy": v["accuracy"],
                    "conflicting": v["conflicting"],
                    "worst_group": v["worst_group"],
                    "worst_group_min": worst,
                    "bias_rate": rate,
                    "bias_rate_excess": bias_rate_excess(rate, v["conflicting"], chance),
                    "chance": chance,
                    "follows_bias": bool(follows),
                    "seeds": v["seeds"],
                    "trained_as": v["trained_as"],
                }
            )
    return pd.DataFrame(rows)


def _f3(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def guard_lines(summary_: dict) -> list[str]:
    """Prose on the two guards of the ranking claims, the report's (``lib.core.report.bias_followed`` and
    ``not_converged``): the datasets whose models follow the bias (``bias_guard``) and the objectives whose training
    did not converge (``converged``, set from ``convergence_table`` by the notebook). The reading opens with these
    lines, before any ranking verdict on such models."""
    lines = []
    for d, g in summary_.get("bias_guard", {}).items():
        if g["follows_bias"]:
            lines.append(
                # the bias rate first: with many small (class, bias) groups a worst group of 0 is near certain at
                # low accuracy, so it carries little evidence alone (review25s17 m-E)
                f"- {d}: {g['models_following']} of {g['n_models']} models follow the bias (bias rate at least the "
                f"conflicting accuracy in {g['bias_rate_at_least_conflicting']} models, highest bias rate "
                f"{_f3(g['max_bias_rate'])}; lowest conflicting accuracy {_f3(g['min_conflicting'])}, chance "
                f"{g['chance']:.2f}; lowest worst group over seeds {_f3(g['min_worst_group'])}): "
                "a ranking of these models, and their CKA heatmaps, are not comparable with the paper's."
                + (f" Worst (class, bias) group at 0: {'; '.join(g['zero_groups'])}." if g.get("zero_groups") else "")
            )
    notes = summary_.get("converged_caveat", {})
    for d, flags in summary_.get("converged", {}).items():
        bad = [o for o, ok in flags.items() if not ok]
        if bad:
            # each objective's own reading: a curve still rising is not a plateau the epochs cannot resolve (m-A)
            why = "; ".join(f"{o}: {notes[d][o].removeprefix('not converged: ')}" for o in bad if o in notes.get(d, {}))
            lines.append(
                f"- {d}: training not shown converged for {', '.join(bad)} "
                + (
                    f"({why})"
                    if why
                    else "(convergence table: a seed at the epoch cap or stopped at the minimum number of epochs "
                    "without a rise above the tolerance excluded, or a seed's late linear trend rising)"
                )
                + ": where a plateau is not resolvable from so few epochs that is the test's limit, not a rise; a "
                "ranking that involves them may compare training speed as well as the objectives, and the report "
                "marks the ranking claims not comparable."
            )
    return lines


def ranking_word(test: dict) -> str:
    """The report's reading of one ranking test against the paper's signed effect, by the report's own function:
    ``lib.core.report.assess`` on a one-off claim shaped like nb04's ranking claims in claims.yaml (paper value
    "supported", the paper's effect a ``{higher, lower}`` difference of two Table 3 values, here ``paper_effect`` and
    0, the paired interval at ``effect_ci``), so the two cannot drift apart. In short: "not comparable" when the
    paper's own values do not show the ranking (effect <= 0), whatever the test; "reproduced" when the test supports
    the claim;
    "underpowered" when the unadjusted paired interval holds the effect or lies wholly on the claim's side of 0
    without the adjusted p; else "not reproduced" (the interval excludes the effect). A test without a verdict word is
    read as not significant; "not measured" without an effect, a difference or an interval."""
    effect, diff, half = test.get("paper_effect"), test.get("diff"), test.get("ci95")
    if effect is None or diff is None or half is None:
        return "not measured"
    common = {"notebook": "04_cka_objectives", "claim": "ranking", "source": "", "cause": "measured"}
    claim = report.Claim(
        id="ranking",
        paper_value="supported",
        metric="test.verdict",
        paper_effect={"higher": ["higher"], "lower": ["lower"], "how": "mean"},
        effect_ci="test.ci95",
        **common,
    )
    values = {  # the paper's effect as the difference of two paper values: effect - 0 is the effect, bit for bit
        "higher": report.Claim(id="higher", paper_value=float(effect), metric="", **common),
        "lower": report.Claim(id="lower", paper_value=0.0, metric="", **common),
    }
    metrics = {"test": {"diff": diff, "ci95": half, "verdict": test.get("verdict") or "not significant"}}
    return report.assess(claim, metrics, claims=values).verdict


def ranking_lines(summary_: dict) -> list[str]:
    """Prose on the two ranking claims against the paper's effect (``ranking_word``, the report's rule)."""
    lines = []
    length = length_clause(summary_.get("matched_budget", {}), summary_.get("early_checkpoints", {}))
    why = {
        "not comparable": "the paper's own Table 3 values over the objectives compared do not show this ranking",
        "reproduced": "the test supports it",
        "underpowered": "the interval holds the paper's effect, or shows its direction without the adjusted p: these "
        "seeds can neither confirm nor reject it",
        "not reproduced": "the interval excludes the paper's effect",
    }
    for name, t in summary_.get("ranking_tests", {}).items():
        if "paper_effect" in t and t.get("ci95") is not None and t.get("diff") is not None:
            word = ranking_word(t)
            lines.append(
                f"- {name}: paired 95% interval (unadjusted) [{t['diff'] - t['ci95']:+.4f}, "
                f"{t['diff'] + t['ci95']:+.4f}] vs the paper's effect {t['paper_effect']:+.4f}"
                + (
                    f" (from {', '.join(t['paper_effect_objectives'])}; an alias counted once)"
                    if t.get("paper_effect_objectives")
                    else ""
                )
                + f": {word} before the guards ({why[word]})."
                + (f" Training length: {length}." if length else "")
            )
    return lines
