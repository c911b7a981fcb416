"""Corrupted CIFAR-10 (one corruption type per class) built from the local CIFAR-10 copy, in the DisEnt layout.

Protocol (Nam et al. 2020, "LfF"; Lee et al. 2021, "DisEnt", who train on LfF's build):

- corruption list: LfF's ``make_dataset.py`` (github.com/alinlab/LfF, commit e66796ec, ``make_target=cifar10_type0``)
  maps class k to the k-th of Snow, Frost, Fog, Brightness, Contrast, Spatter, Elastic, JPEG, Pixelate, Saturate
  (``CORRUPTIONS`` below). DisEnt's repository
  (github.com/kakaoenterprise/Learning-Debiased-Disentangled) ships no builder: its ``data/util.py`` only reads the
  released ``cifar10c/<pct>/{align,conflict,valid}`` and ``cifar10c/test`` folders, files ``<idx>_<target>_<bias>.png``.
- severity: LfF builds folders ``Severity1..4`` and calls each corruption with ``severity + 1``
  (``protocol[method_name](img, severity+1)``), and trains on ``severity4``: corruption level 5 of 5.
- bias: 95 % of the training images carry their own class's corruption (bias-aligned), 5 % a random other class's
  (bias-conflicting); valid and test are unbiased (corruption drawn uniformly), as in ``lib.bias.data``.

Corruptions: ``lib.bias.corruptions``, written here with the CIFAR-10-C constants of Hendrycks & Dietterich's
``make_cifar_c.py``, the ones LfF's ``data/corrupted_cifar10_protocol.py`` carries (each constant cited there).
An earlier build used the ``imagecorruptions`` package, whose ImageNet-C constants (224 px) erase the object at
32 px (fog, contrast, elastic): results from that build are not comparable with this one.

Deviations, stated wherever results from this build appear:

- the source images are JPEG re-encodings of CIFAR-10 (libjpeg quality 75, ``../shared/data/cifar10/SOURCE.md``),
  not the original arrays;
- the snow layer's motion blur is a NumPy line kernel in place of ImageMagick's (``lib.bias.corruptions``);
- random draws differ from LfF's (their global NumPy state, here one generator per image), so no image is
  pixel-identical to LfF's release; the distribution of each corruption is the same;
- bias-conflicting samples are drawn globally at random (per-class counts and (class, corruption) group sizes vary
  with the draw), where LfF's ``make_attr_labels`` places exactly 95 % aligned per class and spreads the rest evenly
  over the other nine corruptions, deterministically (and exactly 10 % per (class, corruption) in the test set).

Command line: ``python -m lib.bias.cifar10c build [--src DIR] [--out DIR] [--run RUN]`` (sizes: params.yaml
``data_cifar10c`` with params_real.yaml's overrides); the real run calls ``prepare_real``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from lib.bias import corruptions
from lib.bias import data as biased_data
from lib.core import paths
from lib.core.checksums import DataError, check_verified, read_sha256sums, write_sha256sums, write_verified_marker
from lib.core.io import atomic_dir, atomic_write_text
from lib.core.params import load_params

#: CIFAR-10 class folders in label order
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
#: class k -> corruption (LfF make_dataset.py, cifar10_type0: Snow, Frost, Fog, Brightness, Contrast, Spatter,
#: Elastic, JPEG, Pixelate, Saturate), in lib.bias.corruptions' names
CORRUPTIONS = corruptions.TYPE0
DATASET = "cifar10c"
REAL_NAME = "cifar10c_real"  # data/raw/cifar10c_real
SOURCE_NAME = "cifar10"  # ../shared/data/cifar10
#: bumped whenever the images a config produces change (2: lib.bias.corruptions with the CIFAR-10-C constants
#: replaced imagecorruptions' ImageNet-C ones); a build of another version is rebuilt, never reused
BUILD_VERSION = 2
_ENTRY = r"(train|test)/(" + "|".join(CLASSES) + r")/\d{4}\.jpg"


@dataclass(frozen=True)
class BuildConfig:
    """The ``data_cifar10c`` params section (one to one)."""

    seed: int
    n_train: int
    n_valid: int
    n_test: int
    conflict_pct: float
    severity: int
    corruptions: list

    def __post_init__(self):
        if len(self.corruptions) != len(CLASSES):
            raise ValueError(f"need one corruption per class ({len(CLASSES)}), got {len(self.corruptions)}")
        if not 1 <= self.severity <= 5:
            raise ValueError(f"severity must be in 1..5, got {self.severity!r}")
        if not 0 <= self.conflict_pct <= 100:
            raise ValueError(f"conflict_pct must be in [0, 100], got {self.conflict_pct!r}")
        if min(self.n_train, self.n_valid, self.n_test) < 1:
            raise ValueError("n_train, n_valid and n_test must be positive")


def build_config(run: str = "default", **overrides) -> BuildConfig:
    return BuildConfig(**{**load_params("data_cifar10c", run), **overrides})


def corrupt_images(images: np.ndarray, bias: np.ndarray, names, severity: int, seed: int) -> np.ndarray:
    """Apply corruption ``names[bias[i]]`` (``lib.bias.corruptions``, CIFAR-10-C constants at level ``severity``)
    to ``images[i]`` ``(n, H, W, 3) uint8``; deterministic: image i draws from ``default_rng([seed, i])``."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be (n, H, W, 3) uint8, got {images.shape} {images.dtype}")
    out = np.empty_like(images)
    for i, (img, b) in enumerate(zip(images, bias)):
        out[i] = corruptions.corrupt(img, names[int(b)], severity, np.random.default_rng([seed, i]))
    return out


def read_cifar10(src, split: str, verify: bool = True) -> tuple[np.ndarray, np.ndarray, list]:
    """Images ``(n, 32, 32, 3) uint8``, labels ``(n,)`` and relative paths of ``src/<split>/<class>/NNNN.jpg``.

    verify: every file listed in ``src/SHA256SUMS`` for the split is sha256-checked first; a file in a class
    folder that the list does not name, a missing folder or an unreadable / non-32x32 image is a DataError.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    src = Path(src)
    sums = read_sha256sums(src / "SHA256SUMS", pattern=_ENTRY) if verify else None
    files, labels = [], []
    for k, name in enumerate(CLASSES):
        folder = src / split / name
        if not folder.is_dir():
            raise DataError(folder, f"class folder missing (expected {split}/<class>/NNNN.jpg for {CLASSES})")
        for p in sorted(folder.iterdir()):
            if p.name.startswith("."):
                continue
            rel = f"{split}/{name}/{p.name}"
            if sums is not None and rel not in sums:
                raise DataError(p, "not listed in SHA256SUMS")
            files.append(rel)
            labels.append(k)
    if not files:
        raise DataError(src / split, "no images")
    if sums is not None:
        from lib.core.checksums import verify_sha256sums

        listed = {k: v for k, v in sums.items() if k.startswith(f"{split}/")}
        missing = sorted(set(listed) - set(files))
        if missing:
            raise DataError(src / missing[0], "listed in SHA256SUMS but missing")
        verify_sha256sums(src, listed)
    images = []
    for f in files:  # every size checked before stacking, so one odd image is named, not a stacking error
        img = biased_data.read_image(src / f)
        if img.shape != (32, 32, 3):
            raise DataError(src / f, f"CIFAR-10 images must be 32x32 RGB, got {img.shape[1]}x{img.shape[0]}")
        images.append(img)
    images = np.stack(images)
    return images, np.asarray(labels, dtype=np.int64), files


def grid_images(src, n: int = 6, split: str = "test") -> tuple[np.ndarray, list]:
    """The first image of the first ``n`` classes of ``src/<split>`` (sha256-checked against SHA256SUMS), for a
    grid of every corruption on the same images: ``(n, 32, 32, 3) uint8`` and their class names."""
    import hashlib

    src = Path(src)
    sums = read_sha256sums(src / "SHA256SUMS", pattern=_ENTRY)
    images = []
    for name in CLASSES[:n]:
        rel = f"{split}/{name}/0000.jpg"
        path = src / rel
        if rel not in sums or not path.is_file():
            raise DataError(path, "missing or not listed in SHA256SUMS")
        if hashlib.sha256(path.read_bytes()).hexdigest() != sums[rel]:
            raise DataError(path, "checksum mismatch")
        images.append(biased_data.read_image(path))
    return np.stack(images), list(CLASSES[:n])


def _split_indices(labels: np.ndarray, n: int, seed) -> np.ndarray:
    """The first ``n`` of a seeded class-balanced order (a permutation dealt round-robin over the classes),
    so every prefix keeps the classes balanced."""
    perm = np.random.default_rng(seed).permutation(len(labels))
    by_class = [perm[labels[perm] == k] for k in range(len(CLASSES))]
    order = np.array([c[i] for i in range(max(map(len, by_class))) for c in by_class if i < len(c)])
    return order[:n]


def build(src, out_dir, cfg: BuildConfig, verify: bool = True) -> Path:
    """Write Corrupted CIFAR-10 in the DisEnt layout to ``out_dir`` atomically (build.json, SOURCE.md,
    SHA256SUMS and the verified marker). Train and valid are disjoint class-stratified parts of the 50,000
    training images (one seeded order), test a class-stratified part of the 10,000 test images."""
    images, labels, _ = read_cifar10(src, "train", verify=verify)
    t_images, t_labels, _ = read_cifar10(src, "test", verify=verify)
    if cfg.n_train + cfg.n_valid > len(labels) or cfg.n_test > len(t_labels):
        raise DataError(
            Path(src), f"need n_train + n_valid <= {len(labels)} and n_test <= {len(t_labels)} (config {cfg})"
        )
    order = _split_indices(labels, cfg.n_train + cfg.n_valid, cfg.seed)
    tr, va = order[: cfg.n_train], order[cfg.n_train : cfg.n_train + cfg.n_valid]
    te = _split_indices(t_labels, cfg.n_test, [cfg.seed, 1])
    splits = {
        "train": (images[tr], labels[tr]),
        "valid": (images[va], labels[va]),
        "test": (t_images[te], t_labels[te]),
    }
    start = time.perf_counter()
    counts = {}
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        base = tmp / DATASET
        pdir = base / f"{cfg.conflict_pct:g}pct"
        for k, (split, (imgs, y)) in enumerate(splits.items()):
            rng = np.random.default_rng([cfg.seed, 10 + k])
            bias = biased_data.assign_bias(y, rng, cfg.conflict_pct if split == "train" else None)
            rgb = corrupt_images(imgs, bias, cfg.corruptions, cfg.severity, seed=cfg.seed * 10 + k)
            if split == "train":
                al = bias == y
                biased_data._write_images(pdir / "align", rgb[al], y[al], bias[al], nested=True)
                biased_data._write_images(pdir / "conflict", rgb[~al], y[~al], bias[~al], nested=True)
                counts.update(align=int(al.sum()), conflict=int((~al).sum()))
            else:
                folder = pdir / "valid" if split == "valid" else base / "test"
                biased_data._write_images(folder, rgb, y, bias, nested=True)
                counts[split] = len(y)
        seconds = time.perf_counter() - start
        source = (
            f"Corrupted CIFAR-10 built from the JPEG CIFAR-10 copy (quality 75, not the original arrays): "
            f"train/valid {cfg.n_train}/{cfg.n_valid} of the 50,000 training images, test {cfg.n_test} of the "
            f"10,000 test images; one CIFAR-10-C corruption per class (LfF type0 list, Hendrycks' CIFAR-10-C "
            f"constants, lib.bias.corruptions) at level {cfg.severity}, "
            f"{cfg.conflict_pct:g}% bias-conflicting training samples (seed {cfg.seed})"
        )
        info = {
            **asdict(cfg),
            "build_version": BUILD_VERSION,
            "source": source,
            "counts": {DATASET: counts},
            "corrupt_seconds": round(seconds, 1),
        }
        atomic_write_text(tmp / "build.json", json.dumps(info, indent=2, sort_keys=True) + "\n")
        atomic_write_text(tmp / "SOURCE.md", f"# Corrupted CIFAR-10 (DisEnt layout)\n\n{source}.\n\n{__doc__}")
        write_sha256sums(tmp)
        write_verified_marker(tmp)
    return out_dir


def prepare_real() -> Path:
    """data/raw/cifar10c_real from ../shared/data/cifar10 (params_real.yaml sizes), unless the same build is there."""
    cfg = build_config("real")
    out = paths.raw_dir(REAL_NAME)
    info_file = out / "build.json"
    if info_file.is_file():
        info = json.loads(info_file.read_text())
        same = all(info.get(k) == v for k, v in asdict(cfg).items())
        if same and info.get("build_version") == BUILD_VERSION:
            check_verified(out)
            return out
    return build(paths.shared_data(SOURCE_NAME), out, cfg)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Build Corrupted CIFAR-10 (DisEnt layout) from the CIFAR-10 copy.")
    parser.add_argument("command", choices=["build"])
    parser.add_argument("--src", default=str(paths.shared_data(SOURCE_NAME)))
    parser.add_argument("--out", default=str(paths.raw_dir(REAL_NAME)))
    parser.add_argument("--run", choices=paths.RUNS, default="real")
    args = parser.parse_args(argv)
    try:
        out = build(args.src, args.out, build_config(args.run))
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"built {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
