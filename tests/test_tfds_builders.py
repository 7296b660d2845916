"""The TFDS builders of `datasets/`: TFDS's own builder tests, fake manual downloads with planted defects,
and the real `tfds build` command line.

The `tfds.testing.DatasetBuilderTestCase` classes live beside the builders (TFDS convention,
`datasets/<name>/<name>_dataset_builder_test.py`); they are imported here so that `pytest tests` runs them.
"""

import json
import logging
import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from hrsod_tf.data import sources
from hrsod_tf.image_io import DataError
from hrsod_tf_datasets import sod_builder
from hrsod_tf_datasets.davis_s import davis_s_dataset_builder
from hrsod_tf_datasets.davis_s.davis_s_dataset_builder_test import DavisSTest  # noqa: F401
from hrsod_tf_datasets.dis5k import dis5k_dataset_builder
from hrsod_tf_datasets.dis5k.dis5k_dataset_builder_test import Dis5kTest  # noqa: F401
from hrsod_tf_datasets.duts import duts_dataset_builder
from hrsod_tf_datasets.duts.duts_dataset_builder_test import DutsTest  # noqa: F401
from hrsod_tf_datasets.hku_is import hku_is_dataset_builder
from hrsod_tf_datasets.hku_is.hku_is_dataset_builder_test import HkuIsTest  # noqa: F401
from hrsod_tf_datasets.hrsod import hrsod_dataset_builder
from hrsod_tf_datasets.hrsod.hrsod_dataset_builder_test import HrsodTest  # noqa: F401
from hrsod_tf_datasets.hrsod_synthetic.hrsod_synthetic_dataset_builder_test import HrsodSyntheticTest  # noqa: F401
from hrsod_tf_datasets.thur import thur_dataset_builder
from hrsod_tf_datasets.thur.thur_dataset_builder_test import ThurTest  # noqa: F401
from hrsod_tf_datasets.uhrsd import uhrsd_dataset_builder
from hrsod_tf_datasets.uhrsd.uhrsd_dataset_builder_test import UhrsdTest  # noqa: F401

DATASETS = pathlib.Path(__file__).resolve().parents[1] / "datasets"

W, H = 64, 48
# Planted defects: (what, file that must be named in the report); counted as skipped.
SKIPPED = ["orphan_image.jpg", "orphan_mask.png", "wrong_size.jpg", "truncated.jpg"]
CONVERTED = ["grayscale.jpg", "deep16.png"]  # converted to 8-bit RGB and kept


def _rgb(seed):
    return (np.random.default_rng(seed).random((H, W, 3)) * 255).astype(np.uint8)


def _mask(w=W, h=H):
    m = np.zeros((h, w), np.uint8)
    m[10:30, 20:40] = 255
    return Image.fromarray(m)


def _write_split(image_dir, mask_dir, prefix, with_defects):
    image_dir.mkdir(parents=True)
    mask_dir.mkdir(parents=True)
    for i in range(2):
        Image.fromarray(_rgb(i)).save(image_dir / f"{prefix}_{i}.jpg")
        _mask().save(mask_dir / f"{prefix}_{i}.png")
    if not with_defects:
        return
    Image.fromarray(_rgb(7)).save(image_dir / "orphan_image.jpg")
    _mask().save(mask_dir / "orphan_mask.png")
    Image.fromarray(_rgb(8)).save(image_dir / "wrong_size.jpg")
    _mask(W // 2, H // 2).save(mask_dir / "wrong_size.png")
    Image.fromarray(_rgb(9)).save(image_dir / "truncated.jpg")
    data = (image_dir / "truncated.jpg").read_bytes()
    (image_dir / "truncated.jpg").write_bytes(data[: len(data) // 3])
    Image.fromarray(_rgb(10)[..., 0]).save(image_dir / "grayscale.jpg")
    _mask().save(mask_dir / "grayscale.png")
    Image.fromarray((_rgb(11)[..., 0].astype(np.uint16) * 257)).save(image_dir / "deep16.png")
    _mask().save(mask_dir / "deep16.png")


def _zip_folder(folder, archive):
    """Writes `folder` (with its own name at the top) into the zip `archive` and deletes the folder."""
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(folder.rglob("*")):
            zf.write(f, f.relative_to(folder.parent).as_posix())
    shutil.rmtree(folder)


def make_fake_hrsod(manual_dir, as_zip=False):
    """HRSOD_release/{HRSOD_train,HRSOD_train_mask,HRSOD_test,HRSOD_test_mask}; defects in train only."""
    release = manual_dir / "HRSOD_release"
    _write_split(release / "HRSOD_train", release / "HRSOD_train_mask", "train", with_defects=True)
    _write_split(release / "HRSOD_test", release / "HRSOD_test_mask", "test", with_defects=False)
    if as_zip:
        _zip_folder(release, manual_dir / "HRSOD_release.zip")
    return manual_dir


def _build(builder_cls, manual_dir, data_dir):
    builder = builder_cls(data_dir=str(data_dir))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir)))
    return builder


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_hrsod_builds_good_pairs_and_reports_planted_defects(tmp_path, caplog, as_zip):
    manual = make_fake_hrsod(tmp_path / "manual", as_zip=as_zip)
    with caplog.at_level(logging.INFO, logger="hrsod_tf"):
        builder = _build(hrsod_dataset_builder.Builder, manual, tmp_path / "data")
    assert builder.info.splits["train"].num_examples == 2 + len(CONVERTED)
    assert builder.info.splits["test"].num_examples == 2
    for name in SKIPPED:
        assert name in caplog.text
    assert "[hrsod/train] 4 examples used, 4 skipped" in caplog.text
    assert "[hrsod/test] 2 examples used, 0 skipped" in caplog.text
    examples = {ex["image/filename"].decode(): ex for ex in tfds.as_numpy(builder.as_dataset(split="train"))}
    assert sorted(examples) == sorted(["train_0.jpg", "train_1.jpg"] + CONVERTED)
    for ex in examples.values():
        assert ex["image"].shape == (H, W, 3) and ex["mask"].shape == (H, W, 1)
        assert set(np.unique(ex["mask"])) == {0, 255}
    np.testing.assert_array_equal(examples["deep16.png"]["image"][..., 0], _rgb(11)[..., 0])


def test_davis_s_builds_from_imgs_mask_palette_pngs(tmp_path):
    root = tmp_path / "manual" / "DAVIS-S"
    (root / "Imgs").mkdir(parents=True)
    (root / "Mask").mkdir()
    for i in range(3):
        Image.fromarray(_rgb(i)).save(root / "Imgs" / f"blackswan_{i:05d}.jpg")
        index = np.zeros((H, W), np.uint8)
        index[5:25, 10:30] = 1  # (128, 0, 0): would be 38 by luminance
        mask = Image.fromarray(index, mode="P")
        mask.putpalette([0, 0, 0, 128, 0, 0] + [0] * 762)
        mask.save(root / "Mask" / f"blackswan_{i:05d}.png")
    builder = _build(davis_s_dataset_builder.Builder, tmp_path / "manual", tmp_path / "data")
    assert list(builder.info.splits) == ["test"] and builder.info.splits["test"].num_examples == 3
    ex = next(iter(tfds.as_numpy(builder.as_dataset(split="test"))))
    assert ex["mask"][10, 20, 0] == 255 and ex["mask"][0, 0, 0] == 0


def test_missing_hrsod_folders_are_named(tmp_path):
    manual = make_fake_hrsod(tmp_path / "manual")
    shutil.rmtree(manual / "HRSOD_release" / "HRSOD_test_mask")
    with pytest.raises(sod_builder.ManualDownloadError, match="lacks the folder.*HRSOD_test_mask"):
        _build(hrsod_dataset_builder.Builder, manual, tmp_path / "data")


def _tfds_cli(args, tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    env.pop("PYTHONPATH", None)  # as typed after the install: the builder finds hrsod_tf by itself
    # `tfds build`, run by this Python (the `tfds` script on PATH may belong to another environment).
    command = [sys.executable, "-m", "tensorflow_datasets.scripts.cli.main", "build", *args]
    return subprocess.run(command, cwd=DATASETS, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_tfds_cli_builds_fake_hrsod_download(tmp_path):
    manual = make_fake_hrsod(tmp_path / "manual")
    result = _tfds_cli(["hrsod", "--manual_dir", str(manual), "--data_dir", str(tmp_path / "data")], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads((tmp_path / "data" / "hrsod" / "1.0.0" / "dataset_info.json").read_text())
    counts = {s["name"]: int(s["shardLengths"][0]) for s in info["splits"]}
    assert counts == {"train": 4, "test": 2}
    output = result.stdout + result.stderr
    assert "truncated.jpg" in output and "4 examples used, 4 skipped" in output


@pytest.mark.slow
def test_tfds_cli_without_manual_files_ends_with_the_instructions(tmp_path):
    result = _tfds_cli(["hrsod", "--data_dir", str(tmp_path / "data")], tmp_path)
    assert result.returncode != 0
    assert "downloads/manual does not exist or is empty" in result.stderr
    assert "github.com/yi94code/HRSOD" in result.stderr and "HRSOD_train_mask" in result.stderr
    # No hook replaces Python's: the instructions are the last lines printed, below tfds's traceback.
    assert result.stderr.rstrip().endswith("cd datasets && tfds build hrsod --manual_dir <manual_dir>")


def test_tfds_data_source_prepares_synthetic_and_explains_unbuilt_manual_sets(tmp_path, capsys, caplog):
    caplog.set_level(logging.INFO, logger="hrsod_tf.data.sources")
    source = sources.resolve_data_source("hrsod_synthetic/tiny", data_dir=str(tmp_path))
    assert source.splits == ("train", "test") and source.num_examples("test") == 3
    # Nothing downloads: TFDS's "Downloading and preparing dataset Unknown size ..." and its warning about the
    # folder it is about to fill are not shown; our own lines say what happened.
    assert "Download" not in capsys.readouterr().out and "dataset_info.json" not in caplog.text
    assert "TFDS data set hrsod_synthetic/tiny prepared" in caplog.text
    ex = next(source.examples("test"))
    assert ex["image"].shape[:2] == ex["mask"].shape[:2] and ex["image/filename"].endswith(".jpg")
    with pytest.raises(DataError, match="tfds build hrsod"):
        sources.resolve_data_source("hrsod", data_dir=str(tmp_path))


@pytest.mark.parametrize("config", ["lowres_tiny", "photo_lowres_tiny"])
def test_the_low_resolution_synthetic_configs_build_their_own_scenes_at_their_sizes(tmp_path, config):
    from hrsod_tf.data import synthetic_sets

    data = synthetic_sets.data_config(config)
    source = sources.resolve_data_source(f"hrsod_synthetic/{config}", data_dir=str(tmp_path))
    for split in ("train", "test"):
        examples = list(source.examples(split))
        assert len(examples) == synthetic_sets.split_size(data, split)
        assert all(data.synthetic_min_side <= min(ex["image"].shape[:2]) <= data.synthetic_max_side
                   for ex in examples)
        indices = sorted(int(ex["image/filename"].split("_")[-1].split(".")[0]) for ex in examples)
        assert indices[0] == synthetic_sets.LOWRES_FIRST_SCENE  # not the high-resolution set's scenes


# -- the builders of Table 1's other data sets, UHRSD and DIS5K: fake downloads in their official layouts --------

def _soft_rgb_mask(w=W, h=H):
    """A mask stored as RGB with anti-aliased edge values (as some copies are): normalised to {0, 255}."""
    m = np.zeros((h, w), np.uint8)
    m[10:30, 20:40] = 255
    m[10, 20:40], m[29, 20:40] = 200, 60
    return Image.fromarray(np.stack([m] * 3, axis=-1))


def _write_pairs(image_dir, mask_dir, stems, image_suffix=".jpg"):
    image_dir.mkdir(parents=True, exist_ok=True)
    mask_dir.mkdir(parents=True, exist_ok=True)
    for i, stem in enumerate(stems):
        Image.fromarray(_rgb(i)).save(image_dir / f"{stem}{image_suffix}")
        _soft_rgb_mask().save(mask_dir / f"{stem}.png")


def _split_counts_and_masks(builder):
    """({split: number of examples}, the set of mask values over all splits)."""
    masks = {split: [ex["mask"] for ex in tfds.as_numpy(builder.as_dataset(split=split))]
             for split in builder.info.splits}
    values = {int(v) for ms in masks.values() for m in ms for v in np.unique(m)}
    return {split: len(m) for split, m in masks.items()}, values


def test_duts_builds_from_the_two_official_zips_and_names_orphans(tmp_path, caplog):
    manual = tmp_path / "manual"
    for split, n in (("TR", 3), ("TE", 2)):
        _write_pairs(manual / f"DUTS-{split}" / f"DUTS-{split}-Image", manual / f"DUTS-{split}" / f"DUTS-{split}-Mask",
                     [f"{split.lower()}_{i}" for i in range(n)])
    Image.fromarray(_rgb(5)).save(manual / "DUTS-TR" / "DUTS-TR-Image" / "lonely.jpg")
    _mask().save(manual / "DUTS-TE" / "DUTS-TE-Mask" / "maskonly.png")
    for split in ("TR", "TE"):
        _zip_folder(manual / f"DUTS-{split}", manual / f"DUTS-{split}.zip")
    with caplog.at_level(logging.INFO, logger="hrsod_tf"):
        builder = _build(duts_dataset_builder.Builder, manual, tmp_path / "data")
    counts, mask_values = _split_counts_and_masks(builder)
    assert counts == {"train": 3, "test": 2} and mask_values == {0, 255}
    assert "lonely.jpg: image has no mask" in caplog.text and "maskonly.png: mask has no image" in caplog.text


def test_uhrsd_and_dis5k_build_their_official_splits(tmp_path):
    uhrsd = tmp_path / "uhrsd"
    _write_pairs(uhrsd / "UHRSD_TR" / "image", uhrsd / "UHRSD_TR" / "mask", ["1", "2"])
    _write_pairs(uhrsd / "UHRSD_TE" / "image", uhrsd / "UHRSD_TE" / "mask", ["3"])
    counts, _ = _split_counts_and_masks(_build(uhrsd_dataset_builder.Builder, uhrsd, tmp_path / "data"))
    assert counts == {"train": 2, "test": 1}
    dis = tmp_path / "dis" / "DIS5K"
    for i, split in enumerate(dis5k_dataset_builder.SPLITS):
        _write_pairs(dis / split / "im", dis / split / "gt", [f"{i}#Misc#x{j}" for j in range(1 + (i == 0))])
    _zip_folder(dis, tmp_path / "dis" / "DIS5K.zip")
    counts, mask_values = _split_counts_and_masks(_build(dis5k_dataset_builder.Builder, tmp_path / "dis",
                                                         tmp_path / "data"))
    assert counts == {"DIS-TR": 2, "DIS-VD": 1, "DIS-TE1": 1, "DIS-TE2": 1, "DIS-TE3": 1, "DIS-TE4": 1}
    assert mask_values == {0, 255}


def test_hku_is_takes_every_image_as_test_whatever_the_folder_names(tmp_path):
    root = tmp_path / "manual" / "HKU-IS"
    _write_pairs(root / "Image", root / "Mask", ["0004", "0005", "0006"], image_suffix=".png")
    counts, mask_values = _split_counts_and_masks(_build(hku_is_dataset_builder.Builder, tmp_path / "manual",
                                                         tmp_path / "data"))
    assert counts == {"test": 3} and mask_values == {0, 255}


def test_thur_keeps_the_labelled_images_and_names_masks_without_images(tmp_path, caplog):
    for label, stems in (("Butterfly", ["11", "12"]), ("Giraffe", ["21"])):
        src = tmp_path / "manual" / "THUR15000" / label / "Src"
        _write_pairs(src, src, stems)
        Image.fromarray(_rgb(9)).save(src / f"{stems[0]}9.jpg")  # no mask: unlabelled, left out
    _mask().save(tmp_path / "manual" / "THUR15000" / "Giraffe" / "Src" / "29.png")
    with caplog.at_level(logging.INFO, logger="hrsod_tf_datasets"), caplog.at_level(logging.INFO, logger="hrsod_tf"):
        builder = _build(thur_dataset_builder.Builder, tmp_path / "manual", tmp_path / "data")
    counts, mask_values = _split_counts_and_masks(builder)
    assert counts == {"test": 3} and mask_values == {0, 255}
    assert "29.png: mask has no image" in caplog.text
    assert "2 images without one left out" in caplog.text and "119.jpg" not in caplog.text


@pytest.mark.parametrize("builder_cls, make, expected", [
    (duts_dataset_builder.Builder,
     lambda m: _write_pairs(m / "DUTS-TR" / "DUTS-TR-Image", m / "DUTS-TR" / "DUTS-TR-Mask", ["a"]),
     ["found no folders DUTS-TE/DUTS-TE-Image and DUTS-TE/DUTS-TE-Mask (split 'test')",
      "http://saliencydetection.net/duts/"]),
    (dis5k_dataset_builder.Builder,
     lambda m: [_write_pairs(m / "DIS5K" / s / "im", m / "DIS5K" / s / "gt", ["a"])
                for s in dis5k_dataset_builder.SPLITS if s != "DIS-TE3"]
     and (m / "DIS5K" / "DIS-TE3" / "im").mkdir(parents=True),
     ["DIS5K lacks the folder(s) DIS-TE3/gt (split 'DIS-TE3')", "github.com/xuebinqin/DIS"]),
    (thur_dataset_builder.Builder, lambda m: (m / "THUR15000" / "Butterfly").mkdir(parents=True),
     ["found no THUR15000/<class>/Src/ folder", "mmcheng.net/gsal"]),
    (uhrsd_dataset_builder.Builder, lambda m: (m / "UHRSD_TE" / "image").mkdir(parents=True),
     ["UHRSD_TR/image and UHRSD_TR/mask (split 'train')", "lacks the folder(s) UHRSD_TE/mask",
      "github.com/iCVTEAM/PGNet"]),
], ids=["duts", "dis5k", "thur", "uhrsd"])
def test_incomplete_downloads_name_what_is_missing_and_where_to_get_it(tmp_path, builder_cls, make, expected):
    manual = tmp_path / "manual"
    manual.mkdir()
    make(manual)
    with pytest.raises(sod_builder.ManualDownloadError) as raised:
        _build(builder_cls, manual, tmp_path / "data")
    for text in expected:
        assert text in str(raised.value)


def test_dis5k_source_trains_on_dis_tr_validates_on_dis_vd_and_defaults_to_dis_metrics(tmp_path):
    from hrsod_tf.data import validation

    _build(dis5k_dataset_builder.Builder, DATASETS / "dis5k" / "dummy_data", tmp_path / "data")
    source = sources.resolve_data_source("dis5k", data_dir=str(tmp_path / "data"))
    assert source.metric_set == "dis" and {"train", "validation", "DIS-TE1"} <= set(source.splits)
    assert source.num_examples("train") == 2 and source.filenames("train") == source.filenames("DIS-TR")
    plan = validation.plan_validation(source)
    assert plan.split == "validation" and len(plan.filenames) == 1 and not plan.held_out_of_train


@pytest.mark.parametrize("name", ["duts", "hku_is", "thur", "uhrsd", "dis5k"])
def test_unbuilt_new_data_sets_resolve_by_name_and_say_how_to_build(tmp_path, name):
    with pytest.raises(DataError, match=f"tfds build {name} --manual_dir"):
        sources.resolve_data_source(name, data_dir=str(tmp_path))
