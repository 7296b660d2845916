"""The project installs as a package: every package folder is listed in pyproject.toml, the installed packages
are this checkout's, and no file edits the module search path (imports work because of the install)."""

import ast
import importlib.metadata
import re
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

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


# -- what remote Beam workers install (the README's Dataflow command) --------------------------------------------

WORKERS = REPO / "requirements-workers.txt"


def _requirement_lines(path):
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def test_the_workers_requirements_are_lines_beam_can_pip_download_one_by_one():
    lines = _requirement_lines(WORKERS)
    assert lines
    for line in lines:  # Beam's stager runs `pip download <line> --no-deps` for each line
        assert not line.startswith("-") and "#" not in line and not (REPO / line).exists(), line
        requirement = Requirement(line)
        assert requirement.url is None and requirement.name.lower() not in ("hrsod-tf", "apache-beam"), line


def _module_level_imports(tree):
    """The Import / ImportFrom nodes that run when the module is imported: not those inside functions, which
    load optional packages only when used (pymatting, pydensecrf, the runtimes' quantizers)."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))


def _imported_modules(start: str):
    """The hrsod_tf modules that importing `start` runs (parent packages included) and the other top-level
    modules they import, read from the sources."""

    def source(name):
        path = REPO.joinpath(*name.split("."))
        return path / "__init__.py" if (path / "__init__.py").is_file() else path.with_suffix(".py")

    seen, others, todo = set(), set(), [start]
    while todo:
        parts = todo.pop().split(".")
        for i in range(1, len(parts) + 1):
            name = ".".join(parts[:i])
            if name in seen or not source(name).is_file():
                continue
            seen.add(name)
            for node in _module_level_imports(ast.parse(source(name).read_text())):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
                else:
                    continue
                for imported in names:
                    (todo.append(imported) if imported.startswith("hrsod_tf") else others.add(imported.split(".")[0]))
    return seen, others


def test_the_workers_requirements_cover_every_package_batch_prediction_imports():
    _, modules = _imported_modules("hrsod_tf.deploy.batch_prediction")
    distributions = importlib.metadata.packages_distributions()
    needed = {canonicalize_name(d) for m in modules if m not in sys.stdlib_module_names
              for d in distributions.get(m, [m])}
    listed = {canonicalize_name(Requirement(line).name) for line in _requirement_lines(WORKERS)}
    assert needed - {"apache-beam"} <= listed, needed - listed - {"apache-beam"}


@pytest.mark.slow
def test_the_wheel_builds_offline_holds_only_the_project_and_batch_prediction_imports_from_it(tmp_path):
    source = tmp_path / "source"  # a copy: setuptools writes build/ and *.egg-info/ beside the sources
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "hrsod_tf", "datasets"):
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy
        copy(REPO / name, source / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                            if (REPO / name).is_dir() else {}))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                    "--wheel-dir", str(tmp_path / "dist"), str(source)], check=True, cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("hrsod_tf-*-py3-none-any.whl"))
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"hrsod_tf", "hrsod_tf_datasets"}
    # A worker: a new environment holding the wheel, which sees this environment's packages as a worker sees what
    # it installed from requirements-workers.txt (a path in a .pth file: that folder's own .pth files, this
    # checkout's editable install among them, are not run). `venv --system-site-packages` would not do: inside a
    # virtual environment its "system" is the base Python, which lacks the dependencies.
    venv = tmp_path / "worker"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    worker_site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 check=True, capture_output=True, text=True).stdout.strip()
    Path(worker_site, "this_environment.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)], check=True)
    done = subprocess.run([str(python), "-c", "import hrsod_tf.deploy.batch_prediction as m; print(m.__file__)"],
                          check=True, capture_output=True, text=True, cwd=tmp_path)
    assert str(venv) in done.stdout.strip().splitlines()[-1]
