"""The package's extras: pyproject.toml's lists, the table that names a missing extra, and imports that follow the
extras (starting a command, predicting on a photo, exporting a SavedModel import nothing beyond the core and the
command's own extra)."""

import importlib.metadata
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tomllib
from helpers import random_rgb, save_image
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from hrsod_tf.cli import COMMANDS
from hrsod_tf.extras import EXTRA_OF_MODULE, MissingExtraError, import_optional, install_command, missing_extra_error
from hrsod_tf.workdir import make_random_workdir

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
EXTRAS = PROJECT["optional-dependencies"]
SELF = canonicalize_name(PROJECT["name"])


def _requirements(extras=()) -> list[Requirement]:
    """The core's requirements and those of `extras`, with the project's own extras (``hrsod-tf[train]``) unfolded."""
    found, todo, seen = [Requirement(line) for line in PROJECT["dependencies"]], list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for line in EXTRAS[extra]:
            requirement = Requirement(line)
            if canonicalize_name(requirement.name) == SELF:
                todo.extend(requirement.extras)
            else:
                found.append(requirement)
    return found


def _installed_closure(requirements) -> set[str]:
    """The distributions `requirements` install, with everything they require in turn (markers evaluated, extras
    followed), as installed here."""
    names, todo, seen = set(), [(r, frozenset(r.extras)) for r in requirements], set()
    while todo:
        requirement, extras = todo.pop()
        name = canonicalize_name(requirement.name)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        try:
            distribution = importlib.metadata.distribution(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            continue
        names.add(name)
        for line in distribution.requires or []:
            dependency = Requirement(line)
            wanted = dependency.marker is None or any(dependency.marker.evaluate({"extra": extra})
                                                      for extra in (extras or {""}))
            if wanted:
                todo.append((dependency, frozenset(dependency.extras)))
    return names


def _modules_outside(extras=()) -> list[str]:
    """The top-level modules installed here that come only from distributions the core and `extras` do not
    install (the others' extras, the development tools, and what those require)."""
    allowed = _installed_closure(_requirements(extras))
    return sorted(module for module, distributions in importlib.metadata.packages_distributions().items()
                  if not module.startswith("hrsod_tf")
                  and not {canonicalize_name(d) for d in distributions} & allowed)


def _run_as_if_only(extras, code: str) -> list[str]:
    """Runs `code` in a fresh interpreter where the modules of every other extra cannot be imported, as in an
    environment where only the core and `extras` are installed (TensorFlow and Keras import some packages only
    when present: they are refused too); fails the test with its stderr unless it exits 0. Returns the top-level
    modules loaded in the end."""
    blocked = _modules_outside(extras)
    script = textwrap.dedent(f"""
        import importlib.abc, json, sys

        class NotInstalled(importlib.abc.MetaPathFinder):
            blocked = set({blocked!r})

            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in self.blocked:
                    raise ModuleNotFoundError(f"No module named {{name!r}} (not in this environment)", name=name)
                return None

        sys.meta_path.insert(0, NotInstalled())
    """) + textwrap.dedent(code) + textwrap.dedent("""
        print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the lists ------------------------------------------------------------------------------------------------------

def test_the_core_dependencies_are_the_beam_workers_list():
    workers = [line.strip() for line in (REPO / "requirements-workers.txt").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    assert sorted(map(str, map(Requirement, workers))) == sorted(map(str, map(Requirement, PROJECT["dependencies"])))


def test_requirements_txt_installs_every_extra_editable():
    lines = [line.strip() for line in (REPO / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines == ["-e .[all,dev]"]


def test_the_all_extra_holds_every_extra_but_dev():
    (everything,) = EXTRAS["all"]
    assert set(Requirement(everything).extras) == set(EXTRAS) - {"all", "dev"}


def test_each_module_of_the_missing_extra_table_comes_from_its_extra():
    providers = importlib.metadata.packages_distributions()
    for module, extra in EXTRA_OF_MODULE.items():
        listed = {canonicalize_name(r.name) for r in _requirements([extra])}
        assert {canonicalize_name(d) for d in providers[module]} & listed, (module, extra)


def test_every_command_names_an_extra_pyproject_defines():
    assert {c.extra for c in COMMANDS.values() if c.extra} <= set(EXTRAS)


# -- the message ----------------------------------------------------------------------------------------------------

def test_a_missing_extra_is_one_line_naming_the_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # as if PyAV were not installed
    with pytest.raises(MissingExtraError) as raised:
        import_optional("av", "to read videos")
    message = str(raised.value)
    assert "\n" not in message and "video extra" in message and message.endswith(install_command("video"))
    assert install_command("video") == 'pip install "hrsod-tf[video]"'


def test_a_missing_core_module_is_not_called_an_extra():
    assert missing_extra_error(ModuleNotFoundError("no module named 'numpy'", name="numpy")) is None


# -- imports follow the extras --------------------------------------------------------------------------------------

@pytest.mark.slow  # one fresh interpreter (TensorFlow's import) per command
@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_command_starts_with_only_the_core_and_its_extra_installed(name):
    command = COMMANDS[name]
    _run_as_if_only([command.extra] if command.extra else [], f"""
        import importlib
        from hrsod_tf.cli.startup import import_tensorflow
        import_tensorflow([])
        importlib.import_module("hrsod_tf.cli.{command.module}").build_parser()
    """)


@pytest.mark.slow  # a tiny run, a prediction and a SavedModel export in fresh interpreters (about a minute)
def test_predicting_on_a_photo_needs_only_the_core_and_a_savedmodel_export_only_serving(tmp_path):
    run = make_random_workdir(tmp_path / "run").root
    save_image(random_rgb(56, 40), tmp_path / "photo.jpg")
    modules = _run_as_if_only([], f"""
        from hrsod_tf.cli import run_command
        assert run_command("predict", [{str(tmp_path / "photo.jpg")!r}, "--model", {str(run)!r}, "--out",
                                       {str(tmp_path / "out")!r}, "--output", "rgba", "--no-progress"]) == 0
    """)
    assert (tmp_path / "out" / "photo.png").is_file() and "av" not in modules
    modules = _run_as_if_only(["serving"], f"""
        from hrsod_tf.cli import run_command
        assert run_command("export", ["--model", {str(run)!r}, "--out", {str(tmp_path / "models")!r},
                                      "--no-progress"]) == 0
    """)
    assert (tmp_path / "models" / "1" / "saved_model.pb").is_file() and "tensorflow_datasets" not in modules
