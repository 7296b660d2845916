"""Geometric transforms shared by the training pipelines and the inference pipeline (TF ops).

Training and inference must resize and crop the same way, or the networks see different inputs at test
time than they learned from; so both call these.
"""

import tensorflow as tf


def warp_to_square(x, size: int) -> tf.Tensor:
    """[..., H, W, C] any dtype -> float32 [..., size, size, C]: bilinear with antialiasing (area-like when
    shrinking); the aspect ratio is not kept, as the paper warps its inputs."""
    return tf.image.resize(tf.cast(x, tf.float32), [size, size], method="bilinear", antialias=True)


def crop_boxes_for(boxes, height_width) -> tf.Tensor:
    """int32 [M, 4] half-open pixel boxes [y0, x0, y1, x1] -> float32 [M, 4] `tf.image.crop_and_resize`
    boxes that sample exactly those pixels (first and last pixel centres) of an image of `height_width`."""
    boxes = tf.cast(boxes, tf.float32)
    scale = tf.cast(tf.maximum(height_width - 1, 1), tf.float32)
    return tf.stack(
        [boxes[:, 0] / scale[0], boxes[:, 1] / scale[1], (boxes[:, 2] - 1) / scale[0], (boxes[:, 3] - 1) / scale[1]],
        axis=1,
    )
