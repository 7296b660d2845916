"""The machine the process runs on: how many CPU cores it may use, and which of TensorFlow's CPU kernels run."""

from __future__ import annotations

import os
import platform
import sys
from typing import MutableMapping

__all__ = ["ONEDNN_VARIABLE", "tensorflow_imported", "turn_on_onednn_kernels", "usable_cores"]

#: TensorFlow's switch between its oneDNN kernels ("1") and its Eigen ones ("0"), read once at its import.
ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity where the OS has one (Linux: a container's or `taskset`'s
    limit), else every logical core (macOS, Windows); at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return os.cpu_count() or 1


def turn_on_onednn_kernels(environ: MutableMapping[str, str] | None = None, *, system: str | None = None,
                           machine: str | None = None) -> bool:
    """Sets ``TF_ENABLE_ONEDNN_OPTS=1`` on x86-64 Linux unless the variable is already set; returns whether it did.

    TensorFlow's Linux build turns its oneDNN kernels on only for CPUs with AVX-512 VNNI or BF16, AVX-VNNI or AMX
    (``DefaultOneDnnPolicy`` in tensorflow/core/util/port.cc). On an AVX2-only CPU it runs its Eigen kernels:
    the demo's training steps take 1.8 to 2.8 times as long as with oneDNN's AVX2 kernels and the GLFN's forward
    pass 4.4 times (only a GSN pass on one image is faster; docs/BENCHMARKS.md, "TensorFlow's CPU kernels").
    Where the CPU has those features the variable changes nothing; Windows' build has oneDNN on already, and
    other builds lack it. TensorFlow reads it once, at its import, which is why `hrsod_tf` calls this when it is
    imported first.

    Args:
        environ: the environment to set it in (default: this process's, which the processes it starts inherit).
        system / machine: `platform.system()` and `platform.machine()` by default.
    """
    environ = os.environ if environ is None else environ
    system = platform.system() if system is None else system
    machine = platform.machine() if machine is None else machine
    if system != "Linux" or machine.lower() not in ("x86_64", "amd64") or ONEDNN_VARIABLE in environ:
        return False
    environ[ONEDNN_VARIABLE] = "1"
    return True


def tensorflow_imported() -> bool:
    """Whether TensorFlow is already imported in this process (then `turn_on_onednn_kernels` comes too late)."""
    return "tensorflow" in sys.modules
