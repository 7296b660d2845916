"""`hrsod batch-predict`: saliency maps for every image matching a file pattern, as an Apache Beam pipeline (any
runner; the beam extra).

    hrsod batch-predict "photos/**/*.jpg" --model models/hrsod --out masks/
    hrsod batch-predict "photos/*" --model models/hrsod --out cutouts/ --output rgba \\
        --runner DirectRunner --direct_num_workers 2 --direct_running_mode multi_processing
    hrsod batch-predict "photos/*.jpg" --model models/hrsod_int8 --out masks/   # an OpenVINO/ONNX/LiteRT export
    hrsod batch-predict "photos/*.jpg" --model models/hrsod_int8 --out masks/ --quality fast   # fewer patches
    hrsod batch-predict "gs://bucket/shots/*.jpg" --model gs://bucket/models/hrsod \\
        --out gs://bucket/masks/ --runner DataflowRunner --project P --region R --temp_location gs://bucket/tmp

Writes one PNG per input below ``--out``, mirroring the input names below the pattern's fixed part; inputs
that fail are listed in ``OUT/errors-*.jsonl`` (path and error); ``OUT/summary.json`` and the last line say how
many were done, skipped (output already there: a re-run resumes) and failed, and the images per second.
Every flag this script does not know is a Beam pipeline option (``--runner``, ``--direct_num_workers``, ...).
On one machine, ``--direct_running_mode multi_threading --direct_num_workers 2`` works on two photos at once in
one process, its threads sharing one model (benchmarks/folder_throughput.py measures it against one at a time).
Exit status: 0 if no input failed, 1 if some failed (the count is printed), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import sys

from apache_beam.options.pipeline_options import PipelineOptions

from hrsod_tf.cli.arguments import add_model_argument, model_path
from hrsod_tf.deploy.batch_prediction import BatchJob, run_batch
from hrsod_tf.deploy.prediction import PredictionError
from hrsod_tf.quality import QUALITY_HELP, QUALITY_LEVELS


def build_parser(prog: str = "hrsod batch-predict") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Predict salient-object maps for every image matching a pattern, as a Beam pipeline. "
                    "Unknown flags are passed to Beam as pipeline options (e.g. --runner DirectRunner "
                    "--direct_num_workers 2 --direct_running_mode multi_processing).")
    parser.add_argument("pattern", metavar="INPUT_PATTERN",
                        help="file pattern on any Beam filesystem (photos/*.jpg, gs://bucket/shots/**), a folder, "
                             "or one file")
    add_model_argument(parser, legacy=("--saved-model",),
                       help="an export of `hrsod export`: a SavedModel (version directory or model base path, on "
                            "any filesystem), or a local OpenVINO / ONNX / LiteRT folder")
    parser.add_argument("--out", required=True, metavar="OUT_PREFIX", help="output folder, on any Beam filesystem")
    parser.add_argument("--output", default="mask", metavar="KIND",
                        help="mask (8-bit map, the default), rgba (cut-out), overlay, green, white, color:#RRGGBB "
                             "or blur, as `hrsod predict`")
    parser.add_argument("--quality", choices=tuple(QUALITY_LEVELS), default=None,
                        help=QUALITY_HELP + "; default: the model's own (a SavedModel runs only the level it was "
                                            "exported at; a runtime export runs any)")
    return parser


def main(argv: list[str] | None = None, prog: str = "hrsod batch-predict") -> int:
    parser = build_parser(prog)
    args, beam_args = parser.parse_known_args(argv)
    try:
        job = BatchJob(args.pattern, model_path(parser, args), args.out, args.output, args.quality)
        summary = run_batch(job, PipelineOptions(beam_args))
    except (PredictionError, OSError, ValueError, ImportError) as err:  # user errors: one line, no traceback
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    print(f"done {summary.done}, skipped {summary.skipped} (output exists), failed {summary.failed}; "
          f"{summary.images_per_second:.2f} images/s over {summary.seconds:.1f} s"
          + (f" (model load {summary.model_load_seconds:.1f} s per worker)" if summary.model_load_seconds else "")
          + f"; summary in {job.summary_path}")
    if summary.failed:
        print(f"{prog}: {summary.failed} input(s) failed: see {summary.errors_file}", file=sys.stderr)
        return 1
    return 0
