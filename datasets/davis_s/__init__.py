"""DAVIS-S TFDS data set: `tfds build davis_s` (run in `datasets/`) builds it from the manual download."""
