import dataclasses

import keras
import numpy as np
import pytest

from hrsod_tf.config import get_preset
from hrsod_tf.models import VGG16_LAYER_NAMES, build_glfn, build_gsn, build_lrn, load_backbone_weights
from hrsod_tf.models.glfn import receptive_field_radius
from hrsod_tf.precision import resolve_precision, set_precision

TINY = get_preset("tiny").model
PAPER_GSN_LRN_MB = 129.6  # Table 3 of the paper, float32 weights of GSN + LRN
PAPER_GLFN_KB = 11.9

# Exact parameter counts (GSN, LRN, GLFN) of every preset, as the README's size table states them. A change of
# an architecture changes these on purpose: update this table and the README's together.
PARAMETER_COUNTS = {
    "paper": (16_190_796, 16_190_812, 3_070),
    "official": (16_190_796, 16_190_812, 3_070),
    "small": (277_332, 277_348, 3_070),
    "tiny": (21_960, 21_976, 1_222),
}


def _images(batch, height, width, channels=3, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (batch, height, width, channels)).astype("float32")


@pytest.mark.parametrize("height,width", [(64, 64), (48, 112), (128, 32)])
def test_gsn_output_matches_square_and_non_square_inputs(height, width):
    out = build_gsn(TINY)(_images(2, height, width))
    assert out.shape == (2, height, width, 2)
    np.testing.assert_allclose(np.sum(out, axis=-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("height,width", [(64, 64), (48, 112)])
def test_lrn_output_matches_square_and_non_square_inputs(height, width):
    guidance = np.random.default_rng(1).uniform(0, 1, (2, height, width, 1)).astype("float32")
    out = build_lrn(TINY)([_images(2, height, width), guidance])
    assert out.shape == (2, height, width, 2)


def test_lrn_rejects_guidance_of_the_wrong_size():
    lrn = build_lrn(TINY)
    with pytest.raises(ValueError, match="LRN guidance has spatial shape"):
        lrn([_images(1, 64, 64), np.zeros((1, 32, 32, 1), "float32")])
    # With static input shapes Keras' own input check names the input first.
    with pytest.raises(ValueError, match="guidance"):
        build_lrn(TINY, input_size=64)([_images(1, 64, 64), np.zeros((1, 64, 32, 1), "float32")])


@pytest.mark.parametrize("height,width", [(37, 53), (64, 200)])
def test_glfn_keeps_any_input_size(height, width):
    saliency = np.random.default_rng(2).uniform(0, 1, (1, height, width, 1)).astype("float32")
    out = build_glfn(TINY)([_images(1, height, width), saliency])
    assert out.shape == (1, height, width, 2)


def test_glfn_has_no_pooling_and_no_strides():
    for layer in build_glfn(get_preset("paper").model).layers:
        assert "pool" not in layer.__class__.__name__.lower()
        assert getattr(layer, "strides", (1, 1)) == (1, 1)


@pytest.mark.parametrize("preset", sorted(PARAMETER_COUNTS))
def test_parameter_counts_of_every_preset_are_exact(preset):
    model = dataclasses.replace(get_preset(preset).model, backbone_weights="none")
    counts = tuple(build(model).count_params() for build in (build_gsn, build_lrn, build_glfn))
    assert counts == PARAMETER_COUNTS[preset]


def test_paper_preset_sizes_match_table_3():
    config = get_preset("paper").model
    gsn_lrn_mb = (build_gsn(config).count_params() + build_lrn(config).count_params()) * 4 / 1e6
    glfn_bytes = build_glfn(config).count_params() * 4
    assert abs(gsn_lrn_mb - PAPER_GSN_LRN_MB) / PAPER_GSN_LRN_MB < 0.05
    assert glfn_bytes < 16_000
    assert abs(glfn_bytes / 1024 - PAPER_GLFN_KB) / PAPER_GLFN_KB < 0.05


def test_glfn_receptive_field_radius_bounds_the_influence_of_a_pixel():
    glfn = build_glfn(TINY)
    radius = receptive_field_radius(TINY)
    size = 2 * radius + 9
    image, saliency = _images(1, size, size), np.full((1, size, size, 1), 0.5, "float32")
    base = glfn([image, saliency]).numpy()
    image[0, 0, 0] += 100.0  # perturb one corner pixel
    changed = np.abs(glfn([image, saliency]).numpy() - base).max(axis=-1)[0] > 0
    ys, xs = np.nonzero(changed)
    assert changed[0, 0] and ys.max() <= radius and xs.max() <= radius


def test_backbone_loads_a_local_keras_applications_vgg16_weights_file(tmp_path):
    reference = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    for suffix in (".weights.h5", ".h5"):
        path = tmp_path / f"vgg16{suffix}"
        if suffix == ".h5":
            reference.save(path)  # a legacy whole-model HDF5 file, as users download them
        else:
            reference.save_weights(path)
        gsn = build_gsn(get_preset("paper").model)
        assert load_backbone_weights(gsn, str(path)) == 13
        for name in VGG16_LAYER_NAMES:
            np.testing.assert_array_equal(gsn.get_layer(name).kernel.numpy(), reference.get_layer(name).kernel.numpy())
            np.testing.assert_array_equal(gsn.get_layer(name).bias.numpy(), reference.get_layer(name).bias.numpy())


def test_backbone_weights_need_full_vgg16_widths(tmp_path):
    reference = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    path = tmp_path / "vgg16.weights.h5"
    reference.save_weights(path)
    with pytest.raises(ValueError, match="full VGG16 widths"):
        load_backbone_weights(build_gsn(TINY), str(path))


def test_missing_backbone_weights_file_says_what_to_give():
    with pytest.raises(FileNotFoundError, match="imagenet"):
        load_backbone_weights(build_gsn(TINY), "/nonexistent/vgg16.h5")


def test_auto_precision_is_mixed_float16_with_a_gpu_and_float32_without(monkeypatch):
    import tensorflow as tf

    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: [tf.config.PhysicalDevice("/physical_device:GPU:0", "GPU")])
    assert resolve_precision("auto") == "mixed_float16"
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    assert resolve_precision("auto") == "float32"
    assert resolve_precision("float32") == "float32"
    with pytest.raises(ValueError):
        resolve_precision("fp16")


def test_networks_under_mixed_bfloat16_return_float32_probabilities():
    assert set_precision("mixed_bfloat16") == "mixed_bfloat16"
    image, guidance = _images(1, 64, 64), np.full((1, 64, 64, 1), 0.5, "float32")
    for model, inputs in (
        (build_gsn(TINY), image),
        (build_lrn(TINY), [image, guidance]),
        (build_glfn(TINY), [image, guidance]),
    ):
        assert model.get_layer("probabilities").compute_dtype == "float32"
        out = model(inputs)
        assert out.dtype == "float32"
        np.testing.assert_allclose(np.sum(out, axis=-1), 1.0, atol=1e-5)
