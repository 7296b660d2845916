"""A full disk while the project writes a checkpoint, a mask or a converted model: what is left, what is said.

    python reliability/disk_full.py [--json OUT]          # bulk: a real full disk (tmpfs), needs `unshare` or root

Two ways to make writes fail:

* `file_size_limit(nbytes)` (tests, no privileges): RLIMIT_FSIZE with SIGXFSZ ignored, so every write that would
  grow a file past `nbytes` fails with EFBIG ("File too large") — in Python, TensorFlow and HDF5 alike, in this
  process only. The same failure as a full disk, but for the errno.
* `full_tmpfs(...)` (the bulk run here): the outputs on a small tmpfs filled to the last byte, so writes fail with
  ENOSPC ("No space left on device"). Mounting needs root or an unprivileged user namespace (`unshare -rm`); the
  script re-runs itself inside one and says so when neither is available.

Each scenario checks the same things: the command says what happened in one line, the previous file (mask,
checkpoint, converted work directory) is still there and usable, and no temporary file is left behind.
"""

from __future__ import annotations

import contextlib
import resource
import signal


@contextlib.contextmanager
def file_size_limit(nbytes: int):
    """Within the block, writes that would make any file of this process larger than `nbytes` fail (EFBIG)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the process
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
