"""What the GLFN should see in training: whole images warped (the paper) or full-resolution crops, and at what size.

From a run with a trained GSN and LRN (the demo: `python train.py`), the GLFN stage is trained again in a
temporary copy of the run, once per ``input_mode`` ("warp", "crop"), ``--input-sizes`` value and ``--seeds``
value, with the run's own GLFN settings otherwise (batch size, steps). Each GLFN, and the run's own when it has
one, is then run at full resolution on the run's *validation* images (the holdout of
`hrsod_tf.data.validation`, never the test split) on their cached GSN+APS+LRN maps, and evaluated: what the
GLFN adds to the fused map on adaptive Fβ (with its precision and recall), max Fβ, S-measure, MAE and mBA,
with the mean map value inside and outside the objects (a GLFN that greys objects has a low inside mean; one
that lifts the map's false positives with its objects raises recall and lowers precision).

    python benchmarks/glfn_training_input.py --workdir runs/demo [--seeds S ...] [--modes warp crop]
        [--input-sizes PX ...] [--steps N] [--quick] [--json OUT]
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from common import base_parser, emit, fmt, log, markdown, table, target

from hrsod_tf.data.sources import resolve_data_source
from hrsod_tf.data.validation import plan_validation, training_examples, validation_examples
from hrsod_tf.demo import DEMO_DATASET
from hrsod_tf.evaluation.folders import MapEvaluator
from hrsod_tf.evaluation.metrics import prepare
from hrsod_tf.pipeline.networks import keras_probability
from hrsod_tf.training import train_stage
from hrsod_tf.training.stages import fused_map_cache
from hrsod_tf.workdir import WorkDir

MODES = ("warp", "crop")
MODE_DESCRIPTIONS = {"warp": "whole images warped", "crop": "random crops at full resolution"}
METRICS = ("Fbeta_adaptive", "S_measure", "MAE", "Fbeta_mean", "Fbeta_max", "mBA")


def _copy_trained_run(run, root: Path):
    """A new WorkDir at `root` holding `run`'s trained GSN and LRN and its fused-map cache."""
    copy = WorkDir(root)
    for stage in ("gsn", "lrn"):
        copy.stage_dir(stage).mkdir(parents=True)
        for path in (run.final_weights(stage), run.done_path(stage)):
            shutil.copy2(path, copy.stage_dir(stage) / path.name)
    if run.cache_dir("fused").is_dir():  # valid for the copy: its fingerprint holds no path
        shutil.copytree(run.cache_dir("fused"), copy.cache_dir("fused"))
    return copy


def _cached_maps(examples, cache, count=None):
    """(image uint8 [H, W, 3], fused map float [H, W], mask bool [H, W]) of the first `count` `examples`."""
    for example in examples.take(-1 if count is None else count).as_numpy_iterator():
        fused = cache.read(example["image/filename"].decode("utf-8"))[..., 0].astype(np.float32)
        yield example["image"], fused, example["mask"][..., 0] > 127


def _scores(pairs) -> dict:
    """Metrics of (map, mask) pairs, with the mean map value inside and outside the objects."""
    evaluator, inside, outside, precision, recall = MapEvaluator(), [], [], [], []
    for prediction, mask in pairs:
        evaluator.add(prediction, mask)
        inside.append(float(prediction[mask].mean()) if mask.any() else np.nan)
        outside.append(float(prediction[~mask].mean()) if (~mask).any() else np.nan)
        counts = prepare(prediction, mask).adaptive_counts
        precision.append(counts["tp"] / max(counts["tp"] + counts["fp"], 1))
        recall.append(counts["tp"] / max(counts["tp"] + counts["fn"], 1) if mask.any() else np.nan)
    metrics = evaluator.result().metrics
    return {**{key: metrics[key] for key in METRICS}, "mean_inside_objects": float(np.nanmean(inside)),
            "mean_outside_objects": float(np.nanmean(outside)), "precision_adaptive": float(np.mean(precision)),
            "recall_adaptive": float(np.nanmean(recall))}


def _glfn_scores(model, images) -> dict:
    """`_scores` of the Keras GLFN `model` run at full resolution on (image, fused map, mask) `images`."""
    glfn = keras_probability(model)
    return _scores((glfn(image[None].astype(np.float32), fused[None, ..., None])[0, ..., 0].numpy(), mask)
                   for image, fused, mask in images)


def main(argv=None) -> int:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default="runs/demo", help="a run with a trained GSN and LRN")
    parser.add_argument("--dataset", default=DEMO_DATASET, help="the run's --dataset (default: the demo's)")
    parser.add_argument("--seeds", type=int, nargs="+", help="seeds of the GLFNs trained (default: the run's seed)")
    parser.add_argument("--modes", nargs="*", choices=MODES, default=list(MODES),
                        help="input modes to train the GLFN on (none: only evaluate the run's own GLFN)")
    parser.add_argument("--steps", type=int, help="GLFN steps (default: the run's config)")
    parser.add_argument("--input-sizes", type=int, nargs="+",
                        help="sides of the GLFN's training inputs in pixels (default: the run's config)")
    args = parser.parse_args(argv)

    run = WorkDir(args.workdir)
    if not (run.has_config() and run.is_finished("gsn") and run.is_finished("lrn")):
        return _not_measured(args, f"{args.workdir} has no trained GSN and LRN: train the demo first "
                                   "(`python train.py`)")
    config = run.load_config()
    steps = args.steps or (20 if args.quick else config.train.glfn.steps)
    sizes = args.input_sizes or [config.train.glfn.input_size]
    seeds = args.seeds or [config.train.seed]
    seeds = seeds[:1] if args.quick else seeds
    source = resolve_data_source(args.dataset, data_config=config.data)
    plan = plan_validation(source)
    if plan is None:
        return _not_measured(args, f"{args.dataset} has too few images to hold any out for validation")
    cache = fused_map_cache(config, run, source, ["train"] if plan.split == "train" else ["train", plan.split],
                         progress=False)
    images = list(_cached_maps(validation_examples(source, plan), cache))
    log(f"{len(images)} validation images ({plan.how})")
    fused = _scores((f, m) for _, f, m in images)
    # The GLFN trains on the fused maps of training images: are they better than those it meets later?
    fused_training = _scores((f, m) for _, f, m in _cached_maps(training_examples(source, plan), cache, 24))
    run_glfn = None
    if run.is_finished("glfn"):
        glfn = config.train.glfn
        run_glfn = {"input_mode": glfn.input_mode, "input_size": glfn.input_size, "seed": config.train.seed,
                    "steps": run.done_info("glfn").get("step"),
                    **_glfn_scores(run.load_model("glfn", config), images)}
    results = []
    with tempfile.TemporaryDirectory(prefix="glfn_training_input_") as tmp:
        for mode in args.modes:
            for size in sizes:
                for seed in seeds:
                    log(f"training the GLFN on {mode} inputs of {size} px, seed {seed}, {steps} steps")
                    trial = dataclasses.replace(config, train=dataclasses.replace(
                        config.train, seed=seed,
                        glfn=dataclasses.replace(config.train.glfn, input_mode=mode, input_size=size)))
                    copy = _copy_trained_run(run, Path(tmp) / f"{mode}_{size}_{seed}")
                    start = time.monotonic()
                    train_stage(trial, "glfn", copy, source, steps=steps, progress=False)
                    seconds = time.monotonic() - start
                    results.append({"input_mode": mode, "input_size": size, "seed": seed, "train_seconds": seconds,
                                    "batch_norm_statistics": copy.done_info("glfn").get("batch_norm_statistics"),
                                    **_glfn_scores(copy.load_model("glfn", trial), images)})
                    shutil.rmtree(copy.root)

    # every GLFN trained on warped images, the run's own included
    warped = [r for r in [run_glfn, *results] if r is not None and r["input_mode"] == "warp"]
    warp_gains = all(r["Fbeta_adaptive"] > fused["Fbeta_adaptive"] and r["S_measure"] > fused["S_measure"]
                     and r["MAE"] < fused["MAE"] for r in warped) if warped else None
    emit({"benchmark": "glfn_training_input", "workdir": args.workdir, "dataset": args.dataset,
          "validation": plan.to_dict(), "steps": steps, "input_size": config.train.glfn.input_size,
          "input_sizes": sizes, "batch_size": config.train.glfn.batch_size, "fused": fused,
          "fused_training_images": fused_training, "run_glfn": run_glfn, "glfn": results,
          "target": target(warp_gains, f"warp: the GLFN improves all three metrics for {len(warped)} GLFN(s): "
                           f"{'yes' if warp_gains else 'no'}",
                           "every GLFN trained on warped images improves adaptive Fβ, S and MAE over the fused map "
                           "on the validation images")}, args, render)
    return 0


SCORES = (("Fbeta_adaptive", ".3f"), ("precision_adaptive", ".3f"), ("recall_adaptive", ".3f"), ("Fbeta_max", ".3f"),
          ("S_measure", ".3f"), ("MAE", ".4f"), ("mBA", ".3f"), ("mean_inside_objects", ".3f"),
          ("mean_outside_objects", ".4f"))


def render(result: dict) -> str:
    if "fused" not in result:
        return f"**Not measured**: {result['target']['why']}"
    validation = result["validation"]

    def scores(row: dict) -> list:
        return [fmt(row.get(key), spec) for key, spec in SCORES]

    def trained(row: dict) -> str:
        return f"{row['input_mode']}, {row.get('input_size', result['input_size'])} px"

    rows = [["GSN+APS+LRN (the GLFN's input)", "", *scores(result["fused"]), ""]]
    if result.get("fused_training_images"):
        rows.append(["GSN+APS+LRN on 24 training images", "", *scores(result["fused_training_images"]), ""])
    if result.get("run_glfn"):
        run_glfn = result["run_glfn"]
        rows.append([f"+ the run's GLFN ({trained(run_glfn)}, {run_glfn['steps']} steps)", str(run_glfn["seed"]),
                     *scores(run_glfn), ""])
    rows += [[f"+ GLFN, {trained(r)}", str(r["seed"]), *scores(r), fmt(r["train_seconds"], ".0f")]
             for r in result["glfn"]]
    sizes = " or ".join(str(size) for size in result.get("input_sizes", [result["input_size"]]))
    modes = sorted({r["input_mode"] for r in result["glfn"]})
    inputs = " or ".join(MODE_DESCRIPTIONS[mode] for mode in modes)
    intro = (f"The GLFN stage of `{result['workdir']}` trained again for each input mode, size and seed "
             f"({result['steps']} steps, batch {result['batch_size']}, inputs of {sizes} px: {inputs}), "
             "everything else the run's own. " if modes else f"The GLFN of `{result['workdir']}`. ")
    return markdown(
        intro + "Evaluated at full resolution on the run's "
        f"{len(validation['filenames'])} validation images ({validation['how']}), on their cached GSN+APS+LRN maps; "
        "the test split is not used. *P* / *R*: precision and recall at the adaptive threshold (twice the map's "
        "mean), averaged over images. *Inside* / *outside*: the mean map value on object / background pixels (grey "
        "objects have a low inside mean). The second row is the GLFN's input on training images: if it were much "
        "better than on held-out ones, the GLFN would learn to trust it more than it should.",
        table(["map", "seed", "Fβ adaptive ↑", "P", "R", "max Fβ ↑", "S ↑", "MAE ↓", "mBA ↑", "inside ↑",
               "outside ↓", "training s"], rows))


def _not_measured(args, why: str) -> int:
    log(f"not measured: {why}")
    emit({"benchmark": "glfn_training_input", "target": target(None, "not measured", "", why)}, args, render)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
