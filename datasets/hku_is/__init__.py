"""HKU-IS TFDS data set: `tfds build hku_is` (run in `datasets/`) builds it from the manual download."""
