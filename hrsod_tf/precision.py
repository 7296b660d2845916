"""Numeric precision, chosen in one place.

`auto` is mixed_float16 on a GPU (Keras then wraps the optimizer in loss scaling) and float32 on a CPU;
mixed_bfloat16 is offered for CPUs with AVX512-BF16/AMX and for TPUs. Whatever the policy, the networks'
softmax outputs are float32 (their last layer sets dtype="float32").
"""

import keras
import tensorflow as tf

from hrsod_tf.config import PRECISIONS


def resolve_precision(name: str) -> str:
    """Maps a precision name (one of `config.PRECISIONS`) to a Keras dtype policy name."""
    if name not in PRECISIONS:
        raise ValueError(f"precision {name!r} is not one of {', '.join(PRECISIONS)}")
    if name == "auto":
        return "mixed_float16" if tf.config.list_physical_devices("GPU") else "float32"
    return name


def set_precision(name: str) -> str:
    """Sets the global Keras dtype policy for the networks built after this call; returns its name."""
    policy = resolve_precision(name)
    keras.mixed_precision.set_global_policy(policy)
    return policy
