"""Where the GLFN's forward time goes, and how much faster `FoldedGLFN` (hrsod_tf/pipeline/folded_glfn.py) is.

1. Profile: every layer of the Keras GLFN (preset `paper`, random init, BatchNorm statistics set to non-trivial
   values) at 1920x1080, each in its own `tf.function` on the previous layer's output, median of `--repeats`;
   grouped by kind (1x1 / 3x3 / dilated convolutions, BatchNorm, ReLU, concatenation, the rest).
2. Keras GLFN vs FoldedGLFN, both run as the inference pipeline runs them (`SaliencyPipeline.fusion_network`:
   whole below `glfn_max_pixels`, tiles above), for the `paper` and `official` GLFNs at 1920x1080 and
   3840x2160, timed in alternation (ratios under the same load); maximum difference of their outputs.
3. The row "GLFN forward at 1920x1080 vs GSN forward at 384x384": FoldedGLFN (paper) and the `paper` GSN
   (batch 1, `tf.function`) timed in alternation; GFLOP/s from the Keras GLFN's analytic FLOPs
   (`common.conv_flops`: 2*H*W*K*K*C_in*C_out per convolution). Target: ratio <= 1.

    python benchmarks/glfn_speed.py [--quick] [--repeats 3] [--json OUT]
"""

from __future__ import annotations

import common  # noqa: F401  (sys.path and TF logging first)
import keras
import numpy as np
import tensorflow as tf
from common import (
    base_parser,
    conv_flops,
    emit,
    fmt,
    log,
    machine_info,
    markdown,
    model_config,
    random_images,
    repeats,
    table,
    target,
    time_calls,
    time_interleaved,
)

from hrsod_tf.config import get_preset
from hrsod_tf.models import build_glfn, build_gsn
from hrsod_tf.models.glfn import receptive_field_radius
from hrsod_tf.pipeline.folded_glfn import FoldedGLFN
from hrsod_tf.pipeline.full_resolution import glfn_tiled
from hrsod_tf.pipeline.networks import keras_probability

SIZES = ((1080, 1920), (2160, 3840))
SPEEDUP_TARGET = 4.0
GSN_RATIO_TARGET = 1.0


def _kind(layer) -> str:
    if isinstance(layer, keras.layers.Conv2D):
        if layer.kernel_size == (1, 1):
            return "conv 1x1"
        return "conv 3x3 dilated" if max(layer.dilation_rate) > 1 else "conv 3x3"
    if isinstance(layer, keras.layers.BatchNormalization):
        return "BatchNorm"
    if isinstance(layer, keras.layers.ReLU):
        return "ReLU"
    if isinstance(layer, keras.layers.Concatenate):
        return "concatenation"
    return "other (input scaling, softmax)"


def trained_like_glfn(preset: str, seed: int = 0):
    """A GLFN of `preset` with random weights and non-trivial BatchNorm statistics (not the identity)."""
    keras.utils.set_random_seed(seed)
    config = model_config(preset)
    glfn = build_glfn(config)
    rng = np.random.default_rng(seed)
    for layer in glfn.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.3, beta.shape),
                               rng.normal(0, 30, mean.shape), rng.uniform(100, 3000, var.shape)])
    return config, glfn


def flops_per_pixel(config) -> float:
    """Analytic FLOPs per output pixel of the Keras GLFN (counted on a static 8x8 build)."""
    return conv_flops(build_glfn(config, input_size=8))["total"] / 64.0


def _inputs(height, width, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.uniform(0, 255, (height, width, 3)).astype(np.uint8)
    fused = rng.uniform(0, 1, (height, width, 1)).astype(np.float32)
    return image, fused


def profile_layers(glfn, height: int, width: int, reps: int) -> dict:
    """Per-layer median seconds of the Keras GLFN, each layer alone on its real input."""
    image, fused = _inputs(height, width)
    values = {id(glfn.inputs[0]): tf.constant(image[None].astype(np.float32)),
              id(glfn.inputs[1]): tf.constant(fused[None])}
    layers = []
    for layer in glfn.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        node = layer._inbound_nodes[0]
        args = [values[id(t)] for t in node.input_tensors]
        fn = tf.function(lambda a, layer=layer: layer(a, training=False))
        arg = args if len(args) > 1 else args[0]
        out = fn(arg)
        values[id(node.output_tensors[0])] = out
        timing = time_calls(lambda fn=fn, arg=arg: fn(arg).numpy(), reps, warmup=0)
        layers.append({"name": layer.name, "kind": _kind(layer), "out_channels": int(out.shape[-1]),
                       "median_s": timing["median_s"]})
    by_kind = {}
    for entry in layers:
        by_kind[entry["kind"]] = by_kind.get(entry["kind"], 0.0) + entry["median_s"]
    whole = tf.function(lambda a, b: glfn([a, b], training=False))
    args = (values[id(glfn.inputs[0])], values[id(glfn.inputs[1])])
    whole_s = time_calls(lambda: whole(*args).numpy(), reps)["median_s"]
    return {"size": f"{width}x{height}", "layers": layers, "by_kind_s": by_kind,
            "sum_of_layers_s": sum(by_kind.values()), "whole_network_s": whole_s}


def pipeline_forwards(config, glfn, inference):
    """(keras_fn, folded_fn): the GLFN as `SaliencyPipeline.fusion_network` runs it, Keras and folded."""
    margin = receptive_field_radius(config)

    def make(network):
        def forward(image, fused):
            pixels = tf.shape(image)[0] * tf.shape(image)[1]
            return tf.cond(
                pixels > inference.glfn_max_pixels,
                lambda: glfn_tiled(network, image, fused, inference.glfn_tile_size, margin),
                lambda: network(tf.cast(image, tf.float32)[None], fused[None])[0])

        return tf.function(forward, autograph=False)

    return make(keras_probability(glfn)), make(FoldedGLFN(glfn, config))


def compare(preset: str, reps: int, sizes) -> list:
    config, glfn = trained_like_glfn(preset)
    keras_fn, folded_fn = pipeline_forwards(config, glfn, get_preset(preset).inference)
    per_pixel = flops_per_pixel(config)
    rows = []
    for height, width in sizes:
        image, fused = _inputs(height, width, seed=1)
        difference = float(np.abs(keras_fn(image, fused).numpy() - folded_fn(image, fused).numpy()).max())
        log(f"{preset} {width}x{height}: keras vs folded, max difference {difference:.2e}")
        timing = time_interleaved({"keras": lambda image=image, fused=fused: keras_fn(image, fused).numpy(),
                                   "folded": lambda image=image, fused=fused: folded_fn(image, fused).numpy()},
                                  reps, warmup=0)
        keras_s, folded_s = timing["keras"]["median_s"], timing["folded"]["median_s"]
        rows.append({"preset": preset, "size": f"{width}x{height}", "keras_s": keras_s, "folded_s": folded_s,
                     "speedup": keras_s / folded_s, "max_difference": difference,
                     "gflop": per_pixel * height * width / 1e9,
                     "folded_gflop_per_s": per_pixel * height * width / folded_s / 1e9,
                     "timings": timing})
    return rows


def gsn_row(reps: int) -> dict:
    """FoldedGLFN (paper) at 1920x1080 and the paper GSN at 384x384, timed in alternation."""
    gsn = build_gsn(model_config("paper"))
    batch = tf.constant(random_images(1, 384))
    gsn_fn = tf.function(lambda x: gsn(x, training=False))
    config, glfn = trained_like_glfn("paper")
    _, folded_fn = pipeline_forwards(config, glfn, get_preset("paper").inference)
    image, fused = _inputs(1080, 1920, seed=2)
    timing = time_interleaved({"glfn_1080p": lambda: folded_fn(image, fused).numpy(),
                               "gsn_384": lambda: gsn_fn(batch).numpy()}, reps, warmup=1)
    glfn_s, gsn_s = timing["glfn_1080p"]["median_s"], timing["gsn_384"]["median_s"]
    gflop = flops_per_pixel(config) * 1080 * 1920 / 1e9
    return {"glfn_1080p_s": glfn_s, "gsn_384_s": gsn_s, "ratio": glfn_s / gsn_s, "glfn_gflop": gflop,
            "glfn_gflop_per_s": gflop / glfn_s, "timings": timing}


def main(argv=None) -> dict:
    args = base_parser(__doc__).parse_args(argv)
    reps = repeats(args, full=3, quick=1)
    machine = machine_info()
    log(f"CPU {machine['cpu_model']}, flags {', '.join(machine['isa_flags'])}, load {machine['load_average_1_5_15']}")
    _, glfn = trained_like_glfn("paper")
    profile = profile_layers(glfn, 1080, 1920, reps)
    sizes = SIZES[:1] if args.quick else SIZES
    comparisons = [row for preset in ("paper", "official") for row in compare(preset, reps, sizes)]
    row = gsn_row(reps)
    speedups = [c["speedup"] for c in comparisons]
    speedup_met, ratio_met = min(speedups) >= SPEEDUP_TARGET, row["ratio"] <= GSN_RATIO_TARGET
    result = {
        "profile": profile,
        "comparisons": comparisons,
        "gsn_row": row,
        "verdict": {
            "speedup": {"met": speedup_met, "measured": f"{min(speedups):.2f}x at worst",
                        "goal": f">= {SPEEDUP_TARGET:.0f}x"},
            "gsn_ratio": {"met": ratio_met, "measured": f"{row['ratio']:.2f}", "goal": f"<= {GSN_RATIO_TARGET:.0f}"},
        },
        "target": target(speedup_met and ratio_met,
                         f"speed-up {min(speedups):.2f}x at worst, GLFN/GSN ratio {row['ratio']:.2f}",
                         f">= {SPEEDUP_TARGET:.0f}x and ratio <= {GSN_RATIO_TARGET:.0f}"),
        "load_average_start": machine["load_average_1_5_15"],
    }
    return emit(result, args, render)


def render(result: dict) -> str:
    """Where the time goes (per-layer profile), FoldedGLFN vs the Keras GLFN, and the ratio to the GSN."""
    profile, machine, row = result["profile"], result["machine"], result["gsn_row"]
    total = profile["sum_of_layers_s"]
    kinds = sorted(profile["by_kind_s"].items(), key=lambda kv: -kv[1])
    comparisons = [[c["preset"], c["size"], fmt(c["keras_s"]), fmt(c["folded_s"]), fmt(c["speedup"], ".2f") + "x",
                    fmt(c["gflop"], ".1f"), fmt(c["folded_gflop_per_s"], ".1f"), f"{c['max_difference']:.1e}"]
                   for c in result["comparisons"]]
    return markdown(
        f"CPU flags: {', '.join(machine['isa_flags'])}; load average (1/5/15 min) at the start "
        f"{result.get('load_average_start')}, at the end {machine['load_average_1_5_15']}.",
        f"**Where the time goes** (Keras GLFN, `paper` preset, {profile['size']}, each layer alone in its own "
        f"`tf.function`; sum of layers {fmt(profile['sum_of_layers_s'])} s, whole network "
        f"{fmt(profile['whole_network_s'])} s):",
        table(["layer kind", "seconds", "share"], [[k, fmt(v), f"{100 * v / total:.0f}%"] for k, v in kinds]),
        "**FoldedGLFN vs the Keras GLFN**, both as the inference pipeline runs them (whole image below "
        "`glfn_max_pixels`, tiles above), timed in alternation (median):",
        table(["GLFN", "size", "Keras s", "FoldedGLFN s", "speed-up", "GFLOP", "GFLOP/s (folded)", "max difference"],
              comparisons),
        "**GLFN forward at 1920x1080 vs GSN forward at 384x384**, measured in alternation in one run (FoldedGLFN, "
        "`paper`; GSN `paper`, batch 1):",
        table(["GLFN 1080p s", "GLFN GFLOP", "GLFN GFLOP/s", "GSN 384 s", "ratio GLFN / GSN"],
              [[fmt(row["glfn_1080p_s"]), fmt(row["glfn_gflop"], ".1f"), fmt(row["glfn_gflop_per_s"], ".1f"),
                fmt(row["gsn_384_s"]), fmt(row["ratio"], ".2f")]]))


if __name__ == "__main__":
    main()
