"""HKU-IS: 4,447 images with salient-object masks (Li and Yu, CVPR 2015), kept whole as one `test` split.

The release comes with a train/validation/test partition (.mat lists), but the HRSOD paper (Section 5.1.1,
Table 1) tests on all 4,447 images and trains on DUTS-TR only; so does this builder: `test` holds every image.

Layout: the release `HKU-IS/imgs/*.png` + `HKU-IS/gt/*.png`, as visionml/pytracking reads it (ltr/dataset/hku_is.py:
`<root>/imgs/<name>.png`, `<root>/gt/<name>.png`); copies repackaged for SOD benchmarks name the folders
`Image`/`Mask` (lartpang/MINet, utils/dataset_configs.py) or `image`/`mask` (iCVTEAM/PGNet, src/dataset.py, which
also shows that HKU-IS images are .png). Both folders hold PNG files, so they are told apart by their names
(`hrsod_tf.data.readers.find_image_and_mask_dirs`), whatever those are among the usual ones.
"""

from __future__ import annotations

import tensorflow_datasets as tfds

from hrsod_tf.data import readers
from hrsod_tf_datasets import sod_builder


class Builder(sod_builder.ManualSODBuilder):
    """DatasetBuilder for HKU-IS (manual download; `test` split only: all 4,447 images, as the paper used them)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: test (all 4,447 images, as the HRSOD paper evaluates on them)."}
    HOMEPAGE = "https://sites.google.com/site/ligb86/hkuis"
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
    HKU-IS cannot be downloaded automatically. Get `HKU-IS.rar` from https://sites.google.com/site/ligb86/hkuis
    (or a copy from a SOD benchmark), extract it (rar archives are not read in place; a zip is) and put the
    folder into the manual folder, `<data_dir>/downloads/manual/` by default, or the one given with `--manual_dir`:

        <manual_dir>/HKU-IS/imgs/*.png    4,447 images   (also accepted: Image/, images/, img/)
        <manual_dir>/HKU-IS/gt/*.png      their masks    (also accepted: Mask/, masks/, GT/)

    then run:  cd datasets && tfds build hku_is --manual_dir <manual_dir>
    """

    def find_pairings(self, root) -> dict[str, readers.PairingReport]:
        """{"test": pairs}: the image and mask folders found under `root` by their names."""
        image_dir, mask_dir = sod_builder.find_image_and_mask_dirs(root, "hku_is", self.MANUAL_DOWNLOAD_INSTRUCTIONS)
        return {"test": readers.pair_by_stem(image_dir, mask_dir)}
