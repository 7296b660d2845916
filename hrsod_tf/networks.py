"""The two tables every caller shares: which network each training stage builds, and which trained stages each
pipeline variant needs.

    stage    network (hrsod_tf.models)       variant        stages it needs
    gsn      build_gsn                       gsn            gsn
    lrn      build_lrn                       gsn+rps+lrn    gsn, lrn     (and the same for gsn+aps+lrn, dense+lrn)
    glfn     build_glfn                      full           gsn, lrn, glfn

The order of the stages (and which stage must be trained before which) is the work directory's
(`hrsod_tf.workdir.STAGES`, `hrsod_tf.workdir.DEPENDENCIES`); `hrsod_tf.inference.VARIANTS` is the keys of
`VARIANT_STAGES`.
"""

from __future__ import annotations

__all__ = ["STAGE_BUILDERS", "VARIANT_STAGES", "build_stage_network", "stages_for_variant"]

#: stage -> the function of `hrsod_tf.models` that builds its network, ``builder(model_config, input_size=None)``
#: (named, so that importing this table does not import Keras).
STAGE_BUILDERS = {"gsn": "build_gsn", "lrn": "build_lrn", "glfn": "build_glfn"}

#: pipeline variant -> the trained stages it runs.
VARIANT_STAGES = {
    "gsn": ("gsn",),
    "gsn+rps+lrn": ("gsn", "lrn"),
    "gsn+aps+lrn": ("gsn", "lrn"),
    "full": ("gsn", "lrn", "glfn"),
    "dense+lrn": ("gsn", "lrn"),
}


def build_stage_network(stage: str, model_config, input_size: int | None = None):
    """The (untrained) network of `stage` ("gsn", "lrn" or "glfn") for a `hrsod_tf.config.ModelConfig`.

    Args:
        input_size: static input side in pixels, or None for any size.
    Raises:
        ValueError: unknown stage.
    """
    if stage not in STAGE_BUILDERS:
        raise ValueError(f"unknown stage {stage!r}: expected one of {', '.join(STAGE_BUILDERS)}")
    from hrsod_tf import models

    return getattr(models, STAGE_BUILDERS[stage])(model_config, input_size=input_size)


def stages_for_variant(variant: str) -> tuple[str, ...]:
    """The trained stages a pipeline variant needs. Raises ValueError for an unknown variant."""
    if variant not in VARIANT_STAGES:
        raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANT_STAGES)}")
    return VARIANT_STAGES[variant]
