"""Image-level building blocks of the biased digit datasets (pure numpy/PIL, seeded).

- ``render_digits``: an embedded digit source (no MNIST needed): each digit is a
  set of hand-made strokes, jittered, put through a random affine map and drawn
  anti-aliased into a 28x28 grey image, MNIST-like (white digit on black).
- ``colorize``: the LfF Colored-MNIST protocol: the grey digit multiplied by a
  colour ``clip(mean_colour[b] + N(0, std^2))`` (one colour noise draw per image).
- ``corrupt``: the Corrupted-CIFAR-10 analogue: one of ten corruption types
  (``CORRUPTIONS``), the bias attribute, applied to the grey digit as RGB.

Shapes: grey images ``(n, 28, 28) uint8``; RGB images ``(n, 28, 28, 3) uint8``.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = 28
_SCALE = 4  # draw at 4x and downsample (anti-aliasing)

#: The ten bias colours of Colored MNIST (RGB in [0, 1]); ours, LfF ships its own colors.th.
PALETTE = np.array(
    [
        [0.90, 0.10, 0.10],
        [0.10, 0.80, 0.10],
        [0.15, 0.30, 0.95],
        [0.95, 0.85, 0.10],
        [0.85, 0.10, 0.85],
        [0.10, 0.85, 0.85],
        [1.00, 0.50, 0.00],
        [0.55, 0.25, 0.90],
        [1.00, 0.60, 0.70],
        [0.50, 0.60, 0.20],
    ]
)

CORRUPTIONS = (
    "gaussian_noise",
    "blur",
    "low_contrast",
    "pixelate",
    "stripes",
    "salt_pepper",
    "invert",
    "fog",
    "occlusion",
    "checker",
)


def _arc(cx, cy, rx, ry, a0, a1, n=12):
    t = np.deg2rad(np.linspace(a0, a1, n))
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t)))


#: strokes of each digit, in a unit box (x right, y down); each stroke is a polyline.
STROKES = {
    0: [_arc(0.5, 0.5, 0.28, 0.4, 0, 360, 20)],
    1: [[(0.35, 0.28), (0.55, 0.1), (0.55, 0.9)]],
    2: [_arc(0.5, 0.32, 0.28, 0.22, 180, 380, 10) + [(0.2, 0.9), (0.82, 0.9)]],
    3: [_arc(0.5, 0.3, 0.26, 0.2, 200, 450, 10), _arc(0.5, 0.69, 0.3, 0.22, 270, 520, 12)],
    4: [[(0.66, 0.9), (0.66, 0.1), (0.15, 0.65), (0.85, 0.65)]],
    5: [[(0.8, 0.1), (0.28, 0.1), (0.24, 0.46)] + _arc(0.5, 0.66, 0.3, 0.25, 235, 500, 12)],
    6: [_arc(0.75, 0.55, 0.5, 0.45, 250, 180, 6) + _arc(0.5, 0.68, 0.25, 0.22, 180, 540, 16)],
    7: [[(0.18, 0.1), (0.82, 0.1), (0.42, 0.9)], [(0.35, 0.5), (0.7, 0.5)]],
    8: [_arc(0.5, 0.3, 0.22, 0.2, 0, 360, 14), _arc(0.5, 0.7, 0.27, 0.22, 0, 360, 16)],
    9: [_arc(0.5, 0.33, 0.25, 0.22, 0, 360, 16), [(0.75, 0.33), (0.7, 0.9)]],
}


def render_digit(digit: int, rng: np.random.Generator) -> np.ndarray:
    """One jittered, affinely distorted digit glyph: ``(28, 28) uint8`` (white on black)."""
    if digit not in STROKES:
        raise ValueError(f"digit must be one of {sorted(STROKES)}, got {digit!r}")
    angle = np.deg2rad(rng.uniform(-15, 15))
    scale = rng.uniform(0.75, 1.0)
    shear = rng.uniform(-0.25, 0.25)
    aspect = rng.uniform(0.8, 1.15)
    shift = rng.uniform(-0.07, 0.07, size=2)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    affine = rot @ np.array([[scale * aspect, shear], [0.0, scale]])
    big = SIZE * _SCALE
    img = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(img)
    width = int(round(rng.uniform(1.6, 3.2) * _SCALE))
    for stroke in STROKES[digit]:
        pts = np.asarray(stroke, dtype=float)
        pts = pts + rng.normal(0.0, 0.02, size=pts.shape)  # hand-drawn wobble
        pts = (pts - 0.5) @ affine.T * 0.8 + 0.5 + shift  # the glyph fills ~80% of the box, like MNIST's 20 px in 28
        xy = [(float(x * big), float(y * big)) for x, y in pts]
        draw.line(xy, fill=255, width=width, joint="curve")
    img = img.filter(ImageFilter.GaussianBlur(_SCALE * 0.4)).resize((SIZE, SIZE), Image.Resampling.BOX)
    return np.asarray(img, dtype=np.uint8)


def render_digits(labels, seed: int) -> np.ndarray:
    """Glyphs for each label: labels ``(n,)`` int in 0..9 -> ``(n, 28, 28) uint8``; same seed, same images."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    out = np.zeros((len(labels), SIZE, SIZE), dtype=np.uint8)
    for i, lab in enumerate(labels):
        out[i] = render_digit(int(lab), rng)
    return out


def colorize(
    gray: np.ndarray, bias: np.ndarray, rng: np.random.Generator, std: float = 0.005, palette: np.ndarray = PALETTE
) -> np.ndarray:
    """LfF colouring: ``gray (n, H, W) uint8`` times ``clip(palette[bias] + N(0, std), 0, 1)``.

    Returns ``(n, H, W, 3) uint8``."""
    gray = np.asarray(gray)
    bias = np.asarray(bias)
    if gray.ndim != 3 or bias.shape != (gray.shape[0],):
        raise ValueError(f"gray must be (n, H, W) and bias (n,), got {gray.shape} and {bias.shape}")
    colour = np.clip(palette[bias] + rng.normal(0.0, std, size=(len(bias), 3)), 0.0, 1.0)
    rgb = gray[..., None].astype(np.float64) * colour[:, None, None, :]
    return np.round(rgb).astype(np.uint8)


def _corrupt_one(x: np.ndarray, kind: int, rng: np.random.Generator) -> np.ndarray:
    """x: (H, W, 3) float in [0, 1] -> corrupted copy (float, unclipped)."""
    h, w, _ = x.shape
    name = CORRUPTIONS[kind]
    if name == "gaussian_noise":
        return x + rng.normal(0, 0.22, size=(h, w, 1))
    if name == "blur":
        img = Image.fromarray(np.uint8(np.round(x * 255)))
        return np.asarray(img.filter(ImageFilter.GaussianBlur(0.9)), dtype=float) / 255
    if name == "low_contrast":
        return 0.35 + 0.3 * x
    if name == "pixelate":
        img = Image.fromarray(np.uint8(np.round(x * 255)))
        small = img.resize((w // 2, h // 2), Image.Resampling.BOX)
        return np.asarray(small.resize((w, h), Image.Resampling.NEAREST), dtype=float) / 255
    if name == "stripes":
        y = x.copy()
        y[int(rng.integers(0, 3)) :: 3] += 0.45
        return y
    if name == "salt_pepper":
        mask = rng.random((h, w))
        y = x.copy()
        y[mask < 0.08] = 0.0
        y[mask > 0.92] = 1.0
        return y
    if name == "invert":
        return 1.0 - x
    if name == "fog":
        low = rng.random((4, 4))
        field = np.asarray(Image.fromarray(np.uint8(low * 255)).resize((w, h), Image.Resampling.BICUBIC), float) / 255
        return 0.6 * x + 0.5 * field[..., None]
    if name == "occlusion":
        y = x.copy()
        r, c = rng.integers(0, h - 9), rng.integers(0, w - 9)
        y[r : r + 9, c : c + 9] = 0.5
        return y
    # checker
    ii, jj = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return x + 0.4 * (((ii // 4) + (jj // 4)) % 2)[..., None]


def corrupt(gray: np.ndarray, bias: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Corruption ``CORRUPTIONS[bias[i]]`` on each grey digit: ``(n, H, W) uint8`` -> ``(n, H, W, 3) uint8``."""
    gray = np.asarray(gray)
    bias = np.asarray(bias)
    if gray.ndim != 3 or bias.shape != (gray.shape[0],):
        raise ValueError(f"gray must be (n, H, W) and bias (n,), got {gray.shape} and {bias.shape}")
    if bias.size and (bias.min() < 0 or bias.max() >= len(CORRUPTIONS)):
        raise ValueError(f"bias must be in 0..{len(CORRUPTIONS) - 1}")
    out = np.empty(gray.shape + (3,), dtype=np.uint8)
    for i in range(len(gray)):
        x = np.repeat(gray[i][..., None].astype(float) / 255, 3, axis=2)
        out[i] = np.round(np.clip(_corrupt_one(x, int(bias[i]), rng), 0, 1) * 255).astype(np.uint8)
    return out
