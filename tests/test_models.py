import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf
from release_networks import GLFN_DH_TABLE, GSN_TABLE, LRN_TABLE, keras_parameter_count, parse_table

from hrsod_tf.config import get_preset
from hrsod_tf.models import VGG16_LAYER_NAMES, build_glfn, build_gsn, build_lrn, load_backbone_weights
from hrsod_tf.models.glfn import receptive_field_radius
from hrsod_tf.precision import resolve_precision, set_precision

TINY = get_preset("tiny").model
PAPER_GSN_LRN_MB = 129.6  # Table 3 of the paper, float32 weights of GSN + LRN

# Exact parameter counts (GSN, LRN, GLFN) of every preset, as docs/METHOD.md's size table states them. A change of
# an architecture changes these on purpose: update this table and that one together.
PARAMETER_COUNTS = {
    "paper": (16_199_412, 16_199_536, 1_658),
    "official": (16_199_412, 16_199_536, 1_658),
    "small": (279_548, 279_672, 1_658),
    "tiny": (23_216, 23_340, 1_234),
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



@pytest.mark.parametrize("preset", ["paper", "official"])
def test_gsn_and_lrn_parameter_counts_equal_the_released_prototxt_blob_shapes(preset):
    config = get_preset(preset).model
    assert build_gsn(config).count_params() == keras_parameter_count(parse_table(GSN_TABLE))
    assert build_lrn(config).count_params() == keras_parameter_count(parse_table(LRN_TABLE))


def test_gsn_and_lrn_float32_weights_give_table_3s_129_6_mb():
    config = get_preset("official").model
    megabytes = (build_gsn(config).count_params() + build_lrn(config).count_params()) * 4 / 1e6
    assert round(megabytes, 1) == PAPER_GSN_LRN_MB


@pytest.mark.parametrize("table,builder", [(GSN_TABLE, build_gsn), (LRN_TABLE, build_lrn)])
def test_gsn_and_lrn_layer_names_are_the_released_caffe_layer_names(table, builder):
    keras_names = {layer.name for layer in builder(get_preset("official").model).layers}
    for layer in parse_table(table):
        if layer["type"] in ("Input", "Scale") or layer["name"] == "predict":
            continue
        name = layer["name"]
        if name.startswith("conv") and name[4:].replace("_", "").isdigit():  # VGG: conv3_2 -> block3_conv2
            name = f"block{name[4]}_conv{name[6]}"
        elif name.startswith("pool"):
            name = f"block{name[4]}_pool"
        elif name.startswith("relu") and name[4:].replace("_", "").isdigit() and name != "relu5_3":
            continue  # VGG ReLUs are the Conv2D activations of keras.applications.VGG16
        assert name in keras_names, layer["name"]


@pytest.mark.parametrize("preset", ["paper", "official"])
def test_glfn_parameter_count_equals_the_released_prototxt_blob_shapes(preset):
    expected = keras_parameter_count(parse_table(GLFN_DH_TABLE))
    assert build_glfn(get_preset(preset).model).count_params() == expected


def test_glfn_layer_names_are_the_released_caffe_layer_names():
    caffe_names = {layer["name"] for layer in parse_table(GLFN_DH_TABLE) if layer["type"] not in ("Input", "Scale")}
    caffe_names = {name.replace("/", "_") for name in caffe_names} - {"predict"}
    keras_names = {layer.name for layer in build_glfn(get_preset("official").model).layers}
    assert caffe_names <= keras_names


def test_glfn_unit_input_scaling_feeds_the_dense_block_values_in_minus_one_to_one():
    config = dataclasses.replace(TINY, glfn_input_scaling="unit")
    glfn = build_glfn(config)
    probe = keras.Model(glfn.inputs, glfn.get_layer("concat_1024").output)
    out = probe([np.full((1, 8, 8, 3), 255.0, "float32"), np.ones((1, 8, 8, 1), "float32")]).numpy()
    np.testing.assert_allclose(out, 1.0, atol=1e-6)


def test_glfn_caffe_input_scaling_is_bgr_minus_mean_and_the_map_times_255():
    glfn = build_glfn(TINY)
    probe = keras.Model(glfn.inputs, glfn.get_layer("concat_1024").output)
    rgb = np.zeros((1, 4, 4, 3), "float32")
    rgb[..., 0] = 200.0  # red
    out = probe([rgb, np.full((1, 4, 4, 1), 0.5, "float32")]).numpy()[0, 0, 0]
    np.testing.assert_allclose(out, [-103.939, -116.779, 200.0 - 123.68, 127.5], atol=1e-4)


def test_glfn_receptive_field_radius_bounds_the_influence_of_a_pixel():
    # Seeded: at random init the GLFN's softmax saturates at some pixels (Caffe-scale inputs), and with some
    # initialisations at the perturbed one, whatever the other tests drew before.
    keras.utils.set_random_seed(0)
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


def test_lrn_guidance_is_rounded_then_resized_to_one_eighth_and_one_quarter():
    lrn = build_lrn(TINY)
    probe = keras.Model(lrn.inputs, [lrn.get_layer("guide28").output, lrn.get_layer("guide56").output])
    guidance = np.full((1, 64, 64, 1), 0.4, "float32")
    guidance[:, :, 32:] = 0.6
    guide28, guide56 = (out.numpy() for out in probe([_images(1, 64, 64), guidance]))
    assert guide28.shape == (1, 8, 8, 1) and guide56.shape == (1, 16, 16, 1)
    np.testing.assert_allclose(guide56[0, :, :6, 0], 0.0, atol=1e-6)
    np.testing.assert_allclose(guide56[0, :, 10:, 0], 1.0, atol=1e-6)
