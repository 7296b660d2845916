"""The paper's Figure 9: S-measure and MAE of the LRN's output against the number of patches, APS vs random.

On the test scenes of the synthetic set the run trained on (`common.run_scenes`: for the demo, the scenes
`python train.py` evaluates), for K in 1, 2, 4, 8, 16 and every image:

* APS: the inference APS boxes (`hrsod_tf.aps.inference_boxes_tf`) capped at K, keeping the K cells with the
  most uncertain pixels (`enforce_max_patches`); an image whose uncertain pixels fit in fewer cells gets fewer
  (its mean count is reported), refined by the APS-trained LRN;
* random: K boxes of side D at uniformly random places (`hrsod_tf.aps.random_boxes_tf`), refined by the
  RPS-trained LRN (stage rps_lrn, `python train.py --stage lrn --sampler rps`) when the run has one, else by the
  APS-trained LRN (the JSON and the figure say which);
* fusion as the pipeline's "gsn+aps+lrn" (full_resolution protocol): the refined patches replace the GSN's map
  inside the uncertain region; S-measure and MAE of the fused maps ("measured on the outputs of LRN", as the
  paper's caption says), with `hrsod_tf.evaluation.evaluate_arrays`.

The figure (two panels, as the paper's) goes to --figure (default docs/figures/patch_count.png) and the run's
report folder.

    python benchmarks/patch_count.py --workdir runs/demo [--count N] [--quick] [--json OUT] [--figure PNG]
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import common  # noqa: F401  (before TensorFlow: its C++ logging quiet, its oneDNN kernels on)
import tensorflow as tf
from common import REPO_ROOT, base_parser, emit, fmt, full_resolution_stages, log, markdown, run_scenes, table

from hrsod_tf.aps import inference_boxes_tf, random_boxes_tf
from hrsod_tf.evaluation.folders import evaluate_arrays
from hrsod_tf.evaluation.plots import plot_patch_count
from hrsod_tf.pipeline import SaliencyPipeline
from hrsod_tf.workdir import WorkDir

PATCH_COUNTS = (1, 2, 4, 8, 16)
DEFAULT_FIGURE = REPO_ROOT / "docs" / "figures" / "patch_count.png"


def load_pipeline(workdir: str):
    """(pipeline, None) for a run with a trained GSN and LRN, else (None, the reason)."""
    run = WorkDir(workdir)
    if not run.has_config():
        return None, f"{workdir} has no config.json: train the demo first (`python train.py`)"
    for stage in ("gsn", "lrn"):
        if not run.is_finished(stage):
            return None, f"{workdir} has no trained {stage.upper()}: train the demo first (`python train.py`)"
    return SaliencyPipeline.from_workdir(workdir, require=("gsn", "lrn")), None


def refiners(pipeline):
    """{sampler: tf.function (image, coarse, count) -> (fused map, patches used)} for "aps" and "random"."""
    stages = full_resolution_stages(pipeline)
    networks, aps = pipeline.networks, pipeline.config.aps
    functions = {}
    for count in PATCH_COUNTS:
        capped = dataclasses.replace(aps, max_patches=count)

        def aps_boxes(coarse, capped=capped):
            return inference_boxes_tf(coarse, capped, enforce_max_patches=True)

        def random_boxes(coarse, count=count):
            return random_boxes_tf(tf.shape(coarse)[:2], count, aps.patch_size)

        for sampler, boxes_of, lrn in (("aps", aps_boxes, networks.lrn),
                                       ("random", random_boxes, networks.rps_lrn or networks.lrn)):
            def refine(image, coarse, boxes_of=boxes_of, lrn=lrn):
                boxes = boxes_of(coarse)
                return stages.refine(image, coarse, boxes, lrn), tf.shape(boxes)[0]

            functions[sampler, count] = tf.function(refine, input_signature=[
                tf.TensorSpec([None, None, 3], tf.uint8), tf.TensorSpec([None, None, 1], tf.float32)])
    return stages, functions


def run_images(pipeline, scenes) -> tuple[dict, dict]:
    """{(sampler, K): [(fused map, mask), ...]} and {(sampler, K): [patches used per image]}."""
    stages, functions = refiners(pipeline)
    pairs = {key: [] for key in functions}
    used = {key: [] for key in functions}
    for name, image, mask in scenes:
        start = time.perf_counter()
        coarse = stages.coarse(image)
        for key, refine in functions.items():
            fused, patches = refine(image, coarse)
            pairs[key].append((fused.numpy()[..., 0], mask))
            used[key].append(int(patches))
        log(f"  {name} {image.shape[1]}x{image.shape[0]}: {time.perf_counter() - start:.1f} s")
    return pairs, used


def curves_of(pairs: dict, used: dict) -> dict:
    """{sampler: {"S_measure": [...], "MAE": [...], "mean_patches": [...]}} over PATCH_COUNTS."""
    curves = {}
    for sampler in ("aps", "random"):
        rows = {"S_measure": [], "MAE": [], "mean_patches": []}
        for count in PATCH_COUNTS:
            metrics = evaluate_arrays(pairs[sampler, count], boundary=False).metrics
            rows["S_measure"].append(metrics["S_measure"])
            rows["MAE"].append(metrics["MAE"])
            rows["mean_patches"].append(sum(used[sampler, count]) / len(used[sampler, count]))
        curves[sampler] = rows
    return curves


def main(argv=None) -> dict:
    parser = base_parser(__doc__)
    parser.add_argument("--workdir", default="runs/demo", help="a run with a trained GSN and LRN (and rps_lrn)")
    parser.add_argument("--count", type=int, default=None,
                        help="test scenes (default: the run's test split size, or 4 with --quick)")
    parser.add_argument("--figure", type=Path, default=DEFAULT_FIGURE, help=f"the PNG (default {DEFAULT_FIGURE})")
    args = parser.parse_args(argv)

    pipeline, reason = load_pipeline(args.workdir)
    if pipeline is None:
        log(f"not measured: {reason}")
        return emit({"benchmark": "patch_count", "measured": False, "reason": reason, "workdir": args.workdir}, args,
                    render)

    data, scenes = run_scenes(args.workdir, "test", args.count or (4 if args.quick else None))
    count = args.count or (4 if args.quick else data.synthetic_test_size)
    random_lrn = "RPS-trained LRN" if pipeline.rps_is_trained else "APS-trained LRN"
    log(f"Figure 9 on {count} synthetic test scenes ({data.synthetic_min_side}-{data.synthetic_max_side} px); "
        f"random patches refined by the {random_lrn}")
    pairs, used = run_images(pipeline, scenes)
    curves = curves_of(pairs, used)
    labels = {"aps": "APS (APS-trained LRN)", "random": f"random patches ({random_lrn})"}
    title = (f"{count} synthetic test scenes, run {Path(args.workdir).name} ({pipeline.config.preset} preset, "
             f"D = {pipeline.config.aps.patch_size} px)")
    figure = plot_patch_count(PATCH_COUNTS, {labels[k]: v for k, v in curves.items()}, args.figure, title=title)
    report_copy = WorkDir(args.workdir).report_dir / "patch_count.png"
    report_copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(figure, report_copy)
    log(f"wrote {figure} and {report_copy}")
    return emit({"benchmark": "patch_count", "measured": True, "workdir": args.workdir,
                 "preset": pipeline.config.preset, "patch_size": pipeline.config.aps.patch_size, "images": count,
                 "patches": list(PATCH_COUNTS), "random_lrn": random_lrn, "curves": curves,
                 "figure": str(figure)}, args, render)


def render(result: dict) -> str:
    """The setting, the figure (linked from docs/) and its curves as a table."""
    if not result.get("measured"):
        return f"**Not measured: train the demo first** (`python train.py`). {result.get('reason', '')}"
    figure, docs = Path(result["figure"]), REPO_ROOT / "docs"
    figure = figure.relative_to(docs) if figure.is_relative_to(docs) else figure
    aps, rand = result["curves"]["aps"], result["curves"]["random"]
    rows = [[str(k), fmt(aps["mean_patches"][i], ".1f"), fmt(aps["S_measure"][i], ".4f"), fmt(aps["MAE"][i], ".4f"),
             fmt(rand["S_measure"][i], ".4f"), fmt(rand["MAE"][i], ".4f")] for i, k in enumerate(result["patches"])]
    return markdown(
        f"Run `{result['workdir']}` (preset {result['preset']}, D = {result['patch_size']} px), {result['images']} "
        "synthetic test scenes; the LRN's output fused into the GSN map inside the uncertain region (the pipeline's "
        "gsn+aps+lrn), for K patches: APS capped at the K cells with the most uncertain pixels (fewer when the "
        f"uncertain pixels fit in fewer), random patches refined by the {result['random_lrn']}. The paper draws this "
        "for HRSOD-Test (its Figure 9: APS is less sensitive to the number of patches).",
        f"![Figure 9: S-measure and MAE against the number of patches]({figure})",
        table(["K", "APS patches (mean)", "APS S ↑", "APS MAE ↓", "random S ↑", "random MAE ↓"], rows))


if __name__ == "__main__":
    main()
