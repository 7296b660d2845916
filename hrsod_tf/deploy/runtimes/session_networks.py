"""Runtime sessions as the pipeline's networks: each call a `tf.numpy_function` around the session.

The pipeline's graph code (`hrsod_tf.pipeline`: APS, crops, LRN batches, pasting, fusion, GLFN tiles, both
protocols) stays TensorFlow and calls the networks through `PipelineNetworks`; here those functions hand their
inputs to an OpenVINO, ONNX Runtime or LiteRT session and give its output back to the graph. One copy of the
pipeline whatever the runtime; only the networks' arithmetic moves.
"""

from __future__ import annotations

import dataclasses
import pathlib

import tensorflow as tf

from hrsod_tf.config import Config
from hrsod_tf.deploy.runtimes.formats import RUNTIME_MODULES, ModelFolderError, import_runtime, read_settings
from hrsod_tf.deploy.runtimes.litert_files import LiteRTSession
from hrsod_tf.deploy.runtimes.network_files import input_side
from hrsod_tf.deploy.runtimes.onnx_files import ONNXRuntimeSession
from hrsod_tf.deploy.runtimes.openvino_files import OpenVINOSession
from hrsod_tf.models import build_stage_network
from hrsod_tf.pipeline import PipelineNetworks
from hrsod_tf.pipeline.folded_glfn import FoldedGLFN

__all__ = ["check_sessions", "graph_function", "load_export", "open_sessions", "session_networks"]


def graph_function(session, name: str):
    """A function of float32 tensors [B, h, w, c] -> float32 [B, h, w, 1] running `session` (a runtime session
    mapping numpy inputs to the salient probability)."""

    def call(*inputs):
        inputs = [tf.cast(x, tf.float32) for x in inputs]
        # stateful: the session is not a pure TensorFlow op; it serialises its own calls (a lock), so the
        # pipeline's batches may come from `tf.map_fn` in any order.
        output = tf.numpy_function(session, inputs, tf.float32, stateful=True, name=name)
        output.set_shape(inputs[0].shape[:-1].concatenate([1]))
        return output

    call.session = session  # for reports of what runs (`describe()`)
    return call


def session_networks(sessions: dict, runtime: str) -> PipelineNetworks:
    """`PipelineNetworks` from {"gsn": session, "lrn": session, "glfn": session}.

    Args:
        runtime: what runs them, for messages and reports (e.g. "openvino int8").
    """
    functions = {stage: graph_function(session, f"{stage}_{session.runtime}") for stage, session in sessions.items()}
    return PipelineNetworks(gsn=functions["gsn"], lrn=functions.get("lrn"), glfn=functions.get("glfn"), runtime=runtime)


def _session_classes() -> dict:
    # The runtime modules import their packages only when a session is made (optional dependencies).
    return {"openvino": OpenVINOSession, "onnx": ONNXRuntimeSession, "litert": LiteRTSession}


def open_sessions(folder, settings: dict, threads: int | None = None) -> dict:
    """{stage: session} for the networks of an export folder (settings from `formats.read_settings`)."""
    fmt, precision = settings["format"], settings["precision"]
    import_runtime(RUNTIME_MODULES[fmt], f"to run the {fmt} export in {folder}")
    cls = _session_classes()[fmt]
    sessions = {}
    for stage, name in settings["networks"].items():
        extra = {"input_names": settings["inputs"][stage]} if fmt == "litert" else {}
        sessions[stage] = cls(pathlib.Path(folder) / name, precision=precision, threads=threads, **extra)
    return sessions


def check_sessions(folder, sessions: dict, model_config) -> None:
    """Raises `ModelFolderError` when a network's input side is not the one the config's pipeline feeds it."""
    for stage, session in sessions.items():
        side = input_side(stage, model_config)
        shape = tuple(session.input_shapes[0])
        if side is not None and shape[1:3] != (side, side):
            raise ModelFolderError(
                f"{folder}: {session.path.name} takes {shape[1]}x{shape[2]} inputs but the config in its "
                f"hrsod_model.json feeds the {stage.upper()} {side}x{side}: the folder mixes exports of different "
                "runs; export the run again into an empty folder")


def load_export(folder, threads: int | None = None, preset: str | None = None):
    """An export folder of `RUNTIME_FORMATS` ready to run: (the run's `Config`, `PipelineNetworks`, settings).

    Args:
        threads: threads each runtime may use (None: its default, every core).
        preset: when given, the preset the caller expects (a folder of another preset raises).
    Raises:
        ModelFolderError: incomplete folder, another preset, networks that do not fit the config.
        RuntimeNotInstalledError: the format's runtime is not installed.
    """
    settings = read_settings(folder)
    config = Config.from_dict(settings["config"])
    if preset is not None and config.preset != preset:
        raise ModelFolderError(f"{folder} holds networks of the {config.preset!r} preset, not {preset!r}: "
                               f"export a {preset!r} run, or ask for --preset {config.preset}")
    sessions = open_sessions(folder, settings, threads)
    check_sessions(folder, sessions, config.model)
    networks = session_networks(sessions, f"{settings['format']} {settings['precision']}")
    if settings.get("glfn_runtime") == "tensorflow":
        networks = dataclasses.replace(networks, glfn=folded_glfn(pathlib.Path(folder), config.model))
    return config, networks, settings


def folded_glfn(folder: pathlib.Path, model_config):
    """The export's GLFN as TensorFlow's `FoldedGLFN`, from its Keras weights (int8 exports keep it float32)."""
    path = folder / "glfn.weights.h5"
    if not path.is_file():
        raise ModelFolderError(f"{folder} is incomplete: {path.name} (the GLFN's weights) is missing; export again")
    glfn = build_stage_network("glfn", dataclasses.replace(model_config, backbone_weights="none"))
    glfn.load_weights(str(path))
    return FoldedGLFN(glfn, model_config)
