"""The benchmarks' peak-memory figure is the measured process's own, even when a large parent started it."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def test_a_child_of_a_large_parent_reports_its_own_peak_memory_not_the_parents():
    # ru_maxrss survives fork and exec on Linux: runtime_speed.py's children all reported its 11.8 GiB.
    parent_block = np.ones(2**27)  # 1 GiB, touched, in this (the parent) process
    # benchmarks/ is a folder of scripts, not a package: the child finds common.py as the scripts do.
    environment = {**os.environ, "PYTHONPATH": str(REPO / "benchmarks")}
    completed = subprocess.run([sys.executable, "-c", "import common; print(common.peak_rss_bytes())"],
                               cwd=REPO, env=environment, capture_output=True, text=True, check=True)
    child_peak = int(completed.stdout.split()[-1])
    assert parent_block.nbytes == 2**30
    assert 0 < child_peak < 2**29, f"the child reported {child_peak / 2**20:.0f} MiB, the parent's peak"
