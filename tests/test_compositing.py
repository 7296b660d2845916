"""hrsod_tf.deploy.compositing: --output kinds, foreground estimation, composites at the image's size."""

import numpy as np
import pytest
from helpers import save_image

from hrsod_tf.data.synthetic import generate_scene_layers
from hrsod_tf.deploy.compositing import (
    GREEN_SCREEN,
    OutputKind,
    blurred_background,
    composite,
    cover,
    estimate_foreground,
    render,
)


def _square(height=40, width=60, soft=True):
    """A red square with soft edges on a blue background: the photo, its true alpha [H, W, 1] and true colour."""
    alpha = np.zeros((height, width), np.float32)
    alpha[10:30, 15:45] = 1.0
    if soft:
        alpha[9, 15:45] = alpha[30, 15:45] = alpha[10:30, 14] = alpha[10:30, 45] = 0.5
    foreground = np.zeros((height, width, 3), np.float32) + (230, 40, 30)
    background = np.zeros((height, width, 3), np.float32) + (20, 60, 220)
    photo = alpha[..., None] * foreground + (1 - alpha[..., None]) * background
    return np.round(photo).astype(np.uint8), alpha[..., None], foreground


@pytest.mark.parametrize("text,expected", [
    ("mask", OutputKind("mask")), ("rgba", OutputKind("rgba")), ("overlay", OutputKind("overlay")),
    ("blur", OutputKind("blur")), ("green", OutputKind("color", color=GREEN_SCREEN)),
    ("white", OutputKind("color", color=(255, 255, 255))), ("color:#FF8000", OutputKind("color", color=(255, 128, 0))),
    ("colour:#00ff7f", OutputKind("color", color=(0, 255, 127))),
])
def test_output_kinds_parse_from_their_text(text, expected):
    assert OutputKind.parse(text) == expected


def test_background_output_names_an_existing_file(tmp_path):
    path = save_image(np.zeros((4, 4, 3), np.uint8), tmp_path / "beach.png")
    assert OutputKind.parse(f"background:{path}") == OutputKind("background", background=path)
    with pytest.raises(ValueError, match="no such file"):
        OutputKind.parse(f"background:{tmp_path / 'missing.png'}")


@pytest.mark.parametrize("text", ["sepia", "color:#12345", "color:red", "rgba:1", "mask:x"])
def test_unknown_outputs_are_refused_with_the_list_of_kinds(text):
    with pytest.raises(ValueError, match="expected one of mask, rgba"):
        OutputKind.parse(text)


def test_estimated_foreground_removes_the_old_background_from_soft_edges():
    photo, alpha, foreground = _square()
    edge = (alpha[..., 0] > 0) & (alpha[..., 0] < 1)
    estimated = estimate_foreground(photo, alpha)
    assert estimated.shape == photo.shape and estimated.dtype == np.uint8
    before = np.abs(photo[edge].astype(float) - foreground[edge]).mean()
    after = np.abs(estimated[edge].astype(float) - foreground[edge]).mean()
    assert before > 50 and after < 10
    inside = alpha[..., 0] == 1
    assert np.abs(estimated[inside].astype(int) - photo[inside]).max() <= 2  # opaque pixels keep their colour


def test_estimation_lowers_the_edge_error_of_a_synthetic_scene_composited_on_green():
    layers = generate_scene_layers(7, min_side=160, max_side=160, edge_softness=1.5)
    alpha = layers.alpha[..., None]
    band = (layers.alpha > 0) & (layers.alpha < 1)
    truth = composite(layers.foreground, alpha, np.array(GREEN_SCREEN))
    plain = composite(layers.image, alpha, np.array(GREEN_SCREEN))
    estimated = composite(estimate_foreground(layers.image, alpha), alpha, np.array(GREEN_SCREEN))
    error = {name: np.abs(x[band].astype(float) - truth[band]).mean(axis=0)
             for name, x in (("plain", plain), ("estimated", estimated))}
    assert np.all(error["estimated"] < error["plain"])


def test_cover_fills_the_frame_without_stretching():
    picture = np.zeros((100, 200, 3), np.uint8)
    picture[:, 90:110] = 255  # a white stripe in the middle
    out = cover(picture, 50, 50)
    assert out.shape == (50, 50, 3)
    assert out[:, 20:30].min() > 200 and out[:, :5].max() == 0  # centred, the sides cropped, not squeezed
    assert cover(picture, 300, 120).shape == (300, 120, 3)


def test_blurred_background_keeps_the_objects_colour_out():
    photo, alpha, _ = _square()
    blurred = blurred_background(photo, alpha, sigma=3.0)
    ring = np.zeros(alpha.shape[:2], bool)
    ring[5:35, 10:50] = True
    ring[9:31, 14:46] = False
    assert np.abs(blurred[ring] - (20, 60, 220)).max() < 2  # no red halo around the object


@pytest.mark.parametrize("output,shape", [
    ("mask", (40, 60)), ("rgba", (40, 60, 4)), ("overlay", (40, 60, 3)), ("green", (40, 60, 3)),
    ("white", (40, 60, 3)), ("color:#102030", (40, 60, 3)), ("blur", (40, 60, 3)),
])
def test_every_output_is_at_the_images_size(output, shape):
    photo, alpha, _ = _square()
    picture = render(photo, alpha, output)
    assert picture.shape == shape and picture.dtype == np.uint8


def test_composites_put_the_object_on_the_new_background(tmp_path):
    photo, alpha, _ = _square(soft=False)
    inside, outside = (20, 30), (2, 2)
    green = render(photo, alpha, "green")
    assert tuple(green[outside]) == GREEN_SCREEN and tuple(green[inside]) == tuple(photo[inside])
    assert tuple(render(photo, alpha, "color:#102030")[outside]) == (16, 32, 48)
    beach = save_image(np.full((10, 10, 3), (250, 220, 150), np.uint8), tmp_path / "beach.png")
    assert tuple(render(photo, alpha, f"background:{beach}")[outside]) == (250, 220, 150)
    rgba = render(photo, alpha, "rgba")
    assert rgba[outside][3] == 0 and rgba[inside][3] == 255


def test_a_background_without_its_picture_is_refused():
    photo, alpha, _ = _square()
    with pytest.raises(ValueError, match="background:FILE"):
        render(photo, alpha, "background")


def test_rgba_with_estimation_off_keeps_the_photos_colours():
    photo, alpha, _ = _square()
    np.testing.assert_array_equal(render(photo, alpha, "rgba", foreground_estimation=False)[..., :3], photo)
    assert not np.array_equal(render(photo, alpha, "rgba")[..., :3], photo)
