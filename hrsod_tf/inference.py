"""The any-resolution pipeline GSN -> APS -> LRN -> fuse -> GLFN, as TF graph code.

    image [H, W, 3] uint8 (any size and aspect ratio)
      GSN on the image warped to S x S; its map upsampled to H x W:            F       (variant "gsn")
      uncertain pixels A = t1 < 255 F < t2; inference APS: D x D boxes covering A
      LRN on every patch (image crop + F crop as guidance), in batches of `lrn_batch_size`
      fusion: inside A, F is replaced by the mean of the refined patches     (variant "gsn+aps+lrn")
      GLFN on concat(image, fused map) at full resolution, in tiles above a pixel budget (variant "full")

That is protocol "full_resolution"; protocol "release" (the default of the `official` preset) runs the authors'
test script instead, in a 1024x1024 (or 384x384) warp of the image: `hrsod_tf.release_protocol`.

Everything is TensorFlow ops (no Python per patch, no numpy, no py_function), so `export.py` wraps this same
code in a SavedModel. Baselines of the paper's ablation (Table 4) come from the same code:
"gsn+rps+lrn" (random boxes, as many and as large as APS's; the LRN used is the RPS-trained one when the
pipeline has it, else the APS-trained one: `rps_is_trained` says which) and "dense+lrn" (dense tiling).
"""

from __future__ import annotations

import tensorflow as tf

from hrsod_tf.aps import attention_mask_tf, dense_tiling_boxes_tf, inference_boxes_tf
from hrsod_tf.data.transforms import crop_boxes_for, warp_to_square
from hrsod_tf.fast_glfn import FoldedGLFN
from hrsod_tf.models.glfn import receptive_field_radius
from hrsod_tf.networks import VARIANT_STAGES

VARIANTS = tuple(VARIANT_STAGES)
_RPS_SEED = (20191027, 0)  # fixed: the random baseline is reproducible


def gsn_map(gsn, image, size: int) -> tf.Tensor:
    """The GSN's salient probability at its own resolution: float32 [S, S, 1] in [0, 1].

    Args:
        gsn: the GSN model. image: [H, W, 3] RGB, 0..255 (any dtype). size: the GSN input side S.
    """
    return gsn(warp_to_square(image, size)[tf.newaxis], training=False)[0, :, :, 1:]


def coarse_map(gsn, image, size: int) -> tf.Tensor:
    """F: `gsn_map` upsampled to the image's own resolution, float32 [H, W, 1] in [0, 1]."""
    return tf.image.resize(gsn_map(gsn, image, size), tf.shape(image)[:2], method="bilinear")


def crop_patches(image, coarse, boxes, size: int):
    """Crops each box from the image and from F, resized to size x size.

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


def paste_patches(patches, boxes, height_width):
    """Sums patches [M, s, s, 1] back into their boxes (all boxes one size) and counts the overlaps.

    Returns:
        (sum float32 [H, W, 1], count float32 [H, W, 1]).
    """
    count_boxes = tf.shape(boxes)[0]
    # With no box the [1, 1] size is never used (the scatter has no rows); it only keeps resize valid.
    first = tf.concat([boxes, [[0, 0, 1, 1]]], axis=0)[0]
    box_h, box_w = first[2] - first[0], first[3] - first[1]
    resized = tf.image.resize(patches, tf.stack([box_h, box_w]), method="bilinear")
    rows = boxes[:, 0:1] + tf.range(box_h)[tf.newaxis]  # [M, h]
    cols = boxes[:, 1:2] + tf.range(box_w)[tf.newaxis]  # [M, w]
    grid = tf.stack(
        [
            tf.broadcast_to(rows[:, :, tf.newaxis], tf.stack([count_boxes, box_h, box_w])),
            tf.broadcast_to(cols[:, tf.newaxis, :], tf.stack([count_boxes, box_h, box_w])),
        ],
        axis=-1,
    )
    zeros = tf.zeros(tf.concat([height_width, [1]], axis=0), tf.float32)
    total = tf.tensor_scatter_nd_add(zeros, grid, resized)
    count = tf.tensor_scatter_nd_add(zeros, grid, tf.ones_like(resized))
    return total, count


def fuse(coarse, attention, total, count) -> tf.Tensor:
    """Refined patches replace F inside the uncertain region A; overlaps are averaged (paper, Sec. 4.4)."""
    refined = total / tf.maximum(count, 1.0)
    replace = tf.logical_and(attention[..., tf.newaxis], count > 0)
    return tf.where(replace, refined, coarse)


def _tile_starts(length, tile):
    return tf.range(0, length, tile)


def salient_probability(glfn, image, saliency) -> tf.Tensor:
    """The GLFN's salient-class probability [B, H, W, 1] for a Keras GLFN or a `FoldedGLFN`."""
    if isinstance(glfn, FoldedGLFN):
        return glfn(image, saliency)
    return glfn([image, saliency], training=False)[..., 1:]


def glfn_tiled(glfn, image, fused, tile: int, margin: int) -> tf.Tensor:
    """The GLFN in tiles of tile x tile pixels, each run with `margin` pixels of context on every side.

    `glfn` is a Keras GLFN or a `FoldedGLFN` (the same function, faster).

    With margin >= the GLFN's receptive field radius the result equals the untiled one: inside the image
    each tile sees all the pixels its output depends on, and at the image border it gets the same zero
    padding as the whole image. Returns float32 [H, W, 1].
    """
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    stacked = tf.concat([tf.cast(image, tf.float32), fused], axis=-1)
    rows, cols = _tile_starts(height, tile), _tile_starts(width, tile)
    ny, nx = tf.shape(rows)[0], tf.shape(cols)[0]

    def one_tile(index):
        y0, x0 = rows[index // nx], cols[index % nx]
        y1, x1 = tf.minimum(y0 + tile, height), tf.minimum(x0 + tile, width)
        cy0, cx0 = tf.maximum(y0 - margin, 0), tf.maximum(x0 - margin, 0)
        cy1, cx1 = tf.minimum(y1 + margin, height), tf.minimum(x1 + margin, width)
        context = stacked[cy0:cy1, cx0:cx1][tf.newaxis]
        out = salient_probability(glfn, context[..., :3], context[..., 3:])[0]
        core = out[y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0]
        return tf.pad(core, [[0, tile - (y1 - y0)], [0, tile - (x1 - x0)], [0, 0]])

    tiles = tf.map_fn(one_tile, tf.range(ny * nx), fn_output_signature=tf.TensorSpec([tile, tile, 1], tf.float32))
    grid = tf.transpose(tf.reshape(tiles, tf.stack([ny, nx, tile, tile, 1])), [0, 2, 1, 3, 4])
    return tf.reshape(grid, tf.stack([ny * tile, nx * tile, 1]))[:height, :width]


class SaliencyPipeline(tf.Module):
    """GSN -> APS -> LRN -> fuse -> GLFN at any resolution.

    Args:
        config: the run's `Config`.
        gsn, lrn, glfn: the trained networks (`lrn` and `glfn` may be None for the variants before them).
        rps_lrn: optionally, an LRN trained on random patches (the paper's "GSN+RPS+LRN" ablation).

    `predict(image, variant)` returns float32 [H, W, 1] in [0, 1]; `predict_variants(image, variants)`
    computes several variants sharing the work they have in common.
    """

    def __init__(self, config, gsn, lrn=None, glfn=None, rps_lrn=None, name="saliency_pipeline"):
        super().__init__(name=name)
        self.config = config
        self.gsn, self.lrn, self.glfn, self.rps_lrn = gsn, lrn, glfn, rps_lrn
        # The GLFN's inference forward with folded BatchNorms: the same outputs, faster (hrsod_tf/fast_glfn.py).
        self.folded_glfn = None if glfn is None else FoldedGLFN(glfn, config.model)
        self._functions = {}

    @classmethod
    def from_workdir(cls, workdir, require=("gsn",)):
        """The pipeline of a trained run: its config.json and the networks of the stages it finished.

        Args:
            workdir: the run's work directory (`hrsod_tf.workdir.WorkDir` layout).
            require: stages that must be trained (a missing one raises with the command to train it).
        """
        from hrsod_tf.workdir import WorkDir

        run = WorkDir(workdir)
        config = run.load_config()
        for stage in require:
            run.require_stage(stage)
        models = run.load_models(config, strict=False)
        return cls(config, models.gsn, models.lrn, models.glfn)

    @property
    def rps_is_trained(self) -> bool:
        """True when "gsn+rps+lrn" uses an RPS-trained LRN (the paper's ablation), False when it runs the
        APS-trained LRN on random patches (a cheaper, different comparison)."""
        return self.rps_lrn is not None

    # -- the stages, each usable on its own (the benchmarks time them one by one) --------------------

    def coarse(self, image) -> tf.Tensor:
        """F, float32 [H, W, 1]."""
        return coarse_map(self.gsn, image, self.config.model.gsn_input_size)

    def attention(self, coarse) -> tf.Tensor:
        """A, bool [H, W]."""
        return attention_mask_tf(coarse, self.config.aps)

    def boxes(self, coarse, sampler: str = "aps") -> tf.Tensor:
        """int32 [M, 4] boxes: "aps" (inference APS), "rps" (random, as many and as large) or "dense"."""
        aps = inference_boxes_tf(coarse, self.config.aps)
        if sampler == "aps":
            return aps
        height_width = tf.shape(coarse)[:2]
        if sampler == "dense":
            return dense_tiling_boxes_tf(height_width[0], height_width[1], self.config.aps.patch_size)
        if sampler == "rps":
            side = tf.minimum(height_width, self.config.aps.patch_size)
            count = tf.shape(aps)[0]
            y0 = tf.random.stateless_uniform([count], _RPS_SEED, 0, height_width[0] - side[0] + 1, tf.int32)
            x0 = tf.random.stateless_uniform([count], _RPS_SEED[::-1], 0, height_width[1] - side[1] + 1, tf.int32)
            return tf.stack([y0, x0, y0 + side[0], x0 + side[1]], axis=1)
        raise ValueError(f"unknown sampler {sampler!r}: expected aps, rps or dense")

    def refine(self, image, coarse, boxes, lrn=None) -> tf.Tensor:
        """The LRN on every box, then fusion into F. Returns the fused map, float32 [H, W, 1]."""
        lrn = lrn or self.lrn
        if lrn is None:
            raise ValueError("this pipeline has no LRN: train one with `python train.py --stage lrn`")
        size = self.config.model.lrn_input_size
        patches, guidance = crop_patches(image, coarse, boxes, size)
        refined = run_in_batches(
            lambda p, g: lrn([p, g], training=False)[..., 1:],
            (patches, guidance),
            self.config.inference.lrn_batch_size,
            [size, size, 1],
        )
        total, count = paste_patches(refined, boxes, tf.shape(image)[:2])
        return fuse(coarse, self.attention(coarse), total, count)

    def fusion_network(self, image, fused) -> tf.Tensor:
        """The GLFN at full resolution, tiled when the image has more than `glfn_max_pixels` pixels."""
        if self.glfn is None:
            raise ValueError("this pipeline has no GLFN: train one with `python train.py --stage glfn`")
        settings = self.config.inference
        margin = receptive_field_radius(self.config.model)
        pixels = tf.shape(image)[0] * tf.shape(image)[1]

        def whole():
            return self.folded_glfn(tf.cast(image, tf.float32)[tf.newaxis], fused[tf.newaxis])[0]

        return tf.cond(
            pixels > settings.glfn_max_pixels,
            lambda: glfn_tiled(self.folded_glfn, image, fused, settings.glfn_tile_size, margin),
            whole,
        )

    # -- whole variants ----------------------------------------------------------------------------

    def variants_graph(self, image, variants):
        """Graph code of `predict_variants` (no tf.function of its own): for callers that trace it, as
        the export does. Returns {variant: float32 [H, W, 1]}. Under ``inference.protocol = "release"`` the
        authors' test protocol runs instead (`hrsod_tf.release_protocol`); the "gsn" variant is the GSN map
        resized once, directly, to the image in both."""
        if self.config.inference.protocol == "release":
            from hrsod_tf.release_protocol import release_variants_graph

            return release_variants_graph(self, image, variants)
        coarse = self.coarse(image)
        outputs = {}
        fused = None
        for variant in variants:
            if variant == "gsn":
                outputs[variant] = coarse
            elif variant in ("gsn+aps+lrn", "full"):
                if fused is None:
                    fused = self.refine(image, coarse, self.boxes(coarse, "aps"))
                outputs[variant] = fused if variant == "gsn+aps+lrn" else self.fusion_network(image, fused)
            elif variant == "gsn+rps+lrn":
                outputs[variant] = self.refine(image, coarse, self.boxes(coarse, "rps"), self.rps_lrn)
            elif variant == "dense+lrn":
                outputs[variant] = self.refine(image, coarse, self.boxes(coarse, "dense"))
        return outputs

    def check_variants(self, variants):
        """Raises ValueError for an unknown variant or one whose networks this pipeline lacks."""
        for variant in variants:
            if variant not in VARIANTS:
                raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
            for stage in VARIANT_STAGES[variant]:
                if getattr(self, stage) is None:
                    raise ValueError(
                        f"variant {variant!r} needs a {stage.upper()}: train one with `python train.py --stage {stage}`"
                    )

    def predict_variants(self, image, variants=("full",)) -> dict:
        """Maps for several variants of one image, sharing GSN and APS work.

        Args:
            image: [H, W, 3] RGB uint8 (any H, W >= 1).
            variants: names from `VARIANTS`.
        Returns:
            {variant: float32 [H, W, 1] in [0, 1]} as tensors.
        """
        variants = tuple(variants)
        self.check_variants(variants)
        if variants not in self._functions:
            self._functions[variants] = tf.function(
                lambda x: self.variants_graph(x, variants),
                input_signature=[tf.TensorSpec([None, None, 3], tf.uint8)],
            )
        return self._functions[variants](tf.convert_to_tensor(image, tf.uint8))

    def predict(self, image, variant: str = "full") -> tf.Tensor:
        """The saliency map of one variant: float32 [H, W, 1] in [0, 1], at the image's size."""
        return self.predict_variants(image, (variant,))[variant]
