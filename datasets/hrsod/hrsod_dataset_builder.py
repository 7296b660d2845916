"""HRSOD: the High-Resolution Salient Object Detection data set (Zeng et al., ICCV 2019)."""

from __future__ import annotations

import tensorflow_datasets as tfds

from hrsod_tf import image_io
from hrsod_tf.data import readers
from hrsod_tf_datasets import sod_builder

_SPLIT_FOLDERS = {"train": ("HRSOD_train", "HRSOD_train_mask"), "test": ("HRSOD_test", "HRSOD_test_mask")}


class Builder(tfds.core.GeneratorBasedBuilder):
    """DatasetBuilder for HRSOD (manual download)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: train (1,610) and test (400), images at their original size."}
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

    def _info(self) -> tfds.core.DatasetInfo:
        """Returns the dataset metadata."""
        return sod_builder.sod_dataset_info(self)

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        """Finds `HRSOD_release/` (folder or zip) in the manual folder; one generator per split."""
        root = find_release_root(sod_builder.manual_dir(dl_manager, "hrsod", self.MANUAL_DOWNLOAD_INSTRUCTIONS),
                                 self.MANUAL_DOWNLOAD_INSTRUCTIONS)
        return {
            split: self._generate_examples(readers.pair_by_stem(root / images, root / masks), split)
            for split, (images, masks) in _SPLIT_FOLDERS.items()
        }

    def _generate_examples(self, pairing: readers.PairingReport, split: str):
        """Yields (stem, example); pairs with a missing, unreadable or mis-sized file are skipped and reported."""
        yield from sod_builder.generate_sod_examples(pairing, f"hrsod/{split}")


def find_release_root(manual_dir, instructions: str, max_depth: int = 3):
    """The folder (or zip folder) holding HRSOD_train/ ... HRSOD_test_mask/, searched in `manual_dir` and its zips."""
    needed = [name for pair in _SPLIT_FOLDERS.values() for name in pair]
    best, best_found = None, []
    for top in readers.archive_roots(manual_dir):
        stack = [(top, 0)]
        while stack:
            folder, depth = stack.pop()
            children = {c.name.rstrip("/"): c for c in folder.iterdir() if c.is_dir()}
            found = [n for n in needed if n in children]
            if len(found) == len(needed):
                return folder
            if len(found) > len(best_found):
                best, best_found = folder, found
            if depth < max_depth:
                stack.extend((c, depth + 1) for name, c in children.items() if name != "__MACOSX")
    if best is not None:
        missing = ", ".join(n for n in needed if n not in best_found)
        problem = f"{image_io.display_name(best)} lacks the folder(s) {missing}."
    else:
        problem = f"found no HRSOD_release folder or zip (no HRSOD_train/ or HRSOD_test/ folder) in {manual_dir}."
    raise sod_builder.manual_download_error("hrsod", problem, instructions)
