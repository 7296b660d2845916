"""Saliency for video files, one frame at a time: the video side of ``predict.py``.

    clip.mp4 --OpenCV VideoCapture--> frame (RGB) --MapPredictor--> map --prediction.render--> frame out
                                      one frame in memory at a time, whatever the clip's length

Outputs (`plan_video_outputs`), with the input's frame count, frame rate and size:

    mask, overlay   a video through OpenCV's VideoWriter: ``OUT/<stem>.mp4`` (MPEG-4 Part 2, ``mp4v``: small
                    and lossy) or ``OUT/<stem>.avi`` (FFV1: lossless, large), as ``--video-format`` says
    rgba            ``OUT/<stem>/frame_000000.png`` ...: a folder of RGBA PNG frames, since neither container
                    carries an alpha channel through OpenCV

Audio is not carried over (OpenCV reads and writes pictures only). Every output is written under a temporary
name and renamed when complete, so an interrupted run leaves no half video. A file OpenCV cannot open, or one
with no frame, raises `hrsod_tf.image_io.DataError` naming it, as an unreadable image does.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from hrsod_tf.deploy.compositing import render
from hrsod_tf.deploy.prediction import MapPredictor, PredictionError
from hrsod_tf.files import atomic_output
from hrsod_tf.image_io import DataError, is_video_file_name, write_png

__all__ = [
    "VIDEO_FORMATS",
    "VideoInfo",
    "is_video",
    "plan_video_outputs",
    "predict_video",
    "read_frames",
]

VIDEO_FORMATS = {"mp4": "mp4v", "avi": "FFV1"}  # container -> OpenCV fourcc (both in the opencv-python wheels)
DEFAULT_FPS = 25.0  # for streams that do not state their frame rate


def is_video(path) -> bool:
    """True for a file name with a video extension (`hrsod_tf.image_io.VIDEO_EXTENSIONS`, case-insensitive)."""
    return is_video_file_name(Path(path).name)


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What the container says: frame count (may be an estimate, 0 if unknown), frames per second, size in px."""

    frame_count: int
    fps: float
    width: int
    height: int


def _open(path) -> tuple[cv2.VideoCapture, VideoInfo]:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise DataError(f"cannot decode {path}: OpenCV cannot open it as a video. The file is corrupt, truncated "
                        "or not a video: download or export it again.")
    fps = capture.get(cv2.CAP_PROP_FPS)
    info = VideoInfo(
        frame_count=max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0),
        fps=float(fps) if fps and np.isfinite(fps) and fps > 0 else DEFAULT_FPS,
        width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
    )
    return capture, info


def read_frames(path) -> Iterator[np.ndarray]:
    """The frames of a video, one at a time, as uint8 [H, W, 3] RGB.

    Raises:
        DataError: OpenCV cannot open the file, or it has no frame.
    """
    capture, _ = _open(path)
    try:
        count = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            count += 1
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        if count == 0:
            raise DataError(f"cannot decode {path}: it holds no video frame. Check the file plays, or export it again.")
    finally:
        capture.release()


# ---------------------------------------------------------------------------------------------- outputs


def _output_path(source: Path, out_dir: Path, mode: str, video_format: str) -> Path:
    return out_dir / source.stem if mode == "rgba" else out_dir / f"{source.stem}.{video_format}"


def plan_video_outputs(inputs: Sequence[Path], out_dir, mode: str = "mask", video_format: str = "mp4",
                       overwrite: bool = False) -> list[Path]:
    """The output of each input video: ``OUT/<stem>.<video_format>``, or the frame folder ``OUT/<stem>/`` for
    ``rgba``, after checking that writing them is safe.

    Raises:
        PredictionError: an unknown mode or format; `out_dir` holds inputs; two inputs would write one output;
            an output exists and not `overwrite`.
    """
    if str(mode) not in ("mask", "rgba", "overlay"):
        raise PredictionError(f"videos take the outputs mask, rgba and overlay, not {mode}")
    if video_format not in VIDEO_FORMATS:
        raise PredictionError(f"unknown video format {video_format!r}; expected one of {', '.join(VIDEO_FORMATS)}")
    out_dir = Path(out_dir)
    if out_dir.resolve() in {p.parent.resolve() for p in inputs}:
        raise PredictionError(f"--out {out_dir} holds input videos: choose another folder, so no input is overwritten")
    outputs = [_output_path(p, out_dir, mode, video_format) for p in inputs]
    if len(set(outputs)) != len(outputs):
        clashes = sorted({o.name for o in outputs if outputs.count(o) > 1})
        raise PredictionError(f"several input videos would write {', '.join(clashes[:5])}: "
                              "run them into separate --out folders")
    existing = [o for o in outputs if o.exists()]
    if existing and not overwrite:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise PredictionError(f"{existing[0]}{more} already exist(s): pass --overwrite to replace them")
    return outputs


class _AtomicOutput:
    """Writes into `atomic_output(target)`: `commit` renames the temporary output into place, `abort` deletes it."""

    def __init__(self, target: Path, directory: bool = False):
        self.target = target
        self._output = contextlib.ExitStack()
        self.temporary = self._output.enter_context(atomic_output(target, directory=directory))

    def commit(self) -> None:
        self._close()
        self._output.close()

    def abort(self) -> None:
        self._close()
        self._output.__exit__(RuntimeError, RuntimeError("aborted"), None)

    def _close(self) -> None:
        pass


class _VideoWriter(_AtomicOutput):
    """Writes frames into a temporary video beside `target` (its extension picks the container)."""

    def __init__(self, target: Path, fps: float):
        super().__init__(target)
        self.fps = fps
        self.writer = None

    def _open(self, picture: np.ndarray) -> cv2.VideoWriter:
        # Sized from the first frame, not the container's header: OpenCV turns frames by the rotation metadata
        # of phone videos, and a writer of another size would silently drop every frame.
        fourcc = VIDEO_FORMATS[self.target.suffix.lstrip(".")]
        height, width = picture.shape[:2]
        writer = cv2.VideoWriter(str(self.temporary), cv2.VideoWriter_fourcc(*fourcc), self.fps, (width, height),
                                 isColor=picture.ndim == 3)
        if not writer.isOpened():
            raise OSError(f"OpenCV cannot write {fourcc} video to {self.temporary}")
        return writer

    def write(self, picture: np.ndarray) -> None:
        if self.writer is None:
            self.writer = self._open(picture)
        self.writer.write(picture if picture.ndim == 2 else cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))

    def _close(self) -> None:
        if self.writer is not None:
            self.writer.release()


class _FrameFolderWriter(_AtomicOutput):
    """Writes ``frame_NNNNNN.png`` into a temporary folder beside `target` (an existing one is replaced)."""

    def __init__(self, target: Path):
        super().__init__(target, directory=True)
        self.count = 0

    def write(self, picture: np.ndarray) -> None:
        write_png(self.temporary / f"frame_{self.count:06d}.png", picture)
        self.count += 1


def predict_video(predictor: MapPredictor, source, target, mode: str = "mask", progress: bool = True) -> int:
    """Predicts every frame of `source` and writes `target` (from `plan_video_outputs`); returns the frame count.

    Each frame runs through `predictor` and `hrsod_tf.deploy.prediction.render`, as a photo does. Memory holds one
    frame at a time. The progress bar counts frames (its total is the container's frame count, an estimate for
    some formats).

    Raises:
        DataError: the video cannot be opened or has no frame. OSError: the output cannot be written.
    """
    source, target = Path(source), Path(target)
    capture, info = _open(source)
    capture.release()
    writer = _FrameFolderWriter(target) if mode == "rgba" else _VideoWriter(target, info.fps)
    frames = 0
    try:
        with tqdm(total=info.frame_count or None, desc=source.name, unit="frame", disable=not progress) as bar:
            for frame in read_frames(source):
                writer.write(render(frame, predictor(frame), mode))
                frames += 1
                bar.update(1)
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return frames
