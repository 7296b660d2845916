"""One way in from a path to a model that predicts saliency maps: a trained run or an exported model.

    load_predictor("runs/demo")         a work directory (config.json and trained stages): its pipeline, any variant
    load_predictor("models/hrsod")      a SavedModel (saved_model.pb, or a model base path of numbered versions):
                                        its ``predict_image`` signature (the "full" variant, as exported)

What a folder is comes from what it holds (`model_kind`); a folder that holds no model says what was looked for.
`predict.py`, `evaluate.py` and `batch_predict.py` load their models here.
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from hrsod_tf.deploy.prediction import MapPredictor
from hrsod_tf.deploy.serving_model import existing_versions, load_serving_model
from hrsod_tf.image_io import too_large_error
from hrsod_tf.pipeline import SaliencyPipeline, stages_for_variant
from hrsod_tf.workdir import WorkDir

__all__ = ["MODEL_KINDS", "ModelNotFoundError", "load_predictor", "model_kind"]

#: what `model_kind` recognises, in the order it looks.
MODEL_KINDS = ("workdir", "saved_model")


class ModelNotFoundError(FileNotFoundError):
    """The path holds no model this project can load; the message says what was looked for."""


def model_kind(path) -> str:
    """"workdir" or "saved_model", from what `path` holds; raises `ModelNotFoundError` otherwise."""
    path = pathlib.Path(path)
    if not path.is_dir():
        raise ModelNotFoundError(f"{path}: no such folder (a work directory or an exported model was expected)")
    if WorkDir(path).has_config():
        return "workdir"
    if (path / "saved_model.pb").is_file() or existing_versions(path):
        return "saved_model"
    raise ModelNotFoundError(
        f"{path} holds no model: expected a work directory (config.json, written by train.py or convert_caffe.py) "
        "or a SavedModel (saved_model.pb or numbered version folders, written by export.py)")


def check_image_size(image: np.ndarray, max_pixels: int, how_to_raise: str = "") -> None:
    """Raises `hrsod_tf.image_io.ImageTooLargeError` (a ValueError) for an image array above `max_pixels` (the
    model's ``inference.max_image_pixels``), as a file above it is refused from its header."""
    height, width = image.shape[:2]
    if height * width > max_pixels:
        raise too_large_error("the image", height * width, (width, height), max_pixels,
                              how_to_raise or "raise inference.max_image_pixels if the image is genuine")


@dataclasses.dataclass
class PipelinePredictor:
    """A `MapPredictor` running one variant of a trained run's pipeline.

    `max_image_pixels` and `how_to_raise` let a reader refuse a larger image from its header, before decoding it
    (`hrsod_tf.deploy.prediction.predict_files`); a larger array is refused here too.
    """

    pipeline: SaliencyPipeline
    variant: str
    max_image_pixels: int
    how_to_raise: str

    def __call__(self, image: np.ndarray) -> np.ndarray:
        check_image_size(image, self.max_image_pixels, self.how_to_raise)
        return self.pipeline.predict(image, self.variant).numpy()


def predictor_from_workdir(workdir, variant: str = "full", release_opt: int | None = None) -> PipelinePredictor:
    """A predictor running one variant of the pipeline of a trained run (`hrsod_tf.pipeline.VARIANTS`);
    `release_opt` overrides the run's `InferenceConfig.release_opt` (protocol "release" only).

    Raises:
        hrsod_tf.workdir.StageNotTrainedError: a stage the variant needs is not trained (says how to train it).
        ValueError: unknown variant.
    """
    pipeline = SaliencyPipeline.from_workdir(workdir, require=stages_for_variant(variant), release_opt=release_opt)
    how = (f"raise inference.max_image_pixels in {WorkDir(workdir).config_path} if the image is genuine "
           "(memory grows with the pixels)")
    return PipelinePredictor(pipeline, variant, pipeline.config.inference.max_image_pixels, how)


def load_predictor(path, variant: str | None = None, release_opt: int | None = None) -> MapPredictor:
    """The model at `path` (see `model_kind`) as a `MapPredictor`.

    Args:
        variant: the pipeline variant of a work directory (default "full"); an export runs what was exported,
            so asking it for another variant raises ValueError.
        release_opt: the test script's `opt` for a work directory of protocol "release"; an export has its own.
    Raises:
        ModelNotFoundError: no model at `path`. ValueError: a variant an export cannot run.
    """
    kind = model_kind(path)
    if kind == "workdir":
        return predictor_from_workdir(path, variant or "full", release_opt)
    if release_opt is not None:
        raise ValueError(f"--release-opt applies to a work directory only: {path} runs the opt it was exported with")
    if variant not in (None, "full"):
        raise ValueError(f"--variant {variant} applies to a work directory only: {path} runs what was exported (full)")
    return load_serving_model(path)
