"""predict.py and hrsod_tf.deploy.prediction: outputs per input at the input's size, EXIF, odd formats, failures,
and never overwriting an input."""


import cv2
import numpy as np
import pytest
import tensorflow as tf
from helpers import command_module
from PIL import Image

from hrsod_tf.config import Config
from hrsod_tf.deploy import prediction
from hrsod_tf.deploy.compositing import render
from hrsod_tf.deploy.saliency_model import load
from hrsod_tf.workdir import make_random_workdir


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return make_random_workdir(tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="module")
def predictor(workdir):
    return load(workdir.root)


def _photo(height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _save(path, array, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **kwargs)
    return path


def _read(path):
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


@pytest.fixture
def photos(tmp_path):
    """Two photos of different sizes and aspect ratios in tmp/in/."""
    return [_save(tmp_path / "in" / "wide.jpg", _photo(50, 90)), _save(tmp_path / "in" / "tall.png", _photo(70, 40, 1))]


def _run(predictor, inputs, out, mode="mask", overwrite=False, foreground_estimation=True):
    inputs = prediction.collect_inputs(map(str, inputs))
    outputs = prediction.plan_outputs(inputs, out, overwrite=overwrite)
    return prediction.predict_files(predictor, inputs, outputs, mode, foreground_estimation, progress=False)


@pytest.mark.parametrize("mode,channels", [("mask", None), ("rgba", 4), ("overlay", 3)])
def test_one_png_per_input_at_the_input_size(predictor, photos, tmp_path, mode, channels):
    summary = _run(predictor, [tmp_path / "in"], tmp_path / "out", mode)
    assert not summary.failed
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["tall.png", "wide.png"]
    for name, (height, width) in {"wide.png": (50, 90), "tall.png": (70, 40)}.items():
        written = _read(tmp_path / "out" / name)
        assert written.shape[:2] == (height, width)
        assert (written.ndim == 2) if channels is None else written.shape[2] == channels


def test_rgba_has_the_map_as_alpha_and_without_estimation_the_photos_colours(predictor, photos, tmp_path):
    _run(predictor, [photos[0]], tmp_path / "masks", "mask")
    _run(predictor, [photos[0]], tmp_path / "cut", "rgba")
    _run(predictor, [photos[0]], tmp_path / "plain", "rgba", foreground_estimation=False)
    mask = _read(tmp_path / "masks" / "wide.png")
    photo = np.asarray(Image.open(photos[0]).convert("RGB"))
    estimated = cv2.cvtColor(_read(tmp_path / "cut" / "wide.png"), cv2.COLOR_BGRA2RGBA)
    plain = cv2.cvtColor(_read(tmp_path / "plain" / "wide.png"), cv2.COLOR_BGRA2RGBA)
    np.testing.assert_array_equal(estimated[..., 3], mask)
    np.testing.assert_array_equal(plain[..., 3], mask)
    np.testing.assert_array_equal(plain[..., :3], photo)
    assert not np.array_equal(estimated[..., :3], photo)  # a random network's map is soft: colours estimated


def test_exif_rotated_jpeg_gives_an_output_of_the_rotated_size(predictor, tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": stored 40 high x 100 wide, shown 100 high x 40 wide
    _save(tmp_path / "in" / "portrait.jpg", _photo(40, 100), exif=exif)
    _run(predictor, [tmp_path / "in" / "portrait.jpg"], tmp_path / "out", "overlay")
    assert _read(tmp_path / "out" / "portrait.png").shape == (100, 40, 3)


def test_grayscale_rgba_and_16_bit_inputs_are_accepted(predictor, tmp_path):
    rng = np.random.default_rng(5)
    _save(tmp_path / "in" / "gray.png", rng.integers(0, 256, (30, 45), dtype=np.uint8))
    _save(tmp_path / "in" / "alpha.png", rng.integers(0, 256, (33, 20, 4), dtype=np.uint8))
    _save(tmp_path / "in" / "deep.png", rng.integers(0, 65536, (28, 37), dtype=np.uint16))
    summary = _run(predictor, [tmp_path / "in"], tmp_path / "out")
    assert not summary.failed
    assert {p.name: _read(p).shape for p in summary.written} == {
        "gray.png": (30, 45), "alpha.png": (33, 20), "deep.png": (28, 37)}


def test_a_broken_file_is_reported_the_others_written_and_the_exit_status_is_1(workdir, photos, tmp_path, capsys):
    (tmp_path / "in" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    status = command_module("predict").main(
        [str(tmp_path / "in"), "--workdir", str(workdir.root), "--variant", "gsn", "--out", str(tmp_path / "out"),
         "--no-progress"])
    assert status == 1
    assert "broken.jpg" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["tall.png", "wide.png"]


def _folder_with_a_broken_photo(folder):
    """Six photos of several sizes in `folder`, the third one a broken JPEG."""
    for index in range(6):
        if index == 2:
            (folder / "p2.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
        else:
            _save(folder / f"p{index}.png", _photo(40 + 7 * index, 70 - 5 * index, seed=index))
    return folder


@pytest.mark.parametrize("overlap", ["files", "networks"])
def test_overlapped_photos_give_the_bytes_and_the_failures_of_one_at_a_time_in_order(
        workdir, tmp_path, capsys, overlap):
    folder = _folder_with_a_broken_photo(tmp_path / "in")
    predict, runs = command_module("predict"), {}
    for mode in ("none", overlap):
        out = tmp_path / mode
        status = predict.main([str(folder), "--model", str(workdir.root), "--out", str(out), "--output", "rgba",
                               "--no-progress", "--overlap", mode])
        runs[mode] = (status, capsys.readouterr().err, {p.name: p.read_bytes() for p in out.iterdir()})
    (status, err, written), (status_alone, err_alone, written_alone) = runs[overlap], runs["none"]
    assert status == status_alone == 1
    assert err == err_alone and "p2.jpg" in err and "Traceback" not in err
    assert sorted(written) == ["p0.png", "p1.png", "p3.png", "p4.png", "p5.png"]
    assert written == written_alone  # byte for byte


@pytest.mark.parametrize("overlap,may_also_write", [("none", []), ("files", []), ("networks", ["p4.png"])])
def test_ctrl_c_mid_folder_ends_the_run_leaving_only_whole_outputs(predictor, tmp_path, overlap, may_also_write):
    folder = _folder_with_a_broken_photo(tmp_path / "in")
    inputs = prediction.collect_inputs([str(folder)])
    outputs = prediction.plan_outputs(inputs, tmp_path / "out")
    interrupted_shape = _read(folder / "p3.png").shape[:2]

    def interrupted(image):
        if image.shape[:2] == interrupted_shape:
            raise KeyboardInterrupt  # as Ctrl-C while photo 3 is in the networks
        return predictor(image)

    with pytest.raises(KeyboardInterrupt):
        prediction.predict_files(interrupted, inputs, outputs, progress=False, overlap=overlap)
    written = sorted(p.name for p in (tmp_path / "out").iterdir())  # a temporary file would show here
    # the photos before it (p2 is broken), and with two photos in the networks, p4 beside it if it got through
    assert written in (["p0.png", "p1.png"], ["p0.png", "p1.png", *may_also_write])
    for name in written:
        assert _read(tmp_path / "out" / name).shape == _read(folder / name).shape[:2]


def test_refuses_to_write_into_an_input_folder(workdir, photos, tmp_path, capsys):
    before = {p: p.read_bytes() for p in photos}
    status = command_module("predict").main([str(tmp_path / "in"), "--workdir", str(workdir.root),
                                             "--out", str(tmp_path / "in"), "--overwrite"])
    assert status == 2
    err = capsys.readouterr().err
    assert "holds input images" in err and "Traceback" not in err
    assert sorted((tmp_path / "in").iterdir()) == sorted(photos)
    assert {p: p.read_bytes() for p in photos} == before


def test_an_output_that_is_an_input_is_refused_even_with_overwrite(tmp_path):
    source = _save(tmp_path / "a" / "x.jpg", _photo(8, 8))
    existing = _save(tmp_path / "out" / "x.png", _photo(8, 8))
    with pytest.raises(prediction.PredictionError, match="holds input images|is an input"):
        prediction.plan_outputs([source, existing], tmp_path / "out", overwrite=True)


def test_existing_outputs_are_refused_unless_overwrite(tmp_path):
    source = _save(tmp_path / "in" / "x.jpg", _photo(8, 8))
    _save(tmp_path / "out" / "x.png", _photo(8, 8))
    with pytest.raises(prediction.PredictionError, match="--overwrite"):
        prediction.plan_outputs([source], tmp_path / "out")
    assert prediction.plan_outputs([source], tmp_path / "out", overwrite=True) == [tmp_path / "out" / "x.png"]


def test_collect_inputs_from_files_folders_and_globs(tmp_path):
    a = _save(tmp_path / "d" / "a.jpg", _photo(8, 8))
    b = _save(tmp_path / "d" / "a.png", _photo(8, 8))
    c = _save(tmp_path / "e" / "c.png", _photo(8, 8))
    (tmp_path / "d" / "notes.txt").write_text("not an image")
    found = prediction.collect_inputs([str(tmp_path / "d"), str(tmp_path / "e" / "*.png"), str(a)])
    assert found == [a, b, c]
    # a.jpg and a.png share a stem: both keep their extension in the output name.
    names = [p.name for p in prediction.plan_outputs(found, tmp_path / "out")]
    assert names == ["a.jpg.png", "a.png.png", "c.png"]
    with pytest.raises(prediction.PredictionError, match="no such file"):
        prediction.collect_inputs([str(tmp_path / "missing*.jpg")])


def test_render_modes():
    image = np.full((2, 3, 3), 100, np.uint8)
    saliency = np.array([[0.0, 0.5, 1.0], [1.0, 0.0, 0.25]], np.float32)[..., None]
    mask = render(image, saliency, "mask")
    np.testing.assert_array_equal(mask, [[0, 128, 255], [255, 0, 64]])
    assert render(image, saliency, "rgba").shape == (2, 3, 4)
    overlay = render(image, saliency, "overlay")
    np.testing.assert_array_equal(overlay[0, 0], image[0, 0])  # background untouched
    assert overlay[0, 2, 0] > 100 and overlay[0, 2, 1] < 100  # salient: tinted red


def _save_contract_model(path):
    """A stand-in for an export.py SavedModel with the same ``predict_image`` contract (exporting the real
    pipeline takes ~40 s; export.py's own tests do that): saliency = the image's mean brightness."""
    module = tf.Module()
    module.predict_image = tf.function(
        lambda image: {"saliency": tf.reduce_mean(tf.cast(image, tf.float32), -1, keepdims=True) / 255.0},
        input_signature=[tf.TensorSpec([None, None, 3], tf.uint8, name="image")],
    )
    tf.saved_model.save(module, str(path / "1"), signatures={"predict_image": module.predict_image})
    return path


def test_saved_model_gives_maps_of_the_input_size(photos, tmp_path):
    models = _save_contract_model(tmp_path / "models")
    status = command_module("predict").main([str(tmp_path / "in"), "--saved-model", str(models),
                               "--out", str(tmp_path / "out"), "--no-progress"])
    assert status == 0
    wide = _read(tmp_path / "out" / "wide.png")
    expected = np.asarray(Image.open(photos[0]).convert("RGB")).astype(np.float32).mean(-1)
    assert wide.shape == (50, 90)
    assert np.abs(wide.astype(np.float32) - expected).max() <= 1.0
    assert _read(tmp_path / "out" / "tall.png").shape == (70, 40)


def test_error_message_is_a_graph_assertions_own_text_or_the_first_line():
    graph_error = ("Graph execution error:\n\nDetected at node check/Assert defined at (most recent call last):\n"
                   "<stack traces unavailable>\nassertion failed: [image has 5 x 5 pixels, above the limit of 9]\n"
                   "\t [[{{node check/Assert}}]] [Op:__inference_signature_wrapper_1]")
    assert prediction.error_message(graph_error) == "image has 5 x 5 pixels, above the limit of 9"
    assert prediction.error_message(ValueError("first line\nsecond")) == "first line"
    assert prediction.error_message(OSError()) == "OSError"


def test_an_image_above_the_runs_pixel_limit_is_refused_before_decoding_saying_how_to_raise_it(tmp_path, capsys):
    run = make_random_workdir(tmp_path / "run")
    config = run.load_config()
    Config.save(config.replace(inference=config.inference.__class__(**{
        **config.inference.__dict__, "max_image_pixels": 1000})), run.config_path)
    _save(tmp_path / "in" / "photo.png", _photo(40, 30))
    status = command_module("predict").main([str(tmp_path / "in"), "--workdir", str(run.root), "--out",
                                             str(tmp_path / "out"), "--no-progress"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert status == 1 and len(lines) == 1
    assert "photo.png is too large: 30x40 = 1,200 pixels" in lines[0] and "inference.max_image_pixels" in lines[0]


def test_error_message_of_an_op_failure_is_the_ops_own_message_without_node_names():
    graph_error = ("Graph execution error:\n\nDetected at node map/while/DecodeImage defined at (most recent call "
                   "last):\n<stack traces unavailable>\nInvalid PNG data, size 3562\n"
                   "\t [[{{node map/while/DecodeImage}}]] [Op:__inference_signature_wrapper_6010]")
    assert prediction.error_message(graph_error) == "Invalid PNG data, size 3562"
