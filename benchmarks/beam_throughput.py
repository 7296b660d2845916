#!/usr/bin/env python
"""Images per second over the same images: predict.py (one process) vs batch_predict.py on Beam's DirectRunner
with 1 and with 2 worker processes, measured in one run, with the model load time reported apart.

    python benchmarks/beam_throughput.py --workdir runs/demo            # a trained run (exported first)
    python benchmarks/beam_throughput.py --preset small                 # random-init networks of a preset

The images are `--count` synthetic scenes of `--height` x `--width` px written as JPEG files.

Each command runs as a user runs it, in its own process: ``predict.py FOLDER --saved-model M --out O``, and
``batch_predict.py "FOLDER/*.jpg" --saved-model M --out O --runner DirectRunner --direct_running_mode
multi_processing --direct_num_workers N`` for N = 1 and 2. The three are measured in turn, `--rounds` times
(interleaved, so that a change of the machine's load hits all three alike); medians are reported, and each ratio
is the median of the per-round ratios. All three get images/s the same way, from the outputs' modification
times: (count - 1) / (last PNG written - first PNG written), which leaves out the fixed cost (interpreter and
TensorFlow start-up, worker processes, model load, first call); that is reported apart: the time from launch
to the first output, the model load per worker from Beam's RunInference metric, and, for predict.py, the model
load plus one warm-up image timed in this process.

Random-init networks give maps near 0.5, so APS takes its maximum number of patches: the slowest case.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common
import cv2
from common import base_parser, emit, fmt, log, markdown, table

from hrsod_tf import image_io
from hrsod_tf.deploy.saliency_model import load
from hrsod_tf.workdir import make_random_workdir

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def write_images(folder: Path, count: int, height: int, width: int) -> list[Path]:
    """`count` synthetic scenes as JPEG files (quality 92) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        image, _ = common.synthetic_scene(height, width, seed=index)
        path = folder / f"scene{index:03d}.jpg"
        cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
        paths.append(path)
    return paths


def export_model(args, scratch: Path) -> Path:
    """The SavedModel to measure: `--saved-model`, or `--workdir` / a random-init `--preset` run exported by
    export.py in a subprocess (tracing the pipeline here would leave its graphs in this process), at `args.quality`
    when it has one."""
    if args.saved_model:
        return Path(args.saved_model)
    workdir = Path(args.workdir) if args.workdir else make_random_workdir(scratch / "run", args.preset).root
    command = [sys.executable, "export.py", "--workdir", str(workdir), "--out", str(scratch / "models")]
    if getattr(args, "quality", None):
        command += ["--quality", args.quality]
    completed = subprocess.run(command, cwd=common.REPO_ROOT, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stderr[-3000:]}")
    return scratch / "models" / "1"


def output_times(folder: Path, count: int) -> list[float]:
    """The modification times (s) of the `count` PNGs below `folder`, sorted."""
    times = sorted(p.stat().st_mtime_ns / 1e9 for p in folder.rglob("*.png"))
    if len(times) != count:
        raise RuntimeError(f"{folder} holds {len(times)} PNGs, expected {count}")
    return times


def run_command(command: list[str], out: Path, count: int) -> dict:
    """Runs a prediction command as a user does; its wall time, start-up to first output, and images/s =
    (count - 1) / (last PNG written - first PNG written)."""
    started = time.time()
    completed = subprocess.run(command, cwd=common.REPO_ROOT, capture_output=True, text=True)
    seconds = time.time() - started
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stderr[-3000:]}")
    times = output_times(out, count)
    return {"seconds_all": round(seconds, 2), "seconds_to_first_output": round(times[0] - started, 2),
            "end_to_end_images_per_second": round(count / seconds, 3),
            "images_per_second": round((count - 1) / (times[-1] - times[0]), 3)}


def measure_load(model: Path, warmup: Path) -> float:
    """Seconds to load the SavedModel and predict one image (the first call traces), in this process."""
    start = time.perf_counter()
    predictor = load(model)
    predictor(image_io.read_image(warmup))
    return round(time.perf_counter() - start, 2)


def measure_predict(model: Path, folder: Path, out: Path, count: int) -> dict:
    """predict.py over the folder, one process."""
    return run_command([sys.executable, "predict.py", str(folder), "--saved-model", str(model), "--out", str(out),
                        "--no-progress"], out, count)


def measure_beam(model: Path, pattern: str, out: Path, workers: int, count: int) -> dict:
    """batch_predict.py on the DirectRunner with `workers` worker processes; model load from RunInference."""
    result = run_command([sys.executable, "batch_predict.py", pattern, "--saved-model", str(model), "--out", str(out),
                          "--runner", "DirectRunner", "--direct_running_mode", "multi_processing",
                          "--direct_num_workers", str(workers)], out, count)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["done"] == count and summary["failed"] == 0, summary
    return {"workers": workers, **result, "model_load_seconds": summary["model_load_seconds"]}


def median_record(runs: list[dict]) -> dict:
    """The median of every number over the rounds' records."""
    return {key: statistics.median(run[key] for run in runs) if runs[0][key] is not None else None
            for key in runs[0]}


RUNS = (("predict_py", "predict.py (one process)"), ("beam_1", "Beam DirectRunner, 1 worker process"),
        ("beam_2", "Beam DirectRunner, 2 worker processes"))


def render(result: dict) -> str:
    rows = []
    for name, label in RUNS:
        run = result[name]
        load = (fmt(run["load_seconds"], ".1f") + " (load + first image)" if name == "predict_py"
                else fmt(run["model_load_seconds"], ".1f") + " per worker (RunInference metric)")
        ratio = "1.00" if name == "predict_py" else fmt(result["ratio_to_predict_py"][name], ".2f")
        rows.append([label, load, fmt(run["seconds_to_first_output"], ".1f"), fmt(run["images_per_second"], ".2f"),
                     ratio, fmt(run["end_to_end_images_per_second"], ".2f")])
    machine = result.get("machine", {})
    return markdown(
        f"{result['count']} synthetic JPEGs of {result['size']} px, model {result['model']}, written as 8-bit masks by "
        "the commands as a user runs them (each in its own process), measured in turn in one run, "
        f"{result.get('rounds', 1)} interleaved round(s), medians (a ratio is the median of the per-round ratios). "
        "Images/s = (count - 1) / (last output written - first output written), from the PNGs' modification times: "
        "the fixed cost (start-up, worker processes, model load, first call) is left out and given apart. CPU flags: "
        f"{', '.join(machine.get('isa_flags', [])) or 'n/a'}; load average (1/5/15 min) when the result was written: "
        f"{machine.get('load_average_1_5_15')}.",
        table(["run", "model load s", "launch to first output s", "images/s", "ratio to predict.py",
               "end-to-end images/s (start-up included)"], rows))


def main(argv=None) -> int:
    parser = base_parser(__doc__)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--workdir", help="a trained run (exported into a temporary folder)")
    source.add_argument("--saved-model", help="an exported model")
    source.add_argument("--preset", default="small", help="random-init networks of this preset (default small)")
    parser.add_argument("--count", type=int, default=50, help="images (default 50)")
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of the three measurements, interleaved; medians reported (default 3)")
    args = parser.parse_args(argv)
    if args.quick:
        args.count, args.rounds = min(args.count, 8), 1
    machine = common.machine_info()
    log(f"CPU: {machine['cpu_model']}, {machine['usable_cores']} usable cores, flags {', '.join(machine['isa_flags'])}")

    with tempfile.TemporaryDirectory(prefix="hrsod-beam-bench-") as scratch:
        scratch = Path(scratch)
        model = export_model(args, scratch)
        write_images(scratch / "images", args.count, args.height, args.width)
        warmup = write_images(scratch / "warmup", 1, args.height, args.width)[0]
        log(f"model {model}; {args.count} images of {args.width}x{args.height}")
        load_seconds = measure_load(model, warmup)
        rounds = {"predict_py": [], "beam_1": [], "beam_2": []}
        for index in range(args.rounds):  # interleaved: a change of the machine's load hits all three alike
            rounds["predict_py"].append({"load_seconds": load_seconds, **measure_predict(
                model, scratch / "images", scratch / f"out-predict-{index}", args.count)})
            log(f"round {index + 1}: predict.py: {rounds['predict_py'][-1]}")
            for workers in (1, 2):
                rounds[f"beam_{workers}"].append(measure_beam(
                    model, str(scratch / "images" / "*.jpg"), scratch / f"out-beam-{workers}-{index}", workers,
                    args.count))
                log(f"round {index + 1}: beam {workers} worker(s): {rounds[f'beam_{workers}'][-1]}")

    results = {name: median_record(runs) for name, runs in rounds.items()}
    ratios = {name: round(statistics.median(b["images_per_second"] / p["images_per_second"]
                                            for b, p in zip(rounds[name], rounds["predict_py"])), 2)
              for name in ("beam_1", "beam_2")}
    emit({"benchmark": "beam_throughput", "model": args.saved_model or args.workdir or f"{args.preset} (random init)",
          "count": args.count, "size": f"{args.width}x{args.height}", "rounds": args.rounds, **results,
          "per_round": rounds, "ratio_to_predict_py": ratios}, args, render)
    return 0


if __name__ == "__main__":
    sys.exit(main())
