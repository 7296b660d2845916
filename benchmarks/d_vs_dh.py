"""Table 1's claim behind Ours-DH, on the synthetic sets: high-resolution training images help on a
high-resolution test set and cost little on a low-resolution one.

For each seed the demo's networks (its config, `hrsod_tf.demo.demo_config`: the `small` preset, its steps) are
trained twice: "D" on the low-resolution set alone (`hrsod_synthetic/photo_lowres`: DUTS-like scenes, shortest edge
300-400 px) and "DH" on it and the demo's high-resolution set together (`photo_lowres+photo_small`, the plain
concatenation `hrsod train --dataset A+B` trains on), with the same number of steps. Each run selects its
checkpoints on validation images held out of its own training images, never on a test split. Both are then scored
on both test splits, the method's variants side by side (GSN alone, + APS + LRN, + GLFN).

    python benchmarks/d_vs_dh.py [--workdir runs/d_vs_dh] [--seeds 0 1] [--stages gsn lrn glfn]
        [--scene-style photo|classic] [--data-dir DIR] [--quick] [--no-progress] [--json OUT]

The runs are kept in --workdir (``<workdir>/D_seed0``, ``DH_seed0``, ...): run again, the command reuses the
finished stages and continues an interrupted one. ``--quick`` trains the tiny preset on the tiny sets
(``photo_lowres_tiny``, ``photo_tiny``) for the first seed only, in a temporary folder unless --workdir is given:
a smoke run whose figures mean nothing.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from common import base_parser, emit, fmt, log, log_cpu, markdown, table, target

from hrsod_tf.config import apply_settings, get_preset
from hrsod_tf.data import synthetic_sets
from hrsod_tf.data.sources import resolve_data_source
from hrsod_tf.data.validation import VALIDATION_FRACTION
from hrsod_tf.demo import DEMO_PRESET, demo_config
from hrsod_tf.evaluation.variant_report import VARIANT_TITLES, evaluate_pipeline
from hrsod_tf.pipeline import SaliencyPipeline
from hrsod_tf.training import train_all
from hrsod_tf.workdir import STAGES, WorkDir

QUICK_PRESET = "tiny"
TRAININGS = ("D", "DH")
TEST_SETS = ("high", "low")  # the high-resolution test split, then the low-resolution one
#: The variants scored, each with the stages it needs (the last one trained is the model's output).
VARIANT_STAGES = (("gsn", "gsn"), ("gsn+aps+lrn", "lrn"), ("full", "glfn"))
#: The largest S-measure difference that counts as "little": a cost within it is little, a gain must exceed it.
LITTLE_S = 0.01
COLUMNS = (("Fbeta_adaptive", "Fβ adaptive ↑", ".3f"), ("S_measure", "S ↑", ".3f"), ("MAE", "MAE ↓", ".4f"),
           ("BDE", "BDE ↓", ".2f"), ("mBA", "mBA ↑", ".3f"))
HIGHER_IS_BETTER = {"Fbeta_adaptive": True, "S_measure": True, "MAE": False, "BDE": False, "mBA": True}


def set_names(scene_style: str, quick: bool) -> dict:
    """The named synthetic sets (`hrsod_tf.data.synthetic_sets`) of the high- and low-resolution data: the demo
    preset's own and the low-resolution set beside it (their tiny forms with --quick)."""
    prefix = "photo_" if scene_style == "photo" else ""
    return {"high": f"{prefix}{QUICK_PRESET if quick else DEMO_PRESET}",
            "low": f"{prefix}lowres{'_tiny' if quick else ''}"}


def run_config(root: Path, seed: int, quick: bool):
    """A run's config: the run's own when it has one (a re-run continues it), else the demo's (tiny with --quick),
    with ``train.seed`` = `seed`."""
    if quick and not WorkDir(root).has_config():
        return apply_settings(get_preset(QUICK_PRESET), {"train.seed": seed})
    return demo_config(str(root), seed=seed)


def train_and_score(root: Path, spec: str, seed: int, stages, test_sources: dict, args) -> dict:
    """Trains `stages` of one run on the --dataset `spec` (what is finished is reused), then scores its variants
    on each test source: {"train_seconds", "eval_seconds", "validation", "training_data", "scores": {test set:
    {variant: {metric: value}}}}."""
    run = WorkDir(root)
    config = run_config(root, seed, args.quick)
    source = resolve_data_source(spec, data_dir=args.data_dir, data_config=config.data)
    start = time.monotonic()
    results = train_all(config, run, source, stages=stages, resume=run.has_config(), progress=args.progress)
    if any(result is not None and not result.finished for result in results.values()):
        raise SystemExit(f"{root}: training was interrupted; run the same command again to continue it")
    trained = time.monotonic() - start
    pipeline = SaliencyPipeline.from_workdir(run.root, require=stages)
    variants = [variant for variant, stage in VARIANT_STAGES if stage in stages]
    scores = {}
    for test_set, test_source in test_sources.items():
        evaluation = evaluate_pipeline(pipeline, test_source.examples("test"), variants, progress=args.progress,
                                       total=test_source.num_examples("test"), num_examples=1)
        scores[test_set] = {variant: result.metrics for variant, result in evaluation.results.items()}
    done = run.done_info(stages[0])
    return {"train_seconds": trained, "eval_seconds": time.monotonic() - start - trained,
            "steps": {stage: run.done_info(stage).get("step") for stage in stages},
            "validation": (done.get("validation") or {}).get("how", "none (too few images)"),
            "training_data": done.get("training_data"), "scores": scores}


def verdicts(runs: list, variant: str) -> dict:
    """The claim's two parts on `variant`, from the S-measure of DH minus that of D per seed."""
    def deltas(test_set, key="S_measure"):
        by_seed = {}
        for run in runs:
            by_seed.setdefault(run["seed"], {})[run["training"]] = run["scores"][test_set][variant][key]
        return [pair["DH"] - pair["D"] for _, pair in sorted(by_seed.items()) if set(pair) == set(TRAININGS)]

    high, low = deltas("high"), deltas("low")
    better = {key: sum((d > 0) == HIGHER_IS_BETTER[key] and d != 0 for d in deltas("high", key))
              for key in ("Fbeta_adaptive", "MAE", "BDE")}
    return {"variant": variant, "seeds": len(high), "high_S_deltas": high, "low_S_deltas": low,
            "high_better_counts": better,
            "helps_on_high": bool(high) and all(d > 0 for d in high) and statistics.mean(high) > LITTLE_S,
            "costs_little_on_low": bool(low) and all(d >= -LITTLE_S for d in low)}


def main(argv=None) -> int:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default=None,
                        help="where the runs are kept (default runs/d_vs_dh; with --quick a temporary folder)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES),
                        help="the stages trained (default all three; the GSN is always trained)")
    parser.add_argument("--scene-style", choices=("photo", "classic"), default="photo")
    parser.add_argument("--data-dir", default=None, help="TFDS data directory (default ~/tensorflow_datasets)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    args = parser.parse_args(argv)
    stages = [stage for stage in STAGES if stage in args.stages or stage == "gsn"]
    seeds = args.seeds[:1] if args.quick else args.seeds
    log_cpu()
    names = set_names(args.scene_style, args.quick)
    specs = {test_set: f"hrsod_synthetic/{name}" for test_set, name in names.items()}
    training_specs = {"D": specs["low"], "DH": f"{specs['low']}+{specs['high']}"}
    with tempfile.TemporaryDirectory(prefix="d_vs_dh_") as tmp:
        root = Path(args.workdir or (tmp if args.quick else "runs/d_vs_dh"))
        test_sources = {test_set: resolve_data_source(spec, data_dir=args.data_dir) for test_set, spec in specs.items()}
        runs = []
        for seed in seeds:
            for training in TRAININGS:
                log(f"{training}, seed {seed}: training {', '.join(stages)} on {training_specs[training]}")
                runs.append({"training": training, "seed": seed,
                             **train_and_score(root / f"{training}_seed{seed}", training_specs[training], seed, stages,
                                               test_sources, args)})
        config = run_config(root / f"D_seed{seeds[0]}", seeds[0], args.quick)
    final = [variant for variant, stage in VARIANT_STAGES if stage in stages][-1]
    verdict = verdicts(runs, final)
    holds = verdict["helps_on_high"] and verdict["costs_little_on_low"]
    emit({"benchmark": "d_vs_dh", "preset": config.preset, "stages": stages, "seeds": seeds,
          "workdir": str(root) if args.workdir or not args.quick else None,
          "sets": {test_set: {"name": name, "spec": specs[test_set], **_set_sizes(name),
                              "test_images": test_sources[test_set].num_examples("test")}
                   for test_set, name in names.items()},
          "training_sets": training_specs, "little_S": LITTLE_S, "runs": runs, "verdict": verdict,
          "target": target(holds, f"helps on the high-resolution test set: {_yes(verdict['helps_on_high'])}; "
                                  f"costs little on the low-resolution one: {_yes(verdict['costs_little_on_low'])}",
                           f"DH's S above D's for every seed and by more than {LITTLE_S} on average on the "
                           f"high-resolution test set; no more than {LITTLE_S} below for any seed on the "
                           "low-resolution one")}, args, render)
    return 0


def _set_sizes(name: str) -> dict:
    data = synthetic_sets.data_config(name)
    return {"train_scenes": data.synthetic_train_size, "min_side": data.synthetic_min_side,
            "max_side": data.synthetic_max_side}


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _signed(values, spec: str = "+.3f") -> str:
    return ", ".join(format(v, spec) for v in values)


def verdict_sentences(result: dict) -> list:
    """The two generated sentences, one per part of the claim."""
    verdict, seeds = result["verdict"], f"{result['verdict']['seeds']} seed(s)"
    high, low = verdict["high_S_deltas"], verdict["low_S_deltas"]
    counts = verdict["high_better_counts"]
    others = (f"Fβ higher for {counts['Fbeta_adaptive']} of {seeds}, MAE lower for {counts['MAE']}, BDE lower for "
              f"{counts['BDE']}")
    mean_high = statistics.mean(high) if high else float("nan")
    helps = (f"**High-resolution training images help on the high-resolution test set: "
             f"{'yes' if verdict['helps_on_high'] else 'not shown'}.** S with DH minus S with D, per seed: "
             f"{_signed(high)} (mean {mean_high:+.3f}; a help needs every seed above 0 and the mean above "
             f"{result['little_S']}); {others}.")
    costs = (f"**They cost little on the low-resolution test set: {_yes(verdict['costs_little_on_low'])}.** S with DH "
             f"minus S with D, per seed: {_signed(low)} (little: no seed more than {result['little_S']} below D).")
    return [helps, costs]


def _counts(runs: list, training: str, split: str) -> str:
    """'144 + 108': how many images each source of a run gave `split` (the first seed's run)."""
    run = next(r for r in runs if r["training"] == training)
    return " + ".join(str(entry[split]) for entry in run["training_data"])


def render(result: dict) -> str:
    if "runs" not in result:
        return f"**Not measured**: {result['target']['why']}"
    final, sets, runs = result["verdict"]["variant"], result["sets"], result["runs"]
    machine = result["machine"]
    rows = []
    for test_set in TEST_SETS:
        for run in sorted(runs, key=lambda r: (r["seed"], r["training"])):
            scores = run["scores"][test_set][final]
            rows.append([f"{test_set} (`{sets[test_set]['name']}`)", str(run["seed"]), run["training"],
                         *(fmt(scores.get(key), spec) for key, _, spec in COLUMNS)])
    difference_rows = []
    for test_set in TEST_SETS:
        for variant in (v for v, _ in VARIANT_STAGES if v in runs[0]["scores"][test_set]):  # JSON keys are sorted
            deltas = {key: [] for key, _, _ in COLUMNS}
            for seed in result["seeds"]:
                pair = {r["training"]: r["scores"][test_set][variant] for r in runs if r["seed"] == seed}
                for key in deltas:
                    deltas[key].append(pair["DH"][key] - pair["D"][key])
            difference_rows.append([test_set, VARIANT_TITLES.get(variant, variant),
                                    *(_signed(deltas[key], "+" + spec) for key, _, spec in COLUMNS)])
    minutes = {training: statistics.mean(r["train_seconds"] for r in runs if r["training"] == training) / 60
               for training in TRAININGS}
    steps = ", ".join(f"{stage.upper()} {runs[0]['steps'][stage]}" for stage in result["stages"])
    origin = "--quick: a smoke run" if result.get("quick") else "the demo's config"
    seeds = ("seeds " if len(result["seeds"]) > 1 else "seed ") + ", ".join(map(str, result["seeds"]))

    def describe(test_set):
        s = sets[test_set]
        return (f"`{s['spec']}` ({s['train_scenes']} training scenes, {s['test_images']} test scenes, shortest edge "
                f"{s['min_side']}-{s['max_side']} px)")

    return markdown(
        f"Preset `{result['preset']}` ({origin}), stages {', '.join(result['stages'])} trained with the "
        f"same steps for D and DH, {seeds}. D trains on the low-resolution set "
        f"{describe('low')}; DH on it and the high-resolution set {describe('high')}, concatenated "
        f"(`--dataset {result['training_sets']['DH']}`). Scored on both test splits; \"little\" is at most "
        f"{result['little_S']} of S-measure. CPU: {machine['cpu_model']}, {machine.get('usable_cores')} usable "
        f"cores, flags {' '.join(machine.get('isa_flags', []))}.",
        "\n\n".join(verdict_sentences(result)),
        f"The method's output ({VARIANT_TITLES.get(final, final)}) per test set, seed and training set:",
        table(["test set", "seed", "trained on", *(title for _, title, _ in COLUMNS)], rows),
        "DH minus D per variant, one value per seed (positive is better for Fβ, S and mBA; negative for MAE and "
        "BDE):",
        table(["test set", "variant", *(title.rstrip(" ↑↓") for _, title, _ in COLUMNS)], difference_rows),
        "Checkpoints were selected on validation images held out of each run's own training images (a fixed "
        f"{VALIDATION_FRACTION:.0%} of each source, by a hash of the file name; never a test split): "
        + "; ".join(f"{training} trained on {_counts(runs, training, 'train')} images and validated on "
                    f"{_counts(runs, training, 'validation')}" for training in TRAININGS)
        + f" (low + high resolution). Steps: {steps}. Training (what this invocation trained) took "
        + ", ".join(f"{minutes[t]:.1f} min for {t}" for t in TRAININGS) + " per seed (mean).",
    )


if __name__ == "__main__":
    raise SystemExit(main())
