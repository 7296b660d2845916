"""What a command does before TensorFlow's first import: no C++ info and warnings, and on a machine without an
NVIDIA device, none of the lines TensorFlow's CUDA build prints while it looks for one.

TF_CPP_MIN_LOG_LEVEL=2 hides TensorFlow's info and warnings once its logging is set up, but not the lines printed
before that (oneDNN's note, "Could not find cuda drivers") nor the error "failed call to cuInit: ... (303)" that
the CUDA build logs on every CPU-only machine (tensorflow/tensorflow#37689). `import_tensorflow` drops exactly
those lines, and only where no NVIDIA device exists: every other line, errors included, is printed as it was,
and a machine with a GPU sees TensorFlow's output unchanged. ``-v`` / ``--verbose`` keeps everything.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from pathlib import Path

__all__ = ["NOISE", "has_nvidia_device", "import_tensorflow", "quiet_tensorflow"]

#: lines a CPU-only machine prints while TensorFlow starts, none of which says anything wrong.
NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|^I0000 .*(oneDNN custom operations are on|cudart_stub\.cc:\d+\] Could not find cuda drivers)"
    r"|^E0000 .*failed call to cuInit: .*UNKNOWN ERROR \(303\)")


def _verbose(argv: list[str]) -> bool:
    return bool({"-v", "--verbose"} & set(argv))


def quiet_tensorflow(argv: list[str] | None = None) -> None:
    """TensorFlow's C++ info and warnings off (noise for a command-line user) unless ``-v``/``--verbose`` is in
    `argv` (default: the command line); must run before TensorFlow's first import."""
    argv = sys.argv[1:] if argv is None else argv
    if not _verbose(argv):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def has_nvidia_device() -> bool:
    """Whether the NVIDIA driver's device nodes exist (Linux; /dev/dxg under WSL 2)."""
    return any(Path("/dev").glob("nvidia[0-9]*")) or Path("/dev/dxg").exists()


@contextlib.contextmanager
def _without_lines(pattern: re.Pattern):
    """Holds what the process writes to file descriptor 2 (C++ code included) until the block ends, then writes
    it out without the lines that match `pattern`."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = [line for line in held.read().decode(errors="replace").splitlines(keepends=True)
                    if not pattern.search(line)]
            sys.stderr.write("".join(kept))
            sys.stderr.flush()


def import_tensorflow(argv: list[str] | None = None) -> None:
    """Imports TensorFlow and lets it find its devices, without the CPU-only machine's noise (see the module's
    docstring); anything else it prints comes through."""
    argv = sys.argv[1:] if argv is None else argv
    quiet_tensorflow(argv)
    if "tensorflow" in sys.modules or _verbose(argv) or has_nvidia_device():
        import tensorflow  # noqa: F401  (so the command's own imports find it loaded, as elsewhere)
        return
    with _without_lines(NOISE):
        import tensorflow as tf

        tf.config.list_physical_devices()  # the CUDA probe happens here, at the first device query
