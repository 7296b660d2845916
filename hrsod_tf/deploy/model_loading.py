"""What a model folder holds, and its pipeline: the internals behind `hrsod_tf.load`, the one way in.

    runs/demo           a work directory (config.json and trained stages): its pipeline, any variant
    models/hrsod        a SavedModel (saved_model.pb, or a model base path of numbered versions): its
                        ``predict_image`` signature (the "full" variant, as exported)
    models/hrsod_int8   an OpenVINO, ONNX or LiteRT export (hrsod_model.json beside its three networks): the run's
                        pipeline with those networks on their runtime (`hrsod_tf.deploy.runtimes`), any variant

What a folder is comes from what it holds (`model_kind`); a folder that holds no model says what was looked for.
`load_pipeline` gives the stage-by-stage pipeline that evaluation and the benchmarks run variant by variant;
everything that predicts maps goes through `hrsod_tf.load` (`hrsod_tf.deploy.saliency_model`).
"""

from __future__ import annotations

import pathlib

import numpy as np

from hrsod_tf.config import Config
from hrsod_tf.deploy.runtimes.formats import (
    NETWORK_FILES,
    RUNTIME_FORMATS,
    SETTINGS_FILE,
    ModelFolderError,
    read_settings,
)
from hrsod_tf.deploy.runtimes.session_networks import load_export
from hrsod_tf.deploy.serving_model import existing_versions, load_serving_model
from hrsod_tf.image_io import too_large_error
from hrsod_tf.pipeline import SaliencyPipeline, stages_for_variant
from hrsod_tf.pipeline.saliency_pipeline import with_release_opt
from hrsod_tf.quality import with_quality
from hrsod_tf.workdir import WorkDir

__all__ = ["MODEL_KINDS", "ModelNotFoundError", "SavedModelPipeline", "check_image_size", "load_pipeline",
           "model_kind"]

#: what `model_kind` recognises, in the order it looks: a work directory, a SavedModel, a runtime export.
MODEL_KINDS = ("workdir", "saved_model", *RUNTIME_FORMATS)


class ModelNotFoundError(FileNotFoundError):
    """The path holds no model this project can load; the message says what was looked for."""


def model_kind(path) -> str:
    """One of `MODEL_KINDS`, from what `path` holds; raises `ModelNotFoundError` otherwise, and
    `ModelFolderError` for an export folder that is incomplete."""
    path = pathlib.Path(path)
    if not path.is_dir():
        raise ModelNotFoundError(f"{path}: no such folder (a work directory or an exported model was expected)")
    if WorkDir(path).has_config():
        return "workdir"
    if (path / "saved_model.pb").is_file() or existing_versions(path):
        return "saved_model"
    if (path / SETTINGS_FILE).is_file():
        return read_settings(path)["format"]
    network_files = [name for files in NETWORK_FILES.values() for name in files.values() if (path / name).is_file()]
    if network_files:
        raise ModelFolderError(f"{path} holds {network_files[0]} but no {SETTINGS_FILE}: an export that did not "
                               "finish, or files copied without it; export the run again")
    raise ModelNotFoundError(
        f"{path} holds no model: expected a work directory (config.json, written by train.py or convert_caffe.py), "
        f"a SavedModel (saved_model.pb or numbered version folders) or an OpenVINO / ONNX / LiteRT export "
        f"({SETTINGS_FILE}), written by export.py")


def check_image_size(image: np.ndarray, max_pixels: int, how_to_raise: str = "") -> None:
    """Raises `hrsod_tf.image_io.ImageTooLargeError` (a ValueError) for an image array above `max_pixels` (the
    model's ``inference.max_image_pixels``), as a file above it is refused from its header."""
    height, width = image.shape[:2]
    if height * width > max_pixels:
        raise too_large_error("the image", height * width, (width, height), max_pixels,
                              how_to_raise or "raise inference.max_image_pixels if the image is genuine")


class SavedModelPipeline:
    """A SavedModel where a `SaliencyPipeline` is expected (evaluation): ``predict_variants`` of "full" only.

    Attributes:
        config: the run's `Config`, from the export's metadata. networks: None (one traced graph).
    """

    networks = None

    def __init__(self, model):
        self.model = model
        self.config = Config.from_dict(model.metadata["config"])

    def predict_variants(self, image, variants=("full",)) -> dict:
        if tuple(variants) != ("full",):
            raise ValueError(f"a SavedModel runs the full variant only (asked: {', '.join(variants)})")
        return {"full": self.model(image)}


def load_pipeline(path, preset: str | None = None, threads: int | None = None, release_opt: int | None = None,
                  variant: str | None = None, quality: str | None = None) -> SaliencyPipeline:
    """The pipeline of a work directory or of a runtime export (OpenVINO, ONNX, LiteRT): any variant, stage by stage.

    Args:
        preset: when given, a model of another preset raises `ModelFolderError`.
        threads: threads each runtime of an export may use (None: its default).
        release_opt: the authors' test script's `opt` instead of the run's (protocol "release" only); a SavedModel
            runs the opt it was exported with.
        variant: a variant the pipeline must run (`hrsod_tf.pipeline.VARIANTS`): a work directory loads only the
            stages it needs, and says how to train one that is missing.
        quality: a level of `hrsod_tf.quality` instead of the model's (a SavedModel: only the one it was exported
            at).
    A SavedModel gives a `SavedModelPipeline` (one traced graph: the "full" variant, not stage by stage).

    Raises:
        ModelNotFoundError; ModelFolderError; RuntimeNotInstalledError; ValueError (release_opt for a SavedModel,
        a variant it cannot run); hrsod_tf.workdir.StageNotTrainedError.
    """
    kind = model_kind(path)
    if kind == "saved_model":
        if release_opt is not None:
            raise ValueError(f"--release-opt applies to a work directory or a runtime export: {path} runs the opt "
                             "it was exported with")
        pipeline = SavedModelPipeline(load_serving_model(path).at_quality(quality))
    elif kind == "workdir":
        require = stages_for_variant(variant) if variant else ("gsn",)
        pipeline = SaliencyPipeline.from_workdir(path, require=require, release_opt=release_opt, quality=quality)
    else:
        config, networks, _ = load_export(path, threads=threads, preset=preset)
        pipeline = SaliencyPipeline(with_quality(with_release_opt(config, release_opt), quality), networks)
    if preset is not None and pipeline.config.preset != preset:
        raise ModelFolderError(f"{path} holds a model of the {pipeline.config.preset!r} preset, not {preset!r}")
    if variant is not None and kind != "saved_model":
        pipeline.check_variants((variant,))
    return pipeline
