#!/usr/bin/env python
"""`python export.py`: the same as `hrsod export` (see `hrsod export --help` and hrsod_tf/cli/export.py)."""

import sys

from hrsod_tf.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("export", script=True))
