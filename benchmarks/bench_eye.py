"""Benchmark for notebook 03 (not a timed test): feature-extraction throughput and SOM training time.

    python benchmarks/bench_eye.py [--quick] [--out benchmarks/results/bench_eye.json]

1. MobileNetV2 (random weights, alpha 1.0, 160x160x3, pooling avg) throughput in images/s by batch size, on synthetic
   fundus images, after one warm-up batch (graph tracing excluded), median of ``--repeats`` passes.
2. SOMClassifier training time (PCA init + ``epochs`` * n MiniSom steps) by map side and sample count on
   1280-d Gaussian features with 4 classes; also the share of time in MiniSom's own PCA init for comparison
   (it eigendecomposes a (d, d) covariance; ours uses a thin SVD).
Ratios are measured within this one run; absolute numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def bench_features(batch_sizes, n_images: int, repeats: int) -> list[dict]:
    from lib.eye import data as eye_data
    from lib.eye import features as image_features
    from lib.eye import synth

    with tempfile.TemporaryDirectory() as tmp:
        root = synth.generate(Path(tmp) / "eye", seed=0, n_per_class=max(1, n_images // 4), size=192, progress=False)
        images = eye_data.load(root, size=160, progress=False).images
    cfg = image_features.FeatureConfig(weights="random", alpha=1.0, image_size=160, batch_size=32)
    model = image_features.build_extractor(cfg, seed=0)
    rows = []
    for bs in batch_sizes:
        image_features.extract(images[:bs], model, batch_size=bs, progress=False)  # warm-up / trace
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            image_features.extract(images, model, batch_size=bs, progress=False)
            times.append(time.perf_counter() - t)
        sec = float(np.median(times))
        rows.append({"batch_size": bs, "n_images": len(images), "seconds": sec, "images_per_second": len(images) / sec})
        print(f"features  batch {bs:>3}: {len(images) / sec:7.1f} images/s ({sec:.2f} s for {len(images)})")
    return rows


def bench_som(sides, sample_counts, epochs: int, dim: int = 1280) -> list[dict]:
    from minisom import MiniSom
    from threadpoolctl import threadpool_limits

    from lib.core.params import load_params
    from lib.eye.som import SOMClassifier, SOMConfig

    rng = np.random.default_rng(0)
    rows = []
    with threadpool_limits(1):
        for n in sample_counts:
            y = rng.integers(0, 4, size=n)
            X = rng.normal(size=(n, dim)) + 0.5 * rng.normal(size=(4, dim))[y]
            for side in sides:
                t = time.perf_counter()
                online = {"training": "online", "topology": "rectangular", "neighborhood": "gaussian", "sigma": 0.0}
                cfg = SOMConfig(**{**load_params("nb03")["som"], **online, "side": side, "epochs": epochs})
                SOMClassifier(cfg, seed=0).fit(X, y)
                sec = time.perf_counter() - t
                rows.append(
                    {
                        "n_samples": n,
                        "side": side,
                        "neurons": side * side,
                        "epochs": epochs,
                        "seconds": sec,
                        "steps_per_second": epochs * n / sec,
                    }
                )
                print(f"SOM  n={n:>5} side={side:>2}: {sec:6.2f} s ({epochs * n / sec:8.0f} steps/s)")
        Xs = rng.normal(size=(sample_counts[0], dim))
        t = time.perf_counter()
        MiniSom(sides[0], sides[0], dim, random_seed=0).pca_weights_init(Xs)
        minisom_pca = time.perf_counter() - t
        from lib.eye.som import pca_codebook

        t = time.perf_counter()
        pca_codebook(Xs, sides[0], sides[0])
        ours_pca = time.perf_counter() - t
    print(
        f"PCA init (n={sample_counts[0]}, d={dim}): MiniSom {minisom_pca:.2f} s, ours {ours_pca:.3f} s "
        f"(ratio {minisom_pca / max(ours_pca, 1e-9):.0f}x)"
    )
    rows.append({"pca_init_minisom_seconds": minisom_pca, "pca_init_ours_seconds": ours_pca})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller grid (about a minute)")
    parser.add_argument("--out", default="benchmarks/results/bench_eye.json")
    args = parser.parse_args(argv)
    if args.quick:
        batch_sizes, n_images, repeats = (8, 32), 64, 1
        sides, counts, epochs = (5, 10), (250, 500), 5
    else:
        batch_sizes, n_images, repeats = (1, 8, 16, 32, 64), 128, 3
        sides, counts, epochs = (5, 10, 15), (250, 500, 1000), 10
    result = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_avg": os.getloadavg()},
        "features": bench_features(batch_sizes, n_images, repeats),
        "som": bench_som(sides, counts, epochs),
    }
    from lib.core.io import write_json

    write_json(args.out, result)
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
