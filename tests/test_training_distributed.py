"""The custom loop under tf.distribute: MirroredStrategy over two logical CPUs, and two localhost workers.

Each case runs in fresh subprocesses: logical devices and TF_CONFIG must be set before TensorFlow
initialises its devices.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow  # every test here trains, exports, or runs a subprocess or a video

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "PYTHONPATH": REPO, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}

COMMON = textwrap.dedent("""
    import dataclasses, json, sys
    import numpy as np
    import tensorflow as tf
    import keras
    from hrsod_tf.config import get_preset
    from hrsod_tf.models import build_gsn
    from hrsod_tf.training import StageTrainer, make_strategy, per_replica_batches

    CONFIG = get_preset("tiny")
    rng = np.random.default_rng(0)
    LABELS = np.zeros((8, 64, 64, 1), np.float32)
    LABELS[:, 16:48, 16:48] = 1.0
    IMAGES = (rng.uniform(0, 100, (8, 64, 64, 3)) + 150 * LABELS).astype(np.float32)

    def dataset_fn(input_context):
        examples = tf.data.Dataset.from_tensor_slices((IMAGES, LABELS))
        return per_replica_batches(examples, 4, input_context)

    def trainer(strategy, directory, steps):
        keras.utils.set_random_seed(0)
        stage = dataclasses.replace(CONFIG.train.gsn, steps=steps, checkpoint_every=2, batch_size=4)
        return StageTrainer("gsn", lambda: build_gsn(CONFIG.model), stage, checkpoint_dir=directory,
                            strategy=strategy)
""")

MIRRORED = COMMON + textwrap.dedent("""
    cpu = tf.config.list_physical_devices("CPU")[0]
    # Must precede any TF op: split the CPU into two logical devices.
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    out = {}
    for name, strategy in [("none", make_strategy("none")),
                           ("mirrored", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))]:
        t = trainer(strategy, sys.argv[1] + "/" + name, steps=1)
        t.fit(dataset_fn, progress=False)
        out[name] = {"replicas": strategy.num_replicas_in_sync, "loss": t.history[0],
                     "weights": [np.asarray(v).ravel()[:50].tolist() for v in t.model.trainable_variables]}
    print("RESULT " + json.dumps(out))
""")

WORKER = COMMON + textwrap.dedent("""
    strategy = make_strategy("multiworker")
    t = trainer(strategy, sys.argv[1], steps=3)
    result = t.fit(dataset_fn, progress=False)
    print("RESULT " + json.dumps({"step": result.step, "losses": t.history,
                                  "replicas": strategy.num_replicas_in_sync}))
""")


def _result(stdout: str) -> dict:
    line = next(line for line in stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def test_mirrored_two_cpus_gives_the_loss_and_update_of_one_device(tmp_path):
    run = subprocess.run([sys.executable, "-c", MIRRORED, str(tmp_path)], env=ENV, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    out = _result(run.stdout)
    assert out["mirrored"]["replicas"] == 2 and out["none"]["replicas"] == 1
    assert out["mirrored"]["loss"] == pytest.approx(out["none"]["loss"], rel=1e-5)
    for a, b in zip(out["mirrored"]["weights"], out["none"]["weights"]):
        assert a == pytest.approx(b, rel=1e-4, abs=1e-6)


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _tf_config_for(ports: list[int], index: int) -> str:
    """TF_CONFIG of worker `index` of a localhost cluster of `len(ports)` workers."""
    return json.dumps({"cluster": {"worker": [f"localhost:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


def test_two_localhost_workers_train_a_few_steps(tmp_path):
    ports = _free_ports(2)
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path / "ckpt")],
                         env={**ENV, "TF_CONFIG": _tf_config_for(ports, index)},
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for index in range(2)
    ]
    outputs = []
    try:
        for worker in workers:
            stdout, stderr = worker.communicate(timeout=300)
            assert worker.returncode == 0, stderr[-3000:]
            outputs.append(_result(stdout))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    assert [o["step"] for o in outputs] == [3, 3]
    assert outputs[0]["replicas"] == 2
    assert outputs[0]["losses"] == pytest.approx(outputs[1]["losses"])  # the all-reduced global loss
    names = sorted(os.listdir(tmp_path / "ckpt"))
    assert "checkpoint" in names and "ckpt-3.index" in names
    assert not [n for n in names if n.startswith(".worker")]  # the non-chief's copies are removed
