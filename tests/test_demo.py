"""hrsod_tf.demo: a demo folder is continued only on the scenes it was trained on."""

import json

import pytest

from hrsod_tf import demo
from hrsod_tf.training import WorkDirConflictError
from hrsod_tf.workdir import WorkDir


def test_a_demo_folder_trained_on_the_first_scenes_is_refused_for_the_photo_like_ones(tmp_path):
    run = WorkDir(tmp_path)
    demo.check_trained_on(run, demo.DEMO_DATASET)  # nothing trained yet: nothing to refuse
    (tmp_path / "gsn").mkdir()
    (tmp_path / "gsn" / "final.weights.h5").write_bytes(b"weights")
    done = {"training_data": [{"source": demo.DEMO_DATASETS["classic"]}]}
    (tmp_path / "gsn" / "DONE.json").write_text(json.dumps(done))
    with pytest.raises(WorkDirConflictError, match="its gsn was trained on hrsod_synthetic/small.*--scenes classic"):
        demo.check_trained_on(run, demo.DEMO_DATASETS["photo"])
    demo.check_trained_on(run, demo.DEMO_DATASETS["classic"])
