"""The authors' test protocol (test_iccv19_demo.m of yi94code/HRSOD), as TF graph code, for its `opt` and `mode`.

    image [H, W, 3] uint8
      GSN on the image resized (MATLAB bilinear) to S x S (S = 224 in the release)   (:15-18, prepare_img.m)
      frame (`InferenceConfig.release_opt`, the script's `opt`, init_iccv19_demo.m:11):
          opt 0: the image itself; the GSN map resized (bicubic) to H x W                (:20-22)
          opt 1: the image (uint8) and the GSN map resized to 1024 x 1024                 (:23-29)
      the map rounded to {0, 1}: the LRN's guidance, rounded *before* it is cropped and resized (:35, :123)
      mode 1 ("high_res", `release_mode`): APS in the frame, as the MATLAB code does it   (:34-120)
          uncertain where 50 < uint8(255 F) < 200 (strict, integers); W = width of the uncertain columns,
          N = ceil(W / D) + n columns (D = 384, n = 3) d = round(W / N) apart, N + 1 of them; in each column
          with uncertain pixels (vertical extent h, crop side c): h < c/2: one centre; c/2 <= h < c: its top
          and bottom uncertain rows; h >= c: ceil(h / c) + 1 centres from the top to the bottom uncertain
          row *of the whole map* (as the MATLAB code does); each box starts round(c/2) before its centre,
          is c + 1 pixels wide (imcrop's rectangle includes both ends) and is cut at the frame's border;
          each patch resized (bilinear) to s x s (s = 384), its guidance crop (bicubic) likewise, the LRN's
          output resized (bicubic) back to its box; every covered pixel overwritten, overlaps averaged (:97-113)
      mode 0 ("low_res"): the whole frame is one patch: image (bilinear) and guidance (bicubic) to s x s,
          the LRN's output resized to the frame                                           (:122-134)
      GLFN on G x G (G = 1024 in mode 1, 384 in mode 0): the frame's image resized bilinearly, the fused map
          as uint8 resized bicubically                                                    (:136-146, :157-167)
      its output resized (bicubic) to H x W                                               (:147-153, :169)

Every resize is MATLAB's `imresize` (`hrsod_tf.pipeline.imresize`: antialiased when shrinking, mirrored borders,
uint8 rounding after each pass for the uint8 image): on a photo the result is within 0.07 grey levels on
average of a line-by-line NumPy port of the script (tests/release_script.py) run with the same networks, for
every opt and mode (random narrow networks; under 1% of the pixels differ by more than one level).

Differences from the MATLAB code, all deliberate: the crop side is D exactly (the MATLAB draws D + U{-69..70}
with `unidrnd` after rng(0), :4, :48) and the single centre of a short column is its middle uncertain pixel
(the MATLAB picks one at random, :57-58), so a prediction does not depend on the images processed before it;
a column whose extent is exactly c/2 or c takes the next case (the MATLAB falls through and reuses the
previous column's centres); the LRN's guidance enters as the rounded crop resized to s x s, which the LRN
rounds and resizes to s/8 and s/4 (`GuidanceResizing`), where the script resizes the crop to 48 and 96
directly (:89-90): most of the difference above, where a guidance pixel near an edge rounds the other way
(locally up to 90 levels, on under 1% of the pixels); with opt 1 and mode 0 the map goes back to the image's
size, as :152 does for mode 1 (:169 writes the 1024 x 1024 map, `height` and `width` being reset at :28).
"""

from __future__ import annotations

import tensorflow as tf

from hrsod_tf.aps import dense_tiling_boxes_tf, keep_most_uncertain_boxes_tf, random_boxes_tf
from hrsod_tf.pipeline.graph_ops import paste_patches, run_in_batches
from hrsod_tf.pipeline.imresize import imresize, round_like_uint8
from hrsod_tf.pipeline.protocol import Frame

RELEASE_OPTS = (0, 1)  # the script's `opt`: 0 refines at the image's resolution, 1 in a 1024 x 1024 warp
RELEASE_FRAME = 1024  # the warp of opt 1 (test_iccv19_demo.m:24-25)
RELEASE_GLFN_SIDE = {"high_res": 1024, "low_res": 384}  # size_sal of mode 1 and mode 0 (:138, :159)
RELEASE_PATCH_SIZE = 384  # D of test_iccv19_demo.m:42


def release_attention_tf(frame_map, t1: float = 50.0, t2: float = 200.0) -> tf.Tensor:
    """bool [H, W]: t1 < uint8(255 F) < t2, on the integers as the MATLAB code (test_iccv19_demo.m:36-39)."""
    levels = round_like_uint8(255.0 * tf.cast(frame_map, tf.float32))[..., 0]
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


def crop_and_resize_each(x, boxes, size: int, method: str) -> tf.Tensor:
    """Each box of `x` [H, W, C] (uint8 or float) cropped and resized (MATLAB `imresize`) to size x size.

    Returns:
        float32 [M, size, size, C].
    """
    channels = x.shape[-1]

    def one(box):
        crop = x[box[0]:box[2], box[1]:box[3]]
        return tf.ensure_shape(imresize(tf.cast(crop, tf.float32), [size, size], method), [size, size, channels])

    return tf.map_fn(one, boxes, fn_output_signature=tf.TensorSpec([size, size, channels], tf.float32))


class ReleaseProtocol:
    """The authors' test protocol (see the module docstring).

    Args:
        config: the run's `Config` (``inference.release_opt`` and ``inference.release_mode`` are the script's
            `opt` and `mode`). networks: a `hrsod_tf.pipeline.networks.PipelineNetworks`.
    """

    name = "release"

    def __init__(self, config, networks):
        self.config, self.networks = config, networks
        self.opt = config.inference.release_opt
        self.mode = config.inference.release_mode
        self.glfn_side = RELEASE_GLFN_SIDE[self.mode]

    def boxes(self, frame_map, sampler: str) -> tf.Tensor:
        """Boxes in the frame (mode 1): "aps" the MATLAB APS (at most `InferenceConfig.patch_budget` of them, those
        with the most uncertain pixels); "rps" as many random boxes of side D; "dense"
        D x D tiles."""
        aps = self.config.aps
        uncertain = release_attention_tf(frame_map, aps.t1, aps.t2)
        matlab = release_aps_boxes_tf(uncertain, aps.patch_size, aps.extra_columns)
        budget = self.config.inference.patch_budget
        if budget is not None:  # a patch budget (not in the MATLAB code): the boxes with most uncertain pixels
            matlab = keep_most_uncertain_boxes_tf(matlab, uncertain, budget)
        if sampler == "aps":
            return matlab
        height_width = tf.shape(frame_map)[:2]
        if sampler == "rps":
            return random_boxes_tf(height_width, tf.shape(matlab)[0], aps.patch_size)
        if sampler == "dense":
            return dense_tiling_boxes_tf(height_width[0], height_width[1], aps.patch_size)
        raise ValueError(f"unknown sampler {sampler!r}: expected aps, rps or dense")

    def _lrn_on_boxes(self, lrn, image, guidance, boxes) -> tf.Tensor:
        """The LRN on every box: patches (bilinear, prepare_img384.m) and guidance crops (bicubic,
        prepare_image.m) resized to s x s, in batches. Returns float32 [M, s, s, 1]."""
        size = self.config.model.lrn_input_size
        patches = crop_and_resize_each(image, boxes, size, "bilinear")
        guides = crop_and_resize_each(guidance, boxes, size, "bicubic")
        return run_in_batches(lrn, (patches, guides), self.config.inference.lrn_batch_size, [size, size, 1])

    # -- what the variant loop calls (`hrsod_tf.pipeline.protocol.InferenceProtocol`) ------------------

    def frame(self, image) -> Frame:
        size = self.config.model.gsn_input_size
        gsn_input = imresize(tf.cast(image, tf.float32), [size, size], "bilinear")  # prepare_img.m
        gsn_small = self.networks.gsn(gsn_input[tf.newaxis])[0]
        if self.opt == 0:
            height_width = tf.shape(image)[:2]
            return Frame(image=image, coarse=imresize(gsn_small, [height_width[0], height_width[1]]), gsn=gsn_small)
        frame_image = imresize(image, [RELEASE_FRAME, RELEASE_FRAME])  # uint8 in: rounded after each pass
        return Frame(image=frame_image, coarse=imresize(gsn_small, [RELEASE_FRAME, RELEASE_FRAME]), gsn=gsn_small)

    def gsn_output(self, frame: Frame, image) -> tf.Tensor:
        # The GSN map resized once, directly, to the image, as opt 0 does (:21).
        return self.to_image(frame.gsn, image)

    def refined(self, frame: Frame, sampler: str, lrn) -> tf.Tensor:
        guidance = round_like_uint8(frame.coarse)  # uint8(im2double(map)): {0, 1}, before any crop (:35, :123)
        height_width = tf.shape(frame.coarse)[:2]
        if self.mode == "low_res" and sampler == "aps":  # the whole frame is one patch (:122-134)
            whole = tf.stack([[0, 0, height_width[0], height_width[1]]])
            out = self._lrn_on_boxes(lrn, frame.image, guidance, whole)[0]
            return imresize(out, [height_width[0], height_width[1]])
        boxes = self.boxes(frame.coarse, sampler)
        refined = self._lrn_on_boxes(lrn, frame.image, guidance, boxes)
        total, count = paste_patches(refined, boxes, height_width, method=imresize)
        return tf.where(count > 0, total / tf.maximum(count, 1.0), frame.coarse)  # covered pixels overwritten

    def fused_output(self, frame: Frame, fused) -> tf.Tensor:
        side = self.glfn_side
        glfn_map = imresize(round_like_uint8(255.0 * fused), [side, side]) / 255.0  # the map as uint8 (:139-142)
        glfn_image = imresize(tf.cast(frame.image, tf.float32), [side, side], "bilinear")  # prepare_img1024/384.m
        return self.networks.glfn(glfn_image[tf.newaxis], glfn_map[tf.newaxis])[0]

    def to_image(self, frame_map, image) -> tf.Tensor:
        height_width = tf.shape(image)[:2]
        return tf.clip_by_value(imresize(frame_map, [height_width[0], height_width[1]]), 0.0, 1.0)
