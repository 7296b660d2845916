"""The benchmarks' peak-memory figure is the measured process's own, even when a large parent started it."""
import numpy as np
from helpers import run_beside_the_benchmarks


def test_a_child_of_a_large_parent_reports_its_own_peak_memory_not_the_parents():
    # ru_maxrss survives fork and exec on Linux: runtime_speed.py's children all reported its 11.8 GiB.
    parent_block = np.ones(2**27)  # 1 GiB, touched, in this (the parent) process
    child_peak = int(run_beside_the_benchmarks("import common; print(common.peak_rss_bytes())").split()[-1])
    assert parent_block.nbytes == 2**30
    assert 0 < child_peak < 2**29, f"the child reported {child_peak / 2**20:.0f} MiB, the parent's peak"
