"""The `hrsod` command: help and version without TensorFlow, `python -m hrsod_tf`, the root scripts as shims that
name themselves, one line for a missing extra, `--model` and its older synonyms, and TensorFlow's CPU-only
start-up noise dropped while everything else on stderr comes through."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hrsod_tf import __version__, commands
from hrsod_tf.cli import COMMANDS, main, run_command
from hrsod_tf.cli.startup import NOISE, _without_lines
from hrsod_tf.workdir import make_random_workdir

REPO = Path(__file__).resolve().parents[1]
HRSOD = Path(sys.executable).parent / "hrsod"


def _run(*command, **kwargs):
    return subprocess.run([*map(str, command)], capture_output=True, text=True, cwd=REPO, **kwargs)


@pytest.fixture(autouse=True)
def _default_command_form():
    """run_command(script=True) switches the process to the scripts' form: the next test starts from `hrsod`."""
    yield
    commands.use_script_form(False)


def test_help_lists_every_command_without_importing_tensorflow():
    done = _run(sys.executable, "-c", "import sys\nfrom hrsod_tf.cli import main\ntry:\n    main(['--help'])\n"
                "except SystemExit:\n    pass\nprint('tensorflow' in sys.modules, 'keras' in sys.modules)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False False"
    for name in COMMANDS:
        assert name in done.stdout


def test_the_console_script_and_python_m_give_the_version():
    assert HRSOD.is_file(), "the hrsod console script is not installed: pip install -e ."
    assert _run(HRSOD, "--version").stdout.strip() == f"hrsod-tf {__version__}"
    assert _run(sys.executable, "-m", "hrsod_tf", "--version").stdout.strip() == f"hrsod-tf {__version__}"


def test_an_unknown_command_is_a_usage_error_naming_the_commands(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["segment"])
    assert exited.value.code == 2 and "predict" in capsys.readouterr().err


def test_every_root_script_is_a_shim_over_its_command():
    for name, command in COMMANDS.items():
        script = REPO / f"{command.module}.py"
        assert f'run_command("{name}", script=True)' in script.read_text(), script


def test_messages_name_the_form_the_user_typed(tmp_path, capsys):
    run = make_random_workdir(tmp_path / "run", stages=("gsn",)).root  # no LRN: the message says how to train one
    (tmp_path / "in.png").write_bytes((REPO / "docs" / "figures" / "cutout.png").read_bytes())
    argv = [str(tmp_path / "in.png"), "--model", str(run), "--out", str(tmp_path / "out")]
    assert run_command("predict", argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("hrsod predict: error:") and "`hrsod train --stage lrn" in err
    assert run_command("predict", argv, script=True) == 2
    err = capsys.readouterr().err
    assert err.startswith("python predict.py: error:") and "`python train.py --stage lrn" in err


def test_a_missing_extra_ends_the_command_with_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if the web extra were not installed
    monkeypatch.delitem(sys.modules, "hrsod_tf.cli.app", raising=False)
    assert run_command("app", ["--model", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == ("hrsod app: error: the web extra is missing (no module named 'uvicorn'): "
                           'pip install "hrsod-tf[web]"')


def test_the_older_model_flags_still_work_and_two_paths_are_refused(tmp_path, capsys):
    predict = __import__("hrsod_tf.cli.predict", fromlist=["main"])
    parser = predict.build_parser()
    args = parser.parse_args(["x.jpg", "--workdir", "runs/a", "--out", "o"])
    assert predict.model_path(parser, args) == "runs/a"
    with pytest.raises(SystemExit):
        predict.model_path(parser, parser.parse_args(["x.jpg", "--model", "a", "--saved-model", "b", "--out", "o"]))
    assert "give one model path, not several (--model, --saved-model)" in capsys.readouterr().err
    assert "--saved-model" not in parser.format_help() and "--workdir" not in parser.format_help()


def test_the_start_up_noise_of_a_cpu_only_machine_is_dropped_and_nothing_else(capfd):
    lines = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
        "I0000 00:00:1796619127.571708    9203 port.cc:153] oneDNN custom operations are on. You may see ...\n",
        "I0000 00:00:1796619127.576398    9203 cudart_stub.cc:31] Could not find cuda drivers on your machine, "
        "GPU will not be used.\n",
        "E0000 00:00:1796619134.640794    9203 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: "
        "Failed call to cuInit: UNKNOWN ERROR (303)\n",
        "E0000 00:00:1796619134.640794    9203 some_kernel.cc:12] a real error\n",
        "Traceback (most recent call last): something the user must see\n",
    ]
    with _without_lines(NOISE):
        for line in lines:
            os.write(2, line.encode())
    assert capfd.readouterr().err == lines[4] + lines[5]
