"""docs/make_demo_results.py: the demo's Table 4 over seeds and generators, and the claims' verdicts."""

import importlib.util
import json

import pytest
from helpers import REPO

from hrsod_tf.demo import DEMO_VARIANTS

spec = importlib.util.spec_from_file_location("make_demo_results", REPO / "docs" / "make_demo_results.py")
make_demo_results = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_demo_results)


def _write_run(runs, scenes, seed, s_full):
    """A finished demo's results.json: each row better than the one before, `full`'s S as given."""
    results = {v: {"metrics": {"Fbeta_adaptive": 0.8 + 0.01 * i, "S_measure": 0.8 + 0.01 * i, "MAE": 0.05 - 0.001 * i}}
               for i, v in enumerate(DEMO_VARIANTS)}
    results["full"]["metrics"]["S_measure"] = s_full
    results["timing"] = {"training_s": 300.0, "evaluation_s": 120.0,
                         "stages_s": {"gsn": 40.0, "lrn": 40.0, "glfn": 100.0, "rps_lrn": 40.0}}
    report = make_demo_results.run_dir(runs, scenes, seed) / "report"
    report.mkdir(parents=True)
    (report / "results.json").write_text(json.dumps(results))


def test_collect_only_rewrites_the_marked_blocks_with_each_claims_verdict_and_the_seeds_that_break_it(tmp_path):
    runs = tmp_path / "runs"
    for seed in (0, 1):
        _write_run(runs, "photo", seed, s_full=0.9)
        _write_run(runs, "classic", seed, s_full=0.9 if seed == 0 else 0.5)  # seed 1: full loses on S
    results_md, readme = tmp_path / "RESULTS.md", tmp_path / "README.md"
    for path in (results_md, readme):
        name = "seeds" if path is results_md else "claims"
        path.write_text(f"kept\n<!-- demo-results:{name}:begin -->\nold\n<!-- demo-results:{name}:end -->\nkept too\n")
    make_demo_results.main(["--runs", str(runs), "--seeds", "0", "1", "--scenes", "photo", "classic",
                            "--collect-only", "--results-md", str(results_md), "--readme", str(readme)])
    claims = readme.read_text()
    assert claims.startswith("kept\n") and claims.endswith("kept too\n") and "\nold\n" not in claims
    assert "| GSN+APS+LRN+GLFN beats GSN+APS+LRN | holds | holds except seed 1 S |" in claims
    assert "| GSN+APS+LRN beats GSN+RPS+LRN | holds | holds |" in claims
    verdicts = make_demo_results.claim_verdicts({0: {v: {"metrics": {"Fbeta_adaptive": 0.5, "S_measure": 0.5,
                                                                     "MAE": 0.1 + 0.01 * (v == "gsn")}}
                                                     for v in DEMO_VARIANTS}})
    assert verdicts[0][:2] == ("GSN+APS+LRN beats GSN", "holds only for seed 0 MAE")
    text = results_md.read_text()
    assert "- GSN+APS+LRN+GLFN beats GSN+CRF: **holds except seed 1 S** (seed 1 S: 0.500 vs 0.810)\n" in text
    assert "| **total** | 7.0 | 7.0 | 7.0 | 7.0 |" in text
    assert "| data set, caches and start-up | 1.3 | 1.3 | 1.3 | 1.3 |" in text


def test_collect_only_leaves_out_a_seed_not_run_and_stops_when_a_generator_has_none(tmp_path, capsys):
    with pytest.raises(SystemExit, match="no finished run of the photo scenes"):
        make_demo_results.main(["--runs", str(tmp_path), "--seeds", "0", "--scenes", "photo", "--collect-only"])
    assert "photo_seed0: no report/results.json (left out" in capsys.readouterr().out
