"""batch_predict.py and hrsod_tf.deploy.batch_prediction: the Beam pipeline on the DirectRunner gives predict.py's
PNGs byte for byte, sends a corrupt input to the dead-letter file, exits non-zero, and a re-run writes nothing."""

import json

import numpy as np
import pytest
import tensorflow as tf
from helpers import command_module
from PIL import Image

from hrsod_tf.deploy import batch_prediction
from hrsod_tf.deploy.compositing import render
from hrsod_tf.deploy.prediction import PredictionError
from hrsod_tf.deploy.saliency_model import load

pytestmark = pytest.mark.slow  # every test here trains, exports, or runs a subprocess or a video

MULTI_PROCESS = ["--runner", "DirectRunner", "--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]


def _photos(folder, count=19):
    """`count` small random photos (JPEG and PNG, several sizes; one in a sub-folder) and one corrupt JPEG."""
    rng = np.random.default_rng(3)
    paths = []
    for index in range(count):
        sub = folder / "sub" if index == 0 else folder
        sub.mkdir(parents=True, exist_ok=True)
        path = sub / f"photo{index:02d}.{'png' if index % 3 == 0 else 'jpg'}"
        Image.fromarray(rng.integers(0, 256, (24 + index, 40 - index, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated, not a JPEG")
    (folder / "notes.txt").write_text("not an image: the pattern's wildcard leaves it out")
    return paths


def _pngs(folder):
    return {p.relative_to(folder): p.stat().st_mtime_ns for p in folder.rglob("*.png")}


def test_two_workers_match_predict_py_byte_for_byte_dead_letter_the_corrupt_file_and_rerun_writes_nothing(
        tiny_saved_model, tmp_path, capsys):
    photos = _photos(tmp_path / "in")
    before = {p: p.read_bytes() for p in (tmp_path / "in").rglob("*") if p.is_file()}
    out = tmp_path / "beam"
    cli = command_module("batch_predict")

    status = cli.main([str(tmp_path / "in" / "**"), "--saved-model", str(tiny_saved_model), "--out", str(out),
                       *MULTI_PROCESS])
    assert status == 1
    captured = capsys.readouterr()
    assert "1 input(s) failed" in captured.err and "Traceback" not in captured.err

    # predict.py --saved-model on the same files: the same bytes, at the mirrored names
    reference = tmp_path / "reference"
    predict = command_module("predict")
    assert predict.main([str(tmp_path / "in"), "--saved-model", str(tiny_saved_model), "--out", str(reference),
                         "--no-progress"]) == 1
    assert predict.main([str(tmp_path / "in" / "sub"), "--saved-model", str(tiny_saved_model),
                         "--out", str(reference / "sub"), "--no-progress"]) == 0
    written = _pngs(out)
    assert sorted(written) == sorted(_pngs(reference)) and len(written) == len(photos)
    for relative in written:
        assert (out / relative).read_bytes() == (reference / relative).read_bytes(), relative

    errors = sorted(out.glob("errors-*.jsonl"))
    lines = [json.loads(line) for path in errors for line in path.read_text().splitlines()]
    assert len(lines) == 1 and lines[0]["path"] == str(tmp_path / "in" / "corrupt.jpg")
    assert "cannot decode" in lines[0]["error"] and "Traceback" not in lines[0]["error"]
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["done"], summary["skipped"], summary["failed"]) == (len(photos), 0, 1)
    assert summary["images_per_second"] > 0
    assert not [p for p in out.rglob("*") if p.name.startswith(".")], "a temporary file was left behind"

    # a re-run (in-process runner) skips every written output and writes no PNG
    assert cli.main([str(tmp_path / "in" / "**"), "--saved-model", str(tiny_saved_model), "--out", str(out)]) == 1
    assert _pngs(out) == written
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["done"], summary["skipped"], summary["failed"]) == (0, len(photos), 1)
    assert {p: p.read_bytes() for p in (tmp_path / "in").rglob("*") if p.is_file()} == before


def test_rgba_outputs_in_process_runner(tiny_saved_model, tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / "one.png")
    job = batch_prediction.BatchJob(str(tmp_path / "one.png"), str(tiny_saved_model), str(tmp_path / "out"), "rgba")
    summary = batch_prediction.run_batch(job)
    assert (summary.done, summary.failed) == (1, 0)
    assert (tmp_path / "out" / "errors-00000-of-00001.jsonl").read_text() == ""  # this run's dead letters: none
    written = np.asarray(Image.open(tmp_path / "out" / "one.png"))
    assert written.shape == (20, 30, 4)
    # predict.py's cut-out: the map as alpha, the colours estimated at soft edges (compositing.render)
    expected = render(image, load(tiny_saved_model)(image), "rgba")
    np.testing.assert_allclose(written, expected, atol=1)


def test_a_pattern_that_matches_nothing_is_a_usage_error(tiny_saved_model, tmp_path, capsys):
    status = command_module("batch_predict").main(
        [str(tmp_path / "*.jpg"), "--saved-model", str(tiny_saved_model), "--out", str(tmp_path / "out")])
    assert status == 2
    err = capsys.readouterr().err
    assert "no image matches it" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_a_missing_model_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "a.png").write_bytes(b"")
    status = command_module("batch_predict").main(
        [str(tmp_path / "a.png"), "--saved-model", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")])
    assert status == 2
    assert "holds no SavedModel" in capsys.readouterr().err


@pytest.mark.parametrize("pattern,base", [
    ("gs://bucket/photos/**/*.jpg", "gs://bucket/photos/"),
    ("/data/shots/a.jpg", "/data/shots/"),
    ("/data/shots/day[12]/*.png", "/data/shots/"),
])
def test_outputs_mirror_the_names_below_the_patterns_fixed_part(pattern, base):
    assert batch_prediction.pattern_base(pattern) == base


def test_inputs_sharing_a_stem_keep_their_extension_as_predict_py_does():
    shared = list(batch_prediction._plan_outputs(("d/a", ["/in/d/a.png", "/in/d/a.jpg"]), "/in/", "/out"))
    assert shared == [("/in/d/a.jpg", "/out/d/a.jpg.png"), ("/in/d/a.png", "/out/d/a.png.png")]
    alone = list(batch_prediction._plan_outputs(("b", ["/in/b.jpg"]), "/in/", "/out"))
    assert alone == [("/in/b.jpg", "/out/b.png")]


def test_unknown_output_mode_is_refused():
    with pytest.raises(PredictionError, match="unknown output"):
        batch_prediction.BatchJob("x", "m", "o", "jpeg")


def _limited_model(path, max_pixels):
    """A stand-in SavedModel with export.py's ``predict_image`` contract and pixel guard (saliency = brightness),
    cheap to build: exporting the real pipeline takes ~30 s and the session's tiny export has the 50 MP limit."""
    module = tf.Module()

    def predict_image(image):
        height, width = tf.shape(image)[0], tf.shape(image)[1]
        check = tf.debugging.Assert(height * width <= max_pixels, [tf.strings.join([
            "image has ", tf.strings.as_string(height), " x ", tf.strings.as_string(width),
            f" pixels, above the limit of {max_pixels}"])])
        with tf.control_dependencies([check]):
            return {"saliency": tf.reduce_mean(tf.cast(image, tf.float32), -1, keepdims=True) / 255.0}

    module.predict_image = tf.function(predict_image, input_signature=[tf.TensorSpec([None, None, 3], tf.uint8)])
    tf.saved_model.save(module, str(path / "1"), signatures={"predict_image": module.predict_image})
    return path


def test_an_image_above_the_models_pixel_limit_is_a_dead_letter_with_the_limit_message(tmp_path):
    model = _limited_model(tmp_path / "model", max_pixels=600)
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (20, 25, 3), dtype=np.uint8)).save(tmp_path / "small.png")
    Image.fromarray(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)).save(tmp_path / "large.png")
    job = batch_prediction.BatchJob(str(tmp_path / "*.png"), str(model), str(tmp_path / "out"))
    summary = batch_prediction.run_batch(job)
    assert (summary.done, summary.failed) == (1, 1)
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["small.png"]
    [line] = (tmp_path / "out" / "errors-00000-of-00001.jsonl").read_text().splitlines()
    assert json.loads(line) == {"path": str(tmp_path / "large.png"),
                                "error": "image has 30 x 40 pixels, above the limit of 600"}


def test_files_below_the_output_prefix_are_never_inputs():
    assert batch_prediction._is_input("/photos/a.jpg", True, "/photos/masks/")
    assert not batch_prediction._is_input("/photos/masks/a.png", True, "/photos/masks/")
    assert not batch_prediction._is_input("/photos/notes.txt", True, "/photos/masks/")
    assert batch_prediction._is_input("/photos/notes.txt", False, "/photos/masks/")  # named alone: fails by name
    assert batch_prediction._folder_prefix("gs://b/masks") == "gs://b/masks/"


def test_composites_are_accepted_and_background_files_refused(tmp_path):
    assert batch_prediction.BatchJob("a/*.jpg", "models/hrsod", str(tmp_path), "color:#102030").mode
    with pytest.raises(PredictionError, match="no background:FILE"):
        batch_prediction.BatchJob("a/*.jpg", "models/hrsod", str(tmp_path), "background")
    with pytest.raises(PredictionError, match="unknown output"):
        batch_prediction.BatchJob("a/*.jpg", "models/hrsod", str(tmp_path), "sepia")


def test_quality_runs_a_runtime_export_at_that_level_and_refuses_a_level_a_saved_model_was_not_exported_at(
        tiny_saved_model, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    from hrsod_tf.deploy.runtimes.export import export_runtime_model
    from hrsod_tf.workdir import make_random_workdir

    export = export_runtime_model(make_random_workdir(tmp_path / "run").root, tmp_path / "onnx", "onnx", "float32",
                                  progress=False)
    image = np.random.default_rng(4).integers(0, 256, (150, 200, 3), dtype=np.uint8)  # more than 2 patches
    Image.fromarray(image).save(tmp_path / "photo.png")
    cli = command_module("batch_predict")
    for quality in ("fast", "best"):
        assert cli.main([str(tmp_path / "photo.png"), "--model", str(export), "--out", str(tmp_path / quality),
                         "--quality", quality]) == 0
        expected = render(image, load(export, quality=quality)(image), "mask")
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / quality / "photo.png")), expected)
    assert (tmp_path / "fast" / "photo.png").read_bytes() != (tmp_path / "best" / "photo.png").read_bytes()
    capsys.readouterr()

    status = cli.main([str(tmp_path / "photo.png"), "--model", str(tiny_saved_model), "--out",
                       str(tmp_path / "refused"), "--quality", "fast"])
    err = capsys.readouterr().err
    assert status == 2 and "exported at quality 'best'" in err and "--quality fast" in err
    assert not (tmp_path / "refused").exists()

