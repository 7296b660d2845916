"""Data sources: where the training pipelines and `evaluate.py` get (image, mask) examples from.

Every source yields examples with one contract (`EXAMPLE_SIGNATURE`)::

    {"image": uint8 HxWx3 RGB, "mask": uint8 HxWx1 in {0, 255}, "image/filename": str}

at the images' own (variable) sizes. A source is named by one string, the value of ``--dataset``:

=====================================================  =========================================================
spec                                                    source
=====================================================  =========================================================
``hrsod``, ``davis_s``, ``duts``, ``hku_is``, ``thur``,  a TFDS data set built with ``tfds build`` (see
``uhrsd``, ``dis5k``, ``hrsod_synthetic[/tiny]``        ``datasets/README.md``), read from ``data_dir``
``tfds:NAME[/CONFIG][:VERSION]``
``folders:IMAGES_DIR,MASKS_DIR``                        one pair of folders, paired by file stem: the split
                                                        ``all``; asking for any other split (``train``, ``test``)
                                                        serves ``all`` too, with a warning saying so
``folders:IMAGES_DIR,MASKS_DIR;holdout=0.1``            the same, split into ``train`` and a deterministic
                                                        ``test`` fraction (by a hash of each file stem)
``folders:train=IMG_DIR,MASK_DIR;test=IMG_DIR,MASK_DIR``  named splits, one pair of folders each (any names)
``folders:ROOT``                                        one folder holding an image folder and a mask folder,
                                                        whatever their names (``Imgs``/``Mask``, ...)
``synthetic`` / ``synthetic:NAME``                      the built-in synthetic set, generated in memory (no
                                                        TFDS build), sized by ``data_config``, or the named set
                                                        (``lowres``, ``photo_small``, ...: `synthetic_sets`) or
                                                        the preset's own set (``synthetic:tiny``)
``SPEC+SPEC[+...]``, e.g. ``duts+hrsod``                 the union of the training splits of several sources
                                                        (`UnionSource`): the paper's "DH" is ``duts+hrsod``
=====================================================  =========================================================

Commas separate the image folder from the mask folder, semicolons separate splits and ``+`` separates the
sources of a union, so folder names must not contain those three characters. Bad examples (no mask, unreadable,
mask of another size) are skipped, each logged by file name, and a summary with counts is logged at the end of
every pass.
"""

from __future__ import annotations

import abc
import contextlib
import functools
import importlib
import io
import logging
import os
import re
import sys
from typing import Any, Iterator

import tensorflow as tf

from hrsod_tf import config as config_lib
from hrsod_tf.data import readers, synthetic_sets, validation
from hrsod_tf.extras import import_optional
from hrsod_tf.image_io import DataError

logger = logging.getLogger(__name__)

EXAMPLE_SIGNATURE = {
    "image": tf.TensorSpec((None, None, 3), tf.uint8),
    "mask": tf.TensorSpec((None, None, 1), tf.uint8),
    "image/filename": tf.TensorSpec((), tf.string),
}
MANUAL_TFDS_NAMES = ("hrsod", "davis_s", "duts", "hku_is", "thur", "uhrsd", "dis5k")
TFDS_NAMES = (*MANUAL_TFDS_NAMES, "hrsod_synthetic")
# The TFDS builders: `<repo>/datasets/<name>/<name>_dataset_builder.py` (TFDS's folder layout), installed with
# the project as the package `hrsod_tf_datasets` (pyproject.toml).
BUILDERS_PACKAGE = "hrsod_tf_datasets"


class DataSource(abc.ABC):
    """Examples of a data set, by split (see the module docstring for the example contract).

    Attributes:
        name: the ``--dataset`` spec it was made from.
        metric_set: the metrics `hrsod evaluate` reports on it by default (a set of
            `hrsod_tf.evaluation.metrics.METRIC_SETS`): its TFDS builder's ``METRIC_SET``, else ``sod``.
    """

    name: str
    metric_set: str = "sod"

    @property
    @abc.abstractmethod
    def splits(self) -> tuple[str, ...]:
        """The split names this source has."""

    @abc.abstractmethod
    def num_examples(self, split: str) -> int:
        """Number of examples of `split` (for folders: pairs found, before unreadable files are skipped)."""

    @abc.abstractmethod
    def as_tf_dataset(self, split: str) -> tf.data.Dataset:
        """A `tf.data.Dataset` of example dicts (decoded, variable size, uint8), in a fixed order."""

    def examples(self, split: str) -> Iterator[dict]:
        """The examples of `split` as numpy dicts (``image/filename`` as `str`)."""
        for ex in self.as_tf_dataset(split).as_numpy_iterator():
            yield {**ex, "image/filename": ex["image/filename"].decode("utf-8")}

    def _check_split(self, split: str) -> str:
        if split not in self.splits:
            raise ValueError(f"data set {self.name!r} has no split {split!r}; its splits: {', '.join(self.splits)}")
        return split


class _GeneratorSource(DataSource):
    """A source whose examples come from a Python generator of numpy example dicts."""

    @abc.abstractmethod
    def _generate(self, split: str) -> Iterator[dict]:
        """Yields numpy example dicts of `split`."""

    def examples(self, split: str) -> Iterator[dict]:
        return self._generate(self._check_split(split))

    def as_tf_dataset(self, split: str) -> tf.data.Dataset:
        split = self._check_split(split)
        return tf.data.Dataset.from_generator(lambda: self._generate(split), output_signature=EXAMPLE_SIGNATURE)


class FolderSource(_GeneratorSource):
    """Image and mask folders paired by file stem; one (image_dir, mask_dir) per split, or a held-out fraction."""

    def __init__(self, split_dirs: dict[str, tuple[Any, Any]], holdout: float | None = None, name: str = "folders"):
        self.name = name
        self._pairings: dict[str, readers.PairingReport] = {}
        for split, (image_dir, mask_dir) in split_dirs.items():
            self._pairings[split] = readers.pair_by_stem(image_dir, mask_dir)
        if holdout is not None:
            if set(self._pairings) != {"all"} or not 0.0 < holdout < 1.0:
                raise ValueError(f"holdout={holdout}: needs one pair of folders and a fraction between 0 and 1")
            self._pairings = _split_holdout(self._pairings["all"], holdout)
        self._warned: set[str] = set()

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self._pairings)

    def _check_split(self, split: str) -> str:
        if split not in self._pairings and tuple(self._pairings) == ("all",):
            if split not in self._warned:
                self._warned.add(split)
                logger.warning(
                    "%s: no separate %r split was given, so all %d pairs are used as %r "
                    "(use ';holdout=0.1' or 'train=...;test=...' to keep test images out of training)",
                    self.name, split, len(self._pairings["all"].pairs), split)
            return "all"
        return super()._check_split(split)

    def num_examples(self, split: str) -> int:
        return len(self._pairings[self._check_split(split)].pairs)

    def filenames(self, split: str) -> list[str]:
        """The ``image/filename`` of every pair of `split`, without reading the files."""
        return [image_path.name for _, image_path, _ in self._pairings[self._check_split(split)].pairs]

    def _generate(self, split: str) -> Iterator[dict]:
        for _, example in readers.iter_examples(self._pairings[split], f"{self.name}/{split}"):
            yield example


def _split_holdout(pairing: readers.PairingReport, fraction: float) -> dict[str, readers.PairingReport]:
    test_stems = readers.holdout_split([stem for stem, _, _ in pairing.pairs], fraction)
    train = readers.PairingReport([p for p in pairing.pairs if p[0] not in test_stems],
                                  pairing.images_without_mask, pairing.masks_without_image, pairing.duplicates)
    test = readers.PairingReport([p for p in pairing.pairs if p[0] in test_stems])
    return {"train": train, "test": test}


class SyntheticSource(_GeneratorSource):
    """The built-in synthetic set, generated in memory (deterministic per split and index).

    Args:
        data_config: its `DataConfig` (default: the paper preset's high-resolution set).
        name: the ``--dataset`` spec it was named by (``synthetic:photo_lowres``); default: ``synthetic``, or
            ``synthetic/photo`` for photo scenes.
    """

    def __init__(self, data_config=None, name: str | None = None):
        self.data_config = data_config or config_lib.DataConfig()
        # the name keys the map caches: photo scenes share file names with classic ones, not their pixels
        style = self.data_config.synthetic_scene_style
        self.name = name or ("synthetic" if style == "classic" else f"synthetic/{style}")

    @property
    def splits(self) -> tuple[str, ...]:
        return synthetic_sets.SPLITS

    def num_examples(self, split: str) -> int:
        return synthetic_sets.split_size(self.data_config, self._check_split(split))

    def _generate(self, split: str) -> Iterator[dict]:
        for name, image, mask in synthetic_sets.scenes(self.data_config, split):
            yield {"image": image, "mask": mask[..., None], "image/filename": f"{name}.png"}


# What TFDS says around preparing a data set, written for a download none of these builders makes (they read the
# manual files or generate scenes): "Downloading and preparing dataset Unknown size (download: Unknown size, ...)",
# "... downloaded and prepared to ...", and for a set not built yet "Variant folder ... has no dataset_info.json".
_TFDS_DOWNLOAD_NOTICE = re.compile(r"^(Downloading and preparing dataset |Dataset \S+ downloaded and prepared to )")
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")  # termcolor's bold, around TFDS's notices


@contextlib.contextmanager
def _without_tfds_download_notices():
    """Runs the block without TFDS's download notices and absl warnings (see `_TFDS_DOWNLOAD_NOTICE`); anything
    else the block prints is printed after it, and errors are raised as they are."""
    absl_logger = logging.getLogger("absl")
    level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            yield
    finally:
        absl_logger.setLevel(level)
        kept = [line for line in printed.getvalue().splitlines(keepends=True)
                if not _TFDS_DOWNLOAD_NOTICE.search(_ANSI_ESCAPE.sub("", line))]
        sys.stdout.write("".join(kept))


class TFDSSource(DataSource):
    """A data set prepared by TFDS (``tfds build``), read from `data_dir` (the train extra: folders and the
    in-memory synthetic set need no TFDS)."""

    def __init__(self, name: str, data_dir: str | None = None):
        self.name = name
        self._tfds = import_optional("tensorflow_datasets", f"to read the TFDS data set {name!r}")
        base = name.split("/")[0].split(":")[0]
        if base in TFDS_NAMES:
            register_builders()
        self._builder = self._tfds.builder(name, data_dir=data_dir)
        self.metric_set = getattr(self._builder, "METRIC_SET", "sod")
        # Builders whose splits have their own names say which ones train and validate (DIS5K: DIS-TR, DIS-VD).
        self._aliases = dict(getattr(self._builder, "SPLIT_ALIASES", {}))
        with _without_tfds_download_notices():
            prepared = self._builder.is_prepared()
        if not prepared:
            if base in MANUAL_TFDS_NAMES:
                raise DataError(
                    f"TFDS data set {name!r} is not built in {self._builder.data_dir}. Build it first "
                    f"(see datasets/README.md):\n  cd datasets && tfds build {base} --manual_dir DOWNLOADS "
                    f"--data_dir {data_dir or '~/tensorflow_datasets'}\n"
                    "or pass the folders directly: --dataset folders:IMAGES_DIR,MASKS_DIR")
            logger.info("preparing TFDS data set %s in %s", name, self._builder.data_dir)
            if not sys.stderr.isatty():  # TFDS's own bars, redrawn per example, would fill a log file
                self._tfds.disable_progress_bar()
            with _without_tfds_download_notices():
                self._builder.download_and_prepare()
            logger.info("TFDS data set %s prepared", name)

    @property
    def splits(self) -> tuple[str, ...]:
        """The builder's splits, then the aliases it declares (``train`` and ``validation`` for DIS5K)."""
        return tuple(self._builder.info.splits) + tuple(self._aliases)

    def _check_split(self, split: str) -> str:
        return self._aliases.get(super()._check_split(split), split)

    def num_examples(self, split: str) -> int:
        return self._builder.info.splits[self._check_split(split)].num_examples

    def filenames(self, split: str) -> list[str]:
        """The ``image/filename`` of every example of `split`, without decoding the images."""
        skip = {"image": self._tfds.decode.SkipDecoding(), "mask": self._tfds.decode.SkipDecoding()}
        ds = self._builder.as_dataset(split=self._check_split(split), shuffle_files=False, decoders=skip)
        return [name.decode("utf-8") for name in ds.map(lambda ex: ex["image/filename"]).as_numpy_iterator()]

    def as_tf_dataset(self, split: str) -> tf.data.Dataset:
        ds = self._builder.as_dataset(split=self._check_split(split), shuffle_files=False)
        keys = tuple(EXAMPLE_SIGNATURE)
        return ds.map(lambda ex: {k: ex[k] for k in keys}, num_parallel_calls=tf.data.AUTOTUNE,
                      deterministic=True)


class UnionSource(DataSource):
    """The union of several sources' training data (``--dataset duts+hrsod``), for training.

    Validation is held out of each source as for one source (`hrsod_tf.data.validation.plan_validation`: its own
    validation split, else a holdout of its training split); the union's ``validation`` split is those images,
    its ``train`` split all the other training images of every source. No source is over- or under-sampled
    (the paper does not say how it mixed DUTS-TR and HRSOD-TR): every image is seen once per pass, and the sources
    are interleaved in proportion to their sizes, as a shuffle of the whole concatenation would order them (the
    pipelines' shuffle buffers hold a few hundred images, fewer than a source). File names get the source's tag in
    front (``duts__0001.jpg``), so two sources' files of the same name stay apart (map caches, holdouts).

    Attributes:
        parts: (tag, source, validation plan or None) per source, in the order given.
    """

    ORDER_SEED = 2019  # fixed: the interleaving is part of the data, not of the run's --seed

    def __init__(self, sources: list[DataSource], name: str):
        self.name = name
        tags = [source_tag(source.name) for source in sources]
        tags = [tag if tags.count(tag) == 1 else f"{tag}{i + 1}" for i, tag in enumerate(tags)]
        self.parts = [(tag, source, validation.plan_validation(source)) for tag, source in zip(tags, sources)]
        self.validation_how = "held out of each source: " + "; ".join(
            f"{tag}: {plan.how if plan else 'none (too few images)'}" for tag, _, plan in self.parts)

    @property
    def splits(self) -> tuple[str, ...]:
        has_validation = any(plan is not None for _, _, plan in self.parts)
        return ("train", "validation") if has_validation else ("train",)

    def counts(self) -> list[dict]:
        """Per source: {"source", "tag", "train", "validation"}: how many images it gives each split."""
        return [{"source": source.name, "tag": tag, "train": validation.num_training_examples(source, plan),
                 "validation": 0 if plan is None else len(plan.filenames)} for tag, source, plan in self.parts]

    def num_examples(self, split: str) -> int:
        return sum(entry[self._check_split(split)] for entry in self.counts())

    def filenames(self, split: str) -> list[str]:
        """The ``image/filename`` of every example of `split` (tagged), in source order."""
        split = self._check_split(split)
        names = []
        for tag, source, plan in self.parts:
            if split == "train":
                held = set(plan.filenames) if plan is not None and plan.held_out_of_train else set()
                part = [n for n in validation.source_filenames(source, "train") if n not in held]
            else:
                part = list(plan.filenames) if plan is not None else []
            names += [f"{tag}__{name}" for name in part]
        return names

    def as_tf_dataset(self, split: str) -> tf.data.Dataset:
        split = self._check_split(split)
        datasets, weights = [], []
        for (tag, source, plan), entry in zip(self.parts, self.counts()):
            if split == "train":
                examples = validation.training_examples(source, plan)
            elif plan is not None:
                examples = validation.validation_examples(source, plan)
            else:
                continue
            prefix = tf.constant(f"{tag}__")
            datasets.append(examples.map(
                lambda ex, prefix=prefix: {**ex, "image/filename": tf.strings.join([prefix, ex["image/filename"]])}))
            weights.append(float(max(entry[split], 1)))
        if split == "validation" or len(datasets) == 1:
            return functools.reduce(tf.data.Dataset.concatenate, datasets)
        return tf.data.Dataset.sample_from_datasets(
            datasets, weights=[w / sum(weights) for w in weights], seed=self.ORDER_SEED,
            stop_on_empty_dataset=False)


def source_tag(name: str) -> str:
    """A short name of the source `name` (a ``--dataset`` spec) for file names and folders: the TFDS name
    (``hrsod``), or the kind of source (``folders``, ``synthetic``)."""
    kind, sep, body = name.partition(":")
    base = kind if sep and kind in ("folders", "synthetic") else (body if kind == "tfds" else name)
    return re.sub(r"[^A-Za-z0-9_]+", "_", base.split("/")[0].split(":")[0]) or "source"


def register_builders() -> None:
    """Imports the TFDS builders of `datasets/` so that `tfds.builder("hrsod")` etc. find them.

    Raises:
        DataError: the builders are not installed (the project was not installed with ``pip install -e .``).
    """
    for name in TFDS_NAMES:
        try:
            importlib.import_module(f"{BUILDERS_PACKAGE}.{name}.{name}_dataset_builder")
        except ModuleNotFoundError as e:
            if e.name not in (BUILDERS_PACKAGE, f"{BUILDERS_PACKAGE}.{name}"):
                raise
            raise DataError(
                f"the TFDS builders of datasets/ ({BUILDERS_PACKAGE}) are not installed: install the project with "
                "`pip install -r requirements.txt` (or `pip install -e .`) in its folder") from None


def _parse_dir_pair(text: str, spec: str) -> tuple[str, str]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"in --dataset {spec!r}: expected IMAGES_DIR,MASKS_DIR, got {text!r}")
    return parts[0], parts[1]


def _folder_source(body: str, spec: str) -> FolderSource:
    split_dirs, holdout = {}, None
    for part in filter(None, (p.strip() for p in body.split(";"))):
        key, sep, value = part.partition("=")
        if sep and key.strip() == "holdout":
            holdout = float(value)
        elif sep and "," not in key:
            split_dirs[key.strip()] = _parse_dir_pair(value, spec)
        elif "," in part:
            split_dirs["all"] = _parse_dir_pair(part, spec)
        else:
            split_dirs["all"] = readers.find_image_and_mask_dirs(os.path.expanduser(part))
    if not split_dirs:
        raise ValueError(f"--dataset {spec!r} names no folders; expected folders:IMAGES_DIR,MASKS_DIR")
    split_dirs = {k: tuple(os.path.expanduser(os.fspath(d)) if isinstance(d, str) else d for d in v)
                  for k, v in split_dirs.items()}
    return FolderSource(split_dirs, holdout=holdout, name=spec)


def resolve_data_source(spec: str, data_dir: str | None = None, data_config=None) -> DataSource:
    """Returns the data source named by `spec` (see the module docstring for the syntax).

    Args:
        spec: the value of ``--dataset``.
        data_dir: TFDS data directory (None: TFDS's default, ``~/tensorflow_datasets``).
        data_config: a `hrsod_tf.config.DataConfig` sizing the in-memory synthetic set.
    """
    if "+" in spec:
        parts = [part.strip() for part in spec.split("+")]
        if len(parts) < 2 or not all(parts):
            raise ValueError(f"--dataset {spec!r}: expected SPEC+SPEC (e.g. duts+hrsod), with no empty part")
        return UnionSource([resolve_data_source(part, data_dir, data_config) for part in parts], name=spec)
    kind, sep, body = spec.partition(":")
    if sep and kind == "folders":
        return _folder_source(body, spec)
    if kind == "synthetic":
        if body:  # a named set (`hrsod_tf.data.synthetic_sets`: lowres, photo_small, ...) or a preset's
            return SyntheticSource(synthetic_sets.data_config(body), name=spec)
        return SyntheticSource(data_config)
    if sep and kind == "tfds":
        return TFDSSource(body, data_dir)
    if spec.split("/")[0].split(":")[0] in TFDS_NAMES:
        return TFDSSource(spec, data_dir)
    raise ValueError(
        f"unknown --dataset {spec!r}: expected one of {', '.join(TFDS_NAMES)}, tfds:NAME, "
        "folders:IMAGES_DIR,MASKS_DIR (optionally ;holdout=FRACTION), folders:train=IMG,MASK;test=IMG,MASK, "
        "folders:ROOT, synthetic or synthetic:NAME (a synthetic set or a preset), or several joined by + (duts+hrsod)")
