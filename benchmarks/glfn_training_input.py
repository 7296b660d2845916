"""What the GLFN should see in training: whole images warped (the paper) or full-resolution crops.

From a run with a trained GSN and LRN (the demo: `python train.py`), the GLFN stage is trained again in a
temporary copy of the run, once per ``input_mode`` ("warp", "crop") and ``--seeds`` value, with the run's
own GLFN settings otherwise (input size, batch size, steps). Each GLFN is then run at full resolution on the
run's *validation* images (the holdout of `hrsod_tf.data.validation`, never the test split) on their cached
GSN+APS+LRN maps, and both are evaluated: what the GLFN adds to the fused map, per mode and seed, on
adaptive Fβ, S-measure and MAE, with the mean map value inside and outside the objects (a GLFN that greys
objects has a low inside mean).

    python benchmarks/glfn_training_input.py --workdir runs/demo [--seeds 0 1] [--modes warp crop]
        [--steps N] [--quick] [--json OUT]
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
from hrsod_tf.pipeline.networks import keras_probability
from hrsod_tf.training import train_stage
from hrsod_tf.training.stages import fused_map_cache
from hrsod_tf.workdir import WorkDir

MODES = ("warp", "crop")
METRICS = ("Fbeta_adaptive", "S_measure", "MAE", "Fbeta_mean")


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
    evaluator, inside, outside = MapEvaluator(boundary=False), [], []
    for prediction, mask in pairs:
        evaluator.add(prediction, mask)
        inside.append(float(prediction[mask].mean()) if mask.any() else np.nan)
        outside.append(float(prediction[~mask].mean()) if (~mask).any() else np.nan)
    metrics = evaluator.result().metrics
    return {**{key: metrics[key] for key in METRICS}, "mean_inside_objects": float(np.nanmean(inside)),
            "mean_outside_objects": float(np.nanmean(outside))}


def main(argv=None) -> int:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default="runs/demo", help="a run with a trained GSN and LRN")
    parser.add_argument("--dataset", default=DEMO_DATASET, help="the run's --dataset (default: the demo's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--steps", type=int, help="GLFN steps (default: the run's config)")
    args = parser.parse_args(argv)

    run = WorkDir(args.workdir)
    if not (run.has_config() and run.is_finished("gsn") and run.is_finished("lrn")):
        return _not_measured(args, f"{args.workdir} has no trained GSN and LRN: train the demo first "
                                   "(`python train.py`)")
    config = run.load_config()
    steps = args.steps or (20 if args.quick else config.train.glfn.steps)
    seeds = args.seeds[:1] if args.quick else args.seeds
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
    results = []
    with tempfile.TemporaryDirectory(prefix="glfn_training_input_") as tmp:
        for mode in args.modes:
            for seed in seeds:
                log(f"training the GLFN on {mode} inputs, seed {seed}, {steps} steps")
                trial = dataclasses.replace(config, train=dataclasses.replace(
                    config.train, seed=seed, glfn=dataclasses.replace(config.train.glfn, input_mode=mode)))
                copy = _copy_trained_run(run, Path(tmp) / f"{mode}_{seed}")
                start = time.monotonic()
                train_stage(trial, "glfn", copy, source, steps=steps, progress=False)
                seconds = time.monotonic() - start
                glfn = keras_probability(copy.load_model("glfn", trial))
                outputs = ((glfn(image[None].astype(np.float32),
                                                f[None, ..., None])[0, ..., 0].numpy(), m)
                           for image, f, m in images)
                results.append({"input_mode": mode, "seed": seed, "train_seconds": seconds,
                                "batch_norm_statistics": copy.done_info("glfn").get("batch_norm_statistics"),
                                **_scores(outputs)})
                shutil.rmtree(copy.root)

    def gains(mode):
        rows = [r for r in results if r["input_mode"] == mode]
        return rows and all(r["Fbeta_adaptive"] > fused["Fbeta_adaptive"] and r["S_measure"] > fused["S_measure"]
                            and r["MAE"] < fused["MAE"] for r in rows)

    warp_gains = gains("warp") if "warp" in args.modes else None
    emit({"benchmark": "glfn_training_input", "workdir": args.workdir, "dataset": args.dataset,
          "validation": plan.to_dict(), "steps": steps, "input_size": config.train.glfn.input_size,
          "batch_size": config.train.glfn.batch_size, "fused": fused, "fused_training_images": fused_training,
          "glfn": results,
          "target": target(warp_gains, f"warp: the GLFN improves all three metrics for {len(seeds)} seed(s): "
                           f"{'yes' if warp_gains else 'no'}",
                           "the GLFN trained on warped images improves adaptive Fβ, S and MAE over the fused map "
                           "on the validation images, for every seed")}, args, render)
    return 0


SCORES = (("Fbeta_adaptive", ".3f"), ("S_measure", ".3f"), ("MAE", ".4f"), ("Fbeta_mean", ".3f"),
          ("mean_inside_objects", ".3f"), ("mean_outside_objects", ".4f"))


def render(result: dict) -> str:
    if "fused" not in result:
        return f"**Not measured**: {result['target']['why']}"
    validation = result["validation"]

    def scores(row: dict) -> list:
        return [fmt(row[key], spec) for key, spec in SCORES]

    rows = [["GSN+APS+LRN (the GLFN's input)", "", *scores(result["fused"]), ""]]
    if result.get("fused_training_images"):
        rows.append(["GSN+APS+LRN on 24 training images", "", *scores(result["fused_training_images"]), ""])
    rows += [[f"+ GLFN, {r['input_mode']}", str(r["seed"]), *scores(r), fmt(r["train_seconds"], ".0f")]
             for r in result["glfn"]]
    return markdown(
        f"The GLFN stage of `{result['workdir']}` trained again for each input mode and seed ({result['steps']} steps, "
        f"batch {result['batch_size']}, inputs of {result['input_size']} px: whole images warped, or random crops at "
        "full resolution), everything else the run's own. Evaluated at full resolution on the run's "
        f"{len(validation['filenames'])} validation images ({validation['how']}), on their cached GSN+APS+LRN maps; "
        "the test split is not used. *Inside* / *outside*: the mean map value on object / background pixels (grey "
        "objects have a low inside mean). The second row is the GLFN's input on training images: if it were much "
        "better than on held-out ones, the GLFN would learn to trust it more than it should.",
        table(["map", "seed", "Fβ adaptive ↑", "S ↑", "MAE ↓", "mean Fβ ↑", "inside ↑", "outside ↓", "training s"],
              rows))


def _not_measured(args, why: str) -> int:
    log(f"not measured: {why}")
    emit({"benchmark": "glfn_training_input", "target": target(None, "not measured", "", why)}, args, render)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
