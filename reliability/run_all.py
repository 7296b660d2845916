"""Runs every reliability measurement, each in its own subprocess, and rewrites docs/RELIABILITY.md.

    python reliability/run_all.py [--workdir runs/demo] [--quick] [--results DIR] [--only NAME ...]

Steps (`STEPS`): one fuzzing campaign per target (reliability/fuzzing.py), the soak of the exported model
(reliability/soak.py, on --workdir's export when it exists, else a random-initialised `small` run), train.py and
batch_predict.py killed and re-run (reliability/kills.py), a full disk (reliability/disk_full.py). Each writes its
JSON into --results (default runs/reliability); the document is then written from every JSON there, so
`--only NAME` re-measures one step and keeps the others' latest figures. A step that crashes, hangs (a fuzz
watchdog ends its process) or fails is reported as such and the others still run. `--quick` uses small counts.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DOC_PATH = REPO_ROOT / "docs" / "RELIABILITY.md"
FUZZ_EXAMPLES = {"decode": (3000, 100), "video": (1000, 50), "caffe": (2000, 100), "config": (3000, 100),
                 "workdir": (100, 10), "serving": (1000, 50), "predict_cli": (1000, 100), "convert_cli": (12, 2)}


def steps(workdir: str | None, quick: bool) -> dict[str, list[str]]:
    """{step name: command (without --json)}."""
    found = {f"fuzz_{target}": ["reliability/fuzzing.py", "--target", target, "--examples",
                                str(counts[1] if quick else counts[0]), "--seed", "0"]
             for target, counts in FUZZ_EXAMPLES.items()}
    model = ["--workdir", workdir] if workdir else []
    found["soak"] = ["reliability/soak.py", *model, "--seconds", "60" if quick else "300", "--threads", "4"]
    found["kills_train"] = ["reliability/kills.py", "train", "--plans", "1" if quick else "2", "--kills", "3"]
    found["kills_batch_predict"] = ["reliability/kills.py", "batch_predict", "--images", "16" if quick else "40",
                                    "--kills", "2"]
    found["disk_full"] = ["reliability/disk_full.py"]
    return found


def run_step(name: str, command: list[str], results: Path) -> dict:
    out = results / f"{name}.json"
    out.unlink(missing_ok=True)
    shown = " ".join(shlex.quote(c) for c in ["python", *command])
    print(f"[{name}] {shown}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *command, "--json", str(out)], cwd=REPO_ROOT, capture_output=True,
                          text=True, errors="replace")  # C libraries print raw bytes of broken files
    record = {"name": name, "command": shown, "seconds": round(time.perf_counter() - start, 1),
              "status": done.returncode}
    if done.returncode < 0 or not out.exists():  # killed by a signal (a crash, or the fuzz watchdog: a hang)
        record["failure"] = "\n".join(done.stderr.strip().splitlines()[-20:])
    record["data"] = json.loads(out.read_text()) if out.exists() else None
    (results / f"{name}.record.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"[{name}] exit {done.returncode} after {record['seconds']:.0f} s", file=sys.stderr, flush=True)
    return record


# ------------------------------------------------------------------------------------------ the document


def _table(header, rows) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|",
            *("| " + " | ".join(str(c) for c in row) + " |" for row in rows)]


def _header(title: str, record: dict | None) -> list[str]:
    lines = ["", f"## {title}", ""]
    if record is None:
        return lines + ["**Not measured yet.**", ""]
    lines += [f"Command: `{record['command']}` ({record['seconds']:.0f} s, exit status {record['status']})", ""]
    if record.get("failure"):
        lines += ["**The step failed** (crash, hang or harness error); its last lines:", "", "```",
                  record["failure"], "```", ""]
    return lines


FOUND_AND_FIXED = [
    ("A `.caffemodel` whose blobs hold NaN or infinity was imported without a word (NaN maps)",
     "refused naming file, layer and count", "tests/test_caffe_import.py"),
    ("A negative BatchNorm variance in a `.caffemodel` was imported (NaN maps) — found by the fuzzer",
     "refused naming the layer", "tests/test_caffe_import.py"),
    ("An image above Pillow's decompression-bomb limit (179 MP) was 'corrupt, truncated or not an image'",
     "'too large' with its size, the limit and how to raise it; predict paths check the run's limit from the "
     "header before decoding", "tests/test_image_io.py, tests/test_predict.py"),
    ("A palette PNG whose PLTE chunk was lost decoded as an image and a mask but crashed the map decoder with a "
     "bare AssertionError inside Pillow — found by the fuzzer",
     "refused by every decoder as libpng refuses it: 'a palette image with no palette (PLTE chunk)'",
     "tests/test_image_io.py"),
    ("Decoder messages showed Python object addresses (`<_io.BytesIO object at 0x...>`)",
     "the file's name and what is wrong, in one line", "tests/test_image_io.py"),
    ("A config.json value of another type (a list for a size, a string for a step count) crashed with "
     "TypeError or was accepted; JSON errors did not name the file — found by the fuzzer",
     "ConfigError naming the file and the dotted key", "tests/test_config.py"),
    ("A damaged `final.weights.h5` gave multi-line h5py/Keras errors, a RuntimeError traceback, or loaded with some "
     "layers left random after only a Keras warning — found by the fuzzer",
     "WeightsFileError naming the file, in one line", "tests/test_workdir_loading.py"),
    ("Decode failures inside the SavedModel were reported as 'Graph execution error:' — found by the fuzzer",
     "the op's own message (`Invalid PNG data, size 3562`)", "tests/test_predict.py"),
    ("A broken video printed FFmpeg's log lines with C pointers (`[mov,mp4,... @ 0x55...]`) — found by the fuzzer",
     "silenced; the one error line remains", "tests/test_video.py"),
    ("A full disk while Keras wrote a `.weights.h5` (final weights, a converted model) crashed the process with a "
     "segmentation fault after hundreds of h5py tracebacks — found by the disk-full runs",
     "weights files are made in memory and written with `atomic_write`: one line, the previous file kept",
     "tests/test_disk_full.py"),
    ("A full disk while writing a checkpoint ended train.py with a TensorFlow traceback and left `ckpt-N_temp/`",
     "one line naming the checkpoint kept; partial shards deleted", "tests/test_disk_full.py"),
    ("convert_caffe.py replaced the networks one by one: a failure part-way would mix old and new networks",
     "every file written before any is renamed", "tests/test_caffe_cli.py"),
]


def section_fuzz(records: dict) -> list[str]:
    lines = ["", "## 1. Fuzzing", "",
             "Mutated and truncated files (Hypothesis, seed 0: the same command tries the same inputs) through every "
             "way the project reads them. Every input must be accepted (its result checked) or refused in one line "
             "naming the file, with no memory address and no traceback; a watchdog ends the process if one input "
             "takes longer than its time bound (a hang). Findings are what must not happen.", ""]
    rows = []
    for target in FUZZ_EXAMPLES:
        record = records.get(f"fuzz_{target}")
        data = (record or {}).get("data")
        if not data:
            state = "not measured" if record is None else f"**failed** (exit {record['status']})"
            rows.append([target, state, "", "", "", "", ""])
            continue
        result = data["targets"][0]
        rows.append([target, result["tried"], result["accepted"], result["refused"], len(result["findings"]),
                     f"{result['slowest_input_s']:.2f} s / {result['time_bound_s']:.0f} s",
                     f"`{record['command']}`"])
    lines += _table(["target", "inputs tried", "accepted", "refused", "findings", "slowest input / bound",
                     "command"], rows)
    lines += ["", "`decode` counts each of the three decoders (image, mask, map) as one try; `predict_cli` runs "
              "predict.py in a subprocess per 100 inputs (images and clips, alternately on a work directory and on "
              "its SavedModel) and reads its real stderr; `convert_cli` builds the official networks for every "
              "input, hence its small count. Fuzzed models are random-initialised `tiny` runs (input handling does "
              "not depend on training).", ""]
    for target in FUZZ_EXAMPLES:
        data = (records.get(f"fuzz_{target}") or {}).get("data")
        if not data:
            continue
        result = data["targets"][0]
        kinds = sorted(result["refusals_by_kind"].items(), key=lambda kv: -kv[1])
        lines += [f"**{target}**: the refusals by kind (file names, numbers and quoted values blanked)"
                  + (f", the {min(6, len(kinds))} most frequent of {len(kinds)}" if len(kinds) > 6 else "") + ":", ""]
        lines += [f"- {count} × {kind}" for kind, count in kinds[:6]]
        if result["findings"]:
            lines += ["", f"Findings ({len(result['findings'])}):", ""]
            lines += [f"- {f['problem']} ({f['seed_file']}, {f['mutation']}): {f['message'][:200]}"
                      for f in result["findings"][:10]]
        if data["targets"][0].get("startup_lines") or (data.get("targets") and result.get("startup_lines")):
            other = result.get("startup_lines") or {}
            lines += ["", f"Other stderr lines (not about an input file, such as TensorFlow's start-up "
                      f"log): {sum(other.values())} in {len(other)} kinds."]
        lines.append("")
    lines += ["### What the fuzzing and the full-disk runs found, fixed and kept fixed", ""]
    lines += _table(["defect", "now", "kept fixed by"], FOUND_AND_FIXED)
    return lines


def section_soak(record: dict | None) -> list[str]:
    lines = _header("2. Soak: the exported model under concurrent requests", record)
    data = (record or {}).get("data")
    if not data:
        return lines
    lines += [f"Model: {data['model']}. {data['threads']} threads for {data['seconds']:.0f} s after warm-up; sizes "
              f"{', '.join(f'{w}x{h}' for w, h in data['sizes'])} (JPEG and PNG); every {data['bad_every']}th "
              "request of each thread a bad one (truncated JPEG, not an image, a PNG header claiming 60 MP, WebP).",
              ""]
    lines += _table(["requests", "good answered", "good answers ≠ single-threaded", "good refused",
                     "bad refused", "bad answered", "median / p95 latency (good)"],
                    [[data["requests"], data["good"], data["good_wrong"], data["good_refused"], data["bad"],
                      data["bad_answered"],
                      f"{data['latency_s']['median']:.2f} s / {data['latency_s']['p95']:.2f} s"
                      if data["latency_s"]["median"] is not None else "n/a"]])
    verdict = "within" if data["rss_growth_mib"] <= data["memory_bound_mib"] else "**above**"
    lines += ["", f"Resident memory: {data['rss_single_threaded_mib']:.0f} MiB after the single-threaded answers, "
              f"{data['rss_warm_mib']:.0f} MiB after the warm-up (every thread sending every size at once: "
              f"{(data['rss_warm_mib'] - data['rss_single_threaded_mib']) / max(data['threads'] - 1, 1):.0f} MiB per "
              "extra concurrent request), "
              f"{data['rss_end_mib']:.0f} MiB at the end (max {data['rss_max_mib']:.0f} MiB): growth "
              f"{data['rss_growth_mib']:+.0f} MiB, {verdict} the stated bound of {data['memory_bound_mib']:.0f} MiB; "
              "slope over the second half, while requests ran: "
              f"{data['rss_slope_second_half_mib_per_min']} MiB/min.", ""]
    return lines


def section_kills(train: dict | None, batch: dict | None) -> list[str]:
    lines = _header("3. Kills: train.py resumed after SIGKILL", train)
    data = (train or {}).get("data")
    if data:
        lines += [f"Run: `{data['command']}` (all three stages of `tiny`, 30 steps each, a checkpoint every 5), "
                  f"uninterrupted in {data['clean_seconds']:.0f} s; then each plan SIGKILLs the same command at "
                  "random steps (read from its progress bar) and runs it again with `--resume` until it finishes.",
                  ""]
        rows = [[i + 1, ", ".join(f"{k['killed_in']} step {k['killed_at_step']}" for k in plan["kills"]),
                 plan["final_status"], f"{plan['arrays'] - plan['differing']} / {plan['arrays']}",
                 "yes" if plan["identical"] else "**no**"] for i, plan in enumerate(data["plans"])]
        lines += _table(["plan", "killed at", "final exit", "arrays equal to the uninterrupted run",
                         "bit-exact"], rows)
        lines.append("")
    lines += _header("4. Kills: batch_predict.py re-run after SIGKILL", batch)
    data = (batch or {}).get("data")
    if data:
        lines += [f"{data['images']} photos; one clean run ({data['clean_seconds']:.0f} s), then the same command "
                  f"killed {len(data['runs'])} times (with "
                  f"{', '.join(str(r['killed_with_masks']) for r in data['runs'])} masks written) and run once more: "
                  f"{data['masks_after_kills']} masks, {'all' if data['identical'] else '**not all**'} byte-equal "
                  f"to the clean run's; partial files: {len(data['partial_files'])}; hidden temporary files left: "
                  f"{data['hidden_temporary_count']}. Its last line: `{' '.join(data['final_last_line'])}`.", ""]
    return lines


def section_disk(record: dict | None) -> list[str]:
    lines = _header("5. A full disk", record)
    data = (record or {}).get("data")
    if not data:
        return lines
    lines += [f"How: {data['how']}, so every write fails with ENOSPC (`No space left on device`). The test suite "
              "does the same without privileges through a file-size limit (tests/test_disk_full.py).", ""]
    for name, result in data["scenarios"].items():
        if "harness_error" in result:
            lines += [f"- **{name}**: harness error: {result['harness_error']}"]
            continue
        said = "; ".join(f"`{line}`" for line in result.get("stderr", [])[:3])
        if name == "checkpoint":
            lines += [f"- **checkpoint** (train.py, the disk filled once `ckpt-10` existed): exit "
                      f"{result['status']}; it said {said}; checkpoints left {result['checkpoints_kept']}, the state "
                      f"points to {result['state_points_to']}, partial files left {result['temporary_left']}; with "
                      f"space again `--resume` exited {result['resumed_status']} and its final weights "
                      f"{'equal' if result['resumed_weights_equal_uninterrupted_run'] else '**differ from**'} "
                      "an uninterrupted run's, bit for bit."]
        else:
            what = "predict.py --overwrite of 3 cut-outs" if name == "mask" else \
                "convert_caffe.py --overwrite of a converted run"
            lines += [f"- **{name}** ({what}): exit {result['status']}; it said {said}; the previous files "
                      f"{'unchanged' if result['previous_unchanged'] else '**changed**'}; temporary files left: "
                      f"{len(result['hidden_files'])}."]
    return lines + [""]


def write_document(results: Path) -> None:
    records = {path.name.removesuffix(".record.json"): json.loads(path.read_text())
               for path in sorted(results.glob("*.record.json"))}
    lines = ["# Reliability", "",
             f"Written by `python reliability/run_all.py` on {datetime.date.today().isoformat()} "
             f"({platform.processor() or platform.machine()}, {os.cpu_count()} logical cores, Python "
             f"{platform.python_version()}; load average at the end {', '.join(f'{x:.1f}' for x in os.getloadavg())}"
             "). Every figure below comes from the command named beside it; each step runs in its own process.",
             "The fast forms of these checks are in the test suite (tests/test_fuzzing.py, test_disk_full.py; "
             "slow: the model targets and tests/test_kills.py)."]
    lines += section_fuzz(records)
    lines += section_soak(records.get("soak"))
    lines += section_kills(records.get("kills_train"), records.get("kills_batch_predict"))
    lines += section_disk(records.get("disk_full"))
    DOC_PATH.write_text("\n".join(lines).rstrip() + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default="runs/demo",
                        help="the trained run whose export the soak uses (default runs/demo; a random-initialised "
                             "small run when it does not exist)")
    parser.add_argument("--quick", action="store_true", help="small counts and a 1-minute soak")
    parser.add_argument("--results", default="runs/reliability", help="where each step's JSON goes")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run these steps only (see --list)")
    parser.add_argument("--list", action="store_true", help="list the steps and exit")
    args = parser.parse_args(argv)
    workdir = args.workdir if (REPO_ROOT / args.workdir / "config.json").exists() or \
        Path(args.workdir, "config.json").exists() else None
    all_steps = steps(workdir, args.quick)
    if args.list:
        print("\n".join(all_steps))
        return 0
    unknown = set(args.only or ()) - set(all_steps)
    if unknown:
        parser.error(f"unknown steps {sorted(unknown)}; known: {', '.join(all_steps)}")
    results = Path(args.results) if Path(args.results).is_absolute() else REPO_ROOT / args.results
    results.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name, command in all_steps.items():
        if args.only and name not in args.only:
            continue
        failed += run_step(name, command, results)["status"] != 0
    write_document(results)
    print(f"wrote {DOC_PATH.relative_to(REPO_ROOT)}; {failed} step(s) exited non-zero", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
