"""How the user runs this project's commands, for the messages that tell them what to run next.

The same command is `hrsod train` for an installed package and `python train.py` in a clone (the scripts the
paper's users expect); a message names the form the user typed. The entry point (`hrsod_tf.cli.run_command`)
says which form is in use; library code asks `command("train")`.
"""

from __future__ import annotations

__all__ = ["command", "use_script_form"]

_script_form = False


def use_script_form(enabled: bool = True) -> None:
    """Messages from now on name the repository's scripts (`python train.py`) rather than `hrsod train`."""
    global _script_form
    _script_form = enabled


def command(name: str) -> str:
    """How to run command `name` ("train", "convert-caffe", ...) in this process's form."""
    return f"python {name.replace('-', '_')}.py" if _script_form else f"hrsod {name}"
