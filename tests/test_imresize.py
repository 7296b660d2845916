"""`hrsod_tf.pipeline.imresize` against values worked out by hand from MATLAB's documented imresize.

Keys' cubic kernel with a = -0.5 at the offsets that occur below:
    k(0.25) = 1.5/64 - 2.5/16 + 1            =  0.8671875
    k(0.75) = 1.5*27/64 - 2.5*9/16 + 1       =  0.2265625
    k(1.25) = -0.5*125/64 + 2.5*25/16 - 5 + 2 = -0.0703125
    k(1.75) = -0.5*343/64 + 2.5*49/16 - 7 + 2 = -0.0234375
    k(x) = 0 for |x| >= 2 (they sum to 1 at the offsets 0.25 + i)
All are multiples of 2^-7, so float32 holds every product below exactly.
"""

import numpy as np
import pytest
import tensorflow as tf

from hrsod_tf.pipeline.imresize import _traced_pass, contributions, imresize, resize_along_axis

RAMP = np.array([0.0, 10.0, 20.0, 30.0], np.float32)


def _column(values, dtype=np.float32):
    return tf.constant(np.asarray(values, dtype).reshape(-1, 1, 1))


def _resized_column(values, length, method="bicubic", dtype=np.float32):
    return imresize(_column(values, dtype), [length, 1], method).numpy().ravel()


def test_bicubic_upsampling_reads_mirrored_pixels_past_the_border():
    # Scale 2: output 1 samples u = 1/2 + 0.25 = 0.75, taps -1..2 (1-based) with weights k(1.75), k(0.75),
    # k(0.25), k(1.25). Mirrored borders read tap 0 as pixel 1 and tap -1 as pixel 2:
    #   10*(-0.0234375) + 0*0.2265625 + 0*0.8671875 + 10*(-0.0703125) = -0.9375
    # (clamped borders, as tf.image.resize, would read pixel 1 for tap -1: -0.703125).
    # Output 2: u = 1.25, taps 0..3 with k(1.25), k(0.25), k(0.75), k(1.75):
    #   0*(-0.0703125) + 0*0.8671875 + 10*0.2265625 + 20*(-0.0234375) = 1.796875
    out = _resized_column(RAMP, 8)
    np.testing.assert_array_equal(out[:2], [-0.9375, 1.796875])
    # The grid is symmetric and the kernel sums to 1, so the last pixels mirror the first: 30 - f.
    np.testing.assert_array_equal(out[-2:], [30 - 1.796875, 30 + 0.9375])


def test_bicubic_shrinking_antialiases_with_a_stretched_kernel():
    # Scale 1/2: the kernel is 0.5 * k(x / 2), 8 pixels wide. Output 1: u = 2 - 0.5 = 1.5, distances
    # 1.5 - tap = 3.5, 2.5, 1.5, 0.5, -0.5, ... for taps -2..5: k(1.75), k(1.25), k(0.75), k(0.25), twice,
    # summing to 2 (normalised: halved). Taps -2, -1, 0 mirror to pixels 3, 2, 1; tap 5 to pixel 4:
    #   (20*-0.0234375 + 10*-0.0703125 + 0*0.2265625 + 0*0.8671875
    #    + 10*0.8671875 + 20*0.2265625 + 30*-0.0703125 + 30*-0.0234375) / 2 = 4.609375
    # Without antialiasing (taps 0..3, weights -1/16, 9/16, 9/16, -1/16) it would be 4.375.
    np.testing.assert_array_equal(_resized_column(RAMP, 2), [4.609375, 30 - 4.609375])


def test_bilinear_shrinking_antialiases_with_a_stretched_triangle():
    # Scale 1/2: triangle 4 pixels wide. Output 1: u = 1.5, taps 0..3 at distances 1.5, 0.5, -0.5, -1.5:
    # weights 1/4, 3/4, 3/4, 1/4 (normalised /2); tap 0 mirrors to pixel 1: (0/4 + 0*3/4 + 10*3/4 + 20/4) / 2.
    np.testing.assert_array_equal(_resized_column(RAMP, 2, "bilinear"), [6.25, 23.75])


def test_uint8_is_rounded_after_each_pass_rows_first_on_a_tie():
    # 2 -> 4 (scale 2 on both axes, so rows first): as above, a column [a, b] becomes
    #   [1.09375a - 0.09375b, 0.796875a + 0.203125b, 0.203125a + 0.796875b, -0.09375a + 1.09375b].
    # Pass 1 (rows) on the columns [200, 0] and [0, 0]: [218.75, 159.375, 40.625, -18.75] -> 219, 159, 41, 0.
    # Pass 2 (columns) on the rows [c, 0]: 219 -> 239.53 174.52 44.48 -20.5 -> 240 175 44 0;
    # 159 -> 173.91 126.70 32.30 -> 174 127 32; 41 -> 44.84 32.67 8.33 -> 45 33 8.
    # Rounding once at the end would give 239 at (1, 1) and 44 at (3, 1); columns first, the transpose.
    image = np.array([[200, 0], [0, 0]], np.uint8)[..., None]
    expected = [[240, 175, 44, 0], [174, 127, 32, 0], [45, 33, 8, 0], [0, 0, 0, 0]]
    np.testing.assert_array_equal(imresize(tf.constant(image), [4, 4]).numpy()[..., 0], expected)


def test_uint8_saturates_and_float_does_not():
    # The overshoot of output 1 in the first test: -0.9375 stays for a float image, is 0 for uint8.
    assert _resized_column(RAMP, 8, dtype=np.uint8)[0] == 0
    assert _resized_column([255, 245, 235, 225], 8, dtype=np.uint8)[0] == 255


def test_the_axis_with_the_smaller_scale_goes_first():
    # rows x2, columns x1.5: columns first, each pass rounded to uint8.
    image = tf.constant(np.random.default_rng(0).integers(0, 256, (5, 4, 3), dtype=np.uint8))
    def uint8_pass(x, axis, length):
        return tf.floor(tf.clip_by_value(resize_along_axis(x, axis, length), 0.0, 255.0) + 0.5)

    x = tf.cast(image, tf.float32)
    got = imresize(image, [10, 6]).numpy()
    np.testing.assert_array_equal(got, uint8_pass(uint8_pass(x, 1, 6), 0, 10).numpy())
    assert not np.array_equal(got, uint8_pass(uint8_pass(x, 0, 10), 1, 6).numpy())


def test_same_size_is_the_identity():
    image = np.random.default_rng(1).random((7, 5, 2)).astype(np.float32)
    np.testing.assert_allclose(imresize(tf.constant(image), [7, 5]).numpy(), image, atol=1e-6)


@pytest.mark.parametrize("method", ["bicubic", "bilinear"])
@pytest.mark.parametrize("lengths", [(4, 8), (385, 48), (1024, 480), (7, 7)])
def test_weights_sum_to_one_and_indices_stay_inside(method, lengths):
    weights, indices = contributions(*lengths, method)
    np.testing.assert_allclose(tf.reduce_sum(weights, axis=1).numpy(), 1.0, atol=1e-12)
    assert indices.numpy().min() >= 0 and indices.numpy().max() < lengths[0]


def test_works_in_a_graph_with_unknown_sizes():
    fn = tf.function(lambda x, h, w: imresize(x, [h, w]),
                     input_signature=[tf.TensorSpec([None, None, 1], tf.uint8), tf.TensorSpec([], tf.int32),
                                      tf.TensorSpec([], tf.int32)])
    out = fn(tf.zeros([9, 13, 1], tf.uint8) + 7, tf.constant(4), tf.constant(30))
    assert out.shape == (4, 30, 1) and float(tf.reduce_max(tf.abs(out - 7.0))) == 0.0


def test_a_graph_of_many_resizes_traces_each_kind_of_pass_once():
    def many(x):
        for size in ([5, 7], [11, 3], [8, 8]):
            x = imresize(x, size, "bilinear")
        return x

    _traced_pass.cache_clear()
    tf.function(many, input_signature=[tf.TensorSpec([None, None, 2], tf.float32)]).get_concrete_function()
    assert _traced_pass.cache_info().currsize == 2  # six passes went through two shared functions
    assert [_traced_pass(axis, "bilinear", 2).experimental_get_tracing_count() for axis in (0, 1)] == [1, 1]
