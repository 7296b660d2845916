"""A trained pipeline's variants (the paper's Table 4) evaluated together, and written up as a report.

:func:`evaluate_pipeline` runs every variant of an image from one `predict_variants` call and evaluates each with
its own :class:`hrsod_tf.evaluation.MapEvaluator`, in scoring processes while the next image runs
(`hrsod_tf.evaluation.variant_scoring`); :func:`write_report` writes results.json, report.md (a
Table-4-style markdown table), pr_curves.png and examples.png.

No TensorFlow imported here: the pipeline is passed in.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from hrsod_tf.evaluation import plots
from hrsod_tf.evaluation.folders import (
    EvaluationError,
    EvaluationResult,
    as_result,
    format_table,
    write_json,
)
from hrsod_tf.evaluation.variant_scoring import VariantScorer, shrink_map
from hrsod_tf.image_io import saliency_to_uint8
from hrsod_tf.pipeline.crf import crf_available
from hrsod_tf.pipeline.variants import CRF_VARIANTS, graph_variants, stages_for_variant
from hrsod_tf.progress import progress_bar

__all__ = [
    "TABLE4_VARIANTS",
    "ExampleMaps",
    "PipelineEvaluation",
    "evaluate_pipeline",
    "format_variant_table",
    "markdown_table",
    "prepare_map_dirs",
    "runnable_variants",
    "variant_labels",
    "write_example_grid",
    "write_report",
]


#: The variants of the paper's ablation (Table 4), in its row order.
TABLE4_VARIANTS = ("gsn", "gsn+crf", "gsn+rps+lrn", "gsn+aps+lrn", "gsn+aps+lrn+crf", "full")

#: Fewer images than this (when their number is known) are scored in the calling process, not in workers.
MIN_IMAGES_FOR_WORKERS = 8

#: Row names of the markdown report (the paper's).
VARIANT_TITLES = {
    "gsn": "GSN",
    "gsn+crf": "GSN+CRF",
    "gsn+rps+lrn": "GSN+RPS+LRN",
    "gsn+aps+lrn": "GSN+APS+LRN",
    "gsn+aps+lrn+crf": "GSN+APS+LRN+CRF",
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
TRAINED_RPS_NOTE = (
    "gsn+rps+lrn: the LRN trained on randomly placed patches (stage rps_lrn: as many and as large as APS gives), "
    "run on random patches, as the paper's ablation"
)
CRF_NOTE = ("+crf: a dense CRF (pydensecrf2) with DSS's parameters post-processes the 8-bit map "
            "(hrsod_tf/pipeline/crf.py)")


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
    """Which LRN the random-patch row ran, and what the CRF rows are, when the table has them."""
    variants = list(variants)
    notes = []
    if "gsn+rps+lrn" in variants:
        notes.append(TRAINED_RPS_NOTE if rps_is_trained else RANDOM_PATCHES_NOTE)
    if any(v in CRF_VARIANTS for v in variants):
        notes.append(CRF_NOTE)
    return notes


def format_variant_table(results: Mapping[str, EvaluationResult | Mapping], rps_is_trained: bool = True,
                         columns=None) -> str:
    """:func:`format_table` of a pipeline's variants (its `columns`, default the sod set's), with the random-patch
    footnote when it applies."""
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
        res = as_result(value)
        name = VARIANT_TITLES.get(variant, variant) + labels[variant][len(variant):].replace("*", r"\*")
        cells = []
        for key, _, fmt in columns:
            v = res.metrics.get(key, math.nan)
            cells.append("-" if v is None or math.isnan(v) else fmt.format(v))
        lines.append(f"| {name} (`{variant}`) | {res.num_images} | " + " | ".join(cells) + " |")
    notes = [note.replace("*", r"\*", 1) for note in _footnotes(results, rps_is_trained)]
    return "\n".join(lines + ["", *(f"{note}\n" for note in notes)]).rstrip() + "\n"


def runnable_variants(pipeline, variants: Iterable[str] = TABLE4_VARIANTS) -> list[str]:
    """The `variants` (default: Table 4's) that the pipeline's trained networks can run: those whose stages
    (`hrsod_tf.pipeline.variants.VARIANT_STAGES`) all have a network in the pipeline (``pipeline.networks``), and
    the "+crf" ones only where the dense CRF package is installed."""
    return [v for v in variants
            if all(getattr(pipeline.networks, stage) is not None for stage in stages_for_variant(v))
            and (v not in CRF_VARIANTS or crf_available())]


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
    metrics=None,
    workers: int | None = None,
) -> PipelineEvaluation:
    """Runs a trained pipeline on every example and evaluates each variant with the SOD metrics.

    All variants of an image come from one `pipeline.predict_variants` call (GSN and APS work shared); the
    scoring processes make the "+crf" rows from their base variants' maps (one dense CRF per image for both) and
    compute the metrics (one `GroundTruth` per image: what they derive from the mask, once). Maps are quantised
    to 8 bits before they are evaluated, exactly as saved, so evaluating the saved maps with
    :func:`evaluate_folders` gives the same numbers.

    Args:
        pipeline: a `hrsod_tf.pipeline.saliency_pipeline.SaliencyPipeline` (or anything with its `predict_variants`).
        examples: dicts {"image": uint8 [H, W, 3], "mask": uint8 [H, W(, 1)], "image/filename": str}, as
            `DataSource.examples(split)` yields them.
        variants: names from `hrsod_tf.pipeline.saliency_pipeline.VARIANTS`.
        save_maps_dir: if set, writes ``<dir>/<variant>/<stem>.png`` 8-bit maps (see :func:`prepare_map_dirs`).
        overwrite: allow `save_maps_dir/<variant>` folders that already hold files.
        boundary: compute BDE and mBA. progress / total: the progress bar and its length.
        num_examples / example_side: how many images to keep for the example grid, shrunk to this side.
        metrics: the metrics to compute (`hrsod_tf.evaluation.metrics.metric_keys` names; default: the sod set).
        workers: processes that score the maps (the "+crf" rows' CRF, the metrics) while the pipeline computes
            the next image's (`hrsod_tf.evaluation.variant_scoring`; default: one per core, none for fewer
            than `MIN_IMAGES_FOR_WORKERS` images of a known `total`; 0: none). The results are the same for any
            number.

    Raises:
        EvaluationError: no example, or a `save_maps_dir/<variant>` is not empty and not `overwrite`.
    """
    variants = tuple(variants)
    map_dirs = prepare_map_dirs(save_maps_dir, variants, overwrite) if save_maps_dir is not None else {}
    in_graph = graph_variants(variants)
    kept: list[ExampleMaps] = []
    bar = progress_bar(examples, total=total, desc="evaluating", unit="img", enabled=progress)
    if workers is None and total is not None and total < MIN_IMAGES_FOR_WORKERS:
        workers = 0  # starting the processes (a second or two) would cost more than they save
    with VariantScorer(variants, boundary=boundary, metrics=metrics, workers=workers, map_dirs=map_dirs,
                       example_side=example_side) as scorer:
        for index, example in enumerate(bar):
            stem = _example_stem(example, index)
            image = np.asarray(example["image"])
            gt = np.asarray(example["mask"])
            gt = gt[..., 0] if gt.ndim == 3 else gt
            maps = {v: np.asarray(m) for v, m in pipeline.predict_variants(image, in_graph).items()}
            keep = len(kept) < num_examples
            scorer.add(stem, image, gt, maps, keep=keep)
            if keep:
                shown = {v: shrink_map(saliency_to_uint8(maps[v]), example_side) for v in in_graph if v in variants}
                kept.append(ExampleMaps(stem, shrink_map(image, example_side), shrink_map(gt, example_side), shown))
        if not kept:
            raise EvaluationError("the data set gave no example to evaluate")
        results, crf_maps = scorer.finish()
    for example in kept:  # the "+crf" maps came from the workers; the grid's columns in the order asked
        example.maps = {v: {**example.maps, **crf_maps.get(example.stem, {})}[v] for v in variants}
    return PipelineEvaluation(results, kept, rps_is_trained=bool(getattr(pipeline, "rps_is_trained", True)))


def write_example_grid(examples: Sequence[ExampleMaps], path) -> Path:
    """The example grid (image, GT, each variant's map; one row per example) as a PNG."""
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
