"""Which network each training stage builds.

    stage    network
    gsn      build_gsn
    lrn      build_lrn
    glfn     build_glfn
    rps_lrn  build_lrn    (the LRN of the RPS ablation: the same network, trained on random patches)

The order of the stages (and which stage must be trained before which) is the work directory's
(`hrsod_tf.workdir.STAGES`, `hrsod_tf.workdir.DEPENDENCIES`); which stages each pipeline variant needs is
`hrsod_tf.pipeline.variants.VARIANT_STAGES`.
"""

from __future__ import annotations

from hrsod_tf.models.glfn import build_glfn
from hrsod_tf.models.saliency_net import build_gsn, build_lrn

__all__ = ["STAGE_BUILDERS", "build_stage_network"]

#: stage -> the function that builds its network, ``builder(model_config, input_size=None)``.
STAGE_BUILDERS = {"gsn": build_gsn, "lrn": build_lrn, "glfn": build_glfn, "rps_lrn": build_lrn}


def build_stage_network(stage: str, model_config, input_size: int | None = None):
    """The (untrained) network of `stage` ("gsn", "lrn" or "glfn") for a `hrsod_tf.config.ModelConfig`.

    Args:
        input_size: static input side in pixels, or None for any size.
    Raises:
        ValueError: unknown stage.
    """
    if stage not in STAGE_BUILDERS:
        raise ValueError(f"unknown stage {stage!r}: expected one of {', '.join(STAGE_BUILDERS)}")
    return STAGE_BUILDERS[stage](model_config, input_size=input_size)
