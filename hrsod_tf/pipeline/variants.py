"""The pipeline's variants (the rows of the paper's ablation, Table 4) and the trained stages each one runs.

    variant           stages it needs
    gsn               gsn
    gsn+crf           gsn           the GSN's map post-processed by a dense CRF (DSS's parameters)
    gsn+rps+lrn       gsn, lrn      random patches, as many and as large as APS's; refined by the RPS-trained
                                    LRN (stage rps_lrn) when the run has one, else by the APS-trained one
    gsn+aps+lrn       gsn, lrn
    gsn+aps+lrn+crf   gsn, lrn      the GSN+APS+LRN map post-processed by the dense CRF
    full              gsn, lrn, glfn
    dense+lrn         gsn, lrn      the image tiled densely (a baseline, not in Table 4)

The "+crf" variants are NumPy post-processing of another variant's map (`CRF_VARIANTS`, `hrsod_tf.pipeline.crf`),
computed outside the TF graph.

The order of the stages (and which must be trained before which) is the work directory's
(`hrsod_tf.workdir.STAGES`, `hrsod_tf.workdir.DEPENDENCIES`).
"""

from __future__ import annotations

__all__ = ["CRF_VARIANTS", "VARIANTS", "VARIANT_STAGES", "graph_variants", "stages_for_variant"]

#: pipeline variant -> the trained stages it runs.
VARIANT_STAGES = {
    "gsn": ("gsn",),
    "gsn+crf": ("gsn",),
    "gsn+rps+lrn": ("gsn", "lrn"),
    "gsn+aps+lrn": ("gsn", "lrn"),
    "gsn+aps+lrn+crf": ("gsn", "lrn"),
    "full": ("gsn", "lrn", "glfn"),
    "dense+lrn": ("gsn", "lrn"),
}
VARIANTS = tuple(VARIANT_STAGES)

#: "+crf" variant -> the variant whose map the dense CRF post-processes.
CRF_VARIANTS = {"gsn+crf": "gsn", "gsn+aps+lrn+crf": "gsn+aps+lrn"}


def stages_for_variant(variant: str) -> tuple[str, ...]:
    """The trained stages a pipeline variant needs. Raises ValueError for an unknown variant."""
    if variant not in VARIANT_STAGES:
        raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    return VARIANT_STAGES[variant]


def graph_variants(variants) -> tuple[str, ...]:
    """The variants a pipeline's graph computes for `variants`: each "+crf" one replaced by its base variant
    (once, in the order first needed)."""
    return tuple(dict.fromkeys(CRF_VARIANTS.get(v, v) for v in variants))
