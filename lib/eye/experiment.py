"""Tables and metrics of notebook 03 built on the protocol runs (:mod:`lib.eye.protocols`) and their readings
(:mod:`lib.eye.readings`): the leak table, the model table, the per-fold chosen settings, the shortcut floors, the
negative control, the copy-link outputs and the metrics file.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from lib.eye import copies as eye_copies
from lib.eye.protocols import EyeCVConfig, cross_validate
from lib.eye.readings import calibration, protocol_accuracy, readings
from lib.eye.som import SOMClassifier

#: paired differences in the model table: every model minus these
REFS = ("net_features", "logreg")
#: models of the leak table (the issue's four)
LEAK_MODELS = ("logreg", "mlp", "cbnn", "cbnn_onehot")


def ci_text(entry: dict, key: str, scale: float = 100.0) -> str:
    lo, hi = entry[f"{key}_ci"]
    return f"{scale * entry[key]:.2f} [{scale * lo:.2f}, {scale * hi:.2f}]"


def label_readings(read: dict, cfg: EyeCVConfig) -> dict:
    """The readings with what was run on every block: each protocol's and each model's entry gets "protocol" (the
    generated description) and "seeds"."""
    from lib.eye.prose import ci_label, run_description

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
    from lib.eye.prose import ci_label

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
        row["tied with the best"] = ("yes" if vs["tied"] else "no") if vs else "-"
        row["CI resamples"] = ci_label(e.get("n_seeds", 1))
        rows.append(row)
    return pd.DataFrame(rows)


def leak_comparison(runs: dict, y, clusters, cfg: EyeCVConfig, classes, score=None) -> dict:
    """:func:`lib.eye.readings.protocol_accuracy` of :data:`LEAK_MODELS` (those run) over every protocol's seeds,
    under one set of group resamples (``clusters``), every protocol scored on ``score`` (the originals: like for
    like)."""
    models = [m for m in LEAK_MODELS if m in cfg.models]
    return protocol_accuracy(runs, y, clusters, models, cfg.cv.bootstrap, cfg.cv.seeds[0], classes, score=score)


#: (minuend, subtrahend) protocol pairs of the leak table
LEAK_PAIRS = (("patient", "linked"), ("linked", "originals"), ("plain", "linked"), ("linked", "neardup"))
#: (key of the comparison entry, its bootstrap, column label) of the two scores of the leak table
LEAK_SCORES = (("accuracy", "boot", "accuracy"), ("balanced_accuracy", "balanced_boot", "balanced accuracy"))


def _pct(v: float, boot: np.ndarray, sign: str = "") -> str:
    lo, hi = np.nanpercentile(boot, [2.5, 97.5])
    return f"{100 * v:{sign}.2f} [{100 * lo:{sign}.2f}, {100 * hi:{sign}.2f}]"


def leak_table(comp: dict, cfg: EyeCVConfig) -> pd.DataFrame:
    """One row per model and score (accuracy; balanced accuracy = mean per-class recall, free of the class mix):
    the seeds each protocol ran, the score (%) [95% CI] under each protocol (mean over its seeds) and the paired
    differences of :data:`LEAK_PAIRS` in percentage points [95% CI]."""
    rows = []
    for m, per in comp.items():
        for key, bkey, label in LEAK_SCORES:
            row = {"model": cfg.label(m), "score": label}
            row["seeds per protocol"] = ", ".join(f"{p} {e['seeds']}" for p, e in per.items())
            for p, e in per.items():
                row[f"{p} (%)"] = _pct(e[key], e[bkey])
            for a, b in LEAK_PAIRS:
                if a in per and b in per:
                    row[f"{a} - {b} (pp)"] = _pct(per[a][key] - per[b][key], per[a][bkey] - per[b][bkey], "+")
            rows.append(row)
    return pd.DataFrame(rows)


def leak_metrics(comp: dict) -> dict:
    """JSON-ready leak comparison: {model: {protocol: accuracy, <protocol>_balanced: balanced accuracy,
    <a>_minus_<b>[_balanced]: value, ..._ci}}."""
    out = {}
    for m, per in comp.items():
        e = {}
        for key, bkey, _ in LEAK_SCORES:
            tail = "" if key == "accuracy" else "_balanced"
            for p, v in per.items():
                e[f"{p}{tail}"] = v[key]
                e[f"{p}{tail}_ci"] = [float(x) for x in np.nanpercentile(v[bkey], [2.5, 97.5])]
            for a, b in LEAK_PAIRS:
                if a in per and b in per:
                    e[f"{a}_minus_{b}{tail}"] = per[a][key] - per[b][key]
                    e[f"{a}_minus_{b}{tail}_ci"] = [
                        float(x) for x in np.nanpercentile(per[a][bkey] - per[b][bkey], [2.5, 97.5])
                    ]
        e["seeds"] = {p: v["seeds"] for p, v in per.items()}
        out[m] = e
    return out


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
        grid = cfg.for_protocol(p).tuning.grid(m)
        keys = [k for k in grid[0] if not (k == "side" and m != "som")]
        edge = part["grid edge"].fillna("")
        rows.append(
            {
                "protocol": p,
                "model": m,
                "grid": "; ".join(f"{k} {sorted({g[k] for g in grid})}" for k in keys),
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


# ---------------------------------------------------------------- shortcut floors, negative control, SOM facts
def shortcut_features(images: np.ndarray, thumb: int = 16, bins: int = 16) -> dict[str, np.ndarray]:
    """Features that cannot see lesions: 'thumbnail 16x16' (n, thumb*thumb*3) block means of the (n, s, s, 3) images
    (s divisible by thumb) and 'colour histogram' (n, 3*bins) per-channel histograms (fractions)."""
    n, s = images.shape[:2]
    k = s // thumb
    small = images[:, : k * thumb, : k * thumb].reshape(n, thumb, k, thumb, k, 3).mean(axis=(2, 4))
    offsets = np.arange(3) * bins
    hist = np.stack(
        [np.bincount((im.astype(np.int64) * bins // 256 + offsets).ravel(), minlength=3 * bins) for im in images]
    ) / float(s * s)
    return {f"thumbnail {thumb}x{thumb}": small.reshape(n, -1) / 255.0, "colour histogram": hist}


def file_facts(paths) -> pd.DataFrame:
    """Per file: extension (lower case), width, height (from the header)."""
    from PIL import Image

    rows = []
    for p in paths:
        with Image.open(p) as im:
            w, h = im.size
        rows.append({"extension": str(p).rsplit(".", 1)[-1].lower(), "width": w, "height": h})
    return pd.DataFrame(rows)


def acquisition_table(paths, labels, classes, root) -> pd.DataFrame:
    """Images per class and kind (original / augmented copy) x (extension, width x height): what the metadata floor
    can read."""
    facts = file_facts(paths)
    copy_mask = ~eye_copies.originals_mask([Path(p).relative_to(root).as_posix() for p in paths])
    key = facts["extension"] + " " + facts["width"].astype(str) + "x" + facts["height"].astype(str)
    common = key.value_counts()
    key = key.where(key.map(common) >= 5, "other (< 5 files each)")
    kind = np.where(np.asarray(copy_mask, bool), "copy", "original")
    cls = np.asarray(classes)[np.asarray(labels)]
    tab = pd.crosstab([pd.Series(cls, name="class"), pd.Series(kind, name="kind")], key.rename("extension, size"))
    return tab.reset_index()


def metadata_features(paths) -> np.ndarray:
    """Features that see only the file, never the fundus: one-hot file extension, one-hot image size (width x
    height; sizes seen fewer than 5 times pooled) and log width, log height, aspect ratio. (n, k) float."""
    facts = file_facts(paths)
    ext, size = list(facts["extension"]), list(zip(facts["width"], facts["height"]))
    names = pd.Series([f"{w}x{h}" for w, h in size])
    common = names.value_counts()
    names = names.where(names.map(common) >= 5, "other")
    wh = np.asarray(size, dtype=float)
    onehot = pd.get_dummies(pd.DataFrame({"ext": ext, "size": names}), dtype=float).to_numpy()
    return np.hstack([onehot, np.log(wh), (wh[:, 0] / wh[:, 1])[:, None]])


def shortcut_floors(
    feature_sets: dict,
    y,
    groups,
    boot_groups,
    cfg: EyeCVConfig,
    classes,
    progress: bool = True,
    test=None,
    keep=None,
    seeded=(),
) -> pd.DataFrame:
    """Tuned logistic regression and kNN on each of ``feature_sets`` ({name: (n, k)}: :func:`shortcut_features`,
    :func:`metadata_features`), grouped by ``groups``, on the images of ``keep`` (default all), scored on ``test``
    (the headline's population): accuracy, balanced accuracy and per-class recall (%) with 95% CIs. The feature
    sets named in ``seeded`` run every seed of ``cv.seeds`` (seeds x group bootstrap), the others the first seed
    (group bootstrap)."""
    from lib.eye.prose import ci_label
    from lib.eye.protocols import _expand

    floor_cfg = replace(cfg, models=("logreg", "knn"))
    keep = np.ones(len(y), bool) if keep is None else np.asarray(keep, bool)
    t = None if test is None else np.asarray(test, bool)[keep]
    g = None if groups is None else np.asarray(groups)[keep]
    rows = []
    for name, F in feature_sets.items():
        seeds = cfg.cv.seeds if name in seeded else cfg.cv.seeds[:1]
        res = [
            _expand(
                cross_validate(np.asarray(F)[keep], np.asarray(y)[keep], floor_cfg, s, g, progress, t), keep, len(y)
            )
            for s in seeds
        ]
        read = readings(res, y, boot_groups, classes, cfg.cv.bootstrap, cfg.cv.seeds[0])
        for m, e in read.items():
            row = {
                "Features": name,
                "Technique": cfg.label(m),
                "Seeds": len(seeds),
                "CI resamples": ci_label(len(seeds)),
                "Accuracy (%)": ci_text(e, "accuracy"),
                "Balanced accuracy (%)": ci_text(e, "balanced_accuracy"),
            }
            row.update({f"{c} recall (%)": ci_text(e["recall"], c) for c in classes})
            row.update({"_accuracy": e["accuracy"], "_ci": e["accuracy_ci"], "_entry": e})
            rows.append(row)
    return pd.DataFrame(rows)


def floor_view(floors: pd.DataFrame) -> pd.DataFrame:
    """The floors table without its private columns."""
    return floors[[c for c in floors.columns if not c.startswith("_")]]


def best_floor(floors: pd.DataFrame, features: str) -> pd.Series | None:
    """The row of the best technique on one feature set (None when not run)."""
    part = floors[floors["Features"] == features]
    return None if not len(part) else part.loc[part["_accuracy"].idxmax()]


def strongest_floor(floors: pd.DataFrame) -> pd.Series | None:
    """The floor row (any feature set and technique) with the highest balanced accuracy (None without floors)."""
    if not len(floors):
        return None
    bal = floors["_entry"].map(lambda e: e["balanced_accuracy"])
    return floors.loc[bal.idxmax()]


def floors_metrics(floors: pd.DataFrame) -> dict:
    """{features: {technique: {accuracy, accuracy_ci}}} (fractions)."""
    out: dict = {}
    for _, r in floors.iterrows():
        e = r["_entry"]
        out.setdefault(r["Features"], {})[r["Technique"]] = {
            "accuracy": r["_accuracy"],
            "accuracy_ci": list(r["_ci"]),
            "balanced_accuracy": e["balanced_accuracy"],
            "balanced_accuracy_ci": e["balanced_accuracy_ci"],
            "recall": e["recall"],
        }
    return out


def negative_control(
    data_source: str, control: dict | None, seed: int, y, groups, cfg: EyeCVConfig, classes, test=None, keep=None
):
    """Tuned logistic regression on the control features (``control``: a FeatureConfig dict, e.g. random MobileNetV2
    weights), grouped by ``groups``, on the images of ``keep``, every seed of ``cv.seeds``: its readings with
    seeds x group bootstrap CIs (a group bootstrap of one fold assignment with one seed), or None without a
    control."""
    if not control:
        return None
    from lib.eye import features as eye_features
    from lib.eye.prose import ci_label
    from lib.eye.protocols import _expand

    fcfg = eye_features.FeatureConfig(**control)
    feats = eye_features.features_for(data_source, fcfg, seed)
    keep = np.ones(len(y), bool) if keep is None else np.asarray(keep, bool)
    t = None if test is None else np.asarray(test, bool)[keep]
    g = None if groups is None else np.asarray(groups)[keep]
    lr_cfg = replace(cfg, models=("logreg",))
    res = [
        _expand(cross_validate(feats["features"][keep], np.asarray(y)[keep], lr_cfg, s, g, True, t), keep, len(y))
        for s in cfg.cv.seeds
    ]
    read = readings(res, y, groups, classes, cfg.cv.bootstrap, cfg.cv.seeds[0])["logreg"]
    return {
        "features": fcfg.describe(),
        **read,
        "ci": ci_label(len(res)),
        "seeds": list(cfg.cv.seeds),
        "extract_seconds": feats["meta"].get("extract_seconds"),
        "cached": bool(feats["cached"]),
    }


def protocol_masks(files, protocols, dropped, unscored) -> tuple[dict, dict]:
    """(keep, test) for :func:`lib.eye.protocols.run_protocols`: every protocol drops ``dropped`` (the ambiguous
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
    from lib.eye.cluster_net import ClusterNetwork
    from lib.eye.protocols import folds
    from lib.eye.readings import weighted_scores

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


# ---------------------------------------------------------------- copies
def near_pair_rows(pairs: pd.DataFrame, n_top: int, n_edge: int, kind: str | None = None) -> list[dict]:
    """Rows (file = a, best = b) for the near-duplicate figure: the ``n_top`` most similar pairs and the ``n_edge``
    pairs nearest the threshold (the least similar ones still candidates); ``kind``: one label for every row
    instead. The pixel verification score and verdict are in the label when the pairs carry them."""
    if not len(pairs):
        return []
    top = pairs.head(n_top).assign(kind=kind or "most similar")
    edge = pairs.tail(n_edge).assign(kind=kind or "at the threshold")
    rows = pd.concat([top, edge]).drop_duplicates(["a", "b"])

    def label(r):
        if "pixel score" not in r:
            return r["kind"]
        return f"{r['kind']}; pixel {r['pixel score']:.2f} ({'joined' if r['verified'] else 'not joined'})"

    return [
        {"file": r["a"], "best": r["b"], "score": r["cosine"], "kind": label(r), "second": ""}
        for r in rows.to_dict("records")
    ]


def cut_pair_rows(pairs: pd.DataFrame, cut: float, n_each: int) -> list[dict]:
    """Rows (file = a, best = b) for the pixel-verifier check figure: the ``n_each`` joined pairs with the lowest
    pixel scores and the ``n_each`` rejected pairs with the highest (the verifier's closest calls around ``cut``),
    each labelled with its kind (when the pairs carry one), pixel score and verdict."""
    if not len(pairs):
        return []
    s = pairs["pixel score"]
    above = pairs[s >= cut].nsmallest(n_each, "pixel score")
    below = pairs[s < cut].nlargest(n_each, "pixel score")
    rows = []
    for r in pd.concat([above, below]).to_dict("records"):
        head = f"{r['kind']}; " if "kind" in r and isinstance(r["kind"], str) else ""
        verdict = "passes" if r["pixel score"] >= cut else "fails"
        tied = r["pixel score"] < cut and bool(r.get("copy tie", False))
        cut_text = f" {cut:g}" + (" (joined: copy tie)" if tied else "")
        rows.append(
            {
                "file": r["a"],
                "best": r["b"],
                "score": r["pixel score"],
                "kind": f"{head}pixel {r['pixel score']:.2f} {verdict}{cut_text}",
                "second": "",
            }
        )
    return rows


def hardest_known_rows(checked: pd.DataFrame, cut: float, n: int) -> list[dict]:
    """Rows for the pixel-verifier check figure from :func:`lib.eye.copies.verifier_reference` pairs (verified): the
    ``n`` lowest-scoring same-eye pairs (copy and source: a miss if below ``cut``) and the ``n`` highest-scoring
    fellow-eye pairs (a false pass if at or above ``cut``)."""
    if not len(checked):
        return []
    same = checked["kind"].str.startswith("copy")
    parts = [checked[same].nsmallest(n, "pixel score"), checked[~same].nlargest(n, "pixel score")]
    rows = []
    for r in pd.concat(parts).to_dict("records"):
        verdict = "passes" if r["pixel score"] >= cut else "fails"
        label = f"{r['kind'].split(' (')[0]}; pixel {r['pixel score']:.2f} {verdict} {cut:g}"
        rows.append({"file": r["a"], "best": r["b"], "score": r["pixel score"], "kind": label, "second": ""})
    return rows


def pair_rows(links: pd.DataFrame, n_random: int, n_low: int, seed: int) -> list[dict]:
    """Rows for the matched-pairs figure: ``n_random`` random links, the ``n_low`` lowest-scoring links and the
    ``n_low`` links with the smallest margin over the runner-up (the hardest cases for a false link)."""
    linked = links[links["linked"]]
    if not len(linked):
        return []
    rnd = linked.sample(min(n_random, len(linked)), random_state=seed).assign(kind="random link")
    low = linked.nsmallest(n_low, "score").assign(kind="lowest score")
    margin = (
        linked.assign(_m=linked["score"] - linked["second_score"]).nsmallest(n_low, "_m").assign(kind="smallest margin")
    )
    rows = pd.concat([rnd, low, margin.drop(columns="_m")]).drop_duplicates("file")
    amb = eye_copies.dropped_links(rows)
    rows["kind"] = np.where(amb, rows["kind"] + " (ambiguous: dropped)", rows["kind"])
    return rows.to_dict("records")


def copy_metrics(links: pd.DataFrame, counts: pd.DataFrame, cfg: eye_copies.CopyConfig) -> dict:
    margin = links["score"] - links["second_score"]
    return {
        "method": cfg.describe(),
        "copies": int(len(links)),
        "linked": int(links["linked"].sum()),
        "unmatched": int((~links["linked"]).sum()),
        "per_class": counts.set_index("class")[["copies", "linked", "unmatched"]].to_dict("index")
        if len(counts)
        else {},
        "score_min": float(links["score"].min()) if len(links) else None,
        "margin_min": float(margin.min()) if len(links) else None,
        "uncertain": int((links["also"].fillna("") != "").sum()) if len(links) else 0,
        "dropped_ambiguous": int(eye_copies.dropped_links(links).sum()) if len(links) else 0,
        "dropped_k_unsupported": int(links.get("k unsupported", pd.Series(False, index=links.index)).sum()),
        "k_unsupported_files": links.loc[
            links.get("k unsupported", pd.Series(False, index=links.index)).astype(bool), "file"
        ].tolist(),
        "k_check_below": cfg.k_check,
        "candidates_max": int(links["candidates"].max()) if len(links) else 0,
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
    from lib.eye.cluster_net import ClusterNetwork
    from lib.eye.protocols import folds

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


def learning_summary(curves: dict, budget: int) -> dict:
    """JSON-ready learning check: per network, the held-out loss and accuracy at the runs' epoch budget and the best
    over the longer check."""
    return {
        k: {
            "epochs_run": budget,
            "epochs_checked": len(v["epoch"]),
            "val_loss_at_budget": v["val_loss"][budget - 1],
            "val_loss_min": min(v["val_loss"]),
            "val_accuracy_at_budget": v["val_accuracy"][budget - 1],
            "val_accuracy_max": max(v["val_accuracy"]),
        }
        for k, v in curves.items()
    }
