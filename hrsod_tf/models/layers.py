"""Small layers and initializers shared by the networks (keras.ops only: any Keras 3 backend)."""

import keras
import numpy as np
from keras import ops

# Caffe VGG16 preprocessing: BGR order, ImageNet mean subtracted, no scaling (as the paper's Caffe model).
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="hrsod_tf")
class CaffePreprocessing(keras.layers.Layer):
    """RGB in [0, 255] -> BGR minus the ImageNet mean, as `keras.applications.vgg16.preprocess_input`.

    Input: (batch, H, W, 3) RGB, any float or int dtype, values 0..255. Output: same shape, compute dtype.
    """

    def call(self, images):
        images = ops.cast(images, self.compute_dtype)
        bgr = ops.flip(images, axis=-1)
        return bgr - ops.convert_to_tensor(CAFFE_BGR_MEAN, dtype=self.compute_dtype)


@keras.saving.register_keras_serializable(package="hrsod_tf")
class UnitScaling(keras.layers.Layer):
    """RGB in [0, 255] -> [-1, 1] (the GLFN is trained from scratch: no ImageNet statistics to match)."""

    def call(self, images):
        return ops.cast(images, self.compute_dtype) / 127.5 - 1.0


def msra():
    """Caffe's "msra" weight filler, the released prototxts' for every new convolution (deploy-GSN.prototxt:534-537;
    deploy_GLFN_high_res.prototxt:86-93): a Gaussian (not truncated, unlike Keras' "he_normal") with standard
    deviation sqrt(2 / fan_in). A new initializer per layer. (VGG's layers are pretrained in the paper.)"""
    return keras.initializers.VarianceScaling(scale=2.0, mode="fan_in", distribution="untruncated_normal")


@keras.saving.register_keras_serializable(package="hrsod_tf")
class BilinearUpsampling(keras.initializers.Initializer):
    """Kernel of a transposed convolution that starts as bilinear upsampling (as FCN's deconvolutions).

    For a kernel of shape (k, k, out_channels, in_channels) each channel is upsampled on its own.
    """

    def __call__(self, shape, dtype=None):
        k, _, out_channels, in_channels = shape
        factor = (k + 1) // 2
        centre = factor - 1 if k % 2 == 1 else factor - 0.5
        og = np.ogrid[:k, :k]
        filt = (1 - abs(og[0] - centre) / factor) * (1 - abs(og[1] - centre) / factor)
        kernel = np.zeros(shape, dtype="float32")
        for c in range(min(out_channels, in_channels)):
            kernel[:, :, c, c] = filt
        return ops.convert_to_tensor(kernel, dtype=dtype)


@keras.saving.register_keras_serializable(package="hrsod_tf")
class GuidanceResizing(keras.layers.Layer):
    """The LRN's guidance at the scale of a decoder feature map, as the release builds guide28 / guide56.

    The MATLAB test code rounds the GSN map to {0, 1} (``uint8(im2double(map))``, test_iccv19_demo.m:35),
    crops the patch and resizes it with MATLAB's default ``imresize`` (bicubic, antialiased) to 48x48 and
    96x96 for a 384x384 patch (test_iccv19_demo.m:86-90, utils/prepare_image.m:12): 1/8 and 1/4 of the
    patch. Here the guidance arrives at the patch's size, is rounded (half up, as uint8) when `binarize`,
    and resized by 1/`factor` with antialiased bicubic interpolation.

    Inputs: [guidance (batch, H, W, 1) in [0, 1], features (batch, H/factor, W/factor, C)].
    Output: (batch, H/factor, W/factor, 1). The guidance must have the patch's size: anything else is
    rejected with a message, since a silently misaligned guidance would teach the LRN nonsense.
    """

    def __init__(self, factor, binarize=True, **kwargs):
        super().__init__(**kwargs)
        self.factor = int(factor)
        self.binarize = bool(binarize)

    def _check(self, guidance_shape, features_shape):
        for axis in (1, 2):
            g, f = guidance_shape[axis], features_shape[axis]
            if g is not None and f is not None and g != f * self.factor:
                raise ValueError(
                    f"LRN guidance has spatial shape {tuple(guidance_shape[1:3])}, but the image patch "
                    f"needs {(features_shape[1] * self.factor, features_shape[2] * self.factor)}: pass the "
                    "GSN-map crop of the patch resized to the patch's own size"
                )

    def build(self, input_shape):
        self._check(*input_shape)

    def call(self, inputs):
        guidance, features = inputs
        self._check(tuple(guidance.shape), tuple(features.shape))
        guidance = ops.cast(guidance, "float32")
        if self.binarize:
            guidance = ops.floor(guidance + 0.5)
        size = ops.shape(features)[1:3]
        resized = ops.image.resize(guidance, size, interpolation="bicubic", antialias=True, data_format="channels_last")
        return ops.cast(resized, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        guidance_shape, features_shape = input_shape
        return (guidance_shape[0], features_shape[1], features_shape[2], 1)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "binarize": self.binarize}
