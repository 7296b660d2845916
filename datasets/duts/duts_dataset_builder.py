"""DUTS: the salient-object data set of Wang et al. (CVPR 2017): DUTS-TR (10,553) for training, DUTS-TE (5,019).

Layout: the official archives `DUTS-TR.zip` and `DUTS-TE.zip` of http://saliencydetection.net/duts/, which hold
`DUTS-TR/DUTS-TR-Image/*.jpg` + `DUTS-TR/DUTS-TR-Mask/*.png` and `DUTS-TE/DUTS-TE-Image` + `DUTS-TE/DUTS-TE-Mask`;
the same folders are read by WZMIAOMIAO/deep-learning-for-image-processing
(pytorch_segmentation/u2net/my_dataset.py).
"""

from __future__ import annotations

import tensorflow_datasets as tfds

from hrsod_tf_datasets import sod_builder


class Builder(sod_builder.ManualSODBuilder):
    """DatasetBuilder for DUTS (manual download): `train` = DUTS-TR, `test` = DUTS-TE."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: train (DUTS-TR, 10,553) and test (DUTS-TE, 5,019)."}
    HOMEPAGE = "http://saliencydetection.net/duts/"
    SPLIT_FOLDERS = {
        "train": ("DUTS-TR/DUTS-TR-Image", "DUTS-TR/DUTS-TR-Mask"),
        "test": ("DUTS-TE/DUTS-TE-Image", "DUTS-TE/DUTS-TE-Mask"),
    }
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
    DUTS cannot be downloaded automatically by this builder. Get `DUTS-TR.zip` and `DUTS-TE.zip` from
    http://saliencydetection.net/duts/ and put the two zips (read in place) OR their extracted folders into the
    manual folder, `<data_dir>/downloads/manual/` by default, or the folder given with `--manual_dir`:

        <manual_dir>/DUTS-TR/DUTS-TR-Image/*.jpg    10,553 training images
        <manual_dir>/DUTS-TR/DUTS-TR-Mask/*.png     their masks (same file stem)
        <manual_dir>/DUTS-TE/DUTS-TE-Image/*.jpg    5,019 test images
        <manual_dir>/DUTS-TE/DUTS-TE-Mask/*.png     their masks

    then run:  cd datasets && tfds build duts --manual_dir <manual_dir>
    """
