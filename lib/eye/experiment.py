"""Tables and metrics of notebook 03 built on the protocol runs (:mod:`lib.eye.protocols`) and their readings
(:mod:`lib.eye.readings`): the leak table, the model table, the per-fold chosen settings, the shortcut floors, the
negative control, the copy-link outputs and the metrics file.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd

from lib.eye import copies as eye_copies
from lib.eye.cluster_net import ClusterNetwork
from lib.eye.prose import ci_label, run_description
from lib.eye.protocols import NETWORKS, SIDE_ROW, EyeCVConfig, folds
from lib.eye.readings import calibration, ci_text, readings, weighted_scores
from lib.eye.som import SOMClassifier

#: paired differences in the model table: every model minus these
REFS = ("net_features", "logreg")


def label_readings(read: dict, cfg: EyeCVConfig) -> dict:
    """The readings with what was run on every block: each protocol's and each model's entry gets "protocol" (the
    generated description) and "seeds"."""
    desc = run_description(cfg)
    out = {}
    for p, r in read.items():
        out[p] = {
            m: {**e, "protocol": desc[p], "seeds": list(cfg.cv.model_seeds(p, m)), "ci": ci_label(e["n_seeds"])}
            for m, e in r.items()
        }
    return out


def claim_model(cfg: EyeCVConfig) -> str:
    """The paper's network read literally (``cbnn_onehot``) when run; else ``cbnn``; else the first model."""
    return next((m for m in ("cbnn_onehot", "cbnn") if m in cfg.models), cfg.models[0])


def all_readings(runs: dict, y, boot_groups, classes, cfg: EyeCVConfig) -> dict:
    """{protocol: :func:`lib.eye.readings.readings`} (seeds x group bootstrap over ``boot_groups``), with paired
    differences against :data:`REFS` and Brier / ECE per probabilistic model (mean over seeds)."""
    out = {}
    for p, rs in runs.items():
        r = readings(rs, y, boot_groups, classes, cfg.cv.bootstrap, cfg.cv.seeds[0], refs=REFS)
        for m in r:
            if m != "som":
                cal = [calibration(y, run["proba"][m]) for run in rs if m in run["proba"]]
                r[m]["brier"] = float(np.mean([c["brier"] for c in cal]))
                r[m]["ece"] = float(np.mean([c["ece"] for c in cal]))
        out[p] = r
    return out


def model_table(read: dict, cfg: EyeCVConfig, classes: list[str], baselines: dict | None = None) -> pd.DataFrame:
    """Paper Table 3 layout with CIs: accuracy, balanced accuracy, macro-F1, per-class recall (%), Brier, ECE,
    paired differences; ``baselines``: {row label: readings entry} appended (e.g. the metadata floor)."""
    rows = []
    labels = {**{m: cfg.label(m) for m in read}, **{name: name for name in baselines or {}}}
    for m, e in {**read, **(baselines or {})}.items():
        row = {
            "Technique": labels[m],
            "Seeds": e.get("n_seeds", 1),
            "Accuracy (%)": ci_text(e, "accuracy"),
            "Balanced accuracy (%)": ci_text(e, "balanced_accuracy"),
            "Macro-F1 (%)": ci_text(e, "macro_f1"),
        }
        row.update({f"{c} recall (%)": ci_text(e["recall"], c) for c in classes})
        row["Brier"] = f"{e['brier']:.3f}" if "brier" in e else "-"
        row["ECE"] = f"{e['ece']:.3f}" if "ece" in e else "-"
        for ref in REFS:
            key = f"balanced_accuracy_minus_{ref}"
            row[f"balanced minus {ref} (pp)"] = ci_text(e, key) if key in e else "-"
        vs = e.get("vs_best") if m in read else None  # a baseline row's own readings rank only its own models
        row["balanced minus best (pp)"] = ci_text(vs, "balanced_accuracy") if vs else "-"
        row["tied with the best"] = tied_word(m, vs, read) if vs else "-"
        row["CI resamples"] = ci_label(e.get("n_seeds", 1))
        rows.append(row)
    return pd.DataFrame(rows)


def tied_word(m: str, vs: dict, read: dict) -> str:
    """The "tied with the best" cell of model ``m``: yes / no from the paired CI (``vs``: its ``vs_best``), marked
    "(1 seed: indicative)" when ``m`` or the best ran one seed: that CI omits its retraining variability
    (review24s10 m1: a 1-seed cell flipped between two runs)."""
    word = "yes" if vs["tied"] else "no"
    if m != vs["best"] and min(read[m].get("n_seeds", 1), read[vs["best"]].get("n_seeds", 1)) == 1:
        word += " (1 seed: indicative)"
    return word


def chosen_table(runs: dict) -> pd.DataFrame:
    """Every outer fold's chosen setting per model: protocol, seed index, fold, model, setting, inner balanced
    accuracy."""
    rows = []
    for p, rs in runs.items():
        for i, r in enumerate(rs):
            for c in r["chosen"]:
                setting = ", ".join(f"{k} {v:g}" for k, v in c["setting"].items())
                rows.append(
                    {
                        "protocol": p,
                        "seed": i,
                        "fold": c["fold"],
                        "model": c["model"],
                        "setting": setting,
                        "inner balanced accuracy": c["inner_accuracy"],
                        "grid edge": c.get("grid edge", ""),
                    }
                )
    return pd.DataFrame(rows)


def chosen_pivot(chosen: pd.DataFrame, protocol: str) -> pd.DataFrame:
    """The chosen settings of one protocol's first seed: rows folds, columns models."""
    part = chosen[(chosen["protocol"] == protocol) & (chosen["seed"] == 0)]
    return part.pivot(index="fold", columns="model", values="setting")


def edge_summary(chosen: pd.DataFrame, cfg: EyeCVConfig) -> pd.DataFrame:
    """Per protocol and model: the grid tried, how often each setting was chosen (folds x seeds) and how often the
    choice sat on an edge of the grid (the optimum may lie outside it)."""
    rows = []
    for (p, m), part in chosen.groupby(["protocol", "model"], sort=False):
        tuning = cfg.for_protocol(p).tuning
        grid = tuning.grid("som" if m == SIDE_ROW else m)
        if NETWORKS.get(m, ("none",))[0] == "som":  # a SOM-based network: its inherited side is flagged too
            grid = grid + tuning.grid("som")
        keys = list(dict.fromkeys(k for g in grid for k in g))
        edge = part["grid edge"].fillna("")
        rows.append(
            {
                "protocol": p,
                "model": m,
                "grid": "; ".join(f"{k} {sorted({g[k] for g in grid if k in g})}" for k in keys),
                "chosen (times)": "; ".join(f"{k}: {v}" for k, v in part["setting"].value_counts().items()),
                "on a grid edge": f"{int((edge != '').sum())} of {len(part)}",
                "edges hit": "; ".join(f"{k}: {v}" for k, v in edge[edge != ""].value_counts().items()),
            }
        )
    return pd.DataFrame(rows)


def chosen_counts(chosen: pd.DataFrame) -> dict:
    """{protocol: {model: {setting: times chosen over folds and seeds}}}."""
    out: dict = {}
    for (p, m), part in chosen.groupby(["protocol", "model"]):
        out.setdefault(p, {})[m] = {str(k): int(v) for k, v in part["setting"].value_counts().items()}
    return out


def protocol_masks(files, protocols, dropped, unscored) -> tuple[dict, dict]:
    """(keep, test) for :func:`lib.eye.protocols.run_protocols`: every protocol drops ``dropped`` (the unmatched
    copies) and ``originals`` also every other copy; every protocol but ``plain`` scores the originals only, and
    none scores ``unscored`` (the label-conflicted duplicates)."""
    originals = eye_copies.originals_mask(files)
    dropped, unscored = np.asarray(dropped, bool), np.asarray(unscored, bool)
    keep = {p: ~dropped & (originals if p == "originals" else True) for p in protocols}
    test = {p: ~unscored & (True if p == "plain" else originals) for p in protocols}
    return keep, test


def som_side_sweep(X, y, groups, keep, test, cfg: EyeCVConfig, seed: int, progress: bool = True) -> pd.DataFrame:
    """The SOM classifier and the literal CBNN (one-hot winning unit, the widest network of the grid) at every SOM
    side of ``tuning.sweep_sides`` on the first outer fold of ``groups`` (images of ``keep``, scored on ``test``), first
    seed: accuracy and balanced accuracy (%) against the side: where the literal CBNN's capacity (the number of
    units) stops paying. A diagnostic scored on outer fold 1's test part: never used to choose a setting."""
    keep = np.asarray(keep, bool)
    Xk, yk = np.asarray(X, float)[keep], np.asarray(y)[keep]
    tk, gk = np.asarray(test, bool)[keep], None if groups is None else np.asarray(groups)[keep]
    tr, te = folds(yk, cfg.cv.n_splits, seed, gk)[0]
    te = te[tk[te]]
    c = int(yk.max() + 1)
    net_cfg = replace(cfg.cbnn, hidden=(max(cfg.tuning.cbnn_hidden),))
    rows = []
    for side in cfg.tuning.sweep_sides:
        som = SOMClassifier(replace(cfg.som, side=side), seed).fit(Xk[tr], yk[tr], c)
        net = ClusterNetwork(net_cfg, "som", "onehot", seed).fit(
            som.transform(Xk[tr]), yk[tr], centroids=som.codebook, n_classes=c
        )
        preds = (("SOM classifier", som.predict(Xk[te])), ("literal CBNN", net.predict(som.transform(Xk[te]))))
        for name, pred in preds:
            sc = weighted_scores(np.ones(len(te)), yk[te], pred, None, c)
            rows.append(
                {
                    "side": side,
                    "units": side * side,
                    "model": name,
                    "accuracy (%)": 100 * float(sc["accuracy"]),
                    "balanced accuracy (%)": 100 * float(sc["balanced_accuracy"]),
                    "units with hits": int((som.counts_.sum(axis=1) > 0).sum()),
                }
            )
    return pd.DataFrame(rows)


def same_source_readings(runs: list[dict], block: dict | None, y, groups, cfg: EyeCVConfig, classes) -> dict:
    """{model: readings entry} of the out-of-fold predictions of ``runs`` (one protocol, every seed) scored inside one
    acquisition block only (:func:`lib.eye.floors.same_source_block`; no retraining; the same seeds x group
    bootstrap; macro-F1 and balanced accuracy over the block's classes). {} without a block."""
    if block is None:
        return {}
    mask = np.asarray(block["mask"], bool)
    inside = [{**r, "pred": {m: np.where(mask, p, -1) for m, p in r["pred"].items()}} for r in runs]
    with warnings.catch_warnings():  # the classes outside the block have no images: their (unshown) CIs are NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return readings(inside, y, groups, classes, cfg.cv.bootstrap, cfg.cv.seeds[0], refs=REFS)


def same_source_table(runs: list[dict], block: dict | None, y, groups, classes, cfg: EyeCVConfig, read=None):
    """The model table of :func:`same_source_readings` over the block's classes (``read``: those readings, when
    already computed). Empty without a block."""
    if block is None:
        return pd.DataFrame()
    read = same_source_readings(runs, block, y, groups, cfg, classes) if read is None else read
    return model_table(read, cfg, block["classes"])


def sweep_metrics(sweep: pd.DataFrame, protocol: str, seed: int) -> dict:
    """JSON-ready side sweep: what it ran (protocol, outer fold 1, seed; scored on that fold's test part, a
    diagnostic) and its rows."""
    return {
        "protocol": protocol,
        "fold": 1,
        "seed": seed,
        "scored_on": "outer fold 1's test part (a diagnostic: never used to choose a setting)",
        "rows": sweep.to_dict("records"),
    }


def best_model(read: dict) -> str:
    """The model with the highest balanced accuracy in one protocol's readings (free of the test class mix)."""
    return max(read, key=lambda m: read[m]["balanced_accuracy"])


def som_overview(som: SOMClassifier, X: np.ndarray, y: np.ndarray) -> dict:
    """Quality of a SOM trained on all of X (figures only): side, neurons, QE, TE, empty neurons, training acc."""
    return {
        "side": som.shape[0],
        "neurons": som.shape[0] * som.shape[1],
        "quantization_error": som.quantization_error(X),
        "topographic_error": som.topographic_error(X),
        "empty_neurons": int((som.counts_.sum(axis=1) == 0).sum()),
        "training_accuracy": float((som.predict(X) == y).mean()),
    }


#: (label, clusters, inputs) of the networks in the learning check
LEARNING_NETWORKS = (
    ("soft (standardized)", "som", "soft"),
    ("literal one-hot", "som", "onehot"),
    ("features + unit", "som", "features+onehot"),
    ("features only", "none", "features"),
)


def learning_check(X, y, groups, test, cfg: EyeCVConfig, seed: int, factor: int) -> dict:
    """Loss curves of every network of :data:`LEARNING_NETWORKS` (the SOM-based ones at the default SOM side) on the
    first outer fold of ``groups`` (scored on ``test``), at the widest network of the grid, trained ``factor`` times
    the runs' epochs: {label: :meth:`lib.eye.cluster_net.ClusterNetwork.loss_curve`}."""
    y = np.asarray(y)
    tr, te = folds(y, cfg.cv.n_splits, seed, groups)[0]
    te = te[np.asarray(test, bool)[te]]
    c = int(y.max() + 1)
    som = SOMClassifier(cfg.som, seed).fit(X[tr], y[tr], c)
    Xtr, Xte = som.transform(X[tr]), som.transform(X[te])
    net_cfg = replace(cfg.cbnn, hidden=(max(cfg.tuning.cbnn_hidden),))
    out = {}
    for label, clusters, inputs in LEARNING_NETWORKS:
        cent = som.codebook if clusters == "som" else None
        net = ClusterNetwork(net_cfg, clusters, inputs, seed).fit(Xtr, y[tr], centroids=cent, n_classes=c)
        out[label] = net.loss_curve(Xtr, y[tr], Xte, y[te], factor * cfg.cbnn.epochs)
    return out


def learning_summary(curves: dict, cfg: EyeCVConfig, protocol: str, seed: int, window: int = 3) -> dict:
    """JSON-ready learning check (:func:`learning_check`): what it ran (protocol, outer fold 1, seed, width, SOM side,
    soft bandwidth factor 1: not the settings chosen inside the folds; held out = outer fold 1's test part, a
    diagnostic never used for a choice) and per network the held-out loss and accuracy at the runs' epoch budget,
    the mean held-out accuracy over the ``window`` epochs up to the budget and over the last ``window`` epochs of the
    longer check (single epochs swing by a few points), and the gain between those means."""
    budget = cfg.cbnn.epochs
    setup = {
        "protocol": protocol,
        "fold": 1,
        "seed": seed,
        "width": max(cfg.tuning.cbnn_hidden),
        "som_side": cfg.som.side,
        "soft_bandwidth_factor": 1.0,
        "held_out": "outer fold 1's test part (a diagnostic: never used to choose a setting)",
    }
    out = {}
    for k, v in curves.items():
        acc = np.asarray(v["val_accuracy"], float)
        at, end = float(acc[max(0, budget - window) : budget].mean()), float(acc[-window:].mean())
        out[k] = {
            **setup,
            "epochs_run": budget,
            "epochs_checked": len(v["epoch"]),
            "val_loss_at_budget": v["val_loss"][budget - 1],
            "val_loss_min": min(v["val_loss"]),
            "val_accuracy_at_budget": v["val_accuracy"][budget - 1],
            "val_accuracy_max": max(v["val_accuracy"]),
            f"val_accuracy_mean{window}_at_budget": at,
            f"val_accuracy_mean{window}_at_end": end,
            "gain_after_budget": end - at,
            "window": window,
        }
    return out
