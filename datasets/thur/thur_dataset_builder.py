"""THUR15K (Cheng et al., The Visual Computer 2014): about 15,000 web images of five classes (Butterfly,
CoffeeMug, DogJump, Giraffe, Plane), 6,232 of them with a salient-object mask. Only those are kept, as one `test`
split: the HRSOD paper (Section 5.1.1, Table 1) tests on the 6,232 and trains on DUTS-TR only.

Layout: `THUR15000.zip` from https://mmcheng.net/gsal/ holds `THUR15000/<class>/Src/<id>.jpg` with each mask
beside its image as `<id>.png`, the layout of Cheng's releases (his MSRA10K, as visionml/pytracking reads it in
ltr/dataset/msra10k.py: `Imgs/<name>.jpg` beside `Imgs/<name>.png`). Public scripts read THUR15K so:
`glob("../THUR15000/" + d + "/Src/*.jpg")` for the images and `.../Src/*.png` for the labels (a data-preparation
script found by this project's code search; its repository was not named by the search).
"""

from __future__ import annotations

import logging

import tensorflow_datasets as tfds

from hrsod_tf.data import readers
from hrsod_tf.image_io import display_name
from hrsod_tf_datasets import sod_builder

logger = logging.getLogger(__name__)


class Builder(sod_builder.ManualSODBuilder):
    """DatasetBuilder for THUR15K (manual download; `test` split: the 6,232 images that have masks)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: test (the 6,232 images with masks; unlabelled images left out)."}
    HOMEPAGE = "https://mmcheng.net/gsal/"
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
    THUR15K cannot be downloaded automatically. Get `THUR15000.zip` from https://mmcheng.net/gsal/ and put the
    zip (read in place) OR the extracted `THUR15000/` folder into the manual folder,
    `<data_dir>/downloads/manual/` by default, or the folder given with `--manual_dir`:

        <manual_dir>/THUR15000/Butterfly/Src/*.jpg   images; the 6,232 labelled ones have a mask beside them,
        <manual_dir>/THUR15000/Butterfly/Src/*.png   same file stem (e.g. 1234.jpg and 1234.png)
        ... the same for CoffeeMug, DogJump, Giraffe and Plane

    then run:  cd datasets && tfds build thur --manual_dir <manual_dir>
    """

    def find_pairings(self, root) -> dict[str, readers.PairingReport]:
        """{"test": pairs of every `<class>/Src` folder}, keyed `<class>/<stem>`; images without a mask (THUR15K
        labels only some) are counted in the log, not reported one by one."""
        src_folders = _src_folders(root)
        if not src_folders:
            raise sod_builder.manual_download_error(
                "thur", f"found no THUR15000/<class>/Src/ folder in {root} or in a zip in it.",
                self.MANUAL_DOWNLOAD_INSTRUCTIONS)
        merged, unlabelled = readers.PairingReport(), 0
        for folder in src_folders:
            label = folder.parent.name.rstrip("/")
            pairing = readers.pair_side_by_side(folder)
            merged.pairs += [(f"{label}/{stem}", image, mask) for stem, image, mask in pairing.pairs]
            merged.masks_without_image += pairing.masks_without_image
            merged.duplicates += pairing.duplicates
            unlabelled += len(pairing.images_without_mask)
        logger.info("[thur/test] %d images with a mask in %d Src folders; %d images without one left out "
                    "(THUR15K labels only some)", len(merged.pairs), len(src_folders), unlabelled)
        return {"test": merged}


def _src_folders(root, max_depth: int = 4) -> list:
    """Every folder named `Src` under `root` (or the first zip in it that has some), sorted by path."""
    for top in readers.archive_roots(root):
        found, stack = [], [(top, 0)]
        while stack:
            folder, depth = stack.pop()
            for child in folder.iterdir():
                if not child.is_dir() or child.name.rstrip("/") == "__MACOSX":
                    continue
                if child.name.rstrip("/") == "Src":
                    found.append(child)
                elif depth < max_depth:
                    stack.append((child, depth + 1))
        if found:
            return sorted(found, key=display_name)
    return []
