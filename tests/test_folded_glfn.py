"""FoldedGLFN (hrsod_tf/pipeline/folded_glfn.py) computes the Keras GLFN's salient probability, tiled or not."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from hrsod_tf.config import get_preset
from hrsod_tf.models import build_glfn
from hrsod_tf.models.glfn import receptive_field_radius
from hrsod_tf.pipeline import folded_glfn
from hrsod_tf.pipeline.folded_glfn import FoldedGLFN, GLFNStructureError
from hrsod_tf.pipeline.full_resolution import glfn_tiled
from hrsod_tf.pipeline.networks import keras_probability

TINY = get_preset("tiny")
CONFIGS = {
    "tiny": TINY.model,
    "paper": get_preset("paper").model,
    "official": get_preset("official").model,
    "unit_scaling_no_transition": dataclasses.replace(
        TINY.model, glfn_input_scaling="unit", glfn_transition=False, glfn_rates=(1, 2, 3, 5)),
}


def _inputs(height, width, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.uniform(0, 255, (1, height, width, 3)).astype(np.float32)
    saliency = np.clip(rng.normal(0.3, 0.4, (1, height, width, 1)), 0, 1).astype(np.float32)
    return image, saliency


def _calibrate_batch_norms(glfn, image, saliency, rng):
    """Sets every BatchNorm's moving statistics to those of its actual input (as training would leave them),
    with random gamma/beta: non-trivial, trained-like statistics (inputs at Caffe scale have means ~100)."""
    for layer in glfn.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            probe = keras.Model(glfn.inputs, layer.input)
            values = np.asarray(probe([image, saliency], training=False), np.float64)
            mean, var = values.mean(axis=(0, 1, 2)), values.var(axis=(0, 1, 2)) + 1e-3
            gamma = rng.uniform(0.5, 2.0, mean.shape)
            beta = rng.normal(0.0, 0.5, mean.shape)
            layer.set_weights([gamma, beta, mean, var])


def _glfn(config, seed, calibrated=True):
    keras.utils.set_random_seed(seed)
    glfn = build_glfn(config)
    if calibrated:
        _calibrate_batch_norms(glfn, *_inputs(48, 40, seed=seed + 100), np.random.default_rng(seed))
    return glfn


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_folded_glfn_equals_keras_glfn_with_trained_like_batch_norm_statistics(name):
    config = CONFIGS[name]
    glfn = _glfn(config, seed=1)
    image, saliency = _inputs(57, 83, seed=2)
    reference = glfn([image, saliency], training=False).numpy()[..., 1:]
    folded = FoldedGLFN(glfn, config)(image, saliency).numpy()
    assert folded.shape == reference.shape == (1, 57, 83, 1)
    assert 0.05 < reference.std()  # the comparison is not between two constant maps
    assert np.abs(folded - reference).max() <= 1e-5


def test_folded_glfn_equals_keras_glfn_with_initial_weights_and_under_tf_function():
    glfn = _glfn(CONFIGS["paper"], seed=3, calibrated=False)
    image, saliency = _inputs(40, 64, seed=4)
    reference = glfn([image, saliency], training=False).numpy()[..., 1:]
    folded = tf.function(FoldedGLFN(glfn, CONFIGS["paper"]).__call__)(image, saliency).numpy()
    assert np.abs(folded - reference).max() <= 1e-5


@pytest.mark.parametrize("height,width,tile", [(150, 97, 32), (64, 200, 48)])
def test_tiled_folded_glfn_equals_untiled_and_the_keras_glfn(height, width, tile):
    config = CONFIGS["tiny"]
    glfn = _glfn(config, seed=5)
    folded = FoldedGLFN(glfn, config)
    image, saliency = _inputs(height, width, seed=6)
    whole = folded(image, saliency)[0].numpy()
    tiled = glfn_tiled(folded, tf.constant(image[0].astype(np.uint8)), tf.constant(saliency[0]), tile,
                       receptive_field_radius(config)).numpy()
    keras_tiled = glfn_tiled(keras_probability(glfn), tf.constant(image[0].astype(np.uint8)),
                             tf.constant(saliency[0]), tile, receptive_field_radius(config)).numpy()
    rounded = folded(image.astype(np.uint8).astype(np.float32), saliency)[0].numpy()
    assert np.abs(tiled - rounded).max() <= 1e-5 and np.abs(keras_tiled - tiled).max() <= 1e-5
    assert whole.shape == tiled.shape


def test_folded_glfn_refuses_a_model_of_another_structure():
    glfn = build_glfn(CONFIGS["tiny"])
    with pytest.raises(GLFNStructureError, match="conv2_3_x1_bn"):
        FoldedGLFN(glfn, dataclasses.replace(CONFIGS["tiny"], glfn_num_layers=3))


@pytest.mark.parametrize("name", ["paper", "tiny"])
def test_folded_glfn_equals_its_all_fused_batch_norm_form_to_1e_5(name, monkeypatch):
    # The GLFN's 6- and 10-channel BatchNorm + ReLU run as multiply, add and max (folded_glfn._affine_relu); the
    # earlier form ran every one of them as oneDNN's FusedBatchNorm, which a block of 1 channel brings back.
    glfn = _glfn(CONFIGS[name], seed=5)
    image, saliency = _inputs(45, 61, seed=6)
    today = FoldedGLFN(glfn, CONFIGS[name])(image, saliency).numpy()
    monkeypatch.setattr(folded_glfn, "_ONEDNN_BLOCK", 1)
    fused_everywhere = FoldedGLFN(glfn, CONFIGS[name])(image, saliency).numpy()
    assert np.abs(today - fused_everywhere).max() <= 1e-5
