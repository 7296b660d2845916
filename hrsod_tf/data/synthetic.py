"""Procedural synthetic high-resolution saliency scenes.

No real saliency data set can be downloaded where this project is built, so the built-in demo and the tests
use scenes generated here. They are made to exercise what the HRSOD method is for:

* high resolution: the shortest edge is in ``[min_side, max_side]`` (1200-2048 px by default, like HRSOD), with
  varied aspect ratios (4:3, 3:4, 16:9, 9:16, 1:1, 3:2, 2:3);
* salient objects (1-3, of varied size) whose boundary detail a 384x384 view cannot resolve: a body large enough
  to be salient, plus thin structures 1-4 px wide (stalks, wires, antennae, legs, branches, hair-like fur), holes
  (some with a fine net across them, some tiny perforations) and jagged contours;
* cluttered, textured, *muted* backgrounds (gradients, multi-scale noise, desaturated low-contrast shapes and lines
  that are not in the mask), while objects have saturated colours and their own texture, so saliency is learnable;
* the image is anti-aliased at object borders, the mask stays binary ``{0, 255}``.

That is the ``classic`` style (the demo's). The ``photo`` style (``scene_style="photo"``) draws the same scene and
adds the properties of photos that decide salient object detection, one named function each in
`hrsod_tf.data.synthetic_photo`: object colours and texture in the background (camouflage along part of an
outline, the object's material elsewhere), saturated sharp-edged clutter that is not salient, shading and cast
shadows, soft boundaries (defocus, motion blur) beside sharp ones, and occluders in front of the object, which the
mask leaves out as HRSOD and DAVIS-S annotate the visible part of an object.

Everything is pure numpy + OpenCV and deterministic by seed (``np.random.default_rng(seed)``, no global RNG
state): the same seed gives identical bytes. One 1200x1600 scene takes well under a second on one core.

Public API::

    generate_scene(seed, min_side=1200, max_side=2048, scene_style="classic") -> (image uint8 HxWx3 RGB,
                                                                                  mask uint8 HxW in {0, 255})
    generate_scene_layers(seed, ..., edge_softness=0.0) -> SceneLayers  # + true alpha, foreground, background
    photo_scene_properties(seed, ...) -> tuple of str  # what the photo scene of a seed holds
    scene_seed(split, index) -> int             # disjoint seeds for "train" / "validation" / "test"
    scene_name(split, index) -> str             # "synthetic_train_00012"
    generate_split(split, count, min_side=1200, max_side=2048, start=0, scene_style="classic")
        -> iterator of (name, image, mask)
    save_scene_files(out_dir, split, count, min_side=1200, max_side=2048, ...) -> list of (image_path, mask_path)
    thin_structure_mask(mask, kernel_size=5) -> bool HxW  # mask pixels removed by a morphological opening
"""

from __future__ import annotations

import colorsys
import dataclasses
import math
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Iterator

import cv2
import numpy as np

from hrsod_tf.data import synthetic_photo
from hrsod_tf.data.synthetic_drawing import (
    TWO_PI,
    CoverageLayer,
    blob_contour,
    fractal_noise,
    hsv_colour,
    int_points,
    luminance_offset,
    outward_normals,
    quad_bezier,
    random_curve,
    smooth_noise,
)

__all__ = [
    "ASPECT_RATIOS",
    "SCENE_STYLES",
    "SPLITS",
    "SceneLayers",
    "generate_scene",
    "generate_scene_layers",
    "generate_split",
    "photo_scene_properties",
    "save_scene_files",
    "scene_name",
    "scene_seed",
    "thin_structure_mask",
]

SPLITS = ("train", "validation", "test")
_SPLIT_OFFSET = {"train": 0, "validation": 1, "test": 2}
_SPLIT_ALIASES = {"val": "validation", "valid": "validation"}
_SEED_BASE = 20_190_000  # the seeds of split s are _SEED_BASE + 3 * index + offset(s): disjoint by construction

#: The scene styles: "classic" (saturated objects on muted backgrounds; the demo's) and "photo" (the same scenes
#: with the properties of photos that decide SOD added, `hrsod_tf.data.synthetic_photo`).
SCENE_STYLES = ("classic", "photo")
_PHOTO_STREAM = 28  # the photo style's generator is seeded with (seed, _PHOTO_STREAM): the classic draws stay

# (width, height) ratios: landscape, portrait and square, as in HRSOD / DAVIS-S photographs.
ASPECT_RATIOS = ((4, 3), (3, 4), (16, 9), (9, 16), (1, 1), (3, 2), (2, 3))

# ----------------------------------------------------------------------------------------------------------------
# splits and names


def _canonical_split(split: str) -> str:
    name = _SPLIT_ALIASES.get(str(split).lower(), str(split).lower())
    if name not in _SPLIT_OFFSET:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    return name


def scene_seed(split: str, index: int) -> int:
    """The seed of scene ``index`` of ``split``; seeds of different splits never coincide."""
    index = int(index)
    if index < 0:
        raise ValueError(f"index must be >= 0, got {index}")
    return _SEED_BASE + 3 * index + _SPLIT_OFFSET[_canonical_split(split)]


def scene_name(split: str, index: int) -> str:
    """File stem of scene ``index`` of ``split``, e.g. ``synthetic_train_00012``."""
    return f"synthetic_{_canonical_split(split)}_{int(index):05d}"


# ----------------------------------------------------------------------------------------------------------------
# background


def _background(rng: np.random.Generator, h: int, w: int, short: int) -> np.ndarray:
    """Muted, textured, cluttered background, uint8 RGB."""
    # smooth components (gradient, large-scale texture) are computed at 1/4 resolution and upsampled
    sh, sw = max(2, h // 4), max(2, w // 4)
    hue = rng.random()
    c1 = hsv_colour(hue, rng.uniform(0.0, 0.25), rng.uniform(0.3, 0.85))
    c2 = hsv_colour(hue + rng.normal(0.0, 0.08), rng.uniform(0.0, 0.25), rng.uniform(0.25, 0.9))
    ang = rng.uniform(0.0, TWO_PI)
    xs = np.linspace(0.0, 1.0, sw, dtype=np.float32) * (w / max(h, w) * math.cos(ang))
    ys = np.linspace(0.0, 1.0, sh, dtype=np.float32) * (h / max(h, w) * math.sin(ang))
    t = xs[None, :] + ys[:, None]
    t -= t.min()
    t *= 1.0 / max(float(t.max()), 1e-6)
    small = c1[None, None, :] + t[:, :, None] * (c2 - c1)[None, None, :]
    # large-scale luminance texture (clouds, walls, foliage far away)
    lum = fractal_noise(rng, sh, sw, cell=short / 4.0 * rng.uniform(0.15, 0.5), octaves=4)
    small += (rng.uniform(0.04, 0.12) * lum)[:, :, None]
    small8 = np.clip(small * 255.0 + 0.5, 0, 255).astype(np.uint8)
    img8 = cv2.resize(small8, (w, h), interpolation=cv2.INTER_LINEAR)

    # clutter: desaturated, low-contrast shapes and lines that are not salient
    n_clutter = int(rng.integers(10, 36))
    for _ in range(n_clutter):
        cx, cy = rng.uniform(-0.05, 1.05) * w, rng.uniform(-0.05, 1.05) * h
        local = img8[int(min(max(cy, 0), h - 1)), int(min(max(cx, 0), w - 1))].astype(np.float32) / 255.0
        lh, ls, lv = colorsys.rgb_to_hsv(*local.tolist())
        col = hsv_colour(lh + rng.normal(0.0, 0.05), min(ls + rng.uniform(-0.1, 0.12), 0.3),
                         lv + rng.uniform(-0.22, 0.22))
        col = tuple(float(v) for v in (col * 255.0))
        size = short * rng.uniform(0.02, 0.25)
        kind = rng.integers(0, 5)
        if kind == 0:
            cv2.ellipse(img8, (int(cx), int(cy)), (int(size), int(size * rng.uniform(0.3, 1.0))),
                        rng.uniform(0, 180), 0, 360, col, -1, cv2.LINE_AA)
        elif kind == 1:
            k = int(rng.integers(3, 8))
            a = np.sort(rng.uniform(0, TWO_PI, k))
            r = size * rng.uniform(0.4, 1.0, k)
            cv2.fillPoly(img8, [int_points(np.stack([cx + r * np.cos(a), cy + r * np.sin(a)], 1))], col, cv2.LINE_AA)
        elif kind == 2:
            ww, hh = size * rng.uniform(0.5, 2.0), size * rng.uniform(0.5, 2.0)
            box = cv2.boxPoints(((cx, cy), (ww, hh), rng.uniform(0, 90)))
            cv2.fillPoly(img8, [int_points(box)], col, cv2.LINE_AA)
        elif kind == 3:  # distractor lines / twigs, thin but muted
            c = random_curve(rng, np.array([cx, cy]), rng.uniform(0, TWO_PI), size * 3, 0.08)
            cv2.polylines(img8, [int_points(c)], False, col, int(rng.integers(1, 7)), cv2.LINE_AA)
        else:  # rings
            cv2.circle(img8, (int(cx), int(cy)), int(size), col, int(rng.integers(1, 8)), cv2.LINE_AA)

    # depth of field: sometimes blur the whole background (cheaply, through a down/up resize)
    if rng.random() < 0.5:
        f = rng.uniform(2.0, 5.0)
        small8 = cv2.resize(img8, (max(1, int(w / f)), max(1, int(h / f))), interpolation=cv2.INTER_AREA)
        img8 = cv2.resize(small8, (w, h), interpolation=cv2.INTER_LINEAR)

    # mid/fine texture over everything, luminance only
    fine = fractal_noise(rng, h, w, cell=rng.uniform(4.0, 24.0) * max(short / 1200.0, 0.25), octaves=2)
    return luminance_offset(img8, fine, rng.uniform(0.01, 0.05))


# ----------------------------------------------------------------------------------------------------------------
# objects



def _add_fur(rng, layer: CoverageLayer, contour: np.ndarray, s: float) -> None:
    nrm = outward_normals(contour)
    step = int(rng.integers(1, 4))
    idx = np.arange(0, len(contour), step)
    if rng.random() < 0.5:  # fur on part of the contour only
        start = rng.integers(0, len(contour))
        span = int(len(contour) * rng.uniform(0.3, 0.8))
        idx = (start + np.arange(0, span, step)) % len(contour)
    base = contour[idx] - nrm[idx] * 2.0
    ang = np.arctan2(nrm[idx, 1], nrm[idx, 0]) + rng.normal(0.0, 0.35, len(idx))
    length = rng.uniform(6.0, 34.0, len(idx)) * s
    bend = rng.normal(0.0, 0.4, len(idx))
    mid = base + 0.5 * length[:, None] * np.stack([np.cos(ang), np.sin(ang)], 1)
    tip = mid + 0.5 * length[:, None] * np.stack([np.cos(ang + bend), np.sin(ang + bend)], 1)
    hairs = [np.stack([b, m, e]) for b, m, e in zip(base, mid, tip)]
    layer.lines(hairs, thickness=1)


def _add_antennae(rng, layer: CoverageLayer, contour: np.ndarray, radius: float, s: float) -> None:
    nrm = outward_normals(contour)
    n = int(rng.integers(2, 9))
    k0 = rng.integers(0, len(contour))
    spread = rng.uniform(0.05, 0.5)
    for i in range(n):
        k = int(k0 + (i - n / 2) * spread * len(contour) / max(n, 1)) % len(contour)
        heading = math.atan2(nrm[k, 1], nrm[k, 0]) + rng.normal(0.0, 0.3)
        length = radius * rng.uniform(0.5, 1.6)
        curve = random_curve(rng, contour[k] - nrm[k] * 3.0, heading, length, 0.06)
        thick = int(rng.integers(1, 4))
        layer.lines([curve], thickness=thick)
        if rng.random() < 0.5:  # knob / jointed leg end
            layer.circle(curve[-1], rng.uniform(2.0, 7.0) * s + thick)


def _add_stalk(rng, layer: CoverageLayer, contour: np.ndarray, radius: float, s: float) -> None:
    # leave from the lowest part of the contour, downwards
    k = int(np.argmax(contour[:, 1] + rng.normal(0.0, radius * 0.2, len(contour))))
    heading = math.pi / 2 + rng.normal(0.0, 0.4)
    length = radius * rng.uniform(0.8, 2.2)
    curve = random_curve(rng, contour[k] - np.array([0.0, 4.0]), heading, length, 0.04, n=40)
    layer.lines([curve], thickness=int(rng.integers(2, 5)))
    for _ in range(int(rng.integers(0, 4))):  # leaves on thin petioles
        j = int(rng.integers(5, len(curve)))
        side = rng.choice([-1.0, 1.0])
        pet = random_curve(rng, curve[j], heading + side * rng.uniform(0.6, 1.3), radius * rng.uniform(0.1, 0.3),
                           0.05, 8)
        layer.lines([pet], thickness=int(rng.integers(1, 3)))
        leaf_r = radius * rng.uniform(0.06, 0.16)
        direction = pet[-1] - pet[-2]
        direction /= max(np.linalg.norm(direction), 1e-6)
        layer.ellipse(pet[-1] + direction * leaf_r * 0.9, (leaf_r, leaf_r * rng.uniform(0.25, 0.5)),
                      math.degrees(math.atan2(direction[1], direction[0])))


def _add_branches(rng, layer: CoverageLayer, contour: np.ndarray, radius: float) -> None:
    nrm = outward_normals(contour)
    k = int(rng.integers(0, len(contour)))
    by_thickness: dict[int, list] = {}
    depth = int(rng.integers(3, 5))

    def grow(p, heading, length, thick, level):
        c = random_curve(rng, p, heading, length, 0.05, n=10)
        by_thickness.setdefault(thick, []).append(c)
        if level < depth:
            for side in (-1.0, 1.0):
                grow(c[-1], heading + side * rng.uniform(0.25, 0.8), length * rng.uniform(0.55, 0.8),
                     max(1, thick - 1), level + 1)

    grow(contour[k] - nrm[k] * 3.0, math.atan2(nrm[k, 1], nrm[k, 0]), radius * rng.uniform(0.4, 0.9),
         int(rng.integers(2, 5)), 1)
    for thick, curves in by_thickness.items():
        layer.lines(curves, thickness=thick)


def _add_wires(rng, layer: CoverageLayer, contour: np.ndarray, radius: float) -> None:
    """Thin loops leaving the body and coming back (handles, cables, whiskers): they enclose background."""
    centre = contour.mean(axis=0)
    for _ in range(int(rng.integers(1, 4))):
        i, j = rng.integers(0, len(contour), 2)
        mid = 0.5 * (contour[i] + contour[j])
        out = mid - centre
        out /= max(np.linalg.norm(out), 1e-6)
        ctrl = mid + out * radius * rng.uniform(0.8, 2.0) + rng.normal(0.0, radius * 0.3, 2)
        layer.lines([quad_bezier(contour[i], ctrl, contour[j], 48)], thickness=int(rng.integers(1, 3)))


def _add_holes(rng, layer: CoverageLayer, cx: float, cy: float, radius: float, s: float, net: bool) -> None:
    for _ in range(int(rng.integers(1, 4))):
        hx, hy = cx + rng.normal(0.0, 0.25 * radius), cy + rng.normal(0.0, 0.25 * radius)
        a, b = radius * rng.uniform(0.08, 0.3), radius * rng.uniform(0.06, 0.25)
        angle = rng.uniform(0.0, 180.0)
        layer.ellipse((hx, hy), (a, b), angle, value=0)
        if net:  # a fine net / grid spanning the hole (racket strings, leaf veins, window bars)
            spacing = max(4.0, rng.uniform(6.0, 16.0) * s)
            th = math.radians(angle)
            ct, st = math.cos(th), math.sin(th)
            segs = []
            for y in np.arange(-b + spacing / 2, b, spacing):
                x = a * math.sqrt(max(0.0, 1.0 - (y / b) ** 2))
                segs.append(np.array([[-x, y], [x, y]]))
            for x in np.arange(-a + spacing / 2, a, spacing):
                y = b * math.sqrt(max(0.0, 1.0 - (x / a) ** 2))
                segs.append(np.array([[x, -y], [x, y]]))
            segs = [np.stack([hx + ct * p[:, 0] - st * p[:, 1], hy + st * p[:, 0] + ct * p[:, 1]], 1) for p in segs]
            layer.lines(segs, thickness=int(rng.integers(1, 3)))
    if rng.random() < 0.5:  # tiny perforations, invisible at 384x384
        n = int(rng.integers(5, 30))
        for _ in range(n):
            layer.circle((cx + rng.normal(0.0, 0.3 * radius), cy + rng.normal(0.0, 0.3 * radius)),
                         rng.uniform(1.5, 5.0) * max(s, 0.5), value=0)


def _object_layer(rng: np.random.Generator, h: int, w: int, radius: float, s: float) -> CoverageLayer:
    layer = CoverageLayer(h, w)
    m = 0.6 * radius
    cx = rng.uniform(min(m, w / 2), max(w - m, w / 2))
    cy = rng.uniform(min(m, h / 2), max(h - m, h / 2))
    jag = rng.uniform(0.03, 0.12) if rng.random() < 0.35 else 0.0
    contour = blob_contour(rng, cx, cy, radius, jag)
    layer.fill([contour])
    if rng.random() < 0.6:
        _add_holes(rng, layer, cx, cy, radius, s, net=rng.random() < 0.4)
    features = ["fur", "antennae", "stalk", "branches", "wires"]
    chosen = rng.choice(len(features), size=int(rng.integers(2, 4)), replace=False)
    for f in sorted(int(c) for c in chosen):
        name = features[f]
        if name == "fur":
            _add_fur(rng, layer, contour, s)
        elif name == "antennae":
            _add_antennae(rng, layer, contour, radius, s)
        elif name == "stalk":
            _add_stalk(rng, layer, contour, radius, s)
        elif name == "branches":
            _add_branches(rng, layer, contour, radius)
        else:
            _add_wires(rng, layer, contour, radius)
    return layer


def _object_texture(rng: np.random.Generator, bh: int, bw: int, s: float) -> np.ndarray:
    """Saturated colour with its own texture (stripes, spots or mottling), uint8 (bh, bw, 3) RGB."""
    hue = rng.random()
    c1 = hsv_colour(hue, rng.uniform(0.6, 1.0), rng.uniform(0.55, 1.0))
    c2 = hsv_colour(hue + rng.uniform(-0.18, 0.18), rng.uniform(0.6, 1.0), rng.uniform(0.35, 1.0))
    kind = rng.integers(0, 3)
    if kind == 0:  # stripes
        period = rng.uniform(8.0, 60.0) * max(s, 0.3)
        ang = rng.uniform(0.0, math.pi)
        xs = np.arange(bw, dtype=np.float32) * np.float32(TWO_PI / period * math.cos(ang))
        ys = np.arange(bh, dtype=np.float32) * np.float32(TWO_PI / period * math.sin(ang))
        p = 0.5 + 0.5 * np.sin(xs[None, :] + ys[:, None])
    elif kind == 1:  # spots
        p = smooth_noise(rng, bh, bw, rng.uniform(6.0, 40.0) * max(s, 0.3))
        p = (p - 0.6) * 3.0
    else:  # mottled
        p = 0.5 + 0.4 * fractal_noise(rng, bh, bw, rng.uniform(10.0, 80.0) * max(s, 0.3), 3)
    p8 = cv2.convertScaleAbs(np.clip(p, 0.0, 1.0), alpha=255.0)  # p >= 0, so abs() is a no-op
    lut = (c1[None, :] + np.linspace(0.0, 1.0, 256, dtype=np.float32)[:, None] * (c2 - c1)[None, :]) * 255.0
    lut = np.clip(lut + 0.5, 0, 255).astype(np.uint8).reshape(256, 1, 3)
    tex = cv2.LUT(cv2.merge([p8, p8, p8]), lut)
    shade = fractal_noise(rng, bh, bw, max(bh, bw) * 0.3, 3)
    return luminance_offset(tex, shade, rng.uniform(0.03, 0.1) * float(max(c1.max(), c2.max())))


# ----------------------------------------------------------------------------------------------------------------
# public API


def _image_size(rng: np.random.Generator, min_side: int, max_side: int) -> tuple[int, int]:
    rw, rh = ASPECT_RATIOS[int(rng.integers(0, len(ASPECT_RATIOS)))]
    short = int(rng.integers(min_side, max_side + 1))
    long_ = int(round(short * max(rw, rh) / min(rw, rh)))
    return (long_, short) if rh > rw else (short, long_)  # (h, w)


def generate_scene(seed: int, min_side: int = 1200, max_side: int = 2048,
                   scene_style: str = "classic") -> tuple[np.ndarray, np.ndarray]:
    """One synthetic high-resolution saliency scene.

    Returns ``(image, mask)``: ``image`` uint8 (H, W, 3) RGB, ``mask`` uint8 (H, W) with values in {0, 255}.
    The shortest edge is in ``[min_side, max_side]``; the same ``seed`` always gives identical bytes.
    ``scene_style`` is one of `SCENE_STYLES`: "photo" adds camouflage, saturated clutter, shading and shadows,
    soft boundaries and occluders to the seed's "classic" scene (`hrsod_tf.data.synthetic_photo`).
    """
    scene = _compose_scene(seed, min_side, max_side, keep_layers=False, edge_softness=0.0, scene_style=scene_style)
    return scene.image, scene.mask


@dataclasses.dataclass(frozen=True)
class SceneLayers:
    """A scene with what it was composed from (`generate_scene_layers`), for matting measurements.

    ``image ~= alpha * foreground + (1 - alpha) * background`` (to uint8 rounding), all (H, W, ...):

    Attributes:
        image: uint8 [H, W, 3] RGB, the photo. mask: uint8 [H, W] in {0, 255}, the binary ground truth.
        alpha: float32 [H, W] in [0, 1], the objects' true coverage (soft at every edge).
        foreground: uint8 [H, W, 3], the objects' true colour (0 where alpha is 0).
        background: uint8 [H, W, 3], the scene without its objects.
    """

    image: np.ndarray
    mask: np.ndarray
    alpha: np.ndarray
    foreground: np.ndarray
    background: np.ndarray
    properties: tuple[str, ...] = ()  # the photo style's properties drawn, in order (`photo_scene_properties`)


def photo_scene_properties(seed: int, min_side: int = 1200, max_side: int = 2048) -> tuple[str, ...]:
    """The properties (`hrsod_tf.data.synthetic_photo.PHOTO_PROPERTIES`) that the photo scene of `seed` holds,
    in drawing order, e.g. ("add_saturated_clutter", "camouflage", "shade", "soften_boundary:motion", ...)."""
    return _compose_scene(seed, min_side, max_side, keep_layers=False, edge_softness=0.0,
                          scene_style="photo").properties


def generate_scene_layers(seed: int, min_side: int = 1200, max_side: int = 2048,
                          edge_softness: float = 0.0) -> SceneLayers:
    """The scene `generate_scene` makes from `seed`, with its true foreground colour, alpha and background.

    With ``edge_softness=0`` the image and mask are byte for byte those of `generate_scene` (the alpha is then
    the anti-aliasing of the drawing: soft over about one pixel). ``edge_softness > 0`` blurs each object's
    coverage by a Gaussian of that sigma in px before compositing, as defocus or motion blur do to fur and hair:
    the same scene (same objects, colours and background) with wider soft edges, so a different image.
    """
    return _compose_scene(seed, min_side, max_side, keep_layers=True, edge_softness=float(edge_softness))


def _padded(texture: np.ndarray, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    if top == bottom == left == right == 0:
        return texture
    return cv2.copyMakeBorder(texture, top, bottom, left, right, cv2.BORDER_REFLECT)


def _compose_scene(seed, min_side, max_side, keep_layers: bool, edge_softness: float, scene_style: str = "classic"):
    """`generate_scene` and `generate_scene_layers`: one sequence of random draws for both, so one scene.

    The `photo` style draws the same background and objects as `classic` (the same draws of the seed's generator,
    in the same order), then adds the properties of `hrsod_tf.data.synthetic_photo` with draws of a second
    generator: a seed's photo scene is its classic scene made harder.
    """
    min_side, max_side = int(min_side), int(max_side)
    if min_side < 32:
        raise ValueError(f"min_side must be >= 32, got {min_side}")
    if max_side < min_side:
        raise ValueError(f"max_side ({max_side}) must be >= min_side ({min_side})")
    if edge_softness < 0:
        raise ValueError(f"edge_softness must be >= 0, got {edge_softness}")
    if scene_style not in SCENE_STYLES:
        raise ValueError(f"scene_style {scene_style!r} is not one of {', '.join(SCENE_STYLES)}")
    rng = np.random.default_rng(int(seed))
    h, w = _image_size(rng, min_side, max_side)
    short = min(h, w)
    s = short / 1200.0  # length scale; widths of thin structures stay 1-4 px at every size

    image = _background(rng, h, w, short)
    mask = np.zeros((h, w), np.uint8)
    if keep_layers:
        background = image.copy()
        coverage = np.zeros((h, w), np.float32)  # alpha of the objects composited so far
        premultiplied = np.zeros((h, w, 3), np.float32)  # their colour times their alpha

    n_obj = int(rng.choice([1, 2, 3], p=[0.45, 0.35, 0.2]))
    radii = [short * rng.uniform(0.15, 0.33)] + [short * rng.uniform(0.05, 0.16) for _ in range(n_obj - 1)]
    objects = []  # (layer, box, texture, radius); all drawn before any is composited
    for radius in radii:
        layer = _object_layer(rng, h, w, radius, s)
        box = cv2.boundingRect(layer.alpha)
        if box[2] == 0 or box[3] == 0:
            continue
        # the texture is drawn at the drawing's own box: the same draws at any softness
        objects.append((layer, box, _object_texture(rng, box[3], box[2], s), radius))
    grain = rng.uniform(0.0, 0.02)  # a little sensor grain over everything, added last
    noise = rng.standard_normal((h, w), dtype=np.float32) if grain > 0.004 else None

    photo = synthetic_photo.PhotoStyle(np.random.default_rng([int(seed), _PHOTO_STREAM]), s) \
        if scene_style == "photo" else None
    if photo is not None:
        photo.style_background(image, [tex for _, _, tex, _ in objects])
    for index, (layer, (x, y, bw, bh), tex, radius) in enumerate(objects):
        object_mask = layer.mask  # drawn with LINE_8 in {0, 255}: the mask stays binary
        if photo is not None:
            a, tex, box_mask, (x, y, bw, bh) = photo.style_object(image, layer, (x, y, bw, bh), tex, radius,
                                                                  main=index == 0)
            object_mask = None
            np.maximum(mask[y:y + bh, x:x + bw], box_mask, out=mask[y:y + bh, x:x + bw])
        elif edge_softness > 0:
            soft = cv2.GaussianBlur(layer.alpha.astype(np.float32) * np.float32(1.0 / 255.0), (0, 0), edge_softness)
            soft[soft < 1.0 / 512.0] = 0.0
            x1, y1, bw1, bh1 = cv2.boundingRect((soft > 0).astype(np.uint8))
            tex = _padded(tex, y - y1, y1 + bh1 - y - bh, x - x1, x1 + bw1 - x - bw)
            x, y, bw, bh = x1, y1, bw1, bh1
            a = np.ascontiguousarray(soft[y:y + bh, x:x + bw])
        else:
            a = layer.alpha[y:y + bh, x:x + bw].astype(np.float32) * np.float32(1.0 / 255.0)
        roi = image[y:y + bh, x:x + bw]
        roi[...] = cv2.blendLinear(roi, tex, 1.0 - a, a)
        if object_mask is not None:
            np.maximum(mask, object_mask, out=mask)
        if keep_layers:
            cover, colour = coverage[y:y + bh, x:x + bw], premultiplied[y:y + bh, x:x + bw]
            colour[...] = a[..., None] * tex.astype(np.float32) + (1.0 - a[..., None]) * colour
            cover[...] = a + (1.0 - a) * cover
    if photo is not None and objects:
        photo.occlude(image, mask, objects[0][1])

    if noise is not None:
        image = luminance_offset(image, noise, grain)
    if not keep_layers:
        return SceneLayers(image, mask, None, None, None, tuple(photo.kinds) if photo is not None else ())
    foreground = np.zeros((h, w, 3), np.uint8)
    covered = coverage > 0
    foreground[covered] = np.clip(premultiplied[covered] / coverage[covered][:, None] + 0.5, 0, 255).astype(np.uint8)
    if noise is not None:  # the grain is on the sensor: over the foreground and the background alike
        foreground = np.where(covered[..., None], luminance_offset(foreground, noise, grain), 0).astype(np.uint8)
        background = luminance_offset(background, noise, grain)
    return SceneLayers(image, mask, coverage, foreground, background)


def generate_split(split: str, count: int, min_side: int = 1200, max_side: int = 2048,
                   start: int = 0, scene_style: str = "classic") -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield ``(name, image, mask)`` for scenes ``start .. start+count-1`` of ``split`` in ``scene_style``."""
    for index in range(int(start), int(start) + int(count)):
        image, mask = generate_scene(scene_seed(split, index), min_side, max_side, scene_style)
        yield scene_name(split, index), image, mask


def encode_jpeg(image: np.ndarray, quality: int = 95) -> bytes:
    """RGB uint8 HxWx3 -> JPEG file bytes (what the folder and TFDS forms of the synthetic set store)."""
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"OpenCV could not JPEG-encode an image of shape {image.shape}")
    return data.tobytes()


def _write_one(args) -> tuple[str, str]:
    out_dir, split, index, min_side, max_side, quality, overwrite, scene_style = args
    name = scene_name(split, index)
    img_path = os.path.join(out_dir, "images", name + ".jpg")
    mask_path = os.path.join(out_dir, "masks", name + ".png")
    if overwrite or not (os.path.exists(img_path) and os.path.exists(mask_path)):
        image, mask = generate_scene(scene_seed(split, index), min_side, max_side, scene_style)
        with open(img_path, "wb") as f:
            f.write(encode_jpeg(image, quality))
        if not cv2.imwrite(mask_path, mask):
            raise OSError(f"could not write {mask_path}")
    return img_path, mask_path


def save_scene_files(out_dir: str, split: str, count: int, min_side: int = 1200, max_side: int = 2048,
                     start: int = 0, jpeg_quality: int = 95, overwrite: bool = True,
                     num_workers: int = 1, scene_style: str = "classic") -> list[tuple[str, str]]:
    """Write scenes as a folder data set: ``out_dir/images/<name>.jpg`` and ``out_dir/masks/<name>.png``.

    Returns the ``(image_path, mask_path)`` pairs in index order. With ``overwrite=False`` existing pairs are
    kept (generation is deterministic, so they are the same scenes). ``num_workers > 1`` uses processes.
    ``scene_style`` is one of `SCENE_STYLES` (see `generate_scene`).
    """
    os.makedirs(os.path.join(out_dir, "images"), exist_ok=True)
    os.makedirs(os.path.join(out_dir, "masks"), exist_ok=True)
    _canonical_split(split)
    jobs = [(out_dir, split, i, min_side, max_side, jpeg_quality, overwrite, scene_style)
            for i in range(int(start), int(start) + int(count))]
    if int(num_workers) > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=int(num_workers)) as pool:
            return list(pool.map(_write_one, jobs))
    return [_write_one(j) for j in jobs]


def thin_structure_mask(mask: np.ndarray, kernel_size: int = 5) -> np.ndarray:
    """Boolean map of mask pixels that a morphological opening with a ``kernel_size`` square removes:
    the structures thinner than ``kernel_size`` px (wires, hairs, spikes, thin rims)."""
    binary = (np.asarray(mask) > 127).astype(np.uint8)
    kernel = np.ones((kernel_size, kernel_size), np.uint8)
    opened = cv2.morphologyEx(binary, cv2.MORPH_OPEN, kernel)
    return (binary > 0) & (opened == 0)
