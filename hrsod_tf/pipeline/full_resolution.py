"""Protocol "full_resolution" (the paper's, Sec. 4): everything after the GSN at the image's own resolution.

    image [H, W, 3] uint8 (any size and aspect ratio)
      GSN on the image warped to S x S; its map upsampled to H x W:            F       (variant "gsn")
      uncertain pixels A = t1 < 255 F < t2; inference APS: D x D boxes covering A (with a patch budget, only
          the boxes holding the most uncertain pixels)
      LRN on every patch (image crop + F crop as guidance), in batches of `lrn_batch_size`
      fusion: inside A, F is replaced by the mean of the refined patches     (variant "gsn+aps+lrn")
      GLFN on concat(image, fused map) at full resolution, in tiles above a pixel budget (variant "full")

Baselines of the ablation: random boxes ("rps": as many and as large as APS's) and dense tiling ("dense").
"""

from __future__ import annotations

import tensorflow as tf

from hrsod_tf.aps import (
    attention_mask_tf,
    dense_tiling_boxes_tf,
    inference_boxes_tf,
    keep_most_uncertain_boxes_tf,
    random_boxes_tf,
)
from hrsod_tf.models.glfn import receptive_field_radius
from hrsod_tf.pipeline.graph_ops import fuse, gsn_map, paste_patches, refine_patches, upsample_map
from hrsod_tf.pipeline.protocol import Frame


def _tile_origins(length, tile):
    """Origins of tile-long tiles from 0 with stride `tile` (the last one may be cut by the border)."""
    return tf.range(0, length, tile)


def glfn_tiled(glfn, image, fused, tile: int, margin: int) -> tf.Tensor:
    """The GLFN in tiles of tile x tile pixels, each run with `margin` pixels of context on every side.

    With margin >= the GLFN's receptive field radius the result equals the untiled one: inside the image
    each tile sees all the pixels its output depends on, and at the image border it gets the same zero
    padding as the whole image.

    Args:
        glfn: the GLFN's probability function. image: [H, W, 3] 0..255. fused: float32 [H, W, 1].
    Returns:
        float32 [H, W, 1].
    """
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    stacked = tf.concat([tf.cast(image, tf.float32), fused], axis=-1)
    rows, cols = _tile_origins(height, tile), _tile_origins(width, tile)
    ny, nx = tf.shape(rows)[0], tf.shape(cols)[0]

    def one_tile(index):
        y0, x0 = rows[index // nx], cols[index % nx]
        y1, x1 = tf.minimum(y0 + tile, height), tf.minimum(x0 + tile, width)
        cy0, cx0 = tf.maximum(y0 - margin, 0), tf.maximum(x0 - margin, 0)
        cy1, cx1 = tf.minimum(y1 + margin, height), tf.minimum(x1 + margin, width)
        context = stacked[cy0:cy1, cx0:cx1][tf.newaxis]
        out = glfn(context[..., :3], context[..., 3:])[0]
        core = out[y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0]
        return tf.pad(core, [[0, tile - (y1 - y0)], [0, tile - (x1 - x0)], [0, 0]])

    tiles = tf.map_fn(one_tile, tf.range(ny * nx), fn_output_signature=tf.TensorSpec([tile, tile, 1], tf.float32))
    grid = tf.transpose(tf.reshape(tiles, tf.stack([ny, nx, tile, tile, 1])), [0, 2, 1, 3, 4])
    return tf.reshape(grid, tf.stack([ny * tile, nx * tile, 1]))[:height, :width]


class FullResolutionProtocol:
    """The paper's protocol. Its stages are usable one by one (the benchmarks time them so).

    Args:
        config: the run's `Config`. networks: a `hrsod_tf.pipeline.networks.PipelineNetworks`.
    """

    name = "full_resolution"

    def __init__(self, config, networks):
        self.config, self.networks = config, networks

    # -- the stages ----------------------------------------------------------------------------------

    def coarse(self, image) -> tf.Tensor:
        """F, float32 [H, W, 1]."""
        return upsample_map(gsn_map(self.networks.gsn, image, self.config.model.gsn_input_size), tf.shape(image)[:2])

    def attention(self, coarse) -> tf.Tensor:
        """A, bool [H, W]."""
        return attention_mask_tf(coarse, self.config.aps)

    def boxes(self, coarse, sampler: str = "aps") -> tf.Tensor:
        """int32 [M, 4] boxes: "aps" (inference APS, at most `InferenceConfig.patch_budget` of them: those with the
        most uncertain pixels), "rps" (random, as many and as large) or "dense" (the whole image, no budget)."""
        aps = inference_boxes_tf(coarse, self.config.aps)
        budget = self.config.inference.patch_budget
        if budget is not None:
            aps = keep_most_uncertain_boxes_tf(aps, self.attention(coarse), budget)
        height_width = tf.shape(coarse)[:2]
        if sampler == "aps":
            return aps
        if sampler == "dense":
            return dense_tiling_boxes_tf(height_width[0], height_width[1], self.config.aps.patch_size)
        if sampler == "rps":
            return random_boxes_tf(height_width, tf.shape(aps)[0], self.config.aps.patch_size)
        raise ValueError(f"unknown sampler {sampler!r}: expected aps, rps or dense")

    def refine(self, image, coarse, boxes, lrn=None) -> tf.Tensor:
        """The LRN on every box, then fusion into F inside A. Returns the fused map, float32 [H, W, 1]."""
        lrn = lrn or self.networks.lrn
        refined = refine_patches(lrn, image, coarse, boxes, self.config.model.lrn_input_size,
                                 self.config.inference.lrn_batch_size)
        total, count = paste_patches(refined, boxes, tf.shape(image)[:2])
        return fuse(coarse, total, count, region=self.attention(coarse))

    def fusion_network(self, image, fused) -> tf.Tensor:
        """The GLFN at full resolution, tiled when the image has more than `glfn_max_pixels` pixels."""
        settings = self.config.inference
        glfn = self.networks.glfn
        pixels = tf.shape(image)[0] * tf.shape(image)[1]
        return tf.cond(
            pixels > settings.glfn_max_pixels,
            lambda: glfn_tiled(glfn, image, fused, settings.glfn_tile_size, receptive_field_radius(self.config.model)),
            lambda: glfn(tf.cast(image, tf.float32)[tf.newaxis], fused[tf.newaxis])[0],
        )

    # -- what the variant loop calls (`hrsod_tf.pipeline.protocol.InferenceProtocol`) --------------------------

    def frame(self, image) -> Frame:
        gsn_small = gsn_map(self.networks.gsn, image, self.config.model.gsn_input_size)
        return Frame(image=image, coarse=upsample_map(gsn_small, tf.shape(image)[:2]), gsn=gsn_small)

    def gsn_output(self, frame: Frame, image) -> tf.Tensor:
        return frame.coarse

    def refined(self, frame: Frame, sampler: str, lrn) -> tf.Tensor:
        return self.refine(frame.image, frame.coarse, self.boxes(frame.coarse, sampler), lrn)

    def fused_output(self, frame: Frame, fused) -> tf.Tensor:
        return self.fusion_network(frame.image, fused)

    def to_image(self, frame_map, image) -> tf.Tensor:
        return frame_map
