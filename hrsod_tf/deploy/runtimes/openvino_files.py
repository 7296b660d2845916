"""OpenVINO: IR converted from the ONNX file by OpenVINO's converter, int8 by NNCF, run by OpenVINO's CPU plugin.

Why through ONNX: OpenVINO's TensorFlow frontend (what Keras' ``export(format="openvino")`` uses on TensorFlow)
gave wrong maps when the batch dimension is free: the GSN's mean error was 0.022 against 1e-8 with a fixed
batch, from the dilated convolutions' SpaceToBatch form once a transposed convolution is in the same graph.
From ONNX the dilated convolutions are plain dilated Convolution ops and every batch size matches Keras.

int8 is NNCF's post-training quantization (``nncf.quantize``) with the MIXED preset (weights int8 symmetric per
output channel, activations asymmetric: the symmetric PERFORMANCE preset doubled the GSN's error), activation
ranges from the calibration inputs' minimum and maximum (NNCF's default averages the per-sample extremes,
which clipped: 0.80 levels mean difference on the demo GSN instead of 0.35) and NNCF's full bias correction.

Precision at run time is OpenVINO's ``INFERENCE_PRECISION_HINT``: "f32" for float32 and for the float layers
of int8 models, "bf16" for bfloat16 (OpenVINO's CPU default is bf16 on CPUs with AMX, so float32 is asked for
explicitly). The IR on disk is float32 for float32 and bfloat16 alike. On a CPU without native bfloat16 (no
AVX-512 BF16, no AMX) the plugin emulates it, "significant performance degradation in comparison with FP32"
(OpenVINO's bfloat16 guide, 2021.4), so loading such a model there warns and names the precisions to use.
"""

from __future__ import annotations

import functools
import logging
import pathlib
import threading

import numpy as np

from hrsod_tf.deploy.runtimes.formats import import_runtime

__all__ = ["OpenVINOSession", "native_bfloat16", "onnx_to_openvino", "quantize_openvino"]

INFERENCE_PRECISION = {"float32": "f32", "bfloat16": "bf16", "int8": "f32"}

logger = logging.getLogger(__name__)


def native_bfloat16(core) -> bool:
    """Whether OpenVINO's CPU plugin computes bfloat16 natively here: "BF16" among its optimisation
    capabilities (CPUs with AVX-512 BF16 or AMX)."""
    return "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")


@functools.cache  # once per process, not once per network
def _warn_emulated_bfloat16(capabilities: tuple[str, ...]) -> None:
    logger.warning("this CPU has no native bfloat16 (OpenVINO's CPU capabilities: %s): OpenVINO emulates it, "
                   "slower than float32; on this CPU export with --precision int8 (fastest) or float32",
                   ", ".join(capabilities))


def onnx_to_openvino(onnx_path, xml_path) -> pathlib.Path:
    """Converts an ONNX file to OpenVINO IR (``.xml`` + ``.bin``, float32 weights)."""
    ov = import_runtime("openvino", purpose="to write OpenVINO models")
    ov.save_model(ov.convert_model(str(onnx_path)), str(xml_path), compress_to_fp16=False)
    return pathlib.Path(xml_path)


def quantize_openvino(onnx_path, xml_path, samples, keep_float_op_types=()) -> list[str]:
    """Writes NNCF's int8 version of the ONNX model `onnx_path` as OpenVINO IR at `xml_path`.

    Args:
        samples: calibration inputs, a list of {input name: float32 array}.
        keep_float_op_types: OpenVINO op types left in float ("MatMul": the LRN's guidance resize, which
            OpenVINO's CPU plugin also refuses to compile in int8).
    Returns:
        The names of the operations kept in float.
    """
    ov = import_runtime("openvino", purpose="to write OpenVINO models")
    nncf = import_runtime("nncf", purpose="to quantize OpenVINO models to int8")
    # optional, as its runtime: imported once import_runtime has found NNCF
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet

    model = ov.convert_model(str(onnx_path))
    names = [port.get_any_name() for port in model.inputs]
    kept = [op.get_friendly_name() for op in model.get_ordered_ops() if op.get_type_name() in keep_float_op_types]
    quantized = nncf.quantize(
        model, nncf.Dataset(samples, lambda sample: {name: sample[name] for name in names}),
        preset=nncf.QuantizationPreset.MIXED, subset_size=len(samples), fast_bias_correction=False,
        ignored_scope=nncf.IgnoredScope(types=list(keep_float_op_types)) if keep_float_op_types else None,
        advanced_parameters=AdvancedQuantizationParameters(
            activations_range_estimator_params=RangeEstimatorParametersSet.MINMAX))
    ov.save_model(quantized, str(xml_path), compress_to_fp16=False)
    return kept


class OpenVINOSession:
    """An OpenVINO IR on the CPU plugin: ``session(*inputs) -> float32 array`` (the first output).

    Args:
        path: the .xml file. precision: "float32", "bfloat16" or "int8" (sets the inference precision).
        threads: inference threads (None: OpenVINO's default, every core).
    """

    runtime = "openvino"

    def __init__(self, path, precision: str = "float32", threads: int | None = None):
        ov = import_runtime("openvino", purpose="to run an OpenVINO export")
        core = ov.Core()
        config = {"INFERENCE_PRECISION_HINT": INFERENCE_PRECISION[precision], "PERFORMANCE_HINT": "LATENCY"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        self.path, self.precision = pathlib.Path(path), precision
        if precision == "bfloat16" and not native_bfloat16(core):
            _warn_emulated_bfloat16(tuple(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")))
        self.compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
        self.request = self.compiled.create_infer_request()
        self.input_names = [port.get_any_name() for port in self.compiled.inputs]
        self.input_shapes = [tuple(None if d.is_dynamic else d.get_length() for d in port.get_partial_shape())
                             for port in self.compiled.inputs]
        self._lock = threading.Lock()
        self._version = ov.__version__ if hasattr(ov, "__version__") else ov.get_version()

    def __call__(self, *inputs) -> np.ndarray:
        arrays = [np.ascontiguousarray(x, np.float32) for x in inputs]
        with self._lock:
            return np.array(self.request.infer(arrays)[0])

    def describe(self) -> dict:
        """What the CPU plugin actually runs: its inference precision, and per layer type the kernel
        ("primitiveType", e.g. brgconv_avx512_amx_I8) and precision it chose, with counts."""
        kernels = {}
        for op in self.compiled.get_runtime_model().get_ordered_ops():
            info = op.get_rt_info()
            layer = str(info["layerType"].astype(str)) if "layerType" in info else op.get_type_name()
            if layer not in ("Convolution", "Deconvolution", "MatMul", "FullyConnected"):
                continue
            key = f"{layer}: {info['primitiveType'].astype(str)} {info['runtimePrecision'].astype(str)}"
            kernels[key] = kernels.get(key, 0) + 1
        return {"runtime": f"openvino {self._version}",
                "inference_precision": str(self.compiled.get_property("INFERENCE_PRECISION_HINT")),
                "threads": int(self.compiled.get_property("INFERENCE_NUM_THREADS")), "kernels": kernels}
