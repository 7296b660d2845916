"""The runner shared by benchmarks/run_all.py and reliability/run_all.py: each step in its own subprocess, what a
step leaves beside the document, and the document put together from those stored pieces.

A document (docs/BENCHMARKS.md, docs/RELIABILITY.md) is a header and sections; a section shows one or more
fragments. A step runs one script with ``--json OUT``; the script writes its result to OUT and its Markdown
fragment(s) beside it (OUT with ``.md``, and ``.<part>.md`` for a further part feeding another section:
``common.write_result``). After each step the runner stores, in the folder named after the document
(docs/benchmarks/, docs/reliability/):

- ``<step>.md`` (and ``<step>.<part>.md``): the fragments, the generated figures;
- ``<step>.json``: the step's command, its time and exit status, its target verdict, and the run it belonged to
  (date, command, machine).

The document is then put together from every stored step, never from the document itself, so a step that this
run did not re-measure keeps its figures, its date and its machine. Beside them, ``<section>.notes.md`` is written
by people: what the figures mean, why a target was missed; it is placed under the section's generated part
(``header.notes.md`` under the header).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hrsod_tf import machine as this_machine
from hrsod_tf.files import atomic_write
from hrsod_tf.machine import ONEDNN_ISA_VARIABLE, ONEDNN_VARIABLE

REPO_ROOT = Path(__file__).resolve().parent.parent
GIB = 1024 ** 3


# ------------------------------------------------------------------------------------------ machine


def _mem_total_bytes() -> int | None:
    """Physical memory from /proc/meminfo (MemTotal, in bytes), or None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def machine_info() -> dict:
    """`hrsod_tf.machine.describe_machine` (CPU model and ISA flags, usable cores, versions, TensorFlow's kernels
    in a script that has imported it), plus logical cores, memory, the load average when called (other processes
    on a shared machine slow every figure down), Python, the platform and ``TF_ENABLE_ONEDNN_OPTS``."""
    memory = _mem_total_bytes()
    return {
        **this_machine.describe_machine(),
        "logical_cores": os.cpu_count(),
        "memory_gib": round(memory / GIB, 1) if memory else None,
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        # what the benchmarks' processes inherit (hrsod_tf sets it where TensorFlow leaves it unset)
        "tf_enable_onednn_opts": os.environ.get(ONEDNN_VARIABLE),
    }


def now_utc() -> str:
    """The current date and time, ISO 8601 in UTC, to the second."""
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


# Above this load average per usable core when a run starts, its figures are flagged as measured on a busy machine.
BUSY_LOAD_PER_CORE = 0.5


@dataclass(frozen=True)
class Step:
    """One script run in its own process: `command` is the script's path from the repository root and its
    arguments, without --json (the runner adds it); `environment`, (variable, value) pairs the process gets on top
    of the runner's (what a variable read at a library's start-up needs, such as oneDNN's instruction cap)."""

    name: str
    command: tuple
    environment: tuple = ()


@dataclass(frozen=True)
class Section:
    """A section of the document: its stable name (of its notes file), its heading, the title of its target in the
    document's target list (if it has one), and the fragments it shows: a step's name or "<step>.<part>"; by
    default the one step of the section's name."""

    name: str
    title: str
    target: str | None = None
    fragments: tuple = ()

    def __post_init__(self):
        if not self.fragments:
            object.__setattr__(self, "fragments", (self.name,))

    @property
    def steps(self) -> tuple:
        return tuple(dict.fromkeys(fragment.split(".")[0] for fragment in self.fragments))


@dataclass(frozen=True)
class Document:
    """What differs between the two documents: where it is, its title, the command that writes it, the lines the
    header adds after the machine, and its sections in order."""

    path: Path
    title: str
    script: str
    header_lines: tuple
    sections: tuple

    def store(self) -> Path:
        """The folder of the stored pieces: docs/benchmarks/ for docs/BENCHMARKS.md."""
        return self.path.parent / self.path.stem.lower()


# ------------------------------------------------------------------------------------------ running


def command_line(description: str) -> argparse.ArgumentParser:
    """The options both run_all scripts take (each adds its own)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small counts and few repetitions (a smoke run)")
    parser.add_argument("--only", nargs="+", metavar="STEP", help="run these steps only; the others keep theirs")
    parser.add_argument("--results", help="where each step's JSON and fragments are written")
    parser.add_argument("--doc", help="the document to write (its stored pieces are in the folder named after it)")
    parser.add_argument("--render-only", action="store_true",
                        help="run nothing: put the document together from the stored pieces")
    parser.add_argument("--list", action="store_true", help="list the steps and exit")
    return parser


def run(document: Document, steps: list, args, argv: list) -> int:
    """Runs `steps` (those named by --only, when given), stores what each left, and writes the document. Returns
    the number of steps that exited non-zero."""
    if args.list:
        print("\n".join(step.name for step in steps))
        return 0
    unknown = set(args.only or ()) - {step.name for step in steps}
    if unknown:
        raise SystemExit(f"unknown steps {sorted(unknown)}; known: {', '.join(step.name for step in steps)}")
    failed = 0
    if not args.render_only:
        results = Path(args.results)
        results = results if results.is_absolute() else REPO_ROOT / results
        results.mkdir(parents=True, exist_ok=True)
        this_run = {"started": now_utc(), "command": shlex.join(["python", document.script, *argv]),
                    "quick": args.quick, "results": args.results, "machine": machine_info()}
        records = {}
        for step in steps:
            if args.only and step.name not in args.only:
                continue
            records[step.name] = run_step(step, results)
            store_step(document.store(), step.name, records[step.name], this_run, results)
            failed += records[step.name]["exit_status"] != 0
        this_run.update(finished=now_utc(), load_average_at_end=[round(x, 2) for x in os.getloadavg()])
        for name, record in records.items():  # again, with the run's end
            write_json({**record, "run": this_run}, document.store() / f"{name}.json")
    atomic_write(document.path, assemble(document))
    print(f"wrote {document.path}; {failed} step(s) exited non-zero", file=sys.stderr)
    return failed


def run_step(step: Step, results: Path) -> dict:
    """Runs one step in a subprocess from the repository root. Returns its record: command, seconds, exit status,
    the last lines of its stderr when it failed, and its target verdict."""
    out = results / f"{step.name}.json"
    for old in (out, *results.glob(f"{step.name}.*md")):
        old.unlink(missing_ok=True)
    shown_out = out.relative_to(REPO_ROOT) if out.is_relative_to(REPO_ROOT) else out
    command = [*step.command, "--json", str(shown_out)]
    shown = " ".join([*(f"{name}={shlex.quote(value)}" for name, value in step.environment),
                      shlex.join(["python", *command])])
    print(f"[{step.name}] {shown}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *command], cwd=REPO_ROOT, capture_output=True, text=True,
                          env={**os.environ, **dict(step.environment)},
                          errors="replace")  # C libraries print raw bytes of broken files
    record = {"command": shown, "seconds": round(time.perf_counter() - start, 1), "exit_status": done.returncode}
    if done.returncode != 0 or not out.exists():  # a crash, a hang (a watchdog's signal) or an error
        record["failure"] = "\n".join(done.stderr.strip().splitlines()[-20:])
    result = json.loads(out.read_text()) if out.exists() else None
    record["target"] = result.get("target") if isinstance(result, dict) else None
    print(f"[{step.name}] exit {done.returncode} after {record['seconds']:.0f} s", file=sys.stderr, flush=True)
    return record


def store_step(store: Path, name: str, record: dict, this_run: dict, results: Path) -> None:
    """Replaces the stored pieces of step `name`: its record, and its fragments by those it wrote in `results` (none
    when it failed), so that an interrupted run leaves no record beside fragments of another."""
    store.mkdir(parents=True, exist_ok=True)
    for old in store.glob(f"{name}.*md"):
        if not old.name.endswith(".notes.md"):
            old.unlink()
    for fragment in results.glob(f"{name}.*md"):
        atomic_write(store / fragment.name, fragment.read_text())
    write_json({**record, "run": this_run}, store / f"{name}.json")


def write_json(data: dict, path: Path) -> None:
    atomic_write(path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")


# ------------------------------------------------------------------------------------------ the document


def assemble(document: Document) -> str:
    """The document from the stored pieces: the header, the targets (when any section has one), the sections."""
    store = document.store()
    records = {step: json.loads(path.read_text()) for section in document.sections for step in section.steps
               if (path := store / f"{step}.json").exists()}
    lines = header(document, records)
    verdicts = [verdict_line(section.target, _first_target(section, records))
                for section in document.sections if section.target]
    if verdicts:
        lines += ["## Targets", "", *verdicts, ""]
    for section in document.sections:
        lines += section_lines(section, records, store)
    return "\n".join(lines).rstrip() + "\n"


def _first_target(section: Section, records: dict) -> dict | None:
    return next((records[s]["target"] for s in section.steps if (records.get(s) or {}).get("target")), None)


def header(document: Document, records: dict) -> list:
    """Title, the latest run, the earliest of the other runs whose steps are kept, a warning when the latest run
    started on a busy machine, and the header's notes."""
    runs = []
    for record in records.values():
        if record["run"] not in runs:
            runs.append(record["run"])
    runs.sort(key=lambda run: run["started"])
    lines = [f"# {document.title}", "",
             f"Written by `python {document.script}` — do not edit by hand; re-run it instead.", ""]
    if not runs:
        return lines + ["Nothing measured yet.", ""]
    latest, earlier = runs[-1], runs[:-1]
    lines += run_lines(latest)
    lines += [line.format(results=latest.get("results")) for line in document.header_lines]
    if earlier:
        lines.append("- the sections kept from the previous document were measured by earlier runs, the first of "
                     f"them (date: {_when(earlier[0])}; machine: {describe_machine(earlier[0]['machine'])})")
    lines.append("")
    steps_of_latest = [name for name, r in records.items() if r["run"] == latest] if earlier else []
    lines += load_warning(latest["machine"], steps_of_latest, document.script)
    notes = document.store() / "header.notes.md"
    if notes.exists():
        lines += [notes.read_text().strip(), ""]
    return lines


def run_lines(run: dict) -> list:
    """A run's date, command, machine, software and load averages, as the header's list items."""
    machine = run["machine"]
    lines = [f"- date: {_when(run)}"]
    if run.get("command"):
        lines.append(f"- command: `{run['command']}`"
                     + (" (quick smoke run: few repetitions — not for quoting)" if run.get("quick") else "")
                     + (" (the steps not named after --only keep their results, dates and commands from the previous "
                        "run)" if " --only " in f"{run['command']} " else ""))
    lines.append(f"- machine: {describe_machine(machine)}")
    if describe_software(machine):
        lines.append(f"- software: {describe_software(machine)}")
    if machine.get("load_average_1_5_15"):
        lines.append(f"- load average when started (1/5/15 min): {machine['load_average_1_5_15']} — other processes "
                     "on the machine slow every absolute figure down; ratios are measured in alternation to stay "
                     "comparable")
    if run.get("load_average_at_end"):
        lines.append(f"- load average at the end (1/5/15 min): {run['load_average_at_end']}")
    return lines


def _when(run: dict) -> str:
    return f"{run['started']} (finished {run['finished']})" if run.get("finished") else run["started"]


def describe_machine(machine: dict) -> str:
    """'AMD EPYC, 2 logical cores (2 usable), 23.5 GiB RAM, flags avx, ...' from what `machine` holds."""
    parts = [machine.get("cpu_model", "unknown CPU")]
    if machine.get("logical_cores"):
        usable = f" ({machine['usable_cores']} usable)" if machine.get("usable_cores") else ""
        parts.append(f"{machine['logical_cores']} logical cores{usable}")
    if machine.get("memory_gib"):
        parts.append(f"{machine['memory_gib']} GiB RAM")
    if machine.get("isa_flags"):
        parts.append(f"flags {', '.join(machine['isa_flags'])}")
    return ", ".join(parts)


def describe_software(machine: dict) -> str:
    names = {"python": "Python", "tensorflow": "TensorFlow", "keras": "Keras", "numpy": "numpy"}
    parts = [f"{label} {machine[key]}" for key, label in names.items() if machine.get(key)]
    if machine.get("tf_enable_onednn_opts") is not None:
        parts.append(f"{ONEDNN_VARIABLE}={machine['tf_enable_onednn_opts']}")
    if machine.get("tensorflow_cpu_kernels"):
        parts.append(f"TensorFlow's {machine['tensorflow_cpu_kernels']} kernels")
    if machine.get("onednn_max_cpu_isa"):
        parts.append(f"oneDNN capped at {machine['onednn_max_cpu_isa']} ({ONEDNN_ISA_VARIABLE})")
    return ", ".join(parts)


def load_warning(machine: dict, measured: list, script: str) -> list:
    """A warning paragraph when the machine was busy with other work when the run started (`measured`: the steps
    that run measured, named when others were kept from earlier runs)."""
    load, cores = (machine.get("load_average_1_5_15") or [0])[0], machine.get("usable_cores") or 1
    if load <= BUSY_LOAD_PER_CORE * cores:
        return []
    which = f" (its steps: {', '.join(measured)})" if measured else ""
    return [f"**Warning: the machine was busy (load {load:.1f} on {cores} cores) when this run{which} started.** "
            "Absolute times are then slower than this machine can do, and even same-loop ratios are noisy; "
            f"re-run `python {script}` on an idle machine before quoting figures.", ""]


def verdict_line(title: str, verdict: dict | None) -> str:
    """'- **title**: met / missed / not measured (measured; target goal) — why'."""
    if not verdict:
        return f"- **{title}**: not measured"
    state = {True: "met", False: "missed", None: "not measured"}[verdict.get("met")]
    why = f" — {verdict['why']}" if verdict.get("why") else ""
    return f"- **{title}**: {state} ({verdict.get('measured')}; target {verdict.get('goal')}){why}"


def section_lines(section: Section, records: dict, store: Path) -> list:
    """The heading, each fragment (a step's under its command and, when it failed, its last lines), the notes."""
    lines = [f"## {section.title}", ""]
    for fragment in section.fragments:
        step, _, part = fragment.partition(".")
        record = records.get(step)
        if record is None:
            lines += [f"**Not measured yet** (`{step}`).", ""]
            continue
        if not part:
            lines += command_lines(record)
        path = store / f"{fragment}.md"
        if path.exists() and path.read_text().strip():
            lines += [path.read_text().strip(), ""]
    notes = store / f"{section.name}.notes.md"
    if notes.exists():
        lines += [notes.read_text().strip(), ""]
    return lines


def command_lines(record: dict) -> list:
    """'Command: `...` (28 s)', and the last lines of its stderr when it failed."""
    took = [f"{record['seconds']:.0f} s"] if record.get("seconds") is not None else []
    status = [f"exit status {record['exit_status']}"] if record.get("exit_status") else []
    lines = [f"Command: `{record['command']}`" + (f" ({', '.join(took + status)})" if took + status else ""), ""]
    if record.get("failure"):
        lines += ["**The step failed** (a crash, a hang or an error); its last lines:", "", "```",
                  record["failure"], "```", ""]
    return lines
