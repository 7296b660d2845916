"""Model selection never sees the test split: validation comes from a `validation` split or a seeded holdout."""

import dataclasses
import json
import logging

import cv2
import numpy as np
import pytest

from hrsod_tf.config import get_preset
from hrsod_tf.data.sources import FolderSource, resolve_data_source
from hrsod_tf.data.validation import (
    VALIDATION_FRACTION,
    choose_holdout,
    plan_validation,
    training_examples,
    validation_examples,
)
from hrsod_tf.image_io import read_map, saliency_to_uint8
from hrsod_tf.pipeline.graph_ops import gsn_map
from hrsod_tf.pipeline.networks import keras_probability
from hrsod_tf.training import stage_data, train_stage
from hrsod_tf.training.stages import coarse_map_cache
from hrsod_tf.workdir import WorkDir, make_random_workdir

TINY = get_preset("tiny")


def _names(dataset):
    return [ex["image/filename"].decode() for ex in dataset.as_numpy_iterator()]


def test_holdout_is_a_fixed_tenth_independent_of_order_and_keeps_one_to_train():
    names = [f"img{i:03d}.jpg" for i in range(200)]
    held = choose_holdout(names)
    assert len(held) == round(VALIDATION_FRACTION * 200)
    assert choose_holdout(list(reversed(names))) == held
    assert choose_holdout(names, seed=1) != held
    assert len(choose_holdout(["a.png", "b.png"])) == 1
    assert choose_holdout(["only.png"]) == ()


def test_synthetic_source_validates_on_held_out_training_images_and_never_trains_on_them():
    source = resolve_data_source("synthetic", data_config=dataclasses.replace(TINY.data, synthetic_train_size=10))
    plan = plan_validation(source)
    assert plan.split == "train" and plan.held_out_of_train and len(plan.filenames) == 1
    train_names = _names(training_examples(source, plan))
    val_names = _names(validation_examples(source, plan))
    test_names = _names(source.as_tf_dataset("test"))
    assert val_names == list(plan.filenames)
    assert len(train_names) == 9 and not set(train_names) & set(val_names)
    assert set(train_names) | set(val_names) == set(_names(source.as_tf_dataset("train")))
    # Scene names are per-split indices, so compare the images: no validation image is a test image.
    val_images = [ex["image"] for ex in validation_examples(source, plan).as_numpy_iterator()]
    test_images = [ex["image"] for ex in source.as_tf_dataset("test").as_numpy_iterator()]
    assert test_names and not any(v.shape == t.shape and np.array_equal(v, t) for v in val_images for t in test_images)


def _write_pairs(folder, names):
    (folder / "img").mkdir(parents=True)
    (folder / "mask").mkdir(parents=True)
    for i, name in enumerate(names):
        image = np.full((16, 16, 3), 10 * i, np.uint8)
        mask = np.zeros((16, 16), np.uint8)
        mask[4:12, 4:12] = 255
        cv2.imwrite(str(folder / "img" / f"{name}.png"), image)
        cv2.imwrite(str(folder / "mask" / f"{name}.png"), mask)
    return str(folder / "img"), str(folder / "mask")


def test_folders_with_a_validation_split_use_it_and_folders_with_a_test_split_hold_out_train(tmp_path):
    splits = {s: _write_pairs(tmp_path / s, [f"{s}{i}" for i in range(5)]) for s in ("train", "validation", "test")}
    with_val = FolderSource(splits)
    plan = plan_validation(with_val)
    assert plan.split == "validation" and not plan.held_out_of_train
    assert plan.filenames == tuple(f"validation{i}.png" for i in range(5))
    assert len(_names(training_examples(with_val, plan))) == 5

    without_val = FolderSource({"train": splits["train"], "test": splits["test"]})
    plan = plan_validation(without_val)
    assert plan.split == "train" and set(plan.filenames) <= {f"train{i}.png" for i in range(5)}
    assert not any(name.startswith("test") for name in _names(validation_examples(without_val, plan)))


def test_tfds_source_lists_file_names_without_decoding(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    source = resolve_data_source("hrsod_synthetic/tiny", data_dir=str(tmp_path / "tfds"))
    assert source.filenames("train") == _names(source.as_tf_dataset("train"))
    plan = plan_validation(source)
    assert plan.split == "train" and set(plan.filenames) <= set(source.filenames("train"))


@pytest.mark.slow
def test_trained_stage_records_its_validation_images_and_they_are_training_ones(tmp_path):
    config = dataclasses.replace(TINY, train=dataclasses.replace(
        TINY.train, gsn=dataclasses.replace(TINY.train.gsn, steps=2, validate_every=0)))
    source = resolve_data_source("synthetic", data_config=config.data)
    workdir = WorkDir(tmp_path / "run")
    result = train_stage(config, "gsn", workdir, source, progress=False)
    assert result.best_mae is not None
    validation = json.loads(workdir.done_path("gsn").read_text())["validation"]
    assert validation["split"] == "train" and validation["held_out_of_train"]
    assert validation["count"] == 1 and validation["filenames"] == list(plan_validation(source).filenames)
    _, val = stage_data(config, "gsn", workdir, source, progress=False)
    assert val is not None


def test_the_lrns_validation_patches_are_the_same_on_every_run_of_a_seed(tmp_path):
    # The LRN validates on sampled patches; an unseeded draw would let the kept checkpoint vary between runs.
    workdir = make_random_workdir(tmp_path / "run", stages=("gsn",))
    config = workdir.load_config()
    source = resolve_data_source("synthetic", data_config=dataclasses.replace(
        config.data, synthetic_train_size=10, synthetic_test_size=1))
    first, second = ([batch[1].numpy() for batch in stage_data(config, "lrn", workdir, source, progress=False)[1]]
                     for _ in range(2))
    assert len(first) == len(second) > 0
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_map_cache_of_one_data_set_is_not_reused_for_another_with_the_same_file_names(tmp_path):
    workdir = make_random_workdir(tmp_path / "run", stages=("gsn",))
    config = workdir.load_config()
    data = dataclasses.replace(config.data, synthetic_train_size=2, synthetic_test_size=1)
    first = resolve_data_source("synthetic", data_config=data)
    cache = coarse_map_cache(config, workdir, first, ["train"], progress=False)
    assert cache.fingerprint_matches() and cache.fingerprint["dataset"] == "synthetic"
    other = resolve_data_source("synthetic", data_config=data)
    other.name = "another data set with the same file names"
    assert not coarse_map_cache(config, workdir, other, [], progress=False).fingerprint_matches()


def test_coarse_cache_holds_the_maps_of_the_gsn_run_layer_by_layer(tmp_path):
    # The cache runs the GSN traced once; its maps are the network's own, as an eager call gives them.
    workdir = make_random_workdir(tmp_path / "run", stages=("gsn",))
    config = workdir.load_config()
    source = resolve_data_source("synthetic", data_config=dataclasses.replace(config.data, synthetic_train_size=2))
    cache = coarse_map_cache(config, workdir, source, ["train"], progress=False)
    gsn = keras_probability(workdir.load_model("gsn", config))
    for example in source.examples("train"):
        eager = gsn_map(gsn, example["image"], config.model.gsn_input_size).numpy()
        stored = read_map(cache.path_for(example["image/filename"]))
        np.testing.assert_array_equal(stored, saliency_to_uint8(eager))


def test_union_of_two_folder_sources_holds_validation_out_of_each_and_tags_file_names(tmp_path):
    first = _write_pairs(tmp_path / "a", [f"x{i}" for i in range(10)])
    second = _write_pairs(tmp_path / "b", [f"x{i}" for i in range(20)])  # the same file names as the first
    union = resolve_data_source(f"folders:{','.join(first)}+folders:{','.join(second)}")
    counts = {entry["tag"]: (entry["train"], entry["validation"]) for entry in union.counts()}
    assert counts == {"folders1": (9, 1), "folders2": (18, 2)}
    plan = plan_validation(union)
    assert plan.split == "validation" and not plan.held_out_of_train and "held out of each source" in plan.how
    trained, validated = _names(training_examples(union, plan)), _names(validation_examples(union, plan))
    assert len(trained) == 27 and len(set(trained)) == 27 and sorted(trained) == sorted(union.filenames("train"))
    assert sorted(validated) == list(plan.filenames) and not set(trained) & set(validated)
    assert {name.split("__")[0] for name in trained} == {"folders1", "folders2"}
    assert union.splits == ("train", "validation") and union.num_examples("train") == 27


def test_union_interleaves_its_sources_in_proportion_to_their_sizes(tmp_path):
    small = _write_pairs(tmp_path / "small", [f"s{i}" for i in range(8)])
    large = _write_pairs(tmp_path / "large", [f"l{i}" for i in range(24)])
    union = resolve_data_source(f"folders:{','.join(small)}+folders:{','.join(large)}")
    order = _names(union.as_tf_dataset("train"))
    first_half = order[: len(order) // 2]
    assert sum(name.startswith("folders1__") for name in first_half) not in (0, 7)  # mixed, not one then the other
    assert _names(union.as_tf_dataset("train")) == order  # the same order every time


def test_union_spec_with_an_empty_part_is_refused():
    with pytest.raises(ValueError, match="SPEC\\+SPEC"):
        resolve_data_source("synthetic+")


@pytest.mark.slow
def test_train_py_on_two_folder_sets_trains_on_both_and_reports_per_source_counts(tmp_path, caplog):
    from helpers import command_module

    first = _write_pairs(tmp_path / "a", [f"a{i}" for i in range(4)])
    second = _write_pairs(tmp_path / "b", [f"b{i}" for i in range(6)])
    workdir = tmp_path / "run"
    spec = f"folders:{','.join(first)}+folders:{','.join(second)}"
    with caplog.at_level(logging.INFO, logger="hrsod_tf"):
        assert command_module("train").main(["--stage", "gsn", "--dataset", spec, "--preset", "tiny", "--steps", "2",
                                             "--workdir", str(workdir), "--no-progress"]) == 0
    done = json.loads((workdir / "gsn" / "DONE.json").read_text())
    assert [(e["source"], e["train"], e["validation"]) for e in done["training_data"]] == [
        (f"folders:{','.join(first)}", 3, 1), (f"folders:{','.join(second)}", 5, 1)]
    assert done["validation"]["count"] == 2
    assert done["machine"]["tensorflow_cpu_kernels"] in ("oneDNN", "Eigen")  # the kernels' rounding steers training
    assert "trains on 3 images of folders:" in caplog.text and "trains on 5 images of folders:" in caplog.text
