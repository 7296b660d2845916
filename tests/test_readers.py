"""Reading folders of images and masks as users have them (hrsod_tf.data.readers), and folder data sources."""

import logging
import re
import zipfile

import numpy as np
import pytest
from helpers import random_rgb, save_image

from hrsod_tf import config
from hrsod_tf.data import readers, sources
from hrsod_tf.image_io import DataError


def test_a_mask_of_another_size_is_skipped_naming_both_files(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "gt").mkdir()
    save_image(random_rgb(64, 48), tmp_path / "img" / "a.jpg")
    save_image(np.zeros((40, 60), np.uint8), tmp_path / "gt" / "a.png")
    report = readers.SkipReport("train")
    assert list(readers.iter_examples(readers.pair_by_stem(tmp_path / "img", tmp_path / "gt"), "train",
                                      report=report)) == []
    assert report.used == 0 and len(report.skipped) == 1
    assert re.search(r"a\.png is 60x40 .*a\.jpg is 64x48", report.skipped[0][1])


def test_pair_by_stem_reports_orphans_and_accepts_upper_case_extensions(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "gt").mkdir()
    for stem in ("a", "b", "c"):
        save_image(random_rgb(8, 8), tmp_path / "img" / f"{stem}.JPG")
    for stem in ("a", "b", "z"):
        save_image(np.zeros((8, 8), np.uint8), tmp_path / "gt" / f"{stem}.png")
    (tmp_path / "img" / "notes.txt").write_text("not an image")
    report = readers.pair_by_stem(tmp_path / "img", tmp_path / "gt")
    assert [stem for stem, _, _ in report.pairs] == ["a", "b"]
    assert [p.name for p in report.images_without_mask] == ["c.JPG"]
    assert [p.name for p in report.masks_without_image] == ["z.png"]


def _make_layout(root, image_dir, mask_dir, stems=("0001", "0002")):
    (root / image_dir).mkdir(parents=True)
    (root / mask_dir).mkdir(parents=True)
    for stem in stems:
        save_image(random_rgb(8, 8), root / image_dir / f"{stem}.jpg")
        save_image(np.zeros((8, 8), np.uint8), root / mask_dir / f"{stem}.png")


@pytest.mark.parametrize("image_dir,mask_dir", [
    ("DAVIS-S/Imgs", "DAVIS-S/Mask"),
    ("images", "masks"),
    ("data/JPEGImages", "data/Annotations"),
    ("RGB", "GT"),
    ("frames", "frames_out"),  # no name hint: decided by content (.jpg vs .png)
])
def test_find_image_and_mask_dirs_whatever_their_names(tmp_path, image_dir, mask_dir):
    _make_layout(tmp_path, image_dir, mask_dir)
    images, masks = readers.find_image_and_mask_dirs(tmp_path)
    assert (images, masks) == (tmp_path / image_dir, tmp_path / mask_dir)


def test_find_image_and_mask_dirs_explains_when_ambiguous_or_empty(tmp_path):
    with pytest.raises(DataError, match="found no image folder"):
        readers.find_image_and_mask_dirs(tmp_path)
    _make_layout(tmp_path, "a/images", "a/masks")
    _make_layout(tmp_path, "b/images", "b/masks")
    with pytest.raises(DataError, match="cannot tell which folders"):
        readers.find_image_and_mask_dirs(tmp_path)


def test_readers_read_zip_members_in_place(tmp_path):
    _make_layout(tmp_path / "src", "Imgs", "Mask")
    with zipfile.ZipFile(tmp_path / "davis.zip", "w") as zf:
        for f in sorted((tmp_path / "src").rglob("*.*")):
            zf.write(f, f.relative_to(tmp_path / "src").as_posix())
    roots = readers.archive_roots(tmp_path)
    images, masks = readers.find_image_and_mask_dirs(roots[-1])
    report = readers.pair_by_stem(images, masks)
    assert len(report.pairs) == 2
    (_, example), *_ = readers.iter_examples(report, "train")
    assert example["image"].shape == (8, 8, 3) and example["mask"].shape == (8, 8, 1)


def test_folder_source_skips_bad_pairs_by_name_and_counts_them(tmp_path, caplog):
    _make_layout(tmp_path, "images", "masks", stems=("good1", "good2", "small"))
    save_image(np.zeros((4, 4), np.uint8), tmp_path / "masks" / "small.png")  # mask of another size
    save_image(random_rgb(8, 8), tmp_path / "images" / "lonely.jpg")  # no mask
    source = sources.resolve_data_source(f"folders:{tmp_path / 'images'},{tmp_path / 'masks'}")
    with caplog.at_level(logging.WARNING):
        examples = list(source.as_tf_dataset("test").as_numpy_iterator())
    assert [e["image/filename"] for e in examples] == [b"good1.jpg", b"good2.jpg"]
    assert examples[0]["image"].shape == (8, 8, 3) and examples[0]["mask"].shape == (8, 8, 1)
    assert "small.jpg" in caplog.text and "lonely.jpg" in caplog.text
    assert "2 examples used, 2 skipped" in caplog.text
    assert "no separate 'test' split" in caplog.text


def test_folder_source_named_splits_holdout_and_root_finder(tmp_path):
    _make_layout(tmp_path / "tr", "images", "masks", stems=[f"{i:03d}" for i in range(20)])
    _make_layout(tmp_path / "te", "Imgs", "Mask")
    named = sources.resolve_data_source(
        f"folders:train={tmp_path}/tr/images,{tmp_path}/tr/masks;test={tmp_path}/te/Imgs,{tmp_path}/te/Mask")
    assert named.splits == ("train", "test") and named.num_examples("test") == 2
    held = sources.resolve_data_source(f"folders:{tmp_path}/tr/images,{tmp_path}/tr/masks;holdout=0.25")
    assert held.num_examples("train") + held.num_examples("test") == 20 and held.num_examples("test") > 0
    assert sources.resolve_data_source(f"folders:{tmp_path}/te").num_examples("all") == 2
    with pytest.raises(ValueError, match="unknown --dataset"):
        sources.resolve_data_source("nonsense")


def test_synthetic_source_generates_in_memory():
    source = sources.resolve_data_source("synthetic", data_config=config.get_preset("tiny").data)
    assert source.num_examples("train") == 6 and source.num_examples("test") == 3
    example = next(source.examples("test"))
    assert example["image"].dtype == np.uint8 and example["image"].shape[2] == 3
    assert example["mask"].shape == example["image"].shape[:2] + (1,)
    assert set(np.unique(example["mask"])) <= {0, 255}
