"""The networks as the pipeline runs them: each one a function to the salient-class probability.

    gsn(images)               float32 [B, S, S, 3] RGB 0..255                     -> float32 [B, S, S, 1]
    lrn(patches, guidance)    float32 [B, s, s, 3] RGB 0..255, [B, s, s, 1] 0..1  -> float32 [B, s, s, 1]
    glfn(images, maps)        float32 [B, H, W, 3] RGB 0..255, [B, H, W, 1] 0..1  -> float32 [B, H, W, 1]
    rps_lrn                   an LRN trained on random patches (the paper's RPS ablation), called as `lrn`

The pipeline's graph code (`hrsod_tf.pipeline`: APS, crops, batches, pasting, fusion, both protocols) calls the
networks only through a `PipelineNetworks`, so another runtime plugs in by giving other functions with the same
contract; `PipelineNetworks.from_keras` gives the trained Keras networks' (the GLFN as a `FoldedGLFN`: the same
probabilities, faster).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from hrsod_tf.pipeline.folded_glfn import FoldedGLFN


def keras_probability(model) -> Callable:
    """The salient-class probability of a Keras network with a 2-class softmax: ``f(*inputs) -> [..., 1:]``."""

    def probability(*inputs):
        return model(inputs[0] if len(inputs) == 1 else list(inputs), training=False)[..., 1:]

    return probability


@dataclasses.dataclass(frozen=True)
class PipelineNetworks:
    """The functions the pipeline runs (see the module docstring); None where a stage is missing.

    Attributes:
        runtime: what runs them, for messages and reports (e.g. "keras").
    """

    gsn: Callable
    lrn: Callable | None = None
    glfn: Callable | None = None
    rps_lrn: Callable | None = None
    runtime: str = "keras"

    @classmethod
    def from_keras(cls, model_config, gsn, lrn=None, glfn=None, rps_lrn=None) -> "PipelineNetworks":
        """The trained Keras networks (None for those missing); the GLFN runs as a `FoldedGLFN`.

        Args:
            model_config: the `ModelConfig` the networks were built with (the GLFN's folding needs it).
        """
        return cls(
            gsn=keras_probability(gsn),
            lrn=None if lrn is None else keras_probability(lrn),
            # The GLFN's inference forward with folded BatchNorms: the same outputs, faster (folded_glfn.py).
            glfn=None if glfn is None else FoldedGLFN(glfn, model_config),
            rps_lrn=None if rps_lrn is None else keras_probability(rps_lrn),
            runtime="keras",
        )
