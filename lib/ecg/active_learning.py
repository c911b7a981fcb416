"""Pool-based active learning with a simulated annotator; ODAL = uncertainty sampling + fuzzy control.

Arrays: pool windows ``X_pool: (n, *window)``, features ``F_pool: (n, f) | None``; labelled
validation/test sets ``(X, F, y)``; class probabilities ``proba: (n, c)``.

The loop never holds the pool labels: they live privately in an ``Annotator`` that reveals a label
only when it is queried (a second query of the same index raises) and logs every query. Per round:
1. fit the model on the labelled set (early stopping on the validation set) from the seed's initial
   weights every round, the same epoch budget for every strategy (``warm_start=True`` continues from the
   previous round's weights instead: an ablation, since it gives late rounds more training);
2. record labels used, validation loss, val/test macro-F1 (+ positive-class F1) and controller state;
3. stop when the budget is spent or the pool is empty; otherwise score the pool and query a batch.

Strategies (scores: higher = more informative; ties -> lower index first):
``random``, ``least_confidence`` (1 - max p), ``margin`` (1 - (p1 - p2)), ``entropy`` (natural log),
``bald`` (mutual information between the label and the weights under MC dropout, Houlsby et al. 2011 /
Gal et al. 2017, as baal's ``BALD``: H(mean_t p_t) - mean_t H(p_t) over ``mc_samples`` dropout masks; the model
must offer ``mc_dropout_proba``), and ``odal``: candidates = pool samples whose normalised entropy is >= the
``threshold`` quantile of the pool's; ``batch`` of them drawn uniformly (seeded), topped up by highest entropy
if too few.
With ``fuzzy=True`` the FuzzyController sets threshold, batch multiplier, LR multiplier and dropout
each round from the validation-loss trend and the pool's mean normalised entropy; ``fuzzy=False``
(ablation) keeps ``fixed_threshold``, multiplier 1 and the model's initial LR and dropout. ``fuzzy_controls``
splits the controller's effect: ``"query"`` applies only its threshold and batch multiplier, ``"training"`` only
its learning rate and dropout (``"both"``: all four).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, f1_score, log_loss

from lib.core.stats import t_interval
from lib.ecg.data import progress_kw
from lib.ecg.fuzzy_control import FuzzyController, relative_trend

STRATEGIES = ("random", "least_confidence", "margin", "entropy", "bald", "odal")
FUZZY_CONTROLS = ("both", "query", "training")


class Annotator:
    """Simulated expert: holds labels ``(n,)`` privately; ``query(idx)`` reveals them once each."""

    def __init__(self, labels):
        self.__labels = np.asarray(labels).copy()
        self._revealed = np.zeros(len(self.__labels), dtype=bool)
        self.log: list[tuple[int, int]] = []  # (round, pool index) in query order

    def __len__(self) -> int:
        return len(self._revealed)

    def query(self, indices, round_: int = -1) -> np.ndarray:
        """Labels of ``indices`` (1-d ints); ValueError if any was queried before or is out of range."""
        idx = np.asarray(indices, dtype=int).ravel()
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise ValueError(f"pool indices must be in [0, {len(self)})")
        if len(np.unique(idx)) != idx.size or self._revealed[idx].any():
            raise ValueError("an index was queried twice")
        self._revealed[idx] = True
        self.log.extend((int(round_), int(i)) for i in idx)
        return self.__labels[idx].copy()

    @property
    def n_queried(self) -> int:
        return int(self._revealed.sum())

    def queried(self) -> np.ndarray:
        """Pool indices in query order."""
        return np.array([i for _, i in self.log], dtype=int)


def least_confidence(proba) -> np.ndarray:
    """``(n,)`` 1 - max_c p."""
    return 1.0 - np.asarray(proba, dtype=float).max(axis=1)


def margin(proba) -> np.ndarray:
    """``(n,)`` 1 - (p_top1 - p_top2): small margin = high score."""
    p = np.sort(np.asarray(proba, dtype=float), axis=1)
    return 1.0 - (p[:, -1] - p[:, -2])


def entropy(proba) -> np.ndarray:
    """``(n,)`` -sum p log p (natural log, 0 log 0 = 0)."""
    p = np.asarray(proba, dtype=float)
    return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=1)


def normalized_entropy(proba) -> np.ndarray:
    """``(n,)`` entropy / log(c), in [0, 1]."""
    return entropy(proba) / np.log(np.shape(proba)[1])


def bald(samples) -> np.ndarray:
    """``(n,)`` BALD scores of MC samples ``(T, n, c)``: entropy of the mean minus the mean entropy (>= 0)."""
    p = np.asarray(samples, dtype=float)
    if p.ndim != 3:
        raise ValueError(f"BALD needs MC samples of shape (T, n, c), got {p.shape}")
    mean_entropy = np.mean([entropy(pt) for pt in p], axis=0)
    return np.maximum(entropy(p.mean(0)) - mean_entropy, 0.0)


def random_scores(proba, rng: np.random.Generator) -> np.ndarray:
    """``(n,)`` uniform random scores (proba only gives n)."""
    return rng.random(len(proba))


def top_k(scores, k: int) -> np.ndarray:
    """Indices of the k largest scores, ties broken by lower index."""
    return np.argsort(-np.asarray(scores, dtype=float), kind="stable")[:k]


def odal_select(proba, k: int, threshold: float, rng: np.random.Generator) -> np.ndarray:
    """k indices drawn without replacement among normalised entropy >= its ``threshold`` quantile."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a quantile in [0, 1], got {threshold}")
    h = normalized_entropy(proba)
    cand = np.flatnonzero(h >= np.quantile(h, threshold))
    if cand.size <= k:
        rest = top_k(np.where(np.isin(np.arange(len(h)), cand), -np.inf, h), k - cand.size)
        return np.concatenate([cand, rest]).astype(int)
    return np.sort(rng.choice(cand, size=k, replace=False))


@dataclass
class ALConfig:
    """Loop settings (built from the notebook's parameters; no second default for the budget).

    ``budget`` counts all pool labels (seed set included); ``seed_size`` labels are drawn at random
    first, then ``batch_size`` per round (times the controller's multiplier for fuzzy ODAL).
    """

    strategy: str
    seed_size: int
    batch_size: int
    budget: int
    fuzzy: bool = True
    fuzzy_controls: str = "both"
    fixed_threshold: float = 0.7
    warm_start: bool = False
    mc_samples: int = 20  # BALD: dropout masks per pool scoring
    lr_bounds: tuple = (0.1, 2.0)  # learning rate kept within these factors of the initial one
    seed: int = 0

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; allowed: {STRATEGIES}")
        if self.fuzzy_controls not in FUZZY_CONTROLS:
            raise ValueError(f"fuzzy_controls must be one of {FUZZY_CONTROLS}, got {self.fuzzy_controls!r}")
        if not 0 < self.seed_size <= self.budget or self.batch_size < 1:
            raise ValueError("need 0 < seed_size <= budget and batch_size >= 1")


def _macro_f1(y, pred, n_classes):
    return float(f1_score(y, pred, labels=list(range(n_classes)), average="macro", zero_division=0))


def _positive_f1(y, pred, positive):
    return float(f1_score(np.isin(y, positive), np.isin(pred, positive), zero_division=0))


def _rows(A, idx):
    return None if A is None else A[idx]


def score_round(model, val, test, *, n_classes: int, positive_classes=None) -> dict:
    """Round metrics of a fitted model: val_loss (clipped log loss), val/test macro-F1 (+ positive-class F1 and the
    test PR-AUC of P(positive classes), ``test_pos_ap``).

    ``val``/``test``: tuples (X, F, y).
    """
    (Xv, Fv, yv), (Xt, Ft, yt) = val, test
    pv, pt = model.predict_proba(Xv, Fv), model.predict_proba(Xt, Ft)
    pc = np.clip(pv, 1e-7, 1.0)
    row = {
        "val_loss": float(log_loss(yv, pc / pc.sum(1, keepdims=True), labels=list(range(n_classes)))),
        "val_macro_f1": _macro_f1(yv, pv.argmax(1), n_classes),
        "test_macro_f1": _macro_f1(yt, pt.argmax(1), n_classes),
    }
    if positive_classes is not None:
        row["val_pos_f1"] = _positive_f1(yv, pv.argmax(1), positive_classes)
        row["test_pos_f1"] = _positive_f1(yt, pt.argmax(1), positive_classes)
        pos = np.isin(yt, positive_classes)  # threshold-free: PR-AUC of P(positive classes)
        both = 0 < pos.sum() < pos.size
        row["test_pos_ap"] = float(average_precision_score(pos, pt[:, positive_classes].sum(1))) if both else np.nan
    return row


def select_batch(strategy: str, proba, k: int, threshold: float, rng: np.random.Generator, samples=None) -> np.ndarray:
    """``k`` positions into ``proba: (n, c)`` (the unlabelled pool) chosen by ``strategy``; ``samples``: the
    MC-dropout outputs ``(T, n, c)`` BALD needs."""
    if strategy == "bald":
        if samples is None:
            raise ValueError("strategy 'bald' needs MC-dropout samples")
        return top_k(bald(samples), k)
    if strategy == "odal":
        return odal_select(proba, k, threshold, rng)
    if strategy == "random":
        return top_k(random_scores(proba, rng), k)
    return top_k({"least_confidence": least_confidence, "margin": margin, "entropy": entropy}[strategy](proba), k)


class _Loop:
    """State of one active-learning run: the model, the labelled set, the controller and its settings."""

    def __init__(self, model_factory, X_pool, F_pool, annotator, config: ALConfig, controller):
        self.factory, self.X, self.F, self.annotator, self.cfg = model_factory, X_pool, F_pool, annotator, config
        self.rng = np.random.default_rng(config.seed)
        self.ctl = (controller or FuzzyController()) if config.strategy == "odal" and config.fuzzy else None
        self.model = self._new_model()
        self.lr0 = getattr(self.model, "lr", None)
        self.lr, self.dropout = self.lr0, getattr(self.model, "dropout", None)
        self.labelled = self.rng.choice(len(annotator), size=config.seed_size, replace=False)
        self.y_lab = annotator.query(self.labelled, 0)
        self.round, self.prev_loss = 0, None

    def _new_model(self):
        model = self.factory(self.cfg.seed)
        self.tunable = getattr(model, "tunable", False)
        if self.tunable and self.F is not None and hasattr(model, "set_feature_scaler"):
            model.set_feature_scaler(self.F)  # unsupervised: pool features are visible in pool-based AL
        return model

    def fit(self, val, fit_kw) -> float:
        """Fit this round's model on the labelled set (from the initial weights unless warm_start); returns seconds."""
        if self.round > 0 and not self.cfg.warm_start:
            if hasattr(self.model, "reset_weights"):
                self.model.reset_weights()  # keeps the controller's lr/dropout (set on the model)
            else:
                self.model = self._new_model()
        t0 = time.perf_counter()
        self.model.fit(self.X[self.labelled], _rows(self.F, self.labelled), self.y_lab, *val, **(fit_kw or {}))
        return time.perf_counter() - t0

    def control(self, trend: float, proba) -> dict:
        """Query settings for the next batch (threshold, multiplier; fuzzy ODAL also retunes lr/dropout)."""
        u = float(normalized_entropy(proba).mean())
        out = {"pool_uncertainty": u, "threshold": self.cfg.fixed_threshold, "mult": 1.0, "lr_multiplier": np.nan}
        if self.ctl is not None:
            c = self.ctl(trend, u)
            parts = self.cfg.fuzzy_controls
            if parts in ("both", "query"):
                out.update(threshold=c["threshold"], mult=c["batch_multiplier"])
            if parts in ("both", "training"):
                out["lr_multiplier"] = c["lr_multiplier"]
            if self.tunable and parts in ("both", "training"):
                lo, hi = self.cfg.lr_bounds
                self.lr = float(np.clip(self.lr * c["lr_multiplier"], self.lr0 * lo, self.lr0 * hi))
                self.dropout = float(c["dropout"])
                self.model.set_learning_rate(self.lr)
                self.model.set_dropout(self.dropout)
        return out

    def query(self, pick: np.ndarray, remaining: np.ndarray) -> int:
        """Reveal the labels of ``remaining[pick]`` and add them to the labelled set; returns their number."""
        new = remaining[pick]
        self.round += 1
        self.y_lab = np.concatenate([self.y_lab, self.annotator.query(new, self.round)])
        self.labelled = np.concatenate([self.labelled, new])
        return len(new)


def run_active_learning(
    model_factory,
    X_pool,
    F_pool,
    annotator: Annotator,
    val,
    test,
    config: ALConfig,
    *,
    n_classes: int,
    positive_classes=None,
    controller: FuzzyController | None = None,
    fit_kw: dict | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Run one AL experiment; returns one row per round (learning curve + controller state).

    model_factory(seed) -> object with fit(X, F, y, X_val, F_val, y_val) / predict_proba(X, F);
    ``val``/``test``: tuples (X, F, y). ``positive_classes``: class ids pooled as "positive"
    (e.g. all non-sinus rhythms) for the binary ``*_pos_f1`` columns.
    Columns: round, n_labels, val_loss, val_macro_f1, test_macro_f1[, val_pos_f1, test_pos_f1],
    loss_trend, pool_uncertainty, threshold, batch_size, lr, dropout, lr_multiplier, fit_seconds.
    The metrics are those of the model trained on ``n_labels`` labels; the controller columns describe the query
    made AFTER that evaluation (last row: no query), except lr/dropout = the settings this round's
    model was trained with (the controller's new values show in the next row; ``lr_multiplier`` is
    the controller's raw output, NaN without the controller). The final model is ``curve.attrs["model"]``.
    Each round: fit (:meth:`_Loop.fit`), score (:func:`score_round`), control and select
    (:meth:`_Loop.control`, :func:`select_batch`), query (:meth:`_Loop.query`).
    """
    from tqdm import tqdm

    cfg = config
    n_pool = len(annotator)
    if len(X_pool) != n_pool or (F_pool is not None and len(F_pool) != n_pool):
        raise ValueError(f"X_pool/F_pool length must equal the annotator's pool size {n_pool}")
    loop = _Loop(model_factory, X_pool, F_pool, annotator, cfg, controller)
    desc = f"AL {cfg.strategy}{'' if cfg.fuzzy else ' (no fuzzy)'}"
    bar = tqdm(total=cfg.budget, desc=desc, unit="label", **progress_kw(progress))
    bar.update(len(loop.labelled))
    rows = []
    while True:
        lr, dropout = loop.lr, loop.dropout
        fit_s = loop.fit(val, fit_kw)
        row = {"round": loop.round, "n_labels": len(loop.labelled)}
        row.update(score_round(loop.model, val, test, n_classes=n_classes, positive_classes=positive_classes))
        trend = relative_trend(loop.prev_loss, row["val_loss"])
        loop.prev_loss = row["val_loss"]
        row.update(loss_trend=trend, pool_uncertainty=np.nan, threshold=np.nan, batch_size=0, lr=lr, dropout=dropout)
        row.update(lr_multiplier=np.nan, fit_seconds=fit_s)
        remaining = np.setdiff1d(np.arange(n_pool), loop.labelled)
        room = min(cfg.budget - len(loop.labelled), remaining.size)
        if room <= 0:
            rows.append(row)
            break
        samples = None
        if cfg.strategy == "bald":
            samples = loop.model.mc_dropout_proba(
                X_pool[remaining], _rows(F_pool, remaining), cfg.mc_samples, seed=cfg.seed * 1000 + loop.round
            )
            proba = samples.mean(0)
        else:
            proba = loop.model.predict_proba(X_pool[remaining], _rows(F_pool, remaining))
        ctl = loop.control(trend, proba)
        k = int(min(room, max(1, round(cfg.batch_size * ctl["mult"]))))
        row.update(pool_uncertainty=ctl["pool_uncertainty"], lr_multiplier=ctl["lr_multiplier"], batch_size=k)
        row["threshold"] = ctl["threshold"] if cfg.strategy == "odal" else np.nan
        rows.append(row)
        pick = select_batch(cfg.strategy, proba, k, ctl["threshold"], loop.rng, samples)
        bar.update(loop.query(pick, remaining))
    bar.close()
    out = pd.DataFrame(rows)
    out.attrs["queried"] = annotator.queried().tolist()
    out.attrs["model"] = loop.model
    return out


def mean_curve(curves, metric: str = "test_macro_f1", grid=None) -> pd.DataFrame:
    """Mean and std over seeds of ``metric`` vs n_labels, each curve linearly interpolated on ``grid``.

    ``curves``: list of per-seed DataFrames (run_active_learning output). Default grid: the sorted
    union of their n_labels restricted to the range every curve covers (no extrapolation).
    Returns columns n_labels, mean, std, n_seeds.
    """
    if not curves:
        raise ValueError("mean_curve needs at least one curve")
    lo = max(c["n_labels"].min() for c in curves)
    hi = min(c["n_labels"].max() for c in curves)
    if grid is None:
        grid = np.unique(np.concatenate([c["n_labels"].to_numpy() for c in curves]))
        grid = grid[(grid >= lo) & (grid <= hi)]
    grid = np.asarray(grid, dtype=float)
    if grid.size == 0 or grid.min() < lo or grid.max() > hi:
        raise ValueError(f"grid must lie within the range covered by every curve [{lo}, {hi}]")
    vals = np.stack([np.interp(grid, c["n_labels"], c[metric]) for c in curves])
    return pd.DataFrame(
        {
            "n_labels": grid,
            "mean": vals.mean(0),
            "std": vals.std(0, ddof=1) if len(curves) > 1 else np.zeros(grid.size),
            "n_seeds": len(curves),
        }
    )


def labels_to_reach(n_labels, score, target: float) -> float | None:
    """First label count at which ``score`` reaches ``target``, linear between the bracketing points.

    ``n_labels``, ``score``: (m,) increasing label counts and the (mean) metric. Returns the first
    n_labels if the curve starts at/above target, None if it never reaches it (no extrapolation).
    """
    n = np.asarray(n_labels, dtype=float)
    s = np.asarray(score, dtype=float)
    hit = np.flatnonzero(s >= target)
    if hit.size == 0:
        return None
    j = int(hit[0])
    if j == 0:
        return float(n[0])
    return float(n[j - 1] + (target - s[j - 1]) / (s[j] - s[j - 1]) * (n[j] - n[j - 1]))


def run_strategies(
    model_factory,
    X_pool,
    F_pool,
    y_pool,
    val,
    test,
    configs: dict,
    seeds,
    *,
    n_classes: int,
    positive_classes=None,
    fit_kw: dict | None = None,
    after_run=None,
    progress: bool = True,
) -> pd.DataFrame:
    """The one runner: every (method name -> ALConfig) x seed with a fresh Annotator(y_pool); long table.

    Columns of :func:`run_active_learning` plus ``method`` and ``seed``. Each config's ``seed`` is
    replaced by the loop seed (same seed -> same seed set across methods). ``after_run(method, seed,
    model, curve)`` (optional) is called right after each run with its final model and curve (before the factory is
    called again, which may reset a reused model).
    """
    from dataclasses import replace

    frames = []
    for name, cfg in configs.items():
        for s in seeds:
            df = run_active_learning(
                model_factory,
                X_pool,
                F_pool,
                Annotator(y_pool),
                val,
                test,
                replace(cfg, seed=int(s)),
                n_classes=n_classes,
                positive_classes=positive_classes,
                fit_kw=fit_kw,
                progress=progress,
            )
            model = df.attrs.pop("model")
            if after_run is not None:
                after_run(name, int(s), model, df)
            frames.append(df.assign(method=name, seed=int(s)))
    return pd.concat(frames, ignore_index=True)


def curves_by_seed(long: pd.DataFrame, method: str) -> list[pd.DataFrame]:
    """The per-seed curves of one method from a run_strategies table (input for mean_curve)."""
    sel = long[long["method"] == method]
    if sel.empty:
        raise ValueError(f"unknown method {method!r}; allowed: {sorted(long['method'].unique())}")
    return [g.sort_values("n_labels") for _, g in sel.groupby("seed")]


def fit_reference(
    model_factory, X_pool, F_pool, y_pool, val, test, seeds, *, n_classes: int, positive_classes=None, fit_kw=None
) -> pd.DataFrame:
    """The AL reference: the same recipe (model, epochs, early stopping on ``val``) trained on the WHOLE pool.

    One row per seed with :func:`score_round`'s columns and ``n_labels`` = the pool size: every strategy's curve
    is compared with the reference of its own seed, so "95% of full supervision" means the same model and budget
    per round, not a different, larger model.
    """
    rows = []
    for s in seeds:
        model = model_factory(int(s))
        if F_pool is not None and hasattr(model, "set_feature_scaler"):
            model.set_feature_scaler(F_pool)
        t0 = time.perf_counter()
        model.fit(X_pool, F_pool, y_pool, *val, **(fit_kw or {}))
        row = {"seed": int(s), "n_labels": len(y_pool), "fit_seconds": time.perf_counter() - t0}
        rows.append(row | score_round(model, val, test, n_classes=n_classes, positive_classes=positive_classes))
    return pd.DataFrame(rows)


def curve_auc(n_labels, score, lo: float, hi: float) -> float:
    """Normalised area under one learning curve on [lo, hi] labels (trapezoids on the linear interpolation):
    the mean score over the label budget, in the metric's units."""
    n, s = np.asarray(n_labels, dtype=float), np.asarray(score, dtype=float)
    if not n[0] <= lo < hi <= n[-1]:
        raise ValueError(f"[lo, hi] = [{lo}, {hi}] must lie within the curve's label range [{n[0]}, {n[-1]}]")
    grid = np.unique(np.concatenate([[lo, hi], n[(n > lo) & (n < hi)]]))
    vals = np.interp(grid, n, s)
    return float(np.sum((vals[1:] + vals[:-1]) / 2 * np.diff(grid)) / (hi - lo))


def seed_interval(values, level: float = 0.95) -> list[float | None]:
    """[low, high] Student-t interval of the mean of per-seed values (the seeds are the independent replicates);
    [None, None] for fewer than two values."""
    v = [x for x in values if x is not None and np.isfinite(x)]
    if len(v) < 2:
        return [None, None]
    mean, half = t_interval(v, level)
    return [mean - half, mean + half]


def per_seed_table(
    long: pd.DataFrame,
    reference: pd.DataFrame,
    *,
    metric: str = "test_macro_f1",
    fraction: float = 0.95,
    extra_labels: int = 0,
    baseline: str = "random",
) -> pd.DataFrame:
    """One row per (method, seed): learning-curve AUC, its paired difference to ``baseline`` (same seed), the labels
    to reach ``fraction`` x that seed's reference score and the saving vs ``baseline``.

    ``extra_labels`` (e.g. the validation set's size) is added to every label count before the saving
    ``1 - labels_method / labels_baseline`` is taken: labels spent on validation count as annotation.
    A curve that never reaches the target gives NaN labels (and a NaN saving; ``reached`` says so).
    """
    lo = long.groupby(["method", "seed"])["n_labels"].min().max()
    hi = long.groupby(["method", "seed"])["n_labels"].max().min()
    ref = reference.set_index("seed")[metric]
    rows = []
    for (m, s), g in long.sort_values("n_labels").groupby(["method", "seed"]):
        target = fraction * float(ref.loc[s])
        reach = labels_to_reach(g["n_labels"], g[metric], target)
        rows.append(
            {
                "method": m,
                "seed": int(s),
                "auc": curve_auc(g["n_labels"], g[metric], lo, hi),
                "reference": float(ref.loc[s]),
                "target": target,
                "labels_to_target": np.nan if reach is None else reach + extra_labels,
                "reached": reach is not None,
            }
        )
    df = pd.DataFrame(rows)
    base = df[df["method"] == baseline].set_index("seed")
    df["auc_minus_" + baseline] = df["auc"] - df["seed"].map(base["auc"])
    df["saving_vs_" + baseline] = 1.0 - df["labels_to_target"] / df["seed"].map(base["labels_to_target"])
    df.attrs.update(lo=float(lo), hi=float(hi), extra_labels=int(extra_labels), metric=metric, fraction=fraction)
    return df


def summarise_seeds(per_seed: pd.DataFrame, baseline: str = "random") -> pd.DataFrame:
    """Per method: mean and 95% t-interval over seeds of the curve AUC, its paired difference to ``baseline`` and the
    label saving. The saving is paired: it exists only for seeds where both this method's and the baseline's curves
    reach the target (``seeds_paired``); with fewer than two such seeds no interval can be formed and the saving is
    None (not a one-seed number). ``seeds_reaching_target`` counts this method's seeds that reach it."""
    rows = []
    for m, g in per_seed.groupby("method", sort=False):
        row = {"method": m, "n_seeds": len(g)}
        for col in ("auc", f"auc_minus_{baseline}", f"saving_vs_{baseline}"):
            v = g[col].to_numpy(dtype=float)
            ok = v[np.isfinite(v)]
            row[col] = float(ok.mean()) if ok.size else None
            row[col + "_ci"] = [None if c is None else round(c, 4) for c in seed_interval(ok)]
        paired = int(np.isfinite(g[f"saving_vs_{baseline}"].to_numpy(dtype=float)).sum())
        if paired < 2:
            row[f"saving_vs_{baseline}"] = None
        row["seeds_reaching_target"] = int(g["reached"].sum())
        row["seeds_paired"] = paired
        rows.append(row)
    return pd.DataFrame(rows).astype({f"saving_vs_{baseline}": object})
