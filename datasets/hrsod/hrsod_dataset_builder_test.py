"""Builds the hrsod data set from `dummy_data/` with TFDS's own builder test."""

import tensorflow_datasets as tfds

from . import hrsod_dataset_builder


class HrsodTest(tfds.testing.DatasetBuilderTestCase):
  """Checks splits, example counts and features of the hrsod builder."""

  DATASET_CLASS = hrsod_dataset_builder.Builder
  SPLITS = {"train": 3, "test": 2}


if __name__ == "__main__":
  tfds.testing.test_main()
