"""MobileNetV2 feature extraction (Keras, TF backend) with an on-disk cache.

``keras.applications.MobileNetV2(include_top=False, pooling="avg", input_shape=(s, s, 3))`` maps
RGB images (n, s, s, 3) to 1280-d vectors (n, 1280), batched with ``tf.data``.

Weights:
- ``"none"`` (offline default): the same architecture with ``weights=None``, initialised from
  ``seed``. These are *random-network* features, not ImageNet features; every output that
  depends on them must say so (``describe_weights``).
- ``"imagenet"`` (paper configuration): read from the Keras cache
  (``$KERAS_HOME/models/`` or ``~/.keras/models/``), never downloaded; a missing file is a clear error.

Cache: ``data/processed/<dataset>_features/mobilenetv2_<weights>_<size>[_seed<k>].npz`` holding
``features (n, 1280) float32``, ``labels (n,)``, ``files (n,)`` and a JSON ``meta`` whose dataset
fingerprint (sha256 of the dataset's SHA256SUMS) must match for the cache to be reused. The file is
byte-identical for identical features (fixed zip timestamps, no timings inside), so the notebook stage that
depends on it does not rerun needlessly; the extraction timing goes to a side file
(``<dataset>_features.<stem>.timing.json`` beside the folder).

CLI (the DVC feature stage): ``python -m lib.eye.features <dataset>`` with the nb03 params.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
from tqdm import tqdm

from lib.core import paths
from lib.core.io import atomic_write_bytes
from lib.core.params import load_params
from lib.eye import data as eye_data

WEIGHTS = ("none", "imagenet")
FEATURE_DIM = 1280
ALPHA = 1.0


def check_weights(weights: str) -> str:
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, got {weights!r}")
    return weights


def describe_weights(weights: str) -> str:
    """A one-line statement of which MobileNetV2 weights produced the features."""
    if check_weights(weights) == "imagenet":
        return "MobileNetV2 with ImageNet weights (paper configuration)"
    return "MobileNetV2 with RANDOM weights (weights=None, offline default): not ImageNet features"


def imagenet_weights_file(image_size: int) -> Path:
    """Path of the cached Keras no-top MobileNetV2 ImageNet weights for this input size."""
    cache = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"
    name = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{ALPHA}_{image_size}_no_top.h5"
    return cache / name


def build_extractor(image_size: int = 160, weights: str = "none", seed: int = 0):
    """MobileNetV2 (no top, global average pooling): (n, s, s, 3) in [-1, 1] -> (n, 1280)."""
    import keras

    check_weights(weights)
    if image_size not in (96, 128, 160, 192, 224):
        raise ValueError(f"image_size must be one of (96, 128, 160, 192, 224), got {image_size}")
    keras.utils.set_random_seed(seed)  # weights=None: the random initialisation is seeded
    w = None
    if weights == "imagenet":
        path = imagenet_weights_file(image_size)
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: ImageNet weights for MobileNetV2 ({image_size}px, no top) are not in the Keras cache. "
                "Nothing is downloaded at run time: on a machine with internet run once "
                f"keras.applications.MobileNetV2(include_top=False, input_shape=({image_size}, {image_size}, 3)) "
                "to fill the cache, or use weights='none'."
            )
        w = str(path)
    return keras.applications.MobileNetV2(
        include_top=False, pooling="avg", weights=w, alpha=ALPHA, input_shape=(image_size, image_size, 3)
    )


def extract(images: np.ndarray, model, batch_size: int = 32, progress: bool = True) -> np.ndarray:
    """Features of uint8 RGB images (n, s, s, 3) -> float32 (n, 1280), MobileNetV2 preprocessing.

    Batched with tf.data; ``preprocess_input`` scales pixels to [-1, 1].
    """
    import tensorflow as tf
    from keras.applications.mobilenet_v2 import preprocess_input

    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be (n, s, s, 3), got {images.shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    ds = (
        tf.data.Dataset.from_tensor_slices(images)
        .batch(batch_size)
        .map(lambda x: preprocess_input(tf.cast(x, tf.float32)))
        .prefetch(2)
    )
    # one traced graph for every batch size (3x faster than eager calls on CPU)
    spec = tf.TensorSpec([None, *images.shape[1:]], tf.float32)
    forward = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    out = []
    n_batches = -(-len(images) // batch_size)
    for batch in tqdm(ds, total=n_batches, desc="MobileNetV2 features", disable=not progress, mininterval=1.0):
        out.append(np.asarray(forward(batch), dtype=np.float32))
    feats = np.concatenate(out) if out else np.zeros((0, FEATURE_DIM), np.float32)
    return feats


def cache_path(dataset: str, weights: str, image_size: int, seed: int) -> Path:
    """``data/processed/<dataset>_features/mobilenetv2_<weights>_<size>[_seed<k>].npz``."""
    stem = f"mobilenetv2_{check_weights(weights)}_{image_size}" + (f"_seed{seed}" if weights == "none" else "")
    return paths.DATA_PROCESSED / f"{dataset}_features" / f"{stem}.npz"


def timing_path(path: Path) -> Path:
    """Side file with the extraction timing, outside the cached folder: timings differ run to run, and the
    cache (a pipeline output that the notebook stage depends on) must be byte-identical for the same input."""
    return path.parent.parent / f"{path.parent.name}.{path.stem}.timing.json"


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An uncompressed ``.npz`` (readable by ``np.load``) with fixed member timestamps: same arrays, same bytes.

    (``np.savez`` stamps each member with the current time, so its output changes from run to run.)
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with zf.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(arr), allow_pickle=False)
    return buf.getvalue()


def _read_timing(path: Path) -> dict:
    try:
        return json.loads(timing_path(path).read_text())
    except (OSError, ValueError):
        return {"extract_seconds": None, "images_per_second": None}


def _read_cache(path: Path, fingerprint: str) -> dict | None:
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        if meta.get("dataset_fingerprint") != fingerprint:
            return None
        return {
            "features": z["features"],
            "labels": z["labels"],
            "files": [str(f) for f in z["files"]],
            "meta": {**meta, **_read_timing(path)},
        }


def features_for(
    dataset: str = "eye",
    weights: str = "none",
    image_size: int = 160,
    batch_size: int = 32,
    seed: int = 0,
    recompute: bool = False,
    progress: bool = True,
) -> dict:
    """Cached MobileNetV2 features of ``data/raw/<dataset>``; computed (and cached) when absent/stale.

    Returns {"features": (n, 1280) float32, "labels": (n,) int64, "files": [n rel paths],
    "classes": list, "meta": {...}, "cached": bool}.
    """
    root = paths.raw_dir(dataset)
    fingerprint = eye_data.dataset_fingerprint(root)
    path = cache_path(dataset, weights, image_size, seed)
    hit = None if recompute else _read_cache(path, fingerprint)
    if hit is not None:
        return {**hit, "classes": list(hit["meta"]["classes"]), "cached": True}
    import keras

    data = eye_data.load(root, size=image_size, progress=progress)
    model = build_extractor(image_size, weights, seed)
    start = time.perf_counter()
    feats = extract(data.images, model, batch_size, progress=progress)
    seconds = time.perf_counter() - start
    files = [p.relative_to(root).as_posix() for p in data.paths]
    meta = {
        "dataset": dataset,
        "dataset_fingerprint": fingerprint,
        "weights": weights,
        "weights_note": describe_weights(weights),
        "image_size": image_size,
        "seed": seed,
        "n": len(files),
        "dim": int(feats.shape[1]),
        "classes": list(data.classes),
        "keras_version": keras.__version__,
    }
    timing = {"extract_seconds": round(seconds, 2), "images_per_second": round(len(files) / max(seconds, 1e-9), 2)}
    atomic_write_bytes(
        path,
        npz_bytes(
            {
                "features": feats,
                "labels": data.labels,
                "files": np.asarray(files),
                "meta": np.asarray(json.dumps(meta, sort_keys=True)),
            }
        ),
    )
    atomic_write_bytes(timing_path(path), json.dumps(timing).encode())
    meta = {**meta, **timing}
    return {
        "features": feats,
        "labels": data.labels,
        "files": files,
        "classes": list(data.classes),
        "meta": meta,
        "cached": False,
    }


def main(argv=None) -> int:
    params = load_params("nb03")
    parser = argparse.ArgumentParser(description="Cache MobileNetV2 features of data/raw/<dataset>")
    parser.add_argument("dataset", nargs="?", default=params.get("dataset", "eye"))
    parser.add_argument("--weights", default=params.get("weights", "none"), choices=WEIGHTS)
    parser.add_argument("--image-size", type=int, default=params.get("image_size", 160))
    parser.add_argument("--batch-size", type=int, default=params.get("batch_size", 32))
    parser.add_argument("--seed", type=int, default=params.get("seed", 0))
    parser.add_argument("--recompute", action="store_true")
    args = parser.parse_args(argv)
    out = features_for(
        args.dataset, args.weights, args.image_size, args.batch_size, args.seed, recompute=args.recompute
    )
    print(
        f"[image_features] {out['features'].shape} ({describe_weights(args.weights)}) "
        f"-> {cache_path(args.dataset, args.weights, args.image_size, args.seed)} cached={out['cached']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
