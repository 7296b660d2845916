"""Decoding images, masks and maps, and writing PNGs (hrsod_tf.image_io): one set of rules for every reader."""

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from helpers import random_rgb, save_image
from PIL import Image

from hrsod_tf import image_io
from hrsod_tf.evaluation import folders as evaluation


def _palette_mask(path, w=64, h=48):
    index = np.zeros((h, w), np.uint8)
    index[10:20, 10:30] = 1  # palette colour (128, 0, 0): luminance 38
    index[30:40, 40:50] = 2
    image = Image.fromarray(index, mode="P")
    image.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * 759)
    return save_image(image, path), index


def test_palette_png_mask_index_1_is_salient_not_its_luminance(tmp_path):
    path, index = _palette_mask(tmp_path / "m.png")
    mask = image_io.read_mask(path)
    assert mask.dtype == np.uint8 and mask.shape == (48, 64)
    np.testing.assert_array_equal(mask, np.where(index > 0, 255, 0))


def test_gray_and_16bit_masks_are_thresholded(tmp_path):
    gray = np.zeros((4, 4), np.uint8)
    gray[0, :2] = (127, 128)
    assert image_io.read_mask(save_image(gray, tmp_path / "g.png"))[0, :3].tolist() == [0, 255, 0]
    deep = np.zeros((4, 4), np.uint16)
    deep[0, :2] = (32767, 32768)
    assert image_io.read_mask(save_image(Image.fromarray(deep), tmp_path / "d.png"))[0, :3].tolist() == [0, 255, 0]


def test_grayscale_image_becomes_rgb(tmp_path):
    gray = random_rgb()[..., 0]
    image = image_io.read_image(save_image(gray, tmp_path / "g.png"))
    assert image.shape == (48, 64, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image[..., 2], gray)


def test_rgba_image_is_composited_on_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[0, 0] = (10, 20, 30, 255)  # opaque: kept
    rgba[0, 1] = (10, 20, 30, 0)  # transparent: white
    image = image_io.read_image(save_image(rgba, tmp_path / "a.png"))
    assert image.shape == (4, 4, 3)
    assert image[0, 0].tolist() == [10, 20, 30] and image[0, 1].tolist() == [255, 255, 255]


def test_16bit_image_is_scaled_by_257_not_clipped(tmp_path):
    deep = np.array([[0, 257 * 128, 65535, 1000]], np.uint16)
    image = image_io.read_image(save_image(Image.fromarray(deep), tmp_path / "d.png"))
    assert image[0, :, 0].tolist() == [0, 128, 255, 4]


def test_exif_rotated_jpeg_is_turned_upright(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90 degrees clockwise
    path = save_image(random_rgb(64, 48), tmp_path / "r.jpg", exif=exif.tobytes())
    assert image_io.read_image(path).shape == (64, 48, 3)
    _, passthrough = image_io.decode_image_for_storage(path.read_bytes(), "r.jpg")
    assert not passthrough  # TF would decode the stored pixels unrotated: re-encode instead


def test_truncated_jpeg_raises_data_error_naming_the_file(tmp_path):
    data = io.BytesIO()
    Image.fromarray(random_rgb()).save(data, format="JPEG")
    path = tmp_path / "broken_0001.jpg"
    path.write_bytes(data.getvalue()[: len(data.getvalue()) // 2])
    with pytest.raises(image_io.DataError, match="broken_0001.jpg"):
        image_io.read_image(path)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_a_palette_png_without_its_palette_chunk_is_refused_by_every_decoder_naming_the_file():
    # Found by the decode fuzzer: PLTE renamed (one bit flipped, CRC fixed); decode_map raised AssertionError.
    encoded = io.BytesIO()
    Image.fromarray(np.arange(48 * 64, dtype=np.uint8).reshape(48, 64) % 16, mode="P").save(
        encoded, format="PNG", transparency=0)
    data = encoded.getvalue()
    start = data.index(b"PLTE") - 4
    length = struct.unpack(">I", data[start:start + 4])[0]
    data = data[:start] + _chunk(b"PlTE", data[start + 8:start + 8 + length]) + data[start + 12 + length:]
    for decode in (image_io.decode_image, image_io.decode_mask, image_io.decode_map):
        with pytest.raises(image_io.DataError, match=r"no_palette\.png: a palette image with no palette"):
            decode(data, "no_palette.png")


def test_evaluating_palette_png_masks_equals_evaluating_the_same_masks_as_0_255_gray(tmp_path):
    gt_palette, gt_gray, pred_dir = tmp_path / "gt_palette", tmp_path / "gt_gray", tmp_path / "pred"
    for d in (gt_palette, gt_gray, pred_dir):
        d.mkdir()
    for i in range(3):
        path, index = _palette_mask(gt_palette / f"f{i}.png")
        save_image(np.where(index > 0, 255, 0).astype(np.uint8), gt_gray / f"f{i}.png")
        pred = cv2.GaussianBlur(np.where(index > 0, 230, 20).astype(np.uint8), (0, 0), 1 + i)
        save_image(pred, pred_dir / f"f{i}.png")
    from_palette = evaluation.evaluate_folders(pred_dir, gt_palette, progress=False)
    from_gray = evaluation.evaluate_folders(pred_dir, gt_gray, progress=False)
    assert from_palette.num_images == from_gray.num_images == 3
    assert from_palette.metrics["S_measure"] > 0.5  # index 1 is salient, not background (its luminance is 38)
    for key, value in from_gray.metrics.items():
        assert from_palette.metrics[key] == pytest.approx(value, nan_ok=True), key


def test_maps_keep_their_grades_and_sixteen_bit_maps_become_unit_floats(tmp_path):
    graded = np.arange(256, dtype=np.uint8).reshape(16, 16)
    np.testing.assert_array_equal(image_io.read_map(save_image(graded, tmp_path / "g.png")), graded)
    deep = (graded.astype(np.uint16) * 257)
    read = image_io.read_map(save_image(Image.fromarray(deep), tmp_path / "d.png"))
    assert read.dtype == np.float64
    np.testing.assert_allclose(read, graded / 255.0)


def test_every_reader_lists_the_same_extensions():
    assert image_io.is_image_file_name("A.JPG") and image_io.is_image_file_name("m.tiff")
    assert not image_io.is_image_file_name(".hidden.png") and not image_io.is_image_file_name("notes.txt")


def test_write_png_round_trips_gray_rgb_and_rgba_and_leaves_no_temporary_file(tmp_path):
    for channels in (None, 3, 4):
        shape = (5, 7) if channels is None else (5, 7, channels)
        picture = (np.random.default_rng(channels or 1).random(shape) * 255).astype(np.uint8)
        path = image_io.write_png(tmp_path / "sub" / f"p{channels}.png", picture)
        np.testing.assert_array_equal(np.asarray(Image.open(path)), picture)
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["p3.png", "p4.png", "pNone.png"]
    with pytest.raises(ValueError, match="uint8"):
        image_io.write_png(tmp_path / "f.png", np.zeros((2, 2), np.float32))


def test_to_uint8_rounds_and_clips():
    assert image_io.saliency_to_uint8(np.array([[-0.5, 0.0, 0.5, 1.0, 2.0]])).tolist() == [[0, 0, 128, 255, 255]]


def _png_header(width, height):
    """A PNG that is only its signature, IHDR (width x height, 8-bit RGB) and IEND: Pillow reads its size."""
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + _chunk(b"IEND", b""))


def test_an_image_above_pillows_bomb_limit_is_too_large_not_corrupt_with_the_limit_and_the_remedy():
    with pytest.raises(image_io.ImageTooLargeError) as raised:
        image_io.decode_image(_png_header(20000, 10000), "huge.png")
    message = str(raised.value)
    assert "huge.png is too large: 200,000,000 pixels" in message and "178,956,970" in message
    assert "PIL.Image.MAX_IMAGE_PIXELS" in message and "corrupt" not in message and "\n" not in message


@pytest.mark.parametrize("width,height", [(10000, 6000), (20000, 10000)])  # between 50 and 179 MP, and above
def test_an_image_above_a_callers_limit_is_refused_from_its_header_saying_how_to_raise_it(width, height):
    with pytest.raises(image_io.ImageTooLargeError, match=r"above the limit of 50,000,000 pixels \(50 MP\); "
                                                          r"raise the knob"):
        image_io.decode_image(_png_header(width, height), "big.png", max_pixels=50_000_000,
                              how_to_raise="raise the knob")


def test_a_caller_limit_above_pillows_lets_pillow_open_the_image(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow's limit: 2,000 px
    image = image_io.decode_image(_png_bytes(random_rgb(64, 48)), "photo.png", max_pixels=10_000)
    assert image.shape == (48, 64, 3)


def _png_bytes(array):
    data = io.BytesIO()
    Image.fromarray(array).save(data, format="PNG")
    return data.getvalue()


@pytest.mark.parametrize("data", [b"not an image at all", b"\x89PNG\r\n\x1a\n", _png_header(100, 100)])
def test_decoder_messages_are_one_line_naming_the_file_without_python_object_addresses(data):
    for decode in (image_io.decode_image, image_io.decode_mask, image_io.decode_map):
        with pytest.raises(image_io.DataError) as raised:
            decode(data, "photo_17.png")
        message = str(raised.value)
        assert message.startswith("cannot decode photo_17.png: ")
        assert "0x" not in message and "object at" not in message and "\n" not in message
