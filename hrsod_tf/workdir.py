"""The work directory of a run: where every stage's checkpoints, weights, caches and logs live.

    runs/NAME/
      config.json                 the run's `Config` (written by the first stage trained there)
      gsn/ lrn/ glfn/             one directory per stage (and rps_lrn/, the paper's RPS ablation, when trained):
        checkpoints/ckpt-N.*        the last `keep_checkpoints` training checkpoints (for --resume)
        checkpoints/best/ckpt-N.*   the checkpoint with the best validation MAE
        final.weights.h5            the trained network (`model.save_weights`), written when the stage ends
        DONE.json                   marks the stage finished: steps, seconds, final loss, best MAE, ...
      caches/coarse/              GSN maps of the training images (LRN stage input), a `MapCache`
      caches/fused/               GSN+APS+LRN maps (GLFN stage input), a `MapCache`
      logs/gsn/ logs/lrn/ ...     TensorBoard event files
      report/                     evaluation results and figures

Inference, evaluation and export load the trained networks with `WorkDir(path).load_models()`; a stage
counts as trained when its ``DONE.json`` and ``final.weights.h5`` both exist.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import pathlib
import re
import shutil
import typing
import warnings

import keras
import numpy as np
from keras.src.saving import saving_lib  # H5IOStore on a file object: see weights_file_bytes

from hrsod_tf.commands import command
from hrsod_tf.config import Config, get_preset
from hrsod_tf.files import atomic_write
from hrsod_tf.models.stage_networks import build_stage_network

STAGES = ("gsn", "lrn", "glfn")  # the method's stages, in training order
# The ablation's: "rps_lrn", an LRN trained on randomly placed patches (as many and as large as APS gives), the
# paper's GSN+RPS+LRN (Sec. 5.3.1); trained with `python train.py --stage lrn --sampler rps`.
ABLATION_STAGES = ("rps_lrn",)
ALL_STAGES = STAGES + ABLATION_STAGES
STAGE_NAMES = {"gsn": "GSN", "lrn": "LRN", "glfn": "GLFN", "rps_lrn": "RPS-trained LRN"}
DEPENDENCIES = {"gsn": (), "lrn": ("gsn",), "glfn": ("gsn", "lrn"), "rps_lrn": ("gsn",)}


class StageNotTrainedError(FileNotFoundError):
    """A stage's trained network is missing; the message says how to train it."""


def weights_file_bytes(model) -> bytes:
    """The ``.weights.h5`` file that `model.save_weights` would write, made in memory.

    Written to disk with `hrsod_tf.files.atomic_write`, a full disk is then an ordinary OSError: when HDF5 itself
    hits a full disk in `model.save_weights`, h5py prints hundreds of tracebacks and the process dies of a
    segmentation fault (h5py 3.14, measured by reliability/disk_full.py). Keras' own H5IOStore writes to an
    in-memory file; the walk over the model is Keras' `save_weights_only` (keras.src: no public entry takes a
    file object; tests/test_workdir_loading.py checks the bytes load back with `model.load_weights`).
    """
    buffer = io.BytesIO()
    store = saving_lib.H5IOStore(buffer, mode="w")
    saving_lib._save_state(model, weights_store=store, assets_store=None, inner_path="", visited_saveables=set())
    store.close()
    return buffer.getvalue()


class WeightsFileError(ValueError):
    """A weights file that cannot be loaded into its network; the message names the file and what to do."""


# Keras warns, and keeps the freshly initialised weights, when a weights file lacks a layer's group: a damaged
# file must not load as a half-random network.
_PARTIAL_LOAD = re.compile(r"Skipping|could not be loaded|retain their freshly-initialized weights")


def load_weights_checked(model, path, what: str, remedy: str) -> None:
    """`model.load_weights(path)`, refusing (`WeightsFileError`, one line naming `path`) a file that cannot be
    read, lacks some of the network's weights (Keras only warns then) or holds NaN or infinite values."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.load_weights(str(path))
            reason = next((str(w.message).splitlines()[0] for w in caught if _PARTIAL_LOAD.search(str(w.message))),
                          None)
        except (OSError, RuntimeError, ValueError, KeyError, TypeError) as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    for warning in caught:  # the others, as they would have been shown
        if not _PARTIAL_LOAD.search(str(warning.message)):
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if reason is None and not all(np.all(np.isfinite(w)) for w in model.get_weights()):
        reason = "some weights are NaN or infinite"
    if reason is not None:
        raise WeightsFileError(f"{path}: cannot load {what} ({reason.rstrip(':.')}): the file is damaged or was "
                               f"written for another configuration; {remedy}")


class TrainedModels(typing.NamedTuple):
    """The trained networks of a work directory (None for stages not loaded)."""

    gsn: object = None
    lrn: object = None
    glfn: object = None
    rps_lrn: object = None


class WorkDir:
    """Paths and state of one run's work directory (see the module docstring for the layout).

    Args:
        root: the directory (created when something is first written).
    """

    def __init__(self, root: str | os.PathLike):
        self.root = pathlib.Path(root)

    def __repr__(self):
        return f"WorkDir({str(self.root)!r})"

    # -- paths --------------------------------------------------------------------------------------
    @property
    def config_path(self) -> pathlib.Path:
        return self.root / "config.json"

    @property
    def report_dir(self) -> pathlib.Path:
        return self.root / "report"

    def stage_dir(self, stage: str) -> pathlib.Path:
        return self.root / _check_stage(stage)

    def checkpoint_dir(self, stage: str) -> pathlib.Path:
        return self.stage_dir(stage) / "checkpoints"

    def best_checkpoint_dir(self, stage: str) -> pathlib.Path:
        return self.checkpoint_dir(stage) / "best"

    def final_weights(self, stage: str) -> pathlib.Path:
        return self.stage_dir(stage) / "final.weights.h5"

    def done_path(self, stage: str) -> pathlib.Path:
        return self.stage_dir(stage) / "DONE.json"

    def log_dir(self, stage: str) -> pathlib.Path:
        return self.root / "logs" / _check_stage(stage)

    def cache_dir(self, kind: str) -> pathlib.Path:
        if kind not in ("coarse", "fused"):
            raise ValueError(f"cache kind must be 'coarse' or 'fused', got {kind!r}")
        return self.root / "caches" / kind

    # -- config -------------------------------------------------------------------------------------
    def has_config(self) -> bool:
        return self.config_path.is_file()

    def load_config(self) -> Config:
        if not self.has_config():
            raise FileNotFoundError(f"{self.config_path} does not exist: nothing was trained in {self.root}")
        return Config.load(self.config_path)

    def save_config(self, config: Config) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        config.save(self.config_path)

    # -- stage state --------------------------------------------------------------------------------
    def is_finished(self, stage: str) -> bool:
        return self.done_path(stage).is_file() and self.final_weights(stage).is_file()

    def training_sources(self, stage: str) -> list[str] | None:
        """The ``--dataset`` specs the finished `stage` trained on (``["hrsod_synthetic/photo_small"]`` for the
        demo), [] when its DONE.json did not record them, None when the stage is not finished."""
        info = self.done_info(stage)
        return None if info is None else [entry.get("source") for entry in info.get("training_data") or ()]

    def done_info(self, stage: str) -> dict | None:
        """The contents of the stage's DONE.json, or None when the stage is not finished."""
        if not self.is_finished(stage):
            return None
        try:
            return json.loads(self.done_path(stage).read_text(encoding="utf-8"))
        except ValueError as error:
            raise WeightsFileError(f"{self.done_path(stage)} is damaged ({str(error).splitlines()[0]}): train the "
                                   f"stage again with --overwrite") from None

    def has_checkpoints(self, stage: str) -> bool:
        return (self.checkpoint_dir(stage) / "checkpoint").is_file()

    def save_final_weights(self, stage: str, model) -> pathlib.Path:
        """Writes the stage's ``final.weights.h5`` from a Keras model, atomically (complete or absent); a full
        disk raises `hrsod_tf.files.WriteError` (one line) and leaves the previous file as it was."""
        return atomic_write(self.final_weights(stage), weights_file_bytes(model))

    def mark_finished(self, stage: str, info: dict) -> None:
        """Writes ``<stage>/DONE.json`` (atomically) once ``final.weights.h5`` is in place."""
        if not self.final_weights(stage).is_file():
            raise FileNotFoundError(f"{self.final_weights(stage)} must be written before the stage is marked done")
        atomic_write(self.done_path(stage), json.dumps(info, indent=2, sort_keys=True, default=str) + "\n")

    def clear_stage(self, stage: str) -> None:
        """Deletes a stage's directory and logs (for --overwrite)."""
        shutil.rmtree(self.stage_dir(stage), ignore_errors=True)
        shutil.rmtree(self.log_dir(stage), ignore_errors=True)

    def require_stage(self, stage: str, needed_by: str | None = None) -> pathlib.Path:
        """The stage's final weights, or `StageNotTrainedError` saying how to train it."""
        if self.is_finished(stage):
            return self.final_weights(stage)
        name = STAGE_NAMES[_check_stage(stage)]
        why = f" (the {STAGE_NAMES[needed_by]} stage needs it)" if needed_by else ""
        state = ""
        if self.has_checkpoints(stage):
            state = (f"; its training stopped before the end: continue it with "
                     f"`{command('train')} {train_flags(stage)} --workdir {self.root} --resume`")
        raise StageNotTrainedError(
            f"no trained {name} in {self.root}{why}: train it with "
            f"`{command('train')} {train_flags(stage)} --workdir {self.root}`{state}")

    def require_dependencies(self, stage: str) -> None:
        """Raises `StageNotTrainedError` for the first stage that `stage` needs and that is not trained."""
        for dependency in DEPENDENCIES[_check_stage(stage)]:
            self.require_stage(dependency, needed_by=stage)

    # -- models -------------------------------------------------------------------------------------
    def load_model(self, stage: str, config: Config | None = None, input_size: int | None = None):
        """Builds the stage's network and loads its ``final.weights.h5``; a damaged file (or one of another
        configuration) raises `WeightsFileError`, even where Keras would only warn and keep random weights.

        Args:
            stage: "gsn", "lrn" or "glfn".
            config: the run's config (default: this work directory's config.json).
            input_size: static input side, or None for any size.
        """
        path = self.require_stage(stage)
        config = config or self.load_config()
        # The final weights replace everything: never fetch ImageNet weights just to overwrite them.
        model_config = dataclasses.replace(config.model, backbone_weights="none")
        model = build_stage_network(stage, model_config, input_size=input_size)
        load_weights_checked(model, path, f"the {STAGE_NAMES[stage]} network", (
            f"train the stage again: `{command('train')} --stage {stage} --workdir {self.root} --overwrite`"))
        return model

    def load_models(self, config: Config | None = None, stages=STAGES, strict: bool = True) -> TrainedModels:
        """The trained networks of `stages` as `TrainedModels(gsn, lrn, glfn, rps_lrn)`.

        With `strict`, a missing stage raises `StageNotTrainedError`; otherwise it is None.
        """
        config = config or self.load_config()
        models = {}
        for stage in stages:
            if strict or self.is_finished(stage):
                models[stage] = self.load_model(stage, config)
        return TrainedModels(**models)


def train_flags(stage: str) -> str:
    """The train.py flags that train `stage` ("--stage lrn --sampler rps" for the RPS-trained LRN)."""
    return "--stage lrn --sampler rps" if stage == "rps_lrn" else f"--stage {stage}"


def _check_stage(stage: str) -> str:
    if stage not in ALL_STAGES:
        raise ValueError(f"unknown stage {stage!r}: expected one of {', '.join(ALL_STAGES)}")
    return stage


def make_random_workdir(path, preset: str = "tiny", stages=STAGES, seed: int = 0) -> WorkDir:
    """A run whose `stages` hold random-init networks of `preset`, marked finished as training would mark them:
    for tests, benchmarks and trying the tools (export, evaluation, prediction) without training.

    Writes config.json and, per stage, ``final.weights.h5`` and ``DONE.json`` (noting the random weights).
    """
    keras.utils.set_random_seed(seed)
    config = get_preset(preset)
    config = config.replace(model=dataclasses.replace(config.model, backbone_weights="none"))
    workdir = WorkDir(path)
    workdir.save_config(config)
    for stage in stages:
        workdir.stage_dir(stage).mkdir(parents=True, exist_ok=True)
        workdir.save_final_weights(stage, build_stage_network(stage, config.model))
        workdir.mark_finished(stage, {"steps": 0, "note": "random weights, not trained"})
    return workdir
