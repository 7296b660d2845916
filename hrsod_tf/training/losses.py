"""The paper's loss: a pixel-wise 2-class softmax cross-entropy, and the validation MAE, in TF."""

import tensorflow as tf

EPSILON = 1e-7


def pixel_cross_entropy(labels, probabilities):
    """Per-example mean cross-entropy of a 2-class softmax output.

    Args:
        labels: (batch, H, W, 1) ground truth in {0, 1} (any real dtype; uint8 masks in {0, 255} are not
            accepted -- the pipelines scale them).
        probabilities: (batch, H, W, 2) float32 softmax output; channel 1 is "salient".

    Returns:
        (batch,) float32: each example's cross-entropy averaged over its pixels, in nats.
    """
    labels = tf.cast(labels, tf.float32)
    probabilities = tf.cast(probabilities, tf.float32)
    # The networks end in a softmax, so the log is taken of clipped probabilities (log(0) guard).
    log_p = tf.math.log(tf.clip_by_value(probabilities, EPSILON, 1.0))
    per_pixel = -(labels * log_p[..., 1:2] + (1.0 - labels) * log_p[..., 0:1])
    return tf.reduce_mean(per_pixel, axis=[1, 2, 3])


def mean_absolute_error(labels, probabilities):
    """(batch,) MAE between the salient-channel probability and the {0, 1} ground truth."""
    labels = tf.cast(labels, tf.float32)
    return tf.reduce_mean(tf.abs(tf.cast(probabilities[..., 1:2], tf.float32) - labels), axis=[1, 2, 3])
