"""The TF Serving export: signatures, equality with the in-project pipeline, guards, warm-up, versions.

No TF Serving server runs here: the tests load the SavedModel with plain TensorFlow (in a process that cannot
import hrsod_tf), and feed it requests built and converted the way TF Serving builds and converts them.
"""

import dataclasses
import json
import os
import re
import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest
import tensorflow as tf
from helpers import command_module
from matplotlib import cbook
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

from hrsod_tf.config import get_preset
from hrsod_tf.deploy import saved_model as export
from hrsod_tf.deploy.serving_model import existing_versions, load_serving_model, version_dir
from hrsod_tf.pipeline import SaliencyPipeline
from hrsod_tf.workdir import WorkDir, make_random_workdir

pytestmark = pytest.mark.slow  # every test here trains, exports, or runs a subprocess or a video

PIXEL_LIMIT = 1_000_000  # small, so that an over-limit image is cheap to make
LIMIT_MESSAGE = f"above the limit of {PIXEL_LIMIT} (InferenceConfig.max_image_pixels)"


def _make_workdir(root):
    """A tiny random-init run with all three stages marked finished (no training), with a small pixel limit."""
    run = make_random_workdir(root, "tiny", seed=7)
    config = run.load_config()
    run.save_config(config.replace(inference=dataclasses.replace(config.inference, max_image_pixels=PIXEL_LIMIT)))
    return run.root


_FRESH_SCRIPT = textwrap.dedent("""
    import importlib.abc
    import sys


    class NoProjectCode(importlib.abc.MetaPathFinder):
        # The project is installed in this Python: refuse its packages, so the SavedModel must stand alone.
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("hrsod_tf", "hrsod_tf_datasets"):
                raise ImportError(f"{name}: the export must load without the project's code")
            return None


    sys.meta_path.insert(0, NoProjectCode())
    try:
        import hrsod_tf  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("hrsod_tf is importable: the test would prove nothing")
    import numpy as np
    import tensorflow as tf

    model_dir, image_path, out = sys.argv[1:]
    loaded = tf.saved_model.load(model_dir)
    data = open(image_path, "rb").read()
    image = tf.io.decode_jpeg(data)
    saliency = loaded.signatures["predict_image"](image=image)["saliency"].numpy()
    served = loaded.signatures["serving_default"](image_bytes=tf.constant([data]))
    mask = tf.io.decode_png(served["mask_png_bytes"][0]).numpy()
    np.savez(out, saliency=saliency, mask=mask, height=served["height"].numpy(), width=served["width"].numpy())
""")




@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """One export shared by every test: its workdir, model base path, version 1 directory, and the two
    subprocess checks (saved_model_cli; a fresh Python), started at once so that their TensorFlow start-up
    overlaps the other tests."""
    root = tmp_path_factory.mktemp("export")
    workdir = _make_workdir(root / "run")
    base = root / "models" / "hrsod"
    assert command_module("export").main(["--workdir", str(workdir), "--out", str(base)]) == 0
    version = base / "1"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    pipes = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    cli_show = subprocess.Popen(["saved_model_cli", "show", "--dir", str(version), "--all"], **pipes)
    scratch = root / "fresh"
    scratch.mkdir()
    (scratch / "load_export.py").write_text(_FRESH_SCRIPT)
    fresh = subprocess.Popen(
        [sys.executable, "-I", "load_export.py", str(version), str(cbook.get_sample_data("grace_hopper.jpg",
                                                                                            asfileobj=False)),
         str(scratch / "out.npz")],
        cwd=scratch, **pipes,
    )
    yield types.SimpleNamespace(workdir=workdir, base=base, version=version, cli_show=cli_show, fresh=fresh,
                                fresh_out=scratch / "out.npz")
    for process in (cli_show, fresh):
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.fixture(scope="module")
def served(exported):
    return load_serving_model(exported.version)


@pytest.fixture(scope="module")
def photo():
    """Grace Hopper (600 x 512), as JPEG bytes and as decoded uint8 [H, W, 3]."""
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        data = f.read()
    return data, tf.io.decode_jpeg(data).numpy()


def _encode(image, fmt):
    image = tf.constant(image, tf.uint8)
    return (tf.io.encode_jpeg(image) if fmt == "jpeg" else tf.io.encode_png(image)).numpy()


def _scene(height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _serve(served, files):
    return served.loaded.signatures[export.SERVING_SIGNATURE](image_bytes=tf.constant(files, tf.string))


# -- layout and signatures ----------------------------------------------------------------------------------


def test_version_directory_holds_a_saved_model_and_a_warmup_file(exported):
    base, version = exported.base, exported.version
    assert (version / "saved_model.pb").is_file() and (version / "variables").is_dir()
    assert (version / "assets.extra" / "tf_serving_warmup_requests").is_file()
    assert not [p for p in base.iterdir() if p.name.startswith(".")], "a staging directory was left behind"
    metadata = json.loads((version / export.METADATA_FILE).read_text())
    assert metadata["max_image_pixels"] == PIXEL_LIMIT and metadata["max_batch_size"] == export.MAX_BATCH_SIZE


def test_saved_model_cli_lists_both_signatures(exported):
    stdout, stderr = exported.cli_show.communicate(timeout=600)
    assert exported.cli_show.returncode == 0, stderr[-3000:]
    signatures = {}
    for block in re.split(r"signature_def\['", stdout)[1:]:
        name, body = block.split("'", 1)
        tensors = re.findall(r"\['(\w+)'\] tensor_info:\s+dtype: (\w+)\s+shape: \(([^)]*)\)", body)
        signatures[name] = {tensor: (dtype, shape) for tensor, dtype, shape in tensors}
    assert signatures["serving_default"] == {
        "image_bytes": ("DT_STRING", "-1"),
        "mask_png_bytes": ("DT_STRING", "-1"),
        "height": ("DT_INT32", "-1"),
        "width": ("DT_INT32", "-1"),
    }
    assert signatures["predict_image"] == {
        "image": ("DT_UINT8", "-1, -1, 3"),
        "saliency": ("DT_FLOAT", "-1, -1, 1"),
    }


def test_graph_has_no_python_function(exported):
    saved = saved_model_pb2.SavedModel.FromString((exported.version / "saved_model.pb").read_bytes())
    graph = saved.meta_graphs[0].graph_def
    ops = {node.op for node in graph.node}
    for function in graph.library.function:
        ops.update(node.op for node in function.node_def)
    assert not ops & {"PyFunc", "EagerPyFunc", "PyFuncStateless"}
    assert {"DecodeImage", "ExtractJpegShape", "EncodePng"} <= ops


# -- the same map as the in-project pipeline, from a process that cannot import hrsod_tf ------------------



def test_fresh_process_gets_the_in_project_map(exported, photo):
    _, stderr = exported.fresh.communicate(timeout=600)
    assert exported.fresh.returncode == 0, stderr[-3000:]
    fresh = np.load(exported.fresh_out)

    expected = SaliencyPipeline.from_workdir(exported.workdir).predict(photo[1], "full").numpy()
    height, width = photo[1].shape[:2]
    assert fresh["saliency"].shape == expected.shape == (height, width, 1)
    assert np.abs(fresh["saliency"] - expected).max() <= 1e-3
    quantised = np.round(np.clip(expected, 0, 1) * 255)
    assert fresh["mask"].shape == (height, width, 1)
    assert np.abs(fresh["mask"].astype(np.int32) - quantised).max() <= 1
    assert list(fresh["height"]) == [height] and list(fresh["width"]) == [width]


def test_loader_callable_matches_serving_default(served, photo):
    saliency = served(photo[1])
    assert saliency.dtype == np.float32 and saliency.shape == photo[1].shape[:2] + (1,)
    mask = tf.io.decode_png(served.predict_files([photo[0]])[0]).numpy()
    np.testing.assert_array_equal(mask, export.saliency_to_uint8_tensor(saliency).numpy())


def test_loader_accepts_the_model_base_path(exported):
    assert os.path.basename(version_dir(exported.base)) == str(max(existing_versions(exported.base)))


# -- requests as TF Serving builds and converts them -------------------------------------------------------


def test_grpc_predict_request_with_two_image_sizes(served):
    jpeg, png = _encode(_scene(90, 130), "jpeg"), _encode(_scene(47, 61, seed=1), "png")
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "hrsod"
    request.model_spec.signature_name = "serving_default"
    request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto([jpeg, png]))
    request = predict_pb2.PredictRequest.FromString(request.SerializeToString())  # over the wire

    inputs = {name: tf.constant(tf.make_ndarray(proto)) for name, proto in request.inputs.items()}
    outputs = served.loaded.signatures[request.model_spec.signature_name](**inputs)
    assert list(outputs["height"].numpy()) == [90, 47] and list(outputs["width"].numpy()) == [130, 61]
    masks = [tf.io.decode_png(png_bytes).numpy() for png_bytes in outputs["mask_png_bytes"].numpy()]
    assert [m.shape for m in masks] == [(90, 130, 1), (47, 61, 1)]
    assert all(m.dtype == np.uint8 for m in masks)


def test_warmup_file_holds_prediction_logs_that_run(exported, served):
    path = exported.version / "assets.extra" / "tf_serving_warmup_requests"
    records = [prediction_log_pb2.PredictionLog.FromString(r.numpy()) for r in tf.data.TFRecordDataset(str(path))]
    assert records
    for log in records:
        request = log.predict_log.request
        assert request.model_spec.signature_name == "serving_default"
        inputs = {name: tf.constant(tf.make_ndarray(proto)) for name, proto in request.inputs.items()}
        outputs = served.loaded.signatures["serving_default"](**inputs)
        assert outputs["mask_png_bytes"].shape[0] == len(request.inputs["image_bytes"].string_val) > 0


# -- guards -------------------------------------------------------------------------------------------------


def test_bytes_that_are_no_image_are_refused(served):
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"image_bytes\[1\] is neither a JPEG nor a PNG"):
        _serve(served, [_encode(_scene(20, 20), "png"), b"definitely not an image"])


def test_a_truncated_jpeg_is_refused(served, photo):
    with pytest.raises(tf.errors.InvalidArgumentError):
        _serve(served, [photo[0][:300]])


def test_an_image_above_the_pixel_limit_is_refused(served):
    too_big = _encode(np.zeros((1001, 1000, 3), np.uint8), "jpeg")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"image_bytes\[0\] has 1001 x 1000 pixels, "
                                                             + re.escape(LIMIT_MESSAGE)):
        _serve(served, [too_big])
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(LIMIT_MESSAGE)):
        served(np.zeros((1001, 1000, 3), np.uint8))


def test_a_png_bomb_is_refused_from_its_header(served):
    # A PNG whose IHDR claims 100000 x 80000 pixels (8e9, 24 GB as RGB) but carries no pixel data: refused
    # with the limit's message, which proves the size is read before anything is decoded or allocated.
    png = _encode(_scene(4, 4), "png")
    bomb = png[:16] + (80000).to_bytes(4, "big") + (100000).to_bytes(4, "big") + png[24:]
    with pytest.raises(tf.errors.InvalidArgumentError, match="has 100000 x 80000 pixels, " + re.escape(LIMIT_MESSAGE)):
        _serve(served, [bomb])


def test_too_many_images_in_one_request_are_refused(served):
    files = [_encode(_scene(8, 8), "jpeg")] * (export.MAX_BATCH_SIZE + 1)
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"above the limit of {export.MAX_BATCH_SIZE} per"):
        _serve(served, files)


def test_an_empty_request_gets_empty_outputs(served):
    outputs = _serve(served, [])
    assert {name: tuple(t.shape) for name, t in outputs.items()} == {
        "mask_png_bytes": (0,), "height": (0,), "width": (0,)}


# -- versions and the command line ------------------------------------------------------------------------


def test_export_again_writes_the_next_version_and_never_overwrites(exported, capsys):
    workdir, base, version_1 = exported.workdir, exported.base, exported.version
    before = (version_1 / "saved_model.pb").stat().st_mtime_ns
    cli = command_module("export")
    assert cli.main(["--workdir", str(workdir), "--out", str(base)]) == 0
    assert f"wrote {base / '2'}" in capsys.readouterr().out
    assert existing_versions(base) == [1, 2]

    assert cli.main(["--workdir", str(workdir), "--out", str(base), "--version", "1"]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "never overwritten" in err and "Traceback" not in err
    assert (version_1 / "saved_model.pb").stat().st_mtime_ns == before
    assert existing_versions(base) == [1, 2]


def test_cli_reports_a_missing_workdir_or_stage_without_traceback(tmp_path, capsys):
    cli = command_module("export")
    assert cli.main(["--workdir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m")]) == 2
    assert "does not exist" in capsys.readouterr().err

    run = WorkDir(tmp_path / "half")
    run.save_config(get_preset("tiny"))
    assert cli.main(["--workdir", str(run.root), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "hrsod train --stage gsn" in err and "Traceback" not in err
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").iterdir())


def test_next_free_version_follows_the_highest(tmp_path):
    for name in ("1", "4", "notes", ".export-9-x"):
        (tmp_path / name).mkdir()
    assert export.resolve_version(tmp_path) == 5
    assert export.resolve_version(tmp_path / "absent") == 1
    with pytest.raises(export.ExportError, match="already exists"):
        export.resolve_version(tmp_path, 4)
