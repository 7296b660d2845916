"""Files: the one way the project writes one (never half-written), and a file's name without its extension.

Every file the project writes on a local disk — masks, maps, caches, weights, checkpoints' exports, configs,
reports, videos, exported models — goes through `atomic_output` (or `atomic_write` for bytes or text): it is
written under a hidden temporary name beside its destination and renamed into place only once complete, so a
reader, a crash, a kill or a full disk never leaves a half-written file, and what was there before stays
usable until the new one replaces it. (Beam's outputs, which may be in a bucket, use Beam's own
filesystems in the same way: `hrsod_tf.deploy.batch_prediction`.)
"""

from __future__ import annotations

import contextlib
import errno
import os
import pathlib
import secrets
import shutil
from collections.abc import Iterator

__all__ = ["WriteError", "atomic_output", "atomic_write", "file_stem"]


class WriteError(OSError):
    """A file could not be written (a full disk, no permission, ...); the message says which, why, and that
    what was there before is unchanged."""

    def __str__(self):  # the message alone, without OSError's "[Errno 28] " prefix
        return self.strerror or super().__str__()


def _temporary_beside(path: pathlib.Path) -> pathlib.Path:
    # The destination's whole name is kept at the end: writers that choose a format by the suffix
    # (Keras' ".weights.h5", video containers) write the right one.
    return path.with_name(f".tmp-{os.getpid()}-{secrets.token_hex(4)}-{path.name}")


def _remove(path: pathlib.Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _replace(temporary: pathlib.Path, path: pathlib.Path) -> None:
    """Renames `temporary` over `path`; a folder replaces a folder (the old one is deleted after)."""
    if not (temporary.is_dir() and path.is_dir()):
        os.replace(temporary, path)
        return
    old = _temporary_beside(path)
    os.replace(path, old)
    try:
        os.replace(temporary, path)
    except OSError:
        os.replace(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_output(path, *, directory: bool = False, overwrite: bool = True) -> Iterator[pathlib.Path]:
    """A temporary path beside `path` to write, renamed over `path` when the block ends without an error.

    Args:
        path: the destination (its parent folders are created).
        directory: the output is a folder: the temporary one is created (empty, with the umask's permissions)
            before the block.
        overwrite: when False, an existing `path` raises FileExistsError at the end and is left as it is.
    Yields:
        The temporary path (`pathlib.Path`), for any writer: ``model.save_weights(str(tmp))``, ``open(tmp)``.
    Raises:
        WriteError: writing failed with an OSError (a full disk, say): the temporary file is deleted and the
            message names `path` and says that what was there is unchanged.

    On any error the temporary output is deleted and `path` is left as it was.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_beside(path)
    if directory:
        temporary.mkdir()
    try:
        yield temporary
        if not overwrite and path.exists():
            raise FileExistsError(errno.EEXIST, f"{path} appeared while it was being written; nothing was overwritten")
        _replace(temporary, path)
    except OSError as error:
        _remove(temporary)
        if isinstance(error, (WriteError, FileExistsError)):
            raise
        reason = error.strerror or str(error)
        raise WriteError(error.errno, f"cannot write {path}: {reason}; "
                                      f"{'the previous one is unchanged' if path.exists() else 'nothing was written'}"
                         ) from error
    except BaseException:
        _remove(temporary)
        raise


def atomic_write(path, data: bytes | str) -> pathlib.Path:
    """Writes `data` (bytes, or text as UTF-8) to `path` through `atomic_output`; returns `path` as a Path."""
    with atomic_output(path) as temporary:
        temporary.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return pathlib.Path(path)


def file_stem(path) -> str:
    """'dir/a.b.jpg' -> 'a.b': a file's name without its last extension.

    Takes a `str`, `bytes` (as tf.data gives file names), an `os.PathLike`, or any path object with a ``name``
    (`zipfile.Path` members, `etils.epath.Path`); either slash separates folders.
    """
    if isinstance(path, bytes):
        path = path.decode("utf-8")
    name = path if isinstance(path, str) else getattr(path, "name", None) or os.fspath(path)
    name = name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return os.path.splitext(name)[0]
