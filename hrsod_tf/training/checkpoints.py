"""Checkpoints of a stage: the last K for resuming, the best by validation, and the final weights.

Atomicity: TensorFlow writes a checkpoint's ``.index`` / ``.data`` files first and only then rewrites the
``checkpoint`` state file (atomically, by rename), so a write killed half-way leaves the state pointing at
the previous checkpoint. If the newest checkpoint is damaged anyway (a truncated file from a full disk or a
crashed file system), `StageCheckpoints.restore` falls back to the next older one, saying so.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil

import tensorflow as tf

from hrsod_tf.files import WriteError

logger = logging.getLogger(__name__)
# The OS's reason at the end of TensorFlow's message ("...tempstate123; No space left on device [Op:SaveV2]").
_REASON = re.compile(r";\s*([^;\[\]]+?)\s*(\[Op:\w+\])?\s*$")

# Errors a damaged or partly written checkpoint raises on restore.
# (A truncated data file surfaces as DataLossError, OutOfRangeError or, from the reader, IndexError.)
RESTORE_ERRORS = (tf.errors.OpError, ValueError, AssertionError, IndexError, OSError)


class StageCheckpoints:
    """A `tf.train.Checkpoint` with two managers: ``<dir>/`` (last `keep`) and ``<dir>/best/`` (1).

    Under MultiWorkerMirroredStrategy every worker must call `save` (it may run collectives); workers
    other than the chief write to a throw-away directory that is deleted afterwards.

    Args:
        directory: the stage's checkpoint directory.
        keep: how many of the latest checkpoints to keep.
        chief: whether this worker's files are the real ones.
        worker: this worker's index (names its throw-away directory).
        **trackables: what to save, e.g. ``model=..., optimizer=..., step=...``.
    """

    def __init__(self, directory: str, keep: int, chief: bool = True, worker: int = 0, **trackables):
        self.checkpoint = tf.train.Checkpoint(**trackables)
        self.chief = chief
        self.directory = str(directory) if chief else os.path.join(str(directory), f".worker{worker}_tmp")
        self.latest = tf.train.CheckpointManager(self.checkpoint, self.directory, max_to_keep=keep)
        self.best = tf.train.CheckpointManager(
            self.checkpoint, os.path.join(self.directory, "best"), max_to_keep=1)

    def save(self, step: int, best: bool = False) -> str:
        """Writes a checkpoint numbered `step` (and a copy in ``best/`` when `best`); returns its prefix.

        Raises:
            WriteError: the checkpoint could not be written (a full disk): its partial files are deleted, the
                previous checkpoint stays the one `restore` loads, and the message says so in one line.
        """
        for manager in (self.latest, self.best) if best else (self.latest,):
            try:
                path = manager.save(checkpoint_number=step)
            except (tf.errors.OpError, OSError) as error:
                raise self._write_failed(manager, step, error) from None
            if manager is self.latest:
                latest = path
        self._discard_if_not_chief()
        return latest

    def _write_failed(self, manager, step: int, error) -> WriteError:
        prefix = os.path.join(manager.directory, f"ckpt-{step}")
        shutil.rmtree(f"{prefix}_temp", ignore_errors=True)  # TensorFlow's half-written shards
        reason = _REASON.search(str(error))
        reason = reason.group(1) if reason else str(error).strip().splitlines()[0]
        resumable = self.latest.latest_checkpoint  # what --resume restores
        kept = (f"--resume continues from {resumable}, which is intact" if resumable
                else "no earlier checkpoint exists")
        code = errno.ENOSPC if "No space" in reason else getattr(error, "errno", None) or errno.EIO
        return WriteError(code, f"cannot write checkpoint {prefix}: {reason}; {kept}: free some space, then "
                                "continue with --resume")

    def _discard_if_not_chief(self):
        if not self.chief:
            shutil.rmtree(self.directory, ignore_errors=True)

    def restore(self, best: bool = False) -> str | None:
        """Restores the newest loadable checkpoint (of ``best/`` if `best`); returns its prefix or None.

        Damaged checkpoints are skipped with a warning, newest first.
        """
        manager = self.best if best else self.latest
        for path in reversed(manager.checkpoints):
            try:
                # Eager restore assigns every existing variable now: a damaged file fails here.
                self.checkpoint.restore(path).assert_existing_objects_matched()
                return path
            except RESTORE_ERRORS as error:
                logger.warning("checkpoint %s cannot be loaded (%s: %s); trying an older one",
                               path, type(error).__name__, str(error).splitlines()[0][:200])
        return None

