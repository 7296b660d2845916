"""Peak resident memory of the full pipeline (GSN -> APS -> LRN -> fuse -> GLFN) on a 3840x2160 image.

Preset `paper`, float32, random initialisation. Each measurement runs in a fresh Python process (this script
starts itself once per mode with ``--mode``), because the peak resident set size
(`resource.getrusage(RUSAGE_SELF).ru_maxrss`) only ever grows within a process. Every child reports

* baseline: the peak RSS after importing TensorFlow and building the three networks (the pipeline's own
  share is the difference);
* peak: the peak RSS after one run of the pipeline;
* the number of APS patches the run used.

Modes:

* ``random``  -- the pipeline as it is (`predict(image, "full")`); a random-init GSN gives a map that may
  have no uncertain pixel or nothing but uncertain pixels, so the patch count is arbitrary.
* ``blurred`` -- realistic uncertain area: the GSN still runs, but the stages after it are driven with a
  coarse map made from a blurred synthetic mask (`generate_scene` at 2160 px, warped to 3840x2160; the mask
  area-resized to the GSN's 384x384, Gaussian-blurred, upsampled back), so APS picks the patches it would for
  a real object.

Target: peak < 3 GiB.

    python benchmarks/peak_memory.py [--modes random blurred] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import common  # noqa: F401  (before TensorFlow: its C++ logging quiet, its oneDNN kernels on)
import tensorflow as tf
from common import (
    GIB,
    MIB,
    base_parser,
    blurred_coarse_map,
    emit,
    fmt,
    full_resolution_stages,
    log,
    markdown,
    peak_rss_bytes,
    random_pipeline,
    synthetic_scene,
    table,
    target,
)

PRESET = "paper"
HEIGHT, WIDTH = 2160, 3840
TARGET_BYTES = 3 * GIB
MODES = ("random", "blurred")


# ------------------------------------------------------------------------------------------ child


def run_random(pipeline, image) -> int:
    """The whole pipeline as users run it; returns the number of APS patches it used."""
    pipeline.predict(image, "full").numpy()
    stages = full_resolution_stages(pipeline)
    return int(stages.boxes(stages.coarse(image), "aps").shape[0])


def run_blurred(pipeline, image, coarse) -> int:
    """GSN, then APS -> LRN -> fuse -> GLFN driven by `coarse`; returns the number of APS patches."""
    run = full_resolution_stages(pipeline)

    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.uint8), tf.TensorSpec([None, None, 1], tf.float32)])
    def stages(image, coarse):
        gsn_map = run.coarse(image)  # run (and hold) the GSN as the real pipeline does
        boxes = run.boxes(coarse, "aps")
        fused = run.refine(image, coarse, boxes)
        final = run.fusion_network(image, fused)
        return final + 0.0 * gsn_map, tf.shape(boxes)[0]

    _, count = stages(tf.convert_to_tensor(image), tf.convert_to_tensor(coarse))
    return int(count)


def measure(mode: str) -> dict:
    """One mode in this process: baseline and peak RSS, patches, seconds."""
    image, mask = synthetic_scene(HEIGHT, WIDTH, seed=0)
    coarse = blurred_coarse_map(mask, 384) if mode == "blurred" else None
    pipeline = random_pipeline(PRESET)
    baseline = peak_rss_bytes()
    start = time.perf_counter()
    patches = run_random(pipeline, image) if mode == "random" else run_blurred(pipeline, image, coarse)
    seconds = time.perf_counter() - start
    peak = peak_rss_bytes()
    return {"mode": mode, "baseline_rss_bytes": baseline, "peak_rss_bytes": peak,
            "pipeline_share_bytes": peak - baseline, "aps_patches": patches, "seconds": seconds,
            "lrn_batch_size": pipeline.config.inference.lrn_batch_size,
            "glfn_tiled": HEIGHT * WIDTH > pipeline.config.inference.glfn_max_pixels}


# ------------------------------------------------------------------------------------------ parent


def run_child(mode: str) -> dict:
    """Runs `measure(mode)` in a fresh interpreter and returns its result."""
    log(f"peak memory, mode {mode} (fresh process)")
    completed = subprocess.run([sys.executable, __file__, "--mode", mode], capture_output=True, text=True)
    if completed.returncode != 0:
        return {"mode": mode, "error": completed.stderr[-2000:]}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def verdict(children: list) -> dict:
    """The target verdict on the largest peak of the modes that ran."""
    ok = [c for c in children if "peak_rss_bytes" in c]
    if not ok:
        return target(None, "no mode ran (every child failed)", "< 3 GiB")
    worst = max(ok, key=lambda c: c["peak_rss_bytes"])
    met = worst["peak_rss_bytes"] < TARGET_BYTES
    return target(met, f"{worst['peak_rss_bytes'] / GIB:.2f} GiB (mode {worst['mode']})", "< 3 GiB")


def render(result: dict) -> str:
    rows = [[c["mode"], c.get("aps_patches", "-"), fmt(c.get("baseline_rss_bytes", 0) / MIB, ".0f"),
             fmt(c.get("peak_rss_bytes", 0) / MIB, ".0f"), fmt(c.get("pipeline_share_bytes", 0) / MIB, ".0f"),
             fmt(c.get("peak_rss_bytes", 0) / GIB, ".2f"), fmt(c.get("seconds"), ".0f")]
            for c in result["modes"] if "error" not in c]
    return markdown(
        f"Measure: {result['measure']}. Modes: `random` = the pipeline as is (the random-init GSN map decides the "
        "patches); `blurred` = the GSN runs, then APS/LRN/GLFN are driven by a blurred synthetic mask (realistic "
        "uncertain band).",
        table(["mode", "APS patches", "baseline MiB (TF + 3 models)", "peak MiB", "pipeline share MiB", "peak GiB",
               "seconds"], rows))


def main(argv=None):
    parser = base_parser(__doc__)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=None,
                        help="default: both, or only 'blurred' with --quick (the random mode runs ~60 patches)")
    parser.add_argument("--mode", choices=MODES, help=argparse_hidden())
    args = parser.parse_args(argv)
    if args.mode:  # child: one line of JSON, nothing else on stdout
        print(json.dumps(measure(args.mode)), flush=True)
        return None
    modes = args.modes or (["blurred"] if args.quick else list(MODES))
    children = [run_child(mode) for mode in modes]
    for child in children:
        if "peak_rss_bytes" in child:
            log(f"  {child['mode']}: baseline {child['baseline_rss_bytes'] / MIB:.0f} MiB, "
                f"peak {child['peak_rss_bytes'] / MIB:.0f} MiB, {child['aps_patches']} patches")
    result = {"benchmark": "peak_memory", "preset": PRESET, "image": f"{WIDTH}x{HEIGHT}", "dtype": "float32",
              "init": "random",
              "measure": "VmHWM of /proc/self/status (common.peak_rss_bytes) in a fresh process per mode",
              "modes": children, "target": verdict(children)}
    return emit(result, args, render)


def argparse_hidden():
    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
