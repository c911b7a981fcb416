"""Benchmark for notebook 03's real run (not a timed test): the cost of one cross-validation fold per model and per
SOM setting of the sensitivity grid, on the cached real features (run the real notebook, or its feature step, first).

    python benchmarks/bench_eye_cv.py [--splits 10] [--out benchmarks/results/bench_eye_cv.json]

Fits every model of params_real.yaml's ``nb03.models`` on the training part of the first patient-grouped fold of a
``--splits``-fold split and times it, then the SOM classifier and ``cbnn_onehot`` under each ``som_grid`` setting,
and extrapolates the notebook's CV time (folds x (seeds of the first protocol + 1 plain seed) + grid). One BLAS
thread. Absolute numbers depend on the machine and its load (say which beside them).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--splits", type=int, default=10)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/bench_eye_cv.json"))
    args = ap.parse_args(argv)

    from lib.core.params import load_params
    from lib.eye import data as eye_data
    from lib.eye import experiment
    from lib.eye import features as eye_features

    p = load_params("nb03", "real")
    feats = eye_features.features_for(p["data_source"], eye_features.FeatureConfig(**p["features"]), p["seed"])
    X, y = feats["features"].astype(float), feats["labels"]
    groups = eye_data.patient_groups(feats["files"])
    cfg = experiment.EyeCVConfig.from_params(p["models"], p["cv"], p["som"], p["cbnn"], p["baselines"])
    tr, _ = experiment.folds(y, args.splits, 0, groups)[0]
    one = replace(cfg, cv=replace(cfg.cv, n_splits=args.splits))
    # a 2-fold CV on the first fold's training part: two fits on about half of it, about one fold's cost
    t = time.perf_counter()
    res = experiment.cross_validate(X[tr], y[tr], replace(one, cv=replace(one.cv, n_splits=2)), 0, None, False)
    fold_s = time.perf_counter() - t
    per_model = res["seconds"]  # networks on SOM clusters include the SOM's time
    for m, sec in per_model.items():
        print(f"{m:14s} {sec:6.1f} s per fold", flush=True)
    print(f"all models    {fold_s:6.1f} s per fold", flush=True)
    grid = {}
    for setting in p["som_grid"]:
        over = {k: v for k, v in setting.items() if k != "label"}
        scfg = replace(cfg.som, **over)
        t = time.perf_counter()
        experiment.cross_validate(
            X[tr],
            y[tr],
            replace(one, models=("som", "cbnn_onehot"), som=scfg, cv=replace(one.cv, n_splits=2)),
            0,
            None,
            False,
        )
        grid[setting["label"]] = time.perf_counter() - t
        print(f"{setting['label'][:60]:60s} {grid[setting['label']]:6.1f} s per fold (SOM + cbnn_onehot)", flush=True)
    runs = len(cfg.cv.seeds) + (len(cfg.cv.protocols) - 1)
    total = args.splits * (runs * fold_s + sum(grid.values()))
    out = {
        "splits": args.splits,
        "fold_s": fold_s,
        "per_model_s": per_model,
        "grid_som_s": grid,
        "cv_runs": runs,
        "extrapolated_cv_s": total,
        "load": os.getloadavg(),
    }
    print(json.dumps({"extrapolated_cv_s": total, "load": out["load"]}))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
