"""Builds the hrsod_synthetic data set from `dummy_data/` with TFDS's own builder test."""

import tensorflow_datasets as tfds

from . import hrsod_synthetic_dataset_builder


class HrsodSyntheticTest(tfds.testing.DatasetBuilderTestCase):
  """Checks splits, example counts and features of the hrsod_synthetic builder."""

  DATASET_CLASS = hrsod_synthetic_dataset_builder.Builder
  SPLITS = {"train": 6, "test": 3}
  BUILDER_CONFIG_NAMES_TO_TEST = ["tiny", "photo_tiny", "lowres_tiny", "photo_lowres_tiny"]  # seconds, not hours


if __name__ == "__main__":
  tfds.testing.test_main()
