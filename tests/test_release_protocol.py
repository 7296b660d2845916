"""The authors' test protocol (test_iccv19_demo.m): the MATLAB APS in the frame, overwrite fusion, the
pipeline under protocol "release" for the script's `opt` 0/1 and `mode` 0/1 against a line-by-line NumPy port
of the script (tests/release_script.py), and inside the exported SavedModel."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from release_script import imresize as matlab_imresize
from release_script import run_script

from hrsod_tf.config import get_preset
from hrsod_tf.data.synthetic import generate_scene
from hrsod_tf.deploy import saved_model as export
from hrsod_tf.image_io import saliency_to_uint8
from hrsod_tf.models import build_glfn, build_gsn, build_lrn, build_saliency_network
from hrsod_tf.pipeline import SaliencyPipeline
from hrsod_tf.pipeline.graph_ops import coarse_map, paste_patches
from hrsod_tf.pipeline.imresize import round_like_uint8
from hrsod_tf.pipeline.release import release_aps_boxes_tf, release_attention_tf
from hrsod_tf.pipeline.saliency_pipeline import with_release_opt


def _boxes(mask):
    return release_aps_boxes_tf(tf.constant(mask)).numpy()


def test_aps_short_columns_get_one_centre_at_their_middle_uncertain_row():
    mask = np.zeros((1024, 1024), bool)
    mask[500:510, 100:900] = True  # W = 799: N = ceil(799 / 384) + 3 = 6, d = round(799 / 6) = 133
    boxes = _boxes(mask)
    xs = [100, 233, 366, 499, 632, 765, 898]  # N + 1 columns, the last one clipped to max(col) = 899
    expected = [[504 - 192, max(x - 192, 0), 504 - 192 + 385, min(max(x - 192, 0) + 385, 1024)] for x in xs]
    np.testing.assert_array_equal(boxes, expected)


def test_aps_columns_of_medium_height_get_their_top_and_bottom_rows():
    mask = np.zeros((1024, 1024), bool)
    mask[400:600, 300:310] = True  # extent 199: 192 <= 199 < 384
    boxes = _boxes(mask)
    assert sorted({int(b[0]) for b in boxes}) == [400 - 192, 599 - 192]
    assert len(boxes) == 2 * 5  # W = 9: N = 1 + 3, N + 1 = 5 columns


def test_aps_tall_columns_take_centres_from_the_whole_maps_top_to_bottom():
    mask = np.zeros((1024, 1024), bool)
    mask[100:900, 500:511] = True  # extent 799: N_h = 3, d_h = round(799 / 3) = 266
    boxes = _boxes(mask)
    starts = sorted({int(b[0]) for b in boxes})
    assert starts == [max(c - 192, 0) for c in (100, 366, 632, 898)]  # centres from 100 to 898, 266 apart
    assert len(boxes) == 4 * 5
    assert (boxes[:, 2] <= 1024).all() and (boxes[:, 0] >= 0).all()


def test_aps_without_uncertain_pixels_gives_no_box():
    assert _boxes(np.zeros((64, 64), bool)).shape == (0, 4)


def test_attention_compares_uint8_levels_strictly():
    levels = np.array([50.4, 50.6, 199.4, 199.6], "float32") / 255.0
    mask = release_attention_tf(tf.constant(levels.reshape(1, 4, 1))).numpy()[0]
    np.testing.assert_array_equal(mask, [False, True, True, False])
    levels = round_like_uint8(tf.constant([-3.0, 0.5, 254.5, 300.0])).numpy()
    np.testing.assert_array_equal(levels, [0, 1, 255, 255])


def test_paste_of_boxes_of_several_sizes_covers_each_and_averages_overlaps():
    patches = tf.stack([tf.fill([8, 8, 1], 1.0), tf.fill([8, 8, 1], 0.0)])
    boxes = tf.constant([[0, 0, 6, 5], [3, 2, 10, 10]])
    total, count = paste_patches(patches, boxes, tf.constant([12, 12]), method="bicubic")
    count = count.numpy()[..., 0]
    assert count[0, 0] == 1 and count[4, 3] == 2 and count[11, 11] == 0 and count[9, 9] == 1
    np.testing.assert_allclose(total.numpy()[4, 3, 0] / count[4, 3], 0.5, atol=1e-6)


def _release_config(mode="high_res", opt=1, preset="tiny"):
    config = get_preset(preset)
    return config.replace(inference=dataclasses.replace(config.inference, protocol="release", release_mode=mode,
                                                        release_opt=opt))


def _pipeline(mode, opt=1):
    tf.keras.utils.set_random_seed(3)
    config = _release_config(mode, opt)
    return SaliencyPipeline.from_keras(config, build_gsn(config.model), build_lrn(config.model),
                                       build_glfn(config.model))


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["low_res", "high_res"])
def test_release_protocol_returns_maps_at_the_images_size(mode):
    pipeline = _pipeline(mode)
    image = np.random.default_rng(4).integers(0, 256, (90, 130, 3), dtype=np.uint8)
    maps = pipeline.predict_variants(image, ("gsn", "gsn+aps+lrn", "full"))
    for variant, value in maps.items():
        assert value.shape == (90, 130, 1), variant
        assert 0.0 <= float(tf.reduce_min(value)) and float(tf.reduce_max(value)) <= 1.0


def test_gsn_variant_is_the_scripts_gsn_map_resized_to_the_image():
    pipeline = _pipeline("low_res")
    image = np.random.default_rng(5).integers(0, 256, (70, 50, 3), dtype=np.uint8)
    size = pipeline.config.model.gsn_input_size
    gsn = pipeline.networks.gsn(tf.constant(matlab_imresize(image.astype(np.float32), [size, size], "bilinear"))[None])
    expected = matlab_imresize(gsn.numpy()[0], [70, 50])  # test_iccv19_demo.m:15-21
    np.testing.assert_allclose(pipeline.predict(image, "gsn").numpy(), np.clip(expected, 0, 1), atol=1e-5)
    full_res = SaliencyPipeline(get_preset("tiny"), pipeline.networks)
    direct = coarse_map(pipeline.networks.gsn, tf.constant(image), size).numpy()
    np.testing.assert_allclose(full_res.predict(image, "gsn").numpy(), direct, atol=1e-6)


def test_release_opt_is_refused_for_the_full_resolution_protocol():
    with pytest.raises(ValueError, match="protocol 'release'"):
        with_release_opt(get_preset("tiny"), 0)
    assert with_release_opt(_release_config(opt=1), 0).inference.release_opt == 0
    with pytest.raises(ValueError, match="release_opt"):
        dataclasses.replace(get_preset("tiny").inference, release_opt=2)


@pytest.fixture(scope="module")
def script_networks():
    """Narrow random networks at the script's geometry (GSN 224, LRN 384, D 384), the pipeline's and the
    reference's: the same weights, the LRN in both of its input forms."""
    tf.keras.utils.set_random_seed(7)
    config = get_preset("tiny")
    config = config.replace(
        model=dataclasses.replace(config.model, gsn_input_size=224, lrn_input_size=384),
        aps=dataclasses.replace(config.aps, patch_size=384, extra_columns=3))
    gsn, lrn, glfn = build_gsn(config.model), build_lrn(config.model), build_glfn(config.model)
    scaled = build_saliency_network(config.model, "lrn_scaled_guidance")
    scaled.set_weights(lrn.get_weights())

    def probability(model, *inputs):
        batch = [np.asarray(x, np.float32)[None, ..., None] if np.ndim(x) == 2 else np.asarray(x, np.float32)[None]
                 for x in inputs]
        return model(batch if len(batch) > 1 else batch[0], training=False).numpy()[0, :, :, 1]

    functions = dict(gsn=lambda img: probability(gsn, img),
                     lrn=lambda img, g8, g4: probability(scaled, img, g8, g4),
                     glfn=lambda img, saliency: probability(glfn, img, saliency / 255.0))
    return config, (gsn, lrn, glfn), functions


def _photo():
    image, _ = generate_scene(11, min_side=150, max_side=150)
    return image


@pytest.mark.slow
@pytest.mark.parametrize("opt", [0, 1])
@pytest.mark.parametrize("mode", [0, 1])
def test_release_protocol_follows_the_script_within_a_tenth_of_a_grey_level(script_networks, opt, mode):
    config, (gsn, lrn, glfn), functions = script_networks
    config = config.replace(inference=dataclasses.replace(
        config.inference, protocol="release", release_opt=opt, release_mode=("low_res", "high_res")[mode]))
    image = _photo()
    expected = run_script(image, **functions, opt=opt, mode=mode, mode0_opt1_size="image", gsn_side=224,
                          lrn_side=384, patch_size=384).astype(np.float64)
    got = saliency_to_uint8(SaliencyPipeline.from_keras(config, gsn, lrn, glfn).predict(image, "full").numpy())
    difference = np.abs(got.reshape(expected.shape).astype(np.float64) - expected)
    # The bar is one grey level on average; the rest is the LRN's guidance path (see release.py).
    assert difference.mean() <= 0.1, (difference.mean(), difference.max())
    assert expected.std() > 1.0  # the maps are not flat: the comparison can fail


def test_official_preset_defaults_to_the_release_protocol_and_the_others_to_full_resolution():
    assert get_preset("official").inference.protocol == "release"
    for name in ("paper", "small", "tiny"):
        assert get_preset(name).inference.protocol == "full_resolution"


@pytest.mark.slow
def test_exported_saved_model_runs_the_release_protocol(tmp_path):
    pipeline = _pipeline("low_res")
    image = np.random.default_rng(6).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    expected = pipeline.predict(image, "full").numpy()
    module = export.ServingModule(pipeline)
    version = export.save_serving_module(module, tmp_path / "hrsod")
    loaded = tf.saved_model.load(str(version))
    got = loaded.signatures["predict_image"](image=tf.constant(image))["saliency"].numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)
