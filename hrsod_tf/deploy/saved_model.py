"""SavedModel export of the whole pipeline for TF Serving, and a loader for the exported model.

    models/hrsod/                     the model base path TF Serving watches (--model_base_path)
      1/  2/  ...                     one SavedModel per version; TF Serving serves the highest by default
        saved_model.pb  variables/
        assets.extra/tf_serving_warmup_requests   PredictionLog records TF Serving replays at load time
        assets.extra/hrsod_export.json            the run's config and the export settings (provenance),
                                                  with the speed/quality level exported ("quality")

The SavedModel holds GSN, inference APS, LRN, fusion and GLFN as one graph (the code of
`hrsod_tf.pipeline.saliency_pipeline`, traced): serving it needs neither this project nor any Python function.

Signatures:
  * ``serving_default``: ``image_bytes`` string [N] (JPEG or PNG files, N <= `max_batch_size`) ->
    ``mask_png_bytes`` string [N] (8-bit grey PNG at each image's own size), ``height``, ``width`` int32 [N].
    Images of one request may differ in size; they run one after the other, so memory is that of one image.
    The output name ends in ``_bytes`` because TF Serving's REST API base64-encodes ({"b64": ...}) exactly
    the string outputs whose name ends so; any other name would put raw PNG bytes into the JSON response.
  * ``predict_image``: ``image`` uint8 [H, W, 3] RGB -> ``saliency`` float32 [H, W, 1] in [0, 1].

Guards (all raise InvalidArgument, which TF Serving returns as HTTP 400 / gRPC INVALID_ARGUMENT):
  * more than `max_batch_size` images in one request;
  * bytes that are neither JPEG nor PNG, or that do not decode;
  * images above `max_image_pixels` (default: the run's ``InferenceConfig.max_image_pixels``). For JPEG and
    PNG the size is read from the file header *before* decoding, so a decompression bomb is refused before
    its pixels are allocated.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

from hrsod_tf.deploy.serving_model import (
    IMAGE_SIGNATURE,
    MASK_OUTPUT,
    METADATA_FILE,
    SERVING_SIGNATURE,
    existing_versions,
)
from hrsod_tf.files import atomic_output
from hrsod_tf.pipeline import SaliencyPipeline, stages_for_variant
from hrsod_tf.quality import quality_of

MAX_BATCH_SIZE = 16  # images per serving_default request; bounds the time one request holds the server
WARMUP_FILE = pathlib.Path("assets.extra") / "tf_serving_warmup_requests"
LIMIT_NAME = "InferenceConfig.max_image_pixels"

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_HEADER_BYTES = 24  # signature (8) + IHDR length and type (8) + width (4) + height (4)


class ExportError(Exception):
    """A user error of the export (an existing version, a bad output path): the message says what to do."""


# -- graph pieces: image headers, guards, quantisation ---------------------------------------------------


def _is_png(data) -> tf.Tensor:
    """bool scalar: `data` (string scalar) starts with the PNG signature and holds a whole IHDR."""
    long_enough = tf.strings.length(data) >= _PNG_HEADER_BYTES
    return tf.logical_and(long_enough, tf.equal(tf.strings.substr(data, 0, 8), _PNG_SIGNATURE))


def _png_height_width(data) -> tf.Tensor:
    """int64 [2] (height, width) from the IHDR chunk: two big-endian uint32 at bytes 16..23."""
    # decode_raw has no uint32: read four big-endian uint16 halves and combine them in int64 (no overflow).
    halves = tf.cast(tf.io.decode_raw(tf.strings.substr(data, 16, 8), tf.uint16, little_endian=False), tf.int64)
    width, height = halves[0] * 65536 + halves[1], halves[2] * 65536 + halves[3]
    return tf.stack([height, width])


def header_height_width(data) -> tf.Tensor:
    """The image size read from the file header, without decoding the pixels.

    Args:
        data: string scalar, the file's bytes.
    Returns:
        int64 [2] (height, width); (-1, -1) when `data` is neither a JPEG nor a PNG.
    """
    return tf.case(
        [
            (tf.io.is_jpeg(data), lambda: tf.cast(tf.io.extract_jpeg_shape(data)[:2], tf.int64)),
            (_is_png(data), lambda: _png_height_width(data)),
        ],
        default=lambda: tf.constant([-1, -1], tf.int64),
    )


def _message(*parts) -> tf.Tensor:
    """A string scalar joined from Python strings and number tensors (for assertion messages)."""
    def text(part):
        return part if isinstance(part, str) or part.dtype == tf.string else tf.strings.as_string(part)

    return tf.strings.join([text(part) for part in parts])


def _check_pixels(height_width, limit: int, what) -> tf.Operation:
    """Asserts height * width <= limit; the message names the image, its size and the limit."""
    height, width = tf.cast(height_width[0], tf.int64), tf.cast(height_width[1], tf.int64)
    message = _message(what, " has ", height, " x ", width, f" pixels, above the limit of {limit} ({LIMIT_NAME})")
    return tf.debugging.Assert(height * width <= limit, [message], name="check_image_pixels")


def decode_checked(data, index, max_image_pixels: int) -> tf.Tensor:
    """Decodes one JPEG or PNG after checking its format and its header size.

    Args:
        data: string scalar, the file's bytes. index: int32 scalar, its place in the request (for messages).
        max_image_pixels: larger images are refused before decoding.
    Returns:
        uint8 [H, W, 3] RGB (grey images are expanded, alpha is dropped).
    """
    what = _message("image_bytes[", index, "]")
    height_width = header_height_width(data)
    is_known = tf.debugging.Assert(
        height_width[0] >= 0,
        [_message(what, " is neither a JPEG nor a PNG file (serving_default takes JPEG or PNG bytes)")],
        name="check_image_format",
    )
    with tf.control_dependencies([is_known, _check_pixels(height_width, max_image_pixels, what)]):
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def saliency_to_uint8_tensor(saliency) -> tf.Tensor:
    """A saliency tensor float [..., 1] in [0, 1] -> a uint8 tensor of the same shape, 0..255 rounded (as
    `hrsod_tf.image_io.saliency_to_uint8` does in numpy)."""
    return tf.cast(tf.round(tf.clip_by_value(saliency, 0.0, 1.0) * 255.0), tf.uint8)


# -- the exported module ---------------------------------------------------------------------------------


class ServingModule:
    """A pipeline and the serving functions; `save_serving_module` writes them as a SavedModel.

    Args:
        pipeline: a `SaliencyPipeline` with its three networks (serving runs the "full" variant).
        max_image_pixels: the pixel limit (default: the pipeline's ``config.inference.max_image_pixels``).
        max_batch_size: images per serving_default request (default `MAX_BATCH_SIZE`).
    """

    def __init__(self, pipeline: SaliencyPipeline, max_image_pixels: int | None = None,
                 max_batch_size: int = MAX_BATCH_SIZE):
        self.pipeline = pipeline
        self.pipeline.check_variants(("full",))
        self.max_image_pixels = int(max_image_pixels or pipeline.config.inference.max_image_pixels)
        self.max_batch_size = int(max_batch_size)
        self._signatures = None  # traced once, on first use
        if self.max_image_pixels < 1 or self.max_batch_size < 1:
            raise ValueError("max_image_pixels and max_batch_size must be positive")

    def saliency(self, image) -> tf.Tensor:
        """The "full" variant's map: uint8 [H, W, 3] -> float32 [H, W, 1] in [0, 1], after the pixel guard."""
        with tf.control_dependencies([_check_pixels(tf.shape(image)[:2], self.max_image_pixels, "image")]):
            return tf.identity(self.pipeline.variants_graph(image, ("full",))["full"])

    def serve(self, image_bytes, saliency=None) -> dict:
        """string [N] JPEG/PNG -> {"mask_png_bytes": string [N], "height": int32 [N], "width": int32 [N]}.

        `saliency`: the function mapping each decoded image to its map (default `self.saliency`).
        """
        saliency = saliency or self.saliency
        count = tf.shape(image_bytes)[0]
        batch_ok = tf.debugging.Assert(
            count <= self.max_batch_size,
            [_message("the request has ", count, f" images, above the limit of {self.max_batch_size} per request")],
            name="check_batch_size",
        )

        def one(index):
            image = decode_checked(image_bytes[index], index, self.max_image_pixels)
            png = tf.io.encode_png(saliency_to_uint8_tensor(saliency(image)))
            return png, tf.shape(image)[0], tf.shape(image)[1]

        with tf.control_dependencies([batch_ok]):
            indices = tf.range(count)
        # One image at a time: a request's memory is that of its largest image, not of all of them.
        png, height, width = tf.map_fn(
            one, indices, parallel_iterations=1,
            fn_output_signature=(tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.int32),
                                 tf.TensorSpec([], tf.int32)),
        )
        return {MASK_OUTPUT: png, "height": height, "width": width}

    def signatures(self) -> dict:
        """{signature name: concrete function} for `tf.saved_model.save`.

        Both signatures call one traced pipeline, so the graph holds it once. Traced on the first call only.
        """
        if self._signatures is None:
            self._signatures = self._trace_signatures()
        return self._signatures

    def _trace_signatures(self) -> dict:
        image_spec = tf.TensorSpec([None, None, 3], tf.uint8, name="image")
        saliency = tf.function(self.saliency, input_signature=[image_spec])
        predict_image = tf.function(lambda image: {"saliency": saliency(image)}, input_signature=[image_spec])
        serve = tf.function(lambda image_bytes: self.serve(image_bytes, saliency),
                            input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
        return {
            SERVING_SIGNATURE: serve.get_concrete_function(),
            IMAGE_SIGNATURE: predict_image.get_concrete_function(),
        }


# -- writing a version -----------------------------------------------------------------------------------


def resolve_version(base_dir, version: int | None = None) -> int:
    """`version`, or the next free one (1 + the highest, 1 if none); refuses a version that exists."""
    versions = existing_versions(base_dir)
    if version is None:
        return (versions[-1] + 1) if versions else 1
    if version < 1:
        raise ExportError(f"--version must be a positive integer, got {version}")
    if version in versions:
        raise ExportError(
            f"{pathlib.Path(base_dir) / str(version)} already exists: versions are never overwritten; "
            f"omit --version to write version {versions[-1] + 1}, or delete that directory yourself")
    return version


def warmup_images() -> list[bytes]:
    """Two small generated images (a 240x320 JPEG and a 120x160 PNG): the warm-up request's payload."""
    y, x = np.mgrid[0:240, 0:320]
    scene = np.stack([x * 255 // 319, y * 255 // 239, ((x - 160) ** 2 + (y - 120) ** 2 < 60 ** 2) * 255], -1)
    scene = tf.constant(scene.astype(np.uint8))
    jpeg = tf.io.encode_jpeg(scene, quality=90).numpy()
    png = tf.io.encode_png(scene[::2, ::2]).numpy()
    return [jpeg, png]


def predict_request(images: list[bytes], model_name: str = "hrsod"):
    """A `tensorflow_serving.apis.predict_pb2.PredictRequest` for serving_default with these files."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = SERVING_SIGNATURE
    request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto(images, dtype=tf.string))
    return request


def write_warmup(version_dir) -> pathlib.Path:
    """Writes assets.extra/tf_serving_warmup_requests: one PredictionLog that TF Serving replays at load."""
    path = pathlib.Path(version_dir) / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    log = prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=predict_request(warmup_images())))
    with tf.io.TFRecordWriter(str(path)) as writer:
        writer.write(log.SerializeToString())
    return path


def _saveable(signatures: dict) -> tf.Module:
    """The object graph to save: only the variables the signatures capture.

    Saving the Keras models themselves would make `tf.saved_model.save` trace a default serving function for
    every one of them (unused here, and about half the export time).
    """
    root = tf.Module(name="hrsod_serving")
    unique = {}
    for function in signatures.values():
        for variable in function.variables:
            unique.setdefault(id(variable), variable)
    root.captured_variables = list(unique.values())
    return root


def _write_metadata(module: ServingModule, version_dir, version: int) -> None:
    info = {
        "version": version,
        "signatures": [SERVING_SIGNATURE, IMAGE_SIGNATURE],
        "max_image_pixels": module.max_image_pixels,
        "max_batch_size": module.max_batch_size,
        "config": module.pipeline.config.to_dict(),
        "quality": quality_of(module.pipeline.config),
    }
    path = pathlib.Path(version_dir) / METADATA_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")


def save_serving_module(module: ServingModule, base_dir, version: int | None = None) -> pathlib.Path:
    """Writes `module` as ``base_dir/<version>/`` and returns that path.

    The SavedModel is written into a hidden temporary directory beside the versions (`atomic_output`) and
    renamed into place once complete, so TF Serving (which polls the base path) never sees half a model, and
    an existing version is never touched.
    """
    base = pathlib.Path(base_dir)
    if base.exists() and not base.is_dir():
        raise ExportError(f"{base} is a file; --out must be a directory (the model base path)")
    version = resolve_version(base, version)
    target = base / str(version)
    signatures = module.signatures()
    try:
        with atomic_output(target, directory=True, overwrite=False) as staging:
            tf.saved_model.save(_saveable(signatures), str(staging), signatures=signatures)
            write_warmup(staging)
            _write_metadata(module, staging, version)
    except FileExistsError:  # another export took this number meanwhile
        raise ExportError(f"{target} appeared during the export; nothing was overwritten, run it again") from None
    return target


def export_workdir(workdir, base_dir, version: int | None = None, *, max_image_pixels: int | None = None,
                   max_batch_size: int = MAX_BATCH_SIZE, release_opt: int | None = None,
                   quality: str | None = None) -> pathlib.Path:
    """Exports a trained run (GSN, LRN and GLFN all finished) as a new version under `base_dir`.

    Args:
        workdir: the run's work directory. base_dir: the model base path (e.g. ``models/hrsod``).
        version: the version number (default: the next free one); an existing one raises `ExportError`.
        max_image_pixels: pixel limit of the served model (default: the run's config).
        max_batch_size: images per serving_default request.
        release_opt: the test script's `opt` exported (default: the run's; protocol "release" only).
        quality: the level of `hrsod_tf.quality` exported (its patch budget is part of the graph; default: the
            run's, "best"); recorded in the metadata as ``quality``.
    Returns:
        The version directory written.
    Raises:
        FileNotFoundError (`StageNotTrainedError`) for a missing run or stage; `ExportError`.
    """
    resolve_version(base_dir, version)  # fail before the slow part
    pipeline = SaliencyPipeline.from_workdir(workdir, require=stages_for_variant("full"), release_opt=release_opt,
                                             quality=quality)
    module = ServingModule(pipeline, max_image_pixels=max_image_pixels, max_batch_size=max_batch_size)
    return save_serving_module(module, base_dir, version)
