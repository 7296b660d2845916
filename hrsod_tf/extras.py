"""The package's optional parts (pyproject.toml's extras) and the one line that says how to install a missing one.

The core (``pip install hrsod-tf``) predicts on photos; every other use has an extra named for it
(``pip install "hrsod-tf[video]"``). Code that needs an optional package imports it through `import_optional`, or
turns the `ModuleNotFoundError` it met into `MissingExtraError` with `missing_extra_error`, so the user reads which
extra to install rather than a traceback. tests/test_extras.py checks this table against pyproject.toml.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRA_OF_MODULE", "MissingExtraError", "import_optional", "install_command", "missing_extra_error"]

#: top-level module -> the extra whose packages provide it.
EXTRA_OF_MODULE = {
    "tensorflow_datasets": "train",
    "py_sod_metrics": "train",
    "scipy": "train",
    "matplotlib": "train",
    "pydensecrf": "crf",
    "av": "video",
    "fastapi": "web",
    "uvicorn": "web",
    "multipart": "web",
    "tensorflow_serving": "serving",
    "openvino": "openvino",
    "nncf": "openvino",
    "onnxruntime": "onnx",
    "onnx": "onnx",
    "tf2onnx": "onnx",
    "ai_edge_litert": "litert",
    "apache_beam": "beam",
    "jax": "jax",
}


class MissingExtraError(ImportError):
    """An optional package is not installed; the message is one line naming the pip command that installs it."""


def install_command(extra: str) -> str:
    """The pip command that adds `extra` to an installed hrsod-tf."""
    return f'pip install "hrsod-tf[{extra}]"'


def missing_extra_error(error: ModuleNotFoundError, purpose: str = "") -> MissingExtraError | None:
    """The `MissingExtraError` for a module of an extra that failed to import, or None when `error` names no
    module of an extra (a core package missing, or a bug): that error is the user's to see as it is.

    Args:
        purpose: what the package is needed for, for the message ("to read videos").
    """
    top = (error.name or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(top)
    if extra is None:
        return None
    need = f" {purpose}" if purpose else ""
    return MissingExtraError(f"the {extra} extra is missing (no module named {top!r}){need}: "
                             f"{install_command(extra)}")


def import_optional(module: str, purpose: str = "") -> ModuleType:
    """Imports `module` of an extra, or raises `MissingExtraError` naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        missing = missing_extra_error(error, purpose)
        if missing is None:
            raise
        raise missing from error
