"""Saliency for video files, one frame at a time, through PyAV (FFmpeg's libraries, shipped in its wheels).

    clip --PyAV decode--> frame (RGB, turned upright) --MapPredictor--> map --temporal.smooth_maps-->
         --compositing.render--> frame out --PyAV encode--> OUT/<stem>.<format>, with the clip's audio

Memory holds a frame or two at a time, whatever the clip's length. Every output keeps the input's frame count,
the time of every frame (so its frame rate, variable or not) and its size, and carries its audio: copied as it is
when the container accepts the codec, else re-encoded (Opus in WebM, AAC in MP4 and MOV, FLAC in MKV).

Containers (`VIDEO_FORMATS`, ``--video-format``):

    mp4    H.264 (libx264, CRF 18, yuv420p): plays everywhere; no alpha
    webm   VP9 (libvpx-vp9, CRF 30); with ``--output rgba`` yuva420p: a transparent video browsers play
    mov    ProRes 4444 (prores_ks, yuva444p10le) with alpha, ProRes 422 HQ without: for video editors
    mkv    FFV1 (lossless; with alpha for rgba): for further processing

``rgba`` needs webm, mov or mkv (the default for it is webm); other outputs default to mp4. An output is written
under a temporary name and renamed when complete, so an interrupted run leaves no half video. A file FFmpeg
cannot open, or one with no video frame, raises `hrsod_tf.image_io.DataError` naming it, as a bad image does.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from hrsod_tf.deploy.compositing import OutputKind, render
from hrsod_tf.deploy.prediction import MapPredictor
from hrsod_tf.deploy.temporal import DEFAULT_METHOD, smooth_maps
from hrsod_tf.deploy.video_formats import (
    VIDEO_FORMATS,
    VideoFormat,
    default_video_format,
    is_video,
    plan_video_outputs,
)
from hrsod_tf.files import atomic_output
from hrsod_tf.image_io import DataError
from hrsod_tf.progress import progress_bar

__all__ = [
    "VIDEO_FORMATS",
    "VideoFormat",
    "VideoInfo",
    "default_video_format",
    "is_video",
    "plan_video_outputs",
    "predict_video",
    "read_frames",
    "video_info",
]

DEFAULT_FPS = Fraction(25)  # for streams that do not state their frame rate


_ALPHA_DECODERS = {"vp9": "libvpx-vp9", "vp8": "libvpx"}  # FFmpeg's own VP8/VP9 decoders drop WebM's alpha
_AUDIO_RATES = {"libopus": (48000, 24000, 16000, 12000, 8000)}  # encoders that take only some sample rates


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What the container says: frame count (0 if it does not say), frames per second, coded size in px (before
    any display rotation), the audio codec (None: no audio)."""

    frame_count: int
    fps: Fraction
    width: int
    height: int
    audio_codec: str | None


def _open(path) -> av.container.InputContainer:
    try:
        container = av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError) as err:
        raise DataError(f"cannot decode {path}: FFmpeg cannot open it as a video ({err}). The file is corrupt, "
                        "truncated or not a video: download or export it again.") from None
    if not container.streams.video:
        container.close()
        raise DataError(f"cannot decode {path}: it holds no video stream. Check the file plays, or export it again.")
    return container


def video_info(path) -> VideoInfo:
    """The container's description of the video at `path`. Raises DataError if FFmpeg cannot open it."""
    with _open(path) as container:
        stream = container.streams.video[0]
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
        return VideoInfo(int(stream.frames or 0), stream.average_rate or stream.guessed_rate or DEFAULT_FPS,
                         stream.codec_context.width, stream.codec_context.height, audio)


def _upright(frame: av.VideoFrame, picture: np.ndarray) -> np.ndarray:
    turns = round((frame.rotation or 0) / 90) % 4  # phone videos: stored sideways, with a display rotation
    return np.ascontiguousarray(np.rot90(picture, turns)) if turns else picture


def _decoded_frames(path, with_alpha: bool = False) -> Iterator[av.VideoFrame]:
    with _open(path) as container:
        stream = container.streams.video[0]
        decoder = _ALPHA_DECODERS.get(stream.codec_context.name) if with_alpha else None
        count = 0
        try:
            if decoder is None:
                for frame in container.decode(stream):
                    count += 1
                    yield frame
            else:
                context = av.CodecContext.create(decoder, "r")
                for packet in container.demux(stream):
                    for frame in context.decode(packet):
                        count += 1
                        yield frame
        except av.FFmpegError as err:
            raise DataError(f"cannot decode {path} after {count} frame(s): {err}. The file is corrupt or "
                            "truncated: download or export it again.") from None
        if count == 0:
            raise DataError(f"cannot decode {path}: it holds no video frame. Check the file plays, or export it again.")


def read_frames(path, with_alpha: bool = False) -> Iterator[np.ndarray]:
    """The frames of a video, one at a time, upright (display rotation applied), as uint8 [H, W, 3] RGB, or
    [H, W, 4] RGBA with `with_alpha` (the alpha plane of WebM VP9 and MOV ProRes 4444; 255 where there is none).

    Raises:
        DataError: FFmpeg cannot open or decode the file, or it has no video frame.
    """
    for frame in _decoded_frames(path, with_alpha):
        yield _upright(frame, frame.to_ndarray(format="rgba" if with_alpha else "rgb24"))


# ---------------------------------------------------------------------------------------------- outputs


class _AudioCarrier:
    """The input's first audio stream, copied or re-encoded into the output, interleaved with the pictures."""

    def __init__(self, source, output: av.container.OutputContainer, video_format: VideoFormat):
        self.input = av.open(str(source))
        self.output = output
        stream = self.input.streams.audio[0]
        self.copy = stream.codec_context.name in video_format.audio_copy
        if self.copy:
            self.stream = output.add_stream_from_template(stream)
        else:
            codec = video_format.audio_codec
            rates = _AUDIO_RATES.get(codec)
            rate = stream.rate if rates is None or stream.rate in rates else rates[0]
            self.stream = output.add_stream(codec, rate=rate)
            self.stream.layout = stream.layout if stream.layout.nb_channels <= 2 else "stereo"
        self.packets = self.input.demux(stream)
        self.pending = None  # a demuxed packet not muxed yet (it belongs after the current picture)

    def _mux(self, packet: av.Packet) -> None:
        if self.copy:
            packet.stream = self.stream
            self.output.mux(packet)
        else:
            for frame in packet.decode():
                frame.pts = None  # the encoder numbers samples itself
                self.output.mux(self.stream.encode(frame))

    def until(self, seconds: float | None) -> None:
        """Muxes the audio up to `seconds` (None: all of it)."""
        while True:
            packet = self.pending if self.pending is not None else next(self.packets, None)
            self.pending = None
            if packet is None:
                return
            if packet.dts is None and packet.size == 0:  # the demuxer's final empty packet
                continue
            if seconds is not None and packet.pts is not None and float(packet.pts * packet.time_base) > seconds:
                self.pending = packet
                return
            self._mux(packet)

    def close(self) -> None:
        self.until(None)
        if not self.copy:
            self.output.mux(self.stream.encode(None))
        self.input.close()


class _VideoWriter:
    """Encodes pictures (and the source's audio) into `path`; `close` flushes the encoders and the file."""

    def __init__(self, source: Path, path: Path, video_format: str, alpha: bool, rate: Fraction,
                 time_base: Fraction | None, has_audio: bool):
        self.source, self.alpha, self.rate, self.time_base, self.has_audio = source, alpha, rate, time_base, has_audio
        self.format = VIDEO_FORMATS[video_format]
        self.container = av.open(str(path), "w", format={"mkv": "matroska"}.get(video_format, video_format))
        self.stream = None
        self.audio = None

    def _open_stream(self, width: int, height: int, gray: bool) -> None:
        # Sized from the first picture, not the container's header: a rotated phone video is turned upright.
        fmt = self.format
        options = fmt.alpha_options if self.alpha else fmt.options
        self.stream = self.container.add_stream(fmt.codec, rate=self.rate, options=dict(options))
        self.stream.width, self.stream.height = width, height
        self.stream.pix_fmt = (fmt.alpha_pixel_format if self.alpha
                               else fmt.gray_pixel_format or fmt.pixel_format if gray else fmt.pixel_format)
        if self.time_base is not None:
            self.stream.codec_context.time_base = self.time_base
        if self.alpha and fmt.codec == "libvpx-vp9":
            self.stream.metadata["alpha_mode"] = "1"  # WebM's flag that the stream carries alpha
        if self.has_audio:
            self.audio = _AudioCarrier(self.source, self.container, fmt)

    def write(self, picture: np.ndarray, pts: int | None, seconds: float | None) -> None:
        if self.stream is None:
            self._open_stream(picture.shape[1], picture.shape[0], picture.ndim == 2)
        layout = "gray" if picture.ndim == 2 else {3: "rgb24", 4: "rgba"}[picture.shape[2]]
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format=layout)
        frame.pts = pts
        if self.time_base is not None:
            frame.time_base = self.time_base
        if self.audio is not None:
            self.audio.until(seconds)
        self.container.mux(self.stream.encode(frame))

    def close(self) -> None:
        """Flushes the encoders (the rest of the audio too) and closes the file."""
        self.container.mux(self.stream.encode(None))
        if self.audio is not None:
            self.audio.close()
        self.container.close()

    def abandon(self) -> None:
        """Closes what is open after an error (the file is deleted by `atomic_output`)."""
        if self.audio is not None:
            self.audio.input.close()
        try:
            self.container.close()
        except (av.FFmpegError, ValueError):  # an encoder that never started cannot be flushed
            pass


def predict_video(predictor: MapPredictor, source, target, output: OutputKind | str = "mask",
                  video_format: str | None = None, foreground_estimation: bool = True,
                  temporal: str = DEFAULT_METHOD, progress: bool = True) -> int:
    """Predicts every frame of `source` and writes `target` (from `plan_video_outputs`); returns the frame count.

    Each frame runs through `predictor` (image uint8 [H, W, 3] -> map float [H, W, 1]), `temporal.smooth_maps`
    (`temporal`: "none", "ema" or "ofd") and `compositing.render`, as a photo does. The progress bar counts
    frames (its total is the container's frame count, when it states one).

    Raises:
        DataError: the video cannot be opened or has no frame. hrsod_tf.files.WriteError / av.FFmpegError: the
        output cannot be written (nothing is left at `target`, or what was there stays).
    """
    source, target = Path(source), Path(target)
    output = output if isinstance(output, OutputKind) else OutputKind.parse(output)
    video_format = video_format or target.suffix.lstrip(".")
    info = video_info(source)
    with _open(source) as probe:
        time_base = probe.streams.video[0].time_base
    stamps: collections.deque[tuple[int | None, float | None]] = collections.deque()  # of frames not written yet

    def pairs():
        for frame in _decoded_frames(source):
            stamps.append((frame.pts, None if frame.time is None else float(frame.time)))
            picture = _upright(frame, frame.to_ndarray(format="rgb24"))
            yield picture, predictor(picture)

    frames = 0
    with atomic_output(target) as temporary:
        writer = _VideoWriter(source, temporary, video_format, output.has_alpha, info.fps, time_base,
                              info.audio_codec is not None)
        try:
            with progress_bar(total=info.frame_count or None, desc=source.name, unit="frame",
                              enabled=progress) as bar:
                for picture, saliency in smooth_maps(pairs(), temporal):
                    pts, seconds = stamps.popleft()
                    writer.write(render(picture, saliency, output, foreground_estimation), pts, seconds)
                    frames += 1
                    bar.update(1)
            writer.close()
        except av.FFmpegError as err:  # an encoder or muxer failed: the output's error, named as such
            writer.abandon()
            raise OSError(f"FFmpeg cannot write {video_format} video: {err}") from err
        except BaseException:
            writer.abandon()
            raise
    return frames
