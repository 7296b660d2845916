"""DUTS TFDS data set: `tfds build duts` (run in `datasets/`) builds it from the manual download."""
