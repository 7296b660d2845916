#!/usr/bin/env python
"""`python train.py`: the same as `hrsod train`, whose code is hrsod_tf/cli/train.py."""

import sys

from hrsod_tf.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("train", script=True))
