"""DAVIS-S: 92 high-resolution (1920x1080) frames of DAVIS 2016 with salient-object masks (Zeng et al., 2019)."""

from __future__ import annotations

import tensorflow_datasets as tfds

from hrsod_tf.data import readers
from hrsod_tf.image_io import DataError
from hrsod_tf_datasets import sod_builder


class Builder(tfds.core.GeneratorBasedBuilder):
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

    def _info(self) -> tfds.core.DatasetInfo:
        """Returns the dataset metadata."""
        return sod_builder.sod_dataset_info(self)

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        """Finds the image and mask folders in the manual folder (or a zip in it); one `test` split."""
        image_dir, mask_dir = find_davis_dirs(
            sod_builder.manual_dir(dl_manager, "davis_s", self.MANUAL_DOWNLOAD_INSTRUCTIONS),
            self.MANUAL_DOWNLOAD_INSTRUCTIONS)
        return {"test": self._generate_examples(readers.pair_by_stem(image_dir, mask_dir), "test")}

    def _generate_examples(self, pairing: readers.PairingReport, split: str):
        """Yields (stem, example); pairs with a missing, unreadable or mis-sized file are skipped and reported."""
        yield from sod_builder.generate_sod_examples(pairing, f"davis_s/{split}")


def find_davis_dirs(manual_dir, instructions: str):
    """(image_dir, mask_dir) in `manual_dir`, else in the first zip in it that has them."""
    errors = []
    for root in readers.archive_roots(manual_dir):
        try:
            return readers.find_image_and_mask_dirs(root)
        except DataError as e:
            errors.append(str(e))
    raise sod_builder.manual_download_error("davis_s", "\n".join(errors), instructions)
