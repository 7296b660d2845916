"""Kills: train.py and batch_predict.py killed with SIGKILL part-way, then run again; nothing may be lost or differ.

    python reliability/kills.py train --plans 3 [--seed 0] [--json OUT]
    python reliability/kills.py batch_predict --images 40 --kills 2 [--json OUT]

* train: an uninterrupted run (all three stages of the `tiny` preset on the in-memory synthetic set), then, per
  plan, the same command SIGKILLed at `--kills` random points (a stage and a step, read from its progress bar),
  each followed by the same command with ``--resume``, until it finishes. Every array of the three
  ``final.weights.h5`` files must equal the uninterrupted run's, bit for bit (docs/TRAINING.md says resume is
  bit-exact). SIGKILL gives the process no chance to save: it resumes from its last periodic checkpoint.
* batch_predict: one clean run over a folder of photos, then the same command SIGKILLed once `k` masks exist,
  re-run until it completes; the masks must be the clean run's byte for byte, and no file under --out may be
  partial (every visible file a complete PNG; hidden temporary files are counted).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import random
import re
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

import h5py
import numpy as np
from fuzzing import scene, tiny_export
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
STAGES = ("gsn", "lrn", "glfn")
TRAIN_ARGS = ("--stage", "all", "--preset", "tiny", "--dataset", "synthetic", "--steps", "30",
              "--checkpoint-every", "5", "--validate-every", "10")
_PROGRESS = re.compile(r"train (gsn|lrn|glfn):\s+\d+%\|[^|]*\|\s*(\d+)/(\d+)")


def _command(script: str, *args) -> list[str]:
    return [sys.executable, str(REPO_ROOT / script), *map(str, args)]


def run_killed_at(command, stage=None, step=None) -> tuple[int, str | None, int | None]:
    """Runs `command` (train.py); SIGKILLs it once `stage`'s progress bar reaches `step`.

    Its stderr is a pseudo-terminal, as a user's: there the bar is redrawn at every step (into a pipe or a log
    file it writes a line only now and then, too seldom to stop at a given step).
    Returns (exit status, stage killed in, step killed at); the status is -9 when killed.
    """
    terminal, process_end = pty.openpty()
    # A new pseudo-terminal is 0 columns wide, where tqdm draws nothing: give it a terminal's width.
    fcntl.ioctl(process_end, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 160, 0, 0))
    process = subprocess.Popen(command, stderr=process_end, stdout=subprocess.DEVNULL, cwd=REPO_ROOT)
    os.close(process_end)
    with open(terminal, "rb", buffering=0) as stderr:
        return _kill_when_reached(process, stderr, stage, step)


def _kill_when_reached(process, stderr, stage, step) -> tuple[int, str | None, int | None]:
    recent = b""
    while True:
        try:
            chunk = stderr.read(4096)
        except OSError:  # EIO: the process closed its end of the terminal
            chunk = b""
        if not chunk:
            return process.wait(), None, None
        recent = (recent + chunk)[-4096:]
        if stage is None:
            continue
        for match in _PROGRESS.finditer(recent.decode(errors="replace")):
            if match[1] == stage and int(match[2]) >= step:
                process.send_signal(signal.SIGKILL)
                return process.wait(), match[1], int(match[2])


def final_weights(workdir, stages=STAGES) -> dict[str, np.ndarray]:
    """Every array of the stages' final.weights.h5, by stage/path."""
    arrays = {}
    for stage in stages:
        with h5py.File(Path(workdir) / stage / "final.weights.h5", "r") as handle:
            handle.visititems(lambda name, item, stage=stage: arrays.__setitem__(f"{stage}/{name}", item[()])
                              if isinstance(item, h5py.Dataset) else None)
    return arrays


def weights_equal(a, b, stages=STAGES) -> bool:
    """Whether two runs' final weights of `stages` are equal, bit for bit."""
    x, y = final_weights(a, stages), final_weights(b, stages)
    return x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x)


def compare_weights(clean, other) -> dict:
    a, b = final_weights(clean), final_weights(other)
    differing = sorted(k for k in a if k not in b or a[k].shape != b[k].shape or not np.array_equal(a[k], b[k]))
    return {"arrays": len(a), "differing": len(differing), "first_differing": differing[:5],
            "identical": not differing and a.keys() == b.keys()}


def kill_plan(rng: random.Random, kills: int, steps: int = 30) -> list[tuple[str, int]]:
    """`kills` (stage, step) points in training order: the stages in turn (GSN, LRN, GLFN, GSN, ...), each at a
    random step."""
    points = [(STAGES[i % len(STAGES)], rng.randint(1, steps - 1)) for i in range(kills)]
    return sorted(points, key=lambda p: (STAGES.index(p[0]), p[1]))


def train_kills(root, plans: int = 3, kills: int = 3, seed: int = 0) -> dict:
    """The train scenario (see the module docstring); `root` holds the runs."""
    root = Path(root)
    clean = root / "clean"
    started = time.perf_counter()
    status, _, _ = run_killed_at(_command("train.py", *TRAIN_ARGS, "--workdir", clean))
    results = {"command": " ".join(["python", "train.py", *TRAIN_ARGS]), "clean_status": status,
               "clean_seconds": round(time.perf_counter() - started, 1), "plans": []}
    rng = random.Random(seed)
    for index in range(plans):
        workdir = root / f"killed_{index}"
        plan, done, resume = kill_plan(rng, kills), [], []
        for stage, step in plan:
            status, where, at = run_killed_at(_command("train.py", *TRAIN_ARGS, "--workdir", workdir, *resume),
                                              stage, step)
            done.append({"planned": [stage, step], "killed_in": where, "killed_at_step": at, "status": status})
            resume = ["--resume"]
        status, _, _ = run_killed_at(_command("train.py", *TRAIN_ARGS, "--workdir", workdir, "--resume"))
        results["plans"].append({"kills": done, "final_status": status, **compare_weights(clean, workdir)})
    results["identical"] = all(p["identical"] and p["final_status"] == 0 for p in results["plans"])
    return results


def _photos(folder, count: int):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.fromarray(scene(320, 240, i)).save(folder / f"photo_{i:03d}.jpg", quality=90)


def _pngs_complete(folder) -> tuple[int, list[str]]:
    """(visible PNGs, names of visible files that are not complete PNGs)."""
    count, partial = 0, []
    for path in sorted(folder.rglob("*.png")):
        if path.name.startswith("."):
            continue
        count += 1
        try:
            with Image.open(path) as image:
                image.load()
        except (OSError, SyntaxError, ValueError):
            partial.append(path.name)
    return count, partial


def batch_predict_kills(root, images: int = 40, kills: int = 2, saved_model=None) -> dict:
    """The batch_predict scenario (see the module docstring)."""
    root = Path(root)
    photos = root / "photos"
    _photos(photos, images)
    if saved_model is None:
        saved_model = tiny_export(root / "model")
    base = ("--saved-model", saved_model)
    started = time.perf_counter()
    clean = subprocess.run(_command("batch_predict.py", photos / "*.jpg", *base, "--out", root / "clean"),
                           capture_output=True, text=True, errors="replace", cwd=REPO_ROOT)
    results = {"command": "python batch_predict.py 'photos/*.jpg' --saved-model MODEL --out OUT",
               "images": images, "clean_status": clean.returncode,
               "clean_seconds": round(time.perf_counter() - started, 1), "runs": []}
    out = root / "killed"
    for k in range(kills):
        process = subprocess.Popen(_command("batch_predict.py", photos / "*.jpg", *base, "--out", out),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO_ROOT)
        target = (k + 1) * images // (kills + 2)  # kill once this many masks exist
        while process.poll() is None and (not out.exists() or _pngs_complete(out)[0] < target):
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
        results["runs"].append({"killed_with_masks": _pngs_complete(out)[0] if out.exists() else 0,
                                "status": process.returncode})
    final = subprocess.run(_command("batch_predict.py", photos / "*.jpg", *base, "--out", out),
                           capture_output=True, text=True, errors="replace", cwd=REPO_ROOT)
    clean_masks = {p.name: p.read_bytes() for p in (root / "clean").glob("*.png")}
    killed_masks = {p.name: p.read_bytes() for p in out.glob("*.png") if not p.name.startswith(".")}
    count, partial = _pngs_complete(out)
    hidden = sorted(p.name for p in out.rglob(".*"))
    results.update({
        "final_status": final.returncode, "final_last_line": final.stdout.strip().splitlines()[-1:],
        "masks_clean": len(clean_masks), "masks_after_kills": count, "partial_files": partial,
        "hidden_temporary_files": hidden[:10], "hidden_temporary_count": len(hidden),
        "identical": clean_masks == killed_masks and len(clean_masks) == images and not partial,
    })
    return results


def render(data: dict) -> str:
    """The train scenario: a table of the kill plans; the batch_predict scenario: one paragraph."""
    if "plans" in data:
        rows = [[i + 1, ", ".join(f"{k['killed_in']} step {k['killed_at_step']}" for k in plan["kills"]),
                 plan["final_status"], f"{plan['arrays'] - plan['differing']} / {plan['arrays']}",
                 "yes" if plan["identical"] else "**no**"] for i, plan in enumerate(data["plans"])]
        return "\n".join([
            f"Run: `{data['command']}` (all three stages of `tiny`, 30 steps each, a checkpoint every 5), "
            f"uninterrupted in {data['clean_seconds']:.0f} s; then each plan SIGKILLs the same command at random steps "
            "(read from its progress bar) and runs it again with `--resume` until it finishes.", "",
            "| plan | killed at | final exit | arrays equal to the uninterrupted run | bit-exact |",
            "|---|---|---|---|---|", *("| " + " | ".join(map(str, row)) + " |" for row in rows), ""])
    return (f"{data['images']} photos; one clean run ({data['clean_seconds']:.0f} s), then the same command killed "
            f"{len(data['runs'])} times (with {', '.join(str(r['killed_with_masks']) for r in data['runs'])} masks "
            f"written) and run once more: {data['masks_after_kills']} masks, "
            f"{'all' if data['identical'] else '**not all**'} byte-equal to the clean run's; partial files: "
            f"{len(data['partial_files'])}; hidden temporary files left: {data['hidden_temporary_count']}. Its last "
            f"line: `{' '.join(data['final_last_line'])}`.\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=("train", "batch_predict"))
    parser.add_argument("--plans", type=int, default=3, help="train: runs killed at random points (default 3)")
    parser.add_argument("--kills", type=int, default=3, help="kills per run (default 3)")
    parser.add_argument("--images", type=int, default=40, help="batch_predict: photos (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="train: seed of the kill points")
    parser.add_argument("--root", help="keep the runs here (default: a temporary folder, deleted)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kills-") as folder:
        root = Path(args.root or folder)
        if args.scenario == "train":
            result = train_kills(root / "train", args.plans, args.kills, args.seed)
        else:
            result = batch_predict_kills(root / "batch_predict", args.images, args.kills)
    result["reproduce"] = " ".join(["python", "reliability/kills.py", *sys.argv[1:]])
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
        Path(args.json).with_suffix(".md").write_text(render(result))
    print(json.dumps(result))
    return 0 if result["identical"] else 1


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
