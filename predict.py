#!/usr/bin/env python
"""Saliency maps, cut-outs or overlays for your own photos and videos, at their original resolution.

    python predict.py photos/ --workdir runs/demo --out masks/
    python predict.py "shots/*.jpg" IMG_0042.HEIC.png --saved-model export/hrsod --out cutouts/ --output rgba
    python predict.py clip.mp4 --saved-model export/hrsod --out mattes/ --output overlay --video-format avi
    python predict.py photos/ --model models/hrsod_int8 --out masks/     # any export: OpenVINO, ONNX, LiteRT, ...

Writes ``OUT/<stem>.png`` per image: ``mask`` (8-bit saliency map), ``rgba`` (the photo with the map as alpha)
or ``overlay`` (the photo with the salient region tinted). EXIF orientation is applied; grayscale, RGBA and
16-bit images are accepted. A video gives ``OUT/<stem>.mp4`` (or ``.avi``) with the same frame count, frame
rate and size (``rgba``: a folder ``OUT/<stem>/`` of PNG frames); audio is not carried over.
Inputs are never overwritten, nor existing outputs without ``--overwrite``.
Exit status: 0 if every input was written, 1 if some failed (each named on stderr), 2 on a usage error.
For many images, or images on cloud storage, see batch_predict.py (Apache Beam).
"""

from __future__ import annotations

import argparse
import os
import sys

# Before TensorFlow is first imported: its C++ info and warnings are noise for a command-line user.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from hrsod_tf.deploy import prediction, video  # noqa: E402
from hrsod_tf.deploy.model_loading import load_predictor  # noqa: E402
from hrsod_tf.deploy.runtimes.formats import RuntimeNotInstalledError  # noqa: E402
from hrsod_tf.deploy.video import VIDEO_FORMATS  # noqa: E402
from hrsod_tf.pipeline import VARIANTS  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Predict salient-object maps for images and videos, folders and globs.")
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="image or video files, folders of them, or glob patterns")
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--workdir", metavar="RUN", help="a trained run's work directory (e.g. runs/demo)")
    model.add_argument("--saved-model", metavar="DIR", help="a SavedModel written by export.py")
    model.add_argument("--model", metavar="DIR",
                       help="any model, found from what the folder holds: a work directory, a SavedModel, or an "
                            "OpenVINO / ONNX / LiteRT export of export.py")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created if needed)")
    parser.add_argument("--output", choices=prediction.OUTPUT_MODES, default="mask",
                        help="mask: 8-bit map; rgba: cut-out with the map as alpha; overlay: tinted photo")
    parser.add_argument("--variant", choices=VARIANTS, default=None,
                        help="pipeline variant to run with --workdir or a runtime export (default: full)")
    parser.add_argument("--video-format", choices=tuple(VIDEO_FORMATS), default="mp4",
                        help="container of mask/overlay videos: mp4 (mp4v, small, lossy) or avi (FFV1, lossless)")
    parser.add_argument("--overwrite", action="store_true", help="replace outputs that already exist")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def make_predictor(args: argparse.Namespace):
    """The `MapPredictor` of --workdir / --saved-model / --model (and --variant)."""
    return load_predictor(args.workdir or args.saved_model or args.model, args.variant)


def run(args: argparse.Namespace) -> int:
    """Plans the outputs, loads the model, predicts images then videos; returns the exit status."""
    inputs = prediction.collect_inputs(args.inputs)
    images = [p for p in inputs if not video.is_video(p)]
    videos = [p for p in inputs if video.is_video(p)]
    image_outputs = prediction.plan_outputs(images, args.out, overwrite=args.overwrite) if images else []
    video_outputs = video.plan_video_outputs(videos, args.out, args.output, args.video_format,
                                             overwrite=args.overwrite) if videos else []
    predictor = make_predictor(args)

    def report(path, message):
        print(f"predict.py: {path}: {message}", file=sys.stderr)

    summary = prediction.predict_files(predictor, images, image_outputs, args.output,
                                       progress=not args.no_progress and bool(images), on_error=report)
    errors = prediction.per_file_errors()
    for source, target in zip(videos, video_outputs):
        try:
            frames = video.predict_video(predictor, source, target, args.output, progress=not args.no_progress)
            summary.written.append(target)
            print(f"{source}: {frames} frame(s) -> {target}")
        except errors as err:
            summary.failed.append((source, prediction.error_message(err)))
            report(source, prediction.error_message(err))
    print(f"wrote {len(summary.written)} output(s) to {args.out}"
          + (f"; {len(summary.failed)} failed" if summary.failed else ""))
    return 1 if summary.failed else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (prediction.PredictionError, OSError, ValueError, RuntimeNotInstalledError) as err:  # one line, no traceback
        print(f"predict.py: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
