"""`hrsod app`: a local web page for cut-outs: drop photos, see photo / mask / cut-out side by side, pick the
output, download (the web extra).

    hrsod app --model runs/demo                     # then open http://127.0.0.1:7860
    hrsod app --model models/hrsod --port 8080      # any model that `hrsod predict` reads

Listens on 127.0.0.1 (this machine only) unless --host says otherwise. Uploads above --max-upload-mb and photos
above the model's pixel limit get a message on the page; at most --workers photos are worked on at once.
See hrsod_tf/deploy/web_app.py.
"""

from __future__ import annotations

import argparse
import sys

import uvicorn

from hrsod_tf.cli.arguments import add_model_argument, model_path
from hrsod_tf.deploy.saliency_model import load
from hrsod_tf.deploy.web_app import create_app
from hrsod_tf.quality import QUALITY_LEVELS


def build_parser(prog: str = "hrsod app") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Serve a local web page that cuts out salient objects.")
    add_model_argument(parser, legacy=("--workdir",))
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: every network)")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument("--max-upload-mb", type=float, default=50.0, help="largest request body, MiB (default 50)")
    parser.add_argument("--quality", choices=tuple(QUALITY_LEVELS), default=None,
                        help="the page's default speed/quality level (its menu offers every level the model runs); "
                             "default: the model's own")
    parser.add_argument("--workers", type=int, default=1, help="photos worked on at once (default 1)")
    return parser


def main(argv: list[str] | None = None, prog: str = "hrsod app") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    path = model_path(parser, args)
    try:
        model = load(path, quality=args.quality)
    except (OSError, ValueError, ImportError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    app = create_app(model.predict, model.max_image_pixels, max_upload_bytes=int(args.max_upload_mb * 2**20),
                     max_workers=args.workers, qualities=model.qualities, quality=model.quality)
    print(f"serving {path} on http://{args.host}:{args.port} (Ctrl+C stops)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
