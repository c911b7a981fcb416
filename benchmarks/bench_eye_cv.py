"""Benchmark for notebook 03's real run (not a timed test): the cost of one outer cross-validation fold with the nested
selection of every model, on the cached real features (run the real notebook, or its feature step, first).

    python benchmarks/bench_eye_cv.py [--out benchmarks/results/bench_eye_cv.json]

Runs params_real.yaml's ``nb03`` evaluation (models, tuning grids, outer folds) on the first outer fold of the linked
protocol only (copies grouped by their index here: the linking itself is not timed), times every model (its inner
selection included) and extrapolates the notebook's CV time: folds x (seeds of the first protocol, all models + one
seed of each other protocol, its models). One BLAS thread. Absolute numbers depend on the machine and its load (say
which beside them).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--splits", type=int, default=10)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/bench_eye_cv.json"))
    args = ap.parse_args(argv)

    from lib.core.params import load_params
    from lib.eye import data as eye_data
    from lib.eye import features as eye_features
    from lib.eye import protocols

    p = load_params("nb03", "real")
    feats = eye_features.features_for(p["data_source"], eye_features.FeatureConfig(**p["features"]), p["seed"])
    X, y = feats["features"].astype(float), feats["labels"]
    groups = eye_data.patient_groups(feats["files"])
    cfg = protocols.EyeCVConfig.from_params(p["models"], p["cv"], p["som"], p["cbnn"], p["tuning"])
    first = protocols.folds(y, cfg.cv.n_splits, 0, groups)[:1]
    orig = protocols.folds
    protocols.folds = lambda yy, n, s, g=None: (
        first if n == cfg.cv.n_splits and len(yy) == len(y) else orig(yy, n, s, g)
    )
    try:
        t = time.perf_counter()
        res = protocols.cross_validate(X, y, cfg, 0, groups, progress=False)
        fold_s = time.perf_counter() - t
    finally:
        protocols.folds = orig
    per_model = res["seconds"]
    for m, sec in per_model.items():
        print(f"{m:14s} {sec:6.1f} s per outer fold (inner selection included)", flush=True)
    others = cfg.cv.other_models or cfg.models
    other_s = sum(v for m, v in per_model.items() if m in others or m == "som_selection")
    total = cfg.cv.n_splits * (len(cfg.cv.seeds) * fold_s + (len(cfg.cv.protocols) - 1) * other_s)
    out = {
        "splits": cfg.cv.n_splits,
        "fold_s": fold_s,
        "per_model_s": per_model,
        "extrapolated_cv_s": total,
        "load": os.getloadavg(),
    }
    print(json.dumps({"extrapolated_cv_s": total, "load": out["load"]}))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
