"""What the TFDS builders of this folder share: their features, the manual-download errors, finding each split's
image and mask folders in a manual download (folder or zip), and the examples generated from pairs of image and
mask files (read, converted and rejected by `hrsod_tf.data.readers`, masks normalised to {0, 255} there).

A builder of a manually downloaded data set is a page: a subclass of `ManualSODBuilder` that names its splits'
folders (`SPLIT_FOLDERS`, relative to the data set's root in its official layout) and its download instructions,
or overrides `ManualSODBuilder.find_pairings` when its layout is not one folder pair per split.
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

from hrsod_tf.data import readers
from hrsod_tf.image_io import DataError, display_name

__all__ = [
    "HOMEPAGE",
    "ManualDownloadError",
    "ManualSODBuilder",
    "find_image_and_mask_dirs",
    "find_split_folders",
    "generate_sod_examples",
    "manual_dir",
    "manual_download_error",
    "sod_dataset_info",
    "sod_features",
]

HOMEPAGE = "https://github.com/yi94code/HRSOD"


def sod_features() -> tfds.features.FeaturesDict:
    """The TFDS features of the builders: the example contract of `hrsod_tf.data.sources.EXAMPLE_SIGNATURE`
    (image uint8 HxWx3, mask uint8 HxWx1 in {0, 255} stored as PNG, image/filename), as stored on disk."""
    return tfds.features.FeaturesDict({
        "image": tfds.features.Image(shape=(None, None, 3), dtype=np.uint8),
        "mask": tfds.features.Image(shape=(None, None, 1), dtype=np.uint8, encoding_format="png"),
        "image/filename": tfds.features.Text(),
    })


def sod_dataset_info(builder: tfds.core.DatasetBuilder, homepage: str = HOMEPAGE) -> tfds.core.DatasetInfo:
    """The `DatasetInfo` of the builders: `sod_features()`, supervised as (image, mask)."""
    return builder.dataset_info_from_configs(
        features=sod_features(), supervised_keys=("image", "mask"), homepage=homepage)


class ManualDownloadError(DataError):
    """The files of a manually downloaded data set are missing; the message says what and where."""


def manual_download_error(dataset: str, problem: str, instructions: str) -> ManualDownloadError:
    """The error for missing manual files: the problem, then the builder's download instructions.

    ``tfds build`` prints it as the last lines of its output, below the traceback.
    """
    return ManualDownloadError(f"{dataset}: {problem}\n\n{textwrap.dedent(instructions).strip()}\n")


def manual_dir(dl_manager, dataset: str, instructions: str):
    """`dl_manager.manual_dir`, or a `ManualDownloadError` saying which folder is missing or empty."""
    try:
        return dl_manager.manual_dir
    except AssertionError:
        where = getattr(dl_manager, "_manual_dir", None) or "<data_dir>/downloads/manual"
        raise manual_download_error(
            dataset, f"the manual download folder {where} does not exist or is empty.", instructions) from None


def generate_sod_examples(pairing: readers.PairingReport, split: str):
    """`_generate_examples` of the builders: (stem, example) for good pairs; bad ones skipped and reported.

    JPEG/PNG images that need no conversion are stored as their original bytes (no re-encoding loss);
    converted ones (grayscale, RGBA, 16-bit, EXIF-rotated, other formats) are stored as PNG.
    """
    yield from readers.iter_examples(pairing, split, keep_original_bytes=True)


def find_split_folders(manual_dir, dataset: str, split_folders: dict[str, tuple[str, str]], instructions: str,
                       max_depth: int = 3) -> dict[str, tuple[Any, Any]]:
    """{split: (image_dir, mask_dir)}: for each split, the first folder of `manual_dir`, of a zip in it, or of a
    folder up to `max_depth` levels below, that holds the split's two folders of `split_folders`.

    Splits may be found in different places (DUTS-TR.zip and DUTS-TE.zip, or their extracted folders side by side).

    Raises:
        ManualDownloadError: a split's folders are not found; the message names the folder that holds only one
            of the two, or the two folders looked for, then the builder's instructions.
    """
    found, partial = {}, {}
    for top in readers.archive_roots(manual_dir):
        stack = [(top, 0)]
        while stack and len(found) < len(split_folders):
            folder, depth = stack.pop()
            for split, names in split_folders.items():
                if split in found:
                    continue
                present = [name for name in names if (folder / name).is_dir()]
                if len(present) == len(names):
                    found[split] = tuple(folder / name for name in names)
                elif present and split not in partial:
                    partial[split] = (folder, [name for name in names if name not in present])
            if depth < max_depth:
                stack.extend((child, depth + 1) for child in folder.iterdir()
                             if child.is_dir() and child.name.rstrip("/") != "__MACOSX")
    problems = []
    for split, names in split_folders.items():
        if split in found:
            continue
        if split in partial:
            where, missing = partial[split]
            problems.append(f"{display_name(where)} lacks the folder(s) {', '.join(missing)} "
                            f"(split {split!r}).")
        else:
            problems.append(f"found no folders {' and '.join(names)} (split {split!r}) in {manual_dir} "
                            "or in a zip in it.")
    if problems:
        raise manual_download_error(dataset, "\n".join(problems), instructions)
    return found


def find_image_and_mask_dirs(manual_dir, dataset: str, instructions: str) -> tuple[Any, Any]:
    """(image_dir, mask_dir) of a one-split data set whose folder names vary between copies (DAVIS-S, HKU-IS):
    `readers.find_image_and_mask_dirs` in `manual_dir`, else in the first zip in it that has them."""
    errors = []
    for root in readers.archive_roots(manual_dir):
        try:
            return readers.find_image_and_mask_dirs(root)
        except DataError as e:
            errors.append(str(e))
    raise manual_download_error(dataset, "\n".join(errors), instructions)


class ManualSODBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A TFDS builder of a salient-object data set downloaded by hand (examples: `sod_features()`).

    Subclasses set `MANUAL_DOWNLOAD_INSTRUCTIONS`, `VERSION`, `RELEASE_NOTES`, `HOMEPAGE`, `METRIC_SET` (the
    default metrics of `hrsod evaluate` on it: ``sod``, or ``dis`` for DIS5K) and either
    `SPLIT_FOLDERS` ({split: (image folder, mask folder)}, paths relative to the data set's root in its official
    layout, found in the manual folder or a zip in it by `find_split_folders`) or `find_pairings`.
    """

    HOMEPAGE: str = HOMEPAGE
    SPLIT_FOLDERS: dict[str, tuple[str, str]] = {}
    METRIC_SET = "sod"  # what `hrsod evaluate` reports by default (`hrsod_tf.evaluation.metrics.METRIC_SETS`)
    SPLIT_ALIASES: dict[str, str] = {}  # {"train" or "validation": the split it names}, for non-standard split names

    def _info(self) -> tfds.core.DatasetInfo:
        """Returns the dataset metadata."""
        return sod_dataset_info(self, homepage=self.HOMEPAGE)

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        """One generator per split of `find_pairings` (the manual folder is checked first)."""
        root = manual_dir(dl_manager, self.name, self.MANUAL_DOWNLOAD_INSTRUCTIONS)
        return {split: self._generate_examples(pairing, split) for split, pairing in self.find_pairings(root).items()}

    def find_pairings(self, root) -> dict[str, readers.PairingReport]:
        """{split: images paired with masks by file stem} from the folders of `SPLIT_FOLDERS` under `root`."""
        folders = find_split_folders(root, self.name, self.SPLIT_FOLDERS, self.MANUAL_DOWNLOAD_INSTRUCTIONS)
        return {split: readers.pair_by_stem(*folders[split]) for split in self.SPLIT_FOLDERS}

    def _generate_examples(self, pairing: readers.PairingReport, split: str):
        """Yields (key, example); pairs with a missing, unreadable or mis-sized file are skipped and reported."""
        yield from generate_sod_examples(pairing, f"{self.name}/{split}")
