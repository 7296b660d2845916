"""Data: readers, data sources, tf.data pipelines and the synthetic scene generator."""
