"""UHRSD TFDS data set: `tfds build uhrsd` (run in `datasets/`) builds it from the manual download."""
