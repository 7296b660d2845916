"""app.py's page in a real browser (Debian's Chromium, driven by Playwright): a person drops photos, sees the
photo, mask and result, downloads the result; a file that is not a photo gets a message and the page goes on.
.ci/run installs Chromium (apt) and Playwright (pip); elsewhere the test is skipped when Chromium is missing."""

import base64
import os
import shutil
import socket
import threading
import time

import numpy as np
import pytest
import uvicorn
from helpers import command_module
from playwright.sync_api import sync_playwright

from hrsod_tf.deploy.saliency_model import load
from hrsod_tf.deploy.web_app import create_app
from hrsod_tf.image_io import encode_png, read_image, read_map
from hrsod_tf.workdir import make_random_workdir

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                       reason="Chromium is not installed (apt-get install chromium; .ci/run does)"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """app.py's application for a random-init tiny run, served by uvicorn on a free loopback port."""
    run = make_random_workdir(tmp_path_factory.mktemp("run"))
    model = load(run.root)
    app = create_app(model.predict, model.max_image_pixels, max_upload_bytes=1_000_000)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    server.should_exit = True
    thread.join(30)


@pytest.fixture(scope="module")
def page(server):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(accept_downloads=True)
        page.goto(server)
        yield page
        browser.close()


def test_a_dropped_photo_shows_photo_mask_and_green_screen_result_and_downloads(page, tmp_path):
    photo = np.random.default_rng(0).integers(0, 256, (48, 64, 3), np.uint8)
    (tmp_path / "holiday.png").write_bytes(encode_png(photo))
    page.select_option("#output", "green")
    page.set_input_files("#photos", str(tmp_path / "holiday.png"))
    row = page.locator(".row", has_text="holiday.png")
    row.locator("a.download").wait_for(timeout=120_000)
    assert row.locator("figcaption").all_inner_texts() == ["photo", "mask", "result"]
    with page.expect_download() as download:
        row.locator("a.download").click()
    assert download.value.suggested_filename == "holiday_green.png"
    download.value.save_as(tmp_path / "result.png")
    result = read_image(tmp_path / "result.png")
    assert result.shape == photo.shape
    mask_src = row.locator("img[alt=mask]").get_attribute("src")
    assert mask_src.startswith("data:image/png;base64,")
    (tmp_path / "mask.png").write_bytes(base64.b64decode(mask_src.split(",", 1)[1]))
    background = read_map(tmp_path / "mask.png") == 0
    assert background.shape == photo.shape[:2]
    if background.any():  # where the mask says background, the result is green screen
        assert (result[background] == (0, 177, 64)).all()


def test_a_file_that_is_not_a_photo_gets_a_message_and_the_page_goes_on(page, tmp_path):
    (tmp_path / "notes.txt").write_text("not a photo")
    (tmp_path / "small.png").write_bytes(encode_png(np.full((20, 30, 3), 120, np.uint8)))
    page.select_option("#output", "rgba")
    page.set_input_files("#photos", [str(tmp_path / "notes.txt"), str(tmp_path / "small.png")])
    page.locator(".row", has_text="notes.txt").locator(".error").wait_for(timeout=60_000)
    assert "is not a photo" in page.locator(".row", has_text="notes.txt").inner_text()
    page.locator(".row", has_text="small.png").locator("a.download").wait_for(timeout=120_000)
    assert page.locator(".row", has_text="small.png").locator("a.download").inner_text() == \
        "download small_rgba.png"


def test_a_file_above_the_upload_limit_gets_a_message_before_it_is_sent(page, tmp_path):
    (tmp_path / "huge.png").write_bytes(b"\0" * 1_500_000)
    page.set_input_files("#photos", str(tmp_path / "huge.png"))
    error = page.locator(".row", has_text="huge.png").locator(".error")
    error.wait_for(timeout=30_000)
    assert "more than this server's limit of 1 MiB" in error.inner_text()


def test_app_py_refuses_a_missing_run_with_one_line(tmp_path, capsys):
    assert command_module("app").main(["--workdir", str(tmp_path / "nothing")]) == 2
    assert "hrsod app: error:" in capsys.readouterr().err
