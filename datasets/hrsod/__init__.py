"""HRSOD TFDS data set: `tfds build hrsod` (run in `datasets/`) builds it from the manual download."""
