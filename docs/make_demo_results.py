"""Table 4 of the demo for several seeds on both synthetic generators, and which of the paper's claims hold: the
generated parts of docs/RESULTS.md and the README.

    python docs/make_demo_results.py                    # runs the demos not run yet, then rewrites both documents
    python docs/make_demo_results.py --collect-only     # only reads runs/seeds/*/report/results.json

Each run is `hrsod train --demo --scenes SCENES --seed S --workdir runs/seeds/SCENES_seedS` in its own process (a
finished run is reused, an interrupted one continued). The documents' generated parts lie between
``<!-- demo-results:NAME:begin -->`` and ``<!-- demo-results:NAME:end -->`` lines; the rest is written by people.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from hrsod_tf.demo import CLAIMED_PAIRS, DEMO_DATASETS, DEMO_SCENES, DEMO_VARIANTS, ORDERED_METRICS
from hrsod_tf.evaluation.variant_report import VARIANT_TITLES
from hrsod_tf.files import atomic_write

REPO_ROOT = Path(__file__).resolve().parent.parent

SCENE_NAMES = {"photo": "photo-like scenes", "classic": "first generator's scenes"}
METRIC_HEADINGS = {"Fbeta_adaptive": ("Fβ ↑", "{:.3f}"), "S_measure": ("S ↑", "{:.3f}"), "MAE": ("MAE ↓", "{:.4f}")}
STAGE_NAMES = {"gsn": "GSN", "lrn": "LRN", "glfn": "GLFN (with its fused-map cache)", "rps_lrn": "RPS ablation's LRN"}


def run_dir(runs: Path, scenes: str, seed: int) -> Path:
    return runs / f"{scenes}_seed{seed}"


def run_demo_process(workdir: Path, scenes: str, seed: int) -> None:
    """`hrsod train --demo` in a fresh interpreter (each run's memory and TF state its own)."""
    command = [sys.executable, "-m", "hrsod_tf", "train", "--demo", "--scenes", scenes, "--seed", str(seed),
               "--workdir", str(workdir), "--no-progress"]
    print("+", " ".join(command), flush=True)
    # This process's imports (JAX's, through Keras) set TF_CPP_MIN_LOG_LEVEL=1, which would let TensorFlow's
    # warnings into the run's log; the command's own default is 2.
    subprocess.run(command, check=True, cwd=REPO_ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


def load_results(workdir: Path) -> dict:
    """The demo's report/results.json: {variant: {"metrics": ...}, "validation": ..., "timing": ...}."""
    return json.loads((workdir / "report" / "results.json").read_text())


def claim_verdicts(by_seed: dict[int, dict]) -> list[tuple[str, str, list[str]]]:
    """Per claimed pair: (claim, verdict, exceptions with their values), over every seed and metric of `by_seed`
    {seed: results}; the verdict is "holds", "does not hold" or "holds except seed 1 S, ..."."""
    verdicts = []
    for better, worse in CLAIMED_PAIRS:
        failures, exceptions, successes = [], [], []
        for seed, results in by_seed.items():
            for key, higher in ORDERED_METRICS:
                a, b = results[better]["metrics"][key], results[worse]["metrics"][key]
                heading, fmt = METRIC_HEADINGS[key]
                where = f"seed {seed} {heading.split()[0]}"
                if a > b if higher else a < b:
                    successes.append(where)
                else:
                    exceptions.append(where)
                    failures.append(f"{where}: {fmt.format(a)} vs {fmt.format(b)}")
        verdict = ("holds" if not exceptions else "does not hold" if not successes else
                   "holds except " + ", ".join(exceptions) if len(exceptions) <= len(successes) else
                   "holds only for " + ", ".join(successes))
        verdicts.append((f"{VARIANT_TITLES[better]} beats {VARIANT_TITLES[worse]}", verdict, failures))
    return verdicts


def seeds_table(by_seed: dict[int, dict]) -> list[str]:
    """Markdown: one row per variant, Fβ / S / MAE per seed."""
    head = ["variant"] + [f"seed {seed}: {METRIC_HEADINGS[key][0]}" if i == 0 else METRIC_HEADINGS[key][0]
                          for seed in by_seed for i, (key, _) in enumerate(ORDERED_METRICS)]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for variant in DEMO_VARIANTS:
        cells = [f"{VARIANT_TITLES[variant]} (`{variant}`)"]
        cells += [METRIC_HEADINGS[key][1].format(results[variant]["metrics"][key])
                  for results in by_seed.values() for key, _ in ORDERED_METRICS]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def timing_table(runs: dict[str, dict[int, dict]]) -> list[str]:
    """Markdown: minutes of each part of each run (the stages from their DONE.json)."""
    columns = [(scenes, seed) for scenes, by_seed in runs.items() for seed in by_seed]
    lines = ["| part | " + " | ".join(f"{scenes}, seed {seed}" for scenes, seed in columns) + " |",
             "|---|" + "---:|" * len(columns)]

    def minutes(scenes, seed, pick):
        timing = runs[scenes][seed].get("timing")
        return "–" if timing is None else f"{pick(timing) / 60:.1f}"

    for stage, name in STAGE_NAMES.items():
        lines.append(f"| {name} | " + " | ".join(minutes(sc, s, lambda t, st=stage: t["stages_s"][st])
                                                 for sc, s in columns) + " |")
    rows = (("data set, caches and start-up", lambda t: t["training_s"] - sum(t["stages_s"].values())),
            ("evaluation of the six rows", lambda t: t["evaluation_s"]),
            ("**total**", lambda t: t["training_s"] + t["evaluation_s"]))
    for name, pick in rows:
        lines.append(f"| {name} | " + " | ".join(minutes(sc, s, pick) for sc, s in columns) + " |")
    return lines


def results_block(runs: dict[str, dict[int, dict]]) -> list[str]:
    """The RESULTS.md part: per generator, the seeds' table and the claims' verdicts; then the times."""
    lines = []
    for scenes, by_seed in runs.items():
        dataset = DEMO_DATASETS[scenes]
        lines += [f"### On the {SCENE_NAMES[scenes]} (`{dataset}`)", "",
                  f"`hrsod train --demo --scenes {scenes} --seed S --workdir runs/seeds/{scenes}_seedS`, "
                  f"each run's `report/results.json`:", ""]
        lines += seeds_table(by_seed) + [""]
        for claim, verdict, failures in claim_verdicts(by_seed):
            lines.append(f"- {claim}: **{verdict}**" + (f" ({'; '.join(failures)})" if failures else ""))
        lines.append("")
    lines += ["### How long each part took", "",
              "Minutes, from each run's `report/results.json` (`timing`); the machine and what else ran on it are "
              "named above the tables:", ""]
    return lines + timing_table(runs)


def claims_block(runs: dict[str, dict[int, dict]]) -> list[str]:
    """The README part: one row per claim, its verdict on each generator over every seed and metric."""
    verdicts = {scenes: claim_verdicts(by_seed) for scenes, by_seed in runs.items()}
    seeds = {scenes: len(by_seed) for scenes, by_seed in runs.items()}
    head = ["the paper's claim"] + [f"{SCENE_NAMES[scenes]} ({seeds[scenes]} seeds)" for scenes in runs]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---|" * len(runs)]
    for i, (claim, _, _) in enumerate(next(iter(verdicts.values()))):
        lines.append(f"| {claim} | " + " | ".join(verdicts[scenes][i][1] for scenes in runs) + " |")
    return lines


def replace_block(path: Path, name: str, lines: list[str]) -> None:
    """Rewrites the lines between the block's begin and end markers in `path`."""
    begin, end = f"<!-- demo-results:{name}:begin -->", f"<!-- demo-results:{name}:end -->"
    text = path.read_text()
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{path}: no {begin} ... {end} block to rewrite")
    atomic_write(path, pattern.sub(lambda _: "\n".join([begin, *lines, end]), text))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=REPO_ROOT / "runs" / "seeds", help="the runs' parent folder")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--scenes", nargs="+", choices=tuple(DEMO_DATASETS), default=[DEMO_SCENES, "classic"])
    parser.add_argument("--collect-only", action="store_true",
                        help="run no demo; read the finished ones (a seed not run is left out, and said so)")
    parser.add_argument("--results-md", type=Path, default=REPO_ROOT / "docs" / "RESULTS.md")
    parser.add_argument("--readme", type=Path, default=REPO_ROOT / "README.md")
    args = parser.parse_args(argv)
    runs = {}
    for scenes in args.scenes:
        runs[scenes] = {}
        for seed in args.seeds:
            workdir = run_dir(args.runs, scenes, seed)
            if not (workdir / "report" / "results.json").is_file():
                if args.collect_only:
                    print(f"{workdir}: no report/results.json (left out; run without --collect-only to train it)")
                    continue
                run_demo_process(workdir, scenes, seed)
            runs[scenes][seed] = load_results(workdir)
        if not runs[scenes]:
            raise SystemExit(f"no finished run of the {scenes} scenes in {args.runs}")
    replace_block(args.results_md, "seeds", results_block(runs))
    replace_block(args.readme, "claims", claims_block(runs))
    print(f"rewrote {args.results_md} and {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
