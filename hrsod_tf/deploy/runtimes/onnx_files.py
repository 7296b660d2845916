"""ONNX: Keras' exporter writes the file, ONNX Runtime's quantizer makes it int8, ONNX Runtime runs it.

int8 is ONNX Runtime's static post-training quantization in QDQ form: weights int8 per output channel,
activations uint8 with a zero point (u8s8, the pair ONNX Runtime's CPU kernels run with AVX-512 VNNI; s8s8 left
half the convolutions in float), ranges from the calibration inputs' minimum and maximum. The float file is
shape-inferred first (`quant_pre_process`; the symbolic pass is skipped: it stops on the LRN's matrix products).
"""

from __future__ import annotations

import os
import pathlib
import threading

import numpy as np

from hrsod_tf.deploy.runtimes.formats import import_runtime

__all__ = ["ONNXRuntimeSession", "float_nodes", "quantize_onnx", "write_onnx"]


def write_onnx(model, path) -> pathlib.Path:
    """Writes a Keras model as ONNX with Keras' own exporter (tf2onnx underneath on TensorFlow)."""
    import_runtime("tf2onnx", purpose="to write ONNX files")
    model.export(str(path), format="onnx", verbose=False)
    return pathlib.Path(path)


def float_nodes(path, op_types) -> list[str]:
    """Names of the nodes of the ONNX file at `path` whose op type is in `op_types`."""
    onnx = import_runtime("onnx", purpose="to quantize ONNX files")
    return [node.name for node in onnx.load(str(path)).graph.node if node.op_type in op_types]


class _CalibrationReader:
    """ONNX Runtime's `CalibrationDataReader` protocol over a list of {input name: array} samples."""

    def __init__(self, samples, progress):
        self._samples = iter(progress(samples))

    def get_next(self):
        return next(self._samples, None)

    def rewind(self):  # pragma: no cover - called by some calibrators only
        pass


def quantize_onnx(float_path, out_path, samples, keep_float_op_types=(), progress=lambda x: x) -> list[str]:
    """Writes the int8 (QDQ, u8 activations, s8 per-channel weights) version of `float_path` to `out_path`.

    Args:
        samples: calibration inputs, a list of {input name: float32 array}.
        keep_float_op_types: op types left in float ("MatMul": the LRN's guidance resize).
        progress: wraps the samples' iterable (a progress bar).
    Returns:
        The names of the nodes kept in float.
    """
    quantization = import_runtime("onnxruntime.quantization", "to quantize ONNX files")
    from onnxruntime.quantization.shape_inference import quant_pre_process  # optional, as its runtime

    out_path = pathlib.Path(out_path)
    prepared = out_path.with_name(f".prepared-{out_path.name}")
    try:
        quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
        kept = float_nodes(prepared, keep_float_op_types)
        quantization.quantize_static(
            str(prepared), str(out_path), _CalibrationReader(samples, progress),
            quant_format=quantization.QuantFormat.QDQ, per_channel=True,
            activation_type=quantization.QuantType.QUInt8, weight_type=quantization.QuantType.QInt8,
            calibrate_method=quantization.CalibrationMethod.MinMax, nodes_to_exclude=kept)
    finally:
        prepared.unlink(missing_ok=True)
    return kept


class ONNXRuntimeSession:
    """An ONNX file on ONNX Runtime's CPU provider: ``session(*inputs) -> float32 array`` (the first output).

    Args:
        path: the .onnx file. threads: intra-op threads (None: ONNX Runtime's default, the physical cores).
    """

    runtime = "onnxruntime"

    def __init__(self, path, precision: str = "float32", threads: int | None = None):
        ort = import_runtime("onnxruntime", purpose="to run an ONNX export")
        options = ort.SessionOptions()
        options.inter_op_num_threads = 1
        if threads:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3
        self.path, self.precision = pathlib.Path(path), precision
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.input_shapes = [tuple(d if isinstance(d, int) else None for d in port.shape)
                             for port in self.session.get_inputs()]
        self._lock = threading.Lock()
        self._version = ort.__version__

    def __call__(self, *inputs) -> np.ndarray:
        feed = {name: np.ascontiguousarray(x, np.float32) for name, x in zip(self.input_names, inputs)}
        with self._lock:
            return self.session.run(None, feed)[0]

    def describe(self) -> dict:
        """What runs: the provider, and which op types the graph holds (int8 QDQ pairs or float ops)."""
        import onnx  # optional: installed with the ONNX tools, imported only when asked

        types = {}
        for node in onnx.load(str(self.path)).graph.node:
            types[node.op_type] = types.get(node.op_type, 0) + 1
        return {"runtime": f"onnxruntime {self._version}", "providers": self.session.get_providers(),
                "op_types": types, "note": "MLAS picks its int8/float32 kernels (AVX-512 VNNI, AMX) from the "
                                              "CPU at run time and does not report them",
                "threads": os.environ.get("OMP_NUM_THREADS") or "default"}
