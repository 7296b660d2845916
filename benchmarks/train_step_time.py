#!/usr/bin/env python
"""Seconds per training step of each stage (GSN, LRN, GLFN) for the `small` and `paper` presets.

Runs the real `StageTrainer` step (forward, backward, per-group SGD update) on a fixed random batch held in
memory, so the figure is the network's cost, without the input pipeline. Two warm-up steps (tracing) are
excluded; the median of the timed steps is reported.

    python benchmarks/train_step_time.py                          # small and paper, preset batch sizes
    python benchmarks/train_step_time.py --presets paper --batch-size 2 --steps 3
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import common  # before TensorFlow: quiets its C++ logging
import numpy as np
import tensorflow as tf

from hrsod_tf.config import get_preset
from hrsod_tf.models.stage_networks import STAGE_BUILDERS, build_stage_network
from hrsod_tf.training import StageTrainer

SECOND_INPUT = {"lrn": "guidance", "glfn": "saliency"}


def random_batch(stage: str, batch: int, size: int):
    """(inputs, labels) of the stage's shapes: images 0..255, maps and labels in [0, 1] / {0, 1}."""
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (batch, size, size, 3)).astype(np.float32)
    labels = (rng.uniform(size=(batch, size, size, 1)) > 0.5).astype(np.float32)
    if stage == "gsn":
        return image, labels
    return {"image": image, SECOND_INPUT[stage]: rng.uniform(size=labels.shape).astype(np.float32)}, labels


def time_stage(config, stage: str, steps: int, batch_size: int | None, precision: str) -> dict:
    """Median seconds per step of `stage` after two warm-up steps."""
    stage_config = config.train.stage(stage)
    if batch_size:
        stage_config = dataclasses.replace(stage_config, batch_size=batch_size)
    size = config.model.gsn_input_size if stage == "gsn" else (
        config.model.lrn_input_size if stage == "lrn" else stage_config.input_size)
    model_config = dataclasses.replace(config.model, backbone_weights="none")  # offline: timing only
    with tempfile.TemporaryDirectory() as tmp:
        trainer = StageTrainer(stage, lambda: build_stage_network(stage, model_config), stage_config,
                               checkpoint_dir=tmp,
                               precision=precision, has_backbone=stage != "glfn")
        batch = random_batch(stage, stage_config.batch_size, size)
        iterator = iter(trainer.distribute(lambda ctx: tf.data.Dataset.from_tensors(batch)))
        for _ in range(2):
            float(trainer.train_step(iterator))
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            float(trainer.train_step(iterator))  # float() waits for the step to finish
            times.append(time.perf_counter() - start)
    return {"stage": stage, "preset": config.preset, "batch_size": stage_config.batch_size, "input_size": size,
            "precision": trainer.policy, "seconds_per_step": float(np.median(times)),
            "images_per_second": stage_config.batch_size / float(np.median(times))}


def render(result: dict) -> str:
    """The step times, and beside the input pipeline's patches/s (when given) the ratio of supply to demand."""
    rows, fmt = result["rows"], common.fmt
    blocks = [common.table(["preset", "stage", "batch", "input", "precision", "s / step", "images/s", "device"],
                           [[r["preset"], r["stage"], r["batch_size"], r["input_size"], r["precision"],
                             fmt(r["seconds_per_step"]), fmt(r["images_per_second"], ".2f"), r["device"]]
                            for r in rows])]
    supply = {r["preset"]: r["patches/s"] for r in (result.get("supply") or {}).get("rows", []) if r["grid"] != "full"}
    demand = [r for r in rows if r["stage"] == "lrn" and r["preset"] in supply]
    if demand:
        blocks.append(common.table(
            ["preset", "pipeline patches/s (default grid)", "train batch", "s / train step", "patches/s consumed",
             "supply / demand"],
            [[r["preset"], fmt(supply[r["preset"]], ".1f"), r["batch_size"], fmt(r["seconds_per_step"]),
              fmt(r["images_per_second"], ".2f"), fmt(supply[r["preset"]] / r["images_per_second"], ".1f") + "x"]
             for r in demand]))
    return common.markdown(*blocks)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", nargs="+", default=["small", "paper"])
    parser.add_argument("--stages", nargs="+", default=["gsn", "lrn", "glfn"], choices=tuple(STAGE_BUILDERS))
    parser.add_argument("--steps", type=int, default=5, help="timed steps after 2 warm-up steps")
    parser.add_argument("--batch-size", type=int, help="override every stage's batch size (paper on a CPU)")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--supply-from", type=Path, metavar="JSON",
                        help="a lrn_pipeline_throughput.py result: the patches/s its input pipeline supplies")
    parser.add_argument("--json", help="also write the rows to this JSON file (and their Markdown beside it)")
    args = parser.parse_args(argv)
    device = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU ({os.cpu_count()} cores)"
    rows = []
    print(f"device: {device}")
    print(f"{'preset':8} {'stage':5} {'batch':>5} {'input':>6} {'precision':>15} {'s/step':>8} {'img/s':>7}")
    for preset in args.presets:
        for stage in args.stages:
            row = time_stage(get_preset(preset), stage, args.steps, args.batch_size, args.precision)
            rows.append({**row, "device": device})
            print(f"{preset:8} {stage:5} {row['batch_size']:5d} {row['input_size']:6d} {row['precision']:>15} "
                  f"{row['seconds_per_step']:8.3f} {row['images_per_second']:7.2f}", flush=True)
    if args.json:
        supply = json.loads(args.supply_from.read_text()) if args.supply_from and args.supply_from.exists() else None
        common.write_result({"rows": rows, "supply": supply}, args.json, render)
    return 0


if __name__ == "__main__":
    sys.exit(main())
