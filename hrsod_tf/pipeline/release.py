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

from hrsod_tf.aps import dense_tiling_boxes_tf, random_boxes_tf
from hrsod_tf.pipeline.graph_ops import fuse, paste_patches, refine_patches, upsample_map
from hrsod_tf.pipeline.protocol import Frame

RELEASE_FRAME = {"high_res": 1024, "low_res": 384}
RELEASE_PATCH_SIZE = 384  # D of test_iccv19_demo.m:42


def round_like_matlab_uint8(x) -> tf.Tensor:
    """The values of MATLAB's uint8(x) (round half away from zero, saturate to 0..255), kept as float32."""
    return tf.clip_by_value(tf.floor(tf.cast(x, tf.float32) + 0.5), 0.0, 255.0)


def release_attention_tf(frame_map, t1: float = 50.0, t2: float = 200.0) -> tf.Tensor:
    """bool [H, W]: t1 < uint8(255 F) < t2, on the integers as the MATLAB code (test_iccv19_demo.m:36-39)."""
    levels = round_like_matlab_uint8(255.0 * tf.cast(frame_map, tf.float32))[..., 0]
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


class ReleaseProtocol:
    """The authors' test protocol (see the module docstring).

    Args:
        config: the run's `Config` (``inference.release_mode`` picks the frame). networks: a
            `hrsod_tf.pipeline.networks.PipelineNetworks`.
    """

    name = "release"

    def __init__(self, config, networks):
        self.config, self.networks = config, networks
        self.frame_side = RELEASE_FRAME[config.inference.release_mode]

    def boxes(self, frame_map, sampler: str) -> tf.Tensor:
        """Boxes in the frame: "aps" the MATLAB APS (high_res) or the whole frame (low_res); "rps" as many
        random boxes of side D; "dense" D x D tiles."""
        aps = self.config.aps
        side = tf.shape(frame_map)[0]
        if self.config.inference.release_mode == "low_res":
            matlab = tf.stack([[0, 0, side, side]])
        else:
            matlab = release_aps_boxes_tf(release_attention_tf(frame_map, aps.t1, aps.t2), aps.patch_size,
                                          aps.extra_columns)
        if sampler == "aps":
            return matlab
        if sampler == "rps":
            return random_boxes_tf(tf.stack([side, side]), tf.shape(matlab)[0], aps.patch_size)
        if sampler == "dense":
            return dense_tiling_boxes_tf(side, side, aps.patch_size)
        raise ValueError(f"unknown sampler {sampler!r}: expected aps, rps or dense")

    # -- what the variant loop calls (`hrsod_tf.pipeline.protocol.InferenceProtocol`) ------------------

    def frame(self, image, gsn_small) -> Frame:
        side = self.frame_side
        frame_image = round_like_matlab_uint8(
            tf.image.resize(tf.cast(image, tf.float32), [side, side], method="bicubic", antialias=True))
        frame_map = tf.image.resize(gsn_small, [side, side], method="bicubic")
        return Frame(image=frame_image, coarse=frame_map, gsn=gsn_small)

    def gsn_output(self, frame: Frame, image) -> tf.Tensor:
        # The GSN map resized once, directly, to the image (as in protocol full_resolution).
        return upsample_map(frame.gsn, tf.shape(image)[:2])

    def refined(self, frame: Frame, sampler: str, lrn) -> tf.Tensor:
        boxes = self.boxes(frame.coarse, sampler)
        refined = refine_patches(lrn, frame.image, frame.coarse, boxes, self.config.model.lrn_input_size,
                                 self.config.inference.lrn_batch_size)
        total, count = paste_patches(refined, boxes, tf.shape(frame.coarse)[:2], method="bicubic")
        return fuse(frame.coarse, total, count)  # every covered pixel is overwritten (:97-113)

    def fused_output(self, frame: Frame, fused) -> tf.Tensor:
        glfn_map = round_like_matlab_uint8(255.0 * fused) / 255.0  # the map goes in as uint8 (:139-142)
        return self.networks.glfn(frame.image[tf.newaxis], glfn_map[tf.newaxis])[0]

    def to_image(self, frame_map, image) -> tf.Tensor:
        return tf.clip_by_value(tf.image.resize(frame_map, tf.shape(image)[:2], method="bicubic"), 0.0, 1.0)
