"""The built-in demo, run by `python train.py` with no arguments.

Trains the GSN, the LRN, the GLFN and the RPS ablation's LRN (`rps_lrn`, on random patches) of the `small` preset
on the synthetic high-resolution set (its photo-like scenes, or the first generator's: `DEMO_DATASETS`), evaluates
the six rows of the paper's ablation (Table 4) on its test split and writes `runs/demo/report/`:
`results.json` (the `evaluate.py --json` format, plus a ``"validation"`` entry: the training images that
validated, never test ones, see `hrsod_tf.data.validation`; ``"timing"``: seconds of training (what this
invocation trained), of evaluation and of each stage; and ``"machine"``: the CPU and TensorFlow's kernels, on
which the table depends beyond the seed), `report.md` (the table, and whether the method's gains
show), `pr_curves.png` and `examples.png`. Re-running reuses finished stages and resumes an interrupted one.
"""

from __future__ import annotations

import json
import logging
import time

from hrsod_tf.config import apply_settings, get_preset
from hrsod_tf.data.sources import resolve_data_source
from hrsod_tf.evaluation.variant_report import TABLE4_VARIANTS, evaluate_pipeline
from hrsod_tf.files import atomic_write
from hrsod_tf.machine import describe_machine, machine_sentence
from hrsod_tf.pipeline import SaliencyPipeline
from hrsod_tf.training import WorkDirConflictError, train_all
from hrsod_tf.workdir import STAGES, WorkDir

logger = logging.getLogger(__name__)

DEMO_WORKDIR = "runs/demo"
DEMO_PRESET = "small"
# The scenes the demo trains and tests on: the photo-like ones by default, the first generator's by name.
DEMO_DATASETS = {"photo": "hrsod_synthetic/photo_small", "classic": "hrsod_synthetic/small"}
DEMO_SCENES = "photo"
DEMO_DATASET = DEMO_DATASETS[DEMO_SCENES]
DEMO_VARIANTS = TABLE4_VARIANTS  # the paper's ablation rows, in the order of Table 4
DEMO_STAGES = (*STAGES, "rps_lrn")  # the method's stages, then the RPS ablation's LRN

ORDERED_METRICS = (("Fbeta_adaptive", True), ("S_measure", True), ("MAE", False))  # (metric, higher is better)
# The paper's claims (Sec. 5.3.1, Table 4) as (better variant, worse variant) pairs: the refinement chain of the
# method without CRF (GSN < GSN+APS+LRN < GSN+APS+LRN+GLFN, and GSN < GSN+RPS+LRN < GSN+APS+LRN: APS beats RPS,
# both LRNs trained),
# and "our method outperforms CRF by a large margin": the GLFN's output beats both CRF rows. (In the paper's own
# table the CRF improves GSN+APS+LRN on Fβ and MAE, so the LRN alone is not claimed to beat the CRF.)
CLAIMED_PAIRS = (
    ("gsn+aps+lrn", "gsn"),
    ("gsn+rps+lrn", "gsn"),
    ("gsn+aps+lrn", "gsn+rps+lrn"),
    ("full", "gsn+aps+lrn"),
    ("full", "gsn+crf"),
    ("full", "gsn+aps+lrn+crf"),
)
# (better variant, worse variant, metric, True when higher is better): what the demo must show.
EXPECTED_GAINS = tuple((better, worse, key, higher)
                       for better, worse in CLAIMED_PAIRS for key, higher in ORDERED_METRICS)


def check_gains(metrics: dict) -> list[tuple[str, bool]]:
    """Each expected gain as (sentence, holds), from {variant: {metric: value}}."""
    checks = []
    for better, worse, key, higher in EXPECTED_GAINS:
        a, b = metrics[better][key], metrics[worse][key]
        holds = a > b if higher else a < b
        checks.append((f"`{better}` {'above' if higher else 'below'} `{worse}` on {key}: {a:.4f} vs {b:.4f}", holds))
    return checks


def validation_record(run: WorkDir) -> dict | None:
    """The validation plan the run's stages recorded in their DONE.json (the same for every stage), or None."""
    plans = [run.done_info(stage).get("validation") for stage in STAGES if run.is_finished(stage)]
    plans = [plan for plan in plans if plan is not None]
    return plans[-1] if plans else None


def _add_to_json(path, **entries) -> None:
    """Adds top-level entries (``"validation"``, ``"timing"``) to results.json (atomically)."""
    payload = json.loads(path.read_text())
    payload.update(entries)
    atomic_write(path, json.dumps(payload, indent=1, allow_nan=False) + "\n")


def demo_config(workdir: str = DEMO_WORKDIR, seed: int | None = None):
    """The demo's `Config`: the work directory's (so a re-run continues it), else the `small` preset; `seed`
    (when given) replaces ``train.seed``."""
    run = WorkDir(workdir)
    config = run.load_config() if run.has_config() else get_preset(DEMO_PRESET)
    return config if seed is None else apply_settings(config, {"train.seed": seed})


def check_trained_on(run: WorkDir, dataset: str) -> None:
    """Raises WorkDirConflictError when a finished stage of `run` was trained on other data than `dataset` (a demo
    directory from the other scenes, or from before the photo-like scenes were the default)."""
    for stage in DEMO_STAGES:
        sources = run.training_sources(stage)  # None: not trained yet
        if sources is not None and sources != [dataset]:
            found = " + ".join(str(source) for source in sources) if sources else "data it did not record"
            raise WorkDirConflictError(
                f"{run.root}: its {stage} was trained on {found}, not on the demo's {dataset}; run the demo into "
                "another directory (--workdir)" + ("" if dataset == DEMO_DATASETS["classic"] else
                                                   ", or add --scenes classic to continue it on the first scenes"))


def run_demo(workdir: str = DEMO_WORKDIR, dataset: str = DEMO_DATASET, data_dir=None, progress: bool = True,
             config=None):
    """Trains what is not trained yet, evaluates every variant, writes the report; returns its folder.

    Args:
        workdir: the run's work directory.
        dataset: the `--dataset` spec of the data (default: the synthetic set sized by the `small` preset).
        data_dir: TFDS data directory (None: TFDS's default).
        progress: show progress bars.
        config: the run's config (default: `demo_config(workdir)`).
    """
    run = WorkDir(workdir)
    config = config or demo_config(workdir)
    start = time.monotonic()
    check_trained_on(run, dataset)
    source = resolve_data_source(dataset, data_dir=data_dir, data_config=config.data)
    results = train_all(config, run, source, stages=DEMO_STAGES, resume=run.has_config(), progress=progress)
    if any(result is not None and not result.finished for result in results.values()):
        return None  # interrupted: the caller says how to resume
    trained_seconds = time.monotonic() - start

    pipeline = SaliencyPipeline.from_workdir(run.root, require=DEMO_STAGES)
    evaluation = evaluate_pipeline(
        pipeline, source.examples("test"), DEMO_VARIANTS, progress=progress, total=source.num_examples("test")
    )
    title = f"hrsod-tf demo: `{config.preset}` preset on `{dataset}` (test split)"
    paths = evaluation.write_report(run.report_dir, title=title)
    validation = validation_record(run)
    evaluated_seconds = time.monotonic() - start - trained_seconds
    timing = {"training_s": round(trained_seconds, 1), "evaluation_s": round(evaluated_seconds, 1),
              "stages_s": {stage: round(run.done_info(stage)["seconds"], 1) for stage in DEMO_STAGES}}
    machine = describe_machine()
    _add_to_json(paths["json"], validation=validation, timing=timing, machine=machine)
    metrics = {variant: result.metrics for variant, result in evaluation.results.items()}
    checks = check_gains(metrics)
    lines = ["", "## Does the method show its gains?", ""]
    lines += [f"- {'yes' if holds else '**no**'}: {sentence}" for sentence, holds in checks]
    lines += ["", "Model selection (validation) never saw the test split: " + (
        f"{validation['how']}; the file names are in results.json." if validation else "no validation images.")]
    lines += ["", f"This invocation ran on {machine_sentence(machine)}: training (what it trained) took "
              f"{trained_seconds / 60:.1f} min, evaluation {evaluated_seconds / 60:.1f} min. Each stage's DONE.json "
              "records the machine that trained it."]
    report = run.report_dir / "report.md"
    atomic_write(report, report.read_text() + "\n".join(lines) + "\n")
    print(evaluation.table())
    print("\n".join(f"{'ok ' if holds else 'NOT'}  {sentence}" for sentence, holds in checks))
    print(f"report: {run.report_dir}/report.md")
    return paths
