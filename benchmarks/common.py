"""Helpers shared by the benchmark scripts: machine description, median timing, FLOP counting, JSON output.

Every benchmark script is runnable alone::

    python benchmarks/<script>.py [--quick] [--repeats N] [--json OUT]

prints one JSON document on stdout (after any log lines) and, with ``--json OUT``, also writes it to OUT and its
Markdown fragment (its figures as docs/BENCHMARKS.md shows them) to OUT with ``.md``; ``benchmarks/run_all.py``
runs each script in its own subprocess and puts the fragments together (harness.py).

``hrsod_tf`` is imported as the installed package (``pip install -r requirements.txt`` installs the project);
``python benchmarks/x.py`` finds this module beside the script. Importing it quiets TensorFlow's C++ logging and,
through ``hrsod_tf``, turns TensorFlow's oneDNN kernels on where TensorFlow leaves them off (AVX2-only CPUs:
`hrsod_tf.machine.turn_on_onednn_kernels`), so a script imports it before TensorFlow; it does not import
TensorFlow itself, so ``run_all.py`` and the machine description stay light.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from harness import GIB, REPO_ROOT, machine_info, now_utc  # noqa: F401  (the runner describes the machine)

MIB = 1024 ** 2


# ------------------------------------------------------------------------------------------ timing


def time_calls(fn, repeats: int, warmup: int = 1) -> dict:
    """Runs `fn()` `warmup` times untimed, then `repeats` times timed.

    `fn` must block until its work is done (e.g. call `.numpy()` on a TensorFlow result).

    Returns:
        {"median_s", "min_s", "max_s", "runs_s": [...], "repeats"}.
    """
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return summarize(runs)


def summarize(runs) -> dict:
    """Median / min / max of a list of durations in seconds."""
    runs = [float(r) for r in runs]
    return {
        "median_s": statistics.median(runs),
        "min_s": min(runs),
        "max_s": max(runs),
        "runs_s": [round(r, 6) for r in runs],
        "repeats": len(runs),
    }


def time_interleaved(fns: dict, repeats: int, warmup: int = 1) -> dict:
    """Times several callables in alternation (a, b, a, b, ...), so that a background load that comes and
    goes hits all of them alike and their *ratios* stay meaningful on a shared machine.

    Args:
        fns: {name: blocking callable}. repeats / warmup: as `time_calls`, per callable.
    Returns:
        {name: summary as `summarize`}.
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    runs = {name: [] for name in fns}
    for _ in range(max(1, repeats)):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            runs[name].append(time.perf_counter() - start)
    return {name: summarize(values) for name, values in runs.items()}


def first_call_seconds(fn) -> float:
    """Duration of one call of `fn` (for the first, tracing/compiling call)."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# ------------------------------------------------------------------------------------------ memory


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far.

    Read from VmHWM in /proc/self/status: Linux keeps getrusage's ru_maxrss across fork and exec, so a process
    started by a large parent (runtime_speed.py holding eight pipelines) would report the parent's peak. Where
    /proc is absent, ru_maxrss (KiB on Linux) is the fallback."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def current_rss_bytes() -> int | None:
    """Current resident set size from /proc/self/statm (None when unavailable)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


# ------------------------------------------------------------------------------------------ models


def conv_flops(model) -> dict:
    """Analytic FLOPs of one forward pass, counted from the built model's convolution layers.

    A multiply-add is 2 FLOPs: 2 * H_out * W_out * K_h * K_w * C_in * C_out per Conv2D, and for a
    Conv2DTranspose the same with the *input* grid (H_in * W_in, each input pixel scatters a K x K x C_out
    kernel). Biases, activations, pooling, concatenation and softmax are left out (< 1% for these nets).
    Spatial sizes come from the layers' static shapes, so build the model with a fixed `input_size`.

    Returns:
        {"total": FLOPs per image, "by_layer": {name: FLOPs}}.
    """
    import keras

    by_layer = {}
    for layer in model.layers:
        if not isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            continue
        kh, kw, _, _ = layer.kernel.shape
        in_shape, out_shape = layer.input.shape, layer.output.shape
        c_in, c_out = in_shape[-1], out_shape[-1]
        grid = in_shape if isinstance(layer, keras.layers.Conv2DTranspose) else out_shape
        if grid[1] is None or grid[2] is None:
            raise ValueError(f"layer {layer.name} has a dynamic spatial shape: build the model with input_size")
        by_layer[layer.name] = 2 * grid[1] * grid[2] * kh * kw * c_in * c_out
    return {"total": sum(by_layer.values()), "by_layer": by_layer}


def param_bytes(model, bytes_per_param: int = 4) -> int:
    """Size of the model's weights in float32 (count_params * 4 bytes)."""
    return int(model.count_params()) * bytes_per_param


def model_config(preset: str, **changes):
    """The preset's `ModelConfig` (random init: `backbone_weights="none"`), with `changes` applied."""
    import dataclasses

    from hrsod_tf.config import get_preset

    return dataclasses.replace(get_preset(preset).model, backbone_weights="none", **changes)


def random_pipeline(preset: str, seed: int = 0):
    """A `SaliencyPipeline` of random-init GSN, LRN and GLFN of `preset` (float32; no ImageNet weights fetched)."""
    import keras

    from hrsod_tf.config import get_preset
    from hrsod_tf.models.stage_networks import build_stage_network
    from hrsod_tf.pipeline import SaliencyPipeline
    from hrsod_tf.workdir import STAGES

    keras.mixed_precision.set_global_policy("float32")
    keras.utils.set_random_seed(seed)
    config = get_preset(preset)
    config = config.replace(model=model_config(preset))
    return SaliencyPipeline.from_keras(config, *(build_stage_network(stage, config.model) for stage in STAGES))


def full_resolution_stages(pipeline):
    """The stages of protocol "full_resolution" over the pipeline's networks, whatever its own protocol: the
    benchmarks time GSN, APS, LRN + fusion and GLFN one by one on them (`FullResolutionProtocol`)."""
    from hrsod_tf.pipeline.full_resolution import FullResolutionProtocol

    return FullResolutionProtocol(pipeline.config, pipeline.networks)


def random_images(batch: int, size: int, seed: int = 0):
    """float32 [batch, size, size, 3] RGB in [0, 255] (a fixed pseudo-random input)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, size=(batch, size, size, 3)).astype("float32")


# ------------------------------------------------------------------------------------------ synthetic


def synthetic_scene(height: int, width: int, seed: int = 0):
    """A synthetic scene (`generate_scene`) warped to exactly height x width: (image uint8 RGB, mask uint8)."""
    import cv2

    from hrsod_tf.data.synthetic import generate_scene

    short = min(height, width)
    image, mask = generate_scene(seed, min_side=short, max_side=short)
    image = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)
    return image, mask


def run_scenes(workdir, split: str = "test", count: int | None = None):
    """The run's own synthetic scenes: (name, image, mask) of the first `count` of `split` of the set the run at
    `workdir` trained on (`hrsod_tf.data.synthetic_sets.of_run`). Returns (its `DataConfig`, the scenes)."""
    from hrsod_tf.data import synthetic_sets
    from hrsod_tf.workdir import WorkDir

    data = synthetic_sets.of_run(WorkDir(workdir))
    return data, synthetic_sets.scenes(data, split, count)


def blurred_gsn_map(mask, gsn_size: int):
    """A stand-in for the GSN's own output: the mask (uint8 [H, W] or [H, W, 1], 0/255) area-resized to
    gsn_size^2 and blurred (sigma = gsn_size / 96). float32 [gsn_size, gsn_size] in [0, 1]."""
    import cv2
    import numpy as np

    mask = mask[..., 0] if mask.ndim == 3 else mask
    small = cv2.resize(mask.astype(np.float32) / 255.0, (gsn_size, gsn_size), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(small, (0, 0), gsn_size / 96.0)


def blurred_coarse_map(mask, gsn_size: int):
    """A stand-in for the GSN's map F: `blurred_gsn_map` upsampled back to the mask's size bilinearly, as the
    pipeline upsamples the GSN output. float32 [H, W, 1] in [0, 1]."""
    import cv2

    height, width = mask.shape[:2]
    return cv2.resize(blurred_gsn_map(mask, gsn_size), (width, height), interpolation=cv2.INTER_LINEAR)[..., None]


# ------------------------------------------------------------------------------------------ command line


def base_parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the flags every benchmark script shares: --quick, --repeats, --json."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and smaller work (smoke run)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed repetitions per measurement (default 5, or 2 with --quick)")
    parser.add_argument("--json", metavar="OUT", default=None, help="also write the JSON result to OUT")
    return parser


def repeats(args, full: int = 5, quick: int = 2) -> int:
    """The number of timed repetitions: --repeats if given, else `quick` or `full`."""
    if args.repeats:
        return args.repeats
    return quick if args.quick else full


def _clean(value):
    """JSON-safe copy: NaN/inf -> None, numpy scalars -> Python numbers, tuples -> lists."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(data: dict, path) -> Path:
    """Writes `data` (cleaned of NaN and numpy types) as indented JSON to `path`; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_clean(data), indent=2, sort_keys=True) + "\n")
    return path


def write_result(result: dict, path, render) -> None:
    """Writes `result` as JSON to `path` and its Markdown fragment(s) beside it: `render(result)` gives the
    fragment (`path` with ".md"), or {part: fragment} for a step that feeds several sections of the document (""
    the main one, "<part>" into `path` with ".<part>.md"). See harness.py."""
    path = Path(path)
    write_json(result, path)
    fragments = render(_clean(result))
    for part, markdown in (fragments if isinstance(fragments, dict) else {"": fragments}).items():
        path.with_suffix(f".{part}.md" if part else ".md").write_text(markdown.strip() + "\n")


def emit(result: dict, args, render) -> dict:
    """Adds the date and machine to `result`, prints it as JSON and, with --json, writes it and its Markdown
    fragment (`write_result`)."""
    result = {"benchmark": result.pop("benchmark", None), "date": now_utc(), "machine": machine_info(),
              "quick": bool(getattr(args, "quick", False)), **result}
    text = json.dumps(_clean(result), indent=2, sort_keys=True)
    print(text, flush=True)
    if getattr(args, "json", None):
        write_result(result, args.json, render)
    return result


def log(message: str) -> None:
    """A progress line on stderr (stdout is kept for the JSON result)."""
    print(message, file=sys.stderr, flush=True)


def log_cpu() -> dict:
    """Logs the CPU's model, usable cores and ISA flags (every benchmark says what it ran on); returns
    `machine_info()`."""
    machine = machine_info()
    log(f"CPU: {machine['cpu_model']}, {machine['usable_cores']} usable cores, flags {' '.join(machine['isa_flags'])}")
    return machine


def target(met: bool | None, measured: str, goal: str, why: str = "") -> dict:
    """A target verdict: {"met": bool|None, "measured", "goal", "why"} (None: not measured). `why` holds figures
    only (what the reasons are is written in the section's notes, docs/benchmarks/<section>.notes.md)."""
    return {"met": met, "measured": measured, "goal": goal, "why": why}


# ------------------------------------------------------------------------------------------ Markdown


def fmt(value, spec: str = ".3f", none: str = "n/a") -> str:
    """Formats a number, or `none` for None / NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return none
    return format(value, spec)


def table(header: list, rows: list) -> list:
    """Markdown table lines."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def markdown(*blocks) -> str:
    """Paragraphs and tables (a string, or a list of lines) joined into a fragment, a blank line between."""
    return "\n\n".join(block if isinstance(block, str) else "\n".join(block) for block in blocks if block)
