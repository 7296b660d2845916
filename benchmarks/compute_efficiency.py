"""How close does the GSN's forward pass come to this CPU's float32 matmul rate? And the paper's Table 3 beside ours.

1. Peak reference: float32 `tf.linalg.matmul` of two N x N matrices (N = 2048) in a `tf.function`;
   rate = 2 N^3 / median time, in GFLOP/s. It is measured alone and, for every network run below, in
   alternation with that run (a, b, a, b, ...), so each ratio compares rates taken under the same load.
2. GSN forward pass at 384x384 (preset `paper`, random init), batch 1 and batch 4, in a `tf.function`,
   with and without `jit_compile=True` (XLA). FLOPs are counted analytically from the built model's
   Conv2D / Conv2DTranspose layers (`common.conv_flops`: 2 * H_out * W_out * K * K * C_in * C_out per
   convolution; biases, ReLU, pooling and softmax are not counted, < 1% here). Rate = FLOPs / median time.
   Target: the GSN reaches >= 85% of the matmul rate.
3. The paper's figures (Table 3, GTX 1080 Ti) beside ours on this CPU: GSN at 384x384, GLFN at 1024x1024,
   and the model sizes (count_params * 4 bytes).

    python benchmarks/compute_efficiency.py [--quick] [--repeats 5] [--json OUT]
"""

from __future__ import annotations

import common  # noqa: F401  (before TensorFlow: its C++ logging quiet, its oneDNN kernels on)
import numpy as np
import tensorflow as tf
from common import (
    base_parser,
    conv_flops,
    emit,
    first_call_seconds,
    fmt,
    log,
    markdown,
    model_config,
    param_bytes,
    random_images,
    repeats,
    table,
    target,
    time_calls,
    time_interleaved,
)

from hrsod_tf.models import build_glfn, build_gsn, build_lrn

PRESET = "paper"
GSN_SIZE = 384
GLFN_SIZE = 1024
FULL_PIPELINE_LINK = ("[Full pipeline at 1920x1080 and 3840x2160]"
                      "(#full-pipeline-at-1920x1080-and-3840x2160-paper-preset-random-init)")
TARGET_FRACTION = 0.85
# Paper, Table 3 and Sec. 5: GTX 1080 Ti.
PAPER = {"seconds_384": 0.05, "seconds_1024": 0.39, "gsn_lrn_mb": 129.6, "glfn_kb": 11.9,
         "device": "NVIDIA GTX 1080 Ti (paper, Table 3)"}


class Matmul:
    """A float32 size x size matmul in a tf.function: the machine's reference FLOP rate."""

    def __init__(self, size: int):
        self.size = size
        self.flops = 2.0 * size ** 3
        self._a = tf.random.stateless_normal([size, size], seed=(1, 2))
        self._b = tf.random.stateless_normal([size, size], seed=(3, 4))
        self._fn = tf.function(lambda x, y: tf.reduce_sum(tf.linalg.matmul(x, y)))

    def __call__(self):
        return self._fn(self._a, self._b).numpy()

    def rate(self, timing: dict) -> float:
        """GFLOP/s for a `summarize` timing of this matmul."""
        return self.flops / timing["median_s"] / 1e9


def forward_rate(model, inputs, flops_per_image: float, reps: int, jit: bool, matmul: Matmul) -> dict:
    """Median time and GFLOP/s of `model(inputs)` in a tf.function (XLA when `jit`), timed in alternation
    with the reference matmul so that the ratio of the two rates is measured under the same conditions."""
    forward = tf.function(lambda x: model(x, training=False), jit_compile=jit)
    batch = int(inputs[0].shape[0]) if isinstance(inputs, (list, tuple)) else int(inputs.shape[0])
    compile_s = first_call_seconds(lambda: _block(forward(inputs)))
    timings = time_interleaved({"forward": lambda: _block(forward(inputs)), "matmul": matmul}, reps, warmup=1)
    timing = timings["forward"]
    gflops = flops_per_image * batch / timing["median_s"] / 1e9
    matmul_gflops = matmul.rate(timings["matmul"])
    return {"batch": batch, "jit_compile": jit, "first_call_s": compile_s, "timing": timing,
            "seconds_per_image": timing["median_s"] / batch, "gflops": gflops,
            "matmul_gflops_same_loop": matmul_gflops, "fraction_of_matmul": gflops / matmul_gflops}


def _block(tensor):
    """Waits for a TF result (copies it to numpy)."""
    return tensor.numpy()


def gsn_runs(reps: int, batches, jit_batches, matmul: Matmul) -> dict:
    """The GSN at 384x384: analytic FLOPs and the rate of every batch without XLA, and with XLA for the
    batches in `jit_batches`."""
    model = build_gsn(model_config(PRESET), input_size=GSN_SIZE)
    flops = conv_flops(model)
    runs = []
    for batch in batches:
        images = random_images(batch, GSN_SIZE)
        for jit in (False, True) if batch in jit_batches else (False,):
            log(f"GSN {GSN_SIZE}x{GSN_SIZE} batch {batch} jit_compile={jit}")
            runs.append(forward_rate(model, images, flops["total"], reps, jit, matmul))
    return {"model": model, "flops_per_image": flops["total"], "runs": runs}


def glfn_run(reps: int, matmul: Matmul) -> dict:
    """The GLFN at 1024x1024, batch 1: time, analytic FLOPs and size."""
    model = build_glfn(model_config(PRESET), input_size=GLFN_SIZE)
    flops = conv_flops(model)["total"]
    image = random_images(1, GLFN_SIZE)
    saliency = np.random.default_rng(1).uniform(size=(1, GLFN_SIZE, GLFN_SIZE, 1)).astype("float32")
    log(f"GLFN {GLFN_SIZE}x{GLFN_SIZE} batch 1")
    run = forward_rate(model, [image, saliency], flops, reps, False, matmul)
    return {"flops_per_image": flops, "bytes": param_bytes(model), "params": int(model.count_params()), **run}


def model_sizes(gsn) -> dict:
    """float32 sizes of the GSN, the LRN and their sum (the paper's 129.6 MB is GSN+LRN)."""
    lrn = build_lrn(model_config(PRESET), input_size=GSN_SIZE)
    gsn_bytes, lrn_bytes = param_bytes(gsn), param_bytes(lrn)
    return {"gsn_params": int(gsn.count_params()), "lrn_params": int(lrn.count_params()),
            "gsn_mb": gsn_bytes / 1e6, "lrn_mb": lrn_bytes / 1e6, "gsn_lrn_mb": (gsn_bytes + lrn_bytes) / 1e6}


def efficiency_verdict(runs: list) -> dict:
    """The best GSN configuration's rate as a fraction of the matmul rate measured in the same loop."""
    best = max(runs, key=lambda r: r["fraction_of_matmul"])
    fraction = best["fraction_of_matmul"]
    return {"best": {key: best[key] for key in ("batch", "jit_compile", "gflops", "matmul_gflops_same_loop")},
            "fraction_of_matmul": fraction,
            "target": target(fraction >= TARGET_FRACTION, f"{100 * fraction:.0f}% of the matmul rate",
                             f">= {100 * TARGET_FRACTION:.0f}%")}


def render(result: dict) -> dict:
    """Two fragments: the GSN against the matmul rate, and ("paper") the paper's figures beside ours."""
    return {"": render_efficiency(result), "paper": render_paper_comparison(result["paper_comparison"])}


def render_efficiency(result: dict) -> str:
    mm, gsn = result["matmul"], result["gsn"]
    rows = [[r["batch"], "yes" if r["jit_compile"] else "no", fmt(r["timing"]["median_s"]),
             fmt(r["seconds_per_image"]), fmt(r["gflops"], ".1f"), fmt(r["matmul_gflops_same_loop"], ".1f"),
             fmt(100 * r["fraction_of_matmul"], ".0f") + "%", fmt(r["first_call_s"], ".1f")] for r in gsn["runs"]]
    return markdown(
        f"Reference: float32 matmul {mm['size']}x{mm['size']} in a `tf.function`: **{mm['gflops_alone']:.1f} "
        f"GFLOP/s** alone (median of {mm['timing_alone']['repeats']}).\nGSN FLOPs ({result['flop_counting']}): "
        f"**{gsn['flops_per_image'] / 1e9:.1f} GFLOP** per {gsn['input_size']}x{gsn['input_size']} image. Each GSN "
        "configuration is timed in alternation with the matmul, so each ratio compares two rates measured under "
        "the same load.",
        table(["batch", "jit_compile", "median s / batch", "s / image", "GSN GFLOP/s", "matmul GFLOP/s (same loop)",
               "GSN / matmul", "first call s"], rows))


def render_paper_comparison(comparison: dict) -> str:
    paper, ours = comparison["paper"], comparison["ours"]
    return markdown(table(["figure", "paper (GTX 1080 Ti, Table 3)", "ours (this CPU, float32)"], [
        ["time at 384x384", f"{paper['seconds_384']} s", f"{ours['gsn_384_seconds']:.2f} s (GSN forward)"],
        ["time at 1024x1024", f"{paper['seconds_1024']} s (the whole method)",
         f"{ours['glfn_1024_seconds']:.2f} s for the GLFN forward alone (the whole pipeline: {FULL_PIPELINE_LINK})"],
        ["model size GSN+LRN", f"{paper['gsn_lrn_mb']} MB", f"{ours['gsn_lrn_mb']:.1f} MB (count_params x 4)"],
        ["model size GLFN", f"{paper['glfn_kb']} kB", f"{ours['glfn_kb']:.1f} kB (count_params x 4)"],
    ]))


def main(argv=None) -> dict:
    parser = base_parser(__doc__)
    parser.add_argument("--matmul-size", type=int, default=2048)
    parser.add_argument("--batches", type=int, nargs="+", default=None,
                        help="GSN batch sizes (default 1 and 4, or 1 with --quick)")
    parser.add_argument("--jit-batches", type=int, nargs="*", default=[1],
                        help="batch sizes also run with jit_compile=True (default 1: XLA compiles slowly)")
    args = parser.parse_args(argv)
    reps = repeats(args, full=3, quick=2)

    matmul = Matmul(args.matmul_size)
    log(f"matmul {args.matmul_size}x{args.matmul_size} float32 alone")
    alone = time_calls(matmul, max(reps, 5), warmup=2)
    batches = args.batches or ([1] if args.quick else [1, 4])
    gsn = gsn_runs(reps, batches, args.jit_batches, matmul)
    glfn = glfn_run(reps, matmul)
    sizes = model_sizes(gsn.pop("model"))
    gsn_b1 = next(r for r in gsn["runs"] if r["batch"] == 1 and not r["jit_compile"])
    efficiency = efficiency_verdict(gsn["runs"])
    result = {
        "benchmark": "compute_efficiency",
        "preset": PRESET,
        "flop_counting": "analytic: 2*H_out*W_out*K*K*C_in*C_out per Conv2D (input grid for Conv2DTranspose)",
        "matmul": {"size": matmul.size, "flops": matmul.flops, "timing_alone": alone,
                   "gflops_alone": matmul.rate(alone),
                   "note": "each GSN/GLFN run is timed in alternation with this matmul; its ratio uses the "
                           "matmul rate of that same loop (matmul_gflops_same_loop)"},
        "gsn": {"input_size": GSN_SIZE, **gsn},
        "efficiency": efficiency,
        "target": efficiency["target"],
        "glfn": {"input_size": GLFN_SIZE, **glfn},
        "paper_comparison": {
            "paper": PAPER,
            "ours": {"gsn_384_seconds": gsn_b1["seconds_per_image"],
                     "glfn_1024_seconds": glfn["seconds_per_image"],
                     "gsn_lrn_mb": sizes["gsn_lrn_mb"], "glfn_kb": glfn["bytes"] / 1e3,
                     "device": "this CPU (float32, batch 1, tf.function, no XLA)"},
            "sizes": sizes,
        },
    }
    return emit(result, args, render)


if __name__ == "__main__":
    main()
