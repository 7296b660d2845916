"""MATLAB's `imresize` as TensorFlow ops: the resize of the authors' test script, exactly.

The release protocol (`hrsod_tf.pipeline.release`) resizes wherever test_iccv19_demo.m calls `imresize`, and
MATLAB's resize differs from `tf.image.resize` in ways that move a saliency map by several grey levels:

* kernels: "bicubic" is Keys' cubic convolution with a = -0.5 (MATLAB's default method), "bilinear" the
  triangle kernel (utils/prepare_img*.m ask for it);
* antialiasing when shrinking (MATLAB's default for both): at scale s < 1 the kernel is stretched to
  ``s * k(s * x)``, so it is 1/s times wider, and every output averages all the input pixels it covers;
* pixel centres: output pixel x (1-based) samples input position ``u = x / s + 0.5 * (1 - 1 / s)``; the taps
  are ``floor(u - width / 2) + (0 .. ceil(width) + 1)``, their weights ``k(u - tap)`` normalised to sum 1;
* borders: a tap outside the image reads its mirror image, ``[1 .. n, n .. 1]`` repeated (the edge pixel
  counted twice), as MATLAB since R2015b does (MATLAB 2013's imresize.m clamped to the edge instead);
* two one-dimensional passes, the dimension with the smaller scale first (a stable sort: rows first on a
  tie); a uint8 image is rounded (half away from zero) and saturated to 0..255 after *each* pass, since
  MATLAB keeps the input's class between passes; single and double arrays are not rounded.

Sources: MATLAB's imresize.m, whose `contributions`, `cubic`, `triangle` and `dimensionOrder` are quoted in
public copies (e.g. pariasm/bwd-nlkalman lib/ms-lanczos3/imresize_matlab.m:620-625, 808-887, of the 2013
version) and ported exactly, with the mirrored borders, by fatheral/matlab_imresize (imresize.py:32-48,
123; its test reproduces MATLAB R2015b's output with zero difference).

Each pass is MATLAB's own form, a weight matrix and an index matrix of ``[out, taps]`` (`contributions`),
applied as a sum over taps of gathered rows: a few Gather/Mul/Add ops per tap, which the SavedModel export
holds and any runtime converts, and O(out * taps) work (a dense [out, in] matrix costs 20 times more when a
4K photo is shrunk to 1024).
"""

from __future__ import annotations

import functools

import tensorflow as tf

METHODS = ("bicubic", "bilinear")


def cubic(x):
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's `cubic`); zero for |x| >= 2."""
    a = tf.abs(x)
    a2, a3 = a * a, a * a * a
    near = (1.5 * a3 - 2.5 * a2 + 1.0) * tf.cast(a <= 1.0, x.dtype)
    far = (-0.5 * a3 + 2.5 * a2 - 4.0 * a + 2.0) * tf.cast(tf.logical_and(a > 1.0, a <= 2.0), x.dtype)
    return near + far


def triangle(x):
    """The triangle kernel (MATLAB's `triangle`, "bilinear"); zero for |x| > 1."""
    return tf.maximum(1.0 - tf.abs(x), tf.zeros_like(x))


_KERNELS = {"bicubic": (cubic, 4.0), "bilinear": (triangle, 2.0)}


def contributions(in_length, out_length, method: str = "bicubic", antialiasing: bool = True):
    """MATLAB's `contributions`: which input pixels make each output pixel, and with which weights.

    Args:
        in_length, out_length: sizes along one axis (ints or int32 scalar tensors, >= 1).
        method: "bicubic" or "bilinear".
        antialiasing: stretch the kernel when shrinking (MATLAB's default).
    Returns:
        (weights float64 [out_length, taps], indices int32 [out_length, taps]): 0-based input indices,
        mirrored at the borders; each row of weights sums to 1.
    """
    if method not in _KERNELS:
        raise ValueError(f"unknown resize method {method!r}: expected one of {', '.join(METHODS)}")
    kernel, width = _KERNELS[method]
    n_in = tf.cast(in_length, tf.int32)
    scale = tf.cast(out_length, tf.float64) / tf.cast(in_length, tf.float64)
    stretch = scale if antialiasing else tf.constant(1.0, tf.float64)
    stretch = tf.minimum(stretch, 1.0)  # only when shrinking
    width = width / stretch
    x = tf.cast(tf.range(1, tf.cast(out_length, tf.int32) + 1), tf.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = tf.floor(u - width / 2.0)
    taps = tf.cast(tf.math.ceil(width), tf.int32) + 2
    positions = left[:, None] + tf.cast(tf.range(taps), tf.float64)[None, :]  # 1-based, may be outside
    weights = stretch * kernel(stretch * (u[:, None] - positions))
    weights = weights / tf.reduce_sum(weights, axis=1, keepdims=True)
    folded = tf.math.floormod(tf.cast(positions, tf.int32) - 1, 2 * n_in)  # into [1..n, n..1], 0-based
    return weights, tf.where(folded < n_in, folded, 2 * n_in - 1 - folded)


def round_like_uint8(x) -> tf.Tensor:
    """The values of MATLAB's uint8(x): saturated to 0..255, rounded half away from zero (same dtype)."""
    return tf.floor(tf.clip_by_value(x, 0.0, 255.0) + 0.5)


def resize_along_axis(x, axis: int, out_length, method: str = "bicubic", antialiasing: bool = True):
    """One pass of `imresize`: float32 [H, W, C] resized along `axis` (0 or 1) to `out_length`."""
    weights, indices = contributions(tf.shape(x)[axis], out_length, method, antialiasing)
    weights = tf.cast(weights, tf.float32)
    shape = tf.tensor_scatter_nd_update(tf.shape(x), [[axis]], [tf.shape(weights)[0]])

    def weight_of(tap):  # broadcast against [out, W, C] (axis 0) or [H, out, C] (axis 1)
        return weights[:, tap, None, None] if axis == 0 else weights[None, :, tap, None]

    def body(tap, total):
        return tap + 1, total + weight_of(tap) * tf.gather(x, indices[:, tap], axis=axis)

    _, out = tf.while_loop(lambda tap, _: tap < tf.shape(weights)[1], body, (0, tf.zeros(shape, tf.float32)))
    return out


@functools.lru_cache(maxsize=None)
def _traced_pass(axis: int, method: str, channels: int | None):
    """`resize_along_axis` as one traced function per axis, method and channel count, which every call shares: a
    graph that resizes many times (the release protocol's calls `imresize` about a dozen times, two passes each)
    then traces each pass's loop once instead of at every call, which took about 2 of its 4-5 s of tracing."""
    return tf.function(lambda x, length: resize_along_axis(x, axis, length, method),
                       input_signature=[tf.TensorSpec([None, None, channels], tf.float32),
                                        tf.TensorSpec([], tf.int32)],
                       autograph=False)


def imresize(x, size, method: str = "bicubic") -> tf.Tensor:
    """MATLAB's ``imresize(x, size, method)`` (antialiased when shrinking, mirrored borders).

    Args:
        x: [H, W, C]. uint8: each of the two passes is rounded to uint8 values, as MATLAB does; any float
            dtype: computed in float32 and not rounded (MATLAB's single).
        size: (rows, cols): ints, int32 scalar tensors, or an int32 [2] tensor.
        method: "bicubic" (MATLAB's default) or "bilinear".
    Returns:
        float32 [rows, cols, C]: uint8 values (as floats) for a uint8 input.
    """
    quantize = x.dtype == tf.uint8
    rows, cols = tf.cast(size[0], tf.int32), tf.cast(size[1], tf.int32)
    image = tf.cast(x, tf.float32)
    scale = tf.cast(tf.stack([rows, cols]), tf.float64) / tf.cast(tf.shape(x)[:2], tf.float64)

    def one_pass(y, axis, length):
        y = _traced_pass(axis, method, x.shape[-1])(y, length)
        return round_like_uint8(y) if quantize else y

    out = tf.cond(scale[1] < scale[0],  # the smaller scale first; rows first on a tie
                  lambda: one_pass(one_pass(image, 1, cols), 0, rows),
                  lambda: one_pass(one_pass(image, 0, rows), 1, cols))
    out.set_shape([None, None, x.shape[-1]])
    return out
