"""SGD as the paper trains it: momentum 0.9, Caffe-style L2 weight decay, one learning rate per layer group.

One Keras SGD optimizer serves both groups. Its learning rate is the *head* rate (newly added layers,
paper: 1e-2) times the schedule; the gradients of the pretrained VGG variables are multiplied by
``backbone_lr / head_lr`` (paper: 1e-3 / 1e-2) before the update. SGD with momentum is linear in the
gradient (``m <- mu * m - lr * g; w <- w + m``), so scaling a group's gradient by a constant is *exactly*
the same as giving that group its own learning rate, momentum included.

Weight decay is Caffe's: ``wd * decay_mult * w`` is added to the gradient *before* momentum and before the
per-group scaling (coupled L2, as a ``0.5 * wd * |w|^2`` term in the loss would give). Keras'
``SGD(weight_decay=...)`` is decoupled (it shrinks the weights apart from the momentum), so it is not used.

Within a group, the released prototxts' ``param { lr_mult decay_mult }`` (the same in deploy-GSN, deploy-LRN and
the GLFNs, e.g. deploy-GSN.prototxt:21-28 for a VGG conv, :520-527 for a new conv, :702-711 for a Scale) are
followed: a weight (conv kernel, BatchNorm gamma) has lr_mult m and decay_mult 1; its bias (conv bias,
BatchNorm beta) lr_mult 2m and decay_mult 0; so biases and betas learn at twice their layer's rate and are not
decayed, and gammas are decayed like kernels. The one exception, upscore1's decay_mult 10 (deploy-GSN.prototxt:
731-735, deploy-LRN.prototxt:743-747), is followed too. (Caffe's BatchNorm statistics have lr_mult 0: in Keras
they are not trainable variables.)
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from hrsod_tf.models.saliency_net import is_backbone_variable

POLY_POWER = 0.9
BIAS_LR_MULT = 2.0  # a bias's lr_mult over its weight's in every layer of the released prototxts
DECAY_MULTS = {"upscore1": 10.0}  # decay_mult of the layers whose weights are not decayed at 1


class WarmupPolySchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up, then "poly" decay ``lr * (1 - step / steps) ** 0.9`` or a constant rate.

    Args:
        base_lr: the rate after warm-up, at step 0 of the decay (the head rate).
        steps: total optimisation steps of the stage (the poly rate reaches 0 there).
        kind: "poly" or "constant".
        warmup_steps: steps of linear warm-up from ``base_lr / warmup_steps`` to ``base_lr``.
    """

    def __init__(self, base_lr: float, steps: int, kind: str = "poly", warmup_steps: int = 0):
        if kind not in ("poly", "constant"):
            raise ValueError(f"lr_schedule {kind!r} is not 'poly' or 'constant'")
        self.base_lr = float(base_lr)
        self.steps = int(steps)
        self.kind = kind
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        lr = tf.constant(self.base_lr, tf.float32)
        if self.kind == "poly":
            progress = tf.clip_by_value(step / float(max(self.steps, 1)), 0.0, 1.0)
            lr = lr * tf.pow(1.0 - progress, POLY_POWER)
        if self.warmup_steps > 0:
            # Step k (0-based) of the warm-up trains at (k + 1) / warmup_steps of the rate.
            lr = lr * tf.minimum(1.0, (step + 1.0) / float(self.warmup_steps))
        return lr

    def get_config(self):
        return {"base_lr": self.base_lr, "steps": self.steps, "kind": self.kind,
                "warmup_steps": self.warmup_steps}


@dataclasses.dataclass(frozen=True)
class LayerGroups:
    """Per-variable gradient multipliers and weight-decay mask, in `model.trainable_variables` order.

    Attributes:
        multipliers: the variable's rate over ``head_lr``: ``backbone_lr / head_lr`` for pretrained VGG variables,
            1.0 for the others, times `BIAS_LR_MULT` for biases and BatchNorm betas.
        decay_multipliers: the prototxts' decay_mult: 1.0 for kernels and BatchNorm gammas (10.0 for upscore1, see
            `DECAY_MULTS`), 0.0 for biases and betas.
        head_lr, backbone_lr: the two base rates (for logging).
    """

    multipliers: tuple[float, ...]
    decay_multipliers: tuple[float, ...]
    head_lr: float
    backbone_lr: float


def _is_bias(variable) -> bool:
    """A conv bias or a BatchNorm beta (Caffe's Scale bias): lr_mult 2, decay_mult 0 in the prototxts."""
    return variable.path.split("/")[-1] in ("bias", "beta")


def _decay_multiplier(variable) -> float:
    if _is_bias(variable):
        return 0.0
    return DECAY_MULTS.get(variable.path.split("/")[-2], 1.0)


def layer_groups(model, stage_config, has_backbone: bool = True) -> LayerGroups:
    """Splits `model`'s trainable variables into the pretrained-VGG and new-layer groups.

    A network without a backbone (the GLFN, trained from scratch) trains every layer at ``head_lr``.
    """
    ratio = stage_config.backbone_lr / stage_config.head_lr
    variables = model.trainable_variables
    multipliers = tuple(
        (ratio if has_backbone and is_backbone_variable(v) else 1.0) * (BIAS_LR_MULT if _is_bias(v) else 1.0)
        for v in variables
    )
    backbone_lr = stage_config.backbone_lr if has_backbone else stage_config.head_lr
    return LayerGroups(multipliers, tuple(_decay_multiplier(v) for v in variables),
                       stage_config.head_lr, backbone_lr)


def make_optimizer(stage_config, steps: int | None = None, loss_scaling: bool = False):
    """SGD with momentum at the head rate, following the stage's schedule.

    Args:
        stage_config: a `StageConfig` (head_lr, momentum, lr_schedule, warmup_steps, steps).
        steps: length of the poly decay (default `stage_config.steps`).
        loss_scaling: wrap in `keras.optimizers.LossScaleOptimizer` (needed under mixed_float16).
    """
    schedule = WarmupPolySchedule(stage_config.head_lr, steps or stage_config.steps,
                                  stage_config.lr_schedule, stage_config.warmup_steps)
    optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=stage_config.momentum)
    if loss_scaling:
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def current_schedule(optimizer):
    """The `WarmupPolySchedule` of `optimizer` (looks through a LossScaleOptimizer)."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    return inner._learning_rate


def group_learning_rates(optimizer, groups: LayerGroups, step) -> dict[str, tf.Tensor]:
    """The effective rates of both groups at `step`: {"lr/head": ..., "lr/backbone": ...}."""
    head = current_schedule(optimizer)(step)
    return {"lr/head": head, "lr/backbone": head * (groups.backbone_lr / groups.head_lr)}


def transform_gradients(grads, variables, groups: LayerGroups, weight_decay: float,
                        loss_scale=1.0, num_replicas: int = 1):
    """Adds Caffe's L2 term (times each variable's decay_mult) to the gradients, then scales each variable to its
    own rate.

    Args:
        grads: per-replica gradients of the (possibly loss-scaled) per-replica loss, aligned with `variables`.
        variables: the model's trainable variables.
        groups: from `layer_groups`.
        weight_decay: the L2 coefficient (paper: 5e-4).
        loss_scale: the current loss scale; the decay term is scaled alike, since the optimizer divides
            every gradient by it.
        num_replicas: replicas in sync; the optimizer *sums* the replicas' gradients, so each replica
            adds its share ``1 / num_replicas`` of the decay term.

    Returns:
        The new gradient list (None gradients stay None).
    """
    decay = weight_decay * loss_scale / num_replicas
    out = []
    for grad, var, multiplier, decay_mult in zip(grads, variables, groups.multipliers, groups.decay_multipliers):
        if grad is None:
            out.append(None)
            continue
        if decay_mult and weight_decay:
            grad = grad + tf.cast(decay * decay_mult, grad.dtype) * tf.cast(var, grad.dtype)
        if multiplier != 1.0:
            grad = grad * multiplier
        out.append(grad)
    return out
