#!/usr/bin/env python
"""Export a trained run as a TF Serving model version (SavedModel with serving signatures).

    python export.py --workdir runs/demo --out models/hrsod            # writes models/hrsod/<next version>/
    python export.py --workdir runs/demo --out models/hrsod --version 3

Serve it with the official container (see docs/SERVING.md). Existing versions are never overwritten.
Exit status: 0 on success, 2 on a usage error (message on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# Before TensorFlow is first imported: its C++ info and warnings are noise for a command-line user.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from hrsod_tf.config import RELEASE_OPT_HELP
from hrsod_tf.deploy import saved_model as export  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Export a trained hrsod-tf run as a TF Serving SavedModel.")
    parser.add_argument("--workdir", type=Path, required=True, help="the run's work directory (GSN, LRN, GLFN trained)")
    parser.add_argument("--out", type=Path, required=True, help="model base path, e.g. models/hrsod")
    parser.add_argument("--version", type=int, help="version number (default: the next free one, 1 if none)")
    parser.add_argument("--max-image-pixels", type=int,
                        help="refuse larger images (default: the run's InferenceConfig.max_image_pixels)")
    parser.add_argument("--release-opt", type=int, choices=(0, 1), default=None,
                        help=RELEASE_OPT_HELP)
    parser.add_argument("--max-batch-size", type=int, default=None,
                        help="images per serving_default request (default: 16)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.workdir.is_dir():
        print(f"error: --workdir {args.workdir} does not exist", file=sys.stderr)
        return 2
    try:
        path = export.export_workdir(
            args.workdir, args.out, args.version, max_image_pixels=args.max_image_pixels,
            max_batch_size=args.max_batch_size or export.MAX_BATCH_SIZE, release_opt=args.release_opt)
    except (export.ExportError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
