"""Flags that several commands share, defined once."""

from __future__ import annotations

import argparse

MODEL_HELP = ("a trained run's work directory (e.g. runs/demo) or any export of `export`: a SavedModel or an "
              "OpenVINO / ONNX / LiteRT folder")


def add_model_argument(parser, required: bool = True, help: str = MODEL_HELP, legacy: tuple = ()) -> None:
    """``--model PATH`` (into ``args.model``), and the older flags in `legacy` (e.g. "--workdir",
    "--saved-model") as undocumented synonyms, so earlier command lines keep working.

    `required` is checked after parsing by `model_path`, since a synonym may have given the path.
    """
    parser.add_argument("--model", metavar="PATH", help=help + (" (required)" if required else ""))
    for flag in legacy:
        parser.add_argument(flag, dest=f"legacy_{flag.lstrip('-').replace('-', '_')}", metavar="PATH",
                            help=argparse.SUPPRESS)


def model_path(parser: argparse.ArgumentParser, args: argparse.Namespace, required: bool = True) -> str | None:
    """The one model path that ``--model`` or a legacy synonym gave; a usage error (exit 2) for none when
    `required`, or for two."""
    given = {flag: value for flag, value in vars(args).items()
             if (flag == "model" or flag.startswith("legacy_")) and value is not None}
    if len(given) > 1:
        flags = ", ".join("--" + flag.removeprefix("legacy_").replace("_", "-") for flag in given)
        parser.error(f"give one model path, not several ({flags})")
    if required and not given:
        parser.error("--model PATH is required (a work directory such as runs/demo, or an export)")
    return next(iter(given.values()), None)
