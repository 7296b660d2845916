"""Evaluate folders (or in-memory arrays) of saliency maps against ground-truth masks.

Files are decoded by :mod:`hrsod_tf.image_io` (maps keep their grades; masks are binarised by its rules,
palette PNGs by index). Folders are paired by file stem, whatever the extensions (``0001.png`` map for a
``0001.jpg``-named GT stem, etc.). The GT folder drives the evaluation: each GT needs a map; a missing or
unreadable map is listed by name and left out (or, with ``strict=True``, is an error). A map of another size
than its GT is resized to the GT with bilinear interpolation, as the SOD toolboxes do.

Result JSON schema (:meth:`EvaluationResult.to_dict`)::

    {"num_images": N, "num_missing": M, "num_unreadable": U, "missing": [stems], "unreadable": [file names],
     "metrics": {RESULT_KEYS: float or null}, "pr_curve": {"thresholds": [...], "precision": [...],
     "recall": [...]}}

A trained pipeline's variants are evaluated with one :class:`MapEvaluator` each and written up as a report by
:mod:`hrsod_tf.evaluation.variant_report`.

No TensorFlow imported here: numpy, OpenCV, :mod:`hrsod_tf.progress`, :mod:`hrsod_tf.image_io` and
:mod:`hrsod_tf.evaluation.metrics`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import cv2
import numpy as np

from hrsod_tf.evaluation.metrics import METRIC_SETS, GroundTruth, PRCurve, SODEvaluator
from hrsod_tf.image_io import IMAGE_EXTENSIONS, DataError, is_image_file_name, read_map, read_mask
from hrsod_tf.progress import progress_bar

__all__ = [
    "EvaluationError",
    "EvaluationResult",
    "MapEvaluator",
    "as_result",
    "list_images",
    "resize_to",
    "evaluate_arrays",
    "evaluate_folders",
    "evaluate_maps",
    "format_table",
    "table_columns",
    "write_json",
]

# When two files share a stem, the lossless one wins (`IMAGE_EXTENSIONS` lists them first).
_EXTENSION_RANK = {ext: i for i, ext in enumerate(IMAGE_EXTENSIONS)}

#: Columns of :func:`format_table`: (result key, header, format).
TABLE_COLUMNS = (
    ("Fbeta_max_dataset_pr", "maxF(PR)", "{:.3f}"),
    ("Fbeta_max", "maxF", "{:.3f}"),
    ("Fbeta_mean", "meanF", "{:.3f}"),
    ("Fbeta_adaptive", "adpF", "{:.3f}"),
    ("weighted_F", "wF", "{:.3f}"),
    ("S_measure", "S", "{:.3f}"),
    ("E_measure_max", "maxE", "{:.3f}"),
    ("E_measure_mean", "meanE", "{:.3f}"),
    ("E_measure_adaptive", "adpE", "{:.3f}"),
    ("MAE", "MAE", "{:.4f}"),
    ("BDE", "BDE", "{:.2f}"),
    ("mBA", "mBA", "{:.3f}"),
    ("HCE", "HCE", "{:.0f}"),
)


def table_columns(keys) -> tuple:
    """The :data:`TABLE_COLUMNS` of the result keys `keys` (e.g. a metric set's), in table order."""
    return tuple(column for column in TABLE_COLUMNS if column[0] in keys)


class EvaluationError(RuntimeError):
    """A clean, user-facing evaluation failure (missing folder, no pairs, strict mode violations).

    Attributes:
        missing: stems of GT masks without a prediction.
        unreadable: names of files that could not be read.
    """

    def __init__(self, message: str, *, missing: Iterable[str] = (), unreadable: Iterable[str] = ()):
        super().__init__(message)
        self.missing = list(missing)
        self.unreadable = list(unreadable)


@dataclasses.dataclass
class EvaluationResult:
    """The outcome of evaluating one method on one dataset.

    Attributes:
        num_images: number of (map, GT) pairs evaluated.
        metrics: the dict of :func:`SODEvaluator.results` (keys :data:`hrsod_tf.evaluation.metrics.RESULT_KEYS`).
        pr_curve: the dataset-mean precision-recall curve.
        missing: stems of GTs that have no map.
        unreadable: file names (map or GT) that exist but could not be decoded.
    """

    num_images: int
    metrics: dict[str, float]
    pr_curve: PRCurve
    missing: list[str] = dataclasses.field(default_factory=list)
    unreadable: list[str] = dataclasses.field(default_factory=list)

    @property
    def num_missing(self) -> int:
        return len(self.missing)

    @property
    def num_unreadable(self) -> int:
        return len(self.unreadable)

    def to_dict(self) -> dict:
        """The JSON schema of the module docstring; NaN metrics become ``None`` (JSON null)."""
        return {
            "num_images": self.num_images,
            "num_missing": self.num_missing,
            "num_unreadable": self.num_unreadable,
            "missing": list(self.missing),
            "unreadable": list(self.unreadable),
            "metrics": {k: _json_float(v) for k, v in self.metrics.items()},
            "pr_curve": {k: [_json_float(x) for x in v] for k, v in self.pr_curve.to_dict().items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> "EvaluationResult":
        """Inverse of :meth:`to_dict` (null metrics come back as NaN)."""
        nan_if_none = lambda v: math.nan if v is None else float(v)  # noqa: E731
        curve = {k: [nan_if_none(x) for x in v] for k, v in data["pr_curve"].items()}
        return cls(
            num_images=int(data["num_images"]),
            metrics={k: nan_if_none(v) for k, v in data["metrics"].items()},
            pr_curve=PRCurve.from_dict(curve),
            missing=list(data.get("missing", [])),
            unreadable=list(data.get("unreadable", [])),
        )


def _json_float(value):
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


# ---------------------------------------------------------------------------------------------- reading


def list_images(folder: str | os.PathLike) -> dict[str, Path]:
    """Map file stem -> path for the image files directly inside ``folder`` (sorted by stem).

    Raises:
        EvaluationError: if ``folder`` is not a directory.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise EvaluationError(f"not a directory: {folder}")
    found: dict[str, Path] = {}
    for path in folder.iterdir():
        if not is_image_file_name(path.name) or not path.is_file():
            continue
        ext = path.suffix.lower()
        old = found.get(path.stem)
        if old is None or _EXTENSION_RANK[ext] < _EXTENSION_RANK[old.suffix.lower()]:
            found[path.stem] = path
    return dict(sorted(found.items()))


def resize_to(pred: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize a (h, w) map to ``shape`` = (H, W) with bilinear interpolation, keeping its dtype range."""
    if pred.shape[:2] == tuple(shape):
        return pred
    height, width = shape
    src = pred if pred.dtype == np.uint8 else pred.astype(np.float32)
    out = cv2.resize(src, (width, height), interpolation=cv2.INTER_LINEAR)
    return out if pred.dtype == np.uint8 else np.clip(out.astype(np.float64), 0.0, 1.0)


# ------------------------------------------------------------------------------------------- evaluating


def evaluate_arrays(
    pairs: Iterable[tuple[np.ndarray, np.ndarray]],
    *,
    boundary: bool = True,
    progress: bool = False,
    total: int | None = None,
    desc: str = "evaluating",
    metrics=None,
) -> EvaluationResult:
    """Evaluate in-memory (pred, gt) pairs, e.g. straight from the inference pipeline.

    Args:
        pairs: iterable of ``(pred, gt)``: pred (h, w) uint8 0..255 or float in [0, 1], resized to the GT when
            its size differs; gt (H, W) uint8 (binarised > 128) or bool.
        boundary: compute BDE and mBA (the slow metrics at high resolution).
        progress: show a progress bar (`hrsod_tf.progress`); ``total`` is its length if ``pairs`` has no ``len``.
        metrics: the metrics to compute (`hrsod_tf.evaluation.metrics.metric_keys` names; default: the sod set).

    Returns:
        An :class:`EvaluationResult` with no missing or unreadable entries.
    """
    evaluator = MapEvaluator(boundary=boundary, metrics=metrics)
    for pred, gt in progress_bar(pairs, total=total, desc=desc, unit="img", enabled=progress):
        evaluator.add(pred, gt)
    return evaluator.result()


class MapEvaluator:
    """Accumulates (map, GT) pairs one at a time, each map resized to its GT, into an :class:`EvaluationResult`.

    Args:
        boundary: compute BDE and mBA (the slow metrics at high resolution).
        metrics: the metrics to compute (`hrsod_tf.evaluation.metrics.metric_keys` names; default: the sod set).
    """

    def __init__(self, boundary: bool = True, metrics=None):
        self._evaluator = SODEvaluator(boundary=boundary, metrics=metrics)

    def add(self, pred, gt) -> None:
        """pred (h, w) uint8 0..255 or float in [0, 1]; gt (H, W) uint8 (binarised > 128) or bool, or its
        `GroundTruth` (the maps of one image passed with one GroundTruth share what the metrics derive from it)."""
        gt = gt if isinstance(gt, GroundTruth) else np.asarray(gt)
        self._evaluator.step(resize_to(np.asarray(pred), gt.shape[:2]), gt)

    def result(self) -> EvaluationResult:
        """The metrics of every pair added so far (no missing or unreadable entries)."""
        e = self._evaluator
        return EvaluationResult(e.num_images, e.results(), e.pr_curve())


def evaluate_folders(
    pred_dir: str | os.PathLike,
    gt_dir: str | os.PathLike,
    *,
    strict: bool = False,
    boundary: bool = True,
    progress: bool = True,
    desc: str | None = None,
    metrics=None,
) -> EvaluationResult:
    """Evaluate the maps in ``pred_dir`` against the masks in ``gt_dir``, paired by file stem (``metrics`` as
    :func:`evaluate_arrays` takes them; the rest as :func:`evaluate_maps`).

    Raises:
        EvaluationError: a folder does not exist or the GT folder has no images; else as :func:`evaluate_maps`.
    """
    list_images(pred_dir)  # a missing map folder is the first thing to say
    gts = list_images(gt_dir)
    if not gts:
        raise EvaluationError(f"no images in the ground-truth folder {gt_dir}")
    truths = ((stem, path.name, functools.partial(read_mask, path)) for stem, path in gts.items())
    return evaluate_maps(pred_dir, list(gts), truths, gt_where=str(gt_dir), strict=strict, boundary=boundary,
                         progress=progress, desc=desc, metrics=metrics)


def evaluate_maps(
    pred_dir: str | os.PathLike,
    gt_stems: list[str],
    ground_truths: Iterable[tuple[str, str, Callable[[], np.ndarray]]],
    *,
    gt_where: str,
    strict: bool = False,
    boundary: bool = True,
    progress: bool = True,
    desc: str | None = None,
    metrics=None,
) -> EvaluationResult:
    """Evaluate the maps in ``pred_dir`` against ground truths given one at a time, paired by file stem.

    Args:
        gt_stems: the stem of every ground truth, in order (listed first, so that missing maps are known early).
        ground_truths: (stem, file name, load) per ground truth, `load()` returning the (H, W) uint8 mask or
            raising `DataError`; read one at a time (a data set's masks need not fit in memory).
        gt_where: where the ground truths come from, for messages (a folder, a data set and split).

    Maps without a GT are ignored. GTs without a map are listed in ``missing`` (by stem); maps or GTs that exist
    but cannot be decoded are listed in ``unreadable`` (by file name). Both are skipped unless ``strict``.

    Raises:
        EvaluationError: ``pred_dir`` does not exist, ``strict`` and something is missing or unreadable, or no
            pair at all could be evaluated.
    """
    preds = list_images(pred_dir)
    missing = [stem for stem in gt_stems if stem not in preds]
    if strict and missing:
        raise EvaluationError(_problem_message(missing, []), missing=missing)

    unreadable: list[str] = []

    def pairs():
        for stem, name, load in ground_truths:
            if stem not in preds:
                continue
            gt, pred = _load_or_none(load), _load_or_none(functools.partial(read_map, preds[stem]))
            if gt is None or pred is None:
                unreadable.extend(n for n, a in ((preds[stem].name, pred), (name, gt)) if a is None)
                if strict:
                    raise EvaluationError(_problem_message(missing, unreadable), missing=missing, unreadable=unreadable)
                continue
            yield pred, gt

    result = evaluate_arrays(
        pairs(),
        boundary=boundary,
        progress=progress,
        total=len(gt_stems) - len(missing),
        desc=desc or Path(pred_dir).name,
        metrics=metrics,
    )
    result.missing, result.unreadable = missing, unreadable
    if result.num_images == 0:
        raise EvaluationError(
            f"no map in {pred_dir} could be paired with a mask of {gt_where}: " + _problem_message(missing, unreadable),
            missing=missing,
            unreadable=unreadable,
        )
    return result


def _load_or_none(load: Callable[[], np.ndarray]):
    """`load()`, or None when the file cannot be decoded (it is then listed as unreadable)."""
    try:
        return load()
    except DataError:
        return None


def _problem_message(missing: list[str], unreadable: list[str], limit: int = 10) -> str:
    def listing(names):
        shown = ", ".join(names[:limit])
        return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")

    parts = []
    if missing:
        parts.append(f"{len(missing)} missing map(s): {listing(missing)}")
    if unreadable:
        parts.append(f"{len(unreadable)} unreadable file(s): {listing(unreadable)}")
    return "; ".join(parts) or "nothing to evaluate"


# ---------------------------------------------------------------------------------------------- reports


def as_result(value: EvaluationResult | Mapping) -> EvaluationResult:
    """An :class:`EvaluationResult`, or its ``to_dict()`` form (as read back from JSON), as a result."""
    return value if isinstance(value, EvaluationResult) else EvaluationResult.from_dict(value)


def format_table(results: Mapping[str, EvaluationResult | Mapping], columns=None) -> str:
    """A plain-text table, one row per method / variant.

    Args:
        results: name -> :class:`EvaluationResult` (or its ``to_dict()``), in row order.
        columns: (result key, header, format) triples; the default shows the sod set's metrics.

    Returns:
        The table as a string (no trailing newline). NaN values print as ``-``.
    """
    columns = table_columns(METRIC_SETS["sod"]) if columns is None else columns
    header = ["method", "N"] + [title for _, title, _ in columns]
    rows = [header]
    for name, value in results.items():
        res = as_result(value)
        cells = [str(name), str(res.num_images)]
        for key, _, fmt in columns:
            v = res.metrics.get(key, math.nan)
            cells.append("-" if v is None or math.isnan(v) else fmt.format(v))
        rows.append(cells)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]

    def line(cells):
        # Method names left-aligned, numbers right-aligned.
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    out = [line(rows[0]), "  ".join("-" * w for w in widths)] + [line(r) for r in rows[1:]]
    notes = [
        f"{name}: {res.num_missing} missing, {res.num_unreadable} unreadable"
        for name, res in ((n, as_result(v)) for n, v in results.items())
        if res.num_missing or res.num_unreadable
    ]
    return "\n".join(out + notes)


def write_json(results: Mapping[str, EvaluationResult | Mapping], path: str | os.PathLike) -> Path:
    """Write ``{name: result.to_dict()}`` for several methods / variants to ``path`` (parents created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {name: as_result(value).to_dict() for name, value in results.items()}
    path.write_text(json.dumps(payload, indent=1, allow_nan=False) + "\n")
    return path
