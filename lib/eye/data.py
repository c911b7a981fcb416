"""Eye-disease fundus images in the Kaggle ``eye_diseases_classification`` folder layout.

On disk (real Kaggle set, the shared sample, and the embedded generator alike)::

    <root>/cataract/*.jpg|*.jpeg|*.png
    <root>/diabetic_retinopathy/...
    <root>/glaucoma/...
    <root>/normal/...
    <root>/SHA256SUMS          lines "<sha256>  <class>/<file>"
    <root>/SOURCE.md           provenance ("synthetic" for generated data)

Functions:
- ``list_images(root)`` -> (paths, labels); ``load(root, size)`` -> ``EyeImages`` (RGB uint8 arrays).
- ``generate(out_dir, seed, n_per_class, size)``: synthetic fundus-like images with a visible class
  signal (cataract: haze + blur; glaucoma: enlarged optic cup; diabetic retinopathy: microaneurysms,
  haemorrhages and exudates; normal: clean), deterministic for a seed.
- ``import_local(src, out_dir)``, ``fetch(out_dir)``, ``prepare_real()``.
- CLI: ``python -m lib.eye.data generate|import|fetch`` (defaults from params.yaml ``data_eye``).

Bad input raises ``DataError`` naming the file: a non-image or corrupt file in a class folder,
a missing or empty class folder, a checksum mismatch. Every write goes through ``atomic_dir``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from tqdm import tqdm

from lib.core import paths
from lib.core.checksums import DataError, read_sha256sums, sha256_file, verify_sha256sums, write_sha256sums
from lib.core.io import atomic_dir, atomic_write_text
from lib.core.params import load_params

CLASSES: tuple[str, ...] = ("cataract", "diabetic_retinopathy", "glaucoma", "normal")
IMAGE_EXTS: tuple[str, ...] = (".jpg", ".jpeg", ".png")
NAME = "eye"  # data/raw/eye (synthetic, DVC data stage)
REAL_NAME = "eye_real"  # data/raw/eye_real (imported real copy; kept apart from the DVC output)
KAGGLE_DATASET = "gunavenkatdoddi/eye-diseases-classification"
KAGGLE_COUNTS = {"cataract": 1038, "diabetic_retinopathy": 1098, "glaucoma": 1007, "normal": 1074}


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
def list_images(root: os.PathLike | str, classes: tuple[str, ...] = CLASSES) -> tuple[list[Path], np.ndarray]:
    """Image files under ``root/<class>/`` sorted by name. Returns (paths, labels: (n,) int64).

    Hidden files (``.*``) are ignored; any other non-image file is a DataError naming it.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "dataset folder does not exist")
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


def read_image(path: os.PathLike | str, size: int | None = None) -> np.ndarray:
    """Decode one image file to RGB uint8 (h, w, 3), resized (bilinear) to (size, size) if given."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            rgb = im.convert("RGB")
    except Exception as exc:
        raise DataError(path, f"corrupt or unreadable image ({type(exc).__name__}: {exc})") from None
    if size is not None:
        rgb = rgb.resize((size, size), Image.BILINEAR)
    return np.asarray(rgb, dtype=np.uint8)


def load(
    root: os.PathLike | str, size: int = 160, classes: tuple[str, ...] = CLASSES, progress: bool = True
) -> EyeImages:
    """Decode every image under ``root`` to RGB (size, size, 3) uint8. Returns EyeImages."""
    if size < 8:
        raise ValueError(f"size must be >= 8, got {size}")
    files, labels = list_images(root, classes)
    out = np.empty((len(files), size, size, 3), dtype=np.uint8)
    for i, p in enumerate(tqdm(files, desc="decode images", disable=not progress, mininterval=1.0)):
        out[i] = read_image(p, size)
    return EyeImages(out, labels, files, tuple(classes))


# ---------------------------------------------------------------- synthetic generator
def _fundus(rng: np.random.Generator, size: int, cls: str) -> Image.Image:
    """One synthetic fundus image (size x size RGB) with the class signal of ``cls``."""
    s = size
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32) / s
    cx, cy = 0.5 + rng.normal(0, 0.015), 0.5 + rng.normal(0, 0.015)
    radius = rng.uniform(0.43, 0.47)
    r = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / radius
    inside = r <= 1.0
    # orange-red retina, darker towards the rim (vignetting), per-image colour jitter
    base = np.array([rng.uniform(0.72, 0.9), rng.uniform(0.28, 0.4), rng.uniform(0.08, 0.16)], dtype=np.float32)
    shade = np.clip(1.0 - 0.55 * r**2, 0.0, 1.0)[..., None]
    texture = rng.normal(0, 0.025, size=(s, s, 1)).astype(np.float32)
    img = (base * shade + texture) * inside[..., None]
    # optic disc (left or right eye) with a cup; glaucoma: enlarged cup-to-disc ratio
    side = rng.choice([-1.0, 1.0])
    dx, dy = cx + side * rng.uniform(0.16, 0.22), cy + rng.normal(0, 0.03)
    disc_r = rng.uniform(0.065, 0.08)
    cdr = rng.uniform(0.6, 0.85) if cls == "glaucoma" else rng.uniform(0.2, 0.4)
    d = np.sqrt((xx - dx) ** 2 + (yy - dy) ** 2)
    disc = np.clip(1.0 - (d / disc_r) ** 4, 0, 1)[..., None]
    cup = np.clip(1.0 - (d / (disc_r * cdr)) ** 4, 0, 1)[..., None]
    img = img * (1 - disc) + disc * np.array([0.98, 0.78, 0.45], dtype=np.float32)
    img = img * (1 - cup) + cup * np.array([1.0, 0.95, 0.82], dtype=np.float32)
    im = Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    # vessels: four main arcades from the disc, with branches
    width = max(1, round(s / 90))
    for k in range(4):
        ang = (np.pi if side > 0 else 0.0) + (k - 1.5) * rng.uniform(0.55, 0.8) + rng.normal(0, 0.08)
        px, py = dx * s, dy * s
        pts = [(px, py)]
        step = s * 0.03
        curv = rng.normal(0, 0.06) + (0.09 if k < 2 else -0.09) * side
        for _ in range(18):
            ang += curv + rng.normal(0, 0.05)
            px, py = px + step * np.cos(ang), py + step * np.sin(ang)
            pts.append((px, py))
        colour = (int(rng.uniform(110, 150)), int(rng.uniform(20, 40)), int(rng.uniform(10, 25)))
        draw.line(pts, fill=colour, width=width + (k % 2))
        for j in (6, 11):  # side branches
            bx, by = pts[j]
            bang = ang + rng.choice([-1, 1]) * rng.uniform(0.6, 1.1)
            bpts = [(bx, by)]
            for _ in range(6):
                bang += rng.normal(0, 0.1)
                bx, by = bx + step * 0.8 * np.cos(bang), by + step * 0.8 * np.sin(bang)
                bpts.append((bx, by))
            draw.line(bpts, fill=colour, width=width)
    if cls == "diabetic_retinopathy":

        def spot():
            a, rad = rng.uniform(0, 2 * np.pi), radius * np.sqrt(rng.uniform(0.02, 0.7))
            return (cx + rad * np.cos(a)) * s, (cy + rad * np.sin(a)) * s

        for _ in range(int(rng.integers(8, 25))):  # microaneurysms: small dark-red dots
            x, y = spot()
            q = s * rng.uniform(0.006, 0.012)
            draw.ellipse([x - q, y - q, x + q, y + q], fill=(95, 10, 10))
        for _ in range(int(rng.integers(1, 5))):  # blot haemorrhages
            x, y = spot()
            q = s * rng.uniform(0.015, 0.03)
            draw.ellipse([x - q, y - q * 0.7, x + q, y + q * 0.7], fill=(120, 15, 12))
        for _ in range(int(rng.integers(2, 5))):  # hard exudates: clusters of yellow specks
            x0, y0 = spot()
            for _ in range(int(rng.integers(3, 9))):
                x, y = x0 + rng.normal(0, s * 0.025), y0 + rng.normal(0, s * 0.025)
                q = s * rng.uniform(0.005, 0.011)
                draw.ellipse([x - q, y - q, x + q, y + q], fill=(250, 225, 110))
    im = im.filter(ImageFilter.GaussianBlur(radius=s / 300))
    if cls == "cataract":  # lens opacity: strong blur + milky haze, lower contrast
        im = im.filter(ImageFilter.GaussianBlur(radius=s * rng.uniform(0.012, 0.03)))
        arr = np.asarray(im, dtype=np.float32) / 255
        haze = rng.uniform(0.25, 0.5) * np.clip(1.0 - 0.6 * r, 0, 1)[..., None] * inside[..., None]
        arr = arr * (1 - haze) + haze * np.array([0.85, 0.82, 0.78], dtype=np.float32)
        im = Image.fromarray((np.clip(arr, 0, 1) * 255).astype(np.uint8))
    noise = rng.normal(0, 3.0, size=(s, s, 3))
    edge = np.clip((1.0 - r) * 40.0, 0, 1)[..., None]  # soft field stop: nothing drawn outside the fundus
    arr = np.clip((np.asarray(im, dtype=np.float32) * rng.uniform(0.85, 1.1) + noise) * edge, 0, 255)
    return Image.fromarray(arr.astype(np.uint8))


def generate(
    out_dir: os.PathLike | str,
    seed: int = 0,
    n_per_class: int = 40,
    size: int = 192,
    classes: tuple[str, ...] = CLASSES,
    png_every: int = 4,
    progress: bool = True,
) -> Path:
    """Write ``n_per_class`` synthetic fundus images per class in the Kaggle folder layout.

    Every ``png_every``-th image is PNG, the rest JPEG (quality 92), so the loader sees both.
    Image i of class c is drawn from ``default_rng([seed, c, i])``: deterministic and independent
    of ``n_per_class``. Also writes SHA256SUMS and SOURCE.md ("synthetic"). Returns ``out_dir``.
    """
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be >= 1, got {n_per_class}")
    if size < 32:
        raise ValueError(f"size must be >= 32, got {size}")
    unknown = set(classes) - set(CLASSES)
    if unknown:
        raise ValueError(f"classes must be among {CLASSES}, got {sorted(unknown)}")
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        bar = tqdm(
            total=n_per_class * len(classes), desc="generate fundus images", disable=not progress, mininterval=1.0
        )
        for cls in classes:
            (tmp / cls).mkdir()
            for i in range(n_per_class):
                rng = np.random.default_rng([seed, CLASSES.index(cls), i])
                im = _fundus(rng, size, cls)
                side = "left" if i % 2 == 0 else "right"
                if png_every and i % png_every == png_every - 1:
                    im.save(tmp / cls / f"{i:04d}_{side}.png", format="PNG", optimize=False)
                else:
                    im.save(tmp / cls / f"{i:04d}_{side}.jpg", format="JPEG", quality=92)
                bar.update()
        bar.close()
        atomic_write_text(
            tmp / "SOURCE.md",
            (
                "# SYNTHETIC eye fundus images (embedded generator, lib.eye.data.generate)\n\n"
                f"- synthetic: yes; seed {seed}; {n_per_class} images per class; {size}x{size} RGB\n"
                f"- classes: {', '.join(classes)} (folder layout of Kaggle {KAGGLE_DATASET})\n"
                "- class signal: cataract = haze + blur, glaucoma = enlarged optic cup,\n"
                "  diabetic_retinopathy = microaneurysms/haemorrhages/exudates, normal = none\n"
                "- NOT real data: results on it say nothing about the paper's claims.\n"
            ),
        )
        write_sha256sums(tmp)
    return out_dir


# ---------------------------------------------------------------- import / fetch / real
def _image_entries(sums: dict[str, str], sums_file: Path, classes: tuple[str, ...]) -> dict[str, str]:
    """The SHA256SUMS entries that are ``<class>/<file>`` images; other layouts are a DataError."""
    out = {}
    for rel, digest in sums.items():
        parts = rel.split("/")
        if len(parts) == 1:
            continue  # top-level files such as SOURCE.md
        if len(parts) != 2 or parts[0] not in classes or Path(parts[1]).suffix.lower() not in IMAGE_EXTS:
            raise DataError(sums_file, f"entry {rel!r} is not '<class>/<image>' with class in {list(classes)}")
        out[rel] = digest
    return out


def import_local(
    src: os.PathLike | str, out_dir: os.PathLike | str, classes: tuple[str, ...] = CLASSES, progress: bool = True
) -> Path:
    """Copy a class-folder image set after verifying ``src/SHA256SUMS``; nothing written on error.

    The copy is verified again, and every image is decoded once (a corrupt file is a DataError).
    """
    src, out_dir = Path(src), Path(out_dir)
    sums_file = src / "SHA256SUMS"
    if not sums_file.is_file():
        raise DataError(sums_file, "missing: cannot verify the source folder")
    sums = read_sha256sums(sums_file)
    entries = _image_entries(sums, sums_file, classes)
    for cls in classes:
        if not any(rel.startswith(f"{cls}/") for rel in entries):
            raise DataError(src / cls, f"class '{cls}' has no images listed in SHA256SUMS")
    verify_sha256sums(src, sums)
    with atomic_dir(out_dir) as tmp:
        for rel in tqdm(sorted(entries), desc="import images", disable=not progress, mininterval=1.0):
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / rel, tmp / rel)
            read_image(tmp / rel)  # decodes: corrupt files fail here, naming the file
        verify_sha256sums(tmp, entries)
        if (src / "SOURCE.md").is_file():
            shutil.copyfile(src / "SOURCE.md", tmp / "SOURCE.md")
        write_sha256sums(tmp)
        list_images(tmp, classes)  # layout check: every class present, nothing else in the folders
    return out_dir


def is_verified_copy(src: os.PathLike | str, out_dir: os.PathLike | str) -> bool:
    """True when ``out_dir`` holds every image of ``src/SHA256SUMS`` with matching checksums."""
    src, out_dir = Path(src), Path(out_dir)
    if not (out_dir / "SHA256SUMS").is_file():
        return False
    entries = _image_entries(read_sha256sums(src / "SHA256SUMS"), src / "SHA256SUMS", CLASSES)
    try:
        verify_sha256sums(out_dir, entries)
    except DataError:
        return False
    listed, _ = list_images(out_dir)
    return {p.relative_to(out_dir).as_posix() for p in listed} == set(entries)


def prepare_real() -> Path:
    """Import ``../shared/data/eye`` into ``data/raw/eye_real`` unless a verified copy is there."""
    src, dst = paths.shared_data("eye"), paths.raw_dir(REAL_NAME)
    if not (src / "SHA256SUMS").is_file():
        raise DataError(src / "SHA256SUMS", "real eye data not found (see SPEC.md §2)")
    if is_verified_copy(src, dst):
        print(f"[eye_data] verified copy already at {dst}")
        return dst
    return import_local(src, dst)


def fetch(out_dir: os.PathLike | str, dataset: str = KAGGLE_DATASET) -> Path:
    """Download the full Kaggle set with the ``kaggle`` CLI (opt-in; needs network + API token).

    Kaggle publishes no checksums, so the class counts are checked against KAGGLE_COUNTS
    (4217 images) and a SHA256SUMS is written for later verification.
    """
    if shutil.which("kaggle") is None:
        raise RuntimeError("fetch needs the kaggle CLI (pip install kaggle) and ~/.kaggle/kaggle.json")
    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory() as dl, atomic_dir(out_dir) as tmp:
        subprocess.run(["kaggle", "datasets", "download", "-d", dataset, "-p", dl], check=True)
        for z in Path(dl).glob("*.zip"):
            with zipfile.ZipFile(z) as zf:
                zf.extractall(dl)
        found = [p for p in Path(dl).rglob("*") if p.is_dir() and p.name == CLASSES[0]]
        if not found:
            raise DataError(Path(dl), f"no '{CLASSES[0]}' folder in the downloaded archive")
        root = found[0].parent
        for cls in CLASSES:
            shutil.copytree(root / cls, tmp / cls)
        _, labels = list_images(tmp)
        counts = {c: int((labels == k).sum()) for k, c in enumerate(CLASSES)}
        if counts != KAGGLE_COUNTS:
            raise DataError(tmp, f"class counts {counts} differ from the published {KAGGLE_COUNTS}")
        atomic_write_text(tmp / "SOURCE.md", f"# Kaggle {dataset} (fetched with lib.eye.data.fetch)\n")
        write_sha256sums(tmp)
    return out_dir


def source_label(root: os.PathLike | str) -> str:
    """'synthetic data' for generated folders (SOURCE.md says SYNTHETIC), else the real dataset's name."""
    source = Path(root) / "SOURCE.md"
    head = source.read_text(errors="replace")[:200] if source.is_file() else ""
    if "SYNTHETIC" in head:
        return "synthetic data"
    return "Kaggle eye_diseases_classification (real sample)"


def dataset_fingerprint(root: os.PathLike | str) -> str:
    """sha256 of ``root/SHA256SUMS``: identifies a dataset version (used as a feature-cache key)."""
    sums = Path(root) / "SHA256SUMS"
    if not sums.is_file():
        raise DataError(sums, "missing: the dataset has no SHA256SUMS")
    return sha256_file(sums)


# ---------------------------------------------------------------- CLI
def main(argv=None) -> int:
    params = load_params("data_eye")
    parser = argparse.ArgumentParser(description="Eye fundus data: generate | import | fetch")
    sub = parser.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate", help="write the synthetic dataset (defaults: params.yaml data_eye)")
    g.add_argument("--out", default=str(paths.raw_dir(NAME)))
    g.add_argument("--seed", type=int, default=params.get("seed", 0))
    g.add_argument("--n-per-class", type=int, default=params.get("n_per_class", 40))
    g.add_argument("--size", type=int, default=params.get("size", 192))
    i = sub.add_parser("import", help="copy a local class-folder copy after sha256 verification")
    i.add_argument("src", nargs="?", default=str(paths.shared_data("eye")))
    i.add_argument("--out", default=str(paths.raw_dir(REAL_NAME)))
    f = sub.add_parser("fetch", help="download the Kaggle set (network + kaggle token)")
    f.add_argument("--out", default=str(paths.raw_dir("eye_kaggle")))
    args = parser.parse_args(argv)
    if args.cmd == "generate":
        out = generate(args.out, seed=args.seed, n_per_class=args.n_per_class, size=args.size)
    elif args.cmd == "import":
        out = import_local(args.src, args.out)
    else:
        out = fetch(args.out)
    print(f"[eye_data] {args.cmd} -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
