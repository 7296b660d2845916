"""Runs every reliability measurement, each in its own subprocess, and writes docs/RELIABILITY.md.

    python reliability/run_all.py [--workdir runs/demo] [--quick] [--results DIR] [--only STEP ...] [--list]
    python reliability/run_all.py --render-only      # run nothing: put the document together again

Steps: one fuzzing campaign per target (reliability/fuzzing.py), the soak of the exported model
(reliability/soak.py, on --workdir's export when it exists, else a random-initialised `small` run), train.py and
batch_predict.py killed and re-run (reliability/kills.py), a full disk (reliability/disk_full.py). Each writes its
JSON and its Markdown fragment into --results (default runs/reliability); the runner shared with the benchmarks
(benchmarks/harness.py) stores them in docs/reliability/ and puts the document together from everything stored
there, so `--only STEP` re-measures one step and keeps the others' figures. A step that crashes, hangs (a fuzz
watchdog ends its process) or fails is reported as such and the others still run. `--quick` uses small counts.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _load_runner():
    """benchmarks/harness.py, the runner both folders share, loaded from its file: the two folders are scripts,
    not packages, and it needs nothing from beside it."""
    spec = importlib.util.spec_from_file_location("harness", REPO_ROOT / "benchmarks" / "harness.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["harness"] = module  # before running it: its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


harness = _load_runner()
Document, Section, Step = harness.Document, harness.Section, harness.Step
command_line, run = harness.command_line, harness.run

DOC_PATH = REPO_ROOT / "docs" / "RELIABILITY.md"
# inputs per fuzzing target: (full run, --quick run)
FUZZ_EXAMPLES = {"decode": (3000, 100), "video": (1000, 50), "caffe": (2000, 100), "config": (3000, 100),
                 "workdir": (100, 10), "serving": (1000, 50), "predict_cli": (1000, 100), "convert_cli": (12, 2)}

SECTIONS = (
    Section("fuzzing", "Fuzzing", fragments=tuple(f"fuzz_{target}" for target in FUZZ_EXAMPLES)),
    Section("soak", "Soak: the exported model under concurrent requests"),
    Section("kills_train", "Kills: train.py resumed after SIGKILL"),
    Section("kills_batch_predict", "Kills: batch_predict.py re-run after SIGKILL"),
    Section("disk_full", "A full disk"),
)


def steps(workdir: str | None, quick: bool) -> list:
    """The steps with their arguments for a full or a --quick run (`workdir`: the soak's model, or None)."""
    found = [Step(f"fuzz_{target}", ("reliability/fuzzing.py", "--target", target, "--examples",
                                     str(counts[1] if quick else counts[0]), "--seed", "0"))
             for target, counts in FUZZ_EXAMPLES.items()]
    model = ("--workdir", workdir) if workdir else ()
    return found + [
        Step("soak", ("reliability/soak.py", *model, "--seconds", "60" if quick else "300", "--threads", "4")),
        Step("kills_train", ("reliability/kills.py", "train", "--plans", "1" if quick else "2", "--kills", "3")),
        Step("kills_batch_predict", ("reliability/kills.py", "batch_predict", "--images", "16" if quick else "40",
                                     "--kills", "2")),
        Step("disk_full", ("reliability/disk_full.py",)),
    ]


def document(path: Path) -> Document:
    return Document(path, "Reliability", "reliability/run_all.py",
                    ("- every figure comes from the command named beside it; each step runs in its own process; raw "
                     "JSON in `{results}`",), SECTIONS)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = command_line(__doc__)
    parser.add_argument("--workdir", default="runs/demo",
                        help="the trained run whose export the soak uses (default runs/demo; a random-initialised "
                             "small run when it does not exist)")
    parser.set_defaults(results="runs/reliability", doc=str(DOC_PATH))
    args = parser.parse_args(argv)
    workdir = args.workdir if (REPO_ROOT / args.workdir / "config.json").exists() or \
        Path(args.workdir, "config.json").exists() else None
    failed = run(document(Path(args.doc)), steps(workdir, args.quick), args, argv)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
