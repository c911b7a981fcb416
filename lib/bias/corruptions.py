"""The ten CIFAR-10-C corruptions of LfF's Corrupted CIFAR-10 (type0), with the CIFAR-10-C constants.

Sources of every constant below (the two files carry the same values for these ten corruptions):

- [H] Hendrycks & Dietterich 2019, "Benchmarking Neural Network Robustness to Common Corruptions and
  Perturbations" (ICLR), code ``ImageNet-C/create_c/make_cifar_c.py`` of github.com/hendrycks/robustness at commit
  ca360085d57889288c4143fddd8a707bbcae01bd: the CIFAR-10-C tables, one entry per level 1..5.
- [L] Nam et al. 2020, "Learning from Failure" (NeurIPS), ``data/corrupted_cifar10_protocol.py`` of
  github.com/alinlab/LfF at commit e66796ec117ea52d2e44176055b7ef7959680a1b (a copy of [H]; its contrast table
  has a sixth entry 0.12 that level 5 does not reach), called by ``make_dataset.py`` as
  ``protocol[name](img, severity + 1)`` for its folders ``Severity1..4``: LfF's "severity 4" is level 5 here.

The functions are written here from the published description and constants (not copied): each takes an
``(H, W, 3) uint8`` RGB image (32x32 for CIFAR), a level 1..5 and a ``numpy.random.Generator`` (so a build is
deterministic per image, never through NumPy's global state), and returns ``(H, W, 3) uint8``. Two technical
deviations from [H], stated wherever the data are described:

- [H] blurs the snow layer with ImageMagick's ``MotionBlurImage`` (through Wand); here ``motion_blur`` is the
  same one-sided Gaussian line kernel (width ``2 * radius + 1``, weights ``exp(-i^2 / (2 sigma^2))``, nearest
  pixel, edge pixels repeated), written in NumPy;
- the frost textures are [H]'s six frost photographs as shipped by the ``imagecorruptions`` package (Michaelis
  et al. 2019), read with OpenCV as [H] does; as in [H] only the first five are ever drawn (``randint(5)``).
"""

from __future__ import annotations

import functools
import importlib.util
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image

#: level 1..5 tables, CIFAR-10-C [H] (same values in [L]); comments name the meaning of each entry
#: snow: (layer mean, layer sd, zoom, threshold, motion radius, motion sigma, image blend)  [H] snow()
SNOW = (
    (0.1, 0.2, 1.0, 0.6, 8, 3, 0.95),
    (0.1, 0.2, 1.0, 0.5, 10, 4, 0.9),
    (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
    (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
    (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8),
)
#: frost: (image weight, frost weight)  [H] frost(); textures resized by FROST_SCALE before a random 32x32 crop
FROST = ((1.0, 0.2), (1.0, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45))
FROST_SCALE = 0.2  # [H] frost(): cv2.resize(frost, (0, 0), fx=0.2, fy=0.2)
FROST_FILES = ("frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg")  # [H]: randint(5) of six
#: fog: (fog strength, plasma wibble decay)  [H] fog(); plasma map 32x32 ([H] plasma_fractal(mapsize=32))
FOG = ((0.2, 3.0), (0.5, 3.0), (0.75, 2.5), (1.0, 2.0), (1.5, 1.75))
#: brightness: added to the HSV value channel  [H] brightness()
BRIGHTNESS = (0.05, 0.1, 0.15, 0.2, 0.3)
#: contrast: factor on the deviation from each channel's mean  [H] contrast()
CONTRAST = (0.75, 0.5, 0.4, 0.3, 0.15)
#: spatter: (liquid mean, liquid sd, blur sigma, threshold, mask sigma or water strength, 0 = water / 1 = mud)
SPATTER = (
    (0.62, 0.1, 0.7, 0.7, 0.5, 0),
    (0.65, 0.1, 0.8, 0.7, 0.5, 0),
    (0.65, 0.3, 1.0, 0.69, 0.5, 0),
    (0.65, 0.1, 0.7, 0.69, 0.6, 1),
    (0.65, 0.1, 0.5, 0.68, 0.6, 1),
)
SPATTER_WATER = (175, 238, 238)  # [H] spatter(): "pale turquoise", added to the image in RGB order
SPATTER_MUD = (63, 42, 20)  # [H] spatter(): "mud brown"
#: elastic: (displacement alpha, field sigma, affine jitter) as fractions of the image size  [H] elastic_transform()
#: (IMSIZE * 0.1, IMSIZE * 0.03, IMSIZE * 0.03) at level 5 with IMSIZE = 32)
ELASTIC = ((0.0, 0.0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06), (0.1, 0.04, 0.05), (0.1, 0.03, 0.03))
#: jpeg: PIL quality  [H] jpeg_compression()
JPEG = (80, 65, 58, 50, 40)
#: pixelate: downscale factor (box filter down to int(32 * c), box filter back up)  [H] pixelate()
PIXELATE = (0.95, 0.9, 0.85, 0.75, 0.65)
#: saturate: (factor, offset) on the HSV saturation channel  [H] saturate()
SATURATE = ((0.3, 0.0), (0.1, 0.0), (1.5, 0.0), (2.0, 0.1), (2.5, 0.2))

#: LfF ``make_dataset.py`` type0 order (class k gets corruption k), in this module's names
TYPE0 = (
    "snow",
    "frost",
    "fog",
    "brightness",
    "contrast",
    "spatter",
    "elastic_transform",
    "jpeg_compression",
    "pixelate",
    "saturate",
)


def _level(table, level: int):
    if not 1 <= int(level) <= len(table):
        raise ValueError(f"level must be in 1..{len(table)}, got {level!r}")
    return table[int(level) - 1]


def _unit(img) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8, got {img.shape} {img.dtype}")
    return img.astype(np.float64) / 255.0


def _to_uint8(x: np.ndarray) -> np.ndarray:
    """[0, 1] floats -> uint8 by truncation, as [H]'s ``np.uint8(corruption(img))`` after ``* 255``."""
    return (np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


# ------------------------------------------------------------------------------------------------ helpers
def plasma(size: int, decay: float, rng: np.random.Generator) -> np.ndarray:
    """A ``(size, size)`` diamond-square height map in [0, 1] (``size`` a power of two): each midpoint is the
    mean of its four neighbours (wrapping) plus uniform noise of amplitude ``wibble`` (100 at the start), the
    amplitude divided by ``decay`` at every halving of the step, as [H]'s plasma_fractal."""
    if size < 2 or size & (size - 1):
        raise ValueError(f"size must be a power of two >= 2, got {size}")
    hmap = np.zeros((size, size))
    step, amp = size, 100.0

    def noisy(total):
        return total / 4.0 + amp * rng.uniform(-amp, amp, total.shape)

    while step >= 2:
        half = step // 2
        corners = hmap[0:size:step, 0:size:step]
        square = corners + np.roll(corners, -1, axis=0)
        square = square + np.roll(square, -1, axis=1)
        hmap[half:size:step, half:size:step] = noisy(square)
        centres = hmap[half:size:step, half:size:step]
        corners = hmap[0:size:step, 0:size:step]
        hmap[0:size:step, half:size:step] = noisy(
            centres + np.roll(centres, 1, axis=0) + corners + np.roll(corners, -1, axis=1)
        )
        hmap[half:size:step, 0:size:step] = noisy(
            centres + np.roll(centres, 1, axis=1) + corners + np.roll(corners, -1, axis=0)
        )
        step //= 2
        amp /= decay
    hmap -= hmap.min()
    return hmap / hmap.max()


def centre_zoom(img: np.ndarray, factor: float) -> np.ndarray:
    """Zoom into the centre by ``factor`` (bilinear) keeping the size, as [H]'s clipped_zoom: crop the central
    ``ceil(h / factor)`` pixels, scale them up, trim back to ``h``."""
    from scipy.ndimage import zoom

    h = img.shape[0]
    crop = int(np.ceil(h / factor))
    top = (h - crop) // 2
    big = zoom(img[top : top + crop, top : top + crop], (factor, factor) + (1,) * (img.ndim - 2), order=1)
    trim = (big.shape[0] - h) // 2
    return big[trim : trim + h, trim : trim + h]


def motion_blur(gray: np.ndarray, radius: int, sigma: float, angle: float) -> np.ndarray:
    """One-sided Gaussian motion blur of a 2-D array along ``angle`` degrees (ImageMagick's MotionBlurImage
    kernel: ``2 * radius + 1`` taps at distances 0, 1, ..., weights ``exp(-i^2 / (2 sigma^2))`` normalised, each
    tap the nearest pixel at ``(x + i cos a, y + i sin a)``, coordinates clamped to the edge)."""
    gray = np.asarray(gray, dtype=np.float64)
    h, w = gray.shape
    taps = np.arange(2 * int(radius) + 1)
    weights = np.exp(-(taps**2) / (2.0 * sigma**2))
    weights /= weights.sum()
    a = np.deg2rad(angle)
    rows, cols = np.arange(h)[:, None], np.arange(w)[None, :]
    out = np.zeros_like(gray)
    for i, wgt in zip(taps, weights):
        dy, dx = int(np.floor(i * np.sin(a) + 0.5)), int(np.floor(i * np.cos(a) + 0.5))
        out += wgt * gray[np.clip(rows + dy, 0, h - 1), np.clip(cols + dx, 0, w - 1)]
    return out


@functools.lru_cache(maxsize=1)
def frost_textures() -> tuple[np.ndarray, ...]:
    """[H]'s frost photographs (RGB uint8), resized by ``FROST_SCALE`` as [H] does for CIFAR."""
    import cv2

    spec = importlib.util.find_spec("imagecorruptions")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the frost textures come from the imagecorruptions package (requirements.txt)")
    folder = Path(list(spec.submodule_search_locations)[0]) / "frost"
    out = []
    for name in FROST_FILES:
        bgr = cv2.imread(str(folder / name))
        if bgr is None:
            raise RuntimeError(f"{folder / name}: frost texture missing or unreadable")
        out.append(np.ascontiguousarray(cv2.resize(bgr, (0, 0), fx=FROST_SCALE, fy=FROST_SCALE)[..., ::-1]))
    return tuple(out)


def _hsv(img: np.ndarray, channel: int, fn) -> np.ndarray:
    from skimage.color import hsv2rgb, rgb2hsv

    hsv = rgb2hsv(_unit(img))
    hsv[..., channel] = np.clip(fn(hsv[..., channel]), 0.0, 1.0)
    return _to_uint8(hsv2rgb(hsv))


# ------------------------------------------------------------------------------------------------ the ten
def snow(img, level: int, rng: np.random.Generator) -> np.ndarray:
    import cv2

    mean, sd, zoom_f, thresh, radius, sigma, blend = _level(SNOW, level)
    x = _unit(img).astype(np.float32)
    h, w = x.shape[:2]
    layer = centre_zoom(rng.normal(mean, sd, (h, w))[..., None], zoom_f)[..., 0]
    layer[layer < thresh] = 0.0
    layer = (np.clip(layer, 0.0, 1.0) * 255.0).astype(np.uint8)  # [H] passes it through an 8-bit PNG
    layer = np.floor(motion_blur(layer, radius, sigma, rng.uniform(-135.0, -45.0)) + 0.5) / 255.0
    grey = cv2.cvtColor(x, cv2.COLOR_RGB2GRAY)[..., None]
    x = blend * x + (1.0 - blend) * np.maximum(x, grey * 1.5 + 0.5)
    return _to_uint8(x + layer[..., None] + np.rot90(layer, 2)[..., None])


def frost(img, level: int, rng: np.random.Generator) -> np.ndarray:
    w_img, w_frost = _level(FROST, level)
    x = np.asarray(img, dtype=np.float64)
    _unit(img)
    tex = frost_textures()[int(rng.integers(len(FROST_FILES)))]
    h, w = x.shape[:2]
    r, c = int(rng.integers(0, tex.shape[0] - h)), int(rng.integers(0, tex.shape[1] - w))
    return np.clip(w_img * x + w_frost * tex[r : r + h, c : c + w], 0, 255).astype(np.uint8)


def fog(img, level: int, rng: np.random.Generator) -> np.ndarray:
    strength, decay = _level(FOG, level)
    x = _unit(img)
    h, w = x.shape[:2]
    size = 1 << int(np.ceil(np.log2(max(h, w))))
    top = x.max()
    x = x + strength * plasma(size, decay, rng)[:h, :w, None]
    return _to_uint8(x * top / (top + strength))


def brightness(img, level: int, rng: np.random.Generator | None = None) -> np.ndarray:
    c = _level(BRIGHTNESS, level)
    return _hsv(img, 2, lambda v: v + c)


def contrast(img, level: int, rng: np.random.Generator | None = None) -> np.ndarray:
    c = _level(CONTRAST, level)
    x = _unit(img)
    means = x.mean(axis=(0, 1), keepdims=True)
    return _to_uint8((x - means) * c + means)


def spatter(img, level: int, rng: np.random.Generator) -> np.ndarray:
    import cv2
    from skimage.filters import gaussian

    mean, sd, blur, thresh, strength, mud = _level(SPATTER, level)
    x = _unit(img).astype(np.float32)
    liquid = gaussian(rng.normal(mean, sd, x.shape[:2]), sigma=blur)
    liquid[liquid < thresh] = 0.0
    if mud:
        mask = gaussian((liquid > thresh).astype(np.float32), sigma=strength)
        mask[mask < 0.8] = 0.0
        colour = np.asarray(SPATTER_MUD, np.float32) / 255.0
        return _to_uint8(x * (1.0 - mask[..., None]) + colour * mask[..., None])
    # water: drops outlined by the distance to the liquid's edges, embossed, added in a pale colour
    edges = 255 - cv2.Canny((liquid * 255).astype(np.uint8), 50, 150)
    dist = cv2.distanceTransform(edges, cv2.DIST_L2, 5)
    dist = np.minimum(dist, 20.0)
    dist = cv2.equalizeHist(cv2.blur(dist, (3, 3)).astype(np.uint8))
    emboss = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])
    dist = cv2.blur(cv2.filter2D(dist, cv2.CV_8U, emboss), (3, 3)).astype(np.float32)
    m = (liquid * dist).astype(np.float32)
    m = m / m.max() * strength if m.max() > 0 else m
    colour = np.asarray(SPATTER_WATER, np.float32) / 255.0
    return _to_uint8(x + m[..., None] * colour)


def elastic_transform(img, level: int, rng: np.random.Generator) -> np.ndarray:
    import cv2
    from scipy.ndimage import map_coordinates
    from skimage.filters import gaussian

    x = _unit(img).astype(np.float32)
    h, w = x.shape[:2]
    alpha, sigma, jitter = (f * h for f in _level(ELASTIC, level))
    # a random affine map: three points around the centre, each moved by up to ``jitter`` pixels
    centre, third = np.float32([h, w]) // 2, min(h, w) // 3
    src = np.float32([centre + third, [centre[0] + third, centre[1] - third], centre - third])
    dst = src + rng.uniform(-jitter, jitter, src.shape).astype(np.float32)
    x = cv2.warpAffine(x, cv2.getAffineTransform(src, dst), (w, h), borderMode=cv2.BORDER_REFLECT_101)
    # a smooth random displacement field (Gaussian-filtered uniform noise, scaled by alpha)
    field = [
        (gaussian(rng.uniform(-1, 1, (h, w)), sigma, mode="reflect", truncate=3) * alpha).astype(np.float32)
        for _ in range(2)
    ]
    dx, dy = field
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    out = np.stack(
        [map_coordinates(x[..., k], [rows + dy, cols + dx], order=1, mode="reflect") for k in range(3)], axis=-1
    )
    return _to_uint8(out)


def jpeg_compression(img, level: int, rng: np.random.Generator | None = None) -> np.ndarray:
    quality = _level(JPEG, level)
    _unit(img)
    buf = BytesIO()
    Image.fromarray(np.asarray(img)).save(buf, "JPEG", quality=quality)
    with Image.open(BytesIO(buf.getvalue())) as out:
        return np.asarray(out.convert("RGB"), dtype=np.uint8)


def pixelate(img, level: int, rng: np.random.Generator | None = None) -> np.ndarray:
    c = _level(PIXELATE, level)
    _unit(img)
    h, w = np.asarray(img).shape[:2]
    small = Image.fromarray(np.asarray(img)).resize((int(w * c), int(h * c)), Image.BOX)
    return np.asarray(small.resize((w, h), Image.BOX), dtype=np.uint8)


def saturate(img, level: int, rng: np.random.Generator | None = None) -> np.ndarray:
    factor, offset = _level(SATURATE, level)
    return _hsv(img, 1, lambda s: s * factor + offset)


FUNCTIONS = {
    "snow": snow,
    "frost": frost,
    "fog": fog,
    "brightness": brightness,
    "contrast": contrast,
    "spatter": spatter,
    "elastic_transform": elastic_transform,
    "jpeg_compression": jpeg_compression,
    "pixelate": pixelate,
    "saturate": saturate,
}
#: the level-table of each corruption (for the constants table in the notebook)
TABLES = {
    "snow": SNOW,
    "frost": FROST,
    "fog": FOG,
    "brightness": BRIGHTNESS,
    "contrast": CONTRAST,
    "spatter": SPATTER,
    "elastic_transform": ELASTIC,
    "jpeg_compression": JPEG,
    "pixelate": PIXELATE,
    "saturate": SATURATE,
}


def corrupt(img, name: str, level: int, rng: np.random.Generator) -> np.ndarray:
    """Corruption ``name`` at ``level`` (1..5) of a ``(H, W, 3) uint8`` image."""
    if name not in FUNCTIONS:
        raise ValueError(f"unknown corruption {name!r} (known: {', '.join(FUNCTIONS)})")
    out = FUNCTIONS[name](img, level, rng)
    if out.shape != np.asarray(img).shape or out.dtype != np.uint8:
        raise AssertionError(f"{name} returned {out.shape} {out.dtype}")
    return out


def constants_table(level: int):
    """One row per corruption: its constants at ``level`` and their source (for the notebook)."""
    import pandas as pd

    rows = []
    for name in TYPE0:
        value = _level(TABLES[name], level)
        if name == "elastic_transform":
            value = tuple(round(f * 32, 4) for f in value)
        rows.append({"corruption": name, "level": level, "constants": str(value), "source": f"[H] {name}()"})
    return pd.DataFrame(rows)
