"""The export formats, the precisions each offers, and the folder's settings file.

An export is a folder: one file per network (`NETWORK_FILES`) and `SETTINGS_FILE` (hrsod_model.json), which
says the format and precision, holds the run's config (so the pipeline around the networks is the run's own),
which layers int8 kept in float and why, and where the calibration images came from.
"""

from __future__ import annotations

import json
import pathlib

from hrsod_tf.commands import command
from hrsod_tf.extras import MissingExtraError, import_optional

__all__ = [
    "EXPORT_FORMATS", "FORMATS", "NETWORK_FILES", "PRECISIONS", "RUNTIME_FORMATS", "SETTINGS_FILE",
    "ExportFormatError", "ModelFolderError", "RuntimeNotInstalledError", "check_precision", "import_runtime",
    "read_settings",
]

#: every value of `export.py --format`; "saved_model" (the default) is the TF Serving export.
FORMATS = ("saved_model", "openvino", "onnx", "litert")
#: the formats this package writes and runs.
RUNTIME_FORMATS = ("openvino", "onnx", "litert")
PRECISIONS = ("float32", "bfloat16", "int8")
SETTINGS_FILE = "hrsod_model.json"
STAGES = ("gsn", "lrn", "glfn")

#: format -> the precisions it is offered in (where its runtime runs them fast on a CPU).
EXPORT_FORMATS = {
    "saved_model": ("float32",),
    "openvino": ("float32", "bfloat16", "int8"),
    "onnx": ("float32", "int8"),
    "litert": ("float32", "int8"),
}

#: (format, precision) refused -> why, and what to use instead (one line).
REFUSED = {
    ("saved_model", "bfloat16"): "TF Serving's SavedModel is exported in float32; for bfloat16 use "
                                 "--format openvino --precision bfloat16",
    ("saved_model", "int8"): "TensorFlow has no int8 post-training path for a SavedModel; use --format openvino "
                             "--precision int8 (or onnx / litert)",
    ("onnx", "bfloat16"): "ONNX Runtime's CPU provider has no fast bfloat16 convolutions; use --format openvino "
                          "--precision bfloat16, or --format onnx --precision int8",
    ("litert", "bfloat16"): "LiteRT's CPU kernels (XNNPACK) have no bfloat16 path on x86; use --format openvino "
                            "--precision bfloat16, or --format litert --precision int8",
}

#: format -> {stage: file name} (OpenVINO's .bin sits beside its .xml).
NETWORK_FILES = {
    "openvino": {stage: f"{stage}.xml" for stage in STAGES},
    "onnx": {stage: f"{stage}.onnx" for stage in STAGES},
    "litert": {stage: f"{stage}.tflite" for stage in STAGES},
}

#: format -> the module that runs it (its extra: `hrsod_tf.extras.EXTRA_OF_MODULE`).
RUNTIME_MODULES = {"openvino": "openvino", "onnx": "onnxruntime", "litert": "ai_edge_litert"}


class ExportFormatError(ValueError):
    """A format / precision pair that is not offered; the message says what to use instead."""


class ModelFolderError(ValueError):
    """An export folder that cannot be run: incomplete, unreadable settings, or another preset than asked."""


class RuntimeNotInstalledError(MissingExtraError):
    """The runtime a format needs is not installed; the message is the one line naming the extra to install."""


def check_precision(fmt: str, precision: str) -> None:
    """Raises `ExportFormatError` unless `fmt` is offered in `precision`."""
    if fmt not in EXPORT_FORMATS:
        raise ExportFormatError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if precision not in PRECISIONS:
        raise ExportFormatError(f"unknown precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision not in EXPORT_FORMATS[fmt]:
        raise ExportFormatError(f"--format {fmt} is not offered in {precision}: {REFUSED[fmt, precision]}")


def import_runtime(module: str, purpose: str = ""):
    """Imports an optional runtime package, or raises `RuntimeNotInstalledError` naming the extra to install.

    Args:
        module: the module to import ("openvino", "onnxruntime.quantization", ...).
        purpose: what it is needed for, for the message ("to run an OpenVINO export").
    """
    try:
        return import_optional(module, purpose)
    except MissingExtraError as error:
        raise RuntimeNotInstalledError(str(error)) from error


def read_settings(folder) -> dict:
    """The settings of an export folder (`SETTINGS_FILE`), after checking that its network files are there.

    Raises:
        ModelFolderError: no or unreadable settings file, an unknown format, a network file missing.
    """
    folder = pathlib.Path(folder)
    path = folder / SETTINGS_FILE
    try:
        settings = json.loads(path.read_text())
        fmt = settings["format"]
        files = settings["networks"]
    except FileNotFoundError:
        raise ModelFolderError(f"{folder} has no {SETTINGS_FILE}: it is not a complete export (write one with "
                               f"`{command('export')} --model RUN --format FORMAT --out DIR`)") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ModelFolderError(f"{path} is not an export's settings file ({error}): export the run again") from None
    if fmt not in RUNTIME_FORMATS:
        raise ModelFolderError(f"{path} names format {fmt!r}, which is not one of {', '.join(RUNTIME_FORMATS)}")
    for stage in STAGES:
        name = files.get(stage)
        if not name or not (folder / name).is_file():
            raise ModelFolderError(f"{folder} is incomplete: the {stage.upper()} file {name or '(none named)'} is "
                                   "missing; export the run again into an empty folder")
        if fmt == "openvino" and not (folder / name).with_suffix(".bin").is_file():
            raise ModelFolderError(f"{folder} is incomplete: {pathlib.Path(name).with_suffix('.bin')} (the weights "
                                   f"of {name}) is missing; export the run again")
    return settings
