"""Builds the davis_s data set from `dummy_data/` with TFDS's own builder test."""

import tensorflow_datasets as tfds

from . import davis_s_dataset_builder


class DavisSTest(tfds.testing.DatasetBuilderTestCase):
  """Checks splits, example counts and features of the davis_s builder."""

  DATASET_CLASS = davis_s_dataset_builder.Builder
  SPLITS = {"test": 2}


if __name__ == "__main__":
  tfds.testing.test_main()
