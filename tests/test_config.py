import dataclasses

import pytest

from hrsod_tf.config import PRESETS, Config, get_preset


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_round_trips_through_json_unchanged(name, tmp_path):
    config = get_preset(name)
    assert Config.from_json(config.to_json()) == config
    config.save(tmp_path / "config.json")
    assert Config.load(tmp_path / "config.json") == config


def test_unknown_preset_names_the_known_ones():
    with pytest.raises(ValueError, match="paper, official, small, tiny"):
        get_preset("huge")


def test_official_preset_takes_the_released_code_values():
    official, paper = get_preset("official"), get_preset("paper")
    assert official.model.gsn_input_size == 224 and paper.model.gsn_input_size == 384
    assert official.model.glfn_rates == (1, 6, 12, 18) and paper.model.glfn_rates == (1, 6, 12, 18)
    assert official.aps.extra_columns == 3 and paper.aps.extra_columns == 5


def test_unknown_json_field_is_rejected_with_the_known_ones():
    data = get_preset("tiny").to_dict()
    data["model"]["vgg_width"] = 3
    with pytest.raises(ValueError, match="vgg_width"):
        Config.from_dict(data)


def test_input_sizes_must_be_multiples_of_16():
    with pytest.raises(ValueError, match="multiple of 16"):
        dataclasses.replace(get_preset("tiny").model, gsn_input_size=100)


def test_unknown_precision_is_rejected():
    with pytest.raises(ValueError, match="mixed_bfloat16"):
        dataclasses.replace(get_preset("tiny").train, precision="fp8")
