"""The machine the process runs on: how many CPU cores it may use."""

from __future__ import annotations

import os

__all__ = ["usable_cores"]


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity where the OS has one (Linux: a container's or `taskset`'s
    limit), else every logical core (macOS, Windows); at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return os.cpu_count() or 1
