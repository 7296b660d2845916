"""Distribution strategies: one custom training loop runs under all of them.

`model.fit` is not used: under MultiWorkerMirroredStrategy it fails in Keras 3.15 (keras-team/keras#20585).
"""

from __future__ import annotations

import os

import tensorflow as tf

STRATEGIES = ("auto", "none", "mirrored", "multiworker")


def make_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """Returns the `tf.distribute.Strategy` called `name`.

    * ``auto``: MirroredStrategy when more than one GPU is visible, else the default (no-op) strategy.
    * ``none``: the default strategy (one device).
    * ``mirrored``: MirroredStrategy over all local GPUs (or the CPU).
    * ``multiworker``: MultiWorkerMirroredStrategy configured from the ``TF_CONFIG`` environment variable.
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy {name!r} is not one of {', '.join(STRATEGIES)}")
    if name == "auto":
        name = "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1 else "none"
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if not os.environ.get("TF_CONFIG"):
        raise ValueError(
            "--strategy multiworker needs the TF_CONFIG environment variable, e.g.\n"
            '  TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}\'\n'
            "set on every worker with its own task index (see "
            "https://www.tensorflow.org/guide/distributed_training#TF_CONFIG)"
        )
    return tf.distribute.MultiWorkerMirroredStrategy()


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the worker that writes checkpoints, summaries and exports: the "chief" task if the cluster
    has one, else worker 0; always True without a cluster."""
    resolver = strategy.cluster_resolver
    if resolver is None or resolver.task_type is None:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().jobs
    return resolver.task_type == "worker" and not has_chief and int(resolver.task_id) == 0


def worker_index(strategy: tf.distribute.Strategy) -> int:
    """This worker's task index (0 without a cluster)."""
    resolver = strategy.cluster_resolver
    return int(resolver.task_id) if resolver is not None and resolver.task_id is not None else 0

