"""Runs every benchmark, each in its own subprocess, and rewrites docs/BENCHMARKS.md.

    python benchmarks/run_all.py [--workdir runs/demo] [--quick] [--results DIR] [--only NAME ...]
    python benchmarks/run_all.py --only glfn_speed   # that step alone; the other sections are kept as they are

Each benchmark writes its JSON to ``--results`` (default ``runs/benchmarks``); this script reads them back
and writes docs/BENCHMARKS.md with the date, the machine (CPU model, cores, memory, load), the exact command
of every step, the figures, the paper's figures beside ours, and a met / missed verdict for every target.
A step whose script does not exist (yet) or that fails is recorded as such and the others still run.
Subprocesses keep memory figures clean: every measurement starts from a fresh interpreter.
"""

from __future__ import annotations

import json
import math
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import common
from common import GIB, MIB, base_parser, log, machine_info, now_utc, target

from hrsod_tf.files import atomic_write

BENCH_DIR = Path(__file__).resolve().parent
DOC_PATH = common.REPO_ROOT / "docs" / "BENCHMARKS.md"
PIPELINE_OVERHEAD_TARGET = 0.15
# The header line naming the first of the runs whose sections --only kept; found again by its prefix (whatever
# wording followed it), so that its date and machine carry over from document to document.
KEPT_NOTE_PREFIX = "- the sections kept from the previous document"
KEPT_NOTE = f"{KEPT_NOTE_PREFIX} were measured by earlier runs, the first of them"


@dataclass
class Step:
    """One benchmark command. `args(quick, workdir)` gives its arguments (without --json)."""

    name: str
    script: str
    full: list = field(default_factory=list)
    quick: list = field(default_factory=list)
    json_flag: bool = True  # the script accepts --json OUT

    def command(self, quick: bool, workdir: str, out: Path) -> list:
        args = [a.replace("{workdir}", workdir) for a in (self.quick if quick else self.full)]
        json_args = ["--json", str(out)] if self.json_flag else []
        return [sys.executable, f"benchmarks/{self.script}", *args, *json_args]


STEPS = (
    Step("compute_efficiency", "compute_efficiency.py", [], ["--quick"]),
    Step("pipeline_time", "pipeline_time.py",
         # median of 3 with no warm-up: the first run (which also traces) is the slowest, so the median drops it
         ["--preset", "paper", "--sizes", "1920x1080", "3840x2160", "--coarse", "synthetic", "--runs", "3",
          "--warmup", "0"],
         ["--preset", "paper", "--sizes", "1920x1080", "3840x2160", "--coarse", "synthetic", "--runs", "1"]),
    Step("aps_vs_dense", "aps_vs_dense.py", ["--workdir", "{workdir}"], ["--workdir", "{workdir}", "--quick"]),
    Step("peak_memory", "peak_memory.py", [], ["--quick"]),
    Step("precision_bf16", "precision_bf16.py", [], ["--quick"]),
    Step("lrn_pipeline_throughput", "lrn_pipeline_throughput.py",
         ["--presets", "small", "paper", "--batches", "10", "--warmup", "2"],
         ["--presets", "small", "paper", "--batches", "3", "--warmup", "1"]),
    Step("glfn_speed", "glfn_speed.py", [], ["--quick"]),
    Step("train_step_time", "train_step_time.py",
         ["--presets", "small", "paper", "--stages", "lrn", "--steps", "3", "--batch-size", "4"],
         ["--presets", "small", "paper", "--stages", "lrn", "--steps", "1", "--batch-size", "2"]),
    Step("synthetic_roundtrip", "synthetic_roundtrip.py", ["--count", "20"], ["--quick"]),
    Step("serving_latency_small", "serving_latency.py", ["--preset", "small"], ["--preset", "small", "--quick"]),
    Step("serving_latency_paper", "serving_latency.py", ["--preset", "paper"], ["--preset", "paper", "--quick"]),
    Step("beam_throughput", "beam_throughput.py", ["--workdir", "{workdir}"], ["--workdir", "{workdir}", "--quick"]),
    Step("glfn_training_input", "glfn_training_input.py", ["--workdir", "{workdir}"],
         ["--workdir", "{workdir}", "--quick"]),
    Step("cutout_colors", "cutout_colors.py", ["--workdir", "{workdir}"], ["--workdir", "{workdir}", "--quick"]),
    Step("video_flicker", "video_flicker.py", ["--workdir", "{workdir}"], ["--workdir", "{workdir}", "--quick"]),
    Step("patch_count", "patch_count.py", ["--workdir", "{workdir}"], ["--workdir", "{workdir}", "--quick"]),
    Step("runtime_speed", "runtime_speed.py",
         ["--presets", "official", "paper", "--sizes", "1920x1080", "3840x2160", "--repeats", "3"],
         ["--presets", "official", "--sizes", "1920x1080", "--quick", "--no-memory"]),
    Step("runtime_accuracy", "runtime_accuracy.py", ["--workdir", "{workdir}", "--dataset", "hrsod_synthetic/small"],
         ["--workdir", "{workdir}", "--dataset", "hrsod_synthetic/small", "--only", "openvino:int8"]),
)


# ------------------------------------------------------------------------------------------ running


def supports_json(script: Path) -> bool:
    """True when the script has a --json flag: its own, or `common.base_parser`'s (some scripts have neither:
    their printed output is parsed instead)."""
    text = script.read_text()
    return "--json" in text or "base_parser(" in text


def run_step(step: Step, quick: bool, workdir: str, results: Path) -> dict:
    """Runs one step in a subprocess. Returns {"name", "command", "status", "seconds", "data", "stdout"}."""
    script = BENCH_DIR / step.script
    out = results / f"{step.name}.json"  # relative to the repository root (the subprocess's cwd)
    record = {"name": step.name, "script": step.script, "status": "skipped", "data": None, "stdout": ""}
    if not script.exists():
        record["reason"] = f"benchmarks/{step.script} does not exist yet: step skipped"
        log(f"[{step.name}] {record['reason']}")
        return record
    step.json_flag = supports_json(script)
    command = step.command(quick, workdir, out)
    record["command"] = " ".join(shlex.quote(c) for c in ["python", *command[1:]])
    log(f"[{step.name}] {record['command']}")
    (common.REPO_ROOT / out).unlink(missing_ok=True)
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=common.REPO_ROOT, capture_output=True, text=True)
    record["seconds"] = time.perf_counter() - start
    record["stdout"] = completed.stdout[-6000:]
    if completed.returncode != 0:
        record.update(status="failed", reason=_last_lines(completed.stderr, 15))
        log(f"[{step.name}] FAILED after {record['seconds']:.0f} s:\n{record['reason']}")
        return record
    record["status"] = "ok"
    if (common.REPO_ROOT / out).exists():
        record["data"] = json.loads((common.REPO_ROOT / out).read_text())
    log(f"[{step.name}] done in {record['seconds']:.0f} s")
    return record


def _last_lines(text: str, count: int) -> str:
    return "\n".join(text.strip().splitlines()[-count:])


# ------------------------------------------------------------------------------------------ formatting


def fmt(value, spec: str = ".3f", none: str = "n/a") -> str:
    """Formats a number, or `none` for None / NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return none
    return format(value, spec)


def table(header: list, rows: list) -> list:
    """Markdown table lines."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def verdict_line(name: str, verdict: dict | None) -> list:
    """'- **name**: met / missed / not measured (measured vs goal) -- why'."""
    if not verdict:
        return [f"- **{name}**: not measured"]
    state = {True: "met", False: "missed", None: "not measured"}[verdict.get("met")]
    why = f" — {verdict['why']}" if verdict.get("why") else ""
    return [f"- **{name}**: {state} ({verdict.get('measured')}; target {verdict.get('goal')}){why}"]


def step_header(title: str, record: dict) -> list:
    """Section title, the exact command, and the status when the step did not produce data."""
    lines = ["", f"## {title}", ""]
    if record.get("command"):
        took = f" ({fmt(record['seconds'], '.0f')} s)" if record.get("seconds") is not None else ""
        lines += [f"Command: `{record['command']}`{took}", ""]
    if record["status"] != "ok":
        lines += [f"**Not measured** ({record['status']}): {record.get('reason', '')}".rstrip(), ""]
    return lines


# ------------------------------------------------------------------------------------------ sections


def section_compute(record: dict) -> tuple[list, dict | None]:
    lines = step_header("Compute efficiency: GSN forward pass vs float32 matmul", record)
    data = record["data"]
    if not data:
        return lines, None
    mm = data["matmul"]
    lines += [f"Reference: float32 matmul {mm['size']}x{mm['size']} in a `tf.function`: "
              f"**{mm['gflops_alone']:.1f} GFLOP/s** alone (median of {mm['timing_alone']['repeats']}).",
              f"GSN FLOPs ({data['flop_counting']}): **{data['gsn']['flops_per_image'] / 1e9:.1f} GFLOP** per "
              f"{data['gsn']['input_size']}x{data['gsn']['input_size']} image. Each GSN configuration is timed in "
              "alternation with the matmul, so each ratio compares two rates measured under the same load.", ""]
    rows = [[r["batch"], "yes" if r["jit_compile"] else "no", fmt(r["timing"]["median_s"]),
             fmt(r["seconds_per_image"]), fmt(r["gflops"], ".1f"), fmt(r["matmul_gflops_same_loop"], ".1f"),
             fmt(100 * r["fraction_of_matmul"], ".0f") + "%", fmt(r["first_call_s"], ".1f")]
            for r in data["gsn"]["runs"]]
    lines += table(["batch", "jit_compile", "median s / batch", "s / image", "GSN GFLOP/s",
                    "matmul GFLOP/s (same loop)", "GSN / matmul", "first call s"], rows)
    return lines, data["efficiency"]["target"]


GLFN_TITLE = "GLFN forward: FoldedGLFN >= 4x the Keras GLFN; GLFN at 1080p / GSN at 384 <= 1"


def section_glfn_speed(record: dict) -> tuple[list, dict | None]:
    """Where the GLFN's time goes (per-layer profile) and FoldedGLFN vs the Keras GLFN (glfn_speed.py)."""
    lines = step_header("GLFN forward: profile, FoldedGLFN, and the ratio to the GSN", record)
    data = record["data"]
    if not data:
        return lines, None
    machine = data["machine"]
    profile = data["profile"]
    lines += [f"CPU flags: {', '.join(machine['isa_flags'])}; load average (1/5/15 min) at the start "
              f"{data.get('load_average_start')}, at the end {machine['load_average_1_5_15']}.", "",
              f"**Where the time goes** (Keras GLFN, `paper` preset, {profile['size']}, each layer alone in its own "
              f"`tf.function`; sum of layers {fmt(profile['sum_of_layers_s'])} s, whole network "
              f"{fmt(profile['whole_network_s'])} s):", ""]
    total = profile["sum_of_layers_s"]
    kinds = sorted(profile["by_kind_s"].items(), key=lambda kv: -kv[1])
    lines += table(["layer kind", "seconds", "share"], [[k, fmt(v), f"{100 * v / total:.0f}%"] for k, v in kinds])
    lines += ["", "A convolution's time here grows with its input channels, hardly with its 1, 2 or 8 outputs "
              "(thin convolutions use a fraction of each vector register), and every BatchNorm, ReLU and "
              "concatenation is a separate full-resolution pass. FoldedGLFN (hrsod_tf/pipeline/folded_glfn.py) folds "
              "each BatchNorm after a convolution into it, fuses convolution + bias + ReLU, applies the other "
              "BatchNorms + ReLU as one affine + ReLU op (an inference FusedBatchNorm) with the input scaling "
              "folded in, and computes only the salient channel (sigmoid of one logit-difference convolution).", "",
              "**FoldedGLFN vs the Keras GLFN**, both as the inference pipeline runs them (whole image below "
              "`glfn_max_pixels`, tiles above), timed in alternation (median):", ""]
    rows = [[c["preset"], c["size"], fmt(c["keras_s"]), fmt(c["folded_s"]), fmt(c["speedup"], ".2f") + "x",
             fmt(c["gflop"], ".1f"), fmt(c["folded_gflop_per_s"], ".1f"), f"{c['max_difference']:.1e}"]
            for c in data["comparisons"]]
    lines += table(["GLFN", "size", "Keras s", "FoldedGLFN s", "speed-up", "GFLOP", "GFLOP/s (folded)",
                    "max difference"], rows)
    row = data["gsn_row"]
    lines += ["", "**GLFN forward at 1920x1080 vs GSN forward at 384x384**, measured in alternation in one run "
              "(FoldedGLFN, `paper`; GSN `paper`, batch 1):", ""]
    lines += table(["GLFN 1080p s", "GLFN GFLOP", "GLFN GFLOP/s", "GSN 384 s", "ratio GLFN / GSN"],
                   [[fmt(row["glfn_1080p_s"]), fmt(row["glfn_gflop"], ".1f"), fmt(row["glfn_gflop_per_s"], ".1f"),
                     fmt(row["gsn_384_s"]), fmt(row["ratio"], ".2f")]])
    verdict = data["verdict"]
    met = verdict["speedup"]["met"] and verdict["gsn_ratio"]["met"]
    measured = f"speed-up {verdict['speedup']['measured']}, GLFN/GSN ratio {verdict['gsn_ratio']['measured']}"
    return lines, {"met": met, "measured": measured, "goal": ">= 4x and ratio <= 1"}


def section_patch_count(record: dict) -> tuple[list, dict | None]:
    """The paper's Figure 9: S-measure and MAE against the number of patches, APS vs random (patch_count.py)."""
    lines = step_header("Figure 9: refinement quality against the number of patches (trained demo run)", record)
    data = record["data"]
    if not data:
        return lines, None
    if not data.get("measured"):
        return lines + [f"**Not measured: train the demo first** (`python train.py`). {data.get('reason', '')}"], None
    figure = Path(data["figure"])
    figure = figure.relative_to(DOC_PATH.parent) if figure.is_relative_to(DOC_PATH.parent) else figure
    aps, rand = data["curves"]["aps"], data["curves"]["random"]
    lines += [f"Run `{data['workdir']}` (preset {data['preset']}, D = {data['patch_size']} px), {data['images']} "
              "synthetic test scenes; the LRN's output fused into the GSN map inside the uncertain region (the "
              "pipeline's gsn+aps+lrn), for K patches: APS capped at the K cells with the most uncertain pixels "
              f"(fewer when the uncertain pixels fit in fewer), random patches refined by the {data['random_lrn']}. "
              "The paper draws this for HRSOD-Test (its Figure 9: APS is less sensitive to the number of patches).",
              "", f"![Figure 9: S-measure and MAE against the number of patches]({figure})", ""]
    rows = [[str(k), fmt(aps["mean_patches"][i], ".1f"), fmt(aps["S_measure"][i], ".4f"), fmt(aps["MAE"][i], ".4f"),
             fmt(rand["S_measure"][i], ".4f"), fmt(rand["MAE"][i], ".4f")] for i, k in enumerate(data["patches"])]
    lines += table(["K", "APS patches (mean)", "APS S ↑", "APS MAE ↓", "random S ↑", "random MAE ↓"], rows)
    return lines, None


def section_glfn_training_input(record: dict) -> tuple[list, dict | None]:
    """The GLFN trained on warped images vs full-resolution crops, on the validation images
    (glfn_training_input.py)."""
    lines = step_header("GLFN training input: whole images warped vs full-resolution crops", record)
    data = record["data"]
    if not data or "fused" not in data:
        return lines, (data or {}).get("target")
    validation = data["validation"]
    lines += [f"The GLFN stage of `{data['workdir']}` trained again for each input mode and seed "
              f"({data['steps']} steps, batch {data['batch_size']}, inputs of {data['input_size']} px: whole images "
              "warped, or random crops at full resolution), everything else the run's own. Evaluated at full "
              f"resolution on the run's {len(validation['filenames'])} validation images ({validation['how']}), "
              "on their cached GSN+APS+LRN maps; the test split is not used. *Inside* / *outside*: the mean map "
              "value on object / background pixels (grey objects have a low inside mean). The second row is the "
              "GLFN's input on training images: if it were much better than on held-out ones, the GLFN would learn "
              "to trust it more than it should.", ""]
    keys = ("Fbeta_adaptive", "S_measure", "MAE", "Fbeta_mean", "mean_inside_objects", "mean_outside_objects")
    specs = (".3f", ".3f", ".4f", ".3f", ".3f", ".4f")
    rows = [["GSN+APS+LRN (the GLFN's input)", "", *[fmt(data["fused"][k], f) for k, f in zip(keys, specs)], ""]]
    if data.get("fused_training_images"):
        rows.append(["GSN+APS+LRN on 24 training images", "",
                     *[fmt(data["fused_training_images"][k], f) for k, f in zip(keys, specs)], ""])
    for r in data["glfn"]:
        rows.append([f"+ GLFN, {r['input_mode']}", str(r["seed"]), *[fmt(r[k], f) for k, f in zip(keys, specs)],
                     fmt(r["train_seconds"], ".0f")])
    lines += table(["map", "seed", "Fβ adaptive ↑", "S ↑", "MAE ↓", "mean Fβ ↑", "inside ↑", "outside ↓",
                    "training s"], rows)
    lines += ["", "Why crops fail, as we read it (consistent with the validation MAE of crop training swinging from "
              "one validation to the next where warp training falls steadily; not measured apart): the GLFN's first "
              "layers are BatchNorms of the raw inputs, and training normalises "
              "with the statistics of the batch. With two crops of a large photo, most batches hold background "
              "only, so the saliency channel is normalised by a near-zero spread in some batches and by the objects' "
              "in others; the network learns from inputs whose scale swings from batch to batch and meets the "
              "population statistics only at test time. A warped image holds the whole scene in every example."]
    return lines, data["target"]


def section_cutout_colors(record: dict) -> tuple[list, dict | None]:
    """Edge colours of cut-outs with and without foreground estimation (cutout_colors.py)."""
    lines = step_header("Cut-out edge colours: foreground estimation vs the photo's own colours", record)
    data = record["data"]
    if not data:
        return lines, None
    lines += [f"{data['scenes']} synthetic scenes per edge softness (shorter side {data['side']} px) whose true "
              "foreground colour F and alpha A are known, each object put on a new background C: the true composite "
              "A·F + (1−A)·C against the cut-out's, A·I + (1−A)·C with the photo's colour I (estimation off) or "
              "A·F̂ + (1−A)·C with pymatting's estimate F̂ (`estimate_foreground`, on). Mean absolute error per "
              "channel (R, G, B; 0..255) over the pixels of the edge band (0 < A < 1). With the true alpha the error "
              "is A·|F_used − F|, the same whatever C is (green screen, white and another photo give identical "
              "rows): one row per softness. *Soft edges*: 0 = the drawing's anti-aliasing only, 1.5 = each "
              "object's coverage blurred by a Gaussian of 1.5 px (defocused fur).", ""]
    rows = []
    for s in data["summary"]:
        if s["alpha"] == "true alpha" and s["background"] != "green":
            continue
        background = "any" if s["alpha"] == "true alpha" else s["background"]
        photo = " / ".join(fmt(v, ".2f") for v in s["photo_rgb"])
        estimated = " / ".join(fmt(v, ".2f") for v in s["estimated_rgb"])
        ratio = max(e / p for e, p in zip(s["estimated_rgb"], s["photo_rgb"]))
        rows.append([s["alpha"], fmt(s["softness"], ".1f"), background, photo, estimated, fmt(ratio, ".2f")])
    lines += table(["alpha", "soft edges px", "new background", "MAE R / G / B, photo's colours",
                    "MAE R / G / B, estimated", "worst ratio"], rows)
    if any(s["alpha"] == "predicted alpha" for s in data["summary"]):
        lines += ["", f"*Predicted alpha*: the map of `{data['workdir']}` as alpha for both composites (the band: "
                  "where the true or the predicted alpha is strictly between 0 and 1); the truth is still the true "
                  "composite, so this error holds the network's too."]
    lines += ["", "Time of `estimate_foreground` (pymatting's `estimate_foreground_ml`, numba; first call apart, "
              "it compiles):", ""]
    lines += table(["size", "median s", "first call s", "runs"],
                   [[t["size"], fmt(t["median_s"], ".2f"), fmt(t["first_call_s"], ".2f"), t["repeats"]]
                    for t in data["timing"]])
    return lines, data["target"]


def section_video_flicker(record: dict) -> tuple[list, dict | None]:
    """Flicker and MAE of video maps per temporal method (video_flicker.py)."""
    lines = step_header("Video flicker: the temporal step (none, ema, ofd)", record)
    data = record["data"]
    if not data:
        return lines, None
    lines += [f"{data['clips']} synthetic clips of {data['frames']} frames at {data['size']} "
              "(`hrsod_tf.data.synthetic_video.generate_clip`: objects standing still and moving over a still "
              f"textured background, sensor noise of its own in every frame; {data['moving_frames']} moving frames "
              f"per clip), predicted frame by frame by `{data['workdir']}`, then filtered. MAE against the masks "
              "(0..1); dtSSD as RobustVideoMatting's evaluation (`MetricDTSSD`, x100), frames 1..T−1. "
              "*ema*: motion-gated running average; *ofd*: MODNet's one-frame delay (see "
              "`hrsod_tf/deploy/temporal.py`). The settings of *ema* were chosen on other clips (0-2).", ""]
    rows = [[method, fmt(s["mean_mae"], ".5f"), fmt(s["still_mae"], ".5f"), fmt(s["moving_mae"], ".5f"),
             fmt(s["mean_dtssd"], ".3f"), fmt(s["still_dtssd"], ".3f"), fmt(s["moving_dtssd"], ".3f")]
            for method, s in data["summary"].items()]
    lines += table(["method", "MAE ↓", "MAE still", "MAE moving", "dtSSD ↓", "dtSSD still", "dtSSD moving"], rows)
    lines += ["", f"Default (`predict.py --temporal`): **{data['default']}** — the method with the lowest dtSSD "
              "among those whose MAE is not higher than without one (to 4 decimals)."]
    return lines, data["target"]


def network_seconds(compute: dict | None, patches: int, pixels: int) -> float | None:
    """Estimated time of the networks alone for one image: GSN at 384 (batch 1) + LRN per patch (GSN
    batch-4 time per image, the LRN has the same convolutions) + GLFN scaled from 1024x1024 by pixels."""
    if not compute:
        return None
    runs = [r for r in compute["gsn"]["runs"] if not r["jit_compile"]]
    gsn = next((r["seconds_per_image"] for r in runs if r["batch"] == 1), None)
    per_patch = min(r["seconds_per_image"] for r in runs)
    glfn = compute["glfn"]["seconds_per_image"] * pixels / compute["glfn"]["input_size"] ** 2
    return gsn + patches * per_patch + glfn


def section_pipeline(record: dict, compute: dict | None) -> tuple[list, dict | None]:
    lines = step_header("Full pipeline at 1920x1080 and 3840x2160 (paper preset, random init)", record)
    data = record["data"]
    if not data:
        return lines, None
    lines += [f"Networks: {data.get('model')}; coarse map: {data.get('coarse')} (a blurred synthetic object "
              "mask drives APS/LRN/GLFN, so the patch count is realistic; the GSN still runs and is timed). "
              "Median seconds per stage:", ""]
    rows, worst = [], None
    for result in data["results"]:
        s = result["median_seconds"]
        width, height = (int(v) for v in result["size"].split("x"))
        nets = network_seconds(compute, result["patches"], width * height)
        # None when unknown, or when the estimate (another process, another moment) exceeds the total.
        overhead = None if nets is None or nets > s["total"] else (s["total"] - nets) / s["total"]
        if overhead is not None and (worst is None or overhead > worst[0]):
            worst = (overhead, result["size"])
        rows.append([result["size"], str(result["patches"]), fmt(100 * result["uncertain_fraction"], ".1f") + "%",
                     *(fmt(s.get(k)) for k in ("gsn", "aps", "lrn+fusion", "glfn", "total")),
                     fmt(nets), "n/r" if overhead is None else f"{100 * overhead:.0f}%"])
    lines += table(["size", "patches", "uncertain", "GSN", "APS", "LRN+fusion", "GLFN", "total",
                    "networks alone (est.)", "overhead"], rows)
    lines += ["", "Networks alone = GSN forward at 384 (batch 1) + patches x LRN forward per patch (the GSN's fastest "
              "per-image time without XLA: same convolutions) + GLFN forward at 1024x1024 scaled by pixel count, "
              "all from step 1 of this run "
              "(a separate process, so an estimate). Overhead = (total - networks alone) / total: resizing, "
              "cropping, pasting, GLFN tiling margins, tf.function dispatch."]
    if any(row[-1] == "n/r" for row in rows):
        lines += ["n/r: not resolved — the networks-alone estimate exceeds the measured total (the machine's "
                  "load differed between the two processes)."]
    if worst is None:
        return lines, target(None, "not resolved (step 1 missing, or every estimate exceeded its total)",
                             "<= 15% of total")
    met = worst[0] <= PIPELINE_OVERHEAD_TARGET
    why = "" if met else ("the full-resolution resize / crop_and_resize / scatter-add passes and GLFN tile "
                          "margins are memory-bound work on 2 cores (the LRN's last partial batch is no longer "
                          "padded since this was first measured at 55%); caveat: 'networks alone' comes from another "
                          "process, "
                          "so a change of the machine's load between the two skews it (see the warning above)")
    return lines, target(met, f"{100 * worst[0]:.0f}% at {worst[1]}", "<= 15% of total", why)


def section_aps(record: dict) -> tuple[list, dict | None]:
    lines = step_header("APS vs dense tiling at equal patch size (trained demo run)", record)
    data = record["data"]
    if not data:
        return lines, None
    if not data.get("measured"):
        lines += [f"**Not measured: train the demo first** (`python train.py`). {data.get('reason', '')}"]
        return lines, target(None, "not measured: train the demo first", "<= 40% of dense patches, BDE no worse")
    lines += [f"Run `{data['workdir']}` (preset {data['preset']}, D = {data['patch_size']} px), "
              f"{len(data['images'])} synthetic test scenes; APS used {data['aps_patches_total']} patches, "
              f"dense tiling {data['dense_patches_total']} (**{100 * data['patch_ratio']:.0f}%**).", ""]
    rows = [[v, *(fmt(m.get(k), ".3f" if k != "BDE" else ".2f") for k in ("S_measure", "BDE", "MAE", "Fbeta_max"))]
            for v, m in data["metrics"].items()]
    lines += table(["variant", "S-measure", "BDE (px)", "MAE", "maxF"], rows)
    return lines, data["target"]


def section_memory(record: dict) -> tuple[list, dict | None]:
    lines = step_header("Peak memory of the full pipeline at 3840x2160 (paper preset, float32, random init)",
                        record)
    data = record["data"]
    if not data:
        return lines, None
    rows = [[c["mode"], c.get("aps_patches", "-"), fmt(c.get("baseline_rss_bytes", 0) / MIB, ".0f"),
             fmt(c.get("peak_rss_bytes", 0) / MIB, ".0f"), fmt(c.get("pipeline_share_bytes", 0) / MIB, ".0f"),
             fmt(c.get("peak_rss_bytes", 0) / GIB, ".2f"), fmt(c.get("seconds"), ".0f")]
            for c in data["modes"] if "error" not in c]
    lines += [f"Measure: {data['measure']}. Modes: `random` = the pipeline as is (the random-init GSN map decides "
              "the patches); `blurred` = the GSN runs, then APS/LRN/GLFN are driven by a blurred synthetic mask "
              "(realistic uncertain band).", ""]
    lines += table(["mode", "APS patches", "baseline MiB (TF + 3 models)", "peak MiB", "pipeline share MiB",
                    "peak GiB", "seconds"], rows)
    return lines, data["target"]


def section_precision(record: dict) -> tuple[list, dict | None]:
    lines = step_header("Precision: float32 vs mixed_bfloat16 (GSN, paper preset, 384x384, batch 1)", record)
    data = record["data"]
    if not data:
        return lines, None
    t, d = data["timing"], data["output_difference"]
    flags = ", ".join(data["machine"]["isa_flags"]) or "none"
    lines += table(["policy", "median s", "compute dtype"],
                   [[k, fmt(v["median_s"]), data["compute_dtype"][k]] for k, v in t.items()])
    ratio = data["speedup_bf16_over_f32"]
    lines += ["", f"Speed ratio float32 time / bf16 time: **{ratio:.2f}x** (timed in alternation). Output map "
              f"difference (same weights, {data['input']} input): max |diff| **{d['max_abs_diff']:.4f}**, mean "
              f"{d['mean_abs_diff']:.5f}, decisions at 0.5 flipped on {100 * d['decision_flip_fraction']:.2f}% of "
              f"pixels. CPU vector flags: {flags}. {_bf16_reading(ratio, data['machine']['isa_flags'])}"]
    return lines, None


def result_rows(record: dict) -> list:
    """The rows of a step written by others: its JSON (a list, or a dict with "rows"/"results"), or else
    the "a | b | c" table it printed on stdout (numbers parsed)."""
    data = record.get("data")
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        return data.get("rows") or data.get("results") or []
    lines = [line for line in record.get("stdout", "").splitlines() if " | " in line]
    if not lines:
        return []
    header = [c.strip() for c in lines[0].split("|")]
    return [dict(zip(header, (_number(c.strip()) for c in line.split("|")))) for line in lines[1:]]


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        return text


def _bf16_reading(ratio: float, flags: list) -> str:
    """One sentence reading the bf16 speed ratio against the CPU's bf16 support."""
    native = any(f in flags for f in ("avx512_bf16", "amx_bf16"))
    support = "this CPU has native bf16 arithmetic" if native else (
        "this CPU has no native bf16 arithmetic (no AVX512_BF16 / AMX): oneDNN converts around the float32 FMAs")
    if ratio > 1.05:
        return f"bf16 was faster here ({support}; halved memory traffic is what helps)."
    if ratio < 0.95:
        return f"bf16 was slower here ({support}); keep float32 (the `auto` precision does on CPU)."
    return f"No meaningful speed difference ({support}); keep float32 (the `auto` precision does on CPU)."


def section_training_input(records: dict) -> tuple[list, dict | None]:
    throughput, step = records["lrn_pipeline_throughput"], records["train_step_time"]
    lines = ["", "## Training input: LRN tf.data pipeline vs the LRN training step", ""]
    for record in (throughput, step):
        if record.get("command"):
            took = f" ({fmt(record['seconds'], '.0f')} s)" if record.get("seconds") is not None else ""
            lines += [f"Command: `{record['command']}`{took}", ""]
        if record["status"] != "ok":
            lines += [f"**{record['name']} not measured** ({record['status']}): {record.get('reason', '')}", ""]
    supply = {r.get("preset"): r for r in result_rows(throughput) if r.get("grid") != "full"}
    demand = {r.get("preset"): r for r in result_rows(step) if r.get("stage") == "lrn"}
    rows = []
    for preset in [p for p in supply if p in demand]:
        made, used = supply[preset].get("patches/s"), demand[preset].get("images_per_second")
        ratio = made / used if isinstance(made, float) and used else None
        rows.append([preset, fmt(made, ".1f"), demand[preset].get("batch_size"), fmt(demand[preset].get(
            "seconds_per_step")), fmt(used, ".2f"), fmt(ratio, ".1f") + "x"])
    if rows:
        lines += table(["preset", "pipeline patches/s (default grid)", "train batch", "s / train step",
                        "patches/s consumed", "supply / demand"], rows)
        lines += ["", "Supply / demand > 1: the input pipeline makes patches faster than the LRN step uses them. "
                  "Both are measured alone; in training they share the same cores, so a margin is needed."]
    for record in (throughput, step):
        if record["status"] == "ok" and record.get("stdout"):
            lines += ["", f"`{record['script']}` output:", "", "```", record["stdout"].strip()[-2500:], "```"]
    return lines, None


def section_roundtrip(record: dict) -> tuple[list, dict | None]:
    lines = step_header("The ground truth after a low-resolution round trip (synthetic test scenes)", record)
    data = record["data"]
    if not data:
        return lines, None
    low, high = data["shortest_edge_px"]
    lines += [f"{data['scenes']} synthetic `{data['split']}` scenes, shortest edge {low}-{high} px, mean "
              f"{data['mean_megapixels']:.2f} MP; thin structures are "
              f"{100 * data['thin_structure_share_of_mask']:.1f}% "
              "of the mask. Each mask is area-resized to S x S, resized back bilinearly and thresholded at 0.5: the "
              "best any S x S predictor can do. BDE is the evaluation's (`hrsod_tf.evaluation.metrics`).", ""]
    lines += table(["round trip", "MAE (soft)", "MAE (binarised)", "BDE (px)", "thin structures lost"],
                   [[f"{r['size']}x{r['size']}", fmt(r["mae_soft"], ".4f"), fmt(r["mae_binary"], ".4f"),
                     fmt(r["bde"], ".2f"), fmt(100 * r["thin_lost"], ".1f") + "%"] for r in data["rows"]])
    return lines, None


def section_serving(records: list) -> tuple[list, dict | None]:
    lines = ["", "## TF Serving export: size on disk and latency (random init, 1920x1080 JPEG)", ""]
    rows = []
    for record in records:
        if record.get("command"):
            lines += [f"Command: `{record['command']}` ({fmt(record.get('seconds'), '.0f')} s)", ""]
        if record["status"] != "ok" or not record["data"]:
            lines += [f"**{record['name']} not measured** ({record['status']}): {record.get('reason', '')}", ""]
            continue
        d = record["data"]
        rows.append([d["source"], fmt(d["export_mb"], ".1f") + " MB", fmt(d["variables_mb"], ".1f") + " MB",
                     fmt(d["export_seconds"], ".0f") + " s", fmt(d["load_seconds"], ".1f") + " s",
                     fmt(d["first_call_seconds"], ".2f") + " s", fmt(d["median_seconds_1920x1080"], ".2f") + " s",
                     str(d["timing"]["repeats"])])
    if rows:
        lines += table(["networks", "export size", "variables", "export time", "load time", "first call",
                        "median call", "calls"], rows)
        lines += ["", "The graph alone (no HTTP / gRPC), `serving_default` on one 1920x1080 JPEG. Random-init "
                  "networks give maps near 0.5, so APS takes its maximum number of patches: a trained model's worst "
                  "case. See docs/SERVING.md for serving the export."]
    return lines, None


def section_paper(compute: dict | None) -> list:
    lines = ["", "## The paper's figures beside ours", ""]
    if not compute:
        return lines + ["Not measured (step 1 did not run)."]
    paper, ours = compute["paper_comparison"]["paper"], compute["paper_comparison"]["ours"]
    lines += table(["figure", "paper (GTX 1080 Ti, Table 3)", "ours (this CPU, float32)"], [
        ["time at 384x384", f"{paper['seconds_384']} s", f"{ours['gsn_384_seconds']:.2f} s (GSN forward)"],
        ["time at 1024x1024", f"{paper['seconds_1024']} s (the whole method)",
         f"{ours['glfn_1024_seconds']:.2f} s for the GLFN forward alone (the whole pipeline: section 2)"],
        ["model size GSN+LRN", f"{paper['gsn_lrn_mb']} MB", f"{ours['gsn_lrn_mb']:.1f} MB (count_params x 4)"],
        ["model size GLFN", f"{paper['glfn_kb']} kB", f"{ours['glfn_kb']:.1f} kB (count_params x 4)"],
    ])
    return lines + ["", "The paper's times are on a GPU and ours on this CPU: they are side by side, not comparable."]


def section_beam(record: dict) -> list:
    lines = step_header("Batch inference: predict.py vs Apache Beam (DirectRunner, 1 and 2 workers)", record)
    data = record["data"]
    if not data:
        return lines
    machine = data.get("machine", {})
    lines += [f"{data['count']} synthetic JPEGs of {data['size']} px, model {data['model']}, written as 8-bit "
              "masks by the commands as a user runs them (each in its own process), measured in turn in one run, "
              f"{data.get('rounds', 1)} interleaved round(s), medians (a ratio is the median of the per-round "
              "ratios). Images/s = (count - 1) / (last output written - first output written), from the PNGs' "
              "modification times: the fixed cost (start-up, worker processes, model load, first call) is left "
              "out and given apart. "
              f"CPU flags: {', '.join(machine.get('isa_flags', [])) or 'n/a'}; load average (1/5/15 min) when "
              f"the result was written: {machine.get('load_average_1_5_15')}.", ""]
    rows = []
    for name, label in (("predict_py", "predict.py (one process)"),
                        ("beam_1", "Beam DirectRunner, 1 worker process"),
                        ("beam_2", "Beam DirectRunner, 2 worker processes")):
        run = data[name]
        load = (fmt(run["load_seconds"], ".1f") + " (load + first image)" if name == "predict_py"
                else fmt(run["model_load_seconds"], ".1f") + " per worker (RunInference metric)")
        ratio = "1.00" if name == "predict_py" else fmt(data["ratio_to_predict_py"][name], ".2f")
        rows.append([label, load, fmt(run["seconds_to_first_output"], ".1f"), fmt(run["images_per_second"], ".2f"),
                     ratio, fmt(run["end_to_end_images_per_second"], ".2f")])
    return lines + table(["run", "model load s", "launch to first output s", "images/s", "ratio to predict.py",
                          "end-to-end images/s (start-up included)"], rows)


RUNTIME_SPEED_TITLE = "CPU runtimes: the fastest path >= 3x TF float32 at 1920x1080 (official preset)"
RUNTIME_ACCURACY_TITLE = "CPU runtimes: every format and precision within Fβ/S 0.005, MAE 0.002 of float32"
SPEED_TARGET = 3.0


def section_runtime_speed(record: dict) -> tuple[list, dict | None]:
    """The full pipeline on every runtime and precision beside TF float32 (runtime_speed.py)."""
    lines = step_header("CPU runtimes: the full pipeline in int8, bfloat16 and float32", record)
    data = record["data"]
    if not data:
        return lines, None
    machine = data["machine"]
    lines += [f"CPU: {machine['cpu_model']}, {machine['usable_cores']} cores; flags: "
              f"{', '.join(machine['isa_flags'])}. Random-init networks (speed does not depend on the weights), "
              f"exported with `export.py`, timed as `pipeline_time.py --coarse synthetic` times them (median of "
              f"{data['runs']}), every runtime in alternation with TF float32 in one process: the ratio is the "
              "figure to read. Peak memory: each alone in a fresh process (`pipeline_time.py --model`, one run "
              "at the largest size).", ""]
    best = None
    for preset, entry in data["presets"].items():
        for size, timings in entry["sizes"].items():
            lines += ["", f"**`{preset}`, {size}** (seconds per stage)", ""]
            rows = []
            for name, timing in sorted(timings.items(), key=lambda kv: kv[1]["median_seconds"]["total"]):
                seconds = timing["median_seconds"]
                memory = (entry.get("peak_rss_bytes") or {}).get(name)
                size_bytes = entry["model_bytes"].get(name)
                rows.append([name, fmt(seconds["gsn"]), fmt(seconds["aps"]), fmt(seconds["lrn+fusion"]),
                             fmt(seconds["glfn"]), f"**{fmt(seconds['total'])}**",
                             f"{timing['ratio_to_tf_float32']:.2f}x", timing["patches"],
                             fmt(memory / GIB if memory else None, ".2f"),
                             fmt(size_bytes / MIB if size_bytes else None, ".1f")])
                if preset == "official" and size == "1920x1080" and name != "tensorflow float32":
                    if best is None or timing["ratio_to_tf_float32"] > best[1]:
                        best = (name, timing["ratio_to_tf_float32"], seconds, timings["tensorflow float32"])
            lines += table(["runtime", "GSN", "APS", "LRN + fusion", "GLFN", "total", "vs TF float32", "patches",
                            "peak GiB", "model MiB"], rows)
        lines += ["", f"What each runtime ran (`{preset}`):", ""]
        for name, networks in entry["runtimes"].items():
            lines.append(f"- {name}: " + "; ".join(
                f"{stage}: {json.dumps(info.get('kernels') or info.get('op_types') or info, sort_keys=True)}"
                for stage, info in networks.items()))
    verdict = None
    if best:
        name, ratio, seconds, reference = best
        verdict = target(ratio >= SPEED_TARGET, f"{name}: {ratio:.2f}x", f">= {SPEED_TARGET:.0f}x",
                         "" if ratio >= SPEED_TARGET else _speed_shortfall(name, seconds,
                                                                         reference["median_seconds"]))
    return lines, verdict


def _speed_shortfall(name: str, seconds: dict, reference: dict) -> str:
    """Why the fastest path misses the target, from its stage times: the GLFN stays float32 in every export."""
    rest, rest_reference = seconds["total"] - seconds["glfn"], reference["total"] - reference["glfn"]
    return (f"the GLFN, float32 in every export, takes {seconds['glfn']:.2f} of {name}'s {seconds['total']:.2f} s "
            f"({seconds['glfn'] / seconds['total']:.0%}; TF float32's takes {reference['glfn']:.2f} s); the "
            f"other stages together are {rest_reference / rest:.2f}x faster than TF float32's")


def section_runtime_accuracy(record: dict) -> tuple[list, dict | None]:
    """Every export against the float32 SavedModel on the demo's test scenes (runtime_accuracy.py)."""
    lines = step_header("CPU runtimes: accuracy of every format and precision (trained demo networks)", record)
    data = record["data"]
    if not data:
        return lines, None
    bounds = data["bounds"]
    lines += [f"`{data['dataset']}` {data['split']} split, run `{data['workdir']}`, the full variant, each export "
              f"run by `evaluate.py --model` and compared with the float32 SavedModel ({data['reference']}); bounds: "
              f"adaptive Fβ and S within {bounds['Fbeta_adaptive']}, MAE within {bounds['MAE']}. Level differences "
              "are per pixel of the 8-bit masks, over every pixel of every test image.", ""]
    rows, failing = [], []
    for row in data["rows"]:
        metrics = row["metrics"]
        if "differences" not in row:
            rows.append([f"{row['format']} {row['precision']} (reference)", fmt(metrics["Fbeta_adaptive"], ".4f"),
                         fmt(metrics["S_measure"], ".4f"), fmt(metrics["MAE"], ".4f"), "", "", "", ""])
            continue
        d, levels = row["differences"], row["levels"]
        rows.append([f"{row['format']} {row['precision']}", fmt(metrics["Fbeta_adaptive"], ".4f"),
                     fmt(metrics["S_measure"], ".4f"), fmt(metrics["MAE"], ".4f"),
                     f"{d['Fbeta_adaptive']:+.4f} / {d['S_measure']:+.4f} / {d['MAE']:+.4f}",
                     fmt(levels["mean_levels"], ".3f"), levels["max_levels"],
                     "yes" if row["within_bounds"] else "**no**"])
        if not row["within_bounds"]:
            failing.append(f"{row['format']} {row['precision']}")
    lines += table(["export", "Fβ adaptive", "S", "MAE", "Δ Fβ / S / MAE", "mean level diff", "max level diff",
                    "within bounds"], rows)
    verdict = target(not failing, "all within" if not failing else "outside: " + ", ".join(failing),
                     "every format and precision within the bounds")
    return lines, verdict


# ------------------------------------------------------------------------------------------ document


def _load_warning(machine: dict, measured: list) -> list:
    """A warning paragraph when the machine was busy with other work when the run started (`measured`: the steps
    this run ran, named when the others were kept from earlier runs)."""
    load, cores = (machine.get("load_average_1_5_15") or [0])[0], machine.get("usable_cores") or 1
    if load <= 0.5 * cores:
        return []
    which = f" (its steps: {', '.join(measured)})" if measured else ""
    return [f"**Warning: the machine was busy (load {load:.1f} on {cores} cores) when this run{which} started.** "
            "Absolute times are then slower than this machine can do, and even same-loop ratios are noisy; "
            "re-run `python benchmarks/run_all.py` on an idle machine before quoting figures.", ""]


def write_document(records: dict, args, started: str, machine: dict, path: Path, argv=None) -> None:
    """Writes BENCHMARKS.md from the step records (`argv`: the run_all arguments, default this process's).

    A section whose steps all have the status "kept" (see `main`) is copied from the document as it was, with its
    target verdict: it was written by an earlier run of this script whose JSON is not at hand.
    """
    argv = sys.argv[1:] if argv is None else argv
    records = {step.name: records.get(step.name) or {"name": step.name, "status": "kept", "data": None, "stdout": ""}
               for step in STEPS}
    old_sections, old_verdicts = _document_parts(path)
    compute = records["compute_efficiency"]["data"]
    sections, verdicts, kept_any, number = [], [], False, 0
    for title, steps, (lines, verdict) in (
        ("Compute efficiency (GSN >= 85% of matmul rate)", ["compute_efficiency"],
         section_compute(records["compute_efficiency"])),
        ("Pipeline overhead (<= 15% of total)", ["pipeline_time"], section_pipeline(records["pipeline_time"], compute)),
        ("APS vs dense (<= 40% of the patches, BDE no worse)", ["aps_vs_dense"], section_aps(records["aps_vs_dense"])),
        ("Peak memory at 4K (< 3 GiB)", ["peak_memory"], section_memory(records["peak_memory"])),
        (None, ["precision_bf16"], section_precision(records["precision_bf16"])),
        (None, ["lrn_pipeline_throughput", "train_step_time"], section_training_input(records)),
        (None, ["compute_efficiency"], (section_paper(compute), None)),
        (None, ["synthetic_roundtrip"], section_roundtrip(records["synthetic_roundtrip"])),
        (None, ["serving_latency_small", "serving_latency_paper"],
         section_serving([records["serving_latency_small"], records["serving_latency_paper"]])),
        (None, ["beam_throughput"], (section_beam(records["beam_throughput"]), None)),
        (GLFN_TITLE, ["glfn_speed"], section_glfn_speed(records["glfn_speed"])),
        ("GLFN training input (warped images: the GLFN improves the fused map for every seed)",
         ["glfn_training_input"], section_glfn_training_input(records["glfn_training_input"])),
        ("Cut-out edge colours (foreground estimation lowers the edge error: on by default)", ["cutout_colors"],
         section_cutout_colors(records["cutout_colors"])),
        ("Video flicker (a temporal step lowers dtSSD without raising MAE: on by default)", ["video_flicker"],
         section_video_flicker(records["video_flicker"])),
        (None, ["patch_count"], section_patch_count(records["patch_count"])),
        (RUNTIME_SPEED_TITLE, ["runtime_speed"], section_runtime_speed(records["runtime_speed"])),
        (RUNTIME_ACCURACY_TITLE, ["runtime_accuracy"], section_runtime_accuracy(records["runtime_accuracy"])),
    ):
        kept = all(records[name]["status"] == "kept" for name in steps)
        # Numbered by position, so that a section added in the middle renumbers the ones after it.
        number += 1
        at = next(i for i, line in enumerate(lines) if line.startswith("## "))
        heading = f"## {number}. {lines[at][3:]}"
        lines = [*lines[:at], heading, *lines[at + 1:]]
        if kept and heading in old_sections:
            lines, kept_any = old_sections[heading], True
        sections += lines
        if title:
            verdicts += [old_verdicts[title]] if kept and title in old_verdicts else verdict_line(title, verdict)
    header = [
        "# Benchmarks", "",
        "Written by `python benchmarks/run_all.py` — do not edit by hand; re-run it instead.", "",
        f"- date: {started} (finished {now_utc()})",
        f"- command: `{' '.join(['python', 'benchmarks/run_all.py', *argv])}`"
        + (" (quick smoke run: few repetitions — not for quoting)" if args.quick else "")
        + (" (the steps not named after --only keep their results, dates and commands from the previous run)"
           if "--only" in argv else ""),
        f"- machine: {machine['cpu_model']}, {machine['logical_cores']} logical cores "
        f"({machine['usable_cores']} usable), {machine['memory_gib']} GiB RAM, flags {', '.join(machine['isa_flags'])}",
        f"- software: Python {machine['python']}, TensorFlow {machine['tensorflow']}, Keras {machine['keras']}, "
        f"numpy {machine['numpy']}",
        f"- load average when started (1/5/15 min): {machine['load_average_1_5_15']} — other processes on the "
        "machine slow every absolute figure down; ratios are measured in alternation to stay comparable",
        "- every figure is a median of several runs; each script runs in its own subprocess; raw JSON in "
        f"`{args.results}`",
        *([_kept_note(old_sections.get("", []))] if kept_any else []),
        "",
        *_load_warning(machine, [name for name, record in records.items() if record["status"] != "kept"]
                       if kept_any else []),
        "## Targets", "", *verdicts,
    ]
    atomic_write(path, "\n".join(header + sections) + "\n")


def _kept_note(old_header: list) -> str:
    """The header line saying when and where the kept sections were measured (carried over once written)."""
    for line in old_header:
        if line.startswith(KEPT_NOTE_PREFIX) and " (" in line:
            return f"{KEPT_NOTE} ({line.split(' (', 1)[1]}"
    measured = "; ".join(line[2:] for line in old_header if line.startswith(("- date:", "- machine:")))
    return f"{KEPT_NOTE} ({measured})"


def _document_parts(path: Path) -> tuple[dict, dict]:
    """({"## heading": the section's lines, from its blank line before the heading}, {target title: its verdict
    line}) of the document as it is (empty when it does not exist)."""
    if not path.exists():
        return {}, {}
    lines = path.read_text().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("## ")]
    sections = {"": lines[:starts[0]] if starts else lines}  # the header: date, command, machine
    for start, end in zip(starts, starts[1:] + [len(lines)]):
        body = lines[start:end]
        while body and not body[-1].strip():
            body.pop()
        sections[lines[start]] = ["", *body]
    verdicts = {}
    for line in sections.get("## Targets", []):
        if line.startswith("- **") and "**:" in line:
            verdicts[line[4:line.index("**:")]] = line
    return sections, verdicts


def previous_records(results: Path) -> dict:
    """The step records of an earlier run in `results` (with --only, the other steps keep them)."""
    path = common.REPO_ROOT / results / "run_all.json"
    return json.loads(path.read_text())["steps"] if path.exists() else {}


def main(argv=None) -> int:
    parser = base_parser(__doc__)
    parser.add_argument("--workdir", default="runs/demo", help="trained run for the APS vs dense comparison")
    parser.add_argument("--results", default="runs/benchmarks", help="directory for the per-step JSON files")
    parser.add_argument("--only", nargs="+", choices=[s.name for s in STEPS], help="run only these steps")
    parser.add_argument("--doc", default=str(DOC_PATH), help="the document to rewrite")
    parser.add_argument("--render-only", action="store_true",
                        help="run nothing: rewrite the document from the results' run_all.json")
    args = parser.parse_args(argv)
    results = Path(args.results)
    if args.render_only:
        saved = json.loads((common.REPO_ROOT / results / "run_all.json").read_text())
        args.quick = saved.get("quick", args.quick)
        write_document(saved["steps"], args, saved["started"], saved["machine"], Path(args.doc), saved.get("argv"))
        log(f"wrote {args.doc} from {results / 'run_all.json'}")
        return 0
    started, machine = now_utc(), machine_info()
    (common.REPO_ROOT / results).mkdir(parents=True, exist_ok=True)
    records = previous_records(results) if args.only else {}
    for step in STEPS:
        if args.only and step.name not in args.only:
            # No earlier JSON of this step at hand: its section of the document is kept as it is.
            records.setdefault(step.name, {"name": step.name, "status": "kept", "data": None, "stdout": "",
                                           "reason": "not selected with --only; section kept from the document"})
            continue
        records[step.name] = run_step(step, args.quick, args.workdir, results)
    common.write_json({"started": started, "machine": machine, "steps": records, "quick": args.quick,
                       "argv": sys.argv[1:]},
                      common.REPO_ROOT / results / "run_all.json")
    write_document(records, args, started, machine, Path(args.doc))
    log(f"wrote {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
