"""Synthetic high-resolution SOD TFDS data set: `tfds build hrsod_synthetic` (run in `datasets/`)."""
