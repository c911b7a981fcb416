"""Eye-disease fundus images in the Kaggle ``eye_diseases_classification`` folder layout.

On disk (the real Kaggle set, the shared 600-image sample and the embedded generator alike)::

    <root>/cataract/*.jpg|*.jpeg|*.png
    <root>/diabetic_retinopathy/...
    <root>/glaucoma/...
    <root>/normal/...
    <root>/SHA256SUMS          lines "<sha256>  <class>/<file>" (and SOURCE.md)
    <root>/SOURCE.md           provenance
    <root>/.verified.json      written at the end of an import (lib.core.checksums.write_verified_marker)

Data sources (the notebook parameter ``data_source``; :data:`SOURCES`): ``synthetic`` (the embedded generator,
``lib.eye.synth``, in ``data/raw/eye``), ``eye`` (the shared 600-image sample, 150 per class) and ``eye_full``
(the shared copy of all 4,217 Kaggle images), each imported to ``data/raw/<folder>``.

Functions: ``list_images(root)`` -> (paths, labels); ``load(root, size)`` -> ``EyeImages`` (RGB uint8 arrays, the
import verified first); ``patient_groups(rel_paths)``; ``import_local(src, out)``; ``fetch(out, allow_unverified)``;
``prepare_run(run)`` (the import step; ``lib.eye.prepare`` adds the feature cache, above this module);
CLI ``python -m lib.eye.data generate|import|fetch``.

Bad input is one ``DataError`` naming the file the user gave and the problem (the messages are tested in
``tests/eye/test_bad_input.py``): a SHA256SUMS entry outside the ``<class>/<image>`` form, a checksum mismatch,
a corrupt or truncated image, a decompression bomb, an image smaller than :data:`MIN_SIDE` pixels, a 16-bit image
of a kind we cannot scale, an unknown class folder, a missing or empty class folder, an unverified or changed
import. 16-bit greyscale PNGs are scaled to 8 bits (value * 255 / 65535), never clipped. Writes go through
``atomic_dir``: nothing half-written after an error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from lib.core import datacli, paths
from lib.core.checksums import (
    DataError,
    check_verified,
    read_sha256sums,
    sha256_file,
    verify_sha256sums,
    write_sha256sums,
    write_verified_marker,
)
from lib.core.io import atomic_dir, atomic_write_text
from lib.core.params import load_params
from lib.eye import bar, synth
from lib.eye.synth import CLASSES, KAGGLE_DATASET

IMAGE_EXTS: tuple[str, ...] = (".jpg", ".jpeg", ".png")
#: the smallest accepted image side in pixels: smaller images carry no fundus detail and would only be scaled up
MIN_SIDE = 32
#: decoded pixels above which an image is refused as a decompression bomb (the Kaggle images have <= 160,000)
MAX_PIXELS = 50_000_000
#: the form of every SHA256SUMS entry of an eye dataset (checked before anything is read)
ENTRY_PATTERN = r"SOURCE\.md|(?:" + "|".join(CLASSES) + r")/[A-Za-z0-9_][A-Za-z0-9_.-]*\.(?:jpg|jpeg|png|JPG|JPEG|PNG)"
#: a top-level file allowed beside the class folders
TOP_FILES = ("SHA256SUMS", "SOURCE.md", ".verified.json")
KAGGLE_COUNTS = {"cataract": 1038, "diabetic_retinopathy": 1098, "glaucoma": 1007, "normal": 1074}


@dataclass(frozen=True)
class Source:
    """One data source: ``folder`` under data/raw, ``shared`` folder name under ../shared/data (None: generated)."""

    folder: str
    shared: str | None
    description: str


SOURCES: dict[str, Source] = {
    "synthetic": Source("eye", None, "embedded fundus generator (lib.eye.synth), 4 classes"),
    "eye": Source("eye_sample", "eye", "Kaggle eye_diseases_classification, 600-image sample (150 per class)"),
    "eye_full": Source("eye_full", "eye_full", "Kaggle eye_diseases_classification, all 4,217 images"),
}


def source(data_source: str) -> Source:
    if data_source not in SOURCES:
        raise ValueError(f"data_source must be one of {sorted(SOURCES)}, got {data_source!r}")
    return SOURCES[data_source]


def root_of(data_source: str) -> Path:
    """``data/raw/<folder>`` of a data source."""
    return paths.raw_dir(source(data_source).folder)


@dataclass
class EyeImages:
    """Decoded images. images: (n, size, size, 3) uint8 RGB; labels: (n,) int index into classes."""

    images: np.ndarray
    labels: np.ndarray
    paths: list[Path]
    classes: tuple[str, ...]

    def counts(self) -> dict[str, int]:
        return {c: int((self.labels == i).sum()) for i, c in enumerate(self.classes)}


# ---------------------------------------------------------------- loading
def _unknown_folders(root: Path, classes: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name not in classes)


def list_images(root: os.PathLike | str, classes: tuple[str, ...] = CLASSES) -> tuple[list[Path], np.ndarray]:
    """Image files under ``root/<class>/`` sorted by name. Returns (paths, labels: (n,) int64).

    Hidden files (``.*``) are ignored; any other non-image file, and any folder that is not a class, is a DataError.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "dataset folder does not exist")
    for extra in _unknown_folders(root, classes):
        raise DataError(extra, f"unknown class folder {extra.name!r} (the classes are {list(classes)})")
    files: list[Path] = []
    labels: list[int] = []
    for k, cls in enumerate(classes):
        folder = root / cls
        if not folder.is_dir():
            raise DataError(folder, f"class folder missing (expected folders {list(classes)})")
        entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
        for p in entries:
            if p.is_dir() or p.suffix.lower() not in IMAGE_EXTS:
                raise DataError(p, f"not an image file (allowed extensions: {list(IMAGE_EXTS)})")
        if not entries:
            raise DataError(folder, f"class folder '{cls}' is empty: no images")
        files.extend(entries)
        labels.extend([k] * len(entries))
    return files, np.asarray(labels, dtype=np.int64)


def _to_rgb8(im: Image.Image, path: Path) -> Image.Image:
    """RGB 8-bit image of a decoded PIL image; 16-bit greyscale is scaled (v * 255 / 65535), not clipped."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.int64)
        if arr.min() < 0 or arr.max() > 65535:
            raise DataError(path, f"{im.mode} image with values outside 0..65535: not a 16-bit image we can scale")
        grey = np.round(arr * (255.0 / 65535.0)).astype(np.uint8)
        return Image.fromarray(np.repeat(grey[..., None], 3, axis=2), mode="RGB")
    if im.mode in ("F", "I;32", "RGBa;16"):
        raise DataError(path, f"image mode {im.mode!r} is not 8- or 16-bit: convert it to 8-bit RGB")
    return im.convert("RGB")


def read_image(path: os.PathLike | str, size: int | None = None) -> np.ndarray:
    """Decode one image file to RGB uint8 (h, w, 3), resized (bilinear) to (size, size) if given.

    Refused (DataError naming the file): unreadable/corrupt/truncated data, more than :data:`MAX_PIXELS` pixels
    (a decompression bomb), a side below :data:`MIN_SIDE` pixels.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                if w * h > MAX_PIXELS:
                    raise DataError(path, f"{w}x{h} pixels exceeds {MAX_PIXELS:,}: refused as a decompression bomb")
                if min(w, h) < MIN_SIDE:
                    raise DataError(path, f"image is {w}x{h} pixels, below the minimum side of {MIN_SIDE} pixels")
                im.load()
                rgb = _to_rgb8(im, path)
    except DataError:
        raise
    except Exception as exc:
        raise DataError(path, f"corrupt or unreadable image ({type(exc).__name__}: {exc})") from None
    if size is not None:
        rgb = rgb.resize((size, size), Image.BILINEAR)
    return np.asarray(rgb, dtype=np.uint8)


def _image_entries(sums: dict[str, str]) -> dict[str, str]:
    return {rel: d for rel, d in sums.items() if "/" in rel}


def check_import(root: os.PathLike | str, classes: tuple[str, ...] = CLASSES) -> list[Path]:
    """The verified image files of ``root`` (sorted by class, then name).

    ``root`` must carry a verified marker matching its SHA256SUMS and file sizes, and hold exactly the listed images.
    """
    root = Path(root)
    check_verified(root)
    files, _ = list_images(root, classes)
    listed = set(_image_entries(read_sha256sums(root / "SHA256SUMS", pattern=ENTRY_PATTERN)))
    for p in files:
        if p.relative_to(root).as_posix() not in listed:
            raise DataError(p, "not listed in SHA256SUMS: not part of the verified import")
    return files


def load(root: os.PathLike | str, size: int, classes: tuple[str, ...] = CLASSES, progress: bool = True) -> EyeImages:
    """Decode every image of a verified folder to RGB (size, size, 3) uint8. Returns EyeImages."""
    if size < MIN_SIDE:
        raise ValueError(f"size must be >= {MIN_SIDE}, got {size}")
    check_import(root, classes)
    files, labels = list_images(root, classes)
    out = np.empty((len(files), size, size, 3), dtype=np.uint8)
    for i, p in enumerate(tqdm(files, desc="decode images", mininterval=1.0, **bar(progress))):
        out[i] = read_image(p, size)
    return EyeImages(out, labels, files, tuple(classes))


def patient_groups(rel_paths: list[str], copies_by_index: bool = True) -> np.ndarray:
    """Patient id (n,) str of each ``<class>/<file>`` path, for grouped cross-validation.

    ``<id>_left`` / ``<id>_right`` are the two eyes of one patient: ``p<id>`` in the shared id space of cataract,
    glaucoma and normal, ``dr<id>`` in the diabetic-retinopathy folder's own numbering. ``_<k>_<number>`` files
    (the 256x256 augmented copies): with ``copies_by_index`` (the previous round's grouping) those sharing ``k`` are
    grouped as ``<class>:<k>``, which does NOT put a copy with its source (``lib.eye.copies`` does); without it each
    copy is its own group until linked. Anything else is its own group (its file name).
    """
    out = []
    for rel in rel_paths:
        cls, name = rel.split("/", 1)
        stem = name.rsplit(".", 1)[0]
        head, _, side = stem.rpartition("_")
        if side in ("left", "right") and head.isdigit():
            out.append(("dr" if cls == "diabetic_retinopathy" else "p") + head)
        elif copies_by_index and stem.startswith("_") and stem[1:].split("_", 1)[0].isdigit():
            out.append(f"{cls}:{stem[1:].split('_', 1)[0]}")
        else:
            out.append(rel)
    return np.asarray(out)


# ---------------------------------------------------------------- import / fetch / real
def import_local(
    src: os.PathLike | str,
    out_dir: os.PathLike | str | None = None,
    classes: tuple[str, ...] = CLASSES,
    progress: bool = True,
) -> Path:
    """Copy a class-folder image set after verifying ``src/SHA256SUMS``; nothing written on error.

    Every entry is checked against :data:`ENTRY_PATTERN` before anything is read; every image is verified and
    decoded from ``src`` (errors name the source file); the copy gets a new SHA256SUMS and a verified marker.
    """
    src = Path(src)
    if out_dir is None:  # the data source whose shared folder this is, else data/raw/eye_imported
        known = [name for name, info in SOURCES.items() if info.shared == src.name]
        out_dir = root_of(known[0]) if known else paths.raw_dir("eye_imported")
    out_dir = Path(out_dir)
    sums_file = src / "SHA256SUMS"
    if not sums_file.is_file():
        raise DataError(sums_file, "missing: cannot verify the source folder")
    sums = read_sha256sums(sums_file, pattern=ENTRY_PATTERN)
    entries = _image_entries(sums)
    if src.is_dir():
        for extra in _unknown_folders(src, classes):
            raise DataError(extra, f"unknown class folder {extra.name!r} (the classes are {list(classes)})")
    for cls in classes:
        if not any(rel.startswith(f"{cls}/") for rel in entries):
            raise DataError(src / cls, f"class '{cls}' has no images listed in SHA256SUMS")
    verify_sha256sums(src, sums)
    for rel in tqdm(sorted(entries), desc="check images", mininterval=1.0, **bar(progress)):
        read_image(src / rel)  # decodes: corrupt, tiny or bomb images fail here, naming the source file
    with atomic_dir(out_dir) as tmp:
        for rel in sorted(entries):
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / rel, tmp / rel)
        if (src / "SOURCE.md").is_file():
            shutil.copyfile(src / "SOURCE.md", tmp / "SOURCE.md")
        write_sha256sums(tmp)
        if _image_entries(read_sha256sums(tmp / "SHA256SUMS")) != entries:
            raise DataError(src, "the copy differs from the verified source (changed while importing?)")
        write_verified_marker(tmp)
    return out_dir


def is_current_copy(src: os.PathLike | str, out_dir: os.PathLike | str) -> bool:
    """True when ``out_dir`` is a verified import holding exactly the images of ``src/SHA256SUMS``."""
    src, out_dir = Path(src), Path(out_dir)
    try:
        check_import(out_dir)
        have = _image_entries(read_sha256sums(out_dir / "SHA256SUMS"))
    except DataError:
        return False
    return have == _image_entries(read_sha256sums(src / "SHA256SUMS", pattern=ENTRY_PATTERN))


def prepare_run(run: str) -> Path:
    """Import the ``run``'s ``data_source`` from ../shared/data into data/raw (unless a current verified copy)."""
    name = load_params("nb03", run)["data_source"]
    src_info = source(name)
    if src_info.shared is None:
        raise ValueError(f"the {run} run must use a real data source, not {name!r}")
    src, dst = paths.shared_data(src_info.shared), root_of(name)
    if not (src / "SHA256SUMS").is_file():
        raise DataError(
            src / "SHA256SUMS",
            f"real eye data not found: put the Kaggle {KAGGLE_DATASET} class folders and their SHA256SUMS there",
        )
    if is_current_copy(src, dst):
        print(f"[eye.data] verified copy already at {dst}")
        return dst
    return import_local(src, dst)


def fetch(out_dir: os.PathLike | str | None = None, allow_unverified: bool = False) -> Path:
    """Download the full Kaggle set with the ``kaggle`` CLI (opt-in; needs network + API token).

    Kaggle publishes no checksums, so the download cannot be verified: refused unless ``allow_unverified``,
    in which case the class counts are checked against :data:`KAGGLE_COUNTS` and SOURCE.md records
    "verification: UNVERIFIED".
    """
    out_dir = Path(out_dir) if out_dir is not None else paths.raw_dir("eye_kaggle")
    if not allow_unverified:
        raise DataError(
            Path(f"kaggle:{KAGGLE_DATASET}"),
            "Kaggle publishes no checksums, so a download cannot be verified; refused. Import the verified copy "
            "(python -m lib.eye.data import --src DIR), or pass --allow-unverified to fetch it recorded as unverified",
        )
    if shutil.which("kaggle") is None:
        raise RuntimeError("fetch needs the kaggle CLI (pip install kaggle) and ~/.kaggle/kaggle.json")
    with tempfile.TemporaryDirectory() as dl, atomic_dir(out_dir) as tmp:
        subprocess.run(["kaggle", "datasets", "download", "-d", KAGGLE_DATASET, "-p", dl], check=True)
        for z in Path(dl).glob("*.zip"):
            with zipfile.ZipFile(z) as zf:
                zf.extractall(dl)
        found = [p for p in Path(dl).rglob("*") if p.is_dir() and p.name == CLASSES[0]]
        if not found:
            raise DataError(Path(f"kaggle:{KAGGLE_DATASET}"), f"no '{CLASSES[0]}' folder in the downloaded archive")
        root = found[0].parent
        for cls in CLASSES:
            shutil.copytree(root / cls, tmp / cls)
        _, labels = list_images(tmp)
        counts = {c: int((labels == k).sum()) for k, c in enumerate(CLASSES)}
        if counts != KAGGLE_COUNTS:
            raise DataError(
                Path(f"kaggle:{KAGGLE_DATASET}"), f"class counts {counts} differ from the published {KAGGLE_COUNTS}"
            )
        atomic_write_text(
            tmp / "SOURCE.md",
            f"# Kaggle {KAGGLE_DATASET} (fetched with lib.eye.data.fetch)\n\n"
            "- verification: UNVERIFIED (Kaggle publishes no checksums; class counts checked)\n",
        )
        write_sha256sums(tmp)
        write_verified_marker(tmp)
    return out_dir


def dataset_fingerprint(root: os.PathLike | str) -> str:
    """sha256 of ``root/SHA256SUMS``: identifies a dataset version (part of the feature-cache key)."""
    sums = Path(root) / "SHA256SUMS"
    if not sums.is_file():
        raise DataError(sums, "missing: the dataset has no SHA256SUMS")
    return sha256_file(sums)


# ---------------------------------------------------------------- CLI
def generate(out_dir: os.PathLike | str | None = None) -> Path:
    """The synthetic dataset with params.yaml ``data_eye`` (default folder data/raw/eye)."""
    out = Path(out_dir) if out_dir is not None else root_of("synthetic")
    return synth.generate(out, **load_params("data_eye"))


def main(argv=None) -> int:
    return datacli.main(
        argv,
        description="Eye fundus images (Kaggle eye_diseases_classification layout): generate | import | fetch",
        generate=generate,
        import_local=import_local,
        fetch=fetch,
        default_src=paths.shared_data("eye_full"),
    )


if __name__ == "__main__":
    sys.exit(main())
