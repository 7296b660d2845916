"""The Caffe importer: .caffemodel files written by the tests (random blobs, the released layer names and
shapes) are converted, and the Keras networks must compute what Caffe's layers compute (NumPy reference)."""

import keras
import numpy as np
import pytest
from caffe_reference import encode_net, forward, random_blobs
from release_networks import GSN_TABLE, LRN_TABLE, glfn_table, parse_table

from hrsod_tf.caffe.converter import (
    GLFN_VARIANTS,
    caffe_layers_from_keras,
    load_caffe_weights,
    official_config,
)
from hrsod_tf.caffe.netparameter import (
    CaffeModelError,
    read_caffemodel,
    write_caffemodel,
)
from hrsod_tf.models import build_glfn, build_gsn, build_lrn

MEAN_BGR = np.array([103.939, 116.779, 123.68])
TRAINING_ONLY = [("data", "ImageData", (), ("img", "label"), []),
                 ("loss", "SoftmaxWithLoss", ("upscore3", "label"), ("loss",), [])]


def _write(path, table_text, seed, extra=(), drop=(), legacy=False, change=None):
    """Writes a .caffemodel of the table with random blobs; returns (layers, blobs)."""
    layers = parse_table(table_text)
    blobs = random_blobs(layers, np.random.default_rng(seed))
    if change:
        change(blobs)
    entries = [(layer["name"], layer["type"], layer["bottoms"], layer["tops"], blobs.get(layer["name"], []))
               for layer in layers if layer["type"] != "Input" and layer["name"] not in drop]
    path.write_bytes(encode_net(list(entries) + list(extra), legacy=legacy))
    return layers, blobs


def _moderate_logits(blobs):
    """Random VGG activations reach hundreds; scaling the last Scale layer keeps the class scores of order 1,
    so the softmax is not saturated and its comparison means something."""
    for name in ("scale_upscore3",):
        if name in blobs:
            blobs[name][0] *= 0.01
            blobs[name][1] *= 0.01


def _caffe_image(rgb):
    """What the MATLAB code feeds Caffe: BGR minus the mean, [C, H, W]."""
    return (rgb[0, :, :, ::-1] - MEAN_BGR).transpose(2, 0, 1)


def _nhwc(x):
    return np.asarray(x).transpose(1, 2, 0)[None]


def _assert_close(keras_out, caffe_out):
    scale = max(1.0, float(np.abs(caffe_out).max()))
    np.testing.assert_allclose(np.asarray(keras_out, np.float64), caffe_out, rtol=0, atol=1e-4 * scale)


def _rgb(size, seed):
    return np.random.default_rng(seed).uniform(0, 255, (1, size, size, 3)).astype("float32")


@pytest.mark.slow
def test_converted_gsn_computes_caffes_layers(tmp_path):
    layers, blobs = _write(tmp_path / "GSN.caffemodel", GSN_TABLE, 1, extra=TRAINING_ONLY,
                            change=_moderate_logits)
    config = official_config().model
    gsn = build_gsn(config)
    report = load_caffe_weights(gsn, "gsn", config, tmp_path / "GSN.caffemodel")
    assert ("loss", "SoftmaxWithLoss") in report.ignored
    rgb = _rgb(64, 2)
    expected = forward(layers, blobs, {"img": _caffe_image(rgb)})
    logits = keras.Model(gsn.inputs, gsn.get_layer("bn_upscore3").output)(rgb)
    probabilities = expected["predict"][1]
    assert 0.05 < probabilities.mean() < 0.95 and probabilities.std() > 0.05  # not two constants compared
    _assert_close(logits, _nhwc(expected["upscore3"]))
    _assert_close(gsn(rgb), _nhwc(expected["predict"]))


@pytest.mark.slow
def test_converted_lrn_computes_caffes_layers_given_the_same_guides(tmp_path):
    layers, blobs = _write(tmp_path / "LRN.caffemodel", LRN_TABLE, 3, change=_moderate_logits)
    config = official_config().model
    lrn = build_lrn(config)
    load_caffe_weights(lrn, "lrn", config, tmp_path / "LRN.caffemodel")
    rgb = _rgb(64, 4)
    guidance = np.random.default_rng(5).uniform(0, 1, (1, 64, 64, 1)).astype("float32")
    probe = keras.Model(lrn.inputs, [lrn.get_layer(n).output for n in ("guide28", "guide56", "bn_upscore3")])
    guide28, guide56, logits = (np.asarray(x) for x in probe([rgb, guidance]))
    expected = forward(layers, blobs, {"img": _caffe_image(rgb), "guide28": guide28[0].transpose(2, 0, 1),
                                       "guide56": guide56[0].transpose(2, 0, 1)})
    _assert_close(logits, _nhwc(expected["upscore3"]))
    _assert_close(lrn([rgb, guidance]), _nhwc(expected["predict"]))


@pytest.mark.parametrize("variant", sorted(GLFN_VARIANTS))
def test_converted_glfn_variant_computes_caffes_layers(tmp_path, variant):
    config = official_config(variant).model
    size = 384 if "low_res" in variant else 1024
    layers, blobs = _write(tmp_path / "GLFN.caffemodel", glfn_table(config.glfn_rates, size), 6)
    glfn = build_glfn(config)
    load_caffe_weights(glfn, "glfn", config, tmp_path / "GLFN.caffemodel")
    rgb = _rgb(44, 7)
    saliency = np.random.default_rng(8).uniform(0, 1, (1, 44, 44, 1)).astype("float32")
    expected = forward(layers, blobs, {"img1024": _caffe_image(rgb), "sal1024": saliency[0].transpose(2, 0, 1) * 255})
    logits = keras.Model(glfn.inputs, glfn.get_layer("final_score1024").output)([rgb, saliency])
    _assert_close(logits, _nhwc(expected["final_score1024"]))
    _assert_close(glfn([rgb, saliency]), _nhwc(expected["predict"]))


def test_legacy_4d_blob_headers_are_read(tmp_path):
    _, blobs = _write(tmp_path / "GLFN.caffemodel", glfn_table(), 9, legacy=True)
    config = official_config().model
    glfn = build_glfn(config)
    load_caffe_weights(glfn, "glfn", config, tmp_path / "GLFN.caffemodel")
    np.testing.assert_array_equal(glfn.get_layer("final_score1024").bias.numpy(), blobs["final_score1024"][1])


def test_batchnorm_statistics_are_divided_by_the_scale_factor_and_a_zero_factor_gives_zero(tmp_path):
    def zero_factor(blobs):
        blobs["conv2_blk/bn"][2][:] = 0.0

    _, blobs = _write(tmp_path / "GLFN.caffemodel", glfn_table(), 10, change=zero_factor)
    config = official_config().model
    glfn = build_glfn(config)
    load_caffe_weights(glfn, "glfn", config, tmp_path / "GLFN.caffemodel")
    gamma, _, mean, variance = glfn.get_layer("conv2_1_x1_bn").get_weights()
    bn = blobs["conv2_1/x1/bn"]
    np.testing.assert_allclose(mean, bn[0] / bn[2][0], rtol=1e-6)
    np.testing.assert_allclose(variance, bn[1] / bn[2][0], rtol=1e-6)
    np.testing.assert_array_equal(gamma, blobs["conv2_1/x1/scale"][0])
    _, _, mean0, variance0 = glfn.get_layer("conv2_blk_bn").get_weights()
    assert not mean0.any() and not variance0.any()


def test_keras_weights_written_as_caffe_blobs_load_back_unchanged(tmp_path):
    config = official_config().model
    source = build_glfn(config)
    rng = np.random.default_rng(11)
    for layer in source.layers:
        layer.set_weights([rng.normal(size=w.shape).astype("float32") ** 2 for w in layer.get_weights()])
    write_caffemodel(tmp_path / "GLFN.caffemodel", caffe_layers_from_keras(source, "glfn", config))
    target = build_glfn(config)
    load_caffe_weights(target, "glfn", config, tmp_path / "GLFN.caffemodel")
    for a, b in zip(source.weights, target.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


# -- refusals ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_official_glfn():
    config = official_config().model
    return config, build_glfn(config)


@pytest.mark.slow
def test_gsn_file_given_as_the_lrn_is_refused_naming_file_and_layer(tmp_path):
    _write(tmp_path / "GSN.caffemodel", GSN_TABLE, 12)
    config = official_config().model
    expected = r"GSN\.caffemodel: layer 'R1_score' of the released LRN is missing.*GSN's file"
    with pytest.raises(CaffeModelError, match=expected):
        load_caffe_weights(build_lrn(config), "lrn", config, tmp_path / "GSN.caffemodel")


@pytest.mark.slow
def test_lrn_file_given_as_the_gsn_is_refused_for_its_extra_weighted_layer(tmp_path):
    _write(tmp_path / "LRN.caffemodel", LRN_TABLE, 13)
    config = official_config().model
    with pytest.raises(CaffeModelError, match=r"LRN\.caffemodel: layer 'R1_score' .*has no such layer.*LRN's file"):
        load_caffe_weights(build_gsn(config), "gsn", config, tmp_path / "LRN.caffemodel")


def test_blob_shape_mismatch_is_refused_naming_the_layer(tmp_path, tiny_official_glfn):
    def wrong_shape(blobs):
        blobs["conv5_dcpp_5-sm"][0] = blobs["conv5_dcpp_5-sm"][0][:, :8]

    _write(tmp_path / "GLFN.caffemodel", glfn_table(), 14, change=wrong_shape)
    config, glfn = tiny_official_glfn
    with pytest.raises(CaffeModelError, match=r"GLFN\.caffemodel: layer 'conv5_dcpp_5-sm' has blobs of shapes"):
        load_caffe_weights(glfn, "glfn", config, tmp_path / "GLFN.caffemodel")


def test_truncated_file_is_refused(tmp_path, tiny_official_glfn):
    _write(tmp_path / "full.caffemodel", glfn_table(), 15)
    data = (tmp_path / "full.caffemodel").read_bytes()
    config, glfn = tiny_official_glfn
    for cut in (len(data) // 2, len(data) - 3, 40):
        path = tmp_path / f"cut{cut}.caffemodel"
        path.write_bytes(data[:cut])
        with pytest.raises(CaffeModelError, match=rf"cut{cut}\.caffemodel.*(truncated|missing)"):
            load_caffe_weights(glfn, "glfn", config, path)


@pytest.mark.parametrize("content,message", [
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "not a Caffe NetParameter|holds no Caffe layers"),
    (b'name: "VGG_ILSVRC_16_layers"\ninput: "img"\n', "text network definition"),
    (b"", "holds no Caffe layers"),
])
def test_file_that_is_not_a_netparameter_is_refused(tmp_path, content, message):
    path = tmp_path / "weights.caffemodel"
    path.write_bytes(content)
    with pytest.raises(CaffeModelError, match=rf"weights\.caffemodel.*({message})"):
        read_caffemodel(path)


def test_old_v1_layers_format_is_refused_with_a_reason(tmp_path):
    v1_layer = b"\x22\x05conv1" + b"\x28\x04"  # name = 4 ("conv1"), type = 5 (CONVOLUTION)
    path = tmp_path / "old.caffemodel"
    path.write_bytes(b"\x12" + bytes([len(v1_layer)]) + v1_layer)
    with pytest.raises(CaffeModelError, match="old.caffemodel is in Caffe's old V1 format"):
        read_caffemodel(path)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_a_blob_holding_nan_or_infinity_is_refused_naming_file_layer_and_count(tmp_path, tiny_official_glfn, value):
    def poison(blobs):
        blobs["conv5_dcpp_5-sm"][0].flat[3] = value

    _write(tmp_path / "GLFN.caffemodel", glfn_table(), 16, change=poison)
    config, glfn = tiny_official_glfn
    with pytest.raises(CaffeModelError, match=r"GLFN\.caffemodel: layer 'conv5_dcpp_5-sm' blob 0 holds 1 of \d+ "
                                              r"values that are NaN or infinite"):
        load_caffe_weights(glfn, "glfn", config, tmp_path / "GLFN.caffemodel")


def test_a_negative_batchnorm_variance_is_refused(tmp_path, tiny_official_glfn):
    def negative(blobs):
        name = next(n for n in blobs if n.endswith("/bn") and len(blobs[n]) == 3)
        blobs[name][1][0] = -2.0

    _write(tmp_path / "GLFN.caffemodel", glfn_table(), 17, change=negative)
    config, glfn = tiny_official_glfn
    with pytest.raises(CaffeModelError, match=r"GLFN\.caffemodel: layer '.*' has 1 negative variance"):
        load_caffe_weights(glfn, "glfn", config, tmp_path / "GLFN.caffemodel")
