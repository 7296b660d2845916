"""docs/BENCHMARKS.md and docs/RELIABILITY.md are put together from the pieces each step stored (benchmarks/harness.py):
the figures from the steps' fragments, the interpretation from notes written by people, the header from the runs'
records; `--only` re-runs one step and keeps the others' stored pieces."""

import importlib.util
import json

import common
import harness
import run_all
from helpers import REPO

RUN = {"started": "2026-11-28T08:35:49+00:00", "finished": "2026-11-28T08:39:07+00:00", "results": "runs/x",
       "command": "python benchmarks/run_all.py", "machine": {"cpu_model": "CPU A", "logical_cores": 2,
                                                              "usable_cores": 2, "load_average_1_5_15": [0.1, 0, 0]}}


def a_document(tmp_path, *sections):
    return harness.Document(tmp_path / "BENCHMARKS.md", "Benchmarks", "benchmarks/run_all.py",
                            ("- raw JSON in `{results}`",), sections)


def store(document, step, fragment, run=RUN, target=None):
    """Stores a step's pieces as a run leaves them."""
    document.store().mkdir(parents=True, exist_ok=True)
    record = {"command": f"python benchmarks/{step}.py", "seconds": 12.0, "exit_status": 0, "target": target,
              "run": run}
    (document.store() / f"{step}.json").write_text(json.dumps(record))
    (document.store() / f"{step}.md").write_text(fragment)


def test_a_section_is_its_title_without_a_number_its_steps_fragments_under_their_commands_then_its_notes(tmp_path):
    document = a_document(tmp_path, harness.Section("speed", "Speed: the GSN", fragments=("gsn", "glfn")))
    store(document, "gsn", "| GSN s |\n|---|\n| 0.49 |\n")
    store(document, "glfn", "GLFN: 0.31 s\n")
    (document.store() / "speed.notes.md").write_text("The paper's times are on a GPU.\n")
    text = harness.assemble(document)
    section = text[text.index("## Speed: the GSN"):]
    assert section == ("## Speed: the GSN\n\nCommand: `python benchmarks/gsn.py` (12 s)\n\n| GSN s |\n|---|\n"
                       "| 0.49 |\n\nCommand: `python benchmarks/glfn.py` (12 s)\n\nGLFN: 0.31 s\n\n"
                       "The paper's times are on a GPU.\n")


def test_the_target_list_gives_each_sections_verdict_and_the_header_names_the_first_of_the_earlier_runs(tmp_path):
    document = a_document(tmp_path, harness.Section("memory", "Peak memory", target="Peak memory (< 3 GiB)"),
                          harness.Section("speed", "Speed"))
    later = {**RUN, "started": "2026-12-02T14:46:27+00:00", "finished": "2026-12-02T15:03:16+00:00",
             "command": "python benchmarks/run_all.py --only speed",
             "machine": {**RUN["machine"], "cpu_model": "CPU B"}}
    store(document, "memory", "2.49 GiB", target={"met": True, "measured": "2.49 GiB", "goal": "< 3 GiB", "why": ""})
    store(document, "speed", "0.49 s", run=later)
    text = harness.assemble(document)
    assert "- **Peak memory (< 3 GiB)**: met (2.49 GiB; target < 3 GiB)" in text
    assert "- date: 2026-12-02T14:46:27+00:00 (finished 2026-12-02T15:03:16+00:00)" in text
    assert "- command: `python benchmarks/run_all.py --only speed` (the steps not named after --only keep" in text
    assert ("the sections kept from the previous document were measured by earlier runs, the first of them (date: "
            "2026-11-28T08:35:49+00:00 (finished 2026-11-28T08:39:07+00:00); machine: CPU A, 2 logical cores (2 "
            "usable))") in text
    assert "- raw JSON in `runs/x`" in text


def test_busy_machine_warning_names_the_steps_this_run_measured_and_is_absent_when_idle():
    busy, idle = {"load_average_1_5_15": [1.5, 1, 1], "usable_cores": 2}, {"load_average_1_5_15": [0.3, 1, 1],
                                                                           "usable_cores": 2}
    script = "benchmarks/run_all.py"
    assert "this run (its steps: runtime_accuracy) started" in harness.load_warning(busy, ["runtime_accuracy"],
                                                                                     script)[0]
    assert "this run started" in harness.load_warning(busy, [], script)[0]
    assert harness.load_warning(idle, ["runtime_accuracy"], script) == []


def test_a_step_feeding_two_sections_writes_its_json_and_each_fragment_beside_it(tmp_path):
    def render(result):
        return {"": f"GSN {result['gsn_s']} s", "paper": f"paper {result['gsn_s']} s"}

    common.write_result({"gsn_s": 0.49, "seconds": float("nan")}, tmp_path / "compute.json", render)
    assert json.loads((tmp_path / "compute.json").read_text()) == {"gsn_s": 0.49, "seconds": None}
    assert (tmp_path / "compute.md").read_text() == "GSN 0.49 s\n"
    assert (tmp_path / "compute.paper.md").read_text() == "paper 0.49 s\n"


STEP_SCRIPT = """
import json, pathlib, sys
out = pathlib.Path(sys.argv[sys.argv.index("--json") + 1])
json.dump({"target": {"met": True, "measured": sys.argv[1], "goal": "g", "why": ""}}, out.open("w"))
out.with_suffix(".md").write_text(f"measured {sys.argv[1]}\\n")
"""


def test_only_reruns_the_named_step_and_keeps_the_others_stored_figures_and_run(tmp_path):
    script = tmp_path / "step.py"
    script.write_text(STEP_SCRIPT)
    document = a_document(tmp_path, harness.Section("a", "A", target="A's target"), harness.Section("b", "B"))
    store(document, "b", "kept figures of b\n")
    steps = [harness.Step("a", (str(script), "new")), harness.Step("b", (str(script), "never run"))]
    args = harness.command_line("test").parse_args(["--only", "a", "--results", str(tmp_path / "results")])
    assert harness.run(document, steps, args, ["--only", "a"]) == 0
    text = document.path.read_text()
    assert "measured new" in text and "kept figures of b" in text and "never run" not in text
    assert "- **A's target**: met (new; target g)" in text
    assert json.loads((document.store() / "b.json").read_text())["run"] == RUN


def test_a_steps_environment_reaches_its_process_and_its_command_line_in_the_document(tmp_path):
    script = tmp_path / "step.py"
    script.write_text(STEP_SCRIPT.replace("sys.argv[1]", "__import__('os').environ['HRSOD_STEP_VARIABLE']"))
    document = a_document(tmp_path, harness.Section("a", "A"))
    steps = [harness.Step("a", (str(script),), (("HRSOD_STEP_VARIABLE", "its value"),))]
    args = harness.command_line("test").parse_args(["--results", str(tmp_path / "results")])
    assert harness.run(document, steps, args, []) == 0
    text = document.path.read_text()
    assert "measured its value" in text
    assert f"Command: `HRSOD_STEP_VARIABLE='its value' python {script} --json" in text
    assert "HRSOD_STEP_VARIABLE" not in harness.os.environ  # the runner's own environment is left as it was


def test_the_avx2_runtime_step_caps_onednn_and_names_the_runtimes_that_honour_the_cap():
    avx2 = next(step for step in run_all.steps(False, "runs/demo", "runs/benchmarks")
                if step.name == "runtime_speed_avx2")
    assert dict(avx2.environment) == {"ONEDNN_MAX_CPU_ISA": "AVX2"}
    after = avx2.command[avx2.command.index("--only") + 1:]
    named = after[:next((i for i, a in enumerate(after) if a.startswith("--")), len(after))]
    assert named and all(pair.startswith("openvino:") for pair in named)  # ONNX Runtime and LiteRT ignore the cap


def test_the_pipelines_overhead_is_judged_on_the_sizes_whose_networks_alone_estimate_is_below_the_total():
    import pipeline_time

    compute = {"gsn": {"runs": [{"batch": 1, "jit_compile": False, "seconds_per_image": 0.5}]},
               "glfn": {"seconds_per_image": 0.3, "input_size": 1024}}
    results = [{"size": "1024x1024", "patches": 2, "uncertain_fraction": 0.05,
                "median_seconds": {"gsn": 0.5, "aps": 0.0, "lrn+fusion": 1.0, "glfn": 0.3, "total": 2.0}},
               {"size": "2048x1024", "patches": 2, "uncertain_fraction": 0.05,
                "median_seconds": {"gsn": 0.5, "aps": 0.0, "lrn+fusion": 1.0, "glfn": 0.3, "total": 1.0}}]
    # networks alone: 0.5 + 2 x 0.5 + 0.3 = 1.8 s of 2.0 (10% overhead); 2.1 s of 1.0 at the larger size: n/r
    assert pipeline_time.overhead_verdict(results, compute)["measured"] == "10% at 1024x1024"
    assert "| 2048x1024 | 2 | 5.0% |" in pipeline_time.render({"results": results, "networks_from": compute})
    assert pipeline_time.overhead_verdict(results, None)["met"] is None


def committed_documents() -> list:
    """docs/BENCHMARKS.md and docs/RELIABILITY.md as their run_all scripts describe them (reliability's run_all is
    loaded from its file: `import run_all` finds the benchmarks' one first)."""
    spec = importlib.util.spec_from_file_location("reliability_run_all", REPO / "reliability" / "run_all.py")
    reliability = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reliability)
    return [run_all.document(run_all.DOC_PATH), reliability.document(reliability.DOC_PATH)]


def test_the_committed_documents_are_what_their_stored_pieces_give():
    for document in committed_documents():
        assert harness.assemble(document) == document.path.read_text(), f"re-run {document.script} --render-only"
        assert not [line for line in document.path.read_text().splitlines() if line.startswith("## ")
                    and line[3:4].isdigit()], "section headings carry no number"


def test_every_notes_file_belongs_to_a_section():
    # a notes file named after no section would never be shown
    for document in committed_documents():
        names = {section.name for section in document.sections} | {"header"}
        notes = {path.name.removesuffix(".notes.md") for path in document.store().glob("*.notes.md")}
        assert notes and notes <= names, sorted(notes - names)


def test_the_benchmarks_score_the_exports_on_the_demos_own_test_scenes():
    from hrsod_tf.demo import DEMO_DATASET

    assert run_all.DEMO_DATASET == DEMO_DATASET


def test_the_header_says_which_tensorflow_kernels_the_run_had_when_it_recorded_them(tmp_path):
    document = a_document(tmp_path, harness.Section("speed", "Speed"))
    run = {**RUN, "machine": {**RUN["machine"], "tensorflow": "2.21.0", "tf_enable_onednn_opts": "1"}}
    store(document, "speed", "0.49 s", run=run)
    assert "- software: TensorFlow 2.21.0, TF_ENABLE_ONEDNN_OPTS=1\n" in harness.assemble(document)
    assert harness.machine_info()["tf_enable_onednn_opts"] == harness.os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    ran = {**run, "machine": {**run["machine"], "tensorflow_cpu_kernels": "Eigen"}}
    store(document, "speed", "0.49 s", run=ran)
    assert "- software: TensorFlow 2.21.0, TF_ENABLE_ONEDNN_OPTS=1, TensorFlow's Eigen kernels\n" in (
        harness.assemble(document))
    # a benchmark script has TensorFlow imported (the suite too): the record says which kernels it runs
    assert harness.machine_info()["tensorflow_cpu_kernels"] in ("oneDNN", "Eigen")
    capped = {**ran, "machine": {**ran["machine"], "tensorflow_cpu_kernels": "oneDNN", "onednn_max_cpu_isa": "AVX2"}}
    store(document, "speed", "0.49 s", run=capped)
    assert ("TensorFlow's oneDNN kernels, oneDNN capped at AVX2 (ONEDNN_MAX_CPU_ISA)\n"
            in harness.assemble(document))
