"""`hrsod predict`: saliency maps, cut-outs and new backgrounds for your own photos and videos, at their original
resolution.

    hrsod predict photos/ --model runs/demo --out masks/
    hrsod predict "shots/*.jpg" --model models/hrsod --out cutouts/ --output rgba
    hrsod predict photos/ --model models/hrsod_int8 --out masks/     # any export: OpenVINO, ONNX, LiteRT, ...
    hrsod predict portrait.jpg --model runs/demo --out out/ --output background:beach.jpg
    hrsod predict photos/ --model runs/demo --out masks/ --quality fast     # fewer refined patches, faster
    hrsod predict clip.mp4 --model runs/demo --out out/ --output rgba --video-format mov    # the video extra

--output: ``mask`` (8-bit map), ``rgba`` (transparent cut-out), ``overlay`` (tinted photo), ``green``,
``white``, ``color:#RRGGBB``, ``blur`` (the photo's own background blurred) or ``background:FILE`` (another
picture, resized to cover). Cut-outs and composites estimate the object's own colour at its edges (no fringe of
the old background; ``--no-foreground-estimation`` keeps the photo's colours). Writes ``OUT/<stem>.png`` per
image (EXIF orientation applied; grayscale, RGBA and 16-bit accepted). A video gives ``OUT/<stem>.<format>``
with the clip's frame count, frame times, size and sound: mp4 (H.264), webm (VP9, with alpha: the default for
rgba), mov (ProRes 4444, with alpha) or mkv (FFV1, lossless); its maps are steadied in time first
(``--temporal``). Inputs are never overwritten, nor existing outputs without ``--overwrite``. On a folder, the
next photo is read and the last one written while the networks run this one (``--overlap files``: the same bytes
as ``--overlap none``, one photo at a time; ``--overlap networks``: two photos in the networks at once).
Exit status: 0 if every input was written, 1 if some failed (each named on stderr), 2 on a usage error.
The same in Python: ``hrsod_tf.load(RUN).cutout(photo, background=...)``. For many images, or images on cloud
storage, see `hrsod batch-predict` (Apache Beam); for a web page, `hrsod app`. Videos need the video extra
(PyAV), imported only when a video is among the inputs.
"""

from __future__ import annotations

import argparse
import sys

from hrsod_tf.cli.arguments import add_model_argument, model_path
from hrsod_tf.config import RELEASE_OPT_HELP
from hrsod_tf.deploy import prediction
from hrsod_tf.deploy.compositing import OutputKind
from hrsod_tf.deploy.saliency_model import load
from hrsod_tf.deploy.temporal import DEFAULT_METHOD, TEMPORAL_METHODS
from hrsod_tf.deploy.video_formats import VIDEO_FORMATS, is_video, plan_video_outputs
from hrsod_tf.extras import MissingExtraError, import_optional
from hrsod_tf.pipeline import VARIANTS
from hrsod_tf.quality import QUALITY_HELP, QUALITY_LEVELS


def _output_kind(text: str) -> OutputKind:
    try:
        kind = OutputKind.parse(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    if kind.name == "background" and kind.background is None:
        raise argparse.ArgumentTypeError("background needs its picture: background:FILE")
    return kind


def build_parser(prog: str = "hrsod predict") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Predict salient-object maps, cut-outs and composites for images and videos, folders and globs.")
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="image or video files, folders of them, or glob patterns")
    add_model_argument(parser, legacy=("--workdir", "--saved-model"))
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created if needed)")
    parser.add_argument("--output", type=_output_kind, default="mask", metavar="KIND",
                        help="mask (default), rgba, overlay, green, white, color:#RRGGBB, blur or background:FILE")
    parser.add_argument("--no-foreground-estimation", dest="foreground_estimation", action="store_false",
                        help="keep the photo's colours at the object's edges (faster; the old background shows)")
    parser.add_argument("--variant", choices=VARIANTS, default=None,
                        help="pipeline variant to run with a work directory or a runtime export (default: full)")
    parser.add_argument("--release-opt", type=int, choices=(0, 1), default=None,
                        help=RELEASE_OPT_HELP)
    parser.add_argument("--quality", choices=tuple(QUALITY_LEVELS), default=None,
                        help=QUALITY_HELP + "; default: the model's own (best, or the level an export was made at)")
    parser.add_argument("--video-format", choices=tuple(VIDEO_FORMATS), default=None,
                        help="container of videos: mp4 (H.264), webm (VP9, with alpha), mov (ProRes 4444, with "
                             "alpha), mkv (FFV1, lossless); default webm for rgba, else mp4")
    parser.add_argument("--temporal", choices=TEMPORAL_METHODS, default=DEFAULT_METHOD,
                        help="steadier video maps: ema (motion-gated running average), ofd (one-frame delay) or "
                             f"none (default {DEFAULT_METHOD})")
    parser.add_argument("--overlap", choices=tuple(prediction.OVERLAPS), default=prediction.DEFAULT_OVERLAP,
                        help="; ".join(f"{name}: {what}" for name, what in prediction.OVERLAPS.items())
                             + f" (default {prediction.DEFAULT_OVERLAP}; the same outputs whichever)")
    parser.add_argument("--overwrite", action="store_true", help="replace outputs that already exist")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def run(args: argparse.Namespace, prog: str = "hrsod predict") -> int:
    """Plans the outputs, loads the model, predicts images then videos; returns the exit status."""
    inputs = prediction.collect_inputs(args.inputs)
    images = [p for p in inputs if not is_video(p)]
    videos = [p for p in inputs if is_video(p)]
    image_outputs = prediction.plan_outputs(images, args.out, overwrite=args.overwrite) if images else []
    output = args.output if isinstance(args.output, OutputKind) else OutputKind.parse(args.output)
    video_outputs = plan_video_outputs(videos, args.out, output, args.video_format,
                                       overwrite=args.overwrite) if videos else []
    # PyAV (the video extra) only when there is a video: photos need nothing beyond the core.
    video = import_optional("hrsod_tf.deploy.video", "to read and write videos") if videos else None
    predictor = load(args.model, args.variant, args.release_opt, args.quality)

    def report(path, message):
        print(f"{prog}: {path}: {message}", file=sys.stderr)

    summary = prediction.predict_files(predictor, images, image_outputs, output, args.foreground_estimation,
                                       progress=not args.no_progress and bool(images), on_error=report,
                                       overlap=args.overlap)
    errors = prediction.per_file_errors()
    for source, target in zip(videos, video_outputs):
        try:
            frames = video.predict_video(predictor, source, target, output, args.video_format,
                                         args.foreground_estimation, args.temporal, progress=not args.no_progress)
            summary.written.append(target)
            print(f"{source}: {frames} frame(s) -> {target}")
        except errors as err:
            summary.failed.append((source, prediction.error_message(err)))
            report(source, prediction.error_message(err))
    print(f"wrote {len(summary.written)} output(s) to {args.out}"
          + (f"; {len(summary.failed)} failed" if summary.failed else ""))
    return 1 if summary.failed else 0


def main(argv: list[str] | None = None, prog: str = "hrsod predict") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    args.model = model_path(parser, args)
    try:
        return run(args, prog)
    except (prediction.PredictionError, OSError, ValueError, MissingExtraError) as err:  # one line, no traceback
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
