"""`hrsod_tf.machine`: the cores a process may use, TensorFlow's oneDNN kernels turned on where it leaves them off
(AVX2-only CPUs), and the record of the machine a result was made on."""

import json
import os
import platform
import subprocess
import sys

import pytest

from hrsod_tf.machine import (
    ONEDNN_ISA_VARIABLE,
    ONEDNN_VARIABLE,
    describe_machine,
    machine_sentence,
    tensorflow_cpu_kernels,
    turn_on_onednn_kernels,
    usable_cores,
)

X86_64_LINUX = platform.system() == "Linux" and platform.machine().lower() in ("x86_64", "amd64")


def test_usable_cores_is_the_processs_cpu_affinity_where_the_os_has_one_else_every_core():
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert usable_cores() == expected >= 1


def test_onednn_kernels_are_turned_on_on_x86_64_linux_when_the_variable_is_unset():
    environ = {}
    assert turn_on_onednn_kernels(environ, system="Linux", machine="x86_64")
    assert environ == {ONEDNN_VARIABLE: "1"}


@pytest.mark.parametrize("value", ["0", "1", "false"])
def test_a_tf_enable_onednn_opts_the_user_set_is_kept(value):
    environ = {ONEDNN_VARIABLE: value}
    assert not turn_on_onednn_kernels(environ, system="Linux", machine="x86_64")
    assert environ == {ONEDNN_VARIABLE: value}


@pytest.mark.parametrize("system, machine", [("Linux", "aarch64"), ("Darwin", "x86_64"), ("Windows", "AMD64")])
def test_onednn_is_left_to_tensorflow_off_x86_64_linux(system, machine):
    environ = {}
    assert not turn_on_onednn_kernels(environ, system=system, machine=machine)
    assert environ == {}


def _tensorflow_onednn_after_importing_hrsod_tf(value: str | None) -> tuple[str, str]:
    """(TensorFlow's own answer, `tensorflow_cpu_kernels`'s) in a fresh process."""
    environ = {k: v for k, v in os.environ.items() if k != ONEDNN_VARIABLE}
    if value is not None:
        environ[ONEDNN_VARIABLE] = value
    code = ("import hrsod_tf, tensorflow\n"
            "from tensorflow.python.util import _pywrap_util_port\n"
            "from hrsod_tf.machine import tensorflow_cpu_kernels\n"
            "print(_pywrap_util_port.IsMklEnabled(), tensorflow_cpu_kernels())")
    done = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return tuple(done.stdout.split()[-2:])


@pytest.mark.skipif(not X86_64_LINUX, reason="TensorFlow's Linux x86-64 build decides by the CPU")
def test_tensorflow_runs_its_onednn_kernels_when_hrsod_tf_is_imported_first_unless_the_user_says_no():
    # On an AVX2-only CPU TensorFlow alone would answer False here.
    assert _tensorflow_onednn_after_importing_hrsod_tf(None) == ("True", "oneDNN")
    assert _tensorflow_onednn_after_importing_hrsod_tf("0") == ("False", "Eigen")


def test_the_machine_record_names_the_cpu_its_cores_and_the_kernels_tensorflow_runs():
    import tensorflow  # noqa: F401  (the suite has it imported already; the kernels are known only then)

    record = describe_machine()
    assert json.loads(json.dumps(record)) == record
    assert record["usable_cores"] == usable_cores() and record["tensorflow"] == tensorflow.__version__
    assert record["tensorflow_cpu_kernels"] == tensorflow_cpu_kernels() in ("oneDNN", "Eigen")
    if X86_64_LINUX:
        assert "avx2" in record["isa_flags"] and record["cpu_model"] != "unknown"


@pytest.mark.parametrize("flags, kernels, expected", [
    (["avx", "avx2", "fma"], "oneDNN", "EPYC (AVX2, 2 cores usable), TensorFlow 2.21.0 with its oneDNN kernels"),
    (["avx2", "avx512f", "avx512_vnni"], "Eigen", "EPYC (AVX-512, 2 cores usable), TensorFlow 2.21.0 with its "
                                                   "Eigen kernels"),
    (["avx2", "avx512f", "amx_tile"], None, "EPYC (AMX, 2 cores usable)"),
    ([], None, "EPYC (2 cores usable)"),
])
def test_the_machine_sentence_names_the_widest_vector_instructions_and_the_kernels(flags, kernels, expected):
    record = {"cpu_model": "EPYC", "isa_flags": flags, "usable_cores": 2, "tensorflow": "2.21.0",
              "tensorflow_cpu_kernels": kernels}
    assert machine_sentence(record) == expected


@pytest.mark.parametrize("kernels, expected", [
    ("oneDNN", "EPYC (AVX-512, 2 cores usable), TensorFlow 2.21.0 with its oneDNN kernels capped at AVX2"),
    ("Eigen", "EPYC (AVX-512, 2 cores usable), TensorFlow 2.21.0 with its Eigen kernels"),  # the cap is oneDNN's
])
def test_the_machine_sentence_says_when_onednn_was_capped_to_an_older_cpus_instructions(kernels, expected):
    record = {"cpu_model": "EPYC", "isa_flags": ["avx2", "avx512f"], "usable_cores": 2, "tensorflow": "2.21.0",
              "tensorflow_cpu_kernels": kernels, "onednn_max_cpu_isa": "AVX2"}
    assert machine_sentence(record) == expected


def test_the_machine_record_holds_onednns_instruction_cap_when_one_is_set(monkeypatch):
    monkeypatch.delenv(ONEDNN_ISA_VARIABLE, raising=False)
    assert describe_machine()["onednn_max_cpu_isa"] is None
    monkeypatch.setenv(ONEDNN_ISA_VARIABLE, "AVX2")
    assert describe_machine()["onednn_max_cpu_isa"] == "AVX2"
