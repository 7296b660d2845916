"""The Global-Local Fusion Network (paper, Sec. 4.4): a tiny fully convolutional net at full resolution.

    concat(RGB scaled to [-1, 1], fused map in [0, 1])                      4 maps
    dense block, growth rate g, `glfn_num_layers` layers, each
        BN -> ReLU -> 1x1 conv (4g maps) -> BN -> ReLU -> 3x3 conv (g maps), concatenated to its input
    four parallel dilated 3x3 convs, 2 maps each, ReLU (rates 1, 6, 12, 18; official: 1, 3, 5, 7)
    concat -> 3x3 conv -> 2-class softmax (float32)

No pooling and no strides, so any H x W works and the output keeps every pixel of the input. The receptive
field radius is `receptive_field_radius(config)` pixels: tiles with at least that margin give exactly the
untiled result.
"""

import keras

from hrsod_tf.models.layers import UnitScaling


def receptive_field_radius(config) -> int:
    """Pixels on each side of an output pixel that can influence it."""
    return config.glfn_num_layers + max(config.glfn_rates) + 1


def build_glfn(config, input_size=None):
    """Builds the GLFN.

    Args:
        config: a `ModelConfig`.
        input_size: static side of the inputs, or None for any H x W.

    Returns:
        A functional `keras.Model` with inputs `image` (batch, H, W, 3) RGB in [0, 255] and `saliency`
        (batch, H, W, 1) the fused GSN+LRN map in [0, 1]; output (batch, H, W, num_classes) float32.
    """
    shape = (input_size, input_size)
    image = keras.Input(shape=(*shape, 3), name="image")
    saliency = keras.Input(shape=(*shape, 1), name="saliency")
    scaled = UnitScaling(name="unit_scaling")(image)
    saliency_cast = keras.layers.Activation("linear", name="saliency_cast")(saliency)
    x = keras.layers.Concatenate(name="glfn_input")([scaled, saliency_cast])
    g = config.glfn_growth_rate
    for i in range(1, config.glfn_num_layers + 1):
        y = keras.layers.BatchNormalization(name=f"dense{i}_bn1")(x)
        y = keras.layers.ReLU(name=f"dense{i}_relu1")(y)
        y = keras.layers.Conv2D(4 * g, 1, kernel_initializer="he_normal", name=f"dense{i}_bottleneck")(y)
        y = keras.layers.BatchNormalization(name=f"dense{i}_bn2")(y)
        y = keras.layers.ReLU(name=f"dense{i}_relu2")(y)
        y = keras.layers.Conv2D(g, 3, padding="same", kernel_initializer="he_normal", name=f"dense{i}_conv")(y)
        x = keras.layers.Concatenate(name=f"dense{i}_concat")([x, y])
    branches = [
        keras.layers.Conv2D(
            2, 3, padding="same", dilation_rate=rate, activation="relu",
            kernel_initializer="he_normal", name=f"dilated_rate{rate}",
        )(x)
        for rate in config.glfn_rates
    ]
    x = keras.layers.Concatenate(name="dilated_concat")(branches)
    x = keras.layers.Conv2D(config.num_classes, 3, padding="same", kernel_initializer="he_normal", name="final")(x)
    probabilities = keras.layers.Activation("softmax", dtype="float32", name="probabilities")(x)
    return keras.Model([image, saliency], probabilities, name="glfn")
