"""evaluate.py --workdir: the trained pipeline on a folder data set, every variant; JSON, maps, report."""

import contextlib
import io
import json
import types
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import command_module

from hrsod_tf.data.synthetic import save_scene_files
from hrsod_tf.evaluation import folders as evaluation
from hrsod_tf.evaluation import variant_report
from hrsod_tf.models.stage_networks import STAGE_BUILDERS
from hrsod_tf.pipeline.networks import PipelineNetworks
from hrsod_tf.pipeline.variants import VARIANT_STAGES, stages_for_variant
from hrsod_tf.pipeline.variants import VARIANTS as ALL_VARIANTS
from hrsod_tf.workdir import ALL_STAGES, STAGES, make_random_workdir

pytestmark = pytest.mark.slow  # every test here trains, exports, or runs a subprocess or a video

VARIANTS = list(variant_report.TABLE4_VARIANTS)  # the paper's six rows, the CRF ones included




@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """(work directory, folder data set spec, {stem: (height, width)})."""
    root = tmp_path_factory.mktemp("evaluate_workdir")
    workdir = make_random_workdir(root / "run")
    pairs = save_scene_files(str(root / "data"), "test", 3, min_side=160, max_side=256)
    sizes = {Path(image).stem: cv2.imread(mask, cv2.IMREAD_GRAYSCALE).shape for image, mask in pairs}
    return workdir, f"folders:{root / 'data' / 'images'},{root / 'data' / 'masks'}", sizes


@pytest.fixture(scope="module")
def full_run(setup, tmp_path_factory):
    """One evaluate.py --workdir run with every output; returns (output folder, stdout, exit status)."""
    workdir, dataset, _ = setup
    out = tmp_path_factory.mktemp("outputs")
    cli = command_module("evaluate")
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = cli.main(["--workdir", str(workdir.root), "--dataset", dataset, "--no-progress",
                           "--save-maps", str(out / "maps"), "--json", str(out / "results.json"),
                           "--plot", str(out / "plots"), "--report", str(out / "report")])
    return out, stdout.getvalue(), status


def test_json_has_one_entry_per_variant(full_run, setup):
    out, _, status = full_run
    assert status == 0
    results = json.loads((out / "results.json").read_text())
    assert list(results) == VARIANTS
    for result in results.values():
        assert result["num_images"] == 3
        assert set(result) >= {"num_images", "metrics", "pr_curve"}
        assert 0.0 <= result["metrics"]["MAE"] <= 1.0


def test_table_rows_and_the_random_patch_footnote(full_run):
    _, stdout, _ = full_run
    for variant in ("gsn ", "gsn+rps+lrn*", "gsn+aps+lrn ", "full "):
        assert variant in stdout
    assert "APS-trained LRN on random patches" in stdout


def test_report_files(full_run):
    out, _, _ = full_run
    report = out / "report"
    assert sorted(p.name for p in report.iterdir()) == ["examples.png", "pr_curves.png", "report.md", "results.json"]
    assert json.loads((report / "results.json").read_text()) == json.loads((out / "results.json").read_text())
    markdown = (report / "report.md").read_text()
    assert "| GSN+APS+LRN+GLFN (`full`) | 3 |" in markdown and "APS-trained LRN on random patches" in markdown
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["examples.png", "pr_curve.png"]


def test_save_maps_writes_8_bit_maps_per_variant_at_the_image_size(full_run, setup):
    out, _, _ = full_run
    _, _, sizes = setup
    for variant in VARIANTS:
        maps = {p.stem: cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in (out / "maps" / variant).iterdir()}
        assert {stem: m.shape for stem, m in maps.items()} == sizes
        assert all(m.dtype == np.uint8 for m in maps.values())


def test_saved_maps_evaluate_to_the_same_numbers(full_run, setup):
    out, _, _ = full_run
    _, dataset, _ = setup
    mask_dir = dataset.split(",")[1]
    again = evaluation.evaluate_folders(out / "maps" / "full", mask_dir, progress=False)
    expected = json.loads((out / "results.json").read_text())["full"]["metrics"]
    for key, value in again.to_dict()["metrics"].items():
        assert value == pytest.approx(expected[key], abs=1e-9), key


def test_save_maps_refuses_a_folder_with_maps_in_it(full_run, setup, capsys):
    out, _, _ = full_run
    workdir, dataset, _ = setup
    before = sorted((out / "maps" / "gsn").iterdir())
    status = command_module("evaluate").main(["--workdir", str(workdir.root), "--dataset", dataset, "--no-progress",
                               "--variants", "gsn", "--save-maps", str(out / "maps")])
    assert status == 2
    err = capsys.readouterr().err
    assert "--overwrite" in err and "Traceback" not in err
    assert sorted((out / "maps" / "gsn").iterdir()) == before


def test_variants_and_limit(setup, tmp_path, capsys):
    workdir, dataset, _ = setup
    status = command_module("evaluate").main(["--workdir", str(workdir.root), "--dataset", dataset, "--no-progress",
                               "--variants", "gsn", "--limit", "2", "--json", str(tmp_path / "r.json")])
    assert status == 0
    results = json.loads((tmp_path / "r.json").read_text())
    assert list(results) == ["gsn"] and results["gsn"]["num_images"] == 2
    assert "random patches" not in capsys.readouterr().out


def test_a_run_without_a_trained_stage_names_the_command_to_train_it(setup, tmp_path, capsys):
    _, dataset, _ = setup
    run = make_random_workdir(tmp_path / "gsn_only", stages=("gsn",))
    status = command_module("evaluate").main(["--workdir", str(run.root), "--dataset", dataset, "--variants", "full"])
    assert status == 2
    assert "train --stage" in capsys.readouterr().err


class _FakePipeline:
    """predict_variants of a constant-per-variant pipeline: no TensorFlow, instant."""

    rps_is_trained = True

    def predict_variants(self, image, variants):
        return {v: np.full(image.shape[:2] + (1,), 0.2 * (i + 1), np.float32) for i, v in enumerate(variants)}


def test_evaluate_pipeline_and_write_report_without_tensorflow(tmp_path):
    mask = np.zeros((20, 30, 1), np.uint8)
    mask[5:15, 10:20] = 255
    examples = [{"image": np.zeros((20, 30, 3), np.uint8), "mask": mask, "image/filename": f"im{i}.jpg"}
                for i in range(3)]
    run = variant_report.evaluate_pipeline(_FakePipeline(), examples, ["gsn", "full"], save_maps_dir=tmp_path / "maps",
                                       progress=False, num_examples=2)
    assert list(run.results) == ["gsn", "full"] and run.results["gsn"].num_images == 3
    # gsn map 0.2 everywhere; GT salient on 100 of 600 pixels: (500 * 0.2 + 100 * 0.8) / 600.
    assert run.results["gsn"].metrics["MAE"] == pytest.approx(0.3)
    assert [e.stem for e in run.examples] == ["im0", "im1"]
    assert cv2.imread(str(tmp_path / "maps" / "full" / "im2.png"), cv2.IMREAD_UNCHANGED)[0, 0] == 102
    written = run.write_report(tmp_path / "report", title="fake")
    assert sorted(written) == ["examples", "json", "markdown", "pr_curves"]
    assert "random patches" not in written["markdown"].read_text()


def test_runnable_variants_follow_the_trained_stages():
    def pipeline(lrn, glfn):
        return types.SimpleNamespace(networks=PipelineNetworks(gsn="gsn", lrn=lrn, glfn=glfn))

    assert variant_report.runnable_variants(pipeline(None, None)) == ["gsn", "gsn+crf"]
    assert variant_report.runnable_variants(pipeline("lrn", None)) == [
        "gsn", "gsn+crf", "gsn+rps+lrn", "gsn+aps+lrn", "gsn+aps+lrn+crf"]
    assert variant_report.runnable_variants(pipeline("lrn", "glfn")) == VARIANTS


def test_stage_and_variant_tables_cover_every_stage_and_variant():

    assert tuple(STAGE_BUILDERS) == ALL_STAGES
    assert set(VARIANT_STAGES) == set(ALL_VARIANTS)
    assert stages_for_variant("full") == STAGES and stages_for_variant("gsn") == ("gsn",)
    assert stages_for_variant("gsn+crf") == ("gsn",)
    with pytest.raises(ValueError, match="unknown variant"):
        stages_for_variant("gsn+glfn")


def test_two_data_sets_in_one_run_write_the_papers_table_1_with_our_rows_beside_its_quoted_ones(setup, tmp_path):
    workdir, dataset, _ = setup
    out = tmp_path / "out"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = command_module("evaluate").main([
            "--model", str(workdir.root), "--dataset", dataset, "synthetic:tiny", "--variants", "gsn", "full",
            "--paper-table", "1", "--report", str(out / "report"), "--json", str(out / "r.json"),
            "--save-maps", str(out / "maps"), "--no-boundary", "--no-progress", "--limit", "2"])
    assert status == 0
    table = (out / "report" / "paper_table1.md").read_text(encoding="utf-8")
    assert "| method | source | HRSOD-Test Fβ | HRSOD-Test S-m | HRSOD-Test MAE | DAVIS-S Fβ |" in table
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table.splitlines() if line.startswith("| ")}
    assert "measured" in rows["gsn"] and "measured" in rows["full"]
    assert "quoted (paper, Table 1)" in rows["Ours-DH"] and "| 0.888 | 0.897 | 0.030 |" in rows["Ours-DH"]
    assert len([r for r in rows.values() if "quoted" in r]) == 11
    assert "synthetic:tiny Fβ" in table and "| – |" in rows["gsn"]  # measured on two sets, not on the paper's five
    results = json.loads((out / "r.json").read_text())
    assert set(results) == {dataset, "synthetic:tiny"} and set(results["synthetic:tiny"]) == {"gsn", "full"}
    assert sorted(p.name for p in (out / "maps").iterdir()) == ["folders", "synthetic"]
    assert (out / "report" / "folders" / "report.md").is_file()
    assert table in stdout.getvalue()


def test_published_maps_of_several_data_sets_are_read_from_a_folder_each(setup, tmp_path, capsys):
    workdir, dataset, sizes = setup
    maps = tmp_path / "maps"
    (maps / "folders").mkdir(parents=True)
    for stem, shape in sizes.items():
        cv2.imwrite(str(maps / "folders" / f"{stem}.png"), np.full(shape, 200, np.uint8))
    cli = command_module("evaluate")
    assert cli.main(["--pred-dir", str(maps), "--dataset", dataset, "--no-progress", "--metrics", "MAE",
                     "--json", str(tmp_path / "r.json")]) == 0
    result = json.loads((tmp_path / "r.json").read_text())["maps"]
    assert result["num_images"] == 3 and result["metrics"]["MAE"] is not None
    assert result["metrics"]["S_measure"] is None  # only what --metrics asked for
    assert cli.main(["--pred-dir", str(maps), "--dataset", dataset, "hrsod_synthetic/tiny", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"no maps for --dataset hrsod_synthetic/tiny in {maps}" in err
    assert f"looked for the folder {maps / 'hrsod_synthetic'}. Put the maps" in err
