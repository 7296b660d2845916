#!/usr/bin/env python
"""`python app.py`: the same as `hrsod app`, whose code is hrsod_tf/cli/app.py."""

import sys

from hrsod_tf.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("app", script=True))
