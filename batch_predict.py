#!/usr/bin/env python
"""`python batch_predict.py`: the same as `hrsod batch-predict`, whose code is hrsod_tf/cli/batch_predict.py."""

import sys

from hrsod_tf.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("batch-predict", script=True))
