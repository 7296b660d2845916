"""How much of the synthetic ground truth survives a low-resolution round trip?

The premise of HRSOD is that a network seeing the image at 384x384 (the GSN) cannot produce an accurate
full-resolution mask, however good it is. This script measures the best case: the *ground truth itself* is
downsampled to SxS (INTER_AREA), upsampled back bilinearly and thresholded at 0.5, and compared with the original:

* MAE soft   - mean |upsampled map - mask| (masks in [0, 1]), the error floor of any SxS predictor
* MAE binary - mean |thresholded map - mask|
* BDE        - boundary displacement error in pixels, the evaluation's own
               (`hrsod_tf.evaluation.metrics.boundary_displacement_error`)
* thin lost  - fraction of the mask's thin-structure pixels (removed by a 5x5 opening) that the thresholded
               round-tripped mask loses

Usage::

    python benchmarks/synthetic_roundtrip.py --count 20 --sizes 1024 384 192 [--json OUT]

Prints the JSON result on stdout (a markdown table on stderr); `run_all.py` runs it as a step.
"""

from __future__ import annotations

import time

import cv2
import numpy as np
from common import base_parser, emit, fmt, log, markdown, table

from hrsod_tf.data.synthetic import generate_split, thin_structure_mask
from hrsod_tf.evaluation.metrics import boundary_displacement_error


def roundtrip(mask: np.ndarray, size: int) -> dict[str, float]:
    """The four measures of one uint8 {0, 255} mask sent through size x size and back."""
    h, w = mask.shape
    m = (mask > 127).astype(np.float32)
    small = cv2.resize(m, (size, size), interpolation=cv2.INTER_AREA)
    up = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    binary = up >= 0.5
    thin = thin_structure_mask(mask, 5)
    return {
        "mae_soft": float(np.abs(up - m).mean()),
        "mae_binary": float(np.mean(binary != (m > 0.5))),
        "bde": boundary_displacement_error(binary, m > 0.5),
        "thin_lost": float((thin & ~binary).sum() / max(int(thin.sum()), 1)),
    }


def main(argv=None) -> dict:
    parser = base_parser(__doc__)
    parser.add_argument("--split", default="test")
    parser.add_argument("--count", type=int, default=20, help="scenes (5 with --quick)")
    parser.add_argument("--min-side", type=int, default=1200)
    parser.add_argument("--max-side", type=int, default=2048)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 384, 192])
    args = parser.parse_args(argv)
    count = min(args.count, 5) if args.quick else args.count

    per_size = {s: [] for s in args.sizes}
    shapes, thin_fraction, generation = [], [], 0.0
    start = time.perf_counter()
    for _, _, mask in generate_split(args.split, count, args.min_side, args.max_side):
        generation += time.perf_counter() - start
        shapes.append(mask.shape)
        thin_fraction.append(thin_structure_mask(mask).sum() / max(int((mask > 0).sum()), 1))
        for s in args.sizes:
            per_size[s].append(roundtrip(mask, s))
        start = time.perf_counter()

    rows = [{"size": s, **{k: float(np.mean([r[k] for r in results])) for k in results[0]}}
            for s, results in per_size.items()]
    shorts = [min(shape) for shape in shapes]
    result = {
        "benchmark": "synthetic_roundtrip",
        "split": args.split, "scenes": count,
        "shortest_edge_px": [min(shorts), max(shorts)],
        "mean_megapixels": float(np.mean([h * w for h, w in shapes]) / 1e6),
        "thin_structure_share_of_mask": float(np.mean(thin_fraction)),
        "generation_seconds_per_scene": generation / count,
        "rows": rows,
    }
    log("| round trip | MAE soft | MAE binary | BDE (px) | thin structures lost |")
    for row in rows:
        log(f"| {row['size']}x{row['size']} | {row['mae_soft']:.4f} | {row['mae_binary']:.4f} | {row['bde']:.2f} | "
            f"{100 * row['thin_lost']:.1f}% |")
    return emit(result, args, render)


def render(result: dict) -> str:
    low, high = result["shortest_edge_px"]
    return markdown(
        f"{result['scenes']} synthetic `{result['split']}` scenes, shortest edge {low}-{high} px, mean "
        f"{result['mean_megapixels']:.2f} MP; thin structures are {100 * result['thin_structure_share_of_mask']:.1f}% "
        "of the mask. Each mask is area-resized to S x S, resized back bilinearly and thresholded at 0.5: the best any "
        "S x S predictor can do. BDE is the evaluation's (`hrsod_tf.evaluation.metrics`).",
        table(["round trip", "MAE (soft)", "MAE (binarised)", "BDE (px)", "thin structures lost"],
              [[f"{r['size']}x{r['size']}", fmt(r["mae_soft"], ".4f"), fmt(r["mae_binary"], ".4f"),
                fmt(r["bde"], ".2f"), fmt(100 * r["thin_lost"], ".1f") + "%"] for r in result["rows"]]))


if __name__ == "__main__":
    main()
