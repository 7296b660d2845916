#!/usr/bin/env python
"""The full pipeline on every runtime and precision, side by side with TensorFlow float32, per stage.

    python benchmarks/runtime_speed.py --presets official paper --sizes 1920x1080 3840x2160 --json OUT.json
    python benchmarks/runtime_speed.py --presets official --only openvino:int8 --qualities best fast   # and levels

For each preset: a random-init run (`make_random_workdir`; speed does not depend on the weights' values) exported
with ``export.py`` in every offered format and precision (int8 calibrated on synthetic training scenes of the
preset), then, in one process, every pipeline timed stage by stage exactly as ``benchmarks/pipeline_time.py``
times it (`--coarse synthetic`: a realistic APS patch count), the runtimes in alternation (TF float32, export 1,
export 2, ..., TF float32, ...) so that a background load that comes and goes hits all of them alike: the
ratio to TF float32 is the figure to read on a shared machine. Then, each export alone in a fresh process
(``pipeline_time.py --model DIR``), the peak memory; the model's size on disk; the CPU's flags; and what each
runtime actually ran (OpenVINO's kernels and execution precision, ONNX Runtime's op types, LiteRT's int8
convolutions, oneDNN's kernels for TensorFlow from ONEDNN_VERBOSE).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

import common
import tensorflow as tf
from pipeline_time import parse_size, run_once, staged_functions

from hrsod_tf.deploy.model_loading import load_pipeline
from hrsod_tf.deploy.runtimes.formats import EXPORT_FORMATS, RUNTIME_FORMATS
from hrsod_tf.machine import ONEDNN_ISA_VARIABLE
from hrsod_tf.quality import DEFAULT_QUALITY, QUALITY_LEVELS
from hrsod_tf.workdir import make_random_workdir

PAIRS = [(f, p) for f in RUNTIME_FORMATS for p in EXPORT_FORMATS[f]]
REFERENCE = "tensorflow float32"  # every runtime is timed in alternation with it
SPEED_TARGET = 3.0  # the fastest path against the reference, official preset at 1920x1080


def export(workdir: Path, out: Path, fmt: str, precision: str, calibration: str, images: int) -> Path:
    """``python export.py`` (the product's command) unless `out` exists."""
    if not out.exists():
        command = [sys.executable, "export.py", "--workdir", str(workdir), "--format", fmt, "--precision", precision,
                   "--out", str(out), "--no-progress", "--calibration-data", calibration,
                   "--calibration-images", str(images)]
        subprocess.run(command, cwd=common.REPO_ROOT, check=True, capture_output=True, text=True)
    return out


def size_on_disk(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def tf_kernels(preset: str) -> dict:
    """oneDNN's convolution kernels in a TensorFlow float32 GSN pass (ONEDNN_VERBOSE=1, a fresh process)."""
    code = ("import common, numpy as np, keras; from hrsod_tf.models import build_stage_network; "
            f"m = build_stage_network('gsn', common.model_config({preset!r})); "
            "m(np.zeros((1, 224, 224, 3), 'float32'))")
    completed = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parent, capture_output=True,
                               text=True, env={**os.environ, "ONEDNN_VERBOSE": "1"})
    kernels = {}
    for line in completed.stdout.splitlines():
        match = re.match(r"onednn_verbose,(?:v\d+,)?(?:primitive,)?exec,cpu,(convolution|matmul|inner_product),"
                         r"([^,]+),", line)
        if match:
            key = f"{match.group(1)}: {match.group(2)}"
            kernels[key] = kernels.get(key, 0) + 1
    return kernels


def peak_memory(folder: Path, preset: str, size: str) -> int | None:
    """Peak resident memory of ``pipeline_time.py --model`` alone, one run at `size` (bytes)."""
    out = folder.parent / f".{folder.name}_memory.json"
    command = [sys.executable, "benchmarks/pipeline_time.py", "--model", str(folder), "--preset", preset, "--sizes",
               size, "--coarse", "synthetic", "--runs", "1", "--warmup", "0", "--json", str(out)]
    subprocess.run(command, cwd=common.REPO_ROOT, check=True, capture_output=True, text=True)
    return json.loads(out.read_text()).get("peak_rss_bytes")


def alternate(pipelines: dict, height: int, width: int, runs: int, warmup: int) -> dict:
    """{name: {stage: median seconds}} with every pipeline timed in turn, `runs` rounds."""
    photo, mask = common.synthetic_scene(height, width, seed=1)
    image = tf.constant(photo)
    stages, samples, patches = {}, {}, {}
    for name, pipeline in pipelines.items():
        stages[name] = staged_functions(pipeline)
        forced = tf.constant(common.blurred_coarse_map(mask, pipeline.config.model.gsn_input_size))
        stages[name] = (stages[name], forced)
        samples[name] = []
    for round_index in range(warmup + runs):
        for name, (functions, forced) in stages.items():
            times, patches[name] = run_once(functions, image, forced)
            if round_index >= warmup:
                samples[name].append(times)
    return {name: {"median_seconds": {k: statistics.median(s[k] for s in runs_) for k in runs_[0]},
                   "patches": patches[name]} for name, runs_ in samples.items()}


def main(argv=None) -> int:
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--presets", nargs="+", default=["official", "paper"])
    parser.add_argument("--sizes", nargs="+", default=["1920x1080", "3840x2160"], metavar="WxH")
    parser.add_argument("--exports", type=Path, default=Path("runs/benchmarks/runtime_exports"),
                        help="where the random-init runs and their exports are kept (made once, reused)")
    parser.add_argument("--only", nargs="+", metavar="FORMAT:PRECISION", help="only these exports")
    parser.add_argument("--calibration-images", type=int, default=8)
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--qualities", nargs="+", choices=list(QUALITY_LEVELS), default=[DEFAULT_QUALITY],
                        help="time every runtime at these speed/quality levels too (default: the default level)")
    args = parser.parse_args(argv)
    if DEFAULT_QUALITY not in args.qualities:
        parser.error(f"--qualities must hold {DEFAULT_QUALITY!r}: every ratio is to TF float32 at it")
    runs = common.repeats(args, full=3, quick=1)
    pairs = [tuple(p.split(":")) for p in args.only] if args.only else PAIRS
    result = {"benchmark": "runtime_speed", "runs": runs, "qualities": args.qualities, "presets": {}}
    for preset in args.presets:
        root = (common.REPO_ROOT / args.exports / preset).resolve()
        workdir = root / "run"
        if not workdir.exists():
            make_random_workdir(workdir, preset)
        folders = {f"{fmt} {precision}": export(workdir, root / f"{fmt}_{precision}", fmt, precision,
                                                f"synthetic:{preset}", args.calibration_images)
                   for fmt, precision in pairs}
        common.log(f"[{preset}] exports ready: {', '.join(folders)}")
        loaded = {REFERENCE: load_pipeline(workdir)}
        loaded.update({name: load_pipeline(folder) for name, folder in folders.items()})
        rows = {at_level(name, quality): (name, quality) for quality in args.qualities for name in loaded}
        pipelines = {row: loaded[name].at_quality(quality) for row, (name, quality) in rows.items()}
        entry = {"sizes": {}, "model_bytes": {name: size_on_disk(folder) for name, folder in folders.items()},
                 "runtimes": {name: session_info(p) for name, p in loaded.items()}}
        entry["runtimes"][REFERENCE] = {"kernels": tf_kernels(preset)}
        for text in args.sizes:
            height, width = parse_size(text)
            timings = alternate(pipelines, height, width, runs, warmup=1)
            base = timings[at_level(REFERENCE, DEFAULT_QUALITY)]["median_seconds"]["total"]
            for row, timing in timings.items():
                timing["runtime"], timing["quality"] = rows[row]
                timing["ratio_to_tf_float32"] = base / timing["median_seconds"]["total"]
            entry["sizes"][text] = timings
            summary = [f"{n} {t['median_seconds']['total']:.2f} s x{t['ratio_to_tf_float32']:.2f}"
                       for n, t in timings.items()]
            common.log(f"[{preset}] {text}: " + ", ".join(summary))
        if not args.no_memory:
            entry["peak_rss_bytes"] = {name: peak_memory(folder, preset, args.sizes[-1])
                                       for name, folder in {REFERENCE: workdir, **folders}.items()}
        result["presets"][preset] = entry
    result["target"] = speed_verdict(result)
    common.emit(result, args, render)
    return 0


def at_level(name: str, quality: str) -> str:
    """A runtime's row name at a speed/quality level: the runtime's own name at the default level."""
    return name if quality == DEFAULT_QUALITY else f"{name}, {quality}"


def speed_verdict(result: dict) -> dict | None:
    """The target on the fastest runtime other than TF float32 at the default level (`official`, 1920x1080), or
    None when not timed."""
    timings = result["presets"].get("official", {}).get("sizes", {}).get("1920x1080")
    if not timings:
        return None
    name = max((n for n, t in timings.items() if t["runtime"] != REFERENCE and t["quality"] == DEFAULT_QUALITY),
               key=lambda n: timings[n]["ratio_to_tf_float32"], default=None)
    if name is None:
        return None
    ratio, seconds = timings[name]["ratio_to_tf_float32"], timings[name]["median_seconds"]
    return common.target(ratio >= SPEED_TARGET, f"{name}: {ratio:.2f}x", f">= {SPEED_TARGET:.0f}x",
                         "" if ratio >= SPEED_TARGET else
                         speed_shortfall(name, seconds, timings[REFERENCE]["median_seconds"]))


def speed_shortfall(name: str, seconds: dict, reference: dict) -> str:
    """Where the fastest path's time goes, stage by stage, each against TF float32's (figures only: the reasons are
    in the section's notes)."""
    stages = {"gsn": "GSN", "lrn+fusion": "LRN and fusion", "glfn": "GLFN (float32 in every export)"}
    parts = [f"{label} {seconds[key]:.2f} s ({seconds[key] / seconds['total']:.0%}, "
             f"{reference[key] / seconds[key]:.2f}x TF float32's)" for key, label in stages.items()]
    return f"of {name}'s {seconds['total']:.2f} s: " + "; ".join(parts)


def render(result: dict) -> str:
    """Per preset and size a table of stage times, peak memory and model size; what each runtime ran."""
    machine, fmt = result["machine"], common.fmt
    cap = machine.get("onednn_max_cpu_isa")
    blocks = [
        f"CPU: {machine['cpu_model']}, {machine['usable_cores']} cores; flags: {', '.join(machine['isa_flags'])}"
        + (f"; oneDNN capped at {cap} ({ONEDNN_ISA_VARIABLE}={cap}): TensorFlow's and OpenVINO's oneDNN kernels "
           f"are its {cap} ones" if cap else "") + ". "
        "Random-init networks (speed does not depend on the weights), exported with `export.py`, timed as "
        f"`pipeline_time.py --coarse synthetic` times them (median of {result['runs']}), every runtime in alternation "
        "with TF float32 in one process: the ratio is the figure to read. Peak memory: each alone in a fresh process "
        "(`pipeline_time.py --model`, one run at the largest size)."
        + (" A row \"runtime, level\" is that runtime at a speed/quality level (`--quality`: the LRN refines at most 2 "
           "or 6 patches), its ratio to TF float32 at the default level." if len(result.get("qualities", [])) > 1
           else "")]
    for preset, entry in result["presets"].items():
        for size, timings in entry["sizes"].items():
            rows = []
            for name, timing in sorted(timings.items(), key=lambda kv: kv[1]["median_seconds"]["total"]):
                seconds = timing["median_seconds"]
                memory = (entry.get("peak_rss_bytes") or {}).get(timing["runtime"])
                size_bytes = entry["model_bytes"].get(timing["runtime"])
                rows.append([name, fmt(seconds["gsn"]), fmt(seconds["aps"]), fmt(seconds["lrn+fusion"]),
                             fmt(seconds["glfn"]), f"**{fmt(seconds['total'])}**",
                             f"{timing['ratio_to_tf_float32']:.2f}x", timing["patches"],
                             fmt(memory / common.GIB if memory else None, ".2f"),
                             fmt(size_bytes / common.MIB if size_bytes else None, ".1f")])
            blocks += [f"**`{preset}`, {size}** (seconds per stage)",
                       common.table(["runtime", "GSN", "APS", "LRN + fusion", "GLFN", "total", "vs TF float32",
                                     "patches", "peak GiB", "model MiB"], rows)]
        blocks += [f"What each runtime ran (`{preset}`):",
                   [f"- {name}: " + "; ".join(
                       f"{stage}: {json.dumps(info.get('kernels') or info.get('op_types') or info, sort_keys=True)}"
                       for stage, info in networks.items()) for name, networks in entry["runtimes"].items()]]
    return common.markdown(*blocks)


def session_info(pipeline) -> dict:
    """What each network's runtime reports it runs (`describe()` of its session), or {} for Keras networks."""
    functions = {stage: getattr(pipeline.networks, stage) for stage in ("gsn", "lrn", "glfn")}
    return {stage: f.session.describe() for stage, f in functions.items() if hasattr(f, "session")}


if __name__ == "__main__":
    sys.exit(main())
