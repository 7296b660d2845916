"""Cut-outs and background replacement: what ``predict.py --output``, the Python API and the web page draw.

    photo uint8 [H, W, 3] + saliency map float [H, W, 1] (the alpha)
      --estimate_foreground (pymatting's multi-level foreground estimation, on by default)--> the object's own
        colour at its edge, without the old background mixed in (no fringe of the old background)
      --render(output)--> the picture to write

Outputs (`OutputKind.parse` reads the ``--output`` strings):

    mask              the 8-bit map (gray)
    rgba              the object's colour with the map as alpha: a cut-out (PNG, or WebM/MOV video with alpha)
    overlay           the photo with the salient region tinted red
    green, white      the object composited over a plain green-screen green (0, 177, 64) / white
    color:#RRGGBB     ... over any plain colour
    blur              ... over the photo's own background, blurred (the object's colours kept out of the blur)
    background:FILE   ... over another picture, resized to cover the frame and centred (cropped, never stretched)

Composites: ``out = alpha * F + (1 - alpha) * B`` in float, rounded to uint8; ``F`` is the estimated foreground
colour, or the photo's own colour when estimation is off (``foreground_estimation=False``).
"""

from __future__ import annotations

import dataclasses
import re
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from hrsod_tf.image_io import read_image, saliency_to_uint8

__all__ = [
    "GREEN_SCREEN",
    "OUTPUT_KINDS",
    "OutputKind",
    "blurred_background",
    "composite",
    "cover",
    "estimate_foreground",
    "render",
]

GREEN_SCREEN = (0, 177, 64)  # chroma-key green, as green screens are sold
OVERLAY_COLOR = np.array([255, 32, 32], np.float32)  # red tint
OVERLAY_STRENGTH = 0.55
BLUR_SIGMA_FRACTION = 0.02  # the blur's sigma, as a fraction of the image's shorter side
#: The ``--output`` forms, for help texts and the web page's menu.
OUTPUT_KINDS = ("mask", "rgba", "overlay", "green", "white", "color:#RRGGBB", "blur", "background:FILE")
_PLAIN = {"green": GREEN_SCREEN, "white": (255, 255, 255)}
_HEX = re.compile(r"#?([0-9a-fA-F]{6})")


@dataclasses.dataclass(frozen=True)
class OutputKind:
    """One kind of output. ``name``: mask, rgba, overlay, color, blur or background; ``color``: (r, g, b) for
    ``color``; ``background``: the picture's path for ``background``."""

    name: str
    color: tuple[int, int, int] | None = None
    background: Path | None = None

    @classmethod
    def parse(cls, text: str) -> OutputKind:
        """Reads ``mask``, ``rgba``, ``overlay``, ``green``, ``white``, ``color:#RRGGBB``, ``blur`` or
        ``background:FILE``.

        Raises:
            ValueError: anything else (the message lists the forms), or a background file that does not exist.
        """
        kind, _, argument = str(text).partition(":")
        kind = kind.strip().lower()
        if kind in ("mask", "rgba", "overlay", "blur") and not argument:
            return cls(kind)
        if kind in _PLAIN and not argument:
            return cls("color", color=_PLAIN[kind])
        if kind in ("color", "colour") and _HEX.fullmatch(argument.strip()):
            value = _HEX.fullmatch(argument.strip()).group(1)
            return cls("color", color=tuple(int(value[i:i + 2], 16) for i in (0, 2, 4)))
        if kind == "background" and not argument:  # the picture comes with the call (render's background_picture)
            return cls("background")
        if kind == "background" and argument:
            path = Path(argument).expanduser()
            if not path.is_file():
                raise ValueError(f"background:{argument}: no such file")
            return cls("background", background=path)
        raise ValueError(f"unknown output {text!r}; expected one of {', '.join(OUTPUT_KINDS)}")

    @property
    def has_alpha(self) -> bool:
        """True for ``rgba``: the picture has an alpha channel (a video needs a container that carries it)."""
        return self.name == "rgba"

    @property
    def uses_foreground(self) -> bool:
        """True when the object's colour is drawn over something new (``rgba`` and every composite)."""
        return self.name not in ("mask", "overlay")

    def __str__(self) -> str:
        if self.name == "color":
            return "color:#" + "".join(f"{c:02x}" for c in self.color)
        if self.name == "background":
            return f"background:{self.background}"
        return self.name


def estimate_foreground(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The object's colour where it is partly transparent, with the old background taken out.

    A pixel at an edge is ``I = alpha * F + (1 - alpha) * B``; the photo's colour ``I`` keeps some of the old
    background ``B``, which shows as a fringe once the object sits on something else. This solves for ``F`` with
    pymatting's multi-level foreground estimation (Germer et al., 2020), a smooth ``F`` and ``B`` that explain
    the photo, computed coarse to fine.

    Args:
        image: uint8 [H, W, 3] RGB. alpha: float [H, W] or [H, W, 1] in [0, 1].
    Returns:
        uint8 [H, W, 3]: the foreground colour (where alpha is 1 it is the photo's colour; where alpha is 0 it
        is an extrapolation of the nearby object, harmless since it is weighted by 0).
    """
    from pymatting import estimate_foreground_ml  # heavy: imports numba and compiles on first use

    alpha = np.asarray(alpha, np.float32).reshape(image.shape[:2])
    foreground = estimate_foreground_ml(image.astype(np.float32) * np.float32(1.0 / 255.0), alpha)
    return np.clip(foreground * 255.0 + 0.5, 0, 255).astype(np.uint8)


def cover(picture: np.ndarray, height: int, width: int) -> np.ndarray:
    """`picture` resized to cover height x width (the smallest scale that fills it), centred and cropped."""
    ph, pw = picture.shape[:2]
    scale = max(height / ph, width / pw)
    size = (max(width, round(pw * scale)), max(height, round(ph * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(picture, size, interpolation=interpolation)
    top, left = (size[1] - height) // 2, (size[0] - width) // 2
    return resized[top:top + height, left:left + width]


def blurred_background(image: np.ndarray, alpha: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """The photo's background, blurred, without the object's colour smeared into it.

    A normalised convolution: ``blur(w * I) / blur(w)`` with ``w = max(0, 1 - 4 * alpha)`` averages background
    pixels only (edge pixels a quarter or more object are left out), so no halo of the object's colour is left
    around it.

    Args:
        image: uint8 [H, W, 3]. alpha: float [H, W, 1] in [0, 1]. sigma: px, default 2% of the shorter side.
    Returns:
        float32 [H, W, 3] in 0..255.
    """
    if sigma is None:
        sigma = BLUR_SIGMA_FRACTION * min(image.shape[:2])
    weight = np.clip(1.0 - 4.0 * np.asarray(alpha, np.float32).reshape(image.shape[:2]), 0.0, 1.0)
    weighted = cv2.GaussianBlur(image.astype(np.float32) * weight[..., None], (0, 0), sigma)
    total = cv2.GaussianBlur(weight, (0, 0), sigma)[..., None]
    fallback = cv2.GaussianBlur(image.astype(np.float32), (0, 0), sigma)  # where the object covers everything
    return np.where(total > 1e-3, weighted / np.maximum(total, 1e-3), fallback)


@lru_cache(maxsize=4)
def _background_picture(path: Path) -> np.ndarray:
    return read_image(path)


def composite(foreground: np.ndarray, alpha: np.ndarray, background: np.ndarray) -> np.ndarray:
    """``alpha * foreground + (1 - alpha) * background``, rounded to uint8 [H, W, 3].

    Args:
        foreground: [H, W, 3] 0..255. alpha: float [H, W, 1] in [0, 1]. background: [H, W, 3] or [3], 0..255.
    """
    alpha = np.asarray(alpha, np.float32).reshape(*foreground.shape[:2], 1)
    out = alpha * foreground.astype(np.float32) + (1.0 - alpha) * np.asarray(background, np.float32)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def render(image: np.ndarray, saliency: np.ndarray, output: OutputKind | str = "mask",
           foreground_estimation: bool = True, background_picture: np.ndarray | None = None) -> np.ndarray:
    """The picture to write for one image (or video frame).

    Args:
        image: uint8 [H, W, 3] RGB. saliency: float [H, W] or [H, W, 1] in [0, 1].
        output: an `OutputKind` or its text (``"green"``, ``"color:#ff8800"``, ...).
        foreground_estimation: estimate the object's colour at its edges (`estimate_foreground`) for ``rgba``
            and composites; False keeps the photo's colours.
        background_picture: uint8 [h, w, 3], the picture for ``background`` (instead of reading its file).
    Returns:
        mask: uint8 [H, W]; rgba: uint8 [H, W, 4]; every other kind: uint8 [H, W, 3].
    """
    kind = output if isinstance(output, OutputKind) else OutputKind.parse(output)
    height, width = image.shape[:2]
    alpha8 = saliency_to_uint8(saliency).reshape(height, width)
    if kind.name == "mask":
        return alpha8
    alpha = alpha8.astype(np.float32)[..., None] * np.float32(1.0 / 255.0)  # what the file will say, exactly
    if kind.name == "overlay":
        weight = OVERLAY_STRENGTH * alpha
        return np.round(image.astype(np.float32) * (1.0 - weight) + OVERLAY_COLOR * weight).astype(np.uint8)
    soft = (alpha8 > 0) & (alpha8 < 255)
    foreground = estimate_foreground(image, alpha) if foreground_estimation and soft.any() else image
    if kind.name == "rgba":
        return np.concatenate([foreground, alpha8[..., None]], axis=-1)
    if kind.name == "color":
        background = np.array(kind.color, np.float32)
    elif kind.name == "blur":
        background = blurred_background(image, alpha)
    else:
        if background_picture is None and kind.background is None:
            raise ValueError("the background output needs a picture: background:FILE")
        picture = background_picture if background_picture is not None else _background_picture(kind.background)
        background = cover(picture, height, width)
    return composite(foreground, alpha, background)
