import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from hrsod_tf.config import get_preset
from hrsod_tf.models import build_glfn, build_gsn, build_lrn
from hrsod_tf.models.glfn import receptive_field_radius
from hrsod_tf.pipeline import VARIANTS, SaliencyPipeline, graph_ops
from hrsod_tf.pipeline.full_resolution import glfn_tiled
from hrsod_tf.pipeline.graph_ops import fuse, paste_patches, run_in_batches
from hrsod_tf.pipeline.networks import keras_probability

TINY = get_preset("tiny")


@pytest.fixture(scope="module")
def pipeline():
    keras_seed = 3
    tf.keras.utils.set_random_seed(keras_seed)
    return SaliencyPipeline.from_keras(TINY, build_gsn(TINY.model), build_lrn(TINY.model), build_glfn(TINY.model))


def _image(height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize("height,width", [(101, 67), (33, 301), (517, 41), (1, 1), (64, 64)])
def test_every_variant_returns_a_map_of_the_input_size(pipeline, height, width):
    maps = pipeline.predict_variants(_image(height, width), VARIANTS)
    for variant, saliency in maps.items():
        assert saliency.shape == (height, width, 1), variant
        assert saliency.dtype == tf.float32
        assert 0.0 <= float(tf.reduce_min(saliency)) and float(tf.reduce_max(saliency)) <= 1.0


def test_lrn_variants_equal_gsn_outside_the_uncertain_region(pipeline):
    # A coarse map with an uncertain band (0.5) between a salient (0.95) and a background (0.02) part.
    coarse = np.full((180, 240, 1), 0.02, np.float32)
    coarse[:, 120:] = 0.95
    coarse[:, 100:140] = 0.5
    coarse = tf.constant(coarse)
    image = tf.constant(_image(180, 240, seed=1))
    stages = pipeline.protocol
    uncertain = stages.attention(coarse).numpy()
    for sampler in ("aps", "rps", "dense"):
        fused = stages.refine(image, coarse, stages.boxes(coarse, sampler)).numpy()
        np.testing.assert_array_equal(fused[~uncertain], coarse.numpy()[~uncertain], err_msg=sampler)
        if sampler == "aps":  # APS covers every uncertain pixel, so the LRN decides them all.
            assert (fused[uncertain] != 0.5).all()


def test_a_map_with_no_uncertain_pixel_is_left_as_the_gsn_gave_it(pipeline):
    coarse = tf.ones([50, 70, 1]) * 0.99
    image = tf.constant(_image(50, 70))
    fused = pipeline.protocol.refine(image, coarse, pipeline.protocol.boxes(coarse, "aps"))
    np.testing.assert_array_equal(fused.numpy(), coarse.numpy())


@pytest.mark.parametrize("height,width,tile", [(300, 200, 64), (97, 131, 32)])
def test_tiled_glfn_equals_untiled(height, width, tile):
    glfn = build_glfn(TINY.model)
    image = tf.constant(_image(height, width, seed=2))
    fused = tf.random.stateless_uniform([height, width, 1], (1, 2))
    whole = glfn([tf.cast(image, tf.float32)[tf.newaxis], fused[tf.newaxis]])[0, :, :, 1:]
    tiled = glfn_tiled(keras_probability(glfn), image, fused, tile, receptive_field_radius(TINY.model))
    assert float(tf.reduce_max(tf.abs(whole - tiled))) < 1e-4


@pytest.mark.slow
def test_pipeline_tiles_the_glfn_above_its_pixel_budget(pipeline):
    image = _image(150, 210, seed=4)
    untiled = pipeline.predict(image, "full").numpy()
    small_budget = dataclasses.replace(
        TINY, inference=dataclasses.replace(TINY.inference, glfn_max_pixels=64 * 64, glfn_tile_size=48)
    )
    tiled = SaliencyPipeline(small_budget, pipeline.networks).predict(image, "full")
    assert np.abs(tiled.numpy() - untiled).max() < 1e-4


def test_random_boxes_are_as_many_and_as_large_as_aps_boxes(pipeline):
    coarse = tf.random.stateless_uniform([300, 400, 1], (5, 6))
    aps, rps = pipeline.protocol.boxes(coarse, "aps").numpy(), pipeline.protocol.boxes(coarse, "rps").numpy()
    assert aps.shape == rps.shape and len(aps) > 0
    np.testing.assert_array_equal(aps[:, 2:] - aps[:, :2], rps[:, 2:] - rps[:, :2])
    assert (rps[:, :2] >= 0).all() and (rps[:, 2] <= 300).all() and (rps[:, 3] <= 400).all()


def test_unknown_or_untrained_variants_say_what_to_do():
    gsn_only = SaliencyPipeline.from_keras(TINY, build_gsn(TINY.model))
    with pytest.raises(ValueError, match="known: gsn"):
        gsn_only.predict(_image(32, 32), "crf")
    with pytest.raises(ValueError, match="--stage lrn"):
        gsn_only.predict(_image(32, 32), "gsn+aps+lrn")
    assert gsn_only.predict(_image(32, 48), "gsn").shape == (32, 48, 1)


@pytest.mark.parametrize("count", [0, 3, 8, 11])
def test_run_in_batches_gives_every_row_once_whatever_the_count(count):
    rows = tf.reshape(tf.range(count * 2, dtype=tf.float32), [count, 2])
    out = tf.function(lambda r: run_in_batches(lambda x: x * 2, (r,), 4, [2]))(rows)
    np.testing.assert_array_equal(out.numpy(), rows.numpy() * 2)


def test_boxes_of_one_size_are_pasted_with_the_sums_of_pasting_them_one_by_one():
    # The batched paste (segment sums) adds each pixel's values in the order of the boxes, from zero, as pasting
    # the boxes one after the other does: the same sums to the bit, overlaps included.
    rng = np.random.default_rng(0)
    corners = rng.integers(0, 40, size=(9, 2))
    boxes = tf.constant(np.concatenate([corners, corners + 24], axis=1), tf.int32)
    patches = tf.constant(rng.random((9, 16, 16, 1)), tf.float32)
    height_width = tf.constant([64, 70])
    batched = paste_patches(patches, boxes, height_width)
    one_by_one = graph_ops._paste_each(patches, boxes, height_width, "bilinear")
    for ours, reference in zip(batched, one_by_one):
        np.testing.assert_array_equal(ours.numpy(), reference.numpy())
    assert batched[1].numpy().max() > 1  # overlaps were summed


def test_paste_and_fuse_average_overlapping_patches_on_known_boxes():
    # Two 4x4 boxes overlapping on a 2x2 square of a 6x8 map; constant patches 1 and 3 (resized: still constant).
    boxes = tf.constant([[0, 0, 4, 4], [2, 2, 6, 6]], tf.int32)
    patches = tf.constant(np.stack([np.full((2, 2, 1), 1.0), np.full((2, 2, 1), 3.0)]), tf.float32)
    total, count = paste_patches(patches, boxes, tf.constant([6, 8]))
    expected_count = np.zeros((6, 8))
    expected_count[0:4, 0:4] += 1
    expected_count[2:6, 2:6] += 1
    np.testing.assert_array_equal(count.numpy()[..., 0], expected_count)

    coarse = tf.fill([6, 8, 1], 0.5)
    attention = np.ones((6, 8), bool)
    attention[0, 0] = False  # certain pixel: keeps the coarse map although a patch covers it
    fused = fuse(coarse, total, count, region=tf.constant(attention)).numpy()[..., 0]
    expected = np.full((6, 8), 0.5)  # no patch: the coarse map
    expected[0:4, 0:4] = 1.0
    expected[2:6, 2:6] = 3.0
    expected[2:4, 2:4] = 2.0  # overlap: the average of 1 and 3
    expected[0, 0] = 0.5
    np.testing.assert_allclose(fused, expected)
