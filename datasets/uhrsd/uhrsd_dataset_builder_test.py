"""Builds the uhrsd data set from `dummy_data/` with TFDS's own builder test."""

import tensorflow_datasets as tfds

from . import uhrsd_dataset_builder


class UhrsdTest(tfds.testing.DatasetBuilderTestCase):
  """Checks splits, example counts and features of the uhrsd builder."""

  DATASET_CLASS = uhrsd_dataset_builder.Builder
  SPLITS = {'train': 3, 'test': 2}


if __name__ == "__main__":
  tfds.testing.test_main()
