"""Builds the thur data set from `dummy_data/` with TFDS's own builder test."""

import tensorflow_datasets as tfds

from . import thur_dataset_builder


class ThurTest(tfds.testing.DatasetBuilderTestCase):
  """Checks splits, example counts and features of the thur builder."""

  DATASET_CLASS = thur_dataset_builder.Builder
  SPLITS = {'test': 4}


if __name__ == "__main__":
  tfds.testing.test_main()
