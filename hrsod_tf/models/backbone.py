"""VGG16 conv1_1 ... conv5_3 with the layer names of `keras.applications.VGG16`, and its weight loading.

Layers after conv5_3 (pool5 and the classifier) are dropped, as in the paper, so conv3_3, conv4_3 and
conv5_3 are at 1/4, 1/8 and 1/16 of the input resolution.
"""

import os

import keras

# (block, convolutions in the block) of VGG16.
_VGG16_BLOCKS = ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3))
VGG16_LAYER_NAMES = tuple(
    f"block{block}_conv{i}" for block, convs in _VGG16_BLOCKS for i in range(1, convs + 1)
)
VGG16_FILTERS = (64, 128, 256, 512, 512)


def build_vgg16_features(x, filters=VGG16_FILTERS, name_prefix="", last_activation=True):
    """Applies VGG16's convolutional blocks 1..5 (no pool5) to `x`.

    Args:
        x: preprocessed images, (batch, H, W, 3), H and W multiples of 16.
        filters: channels of blocks 1..5 (VGG16's are 64, 128, 256, 512, 512; presets may narrow them).
        name_prefix: prepended to every layer name (empty: the names of `keras.applications.VGG16`).
        last_activation: ReLU after conv5_3 (VGG16); False leaves conv5_3 linear, as the released GSN and
            LRN do (their conv5_3 is followed by BatchNorm + Scale + leaky ReLU instead).

    Returns:
        The outputs of conv3_3, conv4_3 and conv5_3: (batch, H/4, W/4, filters[2]),
        (batch, H/8, W/8, filters[3]) and (batch, H/16, W/16, filters[4]).
    """
    taps = {}
    for (block, convs), width in zip(_VGG16_BLOCKS, filters):
        if block > 1:
            x = keras.layers.MaxPooling2D(2, strides=2, name=f"{name_prefix}block{block - 1}_pool")(x)
        for i in range(1, convs + 1):
            last = block == 5 and i == convs
            x = keras.layers.Conv2D(
                width, 3, padding="same", activation=None if last and not last_activation else "relu",
                # Keras' default (Glorot) initialisation, not the prototxts' "msra" filler (deploy-GSN.prototxt:33-35):
                # the paper initialises blocks 1-5 from ImageNet (Sec. 5.1.3), so the authors never used that filler
                # here; from scratch (the small preset) with Caffe-scale inputs it slowed the LRN (docs/METHOD.md).
                name=f"{name_prefix}block{block}_conv{i}",
            )(x)
        taps[block] = x
    return taps[3], taps[4], taps[5]


def _reference_vgg16(weights):
    """`keras.applications.VGG16` without its top, loaded from "imagenet" or a local weights file."""
    if weights == "imagenet":
        return keras.applications.VGG16(include_top=False, weights="imagenet", input_shape=(None, None, 3))
    if not os.path.isfile(weights):
        raise FileNotFoundError(
            f"backbone weights file {weights!r} does not exist: give 'imagenet' (downloaded by Keras when "
            "online), 'none', or the path of a keras.applications.VGG16 .h5 / .weights.h5 file"
        )
    reference = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    try:
        reference.load_weights(weights)
    except Exception as error:  # Keras raises several types for a foreign or broken file.
        raise ValueError(
            f"could not load VGG16 weights from {weights!r} ({error}); the file must hold the weights of "
            "keras.applications.VGG16 (include_top=False or True), as written by save_weights"
        ) from error
    return reference


def load_backbone_weights(model, weights, name_prefix=""):
    """Copies VGG16 weights into the backbone layers of `model` (matched by layer name).

    Args:
        model: a network built with `build_vgg16_features` at VGG16's full widths.
        weights: "imagenet", "none"/None (keep the random initialisation), or a path to a `.h5` /
            `.weights.h5` file of `keras.applications.VGG16`.
        name_prefix: the prefix the backbone layers were built with.

    Returns:
        The number of layers whose weights were loaded (13, or 0 for "none").
    """
    if weights in (None, "none"):
        return 0
    reference = _reference_vgg16(weights)
    loaded = 0
    for name in VGG16_LAYER_NAMES:
        target = model.get_layer(f"{name_prefix}{name}")
        source = reference.get_layer(name)
        if target.kernel.shape != source.kernel.shape:
            raise ValueError(
                f"backbone layer {name} has kernel shape {tuple(target.kernel.shape)} but VGG16's is "
                f"{tuple(source.kernel.shape)}: pretrained weights need the full VGG16 widths (presets "
                "'paper' and 'official'); narrower presets train from scratch with backbone_weights='none'"
            )
        target.set_weights(source.get_weights())
        loaded += 1
    return loaded
