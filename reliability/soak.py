"""Soak: the exported SavedModel under concurrent requests for a bounded time; answers and memory.

    python reliability/soak.py --workdir runs/demo --seconds 600 --threads 4 [--json OUT]
    python reliability/soak.py --saved-model models/hrsod --seconds 60

Several threads call the SavedModel's ``serving_default`` (as TF Serving does: one loaded model, concurrent
requests) with JPEG and PNG photos of mixed sizes up to 4K (3840x2160), and every tenth request of each thread is
a bad one (truncated JPEG, bytes that are no image, a PNG header claiming 60 MP, a WebP). Checked:

* every good request is answered with exactly the bytes a single-threaded request got for the same image;
* every bad request is refused (InvalidArgument, what TF Serving returns as HTTP 400), none answered;
* resident memory (RSS) after warm-up grows by no more than `--memory-bound-mib`. Warm-up: one single-threaded
  request per image, then every thread sends every image once, in step, largest first — the peak working set of
  `--threads` concurrent 4K requests, which random timing reaches only now and then.

With --workdir the run is exported first (to a temporary folder); without a run, a random-initialised `small` one.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import hrsod_tf  # noqa: F401  (before TensorFlow: its oneDNN kernels on where it leaves them off)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import psutil  # noqa: E402
import tensorflow as tf
from fuzzing import png_header, scene  # noqa: E402
from PIL import Image  # noqa: E402

from hrsod_tf.deploy.saved_model import export_workdir
from hrsod_tf.deploy.serving_model import MASK_OUTPUT, SERVING_SIGNATURE, load_serving_model
from hrsod_tf.workdir import make_random_workdir

SIZES = ((3840, 2160), (1920, 1080), (1000, 1500), (640, 480), (333, 777), (64, 48))
MEMORY_BOUND_MIB = 256  # about the working set one more concurrent 4K request adds (see the warm-up figures)


def payloads(sizes=SIZES, seed: int = 0) -> tuple[list, list]:
    """(good, bad): lists of (name, bytes). Good: a JPEG or PNG (alternately) per size; bad: four refusals."""
    good = []
    for i, (width, height) in enumerate(sizes):
        kind = "JPEG" if i % 2 == 0 else "PNG"
        buffer = io.BytesIO()
        Image.fromarray(scene(width, height, seed + i)).save(buffer, format=kind, quality=90)
        good.append((f"{width}x{height}.{kind.lower()}", buffer.getvalue()))
    jpeg = good[0][1]
    webp = io.BytesIO()
    Image.fromarray(scene()).save(webp, format="WEBP")
    bad = [("truncated.jpeg", jpeg[: len(jpeg) // 2]), ("not_an_image.bin", b"not an image at all" * 10),
           ("60MP_header.png", png_header(10000, 6000)), ("image.webp", webp.getvalue())]
    return good, bad


def soak(saved_model, seconds: float, threads: int, sizes=SIZES, bad_every: int = 10,
         memory_bound_mib: float = MEMORY_BOUND_MIB, sample_every: float = 1.0) -> dict:
    """Runs the soak (see the module docstring) and returns its figures."""
    model = load_serving_model(saved_model)
    serve = model.loaded.signatures[SERVING_SIGNATURE]
    good, bad = payloads(sizes)
    process = psutil.Process()

    def request(data):
        return serve(image_bytes=tf.constant([data]))[MASK_OUTPUT][0].numpy()

    started = time.perf_counter()
    reference = {name: request(data) for name, data in good}  # single-threaded answers
    single_rss = process.memory_info().rss
    barrier = threading.Barrier(threads)

    def warm(_):
        for _, data in sorted(good, key=lambda item: -len(item[1])):
            barrier.wait()
            request(data)

    _run_threads(warm, threads)
    warm_rss = process.memory_info().rss
    warm_seconds = time.perf_counter() - started
    counts = {"good": 0, "good_wrong": 0, "bad": 0, "bad_answered": 0, "good_refused": 0}
    latencies, lock, deadline = [], threading.Lock(), time.monotonic() + seconds
    errors = []

    def worker(k):
        rng = random.Random(k)
        sent = 0
        while time.monotonic() < deadline:
            sent += 1
            is_bad = sent % bad_every == 0
            name, data = rng.choice(bad if is_bad else good)
            start = time.perf_counter()
            try:
                answer = request(data)
            except tf.errors.InvalidArgumentError as error:
                with lock:
                    counts["bad" if is_bad else "good_refused"] += 1
                    if not is_bad:
                        errors.append(f"{name}: {str(error).splitlines()[0]}")
                continue
            with lock:
                if is_bad:
                    counts["bad_answered"] += 1
                else:
                    counts["good"] += 1
                    counts["good_wrong"] += answer != reference[name]
                    latencies.append(time.perf_counter() - start)

    samples = []
    stop = threading.Event()

    def monitor():
        begin = time.monotonic()
        while not stop.is_set():
            samples.append((time.monotonic() - begin, process.memory_info().rss))
            stop.wait(sample_every)

    watcher = threading.Thread(target=monitor, daemon=True)
    watcher.start()
    _run_threads(worker, threads)
    stop.set()
    watcher.join()
    # The slope is taken while requests ran; the last reading, once every thread is done, is the quiet end state
    # compared with the quiet state after warm-up.
    times = np.array([t for t, _ in samples])
    loaded = np.array([r for _, r in samples], np.float64) / 2**20
    half = times >= times[-1] / 2
    slope = float(np.polyfit(times[half], loaded[half], 1)[0] * 60) if half.sum() > 2 else None
    samples.append((seconds, process.memory_info().rss))
    rss = np.array([r for _, r in samples], np.float64) / 2**20
    times = np.array([t for t, _ in samples])
    growth = float(rss[-1] - warm_rss / 2**20)
    return {
        "saved_model": str(model.path), "threads": threads, "seconds": seconds, "sizes": [list(s) for s in sizes],
        "bad_every": bad_every, **counts, "requests": sum(counts.values()), "good_refused_examples": errors[:5],
        "latency_s": {"median": float(np.median(latencies)) if latencies else None,
                      "p95": float(np.percentile(latencies, 95)) if latencies else None},
        "warm_up_s": round(warm_seconds, 1), "rss_single_threaded_mib": round(single_rss / 2**20, 1),
        "rss_warm_mib": round(warm_rss / 2**20, 1),
        "rss_end_mib": round(float(rss[-1]), 1), "rss_max_mib": round(float(rss.max()), 1),
        "rss_growth_mib": round(growth, 1), "rss_slope_second_half_mib_per_min": None if slope is None else
        round(slope, 2), "memory_bound_mib": memory_bound_mib,
        "rss_samples_mib": [[round(float(t), 1), round(float(r), 1)] for t, r in zip(times, rss)][::5],
        "passed": counts["good_wrong"] == 0 and counts["bad_answered"] == 0 and counts["good_refused"] == 0
        and growth <= memory_bound_mib,
    }


def _run_threads(target, count: int) -> None:
    pool = [threading.Thread(target=target, args=(k,)) for k in range(count)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()


def exported(workdir, folder) -> Path:
    """The SavedModel of `workdir` (a random-initialised `small` run when None), exported into `folder`."""
    if workdir is None:
        workdir = make_random_workdir(Path(folder) / "run", preset="small").root
    return Path(export_workdir(workdir, Path(folder) / "models"))


def render(data: dict) -> str:
    """The load, a table of the answers and the latency, and the resident memory against its bound."""
    sizes = ", ".join(f"{w}x{h}" for w, h in data["sizes"])
    latency = data["latency_s"]
    row = [data["requests"], data["good"], data["good_wrong"], data["good_refused"], data["bad"], data["bad_answered"],
           f"{latency['median']:.2f} s / {latency['p95']:.2f} s" if latency["median"] is not None else "n/a"]
    verdict = "within" if data["rss_growth_mib"] <= data["memory_bound_mib"] else "**above**"
    per_request = (data["rss_warm_mib"] - data["rss_single_threaded_mib"]) / max(data["threads"] - 1, 1)
    return "\n".join([
        f"Model: {data['model']}. {data['threads']} threads for {data['seconds']:.0f} s after warm-up; sizes {sizes} "
        f"(JPEG and PNG); every {data['bad_every']}th request of each thread a bad one (truncated JPEG, not an image, "
        "a PNG header claiming 60 MP, WebP).", "",
        "| requests | good answered | good answers ≠ single-threaded | good refused | bad refused | bad answered | "
        "median / p95 latency (good) |", "|---|---|---|---|---|---|---|", "| " + " | ".join(map(str, row)) + " |", "",
        f"Resident memory: {data['rss_single_threaded_mib']:.0f} MiB after the single-threaded answers, "
        f"{data['rss_warm_mib']:.0f} MiB after the warm-up (every thread sending every size at once: "
        f"{per_request:.0f} MiB per extra concurrent request), {data['rss_end_mib']:.0f} MiB at the end (max "
        f"{data['rss_max_mib']:.0f} MiB): growth {data['rss_growth_mib']:+.0f} MiB, {verdict} the stated bound of "
        f"{data['memory_bound_mib']:.0f} MiB; slope over the second half, while requests ran: "
        f"{data['rss_slope_second_half_mib_per_min']} MiB/min.", ""])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--workdir", help="a trained run, exported first (default: a random-initialised small run)")
    model.add_argument("--saved-model", help="an export (a version folder or a model base path)")
    parser.add_argument("--seconds", type=float, default=600, help="soak duration after warm-up (default 600)")
    parser.add_argument("--threads", type=int, default=4, help="concurrent request threads (default 4)")
    parser.add_argument("--memory-bound-mib", type=float, default=MEMORY_BOUND_MIB,
                        help=f"allowed RSS growth after warm-up (default {MEMORY_BOUND_MIB})")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="soak-") as folder:
        saved_model = args.saved_model or exported(args.workdir, folder)
        result = soak(saved_model, args.seconds, args.threads, memory_bound_mib=args.memory_bound_mib)
    result["command"] = " ".join(["python", "reliability/soak.py", *sys.argv[1:]])
    result["model"] = args.saved_model or args.workdir or "random-initialised small run"
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
        Path(args.json).with_suffix(".md").write_text(render(result))
    print(json.dumps({k: v for k, v in result.items() if k != "rss_samples_mib"}))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
