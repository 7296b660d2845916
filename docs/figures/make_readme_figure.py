"""The README's picture: a photo, its mask and the cut-out on a checkerboard, side by side.

The photo is one of the synthetic test scenes the demo evaluates (the run's own scene sizes when `--model` is a
work directory, else the `small` preset's); the mask and the cut-out come from `hrsod_tf.load(MODEL)`.

    python docs/figures/make_readme_figure.py --model runs/demo --out docs/figures/cutout.png [--scene 16]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import hrsod_tf  # noqa: E402
from hrsod_tf.config import Config, get_preset  # noqa: E402
from hrsod_tf.data.synthetic import generate_split  # noqa: E402


def scene_sizes(model: Path) -> tuple[int, int]:
    """The shortest and longest scene edges of the run at `model`, or of the demo's preset for an export."""
    config_file = model / "config.json"
    data = Config.load(config_file).data if config_file.is_file() else get_preset("small").data
    return data.synthetic_min_side, data.synthetic_max_side


def checkerboard(height: int, width: int, cell: int) -> np.ndarray:
    """A light-grey checkerboard, float RGB [H, W, 3] in [0, 1], as image editors show transparency."""
    rows, cols = np.indices((height, width)) // cell
    tone = np.where((rows + cols) % 2 == 0, 0.95, 0.78)
    return np.repeat(tone[..., None], 3, axis=2)


def on_checkerboard(rgba: np.ndarray) -> np.ndarray:
    """An RGBA cut-out (uint8) composited over a checkerboard whose cells are about 1/40 of the long edge."""
    height, width = rgba.shape[:2]
    board = checkerboard(height, width, max(8, max(height, width) // 40))
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    return alpha * (rgba[..., :3].astype(np.float32) / 255.0) + (1.0 - alpha) * board


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a work directory (runs/demo) or an export")
    parser.add_argument("--out", default="docs/figures/cutout.png", help="the PNG to write")
    parser.add_argument("--scene", type=int, default=16,
                        help="which synthetic test scene (default 16: one object with a hole, in mid-frame)")
    args = parser.parse_args(argv)

    min_side, max_side = scene_sizes(Path(args.model))
    name, photo, _ = next(generate_split("test", 1, min_side, max_side, start=args.scene))
    model = hrsod_tf.load(args.model)
    mask = model.predict(photo)
    cutout = model.cutout(photo)

    height, width = photo.shape[:2]
    panels = [(photo, f"photo ({width}x{height})"), (mask, "mask (model.predict)"),
              (on_checkerboard(cutout), "cut-out (model.cutout)")]
    figure, axes = plt.subplots(1, 3, figsize=(12, 12 * height / (3 * width) + 0.35), layout="constrained")
    for axis, (picture, title) in zip(axes, panels):
        if picture.ndim == 2:
            axis.imshow(picture, cmap="gray", vmin=0.0, vmax=1.0)
        else:
            axis.imshow(picture)
        axis.set_title(title, fontsize=11)
        axis.set_axis_off()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=100)
    plt.close(figure)
    print(f"{out}: {name} through {args.model}")


if __name__ == "__main__":
    main()
