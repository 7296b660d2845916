"""Reading salient-object data sets as users have them: image files, mask files, folders, zips.

Plain numpy / PIL code (no TensorFlow, no TFDS): the TFDS builders in `datasets/` and the folder data
sources of `hrsod_tf.data.sources` both read files through this module, so a file is read, converted and
rejected the same way whichever path it takes.

Paths are those of `hrsod_tf.image_io` (local paths, `etils.epath.Path`, `zipfile.Path`), and every file is
decoded there (EXIF, palette, 16-bit and alpha rules; the one list of image extensions).

Rejections raise `DataError` naming the file and saying what to do: unreadable or truncated files, and
masks whose size differs from their image's. Callers that read many files (`iter_examples`) skip those
examples, log each by name, and log a summary with counts at the end of each split.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import logging
import pathlib
import re
import zipfile
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from hrsod_tf.files import file_stem
from hrsod_tf.image_io import (
    DataError,
    as_path,
    decode_image_for_storage,
    display_name,
    is_image_file_name,
    read_bytes,
    read_mask,
)

logger = logging.getLogger(__name__)

_IGNORED_DIR_NAMES = ("__MACOSX",)

# Folder names that say "images" or "masks" (compared lower-case, without non-letters/digits).
IMAGE_DIR_HINTS = (
    "imgs", "img", "images", "image", "jpegimages", "rgb", "input", "inputs", "photos", "im", "src",
    "hrsodtrain", "hrsodtest", "imagesjpg",
)
MASK_DIR_HINTS = (
    "mask", "masks", "gt", "gts", "annotations", "annotation", "groundtruth", "groundtruths", "labels",
    "label", "seg", "segmentation", "segmentations", "saliency", "hrsodtrainmask", "hrsodtestmask",
)


# --------------------------------------------------------------------------------------------------
# Paths


def _suffix(path: Any) -> str:
    name = path.name.rstrip("/")
    return ("." + name.rsplit(".", 1)[1]).lower() if "." in name else ""


def archive_roots(root: Any) -> list:
    """`root`, then the root of every ``.zip`` file directly in it: places where a download may be found.

    Zip members are read in place (`zipfile.Path`), without extracting the archive.
    """
    root = as_path(root)
    roots = [root]
    if root.is_dir():
        for child in sorted(root.iterdir(), key=lambda p: p.name):
            if _suffix(child) == ".zip" and not child.is_dir():
                try:
                    archive = child if isinstance(child, pathlib.Path) else child.open("rb")
                    roots.append(zipfile.Path(zipfile.ZipFile(archive)))
                except zipfile.BadZipFile as e:
                    raise DataError(f"{display_name(child)} is not a valid zip file ({e}): download it again.") from e
    return roots


def _list_files(directory: Any) -> list:
    """Image files of `directory` (not recursive; `hrsod_tf.image_io.is_image_file_name`), sorted by name."""
    directory = as_path(directory)
    return sorted((p for p in directory.iterdir() if is_image_file_name(p.name) and not p.is_dir()),
                  key=lambda p: p.name)


# --------------------------------------------------------------------------------------------------
# Image and mask pairs


def check_sizes(image: np.ndarray, mask: np.ndarray, image_name: str, mask_name: str) -> None:
    """Raises `DataError` naming both files when the mask's size differs from the image's."""
    if image.shape[:2] != mask.shape[:2]:
        (ih, iw), (mh, mw) = image.shape[:2], mask.shape[:2]
        raise DataError(
            f"mask {mask_name} is {mw}x{mh} but its image {image_name} is {iw}x{ih} (width x height): "
            "a mask must have its image's size. Replace the mask with the right one, or leave the pair out."
        )


# --------------------------------------------------------------------------------------------------
# Pairing


@dataclasses.dataclass
class PairingReport:
    """Image files paired with mask files by file stem.

    Attributes:
        pairs: (stem, image_path, mask_path), sorted by stem.
        images_without_mask: image files whose stem no mask has.
        masks_without_image: mask files whose stem no image has.
        duplicates: files left out because another file of the same folder has the same stem
            (e.g. ``a.jpg`` and ``a.png``): which one is meant cannot be known.
    """

    pairs: list = dataclasses.field(default_factory=list)
    images_without_mask: list = dataclasses.field(default_factory=list)
    masks_without_image: list = dataclasses.field(default_factory=list)
    duplicates: list = dataclasses.field(default_factory=list)

    @property
    def orphans(self) -> list[tuple[Any, str]]:
        """(path, reason) for every file left out by the pairing."""
        return (
            [(p, "image has no mask with the same file stem") for p in self.images_without_mask]
            + [(p, "mask has no image with the same file stem") for p in self.masks_without_image]
            + [(p, "another file in its folder has the same stem") for p in self.duplicates]
        )


def _by_stem(files: Iterable) -> tuple[dict, list]:
    groups = collections.defaultdict(list)
    for f in files:
        groups[file_stem(f)].append(f)
    unique = {stem: fs[0] for stem, fs in groups.items() if len(fs) == 1}
    duplicates = [f for fs in groups.values() if len(fs) > 1 for f in fs]
    return unique, duplicates


def pair_files(image_files: Iterable, mask_files: Iterable) -> PairingReport:
    """Pairs image files with mask files by stem (see `PairingReport`)."""
    images, image_dups = _by_stem(image_files)
    masks, mask_dups = _by_stem(mask_files)
    return PairingReport(
        pairs=[(stem, images[stem], masks[stem]) for stem in sorted(images.keys() & masks.keys())],
        images_without_mask=[images[s] for s in sorted(images.keys() - masks.keys())],
        masks_without_image=[masks[s] for s in sorted(masks.keys() - images.keys())],
        duplicates=image_dups + mask_dups,
    )


def pair_by_stem(image_dir: Any, mask_dir: Any) -> PairingReport:
    """Pairs the images of `image_dir` (`hrsod_tf.image_io.IMAGE_EXTENSIONS`, any case) with the masks of `mask_dir`."""
    for d, what in ((image_dir, "image"), (mask_dir, "mask")):
        if not as_path(d).is_dir():
            raise DataError(f"{what} folder {display_name(d)} does not exist or is not a folder.")
    return pair_files(_list_files(image_dir), _list_files(mask_dir))


def pair_side_by_side(folder: Any, mask_suffix: str = ".png") -> PairingReport:
    """Pairs the images and masks of one folder that holds both (the MSRA10K / THUR15K layout of Cheng et al.:
    ``Src/0001.jpg`` beside ``Src/0001.png``): files ending in `mask_suffix` are masks, the other image files
    images. Images with no mask are listed in `PairingReport.images_without_mask`."""
    files = _list_files(folder)
    masks = [f for f in files if _suffix(f) == mask_suffix]
    return pair_files([f for f in files if _suffix(f) != mask_suffix], masks)


# --------------------------------------------------------------------------------------------------
# Finding the image and mask folders of a data set whose folder names vary


@dataclasses.dataclass
class _Folder:
    path: Any
    stems: set
    extensions: collections.Counter

    @property
    def key(self) -> str:
        return re.sub(r"[^a-z0-9]", "", self.path.name.rstrip("/").lower())

    def describe(self) -> str:
        exts = ", ".join(f"{n} {e}" for e, n in self.extensions.most_common())
        return f"{display_name(self.path)} ({exts})"


def _walk_folders(root: Any, max_depth: int = 6) -> list[_Folder]:
    """Folders under `root` (root included) that hold image files."""
    found, stack = [], [(as_path(root), 0)]
    while stack:
        folder, depth = stack.pop()
        files = _list_files(folder)
        if files:
            found.append(_Folder(folder, {file_stem(f) for f in files}, collections.Counter(_suffix(f) for f in files)))
        if depth < max_depth:
            stack.extend(
                (child, depth + 1) for child in folder.iterdir()
                if child.is_dir() and not child.name.startswith(".")
                and child.name.rstrip("/") not in _IGNORED_DIR_NAMES
            )
    return sorted(found, key=lambda f: display_name(f.path))


def _orient(a: _Folder, b: _Folder) -> tuple[_Folder, _Folder] | None:
    """Decides which folder of a pair holds the images: by name hints, then by content (jpg vs png)."""
    a_img, a_mask = a.key in IMAGE_DIR_HINTS, a.key in MASK_DIR_HINTS
    b_img, b_mask = b.key in IMAGE_DIR_HINTS, b.key in MASK_DIR_HINTS
    if (a_img or b_mask) and not (a_mask or b_img):
        return a, b
    if (b_img or a_mask) and not (b_mask or a_img):
        return b, a

    def only_png(f):
        return set(f.extensions) <= {".png"}

    def has_jpg(f):
        return bool({".jpg", ".jpeg"} & set(f.extensions))

    if has_jpg(a) and only_png(b):
        return a, b
    if has_jpg(b) and only_png(a):
        return b, a
    return None


def find_image_and_mask_dirs(root: Any) -> tuple[Any, Any]:
    """Finds the image folder and the mask folder of a data set anywhere under `root`.

    Works whatever the folder names (``Imgs``/``Mask``, ``images``/``masks``, ``JPEGImages``/``Annotations``,
    ``img``/``gt``, ``RGB``/``GT``, ...): among the folders holding image files, the two sharing the most
    file stems are taken; which one holds the masks is decided by their names, else by their content (the
    folder of .jpg files holds the images, the folder of only .png files the masks).

    Raises:
        DataError: no such pair, or several equally good ones; the message lists the folders found.
    """
    folders = _walk_folders(root)
    candidates = []
    for i, a in enumerate(folders):
        for b in folders[i + 1:]:
            overlap = len(a.stems & b.stems)
            if overlap:
                candidates.append((overlap, a, b))
    listing = "\n".join(f"  {f.describe()}" for f in folders) or "  (no folder with image files)"
    if not candidates:
        raise DataError(
            f"found no image folder and mask folder with matching file names under {display_name(root)}. "
            f"Folders with image files:\n{listing}\n"
            "Put the images and their masks (same file name, e.g. 0001.jpg and 0001.png) in two folders."
        )
    candidates.sort(key=lambda c: -c[0])
    best = [c for c in candidates if c[0] == candidates[0][0]]
    oriented = [o for o in (_orient(a, b) for _, a, b in best) if o is not None]
    if len(best) > 1 or not oriented:
        pairs = "\n".join(f"  {display_name(a.path)} <-> {display_name(b.path)} ({n} shared names)" for n, a, b in best)
        raise DataError(
            f"cannot tell which folders under {display_name(root)} hold the images and the masks. Candidates:\n"
            f"{pairs}\nFolders with image files:\n{listing}\n"
            "Give the two folders explicitly (e.g. --dataset folders:IMAGES_DIR,MASKS_DIR), or name them "
            "images/ and masks/."
        )
    images, masks = oriented[0]
    return images.path, masks.path


# --------------------------------------------------------------------------------------------------
# Reading many examples, skipping and reporting bad ones


class SkipReport:
    """Counts and logs the examples of one split that are left out, by reason and by file name."""

    def __init__(self, split: str):
        self.split = split
        self.skipped: list[tuple[str, str]] = []
        self.used = 0

    def skip(self, name: str, reason: str) -> None:
        self.skipped.append((name, reason))
        logger.warning("[%s] skipped %s: %s", self.split, name, reason)

    def summary(self) -> str:
        """One line per kind of problem, with its count."""
        kinds = collections.Counter(_kind(reason) for _, reason in self.skipped)
        line = f"[{self.split}] {self.used} examples used, {len(self.skipped)} skipped"
        return line + "".join(f"\n  {n} x {kind}" for kind, n in kinds.most_common())

    def log_summary(self) -> None:
        (logger.warning if self.skipped else logger.info)("%s", self.summary())


def _kind(reason: str) -> str:
    if "has no mask" in reason:
        return "image without mask"
    if "has no image" in reason:
        return "mask without image"
    if "same stem" in reason:
        return "duplicate file stem"
    if "must have its image's size" in reason:
        return "mask size differs from image size"
    return "unreadable file"


def iter_examples(
    pairing: PairingReport, split: str, *, keep_original_bytes: bool = False, report: SkipReport | None = None,
) -> Iterator[tuple[str, dict]]:
    """Reads every pair of `pairing`; yields (stem, example) and skips bad pairs, logging each by name.

    The example is ``{"image": uint8 HxWx3, "mask": uint8 HxWx1 {0, 255}, "image/filename": str}``. With
    `keep_original_bytes`, ``"image"`` holds the file's original bytes when they decode to the same pixels
    (see `decode_image_for_storage`), which TFDS builders store without re-encoding. A summary with counts is
    logged once the split is exhausted.
    """
    report = report or SkipReport(split)
    for path, reason in pairing.orphans:
        report.skip(display_name(path), reason)
    for stem, image_path, mask_path in pairing.pairs:
        try:
            data = read_bytes(image_path)
            rgb, passthrough = decode_image_for_storage(data, display_name(image_path))
            mask = read_mask(mask_path)
            check_sizes(rgb, mask, display_name(image_path), display_name(mask_path))
        except DataError as e:
            report.skip(display_name(image_path), str(e))
            continue
        report.used += 1
        image = data if keep_original_bytes and passthrough else rgb
        yield stem, {"image": image, "mask": mask[..., None], "image/filename": image_path.name}
    report.log_summary()


def holdout_split(stems: Sequence[str], fraction: float) -> set:
    """The stems of a deterministic held-out fraction (by a hash of each stem: stable when files are added)."""
    def score(stem):
        return int.from_bytes(hashlib.md5(stem.encode("utf-8")).digest()[:8], "big") / 2.0**64

    return {s for s in stems if score(s) < fraction}
