"""`hrsod train` (or `python train.py`): train the GSN, the LRN and the GLFN of "Towards High-Resolution Salient
Object Detection" (ICCV 2019).

    hrsod train                                           # demo: all stages of `small` on hrsod_synthetic
    hrsod train --demo --seed 1 --workdir runs/demo_seed1     # the same demo with another seed
    hrsod train --demo --scenes classic --workdir runs/demo_classic     # on the first generator's scenes
    hrsod train --stage gsn --dataset hrsod --preset paper --workdir runs/paper
    hrsod train --stage all --dataset duts+hrsod --preset paper --workdir runs/dh     # the paper's Ours-DH data
    hrsod train --stage lrn --workdir runs/paper          # uses the GSN trained in runs/paper
    hrsod train --stage glfn --workdir runs/paper         # uses its GSN and LRN
    hrsod train --stage lrn --sampler rps --workdir runs/paper     # the paper's RPS ablation, into rps_lrn/
    hrsod train --stage all --workdir runs/paper --resume     # continue after Ctrl-C or a crash
    hrsod train --stage lrn --workdir runs/x --set train.lrn.patches_per_image=4 --set aps.t1=40

Stages communicate through the work directory (config.json, <stage>/final.weights.h5, caches/, logs/;
see `hrsod_tf.workdir`). Watch training with `tensorboard --logdir runs/NAME/logs`.
Exit status: 0 done, 2 usage / data / work-directory error (message only), 130 interrupted (checkpoint saved).
"""

from __future__ import annotations

import argparse
import logging
import sys

from hrsod_tf import demo
from hrsod_tf.config import PRECISIONS, PRESETS, apply_settings, get_preset
from hrsod_tf.data.sources import resolve_data_source
from hrsod_tf.files import WriteError
from hrsod_tf.image_io import DataError
from hrsod_tf.training import STRATEGIES, WorkDirConflictError, make_strategy, train_all
from hrsod_tf.workdir import STAGES, StageNotTrainedError, WorkDir

STAGE_CHOICES = ("gsn", "lrn", "glfn", "all")
# flag -> the StageConfig field it sets for the selected stages (shorthands for --set train.<stage>.<field>=...)
STAGE_FLAGS = ("steps", "batch_size", "head_lr", "backbone_lr", "lr_schedule", "warmup_steps", "checkpoint_every",
               "validate_every")
# flag -> the run-wide setting it is short for
RUN_FLAGS = {"precision": "train.precision", "backbone_weights": "model.backbone_weights", "seed": "train.seed"}


def build_parser(prog: str = "hrsod train") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__.split("\n\n")[0],
        epilog=f"Without arguments: the demo: all three stages of the `small` preset on {demo.DEMO_DATASET}, "
               "into runs/demo, then every ablation variant evaluated into runs/demo/report.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    run = parser.add_argument_group("what to train")
    run.add_argument("--demo", action="store_true",
                     help="run the demo (what no arguments do) into --workdir, with --seed, --scenes and --no-progress")
    run.add_argument("--scenes", choices=tuple(demo.DEMO_DATASETS), default=demo.DEMO_SCENES,
                     help="with --demo: the synthetic scenes, photo-like or the first generator's "
                          f"(default: {demo.DEMO_SCENES})")
    run.add_argument("--stage", choices=STAGE_CHOICES, default="all",
                     help="stage to train; lrn needs a trained gsn, glfn needs gsn and lrn (default: all)")
    run.add_argument("--sampler", choices=("aps", "rps"), default="aps",
                     help="with --stage lrn: rps trains the paper's RPS ablation, an LRN on randomly placed patches "
                          "(as many and as large as APS gives, train.lrn's settings), into WORKDIR/rps_lrn; "
                          "evaluation's gsn+rps+lrn then uses it (default: aps)")
    run.add_argument("--dataset", default="hrsod_synthetic",
                     help="hrsod | duts | uhrsd | dis5k | hrsod_synthetic | tfds:NAME | folders:IMAGES_DIR,MASKS_DIR "
                          "| folders:train=IMG,MASK;test=IMG,MASK | synthetic, or several joined by + to train on "
                          "their union, e.g. duts+hrsod (the paper's DH) (default: hrsod_synthetic)")
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
    optim.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="settings",
                       help="any setting of the run's config, dotted (repeatable): e.g. train.lrn.patches_per_image=4, "
                            "aps.t1=40, inference.lrn_batch_size=4; applied after the flags above")

    out = parser.add_argument_group("output")
    out.add_argument("--log-every", type=int, default=10, help="steps between TensorBoard scalars (default: 10)")
    out.add_argument("--no-progress", action="store_true", help="hide progress bars")
    out.add_argument("-v", "--verbose", action="store_true", help="log more (TensorFlow info included)")
    return parser


def selected_stages(args) -> tuple[str, ...]:
    if args.stage == "all":
        return STAGES
    return ("rps_lrn",) if args.sampler == "rps" else (args.stage,)


def flag_settings(args) -> list[str]:
    """The dotted settings (`hrsod_tf.config.apply_settings`) that the shorthand flags and --set ask for."""
    config_stages = {"lrn" if stage == "rps_lrn" else stage for stage in selected_stages(args)}  # rps_lrn: train.lrn
    settings = [f"train.{stage}.{name}={getattr(args, name)}"
                for name in STAGE_FLAGS if getattr(args, name) is not None for stage in sorted(config_stages)]
    settings += [f"{key}={getattr(args, name)}" for name, key in RUN_FLAGS.items() if getattr(args, name) is not None]
    return settings + list(args.settings)


def load_config(args):
    """The preset (or the work directory's stored config) with the command line's settings applied."""
    workdir = WorkDir(args.workdir)
    if args.preset is None and workdir.has_config():
        config = workdir.load_config()
    else:
        config = get_preset(args.preset or "small")
    return apply_settings(config, flag_settings(args))


def main(argv: list[str] | None = None, prog: str = "hrsod train") -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        logging.getLogger("absl").setLevel(logging.WARNING)
    if not argv or args.demo:
        return demo_main(args, prog)
    if args.sampler == "rps" and args.stage != "lrn":
        print(f"{prog}: error: --sampler rps trains the RPS ablation's LRN: use it with --stage lrn", file=sys.stderr)
        return 2
    try:
        config = load_config(args)
        strategy = make_strategy(args.strategy)
        # Resolved only when a stage trains: skipping finished stages never builds the data set.
        source = lambda: resolve_data_source(args.dataset, data_dir=args.data_dir, data_config=config.data)  # noqa: E731
        results = train_all(config, args.workdir, source, stages=selected_stages(args), strategy=strategy,
                            resume=args.resume, overwrite=args.overwrite, progress=not args.no_progress,
                            log_every=args.log_every)
    except (StageNotTrainedError, WorkDirConflictError, DataError, ValueError, FileExistsError, WriteError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    for stage, result in results.items():
        if result is None:
            print(f"{stage}: already trained in {args.workdir} (skipped)")
        elif result.interrupted:
            print(f"{stage}: interrupted at step {result.step}; checkpoint {result.checkpoint}. Continue with:\n"
                  f"  {prog} --stage {args.stage}{' --sampler rps' if args.sampler == 'rps' else ''} "
                  f"--workdir {args.workdir} --resume", file=sys.stderr)
            return 130
        else:
            print(f"{stage}: {result.step} steps in {result.seconds:.0f} s, final loss {result.final_loss:.4f}"
                  + (f", best validation MAE {result.best_mae:.4f}" if result.best_mae is not None else ""))
    return 0


def demo_main(args, prog: str = "hrsod train") -> int:
    """No arguments (or --demo): `hrsod_tf.demo.run_demo` into --workdir with --seed; the exit status."""
    try:
        config = demo.demo_config(args.workdir, args.seed)
        print(f"hrsod-tf demo: training GSN, LRN, GLFN and the RPS ablation's LRN of the `{config.preset}` preset on "
              f"the synthetic set into {args.workdir} (seed {config.train.seed}), then evaluating every variant of "
              f"Table 4 (6 to 10 minutes on 2 idle cores; Ctrl-C saves a checkpoint "
              "and re-running continues)")
        paths = demo.run_demo(args.workdir, dataset=demo.DEMO_DATASETS[args.scenes], progress=not args.no_progress,
                              config=config)
    except (DataError, WorkDirConflictError, WriteError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    if paths is None:
        default = args.workdir == "runs/demo" and args.seed is None and args.scenes == demo.DEMO_SCENES
        again = prog + ("" if default else f" --demo --workdir {args.workdir}"
                        + ("" if args.scenes == demo.DEMO_SCENES else f" --scenes {args.scenes}"))
        print(f"interrupted; run `{again}` again to continue", file=sys.stderr)
        return 130
    return 0
