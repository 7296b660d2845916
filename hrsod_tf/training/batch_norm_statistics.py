"""Precise BatchNorm statistics: each BatchNorm's moving mean and variance set to its input's population
statistics over training batches, after training (Wu & Johnson, "Rethinking 'Batch' in BatchNorm", 2021).

Why: Keras's moving averages (momentum 0.99) keep 0.99^steps of their initial values (mean 0, variance 1).
A network trained from scratch for a few hundred steps, whose inputs are at Caffe scale (the GLFN: BGR minus
mean and the map x255, variances in the thousands), ends with statistics that are still far from its
inputs', so its inference-mode output differs from what it learned in training mode.

    recompute_batch_norm_statistics(model, batches, num_batches=16)

The BatchNorms are processed in graph order; each one's statistics are measured with the earlier ones
already fixed, i.e. on exactly the inputs it gets at inference.
"""

from __future__ import annotations

import logging

import keras
import numpy as np

logger = logging.getLogger(__name__)


def batch_norm_layers(model) -> list:
    return [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]


def recompute_batch_norm_statistics(model, batches, num_batches: int = 16) -> int:
    """Sets every BatchNorm's moving statistics of `model` to the population ones over `batches`.

    Args:
        model: a functional Keras model.
        batches: an iterable of ``(inputs, labels)`` (labels unused), e.g. a training `tf.data.Dataset`.
        num_batches: how many batches to measure on (taken once and reused for every layer).
    Returns:
        The number of BatchNorm layers updated.
    """
    layers = batch_norm_layers(model)
    if not layers:
        return 0
    inputs = []
    for batch in batches:
        inputs.append(batch[0] if isinstance(batch, (tuple, list)) else batch)
        if len(inputs) >= num_batches:
            break
    if not inputs:
        raise ValueError("recompute_batch_norm_statistics got no batches")
    for layer in layers:
        probe = keras.Model(model.inputs, layer.input)
        total, total_sq, count = 0.0, 0.0, 0
        for x in inputs:
            values = np.asarray(probe(x, training=False), np.float64)
            values = values.reshape(-1, values.shape[-1])
            total = total + values.sum(axis=0)
            total_sq = total_sq + (values ** 2).sum(axis=0)
            count += values.shape[0]
        mean = total / count
        variance = np.maximum(total_sq / count - mean ** 2, 0.0)
        layer.moving_mean.assign(mean.astype(np.float32))
        layer.moving_variance.assign(variance.astype(np.float32))
    logger.info("BatchNorm statistics of %s recomputed on %d batches (%d layers)", model.name, len(inputs),
                len(layers))
    return len(layers)
