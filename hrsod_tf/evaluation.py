"""Evaluate folders (or in-memory arrays) of saliency maps against ground-truth masks.

Files are decoded by :mod:`hrsod_tf.image_io` (maps keep their grades; masks are binarised by its rules,
palette PNGs by index). Folders are paired by file stem, whatever the extensions (``0001.png`` map for a ``0001.jpg``-named GT stem,
etc.). The GT folder drives the evaluation: each GT needs a map; a missing or unreadable map is listed by name
and left out (or, with ``strict=True``, is an error). A map of another size than its GT is resized to the GT with
bilinear interpolation, as the SOD toolboxes do.

Result JSON schema (:meth:`EvaluationResult.to_dict`)::

    {"num_images": N, "num_missing": M, "num_unreadable": U, "missing": [stems], "unreadable": [file names],
     "metrics": {RESULT_KEYS: float or null}, "pr_curve": {"thresholds": [...], "precision": [...],
     "recall": [...]}}

The trained pipeline is evaluated the same way (:func:`evaluate_pipeline`: every variant of Table 4 at once,
one evaluator per variant) and written up as a report (:func:`write_report`: results.json, report.md,
pr_curves.png, examples.png).

No TensorFlow imported here: numpy, OpenCV, tqdm and :mod:`hrsod_tf.metrics` (the pipeline is passed in).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from hrsod_tf.image_io import IMAGE_EXTENSIONS, DataError, is_image_file_name, read_map, read_mask, to_uint8, write_png
from hrsod_tf.metrics import PRCurve, SODEvaluator

__all__ = [
    "EvaluationError",
    "EvaluationResult",
    "list_images",
    "resize_to",
    "evaluate_arrays",
    "evaluate_folders",
    "format_table",
    "write_json",
    "TABLE4_VARIANTS",
    "ExampleMaps",
    "PipelineEvaluation",
    "evaluate_pipeline",
    "format_variant_table",
    "markdown_table",
    "prepare_map_dirs",
    "runnable_variants",
    "variant_labels",
    "write_report",
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
)


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
        metrics: the dict of :func:`SODEvaluator.results` (keys :data:`hrsod_tf.metrics.RESULT_KEYS`).
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
) -> EvaluationResult:
    """Evaluate in-memory (pred, gt) pairs, e.g. straight from the inference pipeline.

    Args:
        pairs: iterable of ``(pred, gt)``: pred (h, w) uint8 0..255 or float in [0, 1], resized to the GT when
            its size differs; gt (H, W) uint8 (binarised > 128) or bool.
        boundary: compute BDE and mBA (the slow metrics at high resolution).
        progress: show a tqdm bar; ``total`` is its length if ``pairs`` has no ``len``.

    Returns:
        An :class:`EvaluationResult` with no missing or unreadable entries.
    """
    evaluator = SODEvaluator(boundary=boundary)
    for pred, gt in tqdm(pairs, total=total, desc=desc, disable=not progress, unit="img"):
        _accumulate(evaluator, pred, gt)
    return _result_of(evaluator)


def _accumulate(evaluator: SODEvaluator, pred, gt) -> None:
    """One (pred, gt) pair into `evaluator`, the map resized to its GT when their sizes differ."""
    gt = np.asarray(gt)
    evaluator.step(resize_to(np.asarray(pred), gt.shape[:2]), gt)


def _result_of(evaluator: SODEvaluator) -> EvaluationResult:
    return EvaluationResult(evaluator.num_images, evaluator.results(), evaluator.pr_curve())


def evaluate_folders(
    pred_dir: str | os.PathLike,
    gt_dir: str | os.PathLike,
    *,
    strict: bool = False,
    boundary: bool = True,
    progress: bool = True,
    desc: str | None = None,
) -> EvaluationResult:
    """Evaluate the maps in ``pred_dir`` against the masks in ``gt_dir``, paired by file stem.

    Maps without a GT are ignored. GTs without a map are listed in ``missing`` (by stem); maps or GTs that exist
    but cannot be decoded are listed in ``unreadable`` (by file name). Both are skipped unless ``strict``.

    Raises:
        EvaluationError: a folder does not exist, the GT folder has no images, ``strict`` and something is
            missing or unreadable, or no pair at all could be evaluated.
    """
    preds = list_images(pred_dir)
    gts = list_images(gt_dir)
    if not gts:
        raise EvaluationError(f"no images in the ground-truth folder {gt_dir}")
    missing = [stem for stem in gts if stem not in preds]
    if strict and missing:
        raise EvaluationError(_problem_message(missing, []), missing=missing)

    unreadable: list[str] = []

    def pairs():
        for stem, gt_path in gts.items():
            if stem not in preds:
                continue
            gt, pred = _read_or_none(read_mask, gt_path), _read_or_none(read_map, preds[stem])
            if gt is None or pred is None:
                unreadable.extend(p.name for p, a in ((preds[stem], pred), (gt_path, gt)) if a is None)
                if strict:
                    raise EvaluationError(_problem_message(missing, unreadable), missing=missing, unreadable=unreadable)
                continue
            yield pred, gt

    result = evaluate_arrays(
        pairs(),
        boundary=boundary,
        progress=progress,
        total=len(gts) - len(missing),
        desc=desc or Path(pred_dir).name,
    )
    result.missing, result.unreadable = missing, unreadable
    if result.num_images == 0:
        raise EvaluationError(
            f"no map in {pred_dir} could be paired with a mask in {gt_dir}: " + _problem_message(missing, unreadable),
            missing=missing,
            unreadable=unreadable,
        )
    return result


def _read_or_none(read, path: Path):
    """`read(path)`, or None when the file cannot be decoded (it is then listed as unreadable)."""
    try:
        return read(path)
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


def _as_result(value: EvaluationResult | Mapping) -> EvaluationResult:
    return value if isinstance(value, EvaluationResult) else EvaluationResult.from_dict(value)


def format_table(results: Mapping[str, EvaluationResult | Mapping], columns=TABLE_COLUMNS) -> str:
    """A plain-text table, one row per method / variant.

    Args:
        results: name -> :class:`EvaluationResult` (or its ``to_dict()``), in row order.
        columns: (result key, header, format) triples; the default shows every metric.

    Returns:
        The table as a string (no trailing newline). NaN values print as ``-``.
    """
    header = ["method", "N"] + [title for _, title, _ in columns]
    rows = [header]
    for name, value in results.items():
        res = _as_result(value)
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
        for name, res in ((n, _as_result(v)) for n, v in results.items())
        if res.num_missing or res.num_unreadable
    ]
    return "\n".join(out + notes)


def write_json(results: Mapping[str, EvaluationResult | Mapping], path: str | os.PathLike) -> Path:
    """Write ``{name: result.to_dict()}`` for several methods / variants to ``path`` (parents created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {name: _as_result(value).to_dict() for name, value in results.items()}
    path.write_text(json.dumps(payload, indent=1, allow_nan=False) + "\n")
    return path


# ------------------------------------------------------------------------------------ trained pipelines

#: The variants of the paper's ablation (Table 4), in its row order.
TABLE4_VARIANTS = ("gsn", "gsn+rps+lrn", "gsn+aps+lrn", "full")

#: Row names of the markdown report (the paper's).
VARIANT_TITLES = {
    "gsn": "GSN",
    "gsn+rps+lrn": "GSN+RPS+LRN",
    "gsn+aps+lrn": "GSN+APS+LRN",
    "full": "GSN+APS+LRN+GLFN",
    "dense+lrn": "GSN+dense+LRN",
}

#: Columns of the Table-4-style report.
TABLE4_COLUMNS = (
    ("Fbeta_adaptive", "Fβ (adaptive) ↑", "{:.3f}"),
    ("S_measure", "S ↑", "{:.3f}"),
    ("MAE", "MAE ↓", "{:.4f}"),
    ("BDE", "BDE ↓", "{:.2f}"),
    ("mBA", "mBA ↑", "{:.3f}"),
)

RANDOM_PATCHES_NOTE = (
    "* gsn+rps+lrn: APS-trained LRN on random patches (as many and as large as APS's), not the paper's "
    "LRN trained on random patches"
)


@dataclasses.dataclass
class ExampleMaps:
    """One evaluated image kept for the example grid (shrunk): its stem, image, GT and each variant's map."""

    stem: str
    image: np.ndarray
    gt: np.ndarray
    maps: dict[str, np.ndarray]


@dataclasses.dataclass
class PipelineEvaluation:
    """The outcome of :func:`evaluate_pipeline`.

    Attributes:
        results: variant -> :class:`EvaluationResult`, in the requested order.
        examples: the first few images with every variant's map, for :func:`write_report`.
        rps_is_trained: whether "gsn+rps+lrn" used an RPS-trained LRN (see `SaliencyPipeline.rps_is_trained`).
    """

    results: dict[str, EvaluationResult]
    examples: list[ExampleMaps]
    rps_is_trained: bool = True

    def table(self) -> str:
        """The plain-text table of every metric, one row per variant (see :func:`format_variant_table`)."""
        return format_variant_table(self.results, self.rps_is_trained)

    def write_report(self, report_dir, title: str | None = None) -> dict[str, Path]:
        """:func:`write_report` of these results."""
        return write_report(self.results, report_dir, self.examples, rps_is_trained=self.rps_is_trained, title=title)


def variant_labels(variants: Iterable[str], rps_is_trained: bool = True) -> dict[str, str]:
    """Row labels of the text table: the variant names, "gsn+rps+lrn*" (see `RANDOM_PATCHES_NOTE`) when the
    random-patch row runs the APS-trained LRN."""
    starred = {"gsn+rps+lrn"} if not rps_is_trained else set()
    return {v: f"{v}*" if v in starred else v for v in variants}


def _footnotes(variants: Iterable[str], rps_is_trained: bool) -> list[str]:
    return [RANDOM_PATCHES_NOTE] if not rps_is_trained and "gsn+rps+lrn" in variants else []


def format_variant_table(results: Mapping[str, EvaluationResult | Mapping], rps_is_trained: bool = True,
                         columns=TABLE_COLUMNS) -> str:
    """:func:`format_table` of a pipeline's variants, with the random-patch footnote when it applies."""
    labels = variant_labels(results, rps_is_trained)
    table = format_table({labels[v]: r for v, r in results.items()}, columns)
    return "\n".join([table, *_footnotes(results, rps_is_trained)])


def markdown_table(results: Mapping[str, EvaluationResult | Mapping], rps_is_trained: bool = True,
                   columns=TABLE4_COLUMNS) -> str:
    """A Table-4-style markdown table: one row per variant; Fβ (adaptive), S, MAE, BDE, mBA by default."""
    labels = variant_labels(results, rps_is_trained)
    lines = [
        "| variant | N | " + " | ".join(title for _, title, _ in columns) + " |",
        "|---|---:|" + "---:|" * len(columns),
    ]
    for variant, value in results.items():
        res = _as_result(value)
        name = VARIANT_TITLES.get(variant, variant) + labels[variant][len(variant):].replace("*", r"\*")
        cells = []
        for key, _, fmt in columns:
            v = res.metrics.get(key, math.nan)
            cells.append("-" if v is None or math.isnan(v) else fmt.format(v))
        lines.append(f"| {name} (`{variant}`) | {res.num_images} | " + " | ".join(cells) + " |")
    notes = [note.replace("*", r"\*", 1) for note in _footnotes(results, rps_is_trained)]
    return "\n".join(lines + ["", *notes]).rstrip() + "\n"


def runnable_variants(pipeline, variants: Iterable[str] = TABLE4_VARIANTS) -> list[str]:
    """The `variants` (default: Table 4's) that the pipeline's trained networks can run: "gsn" always, the
    LRN variants when it has an LRN, "full" when it also has a GLFN."""

    def runnable(variant):
        return variant == "gsn" or pipeline.lrn is not None and (variant != "full" or pipeline.glfn is not None)

    return [v for v in variants if runnable(v)]


def prepare_map_dirs(save_maps_dir, variants: Iterable[str], overwrite: bool = False) -> dict[str, Path]:
    """``save_maps_dir/<variant>`` per variant, created; refuses (EvaluationError) a non-empty one unless
    `overwrite`, so maps of another run are never replaced silently."""
    dirs = {v: Path(save_maps_dir) / v for v in variants}
    taken = [d for d in dirs.values() if d.is_dir() and any(d.iterdir())]
    if taken and not overwrite:
        raise EvaluationError(f"{taken[0]} already holds files: pass --overwrite to replace them, "
                              "or choose another --save-maps folder")
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    return dirs


def _shrink(array: np.ndarray, max_side: int) -> np.ndarray:
    height, width = array.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return array
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(array, size, interpolation=cv2.INTER_AREA)


def _example_stem(example: Mapping, index: int) -> str:
    name = example.get("image/filename", "")
    name = name.decode("utf-8") if isinstance(name, bytes) else str(name)
    return Path(name).stem or f"{index:05d}"


def evaluate_pipeline(
    pipeline,
    examples: Iterable[Mapping],
    variants: Sequence[str] = TABLE4_VARIANTS,
    *,
    save_maps_dir=None,
    overwrite: bool = False,
    boundary: bool = True,
    progress: bool = True,
    total: int | None = None,
    num_examples: int = 4,
    example_side: int = 320,
) -> PipelineEvaluation:
    """Runs a trained pipeline on every example and evaluates each variant with the SOD metrics.

    All variants of an image come from one `pipeline.predict_variants` call (GSN and APS work shared). Maps
    are quantised to 8 bits before they are evaluated, exactly as saved, so evaluating the saved maps with
    :func:`evaluate_folders` gives the same numbers.

    Args:
        pipeline: a `hrsod_tf.inference.SaliencyPipeline` (or anything with its `predict_variants`).
        examples: dicts {"image": uint8 [H, W, 3], "mask": uint8 [H, W(, 1)], "image/filename": str}, as
            `DataSource.examples(split)` yields them.
        variants: names from `hrsod_tf.inference.VARIANTS`.
        save_maps_dir: if set, writes ``<dir>/<variant>/<stem>.png`` 8-bit maps (see :func:`prepare_map_dirs`).
        overwrite: allow `save_maps_dir/<variant>` folders that already hold files.
        boundary: compute BDE and mBA. progress / total: the progress bar and its length.
        num_examples / example_side: how many images to keep for the example grid, shrunk to this side.

    Raises:
        EvaluationError: no example, or a `save_maps_dir/<variant>` is not empty and not `overwrite`.
    """
    variants = tuple(variants)
    map_dirs = prepare_map_dirs(save_maps_dir, variants, overwrite) if save_maps_dir is not None else {}
    evaluators = {v: SODEvaluator(boundary=boundary) for v in variants}
    kept: list[ExampleMaps] = []
    for index, example in enumerate(tqdm(examples, total=total, desc="evaluating", unit="img", disable=not progress)):
        stem = _example_stem(example, index)
        gt = np.asarray(example["mask"])
        gt = gt[..., 0] if gt.ndim == 3 else gt
        maps = {v: to_uint8(np.asarray(m)) for v, m in pipeline.predict_variants(example["image"], variants).items()}
        for variant in variants:
            _accumulate(evaluators[variant], maps[variant], gt)
            if variant in map_dirs:
                write_png(map_dirs[variant] / f"{stem}.png", maps[variant])
        if len(kept) < num_examples:
            shrink = lambda a: _shrink(np.asarray(a), example_side)  # noqa: E731
            kept.append(ExampleMaps(stem, shrink(example["image"]), shrink(gt), {v: shrink(maps[v]) for v in variants}))
    if not kept:
        raise EvaluationError("the data set gave no example to evaluate")
    results = {v: _result_of(evaluators[v]) for v in variants}
    return PipelineEvaluation(results, kept, rps_is_trained=bool(getattr(pipeline, "rps_is_trained", True)))


def write_example_grid(examples: Sequence[ExampleMaps], path) -> Path:
    """The example grid (image, GT, each variant's map; one row per example) as a PNG."""
    from hrsod_tf import plots

    variants = list(examples[0].maps)
    return plots.plot_example_grid(
        [e.image for e in examples],
        [e.gt for e in examples],
        {v: [e.maps[v] for e in examples] for v in variants},
        path,
        row_labels=[e.stem for e in examples],
    )


def write_report(
    results: Mapping[str, EvaluationResult | Mapping],
    report_dir,
    examples: Sequence[ExampleMaps] | None = None,
    *,
    rps_is_trained: bool = True,
    title: str | None = None,
) -> dict[str, Path]:
    """Writes an evaluation report of a pipeline's variants into `report_dir` (created):

    ``results.json`` (the ``evaluate.py --json`` format: {variant: result}), ``report.md`` (a Table-4-style
    markdown table with the figures), ``pr_curves.png`` and, when `examples` are given, ``examples.png``.

    Returns:
        {"json", "markdown", "pr_curves"(, "examples")}: the paths written.
    """
    from hrsod_tf import plots

    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    written = {
        "json": write_json(results, report_dir / "results.json"),
        "pr_curves": plots.plot_pr_curves(results, report_dir / "pr_curves.png", title=title),
    }
    if examples:
        written["examples"] = write_example_grid(examples, report_dir / "examples.png")
    lines = [f"# {title or 'Evaluation'}", "", markdown_table(results, rps_is_trained),
             "Fβ: adaptive threshold (2 × mean saliency), β² = 0.3. BDE in pixels (lower is better). "
             "mBA: boundary accuracy (CascadePSP). Maps evaluated as 8-bit PNGs.", "",
             "![precision-recall curves](pr_curves.png)", ""]
    if examples:
        lines += ["![examples: image, ground truth, each variant](examples.png)", ""]
    written["markdown"] = report_dir / "report.md"
    written["markdown"].write_text("\n".join(lines))
    return written
