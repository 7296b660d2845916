"""The video containers `hrsod predict` writes, and the checks made before any video is opened.

Kept apart from `hrsod_tf.deploy.video` (which needs PyAV, the video extra) so that the command line can list
the formats, tell videos from images and plan every output without it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from hrsod_tf.deploy.compositing import OutputKind
from hrsod_tf.image_io import is_video_file_name

__all__ = ["VIDEO_FORMATS", "VideoFormat", "default_video_format", "is_video", "plan_video_outputs"]


@dataclasses.dataclass(frozen=True)
class VideoFormat:
    """A container and how pictures and sound go into it.

    Attributes:
        codec / pixel_format / options: the video encoder, its pixel format and options without alpha;
        alpha_pixel_format / alpha_options: the same with alpha (None: the format carries no alpha).
        gray_pixel_format: the pixel format of masks, when it is not `pixel_format` (FFV1 keeps gray exactly).
        audio_copy: audio codecs the container takes as they are; audio_codec: what other audio becomes.
    """

    codec: str
    pixel_format: str
    options: dict
    alpha_pixel_format: str | None
    alpha_options: dict | None
    audio_copy: tuple[str, ...]
    audio_codec: str
    gray_pixel_format: str | None = None


VIDEO_FORMATS = {
    "mp4": VideoFormat("libx264", "yuv420p", {"crf": "18", "preset": "medium"}, None, None,
                       ("aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"), "aac"),
    "webm": VideoFormat("libvpx-vp9", "yuv420p", {"crf": "30", "b": "0", "row-mt": "1", "cpu-used": "4"},
                        "yuva420p", {"crf": "30", "b": "0", "row-mt": "1", "cpu-used": "4", "auto-alt-ref": "0"},
                        ("opus", "vorbis"), "libopus"),
    "mov": VideoFormat("prores_ks", "yuv422p10le", {"profile": "3"}, "yuva444p10le", {"profile": "4"},
                       ("aac", "mp3", "alac", "pcm_s16le", "pcm_s24le", "pcm_f32le", "ac3"), "aac"),
    "mkv": VideoFormat("ffv1", "yuv420p", {"level": "3"}, "yuva420p", {"level": "3"},
                       ("aac", "mp3", "opus", "vorbis", "flac", "ac3", "eac3", "alac", "pcm_s16le"), "flac", "gray"),
}


def is_video(path) -> bool:
    """True for a file name with a video extension (`hrsod_tf.image_io.VIDEO_EXTENSIONS`, case-insensitive)."""
    return is_video_file_name(Path(path).name)


def default_video_format(output: OutputKind) -> str:
    """webm for ``rgba`` (a transparent video browsers play), mp4 for everything else."""
    return "webm" if output.has_alpha else "mp4"


def plan_video_outputs(inputs: Sequence[Path], out_dir, output: OutputKind, video_format: str | None = None,
                       overwrite: bool = False) -> list[Path]:
    """The output of each input video, ``OUT/<stem>.<video_format>``, after checking that writing them is safe.

    Args:
        video_format: a key of `VIDEO_FORMATS`, or None for `default_video_format`.
    Raises:
        ValueError: an unknown format, or ``rgba`` into a format without alpha; `out_dir` holds inputs; two
            inputs would write one output; an output exists and not `overwrite`.
    """
    video_format = video_format or default_video_format(output)
    if video_format not in VIDEO_FORMATS:
        raise ValueError(f"unknown video format {video_format!r}; expected one of {', '.join(VIDEO_FORMATS)}")
    if output.has_alpha and VIDEO_FORMATS[video_format].alpha_pixel_format is None:
        alpha = [name for name, fmt in VIDEO_FORMATS.items() if fmt.alpha_pixel_format]
        raise ValueError(f"--output rgba needs a video format with alpha ({', '.join(alpha)}); "
                         f"{video_format} has none")
    out_dir = Path(out_dir)
    if out_dir.resolve() in {p.parent.resolve() for p in inputs}:
        raise ValueError(f"--out {out_dir} holds input videos: choose another folder, so no input is overwritten")
    outputs = [out_dir / f"{p.stem}.{video_format}" for p in inputs]
    if len(set(outputs)) != len(outputs):
        clashes = sorted({o.name for o in outputs if outputs.count(o) > 1})
        raise ValueError(f"several input videos would write {', '.join(clashes[:5])}: "
                         "run them into separate --out folders")
    existing = [o for o in outputs if o.exists()]
    if existing and not overwrite:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise ValueError(f"{existing[0]}{more} already exist(s): pass --overwrite to replace them")
    return outputs
