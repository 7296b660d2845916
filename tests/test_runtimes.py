"""OpenVINO, ONNX Runtime and LiteRT exports (hrsod_tf.deploy.runtimes): each format's tiny networks give Keras'
probabilities (float32 to 1e-4, int8 within a stated bound), `--model` finds each format, and a folder that is
incomplete, of another preset, or whose runtime is not installed gives one clear line.

Exports of the tiny networks take 10-30 s each on 2 cores (tf2onnx, the converters, calibration): those tests are
marked slow; the checks of folders, formats and messages run without converting anything.
"""

import json
import pathlib
import re
import sys

import numpy as np
import pytest
import tensorflow as tf
from helpers import command_module

from hrsod_tf.config import get_preset
from hrsod_tf.deploy.model_loading import ModelNotFoundError, load_pipeline, model_kind
from hrsod_tf.deploy.runtimes import formats
from hrsod_tf.deploy.runtimes.calibration import CalibrationError, run_training_data
from hrsod_tf.deploy.runtimes.export import export_runtime_model
from hrsod_tf.deploy.runtimes.network_files import INPUT_NAMES, exportable_network
from hrsod_tf.deploy.runtimes.session_networks import graph_function, load_export, open_sessions
from hrsod_tf.deploy.saliency_model import load
from hrsod_tf.pipeline import SaliencyPipeline
from hrsod_tf.workdir import STAGES, make_random_workdir

FLOAT32_TOLERANCE = 1e-4
# int8 of random-init tiny networks (their activations are not a trained network's): the mean absolute
# difference of the salient probability over the calibration-like inputs stays below this. The accuracy that
# matters, on trained networks, is measured by `benchmarks/runtime_accuracy.py` (docs/BENCHMARKS.md).
INT8_MEAN_TOLERANCE = 0.08


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return make_random_workdir(tmp_path_factory.mktemp("run"))


def _fake_export(folder, fmt="onnx", preset_config=None, files=True):
    """A folder with an export's settings file and empty network files (enough for the checks before loading)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = preset_config or get_preset("tiny")
    names = formats.NETWORK_FILES[fmt]
    settings = {"format": fmt, "precision": "float32", "networks": names,
                "inputs": {stage: list(INPUT_NAMES[stage]) for stage in STAGES}, "config": config.to_dict()}
    (folder / formats.SETTINGS_FILE).write_text(json.dumps(settings))
    if files:
        for name in names.values():
            (folder / name).write_bytes(b"")
            if fmt == "openvino":
                (folder / name).with_suffix(".bin").write_bytes(b"")
    return folder


# -- formats, folders, messages (no conversion) ----------------------------------------------------------------


@pytest.mark.parametrize("fmt, precision, advice", [
    ("onnx", "bfloat16", "--format openvino --precision bfloat16"),
    ("litert", "bfloat16", "--format openvino --precision bfloat16"),
    ("saved_model", "int8", "--format openvino --precision int8"),
])
def test_a_precision_a_runtime_does_not_run_fast_is_refused_with_what_to_use(fmt, precision, advice):
    with pytest.raises(formats.ExportFormatError, match=advice):
        formats.check_precision(fmt, precision)


def test_every_offered_pair_passes_the_check():
    for fmt, precisions in formats.EXPORT_FORMATS.items():
        for precision in precisions:
            formats.check_precision(fmt, precision)


def test_a_missing_runtime_package_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # as if not installed
    with pytest.raises(formats.RuntimeNotInstalledError, match=re.escape('pip install "hrsod-tf[openvino]"')) as caught:
        formats.import_runtime("openvino", "to run an export")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("fmt", formats.RUNTIME_FORMATS)
def test_model_kind_finds_each_format_from_its_settings_file(tmp_path, fmt):
    assert model_kind(_fake_export(tmp_path / fmt, fmt)) == fmt


def test_a_network_file_without_settings_is_an_unfinished_export(tmp_path):
    (tmp_path / "gsn.onnx").write_bytes(b"")
    with pytest.raises(formats.ModelFolderError, match="no hrsod_model.json"):
        model_kind(tmp_path)


def test_a_folder_missing_a_network_says_which(tmp_path):
    folder = _fake_export(tmp_path / "export", "openvino")
    (folder / "lrn.bin").unlink(missing_ok=True)
    with pytest.raises(formats.ModelFolderError, match="incomplete: .*lrn"):
        model_kind(folder)
    (folder / "lrn.xml").unlink()
    with pytest.raises(formats.ModelFolderError, match="incomplete: the LRN file lrn.xml is missing"):
        model_kind(folder)


def test_an_empty_folder_says_what_was_looked_for(tmp_path):
    with pytest.raises(ModelNotFoundError, match="OpenVINO / ONNX / LiteRT export"):
        model_kind(tmp_path)


def test_an_export_of_another_preset_is_refused_before_loading(tmp_path):
    folder = _fake_export(tmp_path / "export", "onnx")
    with pytest.raises(formats.ModelFolderError, match="'tiny' preset, not 'official'"):
        load_export(folder, preset="official")


def test_predict_with_a_missing_runtime_gives_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    folder = _fake_export(tmp_path / "export", "onnx")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    photo = tmp_path / "in" / "a.png"
    photo.parent.mkdir()
    tf.io.write_file(str(photo), tf.io.encode_png(np.zeros((8, 8, 3), np.uint8)))
    status = command_module("predict").main([str(photo), "--model", str(folder), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2
    assert 'pip install "hrsod-tf[onnx]"' in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_export_refuses_a_pair_it_does_not_offer_in_one_line(tmp_path, capsys):
    status = command_module("export").main(["--workdir", str(tmp_path), "--format", "litert", "--precision",
                                            "bfloat16", "--out", str(tmp_path / "out")])
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [err[0]] and "--format openvino --precision bfloat16" in err[0]


def test_a_run_without_its_training_data_asks_for_calibration_data(workdir):
    with pytest.raises(CalibrationError, match="--calibration-data"):
        run_training_data(workdir.root)


def _relu_ir(folder):
    ov = pytest.importorskip("openvino")
    ops = pytest.importorskip("openvino.opset13")
    image = ops.parameter([1, 4], np.float32, name="image")
    ov.save_model(ov.Model([ops.relu(image)], [image], "relu"), str(folder / "relu.xml"))
    return folder / "relu.xml"


@pytest.mark.parametrize("native", [True, False])
def test_bfloat16_on_a_cpu_without_native_bfloat16_warns_once_naming_the_precisions_to_use(
        tmp_path, monkeypatch, caplog, native):
    openvino_files = pytest.importorskip("hrsod_tf.deploy.runtimes.openvino_files")
    path = _relu_ir(tmp_path)
    monkeypatch.setattr(openvino_files, "native_bfloat16", lambda core: native)
    openvino_files._warn_emulated_bfloat16.cache_clear()
    with caplog.at_level("WARNING", logger=openvino_files.__name__):
        for precision in ("bfloat16", "bfloat16", "float32"):
            session = openvino_files.OpenVINOSession(path, precision)
    warnings = [r.getMessage() for r in caplog.records if "no native bfloat16" in r.getMessage()]
    assert len(warnings) == (0 if native else 1)
    if not native:
        assert "--precision int8" in warnings[0] and "float32" in warnings[0]
    np.testing.assert_allclose(session(np.array([[-1, 0, 1, 2]], np.float32)), [[0, 0, 1, 2]])


def test_openvino_finds_native_bfloat16_exactly_where_the_cpu_flags_show_it():
    ov = pytest.importorskip("openvino")
    from hrsod_tf.deploy.runtimes.openvino_files import native_bfloat16

    cpuinfo = pathlib.Path("/proc/cpuinfo")
    if not cpuinfo.is_file() or "flags" not in cpuinfo.read_text():
        pytest.skip("no x86 /proc/cpuinfo flags to compare with")
    flags = set(next(line for line in cpuinfo.read_text().splitlines() if line.startswith("flags")).split())
    assert native_bfloat16(ov.Core()) == bool(flags & {"avx512_bf16", "amx_bf16"})


def test_session_calls_run_inside_the_graph_with_static_shapes():
    calls = []

    def session(image, guidance):
        calls.append(image.shape)
        return (image[..., :1] + guidance).astype(np.float32)

    function = tf.function(graph_function(session, "fake"))
    image, guidance = np.ones((2, 8, 8, 3), np.float32), np.full((2, 8, 8, 1), 0.5, np.float32)
    out = function(image, guidance)
    assert out.shape == (2, 8, 8, 1) and calls == [(2, 8, 8, 3)]
    np.testing.assert_allclose(out.numpy(), 1.5)
    assert function.get_concrete_function(image, guidance).structured_outputs.shape == (2, 8, 8, 1)


def test_the_exported_network_gives_the_salient_channel_at_the_pipelines_sides(workdir):
    config = workdir.load_config()
    models = workdir.load_models(config)
    gsn = exportable_network("gsn", models.gsn, config.model)
    side = config.model.gsn_input_size
    assert tuple(gsn.inputs[0].shape) == (None, side, side, 3) and tuple(gsn.outputs[0].shape) == (None, side, side, 1)
    image = np.random.default_rng(0).uniform(0, 255, (2, side, side, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(gsn(image)), np.asarray(models.gsn(image))[..., 1:], atol=1e-6)


# -- each format, converted (slow) -------------------------------------------------------------------------------


def _network_inputs(config, seed=0):
    """Smooth images and maps, per network (random noise would be a poor stand-in for photos)."""
    rng = np.random.default_rng(seed)

    def smooth(side, channels, low, high):
        coarse = rng.uniform(low, high, (2, 4, 4, channels)).astype(np.float32)
        return tf.image.resize(coarse, [side, side], method="bicubic").numpy().clip(low, high)

    s, g = config.model.lrn_input_size, config.model.gsn_input_size
    return {"gsn": [smooth(g, 3, 0, 255)], "lrn": [smooth(s, 3, 0, 255), smooth(s, 1, 0, 1)],
            "glfn": [smooth(48, 3, 0, 255), smooth(48, 1, 0, 1)]}


@pytest.fixture(scope="module")
def exports(workdir, tmp_path_factory):
    """{(format, precision): folder} of the tiny run, each exported on first use."""
    root, made = tmp_path_factory.mktemp("exports"), {}

    def export(fmt, precision):
        if (fmt, precision) not in made:
            made[fmt, precision] = export_runtime_model(
                workdir.root, root / f"{fmt}_{precision}", fmt, precision, calibration_data="synthetic:tiny",
                calibration_images=3, progress=False)
        return made[fmt, precision]

    return export


def _differences(workdir, folder):
    config = workdir.load_config()
    models = workdir.load_models(config)
    sessions = open_sessions(folder, formats.read_settings(folder))
    differences = {}
    for stage, inputs in _network_inputs(config).items():
        model = getattr(models, stage)
        expected = np.asarray(model(inputs[0] if len(inputs) == 1 else inputs))[..., 1:]
        differences[stage] = np.abs(sessions[stage](*inputs) - expected)
    return differences


@pytest.mark.slow
@pytest.mark.parametrize("fmt", formats.RUNTIME_FORMATS)
def test_float32_networks_give_keras_probabilities(workdir, exports, fmt):
    for stage, difference in _differences(workdir, exports(fmt, "float32")).items():
        assert difference.max() < FLOAT32_TOLERANCE, (stage, difference.max())


@pytest.mark.slow
@pytest.mark.parametrize("fmt", formats.RUNTIME_FORMATS)
def test_int8_networks_stay_within_the_stated_bound_and_the_glfn_stays_float(workdir, exports, fmt):
    folder = exports(fmt, "int8")
    differences = _differences(workdir, folder)
    for stage in ("gsn", "lrn"):
        assert differences[stage].mean() < INT8_MEAN_TOLERANCE, (stage, differences[stage].mean())
    assert differences["glfn"].max() < FLOAT32_TOLERANCE
    settings = formats.read_settings(folder)
    assert settings["kept_float"]["glfn"]["layers"] == ["all"] and settings["kept_float"]["lrn"]["layers"]
    assert settings["glfn_runtime"] == "tensorflow" and (folder / "glfn.weights.h5").is_file()
    assert settings["calibration"]["data"] == "synthetic:tiny"


@pytest.mark.slow
@pytest.mark.parametrize("fmt", formats.RUNTIME_FORMATS)
def test_model_finds_each_format_and_runs_the_pipeline_like_keras(workdir, exports, fmt):
    folder = exports(fmt, "float32")
    image = np.random.default_rng(1).integers(0, 256, (150, 200, 3), np.uint8)
    expected = SaliencyPipeline.from_workdir(workdir.root, require=STAGES).predict(image).numpy()
    np.testing.assert_allclose(load(folder)(image), expected[..., 0], atol=FLOAT32_TOLERANCE)
    pipeline = load_pipeline(folder, preset="tiny")
    assert pipeline.networks.runtime == f"{fmt} float32"
    np.testing.assert_allclose(pipeline.predict(image, "gsn").numpy(),
                               SaliencyPipeline.from_workdir(workdir.root).predict(image, "gsn").numpy(),
                               atol=FLOAT32_TOLERANCE)


@pytest.mark.slow
def test_export_cli_writes_an_int8_folder_that_predict_and_evaluate_run(workdir, tmp_path, capsys):
    out = tmp_path / "models" / "onnx_int8"
    status = command_module("export").main([
        "--workdir", str(workdir.root), "--format", "onnx", "--precision", "int8", "--out", str(out),
        "--calibration-data", "synthetic:tiny", "--calibration-images", "2", "--no-progress"])
    printed = capsys.readouterr().out
    assert status == 0 and "kept in float32" in printed and f"wrote {out}" in printed
    assert model_kind(out) == "onnx"
    photo = tmp_path / "in" / "a.png"
    photo.parent.mkdir()
    tf.io.write_file(str(photo), tf.io.encode_png(np.random.default_rng(0).integers(0, 256, (60, 80, 3), np.uint8)))
    assert command_module("predict").main([str(photo), "--model", str(out), "--out", str(tmp_path / "masks"),
                                           "--no-progress"]) == 0
    assert (tmp_path / "masks" / "a.png").is_file()
    assert command_module("evaluate").main(["--model", str(out), "--dataset", "synthetic:tiny", "--limit", "1",
                                            "--no-boundary", "--no-progress"]) == 0
    assert "full" in capsys.readouterr().out
    with pytest.raises(FileExistsError):
        export_runtime_model(workdir.root, out, "onnx", "float32")
