"""The fuzz targets of reliability/fuzzing.py, a few dozen seeded inputs each: no crash, no hang, and every refusal
one clear line naming the file (the bulk runs, thousands of inputs each, are reliability/run_all.py's)."""

import pytest
from fuzzing import TARGETS, clarity_problem, error_kind, fix_png_crcs, image_seeds


def _clean(tally):
    result = tally.to_dict()
    assert result["findings"] == [] and result["tried"] > 0
    assert result["accepted"] + result["refused"] == result["tried"]
    return result


@pytest.mark.parametrize("target,examples", [("decode", 60), ("config", 60), ("caffe", 40), ("video", 40)])
def test_fast_targets_accept_or_refuse_clearly(target, examples):
    result = _clean(TARGETS[target](examples, seed=1))
    assert result["refused"] > 0  # mutations that break the file are among the inputs


@pytest.mark.slow
@pytest.mark.parametrize("target,examples", [("serving", 30), ("workdir", 12), ("predict_cli", 100)])
def test_model_targets_accept_or_refuse_clearly(target, examples):
    _clean(TARGETS[target](examples, seed=1))


def test_the_same_seed_tries_the_same_inputs():
    first, second = TARGETS["decode"](30, seed=7).to_dict(), TARGETS["decode"](30, seed=7).to_dict()
    assert first["refusals_by_kind"] == second["refusals_by_kind"] and first["accepted"] == second["accepted"]


def test_the_oracle_flags_what_is_not_a_clear_error():
    assert clarity_problem("cannot identify image file <_io.BytesIO object at 0x7f54b835ddf0>", ["a.png"])
    assert clarity_problem("first line\nsecond", ["a.png"]) == "several lines"
    assert clarity_problem("broken data stream", ["a.png"]) == "does not name the file"
    assert clarity_problem("cannot decode a.png: truncated", ["a.png"]) is None
    assert error_kind("cannot decode /x/a.png: 12 bytes", ["/x/a.png"]) == "cannot decode <file>: N bytes"


def test_png_crcs_are_recomputed_so_a_mutation_reaches_the_decoder():
    png = bytearray(image_seeds()["rgb.png"])
    png[40] ^= 0xFF  # inside IDAT: the CRC no longer matches
    fixed = fix_png_crcs(bytes(png))
    assert fixed != bytes(png) and fix_png_crcs(fixed) == fixed
