"""`python -m hrsod_tf COMMAND ...`: the `hrsod` command (see `hrsod_tf.cli`)."""

import sys

from hrsod_tf.cli import main

if __name__ == "__main__":
    sys.exit(main())
