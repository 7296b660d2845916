"""UHRSD: the Ultra-High-Resolution Saliency Detection data set of PGNet (Xie et al., CVPR 2022), 4K-8K photos:
4,932 for training and 988 for testing.

Layout: `UHRSD_TR.zip` and `UHRSD_TE.zip` (Google Drive links on https://github.com/iCVTEAM/PGNet), each a folder
with `image/*.jpg` and `mask/*.png` of the same file stem, as PGNet's own loader reads them
(iCVTEAM/PGNet, src/dataset.py: `<datapath>/image/<name>.jpg`, `<datapath>/mask/<name>.png`).
"""

from __future__ import annotations

import tensorflow_datasets as tfds

from hrsod_tf_datasets import sod_builder


class Builder(sod_builder.ManualSODBuilder):
    """DatasetBuilder for UHRSD (manual download): `train` = UHRSD_TR, `test` = UHRSD_TE."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: train (UHRSD_TR, 4,932) and test (UHRSD_TE, 988), original sizes."}
    HOMEPAGE = "https://github.com/iCVTEAM/PGNet"
    SPLIT_FOLDERS = {"train": ("UHRSD_TR/image", "UHRSD_TR/mask"), "test": ("UHRSD_TE/image", "UHRSD_TE/mask")}
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
    UHRSD cannot be downloaded automatically. Get `UHRSD_TR.zip` and `UHRSD_TE.zip` from the links on
    https://github.com/iCVTEAM/PGNet and put the two zips (read in place) OR their extracted folders into the
    manual folder, `<data_dir>/downloads/manual/` by default, or the folder given with `--manual_dir`:

        <manual_dir>/UHRSD_TR/image/*.jpg    4,932 training images (4K-8K)
        <manual_dir>/UHRSD_TR/mask/*.png     their masks (same file stem)
        <manual_dir>/UHRSD_TE/image/*.jpg    988 test images
        <manual_dir>/UHRSD_TE/mask/*.png     their masks

    then run:  cd datasets && tfds build uhrsd --manual_dir <manual_dir>
    """
