"""A cache of saliency maps on disk: one 8-bit PNG per image, plus the fingerprint of what made them.

The LRN stage trains on the frozen GSN's coarse maps and the GLFN stage on the fused GSN+APS+LRN maps.
Both are computed once by the training code and read back by the tf.data pipelines
(`hrsod_tf.data.pipelines`), so no network runs inside the input pipeline.

Layout of a cache directory::

    <directory>/fingerprint.json     what produced the maps, e.g. {"checkpoint_sha256": ...,
                                     "kind": "coarse" | "fused", "preset": ...}
    <directory>/<stem>.png           the map of the image whose file name has stem <stem>, 8-bit grey
                                     (value = round(255 * p)); coarse maps are stored at the GSN resolution
                                     S x S, fused maps at the image's full resolution

A cache is valid for a fingerprint when `fingerprint.json` holds exactly that fingerprint; maps written under
another fingerprint (e.g. an older GSN checkpoint) are deleted before the first new one is written.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import pathlib
from typing import Iterable

import numpy as np
import tensorflow as tf

from hrsod_tf import image_io
from hrsod_tf.files import atomic_write, file_stem

logger = logging.getLogger(__name__)

__all__ = ["MapCache", "checkpoint_fingerprint"]

FINGERPRINT_FILE = "fingerprint.json"
MAP_SUFFIX = ".png"


def _file_stem_tf(filename: tf.Tensor) -> tf.Tensor:
    """TF twin of `file_stem` for a scalar tf.string (usable inside `Dataset.map`)."""
    base = tf.strings.regex_replace(filename, r"^.*[/\\]", "")
    return tf.strings.regex_replace(base, r"\.[^.]*$", "")


def _normalise(fingerprint: dict) -> dict:
    """The fingerprint as it reads back from JSON (tuples become lists, keys strings), so comparisons hold."""
    return json.loads(json.dumps(fingerprint, sort_keys=True, default=str))


def _sha256_of_files(paths: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(os.path.basename(path).encode("utf-8"))
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def checkpoint_fingerprint(checkpoint, kind: str, preset: str | None = None, **extra) -> dict:
    """The fingerprint of maps produced from `checkpoint`.

    Args:
        checkpoint: a weights file (``.weights.h5``, ``.keras``), a directory, or a tf.train.Checkpoint
            prefix (``ckpt-12`` for ``ckpt-12.index`` + ``ckpt-12.data-*``).
        kind: "coarse" (GSN maps at S x S) or "fused" (GSN+APS+LRN maps at full resolution).
        preset: the config preset name (different presets give different maps).
        **extra: anything else that changes the maps (e.g. ``lrn_checkpoint_sha256=...``), JSON-serialisable.
    Returns:
        ``{"checkpoint_sha256": hex, "kind": kind, "preset": preset, **extra}``; the hash is of the
        checkpoint's bytes, so re-saving identical weights keeps the cache and any change drops it. The path
        is not part of it: a work directory that is moved or copied keeps its caches.
    """
    if kind not in ("coarse", "fused"):
        raise ValueError(f"kind must be 'coarse' or 'fused', got {kind!r}")
    path = os.fspath(checkpoint)
    if os.path.isfile(path):
        files = [path]
    elif os.path.isdir(path):
        files = [p for p in glob.glob(os.path.join(path, "**", "*"), recursive=True) if os.path.isfile(p)]
    else:
        files = [p for p in glob.glob(glob.escape(path) + ".*") if os.path.isfile(p)]
    if not files:
        raise FileNotFoundError(f"checkpoint {path!r} not found (no file, directory or checkpoint prefix)")
    return {"checkpoint_sha256": _sha256_of_files(files),
            "kind": kind, "preset": preset, **extra}


class MapCache:
    """Saliency maps on disk, one 8-bit PNG per image stem, valid for one fingerprint.

    Args:
        directory: where the maps and ``fingerprint.json`` live (created on the first write).
        fingerprint: what produces the maps (see `checkpoint_fingerprint`); JSON-serialisable.
    """

    def __init__(self, directory, fingerprint: dict):
        self.directory = pathlib.Path(directory)
        self.fingerprint = _normalise(fingerprint)

    # -- state ---------------------------------------------------------------------------------------

    @property
    def fingerprint_path(self) -> pathlib.Path:
        return self.directory / FINGERPRINT_FILE

    def stored_fingerprint(self) -> dict | None:
        """The fingerprint in ``fingerprint.json``, or None if there is none (or it is unreadable)."""
        try:
            return json.loads(self.fingerprint_path.read_text())
        except (OSError, ValueError):
            return None

    def fingerprint_matches(self) -> bool:
        return self.stored_fingerprint() == self.fingerprint

    def path_for(self, filename) -> pathlib.Path:
        """Where the map of the image `filename` (any path; only its stem counts) is stored."""
        return self.directory / (file_stem(filename) + MAP_SUFFIX)

    def missing(self, names: Iterable) -> list:
        """The names (image file names or stems) whose map is absent; all of them if the fingerprint differs."""
        names = list(names)
        if not self.fingerprint_matches():
            return names
        return [name for name in names if not self.path_for(name).is_file()]

    def is_valid(self, names: Iterable | None = None) -> bool:
        """True if the fingerprint matches and (when `names` is given) every one of them has its map."""
        if names is None:
            return self.fingerprint_matches()
        return not self.missing(names)

    # -- changes ---------------------------------------------------------------------------------------

    def invalidate(self) -> None:
        """Deletes every map and the fingerprint file (the directory itself stays)."""
        if not self.directory.is_dir():
            return
        for path in self.directory.glob("*" + MAP_SUFFIX):
            path.unlink(missing_ok=True)
        self.fingerprint_path.unlink(missing_ok=True)

    def reset(self, fingerprint: dict | None = None) -> None:
        """Empties the cache and claims it for `fingerprint` (default: this cache's own)."""
        if fingerprint is not None:
            self.fingerprint = _normalise(fingerprint)
        self.invalidate()
        self.directory.mkdir(parents=True, exist_ok=True)
        atomic_write(self.fingerprint_path, json.dumps(self.fingerprint, indent=2, sort_keys=True) + "\n")

    def _claim(self) -> None:
        """Makes sure the maps on disk belong to this fingerprint before one is added."""
        if self.fingerprint_matches():
            return
        stored = self.stored_fingerprint()
        if stored is not None:
            logger.warning("map cache %s was made by %s; it is emptied for %s", self.directory, stored,
                           self.fingerprint)
        self.reset()

    def write(self, filename, saliency) -> pathlib.Path:
        """Stores the map of image `filename` (atomically, as `image_io.write_png` writes).

        Args:
            filename: the image's file name (only its stem is used).
            saliency: float map in [0, 1], [h, w] or [h, w, 1] (values outside are clipped).
        Returns:
            The PNG's path.
        """
        self._claim()
        return image_io.write_png(self.path_for(filename), image_io.saliency_to_uint8(saliency))

    # -- reading ---------------------------------------------------------------------------------------

    def read(self, filename) -> np.ndarray:
        """The stored map of image `filename`: float32 [h, w, 1] in [0, 1] (numpy, for tools and tests)."""
        path = self.path_for(filename)
        if not path.is_file():
            raise FileNotFoundError(f"no cached map for {filename!r} in {self.directory}")
        return (image_io.read_map(path).astype(np.float32) / 255.0)[..., None]

    def read_tf(self, filename: tf.Tensor) -> tf.Tensor:
        """TF twin of `read` for a scalar tf.string file name (usable inside `Dataset.map`).

        Returns:
            float32 [h, w, 1] in [0, 1]; a missing map raises NotFoundError when the element is produced.
        """
        path = tf.strings.join([str(self.directory) + os.sep, _file_stem_tf(filename), MAP_SUFFIX])
        pixels = tf.io.decode_png(tf.io.read_file(path), channels=1, dtype=tf.uint8)
        return tf.cast(pixels, tf.float32) / 255.0


