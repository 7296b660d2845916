#!/usr/bin/env python
"""Evaluate saliency maps against ground-truth masks with the SOD protocol of hrsod-tf.

Folder mode (maps produced by any method)::

    python evaluate.py --pred-dir results/HRSOD-Test --gt-dir HRSOD_release/HRSOD_test_mask \
        --name ours --json results.json --plot figures/

prints a table of Fbeta (adaptive / mean / max, and max from the dataset-mean PR curve), S-measure, E-measure,
weighted F, MAE, BDE and mBA; writes ``{name: result}`` JSON and a PR-curve PNG on request.
Exit status: 0 on success, 2 on a usage or data error (message on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Evaluate saliency maps (F-measure, S-measure, E-measure, weighted F, MAE, BDE, mBA).",
    )
    folders = parser.add_argument_group("folder mode: evaluate existing maps")
    folders.add_argument("--pred-dir", type=Path, help="folder of predicted maps (paired with masks by file stem)")
    folders.add_argument("--gt-dir", type=Path, help="folder of ground-truth masks")
    folders.add_argument("--name", help="row name in the table and key in the JSON (default: the --pred-dir name)")

    out = parser.add_argument_group("output")
    out.add_argument("--json", type=Path, metavar="OUT", help="write {name: result} JSON here")
    out.add_argument("--plot", type=Path, metavar="DIR", help="write pr_curve.png into this folder")
    out.add_argument(
        "--strict", action="store_true", help="fail if any mask has no map or a file cannot be read"
    )
    out.add_argument("--no-boundary", action="store_true", help="skip BDE and mBA (the slow metrics at 4K)")
    out.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def run_folder_evaluation(args: argparse.Namespace) -> dict:
    """The --pred-dir/--gt-dir mode: evaluate, print the table, write JSON / plots. Returns {name: result}."""
    from hrsod_tf import evaluation

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


def report(results: dict, args: argparse.Namespace) -> None:
    """Print the table and write the JSON / PR plot requested by ``args``; shared by every mode."""
    from hrsod_tf import evaluation

    print(evaluation.format_table(results))
    for name, result in results.items():
        if result.missing:
            print(f"{name}: missing maps: {', '.join(result.missing)}", file=sys.stderr)
        if result.unreadable:
            print(f"{name}: unreadable files: {', '.join(result.unreadable)}", file=sys.stderr)
    if args.json:
        print(f"wrote {evaluation.write_json(results, args.json)}")
    if args.plot:
        from hrsod_tf import plots

        print(f"wrote {plots.plot_pr_curves(results, Path(args.plot) / 'pr_curve.png')}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not (args.pred_dir and args.gt_dir):
        parser.error("give --pred-dir and --gt-dir")

    from hrsod_tf.evaluation import EvaluationError

    try:
        run_folder_evaluation(args)
    except (EvaluationError, OSError) as err:
        print(f"evaluate.py: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
