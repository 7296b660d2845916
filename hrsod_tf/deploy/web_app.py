"""A local web page for cut-outs: drop photos, see photo / mask / result side by side, download the result.

    python app.py --workdir runs/demo            # then open http://127.0.0.1:7860

Built on FastAPI (served by uvicorn): ``GET /`` is one static page (`web_page.html`, no asset from the internet),
``GET /api/limits`` gives the upload and pixel limits (the page checks a file's size before sending it),
``POST /api/cutout`` takes one photo (multipart field ``photo``), the output kind (``output``: any ``--output`` of
predict.py but ``background:FILE``, which is ``background`` plus a second upload ``background_photo``), whether
to estimate edge colours and the speed/quality level (``quality``: one of those ``/api/limits`` lists, the page's
menu), and answers JSON: the mask and the result as PNG data URLs and a download name.

What keeps it safe to leave running:

* it listens on 127.0.0.1 unless told otherwise (``--host``);
* a request body above ``max_upload_bytes`` is refused (413) before it is read to the end; an image above
  ``max_pixels`` is refused from its header, before it is decoded; a file that is not an image gets a message;
  each of these answers a JSON ``{"error": ...}`` that the page shows, and the server goes on serving;
* at most ``max_workers`` photos are worked on at once, at most ``max_waiting`` more wait; beyond that it
  answers 503 ("busy, try again");
* a name the browser sends is never a path: nothing is written to disk; the download name is built from the
  name's letters and digits only.
"""

from __future__ import annotations

import base64
import re
import threading
from importlib import resources
from typing import Annotated

import numpy as np
from fastapi import FastAPI, File, Form, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse

from hrsod_tf.deploy.compositing import OutputKind, render
from hrsod_tf.image_io import DataError, ImageTooLargeError, decode_image, encode_png

__all__ = ["MAX_UPLOAD_BYTES", "create_app", "download_name"]

MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # a request body (photo + background + form) above this is refused
MAX_WORKERS = 1  # photos worked on at once (the networks use every core already)
MAX_WAITING = 8  # photos waiting for a worker; more get "busy, try again"
WEB_OUTPUTS = ("rgba", "mask", "overlay", "green", "white", "color", "blur", "background")


def download_name(name: str | None, output: str) -> str:
    """The download's file name: the upload's stem, letters (any script), digits, ``-`` and ``_`` only (at most 60
    of them), then ``_<output>.png``. Never a path: the browser's name is only ever text in the answer."""
    stem = (name or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1].rsplit(".", 1)[0]
    stem = re.sub(r"[^\w-]+", "_", stem).strip("_-")[:60] or "photo"
    return f"{stem}_{output}.png"


def _data_url(picture: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(encode_png(picture)).decode("ascii")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class _BodyLimit:
    """ASGI middleware: refuses a request whose body is above `limit` bytes (413), by its Content-Length or,
    without one, as soon as the body read so far is over the limit."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await _error(413, self._message(int(length)))(scope, receive, send)
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge(received)
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge as err:
            await _error(413, self._message(err.size))(scope, receive, send)

    def _message(self, size: int) -> str:
        return (f"the upload is {size / 2**20:.1f} MiB, more than this server's limit of "
                f"{self.limit / 2**20:.0f} MiB: send a smaller file")


class _TooLarge(Exception):
    def __init__(self, size: int):
        super().__init__(size)
        self.size = size


class _Gate:
    """At most `workers` at work and `waiting` waiting; `enter` says False when both are full."""

    def __init__(self, workers: int, waiting: int):
        self.work = threading.BoundedSemaphore(workers)
        self.lock = threading.Lock()
        self.capacity, self.inside = workers + waiting, 0

    def enter(self) -> bool:
        with self.lock:
            if self.inside >= self.capacity:
                return False
            self.inside += 1
            return True

    def leave(self) -> None:
        with self.lock:
            self.inside -= 1


TOO_MANY_PIXELS_REMEDY = "send a smaller photo"  # what ImageTooLargeError's one line ends with


def create_app(predict, max_pixels: int, *, max_upload_bytes: int = MAX_UPLOAD_BYTES,
               max_workers: int = MAX_WORKERS, max_waiting: int = MAX_WAITING, title: str = "hrsod-tf",
               qualities: tuple[str, ...] = (), quality: str | None = None) -> FastAPI:
    """The web application.

    Args:
        predict: image uint8 [H, W, 3] -> map float [H, W] or [H, W, 1] in [0, 1] (a `MapPredictor`, or
            `SaliencyModel.predict`); with `qualities`, called as ``predict(image, quality=level)``.
        max_pixels: the largest photo accepted (width x height).
        qualities: the speed/quality levels (`hrsod_tf.quality`) the page's menu offers (`SaliencyModel.qualities`);
            empty: no menu. quality: the menu's default (`SaliencyModel.quality`).
        max_upload_bytes, max_workers, max_waiting: the bounds described in the module docstring.
    """
    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None)
    gate = _Gate(max_workers, max_waiting)
    page = resources.files("hrsod_tf.deploy").joinpath("web_page.html").read_text(encoding="utf-8")

    def work(photo: bytes, name: str, kind: OutputKind, estimate: bool, background: bytes | None,
             level: str | None) -> dict:
        # Refused from the header, before any pixel is decoded (ImageTooLargeError, one line).
        image = decode_image(photo, name, max_pixels=max_pixels, how_to_raise=TOO_MANY_PIXELS_REMEDY)
        background_picture = None
        if background is not None:
            background_picture = decode_image(background, "the background", max_pixels=max_pixels,
                                              how_to_raise=TOO_MANY_PIXELS_REMEDY)
        with gate.work:
            saliency = predict(image, quality=level) if qualities else predict(image)
        saliency = np.asarray(saliency, np.float32).reshape(*image.shape[:2], 1)
        mask = render(image, saliency, "mask")
        result = render(image, saliency, kind, estimate, background_picture=background_picture)
        return {"width": image.shape[1], "height": image.shape[0], "mask": _data_url(mask),
                "result": _data_url(result)}

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page

    @app.get("/api/limits")
    def limits() -> dict:
        """What the page checks before sending a file (the server checks again)."""
        return {"max_upload_bytes": max_upload_bytes, "max_pixels": max_pixels, "qualities": list(qualities),
                "quality": quality}

    @app.post("/api/cutout")
    async def cutout(photo: Annotated[UploadFile, File()], output: Annotated[str, Form()] = "rgba",
                     color: Annotated[str, Form()] = "#00b140", estimate_foreground: Annotated[bool, Form()] = True,
                     background_photo: Annotated[UploadFile | None, File()] = None,
                     quality: Annotated[str | None, Form()] = None):
        if output not in WEB_OUTPUTS:
            return _error(400, f"unknown output {output!r}; expected one of {', '.join(WEB_OUTPUTS)}")
        if quality is not None and quality not in qualities:
            return _error(400, f"unknown quality {quality!r}; this model runs {', '.join(qualities) or 'one level'}")
        if output == "background" and background_photo is None:
            return _error(400, "choose a background picture for the 'background' output")
        try:
            kind = OutputKind.parse(f"color:{color}" if output == "color" else output)
        except ValueError as err:
            return _error(400, str(err))
        if not gate.enter():
            return _error(503, "the server is busy with other photos: try again in a moment")
        try:
            data = await photo.read()
            background = await background_photo.read() if output == "background" else None
            answer = await run_in_threadpool(work, data, photo.filename or "the photo", kind, estimate_foreground,
                                             background, quality)
        except ImageTooLargeError as err:
            return _error(400, str(err))
        except DataError:
            return _error(400, f"{download_name(photo.filename, output).rsplit('_', 1)[0]} is not a photo this "
                               "server can read: send a PNG, JPEG, WebP, TIFF, BMP or GIF image")
        except ValueError as err:  # the model's own limits (e.g. its pixel limit)
            return _error(400, str(err))
        finally:
            gate.leave()
        answer["download"] = download_name(photo.filename, output)
        return answer

    app.add_middleware(_BodyLimit, limit=max_upload_bytes)
    return app
