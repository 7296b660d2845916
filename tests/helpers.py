"""Test helpers: the top-level command-line scripts imported as modules (so their main() runs in-process)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def load_script(name: str):
    """The top-level script `name` (e.g. "predict.py") as a module; a subprocess would re-import TensorFlow."""
    spec = importlib.util.spec_from_file_location(name.replace(".py", "_cli"), REPO / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
