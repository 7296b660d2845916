#!/usr/bin/env python
"""Train the GSN, the LRN and the GLFN of "Towards High-Resolution Salient Object Detection" (ICCV 2019).

    python train.py                                         # demo: all stages of `small` on hrsod_synthetic
    python train.py --demo --seed 1 --workdir runs/demo_seed1   # the same demo with another seed
    python train.py --stage gsn --dataset hrsod --preset paper --workdir runs/paper
    python train.py --stage lrn --workdir runs/paper        # uses the GSN trained in runs/paper
    python train.py --stage glfn --workdir runs/paper       # uses its GSN and LRN
    python train.py --stage all --workdir runs/paper --resume   # continue after Ctrl-C or a crash

Stages communicate through the work directory (config.json, <stage>/final.weights.h5, caches/, logs/;
see `hrsod_tf.workdir`). Watch training with `tensorboard --logdir runs/NAME/logs`.
Exit status: 0 done, 2 usage / data / work-directory error (message only), 130 interrupted (checkpoint saved).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

STAGE_CHOICES = ("gsn", "lrn", "glfn", "all")


def build_parser() -> argparse.ArgumentParser:
    from hrsod_tf.config import PRECISIONS, PRESETS
    from hrsod_tf.training.distribute import STRATEGIES

    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Without arguments: the demo: all three stages of the `small` preset on hrsod_synthetic/small, "
               "into runs/demo, then every ablation variant evaluated into runs/demo/report.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    run = parser.add_argument_group("what to train")
    run.add_argument("--demo", action="store_true",
                     help="run the demo (what no arguments do) into --workdir, with --seed and --no-progress")
    run.add_argument("--stage", choices=STAGE_CHOICES, default="all",
                     help="stage to train; lrn needs a trained gsn, glfn needs gsn and lrn (default: all)")
    run.add_argument("--dataset", default="hrsod_synthetic",
                     help="hrsod | davis_s | hrsod_synthetic | tfds:NAME | folders:IMAGES_DIR,MASKS_DIR "
                          "| folders:train=IMG,MASK;test=IMG,MASK | synthetic (default: hrsod_synthetic)")
    run.add_argument("--data-dir", help="TFDS data directory (default: ~/tensorflow_datasets)")
    run.add_argument("--preset", choices=tuple(PRESETS),
                     help="configuration preset (default: the work directory's config.json, else small)")
    run.add_argument("--workdir", default="runs/demo",
                     help="work directory: config, checkpoints, caches, logs (default: runs/demo)")
    run.add_argument("--resume", action="store_true",
                     help="continue unfinished stages from their last checkpoint")
    run.add_argument("--overwrite", action="store_true",
                     help="delete and retrain the selected stages even if they are finished")

    setup = parser.add_argument_group("model and hardware")
    setup.add_argument("--backbone-weights",
                       help="VGG16 initialisation: imagenet | none | PATH to a .h5 file (default: the preset's)")
    setup.add_argument("--precision", choices=PRECISIONS,
                       help="auto = mixed_float16 on GPU, float32 on CPU (default: the preset's, auto)")
    setup.add_argument("--strategy", choices=STRATEGIES, default="auto",
                       help="auto = MirroredStrategy with >1 GPU; multiworker reads TF_CONFIG (default: auto)")

    optim = parser.add_argument_group("optimisation (override the preset for the selected stages)")
    optim.add_argument("--steps", type=int, help="training steps per stage")
    optim.add_argument("--batch-size", type=int, help="global batch size (split across replicas)")
    optim.add_argument("--head-lr", type=float, help="learning rate of the new layers (paper: 1e-2)")
    optim.add_argument("--backbone-lr", type=float, help="learning rate of the pretrained VGG layers (paper: 1e-3)")
    optim.add_argument("--lr-schedule", choices=("poly", "constant"), help="learning-rate schedule")
    optim.add_argument("--warmup-steps", type=int, help="linear warm-up steps")
    optim.add_argument("--checkpoint-every", type=int, help="steps between checkpoints")
    optim.add_argument("--validate-every", type=int, help="steps between validations (0: at the end only)")
    optim.add_argument("--seed", type=int,
                       help="seed of the networks' initialisation and of the data pipelines (default: the config's, 0)")

    out = parser.add_argument_group("output")
    out.add_argument("--log-every", type=int, default=10, help="steps between TensorBoard scalars (default: 10)")
    out.add_argument("--no-progress", action="store_true", help="hide progress bars")
    out.add_argument("-v", "--verbose", action="store_true", help="log more (TensorFlow info included)")
    return parser


def load_config(args):
    """The preset (or the work directory's stored config) with the command-line overrides applied."""
    from hrsod_tf.config import get_preset
    from hrsod_tf.training import apply_overrides
    from hrsod_tf.workdir import STAGES, WorkDir

    workdir = WorkDir(args.workdir)
    if args.preset is None and workdir.has_config():
        config = workdir.load_config()
    else:
        config = get_preset(args.preset or "small")
    stages = STAGES if args.stage == "all" else (args.stage,)
    return apply_overrides(
        config, stages, precision=args.precision, backbone_weights=args.backbone_weights, seed=args.seed,
        steps=args.steps, batch_size=args.batch_size, head_lr=args.head_lr, backbone_lr=args.backbone_lr,
        lr_schedule=args.lr_schedule, warmup_steps=args.warmup_steps,
        checkpoint_every=args.checkpoint_every, validate_every=args.validate_every)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not {"-v", "--verbose"} & set(argv):
        # TensorFlow's C++ info and warnings (oneDNN, CUDA probing, grappler cost estimates) are noise here.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        logging.getLogger("absl").setLevel(logging.WARNING)

    from hrsod_tf.data.sources import resolve_data_source
    from hrsod_tf.image_io import DataError
    from hrsod_tf.training import WorkDirConflictError, make_strategy, train_all
    from hrsod_tf.workdir import STAGES, StageNotTrainedError

    if not argv or args.demo:
        return run_demo(args)
    try:
        config = load_config(args)
        strategy = make_strategy(args.strategy)
        stages = STAGES if args.stage == "all" else (args.stage,)
        # Resolved only when a stage trains: skipping finished stages never builds the data set.
        source = lambda: resolve_data_source(args.dataset, data_dir=args.data_dir, data_config=config.data)  # noqa: E731
        results = train_all(config, args.workdir, source, stages=stages, strategy=strategy,
                            resume=args.resume, overwrite=args.overwrite, progress=not args.no_progress,
                            log_every=args.log_every)
    except (StageNotTrainedError, WorkDirConflictError, DataError, ValueError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for stage, result in results.items():
        if result is None:
            print(f"{stage}: already trained in {args.workdir} (skipped)")
        elif result.interrupted:
            print(f"{stage}: interrupted at step {result.step}; checkpoint {result.checkpoint}. Continue with:\n"
                  f"  python train.py --stage {args.stage} --workdir {args.workdir} --resume", file=sys.stderr)
            return 130
        else:
            print(f"{stage}: {result.step} steps in {result.seconds:.0f} s, final loss {result.final_loss:.4f}"
                  + (f", best validation MAE {result.best_mae:.4f}" if result.best_mae is not None else ""))
    return 0


def run_demo(args) -> int:
    """No arguments (or --demo): train the `small` preset on the synthetic set, evaluate every variant, write
    the report."""
    from hrsod_tf.config import get_preset
    from hrsod_tf.demo import DEMO_PRESET
    from hrsod_tf.demo import run_demo as demo
    from hrsod_tf.image_io import DataError
    from hrsod_tf.training import WorkDirConflictError, apply_overrides
    from hrsod_tf.workdir import WorkDir

    workdir = WorkDir(args.workdir)
    config = workdir.load_config() if workdir.has_config() else get_preset(DEMO_PRESET)
    config = apply_overrides(config, seed=args.seed)
    print(f"hrsod-tf demo: training GSN, LRN and GLFN of the `{config.preset}` preset on the synthetic set into "
          f"{args.workdir} (seed {config.train.seed}), then evaluating every variant (about 6 minutes on 2 CPU "
          f"cores; Ctrl-C saves a checkpoint and re-running continues)")
    try:
        paths = demo(args.workdir, progress=not args.no_progress, config=config)
    except (DataError, WorkDirConflictError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if paths is None:
        again = "python train.py" + ("" if args.workdir == "runs/demo" and args.seed is None else
                                     f" --demo --workdir {args.workdir}")
        print(f"interrupted; run `{again}` again to continue", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
