#!/usr/bin/env python
"""Size on disk and latency of the TF Serving export.

    python benchmarks/serving_latency.py --workdir runs/demo          # a trained run
    python benchmarks/serving_latency.py --preset small [--json OUT]  # random-init networks of a preset

Exports the run into a temporary model base path, loads the SavedModel with plain TensorFlow (as TF Serving
does), and times serving_default on one 1920x1080 JPEG (matplotlib's Grace Hopper photo, resized): one
warm-up call, then the median of `--repeats` calls (3; 1 with --quick). The time is that of the graph alone
(no HTTP / gRPC).
Random-init networks give maps near 0.5, so nearly every pixel is "uncertain" and APS takes its maximum
number of patches: the worst case of a trained model's latency. Prints the JSON result on stdout (with the
machine, CPU flags and load average); `run_all.py` runs it as a step for the `small` and `paper` presets.
"""

from __future__ import annotations

import pathlib
import tempfile
import time

import common  # noqa: F401  (before TensorFlow: its C++ logging quiet, its oneDNN kernels on)
import tensorflow as tf
from common import base_parser, emit, fmt, log, repeats, summarize, table
from matplotlib import cbook

from hrsod_tf.deploy import saved_model as export
from hrsod_tf.workdir import make_random_workdir


def photo_jpeg(height: int = 1080, width: int = 1920) -> bytes:
    """A real photograph resized to height x width, as JPEG bytes (quality 90)."""
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        photo = tf.io.decode_jpeg(f.read())
    resized = tf.image.resize(photo, [height, width], antialias=True)
    return tf.io.encode_jpeg(tf.cast(tf.round(resized), tf.uint8), quality=90).numpy()


def directory_megabytes(path: pathlib.Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def measure(workdir, runs: int = 3) -> dict:
    """Exports `workdir`, then returns size (MB), export and load seconds, and serving_default latency."""
    with tempfile.TemporaryDirectory(prefix="hrsod-serving-") as base:
        start = time.perf_counter()
        version = export.export_workdir(workdir, base)
        export_seconds = time.perf_counter() - start
        size = directory_megabytes(version)
        variables = directory_megabytes(version / "variables")

        start = time.perf_counter()
        serve = tf.saved_model.load(str(version)).signatures[export.SERVING_SIGNATURE]
        load_seconds = time.perf_counter() - start

        files = tf.constant([photo_jpeg()])
        start = time.perf_counter()
        serve(image_bytes=files)[export.MASK_OUTPUT].numpy()
        first_call = time.perf_counter() - start
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            serve(image_bytes=files)[export.MASK_OUTPUT].numpy()
            times.append(time.perf_counter() - start)
        timing = summarize(times)
    return {
        "export_mb": round(size, 2),
        "variables_mb": round(variables, 2),
        "export_seconds": round(export_seconds, 1),
        "load_seconds": round(load_seconds, 1),
        "first_call_seconds": round(first_call, 2),
        "median_seconds_1920x1080": round(timing["median_s"], 3),
        "timing": timing,
    }


def main(argv=None) -> dict:
    parser = base_parser(__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--workdir", type=pathlib.Path, help="a trained run")
    source.add_argument("--preset", choices=("tiny", "small", "paper", "official"),
                        help="random-init networks of this preset")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="hrsod-run-") as scratch:
        if args.workdir is None:
            log(f"random-init {args.preset} run in {scratch}")
        workdir = args.workdir or make_random_workdir(pathlib.Path(scratch) / "run", args.preset).root
        result = measure(workdir, repeats(args, full=3, quick=1))
    return emit({"benchmark": "serving_latency", "source": str(args.workdir or f"{args.preset} (random init)"),
                 "gpus": len(tf.config.list_physical_devices("GPU")), **result}, args, render)


def render(result: dict) -> str:
    """One table row: the export's size, its export and load times and its latency."""
    return "\n".join(table(
        ["networks", "export size", "variables", "export time", "load time", "first call", "median call", "calls"],
        [[result["source"], fmt(result["export_mb"], ".1f") + " MB", fmt(result["variables_mb"], ".1f") + " MB",
          fmt(result["export_seconds"], ".0f") + " s", fmt(result["load_seconds"], ".1f") + " s",
          fmt(result["first_call_seconds"], ".2f") + " s", fmt(result["median_seconds_1920x1080"], ".2f") + " s",
          str(result["timing"]["repeats"])]]))


if __name__ == "__main__":
    main()
