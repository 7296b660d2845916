"""A model exported by `hrsod_tf.deploy.saved_model`, loaded back with plain TensorFlow (no project code runs),
and the contract both sides share: signature and output names, the metadata file, the version folders.

    models/hrsod/1/ 2/ ...                       one SavedModel per version (TF Serving serves the highest)
      assets.extra/hrsod_export.json             the run's config and the export settings
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

import numpy as np
import tensorflow as tf

from hrsod_tf.commands import command
from hrsod_tf.quality import DEFAULT_QUALITY

SERVING_SIGNATURE = "serving_default"
IMAGE_SIGNATURE = "predict_image"
MASK_OUTPUT = "mask_png_bytes"
METADATA_FILE = pathlib.Path("assets.extra") / "hrsod_export.json"


def _join(base: str, name: str) -> str:
    return f"{base.rstrip('/')}/{name}"


def existing_versions(base_dir) -> list[int]:
    """The version numbers (numeric sub-folders, as TF Serving sees them) under a model base path: a local
    path or any filesystem TensorFlow reads (``gs://``, ``s3://``)."""
    base = str(base_dir)
    if not tf.io.gfile.isdir(base):
        return []
    names = (name.rstrip("/") for name in tf.io.gfile.listdir(base))
    return sorted(int(n) for n in names if n.isdigit() and tf.io.gfile.isdir(_join(base, n)))


def version_dir(path) -> str:
    """A SavedModel folder: `path` itself, or the highest version under a model base path (any filesystem)."""
    path = str(path)
    if tf.io.gfile.exists(_join(path, "saved_model.pb")):
        return path
    versions = existing_versions(path)
    if not versions:
        raise FileNotFoundError(f"{path} holds no SavedModel (no saved_model.pb, no numbered version folder)")
    return _join(path, str(versions[-1]))


@dataclasses.dataclass
class ServingModel:
    """An exported model loaded with plain TensorFlow (no project code runs).

    `model(image)` maps uint8 [H, W, 3] RGB to a float32 numpy [H, W, 1] saliency map in [0, 1];
    `model.predict_files([bytes, ...])` runs serving_default and returns the masks' PNG bytes.
    """

    path: str
    loaded: object

    def __call__(self, image) -> np.ndarray:
        image = tf.convert_to_tensor(image, tf.uint8)
        return self.loaded.signatures[IMAGE_SIGNATURE](image=image)["saliency"].numpy()

    def predict_files(self, files: list[bytes]) -> list[bytes]:
        outputs = self.loaded.signatures[SERVING_SIGNATURE](image_bytes=tf.constant(files, tf.string))
        return list(outputs[MASK_OUTPUT].numpy())

    @property
    def max_image_pixels(self) -> int | None:
        """The export's pixel limit (larger images are refused), or None for an export without metadata."""
        try:
            return int(self.metadata["max_image_pixels"])
        except (tf.errors.OpError, OSError, KeyError, TypeError, ValueError):
            return None

    @property
    def how_to_raise(self) -> str:
        return f"export the model again with a larger `{command('export')} --max-image-pixels` if the image is genuine"

    @property
    def quality(self) -> str:
        """The level of `hrsod_tf.quality` the export was made at ("best" for an export from before the levels)."""
        try:
            return str(self.metadata.get("quality", DEFAULT_QUALITY))
        except (tf.errors.OpError, OSError, ValueError):
            return DEFAULT_QUALITY

    @property
    def qualities(self) -> tuple[str, ...]:
        """The levels `at_quality` gives: the exported one only."""
        return (self.quality,)

    def at_quality(self, quality: str | None) -> "ServingModel":
        """Itself, when `quality` is None or the level it was exported at; the budget is part of the exported
        graph, so another level raises ValueError saying how to get it."""
        if quality is None or quality == self.quality:
            return self
        raise ValueError(f"{self.path} was exported at quality {self.quality!r}, which is part of its graph: export "
                         f"the run again with `{command('export')} --quality {quality}` (or load a work directory "
                         "or a runtime export, which run every level)")

    @property
    def metadata(self) -> dict:
        """The export's settings and the run's config (assets.extra/hrsod_export.json)."""
        with tf.io.gfile.GFile(_join(self.path, METADATA_FILE.as_posix())) as handle:
            return json.loads(handle.read())


def load_serving_model(path) -> ServingModel:
    """Loads an export: a version folder or a model base path (then its highest version), on any filesystem
    TensorFlow reads."""
    directory = version_dir(path)
    return ServingModel(directory, tf.saved_model.load(directory))
