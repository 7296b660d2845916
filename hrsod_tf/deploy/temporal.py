"""Steadier video maps: a cheap step between the network's per-frame maps and the rendered frames.

Each frame of a video is predicted alone, so a map can change from one frame to the next where the picture does
not (flicker). Two light filters, chosen by ``--temporal``:

    ema   a motion-gated running average: where the picture is still, the map is averaged with the previous
          output (``m_t = w * p_t + (1 - w) * m_{t-1}``, ``w = still_weight``); where it moves, the new map is
          taken as it is (``w`` rises to 1 with the frame difference), so moving edges do not trail
    ofd   MODNet's one-frame delay (Ke et al., AAAI 2022): where the previous and the next map agree and the
          current one differs from both by more than ``threshold``, the current one is replaced by their mean;
          the output lags the input by one frame
    none  the maps as predicted

`smooth_maps` takes and yields ``(frame, map)`` pairs, one at a time, so a video of any length is filtered in
constant memory. `dtssd` is the flicker measure of RobustVideoMatting's evaluation.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import cv2
import numpy as np

__all__ = ["DEFAULT_METHOD", "TEMPORAL_METHODS", "dtssd", "smooth_maps"]

TEMPORAL_METHODS = ("none", "ema", "ofd")
DEFAULT_METHOD = "ema"  # it lowers flicker without raising MAE (docs/BENCHMARKS.md, "Video flicker")
STILL_WEIGHT = 0.3  # ema: weight of the new map where the picture is still
MOTION_SCALE = 3.0  # ema: a local frame difference of this many grey levels (0..255) counts as full motion
SCENE_CUT = 40.0  # ema: a mean frame difference above this (grey levels) starts the average again
OFD_THRESHOLD = 0.1  # ofd: map difference (0..1) that counts as "differs"
# STILL_WEIGHT and MOTION_SCALE were chosen on synthetic clips 0-2 (hrsod_tf.data.synthetic_video) with the demo run;
# benchmarks/video_flicker.py measures them on other clips.
_MOTION_SIDE = 256  # the frame difference is computed on a copy whose longer side is this many px


def _small_gray(frame: np.ndarray) -> np.ndarray:
    height, width = frame.shape[:2]
    scale = min(1.0, _MOTION_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if frame.ndim == 3 else frame
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA).astype(np.float32)


def _motion_weight(previous: np.ndarray, current: np.ndarray, shape, still_weight: float,
                   motion_scale: float) -> np.ndarray:
    """Weight of the new map per pixel, float32 [H, W, 1]: `still_weight` where still, 1 where moving."""
    difference = cv2.GaussianBlur(np.abs(current - previous), (0, 0), 1.5)
    difference = cv2.dilate(difference, np.ones((5, 5), np.uint8))  # an edge about to move is moving already
    moving = np.clip(difference / motion_scale, 0.0, 1.0)
    weight = still_weight + (1.0 - still_weight) * moving
    return cv2.resize(weight, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)[..., None]


def _ema(pairs, still_weight: float, motion_scale: float) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    previous_gray = previous_map = None
    for frame, saliency in pairs:
        saliency = np.asarray(saliency, np.float32).reshape(*frame.shape[:2], 1)
        gray = _small_gray(frame)
        if previous_map is None or float(np.mean(np.abs(gray - previous_gray))) > SCENE_CUT:
            smoothed = saliency
        else:
            weight = _motion_weight(previous_gray, gray, saliency.shape, still_weight, motion_scale)
            smoothed = weight * saliency + (1.0 - weight) * previous_map
        previous_gray, previous_map = gray, smoothed
        yield frame, smoothed


def _one_frame_delay(pairs, threshold: float) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    window: list[tuple[np.ndarray, np.ndarray]] = []
    for frame, saliency in pairs:
        window.append((frame, np.asarray(saliency, np.float32).reshape(*frame.shape[:2], 1)))
        if len(window) == 1:
            continue
        if len(window) == 2:  # the first frame has no previous one: as predicted
            yield window[0]
            continue
        (_, before), (middle_frame, middle), (_, after) = window
        flicker = ((np.abs(before - after) <= threshold) & (np.abs(middle - before) > threshold)
                   & (np.abs(middle - after) > threshold))
        yield middle_frame, np.where(flicker, 0.5 * (before + after), middle)
        window.pop(0)
    if len(window) == 2:  # the last frame has no next one
        yield window[1]
    elif len(window) == 1:
        yield window[0]


def smooth_maps(pairs: Iterable[tuple[np.ndarray, np.ndarray]], method: str = "ema", *,
                still_weight: float = STILL_WEIGHT, motion_scale: float = MOTION_SCALE,
                threshold: float = OFD_THRESHOLD) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Filters a video's maps in time, one frame in, one frame out (``ofd`` one frame later).

    Args:
        pairs: ``(frame uint8 [H, W, 3] RGB, map float [H, W, 1] in [0, 1])`` in frame order.
        method: one of `TEMPORAL_METHODS`. still_weight, motion_scale: ``ema``'s settings; threshold: ``ofd``'s.
    Yields:
        ``(frame, map float32 [H, W, 1])``, as many pairs as came in, in the same order.
    """
    if method == "none":
        return iter(pairs)
    if method == "ema":
        return _ema(pairs, still_weight, motion_scale)
    if method == "ofd":
        return _one_frame_delay(pairs, threshold)
    raise ValueError(f"unknown temporal method {method!r}; expected one of {', '.join(TEMPORAL_METHODS)}")


def dtssd(predicted: np.ndarray, predicted_before: np.ndarray, truth: np.ndarray, truth_before: np.ndarray) -> float:
    """Flicker between two frames as RobustVideoMatting's evaluation defines it (``MetricDTSSD``):
    ``100 * sqrt(mean(((p_t - p_{t-1}) - (g_t - g_{t-1}))^2))``, maps in [0, 1]. 0 when the map changes exactly
    as the truth does; a map that flickers where the truth stands still scores high."""
    change = (np.asarray(predicted, np.float64) - predicted_before) - (np.asarray(truth, np.float64) - truth_before)
    return float(100.0 * np.sqrt(np.mean(change**2)))
