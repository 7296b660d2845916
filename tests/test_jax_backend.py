"""The three networks under Keras' JAX backend (for timing on GPU machines without TensorFlow): built from the
same code, loaded with a TensorFlow run's weights, they give TensorFlow's outputs to 1e-5 (the random-init
GLFN to 1e-4, see `TOLERANCE`), and neither they nor
benchmarks/network_speed.py import TensorFlow. JAX runs in a subprocess (the backend is chosen at import)."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from hrsod_tf.workdir import STAGES, make_random_workdir

pytest.importorskip("jax")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The random-init GLFN's logits reach ~1e3 (BGR minus mean and the map x255 into untrained convolutions): float32
# rounding in another convolution order (XLA's against oneDNN's) moves its probabilities by up to 3e-5 there.
TOLERANCE = {"gsn": 1e-5, "lrn": 1e-5, "glfn": 1e-4}

JAX_SCRIPT = textwrap.dedent("""
    import dataclasses, sys
    import numpy as np
    import keras
    from hrsod_tf.config import Config
    from hrsod_tf.models import build_stage_network
    run, inputs_path, out_path = sys.argv[1:4]
    config = Config.load(f"{run}/config.json")
    model_config = dataclasses.replace(config.model, backbone_weights="none")
    data = np.load(inputs_path)
    outputs = {}
    for stage, names in {"gsn": ["image"], "lrn": ["image", "guidance"], "glfn": ["image", "saliency"]}.items():
        model = build_stage_network(stage, model_config)
        model.load_weights(f"{run}/{stage}/final.weights.h5")
        inputs = [data[f"{stage}_{name}"] for name in names]
        outputs[stage] = keras.ops.convert_to_numpy(model(inputs[0] if len(inputs) == 1 else inputs))
    assert keras.backend.backend() == "jax", keras.backend.backend()
    assert "tensorflow" not in sys.modules, "TensorFlow was imported under the JAX backend"
    np.savez(out_path, **outputs)
""")


@pytest.mark.slow
def test_networks_under_jax_load_tensorflow_weights_and_match_tensorflow(tmp_path):
    run = make_random_workdir(tmp_path / "run")
    config = run.load_config()
    rng = np.random.default_rng(0)
    side = config.model.lrn_input_size

    def smooth(channels, high):  # photo-like: smooth, not pixel noise (which drives random-init logits to 1e3)
        coarse = rng.uniform(0, high, (2, 4, 4, channels))
        return np.kron(coarse, np.ones((1, side // 4, side // 4, 1))).astype("float32")

    inputs = {f"{stage}_image": smooth(3, 255) for stage in STAGES}
    inputs["lrn_guidance"], inputs["glfn_saliency"] = smooth(1, 1), smooth(1, 1)
    np.savez(tmp_path / "inputs.npz", **inputs)
    environment = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    completed = subprocess.run([sys.executable, "-c", JAX_SCRIPT, str(run.root), str(tmp_path / "inputs.npz"),
                                str(tmp_path / "jax.npz")], env=environment, capture_output=True, text=True, cwd=REPO)
    assert completed.returncode == 0, completed.stderr[-3000:]
    jax_outputs = np.load(tmp_path / "jax.npz")
    models = run.load_models(config)
    for stage in STAGES:
        names = {"gsn": ["image"], "lrn": ["image", "guidance"], "glfn": ["image", "saliency"]}[stage]
        stage_inputs = [inputs[f"{stage}_{name}"] for name in names]
        expected = np.asarray(getattr(models, stage)(stage_inputs[0] if len(stage_inputs) == 1 else stage_inputs))
        np.testing.assert_allclose(jax_outputs[stage], expected, atol=TOLERANCE[stage], err_msg=stage)


@pytest.mark.slow
def test_network_speed_runs_under_jax_without_tensorflow(tmp_path):
    out = tmp_path / "speed.json"
    environment = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    completed = subprocess.run([sys.executable, "benchmarks/network_speed.py", "--preset", "tiny", "--size", "64",
                                "--runs", "1", "--warmup", "1", "--json", str(out)], env=environment, cwd=REPO,
                               capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["backend"] == "jax" and result["tensorflow_imported"] is False
    assert set(result["networks"]) == set(STAGES)
