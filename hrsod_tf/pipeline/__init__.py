"""The any-resolution inference pipeline: GSN -> APS -> LRN -> fuse -> GLFN, as TensorFlow graph code.

    variants.py           the ablation's variants and the trained stages each needs
    networks.py           the networks as the pipeline calls them (the seam where another runtime plugs in)
    graph_ops.py          what both protocols share: the GSN's map, crops, the LRN in batches, pasting, fusion
    folded_glfn.py        the GLFN's inference forward with folded BatchNorms
    protocol.py           the interface of a test protocol (`Frame`, `InferenceProtocol`)
    full_resolution.py    protocol "full_resolution" (the paper)
    release.py            protocol "release" (the authors' test script)
    imresize.py           MATLAB's imresize as TF ops (the release protocol's resizes)
    crf.py                the dense CRF post-processing of the ablation's CRF rows (NumPy, outside the graph)
    saliency_pipeline.py  `SaliencyPipeline`: the variant loop, once, over either protocol
"""

import importlib

from hrsod_tf.pipeline.variants import VARIANT_STAGES, VARIANTS, stages_for_variant

__all__ = ["PipelineNetworks", "SaliencyPipeline", "VARIANTS", "VARIANT_STAGES", "stages_for_variant"]

# Imported when first asked for: they import TensorFlow, which the NumPy-only modules (crf.py, variants.py) and
# the evaluation's scoring processes that import them do not need.
_LAZY = {"PipelineNetworks": "hrsod_tf.pipeline.networks", "SaliencyPipeline": "hrsod_tf.pipeline.saliency_pipeline"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
