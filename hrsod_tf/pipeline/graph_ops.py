"""Graph operations both protocols share: the GSN's map, crops, the LRN in batches, pasting patches back.

Every function is TensorFlow ops (no Python per patch, no numpy), so the pipeline traces into one SavedModel.
The networks are the functions of a `hrsod_tf.pipeline.networks.PipelineNetworks` (salient probability only).
"""

from __future__ import annotations

import tensorflow as tf

from hrsod_tf.geometry import crop_boxes_for, warp_to_square


def gsn_map(gsn, image, size: int) -> tf.Tensor:
    """The GSN's salient probability at its own resolution: float32 [S, S, 1] in [0, 1].

    Args:
        gsn: the GSN's probability function ([B, S, S, 3] -> [B, S, S, 1]). image: [H, W, 3] RGB, 0..255 (any
            dtype). size: the GSN input side S.
    """
    return gsn(warp_to_square(image, size)[tf.newaxis])[0]


def traced_gsn_map(gsn, size: int):
    """`gsn_map` as one `tf.function` of an image (uint8 [H, W, 3], any size), traced on its first call (no
    control flow to convert: no AutoGraph): the network's ops without eager mode's per-layer overhead, and the
    same maps as an eager call, to the bit (tests/test_validation.py)."""
    return tf.function(lambda image: gsn_map(gsn, image, size),
                       input_signature=[tf.TensorSpec([None, None, 3], tf.uint8)], autograph=False)


def upsample_map(small_map, height_width) -> tf.Tensor:
    """A map [s, s, 1] resized bilinearly to `height_width` (float32 [H, W, 1]): how the GSN's map becomes F."""
    return tf.image.resize(small_map, height_width, method="bilinear")


def coarse_map(gsn, image, size: int) -> tf.Tensor:
    """F: `gsn_map` upsampled to the image's own resolution, float32 [H, W, 1] in [0, 1]."""
    return upsample_map(gsn_map(gsn, image, size), tf.shape(image)[:2])


def crop_patches(image, coarse, boxes, size: int):
    """Crops each box from the image and from the map, resized (bilinear) to size x size.

    Args:
        image: [H, W, 3] (any dtype). coarse: float32 [H, W, 1]. boxes: int32 [M, 4] half-open [y0, x0, y1, x1].
    Returns:
        (patches float32 [M, size, size, 3] 0..255, guidance float32 [M, size, size, 1] in [0, 1]).
    """
    crop_boxes = crop_boxes_for(boxes, tf.shape(image)[:2])
    indices = tf.zeros(tf.shape(boxes)[:1], tf.int32)
    # Cropped separately: a uint8 image goes in as it is, with no float copy of a 4K photo.
    patches = tf.image.crop_and_resize(image[tf.newaxis], crop_boxes, indices, [size, size])
    guidance = tf.image.crop_and_resize(coarse[tf.newaxis], crop_boxes, indices, [size, size])
    return patches, guidance


def run_in_batches(function, inputs, batch_size: int, output_shape, output_dtype=tf.float32):
    """Applies `function` to `inputs` (a tuple of [M, ...] tensors) `batch_size` rows at a time.

    Memory is bounded by the batch, whatever M is (M may be 0). The last, partial batch runs at its own
    size (no padding: 10 patches cost 10 LRN passes, not 16). Returns [M, *output_shape].
    """
    count = tf.shape(inputs[0])[0]
    full = count // batch_size * batch_size

    def chunks(x):
        return tf.reshape(x[:full], tf.concat([[full // batch_size, batch_size], tf.shape(x)[1:]], axis=0))

    batched = tf.map_fn(
        lambda chunk: function(*chunk),
        tuple(chunks(x) for x in inputs),
        fn_output_signature=tf.TensorSpec([batch_size, *output_shape], output_dtype),
    )
    rest = tf.cond(
        count > full,
        lambda: function(*(x[full:] for x in inputs)),
        lambda: tf.zeros([0, *output_shape], output_dtype),
    )
    return tf.concat([tf.reshape(batched, tf.concat([[full], output_shape], axis=0)), rest], axis=0)


def refine_patches(lrn, image, coarse, boxes, size: int, batch_size: int) -> tf.Tensor:
    """The LRN on every box of `image`, guided by the same box of `coarse`: float32 [M, size, size, 1].

    Args:
        lrn: the LRN's probability function. size: the LRN input side. batch_size: patches run together.
    """
    patches, guidance = crop_patches(image, coarse, boxes, size)
    return run_in_batches(lrn, (patches, guidance), batch_size, [size, size, 1])


def paste_patches(patches, boxes, height_width, method="bilinear"):
    """Sums patches [M, s, s, 1] back into their boxes, each resized to its box, and counts the overlaps.

    Boxes of one size (inference APS, dense tiling, random boxes) are resized in one batch and scattered;
    boxes of several sizes (the release protocol's, cut at the frame's border) one after the other.

    Args:
        method: a `tf.image.resize` method, or a function ``resize(patch [s, s, 1], size int32 [2])`` (the
            release protocol's MATLAB resize), which pastes the boxes one after the other.
    Returns:
        (sum float32 [H, W, 1], count float32 [H, W, 1]).
    """
    if callable(method):
        return _paste_each(patches, boxes, height_width, method)
    sizes = boxes[:, 2:] - boxes[:, :2]
    one_size = tf.reduce_all(tf.equal(sizes, tf.concat([sizes, [[1, 1]]], axis=0)[0]))
    return tf.cond(one_size,
                   lambda: _paste_one_size(patches, boxes, height_width, method),
                   lambda: _paste_each(patches, boxes, height_width, method))


def _paste_one_size(patches, boxes, height_width, method):
    # With no box the [1, 1] size is never used (the sums have no rows); it only keeps resize valid.
    first = tf.concat([boxes, [[0, 0, 1, 1]]], axis=0)[0]
    box_h, box_w = first[2] - first[0], first[3] - first[1]
    resized = tf.image.resize(patches, tf.stack([box_h, box_w]), method=method)
    rows = boxes[:, 0:1] + tf.range(box_h)[tf.newaxis]  # [M, h]
    cols = boxes[:, 1:2] + tf.range(box_w)[tf.newaxis]  # [M, w]
    pixels = tf.reshape(rows[:, :, tf.newaxis] * height_width[1] + cols[:, tf.newaxis, :], [-1])  # [M * h * w]
    # Segment sums, not tensor_scatter_nd_add (several times slower on CPU): both add the values of a pixel in
    # the order of the boxes, from zero, so the sums are the same to the bit.
    total = tf.math.unsorted_segment_sum(tf.reshape(resized, [-1]), pixels, tf.reduce_prod(height_width))
    count = tf.math.unsorted_segment_sum(tf.ones_like(pixels, tf.float32), pixels, tf.reduce_prod(height_width))
    shape = tf.concat([height_width, [1]], axis=0)
    return tf.reshape(total, shape), tf.reshape(count, shape)


def _paste_each(patches, boxes, height_width, method):
    height, width = height_width[0], height_width[1]
    zeros = tf.zeros(tf.stack([height, width, 1]), tf.float32)

    def body(i, total, count):
        y0, x0, y1, x1 = boxes[i, 0], boxes[i, 1], boxes[i, 2], boxes[i, 3]
        size = tf.stack([y1 - y0, x1 - x0])
        patch = method(patches[i], size) if callable(method) else tf.image.resize(patches[i], size, method=method)
        padding = tf.stack([[y0, height - y1], [x0, width - x1], [0, 0]])
        return i + 1, total + tf.pad(patch, padding), count + tf.pad(tf.ones_like(patch), padding)

    _, total, count = tf.while_loop(lambda i, *_: i < tf.shape(boxes)[0], body, (0, zeros, zeros))
    return total, count


def fuse(coarse, total, count, region=None) -> tf.Tensor:
    """The refined patches' mean (`total / count`) replaces the map where a patch covers it, only inside
    `region` (bool [H, W]) when given; elsewhere the map is kept. Returns float32 [H, W, 1]."""
    replace = count > 0
    if region is not None:
        replace = tf.logical_and(replace, region[..., tf.newaxis])
    return tf.where(replace, total / tf.maximum(count, 1.0), coarse)
