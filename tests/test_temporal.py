"""hrsod_tf.deploy.temporal: the temporal step keeps the frame count and order, calms flicker where the picture
is still, follows motion, and dtSSD is RobustVideoMatting's."""

import numpy as np
import pytest

from hrsod_tf.deploy.temporal import TEMPORAL_METHODS, dtssd, smooth_maps


def _still_clip(frames=10, seed=0):
    """A still picture whose maps flicker: the truth is a square, each map adds independent noise."""
    rng = np.random.default_rng(seed)
    picture = rng.integers(0, 255, (32, 48, 3), np.uint8)
    truth = np.zeros((32, 48, 1), np.float32)
    truth[8:24, 12:36] = 1
    maps = [np.clip(truth + rng.normal(0, 0.15, truth.shape), 0, 1).astype(np.float32) for _ in range(frames)]
    return [picture] * frames, maps, truth


def _flicker(maps, truth):
    return np.mean([dtssd(maps[i], maps[i - 1], truth, truth) for i in range(1, len(maps))])


@pytest.mark.parametrize("method", TEMPORAL_METHODS)
def test_every_method_yields_each_frame_once_in_order(method):
    frames, maps, _ = _still_clip()
    tagged = [f.copy() for f in frames]
    for index, frame in enumerate(tagged):
        frame[0, 0, 0] = index
    out = list(smooth_maps(zip(tagged, maps), method))
    assert [int(f[0, 0, 0]) for f, _ in out] == list(range(len(frames)))
    assert all(m.shape == (32, 48, 1) for _, m in out)


@pytest.mark.parametrize("method", ["ema", "ofd"])
def test_flicker_of_a_still_scene_goes_down(method):
    frames, maps, truth = _still_clip()
    smoothed = [m for _, m in smooth_maps(zip(frames, maps), method)]
    assert _flicker(smoothed, truth) < 0.8 * _flicker(maps, truth)


def test_ema_follows_a_moving_picture_at_once():
    rng = np.random.default_rng(1)
    first = rng.integers(0, 255, (32, 48, 3), np.uint8)
    second = np.roll(first, 12, axis=1)  # everything moved
    map_a, map_b = np.zeros((32, 48, 1), np.float32), np.ones((32, 48, 1), np.float32)
    (_, out_a), (_, out_b) = smooth_maps([(first, map_a), (second, map_b)], "ema")
    np.testing.assert_array_equal(out_a, map_a)
    assert out_b.min() > 0.9  # the new map is taken nearly as it is where the picture changed


def test_ema_averages_where_the_picture_is_still():
    frame = np.full((32, 48, 3), 100, np.uint8)
    zeros, ones = np.zeros((32, 48, 1), np.float32), np.ones((32, 48, 1), np.float32)
    (_, _), (_, out) = smooth_maps([(frame, zeros), (frame, ones)], "ema", still_weight=0.4)
    np.testing.assert_allclose(out, 0.4, atol=1e-6)


def test_one_frame_delay_replaces_a_lone_outlier_only():
    frame = np.zeros((4, 4, 3), np.uint8)
    low, high = np.zeros((4, 4, 1), np.float32), np.ones((4, 4, 1), np.float32)
    sequence = [low, high, low, low, high, high]
    out = [m for _, m in smooth_maps([(frame, m) for m in sequence], "ofd")]
    assert [float(m.mean()) for m in out] == [0, 0, 0, 0, 1, 1]  # the blip goes, the lasting change stays


def test_dtssd_is_zero_when_the_map_changes_as_the_truth_does_and_100_for_a_full_flip():
    truth_a, truth_b = np.zeros((5, 5)), np.ones((5, 5))
    assert dtssd(truth_b, truth_a, truth_b, truth_a) == 0.0
    assert dtssd(truth_b, truth_a, truth_a, truth_a) == pytest.approx(100.0)


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="expected one of none, ema, ofd"):
        smooth_maps([], "median")
