"""Test helpers: a work directory with random-init networks (a "trained" run without training one), and the
top-level command-line scripts imported as modules (so their main() runs in-process)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import keras

from hrsod_tf.config import get_preset
from hrsod_tf.networks import build_stage_network
from hrsod_tf.workdir import STAGES, WorkDir


def make_random_workdir(path, preset: str = "tiny", stages=STAGES, seed: int = 0) -> WorkDir:
    """Writes config.json and, for each of `stages`, random weights + DONE.json, as training would.

    Returns:
        The `WorkDir`.
    """
    keras.utils.set_random_seed(seed)
    config = get_preset(preset)
    workdir = WorkDir(path)
    workdir.save_config(config)
    for stage in stages:
        workdir.stage_dir(stage).mkdir(parents=True, exist_ok=True)
        build_stage_network(stage, config.model).save_weights(str(workdir.final_weights(stage)))
        workdir.mark_finished(stage, {"steps": 0, "note": "random weights (test fixture)"})
    return workdir


REPO = Path(__file__).resolve().parents[1]


def load_script(name: str):
    """The top-level script `name` (e.g. "predict.py") as a module; a subprocess would re-import TensorFlow."""
    spec = importlib.util.spec_from_file_location(name.replace(".py", "_cli"), REPO / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
