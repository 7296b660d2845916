"""A full disk (simulated without privileges: a file-size limit makes writes fail part-way, in Python, TensorFlow
and HDF5 alike) while writing a mask, a checkpoint or a network's weights: one line says what happened, the
previous file is still there and usable, no temporary file is left. reliability/disk_full.py does the same on a
real full tmpfs."""

import numpy as np
import pytest
from disk_full import file_size_limit
from helpers import command_module
from PIL import Image

from hrsod_tf.config import get_preset
from hrsod_tf.files import WriteError
from hrsod_tf.models.stage_networks import build_stage_network
from hrsod_tf.training.checkpoints import StageCheckpoints
from hrsod_tf.workdir import WorkDir, make_random_workdir

LIMIT = 64 * 1024  # bytes: larger than anything the test prints, smaller than each file written under it


def _hidden(folder):
    return sorted(p.name for p in folder.rglob(".*"))


@pytest.mark.slow
def test_predict_on_a_full_disk_keeps_the_previous_cutout_and_says_so_in_one_line(tmp_path, capsys):
    run = make_random_workdir(tmp_path / "run")
    photo = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    Image.fromarray(photo).save(tmp_path / "in.png")
    (tmp_path / "in").mkdir()
    (tmp_path / "in.png").rename(tmp_path / "in" / "photo.png")
    args = [str(tmp_path / "in"), "--workdir", str(run.root), "--out", str(tmp_path / "out"), "--output", "rgba",
            "--no-progress"]
    predict = command_module("predict")
    assert predict.main(args) == 0
    before = (tmp_path / "out" / "photo.png").read_bytes()
    capsys.readouterr()
    with file_size_limit(LIMIT):
        status = predict.main([*args, "--overwrite"])
    errors = capsys.readouterr().err.strip().splitlines()
    assert status == 1 and len(errors) == 1
    assert "cannot write" in errors[0] and "photo.png" in errors[0] and "the previous one is unchanged" in errors[0]
    assert "[Errno" not in errors[0]
    assert (tmp_path / "out" / "photo.png").read_bytes() == before and _hidden(tmp_path / "out") == []


def test_a_checkpoint_that_cannot_be_written_leaves_the_previous_one_restorable(tmp_path):
    model = build_stage_network("gsn", get_preset("tiny").model)
    checkpoints = StageCheckpoints(tmp_path / "ckpt", keep=3, model=model)
    checkpoints.save(5)
    with file_size_limit(LIMIT), pytest.raises(WriteError) as raised:
        checkpoints.save(10)
    message = str(raised.value)
    assert "\n" not in message and "cannot write checkpoint" in message and "ckpt-5, which is intact" in message
    assert "--resume" in message
    assert not list((tmp_path / "ckpt").glob("ckpt-10*"))
    fresh = StageCheckpoints(tmp_path / "ckpt", keep=3, model=build_stage_network("gsn", get_preset("tiny").model))
    assert fresh.restore().endswith("ckpt-5")


def test_final_weights_that_cannot_be_written_leave_the_previous_file_and_the_process_alive(tmp_path):
    run = make_random_workdir(tmp_path / "run", stages=("gsn",))
    before = run.final_weights("gsn").read_bytes()
    model = build_stage_network("gsn", get_preset("tiny").model)
    with file_size_limit(LIMIT), pytest.raises(WriteError, match=r"cannot write .*final\.weights\.h5: File too "
                                                                 r"large; the previous one is unchanged"):
        run.save_final_weights("gsn", model)  # model.save_weights itself crashes the process (h5py)
    assert run.final_weights("gsn").read_bytes() == before and _hidden(run.stage_dir("gsn")) == []
    WorkDir(run.root).load_model("gsn")
