"""Which images validate a training run: never the test split.

Model selection (the "best" checkpoint, validation curves) uses, for every data source:

* the source's own ``validation`` (or ``val``) split when it has one, else
* a fixed, seeded holdout of its ``train`` split: the ``VALIDATION_FRACTION`` of training images (at least
  one, and at least one left to train on) with the lowest hash of ``VALIDATION_SEED`` and their file name.
  These images are then removed from training in every stage, so the GSN, the LRN and the GLFN of a run
  all train on the same images and validate on the same others.

The test split is never read by training. The plan (where validation comes from, how many images, which
ones) is written into every stage's ``DONE.json`` and into the demo's ``results.json``.

    plan = plan_validation(source)
    training_examples(source, plan)      # tf.data examples of "train", minus the held-out images
    validation_examples(source, plan)    # tf.data examples that validate
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging

import tensorflow as tf

logger = logging.getLogger(__name__)

NAMED_VALIDATION_SPLITS = ("validation", "val")
VALIDATION_FRACTION = 0.1
VALIDATION_SEED = 2019  # fixed, not the run's --seed: every stage of every run holds out the same images


@dataclasses.dataclass(frozen=True)
class ValidationPlan:
    """Where a run's validation images come from.

    Attributes:
        split: the split the validation examples are read from ("train" for a holdout).
        filenames: the ``image/filename`` of every validation image, sorted.
        held_out_of_train: True when `filenames` are held out of the training split (and not trained on).
        how: one sentence saying how they were chosen.
    """

    split: str
    filenames: tuple[str, ...]
    held_out_of_train: bool
    how: str

    def to_dict(self) -> dict:
        return {"split": self.split, "count": len(self.filenames), "held_out_of_train": self.held_out_of_train,
                "how": self.how, "filenames": list(self.filenames)}


def _score(filename: str, seed: int) -> int:
    return int.from_bytes(hashlib.md5(f"{seed}:{filename}".encode("utf-8")).digest()[:8], "big")


def choose_holdout(filenames, fraction: float = VALIDATION_FRACTION, seed: int = VALIDATION_SEED) -> tuple[str, ...]:
    """The held-out file names: round(fraction * n) of them (at least 1, at most n - 1), lowest seeded hash.

    Returns an empty tuple when fewer than two images are given (nothing could be held out and trained on).
    """
    names = sorted(set(filenames))
    if len(names) < 2:
        return ()
    count = min(len(names) - 1, max(1, int(round(fraction * len(names)))))
    return tuple(sorted(sorted(names, key=lambda name: (_score(name, seed), name))[:count]))


def source_filenames(source, split: str) -> list[str]:
    """The ``image/filename`` of every example of `split`, using the source's cheap listing when it has one."""
    if hasattr(source, "filenames"):
        return list(source.filenames(split))
    names = source.as_tf_dataset(split).map(lambda ex: ex["image/filename"])
    return [name.decode("utf-8") for name in names.as_numpy_iterator()]


def plan_validation(
    source, fraction: float = VALIDATION_FRACTION, seed: int = VALIDATION_SEED
) -> ValidationPlan | None:
    """The validation plan of `source` (see the module docstring); None when it cannot validate at all."""
    splits = tuple(getattr(source, "splits", ()))
    named = next((s for s in NAMED_VALIDATION_SPLITS if s in splits), None)
    if named is not None:
        names = tuple(sorted(source_filenames(source, named)))
        # A union of sources says how it held out each source's (`hrsod_tf.data.sources.UnionSource`).
        how = getattr(source, "validation_how", None) or f"the data set's own {named!r} split"
        return ValidationPlan(named, names, False, f"{how} ({len(names)} images)")
    names = source_filenames(source, "train")
    held = choose_holdout(names, fraction, seed)
    if not held:
        logger.warning("%s: %d training image(s), too few to hold any out: training runs without validation "
                       "(and keeps its last weights)", getattr(source, "name", "data set"), len(names))
        return None
    how = (f"{len(held)} of the {len(set(names))} training images ({fraction:.0%}, the lowest MD5 of "
           f"'{seed}:<file name>'), held out of training in every stage")
    return ValidationPlan("train", held, True, how)


def _is_listed(filenames: tuple[str, ...]):
    listed = tf.constant(list(filenames) or [""], tf.string)

    def predicate(example):
        return tf.reduce_any(tf.equal(example["image/filename"], listed))

    return predicate


def training_examples(source, plan: ValidationPlan | None) -> tf.data.Dataset:
    """The examples of the ``train`` split that train: all of them, minus a holdout."""
    examples = source.as_tf_dataset("train")
    if plan is None or not plan.held_out_of_train:
        return examples
    listed = _is_listed(plan.filenames)
    return examples.filter(lambda ex: tf.logical_not(listed(ex)))


def validation_examples(source, plan: ValidationPlan) -> tf.data.Dataset:
    """The examples that validate (in the split's order)."""
    examples = source.as_tf_dataset(plan.split)
    return examples.filter(_is_listed(plan.filenames)) if plan.held_out_of_train else examples


def num_training_examples(source, plan: ValidationPlan | None) -> int:
    """How many examples `training_examples` gives (before unreadable files are skipped)."""
    count = source.num_examples("train")
    return count - len(plan.filenames) if plan is not None and plan.held_out_of_train else count



def training_counts(source, plan: ValidationPlan | None) -> list[dict]:
    """How many images each source gives training and validation: one entry per source of a union
    (`hrsod_tf.data.sources.UnionSource.counts`), else one, ``{"source", "train", "validation"}``."""
    if hasattr(source, "counts"):
        return source.counts()
    return [{"source": getattr(source, "name", "data set"), "train": num_training_examples(source, plan),
             "validation": 0 if plan is None else len(plan.filenames)}]
