"""hrsod-tf: High-Resolution Salient Object Detection (Zeng et al., ICCV 2019) in TensorFlow 2 / Keras 3.

    from hrsod_tf import load
    model = load("runs/demo")
    model.cutout("photo.jpg", background="green")   # see hrsod_tf.deploy.saliency_model
"""

__version__ = "0.1.0"
__all__ = ["load"]


def __getattr__(name):
    # `load` is imported on first use: `import hrsod_tf.config` must not pull in TensorFlow and the deploy stack.
    if name == "load":
        from hrsod_tf.deploy.saliency_model import load

        return load
    raise AttributeError(f"module 'hrsod_tf' has no attribute {name!r}")
