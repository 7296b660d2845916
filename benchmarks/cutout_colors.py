"""Edge colours of cut-outs: foreground estimation (pymatting) against the photo's own colours.

On synthetic scenes whose true foreground colour F and soft alpha A are known
(`hrsod_tf.data.synthetic.generate_scene_layers`), each object is put on a new background C three ways:

    truth       A * F + (1 - A) * C          (the scene as if shot in front of C)
    photo       A * I + (1 - A) * C          (the cut-out keeps the photo's colour I: the old background spills)
    estimated   A * F_est + (1 - A) * C      (F_est = hrsod_tf.deploy.compositing.estimate_foreground(I, A))

and the mean absolute error against the truth is taken per channel (0..255) in the band around the objects'
edges: the pixels whose true alpha is strictly between 0 and 1 (elsewhere the three agree, or nearly). The true
alpha is used, so that the network's errors do not hide the colours'. Scenes are drawn with their own
anti-aliasing only (edges soft over about a pixel) and with wider soft edges (Gaussian of 1.5 px, as defocused
fur). With ``--workdir``, one more row uses the run's predicted map as alpha for both (the band is then where
the true or the predicted alpha is strictly between 0 and 1), which is what a user gets. The estimation's time
is measured at 1920x1080 and 3840x2160 (median of ``--repeats``; its first call, which compiles pymatting's
numba code, is reported apart).

    python benchmarks/cutout_colors.py [--scenes 8] [--side 1080] [--workdir runs/demo] [--quick] [--json OUT]
"""

from __future__ import annotations

import time

import cv2
import numpy as np
from common import base_parser, emit, fmt, log, markdown, repeats, synthetic_scene, table, target, time_calls

from hrsod_tf.data.synthetic import generate_scene, generate_scene_layers
from hrsod_tf.deploy.compositing import GREEN_SCREEN, cover, estimate_foreground
from hrsod_tf.deploy.saliency_model import load

SOFTNESS = (0.0, 1.5)
BACKGROUNDS = ("green", "white", "photo")
SEED_BASE = 7_000  # scenes 7000.. (not the training seeds, which start at 20190000)


def _backgrounds(height: int, width: int, seed: int) -> dict:
    other, _ = generate_scene(seed, min_side=min(height, width), max_side=min(height, width))
    return {"green": np.array(GREEN_SCREEN, np.float32), "white": np.array([255, 255, 255], np.float32),
            "photo": cover(other, height, width).astype(np.float32)}


def _errors(alpha_used, colour, truth, background, band) -> np.ndarray:
    """Per-channel mean absolute error (0..255) in `band` of the composite of `colour` with `alpha_used`."""
    a = alpha_used[..., None]
    composite = a * colour.astype(np.float32) + (1.0 - a) * background
    return np.abs(composite - truth)[band].mean(axis=0)


def _scene_rows(seed: int, softness: float, side: int, predictor=None) -> list[dict]:
    layers = generate_scene_layers(seed, min_side=side, max_side=side, edge_softness=softness)
    height, width = layers.alpha.shape
    alpha = layers.alpha
    truth_alpha = alpha[..., None]
    backgrounds = _backgrounds(height, width, seed + 1_000)
    alphas = {"true alpha": alpha}
    if predictor is not None:
        alphas["predicted alpha"] = np.round(np.asarray(predictor(layers.image), np.float32).reshape(height, width)
                                             * 255) / 255
    rows = []
    for which, used in alphas.items():
        band = (alpha > 0) & (alpha < 1)
        if which == "predicted alpha":
            band |= (used > 0) & (used < 1)
        estimated = estimate_foreground(layers.image, used)
        for name, background in backgrounds.items():
            truth = truth_alpha * layers.foreground.astype(np.float32) + (1.0 - truth_alpha) * background
            rows.append({"seed": seed, "softness": softness, "alpha": which, "background": name,
                         "band_pixels": int(band.sum()),
                         "photo": _errors(used, layers.image, truth, background, band).tolist(),
                         "estimated": _errors(used, estimated, truth, background, band).tolist()})
    return rows


def _summary(rows: list[dict]) -> list[dict]:
    """Mean over scenes (weighted by band pixels) per (alpha, softness, background)."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["alpha"], row["softness"], row["background"]), []).append(row)
    out = []
    for (which, softness, background), members in groups.items():
        weights = np.array([m["band_pixels"] for m in members], np.float64)
        mean = {key: (np.array([m[key] for m in members]) * weights[:, None]).sum(0) / weights.sum()
                for key in ("photo", "estimated")}
        out.append({"alpha": which, "softness": softness, "background": background, "scenes": len(members),
                    "photo_rgb": mean["photo"].tolist(), "estimated_rgb": mean["estimated"].tolist()})
    return out


def _timing(size: str, runs: int) -> dict:
    width, height = (int(v) for v in size.split("x"))
    image, mask = synthetic_scene(height, width, seed=3)
    alpha = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 2.0)
    start = time.perf_counter()
    estimate_foreground(image, alpha)
    first = time.perf_counter() - start
    return {"size": size, "first_call_s": first, **time_calls(lambda: estimate_foreground(image, alpha), runs, 0)}


def main() -> dict:
    parser = base_parser(__doc__)
    parser.add_argument("--scenes", type=int, default=None, help="scenes per softness (default 8, 2 with --quick)")
    parser.add_argument("--side", type=int, default=1080, help="the scenes' shorter side in px")
    parser.add_argument("--workdir", default=None, help="a trained run: adds the row with its predicted alpha")
    parser.add_argument("--sizes", nargs="+", default=["1920x1080", "3840x2160"], help="sizes timed")
    args = parser.parse_args()
    scenes = args.scenes or (2 if args.quick else 8)
    predictor = load(args.workdir).predict if args.workdir else None
    rows = []
    for softness in SOFTNESS:
        for index in range(scenes):
            log(f"scene {index + 1}/{scenes}, edge softness {softness} px")
            rows += _scene_rows(SEED_BASE + index, softness, args.side, predictor)
    summary = _summary(rows)
    timings = [_timing(size, repeats(args, 3, 1)) for size in args.sizes]
    true_rows = [s for s in summary if s["alpha"] == "true alpha"]
    wins = all(e < p for s in true_rows for e, p in zip(s["estimated_rgb"], s["photo_rgb"]))
    worst = max(max(e / p for e, p in zip(s["estimated_rgb"], s["photo_rgb"])) for s in true_rows)
    verdict = target(wins, f"estimated / photo band MAE at most {worst:.2f} (every channel, background, softness)",
                     "estimation lowers the band MAE on every channel, background and softness: on by default")
    return emit({"benchmark": "cutout_colors", "scenes": scenes, "side": args.side, "workdir": args.workdir,
                 "softness": list(SOFTNESS), "summary": summary, "timing": timings, "target": verdict,
                 "rows": rows}, args, render)


def render(result: dict) -> str:
    rows = []
    for s in result["summary"]:
        if s["alpha"] == "true alpha" and s["background"] != "green":
            continue  # with the true alpha every background gives the same error: one row per softness
        background = "any" if s["alpha"] == "true alpha" else s["background"]
        ratio = max(e / p for e, p in zip(s["estimated_rgb"], s["photo_rgb"]))
        rows.append([s["alpha"], fmt(s["softness"], ".1f"), background,
                     " / ".join(fmt(v, ".2f") for v in s["photo_rgb"]),
                     " / ".join(fmt(v, ".2f") for v in s["estimated_rgb"]), fmt(ratio, ".2f")])
    predicted = any(s["alpha"] == "predicted alpha" for s in result["summary"])
    return markdown(
        f"{result['scenes']} synthetic scenes per edge softness (shorter side {result['side']} px) whose true "
        "foreground colour F and alpha A are known, each object put on a new background C: the true composite "
        "A·F + (1−A)·C against the cut-out's, A·I + (1−A)·C with the photo's colour I (estimation off) or "
        "A·F̂ + (1−A)·C with pymatting's estimate F̂ (`estimate_foreground`, on). Mean absolute error per channel "
        "(R, G, B; 0..255) over the pixels of the edge band (0 < A < 1). With the true alpha the error is "
        "A·|F_used − F|, the same whatever C is (green screen, white and another photo give identical rows): one row "
        "per softness. *Soft edges*: 0 = the drawing's anti-aliasing only, 1.5 = each object's coverage blurred by a "
        "Gaussian of 1.5 px (defocused fur).",
        table(["alpha", "soft edges px", "new background", "MAE R / G / B, photo's colours",
               "MAE R / G / B, estimated", "worst ratio"], rows),
        f"*Predicted alpha*: the map of `{result['workdir']}` as alpha for both composites (the band: where the true "
        "or the predicted alpha is strictly between 0 and 1); the truth is still the true composite, so this error "
        "holds the network's too." if predicted else "",
        "Time of `estimate_foreground` (pymatting's `estimate_foreground_ml`, numba; first call apart, it compiles):",
        table(["size", "median s", "first call s", "runs"],
              [[t["size"], fmt(t["median_s"], ".2f"), fmt(t["first_call_s"], ".2f"), t["repeats"]]
               for t in result["timing"]]))


if __name__ == "__main__":
    main()
