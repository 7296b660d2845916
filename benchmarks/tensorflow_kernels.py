#!/usr/bin/env python
"""TensorFlow's CPU kernels: its Eigen ones, which it runs on an AVX2-only CPU by itself, against oneDNN's.

TensorFlow's Linux build turns its oneDNN kernels on only for CPUs with AVX-512 VNNI or BF16, AVX-VNNI or AMX
(``DefaultOneDnnPolicy``, tensorflow/core/util/port.cc); on an AVX2-only CPU it runs Eigen's, unless
``TF_ENABLE_ONEDNN_OPTS=1``, which `hrsod_tf` sets when it is imported first
(`hrsod_tf.machine.turn_on_onednn_kernels`). Three settings, each in processes of its own, in alternation for
`--rounds` rounds (a load that comes and goes hits each alike):

* ``eigen``: ``TF_ENABLE_ONEDNN_OPTS=0``, the kernels TensorFlow picks on an AVX2-only CPU by itself;
* ``onednn-avx2``: ``TF_ENABLE_ONEDNN_OPTS=1 ONEDNN_MAX_CPU_ISA=AVX2``, oneDNN's AVX2 kernels: what hrsod-tf
  runs on an AVX2-only CPU, as nearly as this machine can show it (its cores, caches and memory stay its own);
* ``onednn``: ``TF_ENABLE_ONEDNN_OPTS=1``, oneDNN's kernels for every instruction this CPU has.

Per setting: the demo's training steps (``train_step_time.py --presets small``: GSN, LRN, GLFN), the `official`
pipeline at 1920x1080 stage by stage (``pipeline_time.py --coarse synthetic``), the GLFN at 1920x1080 against one
`paper` GSN pass at 384x384 (glfn_speed.py's row, issue 29's target: ratio <= 1), and which oneDNN
implementations ran the GLFN's training step (``ONEDNN_VERBOSE=1``; none under Eigen).

    python benchmarks/tensorflow_kernels.py [--rounds 2] [--json OUT]
    python benchmarks/tensorflow_kernels.py --quick          # one round, the tiny preset's steps, 640x360
"""

from __future__ import annotations

import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import base_parser, emit, fmt, log, log_cpu, markdown, table, target

from hrsod_tf.machine import ONEDNN_VARIABLE

HERE = Path(__file__).resolve().parent

#: name -> the environment variables it sets (every other variable as this process has it)
SETTINGS = {
    "eigen": {ONEDNN_VARIABLE: "0"},
    "onednn-avx2": {ONEDNN_VARIABLE: "1", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "onednn": {ONEDNN_VARIABLE: "1"},
}
PIPELINE_STAGES = ("gsn", "aps", "lrn+fusion", "glfn", "total")
#: what each setting runs: the full measurement, and --quick's smoke run
WORKLOADS = {
    "full": {"train_preset": "small", "train_steps": 5, "pipeline_preset": "official", "pipeline_size": "1920x1080",
             "pipeline_runs": 3, "glfn_repeats": 3},
    "quick": {"train_preset": "tiny", "train_steps": 2, "pipeline_preset": "tiny", "pipeline_size": "640x360",
              "pipeline_runs": 1, "glfn_repeats": 1},
}


def _environment(setting: str, **extra) -> dict:
    environ = {k: v for k, v in os.environ.items() if k not in ("ONEDNN_MAX_CPU_ISA", "ONEDNN_VERBOSE")}
    environ.update(SETTINGS[setting], TF_CPP_MIN_LOG_LEVEL="2", **extra)
    return environ


def _run(setting: str, arguments: list, **extra) -> str:
    """Runs `python <arguments>` in this folder under `setting`; returns its stdout (stderr on failure)."""
    done = subprocess.run([sys.executable, *arguments], cwd=HERE, env=_environment(setting, **extra),
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(arguments)} under {setting} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def train_steps(setting: str, workload: dict) -> dict:
    """{stage: seconds per step} of the workload's preset's three networks (the demo's: `small`)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "steps.json"
        _run(setting, ["train_step_time.py", "--presets", workload["train_preset"], "--steps",
                       str(workload["train_steps"]), "--json", str(out)])
        return {row["stage"]: row["seconds_per_step"] for row in json.loads(out.read_text())["rows"]}


def pipeline_stages(setting: str, workload: dict) -> dict:
    """{stage: median seconds} of the workload's pipeline (`official`) on one image."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "pipeline.json"
        _run(setting, ["pipeline_time.py", "--preset", workload["pipeline_preset"], "--sizes",
                       workload["pipeline_size"], "--coarse", "synthetic", "--runs", str(workload["pipeline_runs"]),
                       "--json", str(out)])
        return json.loads(out.read_text())["results"][0]["median_seconds"]


def glfn_against_gsn(setting: str, workload: dict) -> dict:
    """glfn_speed.py's row: the GLFN (paper, folded, as the pipeline runs it) at 1920x1080 and a `paper` GSN pass
    at 384x384, in alternation."""
    code = ("import json, sys, glfn_speed\n"
            f"row = glfn_speed.gsn_row({workload['glfn_repeats']})\n"
            "print(json.dumps({k: row[k] for k in ('glfn_1080p_s', 'gsn_384_s', 'ratio')}))")
    return json.loads(_run(setting, ["-c", code]).splitlines()[-1])


def glfn_training_kernels(setting: str) -> dict:
    """{"<primitive> <propagation>: <implementation>": executions} of oneDNN over three training steps of the
    demo's GLFN (`small`), from ONEDNN_VERBOSE; {} when oneDNN is off."""
    stdout = _run(setting, ["train_step_time.py", "--presets", "small", "--stages", "glfn", "--steps", "1"],
                  ONEDNN_VERBOSE="1")
    counts = collections.Counter()
    for line in stdout.splitlines():
        fields = line.split(",")
        # onednn_verbose,v1,primitive,exec,cpu,<primitive>,<implementation>,<propagation>,...
        if len(fields) > 7 and fields[0] == "onednn_verbose" and fields[2:5] == ["primitive", "exec", "cpu"]:
            if fields[5] in ("convolution", "deconvolution", "inner_product", "matmul"):
                counts[f"{fields[5]} {fields[7]}: {fields[6]}"] += 1
    return dict(sorted(counts.items()))


def _median(samples: list, key: str) -> float:
    return statistics.median(s[key] for s in samples)


def measure(rounds: int, workload: dict) -> dict:
    samples = {name: {"train": [], "pipeline": [], "glfn": []} for name in SETTINGS}
    for round_index in range(rounds):
        for name in SETTINGS:
            log(f"round {round_index + 1}/{rounds}: {name}")
            samples[name]["train"].append(train_steps(name, workload))
            samples[name]["pipeline"].append(pipeline_stages(name, workload))
            samples[name]["glfn"].append(glfn_against_gsn(name, workload))
    result = {}
    for name, got in samples.items():
        result[name] = {
            "environment": SETTINGS[name],
            "train_seconds_per_step": {k: _median(got["train"], k) for k in got["train"][0]},
            "pipeline_seconds": {k: _median(got["pipeline"], k) for k in PIPELINE_STAGES},
            "glfn_against_gsn": {k: _median(got["glfn"], k) for k in got["glfn"][0]},
            "samples": got,
        }
    for name in ("onednn-avx2", "onednn"):
        log(f"oneDNN kernels of a GLFN training step: {name}")
        result[name]["glfn_training_kernels"] = glfn_training_kernels(name)
    return result


def render(result: dict) -> str:
    settings, names = result["settings"], list(SETTINGS)
    head = ["", *(f"`{n}` s" for n in names), "eigen / onednn-avx2"]

    def rows(kind: str, keys) -> list:
        return [[key, *(fmt(settings[n][kind][key]) for n in names),
                 fmt(settings["eigen"][kind][key] / settings["onednn-avx2"][kind][key], ".2f") + "x"]
                for key in keys]

    train = rows("train_seconds_per_step", settings["eigen"]["train_seconds_per_step"])
    pipeline = rows("pipeline_seconds", PIPELINE_STAGES)
    ratio = [["GLFN / GSN", *(fmt(settings[n]["glfn_against_gsn"]["ratio"], ".2f") for n in names), ""]]
    kernels = [[f"`{n}`", *key.split(": "), str(count)] for n in names
               for key, count in settings[n].get("glfn_training_kernels", {}).items()]
    return markdown(
        f"Median over {result['rounds']} round(s), the settings in alternation. **Training step** of the demo's "
        f"networks (`{result['train_preset']}` preset, seconds per step):",
        table(head, train),
        f"**The `{result['pipeline_preset']}` pipeline** at {result['pipeline_size']} (random init, synthetic coarse "
        "map, median seconds per stage):",
        table(head, pipeline),
        "**The GLFN at 1920x1080 against one `paper` GSN pass at 384x384** (glfn_speed.py's row; target <= 1):",
        table(["", *(f"`{n}`" for n in names), ""], ratio),
        "**oneDNN's implementations in the GLFN's training** (three steps of the `small` GLFN, `ONEDNN_VERBOSE=1`; "
        "under `eigen` oneDNN runs nothing):",
        table(["setting", "primitive, propagation", "implementation", "executions"], kernels))


def main(argv=None) -> dict:
    parser = base_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=None, help="rounds of the three settings (default 2, quick 1)")
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 2)
    log_cpu()
    workload = WORKLOADS["quick" if args.quick else "full"]
    settings = measure(rounds, workload)
    ratio = settings["onednn-avx2"]["glfn_against_gsn"]["ratio"]
    speedup = settings["eigen"]["pipeline_seconds"]["glfn"] / settings["onednn-avx2"]["pipeline_seconds"]["glfn"]
    result = {
        "settings": settings,
        "rounds": rounds,
        **{key: workload[key] for key in ("train_preset", "pipeline_preset", "pipeline_size")},
        "target": target(ratio <= 1, f"GLFN / GSN {ratio:.2f} with oneDNN's AVX2 kernels (Eigen's GLFN "
                         f"{speedup:.1f}x as slow)", "<= 1"),
    }
    return emit(result, args, render)


if __name__ == "__main__":
    main()
