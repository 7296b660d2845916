"""Small layers and initializers shared by the networks (keras.ops only: any Keras 3 backend)."""

import keras
import numpy as np
from keras import ops

# BatchNormalization(synchronized=True) averages the batch statistics over tf.distribute replicas; Keras offers it on
# the TensorFlow backend only, and under other backends (JAX, PyTorch: inference and timing) there is nothing to sync.
SYNCHRONIZED_BATCH_NORM = keras.backend.backend() == "tensorflow"

# Caffe VGG16 preprocessing: BGR order, ImageNet mean subtracted, no scaling (as the paper's Caffe model).
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="hrsod_tf")
class CaffePreprocessing(keras.layers.Layer):
    """RGB in [0, 255] -> BGR minus the ImageNet mean, as `keras.applications.vgg16.preprocess_input`.

    Input: (batch, H, W, 3) RGB, any float or int dtype, values 0..255. Output: same shape, compute dtype.
    """

    def call(self, images):
        images = ops.cast(images, self.compute_dtype)
        # A gather rather than ops.flip: the TFLite int8 quantizer gives a REVERSE_V2 output a scale of its own
        # while the kernel copies the bytes unchanged, so a flip would corrupt every LiteRT int8 map.
        bgr = ops.take(images, [2, 1, 0], axis=-1)
        return bgr - ops.convert_to_tensor(CAFFE_BGR_MEAN, dtype=self.compute_dtype)


@keras.saving.register_keras_serializable(package="hrsod_tf")
class UnitScaling(keras.layers.Layer):
    """RGB in [0, 255] -> [-1, 1] (the GLFN is trained from scratch: no ImageNet statistics to match)."""

    def call(self, images):
        return ops.cast(images, self.compute_dtype) / 127.5 - 1.0


def caffe_batch_norm(x, name: str, epsilon: float):
    """Caffe's BatchNorm (stored mean and variance, `epsilon`) and the Scale after it (gamma, beta) as one Keras
    `BatchNormalization` named `name`; x (batch, H, W, C) -> the same shape."""
    # synchronized: under tf.distribute the batch statistics are those of the global batch, so training on
    # N replicas computes what one device computes (a no-op on one device and in inference).
    return keras.layers.BatchNormalization(epsilon=epsilon, synchronized=SYNCHRONIZED_BATCH_NORM, name=name)(x)


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


def keys_cubic(x):
    """Keys' cubic convolution kernel with a = -0.5, radius 2: TensorFlow's "keyscubic" (bicubic) kernel."""
    x = ops.abs(x)
    near = ((1.5 * x - 2.5) * x) * x + 1.0
    far = ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0
    return ops.where(x < 1.0, near, ops.where(x < 2.0, far, ops.zeros_like(x)))


def antialiased_resize_matrix(in_size, out_size):
    """The 1-D antialiased bicubic resize from `in_size` to `out_size` pixels as a matrix.

    Row i holds the weights of output pixel i over the input pixels: half-pixel centres, the kernel stretched
    by in/out when shrinking, the weights of each row normalised to sum to 1 (TensorFlow's ScaleAndTranslate,
    which ``tf.image.resize(..., "bicubic", antialias=True)`` runs; MATLAB's ``imresize`` works the same way).
    Sizes may be Python ints (the matrix is then a constant) or scalar tensors.

    Returns:
        float32 [out_size, in_size].
    """
    inv_scale = ops.cast(in_size, "float32") / ops.cast(out_size, "float32")
    kernel_scale = ops.maximum(inv_scale, 1.0)
    sample = (ops.cast(ops.arange(out_size), "float32") + 0.5) * inv_scale
    source = ops.cast(ops.arange(in_size), "float32") + 0.5
    weights = keys_cubic((source[None, :] - sample[:, None]) / kernel_scale)
    return weights / ops.sum(weights, axis=1, keepdims=True)


def antialiased_bicubic_resize(images, height, width):
    """(batch, H, W, 1) float32 -> (batch, height, width, 1): an antialiased bicubic resize as two fixed matrix
    products, ``rows @ image @ cols^T``.

    The same numbers as ``ops.image.resize(..., "bicubic", antialias=True)`` on TensorFlow (to about 1e-7), in
    ops every converter and runtime has: TensorFlow's ScaleAndTranslate op has no LiteRT, ONNX or OpenVINO
    counterpart, so an LRN written with it could not be exported.
    """
    rows = antialiased_resize_matrix(ops.shape(images)[1], height)
    cols = antialiased_resize_matrix(ops.shape(images)[2], width)
    resized = ops.matmul(ops.matmul(rows, ops.squeeze(images, axis=-1)), ops.transpose(cols))
    return ops.expand_dims(resized, -1)


@keras.saving.register_keras_serializable(package="hrsod_tf")
class GuidanceResizing(keras.layers.Layer):
    """The LRN's guidance at the scale of a decoder feature map, as the release builds guide28 / guide56.

    The MATLAB test code rounds the GSN map to {0, 1} (``uint8(im2double(map))``, test_iccv19_demo.m:35),
    crops the patch and resizes it with MATLAB's default ``imresize`` (bicubic, antialiased) to 48x48 and
    96x96 for a 384x384 patch (test_iccv19_demo.m:86-90, utils/prepare_image.m:12): 1/8 and 1/4 of the
    patch. Here the guidance arrives at the patch's size, is rounded (half up, as uint8) when `binarize`,
    and resized by 1/`factor` with antialiased bicubic interpolation (`antialiased_bicubic_resize`: two
    matrix products, so that the LRN converts to LiteRT, ONNX and OpenVINO).

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
        resized = antialiased_bicubic_resize(guidance, ops.shape(features)[1], ops.shape(features)[2])
        return ops.cast(resized, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        guidance_shape, features_shape = input_shape
        return (guidance_shape[0], features_shape[1], features_shape[2], 1)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "binarize": self.binarize}
