"""Biased image datasets in the DisEnt / LfF on-disk layout: reader, builders, import, fetch.

Layout (Lee et al. 2021, github.com/kakaoenterprise/Learning-Debiased-Disentangled)::

    <root>/<dataset>/<pct>/align/<target>/<idx>_<target>_<bias>.png   bias-aligned training images
    <root>/<dataset>/<pct>/conflict/<target>/<idx>_<target>_<bias>.png bias-conflicting training images
    <root>/<dataset>/<pct>/valid/[<target>/]<idx>_<target>_<bias>.png  (bffhq: <root>/bffhq/valid/)
    <root>/<dataset>/test/[<target>/]<idx>_<target>_<bias>.png

Labels are parsed from the file name's last two ``_``-separated fields, exactly as DisEnt does, and must
lie in the dataset's class range (``N_CLASSES``); a ``<target>`` folder must agree with the file name.
``load`` therefore reads the released ``cmnist``, ``cifar10c`` and ``bffhq`` folders as well as what
the builders here write:

- ``cmnist``: Colored MNIST (LfF protocol, ``lib.bias.synth.colorize``);
- ``cdigits``: corrupted digits, one corruption type per class (the Corrupted CIFAR-10 analogue of the
  synthetic default run, ``lib.bias.synth.corrupt``).

Folders under ``data/raw``: ``biased`` (SYNTHETIC digits, ``generate``, the DVC stage ``data_biased``),
``mnist`` (the sha256-verified MNIST import) and ``biased_real`` (Colored MNIST built from it by
``prepare_real``). Training sets have ``conflict_pct`` % bias-conflicting samples (bias = a random other
class); valid and test are unbiased (bias uniform). Every build and import ends with a SHA256SUMS and a
verified marker, and ``load`` / ``load_mnist`` check the marker (cheap: checksum-list digest and sizes).

Command line (``lib.core.datacli``): ``python -m lib.bias.data generate|import|fetch [--src DIR] [--out DIR]``;
the sizes of ``generate`` come from params.yaml ``data_biased``, those of the real build from the same section
with params_real.yaml's overrides.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import sys
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from lib.bias import synth
from lib.core import datacli, paths
from lib.core.checksums import (
    DataError,
    check_verified,
    read_sha256sums,
    require_listed,
    verify_sha256sums,
    write_sha256sums,
    write_verified_marker,
)
from lib.core.io import atomic_dir, atomic_write_text
from lib.core.params import load_params

DATASETS = ("cmnist", "cdigits")
#: classes of each dataset name the reader knows (DisEnt's released sets included)
N_CLASSES = {"cmnist": 10, "cdigits": 10, "cifar10c": 10, "bffhq": 2}
SPLITS = ("train", "align", "conflict", "valid", "test")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
SYNTHETIC_NAME = "biased"  # data/raw/biased: the DVC stage's synthetic build
REAL_NAME = "biased_real"  # data/raw/biased_real: built from the imported MNIST
MNIST_NAME = "mnist"  # data/raw/mnist: the verified MNIST import
#: the data folder of each run (notebook 04's ``data_source`` names one of them)
FOLDERS = {"default": SYNTHETIC_NAME, "real": REAL_NAME, "paper": "biased_paper"}
#: the only files an MNIST SHA256SUMS may list
MNIST_ENTRY = r"(t10k|train)-(images-idx3|labels-idx1)-ubyte\.gz"
#: published MD5s of the original gzip files (``fetch`` verifies downloads against them)
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
DISENT_URL = "https://drive.google.com/drive/folders/1JEOqxrhU_IhkdcRohdbuEtFETUxfNmNT"
#: DisEnt's released B-FFHQ, as its repository shows it (README's folder tree and ``data/util.py``'s bFFHQDataset,
#: github.com/kakaoenterprise/Learning-Debiased-Disentangled at commit d7c458d): the only training ratio shipped is
#: ``0.5pct`` (the paper under study lists B-FFHQ at 5%), ``valid/`` and ``test/`` sit beside it, images are resized
#: to 224 x 224, and the test reader keeps only the bias-conflicting images (target != bias): DisEnt's B-FFHQ "test
#: accuracy" is a bias-conflicting accuracy (``disent_test_reading``). Not available here (no download).
BFFHQ_RELEASED_PCT = "0.5pct"
_NAME = re.compile(r"_(\d+)_(\d+)$")
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass(frozen=True)
class BuildConfig:
    """The ``data_biased`` params section (one to one): split sizes, datasets, bias strength, seed."""

    seed: int
    n_train: int
    n_valid: int
    n_test: int
    datasets: list
    conflict_pct: float
    colour_std: float  # LfF colour noise std (their "severity 4")

    def __post_init__(self):
        unknown = [d for d in self.datasets if d not in DATASETS]
        if unknown or not self.datasets:
            raise ValueError(f"datasets must be among {DATASETS}, got {list(self.datasets)!r}")
        if not 0 <= self.conflict_pct <= 100:
            raise ValueError(f"conflict_pct must be in [0, 100], got {self.conflict_pct!r}")


def build_config(run: str = "default", **overrides) -> BuildConfig:
    """``BuildConfig`` of ``run`` (params.yaml ``data_biased`` + the run's overrides), then ``overrides``."""
    return BuildConfig(**{**load_params("data_biased", run), **overrides})


# ---------------------------------------------------------------- MNIST IDX
def read_idx(path) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw) into an array of the header's shape; DataError if bad/truncated."""
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(path, f"not a readable gzip file ({exc})") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(path, "bad IDX magic number")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(path, "truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            path,
            f"truncated or oversized IDX data: header says {shape} ({expected} bytes), "
            f"file has {len(raw) - header} bytes",
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _read_mnist_pair(folder: Path, kind: str) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(folder / f"{kind}-images-idx3-ubyte.gz")
    labels_file = folder / f"{kind}-labels-idx1-ubyte.gz"
    labels = read_idx(labels_file).astype(np.int64)
    if images.ndim != 3 or labels.shape != (images.shape[0],):
        raise DataError(labels_file, f"{labels.shape[0]} labels for images of shape {images.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(labels_file, f"labels outside 0..9 (min {labels.min()}, max {labels.max()})")
    return images, labels


def load_mnist(folder, kind: str = "t10k") -> tuple[np.ndarray, np.ndarray]:
    """MNIST images ``(n, 28, 28) uint8`` and labels ``(n,) int64`` of a verified import; kind 't10k' | 'train'."""
    if kind not in ("t10k", "train"):
        raise ValueError(f"kind must be one of ('t10k', 'train'), got {kind!r}")
    folder = Path(folder)
    check_verified(folder)
    return _read_mnist_pair(folder, kind)


# ---------------------------------------------------------------- DisEnt layout reader
@dataclass
class BiasedSplit:
    """images ``(n, H, W, 3) uint8``; target, bias ``(n,) int64``; files: the n source paths."""

    images: np.ndarray
    target: np.ndarray
    bias: np.ndarray
    files: list

    @property
    def aligned(self) -> np.ndarray:
        """``(n,) bool``: bias label equals target label."""
        return self.target == self.bias

    def __len__(self) -> int:
        return len(self.target)


def parse_labels(path, n_classes: int | None = None) -> tuple[int, int]:
    """``(target, bias)`` from a DisEnt file name ``..._{target}_{bias}.png``; DataError otherwise.

    n_classes: both labels must lie in ``0..n_classes-1``; a parent folder named by a number (the
    ``<target>`` folder of the layout) must equal the target.
    """
    path = Path(path)
    m = _NAME.search(path.stem)
    if m is None:
        raise DataError(path, "file name has no '_<target>_<bias>' labels (DisEnt layout: <idx>_<target>_<bias>.png)")
    target, bias = int(m.group(1)), int(m.group(2))
    if n_classes is not None and not (target < n_classes and bias < n_classes):
        raise DataError(path, f"label outside the class range 0..{n_classes - 1} (target {target}, bias {bias})")
    if path.parent.name.isdigit() and int(path.parent.name) != target:
        raise DataError(path, f"target {target} in the file name differs from its class folder {path.parent.name!r}")
    return target, bias


def split_folders(root, dataset: str, pct: str, split: str) -> list[Path]:
    """The folders holding ``split`` (train = align + conflict; valid/test also looked up one level up)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    base = Path(root) / dataset
    if split == "train":
        return [base / pct / "align", base / pct / "conflict"]
    if split in ("align", "conflict"):
        return [base / pct / split]
    if split == "valid":
        return [base / pct / "valid" if (base / pct / "valid").is_dir() else base / "valid"]
    return [base / "test"]


def list_images(folder: Path) -> list[Path]:
    """Sorted image files under ``folder`` (recursive; dot-files skipped; other files are an error)."""
    if not folder.is_dir():
        raise DataError(
            folder, "folder missing (expected the DisEnt layout <dataset>/<pct>/{align,conflict,valid}, <dataset>/test)"
        )
    files = []
    for p in sorted(folder.rglob("*")):
        if p.is_dir() or p.name.startswith("."):
            continue
        if p.suffix.lower() not in IMAGE_SUFFIXES:
            raise DataError(p, f"unexpected file in an image folder (allowed suffixes {IMAGE_SUFFIXES})")
        files.append(p)
    return files


def read_image(path: Path) -> np.ndarray:
    """``(H, W, 3) uint8``; DataError naming the file if it is not a readable image."""
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except Exception as exc:
        raise DataError(path, f"not a readable image ({type(exc).__name__}: {exc})") from exc


def load(root, dataset: str = "cmnist", pct: str = "5pct", split: str = "train", verify: bool = True) -> BiasedSplit:
    """Read one split of a DisEnt-layout dataset (see module docstring) into memory.

    verify: check the verified marker of ``root`` first (every build here writes one); pass False only
    for a released DisEnt folder downloaded by hand, which has no checksum list.
    """
    if verify:
        check_verified(root)
    if dataset == "bffhq" and pct != BFFHQ_RELEASED_PCT and split in ("train", "align", "conflict"):
        folder = Path(root) / dataset / pct
        if not folder.is_dir():
            raise DataError(folder, f"DisEnt's B-FFHQ release has only {BFFHQ_RELEASED_PCT} (not {pct})")
    files = [f for folder in split_folders(root, dataset, pct, split) for f in list_images(folder)]
    if not files:
        raise DataError(split_folders(root, dataset, pct, split)[0], f"no images for split {split!r}")
    labels = np.array([parse_labels(f, N_CLASSES.get(dataset)) for f in files], dtype=np.int64)
    images = [read_image(f) for f in files]
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        first = images[0].shape
        bad = next(f for f, im in zip(files, images) if im.shape != first)
        raise DataError(bad, f"image shape {shapes - {first}} differs from {first}")
    return BiasedSplit(np.stack(images), labels[:, 0], labels[:, 1], files)


def disent_test_reading(split: BiasedSplit, dataset: str) -> BiasedSplit:
    """The test images DisEnt scores: for ``bffhq`` the bias-conflicting ones only (``BFFHQ_RELEASED_PCT`` note);
    for the other datasets the whole (unbiased) test split."""
    if dataset != "bffhq":
        return split
    keep = ~split.aligned
    return BiasedSplit(
        split.images[keep], split.target[keep], split.bias[keep], [f for f, k in zip(split.files, keep) if k]
    )


# ---------------------------------------------------------------- builders
def assign_bias(
    target: np.ndarray, rng: np.random.Generator, conflict_pct: float | None, n_classes: int = 10
) -> np.ndarray:
    """Bias labels ``(n,)``: exactly round(n*pct/100) conflicting (random other class), rest aligned;
    ``conflict_pct=None``: unbiased (uniform over the classes)."""
    target = np.asarray(target)
    if conflict_pct is None:
        return rng.integers(0, n_classes, size=len(target))
    if not 0 <= conflict_pct <= 100:
        raise ValueError(f"conflict_pct must be in [0, 100], got {conflict_pct!r}")
    bias = target.copy()
    idx = rng.choice(len(target), size=int(round(len(target) * conflict_pct / 100)), replace=False)
    bias[idx] = (target[idx] + rng.integers(1, n_classes, size=len(idx))) % n_classes
    return bias


def bias_images(gray: np.ndarray, bias: np.ndarray, dataset: str, rng: np.random.Generator, colour_std: float):
    """Apply the dataset's bias attribute: grey ``(n, H, W)`` -> RGB ``(n, H, W, 3) uint8``."""
    if dataset == "cmnist":
        return synth.colorize(gray, bias, rng, std=colour_std)
    if dataset == "cdigits":
        return synth.corrupt(gray, bias, rng)
    raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")


def _write_images(folder: Path, rgb, target, bias, nested: bool) -> None:
    for i, (img, t, b) in enumerate(zip(rgb, target, bias)):
        sub = folder / str(t) if nested else folder
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(sub / f"{i}_{t}_{b}.png", optimize=False)


def write_dataset(
    out: Path, dataset: str, splits: dict, pct: float, rng: np.random.Generator, colour_std: float
) -> dict:
    """Write ``out/<dataset>/<pct>pct/{align,conflict,valid}`` and ``out/<dataset>/test`` from grey
    ``splits = {'train'|'valid'|'test': (gray (n, H, W), labels (n,))}``; returns the counts."""
    base = out / dataset
    pdir = base / f"{pct:g}pct"
    counts = {}
    for split, (gray, y) in splits.items():
        bias = assign_bias(y, rng, pct if split == "train" else None)
        rgb = bias_images(gray, bias, dataset, rng, colour_std)
        if split == "train":
            al = bias == y
            _write_images(pdir / "align", rgb[al], y[al], bias[al], nested=True)
            _write_images(pdir / "conflict", rgb[~al], y[~al], bias[~al], nested=True)
            counts.update(align=int(al.sum()), conflict=int((~al).sum()))
        else:
            # DisEnt: cmnist's valid is flat, cifar10c's is nested by target; the reader takes both
            folder = pdir / "valid" if split == "valid" else base / "test"
            _write_images(folder, rgb, y, bias, nested=(split == "test" or dataset != "cmnist"))
            counts[split] = len(y)
    return counts


def _build(out_dir, splits: dict, cfg: BuildConfig, source: str) -> Path:
    """Write every dataset of ``cfg.datasets`` from the same grey ``splits`` atomically, with build.json,
    SHA256SUMS and the verified marker."""
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        info = {
            "source": source,
            "conflict_pct": cfg.conflict_pct,
            "seed": cfg.seed,
            "colour_std": cfg.colour_std,
            "sizes": {f"n_{k}": len(v[1]) for k, v in splits.items()},
            "counts": {},
        }
        for k, d in enumerate(cfg.datasets):
            rng = np.random.default_rng([cfg.seed, k])
            info["counts"][d] = write_dataset(tmp, d, splits, cfg.conflict_pct, rng, cfg.colour_std)
        atomic_write_text(tmp / "build.json", json.dumps(info, indent=2, sort_keys=True) + "\n")
        atomic_write_text(
            tmp / "SOURCE.md",
            f"# Biased digit datasets (DisEnt layout)\n\nSource: {source}.\n"
            f"Built by `lib.bias.data` (seed {cfg.seed}, {cfg.conflict_pct:g}% bias-conflicting "
            f"training samples; valid and test unbiased).\n",
        )
        write_sha256sums(tmp)
        write_verified_marker(tmp)
    return out_dir


def generate(out_dir=None, **overrides) -> Path:
    """SYNTHETIC biased digits from the embedded glyph generator (deterministic), in the DisEnt layout.

    Sizes, datasets, bias strength and seed: params.yaml ``data_biased`` (``overrides`` replace single
    entries, e.g. for tests). out_dir: default ``data/raw/biased``.
    """
    cfg = build_config(**overrides)
    splits = {}
    for k, (name, n) in enumerate((("train", cfg.n_train), ("valid", cfg.n_valid), ("test", cfg.n_test))):
        y = np.arange(n) % 10
        np.random.default_rng([cfg.seed, 100 + k]).shuffle(y)
        splits[name] = (synth.render_digits(y, seed=cfg.seed * 1000 + k), y)
    out = paths.raw_dir(SYNTHETIC_NAME) if out_dir is None else out_dir
    return _build(out, splits, cfg, "digits drawn by the embedded glyph generator (lib.bias.synth), not MNIST")


def build_from_mnist(mnist_dir, out_dir, cfg: BuildConfig) -> Path:
    """Biased datasets from a verified MNIST import: train and valid are disjoint parts of the 60,000
    training images (one seeded permutation, LfF/DisEnt's 55,000 / 5,000), test is the first ``n_test``
    of a seeded permutation of the 10,000 test images (all of them at n_test = 10,000)."""
    images, labels = load_mnist(mnist_dir, "train")
    t_images, t_labels = load_mnist(mnist_dir, "t10k")
    if cfg.n_train + cfg.n_valid > len(labels) or cfg.n_test > len(t_labels):
        raise ValueError(f"need n_train + n_valid <= {len(labels)} and n_test <= {len(t_labels)}")
    perm = np.random.default_rng(cfg.seed).permutation(len(labels))
    tr, va = perm[: cfg.n_train], perm[cfg.n_train : cfg.n_train + cfg.n_valid]
    te = np.random.default_rng([cfg.seed, 1]).permutation(len(t_labels))[: cfg.n_test]
    splits = {
        "train": (images[tr], labels[tr]),
        "valid": (images[va], labels[va]),
        "test": (t_images[te], t_labels[te]),
    }
    source = (
        f"real MNIST: train/valid {cfg.n_train}/{cfg.n_valid} of the 60,000 training images, "
        f"test {cfg.n_test} of the 10,000 test images (seed {cfg.seed})"
    )
    return _build(out_dir, splits, cfg, source)


def source_description(root) -> str:
    """The one-line data description recorded by the build (``build.json`` ``source``)."""
    info = Path(root) / "build.json"
    if not info.is_file():
        raise DataError(info, "missing: not a dataset built by lib.bias.data (no build record)")
    return json.loads(info.read_text())["source"]


# ---------------------------------------------------------------- import / fetch / prepare
def import_local(src, out_dir=None) -> Path:
    """Import the MNIST IDX files listed in ``src/SHA256SUMS`` (default out: ``data/raw/mnist``).

    Every entry is validated (only the four MNIST file names), each images file needs its labels file,
    every file is sha256-verified and IDX-checked in ``src`` before anything is written; the copy gets
    its own SHA256SUMS and a verified marker. A DataError (naming the source file) leaves nothing written.
    """
    src = Path(src)
    out_dir = paths.raw_dir(MNIST_NAME) if out_dir is None else Path(out_dir)
    sums_file = src / "SHA256SUMS"
    sums = read_sha256sums(sums_file, pattern=MNIST_ENTRY)
    kinds = sorted({name.split("-")[0] for name in sums})
    if not kinds:
        raise DataError(sums_file, "lists no MNIST file")
    require_listed(sums, [f"{k}-{part}-ubyte.gz" for k in kinds for part in ("images-idx3", "labels-idx1")], sums_file)
    verify_sha256sums(src, sums)
    for kind in kinds:
        _read_mnist_pair(src, kind)
    with atomic_dir(out_dir) as tmp:
        for name in sums:
            shutil.copyfile(src / name, tmp / name)
        if (src / "SOURCE.md").is_file():
            shutil.copyfile(src / "SOURCE.md", tmp / "SOURCE.md")
        write_sha256sums(tmp)
        write_verified_marker(tmp)
    return out_dir


def fetch(out_dir=None, allow_unverified: bool = False) -> Path:
    """Download the four MNIST IDX files (network, opt-in) to ``out_dir`` (default ``data/raw/mnist``).

    Every file is verified against its published MD5 (``MNIST_MD5``, in this module), so nothing is ever
    unverified: ``allow_unverified`` is accepted for the common command line and changes nothing.
    """
    del allow_unverified  # MNIST is always verifiable here
    out_dir = paths.raw_dir(MNIST_NAME) if out_dir is None else Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        for name, md5 in MNIST_MD5.items():
            for mirror in MNIST_MIRRORS:
                try:
                    data = urllib.request.urlopen(mirror + name, timeout=60).read()
                except OSError:
                    continue
                if hashlib.md5(data).hexdigest() == md5:
                    (tmp / name).write_bytes(data)
                    break
            else:
                raise DataError(out_dir / name, "no mirror gave a copy with the published MD5")
        write_sha256sums(tmp)
        write_verified_marker(tmp)
    return out_dir


def fetch_disent(out_dir, allow_unverified: bool = False) -> Path:
    """The released DisEnt datasets (Google Drive folder; needs ``gdown``). No checksum list is published,
    so this refuses unless ``allow_unverified=True``, which is recorded in ``FETCH.json`` (``verified: false``)."""
    out_dir = Path(out_dir)
    if not allow_unverified:
        raise DataError(
            out_dir,
            f"the DisEnt release ({DISENT_URL}) publishes no checksums: refusing unverifiable data "
            "(pass allow_unverified=True to accept it; it is recorded as unverified)",
        )
    try:
        import gdown
    except ImportError as exc:
        raise RuntimeError(f"fetch_disent needs `pip install gdown`; or download {DISENT_URL} by hand") from exc
    with atomic_dir(out_dir) as tmp:
        gdown.download_folder(DISENT_URL, output=str(tmp), quiet=True)
        atomic_write_text(tmp / "FETCH.json", json.dumps({"url": DISENT_URL, "verified": False}, indent=1) + "\n")
        write_sha256sums(tmp)
        write_verified_marker(tmp)
    return out_dir


def _is_verified_import(src: Path, copy: Path) -> bool:
    """``copy`` is a verified import holding exactly the files ``src/SHA256SUMS`` lists, with those sums."""
    try:
        check_verified(copy)
        theirs = read_sha256sums(src / "SHA256SUMS", pattern=MNIST_ENTRY)
        ours = read_sha256sums(copy / "SHA256SUMS")
    except DataError:
        return False
    return all(ours.get(k) == v for k, v in theirs.items())


def prepare_run(run: str) -> Path:
    """Import ``../shared/data/mnist`` (verified) to data/raw/mnist unless a verified identical copy is there,
    then build ``run``'s datasets (``data_biased`` with the run's overrides) into data/raw/<FOLDERS[run]>,
    unless the same build is there already."""
    src, mnist = paths.shared_data("mnist"), paths.raw_dir(MNIST_NAME)
    if not _is_verified_import(src, mnist):
        import_local(src, mnist)
    cfg = build_config(run)
    out = paths.raw_dir(FOLDERS[run])
    info = json.loads((out / "build.json").read_text()) if (out / "build.json").is_file() else {}
    wanted = {k: v for k, v in asdict(cfg).items() if k in ("seed", "conflict_pct", "colour_std")}
    sizes = {"n_train": cfg.n_train, "n_valid": cfg.n_valid, "n_test": cfg.n_test}
    same = all(info.get(k) == v for k, v in wanted.items()) and info.get("sizes") == sizes
    if same and sorted(info.get("counts", {})) == sorted(cfg.datasets) and "60,000" in info.get("source", ""):
        check_verified(out)
        return out
    return build_from_mnist(mnist, out, cfg)


def main(argv=None) -> int:
    return datacli.main(
        argv,
        description="Biased datasets: generate (synthetic digits), import / fetch (MNIST).",
        generate=generate,
        import_local=import_local,
        fetch=fetch,
        default_src=paths.shared_data("mnist"),
    )


if __name__ == "__main__":
    sys.exit(main())
