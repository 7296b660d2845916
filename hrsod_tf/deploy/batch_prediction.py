"""Batch inference on Apache Beam: an exported model over every image matching a file pattern, on any runner.

    MatchFiles(pattern) -> image files -> output name per file (``<stem>.png``, or ``<name>.png`` when files of
    one folder share a stem, as ``predict.py``) -> skip files whose output exists -> RunInference (reading and
    decoding as its pre-process step; the SavedModel loaded once per worker process) -> render and write the
    PNG atomically -> dead letters (path and error) to ``OUT/errors-*.jsonl``

The pattern and the output prefix may be on any Beam filesystem (local paths, ``gs://``, ``s3://``, ...); the
output mirrors the input names below the pattern's fixed part (``photos/a/b.jpg`` of ``photos/**`` ->
``OUT/a/b.png``); files below the output prefix are never inputs, so ``--out photos/masks`` with the pattern
``photos/**`` does not feed its own masks back in. Every step is Beam's: `fileio.MatchFiles`, `FileSystems`
(read, write, rename),
`RunInference` with `SavedModelHandler` and its dead-letter outputs (``with_exception_handling``),
`WriteToText`, Beam metrics for the summary. The runner (DirectRunner here; Dataflow, Flink or Spark for users)
comes from the pipeline options.

Per image, this runs exactly what ``hrsod predict --model`` runs (`hrsod_tf.image_io.decode_image`, the
SavedModel's ``predict_image`` signature, `hrsod_tf.deploy.prediction.render` and `~hrsod_tf.image_io.encode_png`),
so both write the same bytes. ``predict_image`` rather than ``serving_default``: the latter takes only JPEG and
PNG, ignores EXIF orientation and returns the mask only (no ``rgba`` / ``overlay``).

Nothing is lost and nothing is repeated: an input that cannot be decoded, is above the model's pixel limit or
cannot be written goes to the dead-letter file and the others complete; a PNG is written under a temporary
name and renamed, so a crash never leaves half a PNG; a re-run skips inputs whose output exists, so a crashed
or cancelled job resumes by running it again; inputs are only read.
"""

from __future__ import annotations

import dataclasses
import json
import os
import posixpath
import re
import time
import uuid
from collections.abc import Iterable, Sequence

import apache_beam as beam
import numpy as np
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import Metrics, MetricsFilter
from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, PredictionResult, RunInference

from hrsod_tf import image_io
from hrsod_tf.deploy.compositing import OutputKind, render
from hrsod_tf.deploy.model_loading import model_kind
from hrsod_tf.deploy.prediction import PredictionError, error_message, output_name
from hrsod_tf.deploy.runtimes.formats import SETTINGS_FILE
from hrsod_tf.deploy.saliency_model import load
from hrsod_tf.deploy.serving_model import ServingModel, load_serving_model, version_dir
from hrsod_tf.quality import QUALITY_LEVELS

__all__ = [
    "BatchJob",
    "BatchSummary",
    "SavedModelHandler",
    "build_pipeline",
    "run_batch",
]

METRICS_NAMESPACE = "hrsod_batch_prediction"
ERRORS_PREFIX = "errors"
ERRORS_SUFFIX = ".jsonl"
SUMMARY_NAME = "summary.json"
_GLOB_CHARS = re.compile(r"[*?\[]")


@dataclasses.dataclass(frozen=True)
class BatchJob:
    """What to run: every image matching `pattern`, through the SavedModel at `saved_model`, into `out_prefix`.

    Attributes:
        pattern: a file pattern on any Beam filesystem (``photos/*.jpg``, ``gs://bucket/shots/**``), or one
            file. With a wildcard, only files with an image extension (`image_io.IMAGE_EXTENSIONS`) are taken.
        saved_model: a SavedModel version directory or a model base path (its highest version) from export.py.
        out_prefix: the output folder (any Beam filesystem); created as needed.
        mode: an ``--output`` of predict.py (`hrsod_tf.deploy.compositing.OutputKind`) but ``background:FILE``
            (the workers may not see the file).
        quality: a level of `hrsod_tf.quality` (``--quality``); None: the model's own. A runtime export runs any
            level; a SavedModel only the one it was exported at (`run_batch` says how to export another).
    """

    pattern: str
    saved_model: str
    out_prefix: str
    mode: str = "mask"
    quality: str | None = None

    def __post_init__(self):
        if self.quality is not None and self.quality not in QUALITY_LEVELS:
            raise PredictionError(f"unknown quality {self.quality!r}; known: {', '.join(QUALITY_LEVELS)}")
        try:
            kind = OutputKind.parse(self.mode)
        except ValueError as err:
            raise PredictionError(str(err)) from None
        if kind.name == "background":
            raise PredictionError("batch_predict.py takes no background:FILE output (Beam's workers may not see the "
                                  "file): use predict.py")

    @property
    def errors_prefix(self) -> str:
        return FileSystems.join(self.out_prefix, ERRORS_PREFIX)

    @property
    def summary_path(self) -> str:
        return FileSystems.join(self.out_prefix, SUMMARY_NAME)


# ---------------------------------------------------------------------------------------------- naming


def _has_scheme(path: str) -> bool:
    return re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", path) is not None


def absolute_pattern(pattern: str) -> str:
    """`pattern` with a local path made absolute (MatchFiles returns absolute local paths); a folder -> its files."""
    if _has_scheme(pattern):
        return pattern
    pattern = os.path.abspath(os.path.expanduser(pattern))
    return os.path.join(pattern, "*") if os.path.isdir(pattern) else pattern


def pattern_base(pattern: str) -> str:
    """The folder below which matched files are mirrored: the pattern's part before its first wildcard, up to
    the last separator (``gs://b/photos/**/*.jpg`` -> ``gs://b/photos/``; ``a/b.jpg`` -> ``a/``)."""
    wildcard = _GLOB_CHARS.search(pattern)
    fixed = pattern[: wildcard.start()] if wildcard else pattern
    return fixed[: max(fixed.rfind("/"), fixed.rfind(os.sep)) + 1]


def _folder_prefix(path: str) -> str:
    """`path` as an absolute folder prefix ending in a separator (local paths made absolute)."""
    if _has_scheme(path):
        return path.rstrip("/") + "/"
    return os.path.join(os.path.abspath(os.path.expanduser(path)), "")


def _is_input(path: str, wildcard: bool, out_prefix: str) -> bool:
    """A matched file to predict: not one of our outputs (a pattern may cover the output folder), and, when the
    pattern has a wildcard, an image by its extension."""
    name = posixpath.basename(path.replace(os.sep, "/"))
    return not path.startswith(out_prefix) and (not wildcard or image_io.is_image_file_name(name))


def _stem_key(path: str, base: str) -> str:
    """Files with equal keys would write the same ``<stem>.png``: relative folder + stem."""
    relative = path[len(base):].replace(os.sep, "/")
    folder, name = posixpath.split(relative)
    return posixpath.join(folder, posixpath.splitext(name)[0])


def _plan_outputs(key_paths, base: str, out_prefix: str) -> Iterable[tuple[str, str]]:
    """(input path, output path) for the inputs sharing one stem key (`predict.py`'s naming rule)."""
    _, paths = key_paths
    paths = sorted(paths)
    for path in paths:
        relative = path[len(base):].replace(os.sep, "/")
        folder, name = posixpath.split(relative)
        parts = [p for p in folder.split("/") if p] + [output_name(name, stem_shared=len(paths) > 1)]
        yield path, FileSystems.join(out_prefix, *parts)


# ---------------------------------------------------------------------------------------------- the model


def is_runtime_export(path: str) -> bool:
    """True for a local folder holding an OpenVINO / ONNX / LiteRT export (its settings file)."""
    return os.path.isfile(os.path.join(path, SETTINGS_FILE))



class SavedModelHandler(ModelHandler[np.ndarray, np.ndarray, object]):
    """RunInference's model handler for a model written by ``export.py``: a SavedModel, or a local OpenVINO /
    ONNX / LiteRT export folder (`hrsod_tf.load`).

    Examples are decoded images, uint8 [H, W, 3] RGB; each inference is the saliency map, float32 [H, W, 1] in
    [0, 1], from the SavedModel's ``predict_image`` signature. The model is loaded once per worker process
    (RunInference shares it between the process's threads). Images run one at a time (batches of 1): their
    sizes differ, and the pipeline inside the model is per image anyway.

    Args:
        saved_model: a version directory or a model base path (its highest version), on any filesystem that
            TensorFlow reads (local, ``gs://``, ...).
        quality: a level of `hrsod_tf.quality`, or None: the model's own.
    """

    def __init__(self, saved_model: str, quality: str | None = None):
        super().__init__(min_batch_size=1, max_batch_size=1)
        self.saved_model, self.quality = saved_model, quality

    def load_model(self):
        if is_runtime_export(self.saved_model):
            # an OpenVINO / ONNX / LiteRT export: the same pipeline code, at any level
            return load(self.saved_model, quality=self.quality)
        return load_serving_model(self.saved_model).at_quality(self.quality)

    def run_inference(self, batch: Sequence[np.ndarray], model, inference_args=None) -> Iterable[PredictionResult]:
        return [PredictionResult(image, model(image)) for image in batch]

    def get_num_bytes(self, batch: Sequence[np.ndarray]) -> int:
        return sum(image.nbytes for image in batch)  # the default pickles the batch to measure it

    def get_metrics_namespace(self) -> str:
        return METRICS_NAMESPACE


# ---------------------------------------------------------------------------------------------- DoFns


def _counter(name: str):
    return Metrics.counter(METRICS_NAMESPACE, name)


def _message(error) -> str:
    """One line saying what went wrong. RunInference's dead letters carry the exception as Beam records it,
    (type, repr, traceback lines), whose last traceback line is ``module.Type: message``."""
    if isinstance(error, tuple) and len(error) == 3 and isinstance(error[2], list) and error[2]:
        last = error[2][-1].strip()
        text = last.split(": ", 1)[1] if ": " in last.splitlines()[0] else ""
        return error_message(text) if text.strip() else getattr(error[0], "__name__", last.splitlines()[0])
    return error_message(error)


class _SkipExisting(beam.DoFn):
    """(input, output) -> main output if the output does not exist yet; else counted as skipped."""

    def process(self, paths):
        if FileSystems.exists(paths[1]):
            _counter("skipped").inc()
            return
        yield paths


def _read_image(element) -> tuple[tuple[str, str], np.ndarray]:
    """RunInference's pre-process step: ((input, output), input) -> ((input, output), uint8 [H, W, 3] RGB).

    Reading here rather than in a step of its own keeps file bytes out of the shuffle, and puts a file that
    vanished or cannot be read in the dead letters with the undecodable ones.
    """
    paths, path = element
    with FileSystems.open(path, mime_type="application/octet-stream") as handle:  # any Beam filesystem; read only
        data = handle.read()
    return paths, image_io.decode_image(data, path)


def _write_atomically(path: str, data: bytes) -> None:
    """Writes `data` to `path` under a temporary name beside it, then renames it into place."""
    folder, name = posixpath.split(path) if _has_scheme(path) else os.path.split(path)
    temporary = FileSystems.join(folder, f".{name}.{uuid.uuid4().hex}.tmp")
    try:
        with FileSystems.create(temporary, mime_type="image/png") as handle:
            handle.write(data)
        FileSystems.rename([temporary], [path])
    except Exception:
        if FileSystems.exists(temporary):
            FileSystems.delete([temporary])
        raise


class _WriteOutput(beam.DoFn):
    """((input, output), PredictionResult) -> the PNG written; failures go to the "failed" output."""

    FAILED = "failed"

    def __init__(self, mode: str):
        self.mode = mode

    def process(self, element):
        (source, target), result = element
        try:
            picture = render(result.example, result.inference, self.mode)
            _write_atomically(target, image_io.encode_png(picture, target))
        except Exception as error:  # noqa: BLE001 - any failure of one image is a dead letter, not a crash
            yield beam.pvalue.TaggedOutput(self.FAILED, (source, _message(error)))
            return
        _counter("done").inc()
        yield target


def _dead_letter(record) -> str:
    """One JSON line {"path", "error"} from (input path, message) and counts it as failed."""
    _counter("failed").inc()
    path, message = record
    return json.dumps({"path": path, "error": message}, ensure_ascii=False)


def _failed_element(element) -> tuple[str, str]:
    """RunInference dead letters -> (input path, message): (((input, output), value), exception)."""
    record, error = element
    return record[0][0], _message(error)


def _failed_batch(element) -> Iterable[tuple[str, str]]:
    """A failed inference batch ([((input, output), image), ...], exception) -> (input path, message) each."""
    batch, error = element
    return [(record[0][0], _message(error)) for record in batch]


# ---------------------------------------------------------------------------------------------- pipeline


def build_pipeline(pipeline: beam.Pipeline, job: BatchJob) -> None:
    """Adds the batch-prediction transforms for `job` to `pipeline` (see the module docstring)."""
    pattern = absolute_pattern(job.pattern)
    base = pattern_base(pattern)
    wildcard = _GLOB_CHARS.search(pattern) is not None
    out_prefix = _folder_prefix(job.out_prefix)

    matched = (
        pipeline
        | "Match" >> fileio.MatchFiles(pattern)
        | "Inputs" >> beam.Filter(lambda meta: _is_input(meta.path, wildcard, out_prefix))
        | "KeyByStem" >> beam.Map(lambda meta: (_stem_key(meta.path, base), meta.path))
        | "GroupStems" >> beam.GroupByKey()
        | "Name" >> beam.FlatMap(_plan_outputs, base, job.out_prefix)
    )
    to_do = (
        matched
        | "SkipExisting" >> beam.ParDo(_SkipExisting())
        | "Spread" >> beam.Reshuffle()  # fan the files (names only) out over the workers
        | "Key" >> beam.Map(lambda paths: (paths, paths[0]))
    )
    handler = KeyedModelHandler(SavedModelHandler(job.saved_model, job.quality)).with_preprocess_fn(_read_image)
    predicted, failed_inference = (
        to_do | "Predict" >> RunInference(handler).with_exception_handling())
    written = predicted | "Write" >> beam.ParDo(_WriteOutput(job.mode)).with_outputs(
        _WriteOutput.FAILED, main="written")

    failures = [failed_inference.failed_inferences | "BatchFailures" >> beam.FlatMap(_failed_batch)]
    failures += [failed | f"PreprocessFailures{i}" >> beam.Map(_failed_element)
                 for i, failed in enumerate(failed_inference.failed_preprocessing)]
    failures.append(written[_WriteOutput.FAILED])
    (
        failures
        | "AllFailures" >> beam.Flatten()
        | "DeadLetter" >> beam.Map(_dead_letter)
        | "WriteDeadLetters" >> beam.io.WriteToText(
            job.errors_prefix, file_name_suffix=ERRORS_SUFFIX, num_shards=1, shard_name_template="-SSSSS-of-NNNNN")
    )


# ---------------------------------------------------------------------------------------------- running


@dataclasses.dataclass
class BatchSummary:
    """What a run did. `images_per_second` counts the images done over the whole run's wall time (start-up and
    model loading included); `model_load_seconds` is the mean time a worker took to load the model (None when
    no worker loaded it: nothing to do)."""

    done: int
    skipped: int
    failed: int
    seconds: float
    errors_file: str
    pattern: str
    out_prefix: str
    model_load_seconds: float | None = None  # mean per worker load, from RunInference's own metric
    inference_seconds: float | None = None  # time spent in the model, summed over all images and workers

    @property
    def images_per_second(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "images_per_second": round(self.images_per_second, 4)}


def _counter_value(result, name: str) -> int:
    counters = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE).with_name(name))["counters"]
    total = 0
    for counter in counters:
        value = counter.committed if counter.committed is not None else counter.attempted
        total += int(value or 0)
    return total


def _distribution(result, name: str):
    """(sum, count) of one of RunInference's distribution metrics; None when nothing was recorded."""
    query = MetricsFilter().with_namespace(METRICS_NAMESPACE).with_name(name)
    values = [d.committed or d.attempted for d in result.metrics().query(query)["distributions"]]
    values = [d for d in values if d is not None and d.count]
    return (sum(d.sum for d in values), sum(d.count for d in values)) if values else None


def _model_load_seconds(result) -> float | None:
    """The mean of RunInference's ``load_model_latency_milli_secs``, in seconds."""
    loads = _distribution(result, "load_model_latency_milli_secs")
    return round(loads[0] / loads[1] / 1000.0, 3) if loads else None


def _inference_seconds(result) -> float | None:
    """The sum of RunInference's ``inference_batch_latency_micro_secs``, in seconds."""
    latency = _distribution(result, "inference_batch_latency_micro_secs")
    return round(latency[0] / 1e6, 3) if latency else None


def check_inputs(job: BatchJob) -> int:
    """The number of files the pattern matches now; raises `PredictionError` when it matches none."""
    pattern = absolute_pattern(job.pattern)
    try:
        metadata = FileSystems.match([pattern])[0].metadata_list
    except Exception as error:  # noqa: BLE001 - Beam raises BeamIOError for a missing file
        raise PredictionError(f"{job.pattern}: cannot list it ({_message(error)})") from error
    wildcard = _GLOB_CHARS.search(pattern) is not None
    out_prefix = _folder_prefix(job.out_prefix)
    count = sum(1 for meta in metadata if _is_input(meta.path, wildcard, out_prefix))
    if not count:
        raise PredictionError(f"{job.pattern}: no such file, or no image matches it")
    return count


def write_summary(summary: BatchSummary, path: str) -> None:
    """Writes the summary as JSON, atomically (temporary name, then rename)."""
    _write_atomically(path, (json.dumps(summary.to_dict(), indent=2, sort_keys=True) + "\n").encode())


def check_model(job: BatchJob) -> None:
    """Raises `PredictionError` now, not once per worker, for a model that is missing, incomplete, or (a
    SavedModel) exported at another level than `job.quality`."""
    if is_runtime_export(job.saved_model):
        model_kind(job.saved_model)  # an incomplete folder says so
        return
    try:
        directory = version_dir(job.saved_model)
    except FileNotFoundError as error:
        raise PredictionError(f"--model {error}") from error
    try:
        ServingModel(directory, loaded=None).at_quality(job.quality)  # reads the export's metadata only
    except ValueError as error:
        raise PredictionError(str(error)) from error


def run_batch(job: BatchJob, options=None) -> BatchSummary:
    """Runs `job` as a Beam pipeline with `options` (a `PipelineOptions`; default: the DirectRunner), waits for
    it, and writes ``OUT/summary.json``.

    Raises:
        PredictionError: the pattern matches no file, or the model cannot be found or run at `job.quality`.
    """
    check_inputs(job)
    check_model(job)
    start = time.perf_counter()
    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, job)
    result = pipeline.run()
    result.wait_until_finish()
    seconds = time.perf_counter() - start
    summary = BatchSummary(
        done=_counter_value(result, "done"), skipped=_counter_value(result, "skipped"),
        failed=_counter_value(result, "failed"), seconds=round(seconds, 3),
        errors_file=f"{job.errors_prefix}-00000-of-00001{ERRORS_SUFFIX}", pattern=job.pattern,
        out_prefix=job.out_prefix, model_load_seconds=_model_load_seconds(result),
        inference_seconds=_inference_seconds(result))
    write_summary(summary, job.summary_path)
    return summary
