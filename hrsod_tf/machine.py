"""The machine the process runs on: its CPU, how many cores it may use, and which of TensorFlow's CPU kernels run."""

from __future__ import annotations

import os
import platform
import sys
from typing import MutableMapping

__all__ = ["ONEDNN_ISA_VARIABLE", "ONEDNN_VARIABLE", "cpu_isa_flags", "cpu_model", "describe_machine",
           "machine_sentence", "package_versions", "tensorflow_cpu_kernels", "tensorflow_imported",
           "turn_on_onednn_kernels", "usable_cores"]

#: TensorFlow's switch between its oneDNN kernels ("1") and its Eigen ones ("0"), read once at its import.
ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"
#: oneDNN's cap on the instructions its kernels use ("AVX2": an AVX2-only CPU's kernels on a wider one); TensorFlow's
#: and OpenVINO's oneDNN read it once, at their first kernel.
ONEDNN_ISA_VARIABLE = "ONEDNN_MAX_CPU_ISA"


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


def _cpu_field(name: str) -> str | None:
    """The first value of `name` in /proc/cpuinfo ("model name", "flags"); None when the file or the field is
    missing (macOS, Windows)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == name:
                    return value.strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    """The CPU's model name ("AMD EPYC 9B14"), or what the platform says where /proc/cpuinfo is missing."""
    return _cpu_field("model name") or platform.processor() or "unknown"


def cpu_isa_flags() -> list[str]:
    """The CPU's vector-instruction flags that decide the kernels' speed (avx*, amx*, fma), sorted; [] where
    /proc/cpuinfo is missing."""
    return sorted(flag for flag in (_cpu_field("flags") or "").split() if flag.startswith(("avx", "amx", "fma")))


def tensorflow_cpu_kernels() -> str | None:
    """Which of TensorFlow's CPU kernels this process runs: "oneDNN" or "Eigen"; None when TensorFlow is not
    imported (asking would import it, too late for `turn_on_onednn_kernels`) or does not say."""
    # TensorFlow's own flag, loaded with it; no public API reports it. Read from sys.modules: this module never
    # imports TensorFlow (evaluation runs without it).
    port = sys.modules.get("tensorflow.python.util._pywrap_util_port")
    return None if port is None else "oneDNN" if port.IsMklEnabled() else "Eigen"


def describe_machine() -> dict:
    """What a result measured in this process depends on beyond its seed: the CPU model and its vector
    instructions, the cores this process may use, TensorFlow's version and CPU kernels (their rounding changes a
    training run's path, docs/RESULTS.md, "How long it takes") and oneDNN's instruction cap when one is set
    (None otherwise). JSON-serialisable."""
    return {"cpu_model": cpu_model(), "isa_flags": cpu_isa_flags(), "usable_cores": usable_cores(),
            **package_versions(), "tensorflow_cpu_kernels": tensorflow_cpu_kernels(),
            "onednn_max_cpu_isa": os.environ.get(ONEDNN_ISA_VARIABLE) or None}


def machine_sentence(machine: dict) -> str:
    """`describe_machine`'s record in words: "AMD EPYC 9B14 (AVX-512, 2 cores usable), TensorFlow 2.20.0 with its
    oneDNN kernels", and "... oneDNN kernels capped at AVX2" when oneDNN's instructions were capped."""
    flags = set(machine.get("isa_flags") or ())
    widest = ("AMX" if any(f.startswith("amx") for f in flags) else "AVX-512" if "avx512f" in flags
              else "AVX2" if "avx2" in flags else None)
    cores = machine.get("usable_cores")
    details = [widest] if widest else []
    details += [f"{cores} core{'' if cores == 1 else 's'} usable"] if cores else []
    sentence = machine.get("cpu_model") or "unknown CPU"
    sentence += f" ({', '.join(details)})" if details else ""
    if machine.get("tensorflow_cpu_kernels"):
        sentence += f", TensorFlow {machine.get('tensorflow')} with its {machine['tensorflow_cpu_kernels']} kernels"
        if machine["tensorflow_cpu_kernels"] == "oneDNN" and machine.get("onednn_max_cpu_isa"):
            sentence += f" capped at {machine['onednn_max_cpu_isa']}"
    return sentence


def package_versions(packages=("tensorflow", "keras", "numpy")) -> dict:
    """{package: installed version or None}, from package metadata (without importing them)."""
    from importlib import metadata

    versions = {}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions
