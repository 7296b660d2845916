"""The TFDS builders of hrsod-tf, installed with the project as the package ``hrsod_tf_datasets``.

One folder per data set, as TFDS lays them out (``<name>/<name>_dataset_builder.py`` with class ``Builder``,
``dummy_data/``, a builder test); `sod_builder` holds what the builders share. Importing this package registers
no builder: `hrsod_tf.data.sources.register_builders` (or ``tfds build``) imports the builders themselves.
"""
