#!/usr/bin/env python
"""Photos per second on a folder of 1080p photos: ``hrsod predict --overlap none | files | networks`` and
``hrsod batch-predict`` one photo at a time or two, for TensorFlow float32 and each int8 runtime installed; and,
stage by stage, where a run of one photo at a time leaves cores idle.

    python benchmarks/folder_throughput.py --preset paper --count 8 --rounds 2     # the full measurement
    python benchmarks/folder_throughput.py --quick                                 # tiny preset, small photos

The model: a random-init run of `--preset` (speed does not depend on the weights' values) and its int8 exports
(``export.py``, calibrated on synthetic scenes, kept in `--exports` and shared with runtime_speed.py), or a trained
`--workdir`. A random-init GSN's map is uncertain everywhere, so APS would refine patches over the whole frame;
the runs use `--quality balanced` (at most 6 patches; a trained GSN gives about 8 at 1080p) through the product's
own ``--quality``, so every path runs the commands' code unchanged.

The photos: `--count` synthetic scenes of `--size` written as JPEG files. Per path (TF float32, then each export):

* where the cores go, one photo at a time: decoding, the GSN, APS, the LRN and fusion, the GLFN (the stages of
  protocol "full_resolution", as pipeline_time.py times them), rendering the output, encoding and writing the
  PNG, each timed alone, with the CPU time the process used over it: cores busy = CPU s / wall s (2.0: both of 2
  cores);
* ``hrsod predict``'s folder loop (`hrsod_tf.deploy.prediction.predict_files`) at each ``--overlap``
  (`hrsod_tf.deploy.prediction.OVERLAPS`), in alternation for `--rounds` rounds (a load that comes and goes hits
  every mode alike): photos/s = count / wall time after a warm-up photo (the first call traces), the cores busy,
  and whether every mode wrote the bytes of ``--overlap none``;
* ``hrsod batch-predict`` in this process (Beam's DirectRunner, the model loaded by RunInference): one photo at a
  time (Beam's default) against ``--direct_running_mode multi_threading --direct_num_workers 2`` (two threads
  sharing one model), photos/s = (count - 1) / (last PNG written - first PNG written), which leaves Beam's
  start-up and the model load out (beam_throughput.py's measure). TF float32 runs as a SavedModel export
  (``export.py --quality``).

On a shared machine the other processes' load changes what two threads get (the scheduler shares the CPU per
thread): quote the ratios of a run on an idle machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import tempfile
import time
from pathlib import Path

import common  # before TensorFlow: quiets its C++ logging
import tensorflow as tf
from apache_beam.options.pipeline_options import PipelineOptions
from beam_throughput import export_model, output_times, write_images
from common import base_parser, emit, fmt, log, markdown, table, target
from pipeline_time import parse_size, staged_functions
from runtime_speed import export as export_runtime

from hrsod_tf.deploy import prediction
from hrsod_tf.deploy.batch_prediction import BatchJob, run_batch
from hrsod_tf.deploy.compositing import render
from hrsod_tf.deploy.model_loading import load_pipeline
from hrsod_tf.deploy.prediction import DEFAULT_OVERLAP, OVERLAPS
from hrsod_tf.deploy.runtimes.formats import EXPORT_FORMATS, RUNTIME_FORMATS, RUNTIME_MODULES
from hrsod_tf.deploy.saliency_model import load
from hrsod_tf.files import atomic_write
from hrsod_tf.image_io import encode_png, read_image
from hrsod_tf.quality import QUALITY_LEVELS
from hrsod_tf.workdir import WorkDir, make_random_workdir

REFERENCE = "tensorflow float32"
ONE_AT_A_TIME = "one at a time"
BATCH_MODES = {ONE_AT_A_TIME: [], "two threads": ["--direct_running_mode", "multi_threading",
                                                 "--direct_num_workers", "2"]}
STAGES = ("decode", "gsn", "aps", "lrn+fusion", "glfn", "render", "encode+write")


def cpu_seconds() -> float:
    """CPU time of this process so far, every thread, user and system (in ns steps, not the clock tick's 10 ms)."""
    return time.process_time()


def busy(function, *args, **kwargs) -> tuple[float, float, object]:
    """(wall s, CPU s, result) of one call ``function(*args, **kwargs)``."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = function(*args, **kwargs)
    return time.perf_counter() - wall, cpu_seconds() - cpu, result


def model_folders(args, root: Path) -> dict:
    """{path name: model folder}: the run (TensorFlow float32) and its int8 export per installed runtime."""
    workdir = Path(args.workdir) if args.workdir else root / "run"
    if not args.workdir and not workdir.exists():
        make_random_workdir(workdir, args.preset)
    preset = WorkDir(workdir).load_config().preset
    folders = {REFERENCE: workdir}
    for runtime in args.runtimes:
        if "int8" not in EXPORT_FORMATS[runtime] or importlib.util.find_spec(RUNTIME_MODULES[runtime]) is None:
            log(f"{runtime}: not installed (or no int8 export): left out")
            continue
        folders[f"{runtime} int8"] = export_runtime(workdir, root / f"{runtime}_int8", runtime, "int8",
                                                    f"synthetic:{preset}", args.calibration_images)
    return folders


def stage_profile(folder: Path, photo: Path, output: str, quality: str, scratch: Path) -> dict:
    """{stage: {"seconds", "cores_busy"}} of one photo, each stage alone, after a warm-up pass (tracing)."""
    stages = staged_functions(load_pipeline(folder, quality=quality))

    def one_pass():
        found = {}
        found["decode"] = busy(lambda: read_image(photo))
        image = tf.constant(found["decode"][2])
        found["gsn"] = busy(lambda: stages["gsn"](image).numpy())
        coarse = tf.constant(found["gsn"][2])
        found["aps"] = busy(lambda: stages["aps"](coarse).numpy())
        found["lrn+fusion"] = busy(lambda: stages["lrn+fusion"](image, coarse, tf.constant(found["aps"][2])).numpy())
        found["glfn"] = busy(lambda: stages["glfn"](image, tf.constant(found["lrn+fusion"][2])).numpy())
        found["render"] = busy(lambda: render(found["decode"][2], found["glfn"][2], output))
        found["encode+write"] = busy(lambda: atomic_write(scratch / "profile.png", encode_png(found["render"][2])))
        return found

    one_pass()
    found = one_pass()
    return {stage: {"seconds": wall, "cores_busy": cpu / wall if wall > 0 else None}
            for stage, (wall, cpu, _) in found.items()}


def folder_rates(folder: Path, photos: list[Path], output: str, quality: str, rounds: int, scratch: Path) -> dict:
    """predict's folder loop at each overlap, alternated: photos/s, cores busy, and the same bytes as "none"."""
    model = load(folder, quality=quality)
    model(read_image(photos[0]))  # the first call traces
    runs = {overlap: [] for overlap in OVERLAPS}
    identical = True
    for index in range(rounds):
        written = {}
        for overlap in OVERLAPS:
            outputs = prediction.plan_outputs(photos, scratch / f"predict-{overlap}-{index}")
            wall, cpu, summary = busy(prediction.predict_files, model, photos, outputs, output, progress=False,
                                      overlap=overlap)
            assert not summary.failed, summary.failed
            written[overlap] = [path.read_bytes() for path in outputs]
            runs[overlap].append({"photos_per_second": len(photos) / wall, "cores_busy": cpu / wall})
            log(f"  round {index + 1}, predict --overlap {overlap}: {runs[overlap][-1]['photos_per_second']:.3f} "
                f"photos/s, cores busy {runs[overlap][-1]['cores_busy']:.2f}")
        identical = identical and all(bytes_ == written["none"] for bytes_ in written.values())
    return {**summarize(runs, "none"), "same_bytes": identical}


def batch_rates(model: Path, photos: list[Path], output: str, quality: str, rounds: int, scratch: Path) -> dict:
    """batch-predict in this process, Beam's default (one photo at a time) against two worker threads, alternated:
    photos/s."""
    runs = {mode: [] for mode in BATCH_MODES}
    for index in range(rounds):
        for mode, beam_args in BATCH_MODES.items():
            out = scratch / f"batch-{mode.replace(' ', '_')}-{index}"
            job = BatchJob(str(photos[0].parent / "*.jpg"), str(model), str(out), output, quality)
            summary = run_batch(job, PipelineOptions(beam_args))
            assert summary.done == len(photos) and not summary.failed, summary
            times = output_times(out, len(photos))
            runs[mode].append({"photos_per_second": (len(photos) - 1) / (times[-1] - times[0]),
                               "model_load_seconds": summary.model_load_seconds})
            log(f"  round {index + 1}, batch-predict {mode}: {runs[mode][-1]['photos_per_second']:.3f} photos/s")
    return summarize(runs, ONE_AT_A_TIME)


def summarize(runs: dict, reference: str) -> dict:
    """Medians per mode of each figure; per other mode, the median of its per-round ratios to `reference`."""
    result = {mode: {key: statistics.median(run[key] for run in records) if records[0][key] is not None else None
                     for key in records[0]} for mode, records in runs.items()}
    result["ratios"] = {mode: statistics.median(other["photos_per_second"] / base["photos_per_second"]
                                                for base, other in zip(runs[reference], records))
                        for mode, records in runs.items() if mode != reference}
    result["per_round"] = runs
    return result


def verdict(paths: dict) -> dict:
    """The default overlap against one photo at a time, on every path."""
    ratios = {name: entry["predict"]["ratios"][DEFAULT_OVERLAP] for name, entry in paths.items()}
    same = all(entry["predict"]["same_bytes"] for entry in paths.values())
    return target(all(r >= 1.0 for r in ratios.values()) and same,
                  ", ".join(f"{name} {ratio:.2f}x" for name, ratio in ratios.items())
                  + ("" if same else "; outputs differ"),
                  f"predict --overlap {DEFAULT_OVERLAP} (the default) >= --overlap none on every path, the same bytes")


def render_result(result: dict) -> str:
    paths = result["paths"]
    machine = result.get("machine", {})

    def cell(timing):
        return f"{fmt(timing['seconds'])} ({fmt(timing['cores_busy'], '.2f')})"

    def rate(entry, mode, ratios):
        figure = fmt(entry[mode]["photos_per_second"], ".3f")
        return f"{figure} (x{fmt(entry['ratios'][mode], '.2f')})" if mode in ratios else figure

    stage_rows = [[stage] + [cell(entry["stages"][stage]) for entry in paths.values()] for stage in STAGES]
    rows = []
    for name, entry in paths.items():
        predict, batch = entry["predict"], entry.get("batch_predict")
        rows.append([name, *(rate(predict, overlap, predict["ratios"]) for overlap in OVERLAPS),
                     " / ".join(fmt(predict[overlap]["cores_busy"], ".2f") for overlap in OVERLAPS),
                     "yes" if predict["same_bytes"] else "**no**",
                     *((rate(batch, mode, batch["ratios"]) for mode in BATCH_MODES) if batch
                       else ["n/a"] * len(BATCH_MODES))])
    return markdown(
        f"{result['count']} synthetic JPEGs of {result['size']} px, model {result['model']}, quality "
        f"{result['quality']}, output {result['output']}; {result['rounds']} round(s) alternating the modes, medians "
        f"(a ratio is the median of the per-round ratios to one photo at a time). CPU flags: "
        f"{', '.join(machine.get('isa_flags', [])) or 'n/a'}; {machine.get('usable_cores')} usable cores; load "
        f"average (1/5/15 min) at the start {result.get('load_average_at_start')}, at the end "
        f"{machine.get('load_average_1_5_15')}.",
        "**Where the cores go, one photo at a time** (seconds per stage, each alone; in brackets the cores busy, CPU "
        "s / wall s):",
        table(["stage", *paths], stage_rows),
        "**Photos per second on the folder** (in brackets the ratio to one photo at a time): `hrsod predict "
        "--overlap none | files | networks` (" + "; ".join(f"{k}: {v}" for k, v in OVERLAPS.items()) + "), and "
        "`hrsod batch-predict` on the DirectRunner, one photo at a time (Beam's default) and with "
        "`--direct_running_mode multi_threading --direct_num_workers 2` (two threads sharing one model):",
        table(["path", *(f"predict {overlap}" for overlap in OVERLAPS), "cores busy", "same bytes",
               *(f"batch-predict {mode}" for mode in BATCH_MODES)], rows))


def main(argv=None) -> int:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="paper", help="random-init networks of this preset (default paper)")
    parser.add_argument("--workdir", help="a trained run instead (its int8 exports are made in --exports)")
    parser.add_argument("--size", default="1920x1080", metavar="WxH")
    parser.add_argument("--count", type=int, default=8, help="photos in the folder (default 8)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds (default 2)")
    parser.add_argument("--quality", choices=tuple(QUALITY_LEVELS), default="balanced",
                        help="the level every path runs at (default balanced: see the module docstring)")
    parser.add_argument("--output", default="mask", help="predict's --output (default mask)")
    parser.add_argument("--runtimes", nargs="*", default=list(RUNTIME_FORMATS), choices=RUNTIME_FORMATS,
                        help="the int8 exports to measure, when installed (default: every one)")
    parser.add_argument("--no-batch", action="store_true", help="leave batch-predict out")
    parser.add_argument("--exports", type=Path, default=Path("runs/benchmarks/runtime_exports"),
                        help="where the random-init run and its exports are kept (made once, reused)")
    parser.add_argument("--calibration-images", type=int, default=8)
    args = parser.parse_args(argv)
    if args.quick:
        args.preset, args.size, args.count, args.rounds, args.calibration_images = "tiny", "320x180", 4, 1, 2
    height, width = parse_size(args.size)
    machine = common.machine_info()
    log(f"CPU: {machine['cpu_model']}, {machine['usable_cores']} usable cores, flags {', '.join(machine['isa_flags'])}")

    name = Path(args.workdir).name if args.workdir else args.preset
    folders = model_folders(args, (common.REPO_ROOT / args.exports / name).resolve())
    paths = {}
    with tempfile.TemporaryDirectory(prefix="hrsod-folder-bench-") as scratch:
        scratch = Path(scratch)
        photos = write_images(scratch / "photos", args.count, height, width)
        for path_name, folder in folders.items():
            log(f"{path_name}: {folder}")
            work = scratch / path_name.replace(" ", "_")
            work.mkdir()
            entry = {"stages": stage_profile(folder, photos[0], args.output, args.quality, work),
                     "predict": folder_rates(folder, photos, args.output, args.quality, args.rounds, work)}
            if not args.no_batch:
                model = folder
                if path_name == REFERENCE:  # batch-predict runs a SavedModel, not a work directory
                    model = export_model(argparse.Namespace(saved_model=None, workdir=str(folder), preset=None,
                                                            quality=args.quality), work)
                entry["batch_predict"] = batch_rates(model, photos, args.output, args.quality, args.rounds, work)
            paths[path_name] = entry

    result = {"benchmark": "folder_throughput", "model": args.workdir or f"{args.preset} (random init)",
              "size": f"{width}x{height}", "count": args.count, "rounds": args.rounds, "quality": args.quality,
              "output": args.output, "paths": paths, "load_average_at_start": machine["load_average_1_5_15"]}
    result["target"] = verdict(paths)
    emit(result, args, render_result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
