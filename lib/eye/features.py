"""MobileNetV2 feature extraction (Keras, TF backend), cached once per data, weights, alpha and image size.

``keras.applications.MobileNetV2(include_top=False, pooling="avg", alpha=a, input_shape=(s, s, 3))`` maps RGB
images (n, s, s, 3) to 1280-d vectors (n, 1280) (1280 channels for every alpha <= 1), batched with ``tf.data``.

Weights (:class:`FeatureConfig` ``weights``):
- ``"random"``: the architecture with seeded random weights: a negative control, never "the paper's features".
- ``"imagenet"``: the Keras no-top ImageNet weights file for ``alpha``, read from disk, never downloaded
  (:func:`weights_file`): ``../shared/data/mobilenet_v2`` (alpha 0.35, verified against its SHA256SUMS) or the
  Keras cache (``$KERAS_HOME/models`` or ``~/.keras/models``; the paper's alpha 1.0). A missing file is one clear
  error naming where it was looked for.

Cache (``lib.core.cache``):
``data/processed/<data folder>_features/mobilenetv2_<weights>_a<alpha>_<size>[_seed<k>].npz`` holding
``features`` (n, 1280) float32, ``labels`` (n,), ``files`` (n,) and a JSON ``meta`` whose ``key`` must
match :func:`feature_key`: the dataset fingerprint (sha256 of its SHA256SUMS), the weights kind and file sha256,
alpha, image size, the random seed (random weights only), Keras and TensorFlow versions, the thread settings and
:data:`CODE_SALT`. Features are made machine-independent before caching: extraction runs with one intra-op and one
inter-op thread and oneDNN off when the process starts TensorFlow here, and the stored values are
``lib.core.cache.round_features`` of each feature column divided by ``2**e`` (e = 0 unless the column's values are
all below 1 in magnitude, as for random weights whose features are ~1e-12; then 2**e <= max |column| < 2**(e+1)):
an exact power-of-two rescaling, stored beside the values, so the rounding keeps 4 decimals relative to each
column's largest value. The extraction timing goes to a side file beside the
folder, so the cache is byte-identical for identical inputs. A truncated or corrupt entry is reported and rebuilt.

CLI (the DVC stage ``eye_features``): ``python -m lib.eye.features`` with the nb03 parameters of params.yaml.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from lib.core import cache, paths
from lib.core.checksums import DataError, read_sha256sums, sha256_file
from lib.core.io import atomic_write_bytes
from lib.core.params import load_params
from lib.core.weights import checked_keras_h5
from lib.eye import bar
from lib.eye import data as eye_data

WEIGHTS = ("random", "imagenet")
IMAGE_SIZES = (96, 128, 160, 192, 224)
FEATURE_DIM = 1280
#: changes whenever the extraction code changes what it produces (part of the cache key)
CODE_SALT = "eye-features-v3"
#: thread settings of a feature extraction (part of the cache key; see the module docstring)
THREADS = 1
SHARED_WEIGHTS = "mobilenet_v2"


@dataclass(frozen=True)
class FeatureConfig:
    """params.yaml ``nb03.features``: weights (random | imagenet), alpha (MobileNetV2 width), image_size (px),
    batch_size (extraction batch)."""

    weights: str
    alpha: float
    image_size: int
    batch_size: int

    def __post_init__(self):
        if self.weights not in WEIGHTS:
            raise ValueError(f"weights must be one of {WEIGHTS}, got {self.weights!r}")
        if self.image_size not in IMAGE_SIZES:
            raise ValueError(f"image_size must be one of {IMAGE_SIZES}, got {self.image_size}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")

    def describe(self) -> str:
        """One line saying which network produced the features (shown wherever its results appear)."""
        if self.weights == "imagenet":
            base = f"ImageNet MobileNetV2 alpha {self.alpha:g}"
            try:
                rows = int(weights_file(self.alpha, self.image_size).name.split("_")[-3])
            except (FileNotFoundError, DataError, ValueError):
                return base
            return (
                base if rows == self.image_size else f"{base} ({rows}-px ImageNet weights run at {self.image_size} px)"
            )
        return f"MobileNetV2 alpha {self.alpha:g} with RANDOM weights (negative control): not ImageNet features"


def _keras_name(alpha: float, rows: int) -> str:
    return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}_no_top.h5"


def weights_file(alpha: float, image_size: int) -> Path:
    """The no-top ImageNet weights file for ``alpha``: ../shared/data/mobilenet_v2 (sha256-verified) or the Keras cache.

    The no-top weights have the same shapes at every input size, so one file loads at any size; but Keras ships one
    file per input size (96-224), each from a checkpoint trained at that size. The shared copy is the 224-px file and
    serves every size (a deviation when the run's size differs: :meth:`FeatureConfig.describe` says so); the Keras
    cache is searched for the run's own size first.
    """
    shared = paths.shared_data(SHARED_WEIGHTS)
    name = _keras_name(alpha, 224)
    if (shared / name).is_file():
        sums = read_sha256sums(shared / "SHA256SUMS")
        if name not in sums:
            raise DataError(shared / "SHA256SUMS", f"does not list {name}: the weights cannot be verified")
        got = sha256_file(shared / name)
        if got != sums[name]:
            raise DataError(shared / name, f"checksum mismatch: expected sha256 {sums[name]}, got {got}")
        return shared / name
    keras_cache = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"
    for rows in (image_size, 224):
        if (keras_cache / _keras_name(alpha, rows)).is_file():
            return keras_cache / _keras_name(alpha, rows)
    raise FileNotFoundError(
        f"{keras_cache / _keras_name(alpha, image_size)}: ImageNet weights for MobileNetV2 alpha {float(alpha)} "
        f"(no top) not found (also looked for {shared / name}). Nothing is downloaded at run time: on a machine "
        f"with internet run keras.applications.MobileNetV2(alpha={float(alpha)}, include_top=False, "
        f"input_shape=({image_size}, {image_size}, 3)) once to fill the Keras cache, then copy that file here."
    )


def fix_threads() -> int:
    """One intra-op and one inter-op thread, oneDNN off, for machine-independent features.

    The environment variables act only before TensorFlow starts; the threading calls fail silently after it
    started (the settings in force are recorded in the cache meta). Returns the intra-op threads in force.
    """
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(THREADS))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", str(THREADS))
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(THREADS)
        tf.config.threading.set_inter_op_parallelism_threads(THREADS)
    except RuntimeError:  # TensorFlow already started in this process
        pass
    return tf.config.threading.get_intra_op_parallelism_threads()


def build_extractor(cfg: FeatureConfig, seed: int):
    """MobileNetV2 (no top, global average pooling): (n, s, s, 3) in [-1, 1] -> (n, 1280)."""
    import keras

    keras.utils.set_random_seed(seed)  # random weights: the initialisation is seeded
    w = str(checked_keras_h5(weights_file(cfg.alpha, cfg.image_size))) if cfg.weights == "imagenet" else None
    return keras.applications.MobileNetV2(
        include_top=False, pooling="avg", weights=w, alpha=cfg.alpha, input_shape=(cfg.image_size, cfg.image_size, 3)
    )


def extract(images: np.ndarray, model, batch_size: int, progress: bool = True) -> np.ndarray:
    """Features of uint8 RGB images (n, s, s, 3) -> float32 (n, 1280), MobileNetV2 preprocessing ([-1, 1])."""
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
    for batch in tqdm(ds, total=n_batches, desc="MobileNetV2 features", mininterval=1.0, **bar(progress)):
        out.append(np.asarray(forward(batch), dtype=np.float32))
    return np.concatenate(out) if out else np.zeros((0, FEATURE_DIM), np.float32)


def scale_exponents(x: np.ndarray) -> np.ndarray:
    """Per column (d,) int: 0, or e < 0 with 2**e <= max|x[:, j]| < 2**(e+1) when the column's values are all below 1
    in magnitude (see the module docstring)."""
    peak = np.max(np.abs(np.asarray(x, dtype=np.float64)), axis=0) if len(x) else np.zeros(np.shape(x)[1])
    e = np.zeros(peak.shape, dtype=np.int64)
    small = (peak > 0) & (peak < 1)
    e[small] = np.floor(np.log2(peak[small])).astype(np.int64)
    return e


def machine_independent(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rounded features to store (n, d) float32, exponents e (d,)): ``stored * 2**e`` are the features used."""
    e = scale_exponents(x)
    return cache.round_features(np.ldexp(np.asarray(x, dtype=np.float64), -e)), e


def restore(stored: np.ndarray, exponents: np.ndarray) -> np.ndarray:
    """The features (n, d) float32 from the stored values and per-column exponents (exact power-of-two scaling)."""
    return np.ldexp(np.asarray(stored, dtype=np.float32), np.asarray(exponents, dtype=np.int32)).astype(np.float32)


def cache_path(folder: str, cfg: FeatureConfig, seed: int) -> Path:
    stem = f"mobilenetv2_{cfg.weights}_a{cfg.alpha:g}_{cfg.image_size}" + (
        f"_seed{seed}" if cfg.weights == "random" else ""
    )
    return paths.DATA_PROCESSED / f"{folder}_features" / f"{stem}.npz"


def timing_path(path: Path) -> Path:
    """Side file with the extraction timing, outside the cached folder (timings differ run to run)."""
    return path.parent.parent / f"{path.parent.name}.{path.stem}.timing.json"


def feature_key(fingerprint: str, cfg: FeatureConfig, seed: int, weights_sha256: str | None) -> tuple[str, dict]:
    """(cache key, the parts it hashes). Every input that changes the cached arrays is a part."""
    import keras
    import tensorflow as tf

    parts = {
        "dataset_fingerprint": fingerprint,
        "weights": cfg.weights,
        "weights_sha256": weights_sha256,
        "alpha": float(cfg.alpha),
        "image_size": cfg.image_size,
        "seed": seed if cfg.weights == "random" else None,
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "threads": THREADS,
        "decimals": cache.DECIMALS,
        "code": CODE_SALT,
    }
    return cache.cache_key(**parts), parts


def features_for(data_source: str, cfg: FeatureConfig, seed: int, recompute: bool = False, progress: bool = True):
    """Cached MobileNetV2 features of a data source; computed (and cached) when absent, stale or corrupt.

    Returns {"features": (n, 1280) float32, "labels": (n,) int64, "files": [n rel paths], "classes": list,
    "meta": {...}, "cached": bool}.
    """
    root = eye_data.root_of(data_source)
    fingerprint = eye_data.dataset_fingerprint(root)
    wfile = weights_file(cfg.alpha, cfg.image_size) if cfg.weights == "imagenet" else None
    key, parts = feature_key(fingerprint, cfg, seed, sha256_file(wfile) if wfile else None)
    path = cache_path(eye_data.source(data_source).folder, cfg, seed)
    hit = None if recompute else cache.load(path)
    if hit is not None and hit[1].get("key") == key:
        arrays, meta = hit
        return {
            "features": restore(arrays["features"], arrays["exponents"]),
            "labels": arrays["labels"],
            "files": [str(f) for f in arrays["files"]],
            "classes": list(meta["classes"]),
            "meta": {**meta, **_read_timing(path)},
            "cached": True,
        }
    data = eye_data.load(root, size=cfg.image_size, progress=progress)
    threads = fix_threads()
    model = build_extractor(cfg, seed)
    start = time.perf_counter()
    raw = extract(data.images, model, cfg.batch_size, progress=progress)
    seconds = time.perf_counter() - start
    stored, e = machine_independent(raw)
    files = [p.relative_to(root).as_posix() for p in data.paths]
    meta = {
        **parts,
        "key": key,
        "data_source": data_source,
        "weights_note": cfg.describe(),
        "weights_file": wfile.name if wfile else None,
        "threads_in_force": threads,
        "n": len(files),
        "dim": int(raw.shape[1]),
        "classes": list(data.classes),
    }
    cache.store(path, {"features": stored, "exponents": e, "labels": data.labels, "files": np.asarray(files)}, meta)
    timing = {"extract_seconds": round(seconds, 2), "images_per_second": round(len(files) / max(seconds, 1e-9), 2)}
    atomic_write_bytes(timing_path(path), json.dumps(timing).encode())
    return {
        "features": restore(stored, e),
        "labels": data.labels,
        "files": files,
        "classes": list(data.classes),
        "meta": {**meta, **timing},
        "cached": False,
    }


def _read_timing(path: Path) -> dict:
    try:
        return json.loads(timing_path(path).read_text())
    except (OSError, ValueError):
        return {"extract_seconds": None, "images_per_second": None}


def configs_for_run(run: str) -> tuple[str, list[FeatureConfig], int]:
    """(data_source, feature configs, seed) a run needs: its ``features`` and, if set, its ``control_features``."""
    p = load_params("nb03", run)
    cfgs = [FeatureConfig(**p["features"])]
    if p.get("control_features"):
        cfgs.append(FeatureConfig(**p["control_features"]))
    return p["data_source"], cfgs, p["seed"]


def cache_for_run(run: str, progress: bool = True) -> list[dict]:
    """Cache every feature set of ``run`` (in this process, before any notebook starts TensorFlow)."""
    data_source, cfgs, seed = configs_for_run(run)
    fix_threads()
    out = []
    for cfg in cfgs:
        got = features_for(data_source, cfg, seed, progress=progress)
        print(f"[eye.features] {data_source}: {got['features'].shape} {cfg.describe()} cached={got['cached']}")
        out.append(got)
    return out


def main(argv=None) -> int:
    run = (argv if argv is not None else sys.argv[1:]) or ["default"]
    cache_for_run(run[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
