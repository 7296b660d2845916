"""What the TFDS builders of this folder share: their features, the manual-download errors, and the examples
generated from pairs of image and mask files (read, converted and rejected by `hrsod_tf.data.readers`).
"""

from __future__ import annotations

import textwrap

import numpy as np
import tensorflow_datasets as tfds

from hrsod_tf.data import readers
from hrsod_tf.image_io import DataError

__all__ = [
    "HOMEPAGE",
    "ManualDownloadError",
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
