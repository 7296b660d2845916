"""The project installs as a package: every package folder is listed in pyproject.toml, the installed packages
are this checkout's, and no file edits the module search path (imports work because of the install)."""

import re
from pathlib import Path

import tomllib

import hrsod_tf
import hrsod_tf_datasets

REPO = Path(__file__).resolve().parents[1]


def _package_folders(root: Path, name: str) -> set[str]:
    """Dotted names of `root` and of every folder below it that holds an __init__.py (dummy data excluded)."""
    found = {name}
    for init in root.rglob("__init__.py"):
        relative = init.parent.relative_to(root)
        if relative.parts and "dummy_data" not in relative.parts:
            found.add(".".join((name, *relative.parts)))
    return found


def test_every_package_folder_is_listed_in_pyproject():
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["package-dir"] == {"hrsod_tf_datasets": "datasets"}
    expected = _package_folders(REPO / "hrsod_tf", "hrsod_tf") | _package_folders(REPO / "datasets",
                                                                                   "hrsod_tf_datasets")
    assert set(setuptools["packages"]) == expected


def test_installed_packages_are_this_checkout():
    assert Path(hrsod_tf.__file__).resolve().parent == REPO / "hrsod_tf"
    assert Path(hrsod_tf_datasets.__file__).resolve().parent == REPO / "datasets"


def _project_python_files():
    """The project's own .py files: not those of a virtual environment (the README makes `.venv/` in the clone),
    of git, of build output or of runs."""
    for path in REPO.rglob("*.py"):
        parts = path.relative_to(REPO).parts[:-1]
        if not any(part.startswith(".") or part in ("build", "runs", "site-packages") for part in parts):
            yield path


def test_no_python_file_edits_the_module_search_path():
    editing = re.compile(r"^[^#]*\bsys\.path\b")
    offenders = [f"{path.relative_to(REPO)}:{number}"
                 for path in _project_python_files()
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if editing.search(line)]
    assert offenders == []
