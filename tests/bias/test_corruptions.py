"""lib.bias.corruptions: the CIFAR-10-C corruptions of LfF's type0 list, at CIFAR-10-C's constants."""

import numpy as np
import pytest

from lib.bias import corruptions as C


def _smooth_image(seed=0, size=32):
    """A 32x32 RGB image with structure (a bright disc on a coloured gradient) so 'object visible' is testable."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    base = np.stack([0.3 + 0.4 * xx, 0.2 + 0.5 * yy, 0.5 - 0.3 * xx], -1)
    cy, cx = rng.uniform(0.3, 0.7, 2)
    disc = ((yy - cy) ** 2 + (xx - cx) ** 2 < 0.04)[..., None]
    img = np.where(disc, [0.95, 0.85, 0.2], base) + rng.normal(0, 0.02, base.shape)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def test_level5_constants_are_cifar10c_not_imagenet_c():
    # CIFAR-10-C level 5 (hendrycks/robustness make_cifar_c.py); the ImageNet-C values the old build used differ
    assert C._level(C.FOG, 5) == (1.5, 1.75)  # ImageNet-C (3.0, 1.4)
    assert C._level(C.CONTRAST, 5) == 0.15  # ImageNet-C 0.05
    assert C._level(C.PIXELATE, 5) == 0.65  # ImageNet-C 0.25
    assert C._level(C.JPEG, 5) == 40  # ImageNet-C 7
    assert C._level(C.SATURATE, 5) == (2.5, 0.2)  # ImageNet-C (20, 0.2)
    assert tuple(round(f * 32, 2) for f in C._level(C.ELASTIC, 5)) == (3.2, 0.96, 0.96)
    assert C.TYPE0[0] == "snow" and C.TYPE0[-1] == "saturate" and len(set(C.TYPE0)) == 10


@pytest.mark.parametrize("name", C.TYPE0)
@pytest.mark.parametrize("level", [1, 3, 5])
def test_every_corruption_changes_the_image_keeps_the_object_and_is_deterministic(name, level):
    img = _smooth_image(level)
    a = C.corrupt(img, name, level, np.random.default_rng(7))
    b = C.corrupt(img, name, level, np.random.default_rng(7))
    assert a.shape == img.shape and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    change = np.abs(a.astype(int) - img).mean()
    assert change > 0.5, f"{name} level {level} leaves the image unchanged ({change:.2f})"
    # the object stays visible: over 8 draws the corrupted grey image still correlates with the clean one (the
    # ImageNet-C fog of the old imagecorruptions build gives 0.22 on this image at level 5)
    grey = img.astype(float).mean(-1).ravel()
    corr = [
        np.corrcoef(C.corrupt(img, name, level, np.random.default_rng(s)).mean(-1).ravel(), grey)[0, 1]
        for s in range(8)
    ]
    assert np.mean(corr) > 0.4, f"{name} level {level}: mean correlation with the clean image {np.mean(corr):.2f}"


def test_contrast_scales_each_channel_around_its_mean():
    img = _smooth_image()
    out = C.contrast(img, 5).astype(float)
    ratio = out.std(axis=(0, 1)) / img.astype(float).std(axis=(0, 1))
    np.testing.assert_allclose(ratio, 0.15, atol=0.02)
    np.testing.assert_allclose(out.mean(axis=(0, 1)), img.mean(axis=(0, 1)), atol=1.5)


def test_pixelate_is_blocky_and_plasma_is_a_normalised_map():
    out = C.pixelate(_smooth_image(), 5)
    assert len(np.unique(out.reshape(-1, 3), axis=0)) <= int(32 * 0.65) ** 2
    hmap = C.plasma(32, 1.75, np.random.default_rng(0))
    assert hmap.shape == (32, 32) and hmap.min() == 0 and hmap.max() == 1


def test_motion_blur_keeps_mass_away_from_edges_and_moves_along_the_angle():
    point = np.zeros((32, 32))
    point[16, 16] = 1.0
    horiz = C.motion_blur(point, 3, 2.0, 180.0)  # taps at x + i cos(180) = x - i: mass spreads to the right
    assert horiz.sum() == pytest.approx(1.0) and horiz[16, 16:23].sum() == pytest.approx(1.0)


def test_bad_arguments():
    img = _smooth_image()
    with pytest.raises(ValueError, match="level must be in 1..5"):
        C.corrupt(img, "fog", 6, np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown corruption"):
        C.corrupt(img, "gaussian_blur", 5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="uint8"):
        C.corrupt(img.astype(float), "fog", 5, np.random.default_rng(0))
