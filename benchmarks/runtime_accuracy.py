#!/usr/bin/env python
"""Accuracy of every export format and precision against the float32 SavedModel, with the product's commands.

    python benchmarks/runtime_accuracy.py --workdir runs/demo --dataset hrsod_synthetic/small --json OUT.json

For each (format, precision) offered (`hrsod_tf.deploy.runtimes.formats.EXPORT_FORMATS`), this runs

    python export.py --workdir RUN --format F --precision P --out EXPORTS/F_P          (skipped if it exists)
    python evaluate.py --model EXPORTS/F_P --dataset SPEC --split test --save-maps MAPS/F_P --json MAPS/F_P.json

(the reference is ``--format saved_model``, float32), then compares each with the reference: adaptive Fβ and S
within 0.005, MAE within 0.002 (issue 17), and the masks' per-pixel difference in 8-bit levels (mean over all
pixels, and the largest), read from the saved PNGs. int8 is calibrated on the run's own training images.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import common
import cv2
import numpy as np

from hrsod_tf.deploy.runtimes.formats import EXPORT_FORMATS

BOUNDS = {"Fbeta_adaptive": 0.005, "S_measure": 0.005, "MAE": 0.002}
REFERENCE = ("saved_model", "float32")


def pairs() -> list[tuple[str, str]]:
    """The reference first, then every offered (format, precision) of the runtimes."""
    return [REFERENCE] + [(f, p) for f, ps in EXPORT_FORMATS.items() if f != "saved_model" for p in ps]


def run(command: list[str]) -> tuple[float, str]:
    """Runs a product command from the repository root; returns (seconds, its printed output). Raises on failure."""
    start = time.perf_counter()
    completed = subprocess.run([sys.executable, *command], cwd=common.REPO_ROOT, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stderr[-3000:]}")
    return time.perf_counter() - start, completed.stdout


def level_differences(maps: Path, reference: Path) -> dict:
    """Mean and largest per-pixel difference, in 8-bit levels, between the PNG maps of two folders (by name)."""
    total, count, largest = 0.0, 0, 0
    for path in sorted(reference.glob("*.png")):
        ours = cv2.imread(str(maps / path.name), cv2.IMREAD_UNCHANGED)
        theirs = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if ours is None or ours.shape != theirs.shape:
            raise RuntimeError(f"{maps / path.name} is missing or not the size of {path}")
        difference = np.abs(ours.astype(np.int16) - theirs.astype(np.int16))
        total, count = total + float(difference.sum()), count + difference.size
        largest = max(largest, int(difference.max()))
    return {"mean_levels": total / max(count, 1), "max_levels": largest, "pixels": count}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", required=True, help="the trained run (e.g. runs/demo)")
    parser.add_argument("--dataset", required=True, help="its test data, a --dataset spec (e.g. hrsod_synthetic/small)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--exports", type=Path, default=Path("runs/benchmarks/exports"),
                        help="folder of the exports (each made once, reused when present)")
    parser.add_argument("--maps", type=Path, default=Path("runs/benchmarks/runtime_maps"))
    parser.add_argument("--only", nargs="+", metavar="FORMAT:PRECISION", help="only these pairs (and the reference)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)

    chosen = pairs()
    if args.only:
        chosen = [REFERENCE] + [tuple(p.split(":")) for p in args.only if tuple(p.split(":")) != REFERENCE]
    rows, commands = [], []
    for fmt, precision in chosen:
        name = f"{fmt}_{precision}"
        out, maps = args.exports / name, args.maps / name
        row = {"format": fmt, "precision": precision}
        export = ["export.py", "--workdir", args.workdir, "--out", str(out), "--no-progress"]
        if fmt != "saved_model":
            export += ["--format", fmt, "--precision", precision]
        if not out.exists():
            row["export_seconds"], _ = run(export)
        commands.append(" ".join(shlex.quote(c) for c in ["python", *export]))
        evaluate = ["evaluate.py", "--model", str(out), "--dataset", args.dataset, "--split", args.split,
                    "--save-maps", str(maps), "--overwrite", "--json", str(maps) + ".json", "--no-boundary",
                    "--no-progress"]
        commands.append(" ".join(shlex.quote(c) for c in ["python", *evaluate]))
        row["evaluate_seconds"], _ = run(evaluate)
        row["metrics"] = {k: json.loads(Path(str(maps) + ".json").read_text())["full"]["metrics"][k] for k in BOUNDS}
        if (fmt, precision) == REFERENCE:
            reference = row
        else:
            row["differences"] = {k: row["metrics"][k] - reference["metrics"][k] for k in BOUNDS}
            row["levels"] = level_differences(maps / "full", args.maps / "_".join(REFERENCE) / "full")
            row["within_bounds"] = all(abs(row["differences"][k]) <= bound for k, bound in BOUNDS.items())
        rows.append(row)
        common.log(f"{name}: {json.dumps({k: v for k, v in row.items() if k not in ('format', 'precision')})}")
    result = {"workdir": args.workdir, "dataset": args.dataset, "split": args.split, "bounds": BOUNDS,
              "reference": "_".join(REFERENCE), "rows": rows, "commands": commands, "machine": common.machine_info()}
    failing = [f"{row['format']} {row['precision']}" for row in rows if row.get("within_bounds") is False]
    result["target"] = common.target(not failing, "all within" if not failing else "outside: " + ", ".join(failing),
                                     "every format and precision within the bounds")
    print(json.dumps(result, indent=1))
    if args.json:
        common.write_result(result, args.json, render)
    return 0


def render(result: dict) -> str:
    bounds, fmt = result["bounds"], common.fmt
    rows = []
    for row in result["rows"]:
        metrics = [fmt(row["metrics"][key], ".4f") for key in ("Fbeta_adaptive", "S_measure", "MAE")]
        if "differences" not in row:
            rows.append([f"{row['format']} {row['precision']} (reference)", *metrics, "", "", "", ""])
            continue
        d, levels = row["differences"], row["levels"]
        rows.append([f"{row['format']} {row['precision']}", *metrics,
                     f"{d['Fbeta_adaptive']:+.4f} / {d['S_measure']:+.4f} / {d['MAE']:+.4f}",
                     fmt(levels["mean_levels"], ".3f"), levels["max_levels"],
                     "yes" if row["within_bounds"] else "**no**"])
    return common.markdown(
        f"`{result['dataset']}` {result['split']} split, run `{result['workdir']}`, the full variant, each export run "
        f"by `evaluate.py --model` and compared with the float32 SavedModel ({result['reference']}); bounds: adaptive "
        f"Fβ and S within {bounds['Fbeta_adaptive']}, MAE within {bounds['MAE']}. Level differences are per pixel of "
        "the 8-bit masks, over every pixel of every test image.",
        common.table(["export", "Fβ adaptive", "S", "MAE", "Δ Fβ / S / MAE", "mean level diff", "max level diff",
                      "within bounds"], rows))


if __name__ == "__main__":
    sys.exit(main())
