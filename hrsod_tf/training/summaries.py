"""TensorBoard scalars and images written with TensorFlow's own `tf.summary.write`.

`tf.summary.scalar` / `tf.summary.image` live in the `tensorboard` package, which training does not need;
these two functions write the same events (same plugin names and tensor layouts), so TensorBoard shows them
when it is installed wherever the logs are viewed.
"""

import tensorflow as tf
from tensorflow.core.framework import summary_pb2


def _metadata(plugin: str) -> summary_pb2.SummaryMetadata:
    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = plugin
    return metadata


def scalar(name: str, value, step=None) -> None:
    """A scalar summary (TensorBoard's "scalars" plugin)."""
    tf.summary.write(name, tf.cast(value, tf.float32), step=step, metadata=_metadata("scalars"))


def image(name: str, images, step=None, max_outputs: int = 3) -> None:
    """An image summary of (batch, H, W, 1 or 3) float images in [0, 1] (TensorBoard's "images" plugin)."""
    images = tf.convert_to_tensor(images)[:max_outputs]
    encoded = tf.map_fn(tf.image.encode_png, tf.image.convert_image_dtype(images, tf.uint8, saturate=True),
                        fn_output_signature=tf.string)
    shape = tf.shape(images)
    dims = tf.strings.as_string([shape[2], shape[1]])  # width, height: the plugin's layout
    tf.summary.write(name, tf.concat([dims, encoded], axis=0), step=step, metadata=_metadata("images"))
