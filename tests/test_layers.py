"""The networks' small layers against known values: Caffe preprocessing, the bilinear deconvolution kernel, the
guidance pooling, and the LRN's guidance input actually changing the LRN's output."""

import keras
import numpy as np

from hrsod_tf.config import get_preset
from hrsod_tf.models import build_lrn
from hrsod_tf.models.layers import BilinearUpsampling, CaffePreprocessing, GuidancePooling

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


def test_guidance_pooling_averages_factor_blocks_and_keeps_its_config():
    guidance = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    features = np.zeros((1, 2, 2, 5), "float32")
    layer = GuidancePooling(2)
    pooled = np.asarray(layer([guidance, features]))[0, ..., 0]
    np.testing.assert_allclose(pooled, [[2.5, 4.5], [10.5, 12.5]])
    assert GuidancePooling.from_config(layer.get_config()).factor == 2


def test_lrn_output_depends_on_its_guidance():
    keras.utils.set_random_seed(0)
    lrn = build_lrn(TINY)
    image = np.random.default_rng(0).uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    salient, background = np.ones((1, 64, 64, 1), "float32"), np.zeros((1, 64, 64, 1), "float32")
    difference = np.abs(np.asarray(lrn([image, salient])) - np.asarray(lrn([image, background])))
    assert difference.max() > 1e-4
