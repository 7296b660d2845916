"""The web page's server (hrsod_tf.deploy.web_app) through FastAPI's test client: results at the photo's size,
messages for non-images, over-limit photos and uploads, bounded work, and names that never become paths.
The same page in a real browser: tests/test_web_browser.py."""

import base64
import io
import threading
import warnings

import numpy as np
import pytest
from PIL import Image

from hrsod_tf.deploy.web_app import create_app, download_name
from hrsod_tf.image_io import decode_image, decode_map, encode_png

with warnings.catch_warnings():  # Starlette's test client asks for httpx2, which needs a newer idna than installed
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from fastapi.testclient import TestClient


def _predict(image):
    height, width = image.shape[:2]
    saliency = np.zeros((height, width), np.float32)
    saliency[height // 4:3 * height // 4, width // 4:3 * width // 4] = 1.0
    return saliency


def _png(height=30, width=40, seed=0):
    return encode_png(np.random.default_rng(seed).integers(0, 256, (height, width, 3), np.uint8))


def _decoded(data_url):
    assert data_url.startswith("data:image/png;base64,")
    return base64.b64decode(data_url.split(",", 1)[1])


@pytest.fixture
def client():
    return TestClient(create_app(_predict, max_pixels=100 * 100, max_upload_bytes=200_000))


def _post(client, data: bytes, name="photo.png", **form):
    return client.post("/api/cutout", files={"photo": (name, data, "application/octet-stream")}, data=form)


def test_page_is_served_and_needs_nothing_from_the_internet(client):
    page = client.get("/")
    assert page.status_code == 200 and "<input id=\"photos\"" in page.text
    assert "http://" not in page.text and "https://" not in page.text
    assert client.get("/api/limits").json() == {"max_upload_bytes": 200_000, "max_pixels": 10_000, "qualities": [],
                                                "quality": None}


@pytest.mark.parametrize("output,channels", [("rgba", 4), ("green", 3), ("blur", 3), ("mask", None)])
def test_cutout_answers_the_mask_and_result_at_the_photos_size(client, output, channels):
    answer = _post(client, _png(), output=output)
    assert answer.status_code == 200
    body = answer.json()
    mask = decode_map(_decoded(body["mask"]))
    assert mask.shape == (30, 40) and mask[15, 20] == 255 and mask[0, 0] == 0
    result = np.asarray(Image.open(io.BytesIO(_decoded(body["result"]))))
    assert result.shape[:2] == (30, 40) and (result.ndim == 2 if channels is None else result.shape[2] == channels)
    assert body["download"] == f"photo_{output}.png"


def test_colour_and_background_picture_are_used(client):
    body = _post(client, _png(), output="color", color="#102030").json()
    assert tuple(decode_image(_decoded(body["result"]))[0, 0]) == (16, 32, 48)
    beach = encode_png(np.full((8, 8, 3), (250, 220, 150), np.uint8))
    answer = client.post("/api/cutout", data={"output": "background"},
                         files={"photo": ("p.png", _png(), "image/png"),
                                "background_photo": ("b.png", beach, "image/png")})
    assert tuple(decode_image(_decoded(answer.json()["result"]))[0, 0]) == (250, 220, 150)


def test_a_file_that_is_not_an_image_gets_a_message_and_the_server_goes_on(client):
    answer = _post(client, b"just some text", name="notes.txt")
    assert answer.status_code == 400 and "notes is not a photo" in answer.json()["error"]
    assert _post(client, _png()).status_code == 200


def test_a_photo_above_the_pixel_limit_is_refused_from_its_header(client):
    answer = _post(client, _png(101, 100), name="huge.png")
    error = answer.json()["error"]
    assert answer.status_code == 400 and "\n" not in error
    assert error.startswith("huge.png is too large: 100x101 = 10,100 pixels")
    assert "above the limit of 10,000 pixels" in error and error.endswith("; send a smaller photo")


def test_an_upload_above_the_size_limit_is_refused(client):
    answer = _post(client, b"\0" * 300_000, name="big.png")
    assert answer.status_code == 413 and "more than this server's limit" in answer.json()["error"]
    assert _post(client, _png()).status_code == 200


def test_unknown_output_is_refused(client):
    answer = _post(client, _png(), output="sepia")
    assert answer.status_code == 400 and "unknown output" in answer.json()["error"]


def test_work_beyond_the_workers_and_the_waiting_room_is_turned_away():
    release, started = threading.Event(), threading.Semaphore(0)

    def slow(image):
        started.release()
        release.wait(30)
        return _predict(image)

    client = TestClient(create_app(slow, max_pixels=10_000, max_workers=1, max_waiting=0))
    answers = []
    worker = threading.Thread(target=lambda: answers.append(_post(client, _png()).status_code))
    worker.start()
    assert started.acquire(timeout=30)  # one photo is at work: the server is full
    busy = _post(client, _png())
    assert busy.status_code == 503 and "busy" in busy.json()["error"]
    release.set()
    worker.join(30)
    assert answers == [200]
    assert _post(client, _png()).status_code == 200  # and it serves again


@pytest.mark.parametrize("name,expected", [
    ("holiday photo.JPG", "holiday_photo_rgba.png"), ("../../etc/passwd", "passwd_rgba.png"),
    ("C:\\Users\\me\\cat.png", "cat_rgba.png"), ("", "photo_rgba.png"), ("..", "photo_rgba.png"),
    ("été/łódź.png", "łódź_rgba.png"), ("-rf *.png", "rf_rgba.png"),
])
def test_download_names_are_plain_text_never_paths(name, expected):
    assert download_name(name, "rgba") == expected
