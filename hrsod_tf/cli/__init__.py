"""The `hrsod` command: one entry point for every tool, e.g. ``hrsod predict photo.jpg --model runs/demo --out out/``.

    hrsod --help                 the commands (imports no TensorFlow)
    hrsod COMMAND --help         one command's flags
    python -m hrsod_tf COMMAND   the same without the console script

Each command is a module of this package with ``build_parser(prog)`` and ``main(argv, prog)``; the scripts at
the repository's root (train.py, predict.py, ...) call the same ``main`` under their own name, so a message that
tells the user what to run names the form they used. A command is imported only when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass

from hrsod_tf import __version__
from hrsod_tf.cli.startup import import_tensorflow, quiet_tensorflow
from hrsod_tf.commands import command, use_script_form
from hrsod_tf.extras import MissingExtraError, missing_extra_error

__all__ = ["COMMANDS", "main", "run_command"]


@dataclass(frozen=True)
class Command:
    """One subcommand: the module that implements it, one line of help, and the extra it needs beyond the core."""

    module: str
    summary: str
    extra: str | None = None
    imports_tensorflow: bool = True  # False: the command imports it when it needs it (folder evaluation never does)


COMMANDS = {
    "predict": Command("predict", "saliency maps, cut-outs and new backgrounds for photos, folders and videos"),
    "train": Command("train", "train the GSN, LRN and GLFN (no arguments: the demo on synthetic scenes)", "train"),
    "evaluate": Command("evaluate", "score maps or a model on a data set with the SOD protocol (Table 4)", "train",
                        imports_tensorflow=False),
    "export": Command("export", "export a trained run: SavedModel for TF Serving, OpenVINO, ONNX, LiteRT", "serving"),
    "batch-predict": Command("batch_predict", "maps for every image matching a pattern, on Apache Beam", "beam"),
    "convert-caffe": Command("convert_caffe", "import the authors' trained Caffe weights into a work directory"),
    "app": Command("app", "a local web page that cuts out photos", "web"),
}


def run_command(name: str, argv: list[str] | None = None, script: bool = False) -> int:
    """Runs command `name` (a key of `COMMANDS`) on `argv`, as `hrsod NAME`, or as the repository's script
    (`python predict.py`) when `script`; an optional package that is missing is one line naming the extra to
    install, exit status 2."""
    use_script_form(script)
    prog = command(name)
    if COMMANDS[name].imports_tensorflow:
        import_tensorflow(argv)
    else:
        quiet_tensorflow(argv)
    try:
        module = importlib.import_module(f"hrsod_tf.cli.{COMMANDS[name].module}")
        return module.main(argv, prog=prog)
    except MissingExtraError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:
        missing = missing_extra_error(error)
        if missing is None:
            raise
        print(f"{prog}: error: {missing}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hrsod", description="High-resolution salient object detection: cut-outs of 1080p and 4K photos.",
        epilog="Run `hrsod COMMAND --help` for a command's flags. Commands marked [extra] need "
               'pip install "hrsod-tf[extra]".', formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"hrsod-tf {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name, entry in COMMANDS.items():
        extra = f" [{entry.extra}]" if entry.extra else ""
        subparsers.add_parser(name, help=entry.summary + extra, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """`hrsod COMMAND ...`: the exit status of the command."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in COMMANDS:  # --help, --version, a typo: argparse answers without importing any
        parser = _parser()
        if not argv:
            parser.print_help()
            return 2
        parser.parse_args(argv[:1])
        return 2
    return run_command(argv[0], argv[1:])
