"""The three networks: the GSN and LRN (one builder over a dilated VGG16) and the GLFN."""

from hrsod_tf.models.backbone import VGG16_LAYER_NAMES, build_vgg16_features, load_backbone_weights
from hrsod_tf.models.glfn import build_glfn
from hrsod_tf.models.saliency_net import build_gsn, build_lrn, build_saliency_network
from hrsod_tf.models.stage_networks import STAGE_BUILDERS, build_stage_network

__all__ = [
    "STAGE_BUILDERS",
    "VGG16_LAYER_NAMES",
    "build_glfn",
    "build_gsn",
    "build_lrn",
    "build_saliency_network",
    "build_stage_network",
    "build_vgg16_features",
    "load_backbone_weights",
]
