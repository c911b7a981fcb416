"""Floors and controls of notebook 03: features that cannot see lesions (thumbnails, colour histograms, file
metadata) under the tuned baselines, the acquisition table, and the negative control (features of an untrained
network).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from lib.eye import copies as eye_copies
from lib.eye import features as eye_features
from lib.eye.prose import ci_label
from lib.eye.protocols import EyeCVConfig, _expand, cross_validate
from lib.eye.readings import ci_text, readings


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


def same_source_block(paths, y, test, classes, min_per_class: int = 20) -> dict | None:
    """The largest acquisition block (file extension x image size) among the scored images ``test`` that holds at
    least two classes with ``min_per_class`` images each: inside it the file format and size carry no class.
    {"key", "mask" (n,) bool (scored images of the block, those classes only), "classes", "counts"} or None."""
    facts = file_facts(paths)
    key = (facts["extension"] + " " + facts["width"].astype(str) + "x" + facts["height"].astype(str)).to_numpy()
    y, test = np.asarray(y), np.asarray(test, bool)
    best = None
    for k in pd.unique(key[test]):
        inside = test & (key == k)
        counts = np.bincount(y[inside], minlength=len(classes))
        held = [i for i, n in enumerate(counts) if n >= min_per_class]
        rank = (len(held), int(counts[held].sum()))
        if len(held) >= 2 and (best is None or rank > best[0]):
            best = (rank, k, held, counts)
    if best is None:
        return None
    _, k, held, counts = best
    mask = test & (key == k) & np.isin(y, held)
    return {
        "key": str(k),
        "mask": mask,
        "classes": [classes[i] for i in held],
        "counts": {classes[i]: int(counts[i]) for i in held},
    }


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


def strongest_floor(floors: pd.DataFrame | None) -> pd.Series | None:
    """The floor row (any feature set and technique) with the highest balanced accuracy (None without floors)."""
    if floors is None or not len(floors):
        return None
    bal = floors["_entry"].map(lambda e: e["balanced_accuracy"])
    return floors.loc[bal.idxmax()]


def floors_metrics(floors: pd.DataFrame, protocol: str, seeds) -> dict:
    """{features: {technique: {protocol, seeds, ci, accuracy, accuracy_ci, balanced_accuracy, ...}}} (fractions):
    ``protocol`` the grouping the floors ran under (the headline's), ``seeds`` the seeds of ``cv.seeds``."""
    out: dict = {}
    for _, r in floors.iterrows():
        e = r["_entry"]
        out.setdefault(r["Features"], {})[r["Technique"]] = {
            "protocol": protocol,
            "seeds": list(seeds)[: int(r["Seeds"])],
            "ci": r["CI resamples"],
            "accuracy": r["_accuracy"],
            "accuracy_ci": list(r["_ci"]),
            "balanced_accuracy": e["balanced_accuracy"],
            "balanced_accuracy_ci": e["balanced_accuracy_ci"],
            "recall": e["recall"],
        }
    return out


def negative_control(
    data_source: str,
    control: dict | None,
    seed: int,
    y,
    groups,
    cfg: EyeCVConfig,
    classes,
    test=None,
    keep=None,
    protocol: str | None = None,
):
    """Tuned logistic regression on the control features (``control``: a FeatureConfig dict, e.g. random MobileNetV2
    weights), grouped by ``groups``, on the images of ``keep``, every seed of ``cv.seeds``: its readings with
    seeds x group bootstrap CIs (a group bootstrap of one fold assignment with one seed), or None without a
    control."""
    if not control:
        return None
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
        "protocol": protocol,
        **read,
        "ci": ci_label(len(res)),
        "seeds": list(cfg.cv.seeds),
        "extract_seconds": feats["meta"].get("extract_seconds"),
        "cached": bool(feats["cached"]),
    }
