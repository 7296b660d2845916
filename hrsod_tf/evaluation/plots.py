"""Figures for evaluation reports: PR curves of several methods, and a grid of example predictions.

matplotlib with the non-interactive Agg backend (servers and CI have no display); every function writes a PNG
and returns its path.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display is needed or wanted
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hrsod_tf.evaluation.metrics import BETA2, PRCurve  # noqa: E402

__all__ = ["plot_pr_curves", "plot_example_grid"]


def _save(fig, path, dpi: int) -> Path:
    """Lays `fig` out, writes it to `path` as a PNG and frees it (pyplot keeps every open figure alive)."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def _curve_of(value) -> PRCurve:
    """Accept a PRCurve, an EvaluationResult (``.pr_curve``) or either's dict form."""
    if isinstance(value, PRCurve):
        return value
    if hasattr(value, "pr_curve"):
        return value.pr_curve
    if isinstance(value, Mapping):
        return PRCurve.from_dict(value.get("pr_curve", value))
    raise TypeError(f"cannot read a PR curve from {type(value).__name__}")


def _zoom(curves) -> tuple[float, float]:
    """Where the axes start: the curves differ at high recall and precision, so a figure of the whole unit
    square is mostly empty. Recall from 0.5 and precision from a little below the lowest precision any curve
    has at recall 0.5-0.95 (in steps of 0.05); the full square when the curves are poor enough to need it."""
    lows = []
    for curve in curves:
        recall, precision = np.asarray(curve.recall), np.asarray(curve.precision)
        band = np.isfinite(precision) & (recall >= 0.5) & (recall <= 0.95)
        if not band.any():
            return 0.0, 0.0
        lows.append(float(precision[band].min()))
    if not lows:
        return 0.0, 0.0
    precision_from = float(np.floor(min(lows) * 20) / 20 - 0.05)
    return (0.5, round(precision_from, 2)) if precision_from >= 0.3 else (0.0, 0.0)


def plot_pr_curves(
    curves: Mapping[str, object],
    path: str | os.PathLike,
    *,
    title: str | None = None,
    dpi: int = 150,
) -> Path:
    """Plot the dataset-mean precision-recall curves of several methods in one figure.

    Args:
        curves: method name -> :class:`~hrsod_tf.evaluation.metrics.PRCurve`,
            :class:`~hrsod_tf.evaluation.folders.EvaluationResult` or the dict form of either; plotted in this
            order. The legend shows each curve's max F-measure.
        path: output PNG file (parent folders are created).
        title: optional figure title, e.g. the dataset name.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    parsed = {name: _curve_of(value) for name, value in curves.items()}
    for name, curve in parsed.items():
        fmax = np.nanmax(curve.fbeta(BETA2)) if np.isfinite(curve.precision).any() else float("nan")
        ax.plot(curve.recall, curve.precision, linewidth=1.6, label=f"{name} (maxF {fmax:.3f})")
    recall_from, precision_from = _zoom(parsed.values())
    ax.set_xlabel("Recall" if recall_from == 0 else f"Recall (from {recall_from:g})")
    ax.set_ylabel("Precision" if precision_from == 0 else f"Precision (from {precision_from:g})")
    ax.set_xlim(recall_from, 1)
    ax.set_ylim(precision_from, 1.005)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    if title:
        ax.set_title("\n".join(textwrap.wrap(title, 48)), fontsize=10)
    return _save(fig, path, dpi)


def plot_example_grid(
    images: Sequence[np.ndarray],
    gts: Sequence[np.ndarray],
    maps: Mapping[str, Sequence[np.ndarray]],
    path: str | os.PathLike,
    *,
    row_labels: Sequence[str] | None = None,
    cell_inches: float = 2.2,
    dpi: int = 120,
) -> Path:
    """A grid of examples: one row per image; columns image, GT, then each method's map.

    Args:
        images: N RGB images, (H, W, 3) uint8 (or (H, W) gray).
        gts: N masks, (H, W) uint8 or bool.
        maps: method name -> N saliency maps, (h, w) uint8 0..255 or float in [0, 1]; columns in this order.
        path: output PNG file (parent folders are created).
        row_labels: optional N labels (e.g. file stems) written at the left of each row.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    n = len(images)
    if len(gts) != n or any(len(m) != n for m in maps.values()):
        raise ValueError("images, gts and every method's maps must have the same length")
    if n == 0:
        raise ValueError("no examples to plot")
    titles = ["image", "GT", *maps]
    columns = [images, gts, *maps.values()]
    aspect = images[0].shape[0] / images[0].shape[1]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(
        n, len(titles), figsize=(cell_inches * len(titles), cell_inches * aspect * n + 0.4), squeeze=False
    )
    for row in range(n):
        for col, (title, column) in enumerate(zip(titles, columns)):
            ax = axes[row, col]
            img = np.asarray(column[row])
            if img.dtype == bool:
                img = img.astype(np.uint8) * 255
            if img.ndim == 3:
                ax.imshow(img)
            else:
                # Fixed range, so a weak map looks weak instead of being stretched to full contrast.
                vmax = 255 if np.issubdtype(img.dtype, np.integer) else 1
                ax.imshow(img, cmap="gray", vmin=0, vmax=vmax, interpolation="bilinear")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(title, fontsize=9)
            if col == 0 and row_labels is not None:
                ax.set_ylabel(row_labels[row], fontsize=8)
    return _save(fig, path, dpi)


def plot_patch_count(
    patches: Sequence[int],
    curves: Mapping[str, Mapping[str, Sequence[float]]],
    path: str | os.PathLike,
    *,
    title: str | None = None,
    dpi: int = 150,
) -> Path:
    """The paper's Figure 9: refinement quality against the number of patches, one line per sampler.

    Two panels as the paper's: (a) S-measure and (b) MAE against the number of patches (a log2 axis with a tick
    at each count), each sampler a line with markers.

    Args:
        patches: the patch counts, e.g. (1, 2, 4, 8, 16).
        curves: sampler label -> {"S_measure": [...], "MAE": [...]}, one value per count.
        path: output PNG file (parent folders are created).
        title: optional figure title.
    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    panels = (("S_measure", "S-measure", "(a) S-measure vs. number of patches"),
              ("MAE", "MAE", "(b) MAE vs. number of patches"))
    markers = ("o", "s", "^", "D")
    for ax, (key, label, caption) in zip(axes, panels):
        for (name, values), marker in zip(curves.items(), markers):
            ax.plot(patches, values[key], marker=marker, linewidth=1.6, label=name)
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(patches), [str(p) for p in patches])
        ax.minorticks_off()
        ax.set_xlabel("number of patches")
        ax.set_ylabel(label)
        ax.set_title(caption, fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle("\n".join(textwrap.wrap(title, 90)), fontsize=10)
    return _save(fig, path, dpi)
