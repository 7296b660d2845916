"""Dense CRF post-processing of a saliency map with DSS's parameters: the "+crf" rows of the paper's Table 4.

The paper (Sec. 5.3.1, "LRN, GLFN vs CRF") post-processes the GSN's and the GSN+APS+LRN's maps with the fully
connected CRF of Krähenbühl and Koltun [19], "the parameters set as in [14]", DSS (Hou et al., CVPR 2017). DSS's
CRF code (houqb/dss_crf at 91ac933, examples/dense_hsal.py:23-55) does, on an 8-bit map A / 255 and the image:

    unary, 2 labels:  E_0 = -log(1 - A + eps) / (tau * sigmoid(1 - A)),  E_1 = -log(A + eps) / (tau * sigmoid(A))
                      eps = 1e-8, tau = 1.05                                                       (:23, :31-41)
    pairwise:         Gaussian, sxy = 3, compat = 3; bilateral, sxy = 60, srgb = 5, compat = 5       (:45-46)
    inference:        1 mean-field iteration; the result is Q(salient)                               (:49-50)

It runs on pydensecrf, the Python binding of Krähenbühl's C++ code; `pydensecrf2` is its maintained fork (the
same C++ permutohedral lattice, diffed against dss_crf's copy: only a Windows `round` shim differs). DSS reads the
image with OpenCV (BGR); the bilateral kernel treats the three channels alike, so RGB gives the same result.

The CRF is iterative inference on the host (NumPy in, NumPy out), not a TF op, so it stays outside the
pipeline's graph: `SaliencyPipeline.predict_variants` computes a "+crf" variant from the graph's output, and a
SavedModel export (a graph) does not hold it. Where the evaluation or `predict.py` asks for one, this runs.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from hrsod_tf.extras import import_optional


@dataclasses.dataclass(frozen=True)
class CRFParameters:
    """The dense CRF's settings; the defaults are DSS's (see the module docstring)."""

    tau: float = 1.05
    epsilon: float = 1e-8
    gaussian_sxy: float = 3.0
    gaussian_compat: float = 3.0
    bilateral_sxy: float = 60.0
    bilateral_srgb: float = 5.0
    bilateral_compat: float = 5.0
    iterations: int = 1


DSS_CRF = CRFParameters()


def _densecrf():
    # Imported on use: only the two CRF variants need the compiled extension (a source build, see requirements.txt).
    return import_optional("pydensecrf.densecrf", "for the +crf variants (it builds with a C++ compiler)")


def crf_available() -> bool:
    """Whether the dense CRF package is installed (the "+crf" variants can run)."""
    try:
        _densecrf()
    except ImportError:
        return False
    return True


def _unary(saliency, shape, parameters: CRFParameters) -> np.ndarray:
    """DSS's unary energies of a map (see the module docstring): float32 [2, H * W], C-contiguous."""
    levels = np.floor(255.0 * np.clip(np.asarray(saliency, np.float64).reshape(shape), 0.0, 1.0) + 0.5)
    normed = levels / 255.0
    p = parameters

    def sigmoid(x):
        return 1.0 / (1.0 + np.exp(-x))

    unary = np.stack([
        -np.log(1.0 - normed + p.epsilon) / (p.tau * sigmoid(1.0 - normed)),
        -np.log(normed + p.epsilon) / (p.tau * sigmoid(normed)),
    ]).reshape(2, -1).astype(np.float32)
    return np.ascontiguousarray(unary)


def dense_crf_maps(image, saliencies, parameters: CRFParameters = DSS_CRF) -> list[np.ndarray]:
    """`dense_crf` of several maps of one image, the CRF's pairwise terms built once for all of them.

    The pairwise terms depend on the image alone, and building them (the permutohedral lattices of the Gaussian
    and the bilateral kernel) is most of a CRF's time; each map then only sets its unary energies and runs the
    inference, which starts from them. The results equal separate `dense_crf` calls.

    Args:
        image: uint8 [H, W, 3] RGB.
        saliencies: maps, each [H, W] or [H, W, 1] in [0, 1] (quantised to 8 bits first, as in `dense_crf`).
        parameters: DSS's by default.
    Returns:
        float32 [H, W] in [0, 1] per map, in order.
    """
    densecrf = _densecrf()
    image = np.require(np.asarray(image, np.uint8), requirements=["C", "W"])  # a writable C array for pydensecrf
    height, width = image.shape[:2]
    p = parameters
    crf = densecrf.DenseCRF2D(width, height, 2)
    crf.addPairwiseGaussian(sxy=p.gaussian_sxy, compat=p.gaussian_compat)
    crf.addPairwiseBilateral(sxy=p.bilateral_sxy, srgb=p.bilateral_srgb, rgbim=image, compat=p.bilateral_compat)
    marginals = []
    for saliency in saliencies:
        crf.setUnaryEnergy(_unary(saliency, (height, width), p))  # replaces the previous map's
        marginals.append(np.asarray(crf.inference(p.iterations), np.float32)[1].reshape(height, width))
    return marginals


def dense_crf(image, saliency, parameters: CRFParameters = DSS_CRF) -> np.ndarray:
    """The dense CRF's salient-class marginal for one image.

    Args:
        image: uint8 [H, W, 3] RGB.
        saliency: [H, W] or [H, W, 1] in [0, 1]; quantised to 8 bits first, as DSS reads its maps from PNGs.
        parameters: DSS's by default.
    Returns:
        float32 [H, W] in [0, 1].
    """
    return dense_crf_maps(image, [saliency], parameters)[0]
