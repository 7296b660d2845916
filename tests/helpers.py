"""Test helpers: the command-line modules (so their main() runs in-process), code run beside the benchmark scripts,
and small image files."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def command_module(name: str):
    """The module of command `name` (e.g. "predict" for `hrsod predict` and predict.py), whose ``main(argv)`` runs
    in this process; a subprocess would re-import TensorFlow."""
    return importlib.import_module(f"hrsod_tf.cli.{name}")


def run_beside_the_benchmarks(code: str) -> str:
    """Runs Python `code` in a fresh process that imports benchmarks/ scripts as they import each other (the folder
    is scripts, not a package); fails the test with its stderr unless it exits 0. Returns its stdout."""
    environment = {**os.environ, "PYTHONPATH": str(REPO / "benchmarks")}
    completed = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, env=environment,
                               capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


def random_rgb(w: int = 64, h: int = 48, seed: int = 0):
    """A uint8 (h, w, 3) image of uniform noise."""
    return (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)


def save_image(array_or_image, path, **kwargs):
    """Saves a numpy array or a PIL image with PIL (`kwargs`: PIL's save options); returns `path`."""
    image = array_or_image if isinstance(array_or_image, Image.Image) else Image.fromarray(array_or_image)
    image.save(path, **kwargs)
    return path
