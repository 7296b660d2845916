"""Runs every benchmark, each in its own subprocess, and writes docs/BENCHMARKS.md from what they leave.

    python benchmarks/run_all.py [--workdir runs/demo] [--quick] [--results DIR] [--only STEP ...]
    python benchmarks/run_all.py --only glfn_speed   # that step alone; the other sections keep their figures
    python benchmarks/run_all.py --render-only       # run nothing: put the document together again

Each script writes its JSON and its Markdown fragment into --results (default runs/benchmarks); the fragments and
each step's record (command, time, target verdict, date and machine) are stored in docs/benchmarks/, and the
document is put together from everything stored there, with the notes people wrote beside each section
(docs/benchmarks/<section>.notes.md). See harness.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

from common import REPO_ROOT
from harness import Document, Section, Step, command_line, run

DOC_PATH = REPO_ROOT / "docs" / "BENCHMARKS.md"
WORKDIR = "{workdir}"  # replaced by --workdir: the trained run the steps that need one use
DEMO_DATASET = "hrsod_synthetic/photo_small"  # hrsod_tf.demo.DEMO_DATASET (a test checks); not imported: no TF here
RESULTS = "{results}"  # replaced by --results: a step that reads another's result finds it there

# (name, script, arguments of the full run, arguments of a --quick run)
STEPS = (
    ("compute_efficiency", "compute_efficiency.py", [], ["--quick"]),
    # median of 3 with no warm-up: the first run (which also traces) is the slowest, so the median drops it
    ("pipeline_time", "pipeline_time.py",
     ["--preset", "paper", "--sizes", "1920x1080", "3840x2160", "--coarse", "synthetic", "--runs", "3", "--warmup",
      "0", "--networks-from", f"{RESULTS}/compute_efficiency.json"],
     ["--preset", "paper", "--sizes", "1920x1080", "3840x2160", "--coarse", "synthetic", "--runs", "1",
      "--networks-from", f"{RESULTS}/compute_efficiency.json"]),
    ("aps_vs_dense", "aps_vs_dense.py", ["--workdir", WORKDIR], ["--workdir", WORKDIR, "--quick"]),
    ("peak_memory", "peak_memory.py", [], ["--quick"]),
    ("precision_bf16", "precision_bf16.py", [], ["--quick"]),
    ("lrn_pipeline_throughput", "lrn_pipeline_throughput.py",
     ["--presets", "small", "paper", "--batches", "10", "--warmup", "2"],
     ["--presets", "small", "paper", "--batches", "3", "--warmup", "1"]),
    ("glfn_speed", "glfn_speed.py", [], ["--quick"]),
    ("tensorflow_kernels", "tensorflow_kernels.py", [], ["--quick"]),
    ("train_step_time", "train_step_time.py",
     ["--presets", "small", "paper", "--stages", "lrn", "--steps", "3", "--batch-size", "4",
      "--supply-from", f"{RESULTS}/lrn_pipeline_throughput.json"],
     ["--presets", "small", "paper", "--stages", "lrn", "--steps", "1", "--batch-size", "2",
      "--supply-from", f"{RESULTS}/lrn_pipeline_throughput.json"]),
    ("synthetic_roundtrip", "synthetic_roundtrip.py", ["--count", "20"], ["--quick"]),
    ("serving_latency_small", "serving_latency.py", ["--preset", "small"], ["--preset", "small", "--quick"]),
    ("serving_latency_paper", "serving_latency.py", ["--preset", "paper"], ["--preset", "paper", "--quick"]),
    ("beam_throughput", "beam_throughput.py", ["--workdir", WORKDIR], ["--workdir", WORKDIR, "--quick"]),
    ("folder_throughput", "folder_throughput.py", ["--preset", "paper", "--count", "8", "--rounds", "2"],
     ["--quick"]),
    ("glfn_training_input", "glfn_training_input.py", ["--workdir", WORKDIR, "--seeds", "0", "1"],
     ["--workdir", WORKDIR, "--quick"]),
    # the run's own GLFN (384 px) beside one trained on 768 px warps, the paper's scale relative to the image
    ("glfn_photo_scenes", "glfn_training_input.py",
     ["--workdir", WORKDIR, "--modes", "warp", "--input-sizes", "768"],
     ["--workdir", WORKDIR, "--modes", "warp", "--input-sizes", "768", "--quick"]),
    ("cutout_colors", "cutout_colors.py", ["--workdir", WORKDIR], ["--workdir", WORKDIR, "--quick"]),
    ("video_flicker", "video_flicker.py", ["--workdir", WORKDIR], ["--workdir", WORKDIR, "--quick"]),
    ("patch_count", "patch_count.py", ["--workdir", WORKDIR], ["--workdir", WORKDIR, "--quick"]),
    ("quality_levels", "quality_levels.py", ["--workdir", WORKDIR, "--repeats", "5"],
     ["--workdir", WORKDIR, "--quick"]),
    ("evaluation_speed", "evaluation_speed.py", ["--workdir", WORKDIR], ["--workdir", WORKDIR, "--quick"]),
    ("runtime_speed", "runtime_speed.py",
     ["--presets", "official", "paper", "--sizes", "1920x1080", "3840x2160", "--repeats", "3"],
     ["--presets", "official", "--sizes", "1920x1080", "--quick", "--no-memory"]),
    # the same on oneDNN's AVX2 kernels (ENVIRONMENTS): OpenVINO and TensorFlow as on an AVX2-only CPU; ONNX Runtime
    # and LiteRT pick their kernels from the CPU's own flags, so they are left out
    ("runtime_speed_avx2", "runtime_speed.py",
     ["--presets", "official", "--sizes", "1920x1080", "3840x2160", "--repeats", "3", "--no-memory", "--only",
      "openvino:int8", "openvino:float32", "--qualities", "best", "fast"],
     ["--presets", "official", "--sizes", "1920x1080", "--quick", "--no-memory", "--only", "openvino:int8"]),
    ("runtime_accuracy", "runtime_accuracy.py", ["--workdir", WORKDIR, "--dataset", DEMO_DATASET],
     ["--workdir", WORKDIR, "--dataset", DEMO_DATASET, "--only", "openvino:int8"]),
    # trains its own runs (in runs/d_vs_dh, reused when run again), not the --workdir one: an estimated 25 min
    ("d_vs_dh", "d_vs_dh.py", [], ["--quick", "--no-progress"]),
)

# What a step's process gets on top of the runner's environment: variables a library reads once, at its start.
ENVIRONMENTS = {"runtime_speed_avx2": (("ONEDNN_MAX_CPU_ISA", "AVX2"),)}

# (name, title, the title of its target if it has one, its fragments if not the one step of its name)
SECTIONS = tuple(Section(*row) for row in (
    ("compute_efficiency", "Compute efficiency: GSN forward pass vs float32 matmul",
     "Compute efficiency (GSN >= 85% of matmul rate)"),
    ("pipeline_time", "Full pipeline at 1920x1080 and 3840x2160 (paper preset, random init)",
     "Pipeline overhead (<= 15% of total)"),
    ("aps_vs_dense", "APS vs dense tiling at equal patch size (trained demo run)",
     "APS vs dense (<= 40% of the patches, BDE no worse)"),
    ("peak_memory", "Peak memory of the full pipeline at 3840x2160 (paper preset, float32, random init)",
     "Peak memory at 4K (< 3 GiB)"),
    ("precision_bf16", "Precision: float32 vs mixed_bfloat16 (GSN, paper preset, 384x384, batch 1)"),
    ("training_input", "Training input: LRN tf.data pipeline vs the LRN training step",
     None, ("lrn_pipeline_throughput", "train_step_time")),
    ("paper_comparison", "The paper's figures beside ours", None, ("compute_efficiency.paper",)),
    ("synthetic_roundtrip", "The ground truth after a low-resolution round trip (synthetic test scenes)"),
    ("serving_latency", "TF Serving export: size on disk and latency (random init, 1920x1080 JPEG)",
     None, ("serving_latency_small", "serving_latency_paper")),
    ("beam_throughput", "Batch inference: predict.py vs Apache Beam (DirectRunner, 1 and 2 workers)"),
    ("folder_throughput", "Folder throughput: one photo at a time against overlapped (predict, batch-predict)",
     "Folder throughput (predict's default --overlap files >= one photo at a time, the same bytes)"),
    ("glfn_speed", "GLFN forward: profile, FoldedGLFN, and the ratio to the GSN",
     "GLFN forward: FoldedGLFN >= 4x the Keras GLFN; GLFN at 1080p / GSN at 384 <= 1"),
    ("tensorflow_kernels", "TensorFlow's CPU kernels: Eigen (its own choice on AVX2-only CPUs) against oneDNN",
     "TensorFlow's kernels on AVX2: GLFN at 1080p / GSN at 384 <= 1 with oneDNN's AVX2 kernels"),
    ("glfn_training_input", "GLFN training input: whole images warped vs full-resolution crops",
     "GLFN training input (warped images: the GLFN improves the fused map for every seed)"),
    ("glfn_photo_scenes", "What the GLFN adds on the photo-like scenes (trained demo run)"),
    ("cutout_colors", "Cut-out edge colours: foreground estimation vs the photo's own colours",
     "Cut-out edge colours (foreground estimation lowers the edge error: on by default)"),
    ("video_flicker", "Video flicker: the temporal step (none, ema, ofd)",
     "Video flicker (a temporal step lowers dtSSD without raising MAE: on by default)"),
    ("patch_count", "Figure 9: refinement quality against the number of patches (trained demo run)"),
    ("quality_levels", "Speed/quality levels: seconds at 1920x1080 and 3840x2160 against S, MAE and mBA"),
    ("evaluation_speed", "Evaluating Table 4 and filling the map caches: before and after sharing the work (demo run)"),
    ("runtime_speed", "CPU runtimes: the full pipeline in int8, bfloat16 and float32",
     "CPU runtimes: the fastest path >= 3x TF float32 at 1920x1080 (official preset)"),
    ("runtime_speed_avx2", "CPU runtimes on oneDNN's AVX2 kernels: OpenVINO int8 against TensorFlow float32",
     "CPU runtimes on oneDNN's AVX2 kernels: the fastest path >= 3x TF float32 at 1920x1080 (official preset)"),
    ("runtime_accuracy", "CPU runtimes: accuracy of every format and precision (trained demo networks)",
     "CPU runtimes: every format and precision within Fβ/S 0.005, MAE 0.002 of float32"),
    ("d_vs_dh", "High-resolution training images: D against DH (Table 1's claim behind Ours-DH, synthetic sets)"),
))


def steps(quick: bool, workdir: str, results: str) -> list:
    """The steps with their arguments for a full or a --quick run."""
    return [Step(name, (f"benchmarks/{script}", *(a.replace(WORKDIR, workdir).replace(RESULTS, results)
                                                  for a in (quick_args if quick else full))),
                 ENVIRONMENTS.get(name, ()))
            for name, script, full, quick_args in STEPS]


def document(path: Path) -> Document:
    return Document(path, "Benchmarks", "benchmarks/run_all.py",
                    ("- every figure is a median of several runs; each script runs in its own subprocess; raw JSON "
                     "in `{results}`",), SECTIONS)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = command_line(__doc__)
    parser.add_argument("--workdir", default="runs/demo", help="the trained run of the steps that need one")
    parser.set_defaults(results="runs/benchmarks", doc=str(DOC_PATH))
    args = parser.parse_args(argv)
    failed = run(document(Path(args.doc)), steps(args.quick, args.workdir, args.results), args, argv)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
