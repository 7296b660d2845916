"""The named synthetic sets (`hrsod_tf.data.synthetic_sets`): the presets' high-resolution sets and the DUTS-like
low-resolution ones, as the TFDS builder and ``--dataset synthetic:NAME`` give them."""

import numpy as np
import pytest

from hrsod_tf.config import get_preset
from hrsod_tf.data import sources, synthetic_sets


@pytest.mark.parametrize("name", ["lowres", "photo_lowres"])
def test_lowres_sets_are_duts_sized_with_their_own_test_split_and_more_training_scenes_than_the_demo(name):
    data, demo = synthetic_sets.data_config(name), get_preset("small").data
    assert (data.synthetic_min_side, data.synthetic_max_side) == (300, 400)
    assert data.synthetic_scene_style == ("photo" if name.startswith("photo") else "classic")
    assert demo.synthetic_train_size <= data.synthetic_train_size <= 2 * demo.synthetic_train_size
    assert data.synthetic_test_size > 0
    for split in synthetic_sets.SPLITS:
        _, image, mask = next(synthetic_sets.scenes(data, split))
        assert 300 <= min(image.shape[:2]) <= 400 and mask.shape == image.shape[:2]


def test_lowres_scenes_are_not_the_high_resolution_scenes_drawn_smaller():
    # a scene's seed is its split and index: other indices, other scenes (the same index at another size would
    # draw the same objects in the same places)
    for split in synthetic_sets.SPLITS:
        low = [name for name, _, _ in synthetic_sets.scenes(synthetic_sets.data_config("lowres_tiny"), split)]
        high = [name for name, _, _ in synthetic_sets.scenes(synthetic_sets.data_config("tiny"), split)]
        assert low[0] == f"synthetic_{split}_{synthetic_sets.LOWRES_FIRST_SCENE}" and not set(low) & set(high)


def test_the_high_resolution_sets_are_the_presets_own_in_either_style():
    assert synthetic_sets.data_config("small") == get_preset("small").data
    assert synthetic_sets.data_config("default") == get_preset("paper").data == synthetic_sets.data_config("paper")
    assert synthetic_sets.data_config("photo_tiny").synthetic_scene_style == "photo"
    assert synthetic_sets.data_config("photo_tiny").synthetic_first_scene == 0
    assert "low-resolution (DUTS-like)" in synthetic_sets.describe("photo_lowres")
    assert synthetic_sets.describe("small") == "`classic` scenes, `small` preset: 120 train / 24 test scenes, " \
                                                "sides 1200-1440 px."


def test_dataset_synthetic_name_generates_the_named_set_in_memory_and_unknown_names_list_the_known():
    source = sources.resolve_data_source("synthetic:photo_lowres_tiny")
    assert source.name == "synthetic:photo_lowres_tiny" and source.num_examples("test") == 3
    example = next(source.examples("test"))
    assert 80 <= min(example["image"].shape[:2]) <= 100
    assert example["image/filename"] == f"synthetic_test_{synthetic_sets.LOWRES_FIRST_SCENE}.png"
    assert np.isin(example["mask"], (0, 255)).all()
    with pytest.raises(ValueError, match="unknown synthetic set 'huge'.*lowres.*or a preset"):
        sources.resolve_data_source("synthetic:huge")


def test_a_dataset_spec_names_a_synthetic_set_as_tfds_builder_config_or_synthetic_name_and_nothing_else():
    assert synthetic_sets.named_by("hrsod_synthetic/photo_small") == synthetic_sets.data_config("photo_small")
    assert synthetic_sets.named_by("hrsod_synthetic") == synthetic_sets.data_config("default")
    assert synthetic_sets.named_by("synthetic:lowres") == synthetic_sets.data_config("lowres")
    for spec in ("synthetic", "synthetic/photo", "hrsod", "duts+hrsod", "folders:a,b"):
        assert synthetic_sets.named_by(spec) is None


class _Run:
    """What `of_run` reads of a `WorkDir`: the GSN's training sources and the run's config."""

    def __init__(self, sources, config):
        self.sources, self.config = sources, config

    def training_sources(self, stage):
        assert stage == "gsn"
        return self.sources

    def load_config(self):
        return self.config


def test_a_runs_synthetic_set_is_the_one_its_dataset_named_else_the_data_config_of_its_own_config():
    config = get_preset("tiny")
    assert synthetic_sets.of_run(_Run(["hrsod_synthetic/photo_tiny"], config)) == \
        synthetic_sets.data_config("photo_tiny")
    for specs in (["synthetic"], ["duts", "hrsod_synthetic/photo_tiny"], [], None):
        assert synthetic_sets.of_run(_Run(specs, config)) == config.data
