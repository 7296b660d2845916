"""The authors' test protocol (test_iccv19_demo.m of yi94code/HRSOD, opt = 1), as TF graph code.

    image [H, W, 3]
      GSN on the image warped to S x S (S = 224 in the release)                 (test_iccv19_demo.m:15-18)
      frame: image and GSN map warped to a square frame, 1024 (mode 1) or 384   (:23-29)
      mode 1 ("high_res"): APS in the frame, as the MATLAB code does it        (:34-109)
          the map rounded to 0..255; uncertain where 50 < it < 200 (strict, integers);
          W = width of the uncertain columns, N = ceil(W / D) + n columns (D = 384, n = 3) d = round(W / N)
          apart, N + 1 of them; in each column with uncertain pixels (vertical extent h, crop side c):
          h < c/2: one centre; c/2 <= h < c: its top and bottom uncertain rows; h >= c:
          ceil(h / c) + 1 centres from the top to the bottom uncertain row *of the whole map* (as the
          MATLAB code does); each box starts round(c/2) before its centre, is c + 1 pixels wide
          (imcrop's rectangle includes both ends) and is cut at the frame's border
      mode 0 ("low_res"): one patch, the whole 384 frame                       (:122-134)
      LRN on every patch (resized to 384), guidance = the map's crop (the LRN rounds it and resizes it to
          1/8 and 1/4, see `GuidanceResizing`); each output resized back to its box
      fusion: every pixel a patch covers is overwritten, overlaps averaged      (:97-113)
      GLFN on the frame (image, fused map quantised to 0..255)                  (:136-146)
      the result resized back to H x W                                           (:147-153)

Differences from the MATLAB code, all deliberate: the crop side is D exactly (the MATLAB draws D + U{-69..70}
with `unidrnd` after rng(0), test_iccv19_demo.m:4, 48) and the single centre of a short column is its middle
uncertain pixel (the MATLAB picks one at random, :57-58), so a prediction does not depend on the images
processed before it; a column whose extent is exactly c/2 or c takes the next case (the MATLAB falls through
and reuses the previous column's centres); resizes are TensorFlow's (bilinear with antialiasing for images,
bicubic for maps) where the MATLAB uses imresize (bicubic by default, bilinear in prepare_img*.m).
"""

from __future__ import annotations

import tensorflow as tf

from hrsod_tf.inference import crop_patches, run_in_batches, salient_probability

RELEASE_FRAME = {"high_res": 1024, "low_res": 384}
RELEASE_PATCH_SIZE = 384  # D of test_iccv19_demo.m:42


def to_uint8_levels(x) -> tf.Tensor:
    """MATLAB's uint8(x): round half away from zero, saturate to 0..255 (as float32)."""
    return tf.clip_by_value(tf.floor(tf.cast(x, tf.float32) + 0.5), 0.0, 255.0)


def release_attention_tf(frame_map, t1: float = 50.0, t2: float = 200.0) -> tf.Tensor:
    """bool [H, W]: t1 < uint8(255 F) < t2, on the integers as the MATLAB code (test_iccv19_demo.m:36-39)."""
    levels = to_uint8_levels(255.0 * tf.cast(frame_map, tf.float32))[..., 0]
    return tf.logical_and(levels > t1, levels < t2)


def _round_half_up(x):
    return tf.cast(tf.floor(x + 0.5), tf.int32)


def release_aps_boxes_tf(mask, patch_size: int = RELEASE_PATCH_SIZE, extra_columns: int = 3) -> tf.Tensor:
    """The MATLAB APS (deterministic, see the module docstring) on an uncertainty mask.

    Args:
        mask: bool [H, W], the uncertain pixels in the frame.
        patch_size: D. extra_columns: n in N = ceil(W / D) + n.
    Returns:
        int32 [M, 4] half-open boxes [y0, x0, y1, x1] (sides up to D + 1, cut at the border); [0, 4] when
        no pixel is uncertain.
    """
    height, width = tf.shape(mask)[0], tf.shape(mask)[1]
    points = tf.cast(tf.where(mask), tf.int32)  # [P, 2] (row, col)
    has_points = tf.shape(points)[0] > 0
    safe = tf.concat([points, [[0, 0]]], axis=0)
    rows, cols = safe[:, 0], safe[:, 1]
    count = tf.shape(points)[0]
    y_min, y_max = tf.reduce_min(rows[:count + tf.cast(~has_points, tf.int32)]), tf.reduce_max(rows)
    x_min, x_max = tf.reduce_min(cols[:count + tf.cast(~has_points, tf.int32)]), tf.reduce_max(cols)
    crop = patch_size
    half = (crop + 1) // 2  # round(crop * 0.5)

    extent_x = x_max - x_min
    columns = tf.cast(tf.math.ceil(extent_x / crop), tf.int32) + extra_columns  # N
    step = _round_half_up(tf.cast(extent_x, tf.float32) / tf.cast(columns, tf.float32))  # d
    xs = tf.minimum(x_min + step * tf.range(columns + 1), x_max)  # N + 1 columns

    column_mask = tf.transpose(tf.gather(tf.cast(mask, tf.int32), xs, axis=1))  # [N+1, H]
    num = tf.reduce_sum(column_mask, axis=1)
    first = tf.argmax(column_mask, axis=1, output_type=tf.int32)
    last = height - 1 - tf.argmax(tf.reverse(column_mask, [1]), axis=1, output_type=tf.int32)
    span = last - first  # d_heit
    # The middle uncertain row of the column (the MATLAB: a random one).
    middle_rank = (num + 1) // 2
    middle = tf.argmax(tf.cast(tf.cumsum(column_mask, axis=1) >= middle_rank[:, None], tf.int32), axis=1,
                       output_type=tf.int32)
    many = tf.cast(tf.math.ceil(span / crop), tf.int32)  # N_h
    many_step = _round_half_up(tf.cast(span, tf.float32) / tf.cast(tf.maximum(many, 1), tf.float32))

    k = tf.range(tf.maximum(tf.reduce_max(many) + 1, 2))[None, :]  # [1, K]: K >= every column's centres
    one = span * 2 < crop
    two = tf.logical_and(~one, span < crop)
    centres = tf.where(
        one[:, None], tf.broadcast_to(middle[:, None], tf.shape(k + middle[:, None])),
        tf.where(two[:, None], tf.where(k == 0, first[:, None], last[:, None]),
                 tf.minimum(y_min + many_step[:, None] * k, y_max)))
    used = tf.where(one[:, None], k < 1, tf.where(two[:, None], k < 2, k < many[:, None] + 1))
    valid = tf.logical_and(used, (num > 0)[:, None])
    valid = tf.logical_and(valid, has_points)
    centre_y = tf.boolean_mask(centres, valid)
    centre_x = tf.boolean_mask(tf.broadcast_to(xs[:, None], tf.shape(centres)), valid)
    y0 = tf.maximum(centre_y - half, 0)
    x0 = tf.maximum(centre_x - half, 0)
    return tf.stack([y0, x0, tf.minimum(y0 + crop + 1, height), tf.minimum(x0 + crop + 1, width)], axis=1)


def paste_boxes(patches, boxes, height_width):
    """Sums patches [M, s, s, 1] back into boxes of any sizes, each resized (bicubic) to its box.

    Returns:
        (sum float32 [H, W, 1], count float32 [H, W, 1]).
    """
    height, width = height_width[0], height_width[1]
    zeros = tf.zeros(tf.stack([height, width, 1]), tf.float32)

    def body(i, total, count):
        y0, x0, y1, x1 = boxes[i, 0], boxes[i, 1], boxes[i, 2], boxes[i, 3]
        patch = tf.image.resize(patches[i], tf.stack([y1 - y0, x1 - x0]), method="bicubic")
        padding = tf.stack([[y0, height - y1], [x0, width - x1], [0, 0]])
        total = total + tf.pad(patch, padding)
        count = count + tf.pad(tf.ones_like(patch), padding)
        return i + 1, total, count

    _, total, count = tf.while_loop(lambda i, *_: i < tf.shape(boxes)[0], body, (0, zeros, zeros))
    return total, count


def frame_boxes(pipeline, frame_map, sampler: str):
    """Boxes in the frame: "aps" the MATLAB APS (high_res) or the whole frame (low_res); "rps" / "dense"
    the pipeline's baselines run in the frame."""
    settings = pipeline.config.inference
    if sampler == "aps":
        if settings.release_mode == "low_res":
            side = tf.shape(frame_map)[0]
            return tf.stack([[0, 0, side, side]])
        aps = pipeline.config.aps
        return release_aps_boxes_tf(release_attention_tf(frame_map, aps.t1, aps.t2), aps.patch_size,
                                    aps.extra_columns)
    return pipeline.boxes(frame_map, sampler)


def release_variants_graph(pipeline, image, variants) -> dict:
    """`SaliencyPipeline.variants_graph` under protocol "release": {variant: float32 [H, W, 1]}."""
    from hrsod_tf.inference import coarse_map, gsn_map

    config = pipeline.config
    frame = RELEASE_FRAME[config.inference.release_mode]
    size_hw = tf.shape(image)[:2]
    gsn_small = gsn_map(pipeline.gsn, image, config.model.gsn_input_size)
    frame_image = to_uint8_levels(tf.image.resize(tf.cast(image, tf.float32), [frame, frame], method="bicubic",
                                                  antialias=True))
    frame_map = tf.image.resize(gsn_small, [frame, frame], method="bicubic")

    def refine(sampler, lrn):
        boxes = frame_boxes(pipeline, frame_map, sampler)
        size = config.model.lrn_input_size
        patches, guidance = crop_patches(frame_image, frame_map, boxes, size)
        refined = run_in_batches(lambda p, g: lrn([p, g], training=False)[..., 1:], (patches, guidance),
                                 config.inference.lrn_batch_size, [size, size, 1])
        total, count = paste_boxes(refined, boxes, tf.constant([frame, frame]))
        return tf.where(count > 0, total / tf.maximum(count, 1.0), frame_map)

    def back(x):
        return tf.clip_by_value(tf.image.resize(x, size_hw, method="bicubic"), 0.0, 1.0)

    outputs, fused = {}, None
    for variant in variants:
        if variant == "gsn":
            outputs[variant] = coarse_map(pipeline.gsn, image, config.model.gsn_input_size)
        elif variant in ("gsn+aps+lrn", "full"):
            if fused is None:
                fused = refine("aps", pipeline.lrn)
            if variant == "gsn+aps+lrn":
                outputs[variant] = back(fused)
            else:
                glfn_map = to_uint8_levels(255.0 * fused) / 255.0
                out = salient_probability(pipeline.folded_glfn, frame_image[tf.newaxis], glfn_map[tf.newaxis])[0]
                outputs[variant] = back(out)
        elif variant == "gsn+rps+lrn":
            outputs[variant] = back(refine("rps", pipeline.rps_lrn or pipeline.lrn))
        elif variant == "dense+lrn":
            outputs[variant] = back(refine("dense", pipeline.lrn))
    return outputs
