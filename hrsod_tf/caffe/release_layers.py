"""Which Caffe layers of the authors' released deploy networks each Keras layer holds.

Written from prototxt/deploy-GSN.prototxt, deploy-LRN.prototxt and deploy_GLFN_*.prototxt of yi94code/HRSOD
(see `hrsod_tf.models.saliency_net` and `hrsod_tf.models.glfn` for the layer-by-layer correspondence with line
numbers). Kinds:

    conv    Caffe Convolution, blobs weight [out, in, kh, kw] (+ bias [out]) -> Keras Conv2D
    deconv  Caffe Deconvolution, blob weight [in, out, kh, kw] (no bias in the release) -> Conv2DTranspose
    bn      Caffe BatchNorm (mean [C], variance [C], scale factor [1]) followed by Scale (gamma [C],
            beta [C]) -> one Keras BatchNormalization

Layers without parameters (ReLU, Pooling, Concat, Eltwise, Softmax) need no mapping: the Keras networks
compute them with the same names (see the model modules).
"""

from __future__ import annotations

import typing

from hrsod_tf.models.glfn import dilated_branch_names

NETWORKS = ("gsn", "lrn", "glfn")
NETWORK_NAMES = {"gsn": "GSN", "lrn": "LRN", "glfn": "GLFN"}
_VGG16_BLOCKS = ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3))


class LayerMapping(typing.NamedTuple):
    """One Keras layer with weights and the Caffe layer(s) whose blobs it holds."""

    keras_name: str
    kind: str  # "conv", "deconv" or "bn"
    caffe_names: tuple  # (name,) for conv / deconv; (BatchNorm name, Scale name) for bn


def _saliency_network_layers(config, with_guidance: bool) -> list[LayerMapping]:
    layers = [
        LayerMapping(f"block{block}_conv{i}", "conv", (f"conv{block}_{i}",))
        for block, convs in _VGG16_BLOCKS for i in range(1, convs + 1)
    ]
    layers.append(LayerMapping("bn_conv5_3", "bn", ("bn_conv5_3", "scale_conv5_3")))
    for block in (5, 4, 3):
        layers += [LayerMapping(f"conv{block}_dcpp_{r}-sm", "conv", (f"conv{block}_dcpp_{r}-sm",))
                   for r in config.head_rates]
    for conv, bn, scale in (("conv5_3_score", "bn_conv5_3_score", "scale_conv5_3_score"),
                            ("conv4_score", "bn_conv4_score", "scale_conv4_score"),
                            ("conv3_score", "bn_conv3_score", "scale_conv3_score")):
        layers += [LayerMapping(conv, "conv", (conv,)), LayerMapping(bn, "bn", (bn, scale))]
    for i in (1, 2, 3):
        layers += [LayerMapping(f"upscore{i}", "deconv", (f"upscore{i}",)),
                   LayerMapping(f"bn_upscore{i}", "bn", (f"bn_upscore{i}", f"scale_upscore{i}"))]
    if with_guidance:
        for r in ("R1", "R2"):
            layers += [LayerMapping(f"{r}_score", "conv", (f"{r}_score",)),
                       LayerMapping(f"bn_{r}_score", "bn", (f"bn_{r}_score", f"scale_{r}_score"))]
    return layers


def _glfn_layers(config) -> list[LayerMapping]:
    layers = []
    for i in range(1, config.glfn_num_layers + 1):
        for part in ("x1", "x2"):
            layers += [
                LayerMapping(f"conv2_{i}_{part}_bn", "bn", (f"conv2_{i}/{part}/bn", f"conv2_{i}/{part}/scale")),
                LayerMapping(f"conv2_{i}_{part}", "conv", (f"conv2_{i}/{part}",)),
            ]
    if config.glfn_transition:
        layers.append(LayerMapping("conv2_blk_bn", "bn", ("conv2_blk/bn", "conv2_blk/scale")))
    layers += [LayerMapping(name, "conv", (name,)) for name in dilated_branch_names(len(config.glfn_rates))]
    layers.append(LayerMapping("final_score1024", "conv", ("final_score1024",)))
    return layers


def release_layer_table(network: str, config) -> list[LayerMapping]:
    """The Keras layers with weights of `network` ("gsn", "lrn", "glfn") and the Caffe layers they hold.

    Args:
        network: which network.
        config: the `ModelConfig` the network is built with (head rates, GLFN layer count, transition).
    """
    if network == "glfn":
        return _glfn_layers(config)
    if network in ("gsn", "lrn"):
        return _saliency_network_layers(config, with_guidance=network == "lrn")
    raise ValueError(f"unknown network {network!r}: expected one of {', '.join(NETWORKS)}")


def guess_network(caffe_layer_names) -> str | None:
    """Which released network a set of Caffe layer names looks like (None: none of them)."""
    names = set(caffe_layer_names)
    if "conv2_blk/bn" in names or "final_score1024" in names:
        return "glfn"
    if "R1_score" in names or "R2_score" in names:
        return "lrn"
    if "conv5_3_score" in names or "upscore1" in names:
        return "gsn"
    return None
