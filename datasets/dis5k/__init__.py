"""DIS5K TFDS data set: `tfds build dis5k` (run in `datasets/`) builds it from the manual download."""
