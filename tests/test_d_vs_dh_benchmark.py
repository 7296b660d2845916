"""benchmarks/d_vs_dh.py (Table 1's claim behind Ours-DH on the synthetic sets), piece by piece: which sets and
config a run takes, the verdicts and the fragment. Its --quick run trains eight tiny stages, over a minute on
two cores, so it is run by hand: `python benchmarks/d_vs_dh.py --quick`."""

import d_vs_dh
import pytest

from hrsod_tf.config import apply_settings, get_preset
from hrsod_tf.workdir import WorkDir

METRICS = {"Fbeta_adaptive": 0.8, "S_measure": 0.8, "MAE": 0.05, "BDE": 10.0, "mBA": 0.6}


def test_the_full_run_trains_the_demo_presets_sets_and_quick_their_tiny_forms_in_either_style():
    assert d_vs_dh.set_names("photo", quick=False) == {"high": "photo_small", "low": "photo_lowres"}
    assert d_vs_dh.set_names("classic", quick=False) == {"high": "small", "low": "lowres"}
    assert d_vs_dh.set_names("photo", quick=True) == {"high": "photo_tiny", "low": "photo_lowres_tiny"}


def test_a_run_takes_the_demos_config_with_its_seed_and_a_rerun_its_own(tmp_path):
    config = d_vs_dh.run_config(tmp_path / "D_seed1", 1, quick=False)
    assert (config.preset, config.train.seed) == ("small", 1)
    assert config.train.gsn.steps == get_preset("small").train.gsn.steps
    assert d_vs_dh.run_config(tmp_path / "D_seed1", 1, quick=True).preset == "tiny"
    apply_settings(get_preset("tiny"), {"train.seed": 5}).save(WorkDir(tmp_path / "DH_seed1").config_path)
    again = d_vs_dh.run_config(tmp_path / "DH_seed1", 1, quick=False)
    assert (again.preset, again.train.seed) == ("tiny", 1)


def runs(high_deltas, low_deltas, variant="full"):
    """D and DH runs per seed whose S-measures differ by the given deltas (DH minus D) on each test set."""
    made = []
    for seed, (high, low) in enumerate(zip(high_deltas, low_deltas)):
        for training, sign in (("D", 0), ("DH", 1)):
            scores = {test_set: {variant: {**METRICS, "S_measure": 0.8 + sign * delta}}
                      for test_set, delta in (("high", high), ("low", low))}
            made.append({"training": training, "seed": seed, "scores": scores, "train_seconds": 60.0,
                         "steps": {"gsn": 300, "lrn": 300, "glfn": 300},
                         "training_data": [{"source": "lr", "train": 144, "validation": 16}]
                         + ([{"source": "hr", "train": 108, "validation": 12}] if training == "DH" else [])})
    return made


@pytest.mark.parametrize("high, low, helps, costs_little", [
    ((0.02, 0.03), (-0.005, 0.001), True, True),
    ((0.02, -0.001), (0.0, 0.0), False, True),        # one seed loses on the high-resolution set
    ((0.005, 0.006), (0.0, 0.0), False, True),        # gains, but no larger than what counts as little
    ((0.02, 0.03), (-0.011, 0.0), True, False),       # one seed loses more than little on the low-resolution set
])
def test_dh_helps_when_every_seed_gains_more_than_little_on_average_and_costs_little_within_it(high, low, helps,
                                                                                              costs_little):
    verdict = d_vs_dh.verdicts(runs(high, low), "full")
    assert (verdict["helps_on_high"], verdict["costs_little_on_low"]) == (helps, costs_little)
    assert verdict["high_S_deltas"] == pytest.approx(high) and verdict["seeds"] == 2


def test_the_fragment_gives_both_verdicts_the_table_per_seed_and_what_selected_the_checkpoints():
    made = runs((0.02, 0.03), (-0.02, 0.0))
    result = {"quick": False, "preset": "small", "stages": ["gsn", "lrn", "glfn"], "seeds": [0, 1],
              "machine": {"cpu_model": "CPU A", "usable_cores": 2, "isa_flags": ["avx2"]}, "little_S": 0.01,
              "sets": {"high": {"name": "photo_small", "spec": "hrsod_synthetic/photo_small", "train_scenes": 120,
                                "test_images": 24, "min_side": 1200, "max_side": 1440},
                       "low": {"name": "photo_lowres", "spec": "hrsod_synthetic/photo_lowres", "train_scenes": 160,
                               "test_images": 80, "min_side": 300, "max_side": 400}},
              "training_sets": {"D": "a", "DH": "a+b"}, "runs": made, "verdict": d_vs_dh.verdicts(made, "full")}
    text = d_vs_dh.render(result)
    assert "help on the high-resolution test set: yes.** S with DH minus S with D, per seed: +0.020, +0.030" in text
    assert "cost little on the low-resolution test set: no.** S with DH minus S with D, per seed: -0.020, " \
           "+0.000" in text
    assert "| high (`photo_small`) | 1 | DH | 0.800 | 0.830 | 0.0500 | 10.00 | 0.600 |" in text
    assert "| low | GSN+APS+LRN+GLFN | +0.000, +0.000 | -0.020, +0.000 |" in text
    assert "D trained on 144 images and validated on 16; DH trained on 144 + 108 images and validated on " \
           "16 + 12" in text
    assert "Steps: GSN 300, LRN 300, GLFN 300" in text and "flags avx2" in text
