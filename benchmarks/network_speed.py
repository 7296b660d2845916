#!/usr/bin/env python
"""The GSN, the LRN and the GLFN alone, timed under whichever Keras backend is active (TensorFlow, JAX, PyTorch).

    python benchmarks/network_speed.py --preset paper --batch 8 --size 384
    KERAS_BACKEND=jax python benchmarks/network_speed.py --preset paper --precision bfloat16 --json OUT.json
    KERAS_BACKEND=torch python benchmarks/network_speed.py --preset official --precision float16   # on a GPU

For machines with a GPU and JAX or PyTorch but no TensorFlow: the networks (`hrsod_tf.models`, Keras layers and
keras.ops only) are built with random weights under the backend Keras runs on, and each is timed through Keras'
own compiled inference (`predict_on_batch`: jit under JAX, tf.function under TensorFlow, no-grad under PyTorch).
Nothing here imports TensorFlow unless it is the backend. `--precision` sets Keras' dtype policy
(float16 / bfloat16 as mixed precision: float32 weights, softmax in float32).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import common  # imports no TensorFlow
import keras
import numpy as np

from hrsod_tf.config import PRESETS
from hrsod_tf.models import build_stage_network

POLICIES = {"float32": "float32", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}


def time_network(model, inputs, runs: int, warmup: int) -> dict:
    """Median seconds of `model.predict_on_batch(inputs)` (the result brought to the host)."""
    for _ in range(warmup):
        keras.ops.convert_to_numpy(model.predict_on_batch(inputs))
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(model.predict_on_batch(inputs))
        seconds.append(time.perf_counter() - start)
    return {"median_s": statistics.median(seconds), "runs_s": seconds}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="paper")
    parser.add_argument("--networks", nargs="+", choices=("gsn", "lrn", "glfn"), default=["gsn", "lrn", "glfn"])
    parser.add_argument("--batch", type=int, default=1, help="images per call (default 1)")
    parser.add_argument("--size", type=int, help="input side in pixels (default: the preset's own: GSN and LRN input "
                                                 "sides, 1024 for the GLFN)")
    parser.add_argument("--precision", choices=tuple(POLICIES), default="float32")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls first (compilation)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    keras.mixed_precision.set_global_policy(POLICIES[args.precision])
    config = common.model_config(args.preset)
    default_sides = {"gsn": config.gsn_input_size, "lrn": config.lrn_input_size, "glfn": 1024}
    rng = np.random.default_rng(0)
    results = {}
    for stage in args.networks:
        side = args.size or default_sides[stage]
        model = build_stage_network(stage, config, input_size=side)
        image = rng.uniform(0, 255, (args.batch, side, side, 3)).astype("float32")
        inputs = image if stage == "gsn" else [image, rng.uniform(0, 1, (args.batch, side, side, 1)).astype("float32")]
        results[stage] = {"side": side, **time_network(model, inputs, args.runs, args.warmup)}
        results[stage]["seconds_per_image"] = results[stage]["median_s"] / args.batch
        print(f"{stage.upper():5s} {side}x{side} batch {args.batch}: {results[stage]['median_s']:.3f} s "
              f"({results[stage]['seconds_per_image']:.3f} s/image)", flush=True)
    result = {"backend": keras.backend.backend(), "tensorflow_imported": "tensorflow" in sys.modules,
              "preset": args.preset, "batch": args.batch, "precision": args.precision, "networks": results,
              "machine": common.machine_info(), "date": common.now_utc()}
    if args.json:
        common.write_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
