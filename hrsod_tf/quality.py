"""Named speed/quality levels: how many patches the LRN may refine per image (`InferenceConfig.patch_budget`).

    level      patch budget     what runs
    best       every patch      the paper's behaviour and the default: every uncertain pixel is refined
    balanced   6 per image      the GSN, the six patches with the most uncertain pixels, the GLFN
    fast       2 per image      the GSN, the two patches with the most uncertain pixels, the GLFN

The LRN's time grows with the patches (one VGG-16 pass each); with a budget, APS keeps the patches that hold the
most uncertain pixels (`hrsod_tf.aps.keep_most_uncertain_boxes_tf`), and the uncertain pixels of the dropped
patches keep the GSN's value before the GLFN. What each level costs and gives is measured by
benchmarks/quality_levels.py (docs/BENCHMARKS.md).
"""

from __future__ import annotations

import dataclasses

from hrsod_tf.config import Config

__all__ = ["DEFAULT_QUALITY", "QUALITY_HELP", "QUALITY_LEVELS", "quality_of", "with_quality"]

#: level -> the most patches the LRN refines per image (None: all of them).
QUALITY_LEVELS = {"fast": 2, "balanced": 6, "best": None}
DEFAULT_QUALITY = "best"
QUALITY_HELP = ("speed against accuracy: best refines every patch APS places (the default), balanced the 6 and fast "
                "the 2 with the most uncertain pixels")


def with_quality(config: Config, quality: str | None) -> Config:
    """`config` with the patch budget of the named level (None: unchanged). Raises ValueError for an unknown name."""
    if quality is None:
        return config
    if quality not in QUALITY_LEVELS:
        raise ValueError(f"unknown quality {quality!r}; known: {', '.join(QUALITY_LEVELS)}")
    return config.replace(inference=dataclasses.replace(config.inference, patch_budget=QUALITY_LEVELS[quality]))


def quality_of(config: Config) -> str:
    """The level whose budget `config` has, or ``"budget N"`` for a budget no level has (set with --set)."""
    budget = config.inference.patch_budget
    for name, level_budget in QUALITY_LEVELS.items():
        if level_budget == budget:
            return name
    return f"budget {budget}"
