"""The dense CRF of the ablation's "+crf" rows (DSS's parameters, pydensecrf2), outside the TF graph."""

import numpy as np
import pytest
import tensorflow as tf

from hrsod_tf.config import get_preset
from hrsod_tf.models import build_glfn, build_gsn, build_lrn
from hrsod_tf.pipeline import SaliencyPipeline
from hrsod_tf.pipeline.crf import DSS_CRF, dense_crf, dense_crf_maps

pytest.importorskip("pydensecrf.densecrf")


def _two_region_scene(size=64):
    image = np.zeros((size, size, 3), np.uint8)
    image[:, size // 2:] = (220, 60, 40)  # a red right half on black
    truth = np.zeros((size, size), bool)
    truth[:, size // 2:] = True
    return image, truth


def test_dss_parameters_are_the_ones_of_dss_crf():
    # houqb/dss_crf examples/dense_hsal.py:23, 31, 45-46, 49
    assert (DSS_CRF.epsilon, DSS_CRF.tau, DSS_CRF.iterations) == (1e-8, 1.05, 1)
    assert (DSS_CRF.gaussian_sxy, DSS_CRF.gaussian_compat) == (3, 3)
    assert (DSS_CRF.bilateral_sxy, DSS_CRF.bilateral_srgb, DSS_CRF.bilateral_compat) == (60, 5, 5)


def test_crf_snaps_an_uncertain_map_to_the_colour_edge():
    image, truth = _two_region_scene()
    blurred = np.where(truth, 0.65, 0.35) + np.random.default_rng(0).normal(0, 0.1, truth.shape)
    refined = dense_crf(image, np.clip(blurred, 0, 1))
    assert refined.shape == truth.shape and refined.dtype == np.float32
    assert 0.0 <= refined.min() and refined.max() <= 1.0
    error_before = np.abs(np.clip(blurred, 0, 1) - truth).mean()
    assert np.abs(refined - truth).mean() < 0.5 * error_before


def test_crf_keeps_a_confident_map():
    image, truth = _two_region_scene()
    refined = dense_crf(image, truth.astype(np.float32)[..., None])
    assert np.abs(refined - truth).max() < 0.01


def test_crf_variants_are_post_processing_of_their_base_variant_outside_the_graph():
    tf.keras.utils.set_random_seed(0)
    config = get_preset("tiny")
    pipeline = SaliencyPipeline.from_keras(config, build_gsn(config.model), build_lrn(config.model),
                                           build_glfn(config.model))
    image, _ = _two_region_scene(96)
    maps = pipeline.predict_variants(image, ("gsn+crf", "gsn", "gsn+aps+lrn+crf"))
    assert list(maps) == ["gsn+crf", "gsn", "gsn+aps+lrn+crf"]
    np.testing.assert_allclose(maps["gsn+crf"].numpy()[..., 0], dense_crf(image, maps["gsn"].numpy()), atol=1e-6)
    assert maps["gsn+aps+lrn+crf"].shape == (96, 96, 1)
    with pytest.raises(ValueError, match="outside the TF graph"):
        pipeline.variants_graph(tf.constant(image), ("gsn+crf",))


def test_one_crf_for_several_maps_gives_each_map_its_own_crf_result():
    # dense_crf_maps builds the image's pairwise terms once and runs each map's inference on them: the same
    # numbers as a CRF built for each map alone (dense_crf), bit for bit.
    image, truth = _two_region_scene()
    rng = np.random.default_rng(1)
    maps = [np.clip(np.where(truth, 0.6, 0.4) + rng.normal(0, s, truth.shape), 0, 1) for s in (0.05, 0.2)]
    shared = dense_crf_maps(image, maps)
    for refined, saliency in zip(shared, maps):
        assert np.array_equal(refined, dense_crf(image, saliency))
    assert not np.array_equal(shared[0], shared[1])
