"""The paper's RPS ablation: an LRN trained on random patches (`train.py --stage lrn --sampler rps`), in its own
folder of the work directory, used by "gsn+rps+lrn" when it exists, and named by the report."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hrsod_tf.config import get_preset
from hrsod_tf.data import pipelines
from hrsod_tf.evaluation.folders import EvaluationResult
from hrsod_tf.evaluation.variant_report import RANDOM_PATCHES_NOTE, TRAINED_RPS_NOTE, markdown_table
from hrsod_tf.pipeline import SaliencyPipeline
from hrsod_tf.training import stages
from hrsod_tf.training.stages import stage_seed
from hrsod_tf.workdir import StageNotTrainedError, WorkDir, make_random_workdir

REPO = Path(__file__).resolve().parents[1]


def test_rps_lrn_needs_the_gsn_and_names_its_command(tmp_path):
    workdir = make_random_workdir(tmp_path / "run", stages=("gsn", "lrn"))
    with pytest.raises(StageNotTrainedError, match="--stage lrn --sampler rps"):
        workdir.require_stage("rps_lrn")
    assert workdir.load_models(stages=("rps_lrn",), strict=False).rps_lrn is None


def test_rps_lrn_starts_from_the_aps_lrns_seed_and_settings():
    config = get_preset("tiny")
    assert stage_seed(config, "rps_lrn") == stage_seed(config, "lrn")
    assert config.train.stage("rps_lrn") is config.train.lrn


@pytest.mark.slow
def test_pipeline_of_a_run_uses_its_rps_trained_lrn(tmp_path):
    workdir = make_random_workdir(tmp_path / "run", stages=("gsn", "lrn"))
    assert not SaliencyPipeline.from_workdir(workdir.root).rps_is_trained
    make_random_workdir(tmp_path / "run", stages=("gsn", "lrn", "rps_lrn"))
    pipeline = SaliencyPipeline.from_workdir(workdir.root)
    assert pipeline.rps_is_trained
    image = np.random.default_rng(0).integers(0, 256, (80, 96, 3), dtype=np.uint8)
    assert pipeline.predict(image, "gsn+rps+lrn").shape == (80, 96, 1)


def test_report_says_which_lrn_ran_the_random_patches():
    results = {"gsn+rps+lrn": EvaluationResult(1, {"MAE": 0.1}, pr_curve=None)}
    assert TRAINED_RPS_NOTE in markdown_table(results, rps_is_trained=True)
    assert RANDOM_PATCHES_NOTE.split("*", 1)[1] in markdown_table(results, rps_is_trained=False)


@pytest.mark.slow
def test_train_py_trains_the_rps_lrn_into_its_own_folder(tmp_path):
    workdir = WorkDir(tmp_path / "run")
    make_random_workdir(workdir.root, stages=("gsn",))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "train.py", "--stage", "lrn", "--sampler", "rps", "--workdir", str(workdir.root),
               "--dataset", "synthetic", "--steps", "2", "--validate-every", "0", "--no-progress"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert workdir.is_finished("rps_lrn") and not workdir.is_finished("lrn")
    assert workdir.final_weights("rps_lrn").parent.name == "rps_lrn"


@pytest.mark.slow
def test_sampler_rps_is_for_the_lrn_stage_only(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "train.py", "--stage", "glfn", "--sampler", "rps", "--workdir",
                           str(tmp_path / "x")], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 2 and "--stage lrn" in done.stderr


def test_rps_training_data_are_random_boxes(monkeypatch, tmp_path):
    seen = {}

    def fake_lrn_dataset(examples, cache, config, *, sampler="aps", **kwargs):
        seen["sampler"] = sampler
        raise RuntimeError("stop")

    monkeypatch.setattr(pipelines, "lrn_dataset", fake_lrn_dataset)
    monkeypatch.setattr(stages, "coarse_map_cache", lambda *args: None)
    monkeypatch.setattr(stages, "_fits_in_memory", lambda *args: False)
    monkeypatch.setattr(stages, "training_examples", lambda *args: None)
    config = dataclasses.replace(get_preset("tiny"))
    dataset_fn, _ = stages.stage_data(config, "rps_lrn", WorkDir(tmp_path), source=None, validation=None)
    with pytest.raises(RuntimeError, match="stop"):
        dataset_fn(None)
    assert seen["sampler"] == "random"
