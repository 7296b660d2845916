"""Synthetic video clips with a ground-truth mask per frame, for measuring flicker (`hrsod_tf.deploy.temporal`).

A clip is one synthetic scene (`hrsod_tf.data.synthetic.generate_scene_layers`) warped to the clip's size: its
objects move over its still, textured background in turns, standing still in between (still, moving right,
still, moving back, ...), and every frame gets its own sensor noise, so a network sees a slightly different
picture even where nothing moves, as it does in a real video.

    generate_clip(seed, frame_count=48, height=360, width=640) -> (frames uint8 [T, H, W, 3], masks uint8 [T, H, W])
"""

from __future__ import annotations

import cv2
import numpy as np

from hrsod_tf.data.synthetic import generate_scene_layers

__all__ = ["clip_offsets", "generate_clip"]

SEGMENT_FRAMES = 12  # frames per still or moving stretch
SPEED = 0.006  # px per frame, as a fraction of the clip's width
NOISE = 2.0  # the sensor noise's standard deviation, grey levels


def clip_offsets(frame_count: int, width: int) -> np.ndarray:
    """Horizontal offset (px, float) of the objects in each frame: still, right, still, left, ... in stretches of
    `SEGMENT_FRAMES` frames."""
    velocity = np.zeros(frame_count)
    for index in range(frame_count):
        segment = index // SEGMENT_FRAMES
        if segment % 2 == 1:
            velocity[index] = SPEED * width * (1 if segment % 4 == 1 else -1)
    return np.cumsum(velocity)


def generate_clip(seed: int, frame_count: int = 48, height: int = 360, width: int = 640,
                  noise: float = NOISE) -> tuple[np.ndarray, np.ndarray]:
    """A clip and its masks.

    Returns:
        frames uint8 [T, H, W, 3] RGB, masks uint8 [T, H, W] in {0, 255} (the objects' true coverage > 0.5).
    """
    layers = generate_scene_layers(seed, min_side=min(height, width), max_side=min(height, width))
    size = (width, height)
    background = cv2.resize(layers.background, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    alpha = cv2.resize(layers.alpha, size, interpolation=cv2.INTER_AREA)
    premultiplied = cv2.resize(layers.foreground.astype(np.float32) * layers.alpha[..., None], size,
                               interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(int(seed))
    frames = np.empty((frame_count, height, width, 3), np.uint8)
    masks = np.empty((frame_count, height, width), np.uint8)
    for index, offset in enumerate(clip_offsets(frame_count, width)):
        shift = np.float32([[1, 0, offset], [0, 1, 0]])
        moved_alpha = cv2.warpAffine(alpha, shift, size, flags=cv2.INTER_LINEAR)
        moved = cv2.warpAffine(premultiplied, shift, size, flags=cv2.INTER_LINEAR)
        picture = moved + (1.0 - moved_alpha[..., None]) * background
        picture += rng.normal(0.0, noise, picture.shape).astype(np.float32)
        frames[index] = np.clip(picture + 0.5, 0, 255).astype(np.uint8)
        masks[index] = np.where(moved_alpha > 0.5, 255, 0).astype(np.uint8)
    return frames, masks
