"""predict.py on video files (hrsod_tf.deploy.video): same frame count, frame rate and size; every frame is the
per-image prediction of the decoded frame; rgba as PNG frames; clear errors for unreadable or empty videos."""

import inspect

import cv2
import numpy as np
import pytest
from helpers import load_script

from hrsod_tf.deploy import prediction, video
from hrsod_tf.deploy.model_loading import load_predictor

pytestmark = pytest.mark.slow  # every test here trains, exports, or runs a subprocess or a video

FPS, WIDTH, HEIGHT, FRAMES = 12.5, 56, 40, 9


def _clip(path, fourcc="FFV1", frames=FRAMES):
    """A short clip: a bright square moving over a gradient (lossless FFV1 unless told otherwise)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, (WIDTH, HEIGHT))
    assert writer.isOpened()
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    for index in range(frames):
        frame = np.stack([x * 4, y * 5, np.full_like(x, 60)], -1).astype(np.uint8)
        frame[10:26, 4 + 4 * index:20 + 4 * index] = (40, 220, 250)
        writer.write(frame)
    writer.release()
    return path


def _decoded(path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    info = (capture.get(cv2.CAP_PROP_FPS), int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    capture.release()
    return frames, info


@pytest.fixture(scope="module")
def predictor(tiny_saved_model):
    return load_predictor(tiny_saved_model)


def _predict(tiny_saved_model, *args):
    return load_script("predict.py").main([*map(str, args), "--saved-model", str(tiny_saved_model), "--no-progress"])


def test_lossless_mask_video_has_the_clips_frames_rate_and_size_and_each_frame_is_the_per_image_mask(
        tiny_saved_model, predictor, tmp_path):
    clip = _clip(tmp_path / "in" / "clip.avi")
    assert _predict(tiny_saved_model, clip, "--out", tmp_path / "out", "--video-format", "avi") == 0
    written, (fps, width, height) = _decoded(tmp_path / "out" / "clip.avi")
    assert (len(written), fps, width, height) == (FRAMES, FPS, WIDTH, HEIGHT)
    for frame, out in zip(video.read_frames(clip), written):
        expected = prediction.render(frame, predictor(frame), "mask")
        np.testing.assert_array_equal(out[..., 0], expected)  # FFV1 is lossless: exactly the per-image mask
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["clip.avi"], "a temporary file was left"


def test_rgba_writes_one_png_frame_per_video_frame(tiny_saved_model, predictor, tmp_path):
    clip = _clip(tmp_path / "in" / "clip.avi")
    assert _predict(tiny_saved_model, clip, "--out", tmp_path / "out", "--output", "rgba") == 0
    frames = sorted((tmp_path / "out" / "clip").iterdir())
    assert [p.name for p in frames] == [f"frame_{i:06d}.png" for i in range(FRAMES)]
    for frame, path in zip(video.read_frames(clip), frames):
        written = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), cv2.COLOR_BGRA2RGBA)
        np.testing.assert_array_equal(written, prediction.render(frame, predictor(frame), "rgba"))


def test_overlay_mp4_keeps_frame_count_rate_and_size(tiny_saved_model, predictor, tmp_path):
    clip = _clip(tmp_path / "in" / "clip.mp4", fourcc="mp4v")
    assert _predict(tiny_saved_model, clip, "--out", tmp_path / "out", "--output", "overlay") == 0
    written, (fps, width, height) = _decoded(tmp_path / "out" / "clip.mp4")
    assert (len(written), fps, width, height) == (FRAMES, FPS, WIDTH, HEIGHT)
    # mp4v is lossy (and these small noisy frames are its worst case): each written frame is close to its
    # per-image overlay, and closer to it than to the untinted frame.
    for frame, out in zip(video.read_frames(clip), written):
        expected = prediction.render(frame, predictor(frame), "overlay").astype(int)
        out = cv2.cvtColor(out, cv2.COLOR_BGR2RGB).astype(int)
        error = np.abs(out - expected).mean()
        assert error < 20
        assert error < np.abs(out - frame.astype(int)).mean()


def test_unreadable_and_empty_videos_are_named_and_the_others_written(tiny_saved_model, tmp_path, capsys):
    _clip(tmp_path / "in" / "good.avi", frames=2)
    (tmp_path / "in" / "broken.mp4").write_bytes(b"this is not a video" * 20)
    _clip(tmp_path / "in" / "empty.avi", frames=0)
    status = _predict(tiny_saved_model, tmp_path / "in", "--out", tmp_path / "out", "--video-format", "avi")
    assert status == 1
    err = capsys.readouterr().err
    assert "broken.mp4: cannot decode" in err and "empty.avi: cannot decode" in err and "Traceback" not in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.avi"]


def test_existing_video_outputs_are_refused_unless_overwrite(tmp_path):
    clip = _clip(tmp_path / "in" / "clip.avi", frames=1)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "clip.mp4").write_bytes(b"earlier result")
    with pytest.raises(prediction.PredictionError, match="--overwrite"):
        video.plan_video_outputs([clip], tmp_path / "out")
    assert video.plan_video_outputs([clip], tmp_path / "out", overwrite=True) == [tmp_path / "out" / "clip.mp4"]
    assert video.plan_video_outputs([clip], tmp_path / "out", "rgba") == [tmp_path / "out" / "clip"]
    with pytest.raises(prediction.PredictionError, match="holds input videos"):
        video.plan_video_outputs([clip], tmp_path / "in")


def test_frames_are_read_one_at_a_time(tmp_path):
    frames = video.read_frames(_clip(tmp_path / "clip.avi"))
    assert inspect.isgenerator(frames)
    first = next(frames)  # a generator: nothing beyond the first frame has been decoded
    assert first.shape == (HEIGHT, WIDTH, 3) and first.dtype == np.uint8
    assert sum(1 for _ in frames) == FRAMES - 1


def test_a_broken_video_is_one_error_line_without_ffmpegs_log_lines(tmp_path, capfd):
    from hrsod_tf.image_io import DataError

    path = tmp_path / "broken.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    with pytest.raises(DataError, match="cannot decode .*broken.mp4"):
        list(video.read_frames(path))
    err = capfd.readouterr().err
    assert "moov atom" not in err and "@ 0x" not in err
