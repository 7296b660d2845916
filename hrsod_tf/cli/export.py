"""`hrsod export`: a trained run as a TF Serving SavedModel (the default), or its networks for OpenVINO, ONNX
Runtime or LiteRT.

    hrsod export --model runs/demo --out models/hrsod            # writes models/hrsod/<next version>/
    hrsod export --model runs/demo --out models/hrsod --version 3
    hrsod export --model runs/demo --out models/hrsod_fast --quality fast     # the patch budget is baked in
    hrsod export --model runs/demo --format openvino --precision int8 --out models/hrsod_int8
    hrsod export --model runs/caffe --format onnx --precision int8 --calibration-data folders:IMGS,MASKS \
        --out models/hrsod_onnx_int8

Serve a SavedModel with the official container (see docs/SERVING.md); run any export with
``hrsod predict --model DIR`` (also ``hrsod evaluate``, ``hrsod batch-predict``). int8 is calibrated on
the run's own training images (``--calibration-data SPEC`` names others, never test images). Existing versions
and folders are never overwritten.
Exit status: 0 on success, 2 on a usage error (message on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from hrsod_tf.cli.arguments import add_model_argument, model_path
from hrsod_tf.config import RELEASE_OPT_HELP
from hrsod_tf.deploy import saved_model as export
from hrsod_tf.deploy.runtimes import formats
from hrsod_tf.deploy.runtimes.export import export_runtime_model
from hrsod_tf.extras import MissingExtraError
from hrsod_tf.quality import QUALITY_HELP, QUALITY_LEVELS


def build_parser(prog: str = "hrsod export") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Export a trained run: a TF Serving SavedModel, or OpenVINO / ONNX / LiteRT files.")
    add_model_argument(parser, legacy=("--workdir",),
                       help="the run's work directory (GSN, LRN, GLFN trained), e.g. runs/demo")
    parser.add_argument("--out", type=Path, required=True,
                        help="saved_model: the model base path (e.g. models/hrsod); other formats: a new folder")
    parser.add_argument("--format", choices=formats.FORMATS, default="saved_model",
                        help="saved_model (TF Serving, default), openvino, onnx or litert")
    parser.add_argument("--precision", choices=formats.PRECISIONS, default="float32",
                        help="float32 (default); bfloat16 (openvino); int8 (openvino, onnx, litert)")
    parser.add_argument("--calibration-data", metavar="SPEC",
                        help="int8: training images to calibrate on, any --dataset spec (default: the run's own)")
    parser.add_argument("--calibration-images", type=int, default=32, metavar="N",
                        help="int8: training images the float32 pipeline runs for calibration (default: 32)")
    parser.add_argument("--data-dir", help="TFDS data directory of --calibration-data (default: ~/tensorflow_datasets)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    parser.add_argument("--version", type=int, help="version number (default: the next free one, 1 if none)")
    parser.add_argument("--max-image-pixels", type=int,
                        help="refuse larger images (default: the run's InferenceConfig.max_image_pixels)")
    parser.add_argument("--release-opt", type=int, choices=(0, 1), default=None,
                        help=RELEASE_OPT_HELP)
    parser.add_argument("--quality", choices=tuple(QUALITY_LEVELS), default=None,
                        help=QUALITY_HELP + "; a SavedModel runs this level only, a runtime export starts at it "
                        "(default: the run's, best)")
    parser.add_argument("--max-batch-size", type=int, default=None,
                        help="images per serving_default request (default: 16)")
    return parser


def main(argv: list[str] | None = None, prog: str = "hrsod export") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    workdir = Path(model_path(parser, args))
    if not workdir.is_dir():
        print(f"{prog}: error: --model {workdir} does not exist", file=sys.stderr)
        return 2
    if args.format != "saved_model" and (args.version or args.max_image_pixels or args.max_batch_size):
        print(f"{prog}: error: --version, --max-image-pixels and --max-batch-size apply to --format saved_model only",
              file=sys.stderr)
        return 2
    try:
        formats.check_precision(args.format, args.precision)
        if args.format == "saved_model":
            path = export.export_workdir(
                workdir, args.out, args.version, max_image_pixels=args.max_image_pixels,
                max_batch_size=args.max_batch_size or export.MAX_BATCH_SIZE, release_opt=args.release_opt,
                quality=args.quality)
        else:
            logging.getLogger("nncf").setLevel(logging.WARNING)
            path = export_runtime_model(
                workdir, args.out, args.format, args.precision, calibration_data=args.calibration_data,
                calibration_images=args.calibration_images, data_dir=args.data_dir, progress=not args.no_progress,
                log=lambda line: print(line, flush=True), release_opt=args.release_opt, quality=args.quality)
    except (export.ExportError, FileNotFoundError, FileExistsError, ValueError,
            MissingExtraError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0
