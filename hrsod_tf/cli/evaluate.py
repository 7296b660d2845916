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

Several data sets in one run, and the paper's Table 1 (or 2) with our rows beside its quoted ones::

    hrsod evaluate --model runs/dh --dataset hrsod davis_s duts hku_is thur --variants full --paper-table 1 \
        --report runs/dh/table1

With several data sets each gets its own folder (``DIR/<data set>/``) under --save-maps, --plot and --report, and
the JSON is ``{data set: {variant: result}}``. ``--pred-dir maps/ --dataset hrsod davis_s`` scores published maps
against the data sets' test masks: the maps of each data set in ``maps/<data set>/`` (``maps/hrsod/``) or in the
folder named as the paper's table names it (``maps/HRSOD-Test/``); with one data set, ``maps/`` itself may hold them.
``--metrics`` picks the metrics (``sod``, ``dis``, ``paper`` or single keys); by default each data set's own
set: DIS5K's for ``dis5k``, the SOD set for the others.
Exit status: 0 on success, 2 on a usage or data error (message on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

from hrsod_tf.cli.arguments import add_model_argument, model_path
from hrsod_tf.cli.startup import import_tensorflow
from hrsod_tf.config import RELEASE_OPT_HELP
from hrsod_tf.evaluation import folders as evaluation
from hrsod_tf.evaluation import paper_report, plots
from hrsod_tf.evaluation.folders import EvaluationError
from hrsod_tf.evaluation.metrics import METRIC_SETS, metric_keys
from hrsod_tf.extras import MissingExtraError
from hrsod_tf.image_io import DataError
from hrsod_tf.quality import QUALITY_HELP, QUALITY_LEVELS


def build_parser(prog: str = "hrsod evaluate") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Evaluate saliency maps (F-measure, S-measure, E-measure, weighted F, MAE, BDE, mBA, HCE) on one "
                    "or several data sets, optionally in the layout of the paper's Table 1 or 2.",
    )
    folders = parser.add_argument_group("folder mode: evaluate existing maps")
    folders.add_argument("--pred-dir", type=Path,
                         help="folder of predicted maps (paired with masks by file stem); with --dataset, a folder "
                              "per data set inside it (maps/hrsod/ or maps/HRSOD-Test/)")
    folders.add_argument("--gt-dir", type=Path, help="folder of ground-truth masks (or give --dataset)")
    folders.add_argument("--name", help="row name in the table and key in the JSON (default: the --pred-dir name); "
                                        "with --model, the name of its rows in --paper-table's table")

    run = parser.add_argument_group("model mode: run a model on a data set")
    add_model_argument(run, required=False, legacy=("--workdir",),
                       help="a trained run's work directory (every variant it can run) or an export (its full "
                            "variant)")
    run.add_argument("--dataset", metavar="SPEC", nargs="+",
                     help="one or more data sets: hrsod, davis_s, duts, hku_is, thur, uhrsd, dis5k, hrsod_synthetic, "
                          "synthetic[:PRESET], folders:IMAGES_DIR,MASKS_DIR, ...")
    run.add_argument("--data-dir", help="TFDS data directory (default: ~/tensorflow_datasets)")
    run.add_argument("--split", help="data set split (default: test; give e.g. DIS-TE1 for dis5k)")
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
    out.add_argument("--metrics", nargs="+", metavar="NAME",
                     help=f"metric sets ({', '.join(METRIC_SETS)}) or single keys (e.g. MAE HCE); default: each "
                          "data set's own (dis for dis5k, sod for the others)")
    out.add_argument("--paper-table", type=int, choices=sorted(paper_report.PAPER_TABLES),
                     help="also write the paper's Table 1 (Fβ, S-measure, MAE on five data sets) or Table 2 (BDE) "
                          "with the rows measured here beside its quoted rows (into --report DIR as "
                          "paper_table<N>.md, and printed)")
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
    keys = requested_metrics(args, "sod")
    result = evaluation.evaluate_folders(
        args.pred_dir,
        args.gt_dir,
        strict=args.strict,
        boundary=not args.no_boundary,
        progress=not args.no_progress,
        desc=name,
        metrics=keys,
    )
    results = {name: result}
    report(results, args, columns=evaluation.table_columns(keys))
    write_outputs({args.gt_dir.resolve().name: results}, args)  # the paper table's column: the GT folder's name
    return results


def requested_metrics(args: argparse.Namespace, default_set: str) -> tuple[str, ...]:
    """The result keys to compute: --metrics, else `default_set` (a data set's own); plus what --paper-table shows."""
    keys = metric_keys(args.metrics or (default_set,))
    if args.paper_table:
        keys = metric_keys((*keys, *paper_report.PAPER_TABLES[args.paper_table][1]))
    return keys


def choose_split(source, split: str | None) -> str:
    """`split`, else the data set's ``test`` split; a ValueError naming its splits when it has no such one."""
    wanted = split or "test"
    if wanted in source.splits or tuple(source.splits) == ("all",):  # one pair of folders serves any split
        return wanted
    raise ValueError(f"data set {source.name!r} has no split {wanted!r}: give --split, one of "
                     f"{', '.join(source.splits)}")


def map_folder(pred_dir: Path, spec: str, only_one: bool) -> Path:
    """The folder of `pred_dir` holding the maps of data set `spec` (see the module docstring for the layout).

    Raises:
        EvaluationError: none of the folders looked for exists; the message names them.
    """
    from hrsod_tf.data.sources import source_tag

    candidates = [pred_dir / source_tag(spec)]
    if paper_report.column_name(spec) != spec:  # one of the paper's data sets: also its name in the tables
        candidates.append(pred_dir / paper_report.column_name(spec))
    for folder in candidates:
        if folder.is_dir():
            return folder
    if only_one and pred_dir.is_dir() and any(evaluation.list_images(pred_dir)):
        return pred_dir
    looked = " or ".join(str(c) for c in candidates)
    raise EvaluationError(f"no maps for --dataset {spec} in {pred_dir}: looked for the folder {looked}. Put the "
                          f"maps of {spec} (one per test image, named by the image's file stem) in "
                          f"{candidates[0]}/")


def run_dataset_map_evaluation(args: argparse.Namespace) -> dict:
    """--pred-dir with --dataset: each data set's maps against its split's masks. Returns {spec: {name: result}}."""
    import_tensorflow()
    from hrsod_tf.data.sources import resolve_data_source
    from hrsod_tf.data.validation import source_filenames
    from hrsod_tf.files import file_stem

    measured, splits = {}, {}
    name = args.name or args.pred_dir.resolve().name
    for spec in args.dataset:
        folder = map_folder(args.pred_dir, spec, only_one=len(args.dataset) == 1)
        source = resolve_data_source(spec, data_dir=args.data_dir)
        split = splits[spec] = choose_split(source, args.split)
        keys = requested_metrics(args, source.metric_set)
        stems = [file_stem(name) for name in source_filenames(source, split)]  # listed without decoding
        truths = ((file_stem(ex["image/filename"]), ex["image/filename"], lambda ex=ex: ex["mask"][..., 0])
                  for ex in source.examples(split))
        result = evaluation.evaluate_maps(folder, stems, truths, gt_where=f"{spec} ({split})", strict=args.strict,
                                          boundary=not args.no_boundary, progress=not args.no_progress,
                                          desc=f"{spec}: {folder.name}", metrics=keys)
        print(f"\n{spec} ({split}), maps from {folder}:")
        report({name: result}, args, columns=evaluation.table_columns(keys))
        measured[spec] = {name: result}
    write_outputs(measured, args, splits)
    return measured


def run_model_evaluation(args: argparse.Namespace) -> dict:
    """The --model mode: pipeline on each data set, every variant; tables, JSON, maps, plots, reports.
    Returns {data set spec: {variant: result}}."""
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
    several = len(args.dataset) > 1
    measured, splits = {}, {}
    for spec in args.dataset:
        source = resolve_data_source(spec, data_dir=args.data_dir, data_config=pipeline.config.data)
        split = splits[spec] = choose_split(source, args.split)
        keys = requested_metrics(args, source.metric_set)
        total = source.num_examples(split)
        if args.limit is not None:
            total = min(total, args.limit)
        run = variant_report.evaluate_pipeline(
            pipeline,
            itertools.islice(source.examples(split), args.limit),
            variants,
            save_maps_dir=per_dataset(args.save_maps, spec, several),
            overwrite=args.overwrite,
            boundary=not args.no_boundary,
            progress=not args.no_progress,
            total=total,
            metrics=keys,
        )
        if several:
            print(f"\n{spec} ({split}):")
        report(run.results, args, table=variant_report.format_variant_table(
            run.results, run.rps_is_trained, evaluation.table_columns(keys)))
        plot_dir = per_dataset(args.plot, spec, several)
        if plot_dir and run.examples:
            print(f"wrote {variant_report.write_example_grid(run.examples, plot_dir / 'examples.png')}")
        report_dir = per_dataset(args.report, spec, several)
        if report_dir:
            what = "run" if kind == "workdir" else "model"
            paths = run.write_report(report_dir, title=f"{spec} ({split}), {what} {path}")
            print(f"wrote {paths['markdown']}")
        if args.save_maps:
            print(f"wrote maps to {per_dataset(args.save_maps, spec, several)}/<variant>/")
        measured[spec] = run.results
    write_outputs(measured, args, splits)
    return measured


def per_dataset(directory: Path | None, spec: str, several: bool) -> Path | None:
    """`directory` itself for one data set; ``directory/<data set>`` (``runs/x/maps/hrsod``) for several."""
    from hrsod_tf.data.sources import source_tag

    if directory is None or not several:
        return directory
    return Path(directory) / source_tag(spec)


def write_outputs(measured: dict, args: argparse.Namespace, splits: dict | None = None) -> None:
    """The JSON ({name: result} for one data set, {data set: {name: result}} for several), the PR curves and the
    paper's table, as requested by ``args``."""
    several = len(measured) > 1
    if args.json:
        payload = ({spec: {n: r.to_dict() for n, r in results.items()} for spec, results in measured.items()}
                   if several else next(iter(measured.values())))
        if several:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(payload, indent=1, allow_nan=False) + "\n")
            print(f"wrote {args.json}")
        else:
            print(f"wrote {evaluation.write_json(payload, args.json)}")
    if args.plot:
        for spec, results in measured.items():
            target = per_dataset(Path(args.plot), spec, several) / "pr_curve.png"
            print(f"wrote {plots.plot_pr_curves(results, target)}")
    if args.paper_table:
        rows = {spec: {row_name(args, name): result for name, result in results.items()}
                for spec, results in measured.items()}
        if args.report:
            # Rows measured by earlier runs into the same folder stay: each run adds its own (e.g. the authors'
            # Ours-D with --release-opt 1 on HRSOD, then with 0 on DAVIS-S).
            stored = Path(args.report) / f"paper_table{args.paper_table}.json"
            kept = json.loads(stored.read_text()) if stored.is_file() else {"measured": {}, "splits": {}}
            for spec, results in rows.items():
                kept["measured"].setdefault(spec, {}).update({n: r.to_dict() for n, r in results.items()})
            kept["splits"].update(splits or {})
            stored.parent.mkdir(parents=True, exist_ok=True)
            stored.write_text(json.dumps(kept, indent=1, allow_nan=False) + "\n")
            rows, splits = kept["measured"], kept["splits"]
        markdown = paper_report.paper_table_markdown(args.paper_table, rows, splits)
        print("\n" + markdown)
        if args.report:
            target = Path(args.report) / f"paper_table{args.paper_table}.md"
            target.write_text(markdown, encoding="utf-8")
            print(f"wrote {target} (rows kept in {target.with_suffix('.json').name})")


def row_name(args: argparse.Namespace, name: str) -> str:
    """The paper table's row of result `name` (a variant, or the --pred-dir name): --name, with the variant when
    a model ran several."""
    if not args.model or not args.name:
        return name
    return args.name if len(args.variants or ()) == 1 else f"{args.name}: {name}"


def report(results: dict, args: argparse.Namespace, table: str | None = None, columns=None) -> None:
    """Print the table and the missing / unreadable files; shared by every mode.

    Args:
        table: the table to print (default: :func:`format_table` of ``results`` with `columns`).
    """
    print(table if table is not None else evaluation.format_table(results, columns))
    for name, result in results.items():
        if result.missing:
            print(f"{name}: missing maps: {', '.join(result.missing)}", file=sys.stderr)
        if result.unreadable:
            print(f"{name}: unreadable files: {', '.join(result.unreadable)}", file=sys.stderr)



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
    elif not (args.pred_dir and (args.gt_dir or args.dataset)):
        parser.error("give --pred-dir and --gt-dir (or --dataset), or --model and --dataset")
    elif args.gt_dir and args.dataset:
        parser.error("--gt-dir and --dataset both name the ground truth: give one")
    if args.dataset and len(set(args.dataset)) != len(args.dataset):
        parser.error("--dataset names a data set twice")
    try:
        metric_keys(args.metrics or ())
    except ValueError as err:
        parser.error(str(err))

    try:
        if args.model:
            run_model_evaluation(args)
        elif args.dataset:
            run_dataset_map_evaluation(args)
        else:
            run_folder_evaluation(args)
    except (EvaluationError, OSError, ValueError, MissingExtraError, DataError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    return 0
