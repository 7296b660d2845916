"""The named synthetic data sets: the configs of the `hrsod_synthetic` TFDS builder and ``--dataset synthetic:NAME``.

A named set is a `hrsod_tf.config.DataConfig` (scenes per split, the range of their shortest edge, the scene
style, the index of each split's first scene):

====================================  ================  ===========================  ==========================
name (classic / photo scenes)         scenes            shortest edge                what for
====================================  ================  ===========================  ==========================
``default`` / ``photo``               300 / 60          1,200-2,048 px (HRSOD-like)   the ``paper`` preset
``small`` / ``photo_small``           120 / 24          1,200-1,440 px               the demo (``small`` preset)
``tiny`` / ``photo_tiny``             6 / 3             160-256 px                   tests (``tiny`` preset)
``lowres`` / ``photo_lowres``         160 / 80          300-400 px (DUTS-like)       "D" beside the demo's "H"
``lowres_tiny`` / ``photo_lowres_tiny``  6 / 3          80-100 px                    tests, beside ``tiny``
====================================  ================  ===========================  ==========================

The high-resolution sets are the presets' own `DataConfig` (one source of truth for their sizes). The
low-resolution sets are what DUTS-TR / DUTS-TE are to HRSOD in the paper's Table 1, scaled to the demo: the same
generator at DUTS's sizes (its images are about 300 x 400 px), a few more training scenes than the demo's and a
test split of their own. Their scenes start at index `LOWRES_FIRST_SCENE`, so no low-resolution scene is a
high-resolution one drawn smaller (a scene's seed is its split and index, `hrsod_tf.data.synthetic.scene_seed`).
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

import numpy as np

from hrsod_tf import config as config_lib
from hrsod_tf.data import synthetic

__all__ = ["LOWRES_FIRST_SCENE", "SPLITS", "SYNTHETIC_SETS", "data_config", "describe", "named_by", "of_run", "scenes",
           "split_size"]

#: The splits of every synthetic set (a run's validation images are held out of "train").
SPLITS = ("train", "test")

#: The first scene index of the low-resolution sets: beyond any high-resolution set's scenes (at most thousands).
LOWRES_FIRST_SCENE = 1_000_000

# The low-resolution sets, by the preset whose high-resolution set they go beside (classic scenes).
_LOWRES = {
    "small": config_lib.DataConfig(synthetic_train_size=160, synthetic_test_size=80, synthetic_min_side=300,
                                   synthetic_max_side=400, synthetic_first_scene=LOWRES_FIRST_SCENE),
    # above the tiny preset's 64 px crops, below its 160-256 px high-resolution scenes
    "tiny": config_lib.DataConfig(synthetic_train_size=6, synthetic_test_size=3, synthetic_min_side=80,
                                  synthetic_max_side=100, synthetic_first_scene=LOWRES_FIRST_SCENE),
}

#: name -> (preset, scene style, low resolution): every named set, in the builder's config order.
SYNTHETIC_SETS = {
    "default": ("paper", "classic", False),
    "small": ("small", "classic", False),
    "tiny": ("tiny", "classic", False),
    "photo": ("paper", "photo", False),
    "photo_small": ("small", "photo", False),
    "photo_tiny": ("tiny", "photo", False),
    "lowres": ("small", "classic", True),
    "lowres_tiny": ("tiny", "classic", True),
    "photo_lowres": ("small", "photo", True),
    "photo_lowres_tiny": ("tiny", "photo", True),
}


def data_config(name: str) -> config_lib.DataConfig:
    """The `DataConfig` of the named set `name` (`SYNTHETIC_SETS`), or of the preset `name` (``paper``,
    ``small``, ...: its own high-resolution set, as ``synthetic:PRESET`` always meant).

    Raises:
        ValueError: `name` is neither; the message lists both kinds of name.
    """
    if name in SYNTHETIC_SETS:
        preset, style, low_resolution = SYNTHETIC_SETS[name]
        data = _LOWRES[preset] if low_resolution else config_lib.get_preset(preset).data
        return dataclasses.replace(data, synthetic_scene_style=style)
    if name in config_lib.PRESETS:
        return config_lib.get_preset(name).data
    raise ValueError(f"unknown synthetic set {name!r}: expected one of {', '.join(SYNTHETIC_SETS)} "
                     f"or a preset ({', '.join(config_lib.PRESETS)})")


def named_by(spec: str) -> config_lib.DataConfig | None:
    """The synthetic set a ``--dataset`` spec names (``hrsod_synthetic/photo_small``, ``synthetic:lowres``), or None
    for other data and for plain ``synthetic`` (sized by the run's own config)."""
    kind, sep, body = spec.partition(":")
    if kind == "synthetic" and sep:
        return data_config(body)
    builder, _, name = spec.partition("/")
    return data_config(name or "default") if builder == "hrsod_synthetic" else None


def of_run(run) -> config_lib.DataConfig:
    """The synthetic set a run trained on (`run`: a `hrsod_tf.workdir.WorkDir` with a trained GSN): the set its
    ``--dataset`` named (the demo's ``hrsod_synthetic/photo_small``), else the `DataConfig` of its config (for
    ``--dataset synthetic``, or data that is not a synthetic set)."""
    sources = run.training_sources("gsn") or []
    return (named_by(sources[0]) if len(sources) == 1 else None) or run.load_config().data


def describe(name: str) -> str:
    """One sentence: the set's style, preset, counts and sizes (the builder configs' descriptions)."""
    preset, style, low_resolution = SYNTHETIC_SETS[name]
    data = data_config(name)
    which = (f"low-resolution (DUTS-like) scenes beside the `{preset}` preset's" if low_resolution
             else f"scenes, `{preset}` preset")
    return (f"`{style}` {which}: {data.synthetic_train_size} train / {data.synthetic_test_size} test scenes, "
            f"sides {data.synthetic_min_side}-{data.synthetic_max_side} px.")


def split_size(data: config_lib.DataConfig, split: str) -> int:
    """How many scenes `split` ("train" or "test") of the set `data` has."""
    if split not in SPLITS:
        raise ValueError(f"a synthetic set has no split {split!r}; its splits: {', '.join(SPLITS)}")
    return data.synthetic_train_size if split == "train" else data.synthetic_test_size


def scenes(data: config_lib.DataConfig, split: str, count: int | None = None
           ) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(name, image uint8 [H, W, 3] RGB, mask uint8 [H, W] in {0, 255}) of every scene of `split` of the set
    `data`, in index order (what the TFDS builder stores and `--dataset synthetic` generates in memory); only
    the first `count` when given."""
    count = split_size(data, split) if count is None else count
    return synthetic.generate_split(split, count, data.synthetic_min_side, data.synthetic_max_side,
                                    start=data.synthetic_first_scene, scene_style=data.synthetic_scene_style)
