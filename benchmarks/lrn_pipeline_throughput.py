"""Patches per second of the LRN training pipeline (`hrsod_tf.data.pipelines.lrn_dataset`) on a few cores.

Synthetic scenes (`hrsod_tf.data.synthetic.generate_scene`, warped to HxW, ~1200x1600 by default) are held in
memory; their coarse maps are a blurred version of the mask at the GSN resolution, written to a temporary
`MapCache` (no trained GSN is needed: only the amount of uncertain area matters for the cost). For each preset
the pipeline runs with the default attention grid and with the uncertain mask at full resolution
(``grid = full``: the exact but slower Python input), and the table gives patches/s, images/s and the time
of the Python box choice alone.

    python benchmarks/lrn_pipeline_throughput.py --cores 2 --presets small paper
"""

from __future__ import annotations

import os
import tempfile
import time

import common  # before TensorFlow: quiets its C++ logging
import numpy as np
import tensorflow as tf

from hrsod_tf import aps
from hrsod_tf.config import get_preset
from hrsod_tf.data import pipelines
from hrsod_tf.data.map_cache import MapCache


def parse_args(argv=None):
    parser = common.base_parser(__doc__)
    parser.add_argument("--presets", nargs="+", default=["small", "paper"])
    parser.add_argument("--cores", type=int, default=2, help="CPU cores the process may use (affinity + TF threads)")
    parser.add_argument("--images", type=int, default=8, help="distinct synthetic images (cycled)")
    parser.add_argument("--height", type=int, default=1200)
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--batches", type=int, default=30, help="timed batches per configuration")
    parser.add_argument("--warmup", type=int, default=5, help="untimed batches first")
    parser.add_argument("--sampler", choices=pipelines.SAMPLERS, default="aps")
    return parser.parse_args(argv)


def limit_cores(cores: int) -> None:
    """Pins the process to `cores` CPUs and sizes TF's thread pools to match (before TF starts them)."""
    if hasattr(os, "sched_setaffinity"):
        available = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, set(available[:cores]))
    tf.config.threading.set_inter_op_parallelism_threads(cores)
    tf.config.threading.set_intra_op_parallelism_threads(cores)


def synthetic_examples(count: int, height: int, width: int):
    """In-memory examples: (images uint8 [N, H, W, 3], masks uint8 [N, H, W, 1], file names)."""
    scenes = [common.synthetic_scene(height, width, seed) for seed in range(count)]
    names = [f"bench_{i:03d}.jpg" for i in range(count)]
    return np.stack([image for image, _ in scenes]), np.stack([mask[..., None] for _, mask in scenes]), names


def fill_cache(directory: str, masks: np.ndarray, names, size: int) -> MapCache:
    cache = MapCache(directory, {"kind": "coarse", "checkpoint": "benchmark", "gsn_input_size": size})
    for mask, name in zip(masks, names):
        cache.write(name, common.blurred_gsn_map(mask, size))
    return cache


def time_pipeline(ds: tf.data.Dataset, batches: int, warmup: int) -> tuple[float, int]:
    """(seconds, patches) over `batches` batches after `warmup` untimed ones."""
    iterator = iter(ds)
    for _ in range(warmup):
        next(iterator)
    patches, start = 0, time.perf_counter()
    for _ in range(batches):
        patches += int(next(iterator)[1].shape[0])
    return time.perf_counter() - start, patches


def python_box_choice_ms(config, coarse_maps, full_hw, grid_side: int | None) -> tuple[float, float]:
    """(ms per image of `choose_patch_boxes`, mean boxes per image) on the grid the pipeline would use."""
    grids = []
    for coarse in coarse_maps:
        grid_hw = full_hw if not grid_side else tuple(min(s, grid_side) for s in full_hw)
        on_grid = tf.image.resize(coarse[..., None], grid_hw, method="bilinear")[..., 0].numpy()
        grids.append(aps.attention_mask(on_grid, config.aps).astype(np.uint8))
    rng = np.random.default_rng(0)
    counts, start = [], time.perf_counter()
    for grid in grids:
        counts.append(len(pipelines.choose_patch_boxes(grid, full_hw, config.aps, rng,
                                                       max_boxes=config.train.lrn.patches_per_image)))
    return 1000.0 * (time.perf_counter() - start) / len(grids), float(np.mean(counts))


def benchmark_preset(name: str, args, images, masks, names, workdir: str) -> list[dict]:
    config = get_preset(name)
    cache = fill_cache(os.path.join(workdir, name), masks, names, config.model.gsn_input_size)
    examples = tf.data.Dataset.from_tensor_slices(
        {"image": images, "mask": masks, "image/filename": tf.constant(names)})
    coarse_maps = [cache.read(n)[..., 0] for n in names]
    rows = []
    for grid in (None, 0):  # the default attention grid, then full resolution
        grid_side = pipelines.attention_grid_side(config) if grid is None else 0
        ds = pipelines.lrn_dataset(examples, cache, config, sampler=args.sampler, attention_grid=grid,
                                   shuffle_buffer=64)
        seconds, patches = time_pipeline(ds, args.batches, args.warmup)
        python_ms, per_image = python_box_choice_ms(config, coarse_maps, (args.height, args.width), grid_side)
        rows.append({
            "preset": name, "D": config.model.lrn_input_size, "batch": config.train.lrn.batch_size,
            "grid": "full" if not grid_side else f"<= {grid_side}", "patches/image": per_image,
            "patches/s": patches / seconds, "images/s": patches / seconds / max(per_image, 1e-9),
            "python ms/image": python_ms,
        })
    return rows


def render(result: dict) -> str:
    """The setting and one table row per preset and grid."""
    rows, setting = result["rows"], result["setting"]
    cells = [[f"{r[c]:.1f}" if isinstance(r[c], float) else str(r[c]) for c in rows[0]] for r in rows]
    return common.markdown(
        f"LRN pipeline, {setting['images']} synthetic {setting['height']}x{setting['width']} images, "
        f"sampler={setting['sampler']}, {setting['cores']} cores, {setting['batches']} timed batches:",
        common.table(list(rows[0]), cells))


def main(argv=None) -> None:
    args = parse_args(argv)
    limit_cores(args.cores)
    images, masks, names = synthetic_examples(args.images, args.height, args.width)
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for name in args.presets:
            rows += benchmark_preset(name, args, images, masks, names, workdir)
    setting = {key: getattr(args, key) for key in ("images", "height", "width", "sampler", "cores", "batches")}
    common.emit({"benchmark": "lrn_pipeline_throughput", "setting": setting, "rows": rows}, args, render)


if __name__ == "__main__":
    main()
