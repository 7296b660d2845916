"""LiteRT (.tflite): the TFLite converter writes the file (int8 with its post-training quantizer), LiteRT runs it.

int8 is the converter's full-integer post-training quantization: weights int8 per output channel, activations
int8 with a zero point, ranges from the calibration inputs; the model's inputs and output stay float32. Layers
kept in float are named by op type through the converter's selective quantization
(`tf.lite.experimental.QuantizationDebugOptions`): the LRN's guidance resize, a BATCH_MATMUL whose int8 kernel
gave 150 quantization steps of error per output (measured with `tf.lite.experimental.QuantizationDebugger`).

The networks' RGB -> BGR swap must stay a gather (`hrsod_tf.models.layers.CaffePreprocessing`): the converter
gives a REVERSE_V2's int8 output a scale of its own while the kernel copies the bytes unchanged, so every later
layer would see colours scaled by the wrong factor (docs/CHANGELOG.md).
"""

from __future__ import annotations

import pathlib
import tempfile
import threading
import warnings

import numpy as np
import tensorflow as tf

from hrsod_tf.deploy.runtimes.formats import import_runtime
from hrsod_tf.machine import usable_cores

__all__ = ["LiteRTSession", "write_litert"]


def write_litert(model, path, samples=None, keep_float_op_types=(), progress=lambda x: x) -> list[str]:
    """Writes a Keras model as a .tflite file: float32, or int8 when calibration `samples` are given.

    Args:
        samples: calibration inputs, a list of {input name: float32 array}; None for float32.
        keep_float_op_types: TFLite op types left in float in int8 ("BATCH_MATMUL").
        progress: wraps the samples' iterable (a progress bar).
    Returns:
        The op types kept in float (empty for float32).
    """
    with tempfile.TemporaryDirectory(prefix="hrsod-litert-") as folder:
        model.export(folder, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        kept = []
        if samples is not None:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: iter(progress(samples))
            kept = list(keep_float_op_types)
        if kept:
            names = sorted(samples[0])  # the interpreter's input order (by name)
            with warnings.catch_warnings():  # the debugger runs TF's own (deprecated) interpreter: not ours to fix
                warnings.simplefilter("ignore")
                debugger = tf.lite.experimental.QuantizationDebugger(
                    converter=converter, debug_dataset=lambda: iter([[samples[0][n] for n in names]]),
                    debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=kept))
                flatbuffer = debugger.get_nondebug_quantized_model()
        else:
            flatbuffer = converter.convert()
    pathlib.Path(path).write_bytes(flatbuffer)
    return kept


class LiteRTSession:
    """A .tflite file on LiteRT's interpreter (XNNPACK delegate): ``session(*inputs) -> float32 array``.

    Inputs are given in the exported order (`network_files.INPUT_NAMES`) and fed by name.

    Args:
        path: the .tflite file. threads: interpreter threads (None: every usable core).
        input_names: the names, in call order.
    """

    runtime = "litert"

    def __init__(self, path, precision: str = "float32", threads: int | None = None, input_names=("image",)):
        litert = import_runtime("ai_edge_litert.interpreter", "to run a LiteRT export")
        threads = threads or usable_cores()
        self.path, self.precision = pathlib.Path(path), precision
        self.interpreter = litert.Interpreter(model_path=str(path), num_threads=threads)
        self.runner = self.interpreter.get_signature_runner()
        details = self.runner.get_input_details()
        self.input_names = list(input_names)
        missing = [name for name in self.input_names if name not in details]
        if missing:
            raise ValueError(f"{path} has no input {missing[0]!r} (its inputs: {', '.join(details)})")
        self.input_shapes = [tuple(None if d < 0 else int(d) for d in details[name]["shape_signature"])
                             for name in self.input_names]
        self._output = next(iter(self.runner.get_output_details()))
        self._lock = threading.Lock()
        self._threads = threads

    def __call__(self, *inputs) -> np.ndarray:
        feed = {name: np.ascontiguousarray(x, np.float32) for name, x in zip(self.input_names, inputs)}
        with self._lock:
            return np.array(self.runner(**feed)[self._output])

    def describe(self) -> dict:
        """The op types of the model and how many run on int8 tensors (LiteRT does not say which XNNPACK
        micro-kernels, hence which instructions, it picked)."""
        ops, int8 = {}, 0
        tensors = {t["index"]: t for t in self.interpreter.get_tensor_details()}
        for op in self.interpreter._get_ops_details():  # the interpreter's only op listing
            ops[op["op_name"]] = ops.get(op["op_name"], 0) + 1
            if op["op_name"] in ("CONV_2D", "TRANSPOSE_CONV", "DEPTHWISE_CONV_2D") and any(
                    tensors[i]["dtype"] == np.int8 for i in op["inputs"] if i in tensors):
                int8 += 1
        return {"runtime": "ai-edge-litert (XNNPACK)", "threads": self._threads, "op_types": ops,
                "int8_convolutions": int8}
