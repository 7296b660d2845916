"""HRSOD: the High-Resolution Salient Object Detection data set (Zeng et al., ICCV 2019)."""

from __future__ import annotations

import tensorflow_datasets as tfds

from hrsod_tf_datasets import sod_builder


class Builder(sod_builder.ManualSODBuilder):
    """DatasetBuilder for HRSOD (manual download). Layout: the authors' `HRSOD_release/` (yi94code/HRSOD)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: train (1,610) and test (400), images at their original size."}
    SPLIT_FOLDERS = {"train": ("HRSOD_train", "HRSOD_train_mask"), "test": ("HRSOD_test", "HRSOD_test_mask")}
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
    HRSOD cannot be downloaded automatically. Get `HRSOD_release.zip` from the authors' page
    https://github.com/yi94code/HRSOD (links to Google Drive and Baidu Pan) and put EITHER the zip itself OR
    the extracted `HRSOD_release/` folder into the manual folder, `<data_dir>/downloads/manual/` by default
    (e.g. ~/tensorflow_datasets/downloads/manual/), or into the folder given with `--manual_dir`:

        <manual_dir>/HRSOD_release.zip                       (read in place, not extracted)
      or
        <manual_dir>/HRSOD_release/HRSOD_train/*.jpg         1,610 images
        <manual_dir>/HRSOD_release/HRSOD_train_mask/*.png    their masks (same file stem)
        <manual_dir>/HRSOD_release/HRSOD_test/*.jpg          400 images
        <manual_dir>/HRSOD_release/HRSOD_test_mask/*.png     their masks

    then run:  cd datasets && tfds build hrsod --manual_dir <manual_dir>
    """
