"""`hrsod evaluate`: evaluate saliency maps against ground-truth masks with the SOD protocol of hrsod-tf.

Folder mode (maps produced by any method)::

    hrsod evaluate --pred-dir results/HRSOD-Test --gt-dir HRSOD_release/HRSOD_test_mask \
        --name ours --json results.json --plot figures/

prints a table of Fbeta (adaptive / mean / max, and max from the dataset-mean PR curve), S-measure, E-measure,
weighted F, MAE, BDE and mBA; writes ``{name: result}`` JSON and a PR-curve PNG on request.

Model mode (``--model``: a trained run's work directory runs every variant of the paper's ablation at once; an
OpenVINO / ONNX / LiteRT export or a SavedModel runs its full variant)::

    hrsod evaluate --model runs/demo --dataset hrsod --split test \
        --variants gsn gsn+rps+lrn gsn+aps+lrn full --save-maps maps/ --json results.json --report runs/demo/report

runs the pipeline on each image of the data set (``--dataset`` as in train.py: hrsod, davis_s, hrsod_synthetic,
synthetic, folders:IMAGES,MASKS, ...), prints one row per variant, writes ``{variant: result}`` JSON,
``--save-maps DIR/<variant>/<stem>.png``, ``--plot`` PR curves + an example grid, ``--report`` a markdown report.
Exit status: 0 on success, 2 on a usage or data error (message on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

from hrsod_tf.cli.arguments import add_model_argument, model_path
from hrsod_tf.cli.startup import import_tensorflow
from hrsod_tf.config import RELEASE_OPT_HELP
from hrsod_tf.evaluation import folders as evaluation
from hrsod_tf.evaluation import plots
from hrsod_tf.evaluation.folders import EvaluationError
from hrsod_tf.extras import MissingExtraError
from hrsod_tf.quality import QUALITY_HELP, QUALITY_LEVELS


def build_parser(prog: str = "hrsod evaluate") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Evaluate saliency maps (F-measure, S-measure, E-measure, weighted F, MAE, BDE, mBA).",
    )
    folders = parser.add_argument_group("folder mode: evaluate existing maps")
    folders.add_argument("--pred-dir", type=Path, help="folder of predicted maps (paired with masks by file stem)")
    folders.add_argument("--gt-dir", type=Path, help="folder of ground-truth masks")
    folders.add_argument("--name", help="row name in the table and key in the JSON (default: the --pred-dir name)")

    run = parser.add_argument_group("model mode: run a model on a data set")
    add_model_argument(run, required=False, legacy=("--workdir",),
                       help="a trained run's work directory (every variant it can run) or an export (its full "
                            "variant)")
    run.add_argument("--dataset", metavar="SPEC",
                     help="hrsod, davis_s, hrsod_synthetic, synthetic[:PRESET], folders:IMAGES_DIR,MASKS_DIR, ...")
    run.add_argument("--data-dir", help="TFDS data directory (default: ~/tensorflow_datasets)")
    run.add_argument("--split", default="test", help="data set split (default: test)")
    run.add_argument("--variants", nargs="+", metavar="VARIANT",
                     help="pipeline variants to evaluate (default: those of gsn, gsn+rps+lrn, gsn+aps+lrn, full "
                          "that the run's trained stages allow); also dense+lrn")
    run.add_argument("--release-opt", type=int, choices=(0, 1), default=None,
                     help=RELEASE_OPT_HELP)
    run.add_argument("--quality", choices=tuple(QUALITY_LEVELS), default=None,
                     help=QUALITY_HELP + "; default: the model's own")
    run.add_argument("--limit", type=int, metavar="N", help="evaluate only the first N images")
    run.add_argument("--save-maps", type=Path, metavar="DIR", help="write DIR/<variant>/<stem>.png 8-bit maps")
    run.add_argument("--overwrite", action="store_true", help="allow --save-maps folders that already hold maps")
    run.add_argument("--report", type=Path, metavar="DIR",
                     help="write results.json, report.md, pr_curves.png and examples.png here")

    out = parser.add_argument_group("output")
    out.add_argument("--json", type=Path, metavar="OUT", help="write {name: result} JSON here")
    out.add_argument("--plot", type=Path, metavar="DIR",
                     help="write pr_curve.png (and, with --model, examples.png) into this folder")
    out.add_argument(
        "--strict", action="store_true", help="fail if any mask has no map or a file cannot be read"
    )
    out.add_argument("--no-boundary", action="store_true", help="skip BDE and mBA (the slow metrics at 4K)")
    out.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def run_folder_evaluation(args: argparse.Namespace) -> dict:
    """The --pred-dir/--gt-dir mode: evaluate, print the table, write JSON / plots. Returns {name: result}."""
    name = args.name or args.pred_dir.resolve().name
    result = evaluation.evaluate_folders(
        args.pred_dir,
        args.gt_dir,
        strict=args.strict,
        boundary=not args.no_boundary,
        progress=not args.no_progress,
        desc=name,
    )
    results = {name: result}
    report(results, args)
    return results


def run_model_evaluation(args: argparse.Namespace):
    """The --model mode: pipeline on a data set, every variant; table, JSON, maps, plots, report."""
    # Imported here, not at the top: folder mode needs no TensorFlow, which takes seconds to import.
    import_tensorflow()
    from hrsod_tf.data.sources import resolve_data_source
    from hrsod_tf.deploy.model_loading import load_pipeline, model_kind
    from hrsod_tf.evaluation import variant_report

    path = args.model
    kind = model_kind(path)
    pipeline = load_pipeline(path, release_opt=args.release_opt, quality=args.quality)
    if kind == "workdir":
        variants = args.variants or variant_report.runnable_variants(pipeline)
    else:
        variants = args.variants or ["full"]
    source = resolve_data_source(args.dataset, data_dir=args.data_dir, data_config=pipeline.config.data)
    total = source.num_examples(args.split)
    if args.limit is not None:
        total = min(total, args.limit)
    run = variant_report.evaluate_pipeline(
        pipeline,
        itertools.islice(source.examples(args.split), args.limit),
        variants,
        save_maps_dir=args.save_maps,
        overwrite=args.overwrite,
        boundary=not args.no_boundary,
        progress=not args.no_progress,
        total=total,
    )
    report(run.results, args, table=run.table())
    if args.plot and run.examples:
        print(f"wrote {variant_report.write_example_grid(run.examples, Path(args.plot) / 'examples.png')}")
    if args.report:
        what = "run" if kind == "workdir" else "model"
        paths = run.write_report(args.report, title=f"{args.dataset} ({args.split}), {what} {path}")
        print(f"wrote {paths['markdown']}")
    if args.save_maps:
        print(f"wrote maps to {args.save_maps}/<variant>/")
    return run


def report(results: dict, args: argparse.Namespace, table: str | None = None) -> None:
    """Print the table and write the JSON / PR plot requested by ``args``; shared by every mode.

    Args:
        table: the table to print (default: :func:`format_table` of ``results``).
    """
    print(table if table is not None else evaluation.format_table(results))
    for name, result in results.items():
        if result.missing:
            print(f"{name}: missing maps: {', '.join(result.missing)}", file=sys.stderr)
        if result.unreadable:
            print(f"{name}: unreadable files: {', '.join(result.unreadable)}", file=sys.stderr)
    if args.json:
        print(f"wrote {evaluation.write_json(results, args.json)}")
    if args.plot:
        print(f"wrote {plots.plot_pr_curves(results, Path(args.plot) / 'pr_curve.png')}")



def main(argv: list[str] | None = None, prog: str = "hrsod evaluate") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    args.model = model_path(parser, args, required=False)
    if args.model:
        if args.pred_dir or args.gt_dir:
            parser.error("--model evaluates a model: do not combine it with --pred-dir/--gt-dir")
        if not args.dataset:
            parser.error("--model needs --dataset (e.g. hrsod, davis_s, folders:IMAGES_DIR,MASKS_DIR)")
        if args.limit is not None and args.limit < 1:
            parser.error("--limit must be at least 1")
    elif not (args.pred_dir and args.gt_dir):
        parser.error("give --pred-dir and --gt-dir, or --model and --dataset")

    try:
        if args.model:
            run_model_evaluation(args)
        else:
            run_folder_evaluation(args)
    except (EvaluationError, OSError, ValueError, MissingExtraError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    return 0
