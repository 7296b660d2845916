"""Training of the three stages: the paper's SGD, one custom loop for every `tf.distribute` strategy,
checkpoints, and the GSN -> LRN -> GLFN orchestration through a work directory.

Modules:
  optimizer    per-group learning rates, Caffe-style weight decay, the warm-up + poly schedule
  losses       pixel-wise 2-class cross-entropy, MAE
  distribute   `make_strategy`
  checkpoints  last-K + best checkpoints, atomic weight export
  loop         `StageTrainer`: the custom training loop
  stages       `train_stage` / `train_all`: data, caches and work directory of each stage
"""

from hrsod_tf.training.checkpoints import StageCheckpoints
from hrsod_tf.training.distribute import STRATEGIES, is_chief, make_strategy
from hrsod_tf.training.loop import StageResult, StageTrainer, per_replica_batches
from hrsod_tf.training.losses import mean_absolute_error, pixel_cross_entropy
from hrsod_tf.training.optimizer import (
    LayerGroups,
    WarmupPolySchedule,
    layer_groups,
    make_optimizer,
    transform_gradients,
)
from hrsod_tf.training.stages import (
    WorkDirConflictError,
    fill_cache,
    stage_data,
    train_all,
    train_stage,
)

__all__ = [
    "LayerGroups", "STRATEGIES", "StageCheckpoints", "StageResult", "StageTrainer", "WarmupPolySchedule",
    "is_chief", "layer_groups", "make_optimizer", "make_strategy", "mean_absolute_error",
    "per_replica_batches", "pixel_cross_entropy", "transform_gradients",
    "WorkDirConflictError", "fill_cache", "stage_data", "train_all", "train_stage",
]
