"""The properties of photos that decide salient object detection, added to the synthetic scenes' `photo` style.

The `classic` scenes (`hrsod_tf.data.synthetic`) put saturated objects on muted backgrounds, so colour contrast
alone finds every object edge. Photos are harder, and the `photo` style adds, one named function each:

* `add_saturated_clutter`: background clutter with strong edges and saturated colours that is not salient:
  repeated small things (awning stripes, tiles, confetti, signs), none large or alone enough to stand out;
* `add_material_echoes`: the object's own material elsewhere in the background (the same colours and texture);
* `camouflage`: along part of its outline an object takes the colours and texture of the background beside it;
* `shade`: objects lit from one side (form shading and a darker rim), `cast_shadow`: their soft shadow on the
  background (dark, with edges, and never salient);
* `soften_boundary`: defocus or motion blur over part of an object, the rest of its outline sharp;
* `add_occluder`: a non-salient thing in front (a pole, a branch) crossing the salient object.

Ground truth follows what HRSOD and DAVIS-S annotators mark: the visible part of the salient object. An occluder's
pixels are background in the mask (even where it splits the object in two); a shadow is background; a blurred
boundary is marked where the sharp outline is (the 50 % level of a symmetric blur); a camouflaged part is still
object. The mask stays binary ``{0, 255}``.

Every function draws from the ``np.random.Generator`` passed in; images are uint8 RGB (H, W, 3), coverages
(alpha) float32 in [0, 1], lengths in px.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from hrsod_tf.data.synthetic_drawing import (
    TWO_PI,
    CoverageLayer,
    blob_contour,
    hsv_colour,
    int_points,
    random_curve,
    smooth_noise,
)

#: The properties of the `photo` style, by the name of the function that adds each.
PHOTO_PROPERTIES = ("add_saturated_clutter", "add_material_echoes", "camouflage", "shade", "cast_shadow",
                    "soften_boundary", "add_occluder")


def _box_with_margin(box, margin: int, h: int, w: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of `box` (x, y, bw, bh) grown by `margin` px on every side, clipped to the image."""
    x, y, bw, bh = box
    return max(0, x - margin), max(0, y - margin), min(w, x + bw + margin), min(h, y + bh + margin)


def _blur(array: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of `sigma` px; sigmas over 1.5 px through a 1/2 or 1/4 resolution copy (the same look at a
    quarter or a sixteenth of the cost: what such a blur keeps, the smaller copy holds)."""
    if sigma <= 1.5:
        return cv2.GaussianBlur(array, (0, 0), sigma)
    h, w = array.shape[:2]
    factor = 2 if sigma <= 8.0 else 4
    small = cv2.resize(array, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / factor)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


_COARSE = 4  # smooth weight maps (sectors, ramps, light) are computed at 1/_COARSE resolution, then upsampled


def _centred_grid(bh: int, bw: int) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Coordinates (px, from the centre of a (bh, bw) box) of a 1/_COARSE grid over it: xs (1, gw), ys (gh, 1),
    and the grid's (gw, gh) size."""
    gw, gh = max(2, bw // _COARSE), max(2, bh // _COARSE)
    xs = (np.linspace(0.0, bw, gw, dtype=np.float32) - np.float32(bw / 2.0))[None, :]
    ys = (np.linspace(0.0, bh, gh, dtype=np.float32) - np.float32(bh / 2.0))[:, None]
    return xs, ys, (gw, gh)


def _full_size(weight: np.ndarray, bh: int, bw: int) -> np.ndarray:
    """A coarse float weight map (from `_centred_grid`) bilinearly resized to float32 (bh, bw)."""
    return cv2.resize(np.ascontiguousarray(weight, np.float32), (bw, bh), interpolation=cv2.INTER_LINEAR)


# ----------------------------------------------------------------------------------------------------------------
# the background


def add_saturated_clutter(rng: np.random.Generator, image: np.ndarray, short: int) -> None:
    """Draws 1-3 patches of repeated, saturated, sharp-edged things into `image` (in place): awning or flag
    stripes, a tiled wall, confetti or flower beds, a row of signs. Each element is small and has many like it,
    so none is salient, yet their edges are as strong as an object's."""
    h, w = image.shape[:2]
    for _ in range(int(rng.integers(1, 4))):
        kind = int(rng.integers(0, 4))
        cx, cy = rng.uniform(0.0, 1.0) * w, rng.uniform(0.0, 1.0) * h
        extent = short * rng.uniform(0.15, 0.35)
        hue = rng.random()
        colours = [tuple(float(c) for c in 255.0 * hsv_colour(hue + k * rng.uniform(0.1, 0.5),
                                                               rng.uniform(0.6, 1.0), rng.uniform(0.5, 1.0)))
                   for k in range(3)]
        if kind == 0:  # stripes across a rotated band (awning, flag, deck chair)
            period = extent * rng.uniform(0.06, 0.15)
            angle = rng.uniform(0.0, 180.0)
            for i in range(int(2 * extent / period)):
                offset = (i - extent / period) * period
                box = cv2.boxPoints(((cx + offset * math.cos(math.radians(angle)),
                                      cy + offset * math.sin(math.radians(angle))),
                                     (period * 0.5, 2 * extent * rng.uniform(0.3, 0.6)), angle))
                cv2.fillPoly(image, [int_points(box)], colours[i % 2], cv2.LINE_AA)
        elif kind == 1:  # tiles or bricks, over a smaller patch: a whole wall of them is a salient thing
            size = extent * rng.uniform(0.06, 0.12)
            for gy in np.arange(cy - extent / 3, cy + extent / 3, size):
                for gx in np.arange(cx - extent / 2, cx + extent / 2, size * 1.6):
                    colour = colours[int(rng.integers(0, 3))]
                    cv2.rectangle(image, (int(gx), int(gy)), (int(gx + size * 1.4), int(gy + size * 0.8)), colour,
                                  -1, cv2.LINE_AA)
        elif kind == 2:  # confetti, a flower bed, fruit on a stall
            n = int(rng.integers(30, 120))
            xs, ys = rng.normal(cx, extent * 0.5, n), rng.normal(cy, extent * 0.3, n)
            radii = extent * rng.uniform(0.01, 0.04, n)
            for x, y, r, k in zip(xs, ys, radii, rng.integers(0, 3, n)):
                cv2.circle(image, (int(x), int(y)), int(max(2, r)), colours[int(k)], -1, cv2.LINE_AA)
        else:  # a row of signs with dark frames (shop fronts, posters)
            size = extent * rng.uniform(0.12, 0.25)
            for i in range(int(rng.integers(3, 7))):
                x0 = int(cx + (i - 3) * size * 1.3)
                cv2.rectangle(image, (x0, int(cy)), (x0 + int(size), int(cy + size * 0.6)), (20, 20, 20),
                              max(2, int(size * 0.06)), cv2.LINE_AA)
                cv2.rectangle(image, (x0, int(cy)), (x0 + int(size), int(cy + size * 0.6)), colours[i % 3], -1)


def add_material_echoes(rng: np.random.Generator, image: np.ndarray, texture: np.ndarray, short: int) -> None:
    """Pastes 1-3 pieces of an object's `texture` (uint8 (th, tw, 3)) into the background of `image` (in place),
    as surfaces cut off by the frame, a little darker and softer: the same material appears where nothing is
    salient, so colour alone does not say which is the object."""
    h, w = image.shape[:2]
    th, tw = texture.shape[:2]
    for _ in range(int(rng.integers(1, 4))):
        radius = min(short * rng.uniform(0.1, 0.25), 0.45 * min(th, tw))
        if radius < 4:
            continue
        # centred on the frame's edge: a surface of that material beside the scene, not another object
        cx, cy = (rng.uniform(0.0, w), h * float(rng.integers(0, 2))) if rng.random() < 0.5 else \
            (w * float(rng.integers(0, 2)), rng.uniform(0.0, h))
        layer = CoverageLayer(h, w)
        layer.fill([blob_contour(rng, cx, cy, radius, 0.0)])
        x, y, bw, bh = cv2.boundingRect(layer.alpha)
        if bw == 0 or bh == 0:
            continue
        sx, sy = int(rng.integers(0, max(1, tw - bw + 1))), int(rng.integers(0, max(1, th - bh + 1)))
        piece = cv2.resize(texture[sy:sy + bh, sx:sx + bw], (bw, bh), interpolation=cv2.INTER_LINEAR)
        piece = cv2.convertScaleAbs(_blur(piece, rng.uniform(1.0, 4.0)), alpha=rng.uniform(0.7, 1.0))  # its own light
        alpha = layer.alpha[y:y + bh, x:x + bw].astype(np.float32) * np.float32(1.0 / 255.0)
        roi = image[y:y + bh, x:x + bw]
        roi[...] = cv2.blendLinear(roi, piece, 1.0 - alpha, alpha)


def cast_shadow(rng: np.random.Generator, image: np.ndarray, alpha: np.ndarray, box, light: np.ndarray,
                radius: float) -> None:
    """Darkens `image` (in place) under the object's shadow: its coverage `alpha` (float32 (bh, bw) at `box`
    (x, y, bw, bh)) shifted away from the `light` direction (unit xy) by 10-35 % of `radius` px, blurred (a soft
    penumbra) and darkened by 30-65 %."""
    h, w = image.shape[:2]
    shift = -light * radius * rng.uniform(0.1, 0.35)
    sigma = radius * rng.uniform(0.02, 0.08)
    margin = int(abs(shift).max() + 3 * sigma + 2)
    x0, y0, x1, y1 = _box_with_margin(box, margin, h, w)
    if x1 <= x0 or y1 <= y0:
        return
    x, y = box[0], box[1]
    # shifted and blurred at 1/_COARSE resolution: a penumbra has no detail to lose
    k = 1.0 / _COARSE
    size = (max(1, (x1 - x0) // _COARSE), max(1, (y1 - y0) // _COARSE))
    moved = np.float32([[k, 0, (x - x0 + shift[0]) * k], [0, k, (y - y0 + shift[1]) * k]])
    shadow = cv2.warpAffine(alpha, moved, size, flags=cv2.INTER_AREA, borderValue=0.0)
    shadow = cv2.GaussianBlur(shadow, (0, 0), max(sigma * k, 0.5))
    lit = _full_size(1.0 - shadow * np.float32(rng.uniform(0.3, 0.65)), y1 - y0, x1 - x0)
    roi = image[y0:y1, x0:x1]
    roi[...] = cv2.multiply(roi, cv2.merge([lit, lit, lit]), dtype=cv2.CV_8U)


# ----------------------------------------------------------------------------------------------------------------
# the objects


def camouflage(rng: np.random.Generator, texture: np.ndarray, image: np.ndarray, box, radius: float) -> np.ndarray:
    """The object's `texture` (uint8 (bh, bw, 3) at `box` in `image`) where, over a 50-110 degree sector of its
    outline, it takes the background's colours and texture: the background just outside that part of the
    outline, within a few per cent of its brightness (the sector's sides are ragged). Returns the new texture."""
    bh, bw = texture.shape[:2]
    x, y = box[0], box[1]
    heading = rng.uniform(0.0, TWO_PI)
    half_width = math.radians(rng.uniform(25.0, 55.0))
    direction = np.array([math.cos(heading), math.sin(heading)])
    # the background a radius away along the sector's direction: beside that part of the outline
    dx, dy = (direction * radius * rng.uniform(0.8, 1.2)).astype(int)
    h, w = image.shape[:2]
    sx0, sy0 = x + dx, y + dy  # the source box, reflected at the image's edges where it leaves them
    crop = image[max(0, sy0):max(0, min(h, sy0 + bh)), max(0, sx0):max(0, min(w, sx0 + bw))]
    if crop.size == 0:
        crop = image[y:y + bh, x:x + bw]
    top, left = max(0, -sy0), max(0, -sx0)
    source = cv2.copyMakeBorder(crop, top, max(0, bh - top - crop.shape[0]), left,
                                max(0, bw - left - crop.shape[1]), cv2.BORDER_REFLECT)[:bh, :bw]
    source = cv2.convertScaleAbs(source, alpha=rng.uniform(0.94, 1.06))
    xs, ys, (gw, gh) = _centred_grid(bh, bw)
    angle = np.arctan2(ys, xs) - np.float32(heading)
    off_axis = np.abs((angle + np.float32(math.pi)) % np.float32(TWO_PI) - np.float32(math.pi))
    off_axis += np.float32(0.35) * smooth_noise(rng, gh, gw, max(gh, gw) / 6.0)  # ragged, as patches of colour are
    weight = _full_size(np.clip((np.float32(half_width) - off_axis) / np.float32(0.15), 0.0, 1.0), bh, bw)
    return cv2.blendLinear(source, texture, weight, 1.0 - weight)


def shade(rng: np.random.Generator, texture: np.ndarray, mask: np.ndarray, light: np.ndarray) -> np.ndarray:
    """`texture` (uint8 (bh, bw, 3)) lit from the `light` direction (unit xy): brighter towards the light,
    darker away from it and towards the rim of `mask` (uint8 (bh, bw), the object's shape), as a rounded
    body is. Returns the shaded texture."""
    bh, bw = texture.shape[:2]
    xs, ys, (gw, gh) = _centred_grid(bh, bw)
    small = cv2.resize(mask, (gw, gh), interpolation=cv2.INTER_AREA)
    depth = cv2.distanceTransform((small > 127).astype(np.uint8), cv2.DIST_L2, 3)
    rim = np.sqrt(np.clip(depth / max(float(depth.max()) * 0.5, 1e-6), 0.0, 1.0))  # 0 at the rim, 1 inside
    towards_light = (xs * np.float32(light[0]) + ys * np.float32(light[1])) / np.float32(max(bh, bw) / 2.0)
    strength = rng.uniform(0.25, 0.5)
    gain = (1.0 - strength) + strength * (0.55 * rim + 0.45 * np.clip(0.5 + towards_light, 0.0, 1.0)) * 1.4
    gain = _full_size(gain, bh, bw)
    return cv2.multiply(texture, cv2.merge([gain, gain, gain]), dtype=cv2.CV_8U)


def _motion_kernel(length: float, angle: float) -> np.ndarray:
    size = int(max(3, round(length)) | 1)
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    dx, dy = math.cos(angle) * c, math.sin(angle) * c
    cv2.line(kernel, (int(round(c - dx)), int(round(c - dy))), (int(round(c + dx)), int(round(c + dy))), 1.0, 1,
             cv2.LINE_AA)
    return kernel / kernel.sum()


def soften_boundary(rng: np.random.Generator, alpha: np.ndarray, texture: np.ndarray,
                    scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Defocus (a Gaussian of 2-7 px sigma) or motion blur (a 10-40 px streak) over part of an object, fading to
    sharp across it, so soft and sharp boundaries meet on one outline.

    Args:
        alpha: float32 (bh, bw), the object's coverage, already padded by the blur's reach.
        texture: uint8 (bh, bw, 3), its colour.
        scale: the scene's length scale (shortest side / 1200).
    Returns:
        (alpha, texture, mask, kind): the new coverage, colour and ground truth (uint8 {0, 255}: the 50 % level
        of the coverage, as an annotator marks a blurred edge; a wire thinner than the blur fades below it and
        leaves the mask) and kind "defocus" or "motion".
    """
    bh, bw = alpha.shape
    # The colour is blurred on its own, not premultiplied: the texture's padding reflects it beyond the outline,
    # so no dark fringe comes in, and uint8 blurs are cheap.
    if rng.random() < 0.6:
        kind, sigma = "defocus", rng.uniform(2.0, 7.0) * scale
        blurred_alpha, blurred_texture = _blur(alpha, sigma), _blur(texture, sigma)
    else:
        kind = "motion"  # at half resolution: a 10-40 px streak loses nothing there
        kernel = _motion_kernel(rng.uniform(5.0, 20.0) * scale, rng.uniform(0.0, math.pi))

        def streak(array):
            half = cv2.resize(array, (max(1, bw // 2), max(1, bh // 2)), interpolation=cv2.INTER_AREA)
            return cv2.resize(cv2.filter2D(half, -1, kernel), (bw, bh), interpolation=cv2.INTER_LINEAR)

        blurred_alpha, blurred_texture = streak(alpha), streak(texture)
    heading = rng.uniform(0.0, TWO_PI)
    xs, ys, _ = _centred_grid(bh, bw)
    along = (xs * np.float32(math.cos(heading)) + ys * np.float32(math.sin(heading))) / np.float32(0.5 * max(bh, bw))
    ramp = _full_size(np.clip(0.5 + along * np.float32(rng.uniform(0.8, 1.6)), 0.0, 1.0), bh, bw)  # 0: sharp side
    sharp = 1.0 - ramp
    new_alpha = cv2.blendLinear(blurred_alpha, alpha, ramp, sharp)
    new_texture = cv2.blendLinear(blurred_texture, texture, ramp, sharp)
    mask = np.where(new_alpha >= 0.5, 255, 0).astype(np.uint8)
    return new_alpha, new_texture, mask, kind


def pad_for_blur(box, scale: float, h: int, w: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): `box` grown by the farthest reach of `soften_boundary`'s blurs at `scale`."""
    return _box_with_margin(box, int(math.ceil(max(3 * 7.0, 20.0) * scale)) + 2, h, w)


def add_occluder(rng: np.random.Generator, image: np.ndarray, mask: np.ndarray, box, scale: float) -> np.ndarray:
    """Draws a non-salient thing in front of the object at `box` (x, y, bw, bh): a pole or a bare branch crossing
    it from outside to outside, in muted colours, sometimes out of focus (it is nearer than the focus). Its
    pixels become background in `mask` (in place, where its coverage is at least one half: what is in front is
    not the salient object). Returns the occluder's coverage, float32 (H, W)."""
    h, w = image.shape[:2]
    x, y, bw, bh = box
    centre = np.array([x + bw * rng.uniform(0.3, 0.7), y + bh * rng.uniform(0.3, 0.7)])
    heading = rng.uniform(0.0, math.pi)
    reach = max(bw, bh) * 1.5
    start = centre - reach * np.array([math.cos(heading), math.sin(heading)])
    layer = CoverageLayer(h, w)
    thickness = int(max(3, min(bw, bh) * rng.uniform(0.04, 0.12)))
    trunk = random_curve(rng, start, heading, 2 * reach, 0.02, n=32)
    layer.lines([trunk], thickness=thickness)
    if rng.random() < 0.5:  # twigs off the branch
        for k in rng.integers(4, 28, int(rng.integers(1, 4))):
            twig = random_curve(rng, trunk[int(k)], heading + rng.choice([-1.0, 1.0]) * rng.uniform(0.4, 1.0),
                                reach * rng.uniform(0.15, 0.4), 0.05, n=10)
            layer.lines([twig], thickness=max(2, thickness // 3))
    sigma = rng.uniform(2.0, 8.0) * scale if rng.random() < 0.5 else 0.0
    x0, y0, x1, y1 = _box_with_margin(cv2.boundingRect(layer.alpha), int(3 * sigma) + 1, h, w)
    alpha = np.zeros((h, w), np.float32)
    if x1 <= x0 or y1 <= y0:
        return alpha
    part = layer.alpha[y0:y1, x0:x1].astype(np.float32) * np.float32(1.0 / 255.0)
    part = _blur(part, sigma) if sigma > 0 else part
    alpha[y0:y1, x0:x1] = part
    colour = 255.0 * hsv_colour(rng.random(), rng.uniform(0.0, 0.3), rng.uniform(0.1, 0.6))
    grain = smooth_noise(rng, (y1 - y0) // 8 + 2, (x1 - x0) // 8 + 2, 3.0)
    grain = cv2.resize(grain, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    paint = np.clip(colour[None, None, :] * (1.0 + 0.15 * grain[..., None]), 0, 255).astype(np.uint8)
    roi = image[y0:y1, x0:x1]
    roi[...] = cv2.blendLinear(roi, paint, 1.0 - part, part)
    mask[y0:y1, x0:x1][part >= 0.5] = 0
    return alpha


# ----------------------------------------------------------------------------------------------------------------
# a scene's properties, in the order they are drawn


class PhotoStyle:
    """Adds the photo properties to one scene, in drawing order: `style_background` (before the objects),
    `style_object` (each object, before it is composited), `occlude` (after them). How often each property
    occurs is set here.

    Args:
        rng: the scene's photo generator (its own stream, so the classic draws of the scene stay as they were).
        scale: the scene's length scale (shortest side / 1200).
    """

    CAMOUFLAGE_MAIN, CAMOUFLAGE_OTHER = 0.8, 0.4  # chance that the main / another object is camouflaged in part
    SOFT_BOUNDARY = 0.6  # chance that an object is defocused or motion-blurred over part of its outline
    SHADOW = 0.8  # chance that an object casts a visible shadow
    OCCLUSION = 0.5  # chance that something in front crosses the main object
    ECHOES = 0.7  # chance that the main object's material also lies in the background

    def __init__(self, rng: np.random.Generator, scale: float):
        self.rng = rng
        self.scale = float(scale)
        heading = rng.uniform(0.0, TWO_PI)
        self.light = np.array([math.cos(heading), math.sin(heading)])  # towards the light, in the image plane
        self.kinds: list[str] = []  # the properties drawn, in order (what a test or a figure can check)

    def style_background(self, image: np.ndarray, textures: list[np.ndarray]) -> None:
        """Clutter and material echoes of the first of `textures` (the main object's), in place."""
        short = min(image.shape[:2])
        add_saturated_clutter(self.rng, image, short)
        self.kinds.append("add_saturated_clutter")
        if textures and self.rng.random() < self.ECHOES:
            add_material_echoes(self.rng, image, textures[0], short)
            self.kinds.append("add_material_echoes")

    def style_object(self, image: np.ndarray, layer: CoverageLayer, box, texture: np.ndarray, radius: float,
                     main: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int, int, int]]:
        """Camouflage, shading and shadow (drawn into `image`), soft boundary of one object at `box` (x, y, bw,
        bh). Returns (alpha float32, texture uint8, mask uint8 {0, 255}, box) to composite, all (bh, bw) of the
        returned box, which grows where a blur reaches."""
        h, w = image.shape[:2]
        x, y, bw, bh = box
        if self.rng.random() < (self.CAMOUFLAGE_MAIN if main else self.CAMOUFLAGE_OTHER):
            texture = camouflage(self.rng, texture, image, box, radius)
            self.kinds.append("camouflage")
        texture = shade(self.rng, texture, layer.mask[y:y + bh, x:x + bw], self.light)
        self.kinds.append("shade")
        alpha = layer.alpha[y:y + bh, x:x + bw].astype(np.float32) * np.float32(1.0 / 255.0)
        if self.rng.random() < self.SHADOW:
            cast_shadow(self.rng, image, alpha, box, self.light, radius)
            self.kinds.append("cast_shadow")
        if self.rng.random() < self.SOFT_BOUNDARY:
            x0, y0, x1, y1 = pad_for_blur(box, self.scale, h, w)
            padded = cv2.copyMakeBorder(texture, y - y0, y1 - y - bh, x - x0, x1 - x - bw, cv2.BORDER_REFLECT)
            alpha = layer.alpha[y0:y1, x0:x1].astype(np.float32) * np.float32(1.0 / 255.0)
            alpha, texture, mask, kind = soften_boundary(self.rng, alpha, padded, self.scale)
            self.kinds.append(f"soften_boundary:{kind}")
            return alpha, texture, mask, (x0, y0, x1 - x0, y1 - y0)
        return alpha, texture, layer.mask[y:y + bh, x:x + bw], box

    def occlude(self, image: np.ndarray, mask: np.ndarray, box) -> None:
        """Sometimes a pole or branch in front of the object at `box`; its pixels leave `mask` (in place)."""
        if self.rng.random() < self.OCCLUSION:
            add_occluder(self.rng, image, mask, box, self.scale)
            self.kinds.append("add_occluder")
