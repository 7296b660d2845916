"""float32 vs mixed_bfloat16 on this CPU: the GSN forward pass (preset `paper`, 384x384, batch 1).

The float32 GSN is built (random init) and its weights saved; then the global Keras policy is set to
`mixed_bfloat16`, a second GSN is built and the same weights are loaded into it (a model keeps the policy
it was built with, so both live in one process). The two forward passes, each in a `tf.function`, are
timed in alternation (a, b, a, b, ...) so that their speed ratio is measured under the same load.
Reported: the speed ratio (float32 time / bf16 time: > 1 means bf16 is faster), the largest and mean
absolute difference of the salient-class probability map, and the share of pixels whose 0.5-thresholded
decision differs.

bfloat16 is fast only on CPUs with native bf16 arithmetic (AVX512_BF16 or AMX); elsewhere oneDNN converts
to float32 and back around each operation. The ISA flags of this CPU are in the JSON ("machine").

    python benchmarks/precision_bf16.py [--quick] [--repeats 3] [--json OUT]
"""

from __future__ import annotations

import os
import tempfile

import common  # noqa: F401  (before TensorFlow: its C++ logging quiet, its oneDNN kernels on)
import keras
import numpy as np
import tensorflow as tf
from common import (
    base_parser,
    emit,
    fmt,
    log,
    markdown,
    model_config,
    random_images,
    repeats,
    synthetic_scene,
    table,
    time_interleaved,
)

from hrsod_tf.models import build_gsn

PRESET = "paper"
SIZE = 384


def build_gsn_with_policy(policy: str, weights_path: str | None = None):
    """A paper GSN at SIZE built under `policy`; with `weights_path`, its weights are loaded from there."""
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = build_gsn(model_config(PRESET), input_size=SIZE)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    if weights_path:
        model.load_weights(weights_path)
    return model


def test_input():
    """A synthetic scene resized to SIZE x SIZE (float32 RGB, batch of 1): a natural-looking input."""
    image, _ = synthetic_scene(SIZE, SIZE, seed=3)
    return image[np.newaxis].astype("float32")


def compare_outputs(reference, other) -> dict:
    """Differences between two salient-class maps (float32 numpy arrays in [0, 1])."""
    diff = np.abs(reference - other)
    return {"max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean()),
            "decision_flip_fraction": float(np.mean((reference > 0.5) != (other > 0.5))),
            "reference_range": [float(reference.min()), float(reference.max())]}


def main(argv=None) -> dict:
    parser = base_parser(__doc__)
    parser.add_argument("--input", choices=("synthetic", "random"), default="synthetic",
                        help="a synthetic scene (default) or uniform noise")
    args = parser.parse_args(argv)
    reps = repeats(args, full=3, quick=2)
    images = test_input() if args.input == "synthetic" else random_images(1, SIZE)

    f32 = build_gsn_with_policy("float32")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "gsn.weights.h5")
        f32.save_weights(path)
        bf16 = build_gsn_with_policy("mixed_bfloat16", path)
    forward = {name: tf.function(lambda x, m=model: m(x, training=False))
               for name, model in (("float32", f32), ("mixed_bfloat16", bf16))}
    outputs = {name: fn(images).numpy()[..., 1] for name, fn in forward.items()}  # also traces both
    log(f"GSN {SIZE}x{SIZE}: float32 vs mixed_bfloat16, {reps} alternating repetitions")
    timings = time_interleaved({name: (lambda fn=fn: fn(images).numpy()) for name, fn in forward.items()},
                               reps, warmup=1)
    ratio = timings["float32"]["median_s"] / timings["mixed_bfloat16"]["median_s"]
    result = {
        "benchmark": "precision_bf16",
        "preset": PRESET, "input_size": SIZE, "batch": 1, "input": args.input,
        "compute_dtype": {"float32": f32.layers[-2].compute_dtype, "mixed_bfloat16": bf16.layers[-2].compute_dtype},
        "timing": timings,
        "speedup_bf16_over_f32": ratio,
        "output_difference": compare_outputs(outputs["float32"], outputs["mixed_bfloat16"]),
    }
    return emit(result, args, render)


def render(result: dict) -> str:
    t, d, flags = result["timing"], result["output_difference"], result["machine"]["isa_flags"]
    ratio = result["speedup_bf16_over_f32"]
    return markdown(
        table(["policy", "median s", "compute dtype"],
              [[k, fmt(v["median_s"]), result["compute_dtype"][k]] for k, v in t.items()]),
        f"Speed ratio float32 time / bf16 time: **{ratio:.2f}x** (timed in alternation). Output map difference (same "
        f"weights, {result['input']} input): max |diff| **{d['max_abs_diff']:.4f}**, mean {d['mean_abs_diff']:.5f}, "
        f"decisions at 0.5 flipped on {100 * d['decision_flip_fraction']:.2f}% of pixels. CPU vector flags: "
        f"{', '.join(flags) or 'none'}. {bf16_reading(ratio, flags)}")


def bf16_reading(ratio: float, flags: list) -> str:
    """One sentence placing the bf16 speed ratio beside the CPU's bf16 support (both figures of this run)."""
    native = any(f in flags for f in ("avx512_bf16", "amx_bf16"))
    support = "this CPU has native bf16 arithmetic" if native else (
        "this CPU has no native bf16 arithmetic (no AVX512_BF16 / AMX): oneDNN converts around the float32 FMAs")
    if ratio > 1.05:
        return f"bf16 was faster here ({support}; halved memory traffic is what helps)."
    if ratio < 0.95:
        return f"bf16 was slower here ({support}); keep float32 (the `auto` precision does on CPU)."
    return f"No meaningful speed difference ({support}); keep float32 (the `auto` precision does on CPU)."


if __name__ == "__main__":
    main()
