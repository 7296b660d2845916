"""Builds the hku_is data set from `dummy_data/` with TFDS's own builder test."""

import tensorflow_datasets as tfds

from . import hku_is_dataset_builder


class HkuIsTest(tfds.testing.DatasetBuilderTestCase):
  """Checks splits, example counts and features of the hku_is builder."""

  DATASET_CLASS = hku_is_dataset_builder.Builder
  SPLITS = {'test': 2}


if __name__ == "__main__":
  tfds.testing.test_main()
