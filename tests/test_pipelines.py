"""The tf.data pipelines of the three stages and the saliency-map cache (tiny preset, small images)."""

import dataclasses
import json

import cv2
import numpy as np
import pytest
import tensorflow as tf

from hrsod_tf import aps
from hrsod_tf.config import get_preset
from hrsod_tf.data import pipelines
from hrsod_tf.data.map_cache import MapCache, checkpoint_fingerprint
from hrsod_tf.data.sources import EXAMPLE_SIGNATURE
from hrsod_tf.files import file_stem
from hrsod_tf.geometry import crop_boxes_for
from hrsod_tf.models import build_glfn, build_gsn, build_lrn
from hrsod_tf.training import fill_cache

HEIGHT, WIDTH = 150, 200
NUM_EXAMPLES = 6
FINGERPRINT = {"checkpoint": "/ckpt/gsn", "checkpoint_sha256": "abc", "kind": "coarse", "preset": "tiny"}


@pytest.fixture(scope="module")
def config():
    return get_preset("tiny")


def _scene(index: int):
    """A noisy image with one ellipse object: (image uint8 [H, W, 3], mask uint8 [H, W] {0, 255})."""
    rng = np.random.default_rng(index)
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    centre = (int(rng.integers(60, 140)), int(rng.integers(50, 100)))
    cv2.ellipse(mask, centre, (int(rng.integers(20, 50)), int(rng.integers(20, 40))), 0, 0, 360, 255, -1)
    image = rng.integers(0, 60, (HEIGHT, WIDTH, 3)).astype(np.uint8)
    image[mask > 0] += np.uint8(150)
    return image, mask


def _examples(count=NUM_EXAMPLES, constant_images=False):
    """An examples dataset as the data sources give it; constant_images: image i is all 10 * i."""
    def generate():
        for i in range(count):
            image, mask = _scene(i)
            if constant_images:
                image = np.full_like(image, 10 * i)
            yield {"image": image, "mask": mask[..., None], "image/filename": f"images/scene_{i:03d}.jpg"}

    return tf.data.Dataset.from_generator(generate, output_signature=EXAMPLE_SIGNATURE)


def _blurred_coarse(mask: np.ndarray, size: int) -> np.ndarray:
    """A stand-in GSN map: the mask at size x size, blurred so that its boundary is uncertain."""
    small = cv2.resize(mask.astype(np.float32) / 255.0, (size, size), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(small, (0, 0), 2.0)


@pytest.fixture
def coarse_cache(tmp_path, config):
    cache = MapCache(tmp_path / "coarse", FINGERPRINT)
    for i in range(NUM_EXAMPLES):
        cache.write(f"scene_{i:03d}.jpg", _blurred_coarse(_scene(i)[1], config.model.gsn_input_size))
    return cache


@pytest.fixture
def fused_cache(tmp_path):
    cache = MapCache(tmp_path / "fused", {**FINGERPRINT, "kind": "fused"})
    for i in range(NUM_EXAMPLES):
        cache.write(f"scene_{i:03d}.png", cv2.GaussianBlur(_scene(i)[1].astype(np.float32) / 255.0, (0, 0), 3))
    return cache


def _first(ds, count=1):
    return [tf.nest.map_structure(lambda t: t.numpy(), x) for x in ds.take(count)]


def _assert_binary(label):
    assert label.dtype == np.float32
    assert set(np.unique(label)) <= {0.0, 1.0}


# ------------------------------------------------------------------------------------------------------------
# shapes, dtypes, binary labels


def test_gsn_dataset_yields_resized_images_and_binary_labels(config):
    s, b = config.model.gsn_input_size, config.train.gsn.batch_size
    image, label = _first(pipelines.gsn_dataset(_examples(), config, training=True, seed=1))[0]
    assert image.shape == (b, s, s, 3) and image.dtype == np.float32
    assert 0.0 <= image.min() and image.max() <= 255.0 and image.max() > 100.0
    assert label.shape == (b, s, s, 1)
    _assert_binary(label)
    assert 0 < label.mean() < 1


def test_gsn_dataset_evaluation_is_one_ordered_pass(config):
    ds = pipelines.gsn_dataset(_examples(constant_images=True), config, training=False, batch_size=4)
    batches = _first(ds, 10)
    assert [len(b[0]) for b in batches] == [4, 2]
    means = np.concatenate([b[0].mean(axis=(1, 2, 3)) for b in batches])
    np.testing.assert_allclose(means, 10.0 * np.arange(NUM_EXAMPLES), atol=1e-3)


def test_lrn_dataset_yields_patches_guidance_and_binary_labels(config, coarse_cache):
    d, b = config.model.lrn_input_size, config.train.lrn.batch_size
    features, label = _first(pipelines.lrn_dataset(_examples(), coarse_cache, config, seed=1))[0]
    assert set(features) == {"image", "guidance"}
    assert features["image"].shape == (b, d, d, 3) and features["image"].dtype == np.float32
    assert features["guidance"].shape == (b, d, d, 1) and features["guidance"].dtype == np.float32
    assert 0.0 <= features["guidance"].min() and features["guidance"].max() <= 1.0
    assert label.shape == (b, d, d, 1)
    _assert_binary(label)


def test_glfn_dataset_yields_warped_image_fused_map_and_binary_labels(config, fused_cache):
    g, b = config.train.glfn.input_size, config.train.glfn.batch_size
    features, label = _first(pipelines.glfn_dataset(_examples(), fused_cache, config, training=True, seed=1))[0]
    assert features["image"].shape == (b, g, g, 3) and features["saliency"].shape == (b, g, g, 1)
    assert features["saliency"].dtype == np.float32 and 0.0 <= features["saliency"].min()
    assert features["saliency"].max() <= 1.0 and features["saliency"].max() > 0.5
    _assert_binary(label)
    assert label.shape == (b, g, g, 1)


def test_glfn_crop_mode_takes_full_resolution_crops(config, fused_cache):
    crop = dataclasses.replace(config, train=dataclasses.replace(
        config.train, glfn=dataclasses.replace(config.train.glfn, input_size=64, input_mode="crop")))
    features, label = _first(pipelines.glfn_dataset(_examples(1), fused_cache, crop, training=False))[0]
    image, mask = _scene(0)
    top, left = (HEIGHT - 64) // 2, (WIDTH - 64) // 2  # validation: the central crop, not a warp
    np.testing.assert_array_equal(features["image"][0], image[top:top + 64, left:left + 64])
    np.testing.assert_array_equal(label[0, ..., 0], mask[top:top + 64, left:left + 64] > 127)
    features, label = _first(pipelines.glfn_dataset(_examples(), fused_cache, crop, training=True, seed=3))[0]
    assert features["image"].shape[1:] == (64, 64, 3) and label.shape[1:] == (64, 64, 1)
    _assert_binary(label)


# ------------------------------------------------------------------------------------------------------------
# determinism


def _build(stage, config, coarse_cache, fused_cache, seed):
    if stage == "gsn":
        return pipelines.gsn_dataset(_examples(), config, training=True, seed=seed, deterministic=True)
    if stage == "lrn":
        return pipelines.lrn_dataset(_examples(), coarse_cache, config, seed=seed, deterministic=True,
                                     shuffle_buffer=16)
    return pipelines.glfn_dataset(_examples(), fused_cache, config, training=True, seed=seed, deterministic=True)


@pytest.mark.parametrize("stage", ["gsn", "lrn", "glfn"])
def test_deterministic_option_gives_identical_batches_twice(stage, config, coarse_cache, fused_cache):
    first = _first(_build(stage, config, coarse_cache, fused_cache, seed=7), 3)
    second = _first(_build(stage, config, coarse_cache, fused_cache, seed=7), 3)
    tf.nest.map_structure(np.testing.assert_array_equal, first, second)
    other = _first(_build(stage, config, coarse_cache, fused_cache, seed=8), 3)
    flat_first, flat_other = tf.nest.flatten(first), tf.nest.flatten(other)
    assert any(not np.array_equal(a, b) for a, b in zip(flat_first, flat_other))


# ------------------------------------------------------------------------------------------------------------
# LRN patches: where they come from, how many


def _banded_cache(tmp_path, config, band_value, right_value=1.0):
    """Coarse maps 0 on the left, `right_value` on the right, `band_value` in columns 40..48 of 64."""
    s = config.model.gsn_input_size
    coarse = np.zeros((s, s), np.float32)
    coarse[:, 48:] = right_value
    coarse[:, 40:48] = band_value
    cache = MapCache(tmp_path / f"band_{band_value}_{right_value}", FINGERPRINT)
    for i in range(NUM_EXAMPLES):
        cache.write(f"scene_{i:03d}", coarse)
    return cache


def _all_patches(ds):
    features, labels = zip(*_first(ds, 1000))
    return {k: np.concatenate([f[k] for f in features]) for k in features[0]}, np.concatenate(labels)


def test_lrn_patches_come_from_uncertain_regions(tmp_path, config):
    cache = _banded_cache(tmp_path, config, band_value=0.5)
    ds = pipelines.lrn_dataset(_examples(), cache, config, training=False, seed=3, empty_patch_prob=0.0)
    features, _ = _all_patches(ds)
    guidance = features["guidance"][..., 0] * 255.0
    uncertain = (guidance > config.aps.t1) & (guidance < config.aps.t2)
    assert len(guidance) > NUM_EXAMPLES
    assert uncertain.any(axis=(1, 2)).all(), "every APS patch must contain uncertain guidance"


def test_lrn_images_without_uncertain_pixels_give_patches_only_by_the_fallback(tmp_path, config):
    cache = _banded_cache(tmp_path, config, band_value=0.0, right_value=0.0)  # every pixel certain
    none = pipelines.lrn_dataset(_examples(), cache, config, training=False, empty_patch_prob=0.0)
    assert sum(len(batch[1]) for batch in _first(none, 100)) == 0
    always = pipelines.lrn_dataset(_examples(), cache, config, training=False, empty_patch_prob=1.0)
    assert sum(len(batch[1]) for batch in _first(always, 100)) == NUM_EXAMPLES


def test_random_sampler_gives_the_same_patch_count_as_aps(config, coarse_cache):
    def count(sampler):
        ds = pipelines.lrn_dataset(_examples(), coarse_cache, config, sampler=sampler, training=False, seed=5)
        return sum(len(batch[1]) for batch in _first(ds, 1000))

    aps_count = count("aps")
    assert aps_count > 0 and aps_count <= NUM_EXAMPLES * config.train.lrn.patches_per_image
    assert count("random") == aps_count


def _uncertain_full(coarse_small, full_hw, aps_config):
    full = tf.image.resize(coarse_small[..., None], full_hw, method="bilinear")[..., 0].numpy()
    return aps.attention_mask(full, aps_config)


def test_box_choice_on_a_full_size_grid_is_algorithm_1(config):
    coarse = _blurred_coarse(_scene(0)[1], config.model.gsn_input_size)
    attention = _uncertain_full(coarse, (HEIGHT, WIDTH), config.aps)
    boxes = pipelines.choose_patch_boxes(attention, (HEIGHT, WIDTH), config.aps, np.random.default_rng(9),
                                         max_boxes=4)
    reference = aps.sample_training_boxes(attention * np.float32(0.5), config.aps, np.random.default_rng(9),
                                          max_boxes=4)
    np.testing.assert_array_equal(boxes, reference.boxes)


def test_boxes_chosen_on_a_coarser_grid_contain_uncertain_pixels_and_keep_sizes(config):
    aps_config = dataclasses.replace(config.aps, patch_size=400)
    full_hw = (1200, 1600)
    coarse = _blurred_coarse(cv2.resize(_scene(1)[1], full_hw[::-1]), 64)
    attention_full = _uncertain_full(coarse, full_hw, aps_config)
    grid = tf.image.resize(coarse[..., None], [300, 400], method="bilinear")[..., 0].numpy()
    boxes = pipelines.choose_patch_boxes(aps.attention_mask(grid, aps_config), full_hw, aps_config,
                                         np.random.default_rng(0))
    assert len(boxes) > 0
    sizes = boxes[:, 2:] - boxes[:, :2]
    radius = int(400 * aps_config.size_jitter)
    assert ((sizes >= 400 - radius - 4) & (sizes <= 400 + radius + 4)).all()
    for y0, x0, y1, x1 in boxes:
        assert attention_full[y0:y1, x0:x1].any()


def test_guidance_crops_equal_crops_of_the_upsampled_coarse_map(config):
    """Exact where the crop samples whole pixels of F; elsewhere within F's change over one pixel."""
    rng = np.random.default_rng(0)
    coarse = rng.random((16, 12, 1)).astype(np.float32)
    image = rng.integers(0, 256, (HEIGHT, WIDTH, 3)).astype(np.uint8)
    mask = np.zeros((HEIGHT, WIDTH, 1), np.uint8)
    full = tf.image.resize(coarse, [HEIGHT, WIDTH], method="bilinear")[tf.newaxis]
    one_pixel_change = float(tf.reduce_max(tf.abs(full[:, 1:] - full[:, :-1])))
    on_pixels = np.array([[0, 0, 32, 32], [118, 168, 150, 200], [50, 70, 82, 102]], np.int32)
    between = np.array([[10, 30, 90, 130], [0, 0, HEIGHT, WIDTH], [86, 136, 150, 200]], np.int32)
    for boxes, atol in ((on_pixels, 1e-5), (between, one_pixel_change)):
        features, _ = pipelines.crop_training_patches(image, mask, coarse, boxes, 32)
        normalised = crop_boxes_for(tf.constant(boxes), tf.constant([HEIGHT, WIDTH]))
        expected = tf.image.crop_and_resize(full, normalised, tf.zeros([3], tf.int32), [32, 32])
        np.testing.assert_allclose(features["guidance"].numpy(), expected.numpy(), atol=atol)


# ------------------------------------------------------------------------------------------------------------
# the map cache


def test_map_cache_round_trip_keeps_maps_to_8_bits(tmp_path):
    cache = MapCache(tmp_path / "cache", FINGERPRINT)
    saliency = np.linspace(0.0, 1.0, 30 * 40, dtype=np.float32).reshape(30, 40)
    path = cache.write("some/dir/photo.v2.jpg", saliency[..., None])
    assert path.name == "photo.v2.png" and cache.path_for("photo.v2.png") == path
    np.testing.assert_allclose(cache.read("photo.v2.jpg")[..., 0], saliency, atol=0.5 / 255 + 1e-6)
    from_tf = cache.read_tf(tf.constant("other/dir/photo.v2.jpg")).numpy()
    assert from_tf.shape == (30, 40, 1) and from_tf.dtype == np.float32
    np.testing.assert_array_equal(from_tf, cache.read("photo.v2.png"))
    assert json.loads((tmp_path / "cache" / "fingerprint.json").read_text()) == FINGERPRINT
    assert not list((tmp_path / "cache").glob("*.tmp"))


def test_map_cache_is_valid_only_for_its_fingerprint_and_complete_names(tmp_path):
    cache = MapCache(tmp_path / "cache", FINGERPRINT)
    assert not cache.is_valid()
    cache.write("a.jpg", np.zeros((4, 4)))
    assert cache.is_valid() and cache.is_valid(["a.jpg"]) and not cache.is_valid(["a.jpg", "b.jpg"])
    assert cache.missing(["a.jpg", "b.jpg"]) == ["b.jpg"]

    new_checkpoint = MapCache(tmp_path / "cache", {**FINGERPRINT, "checkpoint_sha256": "def"})
    assert not new_checkpoint.is_valid() and new_checkpoint.missing(["a.jpg"]) == ["a.jpg"]
    new_checkpoint.write("b.jpg", np.ones((4, 4)))  # claims the directory: the old map goes
    assert not cache.path_for("a.jpg").exists() and new_checkpoint.is_valid(["b.jpg"])
    assert not cache.is_valid()

    new_checkpoint.invalidate()
    assert not new_checkpoint.is_valid() and not new_checkpoint.path_for("b.jpg").exists()
    cache.reset()
    assert cache.is_valid([]) and cache.missing(["a.jpg"]) == ["a.jpg"]


class _CountingSource:
    """Two examples; counts how often its images are decoded (`as_tf_dataset`), and lists names for free."""

    name = "counting"

    def __init__(self):
        self.decoded = 0

    def filenames(self, split):
        return ["a.png", "b.png"]

    def num_examples(self, split):
        return 2

    def as_tf_dataset(self, split):
        self.decoded += 1
        images = tf.zeros((2, 8, 8, 3), tf.uint8)
        return tf.data.Dataset.from_tensor_slices({"image/filename": tf.constant(self.filenames(split)),
                                                   "image": images})


def test_filling_a_complete_map_cache_decodes_no_image_and_a_missing_map_is_computed(tmp_path):
    cache, source = MapCache(tmp_path / "cache", FINGERPRINT), _CountingSource()
    maps = lambda image: np.full((8, 8, 1), 0.5, np.float32)  # noqa: E731
    assert fill_cache(cache, source, ["train"], maps, "maps", progress=False) == 2 and source.decoded == 1
    assert fill_cache(cache, source, ["train"], maps, "maps", progress=False) == 0 and source.decoded == 1
    cache.path_for("b.png").unlink()
    assert fill_cache(cache, source, ["train"], maps, "maps", progress=False) == 1 and source.decoded == 2
    assert cache.is_valid(source.filenames("train"))


def test_checkpoint_fingerprint_follows_the_checkpoint_bytes(tmp_path):
    weights = tmp_path / "gsn.weights.h5"
    weights.write_bytes(b"one")
    first = checkpoint_fingerprint(weights, "coarse", preset="tiny")
    assert first["kind"] == "coarse" and first["preset"] == "tiny"
    assert checkpoint_fingerprint(weights, "coarse", preset="tiny") == first
    weights.write_bytes(b"two")
    assert checkpoint_fingerprint(weights, "coarse", preset="tiny") != first
    (tmp_path / "ckpt-3.index").write_bytes(b"i")
    (tmp_path / "ckpt-3.data-00000-of-00001").write_bytes(b"d")
    assert len(checkpoint_fingerprint(tmp_path / "ckpt-3", "fused")["checkpoint_sha256"]) == 64
    assert file_stem(b"x/y/z.tar.png") == "z.tar"


# ------------------------------------------------------------------------------------------------------------
# distribution and the models


def test_input_context_splits_examples_between_two_pipelines(config):
    seen = []
    for pipeline_id in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline_id,
                                             num_replicas_in_sync=2)
        ds = pipelines.gsn_dataset(_examples(constant_images=True), config, training=False, batch_size=4,
                                   input_context=context)
        batches = _first(ds, 10)
        assert all(len(images) <= 2 for images, _ in batches)  # the global batch 4 is split over 2 replicas
        seen.append({round(float(m) / 10) for images, _ in batches for m in images.mean(axis=(1, 2, 3))})
    assert seen[0].isdisjoint(seen[1]) and seen[0] | seen[1] == set(range(NUM_EXAMPLES))


def test_pipelines_feed_the_tiny_models(config, coarse_cache, fused_cache):
    image, _ = _first(pipelines.gsn_dataset(_examples(), config, training=True, seed=0))[0]
    assert build_gsn(config.model)(image).shape[:3] == image.shape[:3]
    lrn_inputs, _ = _first(pipelines.lrn_dataset(_examples(), coarse_cache, config, seed=0))[0]
    assert build_lrn(config.model)(lrn_inputs).shape[:3] == lrn_inputs["image"].shape[:3]
    glfn_inputs, _ = _first(pipelines.glfn_dataset(_examples(), fused_cache, config, training=True, seed=0))[0]
    assert build_glfn(config.model)(glfn_inputs).shape[:3] == glfn_inputs["image"].shape[:3]


def test_lrn_patch_images_and_labels_stay_aligned_through_crops_and_flips(config, coarse_cache):
    ds = pipelines.lrn_dataset(_examples(), coarse_cache, config, seed=2, shuffle_buffer=8)
    features, labels = _all_patches(ds.take(4))
    brightness = features["image"].mean(axis=-1, keepdims=True)
    inside, outside = brightness[labels == 1], brightness[labels == 0]
    assert inside.size and outside.size
    assert np.mean(inside > 120) > 0.95 and np.mean(outside < 120) > 0.95
