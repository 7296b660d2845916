"""The Python API (hrsod_tf.load, SaliencyModel): maps at the image's size from arrays and paths, cut-outs on
every kind of background, the model's pixel limit, and the README's three-line example run as written."""

import re

import numpy as np
import pytest
from helpers import REPO, save_image

import hrsod_tf
from hrsod_tf.deploy.model_loading import ModelNotFoundError, load_pipeline
from hrsod_tf.deploy.saliency_model import SaliencyModel, as_image
from hrsod_tf.workdir import make_random_workdir


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_random_workdir(tmp_path_factory.mktemp("run")).root


@pytest.fixture(scope="module")
def model(run):
    return hrsod_tf.load(run)


def _photo(height=36, width=52, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), np.uint8)


@pytest.mark.slow  # loads and traces a tiny pipeline (about 20 s, once per module)
def test_predict_gives_the_map_at_the_images_size_from_an_array_or_a_path(model, run, tmp_path):
    photo = _photo()
    saliency = model.predict(photo)
    assert saliency.shape == (36, 52) and saliency.dtype == np.float32
    assert 0 <= saliency.min() and saliency.max() <= 1
    path = save_image(photo, tmp_path / "photo.png")
    np.testing.assert_array_equal(model.predict(path), saliency)
    np.testing.assert_array_equal(model.predict(str(path)), saliency)
    np.testing.assert_allclose(saliency, load_pipeline(run).predict(photo).numpy()[..., 0])  # the full variant


@pytest.mark.slow  # loads and traces a tiny pipeline (about 20 s, once per module)
@pytest.mark.parametrize("background,shape", [
    (None, (36, 52, 4)), ("green", (36, 52, 3)), ("white", (36, 52, 3)), ("blur", (36, 52, 3)),
    ("#102030", (36, 52, 3)), ((16, 32, 48), (36, 52, 3)),
])
def test_cutout_on_every_background_is_at_the_images_size(model, background, shape):
    picture = model.cutout(_photo(), background=background)
    assert picture.shape == shape and picture.dtype == np.uint8


@pytest.mark.slow  # loads and traces a tiny pipeline (about 20 s, once per module)
def test_cutout_on_a_picture_or_its_file(model, tmp_path):
    beach = np.full((10, 30, 3), (250, 220, 150), np.uint8)
    from_array = model.cutout(_photo(), background=beach)
    from_file = model.cutout(_photo(), background=save_image(beach, tmp_path / "beach.png"))
    np.testing.assert_array_equal(from_array, from_file)
    plain = model.cutout(_photo(), background="green", foreground_estimation=False)
    assert not np.array_equal(plain, model.cutout(_photo(), background="green"))


def test_images_of_any_common_layout_become_rgb():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert as_image(gray).shape == (3, 4, 3)
    assert as_image(np.zeros((3, 4, 4), np.uint8)).shape == (3, 4, 3)
    np.testing.assert_array_equal(as_image(np.ones((2, 2, 3), np.float32)), np.full((2, 2, 3), 255, np.uint8))
    with pytest.raises(ValueError, match=r"\[H, W, 3\]"):
        as_image(np.zeros((3, 4, 2), np.uint8))


def test_the_pixel_limit_is_the_models(run):
    def blank(image):
        return np.zeros(image.shape[:2], np.float32)

    with pytest.raises(ValueError, match="too large: 10x11 = 110 pixels"):
        SaliencyModel(blank, max_image_pixels=100).predict(_photo(11, 10))
    assert hrsod_tf.load(run).max_image_pixels == 50_000_000  # the run's inference.max_image_pixels


def test_a_folder_without_a_model_says_what_was_expected(tmp_path):
    with pytest.raises(ModelNotFoundError, match="holds no model"):
        hrsod_tf.load(tmp_path)


@pytest.mark.slow  # loads and traces a tiny pipeline (about 20 s, once per module)
def test_the_readme_example_runs_as_written(run, tmp_path, monkeypatch):
    readme = (REPO / "README.md").read_text()
    example = re.search(r"### Python\n.*?```python\n(.*?)```", readme, re.S).group(1)
    assert len(example.strip().splitlines()) == 3
    monkeypatch.chdir(tmp_path)  # the example's runs/demo and photo.jpg, as a user has them after the demo
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "demo").symlink_to(run)
    save_image(_photo(), tmp_path / "photo.jpg")
    namespace = {}
    exec(compile(example, "README.md", "exec"), namespace)
    assert namespace["cutout"].shape == (36, 52, 4)
