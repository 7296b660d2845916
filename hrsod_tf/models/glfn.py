"""The Global-Local Fusion Network (paper, Sec. 4.4): a tiny fully convolutional net at full resolution.

The structure is the authors' released GLFN (prototxt/deploy_GLFN_high_res.prototxt of yi94code/HRSOD;
the `_low_res` and `_DUTS_` files differ only in the input size and the dilation rates). Every Keras layer is
named after the Caffe layer it holds ("/" becomes "_", which Keras names cannot hold; a Caffe BatchNorm and
the Scale after it are one Keras `BatchNormalization`, named after the BatchNorm):

    image (RGB 0..255)        -> glfn_preprocessing   BGR minus the ImageNet mean   (utils/prepare_img1024.m:5-21)
    saliency (0..1)           -> saliency_scaling     x255, the map in 0..255       (test_iccv19_demo.m:139-142)
    concat_1024               [B, G, R, map]                                        (deploy_GLFN_high_res:38-46)
    dense layer i = 1..glfn_num_layers (release: 3)                                 (:47-395)
        conv2_{i}_x1_bn (BatchNorm+Scale) -> relu2_{i}_x1 -> conv2_{i}_x1 (1x1, 4g maps, no bias)
        conv2_{i}_x2_bn (BatchNorm+Scale) -> relu2_{i}_x2 -> conv2_{i}_x2 (3x3, g maps, no bias)
        concat_2_{i} = concat(input of layer i, conv2_{i}_x2)
    transition (glfn_transition): conv2_blk_bn (BatchNorm+Scale) -> relu2_blk      (:398-435)
    conv5_dcpp_{1,3,5,7}-sm: four parallel 3x3 convs, 2 maps, bias, dilation rate r -> relu5_dcpp_*-sm
        (rates 1, 6, 12, 18 in the DH model, 1, 3, 5, 7 in the DUTS model)         (:436-573)
    concat_conv5_dcpp -> final_score1024 (3x3, num_classes maps, bias)             (:574-611)
    probabilities: softmax, float32 (Caffe layer "predict")                         (:630-635)

The paper (Sec. 4.4) gives the growth rate g = 2, the 4g bottlenecks, the four dilated 3x3 convs with 2 maps at
rates 1, 6, 12, 18 and the final 3x3 conv, but not the number of dense layers, the transition, the epsilon of
the BatchNorms (Caffe's default 1e-5, caffe.proto:518) nor the input scaling: the presets take those from the
release. Caffe's BatchNorm in the deploy nets uses its stored statistics (use_global_stats defaults to true
in the TEST phase), so a Keras `BatchNormalization` in inference mode computes the same function.

No pooling and no strides, so any H x W works and the output keeps every pixel of the input. The receptive
field radius is `receptive_field_radius(config)` pixels: tiles with at least that margin give exactly the
untiled result.
"""

import keras

from hrsod_tf.models.layers import CaffePreprocessing, UnitScaling, caffe_batch_norm, msra

GLFN_INPUT_SCALINGS = ("caffe", "unit")


def dilated_branch_names(num_branches: int) -> tuple[str, ...]:
    """Caffe names of the dilated branches: conv5_dcpp_1-sm, _3-sm, _5-sm, _7-sm, whatever their rates
    (the released GLFN kept the GSN's names, deploy_GLFN_high_res.prototxt:436-573)."""
    return tuple(f"conv5_dcpp_{2 * j + 1}-sm" for j in range(num_branches))


def receptive_field_radius(config) -> int:
    """Pixels on each side of an output pixel that can influence it (one per 3x3 dense conv, the largest
    dilated conv's rate, one for the final 3x3 conv)."""
    return config.glfn_num_layers + max(config.glfn_rates) + 1


def _inputs_scaled(image, saliency, config):
    if config.glfn_input_scaling == "caffe":
        scaled_image = CaffePreprocessing(name="glfn_preprocessing")(image)
        scaled_map = keras.layers.Rescaling(255.0, name="saliency_scaling")(saliency)
    elif config.glfn_input_scaling == "unit":
        scaled_image = UnitScaling(name="glfn_preprocessing")(image)
        scaled_map = keras.layers.Rescaling(1.0, name="saliency_scaling")(saliency)
    else:
        raise ValueError(
            f"glfn_input_scaling {config.glfn_input_scaling!r} is not one of {', '.join(GLFN_INPUT_SCALINGS)}"
        )
    return scaled_image, scaled_map


def build_glfn(config, input_size=None):
    """Builds the GLFN.

    Args:
        config: a `ModelConfig` (uses glfn_growth_rate, glfn_num_layers, glfn_transition, glfn_rates,
            glfn_input_scaling, bn_epsilon, num_classes).
        input_size: static side of the inputs, or None for any H x W.

    Returns:
        A functional `keras.Model` with inputs `image` (batch, H, W, 3) RGB in [0, 255] and `saliency`
        (batch, H, W, 1) the fused GSN+LRN map in [0, 1]; output (batch, H, W, num_classes) float32
        softmax probabilities, channel 1 = salient. The scaling to the Caffe convention (BGR minus mean,
        map x255) happens inside, so callers pass the same inputs whatever `glfn_input_scaling` is.
    """
    shape = (input_size, input_size)
    image = keras.Input(shape=(*shape, 3), name="image")
    saliency = keras.Input(shape=(*shape, 1), name="saliency")
    scaled_image, scaled_map = _inputs_scaled(image, saliency, config)
    x = keras.layers.Concatenate(name="concat_1024")([scaled_image, scaled_map])
    g = config.glfn_growth_rate
    for i in range(1, config.glfn_num_layers + 1):
        y = caffe_batch_norm(x, f"conv2_{i}_x1_bn", config.bn_epsilon)
        y = keras.layers.ReLU(name=f"relu2_{i}_x1")(y)
        y = keras.layers.Conv2D(4 * g, 1, use_bias=False, kernel_initializer=msra(), name=f"conv2_{i}_x1")(y)
        y = caffe_batch_norm(y, f"conv2_{i}_x2_bn", config.bn_epsilon)
        y = keras.layers.ReLU(name=f"relu2_{i}_x2")(y)
        y = keras.layers.Conv2D(
            g, 3, padding="same", use_bias=False, kernel_initializer=msra(), name=f"conv2_{i}_x2"
        )(y)
        x = keras.layers.Concatenate(name=f"concat_2_{i}")([x, y])
    if config.glfn_transition:
        x = caffe_batch_norm(x, "conv2_blk_bn", config.bn_epsilon)
        x = keras.layers.ReLU(name="relu2_blk")(x)
    branches = []
    for name, rate in zip(dilated_branch_names(len(config.glfn_rates)), config.glfn_rates):
        y = keras.layers.Conv2D(
            2, 3, padding="same", dilation_rate=rate, kernel_initializer=msra(), name=name
        )(x)
        branches.append(keras.layers.ReLU(name=name.replace("conv5_", "relu5_"))(y))
    x = keras.layers.Concatenate(name="concat_conv5_dcpp")(branches)
    x = keras.layers.Conv2D(
        config.num_classes, 3, padding="same", kernel_initializer=msra(), name="final_score1024"
    )(x)
    probabilities = keras.layers.Activation("softmax", dtype="float32", name="probabilities")(x)
    return keras.Model([image, saliency], probabilities, name="glfn")
