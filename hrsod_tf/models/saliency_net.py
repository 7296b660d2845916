"""The GSN and the LRN: one builder over a dilated VGG16 with the released FCN-style decoder (paper, Sec. 4.1-4.2).

The structure is the authors' released networks, prototxt/deploy-GSN.prototxt and deploy-LRN.prototxt of
yi94code/HRSOD (line numbers below are deploy-GSN's; deploy-LRN's are the same layers 12 lines later, plus
the guidance). Keras layers are named after the Caffe layer they hold; a Caffe BatchNorm and the Scale after
it are one Keras `BatchNormalization`, named after the BatchNorm:

    image (RGB 0..255) -> caffe_preprocessing: BGR minus the ImageNet mean          (utils/prepare_img.m:5-20)
    VGG16 conv1_1 .. conv5_3, Keras names block{b}_conv{i}                           (:16-474)
        conv5_3 has no ReLU but bn_conv5_3 (BatchNorm+Scale) -> relu5_3 (leaky, 0.01) (:475-515)
    on conv{b}_3, b = 3, 4, 5: conv{b}_dcpp_{r}-sm, four parallel 3x3 convs, 32 maps, dilation r = 1, 3, 5, 7,
        bias, ReLU (relu{b}_dcpp_{r}-sm) -> concat_conv{b}_dcpp                       (:516-662)
    score layers, 3x3 convs to 2 maps, each -> BatchNorm+Scale -> leaky ReLU (0.01):
        conv5_3_score (no bias) / bn_conv5_3_score / relu5_3_score                   (:663-727)
        conv4_score (bias) / bn_conv4_score / relu_conv4_score                       (:938-1010)
        conv3_score (bias) / bn_conv3_score / relu_conv3_score                       (:1239-1313)
    upscore1: 8x8 deconv, stride 2, pad 3, no bias -> bn_upscore1 -> relu_upscore1 (leaky)   (:728-790)
    fuse_score1 = upscore1 + conv4_score (Eltwise SUM)                                (:1013-1024)
        LRN: concat1 = [fuse_score1, guide28] -> R1_score (3x3, no bias) -> bn_R1_score -> reluR1_score
    upscore2: as upscore1 -> bn_upscore2 -> relu_upscore2                             (:1026-1089)
    fuse_score2 = upscore2 + conv3_score                                              (:1315-1325)
        LRN: concat2 = [fuse_score2, guide56] -> R2_score -> bn_R2_score -> reluR2_score
    upscore3: 8x8 deconv, stride 4, pad 2, no bias -> bn_upscore3 (no ReLU)           (:1326-1387)
    probabilities: softmax, float32 (Caffe layer "predict")                           (:1388-1393)

Caffe's deconvolution output side is (in - 1) * stride - 2 * pad + kernel = 2 in (stride 2) or 4 in (stride
4), which Keras' `padding="same"` transposed convolution reproduces (the same 3 / 2 pixels cropped per side).

The paper (Sec. 4.1) gives the dilated heads (k = 3, c = 32, rates 1, 3, 5, 7), "three saliency score maps",
deconvolutions x2, x2, x4 and two skip connections from the block 3 and 4 scores, and (Sec. 4.2) the GSN map
concatenated with the LRN's decoder features; it is silent on the score layers' kernel, the BatchNorms, the
leaky ReLUs, the deconvolutions' kernels and where exactly the guidance enters, so every preset follows the
release there. The presets differ in widths and input sizes only.

The backbone keeps `keras.applications.VGG16`'s names (`block{b}_conv{i}` holds Caffe's `conv{b}_{i}`), so
ImageNet weights load by name and the optimizer tells pretrained from new layers by the `block` prefix.
"""

import keras

from hrsod_tf.models.backbone import build_vgg16_features, load_backbone_weights
from hrsod_tf.models.layers import (
    BilinearUpsampling,
    CaffePreprocessing,
    GuidanceResizing,
    caffe_batch_norm,
    msra,
)

BACKBONE_PREFIX = "block"
LEAKY_SLOPE = 0.01  # relu_param negative_slope of the released nets (deploy-GSN.prototxt:513)
HEAD_BLOCKS = (3, 4, 5)


def is_backbone_variable(variable) -> bool:
    """True for the variables of the pretrained VGG16 layers (learning rate 1e-3 in the paper)."""
    return variable.path.split("/")[-2].startswith(BACKBONE_PREFIX)


def _leaky(x, name):
    return keras.layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name=name)(x)


def _dilated_head(features, block, config):
    """Four parallel dilated 3x3 convolutions with ReLU, concatenated (the release's "dcpp" layers)."""
    branches = []
    for rate in config.head_rates:
        y = keras.layers.Conv2D(
            config.head_filters, 3, padding="same", dilation_rate=rate, kernel_initializer=msra(),
            name=f"conv{block}_dcpp_{rate}-sm",
        )(features)
        branches.append(keras.layers.ReLU(name=f"relu{block}_dcpp_{rate}-sm")(y))
    return keras.layers.Concatenate(name=f"concat_conv{block}_dcpp")(branches)


def _score(x, names, use_bias, config):
    """3x3 conv to the class maps -> BatchNorm+Scale -> leaky ReLU; names = (conv, bn, relu)."""
    conv, bn, relu = names
    x = keras.layers.Conv2D(
        config.num_classes, 3, padding="same", use_bias=use_bias, kernel_initializer=msra(), name=conv
    )(x)
    return _leaky(caffe_batch_norm(x, bn, config.bn_epsilon), relu)


def _upscore(x, factor, name, config):
    """Caffe deconvolution, 8x8, stride `factor`, no bias, bilinear initialisation (the release's filler)."""
    return keras.layers.Conv2DTranspose(
        config.num_classes, 8, strides=factor, padding="same", use_bias=False,
        kernel_initializer=BilinearUpsampling(), name=name,
    )(x)


#: What `build_saliency_network` builds: the GSN; the LRN with the GSN map of the patch at the patch's size as
#: guidance (resized inside); or the LRN in the release's form, with the guidance already at 1/8 and 1/4 of the
#: patch (deploy-LRN.prototxt:8-18: inputs `guide28` and `guide56`). Both LRN forms hold the same weights.
NETWORK_MODES = ("gsn", "lrn", "lrn_scaled_guidance")


def _guidance_inputs(mode, input_size):
    """The LRN's guidance inputs of `mode` (none for the GSN), for patches of side `input_size` (None: any)."""
    if mode == "gsn":
        return []
    if mode == "lrn":
        return [keras.Input(shape=(input_size, input_size, 1), name="guidance")]
    sides = (None, None) if input_size is None else (input_size // 8, input_size // 4)
    return [keras.Input(shape=(side, side, 1), name=name) for side, name in zip(sides, ("guide28", "guide56"))]


def _guidance_at(guidance_inputs, scale_index, features, config):
    """The guidance at the scale of the decoder `features`: 1/8 of the patch (`scale_index` 0, the release's
    guide28) or 1/4 (1, guide56); a given scaled input as it is, else the patch-sized map resized."""
    if len(guidance_inputs) == 2:
        return guidance_inputs[scale_index]
    factor, name = ((8, "guide28"), (4, "guide56"))[scale_index]
    return GuidanceResizing(factor, config.lrn_guidance_binarized, name=name)([guidance_inputs[0], features])


def _refine_with_guidance(x, guide, block_names, config):
    """concat(decoder features, guidance) -> 3x3 score conv + BatchNorm+Scale + leaky ReLU (the LRN's R1 / R2)."""
    concat, *score_names = block_names
    x = keras.layers.Concatenate(name=concat)([x, guide])
    return _score(x, score_names, False, config)


def build_saliency_network(config, mode: str, input_size=None):
    """Builds the GSN or the LRN.

    Args:
        config: a `ModelConfig`.
        mode: one of `NETWORK_MODES`: "gsn"; "lrn" (second input `guidance` (batch, H, W, 1), the GSN
            probability of the patch in [0, 1], which the model rounds and resizes to the release's guide28 /
            guide56, see `GuidanceResizing`); "lrn_scaled_guidance" (the release's inputs `guide28` (batch, H/8,
            W/8, 1) and `guide56` (batch, H/4, W/4, 1) instead). The model is named "gsn" or "lrn".
        input_size: static side of the inputs, or None for any H x W (multiples of 16).

    Returns:
        A functional `keras.Model`. Inputs: `image` (batch, H, W, 3) RGB in [0, 255], then the guidance of
        `mode`. Output: (batch, H, W, num_classes) float32 softmax probabilities; channel 1 is "salient".
    """
    if mode not in NETWORK_MODES:
        raise ValueError(f"mode {mode!r} is not one of {', '.join(NETWORK_MODES)}")
    image = keras.Input(shape=(input_size, input_size, 3), name="image")
    guidance_inputs = _guidance_inputs(mode, input_size)
    x = CaffePreprocessing(name="caffe_preprocessing")(image)
    conv3, conv4, conv5 = build_vgg16_features(x, config.vgg_filters, last_activation=False)
    conv5 = _leaky(caffe_batch_norm(conv5, "bn_conv5_3", config.bn_epsilon), "relu5_3")
    heads = {block: _dilated_head(f, block, config) for block, f in zip(HEAD_BLOCKS, (conv3, conv4, conv5))}

    score5 = _score(heads[5], ("conv5_3_score", "bn_conv5_3_score", "relu5_3_score"), False, config)
    score4 = _score(heads[4], ("conv4_score", "bn_conv4_score", "relu_conv4_score"), True, config)
    score3 = _score(heads[3], ("conv3_score", "bn_conv3_score", "relu_conv3_score"), True, config)

    x = _upscore(score5, 2, "upscore1", config)
    x = _leaky(caffe_batch_norm(x, "bn_upscore1", config.bn_epsilon), "relu_upscore1")
    x = keras.layers.Add(name="fuse_score1")([x, score4])
    if guidance_inputs:
        guide28 = _guidance_at(guidance_inputs, 0, x, config)
        x = _refine_with_guidance(x, guide28, ("concat1", "R1_score", "bn_R1_score", "reluR1_score"), config)
    x = _upscore(x, 2, "upscore2", config)
    x = _leaky(caffe_batch_norm(x, "bn_upscore2", config.bn_epsilon), "relu_upscore2")
    x = keras.layers.Add(name="fuse_score2")([x, score3])
    if guidance_inputs:
        guide56 = _guidance_at(guidance_inputs, 1, x, config)
        x = _refine_with_guidance(x, guide56, ("concat2", "R2_score", "bn_R2_score", "reluR2_score"), config)
    x = caffe_batch_norm(_upscore(x, 4, "upscore3", config), "bn_upscore3", config.bn_epsilon)
    probabilities = keras.layers.Activation("softmax", dtype="float32", name="probabilities")(x)
    # The GSN's single input stays a tensor (not a one-element list), so callers pass the array itself.
    inputs = [image, *guidance_inputs] if guidance_inputs else image
    model = keras.Model(inputs, probabilities, name="gsn" if mode == "gsn" else "lrn")
    load_backbone_weights(model, config.backbone_weights)
    return model


def build_gsn(config, input_size=None):
    """The Global Semantic Network: the whole image, resized to `config.gsn_input_size`."""
    return build_saliency_network(config, "gsn", input_size)


def build_lrn(config, input_size=None):
    """The Local Refinement Network: APS patches plus the GSN map of each patch, at the patch's size, as guidance
    (`build_saliency_network(config, "lrn_scaled_guidance")` is the release's form of it)."""
    return build_saliency_network(config, "lrn", input_size)
