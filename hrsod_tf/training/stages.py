"""The three training stages, chained through a work directory (`hrsod_tf.workdir.WorkDir`).

    train_stage(config, "gsn", "runs/x", source)    GSN on whole images warped to S x S
    train_stage(config, "lrn", "runs/x", source)    fills caches/coarse with the trained GSN's maps, then
                                                     trains the LRN on APS patches guided by them
    train_stage(config, "glfn", "runs/x", source)   fills caches/fused with GSN+APS+LRN maps at full
                                                     resolution, then trains the GLFN from scratch
    train_stage(config, "rps_lrn", "runs/x", source)  the paper's RPS ablation: an LRN trained as the LRN is
                                                     (settings `train.lrn`, same initialisation and data seed),
                                                     on randomly placed patches, as many and as large as APS's
    train_all(config, "runs/x", source)             all three in order, skipping finished ones

A finished stage (``<stage>/DONE.json``) is never retrained silently: it is skipped, saying so, unless
``overwrite=True``. An unfinished one with checkpoints needs ``resume=True`` or ``overwrite=True``.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import logging

import keras
import tensorflow as tf

from hrsod_tf.config import Config
from hrsod_tf.data import pipelines
from hrsod_tf.data.map_cache import MapCache, checkpoint_fingerprint
from hrsod_tf.data.validation import (
    num_training_examples,
    plan_validation,
    training_counts,
    training_examples,
    validation_examples,
)
from hrsod_tf.machine import describe_machine
from hrsod_tf.models.stage_networks import build_stage_network
from hrsod_tf.pipeline import SaliencyPipeline
from hrsod_tf.pipeline.graph_ops import traced_gsn_map
from hrsod_tf.pipeline.networks import keras_probability
from hrsod_tf.precision import set_precision
from hrsod_tf.progress import progress_bar
from hrsod_tf.training.batch_norm_statistics import batch_norm_layers, recompute_batch_norm_statistics
from hrsod_tf.training.distribute import is_chief
from hrsod_tf.training.loop import StageResult, StageTrainer
from hrsod_tf.workdir import STAGE_NAMES, STAGES, WorkDir

logger = logging.getLogger(__name__)


class WorkDirConflictError(RuntimeError):
    """The work directory holds something this run would overwrite; the message says what to do."""


def _has_pretrained_backbone(config: Config, stage: str) -> bool:
    """The paper's 1e-3 is for *pretrained* VGG layers; randomly initialised ones are new layers (1e-2)."""
    return stage != "glfn" and config.model.backbone_weights != "none"


def _as_workdir(workdir) -> WorkDir:
    return workdir if isinstance(workdir, WorkDir) else WorkDir(workdir)


def _architecture(config: Config) -> dict:
    """The parts of the config that decide the networks' weights' shapes and meaning."""
    model = dataclasses.asdict(config.model)
    model.pop("backbone_weights")  # only the initialisation
    return {"model": model, "aps": dataclasses.asdict(config.aps)}


def prepare_workdir(config: Config, workdir) -> WorkDir:
    """Writes config.json on first use; refuses a config whose networks differ from the stored one."""
    workdir = _as_workdir(workdir)
    if workdir.has_config():
        stored = workdir.load_config()
        if _architecture(stored) != _architecture(config):
            raise WorkDirConflictError(
                f"{workdir.root} was made with another model/APS configuration (preset {stored.preset!r}); "
                "use another --workdir, or the stored config (omit --preset)")
        if stored != config:
            logger.info("training settings differ from %s; this stage's are saved in its DONE.json",
                        workdir.config_path)
    else:
        workdir.save_config(config)
    return workdir


def _filenames_and_images(source, split):
    """(filename str, image uint8 HxWx3) of every example of `split`, in order."""
    for example in source.as_tf_dataset(split).as_numpy_iterator():
        yield example["image/filename"].decode("utf-8"), example["image"]


def fill_cache(cache, source, splits, compute, desc: str, progress: bool = True) -> int:
    """Writes `compute(image) -> float map [h, w, 1]` for every image of `splits` that `cache` lacks.

    Returns:
        The number of maps computed (0 when the cache was complete for this fingerprint).
    """
    computed = cached = 0
    for split in splits:
        if hasattr(source, "filenames") and cache.fingerprint_matches():  # a fresh cache needs every image
            names = source.filenames(split)
            if not cache.missing(names):  # every map there: listing the names costs no image decoding
                cached += len(names)
                continue
        total = source.num_examples(split) if hasattr(source, "num_examples") else None
        matches = cache.fingerprint_matches()
        for filename, image in progress_bar(_filenames_and_images(source, split), total=total,
                                            desc=f"{desc} ({split})", unit="img", enabled=progress):
            if matches and cache.path_for(filename).is_file():
                cached += 1
                continue
            cache.write(filename, compute(image))
            matches = True
            computed += 1
    if cached:
        logger.info("%s: %d maps computed, %d already in %s", desc, computed, cached, cache.directory)
    else:
        logger.info("%s: %d maps computed into %s", desc, computed, cache.directory)
    return computed


def coarse_map_cache(config, workdir: WorkDir, source, splits, progress):
    """The GSN's S x S maps of `splits`, computed once per trained GSN (keyed by its weights' hash)."""
    size = config.model.gsn_input_size
    # Keyed by file name: the data set is part of the fingerprint, so another --dataset whose files share
    # names (hrsod_synthetic and hrsod_synthetic/small both have synthetic_train_00035.png) refills it.
    fingerprint = checkpoint_fingerprint(workdir.final_weights("gsn"), "coarse", preset=config.preset,
                                         gsn_input_size=size, dataset=getattr(source, "name", None))
    cache = MapCache(workdir.cache_dir("coarse"), fingerprint)
    gsn = None

    def compute(image):
        nonlocal gsn
        # Traced once rather than run layer by layer in eager mode: the same maps, about 4x faster per image at
        # the small preset.
        gsn = gsn or traced_gsn_map(keras_probability(workdir.load_model("gsn", config)), size)
        return gsn(image).numpy()

    fill_cache(cache, source, splits, compute, "GSN maps for the LRN", progress)
    return cache


def fused_map_cache(config, workdir: WorkDir, source, splits, progress):
    """The GSN+APS+LRN maps of `splits` at full resolution, computed once per (GSN, LRN) pair."""
    lrn_fingerprint = checkpoint_fingerprint(workdir.final_weights("lrn"), "fused")
    fingerprint = checkpoint_fingerprint(
        workdir.final_weights("gsn"), "fused", preset=config.preset,
        lrn_checkpoint_sha256=lrn_fingerprint["checkpoint_sha256"], dataset=getattr(source, "name", None))
    cache = MapCache(workdir.cache_dir("fused"), fingerprint)
    pipeline = None

    def compute(image):
        nonlocal pipeline
        if pipeline is None:
            models = workdir.load_models(config, stages=("gsn", "lrn"))
            pipeline = SaliencyPipeline.from_keras(config, models.gsn, models.lrn)
        return pipeline.predict(image, variant="gsn+aps+lrn").numpy()

    fill_cache(cache, source, splits, compute, "GSN+APS+LRN maps for the GLFN", progress)
    return cache


_PLAN_IT = object()
VALIDATION_IMAGES = 32  # validation examples per validation, at most (rounded up to whole batches)


def stage_seed(config: Config, stage: str) -> int:
    """The seed of `stage`'s initialisation and data pipeline: derived from `config.train.seed` (--seed), and
    different for each stage."""
    # The RPS-trained LRN starts where the APS-trained one does (same initialisation, same data order): the
    # ablation then differs in where the patches are, only.
    stage = "lrn" if stage == "rps_lrn" else stage
    return int(config.train.seed) * len(STAGES) + STAGES.index(stage)


def stage_data(config: Config, stage: str, workdir: WorkDir, source, progress: bool = True,
               validation=_PLAN_IT):
    """The stage's `(dataset_fn, val_dataset)`: training batches per input context, validation batches.

    The LRN and GLFN stages first fill their map cache (see `coarse_map_cache` / `fused_map_cache`).

    Args:
        validation: the run's `hrsod_tf.data.validation.ValidationPlan` (None: no validation); by default
            `plan_validation(source)`: a ``validation`` split, else a holdout of ``train``, never ``test``.
    """
    plan = plan_validation(source) if validation is _PLAN_IT else validation
    splits = ["train"] + ([plan.split] if plan is not None and plan.split != "train" else [])
    fits = _fits_in_memory(config, stage, source, plan)
    if stage == "gsn":
        def make(examples, **kwargs):
            return pipelines.gsn_dataset(examples, config, cache=fits, **kwargs)
    elif stage in ("lrn", "rps_lrn"):
        cache = coarse_map_cache(config, workdir, source, splits, progress)
        sampler = "random" if stage == "rps_lrn" else "aps"

        def make(examples, **kwargs):
            return pipelines.lrn_dataset(examples, cache, config, sampler=sampler, **kwargs)
    else:
        cache = fused_map_cache(config, workdir, source, splits, progress)

        def make(examples, **kwargs):
            return pipelines.glfn_dataset(examples, cache, config, cache=fits, **kwargs)

    def dataset_fn(input_context):
        # Seeded and in order: the same --seed gives the same batches (and, with `stage_seed` seeding the
        # initialisation, the same training) on every run.
        return make(training_examples(source, plan), training=True, input_context=input_context,
                    seed=stage_seed(config, stage), deterministic=True)

    val = None
    if plan is not None:
        # A few fixed batches, kept in memory: decoding full-resolution images again at every validation
        # would cost more than the validation itself. Seeded as training is: the LRN validates on sampled
        # patches, and the best checkpoint it keeps must not depend on an unseeded draw.
        batches = -(-VALIDATION_IMAGES // config.train.stage(stage).batch_size)
        val = make(validation_examples(source, plan), training=False,
                   seed=stage_seed(config, stage)).take(batches).cache()
    return dataset_fn, val


WARPED_CACHE_BYTES = 2 * 1024**3  # in-memory cache of warped training inputs, when they fit


def _fits_in_memory(config: Config, stage: str, source, plan=None) -> bool:
    """Whether the stage's warped training examples (uint8: RGB + mask, + fused map for the GLFN) fit in
    `WARPED_CACHE_BYTES`; HRSOD-TR does at 384 px, DUTS-TR at 1024 px would not."""
    try:
        count = num_training_examples(source, plan)
    except (ValueError, KeyError, NotImplementedError):  # a source that cannot count its examples
        return False
    if not count:
        return False
    side = config.model.gsn_input_size if stage == "gsn" else config.train.glfn.input_size
    channels = 4 if stage == "gsn" else 5
    return count * side * side * channels <= WARPED_CACHE_BYTES


# Stages trained from scratch for few steps, whose BatchNorm moving averages (momentum 0.99) can still be far from
# their inputs' statistics when training ends: a GLFN trained on crops for 150 steps ends with its first
# BatchNorm's moving variances at half the true ones (validation MAE 0.052 with them, 0.039 recomputed); on
# warped images for 300 steps, as the small preset trains it, the gain is small (0.0176 -> 0.0171, seed 0). The
# validation MAE decides which are kept (see hrsod_tf/training/batch_norm_statistics.py).
PRECISE_BATCH_NORM_STAGES = ("glfn",)
PRECISE_BATCH_NORM_BATCHES = 16


def _precise_batch_norm(trainer, dataset_fn, val) -> dict:
    """Recomputes the trained model's BatchNorm statistics on training batches and keeps them unless the
    validation MAE says the moving ones were better (model selection, on validation images only); returns
    what it did."""
    layers = batch_norm_layers(trainer.model)
    moving = [(layer.moving_mean.numpy(), layer.moving_variance.numpy()) for layer in layers]
    before = trainer.evaluate(val)["mae"] if val is not None else None
    recompute_batch_norm_statistics(trainer.model, dataset_fn(None), PRECISE_BATCH_NORM_BATCHES)
    after = trainer.evaluate(val)["mae"] if val is not None else None
    kept = "recomputed"
    if before is not None and after > before:
        for layer, (mean, variance) in zip(layers, moving):
            layer.moving_mean.assign(mean)
            layer.moving_variance.assign(variance)
        kept = "moving"
    if before is not None:
        logger.info("%s: validation MAE %.4f with the moving BatchNorm statistics, %.4f with recomputed ones: "
                    "kept the %s ones", trainer.stage, before, after, kept)
    return {"recomputed_on_training_batches": PRECISE_BATCH_NORM_BATCHES, "layers": len(layers),
            "validation_mae_moving": before, "validation_mae_recomputed": after, "kept": kept}


def _build_fn(config: Config, stage: str):
    return lambda: build_stage_network(stage, config.model)


def _check_can_train(workdir: WorkDir, stage: str, resume: bool, overwrite: bool) -> bool:
    """Whether to train `stage` now (False: finished, skip); clears it first with `overwrite`."""
    if overwrite:
        workdir.clear_stage(stage)
        return True
    if workdir.is_finished(stage):
        info = workdir.done_info(stage)
        logger.warning("%s is already trained in %s (%s steps, final loss %s): skipped; use --overwrite to "
                       "train it again", STAGE_NAMES[stage], workdir.root, info.get("step"), info.get("final_loss"))
        return False
    if workdir.has_checkpoints(stage) and not resume:
        raise WorkDirConflictError(
            f"{workdir.checkpoint_dir(stage)} holds an unfinished {STAGE_NAMES[stage]} run: continue it with "
            "--resume, or start over with --overwrite")
    return True


def train_stage(config: Config, stage: str, workdir, data_source, *, strategy=None, resume: bool = False,
                overwrite: bool = False, steps: int | None = None, progress: bool = True,
                log_every: int = 10) -> StageResult | None:
    """Trains one stage into `workdir`; returns its `StageResult`, or None if it was already finished.

    Args:
        config: the run's `Config` (its `train.<stage>` settings, precision, model and APS).
        stage: "gsn", "lrn", "glfn" or "rps_lrn" (`hrsod_tf.workdir.ALL_STAGES`).
        workdir: a path or `WorkDir`; its config.json is written on first use.
        data_source: a `hrsod_tf.data.sources.DataSource` (split "train"; validation as in
            `hrsod_tf.data.validation`: its "validation" split or a holdout of "train", never "test"), or a
            zero-argument callable returning one, called only if the stage really trains (a skipped stage
            never builds or downloads its data set).
        strategy: a `tf.distribute.Strategy` (default: the default strategy).
        resume: continue from the stage's latest checkpoint.
        overwrite: delete the stage's previous results and train it again.
        steps: override the stage's number of steps.
        progress: show progress bars.
    Raises:
        StageNotTrainedError: a stage this one needs is not trained (the message says how to train it).
        WorkDirConflictError: an unfinished run is in the way, or the stored config has other networks.
    """
    workdir = _as_workdir(workdir)
    workdir.require_dependencies(stage)  # before anything is written into the work directory
    prepare_workdir(config, workdir)
    if not _check_can_train(workdir, stage, resume, overwrite):
        return None
    if not hasattr(data_source, "as_tf_dataset"):
        data_source = data_source()
    strategy = strategy or tf.distribute.get_strategy()
    set_precision(config.train.precision)  # before any network (cache filling included) is built
    stage_config = config.train.stage(stage)
    plan = plan_validation(data_source)
    if plan is not None:
        logger.info("%s validates on %s", STAGE_NAMES[stage], plan.how)
    counts = training_counts(data_source, plan)
    for entry in counts:
        logger.info("%s trains on %d images of %s (%d more validate)", STAGE_NAMES[stage], entry["train"],
                    entry["source"], entry["validation"])
    dataset_fn, val = stage_data(config, stage, workdir, data_source, progress, validation=plan)
    keras.utils.set_random_seed(stage_seed(config, stage))  # the networks' initialisation
    trainer = StageTrainer(
        stage, _build_fn(config, stage), stage_config, checkpoint_dir=str(workdir.checkpoint_dir(stage)),
        log_dir=str(workdir.log_dir(stage)), strategy=strategy, precision=config.train.precision,
        has_backbone=_has_pretrained_backbone(config, stage), steps=steps, log_every=log_every)
    result = trainer.fit(dataset_fn, val_dataset=val, resume=resume, progress=progress)
    extra = {}
    if result.finished and stage in PRECISE_BATCH_NORM_STAGES:
        extra["batch_norm_statistics"] = _precise_batch_norm(trainer, dataset_fn, val)
    if result.finished and is_chief(strategy):
        workdir.save_final_weights(stage, trainer.model)
        workdir.mark_finished(stage, {
            **result.to_dict(), "stage_config": dataclasses.asdict(stage_config),
            "seed": {"run": config.train.seed, "stage": stage_seed(config, stage)},
            "precision": trainer.policy, "replicas": strategy.num_replicas_in_sync,
            "validation": None if plan is None else plan.to_dict(), "training_data": counts, **extra,
            "machine": describe_machine(), "finished_at": datetime.datetime.now().isoformat(timespec="seconds")})
        logger.info("%s trained: %s", STAGE_NAMES[stage], workdir.final_weights(stage))
    return result


def train_all(config: Config, workdir, data_source, *, stages=STAGES, **kwargs) -> dict:
    """Trains `stages` in order (finished ones are skipped); stops after an interrupted one.

    Returns:
        {stage: StageResult or None (skipped)}.
    """
    results = {}
    if not hasattr(data_source, "as_tf_dataset"):
        data_source = functools.cache(data_source)  # built once, when a stage first trains; shared by the rest
    for stage in stages:
        results[stage] = train_stage(config, stage, workdir, data_source, **kwargs)
        if results[stage] is not None and not results[stage].finished:
            break
    return results
