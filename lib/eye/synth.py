"""The embedded generator: synthetic fundus-like images in the Kaggle class-folder layout.

``generate(out_dir, seed, n_per_class, size)`` writes ``n_per_class`` images (size x size RGB) per class with a
visible class signal (cataract: haze + blur; glaucoma: enlarged optic cup; diabetic retinopathy: microaneurysms,
haemorrhages and exudates; normal: clean), deterministic for a seed, plus SHA256SUMS, a verified marker and a
SOURCE.md that says SYNTHETIC. File names follow the real set's ``<id>_<left|right>`` form; every id
occurs once (one image per synthetic patient). The defaults come from params.yaml ``data_eye``
(``python -m lib.eye.data generate``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from tqdm import tqdm

from lib.core.checksums import write_sha256sums, write_verified_marker
from lib.core.io import atomic_dir, atomic_write_text
from lib.eye import bar

CLASSES: tuple[str, ...] = ("cataract", "diabetic_retinopathy", "glaucoma", "normal")
KAGGLE_DATASET = "gunavenkatdoddi/eye-diseases-classification"


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
    seed: int,
    n_per_class: int,
    size: int,
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
        pbar = tqdm(total=n_per_class * len(classes), desc="generate fundus images", mininterval=1.0, **bar(progress))
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
                pbar.update()
        pbar.close()
        atomic_write_text(
            tmp / "SOURCE.md",
            (
                "# SYNTHETIC eye fundus images (embedded generator, lib.eye.synth.generate)\n\n"
                f"- synthetic: yes; seed {seed}; {n_per_class} images per class; {size}x{size} RGB\n"
                f"- classes: {', '.join(classes)} (folder layout of Kaggle {KAGGLE_DATASET})\n"
                "- class signal: cataract = haze + blur, glaucoma = enlarged optic cup,\n"
                "  diabetic_retinopathy = microaneurysms/haemorrhages/exudates, normal = none\n"
                "- NOT real data: results on it say nothing about the paper's claims.\n"
            ),
        )
        write_sha256sums(tmp)
        write_verified_marker(tmp)
    return out_dir
