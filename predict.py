#!/usr/bin/env python
"""Saliency maps, cut-outs or overlays for your own photos, at their original resolution.

    python predict.py photos/ --workdir runs/demo --out masks/
    python predict.py "shots/*.jpg" IMG_0042.HEIC.png --saved-model export/hrsod --out cutouts/ --output rgba

Writes ``OUT/<stem>.png`` per image: ``mask`` (8-bit saliency map), ``rgba`` (the photo with the map as alpha)
or ``overlay`` (the photo with the salient region tinted). EXIF orientation is applied; grayscale, RGBA and
16-bit images are accepted. Inputs are never overwritten, nor existing outputs without ``--overwrite``.
Exit status: 0 if every image was written, 1 if some failed (each named on stderr), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def build_parser() -> argparse.ArgumentParser:
    from hrsod_tf.inference import VARIANTS
    from hrsod_tf.prediction import OUTPUT_MODES

    parser = argparse.ArgumentParser(description="Predict salient-object maps for images, folders and globs.")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders of images, or glob patterns")
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--workdir", metavar="RUN", help="a trained run's work directory (e.g. runs/demo)")
    model.add_argument("--saved-model", metavar="DIR", help="a SavedModel written by export.py")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created if needed)")
    parser.add_argument("--output", choices=OUTPUT_MODES, default="mask",
                        help="mask: 8-bit map; rgba: cut-out with the map as alpha; overlay: tinted photo")
    parser.add_argument("--variant", choices=VARIANTS, default=None,
                        help="pipeline variant to run with --workdir (default: full)")
    parser.add_argument("--overwrite", action="store_true", help="replace outputs that already exist")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def make_predictor(args: argparse.Namespace):
    """The `MapPredictor` chosen by --workdir / --saved-model (and --variant)."""
    from hrsod_tf import prediction

    if args.saved_model:
        if args.variant not in (None, "full"):
            raise prediction.PredictionError(
                "--variant applies to --workdir only (a SavedModel runs what was exported)")
        return prediction.predictor_from_saved_model(args.saved_model)
    return prediction.predictor_from_workdir(args.workdir, args.variant or "full")


def run(args: argparse.Namespace) -> int:
    """Plans the outputs, loads the model, predicts; returns the exit status."""
    from hrsod_tf import prediction

    inputs = prediction.collect_inputs(args.inputs)
    outputs = prediction.plan_outputs(inputs, args.out, overwrite=args.overwrite)
    predictor = make_predictor(args)
    summary = prediction.predict_files(
        predictor, inputs, outputs, args.output, progress=not args.no_progress,
        on_error=lambda path, message: print(f"predict.py: {path}: {message}", file=sys.stderr),
    )
    print(f"wrote {len(summary.written)} image(s) to {args.out}"
          + (f"; {len(summary.failed)} failed" if summary.failed else ""))
    return 1 if summary.failed else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from hrsod_tf.prediction import PredictionError

    try:
        return run(args)
    except (PredictionError, OSError, ValueError) as err:  # user errors: one line, no traceback
        print(f"predict.py: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
