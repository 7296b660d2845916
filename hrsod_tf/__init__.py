"""hrsod-tf: High-Resolution Salient Object Detection (Zeng et al., ICCV 2019) in TensorFlow 2 / Keras 3.

    from hrsod_tf import load
    model = load("runs/demo")
    model.cutout("photo.jpg", background="green")   # see hrsod_tf.deploy.saliency_model
"""

import importlib

from hrsod_tf import machine as _machine

__version__ = "0.1.0"
__all__ = ["load"]

# Before TensorFlow's first import, which reads it once: its oneDNN kernels on AVX2-only CPUs too.
if not _machine.tensorflow_imported():
    _machine.turn_on_onednn_kernels()


def __getattr__(name):
    # `load` comes on first use (PEP 562): `import hrsod_tf.evaluation` and the like must not pull in
    # TensorFlow and the deploy stack, so the package names its module only as text here.
    if name == "load":
        return importlib.import_module("hrsod_tf.deploy.saliency_model").load
    raise AttributeError(f"module 'hrsod_tf' has no attribute {name!r}")
