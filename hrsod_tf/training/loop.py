"""The custom training loop shared by the three stages and by every distribution strategy.

    trainer = StageTrainer("gsn", lambda: build_gsn(config.model), config.train.gsn,
                           checkpoint_dir="runs/x/gsn/checkpoints", log_dir="runs/x/logs/gsn")
    result = trainer.fit(dataset_fn, val_dataset=val, resume=False)

`dataset_fn(input_context)` returns a `tf.data.Dataset` of ``(inputs, labels)`` batches of the
*per-replica* batch size (``input_context.get_per_replica_batch_size(global_batch)``), sharded by
``input_context`` when there are several input pipelines; `per_replica_batches` does both for an
unbatched dataset. The loop runs ``strategy.run`` of one `tf.function` step over
``strategy.distribute_datasets_from_function``; with the default strategy that is plain single-device
training, so there is one code path for CPU, one GPU, many GPUs and many machines.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import signal
import threading
import time
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from hrsod_tf.evaluation.metrics import Smeasure
from hrsod_tf.precision import set_precision
from hrsod_tf.progress import progress_bar
from hrsod_tf.training import distribute, summaries
from hrsod_tf.training.checkpoints import StageCheckpoints
from hrsod_tf.training.losses import mean_absolute_error, pixel_cross_entropy
from hrsod_tf.training.optimizer import group_learning_rates, layer_groups, make_optimizer, transform_gradients

logger = logging.getLogger(__name__)

DatasetFn = Callable[[tf.distribute.InputContext], tf.data.Dataset]


@dataclasses.dataclass
class StageResult:
    """What one `StageTrainer.fit` call did.

    Attributes:
        stage: "gsn", "lrn" or "glfn".
        step: optimisation steps done in total (including those before a resume).
        seconds: wall time of this call, in seconds.
        final_loss: mean training loss of the last logging interval.
        best_mae: lowest validation MAE seen (None without validation).
        interrupted: stopped early by Ctrl-C / SIGTERM (a checkpoint was saved).
        checkpoint: prefix of the last checkpoint written.
        total_steps: the stage's planned number of steps.
    """

    stage: str
    step: int
    seconds: float
    final_loss: float
    best_mae: float | None = None
    interrupted: bool = False
    checkpoint: str | None = None
    total_steps: int = 0

    @property
    def finished(self) -> bool:
        """True when all planned steps are done (the stage can be exported and marked DONE)."""
        return self.step >= self.total_steps and not self.interrupted

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def per_replica_batches(dataset: tf.data.Dataset, global_batch_size: int,
                        input_context: tf.distribute.InputContext | None) -> tf.data.Dataset:
    """Shards an unbatched dataset for this input pipeline and batches it at the per-replica size."""
    batch = global_batch_size
    if input_context is not None:
        if input_context.num_input_pipelines > 1:
            dataset = dataset.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        batch = input_context.get_per_replica_batch_size(global_batch_size)
    return dataset.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def _first_input(inputs):
    """The image tensor of a model input (a tensor, a list/tuple with the image first, or a dict)."""
    if isinstance(inputs, dict):
        return inputs["image"]
    if isinstance(inputs, (list, tuple)):
        return inputs[0]
    return inputs


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM (a scheduler pre-empting the job) behaves like Ctrl-C: checkpoint, then exit."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclasses.dataclass
class _FitRun:
    """What one `StageTrainer.fit` call has done so far.

    Attributes:
        began: when the call began (time.time(), seconds).
        interval_losses: training losses of the steps since the last scalar log.
        interval_start: when that interval began (time.time(), seconds).
        final_loss: mean training loss of the last logged interval.
        last_saved: prefix of the last checkpoint written by this call.
        interrupted: stopped by Ctrl-C / SIGTERM.
    """

    began: float = dataclasses.field(default_factory=time.time)
    interval_losses: list[float] = dataclasses.field(default_factory=list)
    interval_start: float = dataclasses.field(default_factory=time.time)
    final_loss: float = math.nan
    last_saved: str | None = None
    interrupted: bool = False


class StageTrainer:
    """Trains one network with the paper's SGD, checkpointing, validation and TensorBoard logging.

    Args:
        stage: the stage name, for messages and logs.
        build_model: a zero-argument callable returning the Keras model (called inside the strategy scope,
            after the precision policy is set).
        stage_config: the stage's `StageConfig`.
        checkpoint_dir: where checkpoints go (``best/`` inside it holds the best by validation MAE).
        log_dir: TensorBoard directory (None: no summaries).
        strategy: a `tf.distribute.Strategy` (default: the current/default strategy).
        precision: "auto", "float32", "mixed_float16" or "mixed_bfloat16".
        has_backbone: False for the GLFN (every layer trains at ``head_lr``).
        steps: total steps (default ``stage_config.steps``); also the length of the poly decay.
        log_every: steps between TensorBoard scalar summaries.
    """

    def __init__(self, stage: str, build_model: Callable[[], keras.Model], stage_config, checkpoint_dir: str,
                 log_dir: str | None = None, strategy: tf.distribute.Strategy | None = None,
                 precision: str = "float32", has_backbone: bool = True, steps: int | None = None,
                 log_every: int = 10):
        self.stage = stage
        self.config = stage_config
        self.steps = int(steps or stage_config.steps)
        self.strategy = strategy or tf.distribute.get_strategy()
        self.policy = set_precision(precision)
        self.global_batch_size = stage_config.batch_size
        self.log_every = max(1, log_every)
        self.chief = distribute.is_chief(self.strategy)
        replicas = self.strategy.num_replicas_in_sync
        if self.global_batch_size % replicas:
            raise ValueError(f"{stage}: the global batch size {self.global_batch_size} does not split "
                             f"evenly over {replicas} replicas")
        with self.strategy.scope():
            self.model = build_model()
            self.optimizer = make_optimizer(stage_config, self.steps,
                                            loss_scaling=self.policy == "mixed_float16")
            # Built now so that a restore fills the momentum slots instead of deferring them.
            self.optimizer.build(self.model.trainable_variables)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step",
                                    aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
            self.best_mae = tf.Variable(math.inf, dtype=tf.float32, trainable=False, name="best_mae",
                                        aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        self.groups = layer_groups(self.model, stage_config, has_backbone)
        self.checkpoints = StageCheckpoints(
            checkpoint_dir, stage_config.keep_checkpoints, chief=self.chief,
            worker=distribute.worker_index(self.strategy),
            model=self.model, optimizer=self.optimizer, step=self.step, best_mae=self.best_mae)
        self.writer = (tf.summary.create_file_writer(str(log_dir)) if log_dir and self.chief
                       else tf.summary.create_noop_writer())
        # One distributed step: `trainer.train_step(iter(trainer.distribute(dataset_fn)))` -> global loss.
        self.train_step = tf.function(self._distributed_step)
        self.history: list[float] = []  # training loss of every step run by this trainer

    # ---------------------------------------------------------------------------------------- steps
    def _replica_step(self, inputs, labels):
        """One replica's forward/backward pass and SGD update; returns its share of the global loss."""
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            probabilities = self.model(inputs, training=True)
            per_example = pixel_cross_entropy(labels, probabilities)
            # Divided by the GLOBAL batch: the optimizer sums the replicas' gradients.
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch_size)
            scaled_loss = self.optimizer.scale_loss(loss)  # identity unless a LossScaleOptimizer
        grads = tape.gradient(scaled_loss, variables)
        loss_scale = getattr(self.optimizer, "dynamic_scale", 1.0)
        grads = transform_gradients(grads, variables, self.groups, self.config.weight_decay,
                                    loss_scale, self.strategy.num_replicas_in_sync)
        self.optimizer.apply_gradients(zip(grads, variables))
        return loss

    def _distributed_step(self, iterator):
        inputs, labels = next(iterator)
        per_replica = self.strategy.run(self._replica_step, args=(inputs, labels))
        self.step.assign_add(1)
        return self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    def distribute(self, dataset_fn: DatasetFn, skip_steps: int = 0):
        """The distributed dataset of `dataset_fn`, repeated, with the first `skip_steps` steps' batches
        skipped (so a resumed run sees the batches an uninterrupted one would, for deterministic data)."""

        def make(input_context):
            dataset = dataset_fn(input_context).repeat()
            replicas_per_pipeline = input_context.num_replicas_in_sync // input_context.num_input_pipelines
            if skip_steps:
                dataset = dataset.skip(skip_steps * replicas_per_pipeline)
            return dataset

        return self.strategy.distribute_datasets_from_function(make)

    # ------------------------------------------------------------------------------------ validation
    def evaluate(self, dataset: tf.data.Dataset) -> dict[str, float]:
        """Validation MAE (and S-measure when `hrsod_tf.evaluation.metrics` can compute it) on every batch of `dataset`.

        Args:
            dataset: a finite dataset of ``(inputs, labels)`` batches (not distributed). Read to its end, so
                that a ``.cache()`` at its end completes on the first validation.
        Returns:
            {"mae": float, "smeasure": float (when there were batches), "images": (image, gt, prediction) of the
            first batch for TensorBoard}.
        """
        smeasure = Smeasure()
        maes, first = [], None
        for inputs, labels in dataset:
            probabilities = self.model(inputs, training=False)
            maes.append(mean_absolute_error(labels, probabilities).numpy())
            if first is None:
                first = (_first_input(inputs), labels, probabilities[..., 1:2])
            for pred, gt in zip(probabilities[..., 1].numpy(), labels[..., 0].numpy()):
                smeasure.step(np.clip(pred * 255, 0, 255).astype(np.uint8), (gt > 0.5).astype(np.uint8) * 255)
        results = {"mae": float(np.mean(np.concatenate(maes))) if maes else math.nan, "images": first}
        if maes:
            results["smeasure"] = smeasure.get_results()["S_measure"]
        return results

    def _validate(self, dataset, step: int) -> bool:
        """Runs `evaluate`, logs it, and returns whether this is the best MAE so far."""
        results = self.evaluate(dataset)
        with self.writer.as_default(step=step):
            for name in ("mae", "smeasure"):
                if name in results:
                    summaries.scalar(f"validation/{name}", results[name])
            if results["images"] is not None:
                image, gt, pred = results["images"]
                summaries.image("validation/input", tf.cast(image, tf.float32) / 255.0, max_outputs=3)
                summaries.image("validation/ground_truth", tf.cast(gt, tf.float32), max_outputs=3)
                summaries.image("validation/prediction", pred, max_outputs=3)
        improved = results["mae"] < float(self.best_mae.numpy())
        if improved:
            self.best_mae.assign(results["mae"])
        extra = f", S {results['smeasure']:.4f}" if "smeasure" in results else ""
        logger.info("%s step %d: validation MAE %.4f%s%s", self.stage, step, results["mae"], extra,
                    " (best)" if improved else "")
        return improved

    # ------------------------------------------------------------------------------------------ fit
    def restore(self) -> int:
        """Restores the latest loadable checkpoint; returns the step it was taken at (0 if none)."""
        path = self.checkpoints.restore()
        if path:
            logger.info("%s: resumed from %s at step %d", self.stage, path, self._current_step())
        return self._current_step()

    def fit(self, dataset_fn: DatasetFn, val_dataset: tf.data.Dataset | None = None, resume: bool = False,
            progress: bool = True, until: int | None = None) -> StageResult:
        """Trains up to `self.steps` steps; Ctrl-C or SIGTERM saves a checkpoint and returns early.

        Args:
            dataset_fn: ``input_context -> Dataset`` of per-replica ``(inputs, labels)`` batches.
            val_dataset: ``(inputs, labels)`` batches for validation every ``validate_every`` steps and at
                the end (None: no validation, no best checkpoint).
            resume: continue from the latest checkpoint (model, optimizer state, step, best MAE).
            progress: show a progress bar (chief only).
            until: stop (with a checkpoint) at this step instead of `self.steps`, e.g. to train a stage in
                several sessions; the schedule still spans `self.steps`.
        """
        self._start(resume)
        start = self._current_step()
        iterator = iter(self.distribute(dataset_fn, skip_steps=start))
        bar = progress_bar(total=self.steps, initial=start, desc=f"train {self.stage}", unit="step",
                           enabled=progress and self.chief)
        run = _FitRun()
        try:
            with _sigterm_as_interrupt():
                while self._current_step() < min(self.steps, until or self.steps):
                    self._train_one_step(iterator, run, bar, val_dataset)
        except KeyboardInterrupt:
            run.interrupted = True
            logger.warning("%s: interrupted at step %d; saving a checkpoint", self.stage, self._current_step())
        finally:
            bar.close()
        return self._finish(run, val_dataset)

    def _current_step(self) -> int:
        return int(self.step.numpy())

    def _start(self, resume: bool) -> None:
        """Restores the latest checkpoint with `resume`; without it, refuses a directory that holds some."""
        if resume:
            self.restore()
        elif self.checkpoints.latest.checkpoints:
            raise FileExistsError(
                f"{self.checkpoints.directory} already holds {self.stage} checkpoints: resume them or "
                "start over in an empty directory")

    def _train_one_step(self, iterator, run: _FitRun, bar, val_dataset) -> None:
        """One optimisation step, then what falls due at it: the scalars every `log_every` steps, a validation
        every ``validate_every`` steps (before the last), a checkpoint every ``checkpoint_every`` steps or
        when the validation MAE is the best so far."""
        loss = float(self.train_step(iterator))
        step = self._current_step()
        self._check_finite(loss, step)
        run.interval_losses.append(loss)
        self.history.append(loss)
        bar.set_postfix(loss=f"{loss:.4f}", refresh=False)  # before update: a log line shows this step's loss
        bar.update(1)
        if step % self.log_every == 0 or step == self.steps:
            self._log_interval(step, run)
        best = self._validation_due(step, val_dataset) and self._validate(val_dataset, step)
        if step % self.config.checkpoint_every == 0 or best:
            run.last_saved = self.checkpoints.save(step, best=best)

    def _log_interval(self, step: int, run: _FitRun) -> None:
        """Writes the mean loss and the speed (steps/s) of the steps since the last log, and starts a new interval."""
        run.final_loss = float(np.mean(run.interval_losses))
        self._log_scalars(step, run.final_loss, len(run.interval_losses) / (time.time() - run.interval_start))
        run.interval_losses, run.interval_start = [], time.time()

    def _validation_due(self, step: int, val_dataset) -> bool:
        """A validation inside the loop (the last step's comes after it, in `_finish`)."""
        every = self.config.validate_every
        return val_dataset is not None and bool(every) and step % every == 0 and step < self.steps

    def _finish(self, run: _FitRun, val_dataset) -> StageResult:
        """After the loop: the last validation (when all steps are done), a checkpoint of the last step unless
        one was just written, and the `StageResult`."""
        step = self._current_step()
        if run.interval_losses:
            run.final_loss = float(np.mean(run.interval_losses))
        finished = step >= self.steps and not run.interrupted
        best = finished and val_dataset is not None and self._validate(val_dataset, step)
        if run.last_saved is None or not run.last_saved.endswith(f"-{step}") or best:
            run.last_saved = self.checkpoints.save(step, best=best)
        self.writer.flush()
        best_mae = float(self.best_mae.numpy())
        return StageResult(self.stage, step, time.time() - run.began, run.final_loss,
                           None if math.isinf(best_mae) else best_mae, run.interrupted, run.last_saved, self.steps)

    def _check_finite(self, loss: float, step: int):
        # Under mixed_float16 the loss scaler skips non-finite steps itself.
        if not math.isfinite(loss) and self.policy != "mixed_float16":
            raise FloatingPointError(
                f"{self.stage}: the loss became {loss} at step {step}; lower the learning rates "
                "(--head-lr / --backbone-lr) or check the labels are in {0, 1}")

    def _log_scalars(self, step: int, loss: float, steps_per_second: float):
        with self.writer.as_default(step=step):
            summaries.scalar("loss", loss)
            summaries.scalar("steps_per_second", steps_per_second)
            # The optimizer's schedule counts applied updates, so it is evaluated at step - 1.
            for name, value in group_learning_rates(self.optimizer, self.groups, step - 1).items():
                summaries.scalar(name, value)

