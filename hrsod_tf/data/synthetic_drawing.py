"""Drawing primitives of the synthetic scenes (`hrsod_tf.data.synthetic`): colours, smooth noise, random curves,
star-shaped contours and a coverage layer drawn twice (binary for the mask, anti-aliased for the image).

Pure numpy + OpenCV; every random draw comes from the ``np.random.Generator`` passed in.
"""

from __future__ import annotations

import colorsys
import math

import cv2
import numpy as np

TWO_PI = 2.0 * math.pi



def hsv_colour(h: float, s: float, v: float) -> np.ndarray:
    """RGB float32 (3,) in [0, 1] of hue `h` (wrapped), saturation `s` and value `v` (clipped to [0, 1])."""
    return np.array(colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0)), np.float32)


def smooth_noise(rng: np.random.Generator, h: int, w: int, cell: float, channels: int = 1) -> np.ndarray:
    """Smooth noise (about unit variance) with features of ``cell`` px: low-res Gaussian noise upsampled."""
    gh = max(2, int(math.ceil(h / cell)) + 1)
    gw = max(2, int(math.ceil(w / cell)) + 1)
    shape = (gh, gw) if channels == 1 else (gh, gw, channels)
    small = rng.standard_normal(shape, dtype=np.float32)
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return out


def fractal_noise(rng: np.random.Generator, h: int, w: int, cell: float, octaves: int = 3) -> np.ndarray:
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for _ in range(octaves):
        out += amp * smooth_noise(rng, h, w, max(cell, 2.0))
        total += amp * amp
        amp *= 0.5
        cell /= 2.5
    out *= 1.0 / math.sqrt(total)
    return out


def random_curve(rng: np.random.Generator, start, heading: float, length: float, wiggle: float,
                 n: int = 24) -> np.ndarray:
    """A smooth random curve from ``start`` (float xy) heading ``heading`` radians; returns (n+1, 2) float."""
    step = length / n
    turn = np.cumsum(rng.normal(0.0, wiggle, n))
    turn = np.cumsum(np.full(n, rng.normal(0.0, wiggle))) * 0.3 + turn
    ang = heading + turn
    pts = np.empty((n + 1, 2), np.float64)
    pts[0] = start
    pts[1:, 0] = start[0] + np.cumsum(step * np.cos(ang))
    pts[1:, 1] = start[1] + np.cumsum(step * np.sin(ang))
    return pts


def quad_bezier(p0, p1, p2, n: int = 32) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * np.asarray(p0) + 2 * (1 - t) * t * np.asarray(p1) + t**2 * np.asarray(p2)


def int_points(pts) -> np.ndarray:
    return np.round(np.asarray(pts)).astype(np.int32).reshape(-1, 1, 2)


class CoverageLayer:
    """An object's coverage, drawn twice with the same primitives: binary (LINE_8) for the mask, anti-aliased
    (LINE_AA) for compositing into the image."""

    def __init__(self, h: int, w: int):
        self.mask = np.zeros((h, w), np.uint8)
        self.alpha = np.zeros((h, w), np.uint8)

    def fill(self, polys, value: int = 255) -> None:
        polys = [int_points(p) for p in polys]
        cv2.fillPoly(self.mask, polys, value, cv2.LINE_8)
        cv2.fillPoly(self.alpha, polys, value, cv2.LINE_AA)

    def lines(self, curves, thickness: int, value: int = 255, closed: bool = False) -> None:
        if not curves:
            return
        curves = [int_points(c) for c in curves]
        thickness = int(max(1, thickness))
        cv2.polylines(self.mask, curves, closed, value, thickness, cv2.LINE_8)
        cv2.polylines(self.alpha, curves, closed, value, thickness, cv2.LINE_AA)

    def circle(self, center, radius: float, value: int = 255) -> None:
        c = (int(round(center[0])), int(round(center[1])))
        r = int(max(1, round(radius)))
        cv2.circle(self.mask, c, r, value, -1, cv2.LINE_8)
        cv2.circle(self.alpha, c, r, value, -1, cv2.LINE_AA)

    def ellipse(self, center, axes, angle_deg: float, value: int = 255) -> None:
        c = (int(round(center[0])), int(round(center[1])))
        ax = (int(max(1, round(axes[0]))), int(max(1, round(axes[1]))))
        cv2.ellipse(self.mask, c, ax, float(angle_deg), 0, 360, value, -1, cv2.LINE_8)
        cv2.ellipse(self.alpha, c, ax, float(angle_deg), 0, 360, value, -1, cv2.LINE_AA)


# ----------------------------------------------------------------------------------------------------------------
# background


def luminance_offset(img8: np.ndarray, noise: np.ndarray, amplitude: float) -> np.ndarray:
    """``img8 + amplitude * 255 * noise`` on all channels, saturated to uint8 (cv2 arithmetic, no float image)."""
    n8 = cv2.addWeighted(noise, amplitude * 255.0, noise, 0.0, 128.0, dtype=cv2.CV_8U)
    return cv2.addWeighted(img8, 1.0, cv2.merge([n8, n8, n8]), 1.0, -128.0)


def blob_contour(rng: np.random.Generator, cx: float, cy: float, radius: float, jag: float) -> np.ndarray:
    """Star-shaped closed contour with low-frequency lobes and optional jagged high-frequency spikes."""
    spacing = rng.uniform(2.5, 8.0) if jag > 0 else 3.0
    n = int(min(max(64, TWO_PI * radius / spacing), 4000))
    t = np.linspace(0.0, TWO_PI, n, endpoint=False)
    r = np.ones(n)
    for k in range(2, 7):
        r += rng.uniform(0.0, 0.32 / k) * np.cos(k * t + rng.uniform(0, TWO_PI))
    if jag > 0:
        spikes = rng.uniform(0.0, 1.0, n)
        spikes[1::2] *= -0.3  # saw-tooth: alternate out/in
        r *= 1.0 + jag * spikes
    r = np.maximum(r, 0.3)
    elong = rng.uniform(0.55, 1.0)
    rot = rng.uniform(0.0, math.pi)
    x = radius * r * np.cos(t)
    y = radius * r * np.sin(t) * elong
    cr, sr = math.cos(rot), math.sin(rot)
    return np.stack([cx + cr * x - sr * y, cy + sr * x + cr * y], axis=1)


def outward_normals(contour: np.ndarray) -> np.ndarray:
    d = np.roll(contour, -1, axis=0) - np.roll(contour, 1, axis=0)
    nrm = np.stack([d[:, 1], -d[:, 0]], axis=1)
    nrm /= np.maximum(np.linalg.norm(nrm, axis=1, keepdims=True), 1e-6)
    # make them point outwards (away from the centroid)
    out = contour - contour.mean(axis=0)
    sign = np.sign(np.sum(nrm * out, axis=1, keepdims=True))
    sign[sign == 0] = 1.0
    return nrm * sign
