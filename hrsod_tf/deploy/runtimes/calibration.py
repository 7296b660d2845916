"""int8 calibration inputs: what the float32 pipeline feeds each network, on the run's own training images.

    training images (the run's data set, train split; never test images) --> float32 Keras pipeline, "full"
    variant, the run's own protocol --> the inputs each network call received, one sample per image or patch

So the GSN is calibrated on warped images and the LRN on the very APS patches and guidance crops it refines,
at the scale and in the frame the run's protocol uses. Which data set a run trained on is read from its
coarse-map cache (written by the LRN stage: ``caches/coarse/fingerprint.json``, key "dataset"); a run without
one (a converted Caffe run) needs ``--calibration-data SPEC``.
"""

from __future__ import annotations

import itertools

import tensorflow as tf

from hrsod_tf.data.map_cache import MapCache
from hrsod_tf.data.sources import resolve_data_source
from hrsod_tf.deploy.runtimes.network_files import INPUT_NAMES
from hrsod_tf.pipeline import PipelineNetworks, SaliencyPipeline
from hrsod_tf.progress import progress_bar
from hrsod_tf.workdir import WorkDir

__all__ = ["CalibrationError", "calibration_samples", "run_training_data"]


class CalibrationError(ValueError):
    """No training images to calibrate on; the message says how to name some."""


def run_training_data(workdir) -> str:
    """The `--dataset` spec the run at `workdir` trained on (from its coarse-map cache).

    Raises:
        CalibrationError: the run does not record it.
    """
    run = WorkDir(workdir)
    stored = MapCache(run.cache_dir("coarse"), {}).stored_fingerprint() or {}
    if not stored.get("dataset"):
        raise CalibrationError(
            f"{run.root} does not record the data set it was trained on (no 'dataset' in "
            f"{run.cache_dir('coarse')}/fingerprint.json): give --calibration-data SPEC, training images such as "
            "folders:IMAGES_DIR,MASKS_DIR (never test images)")
    return stored["dataset"]


def _calibration_split(source) -> str:
    if "train" in source.splits:
        return "train"
    if len(source.splits) == 1:
        return source.splits[0]
    raise CalibrationError(f"--calibration-data {source.name!r} has no train split (splits: "
                           f"{', '.join(source.splits)}): name a folder of training images")


def _recording(function, stage: str, samples: list, limit: int):
    """`function` (a network of the pipeline), also appending each row of its inputs to `samples` (up to `limit`)."""

    def call(*inputs):
        rows = [tf.convert_to_tensor(x).numpy() for x in inputs]
        for index in range(rows[0].shape[0]):
            if len(samples) < limit:
                samples.append({name: row[index:index + 1] for name, row in zip(INPUT_NAMES[stage], rows)})
        return function(*inputs)

    return call


def calibration_samples(config, networks: PipelineNetworks, spec: str, *, images: int = 32,
                        max_samples: int = 256, data_dir=None, progress: bool = True) -> dict:
    """Calibration inputs of the GSN and the LRN, recorded from the float32 pipeline on training images.

    Args:
        config: the run's `Config`. networks: the run's float32 networks (`PipelineNetworks.from_keras`).
        spec: the `--dataset` spec of the training images (`run_training_data`, or --calibration-data).
        images: how many training images to run. max_samples: at most this many samples per network.
    Returns:
        {"gsn": [...], "lrn": [...]}: lists of {input name: float32 [1, ...]}.
    Raises:
        CalibrationError: no training image.
    """
    source = resolve_data_source(spec, data_dir=data_dir, data_config=config.data)
    split = _calibration_split(source)
    recorded = {"gsn": [], "lrn": []}
    recording = PipelineNetworks(
        gsn=_recording(networks.gsn, "gsn", recorded["gsn"], max_samples),
        lrn=_recording(networks.lrn, "lrn", recorded["lrn"], max_samples),
        glfn=networks.glfn, runtime=networks.runtime)
    pipeline = SaliencyPipeline(config, recording)
    count = min(images, source.num_examples(split))
    examples = itertools.islice(source.examples(split), count)
    for example in progress_bar(examples, total=count, desc=f"calibration ({spec}, {split})", unit="img",
                                enabled=progress):
        # Eagerly, so that the recording functions see the values.
        pipeline.variants_graph(tf.convert_to_tensor(example["image"], tf.uint8), ("gsn+aps+lrn",))
    if not recorded["gsn"]:
        raise CalibrationError(f"--calibration-data {spec!r} ({split} split) holds no image")
    return recorded
