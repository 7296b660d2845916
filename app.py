#!/usr/bin/env python
"""A local web page for cut-outs: drop photos, see photo / mask / cut-out side by side, pick the output, download.

    python app.py --workdir runs/demo                 # then open http://127.0.0.1:7860
    python app.py --model export/hrsod --port 8080    # any export that predict.py reads

Listens on 127.0.0.1 (this machine only) unless --host says otherwise. Uploads above --max-upload-mb and photos
above the model's pixel limit get a message on the page; at most --workers photos are worked on at once.
See hrsod_tf/deploy/web_app.py.
"""

from __future__ import annotations

import argparse
import os
import sys

# Before TensorFlow is first imported: its C++ info and warnings are noise for a command-line user.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import uvicorn  # noqa: E402

from hrsod_tf import load  # noqa: E402
from hrsod_tf.deploy.web_app import create_app  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Serve a local web page that cuts out salient objects.")
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--workdir", metavar="RUN", help="a trained run's work directory (e.g. runs/demo)")
    model.add_argument("--model", metavar="DIR", help="an exported model (see export.py)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: every network)")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument("--max-upload-mb", type=float, default=50.0, help="largest request body, MiB (default 50)")
    parser.add_argument("--workers", type=int, default=1, help="photos worked on at once (default 1)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        model = load(args.workdir or args.model)
    except (OSError, ValueError) as err:
        print(f"app.py: error: {err}", file=sys.stderr)
        return 2
    app = create_app(model.predict, model.max_image_pixels, max_upload_bytes=int(args.max_upload_mb * 2**20),
                     max_workers=args.workers)
    print(f"serving {args.workdir or args.model} on http://{args.host}:{args.port} (Ctrl+C stops)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
