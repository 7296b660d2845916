"""Tests of the `photo` scene style: each property of photos it adds, and its ground truth."""

import cv2
import numpy as np
import pytest

from hrsod_tf.config import DataConfig
from hrsod_tf.data import synthetic_photo
from hrsod_tf.data.sources import SyntheticSource
from hrsod_tf.data.synthetic import generate_scene, photo_scene_properties, scene_seed
from hrsod_tf.data.synthetic_drawing import CoverageLayer

SMALL = dict(min_side=240, max_side=320)
SEEDS = [scene_seed("train", i) for i in range(8)]


def _photo(seed):
    return generate_scene(seed, **SMALL, scene_style="photo")


def _disk(size=200, radius=60):
    alpha = np.zeros((size, size), np.float32)
    cv2.circle(alpha, (size // 2, size // 2), radius, 1.0, -1)
    return alpha


@pytest.mark.parametrize("seed", SEEDS[:4])
def test_photo_scenes_are_deterministic_binary_and_differ_from_classic(seed):
    image, mask = _photo(seed)
    again_image, again_mask = _photo(seed)
    assert image.tobytes() == again_image.tobytes() and mask.tobytes() == again_mask.tobytes()
    classic_image, classic_mask = generate_scene(seed, **SMALL)
    assert image.shape == classic_image.shape  # the same scene's size and objects, made harder
    assert not np.array_equal(image, classic_image)
    assert set(np.unique(mask).tolist()) <= {0, 255} and mask.any()


def test_unknown_scene_style_is_refused():
    with pytest.raises(ValueError, match="scene_style"):
        generate_scene(1, **SMALL, scene_style="painting")
    with pytest.raises(ValueError, match="synthetic_scene_style"):
        DataConfig(synthetic_scene_style="painting")


def test_synthetic_source_generates_the_configured_style():
    source = SyntheticSource(DataConfig(synthetic_train_size=1, synthetic_test_size=1, synthetic_min_side=200,
                                        synthetic_max_side=220, synthetic_scene_style="photo"))
    example = next(iter(source.examples("test")))
    image, mask = generate_scene(scene_seed("test", 0), 200, 220, scene_style="photo")
    np.testing.assert_array_equal(example["image"], image)
    np.testing.assert_array_equal(example["mask"][..., 0], mask)
    assert source.name == "synthetic/photo" and SyntheticSource().name == "synthetic"  # caches keyed apart


def _background_coloured_outline_fraction(image, mask):
    """The fraction of pixels just inside the outline whose colour is within 20 levels (every channel) of the
    mean colour of the background just outside it, within 15 px."""
    inner = (mask > 0) & (cv2.erode(mask, np.ones((5, 5), np.uint8)) == 0)
    outer = ((cv2.dilate(mask, np.ones((7, 7), np.uint8)) > 0) & (mask == 0)).astype(np.float32)
    weight = cv2.boxFilter(outer, -1, (15, 15), normalize=False)
    colour = cv2.boxFilter(image.astype(np.float32) * outer[..., None], -1, (15, 15), normalize=False)
    near = inner & (weight > 0)
    local = colour[near] / weight[near][:, None]
    return float((np.abs(image[near].astype(np.float32) - local).max(axis=1) < 20).mean())


def test_camouflage_gives_part_of_the_outline_the_background_colour():
    photo = [_background_coloured_outline_fraction(*_photo(seed)) for seed in SEEDS]
    classic = [_background_coloured_outline_fraction(*generate_scene(seed, **SMALL)) for seed in SEEDS]
    assert max(classic) < 0.005  # saturated objects on muted backgrounds: almost never the background's colour
    assert np.mean(photo) > 0.02 and sum(p > 0.05 for p in photo) >= 2  # (a texture rarely matches within 20)


def test_camouflaged_sector_copies_the_background_beside_it():
    rng = np.random.default_rng(0)
    image = rng.integers(60, 120, (300, 300, 3), dtype=np.uint8)
    texture = np.full((100, 100, 3), (250, 20, 20), np.uint8)
    out = synthetic_photo.camouflage(np.random.default_rng(1), texture, image, (100, 100, 100, 100), 50.0)
    grey = out[..., 0] < 140  # the red object (250) takes the grey background's colour (60-120, +-6 %)
    assert 0.1 < grey.mean() < 0.6  # over a sector, not the whole object
    assert np.abs(out[grey].mean(axis=0) - 90).max() < 15  # the background's mean colour


def test_saturated_clutter_with_strong_edges_lies_outside_the_mask():
    def saturated_background(image, mask):
        hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
        background = cv2.dilate(mask, np.ones((9, 9), np.uint8)) == 0
        return float(((hsv[..., 1] > 150) & (hsv[..., 2] > 100) & background).mean())
    photo = [saturated_background(*_photo(seed)) for seed in SEEDS]
    classic = [saturated_background(*generate_scene(seed, **SMALL)) for seed in SEEDS]
    assert max(classic) < 0.005  # the classic backgrounds are muted
    assert np.median(photo) > 0.01


def test_clutter_is_drawn_with_sharp_edges():
    image = np.full((300, 300, 3), 128, np.uint8)
    synthetic_photo.add_saturated_clutter(np.random.default_rng(3), image, 300)
    edges = np.abs(np.diff(image.astype(int), axis=1)).max(axis=2)
    assert (edges > 60).sum() > 50  # colour steps of more than 60 levels between neighbouring pixels


def test_cast_shadow_darkens_the_background_on_the_side_away_from_the_light():
    image = np.full((300, 300, 3), 200, np.uint8)
    light = np.array([1.0, 0.0])  # light from the right: the shadow falls to the left
    synthetic_photo.cast_shadow(np.random.default_rng(0), image, _disk(100, 40), (100, 100, 100, 100), light, 40.0)
    darkened = image[..., 0] < 190
    assert darkened.any() and (image <= 200).all()
    columns = np.nonzero(darkened.any(axis=0))[0]
    assert columns.mean() < 150  # left of the object's centre


def test_shading_is_brighter_towards_the_light():
    texture = np.full((100, 100, 3), 150, np.uint8)
    mask = (_disk(100, 45) * 255).astype(np.uint8)
    shaded = synthetic_photo.shade(np.random.default_rng(0), texture, mask, np.array([0.0, -1.0]))  # light above
    assert shaded[30:40, 45:55].mean() > shaded[60:70, 45:55].mean() + 5


def test_soft_boundary_blurs_part_of_the_outline_and_the_mask_stays_binary():
    alpha = _disk()
    texture = np.full((200, 200, 3), 255, np.uint8)
    for seed in range(4):
        soft, colour, mask, kind = synthetic_photo.soften_boundary(np.random.default_rng(seed), alpha, texture, 1.0)
        assert kind in ("defocus", "motion") and colour.shape == texture.shape
        assert set(np.unique(mask).tolist()) == {0, 255}
        band = (soft > 0.02) & (soft < 0.98)
        assert band.sum() > 3 * ((alpha > 0) & (alpha < 1)).sum() + 200  # wider than anti-aliasing
        assert abs((mask > 0).sum() - alpha.sum()) < 0.1 * alpha.sum()  # marked where the sharp outline is
        # beside the blurred part, part of the outline stays sharp: 3 px outside it nothing is covered
        ring = (cv2.dilate((alpha > 0).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0) & (alpha == 0)
        assert (soft[ring] < 0.01).any() and (soft[ring] > 0.1).any()


def test_a_wire_blurred_away_leaves_the_mask():
    alpha = np.zeros((120, 120), np.float32)
    alpha[:, 60] = 1.0  # a 1-px wire
    texture = np.full((120, 120, 3), 255, np.uint8)
    for seed in range(10):
        soft, _, mask, kind = synthetic_photo.soften_boundary(np.random.default_rng(seed), alpha, texture, 1.0)
        if kind == "defocus":
            break
    assert kind == "defocus"
    blurred = soft[:, 58:63].max(axis=1) < 0.5  # rows where the wire faded below one half
    assert blurred.any() and not mask[blurred].any()


def test_occluder_pixels_are_background_in_the_mask():
    layer = CoverageLayer(300, 300)
    layer.fill([np.array([[80, 80], [220, 80], [220, 220], [80, 220]])])
    for seed in range(4):
        image = np.full((300, 300, 3), 100, np.uint8)
        mask = layer.mask.copy()
        alpha = synthetic_photo.add_occluder(np.random.default_rng(seed), image, mask, (80, 80, 141, 141), 1.0)
        front = alpha >= 0.5
        assert (front & (layer.mask > 0)).any()  # it crosses the object
        assert not mask[front].any()  # what is in front is not the salient object
        assert mask.any() and (mask[~front] == layer.mask[~front]).all()  # the rest of the object stays


def test_every_property_occurs_in_a_few_scenes():
    seen = set()
    for seed in SEEDS:
        seen.update(kind.split(":")[0] for kind in photo_scene_properties(seed, **SMALL))
    assert seen == set(synthetic_photo.PHOTO_PROPERTIES)
