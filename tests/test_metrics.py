"""Known-answer tests of the evaluation protocol in hrsod_tf.evaluation.metrics."""

import ast
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from hrsod_tf.evaluation import metrics
from hrsod_tf.evaluation.metrics import (
    BDE,
    MBA,
    RESULT_KEYS,
    DatasetPR,
    Fmeasure,
    SODEvaluator,
    boundary_accuracy,
    boundary_displacement_error,
    mba_radii,
)


def _disk_mask(size=64, radius=20):
    yy, xx = np.mgrid[:size, :size]
    return np.where((yy - size / 2) ** 2 + (xx - size / 2) ** 2 < radius**2, 255, 0).astype(np.uint8)


def _left_columns(height, width, num_fg_cols):
    """A mask whose first ``num_fg_cols`` columns are foreground: a straight vertical edge."""
    mask = np.zeros((height, width), dtype=bool)
    mask[:, :num_fg_cols] = True
    return mask


def test_results_have_exactly_the_documented_keys():
    ev = SODEvaluator()
    ev.step(_disk_mask(), _disk_mask())
    assert tuple(ev.results()) == RESULT_KEYS


def test_perfect_prediction_gives_mae_0_s_1_bde_0_mba_1():
    gt = _disk_mask()
    ev = SODEvaluator()
    ev.step(gt.copy(), gt)  # uint8 map
    ev.step(gt.astype(np.float64) / 255, gt)  # the same map as float in [0, 1]
    res = ev.results()
    assert res["MAE"] == 0
    assert res["S_measure"] == pytest.approx(1.0)
    assert res["BDE"] == 0
    assert res["mBA"] == 1
    assert res["Fbeta_max"] == pytest.approx(1.0)
    assert res["Fbeta_max_dataset_pr"] == pytest.approx(1.0)


def test_bde_of_shifted_straight_edge_is_known():
    # 10x10; GT foreground = columns 0..4, prediction = columns 0..6.
    # Boundaries (pixels with a 4-neighbour of the other label): GT columns {4, 5}, prediction columns {6, 7}.
    # pred -> GT: column 6 is 1 px from column 5, column 7 is 2 px: mean 1.5.
    # GT -> pred: column 4 is 2 px from column 6, column 5 is 1 px: mean 1.5.  BDE = (1.5 + 1.5) / 2 = 1.5.
    gt = _left_columns(10, 10, 5)
    pred = _left_columns(10, 10, 7)
    assert boundary_displacement_error(pred, gt) == pytest.approx(1.5)
    assert boundary_displacement_error(gt, pred) == pytest.approx(1.5)  # symmetric


def test_bde_edge_cases_use_the_image_frame_as_boundary():
    empty = np.zeros((10, 10), dtype=bool)
    assert boundary_displacement_error(empty, empty) == 0
    assert boundary_displacement_error(~empty, empty) == 0  # all-foreground vs all-background: same frame
    # Empty prediction vs GT columns 0..4 (boundary columns {4, 5}, 20 px); the prediction's boundary is the
    # 36-pixel frame.
    # frame -> GT: top row distances 4,3,2,1,0,0,1,2,3,4 (sum 20), bottom row the same (20), the 8 remaining
    #   pixels of each side column are 4 px away (2 * 32): total 104 over 36 px = 26/9.
    # GT -> frame: min(row, 9 - row, distance to the side) = 0,1,2,3,4,4,3,2,1,0 per column (sum 20),
    #   two columns: 40 over 20 px = 2.
    # BDE = (26/9 + 2) / 2 = 22/9.
    gt = _left_columns(10, 10, 5)
    assert boundary_displacement_error(empty, gt) == pytest.approx(22 / 9)


def test_bde_metric_binarises_prediction_at_half_and_averages_images():
    gt = _left_columns(10, 10, 5).astype(np.uint8) * 255
    pred = _left_columns(10, 10, 7).astype(np.float64) * 0.6  # 0.6 >= 0.5: salient
    bde = BDE()
    bde.step(pred, gt)  # 1.5 (see above)
    bde.step(gt, gt)  # 0
    assert bde.get_results()["BDE"] == pytest.approx(0.75)


def test_mba_radii_follow_cascadepsp():
    # r_max = (H + W) / 300; r_i = 1 + int((r_max - 1) * i / 5).
    assert mba_radii(1080, 1920) == [1, 2, 4, 6, 8]  # r_max = 10
    assert mba_radii(450, 450) == [1, 1, 1, 2, 2]  # r_max = 3
    assert mba_radii(10, 10) == [1] * 5  # tiny images: radius 1


def test_mba_of_straight_edge_is_known_small_image():
    # 10x10, all five radii are 1. The radius-1 band (gradient with the 3x3 cross) around the GT edge between
    # columns 4 and 5 is columns {4, 5}. The prediction (columns 0..5) is right on column 4 and wrong on column 5:
    # accuracy 1/2 at every radius, mBA = 0.5.
    gt = _left_columns(10, 10, 5)
    pred = _left_columns(10, 10, 6)
    assert boundary_accuracy(pred, gt) == pytest.approx(0.5)


def test_mba_of_straight_edge_is_known_two_radii():
    # 450x450: radii 1, 1, 1, 2, 2. GT edge between columns 224 and 225; the prediction adds column 225.
    # r = 1: band columns {224, 225}, one wrong column of two -> 1/2.
    # r = 2: band columns {223..226} (the 5x5 OpenCV ellipse reaches 2 px sideways), one wrong of four -> 3/4.
    # mBA = (3 * 1/2 + 2 * 3/4) / 5 = 0.6.
    gt = _left_columns(450, 450, 225)
    pred = _left_columns(450, 450, 226)
    assert boundary_accuracy(pred, gt) == pytest.approx(0.6)


def test_mba_skips_images_without_gt_boundary():
    empty = np.zeros((10, 10), dtype=np.uint8)
    assert math.isnan(boundary_accuracy(empty, empty))
    mba = MBA()
    mba.step(empty, empty)
    assert math.isnan(mba.get_results()["mBA"]) and mba.num_skipped == 1
    gt = _left_columns(10, 10, 5).astype(np.uint8) * 255
    mba.step(_left_columns(10, 10, 6).astype(np.uint8) * 255, gt)
    assert mba.get_results()["mBA"] == pytest.approx(0.5) and mba.num_skipped == 1


def test_dataset_pr_takes_f_from_mean_curves_not_mean_of_f_curves():
    # Two 1x2 images, beta^2 = 0.3, thresholds t = 0..255 (salient when value >= t).
    # A: gt [1, 0], pred [255, 0]. t = 0: P = 1/2, R = 1;  t >= 1: P = 1, R = 1.
    # B: gt [1, 1], pred [255, 0]. t = 0: P = 1,   R = 1;  t >= 1: P = 1, R = 1/2.
    # Dataset-mean curve: t = 0: P = 3/4, R = 1 -> F = 1.3 * 0.75 / (0.225 + 1)  = 0.7959
    #                     t >= 1: P = 1, R = 3/4 -> F = 1.3 * 0.75 / (0.3 + 0.75) = 13/14 = 0.9286  <- max
    # Per-image F curves: A: 0.5652 then 1; B: 1 then 1.3 * 0.5 / 0.8 = 0.8125.
    #   Their mean: 0.7826 then 0.90625 -> Fbeta_max = 29/32 (the pysodmetrics "maxFm").
    #   (The mean of per-image maxima would be 1: a third, different number.)
    gt_a, pred_a = np.array([[255, 0]], np.uint8), np.array([[255, 0]], np.uint8)
    gt_b, pred_b = np.array([[255, 255]], np.uint8), np.array([[255, 0]], np.uint8)
    pr, fm = DatasetPR(), Fmeasure()
    for pred, gt in ((pred_a, gt_a), (pred_b, gt_b)):
        pr.step(pred, gt)
        fm.step(pred, gt)
    assert pr.get_results()["Fbeta_max_dataset_pr"] == pytest.approx(13 / 14)
    assert fm.get_results()["Fbeta_max"] == pytest.approx(29 / 32)
    curve = pr.curve()
    assert list(curve.thresholds[:2]) == [0, 1] and len(curve.thresholds) == 256
    np.testing.assert_allclose(curve.precision[[0, 1, 255]], [0.75, 1, 1])
    np.testing.assert_allclose(curve.recall[[0, 1, 255]], [1, 0.75, 0.75])


def test_prepare_accepts_documented_dtypes_and_rejects_bad_input():
    gt = _disk_mask()
    a = metrics.prepare(gt, gt)
    b = metrics.prepare(gt.astype(np.uint16) * 257, gt)  # 16-bit map
    np.testing.assert_allclose(a.pred, b.pred)
    assert a.gt.dtype == bool and a.gt.sum() == (gt > 128).sum()
    with pytest.raises(ValueError, match="shape mismatch"):
        metrics.prepare(gt[:10], gt)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        metrics.prepare(gt.astype(np.float32), gt)  # a float map in 0..255 is a caller bug


def test_empty_evaluator_reports_nan():
    res = SODEvaluator().results()
    assert tuple(res) == RESULT_KEYS and all(math.isnan(v) for v in res.values())


def test_evaluation_modules_do_not_import_tensorflow():
    # Evaluation must run where TensorFlow is absent: the folder evaluation, its metrics and plots, and every
    # hrsod_tf module they import in turn. Checked on the source (a fresh interpreter costs seconds).
    root = Path(metrics.__file__).parents[2]

    def imports_of(module: str) -> set[str]:
        path = root / (module.replace(".", "/") + ".py")
        path = path if path.is_file() else path.with_suffix("") / "__init__.py"
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        return found

    seen, todo = set(), ["hrsod_tf.evaluation.metrics", "hrsod_tf.evaluation.folders", "hrsod_tf.evaluation.plots"]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        for name in imports_of(module):
            assert name.split(".")[0] not in ("tensorflow", "keras"), f"{module} imports {name}"
            parts = name.split(".")
            for end in range(1, len(parts) + 1):  # the module and the packages it sits in
                candidate = ".".join(parts[:end])
                if parts[0] == "hrsod_tf" and ((root / candidate.replace(".", "/")).with_suffix(".py").is_file()
                                               or (root / candidate.replace(".", "/") / "__init__.py").is_file()):
                    todo.append(candidate)
    assert {"hrsod_tf.image_io", "hrsod_tf.files"} <= seen


def test_dis_set_computes_its_six_metrics_only_and_hce_is_pysodmetrics_on_the_binary_map():
    import py_sod_metrics

    gt = _disk_mask()
    pred = gt.copy()
    pred[:, :28] = 0  # a third of the disk missing: corrections needed
    ev = SODEvaluator(metrics=["dis"])
    ev.step(pred, gt)
    results = ev.results()
    computed = {key for key, value in results.items() if not math.isnan(value)}
    assert computed == {"Fbeta_max", "weighted_F", "MAE", "S_measure", "E_measure_mean", "HCE"}
    reference = py_sod_metrics.HumanCorrectionEffortMeasure()
    reference.step(pred, gt)
    assert results["HCE"] == pytest.approx(float(reference.get_results()["hce"])) and results["HCE"] > 0
    perfect = SODEvaluator(metrics=["HCE"])
    perfect.step(gt, gt)
    assert perfect.results()["HCE"] == 0


def test_metric_names_expand_sets_and_keys_and_refuse_unknown_ones():
    assert metrics.metric_keys(["paper"]) == ("Fbeta_adaptive", "S_measure", "MAE", "BDE")
    assert metrics.metric_keys(["MAE", "HCE"]) == ("MAE", "HCE")
    assert "HCE" not in metrics.metric_keys(["sod"]) and len(metrics.metric_keys(["sod"])) == len(RESULT_KEYS) - 1
    with pytest.raises(ValueError, match="unknown metric 'maxF'.*sod, dis, paper"):
        metrics.metric_keys(["maxF"])


def _masks_and_maps(rng):
    """Ground truths with their edge cases (touching the border, one pixel, empty, full) and maps of each."""
    disk = _disk_mask(48, 15)
    corner = np.zeros((40, 56), np.uint8)
    corner[:25, 30:] = 255  # touches the top and right borders
    dot = np.zeros((30, 30), np.uint8)
    dot[12, 17] = 255
    for gt in (disk, corner, dot, np.zeros_like(dot), np.full_like(dot, 255)):
        soft = cv2.GaussianBlur(gt.astype(np.float32), (0, 0), 3) / 255
        maps = [soft, np.clip(soft + rng.normal(0, 0.2, gt.shape), 0, 1), (rng.random(gt.shape) * 255).astype(np.uint8),
                np.roll(gt, 5, axis=1), gt.copy(), np.zeros_like(gt), np.full(gt.shape, 0.3)]
        yield gt, maps


def test_maps_sharing_a_ground_truth_get_the_values_of_pysodmetrics_image_by_image():
    # The shared computation (one histogram per map for F, PR and E; one distance transform, boundary and band set
    # per mask) against each metric computed alone, the standard ones by pysodmetrics' own step.
    shared, alone = SODEvaluator(metrics=["sod", "HCE"]), SODEvaluator(metrics=["sod", "HCE"], shared=False)
    for gt, maps in _masks_and_maps(np.random.default_rng(0)):
        truth = metrics.GroundTruth(gt)
        for pred in maps:
            shared.step(pred, truth)
            alone.step(pred, gt)
    ours, reference = shared.results(), alone.results()
    assert not any(math.isnan(value) for value in reference.values())
    for key in RESULT_KEYS:
        # BDE: OpenCV's exact distance transform gives float32 distances that differ by one ulp from call to
        # call (it did before the sharing too), so BDE repeats itself to float32 precision only.
        tolerance = {"rel": 1e-6} if key == "BDE" else {"rel": 0, "abs": 1e-12}
        assert ours[key] == pytest.approx(reference[key], **tolerance), key
    for name in ("precision", "recall"):
        np.testing.assert_allclose(getattr(shared.pr_curve(), name), getattr(alone.pr_curve(), name), atol=1e-12)


def test_what_a_ground_truth_gives_the_metrics_is_computed_once_for_all_its_maps(monkeypatch):
    calls = []
    transform = metrics.distance_transform_edt
    monkeypatch.setattr(metrics, "distance_transform_edt", lambda *a, **k: calls.append(1) or transform(*a, **k))
    gt = _disk_mask()
    truth, evaluator = metrics.GroundTruth(gt), SODEvaluator()
    for shift in range(4):
        evaluator.step(np.roll(gt, shift, axis=0), truth)
    assert len(calls) == 1
    evaluator.step(gt, gt)  # a plain mask: a GroundTruth of its own
    assert len(calls) == 2
