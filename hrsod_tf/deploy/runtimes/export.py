"""export.py's library for the runtime formats: a trained run -> a folder of three networks and their settings.

    python export.py --workdir runs/demo --format openvino --precision int8 --out models/hrsod_int8

    1. the run's trained GSN, LRN and GLFN (work directory), rebuilt as exported (`network_files`)
    2. int8 only: calibration inputs from the float32 pipeline on the run's training images (`calibration`)
    3. per network, the format's converter (and quantizer): `onnx_files`, `openvino_files`, `litert_files`
    4. hrsod_model.json: format, precision, the run's config, what stayed in float and why, the calibration data

The folder is written under a temporary name and renamed when complete (`hrsod_tf.files.atomic_output`);
an existing folder is never overwritten.

What stays float in int8, and why (also in the export's log and hrsod_model.json):

* the GLFN, whole: a few thin layers at full resolution (2 to 14 channels), limited by memory traffic, not
  arithmetic, so int8 has little to gain there, and its output is the final mask, where every level counts. It
  runs as TensorFlow's `FoldedGLFN` (weights in glfn.weights.h5; ``"glfn_runtime": "tensorflow"`` in the
  settings): OpenVINO's float32 GLFN took 2-3x its time at 1920x1080. The runtime's own GLFN file is written too;
* in the LRN, the guidance resize (two matrix products on the one-channel GSN map, a negligible share of the
  work): LiteRT's int8 kernel was off by about 150 quantization steps there and OpenVINO's CPU plugin does
  not compile it in int8.
"""

from __future__ import annotations

import datetime
import json
import logging
import pathlib
import platform
from importlib import metadata

from hrsod_tf.deploy.runtimes import litert_files, onnx_files, openvino_files
from hrsod_tf.deploy.runtimes.calibration import calibration_samples, run_training_data
from hrsod_tf.deploy.runtimes.formats import (
    NETWORK_FILES,
    RUNTIME_FORMATS,
    SETTINGS_FILE,
    ExportFormatError,
    check_precision,
)
from hrsod_tf.deploy.runtimes.network_files import INPUT_NAMES, exportable_network
from hrsod_tf.files import atomic_output, atomic_write
from hrsod_tf.pipeline import PipelineNetworks
from hrsod_tf.pipeline.saliency_pipeline import with_release_opt
from hrsod_tf.progress import progress_bar
from hrsod_tf.quality import quality_of, with_quality
from hrsod_tf.workdir import STAGES, WorkDir, weights_file_bytes

__all__ = ["KEPT_FLOAT", "QUANTIZED_STAGES", "export_runtime_model"]

logger = logging.getLogger(__name__)

#: the networks int8 exports quantize (the GLFN stays float32: see the module docstring).
QUANTIZED_STAGES = ("gsn", "lrn")
#: stage -> (op types kept in float per format, why).
KEPT_FLOAT = {
    "lrn": ({"onnx": ("MatMul",), "openvino": ("MatMul",), "litert": ("BATCH_MATMUL",)},
            "the guidance resize (two matrix products on the one-channel GSN map, a negligible share of the work): "
            "LiteRT's int8 kernel was off by ~150 quantization steps there and OpenVINO's CPU plugin does not "
            "compile it in int8"),
    "glfn": (None, "the whole GLFN: thin full-resolution layers (2-14 channels) bound by memory traffic, not "
                   "arithmetic, and its output is the final mask"),
}
#: the Keras GLFN's weights in an int8 export (its GLFN runs as TensorFlow's `FoldedGLFN`).
GLFN_WEIGHTS = "glfn.weights.h5"
PACKAGES = {"openvino": ("openvino", "nncf", "onnx", "tf2onnx"), "onnx": ("onnxruntime", "onnx", "tf2onnx"),
            "litert": ("ai-edge-litert", "tensorflow")}


def _versions(fmt: str) -> dict:
    versions = {}
    for package in PACKAGES[fmt]:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def _convert(fmt: str, stage: str, network, folder: pathlib.Path, samples, progress) -> list[str]:
    """Writes `network` in `fmt` into `folder` (int8 when `samples` are given); returns what stayed float."""
    name = NETWORK_FILES[fmt][stage]
    keep = KEPT_FLOAT.get(stage, ({}, ""))[0] or {}

    def bar(items):
        return progress_bar(items, desc=f"{stage.upper()} calibration", unit="sample", leave=False, enabled=progress)

    if fmt == "litert":
        return litert_files.write_litert(network, folder / name, samples, keep.get(fmt, ()), bar)
    onnx_path = folder / f".{stage}.float.onnx" if fmt == "openvino" or samples is not None else folder / name
    onnx_files.write_onnx(network, onnx_path)
    try:
        if fmt == "onnx":
            return [] if samples is None else onnx_files.quantize_onnx(onnx_path, folder / name, samples,
                                                                       keep.get(fmt, ()), bar)
        if samples is None:
            openvino_files.onnx_to_openvino(onnx_path, folder / name)
            return []
        return openvino_files.quantize_openvino(onnx_path, folder / name, samples, keep.get(fmt, ()))
    finally:
        if onnx_path != folder / name:
            onnx_path.unlink(missing_ok=True)


def export_runtime_model(workdir, out, fmt: str, precision: str = "float32", *, calibration_data: str | None = None,
                         calibration_images: int = 32, data_dir=None, progress: bool = True, log=None,
                         release_opt: int | None = None, quality: str | None = None) -> pathlib.Path:
    """Exports a trained run's three networks in `fmt` ("openvino", "onnx", "litert") and `precision`.

    Args:
        workdir: the run (GSN, LRN and GLFN trained). out: the folder to write (must not exist).
        calibration_data: int8: a `--dataset` spec of training images (default: the run's own).
        calibration_images: int8: how many training images the float32 pipeline runs for calibration.
        log: callable(str) for what the user should read (default: the module's logger).
        release_opt: the authors' test script's `opt` stored with the export (default: the run's; protocol
            "release" only).
        quality: the level of `hrsod_tf.quality` stored with the export (its config's patch budget, and
            ``quality``): what it runs at unless told otherwise. Calibration runs at the run's own level.
    Returns:
        `out`.
    Raises:
        ExportFormatError (a format/precision not offered), FileExistsError (`out` exists),
        StageNotTrainedError, CalibrationError, RuntimeNotInstalledError.
    """
    log = log or logger.info
    if fmt not in RUNTIME_FORMATS:
        raise ExportFormatError(f"{fmt!r} is not a runtime format ({', '.join(RUNTIME_FORMATS)})")
    check_precision(fmt, precision)
    out = pathlib.Path(out)
    if out.exists():
        raise FileExistsError(f"{out} already exists: exports are never overwritten; choose another --out or "
                              "delete it yourself")
    run = WorkDir(workdir)
    config = with_release_opt(run.load_config(), release_opt)
    for stage in STAGES:
        run.require_stage(stage)
    models = run.load_models(config)
    samples, calibration = {}, None
    if precision == "int8":
        spec = calibration_data or run_training_data(run.root)
        keras_networks = PipelineNetworks.from_keras(config.model, models.gsn, models.lrn, models.glfn)
        samples = calibration_samples(config, keras_networks, spec, images=calibration_images, data_dir=data_dir,
                                      progress=progress)
        calibration = {"data": spec, "images": calibration_images,
                       "samples": {stage: len(values) for stage, values in samples.items()}}
        log(f"calibration: {calibration['samples']['gsn']} GSN and {calibration['samples']['lrn']} LRN inputs "
            f"from {spec}")
    kept_float = {}
    with atomic_output(out, directory=True, overwrite=False) as folder:
        for stage in STAGES:
            network = exportable_network(stage, getattr(models, stage), config.model)
            quantize = precision == "int8" and stage in QUANTIZED_STAGES
            log(f"{stage.upper()}: writing {NETWORK_FILES[fmt][stage]} ({'int8' if quantize else 'float32'})")
            kept = _convert(fmt, stage, network, folder, samples.get(stage) if quantize else None, progress)
            if precision == "int8" and stage in KEPT_FLOAT and (kept or stage not in QUANTIZED_STAGES):
                why = KEPT_FLOAT[stage][1]
                kept_float[stage] = {"layers": kept or ["all"], "why": why}
                log(f"{stage.upper()}: kept in float32: {', '.join(kept) if kept else 'every layer'} ({why})")
        glfn_runtime = "tensorflow" if precision == "int8" else fmt
        if glfn_runtime == "tensorflow":
            atomic_write(folder / GLFN_WEIGHTS, weights_file_bytes(models.glfn))
            log(f"GLFN: runs as TensorFlow's folded GLFN ({GLFN_WEIGHTS}): faster than the runtimes' float32 GLFN")
        settings = {
            "format": fmt, "precision": precision, "preset": config.preset, "glfn_runtime": glfn_runtime,
            "networks": dict(NETWORK_FILES[fmt]), "inputs": {stage: list(INPUT_NAMES[stage]) for stage in STAGES},
            "kept_float": kept_float, "calibration": calibration, "workdir": str(run.root),
            "exported_at": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
            "packages": _versions(fmt), "python": platform.python_version(),
            "config": with_quality(config, quality).to_dict(), "quality": quality_of(with_quality(config, quality)),
        }
        (folder / SETTINGS_FILE).write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")
    return out
