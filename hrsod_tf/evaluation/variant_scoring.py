"""Scoring a pipeline's variant maps in worker processes while the pipeline computes the next image's maps.

Evaluating the rows of Table 4 spends most of its time outside TensorFlow: the dense CRF of the two "+crf" rows
and the metrics of every map, NumPy and C++ code that holds the GIL and runs on one core. `VariantScorer` gives
each of its worker processes a share of the variants: their `MapEvaluator`s (one `GroundTruth` per image for all
of them) and, for the "+crf" variants, one CRF of the image for their base variants' maps
(`hrsod_tf.pipeline.variants.CRF_VARIANTS`, `hrsod_tf.pipeline.crf.dense_crf_maps`), so the "+crf" variants share
a worker. The caller hands over each image's maps as soon as the pipeline has them and goes on to the next.

    scorer = VariantScorer(variants, workers=2)
    for image, gt, stem in ...:            # graph_variants: from hrsod_tf.pipeline.variants
        scorer.add(stem, image, gt, pipeline.predict_variants(image, graph_variants(variants)), keep=...)
    results, crf_maps = scorer.finish()      # {variant: EvaluationResult}, {stem: {variant: shrunk map}}

Each variant is scored by one process, in image order, so the results are those of scoring every map one after
the other in this process (``workers=0``), to the last bit. At most two images per worker are in flight, so
memory stays bounded. Workers are spawned (never forked: the parent runs TensorFlow's threads) and import NumPy,
OpenCV, the metrics and the CRF, not TensorFlow.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
from collections import deque
from pathlib import Path
from typing import Mapping, Sequence

import cv2
import numpy as np

from hrsod_tf.evaluation.folders import EvaluationResult, MapEvaluator
from hrsod_tf.evaluation.metrics import GroundTruth
from hrsod_tf.image_io import saliency_to_uint8, write_png
from hrsod_tf.machine import usable_cores
from hrsod_tf.pipeline.variants import CRF_VARIANTS

__all__ = ["VariantScorer", "default_workers", "shrink_map"]

#: Images handed to a worker before the caller waits for the oldest one: bounds the maps held in memory.
IN_FLIGHT_PER_WORKER = 2


def default_workers(variants: Sequence[str]) -> int:
    """One scoring process per usable core, at most one per variant, none on a single core."""
    cores = usable_cores()
    return 0 if cores < 2 else min(cores, len(variants))


def shrink_map(array: np.ndarray, max_side: int) -> np.ndarray:
    """`array` ([H, W] or [H, W, C]) shrunk by area averaging so that its longer side is at most `max_side`
    (the report's example grid); unchanged when it is already that small."""
    array = np.asarray(array)
    height, width = array.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return array
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(array, size, interpolation=cv2.INTER_AREA)


def _shares(variants: Sequence[str], workers: int) -> list[tuple[str, ...]]:
    """The variants of each worker: the "+crf" ones together (one CRF of the image serves them) in the first, the
    others dealt in turn to the rest (to every worker when there is only one or no "+crf" variant)."""
    if workers <= 1:
        return [tuple(variants)]
    crf = tuple(v for v in variants if v in CRF_VARIANTS)
    rest = [v for v in variants if v not in CRF_VARIANTS]
    others = workers - 1 if crf else workers
    shares = [crf] if crf else []
    shares += [tuple(rest[i::others]) for i in range(others)]
    return [share for share in shares if share]


class _Scorer:
    """The variants one process scores: their evaluators, and the CRF for the "+crf" ones."""

    def __init__(self, variants, boundary, metrics, map_dirs, example_side):
        self.variants = tuple(variants)
        self.evaluators = {v: MapEvaluator(boundary=boundary, metrics=metrics) for v in self.variants}
        self.map_dirs = {v: Path(d) for v, d in (map_dirs or {}).items() if v in self.variants}
        self.example_side = example_side

    def add(self, stem, image, gt, maps, keep):
        """Scores this image's maps of its variants; returns {variant: shrunk uint8 map} of the "+crf" ones
        when `keep` (the caller has the others)."""
        scored = {v: saliency_to_uint8(maps[v]) for v in self.variants if v not in CRF_VARIANTS}
        post_processed = [v for v in self.variants if v in CRF_VARIANTS]
        if post_processed:
            from hrsod_tf.pipeline.crf import dense_crf_maps  # pydensecrf only where a "+crf" variant is scored

            refined = dense_crf_maps(image, [maps[CRF_VARIANTS[v]] for v in post_processed])
            scored.update((v, saliency_to_uint8(m)) for v, m in zip(post_processed, refined))
        truth = GroundTruth(gt)  # what the metrics derive from the mask, once for all the maps
        for variant in self.variants:
            self.evaluators[variant].add(scored[variant], truth)
            if variant in self.map_dirs:
                write_png(self.map_dirs[variant] / f"{stem}.png", scored[variant])
        return {v: shrink_map(scored[v], self.example_side) for v in post_processed} if keep else {}

    def results(self) -> dict[str, EvaluationResult]:
        return {v: evaluator.result() for v, evaluator in self.evaluators.items()}


_WORKER: _Scorer | None = None  # the worker process's own scorer


def _start_worker(*args) -> None:
    global _WORKER
    _WORKER = _Scorer(*args)


def _worker_add(*args):
    return _WORKER.add(*args)


def _worker_results():
    return _WORKER.results()


class VariantScorer:
    """Scores the maps of several variants image after image, in `workers` processes (0: in this one).

    Args:
        variants: the variants to score, "+crf" ones included (their base variants' maps must be given).
        boundary / metrics: as `MapEvaluator` takes them.
        workers: scoring processes (default: `default_workers`); 0 scores in the calling process.
        map_dirs: {variant: folder} to write each scored map into as ``<stem>.png`` (8-bit).
        example_side: the longer side of the "+crf" maps `add(..., keep=True)` returns for the example grid.
    """

    def __init__(self, variants: Sequence[str], *, boundary: bool = True, metrics=None, workers: int | None = None,
                 map_dirs: Mapping[str, os.PathLike] | None = None, example_side: int = 320):
        self.variants = tuple(variants)
        workers = default_workers(self.variants) if workers is None else min(workers, len(self.variants))
        map_dirs = {v: str(d) for v, d in (map_dirs or {}).items()}
        self._shares = _shares(self.variants, workers)
        args = [(share, boundary, metrics, map_dirs, example_side) for share in self._shares]
        if workers:
            context = multiprocessing.get_context("spawn")
            self._pools = [concurrent.futures.ProcessPoolExecutor(1, mp_context=context, initializer=_start_worker,
                                                                  initargs=a) for a in args]
            self._local = None
        else:
            self._pools, self._local = [], _Scorer(*args[0])
        self._pending: deque[list[tuple[str, concurrent.futures.Future]]] = deque()
        self._kept: dict[str, dict[str, np.ndarray]] = {}

    def add(self, stem: str, image, gt, maps: Mapping[str, np.ndarray], keep: bool = False) -> None:
        """Scores one image's maps: `maps` {variant: float [H, W(, 1)] in [0, 1]} for every variant that is not
        "+crf" and every "+crf" variant's base; `image` uint8 [H, W, 3] (for the CRF), `gt` uint8 [H, W]."""
        maps = {v: np.asarray(m) for v, m in maps.items()}
        if self._local is not None:
            self._store(stem, self._local.add(stem, image, gt, maps, keep))
            return
        while len(self._pending) >= IN_FLIGHT_PER_WORKER:
            self._collect(self._pending.popleft())
        futures = []
        for share, pool in zip(self._shares, self._pools):
            needed = {CRF_VARIANTS.get(v, v) for v in share}
            crf = any(v in CRF_VARIANTS for v in share)
            futures.append((stem, pool.submit(_worker_add, stem, image if crf else None, gt,
                                              {v: maps[v] for v in needed}, keep)))
        self._pending.append(futures)

    def finish(self) -> tuple[dict[str, EvaluationResult], dict[str, dict[str, np.ndarray]]]:
        """Waits for every image; returns ({variant: result} in the order of `variants`, {stem: {"+crf" variant:
        shrunk uint8 map}} of the images added with `keep`). The workers are shut down."""
        try:
            while self._pending:
                self._collect(self._pending.popleft())
            if self._local is not None:
                results = self._local.results()
            else:
                results = {}
                for pool in self._pools:
                    results.update(pool.submit(_worker_results).result())
        finally:
            self.close()
        return {v: results[v] for v in self.variants}, self._kept

    def close(self) -> None:
        """Stops the workers (pending work is dropped): after `finish`, or when the caller gives up."""
        for pool in self._pools:
            pool.shutdown(wait=True, cancel_futures=True)
        self._pools = []

    def __enter__(self) -> "VariantScorer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _collect(self, futures) -> None:
        for stem, future in futures:
            self._store(stem, future.result())

    def _store(self, stem: str, kept: dict) -> None:
        if kept:
            self._kept.setdefault(stem, {}).update(kept)
