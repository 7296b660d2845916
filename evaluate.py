#!/usr/bin/env python
"""`python evaluate.py`: the same as `hrsod evaluate`, whose code is hrsod_tf/cli/evaluate.py."""

import sys

from hrsod_tf.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("evaluate", script=True))
