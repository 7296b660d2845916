"""Fuzzing: thousands of mutated and truncated files through every way the project reads them.

    python reliability/fuzzing.py --target decode --examples 3000 [--seed 0] [--json OUT]
    python reliability/fuzzing.py --target all --examples 50          # every target, a few inputs each

The inputs come from Hypothesis (a property-based fuzzer from PyPI): it draws a seed file and 1-4 mutations of it
(bit flips, "interesting" bytes and 32-bit values, truncation, deletion, insertion, duplication; PNG chunk CRCs
recomputed half the time so that a mutation reaches the decoder rather than the checksum), or a structural change
(a NaN in a Caffe blob, a JSON value of another type). `--seed` fixes Hypothesis' random draws and `database=None`
keeps it from replaying earlier runs, so the same command tries the same inputs.

Targets (`TARGETS`), each with what it must do with every input:

    decode       image_io.decode_image / decode_mask / decode_map on PNG, JPEG and WebP
    video        hrsod_tf.deploy.video.read_frames on mp4 (mp4v), avi (MJPG, FFV1), mov and webm (VP8) clips
    caffe        read_caffemodel + load_caffe_weights on GSN, LRN and GLFN files (the released layer names, tiny shapes)
    config       Config.load on config.json files
    workdir      hrsod_tf.load(work directory) + one prediction, with a mutated config.json, DONE.json or weights
    serving      the exported SavedModel's serving_default on one mutated image per request
    predict_cli  predict.py (a subprocess per batch, its real stderr) on folders of mutated images and clips
    convert_cli  convert_caffe.py on a mutated GLFN file (with intact GSN and LRN files of the official networks)

Every input must be accepted (the result checked: shapes, finite weights, a mask per image) or refused with a clear
error: one line, naming the file (except serving, whose caller sent bytes), with no Python object address and no
traceback; no crash and no hang: a watchdog (faulthandler) ends the process if one input takes longer than
`--time-bound` seconds, which run_all.py reports as a hang. The JSON gives the inputs tried, accepted and refused,
the refusals by kind (the message with file names and numbers blanked), the slowest input, and every finding.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import faulthandler
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import hrsod_tf  # noqa: F401  (before TensorFlow: its oneDNN kernels on where it leaves them off)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses
import importlib
import types
import typing

import cv2
import keras
import numpy as np  # noqa: E402
import tensorflow as tf
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import seed as hypothesis_seed  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from PIL import Image  # noqa: E402

from hrsod_tf import image_io
from hrsod_tf.caffe.converter import caffe_layers_from_keras, load_caffe_weights, official_config
from hrsod_tf.caffe.netparameter import CaffeLayer, CaffeModelError, write_caffemodel
from hrsod_tf.config import Config, ConfigError, get_preset
from hrsod_tf.deploy import video
from hrsod_tf.deploy.prediction import error_message, per_file_errors
from hrsod_tf.deploy.saliency_model import load
from hrsod_tf.deploy.saved_model import export_workdir
from hrsod_tf.deploy.serving_model import MASK_OUTPUT, SERVING_SIGNATURE, load_serving_model
from hrsod_tf.image_io import DataError
from hrsod_tf.models import build_glfn, build_gsn, build_lrn
from hrsod_tf.workdir import make_random_workdir

REPO_ROOT = Path(__file__).resolve().parent.parent
TIME_BOUND = 60.0  # seconds per input (per batch for predict_cli) before the watchdog calls it a hang


# ------------------------------------------------------------------------------------------ seed files


def scene(width: int = 64, height: int = 48, seed: int = 0) -> np.ndarray:
    """A small uint8 RGB picture with gradients, a disc and noise (compresses like a photo, not like a flat fill)."""
    y, x = np.mgrid[0:height, 0:width]
    disc = ((x - width / 2) ** 2 + (y - height / 2) ** 2 < (height / 3) ** 2) * 200
    rgb = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), disc], -1)
    return np.clip(rgb + np.random.default_rng(seed).integers(0, 40, rgb.shape), 0, 255).astype(np.uint8)


def _encoded(image: Image.Image, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, **kwargs)
    return buffer.getvalue()


def image_seeds() -> dict[str, bytes]:
    """{name: bytes}: PNG (RGB, grey, 16-bit, palette with transparency, RGBA), JPEG (baseline, progressive, grey,
    EXIF-rotated), WebP (lossy, lossless with alpha), and a PNG header claiming 200 MP."""
    rgb = Image.fromarray(scene())
    grey = rgb.convert("L")
    rgba = rgb.copy()
    rgba.putalpha(Image.fromarray((scene()[..., 0] > 100).astype(np.uint8) * 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated by 90 degrees
    return {
        "rgb.png": _encoded(rgb, format="PNG"),
        "grey.png": _encoded(grey, format="PNG"),
        "deep16.png": _encoded(Image.fromarray(np.asarray(grey).astype(np.uint16) * 257), format="PNG"),
        "palette.png": _encoded(rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16), format="PNG",
                                transparency=0),
        "rgba.png": _encoded(rgba, format="PNG"),
        "baseline.jpg": _encoded(rgb, format="JPEG", quality=85),
        "progressive.jpg": _encoded(rgb, format="JPEG", quality=85, progressive=True),
        "grey.jpg": _encoded(grey, format="JPEG", quality=85),
        "rotated.jpg": _encoded(rgb, format="JPEG", quality=85, exif=exif.tobytes()),
        "lossy.webp": _encoded(rgb, format="WEBP", quality=80),
        "lossless_alpha.webp": _encoded(rgba, format="WEBP", lossless=True),
        "bomb.png": png_header(20000, 10000),
    }


def png_header(width: int, height: int) -> bytes:
    """A PNG of only its signature, an IHDR saying width x height (8-bit RGB) and IEND: no pixel data."""
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + \
        _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def video_seeds(directory) -> dict[str, bytes]:
    """Eight-frame 64x48 clips in the containers and codecs OpenCV writes: mp4 and mov (mp4v), avi (MJPG, FFV1),
    webm (VP8)."""
    clips = {}
    for name, fourcc in (("mp4v.mp4", "mp4v"), ("mjpg.avi", "MJPG"), ("ffv1.avi", "FFV1"), ("mp4v.mov", "mp4v"),
                         ("vp8.webm", "VP80")):
        path = os.path.join(directory, name)
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), 10, (64, 48))
        for i in range(8):
            writer.write(np.roll(scene(), 4 * i, axis=1))
        writer.release()
        clips[name] = Path(path).read_bytes()
    return clips


# ------------------------------------------------------------------------------------------ mutations

INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFF)
INTERESTING_U32 = (0, 1, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)
MUTATIONS = ("flip", "byte", "u32", "truncate", "delete", "insert", "duplicate")


def fix_png_crcs(data: bytes) -> bytes:
    """Recomputes the CRC of every PNG chunk that can still be followed."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return data
    out, pos = bytearray(data), 8
    while pos + 12 <= len(out):
        end = pos + 8 + struct.unpack(">I", out[pos:pos + 4])[0]
        if end + 4 > len(out):
            break
        out[end:end + 4] = struct.pack(">I", zlib.crc32(bytes(out[pos + 4:end])))
        pos = end + 4
    return bytes(out)


@st.composite
def _mutate(draw, data: bytearray) -> str:
    """Applies one mutation to `data` in place; returns its description."""
    size = len(data)
    kind = draw(st.sampled_from(MUTATIONS))
    # Positions: half of them in the first 64 bytes, where sizes, types and offsets are.
    pos = draw(st.one_of(st.integers(0, max(min(64, size) - 1, 0)), st.integers(0, max(size - 1, 0))))
    if kind == "flip":
        bit = draw(st.integers(0, 7))
        if pos < len(data):
            data[pos] ^= 1 << bit
        return f"flip@{pos}.{bit}"
    if kind == "byte":
        value = draw(st.one_of(st.sampled_from(INTERESTING_BYTES), st.integers(0, 255)))
        if pos < len(data):
            data[pos] = value
        return f"byte@{pos}={value}"
    if kind == "u32":
        value, order = draw(st.sampled_from(INTERESTING_U32)), draw(st.sampled_from((">I", "<I")))
        if pos + 4 <= len(data):
            data[pos:pos + 4] = struct.pack(order, value)
        return f"u32@{pos}={value:#x}{order[0]}"
    if kind == "truncate":
        del data[pos:]
        return f"truncate@{pos}"
    if kind == "delete":
        count = draw(st.integers(1, 64))
        del data[pos:pos + count]
        return f"delete@{pos}+{count}"
    if kind == "insert":
        extra = draw(st.binary(min_size=1, max_size=32))
        data[pos:pos] = extra
        return f"insert@{pos}+{len(extra)}"
    count, destination = draw(st.integers(1, 256)), draw(st.integers(0, max(size - 1, 0)))
    data[destination:destination] = data[pos:pos + count]
    return f"duplicate@{pos}+{count}->{destination}"


@st.composite
def mutated_file(draw, seeds: dict[str, bytes], max_mutations: int = 4):
    """(seed name, mutations, bytes): one of `seeds` with 1..`max_mutations` mutations."""
    name = draw(st.sampled_from(sorted(seeds)))
    data = bytearray(seeds[name])
    steps = [draw(_mutate(data)) for _ in range(draw(st.integers(1, max_mutations)))]
    if name.endswith(".png") and draw(st.booleans()):
        data, steps = bytearray(fix_png_crcs(bytes(data))), [*steps, "crc"]
    return name, " ".join(steps), bytes(data)


# ------------------------------------------------------------------------------------------ outcomes


def error_kind(message: str, names=()) -> str:
    """The message with file names, hex, quoted values and numbers blanked: what kind of refusal it is."""
    for name in sorted((n for n in names if n), key=len, reverse=True):
        message = message.replace(name, "<file>")
    message = re.sub(r"0x[0-9a-fA-F]+", "0x…", message)
    message = re.sub(r"\bgot (\w+) [^)]*", r"got \1 …", message)  # the offending value itself
    message = re.sub(r"'[^'\s]*'", "'…'", message)
    message = re.sub(r'"[^"\s]*"', '"…"', message)
    return re.sub(r"\b\d[\d,._]*\b", "N", message)[:200]


def clarity_problem(message: str, names=()) -> str | None:
    """Why `message` is not a clear one-line error naming one of `names`, or None when it is."""
    if not message.strip():
        return "empty message"
    if "\n" in message.strip():
        return "several lines"
    if re.search(r"0x[0-9a-fA-F]{6,}|object at ", message):
        return "shows a memory address"
    if "Traceback" in message:
        return "a traceback"
    if names and not any(name in message for name in names):
        return "does not name the file"
    return None


class Tally:
    """Inputs tried, accepted and refused (by kind), the slowest input, and findings (what must not happen)."""

    def __init__(self, target: str, time_bound: float):
        self.target, self.time_bound = target, time_bound
        self.tried = self.accepted = 0
        self.refused = collections.Counter()
        self.findings: list[dict] = []
        self.slowest = 0.0
        self.started = time.perf_counter()

    @contextlib.contextmanager
    def one_input(self, count: int = 1):
        """Times one input (or a batch of `count`) under the watchdog: past the bound the process ends."""
        faulthandler.dump_traceback_later(self.time_bound, exit=True)
        start = time.perf_counter()
        try:
            yield
        finally:
            faulthandler.cancel_dump_traceback_later()
            self.tried += count
            self.slowest = max(self.slowest, (time.perf_counter() - start) / count)

    def accept(self, problem: str | None = None, context=()):
        self.accepted += 1
        if problem:
            self.finding(problem, context)

    def refuse(self, message: str, names=(), context=()):
        problem = clarity_problem(message, names)
        if problem:
            self.finding(problem, context, message)
        self.refused[error_kind(message, names)] += 1

    def finding(self, problem: str, context=(), message: str = ""):
        seed_file, mutation = (tuple(context) + ("", ""))[:2]
        self.findings.append({"problem": problem, "seed_file": seed_file, "mutation": mutation,
                              "message": message[:500]})

    def unexpected(self, error: BaseException, context=()):
        self.finding(f"unexpected {type(error).__name__}", context, str(error))

    def to_dict(self) -> dict:
        return {"target": self.target, "tried": self.tried, "accepted": self.accepted,
                "refused": sum(self.refused.values()), "refusals_by_kind": dict(self.refused.most_common()),
                "findings": self.findings, "slowest_input_s": round(self.slowest, 3),
                "time_bound_s": self.time_bound, "seconds": round(time.perf_counter() - self.started, 1)}


def run_campaign(strategy, check, examples: int, seed: int) -> None:
    """Calls `check(case)` on `examples` cases drawn from `strategy` (Hypothesis, seeded, no example database).

    `check` records outcomes in a Tally and never raises for a bad input; anything it raises is a harness error.
    """
    @hypothesis_seed(seed)
    @settings(max_examples=examples, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def campaign(case):
        check(case)

    campaign()


# ------------------------------------------------------------------------------------------ targets


def fuzz_decode(examples: int, seed: int = 0, time_bound: float = TIME_BOUND) -> Tally:
    tally = Tally("decode", time_bound)
    checks = {image_io.decode_image: 3, image_io.decode_mask: 2, image_io.decode_map: 2}

    def check(case):
        name, steps, data = case
        label = f"fuzzed_{name}"
        with tally.one_input(len(checks)):  # each decoder is one try
            for decode, ndim in checks.items():
                try:
                    out = decode(data, label)
                except image_io.DataError as error:
                    tally.refuse(str(error), [label], (name, steps))
                except Exception as error:  # noqa: BLE001 - every other exception is a finding
                    tally.unexpected(error, (name, steps))
                else:
                    bad = out.ndim != ndim or 0 in out.shape or (ndim == 3 and out.shape[2] != 3)
                    tally.accept(f"{decode.__name__} returned shape {out.shape}" if bad else None, (name, steps))

    run_campaign(mutated_file(image_seeds()), check, examples, seed)
    return tally


def fuzz_video(examples: int, seed: int = 0, time_bound: float = TIME_BOUND) -> Tally:
    tally = Tally("video", time_bound)
    folder = tempfile.mkdtemp(prefix="fuzz-video-")

    def check(case):
        name, steps, data = case
        path = os.path.join(folder, f"fuzzed_{name}")
        Path(path).write_bytes(data)
        with tally.one_input():
            try:
                frames = [frame.shape for frame in video.read_frames(path)]
            except DataError as error:
                tally.refuse(str(error), [path], (name, steps))
            except Exception as error:  # noqa: BLE001
                tally.unexpected(error, (name, steps))
            else:
                bad = not frames or any(len(s) != 3 or s[2] != 3 for s in frames)
                tally.accept(f"frames of shapes {set(frames)}" if bad else None, (name, steps))

    try:
        run_campaign(mutated_file(video_seeds(folder)), check, examples, seed)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return tally


def _caffe_setup():
    """Tiny-preset GSN, LRN and GLFN, and a .caffemodel of each (the released layer names, random weights)."""
    config = get_preset("tiny").model
    keras.utils.set_random_seed(0)
    models = {"gsn": build_gsn(config), "lrn": build_lrn(config), "glfn": build_glfn(config)}
    layers = {name: caffe_layers_from_keras(model, name, config) for name, model in models.items()}
    folder = tempfile.mkdtemp(prefix="fuzz-caffe-")
    files = {}
    for name, network_layers in layers.items():
        write_caffemodel(os.path.join(folder, f"{name}.caffemodel"), network_layers)
        files[name] = Path(folder, f"{name}.caffemodel").read_bytes()
    return config, models, layers, files, folder


STRUCTURAL = ("nan", "inf", "shape", "drop", "rename", "duplicate", "empty_blob", "extra_blob", "negative_variance",
              "zero_factor")


@st.composite
def structural_caffemodel(draw, layers: dict, folder: str):
    """(network, change, bytes): a network's layers with one structural change, written as a .caffemodel."""
    network = draw(st.sampled_from(sorted(layers)))
    edited = [CaffeLayer(layer.name, layer.type, layer.bottoms, layer.tops, [np.array(b) for b in layer.blobs])
              for layer in layers[network]]
    kind = draw(st.sampled_from(STRUCTURAL))
    index = draw(st.integers(0, len(edited) - 1))
    layer = edited[index]
    if kind in ("nan", "inf"):
        blob = layer.blobs[draw(st.integers(0, len(layer.blobs) - 1))]
        blob.flat[draw(st.integers(0, blob.size - 1))] = np.nan if kind == "nan" else -np.inf
    elif kind == "shape":
        j = draw(st.integers(0, len(layer.blobs) - 1))
        layer.blobs[j] = layer.blobs[j].reshape(-1)[: max(1, layer.blobs[j].size - draw(st.integers(0, 3)))]
    elif kind == "drop":
        del edited[index]
    elif kind == "rename":
        layer.name = draw(st.text(max_size=8))
    elif kind == "duplicate":
        edited.insert(index, CaffeLayer(layer.name, layer.type, layer.bottoms, layer.tops, list(layer.blobs)))
    elif kind == "empty_blob":
        layer.blobs[0] = np.zeros((0,), np.float32)
    elif kind == "extra_blob":
        layer.blobs.append(np.ones((3,), np.float32))
    elif layer.type == "BatchNorm":  # negative_variance, zero_factor
        layer.blobs[1 if kind == "negative_variance" else 2] = (
            -np.abs(layer.blobs[1]) - 1 if kind == "negative_variance" else np.zeros(1, np.float32))
    path = os.path.join(folder, "structural.caffemodel")
    write_caffemodel(path, edited)
    return network, f"{kind}:{layer.name}", Path(path).read_bytes()


def fuzz_caffe(examples: int, seed: int = 0, time_bound: float = TIME_BOUND) -> Tally:
    tally = Tally("caffe", time_bound)
    config, models, layers, files, folder = _caffe_setup()
    path = os.path.join(folder, "fuzzed.caffemodel")

    def check(case):
        network, steps, data = case
        Path(path).write_bytes(data)
        with tally.one_input():
            try:
                load_caffe_weights(models[network], network, config, path)
            except CaffeModelError as error:
                tally.refuse(str(error), [path], (network, steps))
                return
            except Exception as error:  # noqa: BLE001
                tally.unexpected(error, (network, steps))
                return
        weights = models[network].get_weights()
        bad = not all(np.all(np.isfinite(w)) for w in weights)
        tally.accept("loaded NaN or infinite weights" if bad else None, (network, steps))

    strategy = st.one_of(structural_caffemodel(layers, folder), mutated_file(files, 3))
    try:
        run_campaign(strategy, check, examples, seed)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return tally


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6)


def _paths(tree, prefix=()):
    yield prefix
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _paths(value, (*prefix, key))


@st.composite
def mutated_config(draw):
    """(preset, change, bytes): a preset's config.json with a value replaced, a key deleted or added, or bytes
    mutated."""
    preset = draw(st.sampled_from(("tiny", "small", "paper", "official")))
    tree = json.loads(get_preset(preset).to_json())
    kind = draw(st.sampled_from(("value", "delete", "add", "bytes")))
    if kind == "bytes":
        _, steps, data = draw(mutated_file({"config.json": (json.dumps(tree, indent=2) + "\n").encode()}, 3))
        return preset, steps, data
    path = draw(st.sampled_from([p for p in _paths(tree) if p]))
    parent = tree
    for key in path[:-1]:
        parent = parent[key]
    if kind == "value":
        parent[path[-1]] = draw(_JSON_VALUES)
    elif kind == "delete":
        del parent[path[-1]]
    else:
        parent[draw(st.text(min_size=1, max_size=6))] = draw(_JSON_VALUES)
    return preset, f"{kind}:{'.'.join(path)}", json.dumps(tree).encode()


def wrongly_typed_fields(obj, prefix: str = "") -> list[str]:
    """Dotted names of the fields of a (nested) config dataclass whose value is not of the field's declared type."""
    wrong = []
    hints = typing.get_type_hints(type(obj))
    for field in dataclasses.fields(obj):
        value, hint = getattr(obj, field.name), hints[field.name]
        if dataclasses.is_dataclass(hint):
            wrong += wrongly_typed_fields(value, f"{prefix}{field.name}.")
            continue
        allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        ok = any((value is None and option is type(None)) or
                 (typing.get_origin(option) is tuple and isinstance(value, tuple)
                  and all(type(v) is typing.get_args(option)[0] for v in value)) or
                 (option in (int, float, str, bool) and type(value) is option) for option in allowed)
        if not ok:
            wrong.append(f"{prefix}{field.name}")
    return wrong


def fuzz_config(examples: int, seed: int = 0, time_bound: float = TIME_BOUND) -> Tally:
    tally = Tally("config", time_bound)
    folder = tempfile.mkdtemp(prefix="fuzz-config-")
    path = os.path.join(folder, "config.json")

    def check(case):
        preset, steps, data = case
        Path(path).write_bytes(data)
        with tally.one_input():
            try:
                config = Config.load(path)
            except ConfigError as error:
                tally.refuse(str(error), [path], (preset, steps))
                return
            except Exception as error:  # noqa: BLE001
                tally.unexpected(error, (preset, steps))
                return
        wrong = wrongly_typed_fields(config)
        tally.accept(f"accepted {wrong[0]} of another type" if wrong else None, (preset, steps))

    try:
        run_campaign(mutated_config(), check, examples, seed)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return tally


def tiny_run(folder) -> Path:
    """A random-initialised `tiny` work directory in `folder`/run (the models the fuzz targets load)."""
    return make_random_workdir(Path(folder) / "run").root


def tiny_export(folder) -> Path:
    """`tiny_run` exported as a SavedModel: the version folder."""
    return Path(export_workdir(tiny_run(folder), Path(folder) / "models"))


WORKDIR_FILES = ("config.json", "gsn/DONE.json", "gsn/final.weights.h5", "lrn/final.weights.h5",
                 "glfn/final.weights.h5")


def fuzz_workdir(examples: int, seed: int = 0, time_bound: float = TIME_BOUND) -> Tally:
    tally = Tally("workdir", time_bound)
    folder = Path(tempfile.mkdtemp(prefix="fuzz-workdir-"))
    source = tiny_run(folder)
    originals = {name: (source / name).read_bytes() for name in WORKDIR_FILES}
    image = scene()

    @st.composite
    def case(draw):
        name = draw(st.sampled_from(WORKDIR_FILES))
        if name == "config.json" and draw(st.booleans()):
            return (name, *draw(mutated_config())[1:])
        return (name, *draw(mutated_file({name: originals[name]}, 3))[1:])

    def check(case):
        name, steps, data = case
        run = folder / "mutated"
        shutil.rmtree(run, ignore_errors=True)
        shutil.copytree(source, run)
        (run / name).write_bytes(data)
        with tally.one_input():
            try:
                saliency = load(run)(image)
            except (*per_file_errors(), FileNotFoundError) as error:
                tally.refuse(error_message(error), [str(run)], (name, steps))
                return
            except Exception as error:  # noqa: BLE001
                tally.unexpected(error, (name, steps))
                return
        bad = saliency.shape != (48, 64) or not np.all(np.isfinite(saliency))
        tally.accept(f"a map of shape {saliency.shape} or not finite" if bad else None, (name, steps))

    try:
        run_campaign(case(), check, examples, seed)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return tally


def fuzz_serving(examples: int, seed: int = 0, time_bound: float = TIME_BOUND, saved_model=None) -> Tally:
    tally = Tally("serving", time_bound)
    folder = tempfile.mkdtemp(prefix="fuzz-serving-")
    serve = load_serving_model(saved_model or tiny_export(folder)).loaded.signatures[SERVING_SIGNATURE]

    def check(case):
        name, steps, data = case
        with tally.one_input():
            try:
                out = serve(image_bytes=tf.constant([data]))
            except tf.errors.InvalidArgumentError as error:  # what TF Serving returns as HTTP 400
                tally.refuse(error_message(error), (), (name, steps))
                return
            except Exception as error:  # noqa: BLE001
                tally.unexpected(error, (name, steps))
                return
        mask = tf.io.decode_png(out[MASK_OUTPUT][0]).numpy()
        size = (int(out["height"][0]), int(out["width"][0]))
        tally.accept(f"a mask of {mask.shape[:2]} for an image of {size}" if mask.shape[:2] != size else None,
                     (name, steps))

    try:
        run_campaign(mutated_file(image_seeds()), check, examples, seed)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return tally


_PREDICT_LINE = re.compile(r"^(?:python predict\.py|hrsod predict): (?P<path>.+?): (?P<message>.+)$")


def fuzz_predict_cli(examples: int, seed: int = 0, time_bound: float = TIME_BOUND, batch: int = 100) -> Tally:
    """predict.py as a user runs it (a subprocess: its real stderr, C libraries included), on folders of `batch`
    mutated images and clips, alternately with --workdir and --saved-model."""
    tally = Tally("predict_cli", time_bound * batch)
    folder = Path(tempfile.mkdtemp(prefix="fuzz-predict-"))
    models = [["--workdir", str(tiny_run(folder / "w"))], ["--saved-model", str(tiny_export(folder / "s"))]]
    seeds = {**image_seeds(), **video_seeds(tempfile.mkdtemp(dir=folder))}
    calls = [0]
    startup_lines = collections.Counter()

    def check(cases):
        inputs, outputs = folder / "in", folder / "out"
        shutil.rmtree(inputs, ignore_errors=True)
        shutil.rmtree(outputs, ignore_errors=True)
        inputs.mkdir()
        paths = []
        for i, (name, _, data) in enumerate(cases):
            paths.append(inputs / f"{i:04d}_{name}")
            paths[-1].write_bytes(data)
        model = models[calls[0] % 2]
        calls[0] += 1
        with tally.one_input(len(cases)):
            done = subprocess.run([sys.executable, str(REPO_ROOT / "predict.py"), str(inputs), *model, "--out",
                                   str(outputs), "--no-progress"], capture_output=True, text=True, errors="replace",
                                  timeout=time_bound * len(cases))
        said = {}
        for line in done.stderr.splitlines():
            match = _PREDICT_LINE.match(line)
            if match and Path(match["path"]) in paths:
                said[Path(match["path"])] = match["message"]
            elif any(p.name in line for p in paths):
                tally.finding("an extra stderr line about an input", (), line)
            elif line.strip():
                startup_lines[error_kind(line)] += 1
        if done.returncode not in (0, 1):
            tally.finding(f"exit status {done.returncode}", (), done.stderr[-500:])
        for path, (name, steps, _) in zip(paths, cases):
            written = [p for p in outputs.glob(f"{path.stem}*") if not p.name.startswith(".")]
            if path in said:
                tally.refuse(said[path], [str(path), path.name], (name, steps))
                if written:
                    tally.finding("an output despite an error", (name, steps), str(written[0]))
            elif written:
                tally.accept(None, (name, steps))
            else:
                tally.finding("neither an output nor an error", (name, steps), path.name)
        leftovers = [p.name for p in outputs.rglob(".*")] if outputs.exists() else []
        if leftovers:
            tally.finding("temporary files left", (), ", ".join(leftovers[:3]))

    try:
        run_campaign(st.lists(mutated_file(seeds), min_size=batch, max_size=batch), check,
                     max(1, examples // batch), seed)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    tally.startup_lines = dict(startup_lines)
    return tally


def fuzz_convert_cli(examples: int, seed: int = 0, time_bound: float = TIME_BOUND) -> Tally:
    """convert_caffe.py on a mutated GLFN file (official networks, random weights); the GSN and LRN files intact."""
    tally = Tally("convert_cli", time_bound)
    folder = Path(tempfile.mkdtemp(prefix="fuzz-convert-"))
    config = official_config("dh").model
    files = {}
    for name, build in (("gsn", build_gsn), ("lrn", build_lrn), ("glfn", build_glfn)):
        files[name] = folder / f"{name.upper()}.caffemodel"
        write_caffemodel(files[name], caffe_layers_from_keras(build(config), name, config))
    glfn = files["glfn"].read_bytes()
    convert = importlib.import_module("hrsod_tf.cli.convert_caffe")
    fuzzed = folder / "fuzzed_GLFN.caffemodel"

    def check(case):
        _, steps, data = case
        fuzzed.write_bytes(data)
        run = folder / "run"
        shutil.rmtree(run, ignore_errors=True)
        err = io.StringIO()
        with tally.one_input(), contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                status = convert.main(["--gsn", str(files["gsn"]), "--lrn", str(files["lrn"]), "--glfn",
                                       str(fuzzed), "--workdir", str(run)])
            except BaseException as error:  # noqa: BLE001 - the command line must not raise
                tally.unexpected(error, ("GLFN", steps))
                return
        lines = err.getvalue().strip().splitlines()
        if status == 0:
            tally.accept(None if (run / "glfn" / "DONE.json").is_file() else "exit 0 without a run", ("GLFN", steps))
        elif status == 2 and len(lines) == 1:
            tally.refuse(lines[0].split(": error: ", 1)[-1], [str(fuzzed)], ("GLFN", steps))
            if run.exists() and any(run.iterdir()):
                tally.finding("a refused conversion wrote files", ("GLFN", steps), str(sorted(run.iterdir())[:3]))
        else:
            tally.finding(f"exit {status} with {len(lines)} stderr lines", ("GLFN", steps), err.getvalue()[-500:])

    try:
        run_campaign(mutated_file({"GLFN.caffemodel": glfn}, 3), check, examples, seed)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return tally


TARGETS = {"decode": fuzz_decode, "video": fuzz_video, "caffe": fuzz_caffe, "config": fuzz_config,
           "workdir": fuzz_workdir, "serving": fuzz_serving, "predict_cli": fuzz_predict_cli,
           "convert_cli": fuzz_convert_cli}


def render(document: dict) -> str:
    """Per target: the counts, the most frequent refusals by kind, the findings and the other stderr lines."""
    lines = []
    for result in document["targets"]:
        kinds = sorted(result["refusals_by_kind"].items(), key=lambda kv: -kv[1])
        lines += [f"**{result['target']}**: {result['tried']} inputs tried, {result['accepted']} accepted, "
                  f"{result['refused']} refused, {len(result['findings'])} findings; slowest input "
                  f"{result['slowest_input_s']:.2f} s (bound {result['time_bound_s']:.0f} s). The refusals by kind "
                  "(file names, numbers and quoted values blanked)"
                  + (f", the {min(6, len(kinds))} most frequent of {len(kinds)}" if len(kinds) > 6 else "") + ":", "",
                  *(f"- {count} × {kind}" for kind, count in kinds[:6])]
        if result["findings"]:
            lines += ["", f"Findings ({len(result['findings'])}):", "",
                      *(f"- {f['problem']} ({f['seed_file']}, {f['mutation']}): {f['message'][:200]}"
                        for f in result["findings"][:10])]
        other = result.get("startup_lines") or {}
        if other:
            lines += ["", "Other stderr lines (not about an input file, such as TensorFlow's start-up log): "
                      f"{sum(other.values())} in {len(other)} kinds."]
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=(*TARGETS, "all"), required=True)
    parser.add_argument("--examples", type=int, default=1000, help="inputs per target (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="Hypothesis' seed: the same seed tries the same inputs")
    parser.add_argument("--time-bound", type=float, default=TIME_BOUND, help="seconds one input may take")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    results = []
    for name in TARGETS if args.target == "all" else (args.target,):
        print(f"[fuzz] {name}: {args.examples} inputs, seed {args.seed}", file=sys.stderr, flush=True)
        tally = TARGETS[name](args.examples, args.seed, args.time_bound)
        result = {**tally.to_dict(), "seed": args.seed, "examples": args.examples,
                  "startup_lines": getattr(tally, "startup_lines", {})}
        results.append(result)
        print(f"[fuzz] {name}: {result['tried']} tried, {result['accepted']} accepted, {result['refused']} refused, "
              f"{len(result['findings'])} findings, slowest {result['slowest_input_s']} s", file=sys.stderr,
              flush=True)
    document = {"targets": results, "command": " ".join(["python", "reliability/fuzzing.py", *sys.argv[1:]])}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(document, indent=1) + "\n")
        Path(args.json).with_suffix(".md").write_text(render(document))
    print(json.dumps({r["target"]: {k: r[k] for k in ("tried", "accepted", "refused")} | {
        "findings": len(r["findings"])} for r in results}))
    return 1 if any(r["findings"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
