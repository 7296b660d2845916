"""`hrsod convert-caffe`: imports the authors' trained Caffe networks (their three .caffemodel files) into a work
directory.

    hrsod convert-caffe --gsn GSN.caffemodel --lrn LRN.caffemodel --glfn GLFN.caffemodel --workdir runs/authors
    hrsod predict photos/ --model runs/authors --out masks/

The work directory holds config.json (the `official` preset) and the three networks' weights, so `hrsod predict`,
`hrsod evaluate` and `hrsod export` use it like a trained run. --glfn-variant picks the released GLFN definition the
weights belong to: dh (Ours-DH, default), low_res (Ours-DH at 384), duts (Ours-D), duts_low_res.
Exit status: 0 on success, 2 on a usage error or a file that does not hold the expected network.
"""

from __future__ import annotations

import argparse
import sys

from hrsod_tf.caffe.converter import GLFN_VARIANTS, import_release
from hrsod_tf.caffe.netparameter import CaffeModelError


def build_parser(prog: str = "hrsod convert-caffe") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Import the authors' released HRSOD Caffe weights.")
    parser.add_argument("--gsn", required=True, metavar="FILE", help="the GSN's .caffemodel")
    parser.add_argument("--lrn", required=True, metavar="FILE", help="the LRN's .caffemodel")
    parser.add_argument("--glfn", required=True, metavar="FILE", help="the GLFN's .caffemodel")
    parser.add_argument("--workdir", required=True, metavar="DIR", help="the work directory to write")
    parser.add_argument("--glfn-variant", choices=tuple(GLFN_VARIANTS), default="dh",
                        help="the released GLFN the weights belong to (default: dh, trained on DUTS+HRSOD)")
    parser.add_argument("--overwrite", action="store_true", help="replace a work directory that holds a run")
    parser.add_argument("--verbose", action="store_true", help="list the file layers that are not imported")
    return parser


def main(argv: list[str] | None = None, prog: str = "hrsod convert-caffe") -> int:
    args = build_parser(prog).parse_args(argv)
    def log(line):
        if args.verbose or not line.startswith("  ignored"):
            print(line)

    try:
        import_release({"gsn": args.gsn, "lrn": args.lrn, "glfn": args.glfn}, args.workdir,
                       glfn_variant=args.glfn_variant, overwrite=args.overwrite, log=log)
    except (CaffeModelError, OSError) as err:  # user errors: one line, no traceback
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    return 0
