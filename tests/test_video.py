"""Videos through PyAV (hrsod_tf.deploy.video): every output decoded again keeps the clip's frame count, frame
rate, size and sound; RGBA videos (WebM VP9, MOV ProRes 4444, MKV FFV1) carry a real alpha plane; each frame is
the per-image rendering of the decoded frame; unreadable videos are named."""

import inspect
from fractions import Fraction

import av
import numpy as np
import pytest
from helpers import command_module

from hrsod_tf.deploy import video
from hrsod_tf.deploy.compositing import OutputKind, render
from hrsod_tf.image_io import DataError

RATE, WIDTH, HEIGHT, FRAMES, SAMPLE_RATE = Fraction(25, 2), 64, 48, 9, 44100


def _clip(path, frames=FRAMES, audio=True):
    """A short H.264 clip (as phones write them): a bright square moving over a gradient, with a 440 Hz tone
    lasting as long as the pictures (AAC)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=RATE)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        sound = container.add_stream("aac", rate=SAMPLE_RATE) if audio else None
        y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
        for index in range(frames):
            frame = np.stack([x * 4, y * 5, np.full_like(x, 60)], -1).astype(np.uint8)
            frame[10:30, 4 + 4 * index:24 + 4 * index] = (40, 220, 250)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
        if sound is not None:
            samples = int(SAMPLE_RATE * frames / RATE)
            tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / SAMPLE_RATE)).astype(np.float32)
            for start in range(0, samples, 1024):
                chunk = av.AudioFrame.from_ndarray(tone[None, start:start + 1024], format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts = SAMPLE_RATE, start
                container.mux(sound.encode(chunk))
            container.mux(sound.encode(None))
    return path


def _square_predictor(image):
    """A stand-in network: the bright square is salient (its edge soft), the rest not."""
    bright = (image[..., 2] > 150).astype(np.float32)
    return bright[..., None]


def _decoded(path):
    """(frames RGBA, frame rate, audio seconds or None) of a written video."""
    frames = list(video.read_frames(path, with_alpha=True))
    with av.open(str(path)) as container:
        rate = container.streams.video[0].average_rate
        seconds = None
        if container.streams.audio:
            stream = container.streams.audio[0]
            seconds = sum(f.samples for f in container.decode(stream)) / stream.rate
    return frames, rate, seconds


def _write(clip, out, output, video_format, **kwargs):
    target = video.plan_video_outputs([clip], out, OutputKind.parse(output), video_format)[0]
    count = video.predict_video(_square_predictor, clip, target, output, video_format, progress=False, **kwargs)
    assert count == FRAMES
    assert sorted(p.name for p in out.iterdir()) == [target.name], "a temporary file was left"
    return target


@pytest.mark.parametrize("video_format", ["webm", "mov", "mkv"])
def test_rgba_video_has_an_alpha_plane_the_clips_frames_rate_and_sound(tmp_path, video_format):
    clip = _clip(tmp_path / "in" / "clip.mp4")
    target = _write(clip, tmp_path / "out", "rgba", video_format, temporal="none")
    frames, rate, seconds = _decoded(target)
    assert (len(frames), rate) == (FRAMES, RATE)
    assert seconds == pytest.approx(FRAMES / RATE, abs=0.05)
    for source, written in zip(video.read_frames(clip), frames):
        assert written.shape == (HEIGHT, WIDTH, 4)
        expected = render(source, _square_predictor(source), "rgba")
        alpha_error = np.abs(written[..., 3].astype(int) - expected[..., 3])
        assert alpha_error.mean() < 3  # lossy codecs (VP9, ProRes) round the alpha plane a little
        alpha = written[..., 3]
        assert alpha[expected[..., 3] == 0].max() < 40 and alpha[expected[..., 3] == 255].min() > 215


def test_lossless_mask_video_is_exactly_the_per_image_mask(tmp_path):
    clip = _clip(tmp_path / "in" / "clip.mp4")
    target = _write(clip, tmp_path / "out", "mask", "mkv", temporal="none")
    with av.open(str(target)) as container:
        written = [f.to_ndarray(format="gray") for f in container.decode(video=0)]
    assert len(written) == FRAMES
    for source, out in zip(video.read_frames(clip), written):
        np.testing.assert_array_equal(out, render(source, _square_predictor(source), "mask"))


@pytest.mark.parametrize("output,video_format", [("green", "mp4"), ("blur", "webm"), ("color:#ff8000", "mov")])
def test_composite_videos_keep_frames_rate_size_and_sound(tmp_path, output, video_format):
    clip = _clip(tmp_path / "in" / "clip.mp4")
    target = _write(clip, tmp_path / "out", output, video_format)
    frames, rate, seconds = _decoded(target)
    assert (len(frames), rate, frames[0].shape) == (FRAMES, RATE, (HEIGHT, WIDTH, 4))
    assert seconds == pytest.approx(FRAMES / RATE, abs=0.05)
    if output == "green":  # the background is green screen, the object is still there
        assert np.abs(frames[0][44, 60, :3].astype(int) - (0, 177, 64)).max() < 12
        assert frames[0][20, 10, 2] > 150


def test_a_clip_without_sound_gives_a_video_without_sound(tmp_path):
    clip = _clip(tmp_path / "in" / "silent.mp4", audio=False)
    frames, rate, seconds = _decoded(_write(clip, tmp_path / "out", "rgba", "webm"))
    assert (len(frames), rate, seconds) == (FRAMES, RATE, None)


def test_rgba_needs_a_format_with_alpha_and_outputs_are_not_overwritten(tmp_path):
    clip = _clip(tmp_path / "in" / "clip.mp4", frames=1)
    rgba = OutputKind.parse("rgba")
    with pytest.raises(ValueError, match="needs a video format with alpha"):
        video.plan_video_outputs([clip], tmp_path / "out", rgba, "mp4")
    assert video.plan_video_outputs([clip], tmp_path / "out", rgba) == [tmp_path / "out" / "clip.webm"]
    assert video.plan_video_outputs([clip], tmp_path / "out", OutputKind.parse("green")) == [
        tmp_path / "out" / "clip.mp4"]
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "clip.webm").write_bytes(b"earlier result")
    with pytest.raises(ValueError, match="--overwrite"):
        video.plan_video_outputs([clip], tmp_path / "out", rgba)
    assert video.plan_video_outputs([clip], tmp_path / "out", rgba, overwrite=True) == [tmp_path / "out" / "clip.webm"]
    with pytest.raises(ValueError, match="holds input videos"):
        video.plan_video_outputs([clip], tmp_path / "in", rgba)


def test_frames_are_read_one_at_a_time(tmp_path):
    frames = video.read_frames(_clip(tmp_path / "clip.mp4"))
    assert inspect.isgenerator(frames)
    first = next(frames)  # a generator: nothing beyond the first frame has been decoded
    assert first.shape == (HEIGHT, WIDTH, 3) and first.dtype == np.uint8
    assert sum(1 for _ in frames) == FRAMES - 1


def test_a_broken_video_is_one_error_line_without_ffmpegs_log_lines(tmp_path, capfd):
    path = tmp_path / "broken.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    with pytest.raises(DataError, match="cannot decode .*broken.mp4"):
        list(video.read_frames(path))
    err = capfd.readouterr().err
    assert "moov atom" not in err and "@ 0x" not in err


@pytest.mark.slow  # exports a tiny model (tiny_saved_model) and runs predict.py
def test_predict_py_writes_a_transparent_webm_with_the_clips_sound_and_names_bad_videos(
        tiny_saved_model, tmp_path, capsys):
    _clip(tmp_path / "in" / "good.mp4", frames=3)
    (tmp_path / "in" / "broken.mp4").write_bytes(b"this is not a video" * 20)
    status = command_module("predict").main([str(tmp_path / "in"), "--saved-model", str(tiny_saved_model), "--out",
                                             str(tmp_path / "out"), "--output", "rgba", "--no-progress"])
    assert status == 1
    err = capsys.readouterr().err
    assert "broken.mp4: cannot decode" in err and "Traceback" not in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.webm"]
    frames, rate, seconds = _decoded(tmp_path / "out" / "good.webm")
    assert (len(frames), rate, frames[0].shape) == (3, RATE, (HEIGHT, WIDTH, 4))
    assert seconds == pytest.approx(3 / RATE, abs=0.05)


def test_a_phone_clip_stored_sideways_is_read_and_written_upright(tmp_path):
    path = tmp_path / "in" / "phone.mkv"
    path.parent.mkdir()
    stored = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    stored[:8, :8] = 255  # a marker in the stored picture's top-left corner
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=RATE)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv444p"
        stream.set_display_rotation(90)  # shown turned 90 degrees counter-clockwise, as phones record portrait
        for _ in range(2):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(stored, format="rgb24")))
        container.mux(stream.encode(None))
    upright = next(video.read_frames(path))
    assert upright.shape == (WIDTH, HEIGHT, 3)
    assert upright[-4, 4].min() > 200 and upright[4, 4].max() < 50  # top-left turned to bottom-left
    frames, _, _ = _decoded(_write_two(path, tmp_path / "out"))
    assert frames[0].shape == (WIDTH, HEIGHT, 4)


def _write_two(clip, out):
    target = video.plan_video_outputs([clip], out, OutputKind.parse("mask"))[0]
    assert video.predict_video(_square_predictor, clip, target, "mask", progress=False) == 2
    return target
