"""DAVIS-S: 92 high-resolution (1920x1080) frames of DAVIS 2016 with salient-object masks (Zeng et al., 2019)."""

from __future__ import annotations

import tensorflow_datasets as tfds

from hrsod_tf.data import readers
from hrsod_tf_datasets import sod_builder


class Builder(sod_builder.ManualSODBuilder):
    """DatasetBuilder for DAVIS-S (manual download; test split only)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: test (92 images, 1920x1080), palette PNG masks read by index."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
    DAVIS-S cannot be downloaded automatically. Get it from the HRSOD authors' page
    https://github.com/yi94code/HRSOD (it is distributed with the HRSOD test data) and put the folder (or its
    zip) into the manual folder, `<data_dir>/downloads/manual/` by default, or the one given with `--manual_dir`.
    Folder names vary between copies and do not matter: the image folder and the mask folder are found
    anywhere inside (e.g. DAVIS-S/Imgs + DAVIS-S/Mask, images + masks, JPEGImages + Annotations), and
    images are paired with masks by file stem (0001.jpg <-> 0001.png). Palette PNG masks are fine.

    then run:  cd datasets && tfds build davis_s --manual_dir <manual_dir>
    """

    def find_pairings(self, root) -> dict[str, readers.PairingReport]:
        """{"test": pairs}: the image and mask folders found under `root` whatever their names."""
        image_dir, mask_dir = sod_builder.find_image_and_mask_dirs(root, "davis_s", self.MANUAL_DOWNLOAD_INSTRUCTIONS)
        return {"test": readers.pair_by_stem(image_dir, mask_dir)}
