"""The Python API: a trained model in three lines.

    from hrsod_tf import load
    model = load("runs/demo")                      # a work directory, or an export (see model_loading)
    cutout = model.cutout("photo.jpg", background="green")     # uint8 [H, W, 3]; background=None: RGBA

`SaliencyModel.predict` gives the saliency map at the image's own size; `SaliencyModel.cutout` the cut-out
(RGBA) or the object on a new background, with `hrsod_tf.deploy.compositing`. predict.py, app.py and the
benchmarks go through this class, so there is one way in.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from hrsod_tf.config import InferenceConfig
from hrsod_tf.deploy.compositing import OutputKind, render
from hrsod_tf.deploy.model_loading import check_image_size, load_pipeline, model_kind
from hrsod_tf.deploy.serving_model import load_serving_model
from hrsod_tf.image_io import read_image
from hrsod_tf.workdir import WorkDir

__all__ = ["SaliencyModel", "as_image", "load"]


def as_image(image) -> np.ndarray:
    """uint8 [H, W, 3] RGB from a path (read as `hrsod_tf.image_io.read_image` reads it: EXIF orientation, 16-bit,
    RGBA on white) or an array: uint8 [H, W, 3]; gray [H, W] or [H, W, 1] (copied to three channels); RGBA
    [H, W, 4] (alpha dropped); float in [0, 1] (scaled to 0..255).

    Raises:
        hrsod_tf.image_io.DataError: a file that cannot be read. ValueError: an array of another shape.
    """
    if isinstance(image, (str, os.PathLike)):
        return read_image(Path(image))
    array = np.asarray(image)
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.floating):
            raise ValueError(f"an image array must be uint8 (0..255) or float (0..1), got {array.dtype}")
        array = np.round(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (3, 4):
        raise ValueError(f"an image array must be [H, W, 3] RGB, [H, W, 4] RGBA or [H, W] gray, got {array.shape}")
    return np.ascontiguousarray(array[..., :3])


class SaliencyModel:
    """A loaded model (from `load`): ``predict`` maps, ``cutout`` cut-outs and composites. It is the
    `hrsod_tf.deploy.prediction.MapPredictor` that `hrsod predict`, the web page, videos and Beam run.

    Args:
        predict_map: uint8 [H, W, 3] RGB -> float [H, W] or [H, W, 1] in [0, 1]: a pipeline's variant or a
            SavedModel's signature.
        max_image_pixels: the largest image it takes (width x height); how_to_raise: how to raise that limit.
        source: what it was loaded from.
    """

    def __init__(self, predict_map, max_image_pixels: int, how_to_raise: str = "", source=None):
        self._predict_map, self.source = predict_map, source
        self.max_image_pixels, self.how_to_raise = int(max_image_pixels), how_to_raise

    def predict(self, image) -> np.ndarray:
        """The saliency map of `image` (a path or an array, see `as_image`): float32 [H, W] in [0, 1], at the
        image's own size.

        Raises:
            ValueError: the image has more than `max_image_pixels` pixels. DataError: a file that cannot be read.
        """
        image = as_image(image)
        height, width = image.shape[:2]
        check_image_size(image, self.max_image_pixels, self.how_to_raise)
        return np.asarray(self._predict_map(image), np.float32).reshape(height, width)

    __call__ = predict

    def cutout(self, image, background=None, foreground_estimation: bool = True) -> np.ndarray:
        """The salient object cut out of `image`, or put on a new background.

        Args:
            image: a path or an array (see `as_image`).
            background: None for a transparent cut-out (RGBA); ``"green"``, ``"white"``, ``"blur"``, a colour
                (``"#RRGGBB"`` or an (r, g, b) tuple), a picture's path, or a picture (uint8 [h, w, 3], resized
                to cover).
            foreground_estimation: clean the colours at the object's edges (see
                `hrsod_tf.deploy.compositing.estimate_foreground`).
        Returns:
            uint8 [H, W, 4] RGBA when `background` is None, else uint8 [H, W, 3] RGB.
        """
        image = as_image(image)
        saliency = self.predict(image)
        picture = None
        if background is None:
            kind = OutputKind("rgba")
        elif isinstance(background, np.ndarray):
            kind, picture = OutputKind("background"), as_image(background)
        elif isinstance(background, tuple):
            kind = OutputKind("color", color=tuple(int(c) for c in background))
        elif isinstance(background, (str, os.PathLike)) and str(background) in ("green", "white", "blur"):
            kind = OutputKind.parse(str(background))
        elif isinstance(background, str) and background.startswith("#"):
            kind = OutputKind.parse(f"color:{background}")
        else:
            kind = OutputKind.parse(f"background:{background}")
        return render(image, saliency, kind, foreground_estimation, background_picture=picture)


def load(path, variant: str | None = None, release_opt: int | None = None) -> SaliencyModel:
    """Loads a trained work directory or an export as a `SaliencyModel`: the one way in.

    Args:
        path: a work directory (``runs/demo``) or an exported model's folder: a SavedModel, or an OpenVINO / ONNX /
            LiteRT export (`hrsod_tf.deploy.model_loading.model_kind`).
        variant: the pipeline variant of a work directory or a runtime export (``hrsod predict --variant``;
            default "full"); a SavedModel runs what was exported.
        release_opt: the authors' test script's `opt` for protocol "release" (``--release-opt``); an export other
            than a runtime one has its own.
    Raises:
        hrsod_tf.deploy.model_loading.ModelNotFoundError: no model at `path`. ValueError: a variant or an opt the
        model cannot run. hrsod_tf.workdir.StageNotTrainedError: a stage the variant needs is not trained.
        hrsod_tf.extras.MissingExtraError: the export's runtime is not installed.
    """
    kind = model_kind(path)
    if kind == "saved_model":
        if release_opt is not None:
            raise ValueError(f"--release-opt applies to a work directory or a runtime export: {path} runs the opt it "
                             "was exported with")
        if variant not in (None, "full"):
            raise ValueError(f"--variant {variant} applies to a work directory or a runtime export: {path} runs "
                             "what was exported (full)")
        served = load_serving_model(path)
        limit = served.max_image_pixels or InferenceConfig().max_image_pixels  # an export without metadata
        return SaliencyModel(served, limit, served.how_to_raise, Path(path))
    variant = variant or "full"
    pipeline = load_pipeline(path, release_opt=release_opt, variant=variant)
    how_to_raise = (f"raise inference.max_image_pixels in {WorkDir(path).config_path} if the image is genuine "
                    "(memory grows with the pixels)") if kind == "workdir" else ""
    return SaliencyModel(lambda image: pipeline.predict(image, variant).numpy(),
                         pipeline.config.inference.max_image_pixels, how_to_raise, Path(path))
