import dataclasses
import json

import pytest

from hrsod_tf.config import PRESETS, Config, ConfigError, get_preset


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


@pytest.mark.parametrize("change,message", [
    (lambda d: d["model"].update(gsn_input_size={"a": 1}), r"model\.gsn_input_size: expected int, got dict"),
    (lambda d: d["model"].update(vgg_filters=None), r"model\.vgg_filters: expected a list, got NoneType"),
    (lambda d: d["train"].update(gsn=[1, 2]), r"train\.gsn: expected an object of StageConfig settings"),
    (lambda d: d["train"]["lrn"].update(steps="100"), r"train\.lrn\.steps: expected int, got str"),
    (lambda d: d["aps"].update(t1=float("nan")), r"aps\.t1: expected a finite number"),
    (lambda d: d.update(aps=None), r"aps: expected an object of APSConfig settings"),
])
def test_a_config_json_with_a_value_of_the_wrong_type_is_refused_naming_the_file_and_key(tmp_path, change, message):
    data = json.loads(get_preset("tiny").to_json())
    change(data)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=rf"{path} is not a valid configuration \({message}") as raised:
        Config.load(path)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("content", [b"", b"{", b'{"preset": "tiny",}', b"\xff\xfe{}", b"[1, 2]"])
def test_a_config_json_that_is_not_json_or_not_an_object_is_refused_naming_the_file(tmp_path, content):
    path = tmp_path / "config.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=rf"^{path} is not a valid configuration \(.+\): restore it") as raised:
        Config.load(path)
    assert "\n" not in str(raised.value)


def test_optional_fields_take_null_or_their_type_and_ints_are_accepted_as_floats():
    data = json.loads(get_preset("official").to_json())
    data["aps"]["t1"] = 50
    config = Config.from_dict(data)
    assert config.aps.t1 == 50.0 and isinstance(config.aps.t1, float) and config.aps.attention_size == 1024
