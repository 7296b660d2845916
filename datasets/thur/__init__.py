"""THUR15K TFDS data set: `tfds build thur` (run in `datasets/`) builds it from the manual download."""
