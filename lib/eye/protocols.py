"""Cross-validation protocols of notebook 03, with every model tuned inside the training folds (nested selection).

Shapes: X (n, d) raw features, y (n,) int labels in [0, c), groups (n,) group ids. Every model is fitted inside
each outer fold on the training part only (standardization, SOM, k-means and networks included).

Protocols (:data:`PROTOCOLS`; the notebook builds the groups):
- ``plain``: stratified k-fold over images (the paper's; leaks patients and augmented copies);
- ``patient``: stratified group k-fold over the previous round's groups (``lib.eye.data.patient_groups``: the two
  eyes of a patient; augmented copies grouped only when they share their index k): leaks copies;
- ``linked``: stratified group k-fold over the linked groups (patients + each copy with its detected source,
  ``lib.eye.copies``);
- ``neardup``: as ``linked``, with near-duplicate originals (feature cosine of their nearest neighbour at or above
  a threshold, ``lib.eye.neardup.near_duplicate_pairs``) joined into one group as well;
- ``originals``: the augmented copies removed, stratified group k-fold over the patient groups;
- ``neardup_all`` (a sensitivity check, :data:`SENSITIVITY`): as ``neardup``, with every candidate pair of
  near-duplicate originals joined (the pixel check not applied): how much the candidate pairs the check leaves apart
  would change a score if they were near-duplicates. Its models: ``cv.sensitivity_models``, first seed only.

Test population: a protocol listed in ``test`` of :func:`run_protocols` scores only those images (the originals):
the augmented copies are only ever in training, with their source's group, so the headline is scored on originals
(inner validation too).

Nested selection (:class:`TuneConfig`): inside each outer training part, ``inner_splits`` stratified folds (grouped
like the outer ones) score every setting of the model's small grid by inner balanced accuracy (the ranking score);
the best (ties: the first listed) is refitted on the whole outer training part. Grids: logistic regression C, kNN k,
MLP (width, L2 alpha), SOM side (chosen by the SOM classifier's inner balanced accuracy; the SOM-based networks use
that side; the protocols after the first may tune it over another grid, ``som_side_others``), the hidden width of
every network (each network separately).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from lib.eye import bar
from lib.eye.cluster_net import CBNNConfig
from lib.eye.fitter import NETWORKS, Fitter
from lib.eye.som import SOMConfig

PROTOCOLS = ("plain", "patient", "linked", "neardup", "originals", "neardup_all")
#: protocols that check one grouping choice: ``cv.sensitivity_models`` only, first seed only
SENSITIVITY = ("neardup_all",)
BASELINES = ("logreg", "knn", "mlp")
#: the tuning table's row of the SOM side choice (made by the SOM classifier, inherited by the SOM-based networks)
SIDE_ROW = "som (side selection)"
MODELS = ("som", *NETWORKS, *BASELINES)


@dataclass(frozen=True)
class CVConfig:
    """params.yaml ``nb03.cv``: ``n_splits`` outer folds; seeds: repetitions (each seed: new folds, SOMs and
    networks); ``seed_models``: the models that run every seed of ``seeds`` in every protocol (the others run the
    first seed only); without ``seed_models`` the first protocol runs every seed for every model and the others the
    first seed; ``headline_seed_models``: models that run every seed in the first protocol (the headline) and the
    first seed in the others; ``sensitivity_models``: the models of the sensitivity protocols (:data:`SENSITIVITY`;
    first seed only; empty: as the other protocols); blas_threads: BLAS threads in the loop; bootstrap: replicates
    of the seeds x group bootstrap (:mod:`lib.eye.readings`); other_models: the models of the protocols after the
    first (empty: all models)."""

    n_splits: int
    seeds: tuple[int, ...]
    protocols: tuple[str, ...]
    blas_threads: int
    bootstrap: int
    other_models: tuple[str, ...] = ()
    seed_models: tuple[str, ...] = ()
    headline_seed_models: tuple[str, ...] = ()
    sensitivity_models: tuple[str, ...] = ()

    def __post_init__(self):
        if self.n_splits < 2:
            raise ValueError(f"n_splits must be >= 2, got {self.n_splits}")
        bad = [p for p in self.protocols if p not in PROTOCOLS]
        if bad or not self.protocols:
            raise ValueError(f"protocols must be among {PROTOCOLS}, got {list(self.protocols)}")
        if not self.seeds:
            raise ValueError("cv.seeds must list at least one seed")
        object.__setattr__(self, "seeds", tuple(self.seeds))
        object.__setattr__(self, "protocols", tuple(self.protocols))
        object.__setattr__(self, "other_models", tuple(self.other_models))
        object.__setattr__(self, "seed_models", tuple(self.seed_models))
        object.__setattr__(self, "headline_seed_models", tuple(self.headline_seed_models))
        object.__setattr__(self, "sensitivity_models", tuple(self.sensitivity_models))
        if self.protocols[0] in SENSITIVITY:
            raise ValueError(f"the first protocol (the headline) cannot be a sensitivity check ({self.protocols[0]})")

    def model_seeds(self, protocol: str, model: str) -> tuple[int, ...]:
        """The seeds ``model`` runs under ``protocol`` (class docstring)."""
        if protocol in SENSITIVITY:
            return self.seeds[:1]
        if self.seed_models or self.headline_seed_models:
            every = model in self.seed_models or (protocol == self.protocols[0] and model in self.headline_seed_models)
            return self.seeds if every else self.seeds[:1]
        return self.seeds if protocol == self.protocols[0] else self.seeds[:1]

    def seeds_of(self, protocol: str) -> tuple[int, ...]:
        """Every seed run under ``protocol`` (by at least one model)."""
        if protocol in SENSITIVITY:
            return self.seeds[:1]
        if self.seed_models or (self.headline_seed_models and protocol == self.protocols[0]):
            return self.seeds
        if self.headline_seed_models:
            return self.seeds[:1]
        return self.seeds if protocol == self.protocols[0] else self.seeds[:1]


@dataclass(frozen=True)
class TuneConfig:
    """params.yaml ``nb03.tuning`` (all ours): inner folds and each model's grid (first listed wins ties)."""

    inner_splits: int
    logreg_c: tuple[float, ...]
    knn_k: tuple[int, ...]
    mlp: tuple[tuple, ...]  # (hidden width, L2 alpha) pairs
    som_side: tuple[int, ...]
    cbnn_hidden: tuple[int, ...]
    logreg_max_iter: int
    mlp_max_iter: int
    soft_bandwidth: tuple[float, ...] = (1.0,)  # cbnn_soft: factors of the median nearest-unit distance
    sweep_sides: tuple[int, ...] = ()  # SOM sides of the one-fold side sweep (empty: som_side)
    som_side_others: tuple[int, ...] = ()  # SOM side grid of the protocols after the first (empty: som_side)

    def __post_init__(self):
        if self.inner_splits < 2:
            raise ValueError(f"tuning.inner_splits must be >= 2, got {self.inner_splits}")
        object.__setattr__(self, "sweep_sides", tuple(self.sweep_sides) or tuple(self.som_side))
        object.__setattr__(self, "som_side_others", tuple(self.som_side_others) or tuple(self.som_side))
        for name in ("logreg_c", "knn_k", "som_side", "cbnn_hidden", "soft_bandwidth"):
            if not getattr(self, name):
                raise ValueError(f"tuning.{name} must list at least one value")
            object.__setattr__(self, name, tuple(getattr(self, name)))
        mlp = tuple((int(h), float(a)) for h, a in self.mlp)
        if not mlp:
            raise ValueError("tuning.mlp must list at least one [width, alpha] pair")
        object.__setattr__(self, "mlp", mlp)

    def grid(self, model: str) -> list[dict]:
        """The settings tried for ``model`` (each a dict, shown in the per-fold table)."""
        if model == "logreg":
            return [{"C": c} for c in self.logreg_c]
        if model == "knn":
            return [{"k": k} for k in self.knn_k]
        if model == "mlp":
            return [{"width": h, "alpha": a} for h, a in self.mlp]
        if model == "som":
            return [{"side": s} for s in self.som_side]
        if model == "cbnn_soft":
            return [{"width": w, "bandwidth": b} for w in self.cbnn_hidden for b in self.soft_bandwidth]
        return [{"width": w} for w in self.cbnn_hidden]  # networks (SOM-based ones: at the SOM's chosen side)


def grid_edges(grid: list[dict], setting: dict) -> list[str]:
    """The keys of ``setting`` whose value is the smallest or largest of the grid (of two or more values): the
    optimum may lie outside the grid."""
    out = []
    for key in setting:
        values = sorted({g[key] for g in grid if key in g})
        if len(values) > 1 and setting[key] in (values[0], values[-1]):
            out.append(f"{key} {'low' if setting[key] == values[0] else 'high'}")
    return out


@dataclass(frozen=True)
class EyeCVConfig:
    """The evaluation: models, the CV protocol, the SOM and network settings, the tuning grids."""

    models: tuple[str, ...]
    cv: CVConfig
    som: SOMConfig
    cbnn: CBNNConfig
    tuning: TuneConfig

    def __post_init__(self):
        cv = self.cv
        listed = (*self.models, *cv.other_models, *cv.seed_models, *cv.headline_seed_models, *cv.sensitivity_models)
        bad = [m for m in listed if m not in MODELS]
        if bad:
            raise ValueError(f"models must be among {MODELS}, got {bad}")
        object.__setattr__(self, "models", tuple(self.models))

    @classmethod
    def from_params(cls, models, cv: dict, som: dict, cbnn: dict, tuning: dict) -> EyeCVConfig:
        return cls(tuple(models), CVConfig(**cv), SOMConfig(**som), CBNNConfig(**cbnn), TuneConfig(**tuning))

    def models_of(self, protocol: str) -> tuple[str, ...]:
        """The models run under ``protocol``: the first protocol all; a sensitivity protocol ``cv.sensitivity_models``
        when given; the others ``cv.other_models`` when given (in the order of ``models``)."""
        if protocol == self.cv.protocols[0]:
            return self.models
        if protocol in SENSITIVITY and self.cv.sensitivity_models:
            return tuple(m for m in self.models if m in self.cv.sensitivity_models)
        if self.cv.other_models:
            return tuple(m for m in self.models if m in self.cv.other_models)
        return self.models

    def for_protocol(self, protocol: str) -> EyeCVConfig:
        """The configuration ``protocol`` runs: the protocols after the first tune the SOM side over
        ``tuning.som_side_others``."""
        if protocol == self.cv.protocols[0]:
            return self
        return replace(self, tuning=replace(self.tuning, som_side=self.tuning.som_side_others))

    def label(self, model: str) -> str:
        """Human-readable name of a model (its tuned settings are in the per-fold table)."""
        return {
            "som": "SOM classifier (majority label per unit)",
            "cbnn": "CBNN: SOM one-hot unit + features -> dense net",
            "cbnn_onehot": "CBNN literal: one-hot winning SOM unit -> dense net (eq. 5-6)",
            "cbnn_soft": "CBNN soft: RBF soft assignment to all SOM units -> dense net",
            "cbnn_centroid": "CBNN: winning unit's weight vector -> dense net",
            "cbnn_kmeans": "CBNN: k-means one-hot (Algorithm 2) -> dense net",
            "net_features": "Dense net on the features alone (ablation)",
            "logreg": "Logistic regression",
            "knn": "kNN",
            "mlp": "MLP (scikit-learn)",
        }[model]


def folds(y: np.ndarray, n_splits: int, seed: int, groups: np.ndarray | None = None) -> list:
    """(train, test) index pairs: stratified k-fold (groups None) or stratified group k-fold, shuffled by seed."""
    if groups is None:
        return list(StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(y, y))
    return list(StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(y, y, groups))


def balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    """Mean per-class recall over the classes present in ``y`` (the models' ranking score; free of the class mix)."""
    y, pred = np.asarray(y), np.asarray(pred)
    return float(np.mean([(pred[y == c] == c).mean() for c in np.unique(y)]))


def _select(fitter: Fitter, model: str, inner: list, tr: np.ndarray, k: int, fixed: dict) -> tuple[dict, float]:
    """The grid setting (merged into ``fixed``) with the best mean inner balanced accuracy (ties: the first listed)
    and that score (NaN when the grid has one setting). Inner validation scores the test population only."""
    grid = [{**fixed, **g} for g in fitter.cfg.tuning.grid(model)]
    if len(grid) == 1:
        return grid[0], float("nan")
    scores = []
    for setting in grid:
        accs = []
        for j, (itr, iva) in enumerate(inner):
            iva = iva[fitter.test[tr[iva]]]
            p = fitter.proba(model, setting, (k, j), tr[itr], tr[iva])
            accs.append(balanced_accuracy(fitter.y[tr[iva]], p.argmax(axis=1)))
        scores.append(float(np.mean(accs)))
    best = int(np.argmax(scores))
    return grid[best], scores[best]


def cross_validate(
    X, y, cfg: EyeCVConfig, seed: int, groups=None, progress: bool = True, test: np.ndarray | None = None
) -> dict:
    """Nested out-of-fold predictions of every model for one seed (grouped when ``groups`` is given).

    test: (n,) bool, the images that may be scored (default all); the others are only ever in training (with their
    group), get pred -1 and NaN probabilities. Returns {"pred": {model: (n,) int}, "proba": {model: (n, c)},
    "fold": (n,), "chosen": [{"fold", "model", "setting", "inner_accuracy", "grid edge"}], "seconds": {model: s}}.
    """
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64)
    n_classes = int(y.max() + 1)
    test = np.ones(len(y), bool) if test is None else np.asarray(test, bool)
    with threadpool_limits(limits=cfg.cv.blas_threads):
        fitter = Fitter(X, y, cfg, seed, n_classes, test)
        proba = {m: np.full((len(y), n_classes), np.nan) for m in cfg.models}
        fold_of = np.full(len(y), -1, dtype=np.int64)
        seconds, chosen = dict.fromkeys(cfg.models, 0.0), []
        outer = folds(y, cfg.cv.n_splits, seed, groups)
        for k, (tr, te) in enumerate(tqdm(outer, desc="CV folds", **bar(progress))):
            te = te[test[te]]
            fold_of[te] = k
            g_tr = None if groups is None else np.asarray(groups)[tr]
            inner = folds(y[tr], cfg.tuning.inner_splits, seed + 1000 * (k + 1), g_tr)
            som_side = {}
            if any(m == "som" or NETWORKS.get(m, ("none",))[0] != "none" for m in cfg.models):
                t = time.perf_counter()
                som_setting, som_score = _select(fitter, "som", inner, tr, k, {})
                som_side = {"side": som_setting["side"]}
                seconds.setdefault("som_selection", 0.0)
                seconds["som_selection"] += time.perf_counter() - t
                chosen.append(
                    {
                        "fold": k + 1,
                        "model": SIDE_ROW,
                        "setting": som_setting,
                        "inner_accuracy": som_score,
                        "grid edge": ", ".join(grid_edges(cfg.tuning.grid("som"), som_setting)),
                    }
                )
            for m in cfg.models:
                t = time.perf_counter()
                if m == "som":
                    setting, score = som_setting, som_score
                else:
                    uses_som = NETWORKS.get(m, ("none",))[0] != "none"
                    setting, score = _select(fitter, m, inner, tr, k, som_side if uses_som else {})
                proba[m][te] = fitter.proba(m, setting, (k, "outer"), tr, te)
                seconds[m] += time.perf_counter() - t
                uses_side = m == "som" or NETWORKS.get(m, ("none",))[0] == "som"
                grid = cfg.tuning.grid(m) + (cfg.tuning.grid("som") if uses_side and m != "som" else [])
                chosen.append(
                    {
                        "fold": k + 1,
                        "model": m,
                        "setting": setting,
                        "inner_accuracy": score,
                        "grid edge": ", ".join(grid_edges(grid, setting)),  # an inherited SOM side included
                    }
                )
            fitter.soms.clear()
    pred = {
        m: np.where(np.isnan(p).any(axis=1), -1, np.argmax(np.nan_to_num(p, nan=-1.0), axis=1))
        for m, p in proba.items()
    }
    return {"pred": pred, "proba": proba, "fold": fold_of, "chosen": chosen, "seconds": seconds}


def run_protocols(
    X, y, groups: dict, cfg: EyeCVConfig, keep: dict | None = None, progress: bool = True, test: dict | None = None
) -> dict:
    """{protocol: [:func:`cross_validate` result per seed]} (the first seed's run holds every model of the protocol,
    a later seed's only the models that run it: :meth:`CVConfig.model_seeds`). ``groups``: {protocol: (n,) ids or
    None (plain)}; ``keep``: {protocol: (n,) bool} images a protocol uses (e.g. originals only; default all); ``test``:
    {protocol: (n,) bool} images a protocol scores (the others only in training; default all it uses). A result of a
    protocol on a subset is mapped back to all n images (pred -1, proba NaN, fold -1 outside it) with "mask"."""
    out = {}
    for p in cfg.cv.protocols:
        mask = np.ones(len(y), bool) if keep is None or p not in keep else np.asarray(keep[p], bool)
        g = groups.get(p)
        runs = []
        models = cfg.models_of(p)
        for s in cfg.cv.seeds_of(p):
            run_models = tuple(m for m in models if s in cfg.cv.model_seeds(p, m))
            if not run_models:
                continue
            pcfg = replace(cfg.for_protocol(p), models=run_models)
            t = None if test is None or p not in test else np.asarray(test[p], bool)[mask]
            r = cross_validate(X[mask], y[mask], pcfg, s, None if g is None else np.asarray(g)[mask], progress, t)
            runs.append(_expand(r, mask, len(y)))
        out[p] = runs
    return out


def _expand(r: dict, mask: np.ndarray, n: int) -> dict:
    idx = np.flatnonzero(mask)
    pred = {m: np.full(n, -1, dtype=np.int64) for m in r["pred"]}
    proba = {m: np.full((n, v.shape[1]), np.nan) for m, v in r["proba"].items()}
    fold = np.full(n, -1, dtype=np.int64)
    for m in pred:
        pred[m][idx], proba[m][idx] = r["pred"][m], r["proba"][m]
    fold[idx] = r["fold"]
    return {**r, "pred": pred, "proba": proba, "fold": fold, "mask": mask & (fold >= 0)}
