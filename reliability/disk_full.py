"""A full disk while the project writes a checkpoint, a mask or a converted model: what is left, what is said.

    python reliability/disk_full.py [--json OUT]          # bulk: a real full disk (tmpfs), needs `unshare` or root

Two ways to make writes fail:

* `file_size_limit(nbytes)` (tests, no privileges): RLIMIT_FSIZE with SIGXFSZ ignored, so every write that would
  grow a file past `nbytes` fails with EFBIG ("File too large") — in Python, TensorFlow and HDF5 alike, in this
  process only. The same failure as a full disk, but for the errno.
* `full_tmpfs(...)` (the bulk run here): the outputs on a small tmpfs filled to the last byte, so writes fail with
  ENOSPC ("No space left on device"). Mounting needs root or an unprivileged user namespace (`unshare -rm`); the
  script re-runs itself inside one and says so when neither is available.

Each scenario checks the same things: the command says what happened in one line, the previous file (mask,
checkpoint, converted work directory) is still there and usable, and no temporary file is left behind.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fuzzing import scene, tiny_run
from kills import weights_equal
from PIL import Image

from hrsod_tf.caffe.converter import caffe_layers_from_keras, official_config
from hrsod_tf.caffe.netparameter import write_caffemodel
from hrsod_tf.models import build_glfn, build_gsn, build_lrn


@contextlib.contextmanager
def file_size_limit(nbytes: int):
    """Within the block, writes that would make any file of this process larger than `nbytes` fail (EFBIG)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the process
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


# ------------------------------------------------------------------------------------------ bulk: a real full disk

REPO_ROOT = Path(__file__).resolve().parent.parent
TRAIN_ARGS = ("--stage", "gsn", "--preset", "tiny", "--dataset", "synthetic", "--steps", "30",
              "--checkpoint-every", "5", "--validate-every", "10", "--no-progress")


def fill(folder) -> int:
    """Writes zeros into `folder`/filler until its file system is full; returns the bytes written. Unbuffered, so
    that the write that fails is the last one (a buffered file would fail again when closed)."""
    written = 0
    with open(Path(folder) / "filler", "wb", buffering=0) as handle:
        for block in (1 << 20, 4096, 1):
            try:
                while True:
                    written += handle.write(b"\0" * block)
            except OSError:
                pass
    return written


def mount_tmpfs(folder, size: str) -> None:
    Path(folder).mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)


def _run(script, *args, **kwargs):
    return subprocess.run([sys.executable, str(REPO_ROOT / script), *map(str, args)], capture_output=True,
                          text=True, errors="replace", cwd=REPO_ROOT, **kwargs)


def _files(folder) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in Path(folder).rglob("*")
            if p.is_file() and p.name != "filler"}


def _error_lines(stderr: str) -> list[str]:
    """stderr without TensorFlow's start-up log lines (no GPU, oneDNN) and Python warnings."""
    return [line for line in stderr.splitlines() if line.strip() and not re.match(
        r"^(WARNING: All log messages|[IWE]\d{4} |.*Warning: |\s+warnings\.warn|To enable the following|INFO )",
        line)]


def _hidden(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob(".*"))


def _overwrite_on_a_full_disk(script: str, args: tuple, disk, out: Path, expected_files: int) -> dict:
    """Runs `script` once on space, fills `disk`, runs it again with --overwrite: what it said and what was kept."""
    first = _run(script, *args)
    before = _files(out)
    fill(disk)
    second = _run(script, *args, "--overwrite")
    return {"first_status": first.returncode, "status": second.returncode, "stderr": _error_lines(second.stderr),
            "previous_unchanged": _files(out) == before and len(before) == expected_files,
            "hidden_files": _hidden(out)}


def mask_scenario(disk, scratch) -> dict:
    """predict.py --overwrite into a full disk that holds the previous cut-outs."""
    run = tiny_run(Path(scratch) / "mask")
    photos = Path(scratch) / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    for i in range(3):
        Image.fromarray(scene(640, 480, i)).save(photos / f"photo_{i}.png")
    out = Path(disk) / "cutouts"
    result = _overwrite_on_a_full_disk("predict.py", (photos, "--workdir", run, "--out", out, "--output", "rgba",
                                                      "--no-progress"), disk, out, expected_files=3)
    lines = result["stderr"]
    result["one_line_per_input"] = len(lines) == 3 and all("No space left on device" in line for line in lines)
    return result


def checkpoint_scenario(disk, scratch) -> dict:
    """train.py whose disk fills up after its checkpoint at step 10; then --resume with space again."""
    clean = Path(scratch) / "clean"
    _run("train.py", *TRAIN_ARGS, "--workdir", clean)
    workdir = Path(disk) / "run"
    process = subprocess.Popen([sys.executable, str(REPO_ROOT / "train.py"), *TRAIN_ARGS, "--workdir", str(workdir)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                               cwd=REPO_ROOT)
    checkpoints = workdir / "gsn" / "checkpoints"
    while process.poll() is None and not (checkpoints / "ckpt-10.index").exists():
        time.sleep(0.01)
    fill(disk)
    _, stderr = process.communicate()
    lines = _error_lines(stderr)
    kept = sorted(p.name for p in checkpoints.glob("ckpt-*.index"))
    state = (checkpoints / "checkpoint").read_text() if (checkpoints / "checkpoint").exists() else ""
    leftovers = sorted(p.name for p in checkpoints.glob("*_temp*"))
    (Path(disk) / "filler").unlink()
    resumed = _run("train.py", *TRAIN_ARGS, "--workdir", workdir, "--resume")
    same = weights_equal(clean, workdir, ("gsn",)) if (workdir / "gsn" / "final.weights.h5").exists() else None
    return {"status": process.returncode, "stderr": lines[-3:], "checkpoints_kept": kept,
            "state_points_to": re.findall(r'model_checkpoint_path: "([^"]+)"', state), "temporary_left": leftovers,
            "resumed_status": resumed.returncode, "resumed_weights_equal_uninterrupted_run": same}


def converted_scenario(disk, scratch) -> dict:
    """convert_caffe.py --overwrite into a full disk that holds the previous conversion."""
    config = official_config("dh").model
    files = {}
    for name, build in (("gsn", build_gsn), ("lrn", build_lrn), ("glfn", build_glfn)):
        files[name] = Path(scratch) / f"{name.upper()}.caffemodel"
        write_caffemodel(files[name], caffe_layers_from_keras(build(config), name, config))
    workdir = Path(disk) / "authors"
    result = _overwrite_on_a_full_disk("convert_caffe.py", ("--gsn", files["gsn"], "--lrn", files["lrn"], "--glfn",
                                                            files["glfn"], "--workdir", workdir), disk, workdir,
                                       expected_files=7)
    lines = result["stderr"]
    result["one_line"] = len(lines) == 1 and "No space left on device" in lines[0]
    return result


SCENARIOS = {"mask": (mask_scenario, "64m"), "checkpoint": (checkpoint_scenario, "64m"),
             "converted_model": (converted_scenario, "400m")}


def bulk(json_path=None) -> dict:
    """Runs every scenario on its own full tmpfs (we are root, or in a user namespace where we are)."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="disk-full-", ignore_cleanup_errors=True) as scratch:
        for name, (scenario, size) in SCENARIOS.items():
            disk = Path(scratch) / f"disk_{name}"
            mount_tmpfs(disk, size)
            try:
                results[name] = {"tmpfs_size": size, **scenario(disk, Path(scratch) / name)}
            except Exception as error:  # noqa: BLE001 - report the scenario as failed, run the others
                results[name] = {"tmpfs_size": size, "harness_error": f"{type(error).__name__}: {error}"}
            finally:
                subprocess.run(["umount", "--lazy", str(disk)], check=False)
    return results


OVERWRITES = {"mask": "predict.py --overwrite of 3 cut-outs",
              "converted_model": "convert_caffe.py --overwrite of a converted run"}


def render(data: dict) -> str:
    """How the disk was filled, then one item per scenario: exit status, what it said, what it left."""
    lines = [f"How: {data['how']}, so every write fails with ENOSPC (`No space left on device`).", ""]
    for name, result in data["scenarios"].items():
        if "harness_error" in result:
            lines.append(f"- **{name}**: harness error: {result['harness_error']}")
            continue
        said = "; ".join(f"`{line}`" for line in result.get("stderr", [])[:3])
        if name == "checkpoint":
            equal = "equal" if result["resumed_weights_equal_uninterrupted_run"] else "**differ from**"
            lines.append(f"- **checkpoint** (train.py, the disk filled once `ckpt-10` existed): exit "
                         f"{result['status']}; it said {said}; checkpoints left {result['checkpoints_kept']}, the "
                         f"state points to {result['state_points_to']}, partial files left {result['temporary_left']}; "
                         f"with space again `--resume` exited {result['resumed_status']} and its final weights "
                         f"{equal} an uninterrupted run's, bit for bit.")
        else:
            unchanged = "unchanged" if result["previous_unchanged"] else "**changed**"
            lines.append(f"- **{name}** ({OVERWRITES.get(name, name)}): exit {result['status']}; it said {said}; the "
                         f"previous files {unchanged}; temporary files left: {len(result['hidden_files'])}.")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--in-namespace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if os.geteuid() != 0 and not args.in_namespace:
        if not shutil.which("unshare"):
            print("disk_full.py: needs root or `unshare` (util-linux) to mount a small tmpfs", file=sys.stderr)
            return 2
        command = ["unshare", "--user", "--map-root-user", "--mount", sys.executable, __file__, "--in-namespace",
                   *(["--json", args.json] if args.json else [])]
        return subprocess.run(command).returncode
    if not args.in_namespace:  # root: still keep the mounts private to this process tree
        command = ["unshare", "--mount", sys.executable, __file__, "--in-namespace",
                   *(["--json", args.json] if args.json else [])]
        if shutil.which("unshare"):
            return subprocess.run(command).returncode
    result = {"scenarios": bulk(), "command": "python reliability/disk_full.py",
              "how": "a tmpfs per scenario, filled to the last byte (ENOSPC)"}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
        Path(args.json).with_suffix(".md").write_text(render(result))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
