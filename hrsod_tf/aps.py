"""Attended Patch Sampling (APS, Algorithm 1 of Zeng et al., ICCV 2019) and its baselines.

Two samplers share one contract (patches are placed on *uncertain* pixels of the GSN map F):

  * training (numpy, random, Algorithm 1): `sample_training_boxes`, run inside `tf.py_function`;
  * inference (TF ops only, deterministic, 100% coverage of uncertain pixels): `inference_boxes_tf`,
    exported inside the SavedModel; a patch budget (`keep_most_uncertain_boxes_tf`) keeps the boxes with the
    most uncertain pixels (`hrsod_tf.quality`).

Baselines for the ablations: Random Patch Sampling (RPS: `sample_random_boxes` for training,
`random_boxes_tf` at inference) and `dense_tiling_boxes_tf` (sliding window over the whole image).

Conventions:
  * F ("coarse") is a float map in [0, 1], shape [H, W] or [H, W, 1], at full image resolution.
  * A pixel is uncertain when t1 < 255 * F < t2 (computed in float32 by both implementations).
  * Boxes are int32 ``[y0, x0, y1, x1]`` in full-resolution pixels, half-open, always inside the image.
    A box that would cross the border is SHIFTED inside (never truncated); a box larger than the image
    is first shrunk to the image side, per axis (so boxes on small images may be non-square).
  * Centres are int32 ``[y, x]``.
  * If `APSConfig.attention_size` is set, A is measured on an ``s x s`` bilinear resize of F and mapped
    back to full resolution by nearest-neighbour (pixel (y, x) takes A_small[(y + .5) * s / H, ...]);
    every property below then holds for that mapped-back mask (`attention_mask` / `attention_mask_tf`).
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np
import tensorflow as tf

from hrsod_tf.config import APSConfig

__all__ = [
    "TrainingBoxes",
    "attention_map",
    "attention_map_tf",
    "attention_mask",
    "attention_mask_tf",
    "training_columns",
    "sample_training_boxes",
    "sample_random_boxes",
    "inference_boxes_tf",
    "keep_most_uncertain_boxes_tf",
    "uncertain_pixels_in_boxes_tf",
    "dense_tiling_boxes_tf",
    "random_boxes_tf",
]


# ----------------------------------------------------------------------------------------------------
# Attention map (Eq. 4)
# ----------------------------------------------------------------------------------------------------


def _squeeze_channel_np(coarse) -> np.ndarray:
    """[H, W] or [H, W, 1] -> float32 [H, W]."""
    coarse = np.asarray(coarse)
    if coarse.ndim == 3 and coarse.shape[-1] == 1:
        coarse = coarse[..., 0]
    if coarse.ndim != 2:
        raise ValueError(f"coarse map must be [H, W] or [H, W, 1], got shape {coarse.shape}")
    return coarse.astype(np.float32, copy=False)


def attention_map(coarse, t1: float, t2: float) -> np.ndarray:
    """A = (t1 < 255 * F < t2): the uncertain pixels of the GSN map (Eq. 4).

    Args:
        coarse: F, float in [0, 1], [H, W] or [H, W, 1].
        t1, t2: thresholds on the 0..255 scale.
    Returns:
        bool [H, W].
    """
    scaled = np.float32(255.0) * _squeeze_channel_np(coarse)  # float32 on both sides: numpy == TF
    return (scaled > np.float32(t1)) & (scaled < np.float32(t2))


def _squeeze_channel_tf(coarse) -> tf.Tensor:
    """[H, W] or [H, W, 1] (static rank) -> float32 [H, W]."""
    coarse = tf.convert_to_tensor(coarse)
    if coarse.shape.rank == 3:
        coarse = coarse[..., 0]
    if coarse.shape.rank != 2:
        raise ValueError(f"coarse map must be [H, W] or [H, W, 1], got shape {coarse.shape}")
    return tf.cast(coarse, tf.float32)


def attention_map_tf(coarse, t1: float, t2: float) -> tf.Tensor:
    """TF twin of `attention_map`: float [H, W] or [H, W, 1] in [0, 1] -> bool [H, W]."""
    scaled = 255.0 * _squeeze_channel_tf(coarse)
    return tf.logical_and(scaled > t1, scaled < t2)


def _nearest_indices_np(full: int, small: int) -> np.ndarray:
    """Index into a `small`-long axis for each of `full` pixels (nearest, pixel-centre aligned)."""
    return np.minimum(((np.arange(full) + 0.5) * small / full).astype(np.int64), small - 1)


def attention_mask(coarse, config: APSConfig) -> np.ndarray:
    """The full-resolution uncertain mask the samplers use: bool [H, W].

    Equals `attention_map(F)` unless `config.attention_size` is set (see the module docstring).
    """
    coarse = _squeeze_channel_np(coarse)
    size = config.attention_size
    if size is None:
        return attention_map(coarse, config.t1, config.t2)
    small = attention_map(cv2.resize(coarse, (size, size), interpolation=cv2.INTER_LINEAR),
                          config.t1, config.t2)
    h, w = coarse.shape
    return small[np.ix_(_nearest_indices_np(h, size), _nearest_indices_np(w, size))]


def _nearest_indices_tf(full: tf.Tensor, small: int) -> tf.Tensor:
    """TF twin of `_nearest_indices_np` (float64 so that it rounds like numpy)."""
    pos = (tf.range(full, dtype=tf.float64) + 0.5) * small / tf.cast(full, tf.float64)
    return tf.minimum(tf.cast(pos, tf.int32), small - 1)


def attention_mask_tf(coarse, config: APSConfig) -> tf.Tensor:
    """TF twin of `attention_mask`: bool [H, W] (bilinear resize may differ from cv2's by rounding)."""
    coarse = _squeeze_channel_tf(coarse)
    size = config.attention_size
    if size is None:
        return attention_map_tf(coarse, config.t1, config.t2)
    resized = tf.image.resize(coarse[..., None], [size, size], method="bilinear")[..., 0]
    small = attention_map_tf(resized, config.t1, config.t2)
    shape = tf.shape(coarse)
    rows = tf.gather(small, _nearest_indices_tf(shape[0], size), axis=0)
    return tf.gather(rows, _nearest_indices_tf(shape[1], size), axis=1)


# ----------------------------------------------------------------------------------------------------
# Boxes inside the image (shared by the numpy samplers)
# ----------------------------------------------------------------------------------------------------


def _boxes_from_origins(y0, x0, heights, widths) -> np.ndarray:
    """[M] origins and extents -> int32 [M, 4] ``[y0, x0, y1, x1]``."""
    return np.stack([y0, x0, y0 + heights, x0 + widths], axis=-1).astype(np.int32).reshape(-1, 4)


def _centred_boxes_inside(centres: np.ndarray, sizes: np.ndarray, shape_hw) -> np.ndarray:
    """Square boxes of side `sizes` centred on `centres`, shrunk to the image and shifted inside it.

    Args:
        centres: int [M, 2] ``(y, x)`` inside the image.
        sizes: int [M] crop sides C, in pixels.
        shape_hw: (H, W) of the image.
    Returns:
        int32 [M, 4]; each box still contains its centre (shifting moves the box, not past the centre).
    """
    h, w = shape_hw
    heights, widths = np.minimum(sizes, h), np.minimum(sizes, w)
    y0 = np.clip(centres[:, 0] - heights // 2, 0, h - heights)
    x0 = np.clip(centres[:, 1] - widths // 2, 0, w - widths)
    return _boxes_from_origins(y0, x0, heights, widths)


# ----------------------------------------------------------------------------------------------------
# Training sampler (Algorithm 1)
# ----------------------------------------------------------------------------------------------------


class TrainingBoxes(NamedTuple):
    """What `sample_training_boxes` returns (unpacks as ``boxes, centres, sizes``).

    Attributes:
        boxes: int32 [M, 4] ``[y0, x0, y1, x1]``, inside the image.
        centres: int32 [M, 2] ``(y, x)``: the sampled uncertain pixels (A[y, x] is True); a box is centred
            on its centre unless it had to be shifted inside the image (it always contains it).
        sizes: int32 [M]: the crop side C = D + r of each box, before shrinking to the image.
    """

    boxes: np.ndarray
    centres: np.ndarray
    sizes: np.ndarray


def _empty_training_boxes() -> TrainingBoxes:
    return TrainingBoxes(np.zeros((0, 4), np.int32), np.zeros((0, 2), np.int32), np.zeros((0,), np.int32))


def training_columns(x_left: int, x_right: int, patch_size: int, extra_columns: int) -> np.ndarray:
    """Algorithm 1, lines 2 and 5: the N_x + 1 columns X_t, in pixels.

    w = XR - XL + 1, N_x = ceil(w / D) + n, X_t = min(XL + (t - 1) * ceil(w / N_x), XR), t = 1..N_x + 1.
    Columns may repeat (at XR); as in the paper, each repeat draws its own centres.

    Returns:
        int64 [N_x + 1].
    """
    width = x_right - x_left + 1
    num_columns = -(-width // patch_size) + extra_columns
    step = -(-width // num_columns)
    return np.minimum(x_left + np.arange(num_columns + 1) * step, x_right)


def _crop_radius(config: APSConfig) -> int:
    """Largest |r| of the crop-size jitter, in pixels (floor(D * size_jitter): 64 for D = 384)."""
    return int(np.floor(config.patch_size * config.size_jitter))


def sample_training_boxes(coarse, config: APSConfig, rng: np.random.Generator,
                          max_boxes: int | None = None) -> TrainingBoxes:
    """Attended Patch Sampling for training (Algorithm 1), random.

    For each column X_t (`training_columns` over the uncertain area's x extent): one crop size
    C = D + r, r uniform integer in [-floor(D * size_jitter), floor(D * size_jitter)] (drawn per column,
    as line 4 of Algorithm 1), and J = centres_per_column distinct uncertain pixels (X_t, y) drawn
    without replacement (fewer if the column has fewer). A column with no uncertain pixel (a gap between
    two uncertain areas) is skipped: Algorithm 1's Y is then empty; its neighbours, < D apart, still
    cover the area around it.

    Args:
        coarse: F, float in [0, 1], [H, W] or [H, W, 1], full resolution.
        config: APS settings (D, n, t1, t2, size_jitter, J, attention_size).
        rng: the only source of randomness.
        max_boxes: if set and more boxes were drawn, a uniformly random subset of this many (in column
            order) is kept.
    Returns:
        `TrainingBoxes` (boxes int32 [M, 4], centres int32 [M, 2], sizes int32 [M]); M = 0 when F has no
        uncertain pixel.
    """
    mask = attention_mask(coarse, config)
    columns_any = mask.any(axis=0)
    if not columns_any.any():
        return _empty_training_boxes()
    x_left = int(np.argmax(columns_any))
    x_right = mask.shape[1] - 1 - int(np.argmax(columns_any[::-1]))
    columns = training_columns(x_left, x_right, config.patch_size, config.extra_columns)

    radius = _crop_radius(config)
    centres, sizes = [], []
    for x in columns:
        ys = np.flatnonzero(mask[:, x])
        if ys.size == 0:
            continue
        size = config.patch_size + int(rng.integers(-radius, radius + 1))
        picked = rng.choice(ys, size=min(config.centres_per_column, ys.size), replace=False)
        centres += [(y, x) for y in picked]
        sizes += [size] * picked.size
    if not centres:
        return _empty_training_boxes()
    centres = np.asarray(centres, np.int32)
    sizes = np.asarray(sizes, np.int32)
    if max_boxes is not None and len(sizes) > max_boxes:
        keep = np.sort(rng.choice(len(sizes), size=max_boxes, replace=False))
        centres, sizes = centres[keep], sizes[keep]
    boxes = _centred_boxes_inside(centres, sizes, mask.shape)
    return TrainingBoxes(boxes, centres, sizes)


# ----------------------------------------------------------------------------------------------------
# Random Patch Sampling (RPS) baseline
# ----------------------------------------------------------------------------------------------------


def sample_random_boxes(shape_hw, sizes, rng: np.random.Generator) -> np.ndarray:
    """RPS: as many boxes, as large, as APS gave, at uniformly random places inside the image.

    Args:
        shape_hw: (H, W) of the image, in pixels.
        sizes: int [M] square crop sides (e.g. `TrainingBoxes.sizes`), or int [M, 2] ``(h, w)`` box
            extents (e.g. from APS boxes); each is shrunk to the image as APS does.
        rng: the only source of randomness.
    Returns:
        int32 [M, 4] boxes; their extents equal those of the APS boxes built from the same sizes.
    """
    h, w = int(shape_hw[0]), int(shape_hw[1])
    sizes = np.asarray(sizes, np.int64)
    extents = np.stack([sizes, sizes], axis=-1) if sizes.ndim == 1 else sizes.reshape(-1, 2)
    heights, widths = np.minimum(extents[:, 0], h), np.minimum(extents[:, 1], w)
    # Generator.integers broadcasts: one uniform origin per box in [0, H - h] x [0, W - w].
    y0 = rng.integers(0, h - heights + 1)
    x0 = rng.integers(0, w - widths + 1)
    return _boxes_from_origins(y0, x0, heights, widths)


# ----------------------------------------------------------------------------------------------------
# Inference sampler and dense tiling (TF ops only: exported in the SavedModel)
# ----------------------------------------------------------------------------------------------------


def _ceil_div(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    return (a + b - 1) // b


def _first_true(x: tf.Tensor, axis: int) -> tf.Tensor:
    """Index of the first nonzero along `axis` (0 if none), int32."""
    return tf.argmax(tf.cast(x, tf.int32), axis=axis, output_type=tf.int32)


def _last_true(x: tf.Tensor, axis: int) -> tf.Tensor:
    """Index of the last nonzero along `axis` (length - 1 if none), int32."""
    length = tf.shape(x, out_type=tf.int32)[axis]
    return length - 1 - _first_true(tf.reverse(x, [axis]), axis)


def _fit_interval(lo: tf.Tensor, hi: tf.Tensor, side: tf.Tensor, limit: tf.Tensor) -> tf.Tensor:
    """Start of a `side`-long interval centred on [lo, hi] (inclusive, hi - lo < side), inside [0, limit).

    Centring keeps [lo, hi] inside (slack (side - len) // 2 on the left, the rest on the right); the
    shift into [0, limit - side] keeps it too, since 0 <= lo, hi < limit and side <= limit.
    """
    start = lo - (side - (hi - lo + 1)) // 2
    return tf.clip_by_value(start, 0, limit - side)


def _keep_most_uncertain(items: tf.Tensor, counts: tf.Tensor, budget) -> tf.Tensor:
    """The `budget` rows of `items` [M, ...] with the largest int32 `counts` [M] (ties: the earlier row), in their
    original order."""
    k = tf.minimum(budget, tf.shape(counts)[0])
    order = tf.sort(tf.math.top_k(counts, k=k, sorted=True).indices)  # top_k breaks ties by index
    return tf.gather(items, order)


def uncertain_pixels_in_boxes_tf(boxes, mask) -> tf.Tensor:
    """How many uncertain pixels each box holds: int32 [M], from a summed-area table of `mask`.

    Args:
        boxes: int32 [M, 4] half-open ``[y0, x0, y1, x1]`` inside the mask. mask: bool [H, W] (A).
    """
    table = tf.cumsum(tf.cumsum(tf.cast(mask, tf.int32), axis=0), axis=1)
    table = tf.pad(table, [[1, 0], [1, 0]])  # table[y, x] = uncertain pixels in [0, y) x [0, x)

    def at(rows, cols):
        return tf.gather_nd(table, tf.stack([rows, cols], axis=1))

    y0, x0, y1, x1 = tf.unstack(tf.reshape(tf.cast(boxes, tf.int32), [-1, 4]), axis=1)
    return at(y1, x1) - at(y0, x1) - at(y1, x0) + at(y0, x0)


def keep_most_uncertain_boxes_tf(boxes, mask, budget: int) -> tf.Tensor:
    """A patch budget: the `budget` boxes holding the most uncertain pixels of `mask`, in their original order.

    "Most uncertain" is measured on the attention map APS places its boxes by: a box's count of pixels with
    t1 < 255 F < t2 (`uncertain_pixels_in_boxes_tf`; overlapping boxes each count a shared pixel). Ties go to the
    earlier box. With `budget` >= M every box is kept, unchanged and in order.

    Args:
        boxes: int32 [M, 4] half-open ``[y0, x0, y1, x1]`` inside the mask. mask: bool [H, W]. budget: int >= 0.
    Returns:
        int32 [min(M, budget), 4].
    """
    return _keep_most_uncertain(boxes, uncertain_pixels_in_boxes_tf(boxes, mask), budget)


def inference_boxes_tf(coarse, config: APSConfig, enforce_max_patches: bool = False) -> tf.Tensor:
    """Deterministic APS for inference: few boxes of side D covering every uncertain pixel.

    Rule: tile the bounding box of the uncertain mask with a stride-S grid of S x S cells (S = D, or the
    image side on an axis where the image is smaller than D), keep each cell that holds an uncertain
    pixel, and give it one S-sided box centred on the bounding box of that cell's uncertain pixels, then
    shifted inside the image. Each box contains its cell's uncertain pixels, so the boxes cover 100% of
    them; the count is at most ceil(h_u / S) * ceil(w_u / S) <= ceil(H / D) * ceil(W / D) (h_u, w_u:
    extent of the uncertain area), one box per kept cell, so neighbouring boxes overlap by less than S.

    `config.max_patches` is a soft cap: coverage is the contract, so by default every kept cell gets its
    box (time grows with the uncertain area, bounded as above; memory is bounded by the LRN batch). With
    `enforce_max_patches=True` only the `max_patches` cells with most uncertain pixels keep a box (the
    uncertain pixels of the dropped cells then keep the GSN value).

    Pure TF ops (no numpy on tensors, no Python control flow on tensor values): works in `tf.function`
    with fully dynamic H and W.

    Args:
        coarse: F, float in [0, 1], [H, W] or [H, W, 1], full resolution (H, W >= 1).
        config: APS settings (D = patch_size, t1, t2, attention_size, max_patches).
        enforce_max_patches: see above.
    Returns:
        int32 [M, 4] ``[y0, x0, y1, x1]`` in row-major cell order; [0, 4] when F has no uncertain pixel.
    """
    mask = attention_mask_tf(coarse, config)
    image_hw = tf.shape(mask, out_type=tf.int32)
    side = tf.minimum(image_hw, config.patch_size)  # [2]: S per axis

    # Bounding box of the uncertain area; with no uncertain pixel it is the whole image and no cell is
    # kept below, so no tf.cond is needed.
    rows_any, cols_any = tf.reduce_any(mask, axis=1), tf.reduce_any(mask, axis=0)
    origin = tf.stack([_first_true(rows_any, 0), _first_true(cols_any, 0)])
    extent = tf.stack([_last_true(rows_any, 0), _last_true(cols_any, 0)]) + 1 - origin
    grid = _ceil_div(extent, side)  # [2]: cells per axis

    # Crop to the grid, pad past the image border with zeros, then one [ny, S, nx, S] view of the cells.
    region = mask[origin[0]:origin[0] + grid[0] * side[0], origin[1]:origin[1] + grid[1] * side[1]]
    pad = grid * side - tf.shape(region, out_type=tf.int32)
    region = tf.pad(region, tf.stack([[0, pad[0]], [0, pad[1]]]))
    cells4 = tf.reshape(region, tf.stack([grid[0], side[0], grid[1], side[1]]))
    # No Transpose to [ny, nx, S] for the rows: on AMD and AVX2-only CPUs TensorFlow's oneDNN build logs an error
    # line ("oneDNN supports DT_BOOL only on platforms with AVX-512") for a Transpose of anything but floats.
    rows_in_cell = tf.reduce_any(cells4, axis=3)  # [ny, S, nx]
    cols_in_cell = tf.reduce_any(cells4, axis=1)  # [ny, nx, S]

    cells = tf.cast(tf.where(tf.reduce_any(cols_in_cell, axis=2)), tf.int32)  # [M, 2] row-major
    if enforce_max_patches:
        counts = tf.gather_nd(tf.reduce_sum(tf.cast(cells4, tf.int32), axis=[1, 3]), cells)
        cells = _keep_most_uncertain(cells, counts, config.max_patches)

    starts = []
    present_rows = tf.gather(tf.gather(rows_in_cell, cells[:, 0]), cells[:, 1], axis=2, batch_dims=1)  # [M, S]
    for axis, present in ((0, present_rows), (1, tf.gather_nd(cols_in_cell, cells))):
        cell_start = origin[axis] + cells[:, axis] * side[axis]
        lo = cell_start + _first_true(present, 1)
        hi = cell_start + _last_true(present, 1)
        starts.append(_fit_interval(lo, hi, side[axis], image_hw[axis]))
    return tf.stack([starts[0], starts[1], starts[0] + side[0], starts[1] + side[1]], axis=1)


def _covering_tile_starts(length: tf.Tensor, side: tf.Tensor) -> tf.Tensor:
    """Starts of `side`-long tiles covering [0, length), stride `side`, last one shifted inside: [n]."""
    count = _ceil_div(length, side)
    return tf.minimum(tf.range(count) * side, length - side)


def dense_tiling_boxes_tf(height, width, patch_size: int) -> tf.Tensor:
    """Dense tiling baseline: S x S boxes (S = min(D, side)) covering the whole image, row-major.

    Args:
        height, width: image size in pixels (Python ints or int scalar tensors, >= 1).
        patch_size: D, in pixels.
    Returns:
        int32 [ceil(H / S_h) * ceil(W / S_w), 4]; the last row / column is shifted inside the image.
    """
    height = tf.cast(height, tf.int32)
    width = tf.cast(width, tf.int32)
    side_h, side_w = tf.minimum(height, patch_size), tf.minimum(width, patch_size)
    y0, x0 = tf.meshgrid(_covering_tile_starts(height, side_h), _covering_tile_starts(width, side_w), indexing="ij")
    y0, x0 = tf.reshape(y0, [-1]), tf.reshape(x0, [-1])
    return tf.stack([y0, x0, y0 + side_h, x0 + side_w], axis=1)


RPS_SEED = (20191027, 0)  # fixed: the random baseline is reproducible


def random_boxes_tf(height_width, count, side, seed=RPS_SEED) -> tf.Tensor:
    """RPS at inference: `count` boxes of side min(`side`, image side) at uniformly random places (seeded).

    Args:
        height_width: int32 [2], the image size. count: int32 scalar (e.g. the number of APS boxes).
        side: int, the boxes' side before it is cut to the image (e.g. D).
    Returns:
        int32 [count, 4] half-open boxes [y0, x0, y1, x1] inside the image.
    """
    extent = tf.minimum(height_width, side)
    y0 = tf.random.stateless_uniform([count], seed, 0, height_width[0] - extent[0] + 1, tf.int32)
    x0 = tf.random.stateless_uniform([count], seed[::-1], 0, height_width[1] - extent[1] + 1, tf.int32)
    return tf.stack([y0, x0, y0 + extent[0], x0 + extent[1]], axis=1)
