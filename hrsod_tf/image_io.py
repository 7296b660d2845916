"""Image and mask files: the one place that decodes them and writes 8-bit PNGs.

Every reader of the project goes through this module (the data readers and TFDS builders, the folder
evaluation, ``predict.py``, the map cache), so a file means the same thing whichever path reads it.

Paths may be `str` / `os.PathLike` (read from disk), or any path-like object with ``iterdir()``,
``is_dir()``, ``name`` and ``read_bytes()``: `etils.epath.Path` (cloud storage) and `zipfile.Path` (members
of a zip read without extracting it) both work.

Decoding rules (PIL; silent, because the result is what the file means):

  * photos (`decode_image`): EXIF orientation applied (a photo taken in portrait comes out in portrait,
    as viewers show it); grayscale -> RGB (channel copied); palette -> RGB; RGBA / LA -> RGB composited on
    WHITE (what viewers show; the colour under a fully transparent pixel is undefined); 16-bit -> 8-bit by
    dividing by 257 and rounding (65535 -> 255, never clipping; PIL reads 48-bit RGB PNGs as 8-bit already).
    Result: uint8 [H, W, 3].
  * ground-truth masks (`decode_mask`): palette ("P") PNGs, as DAVIS ships them, are salient where the
    palette INDEX is > 0 (their colours are never looked at: index 1 is (128, 0, 0), whose luminance is
    only 38); 16-bit masks where the value is > 32767; other masks are converted to gray (alpha dropped)
    and thresholded at > 127. Result: uint8 [H, W] in {0, 255}.
  * saliency maps (`decode_map`): graded, so never thresholded: 8-bit gray as it is (uint8 0..255);
    16-bit as float64 value / 65535 (no precision lost); floating-point TIFFs clipped to [0, 1]; colour or
    palette maps converted to gray by luminance (alpha dropped). Result: [H, W] uint8 or float64.

Every failure raises `DataError` naming the file and saying what to do, in one line (no Python object reprs):
an image with more pixels than a caller's limit, or than Pillow's decompression-bomb limit (178,956,970 px), is
`ImageTooLargeError` (its size, the limit, how to raise it), read from the header before any pixel is decoded.
EXIF that Pillow cannot read is ignored without a warning. `IMAGE_EXTENSIONS` is the one list
of file extensions the project reads. `write_png` writes 8-bit PNGs atomically (never a half-written file).
"""

from __future__ import annotations

import io
import os
import pathlib
import re
import warnings
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from hrsod_tf.files import atomic_write

__all__ = [
    "IMAGE_EXTENSIONS",
    "DataError",
    "ImageTooLargeError",
    "as_path",
    "decode_image",
    "decode_image_for_storage",
    "decode_map",
    "decode_mask",
    "display_name",
    "encode_png",
    "is_image_file_name",
    "is_video_file_name",
    "pillow_pixel_limit",
    "read_bytes",
    "read_image",
    "read_map",
    "read_mask",
    "saliency_to_uint8",
    "VIDEO_EXTENSIONS",
    "write_png",
]

#: File extensions read as images, masks or maps (lower case), lossless formats first: when two files of a
#: folder share a stem, a tool that must pick one picks the earlier extension.
IMAGE_EXTENSIONS = (".png", ".bmp", ".tif", ".tiff", ".pgm", ".ppm", ".webp", ".gif", ".jpg", ".jpeg")
#: File extensions read as videos (lower case), frame by frame through PyAV (`hrsod_tf.deploy.video`).
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv")
# Formats whose original bytes TF's `decode_image` reads as they are (see `decode_image_for_storage`).
_PASSTHROUGH_FORMATS = ("JPEG", "PNG")
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


class DataError(ValueError):
    """A data file that cannot be used as it is; the message names the file and what to do."""


# --------------------------------------------------------------------------------------------------
# Paths


def as_path(path: Any):
    """Returns `path` as a path-like object: `str`/`os.PathLike` -> `pathlib.Path`; others as they are.

    Objects that already have ``iterdir`` and ``read_bytes`` (epath.Path, zipfile.Path) are kept, so that
    cloud paths and zip members are read in place.
    """
    if hasattr(path, "iterdir") and hasattr(path, "read_bytes"):
        return path
    return pathlib.Path(os.fspath(path))


def display_name(path: Any) -> str:
    """A human-readable name of a file, also for zip members (``archive.zip/dir/file.png``)."""
    if hasattr(path, "root") and hasattr(path, "at"):  # zipfile.Path
        return f"{path.root.filename}/{path.at}"
    return os.fspath(path) if isinstance(path, os.PathLike) else str(path)


def is_image_file_name(name: str) -> bool:
    """Whether a file name has one of `IMAGE_EXTENSIONS` (any case) and is not hidden (``.name``)."""
    name = name.rstrip("/")
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def is_video_file_name(name: str) -> bool:
    """Whether a file name has one of `VIDEO_EXTENSIONS` (any case) and is not hidden (``.name``)."""
    name = name.rstrip("/")
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS


def read_bytes(path: Any) -> bytes:
    """The bytes of a file (see `as_path`); raises `DataError` naming the file if it cannot be read."""
    path = as_path(path)
    try:
        return path.read_bytes()
    except (OSError, KeyError) as e:
        raise DataError(f"cannot read {display_name(path)}: {e}. Check that the file exists and is readable.") from e


# --------------------------------------------------------------------------------------------------
# Decoding


# Pillow refuses images above 2 x PIL.Image.MAX_IMAGE_PIXELS (178,956,970 px by default) as decompression bombs.
_PILLOW_BOMB = re.compile(r"Image size \((\d+) pixels\)")
# Reprs such as "<_io.BytesIO object at 0x7f...>" in Pillow's messages: they say nothing about the file.
_OBJECT_REPR = re.compile(r"\s*<[^<>]* at 0x[0-9a-fA-F]+>")
# Pillow warns (two lines on stderr) about EXIF it cannot read; `_orientation` ignores such EXIF, as exif_transpose.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.TiffImagePlugin")


class ImageTooLargeError(DataError):
    """An image with more pixels than allowed; the message gives its size, the limit and how to raise it."""


def pillow_pixel_limit() -> int | None:
    """The largest image Pillow decodes (above it: a decompression bomb), in pixels; None when disabled."""
    return None if Image.MAX_IMAGE_PIXELS is None else 2 * Image.MAX_IMAGE_PIXELS


def too_large_error(name: str, pixels: int, size, limit: int, how_to_raise: str) -> ImageTooLargeError:
    """The error for an image of `pixels` pixels (`size` (width, height) when known) above `limit`."""
    dimensions = f"{size[0]}x{size[1]} = " if size else ""
    return ImageTooLargeError(
        f"{name} is too large: {dimensions}{pixels:,} pixels ({pixels / 1e6:.0f} MP), above the limit of "
        f"{limit:,} pixels ({limit / 1e6:.0f} MP); {how_to_raise}")


_PILLOW_HOW_TO_RAISE = ("that limit is Pillow's decompression-bomb guard: if the image is genuine, raise "
                        "PIL.Image.MAX_IMAGE_PIXELS (the limit is twice it) or shrink the image")


def _open(data: bytes, name: str, max_pixels: int | None = None, how_to_raise: str = "") -> Image.Image:
    """Opens and fully decodes an image (truncated files fail here, not later).

    With `max_pixels`, an image with more pixels is refused from its header, before its pixels are decoded
    (`ImageTooLargeError`, saying `how_to_raise` the limit); one within it that Pillow's own limit refuses is
    opened by raising Pillow's limit (see `_raise_pillow_limit`).
    """
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as e:
        pixels = _bomb_pixels(e)
        if max_pixels is None:
            raise too_large_error(name, pixels, None, pillow_pixel_limit(), _PILLOW_HOW_TO_RAISE) from None
        if not pixels or pixels > max_pixels:
            raise too_large_error(name, pixels, None, max_pixels, how_to_raise) from None
        _raise_pillow_limit(max_pixels)
        return _open(data, name, max_pixels, how_to_raise)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise _undecodable(name, e) from e
    width, height = image.size
    if max_pixels is not None and width * height > max_pixels:
        raise too_large_error(name, width * height, (width, height), max_pixels, how_to_raise)
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise _undecodable(name, e) from e
    if image.mode in ("P", "PA") and image.palette is None:
        # A PNG of colour type 3 without its PLTE chunk: libpng (and TF's decode_png) refuse it, and Pillow
        # would fail later, inside a conversion, with a bare AssertionError.
        raise _undecodable(name, ValueError("a palette image with no palette (PLTE chunk)"))
    return image


def _bomb_pixels(error: Image.DecompressionBombError) -> int:
    """The image size in pixels that Pillow's decompression-bomb error names (0 if it names none)."""
    match = _PILLOW_BOMB.search(str(error))
    return int(match.group(1)) if match else 0


def _raise_pillow_limit(max_pixels: int) -> None:
    """Lets Pillow open images of up to `max_pixels` pixels (its limit is twice `Image.MAX_IMAGE_PIXELS`)."""
    # Process-wide, as it must be: Pillow has no per-call limit (its decoders, GIF frames and ICO sizes included,
    # read this one module setting), and a caller's limit (inference.max_image_pixels, the web app's max_pixels)
    # is the one knob a user has. Done only when an image within that limit needs it; only ever raised.
    Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS, -(-max_pixels // 2))


def _undecodable(name: str, error: BaseException) -> DataError:
    reason = _OBJECT_REPR.sub("", str(error)).strip().rstrip(".") or type(error).__name__
    if isinstance(error, UnidentifiedImageError):
        reason = "not an image file Pillow can read"
    return DataError(f"cannot decode {name}: {reason}. The file is corrupt, truncated or not an image: "
                     "download it again, or delete it (and its mask) to leave it out.")


def _sixteen_to_eight_bit(array: np.ndarray) -> np.ndarray:
    """16-bit (or 32-bit integer holding 16-bit values) -> 8-bit by /257 with rounding."""
    if array.dtype == np.uint8:
        return array
    array = np.clip(array.astype(np.float64), 0, 65535)
    return np.round(array / 257.0).astype(np.uint8)


def _image_to_rgb(image: Image.Image) -> np.ndarray:
    """Any PIL mode -> uint8 HxWx3 RGB (see the module docstring for the conversions)."""
    if image.mode in _SIXTEEN_BIT_MODES:
        gray = _sixteen_to_eight_bit(np.asarray(image))
        return np.repeat(gray[..., None], 3, axis=-1)
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image, dtype=np.uint8).copy()


def _orientation(image: Image.Image) -> int | None:
    try:
        return image.getexif().get(0x0112)
    except Exception:  # malformed EXIF: PIL's exif_transpose ignores it too
        return None


def decode_image_for_storage(data: bytes, name: str, *, max_pixels: int | None = None,
                             how_to_raise: str = "") -> tuple[np.ndarray, bool]:
    """Decodes image bytes; also says whether the original bytes can be stored as they are.

    An image above `max_pixels` (default: Pillow's decompression-bomb limit) is refused from its header with
    `ImageTooLargeError`, whose message ends with `how_to_raise` (e.g. the setting that sets the limit).

    Returns:
        (rgb, passthrough): `rgb` is uint8 HxWx3; `passthrough` is True when decoding the original bytes with
        `tf.image.decode_image(channels=3)` gives exactly `rgb` (an 8-bit RGB JPEG or PNG with no EXIF rotation),
        so a TFDS builder may keep the original file (no re-encoding loss) instead of re-encoding `rgb`.
    """
    image = _open(data, name, max_pixels, how_to_raise or "raise the limit if the image is genuine")
    original_format, original_mode = image.format, image.mode
    rotated = _orientation(image) not in (None, 1)
    rgb = _image_to_rgb(ImageOps.exif_transpose(image) if rotated else image)
    passthrough = original_format in _PASSTHROUGH_FORMATS and original_mode == "RGB" and not rotated
    return rgb, passthrough


def decode_image(data: bytes, name: str = "<bytes>", *, max_pixels: int | None = None,
                 how_to_raise: str = "") -> np.ndarray:
    """Decodes image bytes to uint8 HxWx3 RGB (EXIF orientation applied); `name` is used in errors; images
    above `max_pixels` are refused before decoding (see `decode_image_for_storage`)."""
    return decode_image_for_storage(data, name, max_pixels=max_pixels, how_to_raise=how_to_raise)[0]


def decode_mask(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decodes ground-truth mask bytes to uint8 HxW in {0, 255} (palette index > 0, else gray > 127)."""
    image = _open(data, name)
    if image.mode == "P":
        salient = np.asarray(image) > 0  # palette indices, not colours
    elif image.mode in _SIXTEEN_BIT_MODES:
        salient = np.asarray(image) > 32767
    elif image.mode == "1":
        salient = np.asarray(image).astype(bool)
    else:
        if image.mode in ("RGBA", "LA", "PA"):
            image = image.convert("RGB")
        salient = np.asarray(image.convert("L")) > 127
    return np.where(salient, 255, 0).astype(np.uint8)


def decode_map(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decodes saliency-map bytes to [H, W]: uint8 0..255 (8-bit files) or float64 in [0, 1] (16-bit, float)."""
    image = _open(data, name)
    if image.mode in _SIXTEEN_BIT_MODES:
        return np.clip(np.asarray(image).astype(np.float64), 0, 65535) / 65535.0
    if image.mode == "F":
        return np.clip(np.asarray(image).astype(np.float64), 0.0, 1.0)
    if image.mode in ("RGBA", "LA", "PA"):
        image = image.convert("RGB")
    if image.mode != "L":
        image = image.convert("L")
    return np.asarray(image, dtype=np.uint8).copy()


def read_image(path: Any, *, max_pixels: int | None = None, how_to_raise: str = "") -> np.ndarray:
    """Reads an image file to uint8 HxWx3 RGB; raises `DataError` naming the file if it cannot be used
    (`ImageTooLargeError` above `max_pixels`, before decoding)."""
    return decode_image(read_bytes(path), display_name(path), max_pixels=max_pixels, how_to_raise=how_to_raise)


def read_mask(path: Any) -> np.ndarray:
    """Reads a ground-truth mask file to uint8 HxW in {0, 255}; raises `DataError` naming the file."""
    return decode_mask(read_bytes(path), display_name(path))


def read_map(path: Any) -> np.ndarray:
    """Reads a saliency map file (see `decode_map`); raises `DataError` naming the file."""
    return decode_map(read_bytes(path), display_name(path))


# --------------------------------------------------------------------------------------------------
# Writing


def saliency_to_uint8(saliency: np.ndarray) -> np.ndarray:
    """float [H, W] or [H, W, 1] in [0, 1] (values outside clipped) -> uint8 [H, W] 0..255 (rounded)."""
    saliency = np.asarray(saliency, np.float32)
    if saliency.ndim == 3 and saliency.shape[-1] == 1:
        saliency = saliency[..., 0]
    if saliency.ndim != 2:
        raise ValueError(f"a saliency map must be [H, W] or [H, W, 1], got shape {saliency.shape}")
    return np.round(np.clip(saliency, 0.0, 1.0) * 255.0).astype(np.uint8)


def write_png(path, picture: np.ndarray) -> pathlib.Path:
    """Writes uint8 gray [H, W], RGB [H, W, 3] or RGBA [H, W, 4] as an 8-bit PNG, atomically (parents created).

    The PNG is written through `hrsod_tf.files.atomic_write`: readers never see half a file.
    """
    # imencode, then our own write, rather than imwrite: non-ASCII paths work everywhere.
    return atomic_write(path, encode_png(picture, str(path)))


def encode_png(picture: np.ndarray, name: str = "<picture>") -> bytes:
    """The 8-bit PNG file of uint8 gray [H, W], RGB [H, W, 3] or RGBA [H, W, 4]; `name` is used in errors."""
    picture = np.asarray(picture)
    if picture.dtype != np.uint8:
        raise ValueError(f"write_png({name}) takes uint8 pixels, got {picture.dtype}: convert with saliency_to_uint8")
    if picture.ndim == 3:
        code = cv2.COLOR_RGBA2BGRA if picture.shape[2] == 4 else cv2.COLOR_RGB2BGR
        picture = cv2.cvtColor(picture, code)
    ok, encoded = cv2.imencode(".png", picture)
    if not ok:
        raise OSError(f"could not encode {name}")
    return encoded.tobytes()
