#!/usr/bin/env python
"""Size on disk and latency of the TF Serving export.

    python benchmarks/serving_latency.py --workdir runs/demo          # a trained run
    python benchmarks/serving_latency.py --preset small               # random-init networks of a preset

Exports the run into a temporary model base path, loads the SavedModel with plain TensorFlow (as TF Serving
does), and times serving_default on one 1920x1080 JPEG (matplotlib's Grace Hopper photo, resized): one
warm-up call, then the median of `--runs` calls. The time is that of the graph alone (no HTTP / gRPC).
Random-init networks give maps near 0.5, so nearly every pixel is "uncertain" and APS takes its maximum
number of patches: the worst case of a trained model's latency.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def random_workdir(preset: str, root: pathlib.Path) -> pathlib.Path:
    """A work directory with random-init GSN, LRN and GLFN of `preset`, marked trained."""
    import tensorflow as tf

    from hrsod_tf.config import get_preset
    from hrsod_tf.models import build_glfn, build_gsn, build_lrn
    from hrsod_tf.workdir import WorkDir

    tf.keras.utils.set_random_seed(0)
    config = get_preset(preset)
    run = WorkDir(root)
    run.save_config(config)
    for stage, build in (("gsn", build_gsn), ("lrn", build_lrn), ("glfn", build_glfn)):
        run.stage_dir(stage).mkdir(parents=True, exist_ok=True)
        build(config.model).save_weights(run.final_weights(stage))
        run.mark_finished(stage, {"steps": 0, "note": "random init (benchmark)"})
    return run.root


def photo_jpeg(height: int = 1080, width: int = 1920) -> bytes:
    """A real photograph resized to height x width, as JPEG bytes (quality 90)."""
    import tensorflow as tf
    from matplotlib import cbook

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        photo = tf.io.decode_jpeg(f.read())
    resized = tf.image.resize(photo, [height, width], antialias=True)
    return tf.io.encode_jpeg(tf.cast(tf.round(resized), tf.uint8), quality=90).numpy()


def directory_megabytes(path: pathlib.Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def measure(workdir, runs: int = 3) -> dict:
    """Exports `workdir`, then returns size (MB), export and load seconds, and serving_default latency."""
    import tensorflow as tf

    from hrsod_tf import export

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
    return {
        "export_mb": round(size, 2),
        "variables_mb": round(variables, 2),
        "export_seconds": round(export_seconds, 1),
        "load_seconds": round(load_seconds, 1),
        "first_call_seconds": round(first_call, 2),
        "median_seconds_1920x1080": round(statistics.median(times), 3),
        "runs": [round(t, 3) for t in times],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--workdir", type=pathlib.Path, help="a trained run")
    source.add_argument("--preset", choices=("tiny", "small", "paper", "official"),
                        help="random-init networks of this preset")
    parser.add_argument("--runs", type=int, default=3, help="timed calls after the warm-up (median reported)")
    parser.add_argument("--json", type=pathlib.Path, help="also write the result here")
    args = parser.parse_args(argv)

    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="hrsod-run-") as scratch:
        workdir = args.workdir or random_workdir(args.preset, pathlib.Path(scratch))
        result = measure(workdir, args.runs)
    # Other processes inflate CPU timings: the load average says how busy the machine was.
    result = {"source": str(args.workdir or f"{args.preset} (random init)"),
              "cpu_threads": os.cpu_count(), "gpus": len(tf.config.list_physical_devices("GPU")),
              "load_average_1min": round(os.getloadavg()[0], 1), **result}
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
