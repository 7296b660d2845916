"""hrsod-tf: High-Resolution Salient Object Detection (Zeng et al., ICCV 2019) in TensorFlow 2 / Keras 3."""

__version__ = "0.1.0"
