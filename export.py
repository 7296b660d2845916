#!/usr/bin/env python
"""`python export.py`: the same as `hrsod export`, whose code is hrsod_tf/cli/export.py."""

import sys

from hrsod_tf.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("export", script=True))
