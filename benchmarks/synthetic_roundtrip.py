"""How much of the synthetic ground truth survives a low-resolution round trip?

The premise of HRSOD is that a network seeing the image at 384x384 (the GSN) cannot produce an accurate
full-resolution mask, however good it is. This script measures the best case: the *ground truth itself* is
downsampled to SxS (INTER_AREA), upsampled back bilinearly and thresholded at 0.5, and compared with the original:

* MAE soft   - mean |upsampled map - mask| (masks in [0, 1]), the error floor of any SxS predictor
* MAE binary - mean |thresholded map - mask|
* BDE        - boundary displacement error in pixels: the mean distance from each boundary pixel of one mask to the
               nearest boundary pixel of the other (cv2.distanceTransform), averaged over both directions
* thin lost  - fraction of the mask's thin-structure pixels (removed by a 5x5 opening) that the thresholded
               round-tripped mask loses

Usage::

    python benchmarks/synthetic_roundtrip.py --count 20 --sizes 1024 384 192
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir)))

from hrsod_tf.data.synthetic import generate_split, thin_structure_mask  # noqa: E402


def _boundary(binary: np.ndarray) -> np.ndarray:
    b = binary.astype(np.uint8)
    eroded = cv2.erode(b, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)
    return (b > 0) & (eroded == 0)


def boundary_displacement(a: np.ndarray, b: np.ndarray) -> float:
    """Symmetric mean distance (px) between the boundaries of binary masks ``a`` and ``b``."""
    ba, bb = _boundary(a), _boundary(b)
    if not ba.any() and not bb.any():
        return 0.0
    if not ba.any() or not bb.any():
        return float(np.hypot(*a.shape))
    # distanceTransform gives the distance to the nearest zero pixel: zeros on the other mask's boundary
    da = cv2.distanceTransform(np.where(bb, 0, 1).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    db = cv2.distanceTransform(np.where(ba, 0, 1).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return 0.5 * (float(da[ba].mean()) + float(db[bb].mean()))


def roundtrip(mask: np.ndarray, size: int) -> dict[str, float]:
    h, w = mask.shape
    m = (mask > 127).astype(np.float32)
    small = cv2.resize(m, (size, size), interpolation=cv2.INTER_AREA)
    up = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    binary = up >= 0.5
    thin = thin_structure_mask(mask, 5)
    return {
        "mae_soft": float(np.abs(up - m).mean()),
        "mae_binary": float(np.mean(binary != (m > 0.5))),
        "bde": boundary_displacement(m > 0.5, binary),
        "thin_lost": float((thin & ~binary).sum() / max(int(thin.sum()), 1)),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="test")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--min-side", type=int, default=1200)
    parser.add_argument("--max-side", type=int, default=2048)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 384, 192])
    args = parser.parse_args(argv)

    results = {s: [] for s in args.sizes}
    shapes, thin_frac, gen_time = [], [], 0.0
    t0 = time.perf_counter()
    for name, image, mask in generate_split(args.split, args.count, args.min_side, args.max_side):
        gen_time += time.perf_counter() - t0
        shapes.append(mask.shape)
        thin_frac.append(thin_structure_mask(mask).sum() / max(int((mask > 0).sum()), 1))
        for s in args.sizes:
            results[s].append(roundtrip(mask, s))
        t0 = time.perf_counter()

    shorts = [min(s) for s in shapes]
    print(f"{args.count} '{args.split}' scenes, shortest edge {min(shorts)}-{max(shorts)} px, "
          f"mean {np.mean([h * w for h, w in shapes]) / 1e6:.2f} MP; thin-structure pixels "
          f"{100 * np.mean(thin_frac):.1f}% of the mask; generation {gen_time / args.count:.2f} s/scene")
    print()
    print("| round trip | MAE soft | MAE binary | BDE (px) | thin structures lost |")
    print("|---|---|---|---|---|")
    for s in args.sizes:
        r = results[s]
        mean = {k: float(np.mean([x[k] for x in r])) for k in r[0]}
        print(f"| {s}x{s} | {mean['mae_soft']:.4f} | {mean['mae_binary']:.4f} | {mean['bde']:.2f} | "
              f"{100 * mean['thin_lost']:.1f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
