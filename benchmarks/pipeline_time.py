#!/usr/bin/env python
"""Time of the any-resolution pipeline (GSN -> APS -> LRN + fusion -> GLFN) on one high-resolution image.

    python benchmarks/pipeline_time.py --preset small                       # random-init networks
    python benchmarks/pipeline_time.py --preset paper --sizes 1920x1080 3840x2160 --runs 5
    python benchmarks/pipeline_time.py --workdir runs/demo                  # a trained run's networks
    python benchmarks/pipeline_time.py --preset paper --coarse synthetic    # realistic APS patch count
    python benchmarks/pipeline_time.py --preset official --sizes 1920x1080 --coarse synthetic \
        --model models/official_openvino_int8 --json OUT.json       # an export (OpenVINO, ONNX, LiteRT, a run)

Each stage runs as its own `tf.function` with an input signature (traced once, during warm-up), so every
stage is timed the same way, with the stages of protocol "full_resolution" (`common.full_resolution_stages`):
GSN = `coarse`, APS = `boxes`, LRN + fusion = `refine`, GLFN = `fusion_network`. Prints the median of `--runs`
runs after `--warmup` runs, per stage and in total, with the number of APS patches (the LRN time grows with it).

The patch count depends on the coarse map. A random-init GSN gives a flat, uncertain map (APS then covers
most of the image, up to `aps.max_patches`), which is no trained model's behaviour. `--coarse synthetic`
replaces the GSN's map (for APS, LRN and GLFN; the GSN is still run and timed) by a blurred synthetic object
mask (`common.blurred_coarse_map`, as the other benchmarks use), so the uncertain region is a band along
object boundaries, as with a trained GSN. `--workdir` uses a trained run's own map.

`--model DIR` times an export (`hrsod_tf.deploy.model_loading.load_pipeline`: its networks on their runtime,
under the same pipeline code), exactly as the TF pipeline is timed; with `--preset`, an export of another preset
is refused.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import common  # before TensorFlow: quiets its C++ logging
import numpy as np
import tensorflow as tf

from hrsod_tf.config import PRESETS
from hrsod_tf.deploy.model_loading import load_pipeline
from hrsod_tf.deploy.runtimes.formats import RuntimeNotInstalledError
from hrsod_tf.pipeline import SaliencyPipeline

OVERHEAD_TARGET = 0.15  # of the total: what is not the networks (resizing, cropping, pasting, dispatch)
IMAGE = tf.TensorSpec([None, None, 3], tf.uint8)
MAP = tf.TensorSpec([None, None, 1], tf.float32)
BOXES = tf.TensorSpec([None, 4], tf.int32)


def staged_functions(pipeline: SaliencyPipeline) -> dict:
    """The four stages, each a `tf.function` with an input signature."""
    stages = common.full_resolution_stages(pipeline)
    return {
        "gsn": tf.function(stages.coarse, input_signature=[IMAGE]),
        "aps": tf.function(lambda coarse: stages.boxes(coarse, "aps"), input_signature=[MAP]),
        "lrn+fusion": tf.function(stages.refine, input_signature=[IMAGE, MAP, BOXES]),
        # explicit tf.cond inside: nothing for AutoGraph to convert (and it warns when it tries)
        "glfn": tf.function(stages.fusion_network, input_signature=[IMAGE, MAP], autograph=False),
    }


def timed(function, *args):
    """(seconds, result) of one call, with the result fetched to the host (so the work is finished)."""
    start = time.perf_counter()
    result = function(*args)
    result.numpy()
    return time.perf_counter() - start, result


def run_once(stages: dict, image, forced_coarse=None) -> tuple[dict, int]:
    """Times each stage once; returns ({stage: seconds}, number of patches)."""
    times = {}
    times["gsn"], coarse = timed(stages["gsn"], image)
    if forced_coarse is not None:
        coarse = forced_coarse
    times["aps"], boxes = timed(stages["aps"], coarse)
    times["lrn+fusion"], fused = timed(stages["lrn+fusion"], image, coarse, boxes)
    times["glfn"], _ = timed(stages["glfn"], image, fused)
    times["total"] = sum(times.values())
    return times, int(boxes.shape[0])


def benchmark(pipeline, height: int, width: int, runs: int, warmup: int, coarse_mode: str) -> dict:
    """Median per-stage times of the pipeline on one height x width image."""
    stages = staged_functions(pipeline)
    if coarse_mode == "synthetic":
        photo, mask = common.synthetic_scene(height, width, seed=1)
        forced = common.blurred_coarse_map(mask, pipeline.config.model.gsn_input_size)
        image, forced = tf.constant(photo), tf.constant(forced)
    else:
        image, forced = tf.constant(np.random.default_rng(0).integers(0, 256, (height, width, 3), np.uint8)), None
    for _ in range(warmup):
        run_once(stages, image, forced)
    samples, patches = [], 0
    for _ in range(runs):
        times, patches = run_once(stages, image, forced)
        samples.append(times)
    coarse = forced if forced is not None else stages["gsn"](image)
    uncertain = float(tf.reduce_mean(tf.cast(common.full_resolution_stages(pipeline).attention(coarse), tf.float32)))
    return {
        "size": f"{width}x{height}",
        "patches": patches,
        "uncertain_fraction": uncertain,
        "median_seconds": {k: statistics.median(s[k] for s in samples) for k in samples[0]},
        "runs": runs,
    }


def format_row(result: dict) -> str:
    seconds = result["median_seconds"]
    stages = "  ".join(f"{k} {v:7.3f}" for k, v in seconds.items())
    return (f"{result['size']:>10}  patches {result['patches']:3d}  uncertain {result['uncertain_fraction']:5.1%}  "
            f"{stages}  (seconds, median of {result['runs']})")


def network_seconds(compute: dict | None, patches: int, pixels: int) -> float | None:
    """Estimated time of the networks alone for one image, from a compute_efficiency.py result: GSN at 384 (batch 1)
    + LRN per patch (GSN batch-4 time per image, the LRN has the same convolutions) + GLFN scaled from 1024x1024 by
    pixels."""
    if not compute:
        return None
    runs = [r for r in compute["gsn"]["runs"] if not r["jit_compile"]]
    gsn = next((r["seconds_per_image"] for r in runs if r["batch"] == 1), None)
    per_patch = min(r["seconds_per_image"] for r in runs)
    glfn = compute["glfn"]["seconds_per_image"] * pixels / compute["glfn"]["input_size"] ** 2
    return gsn + patches * per_patch + glfn


def overheads(results: list, compute: dict | None) -> list:
    """Per size: (networks alone, estimated; overhead = (total - networks alone) / total). The overhead is None
    when unknown, or when the estimate (another process, another moment) exceeds the total."""
    found = []
    for result in results:
        width, height = (int(v) for v in result["size"].split("x"))
        nets, total = network_seconds(compute, result["patches"], width * height), result["median_seconds"]["total"]
        found.append((nets, None if nets is None or nets > total else (total - nets) / total))
    return found


def overhead_verdict(results: list, compute: dict | None) -> dict:
    """The target: the worst resolved overhead at most OVERHEAD_TARGET of the total."""
    resolved = [(overhead, r["size"]) for r, (_, overhead) in zip(results, overheads(results, compute))
                if overhead is not None]
    if not resolved:
        return common.target(None, "not resolved (compute efficiency missing, or every estimate exceeded its total)",
                             "<= 15% of total")
    worst = max(resolved)
    return common.target(worst[0] <= OVERHEAD_TARGET, f"{100 * worst[0]:.0f}% at {worst[1]}", "<= 15% of total")


def render(result: dict) -> str:
    rows = []
    for r, (nets, overhead) in zip(result["results"], overheads(result["results"], result.get("networks_from"))):
        s = r["median_seconds"]
        rows.append([r["size"], str(r["patches"]), common.fmt(100 * r["uncertain_fraction"], ".1f") + "%",
                     *(common.fmt(s.get(k)) for k in ("gsn", "aps", "lrn+fusion", "glfn", "total")),
                     common.fmt(nets), "n/r" if overhead is None else f"{100 * overhead:.0f}%"])
    unresolved = any(row[-1] == "n/r" for row in rows)
    return common.markdown(
        f"Networks: {result.get('model')}; coarse map: {result.get('coarse')} (a blurred synthetic object mask "
        "drives APS/LRN/GLFN, so the patch count is realistic; the GSN still runs and is timed). Median seconds "
        "per stage:",
        common.table(["size", "patches", "uncertain", "GSN", "APS", "LRN+fusion", "GLFN", "total",
                      "networks alone (est.)", "overhead"], rows),
        "n/r: not resolved — the networks-alone estimate exceeds the measured total (the machine's load differed "
        "between the two processes)." if unresolved else "")


def parse_size(text: str) -> tuple[int, int]:
    """"1920x1080" -> (height 1080, width 1920)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    return height, width


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", choices=sorted(PRESETS), help="random-init networks of a preset (default: small);"
                        " with --model, the preset the export must have")
    source.add_argument("--workdir", help="a trained run's work directory instead")
    parser.add_argument("--model", metavar="DIR", help="an export of export.py (OpenVINO, ONNX, LiteRT) or a run")
    parser.add_argument("--threads", type=int, help="threads for the export's runtime (default: its own)")
    parser.add_argument("--sizes", nargs="+", type=parse_size, default=[(1080, 1920)], metavar="WxH",
                        help="image sizes (default: 1920x1080)")
    parser.add_argument("--coarse", choices=("gsn", "synthetic"), default="gsn",
                        help="coarse map for APS/LRN/GLFN: the GSN's own, or a blurred synthetic mask")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per size (the median is reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first (tracing, allocation)")
    parser.add_argument("--networks-from", type=Path, metavar="JSON",
                        help="a compute_efficiency.py result: its network times estimate the pipeline's overhead")
    parser.add_argument("--json", type=Path, help="also write the results here (and their Markdown beside them)")
    args = parser.parse_args(argv)

    if args.model and args.workdir:
        parser.error("give --model or --workdir, not both")
    if args.model:
        try:
            pipeline = load_pipeline(args.model, preset=args.preset, threads=args.threads)
        except (OSError, ValueError, RuntimeNotInstalledError) as error:
            print(f"pipeline_time.py: error: {error}", file=sys.stderr)
            return 2
        if pipeline.networks is None:
            print(f"pipeline_time.py: error: {args.model} is a SavedModel (one graph): time it with "
                  "benchmarks/serving_latency.py", file=sys.stderr)
            return 2
        label = f"{args.model} ({pipeline.networks.runtime}, {pipeline.config.preset})"
    elif args.workdir:
        pipeline = SaliencyPipeline.from_workdir(args.workdir, require=("gsn", "lrn", "glfn"))
        label = args.workdir
    else:
        pipeline = common.random_pipeline(args.preset or "small")
        label = f"{args.preset or 'small'} (random init)"
    print(f"{label}; coarse map: {args.coarse}; devices: {[d.device_type for d in tf.config.list_logical_devices()]}")
    results = []
    for height, width in args.sizes:
        results.append(benchmark(pipeline, height, width, args.runs, args.warmup, args.coarse))
        print(format_row(results[-1]), flush=True)
    if args.json:
        compute = json.loads(args.networks_from.read_text()) if args.networks_from and \
            args.networks_from.exists() else None
        common.write_result({"model": label, "coarse": args.coarse, "results": results,
                             "peak_rss_bytes": common.peak_rss_bytes(), "networks_from": compute,
                             "target": overhead_verdict(results, compute)}, args.json, render)
    return 0


if __name__ == "__main__":
    sys.exit(main())
