"""DIS5K: the Dichotomous Image Segmentation data set of Qin et al. (ECCV 2022): DIS-TR (3,000), DIS-VD (470) and
four test sets of increasing shape complexity, DIS-TE1 to DIS-TE4 (500 each), kept as named splits.

Layout: `DIS5K.zip` (links on https://github.com/xuebinqin/DIS) holds `DIS5K/<split>/im/*.jpg` and
`DIS5K/<split>/gt/*.png`, as the authors' training script reads them (xuebinqin/DIS,
IS-Net/train_valid_inference_main.py: `"im_dir": "../DIS5K/DIS-TR/im"`, `"gt_dir": "../DIS5K/DIS-TR/gt"`).
"""

from __future__ import annotations

import tensorflow_datasets as tfds

from hrsod_tf_datasets import sod_builder

SPLITS = ("DIS-TR", "DIS-VD", "DIS-TE1", "DIS-TE2", "DIS-TE3", "DIS-TE4")


class Builder(sod_builder.ManualSODBuilder):
    """DatasetBuilder for DIS5K (manual download): splits DIS-TR, DIS-VD, DIS-TE1 ... DIS-TE4 under their own names;
    training reads DIS-TR as ``train`` and validates on DIS-VD (`SPLIT_ALIASES`)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: DIS-TR (3,000), DIS-VD (470), DIS-TE1..DIS-TE4 (500 each)."}
    HOMEPAGE = "https://github.com/xuebinqin/DIS"
    SPLIT_FOLDERS = {split: (f"{split}/im", f"{split}/gt") for split in SPLITS}
    METRIC_SET = "dis"  # DIS5K's benchmark: max and weighted F-beta, MAE, S-measure, mean E-measure, HCE
    SPLIT_ALIASES = {"train": "DIS-TR", "validation": "DIS-VD"}  # `hrsod train --dataset dis5k` trains on DIS-TR
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
    DIS5K cannot be downloaded automatically. Get `DIS5K.zip` from the links on https://github.com/xuebinqin/DIS
    (accept its terms of use) and put the zip (read in place) OR the extracted `DIS5K/` folder into the manual
    folder, `<data_dir>/downloads/manual/` by default, or the folder given with `--manual_dir`:

        <manual_dir>/DIS5K/DIS-TR/im/*.jpg     3,000 training images
        <manual_dir>/DIS5K/DIS-TR/gt/*.png     their masks (same file stem)
        <manual_dir>/DIS5K/DIS-VD/im, gt       470 validation images
        <manual_dir>/DIS5K/DIS-TE1/im, gt      500 test images each, DIS-TE1 ... DIS-TE4
        ...
        <manual_dir>/DIS5K/DIS-TE4/im, gt

    then run:  cd datasets && tfds build dis5k --manual_dir <manual_dir>
    """
