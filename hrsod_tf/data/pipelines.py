"""One `tf.data` pipeline per training stage: GSN, LRN (on APS patches) and GLFN.

Each pipeline is a function of (examples, config): `examples` is a `tf.data.Dataset` of example dicts as the
data sources give them (`hrsod_tf.data.sources.EXAMPLE_SIGNATURE`: ``image`` uint8 [H, W, 3], ``mask`` uint8
[H, W, 1] in {0, 255}, ``image/filename`` string, at the original size). Everything is TF ops except the
APS box choice of the LRN pipeline, a small numpy function run in `tf.py_function`.

Conventions shared with `hrsod_tf.pipeline.saliency_pipeline` (so that training sees what inference feeds the networks):
  * warps to a square network input: bilinear with antialiasing (area-like when shrinking);
  * masks: warped like images, then thresholded at 0.5 (a pixel is salient when most of its area is);
  * patches: `tf.image.crop_and_resize` with a half-open pixel box [y0, x0, y1, x1] mapped to
    ``[y0 / (H-1), x0 / (W-1), (y1-1) / (H-1), (x1-1) / (W-1)]`` (the crop samples exactly those pixels);
  * F, the GSN map at full resolution, is the cached S x S map upsampled bilinearly (half-pixel centres,
    no antialiasing), as `inference.coarse_map` makes it. The LRN pipeline never builds F at full size: it
    samples the cached map at the positions F would be sampled at (`_coarse_boxes`), which is the same.

Randomness: every random choice of element i (flips, APS boxes) is seeded by (seed, i), with i counted by
`Dataset.enumerate` after `repeat` (so each pass draws new ones). With ``deterministic=True`` and a seed
(default `config.train.seed`), a pipeline gives the same batches every time it is built.

Memory: shuffle buffers hold elements as uint8 (images 0..255, maps round(255 p), labels {0, 1}); they are
cast to float32 after batching. An LRN patch at D = 384 then takes 0.7 MB instead of 2.9 MB.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from hrsod_tf import aps
from hrsod_tf.config import APSConfig, Config
from hrsod_tf.data.map_cache import MapCache
from hrsod_tf.geometry import crop_boxes_for, warp_to_square

__all__ = [
    "SAMPLERS",
    "attention_grid_side",
    "choose_patch_boxes",
    "crop_training_patches",
    "glfn_dataset",
    "gsn_dataset",
    "lrn_dataset",
]

SAMPLERS = ("aps", "random")
_DEFAULT_SHUFFLE = {"gsn": 256, "lrn": 512, "glfn": 16}  # elements; LRN: many patches share an image
_MAP_KEYS = ("guidance", "saliency")  # features stored as round(255 p) in uint8
_AUTOTUNE = tf.data.AUTOTUNE


# ----------------------------------------------------------------------------------------------------
# Shared steps
# ----------------------------------------------------------------------------------------------------


def _resolve_seed(seed: int | None, config: Config, deterministic: bool) -> int:
    """The pipeline's base seed: `seed`, else `config.train.seed` if deterministic, else a fresh one."""
    if seed is not None:
        return int(seed)
    if deterministic:
        return int(config.train.seed)
    return int(np.random.SeedSequence().entropy % (2**31 - 1))


def _local_batch_size(batch_size: int, input_context: tf.distribute.InputContext | None) -> int:
    """Config batch sizes are global; each input pipeline batches for its own replicas."""
    if input_context is None:
        return int(batch_size)
    return int(input_context.get_per_replica_batch_size(batch_size))


def _sharded(examples: tf.data.Dataset, input_context) -> tf.data.Dataset:
    """This input pipeline's share of the examples (shard before any expensive map)."""
    if input_context is not None and input_context.num_input_pipelines > 1:
        examples = examples.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    return examples


def _indexed(examples: tf.data.Dataset, input_context, repeat: bool) -> tf.data.Dataset:
    """Shards (before any expensive map), repeats, then numbers the elements: (index int64, example)."""
    examples = _sharded(examples, input_context)
    if repeat:
        examples = examples.repeat()
    return examples.enumerate()


def _element_seed(seed: int, index: tf.Tensor, stream: int) -> tf.Tensor:
    """Seed of the stateless random ops of element `index`: int64 [2]; `stream` separates uses."""
    return tf.stack([tf.constant(seed * 16 + stream, tf.int64), tf.cast(index, tf.int64)])


def _binarise(mask_0_255: tf.Tensor) -> tf.Tensor:
    """Resampled mask on the 0..255 scale -> uint8 {0, 1} (threshold 0.5)."""
    return tf.cast(mask_0_255 > 127.5, tf.uint8)


def _flip_left_right(tensors: dict, flip: tf.Tensor) -> dict:
    """Mirrors [..., h, w, c] tensors where `flip` (bool [] or [M] for [M, h, w, c] tensors) is True."""
    where = flip[..., tf.newaxis, tf.newaxis, tf.newaxis]
    return {k: tf.where(where, tf.reverse(v, axis=[-2]), v) for k, v in tensors.items()}


def _random_flips(features: dict, label: tf.Tensor, seed: tf.Tensor, count=()) -> tuple[dict, tf.Tensor]:
    """Mirrors each element (count=() for one, [M] for a stack) with probability 1/2, stateless;
    features and label together."""
    flipped = _flip_left_right({**features, "label": label}, tf.random.stateless_uniform(count, seed) < 0.5)
    label = flipped.pop("label")
    return flipped, label


def _pack(features: dict, label: tf.Tensor) -> tuple[dict, tf.Tensor]:
    """float32 features (images 0..255, maps in [0, 1]) and uint8 label -> all uint8, for the buffers."""
    packed = {k: tf.saturate_cast(tf.round(v * 255.0 if k in _MAP_KEYS else v), tf.uint8)
              for k, v in features.items()}
    return packed, label


def _unpack(features: dict, label: tf.Tensor) -> tuple[dict, tf.Tensor]:
    """Inverse of `_pack` (after batching): float32 images 0..255, maps in [0, 1], labels {0, 1}."""
    unpacked = {k: tf.cast(v, tf.float32) / 255.0 if k in _MAP_KEYS else tf.cast(v, tf.float32)
                for k, v in features.items()}
    return unpacked, tf.cast(label, tf.float32)


def _finish(ds: tf.data.Dataset, *, batch_size: int, training: bool, seed: int, shuffle_buffer: int,
            deterministic: bool, image_only: bool = False) -> tf.data.Dataset:
    """Shuffle (training), batch, cast to float32, prefetch, and fix the determinism option."""
    if training and shuffle_buffer > 1:
        ds = ds.shuffle(shuffle_buffer, seed=seed)
    ds = ds.batch(batch_size, drop_remainder=training)  # static batch shape for training steps
    ds = ds.map(_unpack, num_parallel_calls=_AUTOTUNE)
    if image_only:
        ds = ds.map(lambda features, label: (features["image"], label))
    options = tf.data.Options()
    options.deterministic = bool(deterministic or not training)
    return ds.prefetch(_AUTOTUNE).with_options(options)


def _map(ds: tf.data.Dataset, fn, deterministic: bool) -> tf.data.Dataset:
    return ds.map(fn, num_parallel_calls=_AUTOTUNE, deterministic=deterministic)


def _warped_example(example: dict, size: int, extra: dict | None = None) -> tuple[dict, tf.Tensor]:
    """Image (and `extra` maps in [0, 1]) warped to size x size as float32; mask warped and binarised."""
    features = {"image": warp_to_square(example["image"], size)}
    for key, value in (extra or {}).items():
        features[key] = warp_to_square(value, size)
    return features, _binarise(warp_to_square(example["mask"], size))


def _cropped_example(example: dict, size: int, extra: dict, seed: tf.Tensor | None) -> tuple[dict, tf.Tensor]:
    """A size x size crop at full resolution of the image, the `extra` maps and the binarised mask: random
    (stateless, from `seed`) when training, central otherwise; images smaller than that are zero-padded."""
    channels = [tf.cast(example["image"], tf.float32), *(tf.cast(v, tf.float32) for v in extra.values()),
                tf.cast(example["mask"], tf.float32)]
    stacked = tf.concat(channels, axis=-1)
    height, width = tf.shape(stacked)[0], tf.shape(stacked)[1]
    stacked = tf.image.pad_to_bounding_box(stacked, 0, 0, tf.maximum(height, size), tf.maximum(width, size))
    if seed is None:
        crop = tf.image.resize_with_crop_or_pad(stacked, size, size)
    else:
        crop = tf.image.stateless_random_crop(stacked, [size, size, len(extra) + 4], seed)
    features = {"image": crop[..., :3]}
    for i, key in enumerate(extra):
        features[key] = crop[..., 3 + i:4 + i]
    return features, _binarise(crop[..., -1:])


def _whole_image_pipeline(examples, config: Config, stage: str, *, extra_maps, training: bool, batch_size,
                          seed, deterministic: bool, input_context, shuffle_buffer, image_only=False,
                          cache: bool = False):
    """GSN and GLFN: warp every example (plus `extra_maps(example)`) to the stage's square input.

    The warp does not depend on the pass, so with `cache` the warped uint8 examples are kept in memory after
    the first pass: later passes skip decoding and resizing full-resolution images, which otherwise competes
    with the training step for the CPU. Flips come after the cache, so every pass draws new ones.
    """
    size = config.model.gsn_input_size if stage == "gsn" else config.train.glfn.input_size
    seed = _resolve_seed(seed, config, deterministic)
    batch = _local_batch_size(batch_size or config.train.stage(stage).batch_size, input_context)
    map_deterministic = bool(deterministic or not training)
    if stage == "glfn" and config.train.glfn.input_mode == "crop":
        def crop(index, example):
            crop_seed = _element_seed(seed, index, 1) if training else None
            features, label = _cropped_example(example, size, extra_maps(example), crop_seed)
            if training:
                features, label = _random_flips(features, label, _element_seed(seed, index, 0))
            return _pack(features, label)

        ds = _map(_indexed(examples, input_context, repeat=training), crop, map_deterministic)
        buffer = _DEFAULT_SHUFFLE[stage] if shuffle_buffer is None else shuffle_buffer
        return _finish(ds, batch_size=batch, training=training, seed=seed, shuffle_buffer=buffer,
                       deterministic=map_deterministic, image_only=image_only)

    def warp(example):
        return _pack(*_warped_example(example, size, extra_maps(example)))

    warped = _map(_sharded(examples, input_context), warp, deterministic=map_deterministic or cache)
    if cache:
        warped = warped.cache()
    ds = _indexed(warped, None, repeat=training)
    if training:
        ds = _map(ds, lambda index, pair: _random_flips(*pair, _element_seed(seed, index, 0)), map_deterministic)
    else:
        ds = ds.map(lambda index, pair: pair)
    buffer = _DEFAULT_SHUFFLE[stage] if shuffle_buffer is None else shuffle_buffer
    return _finish(ds, batch_size=batch, training=training, seed=seed, shuffle_buffer=buffer,
                   deterministic=map_deterministic, image_only=image_only)


# ----------------------------------------------------------------------------------------------------
# GSN
# ----------------------------------------------------------------------------------------------------


def gsn_dataset(examples: tf.data.Dataset, config: Config, *, training: bool, batch_size: int | None = None,
                seed: int | None = None, deterministic: bool = False,
                input_context: tf.distribute.InputContext | None = None,
                shuffle_buffer: int | None = None, cache: bool = False) -> tf.data.Dataset:
    """Whole images warped to the GSN input S = `config.model.gsn_input_size`.

    Training: random horizontal flips, shuffling (after the warp, so the buffer holds S x S images) and
    endless repetition; otherwise one pass in order.

    Args:
        examples: example dicts (see the module docstring).
        config: the run's config (sizes, `train.gsn.batch_size`, `train.seed`).
        training: flip, shuffle, repeat and drop the last partial batch.
        batch_size: global batch size (default `config.train.gsn.batch_size`); divided between replicas
            when `input_context` is given.
        seed: base seed of flips and shuffling (see `_resolve_seed`).
        deterministic: same batches every time (and order kept in parallel maps).
        input_context: from `tf.distribute.Strategy.distribute_datasets_from_function`: this pipeline
            reads only its shard of the examples.
        shuffle_buffer: elements in the shuffle buffer (default 256).
        cache: keep the warped examples in memory after the first pass (S x S x 4 bytes each).
    Yields:
        (image float32 [B, S, S, 3] RGB 0..255, label float32 [B, S, S, 1] in {0, 1}).
    """
    return _whole_image_pipeline(examples, config, "gsn", extra_maps=lambda example: {}, training=training,
                                 batch_size=batch_size, seed=seed, deterministic=deterministic,
                                 input_context=input_context, shuffle_buffer=shuffle_buffer, image_only=True,
                                 cache=cache)


# ----------------------------------------------------------------------------------------------------
# GLFN
# ----------------------------------------------------------------------------------------------------


def glfn_dataset(examples: tf.data.Dataset, fused_cache: MapCache, config: Config, *, training: bool,
                 batch_size: int | None = None, seed: int | None = None, deterministic: bool = False,
                 input_context: tf.distribute.InputContext | None = None,
                 shuffle_buffer: int | None = None, cache: bool = False) -> tf.data.Dataset:
    """Image, fused GSN+APS+LRN map (from `fused_cache`) and mask, warped to G = `config.train.glfn.input_size`.

    As the paper, "warped into 1024 x 1024": the aspect ratio is not kept. The cached map may have any size
    (it is warped on its own). Flips, shuffling and repetition when training, as `gsn_dataset`.

    Args:
        fused_cache: maps at full resolution, keyed by ``image/filename``; a missing map fails the pipeline
            with NotFoundError naming the file.
        Others: as `gsn_dataset` (batch size default `config.train.glfn.batch_size`, shuffle buffer 16).
    Yields:
        ({"image": float32 [B, G, G, 3] 0..255, "saliency": float32 [B, G, G, 1] in [0, 1]},
         label float32 [B, G, G, 1] in {0, 1}).
    """
    return _whole_image_pipeline(
        examples, config, "glfn",
        extra_maps=lambda example: {"saliency": fused_cache.read_tf(example["image/filename"])},
        training=training, batch_size=batch_size, seed=seed, deterministic=deterministic,
        input_context=input_context, shuffle_buffer=shuffle_buffer, cache=cache)


# ----------------------------------------------------------------------------------------------------
# LRN: the APS box choice (numpy, in tf.py_function)
# ----------------------------------------------------------------------------------------------------


def attention_grid_side(config: Config) -> int:
    """Default longest side of the grid on which the LRN pipeline finds uncertain pixels: max(512, 2 S).

    F is a bilinear upsampling of an S x S map, so a grid of >= 2 S per axis still resolves every
    uncertain band of F; the Python sampler then handles ~0.5 Mpx instead of the full image's pixels.
    """
    return max(512, 2 * config.model.gsn_input_size)


def _grid_config(aps_config: APSConfig, grid_patch_size: int) -> APSConfig:
    """The APS settings on the grid: D scaled; the grid's values are exactly 0 (certain) or 0.5 (uncertain)."""
    return dataclasses.replace(aps_config, patch_size=grid_patch_size, attention_size=None, t1=0.25 * 255.0,
                               t2=0.75 * 255.0)


def choose_patch_boxes(attention: np.ndarray, full_hw, aps_config: APSConfig, rng: np.random.Generator, *,
                       sampler: str = "aps", max_boxes: int | None = None,
                       empty_patch_prob: float = 0.0) -> np.ndarray:
    """Training patch boxes of one image, from its uncertain mask measured on a (possibly coarser) grid.

    APS (Algorithm 1, `aps.sample_training_boxes`) runs on the grid with D scaled to it; centres and crop
    sizes are then mapped back to full resolution (a centre goes to a random pixel of its grid cell; on a
    grid as large as the image the result is exactly Algorithm 1 at full resolution).

    Args:
        attention: uncertain mask A on a grid, bool or uint8 [gh, gw] (gh <= H, gw <= W).
        full_hw: (H, W) of the image, in pixels.
        aps_config: the APS settings at full resolution (D = `patch_size`, n, jitter, J).
        rng: the only source of randomness.
        sampler: "aps" (boxes centred on uncertain pixels) or "random" (RPS: the same number of boxes of the
            same sizes, uniformly placed; the "GSN+RPS+LRN" ablation).
        max_boxes: at most this many boxes (a random subset); None for all.
        empty_patch_prob: when A is empty, one random D x D box is returned with this probability (else none).
    Returns:
        int32 [M, 4] half-open boxes [y0, x0, y1, x1] inside the image (square of side C = D + r unless the
        image is smaller).
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    height, width = int(full_hw[0]), int(full_hw[1])
    grid = np.asarray(attention, bool)
    scale = np.array([height / grid.shape[0], width / grid.shape[1]])
    patch = aps_config.patch_size
    grid_patch = max(1, round(patch / scale[1]))  # Algorithm 1's columns run along x
    found = aps.sample_training_boxes(np.float32(0.5) * grid, _grid_config(aps_config, grid_patch), rng,
                                      max_boxes=max_boxes)
    if found.sizes.size == 0:
        if rng.random() < empty_patch_prob:
            return aps.sample_random_boxes((height, width), np.array([patch]), rng)
        return np.zeros((0, 4), np.int32)
    sizes = np.round(found.sizes * (patch / grid_patch)).astype(np.int64)
    if sampler == "random":
        return aps.sample_random_boxes((height, width), sizes, rng)
    centres = np.floor((found.centres + rng.random(found.centres.shape)) * scale).astype(np.int64)
    centres = np.minimum(centres, [height - 1, width - 1])
    return aps._centred_boxes_inside(centres, sizes, (height, width))  # APS's own shrink-and-shift rule


def _grid_hw(full_hw: tf.Tensor, max_side: int) -> tf.Tensor:
    """Per axis min(side, max_side): int32 [2]."""
    return tf.minimum(full_hw, max_side)


def _attention_on_grid(coarse: tf.Tensor, full_hw: tf.Tensor, aps_config: APSConfig, max_side: int) -> tf.Tensor:
    """A on a grid of at most max_side per axis: uint8 [gh, gw] in {0, 1}.

    The grid samples F (= `coarse` upsampled to full_hw) at its cells' centres: a bilinear resize of the
    S x S map to the grid reads the same positions of the same interpolant.
    """
    on_grid = tf.image.resize(coarse, _grid_hw(full_hw, max_side), method="bilinear")
    return tf.cast(aps.attention_mask_tf(on_grid, aps_config), tf.uint8)


# ----------------------------------------------------------------------------------------------------
# LRN: cropping (TF ops)
# ----------------------------------------------------------------------------------------------------


def _coarse_boxes(boxes: tf.Tensor, full_hw: tf.Tensor, coarse_hw: tf.Tensor) -> tf.Tensor:
    """The same boxes as positions in the coarse map padded by one edge pixel: float32 [M, 4] normalised.

    Full-resolution pixel p reads F at q = (p + 0.5) * s / H - 0.5 of the s-sized map (half-pixel centres),
    clamped to the map; the one-pixel edge padding makes crop_and_resize clamp the same way.
    """
    boxes = tf.cast(boxes, tf.float32)
    scale = tf.cast(coarse_hw, tf.float32) / tf.cast(full_hw, tf.float32)
    first = (boxes[:, :2] + 0.5) * scale - 0.5 + 1.0
    last = (boxes[:, 2:] - 0.5) * scale - 0.5 + 1.0
    padded_extent = tf.cast(coarse_hw, tf.float32) + 1.0  # padded side - 1
    return tf.concat([first / padded_extent, last / padded_extent], axis=1)


def crop_training_patches(image: tf.Tensor, mask: tf.Tensor, coarse: tf.Tensor, boxes: tf.Tensor,
                          size: int) -> tuple[dict, tf.Tensor]:
    """Crops the boxes from the image, from F and from the mask, each resized to size x size.

    Args:
        image: uint8 [H, W, 3]. mask: uint8 [H, W, 1] in {0, 255}.
        coarse: the GSN map float32 [s, s', 1] in [0, 1] at its own resolution (F is it upsampled to H x W).
        boxes: int32 [M, 4] half-open [y0, x0, y1, x1] inside the image.
        size: D, the LRN input side.
    Returns:
        ({"image": float32 [M, D, D, 3] 0..255, "guidance": float32 [M, D, D, 1] in [0, 1]},
         label uint8 [M, D, D, 1] in {0, 1}).
    """
    full_hw = tf.shape(image)[:2]
    indices = tf.zeros(tf.shape(boxes)[:1], tf.int32)
    crop_size = [size, size]
    full_boxes = crop_boxes_for(boxes, full_hw)
    # uint8 in, float32 out: no float copy of the full-size image is made.
    patches = tf.image.crop_and_resize(image[tf.newaxis], full_boxes, indices, crop_size)
    labels = _binarise(tf.image.crop_and_resize(mask[tf.newaxis], full_boxes, indices, crop_size))
    padded = tf.pad(coarse, [[1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")[tf.newaxis]
    guidance = tf.image.crop_and_resize(padded, _coarse_boxes(boxes, full_hw, tf.shape(coarse)[:2]), indices,
                                        crop_size)
    return {"image": patches, "guidance": guidance}, labels


# ----------------------------------------------------------------------------------------------------
# LRN: the pipeline
# ----------------------------------------------------------------------------------------------------


def _box_chooser(config: Config, seed: int, sampler: str, max_boxes: int, empty_patch_prob: float):
    """The Python body of the py_function: (uint8 grid A, int32 [2] (H, W), int64 index) -> int32 [M, 4]."""

    def choose(attention, full_hw, index):
        rng = np.random.default_rng([seed, int(index)])
        return choose_patch_boxes(attention.numpy(), full_hw.numpy(), config.aps, rng, sampler=sampler,
                                  max_boxes=max_boxes, empty_patch_prob=empty_patch_prob)

    return choose


def lrn_dataset(examples: tf.data.Dataset, coarse_cache: MapCache, config: Config, *, sampler: str = "aps",
                training: bool = True, batch_size: int | None = None, seed: int | None = None,
                deterministic: bool = False, input_context: tf.distribute.InputContext | None = None,
                shuffle_buffer: int | None = None, empty_patch_prob: float = 0.1,
                attention_grid: int | None = None) -> tf.data.Dataset:
    """Patches of D = `config.model.lrn_input_size` px chosen by APS (or RPS) on the cached GSN maps.

    Per image: the coarse map is read from `coarse_cache` (by ``image/filename``); the uncertain mask A of
    F is measured in TF on a grid of at most `attention_grid` px per axis; a tiny `tf.py_function` picks at
    most `config.train.lrn.patches_per_image` boxes (`choose_patch_boxes`); TF ops crop image, F and mask
    (`crop_training_patches`). Patches are then flipped, unbatched, shuffled and batched.

    An image with no uncertain pixel gives one random D x D patch with probability `empty_patch_prob`
    (default 0.1) and none otherwise: with a confident GSN, a pipeline that skipped such images entirely
    could starve (or, repeating over a small set, never yield); a few such patches also show the LRN
    confident areas, which APS patches, centred on uncertainty, contain too. Set 0 for pure Algorithm 1.

    Args:
        examples: example dicts (see the module docstring), at full resolution.
        coarse_cache: the frozen GSN's maps (``kind: coarse``), one per example.
        config: sizes, `config.aps` (D, n, T1, T2, jitter, J), `train.lrn.batch_size`, `patches_per_image`.
        sampler: "aps" or "random" (RPS baseline: as many boxes, as large, at random places).
        training: flips, shuffling, endless repetition and full batches only; False gives one pass, in order.
        batch_size: global batch size of patches (default `config.train.lrn.batch_size`).
        seed, deterministic, input_context: as `gsn_dataset` (sharding happens before the expensive map).
        shuffle_buffer: patches in the shuffle buffer (default 512, i.e. patches of >= 32 images).
        empty_patch_prob: see above.
        attention_grid: longest grid side for A (default `attention_grid_side(config)`); 0 or a value above
            the image sides measures A at full resolution (exact Algorithm 1, slower).
    Yields:
        ({"image": float32 [B, D, D, 3] 0..255, "guidance": float32 [B, D, D, 1] in [0, 1]},
         label float32 [B, D, D, 1] in {0, 1}).
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    size = config.model.lrn_input_size
    seed = _resolve_seed(seed, config, deterministic)
    batch = _local_batch_size(batch_size or config.train.lrn.batch_size, input_context)
    grid_side = attention_grid_side(config) if attention_grid is None else (attention_grid or 2**30)
    choose = _box_chooser(config, seed, sampler, config.train.lrn.patches_per_image, empty_patch_prob)
    map_deterministic = bool(deterministic or not training)

    def patches_of(index, example):
        full_hw = tf.shape(example["image"])[:2]
        coarse = coarse_cache.read_tf(example["image/filename"])
        attention = _attention_on_grid(coarse, full_hw, config.aps, grid_side)
        boxes = tf.py_function(choose, [attention, full_hw, index], tf.int32)
        boxes = tf.ensure_shape(boxes, [None, 4])
        features, labels = crop_training_patches(example["image"], example["mask"], coarse, boxes, size)
        if training:
            features, labels = _random_flips(features, labels, _element_seed(seed, index, 1), tf.shape(boxes)[:1])
        return _pack(features, labels)

    ds = _map(_indexed(examples, input_context, repeat=training), patches_of, map_deterministic).unbatch()
    buffer = _DEFAULT_SHUFFLE["lrn"] if shuffle_buffer is None else shuffle_buffer
    return _finish(ds, batch_size=batch, training=training, seed=seed, shuffle_buffer=buffer,
                   deterministic=map_deterministic)
