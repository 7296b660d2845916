"""Builds the dis5k data set from `dummy_data/` with TFDS's own builder test."""

import tensorflow_datasets as tfds

from . import dis5k_dataset_builder


class Dis5kTest(tfds.testing.DatasetBuilderTestCase):
  """Checks splits, example counts and features of the dis5k builder."""

  DATASET_CLASS = dis5k_dataset_builder.Builder
  SPLITS = {'DIS-TR': 2, 'DIS-VD': 1, 'DIS-TE1': 1, 'DIS-TE2': 1, 'DIS-TE3': 1, 'DIS-TE4': 1}


if __name__ == "__main__":
  tfds.testing.test_main()
