"""Sizes of the three networks: parameters, float32 bytes, and the size of the GLFN as a .caffemodel.

The paper's Table 3 gives 129.6 MB for the GSN + LRN and Sec. 4.4 gives 11.9 kB for the GLFN. This prints,
for the `official` preset (the released networks, whose parameter counts equal the deploy prototxts' blob
shapes, tests/test_models.py):

  * parameters and float32 bytes of each network (Keras counts; Caffe adds one BatchNorm scale factor each);
  * the GLFN written as a .caffemodel by `hrsod_tf.caffe` (layer names, types and float blobs, as Caffe's
    `Net::ToProto` stores them, without the layer definitions Caffe also stores in a snapshot).

    python benchmarks/model_sizes.py
"""

from __future__ import annotations

import os
import tempfile

import common  # noqa: F401  (before TensorFlow: quiets its C++ logging)

from hrsod_tf.caffe.converter import caffe_layers_from_keras
from hrsod_tf.caffe.netparameter import write_caffemodel
from hrsod_tf.config import get_preset
from hrsod_tf.models import build_glfn, build_gsn, build_lrn


def main() -> None:
    config = get_preset("official").model
    models = {"gsn": build_gsn(config), "lrn": build_lrn(config), "glfn": build_glfn(config)}
    for name, model in models.items():
        count = model.count_params()
        print(f"{name}: {count:,} parameters = {count * 4:,} bytes float32")
    both = (models["gsn"].count_params() + models["lrn"].count_params()) * 4
    print(f"gsn+lrn: {both:,} bytes = {both / 1e6:.1f} MB")
    layers = caffe_layers_from_keras(models["glfn"], "glfn", config)
    floats = sum(int(blob.size) for layer in layers for blob in layer.blobs)
    with tempfile.TemporaryDirectory() as tmp:
        size = write_caffemodel(os.path.join(tmp, "GLFN.caffemodel"), layers, name="VGG_ILSVRC_16_layers")
    print(f"glfn as Caffe blobs: {floats:,} floats = {floats * 4:,} bytes; "
          f"as a .caffemodel: {size:,} bytes = {size / 1000:.1f} kB = {size / 1024:.2f} KiB")


if __name__ == "__main__":
    main()
