"""The speed/quality levels (hrsod_tf.quality): the patch budget in both protocols, the default unchanged, and the
setting passed through the Python API, `hrsod predict`, the web page and `hrsod export`."""

import dataclasses
import json
import warnings

import cv2
import numpy as np
import pytest
import tensorflow as tf
from helpers import command_module

from hrsod_tf.aps import attention_mask_tf, uncertain_pixels_in_boxes_tf
from hrsod_tf.config import InferenceConfig, get_preset
from hrsod_tf.deploy.model_loading import load_pipeline
from hrsod_tf.deploy.saliency_model import load
from hrsod_tf.deploy.serving_model import METADATA_FILE, load_serving_model
from hrsod_tf.deploy.web_app import create_app
from hrsod_tf.image_io import encode_png
from hrsod_tf.models import build_glfn, build_gsn, build_lrn
from hrsod_tf.pipeline import SaliencyPipeline
from hrsod_tf.pipeline.release import ReleaseProtocol, release_attention_tf
from hrsod_tf.quality import DEFAULT_QUALITY, QUALITY_LEVELS, quality_of, with_quality
from hrsod_tf.workdir import make_random_workdir

with warnings.catch_warnings():  # as tests/test_web_app.py
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from fastapi.testclient import TestClient

TINY = get_preset("tiny")


def _with_budget(config, budget):
    return config.replace(inference=dataclasses.replace(config.inference, patch_budget=budget))


def _blob_map(seed, height, width) -> np.ndarray:
    """A smooth random map float32 [H, W, 1] in [0, 1] with soft (uncertain) edges in many places."""
    rng = np.random.default_rng(seed)
    logits = cv2.resize(rng.normal(scale=6.0, size=(6, 7)).astype(np.float32), (width, height))
    return (1.0 / (1.0 + np.exp(-logits)))[..., None]


def _image(height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def pipeline():
    tf.keras.utils.set_random_seed(5)
    return SaliencyPipeline.from_keras(TINY, build_gsn(TINY.model), build_lrn(TINY.model), build_glfn(TINY.model))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return make_random_workdir(tmp_path_factory.mktemp("run"))


def test_levels_set_the_patch_budget_and_best_is_every_patch_and_the_default():
    config = get_preset("paper")
    assert config.inference.patch_budget is None and quality_of(config) == DEFAULT_QUALITY == "best"
    assert QUALITY_LEVELS["best"] is None
    assert with_quality(config, "fast").inference.patch_budget == QUALITY_LEVELS["fast"] < QUALITY_LEVELS["balanced"]
    assert quality_of(with_quality(config, "balanced")) == "balanced"
    assert quality_of(_with_budget(config, 11)) == "budget 11"
    assert with_quality(config, None) is config
    with pytest.raises(ValueError, match="known: fast, balanced, best"):
        with_quality(config, "max")
    with pytest.raises(ValueError, match="negative"):
        InferenceConfig(patch_budget=-1)


def _assert_most_uncertain_subset(every, kept, mask, budget):
    """`kept` is at most `budget` rows of `every`, in order, none with fewer uncertain pixels than a dropped row."""
    assert len(kept) == min(budget, len(every))
    rows = [int(np.flatnonzero(np.all(every == box, axis=1))[0]) for box in kept]
    assert rows == sorted(rows)
    counts = uncertain_pixels_in_boxes_tf(every, mask).numpy()
    dropped = np.setdiff1d(np.arange(len(every)), rows)
    assert counts[rows].min() >= counts[dropped].max()


@pytest.mark.parametrize("budget", [1, 3])
def test_full_resolution_budget_keeps_at_most_that_many_boxes_the_most_uncertain(pipeline, budget):
    coarse = tf.constant(_blob_map(1, 300, 420))
    every = pipeline.protocol.boxes(coarse).numpy()
    assert len(every) > 3
    budgeted = SaliencyPipeline(_with_budget(TINY, budget), pipeline.networks)
    kept = budgeted.protocol.boxes(coarse).numpy()
    _assert_most_uncertain_subset(every, kept, attention_mask_tf(coarse, TINY.aps), budget)
    assert len(budgeted.protocol.boxes(coarse, "rps").numpy()) == len(kept)  # RPS: as many as APS kept


@pytest.mark.parametrize("budget", [1, 3])
def test_release_budget_keeps_at_most_that_many_boxes_the_most_uncertain(budget):
    config = TINY.replace(inference=dataclasses.replace(TINY.inference, protocol="release"))
    frame_map = tf.constant(_blob_map(2, 260, 260))
    every = ReleaseProtocol(config, None).boxes(frame_map, "aps").numpy()
    assert len(every) > 3
    kept = ReleaseProtocol(_with_budget(config, budget), None).boxes(frame_map, "aps").numpy()
    _assert_most_uncertain_subset(every, kept, release_attention_tf(frame_map), budget)


def test_best_and_a_budget_above_the_patch_count_give_the_maps_of_no_budget(pipeline):
    image = _image(150, 230, seed=3)
    variants = ("gsn+aps+lrn", "full")
    default = {name: saliency.numpy() for name, saliency in pipeline.predict_variants(image, variants).items()}
    for other in (pipeline.at_quality("best"), SaliencyPipeline(_with_budget(TINY, 10_000), pipeline.networks)):
        for name, saliency in other.predict_variants(image, variants).items():
            np.testing.assert_array_equal(saliency.numpy(), default[name], err_msg=name)


def test_a_budget_of_no_patch_leaves_the_gsn_map_unrefined(pipeline):
    image = _image(120, 170, seed=4)
    none = SaliencyPipeline(_with_budget(TINY, 0), pipeline.networks)
    maps = none.predict_variants(image, ("gsn", "gsn+aps+lrn"))
    np.testing.assert_array_equal(maps["gsn+aps+lrn"].numpy(), maps["gsn"].numpy())
    refined = pipeline.predict(image, "gsn+aps+lrn").numpy()
    assert np.abs(refined - maps["gsn"].numpy()).max() > 0  # without a budget the LRN changes the map


def test_python_api_runs_the_level_given_to_load_or_to_predict(workdir):
    model = load(workdir.root, quality="fast")
    assert model.quality == "fast" and model.qualities == tuple(QUALITY_LEVELS)
    assert load_pipeline(workdir.root, quality="fast").config.inference.patch_budget == QUALITY_LEVELS["fast"]
    image = _image(90, 130, seed=5)
    best = load(workdir.root)
    assert best.quality == "best"
    np.testing.assert_array_equal(model.predict(image, quality="best"), best.predict(image))
    assert model.predict(image).shape == (90, 130)
    with pytest.raises(ValueError, match="unknown quality 'max'; known: fast, balanced, best"):
        model.predict(image, quality="max")


def test_predict_command_passes_quality_to_the_model(workdir, tmp_path, monkeypatch):
    predict_command = command_module("predict")
    asked = []

    def recording_load(path, variant=None, release_opt=None, quality=None):
        asked.append(quality)
        return load(path, variant, release_opt, quality)

    monkeypatch.setattr(predict_command, "load", recording_load)
    photo = tmp_path / "in" / "photo.png"
    photo.parent.mkdir()
    photo.write_bytes(encode_png(_image(40, 60)))
    assert predict_command.main([str(photo), "--model", str(workdir.root), "--out", str(tmp_path / "out"),
                                 "--quality", "balanced", "--no-progress"]) == 0
    assert asked == ["balanced"] and (tmp_path / "out" / "photo.png").is_file()


def test_evaluate_command_passes_quality_to_the_pipeline(workdir, monkeypatch, capsys):
    from hrsod_tf.deploy import model_loading

    asked = []

    def recording_load_pipeline(path, preset=None, threads=None, release_opt=None, quality=None):
        asked.append(quality)
        raise ValueError("stopped after loading")

    monkeypatch.setattr(model_loading, "load_pipeline", recording_load_pipeline)
    status = command_module("evaluate").main(["--model", str(workdir.root), "--dataset", "hrsod_synthetic/tiny",
                                              "--quality", "fast", "--no-progress"])
    assert asked == ["fast"] and status != 0 and "stopped after loading" in capsys.readouterr().err


def test_web_page_offers_the_models_levels_and_sends_the_chosen_one():
    chosen = []

    def predict(image, quality=None):
        chosen.append(quality)
        return np.zeros(image.shape[:2], np.float32)

    client = TestClient(create_app(predict, max_pixels=100 * 100, qualities=tuple(QUALITY_LEVELS), quality="best"))
    assert client.get("/api/limits").json()["qualities"] == list(QUALITY_LEVELS)
    assert 'id="quality"' in client.get("/").text
    photo = {"photo": ("photo.png", encode_png(_image(20, 30)), "application/octet-stream")}
    assert client.post("/api/cutout", files=photo, data={"output": "mask", "quality": "fast"}).status_code == 200
    assert client.post("/api/cutout", files=photo, data={"output": "mask"}).status_code == 200
    assert chosen == ["fast", None]
    refused = client.post("/api/cutout", files=photo, data={"output": "mask", "quality": "max"})
    assert refused.status_code == 400 and "unknown quality" in refused.json()["error"]


def test_export_bakes_the_level_into_the_saved_model_and_records_it(workdir, tmp_path):
    export_command = command_module("export")
    assert export_command.main(["--model", str(workdir.root), "--out", str(tmp_path / "models"),
                                "--quality", "fast"]) == 0
    version = tmp_path / "models" / "1"
    metadata = json.loads((version / METADATA_FILE).read_text())
    assert metadata["quality"] == "fast"
    assert metadata["config"]["inference"]["patch_budget"] == QUALITY_LEVELS["fast"]
    image = _image(70, 90, seed=6)
    served = load_serving_model(version)
    assert served.quality == "fast" and load(version).qualities == ("fast",)
    assert served.at_quality("fast") is served
    with pytest.raises(ValueError, match="--quality best"):
        load(version, quality="best")
    with pytest.raises(ValueError, match="--quality balanced"):
        load(version).predict(image, quality="balanced")
    in_project = load(workdir.root, quality="fast")(image)
    np.testing.assert_allclose(served(image)[..., 0], in_project, atol=1e-5)


@pytest.mark.slow
def test_runtime_export_records_the_level_and_runs_any_level_at_load(workdir, tmp_path):
    from hrsod_tf.deploy.runtimes.export import export_runtime_model
    from hrsod_tf.deploy.runtimes.formats import SETTINGS_FILE

    folder = export_runtime_model(workdir.root, tmp_path / "onnx", "onnx", "float32", quality="balanced",
                                  progress=False)
    settings = json.loads((folder / SETTINGS_FILE).read_text())
    assert settings["quality"] == "balanced"
    assert settings["config"]["inference"]["patch_budget"] == QUALITY_LEVELS["balanced"]
    assert load(folder).quality == "balanced"
    assert load_pipeline(folder, quality="best").config.inference.patch_budget is None
    assert load(folder).qualities == tuple(QUALITY_LEVELS)
