#!/usr/bin/env python
"""Images per second over the same images: predict.py (one process) vs batch_predict.py on Beam's DirectRunner
with 1 and with 2 worker processes, measured in one run, with the model load time reported apart.

    python benchmarks/beam_throughput.py --workdir runs/demo            # a trained run (exported first)
    python benchmarks/beam_throughput.py --preset small                 # random-init networks of a preset

The images are `--count` synthetic scenes of `--height` x `--width` px written as JPEG files.

  * predict.py: the library behind it (`hrsod_tf.prediction`), in this process: the SavedModel load plus one
    warm-up image (the first call traces the graph) is its load time; then every image is read, predicted and
    written.
  * Beam: ``batch_predict.py`` as a user runs it (a subprocess, ``--runner DirectRunner --direct_running_mode
    multi_processing --direct_num_workers N``); Beam's own RunInference metric gives the model load time per
    worker.

All three get images/s the same way, from the outputs' modification times: (count - 1) / (last PNG written -
first PNG written). That leaves out the fixed cost (interpreter and TensorFlow start-up, worker processes, model
load, first call), which is reported apart; the wall time of each whole Beam command is reported too.

Random-init networks give maps near 0.5, so APS takes its maximum number of patches: the slowest case.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common
from common import base_parser, emit, log

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def write_images(folder: Path, count: int, height: int, width: int) -> list[Path]:
    """`count` synthetic scenes as JPEG files (quality 92) in `folder`."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        image, _ = common.synthetic_scene(height, width, seed=index)
        path = folder / f"scene{index:03d}.jpg"
        cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
        paths.append(path)
    return paths


def export_model(args, scratch: Path) -> Path:
    """The SavedModel to measure: `--saved-model`, or `--workdir` / a random-init `--preset` run exported."""
    if args.saved_model:
        return Path(args.saved_model)
    from serving_latency import random_workdir

    from hrsod_tf import export

    workdir = Path(args.workdir) if args.workdir else random_workdir(args.preset, scratch / "run")
    return export.export_workdir(workdir, scratch / "models")


def written_rate(folder: Path, count: int) -> float:
    """(count - 1) / (the last PNG's modification time - the first's): the steady rate of writing outputs."""
    times = sorted(p.stat().st_mtime_ns for p in folder.rglob("*.png"))
    if len(times) != count:
        raise RuntimeError(f"{folder} holds {len(times)} PNGs, expected {count}")
    return (count - 1) / ((times[-1] - times[0]) / 1e9)


def measure_predict(model: Path, images: list[Path], warmup: Path, out: Path) -> dict:
    """predict.py's library in this process: load + warm-up apart, then images/s over `images`."""
    from hrsod_tf import prediction

    start = time.perf_counter()
    predictor = prediction.predictor_from_saved_model(model)
    predictor(prediction.readers.read_image(warmup))
    load = time.perf_counter() - start
    outputs = prediction.plan_outputs(images, out)
    start = time.perf_counter()
    summary = prediction.predict_files(predictor, images, outputs, "mask", progress=False)
    seconds = time.perf_counter() - start
    assert not summary.failed, summary.failed
    return {"load_seconds": round(load, 2), "seconds_all": round(seconds, 2),
            "images_per_second": round(written_rate(out, len(images)), 3)}


def measure_beam(model: Path, pattern: str, out: Path, workers: int, count: int) -> dict:
    """Runs batch_predict.py in a subprocess over `pattern` into the fresh folder `out`."""
    command = [sys.executable, "batch_predict.py", pattern, "--saved-model", str(model), "--out", str(out),
               "--runner", "DirectRunner", "--direct_running_mode", "multi_processing",
               "--direct_num_workers", str(workers)]
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=common.REPO_ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stderr[-3000:]}")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["done"] == count and summary["failed"] == 0, summary
    return {
        "workers": workers,
        "seconds_all": round(seconds, 2),
        "end_to_end_images_per_second": round(count / seconds, 3),
        "images_per_second": round(written_rate(out, count), 3),
        "model_load_seconds": summary["model_load_seconds"],
    }


def main(argv=None) -> int:
    parser = base_parser(__doc__)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--workdir", help="a trained run (exported into a temporary folder)")
    source.add_argument("--saved-model", help="an exported model")
    source.add_argument("--preset", default="small", help="random-init networks of this preset (default small)")
    parser.add_argument("--count", type=int, default=50, help="images (default 50)")
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=640)
    args = parser.parse_args(argv)
    if args.quick:
        args.count = min(args.count, 8)
    machine = common.machine_info()
    log(f"CPU: {machine['cpu_model']}, {machine['usable_cores']} usable cores, flags {', '.join(machine['isa_flags'])}")

    with tempfile.TemporaryDirectory(prefix="hrsod-beam-bench-") as scratch:
        scratch = Path(scratch)
        model = export_model(args, scratch)
        images = write_images(scratch / "images", args.count, args.height, args.width)
        warmup = write_images(scratch / "warmup", 1, args.height, args.width)[0]
        log(f"model {model}; {args.count} images of {args.width}x{args.height}")
        results = {"predict_py": measure_predict(model, images, warmup, scratch / "out-predict")}
        log(f"predict.py: {results['predict_py']}")
        for workers in (1, 2):
            results[f"beam_{workers}"] = measure_beam(model, str(scratch / "images" / "*.jpg"),
                                                      scratch / f"out-beam-{workers}", workers, args.count)
            log(f"beam {workers} worker(s): {results[f'beam_{workers}']}")

    base = results["predict_py"]["images_per_second"]
    ratios = {name: round(results[name]["images_per_second"] / base, 2) for name in ("beam_1", "beam_2")}
    emit({"benchmark": "beam_throughput", "model": args.saved_model or args.workdir or f"{args.preset} (random init)",
          "count": args.count, "size": f"{args.width}x{args.height}", **results,
          "ratio_to_predict_py": ratios}, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
