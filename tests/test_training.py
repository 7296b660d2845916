"""The training library on CPU with the tiny preset: optimisation, checkpoints, resume, stages, CLI."""

import dataclasses
import json
import logging
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import command_module

from hrsod_tf import demo
from hrsod_tf.config import get_preset
from hrsod_tf.data.sources import resolve_data_source
from hrsod_tf.image_io import DataError
from hrsod_tf.models.stage_networks import build_stage_network
from hrsod_tf.training import (
    StageTrainer,
    WarmupPolySchedule,
    make_strategy,
    pixel_cross_entropy,
    train_stage,
)
from hrsod_tf.workdir import StageNotTrainedError, WorkDir

pytestmark = pytest.mark.slow  # every test here trains, exports, or runs a subprocess or a video

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = get_preset("tiny")
SIZE = 64


def _stage_config(stage="gsn", **changes):
    return dataclasses.replace(TINY.train.stage(stage), **changes)


def _batch(stage, seed=0, batch=4, size=SIZE):
    """A deterministic (inputs, labels) batch for `stage`: the label is a bright square, learnable."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((batch, size, size, 1), np.float32)
    labels[:, size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 1.0
    image = (rng.uniform(0, 100, (batch, size, size, 3)) + 150 * labels).astype(np.float32)
    noisy = np.clip(labels + rng.normal(0, 0.3, labels.shape), 0, 1).astype(np.float32)
    inputs = {"gsn": image, "lrn": {"image": image, "guidance": noisy},
              "glfn": {"image": image, "saliency": noisy}}[stage]
    return inputs, labels


def _fixed(stage, **kwargs):
    batch = _batch(stage, **kwargs)
    return lambda input_context: tf.data.Dataset.from_tensors(batch)


def _trainer(tmp_path, stage="gsn", name="run", seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    config = kwargs.pop("stage_config", None) or _stage_config(stage)
    return StageTrainer(stage, lambda: build_stage_network(stage, TINY.model), config,
                        checkpoint_dir=str(tmp_path / name), has_backbone=stage != "glfn", **kwargs)


def _weights(model):
    return [np.array(v) for v in model.weights]


# ------------------------------------------------------------------------------------------- optimisation
@pytest.mark.parametrize("stage", ["gsn", "lrn", "glfn"])
def test_each_stage_overfits_a_fixed_batch(tmp_path, stage):
    config = _stage_config(stage, steps=30, lr_schedule="constant", checkpoint_every=100, validate_every=0,
                           head_lr=0.05 if stage == "glfn" else 1e-2)
    trainer = _trainer(tmp_path, stage, stage_config=config)
    result = trainer.fit(_fixed(stage, batch=config.batch_size), progress=False)
    losses = trainer.history
    assert result.step == 30 and len(losses) == 30 and result.finished
    assert np.all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses


def test_loss_is_two_class_cross_entropy_of_the_salient_channel():
    labels = np.array([1.0, 0.0], np.float32).reshape(1, 1, 2, 1)
    probabilities = np.array([[0.2, 0.8], [0.9, 0.1]], np.float32).reshape(1, 1, 2, 2)
    expected = -(np.log(0.8) + np.log(0.9)) / 2
    np.testing.assert_allclose(pixel_cross_entropy(labels, probabilities), [expected], rtol=1e-6)


def test_group_learning_rates_and_weight_decay_one_sgd_step_from_zero_momentum(tmp_path):
    """One step from zero momentum moves each variable by -lr_group * (grad + wd * kernel)."""
    config = _stage_config("gsn", backbone_lr=1e-3, head_lr=1e-2, weight_decay=5e-4, momentum=0.9,
                           lr_schedule="constant", warmup_steps=0)
    trainer = _trainer(tmp_path, stage_config=config)
    inputs, labels = _batch("gsn")
    variables = trainer.model.trainable_variables
    before = [np.array(v) for v in variables]
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(pixel_cross_entropy(labels, trainer.model(inputs, training=True)))
    grads = [np.array(g) for g in tape.gradient(loss, variables)]
    trainer.fit(_fixed("gsn"), progress=False, until=1)

    groups = {"backbone": 0, "head": 0}
    for var, old, grad in zip(variables, before, grads):
        layer, name = var.path.split("/")[-2:]
        backbone = layer.startswith("block")
        # The prototxts' param { lr_mult decay_mult }: biases and betas at twice their layer's rate, undecayed;
        # kernels and gammas decayed, upscore1's ten times (deploy-GSN.prototxt:21-28, 702-711, 731-735).
        lr = (1e-3 if backbone else 1e-2) * (2.0 if name in ("bias", "beta") else 1.0)
        decay = 0.0 if name in ("bias", "beta") else 5e-4 * old * (10.0 if layer == "upscore1" else 1.0)
        # w_new - w_old is exact only to float32 rounding of w (|w| * 2^-23): tolerate a few ulps of w.
        ulps = 4 * np.finfo(np.float32).eps * np.max(np.abs(old))
        # A bias before a BatchNorm (conv5_3's) has a gradient of zero up to float32 noise (~1e-7):
        # two evaluations of that noise need not agree, so differences below lr * 1e-6 are ignored.
        ulps += lr * 1e-6
        np.testing.assert_allclose(np.array(var) - old, -lr * (grad + decay), rtol=1e-4, atol=ulps,
                                   err_msg=var.path)
        groups["backbone" if backbone else "head"] += 1
    assert groups["backbone"] == 26 and groups["head"] > 0  # 13 VGG convs: kernel + bias


def test_glfn_trains_every_layer_at_the_head_rate_biases_at_twice_it(tmp_path):
    trainer = _trainer(tmp_path, "glfn")
    for variable, multiplier in zip(trainer.model.trainable_variables, trainer.groups.multipliers):
        assert multiplier == (2.0 if variable.path.split("/")[-1] in ("bias", "beta") else 1.0), variable.path
    assert trainer.groups.backbone_lr == trainer.groups.head_lr


def test_schedule_warmup_then_poly_and_constant():
    poly = WarmupPolySchedule(1e-2, steps=100, kind="poly", warmup_steps=10)
    np.testing.assert_allclose(float(poly(0)), 1e-2 * (1 - 0.0) ** 0.9 / 10, rtol=1e-6)
    np.testing.assert_allclose(float(poly(50)), 1e-2 * 0.5 ** 0.9, rtol=1e-6)
    assert float(poly(100)) == 0.0
    constant = WarmupPolySchedule(1e-3, steps=100, kind="constant")
    assert float(constant(0)) == float(constant(99)) == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="poly"):
        WarmupPolySchedule(1e-3, 10, kind="cosine")


def test_mixed_bfloat16_trains_with_finite_losses(tmp_path):
    trainer = _trainer(tmp_path, stage_config=_stage_config(steps=3), precision="mixed_bfloat16")
    assert trainer.model.layers[-2].compute_dtype == "bfloat16"
    trainer.fit(_fixed("gsn"), progress=False)
    assert len(trainer.history) == 3 and np.all(np.isfinite(trainer.history))


def test_mixed_float16_uses_loss_scaling(tmp_path):
    trainer = _trainer(tmp_path, stage_config=_stage_config(steps=2), precision="mixed_float16")
    assert isinstance(trainer.optimizer, keras.optimizers.LossScaleOptimizer)
    trainer.fit(_fixed("gsn"), progress=False)
    assert np.all(np.isfinite(trainer.history))


# ---------------------------------------------------------------------------------------------- checkpoints
def _varying_batches(input_context):
    """Eight distinct batches in a fixed order: a resumed run must pick up at the right one."""
    batches = [_batch("gsn", seed=i) for i in range(8)]
    images = np.stack([b[0] for b in batches])
    labels = np.stack([b[1] for b in batches])
    return tf.data.Dataset.from_tensor_slices((images, labels))


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path):
    """Train 3 steps, stop, resume to 6 in a new trainer: weights, optimizer state and step equal
    (bit for bit) those of an uninterrupted 6-step run over the same data order."""
    config = _stage_config(steps=6, checkpoint_every=100, warmup_steps=2)
    straight = _trainer(tmp_path, name="straight", stage_config=config)
    straight.fit(_varying_batches, progress=False)

    first = _trainer(tmp_path, name="resumed", stage_config=config)
    assert not first.fit(_varying_batches, progress=False, until=3).finished
    second = _trainer(tmp_path, name="resumed", stage_config=config, seed=123)  # other init: restore must fix it
    result = second.fit(_varying_batches, progress=False, resume=True)
    assert result.step == 6 and result.finished
    assert second.history == straight.history[3:]
    for a, b in zip(_weights(straight.model), _weights(second.model)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(straight.optimizer.variables, second.optimizer.variables):
        np.testing.assert_array_equal(np.array(a), np.array(b), err_msg=a.path)


def test_fit_refuses_existing_checkpoints_without_resume(tmp_path):
    _trainer(tmp_path, stage_config=_stage_config(steps=2)).fit(_fixed("gsn"), progress=False)
    with pytest.raises(FileExistsError, match="resume"):
        _trainer(tmp_path, stage_config=_stage_config(steps=2)).fit(_fixed("gsn"), progress=False)


@pytest.mark.parametrize("damage", ["truncate data", "delete index"])
def test_damaged_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, damage, caplog):
    config = _stage_config(steps=4, checkpoint_every=2, keep_checkpoints=3)
    trainer = _trainer(tmp_path, stage_config=config)
    trainer.fit(_varying_batches, progress=False, until=2)
    at_step_2 = _weights(trainer.model)
    trainer.fit(_varying_batches, progress=False, resume=True)
    newest = tmp_path / "run" / "ckpt-4"
    if damage == "truncate data":
        data = tmp_path / "run" / "ckpt-4.data-00000-of-00001"
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    else:
        os.remove(f"{newest}.index")

    restored = _trainer(tmp_path, stage_config=config, seed=7)
    with caplog.at_level(logging.WARNING):
        assert restored.restore() == 2
    assert "ckpt-4 cannot be loaded" in caplog.text
    for a, b in zip(at_step_2, _weights(restored.model)):
        np.testing.assert_array_equal(a, b)


def test_ctrl_c_saves_a_checkpoint_and_returns(tmp_path):
    trainer = _trainer(tmp_path, stage_config=_stage_config(steps=10, checkpoint_every=100))
    step_fn, calls = trainer.train_step, []

    def interrupted_step(iterator):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return step_fn(iterator)

    trainer.train_step = interrupted_step
    result = trainer.fit(_fixed("gsn"), progress=False)
    assert result.interrupted and not result.finished and result.step == 3
    assert result.checkpoint.endswith("ckpt-3") and os.path.exists(result.checkpoint + ".index")


def test_best_checkpoint_is_kept_apart(tmp_path):
    config = _stage_config(steps=4, checkpoint_every=1, keep_checkpoints=1, validate_every=2)
    trainer = _trainer(tmp_path, stage_config=config)
    result = trainer.fit(_fixed("gsn"), val_dataset=tf.data.Dataset.from_tensors(_batch("gsn")), progress=False)
    assert result.best_mae is not None
    best = tf.train.get_checkpoint_state(str(tmp_path / "run" / "best"))
    assert best is not None and len(best.all_model_checkpoint_paths) == 1
    assert sorted(p.name for p in (tmp_path / "run").glob("ckpt-*.index")) == ["ckpt-4.index"]


# ---------------------------------------------------------------------------------------------- strategies
def test_multiworker_without_tf_config_says_what_to_set(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        make_strategy("multiworker")
    with pytest.raises(ValueError, match="strategy"):
        make_strategy("horovod")
    assert make_strategy("auto").num_replicas_in_sync == 1


# ---------------------------------------------------------------------------------------- stages and CLI
def test_stage_dependencies_are_named_with_the_command_to_train_them(tmp_path):
    workdir = WorkDir(tmp_path / "x")
    with pytest.raises(StageNotTrainedError) as error:
        train_stage(TINY, "glfn", workdir, data_source=None)
    message = str(error.value)
    assert "no trained GSN" in message and f"hrsod train --stage gsn --workdir {workdir.root}" in message
    assert not workdir.root.exists()  # nothing written before the check


def test_gsn_stage_writes_the_workdir_layout_and_is_not_retrained(tmp_path, caplog):
    config = dataclasses.replace(TINY, train=dataclasses.replace(
        TINY.train, gsn=dataclasses.replace(TINY.train.gsn, steps=2, validate_every=0)))
    source = resolve_data_source("synthetic", data_config=config.data)
    workdir = WorkDir(tmp_path / "run")
    result = train_stage(config, "gsn", workdir, source, progress=False)
    assert result.finished and workdir.is_finished("gsn")
    assert json.loads(workdir.done_path("gsn").read_text())["step"] == 2
    assert workdir.load_config() == config
    assert any(workdir.log_dir("gsn").iterdir())
    models = workdir.load_models(stages=("gsn",))
    assert models.lrn is None and models.gsn(np.zeros((1, SIZE, SIZE, 3), np.float32)).shape == (1, SIZE, SIZE, 2)
    with caplog.at_level(logging.WARNING):
        assert train_stage(config, "gsn", workdir, source, progress=False) is None
    assert "already trained" in caplog.text and "--overwrite" in caplog.text
    with pytest.raises(StageNotTrainedError, match="no trained LRN"):
        workdir.load_models()


def _train_gsn_stage(tmp_path, name, seed):
    config = dataclasses.replace(TINY, train=dataclasses.replace(
        TINY.train, seed=seed, gsn=dataclasses.replace(TINY.train.gsn, steps=3, validate_every=0)))
    source = resolve_data_source("synthetic", data_config=config.data)
    workdir = WorkDir(tmp_path / name)
    train_stage(config, "gsn", workdir, source, progress=False)
    return _weights(workdir.load_models(stages=("gsn",)).gsn)


def test_same_seed_trains_the_same_weights_and_another_seed_other_ones(tmp_path):
    keras.utils.set_random_seed(123)  # whatever the global state, the stage seeds itself from --seed
    first = _train_gsn_stage(tmp_path, "a", seed=5)
    keras.utils.set_random_seed(456)
    again = _train_gsn_stage(tmp_path, "b", seed=5)
    other = _train_gsn_stage(tmp_path, "c", seed=6)
    assert all(np.array_equal(x, y) for x, y in zip(first, again))
    assert not all(np.array_equal(x, y) for x, y in zip(first, other))


def test_train_py_help_and_dependency_error():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    shown = subprocess.run([sys.executable, "train.py", "--help"], cwd=REPO, env=env, capture_output=True, text=True)
    assert shown.returncode == 0
    for flag in ("--stage", "--dataset", "--preset", "--workdir", "--backbone-weights", "--precision",
                 "--strategy", "--resume", "--overwrite", "--steps"):
        assert flag in shown.stdout


def test_train_py_reports_a_missing_stage(tmp_path, capsys):
    train = command_module("train")
    assert train.main(["--stage", "lrn", "--workdir", str(tmp_path / "w"), "--preset", "tiny",
                       "--dataset", "synthetic", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "no trained GSN" in err and "hrsod train --stage gsn --workdir" in err


def test_demo_reports_a_data_error_without_a_traceback(tmp_path, capsys, monkeypatch):
    def unavailable(*args, **kwargs):
        raise DataError("the TFDS builders of datasets/ are not installed: install the project")

    monkeypatch.setattr(demo, "resolve_data_source", unavailable)
    train = command_module("train")
    assert train.main(["--demo", "--workdir", str(tmp_path / "demo"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hrsod train: error: the TFDS builders") and "Traceback" not in err
