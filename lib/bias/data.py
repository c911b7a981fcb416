"""Biased image datasets in the DisEnt / LfF on-disk layout: reader, builders, import, fetch.

Layout (Lee et al. 2021, github.com/kakaoenterprise/Learning-Debiased-Disentangled)::

    <root>/<dataset>/<pct>/align/<target>/<idx>_<target>_<bias>.png   bias-aligned training images
    <root>/<dataset>/<pct>/conflict/<target>/<idx>_<target>_<bias>.png bias-conflicting training images
    <root>/<dataset>/<pct>/valid/[<target>/]<idx>_<target>_<bias>.png  (bffhq: <root>/bffhq/valid/)
    <root>/<dataset>/test/[<target>/]<idx>_<target>_<bias>.png

Labels are parsed from the file name's last two ``_``-separated fields, exactly as
DisEnt does; ``load`` therefore reads the released ``cmnist``, ``cifar10c`` and
``bffhq`` folders as well as what ``build`` writes here:

- ``cmnist``: Colored MNIST (LfF protocol, ``lib.bias.synth.colorize``);
- ``cdigits``: corrupted digits, one corruption type per class (the Corrupted
  CIFAR-10 analogue, ``lib.bias.synth.corrupt``).

The digit source is either the real MNIST test images (``build_from_mnist``;
only t10k exists in ``../shared/data/mnist``) or the embedded glyph generator
(``generate``, synthetic). Training sets have ``conflict_pct`` % bias-conflicting
samples (bias = a random other class); valid and test are unbiased (bias uniform).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from lib.bias import synth as digits
from lib.core import paths
from lib.core.checksums import DataError, read_sha256sums, verify_sha256sums, write_sha256sums
from lib.core.io import atomic_dir, atomic_write_text
from lib.core.params import load_params

DATASETS = ("cmnist", "cdigits")
SPLITS = ("train", "align", "conflict", "valid", "test")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MNIST_FILES = (
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
)
#: published MD5s (torchvision) used by ``fetch``
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
_NAME = re.compile(r"_(\d+)_(\d+)$")
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


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


def load_mnist(folder, kind: str = "t10k") -> tuple[np.ndarray, np.ndarray]:
    """MNIST images ``(n, 28, 28) uint8`` and labels ``(n,) int64``; kind in ('t10k', 'train')."""
    if kind not in ("t10k", "train"):
        raise ValueError(f"kind must be one of ('t10k', 'train'), got {kind!r}")
    folder = Path(folder)
    images = read_idx(folder / f"{kind}-images-idx3-ubyte.gz")
    labels = read_idx(folder / f"{kind}-labels-idx1-ubyte.gz").astype(np.int64)
    if images.ndim != 3 or labels.shape != (images.shape[0],):
        raise DataError(
            folder / f"{kind}-labels-idx1-ubyte.gz", f"{labels.shape[0]} labels for images of shape {images.shape}"
        )
    return images, labels


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


def parse_labels(path) -> tuple[int, int]:
    """``(target, bias)`` from a DisEnt file name ``..._{target}_{bias}.png``; DataError otherwise."""
    m = _NAME.search(Path(path).stem)
    if m is None:
        raise DataError(path, "file name has no '_<target>_<bias>' labels (DisEnt layout: <idx>_<target>_<bias>.png)")
    return int(m.group(1)), int(m.group(2))


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


def load(root, dataset: str = "cmnist", pct: str = "5pct", split: str = "train") -> BiasedSplit:
    """Read one split of a DisEnt-layout dataset (see module docstring) into memory."""
    files = [f for folder in split_folders(root, dataset, pct, split) for f in list_images(folder)]
    if not files:
        raise DataError(split_folders(root, dataset, pct, split)[0], f"no images for split {split!r}")
    labels = np.array([parse_labels(f) for f in files], dtype=np.int64)
    images = [read_image(f) for f in files]
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        first = images[0].shape
        bad = next(f for f, im in zip(files, images) if im.shape != first)
        raise DataError(bad, f"image shape {shapes - {first}} differs from {first}")
    return BiasedSplit(np.stack(images), labels[:, 0], labels[:, 1], files)


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


def bias_images(
    gray: np.ndarray, bias: np.ndarray, dataset: str, rng: np.random.Generator, colour_std: float = 0.005
) -> np.ndarray:
    """Apply the dataset's bias attribute: grey ``(n, H, W)`` -> RGB ``(n, H, W, 3) uint8``."""
    if dataset == "cmnist":
        return digits.colorize(gray, bias, rng, std=colour_std)
    if dataset == "cdigits":
        return digits.corrupt(gray, bias, rng)
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


def _build(out_dir, splits: dict, datasets, conflict_pct: float, seed: int, colour_std: float, source: str) -> Path:
    """Write every dataset of ``datasets`` from the same grey ``splits`` atomically, with build.json and SHA256SUMS."""
    for d in datasets:
        if d not in DATASETS:
            raise ValueError(f"datasets must be among {DATASETS}, got {d!r}")
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        sizes = {f"n_{k}": len(v[1]) for k, v in splits.items()}
        info = {
            "source": source,
            "conflict_pct": conflict_pct,
            "seed": seed,
            "colour_std": colour_std,
            "sizes": sizes,
            "counts": {},
        }
        for k, d in enumerate(datasets):
            rng = np.random.default_rng([seed, k])
            info["counts"][d] = write_dataset(tmp, d, splits, conflict_pct, rng, colour_std)
        atomic_write_text(tmp / "build.json", json.dumps(info, indent=2, sort_keys=True) + "\n")
        atomic_write_text(
            tmp / "SOURCE.md",
            f"# Biased digit datasets (DisEnt layout)\n\nSource: {source}.\n"
            f"Built by `lib.bias.data` (seed {seed}, {conflict_pct:g}% bias-conflicting "
            f"training samples; valid and test unbiased).\n",
        )
        write_sha256sums(tmp)
    return out_dir


def generate(
    out_dir,
    seed: int = 0,
    n_train: int = 2000,
    n_valid: int = 500,
    n_test: int = 1000,
    datasets=DATASETS,
    conflict_pct: float = 5.0,
    colour_std: float = 0.005,
) -> Path:
    """Synthetic biased digits from the embedded glyph generator (deterministic), in the DisEnt layout."""
    splits = {}
    for k, (name, n) in enumerate((("train", n_train), ("valid", n_valid), ("test", n_test))):
        y = np.arange(n) % 10
        np.random.default_rng([seed, 100 + k]).shuffle(y)
        splits[name] = (digits.render_digits(y, seed=seed * 1000 + k), y)
    return _build(
        out_dir,
        splits,
        datasets,
        conflict_pct,
        seed,
        colour_std,
        "SYNTHETIC digits (lib.bias.synth glyph generator), not MNIST",
    )


def build_from_mnist(
    mnist_dir,
    out_dir,
    seed: int = 0,
    n_train: int = 7000,
    n_valid: int = 1000,
    n_test: int = 2000,
    datasets=("cmnist",),
    conflict_pct: float = 5.0,
    colour_std: float = 0.005,
) -> Path:
    """Biased datasets from the real MNIST *test* images (t10k: 10,000), split by a seeded permutation
    into disjoint train / valid / test parts of the given sizes."""
    images, labels = load_mnist(mnist_dir, "t10k")
    if n_train + n_valid + n_test > len(labels):
        raise ValueError(f"n_train + n_valid + n_test must be <= {len(labels)}")
    perm = np.random.default_rng(seed).permutation(len(labels))
    cuts = np.cumsum([0, n_train, n_valid, n_test])
    splits = {
        name: (images[perm[a:b]], labels[perm[a:b]])
        for name, a, b in zip(("train", "valid", "test"), cuts[:-1], cuts[1:])
    }
    return _build(
        out_dir,
        splits,
        datasets,
        conflict_pct,
        seed,
        colour_std,
        f"real MNIST t10k images (split {n_train}/{n_valid}/{n_test} of 10,000 by seed {seed})",
    )


# ---------------------------------------------------------------- import / fetch / prepare
def import_local(src, out_dir) -> Path:
    """Copy the MNIST IDX files listed in ``src/SHA256SUMS`` after sha256 and IDX checks.

    A DataError leaves nothing written."""
    src, out_dir = Path(src), Path(out_dir)
    sums = read_sha256sums(src / "SHA256SUMS")
    verify_sha256sums(src, sums)
    for name in sums:
        read_idx(src / name)
    with atomic_dir(out_dir) as tmp:
        for name in sums:
            shutil.copyfile(src / name, tmp / name)
        for extra in ("SHA256SUMS", "SOURCE.md"):
            if (src / extra).is_file():
                shutil.copyfile(src / extra, tmp / extra)
    return out_dir


def fetch(out_dir, what: str = "mnist") -> Path:
    """Download (opt-in, needs internet). 'mnist': the four IDX files from a mirror, MD5-verified.
    'disent': the released DisEnt datasets (Google Drive folder; needs the ``gdown`` package)."""
    import hashlib
    import urllib.request

    out_dir = Path(out_dir)
    if what == "disent":
        try:
            import gdown
        except ImportError as exc:
            raise RuntimeError(
                f"fetch('disent') needs `pip install gdown`; or download {DISENT_URL} by hand, "
                f"unzip, and pass that folder as root to load()"
            ) from exc
        with atomic_dir(out_dir) as tmp:
            gdown.download_folder(DISENT_URL, output=str(tmp), quiet=False)
        return out_dir
    if what != "mnist":
        raise ValueError(f"what must be one of ('mnist', 'disent'), got {what!r}")
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
    return out_dir


def prepare_real() -> Path:
    """Import ``../shared/data/mnist`` (verified) to data/raw/mnist and build the real biased datasets
    (``data_biased.real`` in params.yaml) under data/raw/<name>, unless an identical build is there."""
    cfg = dict(load_params("data_biased")["real"])
    src, mnist = paths.shared_data("mnist"), paths.raw_dir("mnist")
    try:
        verify_sha256sums(mnist, read_sha256sums(src / "SHA256SUMS"))
    except (DataError, FileNotFoundError):
        import_local(src, mnist)
    out = paths.raw_dir(cfg.pop("name"))
    wanted = {"seed": cfg["seed"], "conflict_pct": cfg["conflict_pct"], "colour_std": cfg["colour_std"]}
    info = json.loads((out / "build.json").read_text()) if (out / "build.json").is_file() else {}
    sizes = {k: cfg[k] for k in ("n_train", "n_valid", "n_test")}
    if (
        all(info.get(k) == v for k, v in wanted.items())
        and info.get("sizes") == sizes
        and sorted(info.get("counts", {})) == sorted(cfg["datasets"])
    ):
        verify_sha256sums(out, out / "SHA256SUMS")
        return out
    return build_from_mnist(mnist, out, **cfg)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Build / import / fetch the biased digit datasets.")
    parser.add_argument("command", choices=("build", "generate", "import", "fetch", "real"))
    parser.add_argument("--out", help="output folder (default: data/raw/<data_biased.name>)")
    parser.add_argument("--src", help="import: source folder with SHA256SUMS")
    parser.add_argument("--what", default="mnist", help="fetch: mnist | disent")
    args = parser.parse_args(argv)
    cfg = dict(load_params("data_biased"))
    cfg.pop("real", None)
    name = cfg.pop("name", "biased")
    if args.command in ("build", "generate"):
        print(generate(args.out or paths.raw_dir(name), **cfg))
    elif args.command == "import":
        print(import_local(args.src or paths.shared_data("mnist"), args.out or paths.raw_dir("mnist")))
    elif args.command == "fetch":
        print(fetch(args.out or paths.raw_dir("mnist" if args.what == "mnist" else "disent"), args.what))
    else:
        print(prepare_real())
    return 0


if __name__ == "__main__":
    sys.exit(main())
