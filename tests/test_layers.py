"""The networks' small layers against known values: Caffe preprocessing, the bilinear deconvolution kernel, the
guidance pooling, and the LRN's guidance input actually changing the LRN's output."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from hrsod_tf.config import get_preset
from hrsod_tf.models import build_lrn
from hrsod_tf.models.layers import (
    BilinearUpsampling,
    CaffePreprocessing,
    GuidanceResizing,
    antialiased_bicubic_resize,
    antialiased_resize_matrix,
)

TINY = get_preset("tiny").model


def test_caffe_preprocessing_equals_keras_vgg16_preprocess_input():
    rgb = np.random.default_rng(0).uniform(0, 255, (2, 5, 7, 3)).astype("float32")
    expected = keras.applications.vgg16.preprocess_input(rgb.copy())
    np.testing.assert_allclose(np.asarray(CaffePreprocessing()(rgb)), expected, atol=1e-4)


def test_caffe_preprocessing_of_a_known_pixel_is_bgr_minus_the_imagenet_mean():
    pixel = np.array([[[[10.0, 20.0, 30.0]]]], "float32")  # R, G, B
    out = np.asarray(CaffePreprocessing()(pixel))[0, 0, 0]
    np.testing.assert_allclose(out, [30 - 103.939, 20 - 116.779, 10 - 123.68], atol=1e-4)


def test_bilinear_upsampling_kernel_has_the_fcn_weights_per_channel():
    kernel = np.asarray(BilinearUpsampling()((4, 4, 2, 2)))
    one_d = np.array([0.25, 0.75, 0.75, 0.25])
    np.testing.assert_allclose(kernel[:, :, 0, 0], np.outer(one_d, one_d))
    np.testing.assert_allclose(kernel[:, :, 1, 1], np.outer(one_d, one_d))
    assert not kernel[:, :, 0, 1].any() and not kernel[:, :, 1, 0].any()  # channels upsampled on their own
    odd = np.asarray(BilinearUpsampling()((3, 3, 1, 1)))[:, :, 0, 0]
    np.testing.assert_allclose(odd, np.outer([0.5, 1.0, 0.5], [0.5, 1.0, 0.5]))


def test_deconvolution_with_the_bilinear_kernel_doubles_a_ramp_linearly():
    deconv = keras.layers.Conv2DTranspose(1, 4, strides=2, padding="same", use_bias=False,
                                          kernel_initializer=BilinearUpsampling())
    ramp = np.tile(np.arange(8, dtype="float32"), (8, 1))[None, ..., None]  # value = column index
    out = np.asarray(deconv(ramp))[0, 4:-4, 4:-4, 0]  # away from the borders
    # Bilinear x2 upsampling of x puts the output column j at input position (j - 0.5) / 2.
    expected_row = (np.arange(16, dtype="float32")[4:-4] - 0.5) / 2
    np.testing.assert_allclose(out, np.tile(expected_row, (out.shape[0], 1)), atol=1e-5)


def _half_and_half(left, right, size=32):
    guidance = np.full((1, size, size, 1), right, "float32")
    guidance[:, :, : size // 2] = left
    return guidance


def test_guidance_resizing_rounds_the_map_to_0_or_1_then_halves_it():
    layer = GuidanceResizing(2)
    out = np.asarray(layer([_half_and_half(0.7, 0.2), np.zeros((1, 16, 16, 5), "float32")]))[0, ..., 0]
    assert out.shape == (16, 16)
    # Output column j is centred on input column 2j + 0.5; the antialiased bicubic kernel reaches 4 px around it,
    # so columns 0..5 see only the left half (1 after rounding) and 10..15 only the right half (0).
    np.testing.assert_allclose(out[:, :6], 1.0, atol=1e-5)
    np.testing.assert_allclose(out[:, 10:], 0.0, atol=1e-5)
    assert GuidanceResizing.from_config(layer.get_config()).factor == 2


def test_guidance_resizing_without_binarize_keeps_the_map_values():
    layer = GuidanceResizing(2, binarize=False)
    out = np.asarray(layer([_half_and_half(0.7, 0.2), np.zeros((1, 16, 16, 5), "float32")]))[0, ..., 0]
    np.testing.assert_allclose(out[:, :6], 0.7, atol=1e-5)
    np.testing.assert_allclose(out[:, 10:], 0.2, atol=1e-5)
    assert GuidanceResizing.from_config(layer.get_config()).binarize is False


def test_lrn_output_depends_on_its_guidance():
    keras.utils.set_random_seed(0)
    lrn = build_lrn(TINY)
    image = np.random.default_rng(0).uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    salient, background = np.ones((1, 64, 64, 1), "float32"), np.zeros((1, 64, 64, 1), "float32")
    difference = np.abs(np.asarray(lrn([image, salient])) - np.asarray(lrn([image, background])))
    assert difference.max() > 1e-4


@pytest.mark.parametrize("side, out", [(384, 48), (384, 96), (192, 24), (64, 16), (224, 28), (100, 33), (40, 56)])
def test_matrix_resize_gives_the_numbers_of_tensorflows_antialiased_bicubic_resize(side, out):
    images = np.random.default_rng(side).uniform(0, 1, (2, side, side, 1)).astype("float32")
    expected = tf.image.resize(images, [out, out], method="bicubic", antialias=True).numpy()
    np.testing.assert_allclose(np.asarray(antialiased_bicubic_resize(images, out, out)), expected, atol=1e-6)


def test_matrix_resize_works_on_shapes_known_only_when_run():
    resize = tf.function(lambda x: antialiased_bicubic_resize(x, tf.shape(x)[1] // 8, tf.shape(x)[2] // 4),
                         input_signature=[tf.TensorSpec([None, None, None, 1], tf.float32)])
    images = np.random.default_rng(0).uniform(0, 1, (1, 96, 64, 1)).astype("float32")
    expected = tf.image.resize(images, [12, 16], method="bicubic", antialias=True).numpy()
    np.testing.assert_allclose(resize(images).numpy(), expected, atol=1e-6)


def test_resize_matrix_rows_sum_to_one():
    np.testing.assert_allclose(np.asarray(antialiased_resize_matrix(384, 48)).sum(axis=1), 1.0, atol=1e-6)
