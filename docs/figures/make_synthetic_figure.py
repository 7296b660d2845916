"""docs/TRAINING.md's picture of the synthetic scenes: the classic and the photo style of the same seeds.

Each row is one seed of the synthetic test split: the classic scene and its mask, then the photo scene and its
mask, with the properties the photo scene holds (`hrsod_tf.data.synthetic.photo_scene_properties`) under it.
Scenes are drawn at the demo's sizes (the `small` preset's sides) and shrunk for the page.

    python docs/figures/make_synthetic_figure.py --out docs/figures/synthetic_scenes.png [--scenes 0 1 2 3]
"""

from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from hrsod_tf.config import get_preset  # noqa: E402
from hrsod_tf.data.synthetic import generate_scene, photo_scene_properties, scene_seed  # noqa: E402

# how the properties read under a picture (hrsod_tf.data.synthetic_photo's function names, shortened)
PROPERTY_LABELS = {
    "add_saturated_clutter": "saturated clutter",
    "add_material_echoes": "its material in the background",
    "camouflage": "camouflage",
    "shade": "shading",
    "cast_shadow": "shadow",
    "soften_boundary:defocus": "defocus",
    "soften_boundary:motion": "motion blur",
    "add_occluder": "occluder in front",
}


def property_caption(properties: tuple[str, ...]) -> str:
    """The distinct properties of a photo scene as a short comma-separated line, in drawing order."""
    labels = dict.fromkeys(PROPERTY_LABELS.get(kind, kind) for kind in properties)
    return ", ".join(labels)


def draw_figure(indices, out: str, preset: str = "small") -> None:
    """Writes the figure for test scenes `indices` to `out` (PNG)."""
    data = get_preset(preset).data
    sides = (data.synthetic_min_side, data.synthetic_max_side)
    fig, axes = plt.subplots(len(indices), 4, figsize=(13, 2.6 * len(indices)), squeeze=False)
    titles = ("classic scene", "classic mask", "photo scene", "photo mask")
    for row, index in zip(axes, indices):
        seed = scene_seed("test", index)
        classic_image, classic_mask = generate_scene(seed, *sides)
        photo_image, photo_mask = generate_scene(seed, *sides, scene_style="photo")
        for ax, picture, title in zip(row, (classic_image, classic_mask, photo_image, photo_mask), titles):
            ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None, interpolation="lanczos")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{title} (test {index})", fontsize=9)
        row[2].set_xlabel(property_caption(photo_scene_properties(seed, *sides)), fontsize=8, wrap=True)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="docs/figures/synthetic_scenes.png")
    parser.add_argument("--scenes", type=int, nargs="+", default=[0, 1, 2, 3], help="test-split scene indices")
    args = parser.parse_args(argv)
    draw_figure(args.scenes, args.out)


if __name__ == "__main__":
    main()
