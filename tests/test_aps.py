"""Properties of Attended Patch Sampling (hrsod_tf/aps.py) on many seeded random maps."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import tensorflow as tf

from hrsod_tf import aps
from hrsod_tf.config import APSConfig

SMALL = APSConfig(patch_size=64, max_patches=16)
PAPER = APSConfig()
NUM_MAPS = 40


# ------------------------------------------------------------------------------------------------
# Random maps
# ------------------------------------------------------------------------------------------------


def blob_map(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Smooth random saliency map in [0, 1], float32 [H, W]: blobs whose soft edges are uncertain."""
    grid = (int(rng.integers(2, 8)), int(rng.integers(2, 8)))
    logits = rng.normal(scale=rng.uniform(2.0, 8.0), size=grid).astype(np.float32)
    logits = cv2.resize(logits, (width, height), interpolation=cv2.INTER_LINEAR)
    return 1.0 / (1.0 + np.exp(-logits))


def sparse_map(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Mostly certain map with a few isolated uncertain pixels (worst case for box placement)."""
    coarse = rng.choice([0.0, 1.0], size=(height, width)).astype(np.float32)
    count = int(rng.integers(1, 6))
    coarse[rng.integers(0, height, count), rng.integers(0, width, count)] = 0.5
    return coarse


def random_maps(seed: int, count: int = NUM_MAPS, max_side: int = 400):
    """`count` seeded maps of random sizes (some smaller than D = 64, some very elongated)."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        height, width = (int(s) for s in rng.integers(1, max_side, size=2))
        make = blob_map if i % 3 else sparse_map
        yield make(rng, height, width)


def assert_inside(boxes: np.ndarray, shape_hw) -> None:
    """Every box is non-empty, half-open and inside the image."""
    boxes = np.asarray(boxes)
    assert boxes.dtype == np.int32 and boxes.ndim == 2 and boxes.shape[1] == 4
    y0, x0, y1, x1 = boxes.T
    assert np.all(y0 >= 0) and np.all(x0 >= 0)
    assert np.all(y1 <= shape_hw[0]) and np.all(x1 <= shape_hw[1])
    assert np.all(y1 > y0) and np.all(x1 > x0)


def covered(boxes: np.ndarray, shape_hw) -> np.ndarray:
    """bool [H, W]: pixels inside at least one box."""
    cover = np.zeros(shape_hw, bool)
    for y0, x0, y1, x1 in np.asarray(boxes):
        cover[y0:y1, x0:x1] = True
    return cover


@tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32)])
def inference_boxes_small(coarse):
    return aps.inference_boxes_tf(coarse, SMALL)


@tf.function(input_signature=[tf.TensorSpec([None, None, 1], tf.float32)])
def inference_boxes_small_3d(coarse):
    return aps.inference_boxes_tf(coarse, SMALL)


@tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32)])
def inference_boxes_paper(coarse):
    return aps.inference_boxes_tf(coarse, PAPER)


# ------------------------------------------------------------------------------------------------
# Attention map
# ------------------------------------------------------------------------------------------------


def test_attention_map_thresholds_are_strict():
    coarse = np.array([[0.0, 50 / 255, 51 / 255, 0.5, 199 / 255, 200 / 255, 1.0]], np.float32)
    expected = [[False, False, True, True, True, False, False]]
    np.testing.assert_array_equal(aps.attention_map(coarse, 50, 200), expected)
    np.testing.assert_array_equal(aps.attention_map_tf(coarse, 50, 200).numpy(), expected)


@pytest.mark.parametrize("with_channel", [False, True])
def test_attention_map_numpy_and_tf_agree(with_channel):
    for coarse in random_maps(seed=1, count=10):
        if with_channel:
            coarse = coarse[..., None]
        np.testing.assert_array_equal(aps.attention_map(coarse, 50, 200),
                                      aps.attention_map_tf(coarse, 50, 200).numpy())


def test_attention_mask_with_attention_size_has_full_resolution():
    config = dataclasses.replace(SMALL, attention_size=32)
    coarse = blob_map(np.random.default_rng(2), 120, 300)
    mask_np = aps.attention_mask(coarse, config)
    mask_tf = aps.attention_mask_tf(coarse, config).numpy()
    assert mask_np.shape == mask_tf.shape == (120, 300)
    # cv2 and TF bilinear resizes may differ by rounding on a few threshold-crossing pixels.
    assert np.mean(mask_np != mask_tf) < 0.02


# ------------------------------------------------------------------------------------------------
# Training sampler (Algorithm 1)
# ------------------------------------------------------------------------------------------------


def test_training_columns_follow_algorithm_1():
    # w = 800, N_x = ceil(800 / 384) + 5 = 8, step = ceil(800 / 8) = 100, N_x + 1 = 9 columns.
    np.testing.assert_array_equal(aps.training_columns(100, 899, 384, 5),
                                  [100, 200, 300, 400, 500, 600, 700, 800, 899])
    # A single uncertain column: every X_t is clamped to XR.
    np.testing.assert_array_equal(aps.training_columns(7, 7, 384, 5), [7] * 7)


def test_training_boxes_are_inside_image_and_centred_on_uncertain_pixels():
    rng = np.random.default_rng(3)
    radius = SMALL.patch_size // 6
    for coarse in random_maps(seed=3):
        boxes, centres, sizes = aps.sample_training_boxes(coarse, SMALL, rng)
        mask = aps.attention_mask(coarse, SMALL)
        assert_inside(boxes, coarse.shape)
        assert len(boxes) == len(centres) == len(sizes)
        assert np.all(mask[centres[:, 0], centres[:, 1]]), "a patch centre is not an uncertain pixel"
        assert np.all(np.abs(sizes - SMALL.patch_size) <= radius)
        # Shifting inside the image keeps the centre inside the box; the side is C shrunk to the image.
        y0, x0, y1, x1 = boxes.T
        assert np.all((y0 <= centres[:, 0]) & (centres[:, 0] < y1))
        assert np.all((x0 <= centres[:, 1]) & (centres[:, 1] < x1))
        np.testing.assert_array_equal(y1 - y0, np.minimum(sizes, coarse.shape[0]))
        np.testing.assert_array_equal(x1 - x0, np.minimum(sizes, coarse.shape[1]))


def test_training_boxes_are_centred_when_far_from_the_border():
    coarse = np.zeros((1000, 1000), np.float32)
    coarse[400:600, 400:600] = 0.5
    boxes, centres, sizes = aps.sample_training_boxes(coarse, PAPER, np.random.default_rng(4))
    np.testing.assert_array_equal(boxes[:, :2], centres - sizes[:, None] // 2)


def test_training_centres_lie_on_the_algorithm_1_columns():
    coarse = blob_map(np.random.default_rng(5), 300, 700)
    mask = aps.attention_mask(coarse, SMALL)
    xs = np.flatnonzero(mask.any(axis=0))
    columns = aps.training_columns(xs[0], xs[-1], SMALL.patch_size, SMALL.extra_columns)
    _, centres, _ = aps.sample_training_boxes(coarse, SMALL, np.random.default_rng(5))
    assert set(centres[:, 1]) <= set(columns)
    # At most J centres per drawn column (repeated columns draw again).
    _, per_column = np.unique(centres[:, 1], return_counts=True)
    assert per_column.max() <= SMALL.centres_per_column * np.max(np.unique(columns, return_counts=True)[1])


def test_training_sampler_is_reproducible_from_the_seed():
    coarse = blob_map(np.random.default_rng(6), 200, 300)
    first = aps.sample_training_boxes(coarse, SMALL, np.random.default_rng(7))
    second = aps.sample_training_boxes(coarse, SMALL, np.random.default_rng(7))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_training_sampler_respects_max_boxes():
    coarse = blob_map(np.random.default_rng(8), 300, 900)
    full = aps.sample_training_boxes(coarse, SMALL, np.random.default_rng(9))
    capped = aps.sample_training_boxes(coarse, SMALL, np.random.default_rng(9), max_boxes=3)
    assert len(full.boxes) > 3 and len(capped.boxes) == 3
    assert_inside(capped.boxes, coarse.shape)


def test_training_sampler_with_attention_size_centres_on_mapped_back_mask():
    config = dataclasses.replace(SMALL, attention_size=48)
    for coarse in random_maps(seed=10, count=10):
        boxes, centres, _ = aps.sample_training_boxes(coarse, config, np.random.default_rng(10))
        assert_inside(boxes, coarse.shape)
        assert np.all(aps.attention_mask(coarse, config)[centres[:, 0], centres[:, 1]])


# ------------------------------------------------------------------------------------------------
# Random Patch Sampling baseline
# ------------------------------------------------------------------------------------------------


def test_random_boxes_match_aps_count_and_sizes_and_are_inside_image():
    rng = np.random.default_rng(11)
    for coarse in random_maps(seed=11, count=20):
        apsed = aps.sample_training_boxes(coarse, SMALL, rng)
        for sizes in (apsed.sizes, apsed.boxes[:, 2:] - apsed.boxes[:, :2]):
            random = aps.sample_random_boxes(coarse.shape, sizes, rng)
            assert_inside(random, coarse.shape)
            assert random.shape == apsed.boxes.shape
            np.testing.assert_array_equal(random[:, 2:] - random[:, :2],
                                          apsed.boxes[:, 2:] - apsed.boxes[:, :2])


def test_random_boxes_spread_over_the_image():
    boxes = aps.sample_random_boxes((1000, 1000), np.full(2000, 100), np.random.default_rng(12))
    assert boxes[:, 0].min() < 50 and boxes[:, 0].max() > 850
    assert boxes[:, 1].min() < 50 and boxes[:, 1].max() > 850


# ------------------------------------------------------------------------------------------------
# Inference sampler
# ------------------------------------------------------------------------------------------------


def test_inference_boxes_cover_every_uncertain_pixel_and_are_inside_image():
    side = SMALL.patch_size
    for coarse in random_maps(seed=13):
        boxes = inference_boxes_small(coarse).numpy()
        mask = aps.attention_mask(coarse, SMALL)
        assert_inside(boxes, coarse.shape)
        assert not np.any(mask & ~covered(boxes, coarse.shape)), "an uncertain pixel is not covered"
        np.testing.assert_array_equal(boxes[:, 2] - boxes[:, 0], min(side, coarse.shape[0]))
        np.testing.assert_array_equal(boxes[:, 3] - boxes[:, 1], min(side, coarse.shape[1]))
        cells_bound = np.prod(-(-np.array(coarse.shape) // np.minimum(side, coarse.shape)))
        assert len(boxes) <= cells_bound


def test_inference_boxes_match_eager_and_channel_input():
    for coarse in random_maps(seed=14, count=8):
        traced = inference_boxes_small(coarse).numpy()
        np.testing.assert_array_equal(traced, aps.inference_boxes_tf(coarse, SMALL).numpy())
        np.testing.assert_array_equal(traced, inference_boxes_small_3d(coarse[..., None]).numpy())


def test_inference_boxes_are_deterministic():
    coarse = blob_map(np.random.default_rng(15), 333, 517)
    first = inference_boxes_small(coarse).numpy()
    for _ in range(3):
        np.testing.assert_array_equal(first, inference_boxes_small(coarse).numpy())


def test_inference_uses_one_box_per_cell_for_a_dense_band():
    # Uncertain band x in [10, 300), y in [5, 20): 290 px wide -> ceil(290 / 64) = 5 boxes in one row.
    coarse = np.zeros((200, 400), np.float32)
    coarse[5:20, 10:300] = 0.5
    boxes = inference_boxes_small(coarse).numpy()
    assert len(boxes) == 5
    assert np.all(boxes[:, 0] == 0)  # centred on rows 5..19 -> starts at -19, shifted inside


def test_inference_enforced_cap_keeps_most_uncertain_cells():
    coarse = np.full((400, 400), 0.5, np.float32)  # all 49 cells uncertain
    coarse[:64, :64] = 1.0  # except the first cell
    config = dataclasses.replace(SMALL, max_patches=5)
    boxes = aps.inference_boxes_tf(coarse, config, enforce_max_patches=True).numpy()
    assert_inside(boxes, coarse.shape)
    assert len(boxes) == 5
    assert not np.any(np.all(boxes[:, :2] == 0, axis=1)), "the certain cell was kept"
    assert len(aps.inference_boxes_tf(coarse, config).numpy()) == 48  # soft cap by default


def _uncertain_counts_np(boxes, mask):
    return np.array([mask[y0:y1, x0:x1].sum() for y0, x0, y1, x1 in boxes], np.int64)


def test_uncertain_pixels_in_boxes_counts_each_box_like_numpy():
    rng = np.random.default_rng(41)
    mask = rng.random((90, 130)) < 0.3
    y0, x0 = rng.integers(0, 80, 20), rng.integers(0, 120, 20)
    boxes = np.stack([y0, x0, y0 + rng.integers(1, 90 - y0 + 1), x0 + rng.integers(1, 130 - x0 + 1)], 1)
    counts = aps.uncertain_pixels_in_boxes_tf(tf.constant(boxes, tf.int32), tf.constant(mask)).numpy()
    np.testing.assert_array_equal(counts, _uncertain_counts_np(boxes, mask))


@pytest.mark.parametrize("budget", [0, 1, 3, 7])
def test_patch_budget_keeps_at_most_budget_boxes_with_the_most_uncertain_pixels(budget):
    for coarse in random_maps(seed=43, count=15):
        mask = aps.attention_mask(coarse, SMALL)
        boxes = inference_boxes_small(coarse).numpy()
        kept = aps.keep_most_uncertain_boxes_tf(boxes, mask, budget).numpy()
        assert len(kept) == min(budget, len(boxes))
        rows = [int(np.flatnonzero(np.all(boxes == box, axis=1))[0]) for box in kept]
        assert rows == sorted(rows), "kept boxes left their original order"
        counts = _uncertain_counts_np(boxes, mask)
        dropped = np.setdiff1d(np.arange(len(boxes)), rows)
        if len(rows) and len(dropped):
            assert counts[rows].min() >= counts[dropped].max()


def test_patch_budget_of_every_box_or_more_returns_the_boxes_unchanged():
    for coarse in random_maps(seed=47, count=10):
        boxes = inference_boxes_small(coarse).numpy()
        kept = aps.keep_most_uncertain_boxes_tf(boxes, aps.attention_mask(coarse, SMALL), len(boxes) + 2).numpy()
        np.testing.assert_array_equal(kept, boxes)


def test_patch_budget_breaks_ties_by_keeping_the_earlier_box():
    mask = np.zeros((10, 40), bool)
    mask[2:4, :] = True  # each of the four boxes below holds 20 uncertain pixels
    boxes = np.array([[0, 0, 10, 10], [0, 10, 10, 20], [0, 20, 10, 30], [0, 30, 10, 40]], np.int32)
    np.testing.assert_array_equal(aps.keep_most_uncertain_boxes_tf(boxes, mask, 2).numpy(), boxes[:2])


@pytest.mark.slow
def test_inference_boxes_compile_with_xla_for_a_static_shape():
    @tf.function(jit_compile=True)
    def compiled(coarse):
        return aps.inference_boxes_tf(coarse, SMALL)

    coarse = blob_map(np.random.default_rng(19), 150, 130)
    np.testing.assert_array_equal(compiled(tf.constant(coarse)).numpy(), inference_boxes_small(coarse).numpy())


def test_inference_with_attention_size_covers_mapped_back_mask():
    config = dataclasses.replace(SMALL, attention_size=48)
    for coarse in random_maps(seed=17, count=10):
        boxes = aps.inference_boxes_tf(coarse, config).numpy()
        mask = aps.attention_mask_tf(coarse, config).numpy()
        assert_inside(boxes, coarse.shape)
        assert not np.any(mask & ~covered(boxes, coarse.shape))


# ------------------------------------------------------------------------------------------------
# Dense tiling baseline
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape_hw", [(1, 1), (63, 64), (64, 64), (65, 200), (400, 129), (8000, 600)])
def test_dense_tiling_covers_whole_image_and_stays_inside(shape_hw):
    boxes = aps.dense_tiling_boxes_tf(*shape_hw, 64).numpy()
    assert_inside(boxes, shape_hw)
    assert covered(boxes, shape_hw).all()
    expected = np.prod(-(-np.array(shape_hw) // np.minimum(64, shape_hw)))
    assert len(boxes) == expected


def test_dense_tiling_accepts_tensor_sizes_in_tf_function():
    @tf.function(input_signature=[tf.TensorSpec([], tf.int32)] * 2)
    def tile(height, width):
        return aps.dense_tiling_boxes_tf(height, width, 64)

    np.testing.assert_array_equal(tile(130, 70).numpy(), aps.dense_tiling_boxes_tf(130, 70, 64).numpy())


# ------------------------------------------------------------------------------------------------
# Edge cases shared by all samplers
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0.0, 1.0, 50 / 255, 200 / 255])
def test_map_without_uncertain_pixel_gives_no_boxes(value):
    coarse = np.full((120, 90), value, np.float32)
    training = aps.sample_training_boxes(coarse, SMALL, np.random.default_rng(0))
    assert training.boxes.shape == (0, 4) and training.centres.shape == (0, 2)
    assert inference_boxes_small(coarse).numpy().shape == (0, 4)
    assert aps.sample_random_boxes(coarse.shape, training.sizes, np.random.default_rng(0)).shape == (0, 4)


@pytest.mark.parametrize("shape_hw", [(8000, 600), (600, 8000), (100, 100), (30, 2000), (1, 1)])
def test_all_samplers_handle_small_wide_and_tall_images(shape_hw):
    rng = np.random.default_rng(18)
    coarse = blob_map(rng, *shape_hw)
    coarse[shape_hw[0] // 2, shape_hw[1] // 2] = 0.5  # at least one uncertain pixel
    mask = aps.attention_mask(coarse, PAPER)
    training = aps.sample_training_boxes(coarse, PAPER, rng)
    inference = inference_boxes_paper(coarse).numpy()
    random = aps.sample_random_boxes(shape_hw, training.sizes, rng)
    for boxes in (training.boxes, inference, random):
        assert len(boxes) > 0
        assert_inside(boxes, shape_hw)
    assert np.all(mask[training.centres[:, 0], training.centres[:, 1]])
    assert not np.any(mask & ~covered(inference, shape_hw))


def test_inference_boxes_run_no_op_that_makes_tensorflow_log_an_error():
    # TensorFlow's oneDNN build logs "oneDNN supports DT_UINT8 (DT_BOOL, ...) only on platforms with AVX-512" (an
    # E-level line that TF_CPP_MIN_LOG_LEVEL=2 does not hide) for a Transpose of other than float on AMD and AVX2 CPUs.
    script = ("import numpy as np, tensorflow as tf\n"
              "from hrsod_tf import aps\n"
              "from hrsod_tf.config import APSConfig\n"
              "coarse = np.random.default_rng(0).uniform(size=(300, 500)).astype(np.float32)\n"
              "boxes = tf.function(aps.inference_boxes_tf, reduce_retracing=True)(coarse, APSConfig(patch_size=64))\n"
              "print(int(tf.shape(boxes)[0]))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, timeout=300)
    assert done.returncode == 0 and int(done.stdout) > 0, done.stderr
    assert "only on platforms with AVX-512" not in done.stderr, done.stderr
