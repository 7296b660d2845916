"""Evaluating the paper's Table-4 rows, and filling the map caches of training: before and after sharing the work.

On the test scenes of the synthetic set the run trained on (`common.run_scenes`: the scenes the demo
evaluates), every image is evaluated both ways, alternating image by image in one process:

* before (as hrsod-tf evaluated until this step was written): the pipeline's function traced with AutoGraph,
  pasting the refined patches with ``tensor_scatter_nd_add``; each "+crf" row runs a dense CRF of its own
  (`dense_crf`); each row's metrics are computed alone (`SODEvaluator(shared=False)`: pysodmetrics' own ``step``
  for the standard metrics, a histogram per metric, the mask's distance transforms, boundary and bands once per
  map);
* after: the pipeline's own function (no AutoGraph, the paste by segment sums); one CRF for both "+crf" rows
  (`dense_crf_maps`: the image's pairwise terms built once); one `GroundTruth` per image shared by the six rows'
  metrics, one histogram per map.

It reports the seconds per image of each part (the pipeline graph of the rows it computes, the CRF, the metrics)
and their total, the ratios, and whether the two ways agree: the maps and the CRF's output bit for bit, the
metrics to their largest difference (BDE relative: OpenCV's distance transform itself varies by a float32 ulp
from call to call). Then, on training scenes, the map caches' work per image both ways: the LRN stage's coarse
maps (the GSN run layer by layer in eager mode before, traced after) and the GLFN stage's fused maps (the
GSN+APS+LRN map at full resolution, with either paste); and the first calls (tracing) of each way.

    python benchmarks/evaluation_speed.py --workdir runs/demo [--images N] [--cache-images N] [--quick]
"""

from __future__ import annotations

import contextlib
import time

import common  # noqa: F401  (before TensorFlow: its C++ logging quiet, its oneDNN kernels on)
import numpy as np
import tensorflow as tf
from common import base_parser, emit, fmt, log, machine_info, markdown, run_scenes, table

from hrsod_tf.evaluation.metrics import RESULT_KEYS, GroundTruth, SODEvaluator
from hrsod_tf.evaluation.variant_report import TABLE4_VARIANTS, runnable_variants
from hrsod_tf.image_io import saliency_to_uint8
from hrsod_tf.pipeline import SaliencyPipeline, graph_ops
from hrsod_tf.pipeline.crf import dense_crf, dense_crf_maps
from hrsod_tf.pipeline.graph_ops import gsn_map, traced_gsn_map
from hrsod_tf.pipeline.variants import CRF_VARIANTS
from hrsod_tf.workdir import WorkDir

WAYS = ("before", "after")
PARTS = ("graph", "crf", "metrics")
CACHE_ROW = "gsn+aps+lrn"  # what the fused-map cache stores


def scatter_paste_one_size(patches, boxes, height_width, method):
    """The paste of boxes of one size as it was before (two ``tensor_scatter_nd_add``), for the "before" graph."""
    count_boxes = tf.shape(boxes)[0]
    first = tf.concat([boxes, [[0, 0, 1, 1]]], axis=0)[0]
    box_h, box_w = first[2] - first[0], first[3] - first[1]
    resized = tf.image.resize(patches, tf.stack([box_h, box_w]), method=method)
    rows = boxes[:, 0:1] + tf.range(box_h)[tf.newaxis]
    cols = boxes[:, 1:2] + tf.range(box_w)[tf.newaxis]
    shape = tf.stack([count_boxes, box_h, box_w])
    grid = tf.stack([tf.broadcast_to(rows[:, :, tf.newaxis], shape), tf.broadcast_to(cols[:, tf.newaxis, :], shape)],
                    axis=-1)
    zeros = tf.zeros(tf.concat([height_width, [1]], axis=0), tf.float32)
    return tf.tensor_scatter_nd_add(zeros, grid, resized), tf.tensor_scatter_nd_add(zeros, grid, tf.ones_like(resized))


@contextlib.contextmanager
def pasting_with(paste):
    """`graph_ops` pastes one-size boxes with `paste` while a pipeline's functions are traced in this block."""
    saved = graph_ops._paste_one_size
    graph_ops._paste_one_size = paste
    try:
        yield
    finally:
        graph_ops._paste_one_size = saved


def crf_one_per_map(image, saliencies):
    """The CRF as before: one of its own for each map."""
    return [dense_crf(image, saliency) for saliency in saliencies]


class Way:
    """One way of evaluating: its pipeline functions (after: the pipeline's own; before: traced with AutoGraph and
    the scatter paste, as they were), its CRF, whether the metrics share a mask's terms; the per-row evaluators
    and the seconds of each part."""

    def __init__(self, name, pipeline, rows, graph_rows, image):
        self.name, self.pipeline, self.rows, self.graph_rows = name, pipeline, rows, graph_rows
        self.shared = name == "after"
        self.crf = dense_crf_maps if self.shared else crf_one_per_map
        self.evaluators = {row: SODEvaluator(shared=self.shared) for row in rows}
        self.seconds = {part: [] for part in PARTS}
        self.functions, self.first_call = {}, {}
        for traced in (graph_rows, (CACHE_ROW,)):
            if self.shared:
                self.functions[traced] = lambda x, traced=traced: pipeline.predict_variants(x, traced)
            else:
                self.functions[traced] = tf.function(lambda x, traced=traced: pipeline.variants_graph(x, traced),
                                                     input_signature=[tf.TensorSpec([None, None, 3], tf.uint8)])
            with pasting_with(graph_ops._paste_one_size if self.shared else scatter_paste_one_size):
                start = time.perf_counter()
                self.functions[traced](image)
                self.first_call[",".join(traced)] = time.perf_counter() - start

    def evaluate(self, image, mask) -> tuple[dict, list]:
        """Adds one image to every row's evaluator; returns the graph's maps and the CRF's (for the comparison)."""
        start = time.perf_counter()
        maps = {row: m.numpy() for row, m in self.functions[self.graph_rows](image).items()}
        graph_done = time.perf_counter()
        crf_rows = [row for row in self.rows if row in CRF_VARIANTS]
        refined = self.crf(image, [maps[CRF_VARIANTS[row]] for row in crf_rows]) if crf_rows else []
        crf_done = time.perf_counter()
        quantised = {row: saliency_to_uint8(m) for row, m in {**maps, **dict(zip(crf_rows, refined))}.items()}
        truth = GroundTruth(mask) if self.shared else mask
        for row in self.rows:
            self.evaluators[row].step(quantised[row], truth)
        done = time.perf_counter()
        for part, seconds in zip(PARTS, (graph_done - start, crf_done - graph_done, done - crf_done)):
            self.seconds[part].append(seconds)
        return maps, refined

    def cache_map(self, image) -> tuple[np.ndarray, float]:
        """The fused-map cache's map of a training image, and its seconds."""
        start = time.perf_counter()
        fused = self.functions[CACHE_ROW,](image)[CACHE_ROW].numpy()
        return fused, time.perf_counter() - start


def _largest_differences(before: dict, after: dict) -> dict:
    """{"absolute": largest |after - before| over rows and keys but BDE, "bde_relative": BDE's largest relative}."""
    absolute, bde = 0.0, 0.0
    for row in before:
        for key in RESULT_KEYS:
            a, b = after[row][key], before[row][key]
            if np.isnan(a) and np.isnan(b):
                continue
            if key == "BDE":
                bde = max(bde, abs(a - b) / max(abs(b), 1e-12))
            else:
                absolute = max(absolute, abs(a - b))
    return {"absolute": absolute, "bde_relative": bde}


def _per_image(seconds: dict) -> dict:
    """Mean seconds per image of each part and of their total."""
    means = {part: float(np.mean(values)) for part, values in seconds.items()}
    return {**means, "total": sum(means.values())}


def measure_caches(ways: dict, pipeline, scenes) -> dict:
    """Seconds per training image of each map cache's work, both ways alternated, and whether the maps agree:
    ``coarse`` (the LRN stage's: the GSN at its input size, run layer by layer in eager mode before, traced
    after) and ``fused`` (the GLFN stage's: the GSN+APS+LRN map, the graph with either paste)."""
    gsn, size = pipeline.networks.gsn, pipeline.config.model.gsn_input_size
    traced = traced_gsn_map(gsn, size)
    coarse = {"before": lambda image: gsn_map(gsn, image, size).numpy(), "after": lambda image: traced(image).numpy()}
    seconds = {cache: {way: [] for way in WAYS} for cache in ("coarse", "fused")}
    identical = {"coarse": True, "fused": True}
    for index, (_, image, _) in enumerate(scenes):
        if index == 0:
            coarse["after"](image)  # traces it
        maps = {"coarse": {}, "fused": {}}
        for way in (WAYS if index % 2 == 0 else WAYS[::-1]):
            start = time.perf_counter()
            maps["coarse"][way] = coarse[way](image)
            seconds["coarse"][way].append(time.perf_counter() - start)
            maps["fused"][way], fused_seconds = ways[way].cache_map(image)
            seconds["fused"][way].append(fused_seconds)
        for cache in identical:
            identical[cache] &= bool(np.array_equal(maps[cache]["before"], maps[cache]["after"]))
    result = {}
    for cache, per_way in seconds.items():
        means = {way: float(np.mean(values)) if values else None for way, values in per_way.items()}
        ratio = means["before"] / means["after"] if means["after"] else None
        result[cache] = {"seconds_per_image": means, "ratio": ratio, "images": len(per_way["after"]),
                         "identical": identical[cache]}
    return result


def measure(workdir: str, images: int | None, cache_images: int) -> dict:
    run = WorkDir(workdir)
    after_pipeline = SaliencyPipeline.from_workdir(workdir, require=("gsn", "lrn", "glfn"))
    before_pipeline = SaliencyPipeline(after_pipeline.config, after_pipeline.networks)  # the same networks
    rows = tuple(runnable_variants(after_pipeline, TABLE4_VARIANTS))
    graph_rows = tuple(dict.fromkeys(CRF_VARIANTS.get(row, row) for row in rows))
    data, scenes = run_scenes(workdir, "test", images)
    scenes = list(scenes)
    count = len(scenes)
    sides = (data.synthetic_min_side, data.synthetic_max_side)
    log(f"{workdir}: rows {', '.join(rows)}; {count} test scenes of {sides[0]}-{sides[1]} px")
    ways = {"before": Way("before", before_pipeline, rows, graph_rows, scenes[0][1]),
            "after": Way("after", after_pipeline, rows, graph_rows, scenes[0][1])}
    identical = {"maps": True, "crf": True}
    for index, (name, image, mask) in enumerate(scenes):
        outputs = {}
        for way in (WAYS if index % 2 == 0 else WAYS[::-1]):  # alternate which goes first
            outputs[way] = ways[way].evaluate(image, mask)
        (maps_b, crf_b), (maps_a, crf_a) = outputs["before"], outputs["after"]
        identical["maps"] &= all(np.array_equal(maps_b[row], maps_a[row]) for row in maps_b)
        identical["crf"] &= all(np.array_equal(b, a) for b, a in zip(crf_b, crf_a))
        log(f"  {name} {image.shape[1]}x{image.shape[0]}: " + ", ".join(
            f"{way} {sum(ways[way].seconds[part][-1] for part in PARTS):.1f} s" for way in WAYS))
    results = {way: {row: ways[way].evaluators[row].results() for row in rows} for way in WAYS}

    _, training_scenes = run_scenes(workdir, "train", cache_images)
    caches = measure_caches(ways, after_pipeline, training_scenes)
    identical.update({f"{cache}_maps": caches[cache]["identical"] for cache in caches})
    per_image = {way: _per_image(ways[way].seconds) for way in WAYS}
    return {
        "workdir": str(run.root), "preset": after_pipeline.config.preset, "rows": list(rows),
        "images": count, "cache_images": cache_images, "scene_sides": list(sides),
        "per_image_seconds": per_image,
        "seconds": {way: ways[way].seconds for way in WAYS},
        "ratios": {part: per_image["before"][part] / per_image["after"][part] for part in (*PARTS, "total")
                   if per_image["after"][part] > 0},
        "caches": caches,
        "first_call_seconds": {way: ways[way].first_call for way in WAYS},
        "identical": identical,
        "largest_metric_difference": _largest_differences(results["before"], results["after"]),
        "results": results["after"],
    }


def main(argv=None) -> dict:
    parser = base_parser(__doc__)
    parser.add_argument("--workdir", default="runs/demo", help="a run with a trained GSN, LRN and GLFN")
    parser.add_argument("--images", type=int, default=None,
                        help="test scenes evaluated (default: the run's test split size, 2 with --quick)")
    parser.add_argument("--cache-images", type=int, default=None,
                        help="training scenes for the map caches (default 24, 2 with --quick; 0: none)")
    args = parser.parse_args(argv)
    run = WorkDir(args.workdir)
    missing = [stage for stage in ("gsn", "lrn", "glfn") if not run.is_finished(stage)] if run.has_config() else ["all"]
    if missing:
        reason = f"{args.workdir} has no trained {', '.join(missing)}: train the demo first (`python train.py`)"
        log(f"not measured: {reason}")
        return emit({"benchmark": "evaluation_speed", "measured": False, "reason": reason}, args, render)
    log(f"CPU flags: {' '.join(machine_info().get('isa_flags', []))}")
    images = args.images or (2 if args.quick else None)
    cache_images = args.cache_images if args.cache_images is not None else (2 if args.quick else 24)
    return emit({"benchmark": "evaluation_speed", "measured": True, **measure(args.workdir, images, cache_images)},
                args, render)


def render(result: dict) -> str:
    """Seconds per image of each part both ways, the ratios, the agreement, then the map caches."""
    if not result.get("measured"):
        return f"**Not measured: train the demo first** (`python train.py`). {result.get('reason', '')}"
    per_image, ratios = result["per_image_seconds"], result["ratios"]
    names = {"graph": "pipeline graph (" + ", ".join(r for r in result["rows"] if "+crf" not in r) + ")",
             "crf": "dense CRF (the +crf rows)", "metrics": "metrics (quantise, every sod metric, each row)",
             "total": "**evaluation of an image, all rows**"}
    rows = [[names[part], fmt(per_image["before"][part], ".2f"), fmt(per_image["after"][part], ".2f"),
             fmt(ratios.get(part), ".2f") + "x"] for part in (*PARTS, "total")]
    same, diff = result["identical"], result["largest_metric_difference"]
    machine = result["machine"]
    blocks = [
        f"Run `{result['workdir']}` (preset {result['preset']}), its {result['images']} synthetic test scenes "
        f"({result['scene_sides'][0]}-{result['scene_sides'][1]} px); before and after alternated image by image in "
        f"one process. CPU: {machine['cpu_model']}, {machine['usable_cores']} usable cores, flags "
        f"{' '.join(machine['isa_flags'])}.",
        table(["seconds per image", "before", "after", "before / after"], rows),
        f"Same results: maps {'identical' if same['maps'] else '**differ**'}, CRF output "
        f"{'identical' if same['crf'] else '**differs**'}; metrics' largest difference "
        f"{diff['absolute']:.1e} (BDE: {diff['bde_relative']:.1e} relative).",
    ]
    caches = result.get("caches", {})
    if caches.get("fused", {}).get("images"):
        names = {"coarse": "coarse maps (the LRN stage's: the GSN; eager before, traced after)",
                 "fused": "fused maps (the GLFN stage's: GSN+APS+LRN at full resolution, the graph)"}
        blocks.append(table(
            [f"map caches, seconds per training image ({caches['fused']['images']} scenes)", "before", "after",
             "before / after", "maps"],
            [[names[cache], fmt(c["seconds_per_image"]["before"], ".3f"), fmt(c["seconds_per_image"]["after"], ".3f"),
              fmt(c["ratio"], ".2f") + "x", "identical" if c["identical"] else "**differ**"]
             for cache, c in caches.items()]))
    first = result["first_call_seconds"]
    blocks.append("First calls (tracing): " + "; ".join(
        f"{way}: " + ", ".join(f"{rows} {fmt(seconds, '.1f')} s" for rows, seconds in first[way].items())
        for way in WAYS) + ".")
    return markdown(*blocks)


if __name__ == "__main__":
    main()
