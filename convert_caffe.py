#!/usr/bin/env python
"""`python convert_caffe.py`: the same as `hrsod convert-caffe`, whose code is hrsod_tf/cli/convert_caffe.py."""

import sys

from hrsod_tf.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("convert-caffe", script=True))
