"""Builds the duts data set from `dummy_data/` with TFDS's own builder test."""

import tensorflow_datasets as tfds

from . import duts_dataset_builder


class DutsTest(tfds.testing.DatasetBuilderTestCase):
  """Checks splits, example counts and features of the duts builder."""

  DATASET_CLASS = duts_dataset_builder.Builder
  SPLITS = {'train': 3, 'test': 2}


if __name__ == "__main__":
  tfds.testing.test_main()
