"""Saliency maps for a user's own photos: the library behind ``predict.py``.

    inputs (files, folders, globs) --collect_inputs--> image paths
    plan_outputs: one ``OUT/<stem>.png`` per image; refuses to overwrite an input, or an existing file
                  unless asked to
    hrsod_tf.image_io.read_image (EXIF orientation, grayscale, RGBA, 16-bit) -> MapPredictor
    -> hrsod_tf.deploy.compositing.render -> hrsod_tf.image_io.write_png
    (`predict_files`: the next photo read and the last one written while the networks run this one, `OVERLAPS`)

A `MapPredictor` is any callable ``image uint8 [H, W, 3] -> float32 [H, W, 1] (or [H, W]) in [0, 1]``;
`hrsod_tf.load` gives one for a trained run or an exported model: a `SaliencyModel`, whose ``predict`` is the
call. The outputs (mask, rgba, overlay, composites on new backgrounds) are
`hrsod_tf.deploy.compositing.OutputKind`, all at the image's original resolution.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import tensorflow as tf

from hrsod_tf.deploy.compositing import OutputKind, render
from hrsod_tf.image_io import DataError, is_image_file_name, is_video_file_name, read_image, write_png
from hrsod_tf.overlap import overlapped_map
from hrsod_tf.progress import progress_bar

__all__ = [
    "DEFAULT_OVERLAP",
    "MapPredictor",
    "OVERLAPS",
    "PredictionError",
    "PredictionSummary",
    "collect_inputs",
    "error_message",
    "output_name",
    "per_file_errors",
    "plan_outputs",
    "predict_files",
]


class PredictionError(ValueError):
    """A user error that stops the whole run (no input found, an output would overwrite something)."""


class MapPredictor(Protocol):
    """Anything that maps an image uint8 [H, W, 3] to its saliency float32 [H, W, 1] in [0, 1].

    A predictor may also have `max_image_pixels` and `how_to_raise` (the limit's one-line remedy): files above
    the limit are then refused from their header, before decoding (`predict_files`).
    """

    def __call__(self, image: np.ndarray) -> np.ndarray: ...


# ------------------------------------------------------------------------------------------------ inputs


def _is_input_file_name(name: str) -> bool:
    return is_image_file_name(name) or is_video_file_name(name)


def collect_inputs(specs: Iterable[str]) -> list[Path]:
    """Image and video files named by `specs`: files (any extension: a bad one fails later, by name), folders
    (their image and video files, not recursive) and glob patterns. Duplicates are dropped; the order is kept.

    Raises:
        PredictionError: a spec matches nothing.
    """
    found: dict[Path, None] = {}
    for spec in specs:
        path = Path(os.path.expanduser(spec))
        if path.is_dir():
            matches = sorted(p for p in path.iterdir() if p.is_file() and _is_input_file_name(p.name))
        elif path.exists():
            matches = [path]
        else:
            matches = sorted(Path(p) for p in glob.glob(os.path.expanduser(spec)) if Path(p).is_file())
            matches = [p for p in matches if _is_input_file_name(p.name)]
        if not matches:
            raise PredictionError(f"{spec}: no such file, or no image in it")
        found.update(dict.fromkeys(matches))
    return list(found)


def output_name(name: str, stem_shared: bool = False) -> str:
    """The output file name for the input file `name`: ``<stem>.png``, or ``<name>.png`` (``a.jpg.png``) when
    other inputs of the same folder share its stem, so that no two inputs write the same output."""
    return f"{name}.png" if stem_shared else f"{Path(name).stem}.png"


def _output_names(inputs: Sequence[Path]) -> list[str]:
    """`output_name` per input; stems shared by several inputs get their extension too (``a.jpg.png``)."""
    stems = [p.stem for p in inputs]
    counts = {s: stems.count(s) for s in stems}
    names = [output_name(p.name, counts[p.stem] > 1) for p in inputs]
    if len(set(names)) != len(names):
        clashes = sorted({n for n in names if names.count(n) > 1})
        raise PredictionError(f"several inputs would write the same output ({', '.join(clashes[:5])}): "
                              "run them into separate --out folders")
    return names


def plan_outputs(inputs: Sequence[Path], out_dir, overwrite: bool = False) -> list[Path]:
    """The output path of each input, after checking that writing them is safe.

    Raises:
        PredictionError: `out_dir` is a folder holding inputs; an output path is an input; or an output
            exists and not `overwrite`.
    """
    out_dir = Path(out_dir)
    input_dirs = {p.parent.resolve() for p in inputs}
    if out_dir.resolve() in input_dirs:
        raise PredictionError(f"--out {out_dir} holds input images: choose another folder, so no input is overwritten")
    outputs = [out_dir / name for name in _output_names(inputs)]
    resolved_inputs = {p.resolve() for p in inputs}
    clobbered = [o for o in outputs if o.resolve() in resolved_inputs]
    if clobbered:
        raise PredictionError(f"{clobbered[0]} is an input: it will not be overwritten")
    existing = [o for o in outputs if o.exists()]
    if existing and not overwrite:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise PredictionError(f"{existing[0]}{more} already exist(s): pass --overwrite to replace them")
    return outputs


# ---------------------------------------------------------------------------------------------- outputs


@dataclasses.dataclass
class PredictionSummary:
    """What `predict_files` did: the outputs written, and (input, error message) for each failure."""

    written: list[Path] = dataclasses.field(default_factory=list)
    failed: list[tuple[Path, str]] = dataclasses.field(default_factory=list)


def per_file_errors() -> tuple[type[BaseException], ...]:
    """The errors that fail one input (reported, the others go on) rather than the whole run."""
    return (DataError, OSError, ValueError, tf.errors.OpError)


# Lines of TensorFlow's "Graph execution error" wrapper that say where, not what.
_GRAPH_NOISE = re.compile(r"^(Graph execution error:|Detected at node .*|<stack traces unavailable>|"
                          r"\s*File \".*|\s+\S.*)$")


def error_message(error: BaseException | str) -> str:
    """One line saying what went wrong: a failed graph assertion's own message (TF wraps it in "Graph execution
    error" and a node trace), else an op's own message (its node and function names dropped), else the message's
    first line, else the error type's name."""
    text = error if isinstance(error, str) else str(error)
    assertion = re.search(r"assertion failed: \[(.+?)\]\s*$", text, re.MULTILINE)
    if assertion:
        return assertion.group(1)
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if lines and lines[0].startswith("Graph execution error"):
        meaningful = [line for line in lines[1:] if not _GRAPH_NOISE.match(line)]
        if meaningful:
            return re.sub(r"\s*\[\[\{\{node .*$|\s*\[Op:.*$", "", meaningful[-1]).strip()
    return lines[0] if lines else type(error).__name__


#: how `predict_files` overlaps the photos of a folder (``hrsod predict --overlap``), and what each does.
OVERLAPS = {
    "none": "one photo at a time",
    "files": "the next photo read and decoded, and the last one rendered and written, while the networks run this "
             "one (the networks see one photo at a time)",
    "networks": "two photos in flight from reading to writing, the networks of both at once too",
}
DEFAULT_OVERLAP = "files"


@dataclasses.dataclass
class _Photo:
    """One input on its way through `predict_files`: what each step adds, or the message of the step that failed."""

    source: Path
    target: Path
    image: np.ndarray | None = None
    saliency: np.ndarray | None = None
    written: Path | None = None
    message: str | None = None


def _step(work):
    """`work(photo)` as a step of `predict_files`: skipped for a photo that failed already, and a per-file error
    recorded on the photo (its message) rather than raised, so the others go on."""

    def step(photo: _Photo) -> _Photo:
        if photo.message is None:
            try:
                work(photo)
            except per_file_errors() as err:
                photo.message = error_message(err)
                photo.image = photo.saliency = None  # a failed photo holds no memory while it waits its turn
        return photo

    return step


def _photo_outcomes(predictor: MapPredictor, pairs, output: OutputKind, foreground_estimation: bool, overlap: str,
                    stack: contextlib.ExitStack):
    """The photos of `pairs` read, predicted and written as `overlap` says (`OVERLAPS`), in their order; the
    generators' ends are registered on `stack` (Ctrl-C: the steps running finish, nothing new starts)."""

    def read(photo):
        photo.image = read_image(photo.source, max_pixels=getattr(predictor, "max_image_pixels", None),
                                 how_to_raise=getattr(predictor, "how_to_raise", ""))

    def predict(photo):
        photo.saliency = predictor(photo.image)

    def write(photo):
        photo.written = write_png(photo.target, render(photo.image, photo.saliency, output, foreground_estimation))
        photo.image = photo.saliency = None

    if overlap not in OVERLAPS:
        raise ValueError(f"unknown overlap {overlap!r}; known: {', '.join(OVERLAPS)}")
    read, predict, write = _step(read), _step(predict), _step(write)
    photos = (_Photo(source, target) for source, target in pairs)
    if overlap == "files":  # the networks in this thread, one photo at a time; reading and writing in threads
        decoded = stack.enter_context(contextlib.closing(overlapped_map(read, photos, ahead=1)))
        return stack.enter_context(contextlib.closing(overlapped_map(write, map(predict, decoded), ahead=1)))
    return stack.enter_context(contextlib.closing(overlapped_map(
        lambda photo: write(predict(read(photo))), photos, ahead=1 if overlap == "networks" else 0)))


def predict_files(
    predictor: MapPredictor,
    inputs: Sequence[Path],
    outputs: Sequence[Path],
    output: OutputKind | str = "mask",
    foreground_estimation: bool = True,
    progress: bool = True,
    on_error=None,
    overlap: str = DEFAULT_OVERLAP,
) -> PredictionSummary:
    """Predicts and writes each input's output; a file that fails is recorded and the rest go on.

    Args:
        predictor: a `MapPredictor` (with ``overlap="networks"`` called from two threads at once: it must be
            thread-safe, as `hrsod_tf.load`'s models are). inputs / outputs: from `collect_inputs` / `plan_outputs`.
        output: an `OutputKind` or its text ("mask", "rgba", "green", "color:#RRGGBB", ...).
        foreground_estimation: estimate the object's colour at its edges for cut-outs and composites.
        on_error: optional callable(input_path, message), called for each failure in the inputs' order.
        overlap: a key of `OVERLAPS` (`hrsod_tf.overlap`); whichever, the outputs are the same bytes and the
            failures come in the same order. At most three photos are held at once ("files": one read ahead, one
            in the networks, one being written). Ctrl-C: the steps running end (whole files), nothing new starts.
    """
    output = output if isinstance(output, OutputKind) else OutputKind.parse(output)
    summary = PredictionSummary()
    pairs = list(zip(inputs, outputs))
    with contextlib.ExitStack() as stack:
        photos = _photo_outcomes(predictor, pairs, output, foreground_estimation, overlap, stack)
        for photo in progress_bar(photos, total=len(pairs), desc="predicting", unit="img", enabled=progress):
            if photo.message is None:
                summary.written.append(photo.written)
                continue
            summary.failed.append((photo.source, photo.message))
            if on_error is not None:
                on_error(photo.source, photo.message)
    return summary
