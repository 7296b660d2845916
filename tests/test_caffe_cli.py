"""convert_caffe.py: three released-shape .caffemodel files -> a work directory that predict.py uses; and
the command line's refusals (one line on stderr naming the file, exit status 2, nothing written)."""

import json

import numpy as np
import pytest
from caffe_reference import encode_net, random_blobs
from disk_full import file_size_limit
from helpers import command_module
from PIL import Image
from release_networks import GSN_TABLE, LRN_TABLE, glfn_table, parse_table

from hrsod_tf.workdir import WorkDir

pytestmark = pytest.mark.slow  # every test here trains, exports, or runs a subprocess or a video

TRAINING_ONLY = [("loss", "SoftmaxWithLoss", ("upscore3", "label"), ("loss",), [])]


def _write(path, table_text, seed, extra=()):
    layers = parse_table(table_text)
    blobs = random_blobs(layers, np.random.default_rng(seed))
    entries = [(layer["name"], layer["type"], layer["bottoms"], layer["tops"], blobs.get(layer["name"], []))
               for layer in layers if layer["type"] != "Input"]
    path.write_bytes(encode_net(entries + list(extra)))
    return path


@pytest.fixture(scope="module")
def release_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("caffe")
    return {
        "gsn": _write(root / "GSN.caffemodel", GSN_TABLE, 1, TRAINING_ONLY),
        "lrn": _write(root / "LRN.caffemodel", LRN_TABLE, 2),
        "glfn": _write(root / "GLFN.caffemodel", glfn_table(size=384), 3),
    }


def _args(files, workdir, *extra):
    return ["--gsn", str(files["gsn"]), "--lrn", str(files["lrn"]), "--glfn", str(files["glfn"]),
            "--workdir", str(workdir), *extra]


def test_converted_work_directory_predicts_a_photo_with_predict_py(release_files, tmp_path, capsys):
    convert = command_module("convert_caffe")
    workdir = tmp_path / "authors"
    assert convert.main(_args(release_files, workdir, "--glfn-variant", "low_res", "--verbose")) == 0
    out = capsys.readouterr().out
    assert "ignored" in out and "loss (SoftmaxWithLoss)" in out
    config = json.loads((workdir / "config.json").read_text())
    assert config["preset"] == "official" and config["inference"]["protocol"] == "release"
    assert config["inference"]["release_mode"] == "low_res"
    run = WorkDir(workdir)
    assert all(run.is_finished(stage) for stage in ("gsn", "lrn", "glfn"))
    gsn = run.load_model("gsn")
    blobs = random_blobs(parse_table(GSN_TABLE), np.random.default_rng(1))
    np.testing.assert_array_equal(gsn.get_layer("block1_conv1").kernel.numpy(),
                                  blobs["conv1_1"][0].transpose(2, 3, 1, 0))

    photo = tmp_path / "photos" / "cat.png"
    photo.parent.mkdir()
    Image.fromarray(np.random.default_rng(4).integers(0, 256, (120, 160, 3), dtype=np.uint8)).save(photo)
    predict = command_module("predict")
    assert predict.main([str(photo), "--workdir", str(workdir), "--out", str(tmp_path / "masks"),
                         "--no-progress"]) == 0
    assert Image.open(tmp_path / "masks" / "cat.png").size == (160, 120)


def test_cli_refuses_swapped_files_with_one_line_naming_the_file(release_files, tmp_path, capsys):
    convert = command_module("convert_caffe")
    swapped = dict(release_files, gsn=release_files["lrn"], lrn=release_files["gsn"])
    assert convert.main(_args(swapped, tmp_path / "run")) == 2
    err = capsys.readouterr().err
    assert "LRN.caffemodel" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_cli_refuses_a_missing_file_and_an_existing_run(release_files, tmp_path, capsys):
    convert = command_module("convert_caffe")
    missing = dict(release_files, glfn=tmp_path / "nowhere.caffemodel")
    assert convert.main(_args(missing, tmp_path / "run")) == 2
    assert "nowhere.caffemodel does not exist" in capsys.readouterr().err
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "config.json").write_text("{}")
    assert convert.main(_args(release_files, existing)) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (existing / "config.json").read_text() == "{}"


@pytest.mark.slow
def test_a_full_disk_during_overwrite_leaves_the_previous_conversion_usable_and_says_so(release_files, tmp_path,
                                                                                         capsys):
    convert = command_module("convert_caffe")
    workdir = tmp_path / "authors"
    assert convert.main(_args(release_files, workdir, "--glfn-variant", "low_res")) == 0
    before = {p.relative_to(workdir): p.read_bytes() for p in workdir.rglob("*") if p.is_file()}
    capsys.readouterr()
    with file_size_limit(1 << 20):  # the GSN's weights (65 MB) cannot be written
        assert convert.main(_args(release_files, workdir, "--overwrite")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot write" in err[0] and "File too large" in err[0]
    after = {p.relative_to(workdir): p.read_bytes() for p in workdir.rglob("*") if p.is_file()}
    assert after == before  # no temporary file left, nothing replaced (the GLFN variant is still low_res)
    WorkDir(workdir).load_models()
