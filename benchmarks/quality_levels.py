#!/usr/bin/env python
"""The speed/quality levels (`hrsod_tf.quality`: fast, balanced, best): seconds per image against accuracy.

    python benchmarks/quality_levels.py --workdir runs/demo [--preset official] [--sizes 1920x1080 3840x2160]
                                        [--repeats N] [--count N] [--quick] [--json OUT]

Speed: the "full" variant of `--preset`'s pipeline (random init, float32, TensorFlow) on one synthetic scene per
size, each level's pipeline traced once (warm-up) and then timed in alternation (fast, balanced, best, fast, ...:
a load that comes and goes on a shared machine hits every level alike, so the ratios hold), median of --repeats.
A random-init GSN gives a flat, uncertain map (APS would then cover the whole frame, which no trained GSN does):
the GSN still runs and is timed, but its map is replaced by the scene's mask blurred at the GSN's resolution
(`common.blurred_gsn_map`, as pipeline_time.py --coarse synthetic), so the uncertain region is a band along the
object's boundary and the patch counts are realistic.

Accuracy: the trained run --workdir (read only) on the test scenes of the synthetic set it trained
on (`common.run_scenes`: the scenes `hrsod train` evaluates), the "full" variant at each level: S-measure, MAE and mBA
(`hrsod_tf.evaluation.evaluate_arrays`), with the mean number of patches refined per image.
"""

from __future__ import annotations

import dataclasses
import time

import common  # before TensorFlow: quiets its C++ logging
import numpy as np
import tensorflow as tf
from common import base_parser, emit, fmt, log, markdown, repeats, run_scenes, table
from pipeline_time import parse_size

from hrsod_tf.evaluation.folders import evaluate_arrays
from hrsod_tf.pipeline import SaliencyPipeline
from hrsod_tf.quality import QUALITY_LEVELS
from hrsod_tf.workdir import WorkDir

LEVELS = tuple(QUALITY_LEVELS)  # fast, balanced, best


def patches_of(pipeline: SaliencyPipeline, image) -> int:
    """How many patches the pipeline's APS refines on `image` (either protocol: boxes in its frame)."""
    frame = pipeline.protocol.frame(tf.convert_to_tensor(image, tf.uint8))
    return int(tf.shape(pipeline.protocol.boxes(frame.coarse, "aps"))[0])


def with_forced_gsn_map(pipeline: SaliencyPipeline, gsn_map: np.ndarray) -> SaliencyPipeline:
    """The pipeline whose GSN still runs (and costs its time) but answers `gsn_map` (float32 [S, S])."""
    forced = tf.constant(gsn_map[np.newaxis, ..., np.newaxis], tf.float32)
    gsn = pipeline.networks.gsn

    def gsn_answering_the_map(batch):
        return 0.0 * gsn(batch) + forced  # the product keeps the GSN in the graph: it is timed

    return SaliencyPipeline(pipeline.config, dataclasses.replace(pipeline.networks, gsn=gsn_answering_the_map))


def level_speeds(preset: str, sizes, runs: int) -> list[dict]:
    """Per size: {"size", "patches": {level: n}, "seconds": {level: summary}} of the "full" variant."""
    base = common.random_pipeline(preset)
    found = []
    for height, width in sizes:
        photo, mask = common.synthetic_scene(height, width, seed=1)
        forced = with_forced_gsn_map(base, common.blurred_gsn_map(mask, base.config.model.gsn_input_size))
        pipelines = {level: forced.at_quality(level) for level in LEVELS}
        image = tf.constant(photo)
        calls = {level: (lambda p=p, image=image: p.predict(image, "full").numpy()) for level, p in pipelines.items()}
        seconds = common.time_interleaved(calls, runs, warmup=1)
        patches = {level: patches_of(p, image) for level, p in pipelines.items()}
        found.append({"size": f"{width}x{height}", "patches": patches, "seconds": seconds})
        log(f"{width}x{height}: " + ", ".join(f"{level} {seconds[level]['median_s']:.2f} s ({patches[level]} patches)"
                                              for level in LEVELS))
    return found


def level_accuracy(workdir: str, count: int | None) -> dict:
    """{"images", "preset", "levels": {level: {"S_measure", "MAE", "mBA", "mean_patches", "seconds"}}} of the
    trained run's "full" variant on its synthetic test scenes, or {"reason"} when the run is not trained."""
    run = WorkDir(workdir)
    if not run.has_config() or not all(run.is_finished(stage) for stage in ("gsn", "lrn", "glfn")):
        return {"reason": f"{workdir} has no trained GSN, LRN and GLFN: train the demo first (`hrsod train`)"}
    pipeline = SaliencyPipeline.from_workdir(workdir, require=("gsn", "lrn", "glfn"))
    pipelines = {level: pipeline.at_quality(level) for level in LEVELS}
    data, scenes = run_scenes(workdir, "test", count)
    count = count or data.synthetic_test_size
    pairs = {level: [] for level in LEVELS}
    patches = {level: [] for level in LEVELS}
    seconds = {level: [] for level in LEVELS}
    for name, image, mask in scenes:
        for level, level_pipeline in pipelines.items():
            start = time.perf_counter()
            saliency = level_pipeline.predict(image, "full").numpy()[..., 0]
            seconds[level].append(time.perf_counter() - start)
            pairs[level].append((saliency, mask))
            patches[level].append(patches_of(level_pipeline, image))
        log(f"  {name} {image.shape[1]}x{image.shape[0]}: patches " +
            ", ".join(f"{level} {patches[level][-1]}" for level in LEVELS))
    levels = {}
    for level in LEVELS:
        metrics = evaluate_arrays(pairs[level], boundary=True).metrics
        levels[level] = {"S_measure": metrics["S_measure"], "MAE": metrics["MAE"], "mBA": metrics["mBA"],
                         "mean_patches": float(np.mean(patches[level])),
                         # the first image of each level also traces its graph: left out when there are others
                         "median_seconds": float(np.median(seconds[level][1:] or seconds[level]))}
    return {"images": count, "preset": pipeline.config.preset, "patch_size": pipeline.config.aps.patch_size,
            "levels": levels}


def main(argv=None) -> dict:
    parser = base_parser(__doc__)
    parser.add_argument("--workdir", default="runs/demo", help="the trained run whose test scenes give the accuracy")
    parser.add_argument("--preset", default="official", help="the random-init networks timed (default official)")
    parser.add_argument("--sizes", nargs="+", type=parse_size, default=[(1080, 1920), (2160, 3840)], metavar="WxH",
                        help="image sizes timed (default 1920x1080 3840x2160)")
    parser.add_argument("--count", type=int, default=None,
                        help="test scenes for the accuracy (default: the run's test split, or 4 with --quick)")
    args = parser.parse_args(argv)
    machine = common.machine_info()
    log(f"CPU: {machine['cpu_model']}; flags: {' '.join(machine['isa_flags'])}")
    runs = repeats(args, full=5, quick=1)
    speeds = level_speeds(args.preset, args.sizes, runs)
    accuracy = level_accuracy(args.workdir, args.count or (4 if args.quick else None))
    return emit({"benchmark": "quality_levels", "preset": args.preset, "repeats": runs, "workdir": args.workdir,
                 "budgets": {level: QUALITY_LEVELS[level] for level in LEVELS}, "speed": speeds,
                 "accuracy": accuracy}, args, render)


def _budget(budget) -> str:
    return "every patch" if budget is None else str(budget)


def render(result: dict) -> str:
    """Seconds per image per level and size (with the ratio to best), then accuracy per level."""
    budgets = result["budgets"]
    speed_rows = []
    for size in result["speed"]:
        best = size["seconds"]["best"]["median_s"]
        for level in budgets:
            median = size["seconds"][level]["median_s"]
            speed_rows.append([size["size"], level, _budget(budgets[level]), str(size["patches"][level]),
                               fmt(median, ".2f"), fmt(best / median, ".2f") + "x"])
    machine = result["machine"]
    blocks = [
        f"Speed: preset {result['preset']} (random init, float32, TensorFlow), the full variant on one synthetic "
        "scene per size, its GSN map replaced by the scene's blurred mask (realistic patch counts; the GSN still "
        f"runs), levels alternated in one process, median of {result['repeats']}. CPU: {machine['cpu_model']}, "
        f"{machine['usable_cores']} usable cores, flags {' '.join(machine['isa_flags'])}.",
        table(["size", "level", "patch budget", "patches", "seconds", "speed-up vs best"], speed_rows),
    ]
    accuracy = result["accuracy"]
    if "reason" in accuracy:
        blocks.append(f"**Accuracy not measured**: {accuracy['reason']}")
    else:
        rows = [[level, _budget(budgets[level]), fmt(values["mean_patches"], ".1f"), fmt(values["S_measure"], ".4f"),
                 fmt(values["MAE"], ".4f"), fmt(values["mBA"], ".4f"), fmt(values["median_seconds"], ".2f")]
                for level, values in accuracy["levels"].items()]
        blocks += [
            f"Accuracy: run `{result['workdir']}` (preset {accuracy['preset']}, D = {accuracy['patch_size']} px), the "
            f"full variant on its {accuracy['images']} synthetic test scenes.",
            table(["level", "patch budget", "patches (mean)", "S ↑", "MAE ↓", "mBA ↑", "seconds (median)"], rows),
        ]
    return markdown(*blocks)


if __name__ == "__main__":
    main()
