"""The README's picture: a photo, its mask and the cut-out on a checkerboard, side by side.

The photo is one of the synthetic test scenes the model was evaluated on (of the set a work directory's GSN
trained on; for an export, the demo's photo-like scenes); the mask and the cut-out come from
`hrsod_tf.load(MODEL)`.

    python docs/figures/make_readme_figure.py --model runs/demo --out docs/figures/cutout.png [--scene 16]
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import hrsod_tf  # noqa: E402
from hrsod_tf.data import synthetic_sets  # noqa: E402
from hrsod_tf.demo import DEMO_DATASET  # noqa: E402
from hrsod_tf.workdir import WorkDir  # noqa: E402


def test_scene(model: Path, index: int):
    """(name, image, mask) of test scene `index` of the synthetic set the run at `model` trained on (its own
    `DataConfig` for ``--dataset synthetic``), or of the demo's set for an export."""
    run = WorkDir(model)
    data = synthetic_sets.of_run(run) if run.has_config() else synthetic_sets.named_by(DEMO_DATASET)
    data = dataclasses.replace(data, synthetic_first_scene=data.synthetic_first_scene + index)
    return next(synthetic_sets.scenes(data, "test", 1))


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

    name, photo, _ = test_scene(Path(args.model), args.scene)
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
