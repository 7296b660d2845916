"""The GSN and the LRN: one builder over a dilated VGG16 with an FCN-style decoder (paper, Sec. 4.1-4.2).

    image -> Caffe preprocessing -> VGG16 conv1_1 .. conv5_3
      conv3_3 (1/4), conv4_3 (1/8), conv5_3 (1/16) each -> four parallel dilated 3x3 convs
        (head_filters channels, rates 1, 3, 5, 7) -> concat -> 1x1 conv -> 2-class score map
      score5 -> deconv x2 -> + score4 [LRN: concat guidance at 1/8 -> 1x1 conv]
             -> deconv x2 -> + score3 [LRN: concat guidance at 1/4 -> 1x1 conv]
             -> deconv x4 -> softmax (float32) at input resolution

Layer names: the backbone keeps `keras.applications.VGG16`'s names (`block{b}_conv{i}`), so pretrained
weights load by name and the optimizer tells pretrained from new layers by the `block` prefix.
"""

import keras

from hrsod_tf.models.backbone import build_vgg16_features, load_backbone_weights
from hrsod_tf.models.layers import BilinearUpsampling, CaffePreprocessing, GuidancePooling

BACKBONE_PREFIX = "block"


def is_backbone_variable(variable) -> bool:
    """True for the variables of the pretrained VGG16 layers (learning rate 1e-3 in the paper)."""
    return variable.path.split("/")[-2].startswith(BACKBONE_PREFIX)


def _dilated_head(features, block, config):
    """Four parallel dilated 3x3 convolutions, concatenated, then a 1x1 conv to a score map."""
    branches = [
        keras.layers.Conv2D(
            config.head_filters, 3, padding="same", dilation_rate=rate, activation="relu",
            kernel_initializer="he_normal", name=f"head{block}_rate{rate}",
        )(features)
        for rate in config.head_rates
    ]
    x = keras.layers.Concatenate(name=f"head{block}_concat")(branches)
    return keras.layers.Conv2D(
        config.num_classes, 1, kernel_initializer="he_normal", name=f"score{block}"
    )(x)


def _upsample(x, factor, name, num_classes):
    return keras.layers.Conv2DTranspose(
        num_classes, 2 * factor, strides=factor, padding="same",
        kernel_initializer=BilinearUpsampling(), name=name,
    )(x)


def _fuse_guidance(x, guidance, factor, num_classes, name):
    pooled = GuidancePooling(factor, name=f"{name}_pool")([guidance, x])
    x = keras.layers.Concatenate(name=f"{name}_concat")([x, pooled])
    return keras.layers.Conv2D(num_classes, 1, kernel_initializer="he_normal", name=name)(x)


def build_saliency_network(config, with_guidance: bool, name: str, input_size=None):
    """Builds the GSN (`with_guidance=False`) or the LRN (`with_guidance=True`).

    Args:
        config: a `ModelConfig`.
        with_guidance: add the LRN's second input, the GSN-map crop of the patch, fused at 1/8 and 1/4.
        name: model name.
        input_size: static side of the inputs, or None for any H x W (multiples of 16).

    Returns:
        A functional `keras.Model`. Inputs: `image` (batch, H, W, 3) RGB in [0, 255]; for the LRN also
        `guidance` (batch, H, W, 1), the GSN probability of the patch in [0, 1]. Output: (batch, H, W,
        num_classes) float32 softmax probabilities; channel 1 is "salient".
    """
    shape = (input_size, input_size)
    image = keras.Input(shape=(*shape, 3), name="image")
    inputs = [image]
    x = CaffePreprocessing(name="caffe_preprocessing")(image)
    conv3, conv4, conv5 = build_vgg16_features(x, config.vgg_filters)
    score3 = _dilated_head(conv3, 3, config)
    score4 = _dilated_head(conv4, 4, config)
    score5 = _dilated_head(conv5, 5, config)
    if with_guidance:
        guidance = keras.Input(shape=(*shape, 1), name="guidance")
        inputs.append(guidance)

    x = _upsample(score5, 2, "upsample5", config.num_classes)
    x = keras.layers.Add(name="fuse4")([x, score4])
    if with_guidance:
        x = _fuse_guidance(x, guidance, 8, config.num_classes, "guidance8")
    x = _upsample(x, 2, "upsample4", config.num_classes)
    x = keras.layers.Add(name="fuse3")([x, score3])
    if with_guidance:
        x = _fuse_guidance(x, guidance, 4, config.num_classes, "guidance4")
    x = _upsample(x, 4, "upsample3", config.num_classes)
    probabilities = keras.layers.Activation("softmax", dtype="float32", name="probabilities")(x)
    # A single input stays a tensor (not a one-element list), so callers pass the array itself.
    model = keras.Model(inputs if with_guidance else image, probabilities, name=name)
    load_backbone_weights(model, config.backbone_weights)
    return model


def build_gsn(config, input_size=None):
    """The Global Semantic Network: the whole image, resized to `config.gsn_input_size`."""
    return build_saliency_network(config, with_guidance=False, name="gsn", input_size=input_size)


def build_lrn(config, input_size=None):
    """The Local Refinement Network: APS patches plus the GSN map of each patch as guidance."""
    return build_saliency_network(config, with_guidance=True, name="lrn", input_size=input_size)
