"""The evaluation protocol: saliency metrics for one dataset of (prediction, ground truth) pairs.

Every metric is a small class in the style of pysodmetrics: ``step(pred, gt)`` once per image, then
``get_results()`` once, which returns a dict of final numbers keyed by the names used in the result JSON.
:class:`SODEvaluator` holds all of them and is what the rest of hrsod-tf uses.

What several metrics need is computed once per map (:class:`PreparedPair`: one histogram of the map for the
F-measure, the PR curve and the E-measure), and what depends on the ground truth alone once per mask
(:class:`GroundTruth`: the weighted F-measure's distance transform, BDE's boundary and distance map, mBA's bands),
however many maps are scored against it: the variants of a pipeline pass one ``GroundTruth`` with each of their
maps. The values are pysodmetrics' image by image (``SODEvaluator(shared=False)`` computes them so, slower).

The standard metrics (F-measure, S-measure, MAE, E-measure, weighted F-measure, and DIS5K's human correction
effort, HCE) wrap ``py_sod_metrics`` (pysodmetrics), the community reference that matches the MATLAB toolboxes.
Written here is only what it lacks:
the dataset-mean precision-recall curve (:class:`DatasetPR`), the boundary displacement error reported by the
HRSOD paper (:class:`BDE`) and CascadePSP's mean boundary accuracy (:class:`MBA`).

Input convention (all classes):

- ``pred``: a 2-D saliency map, ``uint8`` in 0..255, ``uint16`` in 0..65535, ``bool``, or floating point in
  [0, 1]. It is scaled to float [0, 1]. The standard metrics then min-max normalise it per image, as the MATLAB
  toolboxes and pysodmetrics do (``mapminmax(im2double(pred))``); the boundary metrics binarise the *unnormalised*
  map at 0.5 (uint8 >= 128) because they judge the mask a user would actually get.
- ``gt``: a 2-D mask of the same height and width, ``uint8`` (binarised ``gt > 128``, as the toolboxes do) or
  ``bool``. ``uint16`` is binarised at ``> 128 * 257`` and float at ``> 0.5``.

This module depends on numpy, SciPy and OpenCV only, never on TensorFlow, so evaluation runs anywhere.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import cv2
import numpy as np
import py_sod_metrics
from py_sod_metrics.utils import EPS, get_adaptive_threshold
from scipy.ndimage import distance_transform_edt  # pysodmetrics' weighted F-measure's transform (SciPy comes with it)

__all__ = [
    "RESULT_KEYS",
    "GroundTruth",
    "PreparedPair",
    "prepare",
    "PRCurve",
    "Fmeasure",
    "Smeasure",
    "MAE",
    "Emeasure",
    "WeightedFmeasure",
    "DatasetPR",
    "BDE",
    "MBA",
    "HCE",
    "METRIC_SETS",
    "SODEvaluator",
    "metric_keys",
    "enhanced_alignment",
    "mask_boundary",
    "boundary_displacement_error",
    "boundary_accuracy",
]

# The result keys of SODEvaluator.results(), in the order tables print them.
RESULT_KEYS = (
    "Fbeta_adaptive",
    "Fbeta_mean",
    "Fbeta_max",
    "Fbeta_max_dataset_pr",
    "S_measure",
    "MAE",
    "E_measure_adaptive",
    "E_measure_mean",
    "E_measure_max",
    "weighted_F",
    "BDE",
    "mBA",
    "HCE",
)

#: Named sets of result keys, selectable with ``hrsod evaluate --metrics``: ``sod`` (the default) is every metric
#: of the SOD protocol but HCE; ``dis`` is the DIS5K benchmark's set (Qin et al., ECCV 2022: max and weighted
#: F-beta, MAE, S-measure, mean E-measure, human correction effort); ``paper`` is what the HRSOD paper's Tables 1
#: and 2 report (adaptive F-beta, S-measure, MAE; BDE).
METRIC_SETS = {
    "sod": tuple(key for key in RESULT_KEYS if key != "HCE"),
    "dis": ("Fbeta_max", "weighted_F", "MAE", "S_measure", "E_measure_mean", "HCE"),
    "paper": ("Fbeta_adaptive", "S_measure", "MAE", "BDE"),
}


def metric_keys(names) -> tuple[str, ...]:
    """The result keys named by `names`: set names of `METRIC_SETS` and single keys of `RESULT_KEYS`, in
    `RESULT_KEYS` order. Raises ValueError naming what is unknown and what is known."""
    keys = set()
    for name in names:
        if name in METRIC_SETS:
            keys.update(METRIC_SETS[name])
        elif name in RESULT_KEYS:
            keys.add(name)
        else:
            raise ValueError(f"unknown metric {name!r}: expected a set ({', '.join(METRIC_SETS)}) or a key "
                             f"({', '.join(RESULT_KEYS)})")
    return tuple(key for key in RESULT_KEYS if key in keys)

#: beta^2 of the F-measure, as in the HRSOD paper and every SOD benchmark since Achanta et al. 2009.
BETA2 = 0.3


# --------------------------------------------------------------------------------------------------- inputs


class GroundTruth:
    """A ground-truth mask, and what the metrics derive from the mask alone, each computed once.

    The distance transform of the weighted F-measure, the boundary and its distance map of BDE, the bands of mBA
    and the foreground count depend on the mask only. When several maps are scored against one mask (the
    variants of a pipeline: `hrsod_tf.evaluation.variant_report.evaluate_pipeline`), one ``GroundTruth`` passed
    with each of them computes those once instead of once per map; the values are the same either way.

    Attributes:
        mask: (H, W) bool, the mask binarised as the module docstring says.
    """

    def __init__(self, gt: np.ndarray):
        gt = np.asarray(gt)
        if gt.ndim != 2:
            raise ValueError(f"a ground truth must be a 2-D (H, W) mask, got shape {gt.shape}")
        self.mask = _to_bool_gt(gt)
        self._derived: dict = {}

    @classmethod
    def of(cls, gt) -> "GroundTruth":
        """`gt` itself when it is a GroundTruth, else a new one of the (H, W) array `gt`."""
        return gt if isinstance(gt, GroundTruth) else cls(gt)

    @property
    def shape(self) -> tuple[int, int]:
        return self.mask.shape

    @functools.cached_property
    def foreground(self) -> int:
        """The number of foreground pixels."""
        return int(np.count_nonzero(self.mask))

    def derived(self, compute, *args):
        """``compute(mask, *args)``, computed on the first call with these arguments and kept."""
        key = (compute, args)
        if key not in self._derived:
            self._derived[key] = compute(self.mask, *args)
        return self._derived[key]


@dataclasses.dataclass(frozen=True)
class PreparedPair:
    """One image pair converted once and shared by all metrics; what several of them need is computed on first
    use and kept.

    Attributes:
        pred: (H, W) float64 in [0, 1], the prediction as given (only rescaled from its integer range).
        pred_norm: (H, W) float64 in [0, 1], ``pred`` min-max normalised (MATLAB ``mapminmax``); what the
            standard metrics see.
        truth: the :class:`GroundTruth`.
    """

    pred: np.ndarray
    pred_norm: np.ndarray
    truth: GroundTruth

    @property
    def gt(self) -> np.ndarray:
        """(H, W) bool ground truth."""
        return self.truth.mask

    @functools.cached_property
    def pred_binary(self) -> np.ndarray:
        """(H, W) bool: the prediction binarised at 0.5, as the boundary metrics use it."""
        return self.pred >= 0.5

    @functools.cached_property
    def abs_error(self) -> np.ndarray:
        """(H, W) float64 ``|pred_norm - gt|``: MAE's mean and the weighted F-measure's error map."""
        return np.abs(self.pred_norm - self.gt)

    @functools.cached_property
    def threshold_counts(self) -> dict[str, np.ndarray]:
        """{"tp", "fp", "tn", "fn"}: (256,) int64 pixel counts at the thresholds 255, 254, ..., 0 (pysodmetrics'
        order), a pixel being salient when its 8-bit level ``uint8(255 * pred_norm)`` is >= the threshold.

        One histogram, shared by the F-measure, the PR curve and the E-measure (pysodmetrics histograms the map
        once for each of them).
        """
        levels = (self.pred_norm * 255).astype(np.uint8)
        foreground = np.bincount(levels[self.gt], minlength=256)
        background = np.bincount(levels.ravel(), minlength=256) - foreground
        tp, fp = np.cumsum(foreground[::-1]), np.cumsum(background[::-1])
        fg = self.truth.foreground
        return {"tp": tp, "fp": fp, "tn": (self.gt.size - fg) - fp, "fn": fg - tp}

    @functools.cached_property
    def adaptive_counts(self) -> dict[str, int]:
        """{"tp", "fp", "tn", "fn"} at the adaptive threshold ``min(2 * mean(pred_norm), 1)``, salient when >= it."""
        binary = self.pred_norm >= get_adaptive_threshold(self.pred_norm, max_value=1)
        tp = int(np.count_nonzero(binary & self.gt))
        fp = int(np.count_nonzero(binary)) - tp
        fg = self.truth.foreground
        return {"tp": tp, "fp": fp, "tn": (self.gt.size - fg) - fp, "fn": fg - tp}


def _to_unit(pred: np.ndarray) -> np.ndarray:
    """Scale a saliency map of any supported dtype to float64 in [0, 1]."""
    pred = np.asarray(pred)
    if pred.dtype == bool:
        return pred.astype(np.float64)
    if np.issubdtype(pred.dtype, np.integer):
        return pred.astype(np.float64) / np.iinfo(pred.dtype).max
    pred = pred.astype(np.float64)
    if pred.size and (pred.min() < -1e-6 or pred.max() > 1 + 1e-6):
        raise ValueError(
            f"a floating-point prediction must lie in [0, 1], got [{pred.min():.4g}, {pred.max():.4g}]; "
            "pass uint8 maps as uint8"
        )
    # Tolerate float rounding just outside [0, 1] (e.g. resized maps).
    return np.clip(pred, 0.0, 1.0)


def _to_bool_gt(gt: np.ndarray) -> np.ndarray:
    gt = np.asarray(gt)
    if gt.dtype == bool:
        return gt
    if gt.dtype == np.uint16:
        return gt > 128 * 257
    if np.issubdtype(gt.dtype, np.integer):
        return gt > 128
    return gt > 0.5


def prepare(pred: np.ndarray, gt) -> PreparedPair:
    """Validate and convert one (pred, gt) pair; see the module docstring for the accepted dtypes. `gt` is an
    (H, W) mask or a :class:`GroundTruth` (which several maps of one image share)."""
    pred = np.asarray(pred)
    gt_shape = gt.shape if isinstance(gt, GroundTruth) else np.shape(gt)
    if pred.ndim != 2 or len(gt_shape) != 2:
        raise ValueError(f"pred and gt must be 2-D (H, W) maps, got shapes {pred.shape} and {gt_shape}")
    if pred.shape != gt_shape:
        raise ValueError(f"shape mismatch: pred {pred.shape} vs gt {gt_shape}; resize the map to its GT first")
    unit = _to_unit(pred)
    lo, hi = unit.min(), unit.max()
    # A constant map stays as it is, like pysodmetrics' prepare_data.
    norm = (unit - lo) / (hi - lo) if hi > lo else unit
    return PreparedPair(pred=unit, pred_norm=norm, truth=GroundTruth.of(gt))


class _Metric:
    """Base class: ``step`` converts the inputs, ``update`` consumes an already prepared pair.

    :class:`SODEvaluator` calls ``update`` so that each image is converted once for all metrics. ``KEYS``: the
    result keys ``get_results`` returns.
    """

    KEYS: tuple[str, ...] = ()

    def step(self, pred: np.ndarray, gt) -> None:
        """Add one image: ``pred`` (H, W) map, ``gt`` (H, W) mask (dtypes as in the module docstring) or its
        :class:`GroundTruth`."""
        self.update(prepare(pred, gt))

    def update(self, pair: PreparedPair) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def update_unshared(self, pair: PreparedPair) -> None:
        """What `update` adds, computed from this image alone by the reference code (pysodmetrics' own ``step``
        for the standard metrics): ``SODEvaluator(shared=False)``."""
        self.update(pair)

    def get_results(self) -> dict[str, float]:  # pragma: no cover - abstract
        raise NotImplementedError


def _mean(values: list[float]) -> float:
    """Mean over images; NaN when no image contributed (JSON writers turn it into null)."""
    return float(np.mean(values)) if values else math.nan


# ----------------------------------------------------------------------------- standard metrics (wrapped)
#
# pysodmetrics' classes accumulate the images and give the final numbers; what each image adds to them is
# computed here from what the pair and its ground truth share (one histogram of the map for every threshold-swept
# metric, the mask's distance transform once per mask), with pysodmetrics' formulas and in its order of
# operations. `pysodmetrics_results` is pysodmetrics run image by image: tests and benchmarks/evaluation_speed.py
# check that the two agree.


def _record_counts(handlers: dict, pair: PreparedPair) -> None:
    """What ``FmeasureV2.step`` records for each of its handlers, from the pair's shared counts."""
    for handler in handlers.values():
        if handler.dynamic_results is not None:
            handler.dynamic_results.append(handler(**pair.threshold_counts))
        if handler.adaptive_results is not None:
            handler.adaptive_results.append(handler(**pair.adaptive_counts))


class Fmeasure(_Metric):
    """F-measure (Achanta et al. CVPR 2009) with beta^2 = 0.3, pysodmetrics' ``FmeasureV2``.

    - ``Fbeta_adaptive``: per image, binarise at twice the mean saliency (capped at 1), F, mean over images.
    - ``Fbeta_mean`` / ``Fbeta_max``: per image an F curve over the 256 thresholds 0..255; the curves are averaged
      over images, and the mean / maximum of that curve is reported (the pysodmetrics convention).
    """

    KEYS = ("Fbeta_adaptive", "Fbeta_mean", "Fbeta_max")

    def __init__(self, beta2: float = BETA2):
        self._handlers = {"fm": py_sod_metrics.FmeasureHandler(with_dynamic=True, with_adaptive=True, beta=beta2)}
        self._fm = py_sod_metrics.FmeasureV2(self._handlers)

    def update(self, pair: PreparedPair) -> None:
        _record_counts(self._handlers, pair)

    def update_unshared(self, pair: PreparedPair) -> None:
        self._fm.step(pair.pred_norm, pair.gt, normalize=False)

    def get_results(self) -> dict[str, float]:
        res = self._fm.get_results()["fm"]
        curve = res["dynamic"]
        return {
            "Fbeta_adaptive": float(res["adaptive"]),
            "Fbeta_mean": float(np.mean(curve)),
            "Fbeta_max": float(np.max(curve)),
        }


def _s_measure_centroid(mask: np.ndarray) -> tuple[int, int]:
    """The S-measure's split point of a mask: its foreground centroid (row, column), rounded, plus one (MATLAB's
    1-based indices), as pysodmetrics' ``Smeasure.region`` computes it."""
    h, w = mask.shape
    if not mask.any():
        cy, cx = np.round(h / 2), np.round(w / 2)
    else:
        cy, cx = np.argwhere(mask).mean(axis=0).round()
    return int(cy) + 1, int(cx) + 1


class Smeasure(_Metric):
    """Structure measure (Fan et al. ICCV 2017), alpha = 0.5, pysodmetrics' ``Smeasure`` (the split point of its
    region term computed once per mask). Key ``S_measure``."""

    KEYS = ("S_measure",)

    def __init__(self, alpha: float = 0.5):
        self._sm = py_sod_metrics.Smeasure(alpha=alpha)

    def update(self, pair: PreparedPair) -> None:
        self._sm.sms.append(self._score(pair))

    def update_unshared(self, pair: PreparedPair) -> None:
        self._sm.step(pair.pred_norm, pair.gt, normalize=False)

    def _score(self, pair: PreparedPair):
        """pysodmetrics' ``Smeasure.cal_sm`` of the pair."""
        sm, pred, gt = self._sm, pair.pred_norm, pair.gt
        y = pair.truth.derived(np.mean)
        if y == 0:
            return 1 - np.mean(pred)
        if y == 1:
            return np.mean(pred)
        object_score = sm.object(pred, gt) * sm.alpha
        region_score = self._region(pred, gt, pair.truth.derived(_s_measure_centroid)) * (1 - sm.alpha)
        return np.maximum(0, object_score + region_score)

    def _region(self, pred: np.ndarray, gt: np.ndarray, centroid: tuple[int, int]):
        """pysodmetrics' ``Smeasure.region`` with the split point given."""
        h, w = gt.shape
        area = h * w
        cy, cx = centroid
        w_lt = cx * cy / area
        w_rt = cy * (w - cx) / area
        w_lb = (h - cy) * cx / area
        w_rb = 1 - w_lt - w_rt - w_lb
        ssim = self._sm.ssim
        return (ssim(pred[0:cy, 0:cx], gt[0:cy, 0:cx]) * w_lt + ssim(pred[0:cy, cx:w], gt[0:cy, cx:w]) * w_rt
                + ssim(pred[cy:h, 0:cx], gt[cy:h, 0:cx]) * w_lb + ssim(pred[cy:h, cx:w], gt[cy:h, cx:w]) * w_rb)

    def get_results(self) -> dict[str, float]:
        return {"S_measure": float(self._sm.get_results()["sm"])}


class MAE(_Metric):
    """Mean absolute error between the normalised map and the binary GT (Perazzi et al. CVPR 2012), pysodmetrics'
    ``MAE``. Key ``MAE``."""

    KEYS = ("MAE",)

    def __init__(self):
        self._mae = py_sod_metrics.MAE()

    def update(self, pair: PreparedPair) -> None:
        self._mae.maes.append(np.mean(pair.abs_error))

    def update_unshared(self, pair: PreparedPair) -> None:
        self._mae.step(pair.pred_norm, pair.gt, normalize=False)

    def get_results(self) -> dict[str, float]:
        return {"MAE": float(self._mae.get_results()["mae"])}


def enhanced_alignment(tp, fp, foreground: int, size: int):
    """E-measure of a binarised map from its counts (pysodmetrics' ``Emeasure``, formula and order of operations).

    Args:
        tp, fp: salient pixels inside / outside the GT, at one threshold (ints) or several (arrays).
        foreground: GT foreground pixels. size: all pixels.
    Returns:
        The E-measure at each threshold (float64, the shape of `tp`).
    """
    predicted = tp + fp
    if foreground == 0:
        enhanced_sum = size - predicted
    elif foreground == size:
        enhanced_sum = predicted
    else:
        missed = foreground - tp
        parts = (tp, fp, missed, (size - predicted) - missed)
        mean_pred, mean_gt = predicted / size, foreground / size
        pred_fg, pred_bg, gt_fg, gt_bg = 1 - mean_pred, 0 - mean_pred, 1 - mean_gt, 0 - mean_gt
        combinations = ((pred_fg, gt_fg), (pred_fg, gt_bg), (pred_bg, gt_fg), (pred_bg, gt_bg))
        terms = []
        for part, (a, b) in zip(parts, combinations):
            align = 2 * (a * b) / (a**2 + b**2 + EPS)
            terms.append((align + 1) ** 2 / 4 * part)
        enhanced_sum = sum(terms)
    return enhanced_sum / (size - 1 + EPS)


class Emeasure(_Metric):
    """Enhanced-alignment measure (Fan et al. IJCAI 2018), pysodmetrics' ``Emeasure`` (from the pair's shared
    counts).

    Keys ``E_measure_adaptive`` (threshold twice the mean saliency), ``E_measure_mean`` and ``E_measure_max``
    (mean / maximum of the image-averaged curve over thresholds 0..255).
    """

    KEYS = ("E_measure_adaptive", "E_measure_mean", "E_measure_max")

    def __init__(self):
        self._em = py_sod_metrics.Emeasure()

    def update(self, pair: PreparedPair) -> None:
        fg, size = pair.truth.foreground, pair.gt.size
        curve, adaptive = pair.threshold_counts, pair.adaptive_counts
        self._em.changeable_ems.append(enhanced_alignment(curve["tp"], curve["fp"], fg, size))
        self._em.adaptive_ems.append(enhanced_alignment(adaptive["tp"], adaptive["fp"], fg, size))

    def update_unshared(self, pair: PreparedPair) -> None:
        self._em.step(pair.pred_norm, pair.gt, normalize=False)

    def get_results(self) -> dict[str, float]:
        res = self._em.get_results()["em"]
        return {
            "E_measure_adaptive": float(res["adp"]),
            "E_measure_mean": float(np.mean(res["curve"])),
            "E_measure_max": float(np.max(res["curve"])),
        }


@dataclasses.dataclass(frozen=True)
class _WeightedFTerms:
    """What the weighted F-measure takes from a (non-empty) mask: see `_weighted_f_terms`."""

    background_weight: np.ndarray
    window: tuple[slice, slice]
    near_background: np.ndarray
    nearest_foreground: np.ndarray


def _weighted_f_terms(mask: np.ndarray) -> _WeightedFTerms | None:
    """The weighted F-measure's terms of a mask, from its Euclidean distance transform (None for an empty mask).

    - ``background_weight``: (N_bg,) float64, pysodmetrics' pixel importance ``B = 2 - exp(log(0.5) / 5 * D)``
      of the background pixels (in C order), D the distance to the nearest foreground pixel.
    - ``window``: the (rows, columns) slices of the foreground's bounding box widened by the 3-pixel radius of
      the 7 x 7 Gaussian: every pixel the smoothed error of a foreground pixel reads.
    - ``near_background``: flat indices, in `window`, of the background pixels within that radius of a
      foreground pixel (the only ones whose "error of the nearest foreground pixel" is read), and
      ``nearest_foreground``: the flat index in the image of that nearest foreground pixel, as SciPy's feature
      transform (pysodmetrics') picks it.
    """
    if not mask.any():
        return None
    distance, (rows, cols) = distance_transform_edt(mask == 0, return_indices=True)
    near = (cv2.dilate(mask.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0) & ~mask
    ys, xs = np.nonzero(mask | near)
    window = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
    near_rows, near_cols = np.nonzero(near[window])
    at = (near_rows + window[0].start, near_cols + window[1].start)
    nearest = rows[at].astype(np.intp) * mask.shape[1] + cols[at]
    near_background = near_rows * (window[1].stop - window[1].start) + near_cols
    return _WeightedFTerms(2 - np.exp(np.log(0.5) / 5 * distance[~mask]), window, near_background, nearest)


class WeightedFmeasure(_Metric):
    """Weighted F-measure (Margolin et al. CVPR 2014), beta = 1 as in the reference code; pysodmetrics'
    ``WeightedFmeasure`` with the mask's distance transform computed once per mask. Key ``weighted_F``."""

    KEYS = ("weighted_F",)

    def __init__(self, beta: float = 1.0):
        self._wfm = py_sod_metrics.WeightedFmeasure(beta=beta)
        self._kernel = self._wfm.matlab_style_gauss2D((7, 7), sigma=5)

    def update(self, pair: PreparedPair) -> None:
        terms = pair.truth.derived(_weighted_f_terms)
        self._wfm.weighted_fms.append(0 if terms is None else self._score(pair, terms))

    def update_unshared(self, pair: PreparedPair) -> None:
        self._wfm.step(pair.pred_norm, pair.gt, normalize=False)

    def _score(self, pair: PreparedPair, terms: _WeightedFTerms):
        """pysodmetrics' ``WeightedFmeasure.cal_wfm`` of the pair."""
        gt, error = pair.gt, pair.abs_error
        # A background pixel takes the error of its nearest foreground pixel. The smoothed error is used at
        # foreground pixels only, so only the window around them is smoothed, with only the background pixels
        # near them given that error.
        spread = error[terms.window].copy()
        spread.ravel()[terms.near_background] = error.ravel()[terms.nearest_foreground]
        # MATLAB's imfilter with zero padding (the image border is the window's wherever they differ); the
        # kernel is symmetric, so correlation is convolution.
        inside = gt[terms.window]
        smoothed = cv2.filter2D(spread, -1, self._kernel, borderType=cv2.BORDER_CONSTANT)[inside]
        foreground_error = spread[inside]
        weighted_fg = np.where(smoothed < foreground_error, smoothed, foreground_error)  # importance 1
        weighted_bg = error[~gt] * terms.background_weight
        tpw = pair.truth.foreground - np.sum(weighted_fg)
        fpw = np.sum(weighted_bg)
        recall = 1 - np.mean(weighted_fg)
        precision = tpw / (tpw + fpw + EPS)
        beta = self._wfm.beta
        return (1 + beta) * recall * precision / (recall + beta * precision + EPS)

    def get_results(self) -> dict[str, float]:
        return {"weighted_F": float(self._wfm.get_results()["wfm"])}


# ------------------------------------------------------------------------------- dataset-mean PR curve


@dataclasses.dataclass(frozen=True)
class PRCurve:
    """A precision-recall curve over the 256 binarisation thresholds.

    Attributes:
        thresholds: (256,) int, 0..255 ascending; a pixel is salient when its 8-bit value is >= the threshold.
        precision: (256,) float, dataset-mean precision at each threshold.
        recall: (256,) float, dataset-mean recall at each threshold.
    """

    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray

    def fbeta(self, beta2: float = BETA2) -> np.ndarray:
        """(256,) F-measure computed from the mean precision and recall at each threshold (0 where P = R = 0)."""
        num = (1 + beta2) * self.precision * self.recall
        den = beta2 * self.precision + self.recall
        return np.divide(num, den, out=np.zeros_like(num), where=den > 0)

    def to_dict(self) -> dict[str, list]:
        """JSON-ready lists: ``{"thresholds": [...], "precision": [...], "recall": [...]}``."""
        return {
            "thresholds": [int(t) for t in self.thresholds],
            "precision": [float(p) for p in self.precision],
            "recall": [float(r) for r in self.recall],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "PRCurve":
        return cls(*(np.asarray(data[k], dtype=np.float64) for k in ("thresholds", "precision", "recall")))


class DatasetPR(_Metric):
    """The dataset-mean precision-recall curve and the F-measure taken from it (MATLAB SOD toolbox convention).

    Per image, precision P_i(t) and recall R_i(t) are computed at the 256 thresholds t = 0..255 (pixel salient
    when its 8-bit value >= t; P = 0 when nothing is salient, R = 0 when the GT is empty). They are averaged over
    the N images, P(t) = mean_i P_i(t), R(t) = mean_i R_i(t), which is the PR curve papers plot; then
    ``Fbeta_max_dataset_pr = max_t (1 + b2) P(t) R(t) / (b2 P(t) + R(t))``. This differs from ``Fbeta_max``,
    which averages the per-image F curves instead; many SOD papers (HRSOD among them, via the MATLAB toolbox)
    report this one as "max F".

    The per-image curves are pysodmetrics' (``FmeasureV2``'s precision and recall handlers), from the pair's
    shared counts.
    """

    KEYS = ("Fbeta_max_dataset_pr",)

    def __init__(self, beta2: float = BETA2):
        self.beta2 = beta2
        self._handlers = {
            "p": py_sod_metrics.PrecisionHandler(with_dynamic=True, with_adaptive=False),
            "r": py_sod_metrics.RecallHandler(with_dynamic=True, with_adaptive=False),
        }
        self._pr = py_sod_metrics.FmeasureV2(self._handlers)
        self._count = 0

    def update(self, pair: PreparedPair) -> None:
        _record_counts(self._handlers, pair)
        self._count += 1

    def update_unshared(self, pair: PreparedPair) -> None:
        self._pr.step(pair.pred_norm, pair.gt, normalize=False)
        self._count += 1

    def curve(self) -> PRCurve:
        """The dataset-mean :class:`PRCurve` (NaN-filled when no image was added)."""
        thresholds = np.arange(256)
        if not self._count:
            nan = np.full(256, math.nan)
            return PRCurve(thresholds, nan, nan.copy())
        res = self._pr.get_results()
        # pysodmetrics orders its curves by threshold 255 -> 0 (it accumulates a flipped histogram).
        return PRCurve(thresholds, res["p"]["dynamic"][::-1].copy(), res["r"]["dynamic"][::-1].copy())

    def get_results(self) -> dict[str, float]:
        if not self._count:
            return {"Fbeta_max_dataset_pr": math.nan}
        return {"Fbeta_max_dataset_pr": float(np.max(self.curve().fbeta(self.beta2)))}


# ---------------------------------------------------------------------------------------- boundary metrics


def mask_boundary(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels of a binary mask, (H, W) bool.

    A pixel is on the boundary when one of its 4-neighbours has the other label, so the boundary is two pixels
    thick (one on each side of the contour) and symmetric in foreground and background. This matches the
    ``gradient``-based boundaries of the MATLAB BDE code except on one-pixel-wide structures, which MATLAB's
    central differences miss. A mask with a single label has no boundary here (see :func:`boundary_displacement_error`).
    """
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    # Replicated borders: the image frame itself is not a contour.
    dil = cv2.dilate(m, cross, borderType=cv2.BORDER_REPLICATE)
    ero = cv2.erode(m, cross, borderType=cv2.BORDER_REPLICATE)
    return dil != ero


def _frame(shape: tuple[int, int]) -> np.ndarray:
    frame = np.zeros(shape, dtype=bool)
    frame[0, :] = frame[-1, :] = frame[:, 0] = frame[:, -1] = True
    return frame


def _distance_to(boundary: np.ndarray) -> np.ndarray:
    """(H, W) float32 exact Euclidean distance (pixels) from every pixel to the nearest ``boundary`` pixel."""
    # distanceTransform measures the distance to the nearest zero pixel.
    return cv2.distanceTransform((~boundary).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def _bde_boundary(mask: np.ndarray) -> np.ndarray:
    """BDE's boundary of a mask: :func:`mask_boundary`, or the image frame when the mask has a single label."""
    boundary = mask_boundary(mask)
    return boundary if boundary.any() else _frame(mask.shape)


def _bde_truth_terms(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(BDE's boundary of the GT, (H, W) bool; the distance from every pixel to it, float32)."""
    boundary = _bde_boundary(mask)
    return boundary, _distance_to(boundary)


def _as_truth(mask) -> GroundTruth:
    """A binary mask (nonzero: foreground) as a GroundTruth; a GroundTruth as it is."""
    return mask if isinstance(mask, GroundTruth) else GroundTruth(np.asarray(mask, dtype=bool))


def boundary_displacement_error(pred_mask: np.ndarray, gt_mask) -> float:
    """Boundary displacement error (pixels) between two binary masks of the same (H, W) shape.

    BDE (Freixenet et al., "Yet another survey on image segmentation", ECCV 2002; the measure of the HRSOD
    paper, computed as in the widely used MATLAB ``compare_image_boundary_error`` of Yang et al.'s segmentation
    toolbox): with B_p and B_g the boundary pixel sets (:func:`mask_boundary`) and d(x, B) the Euclidean distance
    from x to the nearest pixel of B,

        BDE = ( mean_{x in B_p} d(x, B_g) + mean_{x in B_g} d(x, B_p) ) / 2.

    Edge cases follow that MATLAB code: a mask with a single label (all background or all foreground) takes the
    image frame (its outermost rows and columns) as its boundary. So two empty masks give 0, and an empty
    prediction of a non-empty GT is penalised by the distances between the GT contour and the image border.

    `gt_mask` may be a :class:`GroundTruth`: its boundary and distance map are then computed once for all the
    maps scored against it.
    """
    pred_mask = np.asarray(pred_mask, dtype=bool)
    truth = _as_truth(gt_mask)
    if pred_mask.shape != truth.shape:
        raise ValueError(f"shape mismatch: {pred_mask.shape} vs {truth.shape}")
    b_gt, to_gt = truth.derived(_bde_truth_terms)
    b_pred = _bde_boundary(pred_mask)
    pred_to_gt = to_gt[b_pred].mean()
    gt_to_pred = _distance_to(b_pred)[b_gt].mean()
    return float((pred_to_gt + gt_to_pred) / 2)


def mba_radii(height: int, width: int, num_steps: int = 5) -> list[int]:
    """The CascadePSP band radii for an image of ``height`` x ``width`` pixels.

    ``r_i = 1 + int((r_max - 1) * i / num_steps)`` for i = 0..num_steps-1 with r_max = (H + W) / 300, so a
    1920x1080 image uses radii 1, 2, 4, 6, 8 and images smaller than 300 px in H + W use radius 1 throughout.
    """
    r_max = (height + width) / 300
    return [max(1, 1 + int((r_max - 1) * i / num_steps)) for i in range(num_steps)]


def _mba_bands(mask: np.ndarray, num_steps: int) -> list[np.ndarray] | None:
    """The bands of :func:`boundary_accuracy` around the mask's contour, one per radius of :func:`mba_radii`, as
    flat pixel indices; None when they are empty (a mask with a single label)."""
    mask_u8 = mask.astype(np.uint8)
    by_radius = {}
    for r in mba_radii(*mask.shape, num_steps=num_steps):
        if r not in by_radius:
            disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
            by_radius[r] = np.flatnonzero(cv2.morphologyEx(mask_u8, cv2.MORPH_GRADIENT, disc))
    if not all(band.size for band in by_radius.values()):
        return None
    return [by_radius[r] for r in mba_radii(*mask.shape, num_steps=num_steps)]


def boundary_accuracy(pred_mask: np.ndarray, gt_mask, num_steps: int = 5) -> float:
    """Boundary accuracy of one binary prediction (CascadePSP's per-image mBA), in [0, 1]; NaN if the GT has no edge.

    Mean boundary accuracy (Cheng et al., "CascadePSP", CVPR 2020, ``util/compute_boundary_acc.py``): for each
    radius r of :func:`mba_radii`, the band is the morphological gradient (dilation minus erosion) of the GT with a
    disc of diameter 2r + 1 (OpenCV elliptic kernel), i.e. the pixels within about r of the GT contour, and the
    accuracy is the fraction of band pixels where the binary prediction equals the GT. The per-radius accuracies
    are averaged. A GT with a single label has an empty band: the value is undefined and NaN is returned
    (:class:`MBA` leaves such images out of its mean). `gt_mask` may be a :class:`GroundTruth` (its bands are
    then computed once for all the maps scored against it).
    """
    pred_mask = np.asarray(pred_mask, dtype=bool)
    truth = _as_truth(gt_mask)
    if pred_mask.shape != truth.shape:
        raise ValueError(f"shape mismatch: {pred_mask.shape} vs {truth.shape}")
    bands = truth.derived(_mba_bands, num_steps)
    if bands is None:
        return math.nan
    correct = (pred_mask == truth.mask).ravel()
    return float(np.mean([correct[band].mean() for band in bands]))


class BDE(_Metric):
    """Boundary displacement error in pixels, mean over images (lower is better). Key ``BDE``.

    The prediction is binarised at 0.5 (uint8 >= 128) and the GT at > 128; see
    :func:`boundary_displacement_error` for the definition, source and edge cases. Being in pixels, BDE grows with
    image resolution: compare methods on the same images only.
    """

    KEYS = ("BDE",)

    def __init__(self):
        self._values: list[float] = []

    def update(self, pair: PreparedPair) -> None:
        self._values.append(boundary_displacement_error(pair.pred_binary, pair.truth))

    def get_results(self) -> dict[str, float]:
        return {"BDE": _mean(self._values)}


class MBA(_Metric):
    """Mean boundary accuracy (CascadePSP), in [0, 1], higher is better. Key ``mBA``.

    The prediction is binarised at 0.5 (uint8 >= 128; CascadePSP uses > 128, one grey level apart) and the GT at
    > 128; see :func:`boundary_accuracy`. Images whose GT has no boundary (all background or all foreground) are
    left out of the mean, and counted in :attr:`num_skipped`; with none left the result is NaN.
    """

    KEYS = ("mBA",)

    def __init__(self, num_steps: int = 5):
        self.num_steps = num_steps
        self._values: list[float] = []
        self.num_skipped = 0

    def update(self, pair: PreparedPair) -> None:
        value = boundary_accuracy(pair.pred_binary, pair.truth, self.num_steps)
        if math.isnan(value):
            self.num_skipped += 1
        else:
            self._values.append(value)

    def get_results(self) -> dict[str, float]:
        return {"mBA": _mean(self._values)}


class HCE(_Metric):
    """Human correction effort (Qin et al., "Highly Accurate Dichotomous Image Segmentation", ECCV 2022), the DIS5K
    benchmark's measure, wrapping pysodmetrics' ``HumanCorrectionEffortMeasure`` (relax 5, epsilon 2.0): the
    number of mouse clicks (polygon vertices and region selections) a person needs to turn the binary
    prediction into the GT, mean over images (lower is better). Key ``HCE``. The prediction is binarised at 0.5,
    as for the boundary metrics (pysodmetrics thresholds the unnormalised map it is given).
    """

    KEYS = ("HCE",)

    def __init__(self):
        self._hce = py_sod_metrics.HumanCorrectionEffortMeasure()
        self._count = 0

    def update(self, pair: PreparedPair) -> None:
        self._hce.step(pair.pred, pair.gt, normalize=False)
        self._count += 1

    def get_results(self) -> dict[str, float]:
        return {"HCE": float(self._hce.get_results()["hce"]) if self._count else math.nan}


# --------------------------------------------------------------------------------------------- evaluator


class SODEvaluator:
    """All metrics of the protocol at once.

    Example::

        ev = SODEvaluator()
        for pred, gt in pairs:          # pred (H, W) uint8 or float in [0, 1]; gt (H, W) uint8
            ev.step(pred, gt)
        ev.results()                    # {"Fbeta_adaptive": ..., ..., "mBA": ...}  (RESULT_KEYS)
        ev.pr_curve()                   # PRCurve for plots and JSON

    ``pred`` and ``gt`` must have the same shape here; :func:`hrsod_tf.evaluation.evaluate_arrays` resizes maps to
    their GT first.
    """

    def __init__(self, *, boundary: bool = True, metrics=None, shared: bool = True):
        """Computes the result keys `metrics` (names as `metric_keys` takes them; default: the ``sod`` set) and the
        PR curve; ``boundary=False`` skips BDE and mBA, the slow ones at 4K. Keys not computed are NaN.

        ``shared=False`` computes each metric of each image on its own, the standard ones by pysodmetrics' own
        ``step`` (each histogramming the map, the weighted F-measure transforming the mask), and shares no
        :class:`GroundTruth` between maps: the same values, slower; the reference of the tests and of
        ``benchmarks/evaluation_speed.py``."""
        self.boundary, self.shared = boundary, shared
        keys = set(metric_keys(metrics or ("sod",)))
        if not boundary:
            keys -= {"BDE", "mBA"}
        self.keys = tuple(key for key in RESULT_KEYS if key in keys)
        self.dataset_pr = DatasetPR()  # always: the PR curve of plots and JSON
        self._metrics: list[_Metric] = [self.dataset_pr] + [
            cls() for cls in (Fmeasure, Smeasure, MAE, Emeasure, WeightedFmeasure, BDE, MBA, HCE)
            if keys & set(cls.KEYS)]
        self.num_images = 0

    def step(self, pred: np.ndarray, gt) -> None:
        """Add one image pair; dtypes as in the module docstring. `gt` may be a :class:`GroundTruth`, which the
        maps of one image then share."""
        if not self.shared:
            pair = prepare(pred, gt.mask if isinstance(gt, GroundTruth) else gt)
            for metric in self._metrics:
                metric.update_unshared(pair)
        else:
            pair = prepare(pred, gt)
            for metric in self._metrics:
                metric.update(pair)
        self.num_images += 1

    def results(self) -> dict[str, float]:
        """A dict with exactly :data:`RESULT_KEYS` (plain floats; NaN where undefined, e.g. no image)."""
        merged = dict.fromkeys(RESULT_KEYS, math.nan)
        if self.num_images:
            for metric in self._metrics:
                merged.update({k: v for k, v in metric.get_results().items() if k in self.keys})
        return merged

    def pr_curve(self) -> PRCurve:
        """The dataset-mean precision-recall curve (see :class:`DatasetPR`)."""
        return self.dataset_pr.curve()
