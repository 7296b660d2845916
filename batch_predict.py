#!/usr/bin/env python
"""Saliency maps for every image matching a file pattern, as an Apache Beam pipeline (any runner).

    python batch_predict.py "photos/**/*.jpg" --saved-model models/hrsod --out masks/
    python batch_predict.py "photos/*" --saved-model models/hrsod --out cutouts/ --output rgba \\
        --runner DirectRunner --direct_num_workers 2 --direct_running_mode multi_processing
    python batch_predict.py "photos/*.jpg" --model models/hrsod_int8 --out masks/   # an OpenVINO/ONNX/LiteRT export
    python batch_predict.py "gs://bucket/shots/*.jpg" --saved-model gs://bucket/models/hrsod \\
        --out gs://bucket/masks/ --runner DataflowRunner --project P --region R --temp_location gs://bucket/tmp

Writes one PNG per input below ``--out``, mirroring the input names below the pattern's fixed part; inputs
that fail are listed in ``OUT/errors-*.jsonl`` (path and error); ``OUT/summary.json`` and the last line say how
many were done, skipped (output already there: a re-run resumes) and failed, and the images per second.
Every flag this script does not know is a Beam pipeline option (``--runner``, ``--direct_num_workers``, ...).
Exit status: 0 if no input failed, 1 if some failed (the count is printed), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import os
import sys

# Before TensorFlow is first imported: its C++ info and warnings are noise for a command-line user.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from apache_beam.options.pipeline_options import PipelineOptions  # noqa: E402

from hrsod_tf.deploy.batch_prediction import BatchJob, run_batch  # noqa: E402
from hrsod_tf.deploy.prediction import PredictionError  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Predict salient-object maps for every image matching a pattern, as a Beam pipeline. "
                    "Unknown flags are passed to Beam as pipeline options (e.g. --runner DirectRunner "
                    "--direct_num_workers 2 --direct_running_mode multi_processing).")
    parser.add_argument("pattern", metavar="INPUT_PATTERN",
                        help="file pattern on any Beam filesystem (photos/*.jpg, gs://bucket/shots/**), a folder, "
                             "or one file")
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--saved-model", metavar="DIR",
                       help="a SavedModel written by export.py (version directory or model base path)")
    model.add_argument("--model", metavar="DIR",
                       help="any export of export.py, found from what the folder holds: a SavedModel, or a local "
                            "OpenVINO / ONNX / LiteRT folder (run by the same pipeline code)")
    parser.add_argument("--out", required=True, metavar="OUT_PREFIX", help="output folder, on any Beam filesystem")
    parser.add_argument("--output", default="mask", metavar="KIND",
                        help="mask (8-bit map, the default), rgba (cut-out), overlay, green, white, color:#RRGGBB "
                             "or blur, as predict.py")
    return parser


def main(argv: list[str] | None = None) -> int:
    args, beam_args = build_parser().parse_known_args(argv)
    try:
        job = BatchJob(args.pattern, args.saved_model or args.model, args.out, args.output)
        summary = run_batch(job, PipelineOptions(beam_args))
    except (PredictionError, OSError, ValueError, ImportError) as err:  # user errors: one line, no traceback
        print(f"batch_predict.py: error: {err}", file=sys.stderr)
        return 2
    print(f"done {summary.done}, skipped {summary.skipped} (output exists), failed {summary.failed}; "
          f"{summary.images_per_second:.2f} images/s over {summary.seconds:.1f} s"
          + (f" (model load {summary.model_load_seconds:.1f} s per worker)" if summary.model_load_seconds else "")
          + f"; summary in {job.summary_path}")
    if summary.failed:
        print(f"batch_predict.py: {summary.failed} input(s) failed: see {summary.errors_file}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
