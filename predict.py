#!/usr/bin/env python
"""`python predict.py`: the same as `hrsod predict`, whose code is hrsod_tf/cli/predict.py."""

import sys

from hrsod_tf.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("predict", script=True))
