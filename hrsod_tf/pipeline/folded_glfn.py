"""The GLFN's inference-time forward pass, rewritten for speed: same function, fewer full-resolution passes.

`build_glfn` (hrsod_tf/models/glfn.py) is the trainable Keras network. At inference its BatchNorms are fixed
affine maps, so `FoldedGLFN(glfn_model)` computes the same salient-class probability with:

* every BatchNorm that follows a convolution folded into it (``conv2_i_x2_bn`` into the 1x1 ``conv2_i_x1``:
  exact, a 1x1 convolution has no padding);
* every other BatchNorm + ReLU as one affine + ReLU (``conv2_i_x1_bn``, the transition ``conv2_blk_bn``),
  with the input scaling (Caffe's BGR minus mean and map x255, or [-1, 1]) folded into the first of them
  when every consumer of the scaled input is such a BatchNorm (exact: elementwise maps have no border);
* convolution, bias and ReLU as one fused op (TF's remapper fuses ``Conv2D + BiasAdd + Relu``);
* the 2-class softmax as ``sigmoid(z1 - z0)`` of one logit-difference convolution, since only the salient
  channel is used (half the final convolution, no softmax pass).

What it returns is the probability of the salient class, ``glfn(...)[..., 1:]``, to about 1e-6.
`benchmarks/glfn_speed.py` measures it against the Keras forward; `docs/BENCHMARKS.md` has the profile.
The weights are read once, when a `FoldedGLFN` is made (make a new one after training further); they are
kept as numpy arrays, so one `FoldedGLFN` can be traced into any number of `tf.function`s and SavedModels.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from hrsod_tf.models.glfn import dilated_branch_names


class GLFNStructureError(ValueError):
    """The Keras model is not a GLFN built by `build_glfn` with the given config."""


def _batch_norm_affine(layer) -> tuple[np.ndarray, np.ndarray]:
    """(scale, offset) with BN(x) = scale * x + offset, in float64, for a Keras BatchNormalization."""
    gamma, beta, mean, variance = (np.asarray(w, np.float64) for w in layer.get_weights())
    scale = gamma / np.sqrt(variance + layer.epsilon)
    return scale, beta - scale * mean


def _input_affine(layer, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """A preprocessing layer as out = raw @ matrix + offset (probed on a 1x1 image), float64."""
    zero = np.zeros((1, 1, 1, channels), np.float32)
    offset = np.asarray(layer(zero), np.float64).reshape(-1)
    eye = np.eye(channels, dtype=np.float32).reshape(channels, 1, 1, channels)
    matrix = np.asarray(layer(eye), np.float64).reshape(channels, -1) - offset
    probe = np.random.default_rng(0).uniform(0, 255, (1, 1, 1, channels)).astype(np.float32)
    if not np.allclose(np.asarray(layer(probe), np.float64).reshape(-1), probe.reshape(-1) @ matrix + offset,
                       rtol=1e-5, atol=1e-3):
        raise GLFNStructureError(f"the GLFN's input layer {layer.name!r} is not an affine map")
    return matrix, offset


_UNIT_EPSILON = 1e-3


_ONEDNN_BLOCK = 8  # oneDNN's batch-norm kernels are JIT-compiled for channel counts in multiples of 8


def _affine_relu(x, scale, shift):
    """relu(scale * x + shift) per channel.

    With a multiple of 8 channels, as one inference-mode FusedBatchNorm (mean 0, variance 1 - eps, so its rsqrt is
    exactly 1) + ReLU: half the time of a separate multiply, add and max. With another count (the GLFN's 6 and 10),
    oneDNN runs its generic `nspc_bnorm:any` batch norm (ONEDNN_VERBOSE), 2-3x slower than the multiply, add and
    max: those are used instead. Both give the same floats (one multiply and one add per value)."""
    channels = scale.shape[0]
    if channels % _ONEDNN_BLOCK:
        return tf.nn.relu(x * scale + shift)
    y, _, _ = tf.compat.v1.nn.fused_batch_norm(
        x, scale, shift, mean=np.zeros(channels, np.float32),
        variance=np.full(channels, 1.0 - _UNIT_EPSILON, np.float32), epsilon=_UNIT_EPSILON, is_training=False)
    return tf.nn.relu(y)


def _const(array) -> np.ndarray:
    """float32 numpy: every trace embeds its own constants (no tensor is shared between graphs)."""
    return np.asarray(array, np.float32)


class FoldedGLFN(tf.Module):
    """The inference-time GLFN with folded BatchNorms (see the module docstring).

    Args:
        glfn: a trained Keras GLFN from `build_glfn(config)` (the weights are copied now).
        config: the `ModelConfig` it was built with.

    Call: ``folded(image, saliency)`` with image (B, H, W, 3) RGB 0..255 and saliency (B, H, W, 1) in [0, 1],
    any float dtype; returns float32 (B, H, W, 1), the salient-class probability of ``glfn([image, saliency])``.
    """

    def __init__(self, glfn, config, name: str = "folded_glfn"):
        super().__init__(name=name)
        if config.num_classes != 2:
            raise GLFNStructureError(f"FoldedGLFN needs a 2-class GLFN, got num_classes={config.num_classes}")
        self.rates = tuple(config.glfn_rates)
        self.num_layers = config.glfn_num_layers
        self.transition = bool(config.glfn_transition)

        def layer(name):
            try:
                return glfn.get_layer(name)
            except ValueError:
                raise GLFNStructureError(
                    f"the model {glfn.name!r} has no layer {name!r}: it was not built by build_glfn with this "
                    "config (glfn_num_layers, glfn_transition, glfn_rates)") from None

        image_m, image_o = _input_affine(layer("glfn_preprocessing"), 3)
        map_m, map_o = _input_affine(layer("saliency_scaling"), 1)
        # The scaled input concat_1024 = [image_scaled, map_scaled] = raw @ matrix + offset, raw = [R, G, B, map].
        matrix = np.zeros((4, 4))
        matrix[:3, :3], matrix[3:, 3:] = image_m, map_m
        offset = np.concatenate([image_o, map_o])
        if not self._is_scaled_permutation(matrix):
            raise GLFNStructureError("the GLFN's input scaling mixes channels; FoldedGLFN cannot fold it")
        # Scaled channel j = scale_j * raw[source_j] + offset_j.
        source = np.argmax(np.abs(matrix), axis=0)
        in_scale = matrix[source, np.arange(4)]

        def to_raw(scale, shift):
            """An affine BN on the first 4 (scaled) channels as an affine on the raw channels, raw order."""
            raw_scale, raw_shift = np.zeros(4), np.zeros(4)
            raw_scale[source] = scale[:4] * in_scale
            raw_shift[source] = scale[:4] * offset + shift[:4]
            return raw_scale, raw_shift

        def rows_to_raw(kernel):
            """A kernel reading the scaled channels, reordered to read the raw ones (input axis 2)."""
            kernel = np.array(kernel, np.float64)
            kernel[:, :, source] = kernel[:, :, :4].copy()
            return kernel

        self.dense = []
        for i in range(1, self.num_layers + 1):
            bn1 = _batch_norm_affine(layer(f"conv2_{i}_x1_bn"))
            bn1 = (np.concatenate([to_raw(*bn1)[0], bn1[0][4:]]), np.concatenate([to_raw(*bn1)[1], bn1[1][4:]]))
            (kernel1,) = layer(f"conv2_{i}_x1").get_weights()
            bn2_scale, bn2_shift = _batch_norm_affine(layer(f"conv2_{i}_x2_bn"))
            (kernel2,) = layer(f"conv2_{i}_x2").get_weights()
            self.dense.append({
                "bn1_scale": _const(bn1[0]), "bn1_shift": _const(bn1[1]),
                "kernel1": _const(rows_to_raw(kernel1) * bn2_scale), "bias1": _const(bn2_shift),
                "kernel2": _const(kernel2),
            })
        if self.transition:
            scale, shift = _batch_norm_affine(layer("conv2_blk_bn"))
            raw_scale, raw_shift = to_raw(scale, shift)
            self.transition_affine = (_const(np.concatenate([raw_scale, scale[4:]])),
                                      _const(np.concatenate([raw_shift, shift[4:]])))
        else:
            self.input_affine = (_const(in_scale), _const(offset), tuple(int(s) for s in source))
        self.branches = []
        for name in dilated_branch_names(len(self.rates)):
            kernel, bias = layer(name).get_weights()
            self.branches.append((_const(rows_to_raw(kernel) if self.transition else kernel), _const(bias)))
        kernel, bias = (np.asarray(w, np.float64) for w in layer("final_score1024").get_weights())
        self.final = (_const(kernel[..., 1:2] - kernel[..., 0:1]), _const(bias[1:2] - bias[0:1]))

    @staticmethod
    def _is_scaled_permutation(matrix) -> bool:
        nonzero = np.abs(matrix) > 0
        return bool(np.all(nonzero.sum(axis=0) == 1) and np.all(nonzero.sum(axis=1) == 1))

    def __call__(self, image, saliency) -> tf.Tensor:
        raw = tf.concat([tf.cast(image, tf.float32), tf.cast(saliency, tf.float32)], axis=-1)
        x = raw  # the dense block's concatenation; its first 4 channels are raw inputs, in raw order
        for layer in self.dense:
            y = _affine_relu(x, layer["bn1_scale"], layer["bn1_shift"])
            y = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(y, layer["kernel1"], 1, "SAME"), layer["bias1"]))
            x = tf.concat([x, tf.nn.conv2d(y, layer["kernel2"], 1, "SAME")], axis=-1)
        if self.transition:
            x = _affine_relu(x, *self.transition_affine)
        else:
            scale, shift, source = self.input_affine
            scaled = tf.gather(x[..., :4], list(source), axis=-1) * scale + shift
            x = tf.concat([scaled, x[..., 4:]], axis=-1)
        branches = [
            tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, kernel, 1, "SAME", dilations=rate), bias))
            for (kernel, bias), rate in zip(self.branches, self.rates)
        ]
        kernel, bias = self.final
        logit = tf.nn.bias_add(tf.nn.conv2d(tf.concat(branches, axis=-1), kernel, 1, "SAME"), bias)
        return tf.sigmoid(logit)
