"""The folder evaluation (hrsod_tf.evaluation.folders), its reports and plots, and the evaluate.py command line."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import command_module

from hrsod_tf import image_io
from hrsod_tf.evaluation import folders as evaluation
from hrsod_tf.evaluation import plots
from hrsod_tf.evaluation.metrics import boundary_displacement_error

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "pysodmetrics"  # the known answers, in every clone

# expected.json key -> our metric key
PYSODMETRICS_KEYS = {
    "Smeasure": "S_measure",
    "MAE": "MAE",
    "wFmeasure": "weighted_F",
    "adpFm": "Fbeta_adaptive",
    "meanFm": "Fbeta_mean",
    "maxFm": "Fbeta_max",
    "adpEm": "E_measure_adaptive",
    "meanEm": "E_measure_mean",
    "maxEm": "E_measure_max",
}


def _load_cli():
    """`hrsod evaluate`'s module, to call main() in-process where a subprocess would only cost time."""
    return command_module("evaluate")


def run_cli(*args, cwd=REPO):
    return subprocess.run(
        [sys.executable, str(REPO / "evaluate.py"), "--no-progress", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _disk(size=(60, 80), radius=18, value=255):
    h, w = size
    yy, xx = np.mgrid[:h, :w]
    return np.where((yy - h / 2) ** 2 + (xx - w / 2) ** 2 < radius**2, value, 0).astype(np.uint8)


@pytest.fixture
def folders(tmp_path):
    """GT masks a, b, c, d; maps: a (exact), c (corrupt file), d (JPEG, half size); b has no map."""
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    for stem in "abcd":
        cv2.imwrite(str(gt_dir / f"{stem}.png"), _disk())
    cv2.imwrite(str(pred_dir / "a.png"), _disk())
    (pred_dir / "c.png").write_bytes(b"this is not a PNG")
    cv2.imwrite(str(pred_dir / "d.jpg"), cv2.resize(_disk(), (40, 30), interpolation=cv2.INTER_AREA))
    cv2.imwrite(str(pred_dir / "orphan.png"), _disk())  # no GT: ignored
    return pred_dir, gt_dir


def test_cli_reproduces_pysodmetrics_known_answers(tmp_path):
    out = tmp_path / "out.json"
    proc = run_cli("--pred-dir", FIXTURES / "preds", "--gt-dir", FIXTURES / "masks", "--json", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (result,) = json.loads(out.read_text()).values()
    expected = json.loads((FIXTURES / "expected.json").read_text())["values"]
    assert result["num_images"] == 3 and result["num_missing"] == 0
    for theirs, ours in PYSODMETRICS_KEYS.items():
        assert result["metrics"][ours] == pytest.approx(expected[theirs], abs=1e-6), ours
    assert "S" in proc.stdout and "MAE" in proc.stdout  # the table went to the terminal


def test_missing_and_unreadable_maps_are_listed_and_counted(folders, tmp_path, capsys):
    pred_dir, gt_dir = folders
    out = tmp_path / "res.json"
    argv = ["--pred-dir", str(pred_dir), "--gt-dir", str(gt_dir), "--name", "m", "--json", str(out), "--no-progress"]
    assert _load_cli().main(argv) == 0
    stderr = capsys.readouterr().err
    res = json.loads(out.read_text())["m"]
    assert res["num_images"] == 2  # a and d
    assert (res["num_missing"], res["missing"]) == (1, ["b"])
    assert (res["num_unreadable"], res["unreadable"]) == (1, ["c.png"])
    assert "b" in stderr and "c.png" in stderr
    assert set(res["pr_curve"]) == {"thresholds", "precision", "recall"} and len(res["pr_curve"]["recall"]) == 256


def test_strict_makes_missing_or_unreadable_maps_an_error(folders, capsys):
    pred_dir, gt_dir = folders
    code = _load_cli().main(["--pred-dir", str(pred_dir), "--gt-dir", str(gt_dir), "--strict", "--no-progress"])
    err = capsys.readouterr().err
    assert code != 0
    assert "1 missing map(s): b" in err
    (pred_dir / "b.png").write_bytes(cv2.imencode(".png", _disk())[1].tobytes())
    with pytest.raises(evaluation.EvaluationError, match="c.png") as info:
        evaluation.evaluate_folders(pred_dir, gt_dir, strict=True, progress=False)
    assert info.value.unreadable == ["c.png"]


def test_missing_directory_is_a_clean_error(tmp_path, capsys):
    # main() returns the status instead of raising: no traceback reaches the user.
    code = _load_cli().main(["--pred-dir", str(tmp_path / "nope"), "--gt-dir", str(tmp_path)])
    assert code == 2
    assert "not a directory" in capsys.readouterr().err


def test_map_of_another_size_is_resized_to_its_gt(tmp_path):
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir(), pred_dir.mkdir()
    gt = _disk((120, 160), radius=36)
    cv2.imwrite(str(gt_dir / "x.png"), gt)
    cv2.imwrite(str(pred_dir / "x.png"), cv2.resize(gt, (80, 60), interpolation=cv2.INTER_AREA))
    res = evaluation.evaluate_folders(pred_dir, gt_dir, progress=False)
    assert res.num_images == 1
    assert res.metrics["S_measure"] > 0.95 and res.metrics["MAE"] < 0.02 and res.metrics["BDE"] < 2


def test_sixteen_bit_maps_are_scaled_properly(tmp_path):
    map16 = _disk().astype(np.uint16) * 257
    cv2.imwrite(str(tmp_path / "m.png"), map16)
    read = image_io.read_map(tmp_path / "m.png")
    assert read.dtype == np.float64 and read.max() == 1.0
    np.testing.assert_allclose(read, _disk() / 255)


def test_evaluate_arrays_matches_folder_evaluation(folders):
    pred_dir, gt_dir = folders
    from_files = evaluation.evaluate_folders(pred_dir, gt_dir, progress=False)
    pairs = [
        (image_io.read_map(pred_dir / "a.png"), _disk()),
        (image_io.read_map(pred_dir / "d.jpg"), _disk()),  # smaller: resized inside
    ]
    in_memory = evaluation.evaluate_arrays(iter(pairs))
    assert in_memory.num_images == 2 and in_memory.missing == []
    for key, value in from_files.metrics.items():
        assert in_memory.metrics[key] == pytest.approx(value, nan_ok=True), key


def test_table_json_and_plots_for_several_methods(tmp_path):
    good = evaluation.evaluate_arrays([(_disk(), _disk())])
    blurred = evaluation.evaluate_arrays([(cv2.GaussianBlur(_disk(), (0, 0), 4), _disk())])
    results = {"GSN": blurred, "GSN+APS+LRN+GLFN": good}

    table = evaluation.format_table(results)
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["method", "N", "maxF(PR)"] and len(lines) == 4
    assert lines[3].startswith("GSN+APS+LRN+GLFN")

    path = evaluation.write_json(results, tmp_path / "sub" / "all.json")
    loaded = json.loads(path.read_text())
    assert list(loaded) == ["GSN", "GSN+APS+LRN+GLFN"]
    assert loaded["GSN+APS+LRN+GLFN"]["metrics"]["MAE"] == 0
    assert evaluation.format_table(loaded) == table  # the JSON form prints the same table

    pr_png = plots.plot_pr_curves(results, tmp_path / "pr.png", title="synthetic")
    grid_png = plots.plot_example_grid(
        images=[np.dstack([_disk()] * 3)] * 2,
        gts=[_disk()] * 2,
        maps={"GSN": [cv2.GaussianBlur(_disk(), (0, 0), 4)] * 2, "ours": [_disk() / 255.0] * 2},
        path=tmp_path / "grid.png",
        row_labels=["one", "two"],
    )
    for png in (pr_png, grid_png):
        img = cv2.imread(str(png))
        assert img is not None and img.shape[0] > 100


def test_figure_9_has_two_panels_of_one_line_per_sampler(tmp_path):
    curves = {"APS": {"S_measure": [0.90, 0.91, 0.92, 0.92, 0.92], "MAE": [0.05, 0.04, 0.04, 0.04, 0.04]},
              "random": {"S_measure": [0.88, 0.89, 0.90, 0.91, 0.92], "MAE": [0.06, 0.05, 0.05, 0.04, 0.04]}}
    png = plots.plot_patch_count((1, 2, 4, 8, 16), curves, tmp_path / "fig9.png", title="synthetic")
    image = cv2.imread(str(png))
    assert image is not None and image.shape[1] > 1.5 * image.shape[0]  # two panels side by side


def test_map_folder_of_a_paper_data_set_is_found_under_either_name(tmp_path):
    cli = _load_cli()
    (tmp_path / "HRSOD-Test").mkdir()
    assert cli.map_folder(tmp_path, "hrsod", only_one=False) == tmp_path / "HRSOD-Test"
    (tmp_path / "hrsod").mkdir()
    assert cli.map_folder(tmp_path, "hrsod", only_one=False) == tmp_path / "hrsod"
    with pytest.raises(evaluation.EvaluationError, match="looked for the folder .*davis_s or .*DAVIS-S"):
        cli.map_folder(tmp_path, "davis_s", only_one=False)


def test_unknown_metric_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        _load_cli().main(["--pred-dir", str(tmp_path), "--gt-dir", str(tmp_path), "--metrics", "maxF"])
    assert "unknown metric 'maxF'" in capsys.readouterr().err


def test_paper_table_2_keeps_the_rows_of_earlier_runs_into_the_same_report(tmp_path, capsys):
    gt = np.zeros((40, 60), np.uint8)
    gt[10:30, 15:45] = 255
    for name in ("HRSOD-Test", "DAVIS-S"):  # GT folders named as the paper's data sets fill their columns
        for folder, picture in (("gt", gt), ("maps", np.roll(gt, 2, axis=1))):
            (tmp_path / folder / name).mkdir(parents=True)
            cv2.imwrite(str(tmp_path / folder / name / "a.png"), picture)
    cli = _load_cli()
    for name, row in (("HRSOD-Test", "first"), ("DAVIS-S", "second")):
        assert cli.main(["--pred-dir", str(tmp_path / "maps" / name), "--gt-dir", str(tmp_path / "gt" / name),
                         "--name", row, "--paper-table", "2", "--report", str(tmp_path / "report"),
                         "--no-progress"]) == 0
    table = (tmp_path / "report" / "paper_table2.md").read_text(encoding="utf-8")
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table.splitlines() if line.startswith("| ")}
    assert "measured" in rows["first"] and "measured" in rows["second"]
    assert rows["Ours"].startswith("| Ours | quoted (paper, Table 2) | 17.57 | 8.18 |")
    bde = f"{boundary_displacement_error(np.roll(gt, 2, axis=1) > 127, gt > 127):.2f}"  # a 2-pixel shift
    assert rows["first"].endswith(f"| measured | {bde} | – |") and rows["second"].endswith(f"| measured | – | {bde} |")
    assert table in capsys.readouterr().out
