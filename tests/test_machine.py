"""`hrsod_tf.machine`: the cores a process may use."""

import os

from hrsod_tf.machine import usable_cores


def test_usable_cores_is_the_processs_cpu_affinity_where_the_os_has_one_else_every_core():
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert usable_cores() == expected >= 1
