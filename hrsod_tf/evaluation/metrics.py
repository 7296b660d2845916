"""The evaluation protocol: saliency metrics for one dataset of (prediction, ground truth) pairs.

Every metric is a small class in the style of pysodmetrics: ``step(pred, gt)`` once per image, then
``get_results()`` once, which returns a dict of final numbers keyed by the names used in the result JSON.
:class:`SODEvaluator` holds all of them and is what the rest of hrsod-tf uses.

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

This module depends on numpy and OpenCV only, never on TensorFlow, so evaluation runs anywhere.
"""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np
import py_sod_metrics

__all__ = [
    "RESULT_KEYS",
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


@dataclasses.dataclass(frozen=True)
class PreparedPair:
    """One image pair converted once and shared by all metrics.

    Attributes:
        pred: (H, W) float64 in [0, 1], the prediction as given (only rescaled from its integer range).
        pred_norm: (H, W) float64 in [0, 1], ``pred`` min-max normalised (MATLAB ``mapminmax``); what the
            standard metrics see.
        gt: (H, W) bool ground truth.
    """

    pred: np.ndarray
    pred_norm: np.ndarray
    gt: np.ndarray

    @property
    def pred_binary(self) -> np.ndarray:
        """(H, W) bool: the prediction binarised at 0.5, as the boundary metrics use it."""
        return self.pred >= 0.5


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


def prepare(pred: np.ndarray, gt: np.ndarray) -> PreparedPair:
    """Validate and convert one (pred, gt) pair; see the module docstring for the accepted dtypes."""
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.ndim != 2 or gt.ndim != 2:
        raise ValueError(f"pred and gt must be 2-D (H, W) maps, got shapes {pred.shape} and {gt.shape}")
    if pred.shape != gt.shape:
        raise ValueError(f"shape mismatch: pred {pred.shape} vs gt {gt.shape}; resize the map to its GT first")
    unit = _to_unit(pred)
    lo, hi = unit.min(), unit.max()
    # A constant map stays as it is, like pysodmetrics' prepare_data.
    norm = (unit - lo) / (hi - lo) if hi > lo else unit
    return PreparedPair(pred=unit, pred_norm=norm, gt=_to_bool_gt(gt))


class _Metric:
    """Base class: ``step`` converts the inputs, ``update`` consumes an already prepared pair.

    :class:`SODEvaluator` calls ``update`` so that each image is converted once for all metrics. ``KEYS``: the
    result keys ``get_results`` returns.
    """

    KEYS: tuple[str, ...] = ()

    def step(self, pred: np.ndarray, gt: np.ndarray) -> None:
        """Add one image: ``pred`` (H, W) map, ``gt`` (H, W) mask (dtypes as in the module docstring)."""
        self.update(prepare(pred, gt))

    def update(self, pair: PreparedPair) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_results(self) -> dict[str, float]:  # pragma: no cover - abstract
        raise NotImplementedError


def _mean(values: list[float]) -> float:
    """Mean over images; NaN when no image contributed (JSON writers turn it into null)."""
    return float(np.mean(values)) if values else math.nan


# ----------------------------------------------------------------------------- standard metrics (wrapped)


class Fmeasure(_Metric):
    """F-measure (Achanta et al. CVPR 2009) with beta^2 = 0.3, wrapping pysodmetrics.

    - ``Fbeta_adaptive``: per image, binarise at twice the mean saliency (capped at 1), F, mean over images.
    - ``Fbeta_mean`` / ``Fbeta_max``: per image an F curve over the 256 thresholds 0..255; the curves are averaged
      over images, and the mean / maximum of that curve is reported (the pysodmetrics convention).
    """

    KEYS = ("Fbeta_adaptive", "Fbeta_mean", "Fbeta_max")

    def __init__(self, beta2: float = BETA2):
        self._fm = py_sod_metrics.FmeasureV2(
            {"fm": py_sod_metrics.FmeasureHandler(with_dynamic=True, with_adaptive=True, beta=beta2)}
        )

    def update(self, pair: PreparedPair) -> None:
        self._fm.step(pair.pred_norm, pair.gt, normalize=False)

    def get_results(self) -> dict[str, float]:
        res = self._fm.get_results()["fm"]
        curve = res["dynamic"]
        return {
            "Fbeta_adaptive": float(res["adaptive"]),
            "Fbeta_mean": float(np.mean(curve)),
            "Fbeta_max": float(np.max(curve)),
        }


class Smeasure(_Metric):
    """Structure measure (Fan et al. ICCV 2017), alpha = 0.5, wrapping pysodmetrics. Key ``S_measure``."""

    KEYS = ("S_measure",)

    def __init__(self, alpha: float = 0.5):
        self._sm = py_sod_metrics.Smeasure(alpha=alpha)

    def update(self, pair: PreparedPair) -> None:
        self._sm.step(pair.pred_norm, pair.gt, normalize=False)

    def get_results(self) -> dict[str, float]:
        return {"S_measure": float(self._sm.get_results()["sm"])}


class MAE(_Metric):
    """Mean absolute error between the normalised map and the binary GT (Perazzi et al. CVPR 2012). Key ``MAE``."""

    KEYS = ("MAE",)

    def __init__(self):
        self._mae = py_sod_metrics.MAE()

    def update(self, pair: PreparedPair) -> None:
        self._mae.step(pair.pred_norm, pair.gt, normalize=False)

    def get_results(self) -> dict[str, float]:
        return {"MAE": float(self._mae.get_results()["mae"])}


class Emeasure(_Metric):
    """Enhanced-alignment measure (Fan et al. IJCAI 2018), wrapping pysodmetrics.

    Keys ``E_measure_adaptive`` (threshold twice the mean saliency), ``E_measure_mean`` and ``E_measure_max``
    (mean / maximum of the image-averaged curve over thresholds 0..255).
    """

    KEYS = ("E_measure_adaptive", "E_measure_mean", "E_measure_max")

    def __init__(self):
        self._em = py_sod_metrics.Emeasure()

    def update(self, pair: PreparedPair) -> None:
        self._em.step(pair.pred_norm, pair.gt, normalize=False)

    def get_results(self) -> dict[str, float]:
        res = self._em.get_results()["em"]
        return {
            "E_measure_adaptive": float(res["adp"]),
            "E_measure_mean": float(np.mean(res["curve"])),
            "E_measure_max": float(np.max(res["curve"])),
        }


class WeightedFmeasure(_Metric):
    """Weighted F-measure (Margolin et al. CVPR 2014), beta = 1 as in the reference code. Key ``weighted_F``."""

    KEYS = ("weighted_F",)

    def __init__(self, beta: float = 1.0):
        self._wfm = py_sod_metrics.WeightedFmeasure(beta=beta)

    def update(self, pair: PreparedPair) -> None:
        self._wfm.step(pair.pred_norm, pair.gt, normalize=False)

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

    The per-image counts come from pysodmetrics (``FmeasureV2`` with precision and recall handlers).
    """

    KEYS = ("Fbeta_max_dataset_pr",)

    def __init__(self, beta2: float = BETA2):
        self.beta2 = beta2
        self._pr = py_sod_metrics.FmeasureV2(
            {
                "p": py_sod_metrics.PrecisionHandler(with_dynamic=True, with_adaptive=False),
                "r": py_sod_metrics.RecallHandler(with_dynamic=True, with_adaptive=False),
            }
        )
        self._count = 0

    def update(self, pair: PreparedPair) -> None:
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


def boundary_displacement_error(pred_mask: np.ndarray, gt_mask: np.ndarray) -> float:
    """Boundary displacement error (pixels) between two binary masks of the same (H, W) shape.

    BDE (Freixenet et al., "Yet another survey on image segmentation", ECCV 2002; the measure of the HRSOD
    paper, computed as in the widely used MATLAB ``compare_image_boundary_error`` of Yang et al.'s segmentation
    toolbox): with B_p and B_g the boundary pixel sets (:func:`mask_boundary`) and d(x, B) the Euclidean distance
    from x to the nearest pixel of B,

        BDE = ( mean_{x in B_p} d(x, B_g) + mean_{x in B_g} d(x, B_p) ) / 2.

    Edge cases follow that MATLAB code: a mask with a single label (all background or all foreground) takes the
    image frame (its outermost rows and columns) as its boundary. So two empty masks give 0, and an empty
    prediction of a non-empty GT is penalised by the distances between the GT contour and the image border.
    """
    pred_mask = np.asarray(pred_mask, dtype=bool)
    gt_mask = np.asarray(gt_mask, dtype=bool)
    if pred_mask.shape != gt_mask.shape:
        raise ValueError(f"shape mismatch: {pred_mask.shape} vs {gt_mask.shape}")
    bounds = []
    for mask in (pred_mask, gt_mask):
        b = mask_boundary(mask)
        bounds.append(b if b.any() else _frame(mask.shape))
    b_pred, b_gt = bounds
    pred_to_gt = _distance_to(b_gt)[b_pred].mean()
    gt_to_pred = _distance_to(b_pred)[b_gt].mean()
    return float((pred_to_gt + gt_to_pred) / 2)


def mba_radii(height: int, width: int, num_steps: int = 5) -> list[int]:
    """The CascadePSP band radii for an image of ``height`` x ``width`` pixels.

    ``r_i = 1 + int((r_max - 1) * i / num_steps)`` for i = 0..num_steps-1 with r_max = (H + W) / 300, so a
    1920x1080 image uses radii 1, 2, 4, 6, 8 and images smaller than 300 px in H + W use radius 1 throughout.
    """
    r_max = (height + width) / 300
    return [max(1, 1 + int((r_max - 1) * i / num_steps)) for i in range(num_steps)]


def boundary_accuracy(pred_mask: np.ndarray, gt_mask: np.ndarray, num_steps: int = 5) -> float:
    """Boundary accuracy of one binary prediction (CascadePSP's per-image mBA), in [0, 1]; NaN if the GT has no edge.

    Mean boundary accuracy (Cheng et al., "CascadePSP", CVPR 2020, ``util/compute_boundary_acc.py``): for each
    radius r of :func:`mba_radii`, the band is the morphological gradient (dilation minus erosion) of the GT with a
    disc of diameter 2r + 1 (OpenCV elliptic kernel), i.e. the pixels within about r of the GT contour, and the
    accuracy is the fraction of band pixels where the binary prediction equals the GT. The per-radius accuracies
    are averaged. A GT with a single label has an empty band: the value is undefined and NaN is returned
    (:class:`MBA` leaves such images out of its mean).
    """
    pred_mask = np.asarray(pred_mask, dtype=bool)
    gt_mask = np.asarray(gt_mask, dtype=bool)
    if pred_mask.shape != gt_mask.shape:
        raise ValueError(f"shape mismatch: {pred_mask.shape} vs {gt_mask.shape}")
    gt_u8 = gt_mask.astype(np.uint8)
    correct = pred_mask == gt_mask
    accuracies = []
    for r in mba_radii(*gt_mask.shape, num_steps=num_steps):
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        band = cv2.morphologyEx(gt_u8, cv2.MORPH_GRADIENT, disc) > 0
        if not band.any():
            return math.nan
        accuracies.append(correct[band].mean())
    return float(np.mean(accuracies))


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
        self._values.append(boundary_displacement_error(pair.pred_binary, pair.gt))

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
        value = boundary_accuracy(pair.pred_binary, pair.gt, self.num_steps)
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

    def __init__(self, *, boundary: bool = True, metrics=None):
        """Computes the result keys `metrics` (names as `metric_keys` takes them; default: the ``sod`` set) and the
        PR curve; ``boundary=False`` skips BDE and mBA, the slow ones at 4K. Keys not computed are NaN."""
        self.boundary = boundary
        keys = set(metric_keys(metrics or ("sod",)))
        if not boundary:
            keys -= {"BDE", "mBA"}
        self.keys = tuple(key for key in RESULT_KEYS if key in keys)
        self.dataset_pr = DatasetPR()  # always: the PR curve of plots and JSON
        self._metrics: list[_Metric] = [self.dataset_pr] + [
            cls() for cls in (Fmeasure, Smeasure, MAE, Emeasure, WeightedFmeasure, BDE, MBA, HCE)
            if keys & set(cls.KEYS)]
        self.num_images = 0

    def step(self, pred: np.ndarray, gt: np.ndarray) -> None:
        """Add one image pair; dtypes as in the module docstring."""
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
