"""APS vs dense tiling at the same patch size, with a trained run's networks.

On the first n scenes of the test split of the synthetic set the run trained on (`common.run_scenes`: the demo's
photo-like scenes for the demo), for every image:

* patches: the boxes of inference APS (`pipeline.boxes(F, "aps")`) and of dense tiling
  (`pipeline.boxes(F, "dense")`, the whole image in D x D tiles), D = the run's `aps.patch_size`;
* maps of the variants "gsn", "gsn+aps+lrn" and "dense+lrn" (`pipeline.predict_variants`, one shared GSN
  pass), evaluated with `hrsod_tf.evaluation.evaluate_arrays` (S-measure, BDE, MAE, ...).

Target: APS uses <= 40% of the dense patches with a BDE no worse than dense tiling's.
The run must have a trained GSN and LRN (`python train.py` trains the demo in runs/demo); otherwise the
script reports "not measured" and exits with status 0.

    python benchmarks/aps_vs_dense.py --workdir runs/demo [--count 8] [--quick] [--json OUT]
"""

from __future__ import annotations

import time

import common  # noqa: F401  (before TensorFlow: its C++ logging quiet, its oneDNN kernels on)
import tensorflow as tf
from common import base_parser, emit, fmt, full_resolution_stages, log, markdown, run_scenes, table, target

from hrsod_tf.evaluation.folders import evaluate_arrays
from hrsod_tf.pipeline import SaliencyPipeline
from hrsod_tf.pipeline.variants import stages_for_variant
from hrsod_tf.workdir import WorkDir

VARIANTS = ("gsn", "gsn+aps+lrn", "dense+lrn")
TARGET_RATIO = 0.40
METRICS = ("S_measure", "BDE", "MAE", "Fbeta_max", "mBA")


def load_pipeline(workdir: str):
    """(pipeline, None) for a run with a trained GSN and LRN, else (None, the reason)."""
    run = WorkDir(workdir)
    if not run.has_config():
        return None, f"{workdir} has no config.json: train the demo first (`python train.py`)"
    stages = stages_for_variant("gsn+aps+lrn")  # dense+lrn needs the same
    for stage in stages:
        if not run.is_finished(stage):
            return None, f"{workdir} has no trained {stage.upper()}: train the demo first (`python train.py`)"
    return SaliencyPipeline.from_workdir(workdir, require=stages), None


def patch_counter(pipeline):
    """A tf.function image -> (APS patches, dense patches)."""
    stages = full_resolution_stages(pipeline)

    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.uint8)])
    def count(image):
        coarse = stages.coarse(image)
        return tf.shape(stages.boxes(coarse, "aps"))[0], tf.shape(stages.boxes(coarse, "dense"))[0]

    return count


def run_images(pipeline, scenes) -> tuple[list, dict]:
    """Per-image patch counts, and {variant: [(pred, gt), ...]} for the evaluation."""
    count = patch_counter(pipeline)
    rows, pairs = [], {v: [] for v in VARIANTS}
    for name, image, mask in scenes:
        start = time.perf_counter()
        aps, dense = (int(x) for x in count(image))
        maps = pipeline.predict_variants(image, VARIANTS)
        for variant in VARIANTS:
            pairs[variant].append((maps[variant].numpy()[..., 0], mask))
        rows.append({"name": name, "height": image.shape[0], "width": image.shape[1],
                     "aps_patches": aps, "dense_patches": dense, "seconds": time.perf_counter() - start})
        log(f"  {name} {image.shape[1]}x{image.shape[0]}: APS {aps} patches, dense {dense}")
    return rows, pairs


def evaluate(pairs: dict) -> dict:
    """{variant: {metric: value}} for METRICS."""
    results = {}
    for variant, variant_pairs in pairs.items():
        metrics = evaluate_arrays(variant_pairs, boundary=True).metrics
        results[variant] = {key: metrics.get(key) for key in METRICS}
    return results


def verdict(rows: list, metrics: dict) -> dict:
    """Patch ratio (sum over images) and the BDE comparison against the target."""
    aps, dense = sum(r["aps_patches"] for r in rows), sum(r["dense_patches"] for r in rows)
    ratio = aps / max(dense, 1)
    bde_aps, bde_dense = metrics["gsn+aps+lrn"]["BDE"], metrics["dense+lrn"]["BDE"]
    bde_ok = bde_aps is not None and bde_dense is not None and bde_aps <= bde_dense
    met = ratio <= TARGET_RATIO and bde_ok
    return {"aps_patches_total": aps, "dense_patches_total": dense, "patch_ratio": ratio,
            "target": target(met, f"APS/dense patches {100 * ratio:.0f}%, BDE {bde_aps:.2f} vs {bde_dense:.2f} px"
                             if bde_ok or (bde_aps is not None and bde_dense is not None) else
                             f"APS/dense patches {100 * ratio:.0f}%", "<= 40% of the patches, BDE no worse")}


def render(result: dict) -> str:
    if not result.get("measured"):
        return f"**Not measured: train the demo first** (`python train.py`). {result.get('reason', '')}"
    rows = [[v, *(fmt(m.get(k), ".3f" if k != "BDE" else ".2f") for k in ("S_measure", "BDE", "MAE", "Fbeta_max"))]
            for v, m in result["metrics"].items()]
    return markdown(
        f"Run `{result['workdir']}` (preset {result['preset']}, D = {result['patch_size']} px), "
        f"{len(result['images'])} synthetic test scenes; APS used {result['aps_patches_total']} patches, dense tiling "
        f"{result['dense_patches_total']} (**{100 * result['patch_ratio']:.0f}%**).",
        table(["variant", "S-measure", "BDE (px)", "MAE", "maxF"], rows))


def main(argv=None) -> dict:
    parser = base_parser(__doc__)
    parser.add_argument("--workdir", default="runs/demo", help="a run with a trained GSN and LRN")
    parser.add_argument("--count", type=int, default=None, help="test images (default 8, or 2 with --quick)")
    args = parser.parse_args(argv)
    count = args.count or (2 if args.quick else 8)

    pipeline, reason = load_pipeline(args.workdir)
    if pipeline is None:
        log(f"not measured: {reason}")
        return emit({"benchmark": "aps_vs_dense", "measured": False, "reason": reason,
                     "workdir": args.workdir,
                     "target": target(None, "not measured: train the demo first",
                                      "<= 40% of dense patches, BDE no worse")}, args, render)

    data, scenes = run_scenes(args.workdir, "test", count)
    log(f"APS vs dense on {count} synthetic test scenes ({data.synthetic_min_side}-{data.synthetic_max_side} px)")
    rows, pairs = run_images(pipeline, scenes)
    metrics = evaluate(pairs)
    result = {"benchmark": "aps_vs_dense", "measured": True, "workdir": args.workdir,
              "preset": pipeline.config.preset, "patch_size": pipeline.config.aps.patch_size,
              "images": rows, "metrics": metrics, **verdict(rows, metrics)}
    return emit(result, args, render)


if __name__ == "__main__":
    main()
