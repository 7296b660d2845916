"""A trained network as it is exported: fixed input sides where the pipeline fixes them, the salient channel only.

    stage   inputs (float32)                               output (float32)
    gsn     image [B, S, S, 3] RGB 0..255                  [B, S, S, 1]   S = gsn_input_size
    lrn     image [B, s, s, 3], guidance [B, s, s, 1]      [B, s, s, 1]   s = lrn_input_size
    glfn    image [B, H, W, 3], saliency [B, H, W, 1]      [B, H, W, 1]   any H x W (tiles or frame)

The batch stays free (the pipeline's last LRN batch is partial). The output is the salient class's probability,
what `hrsod_tf.pipeline.networks.PipelineNetworks` functions return, so a runtime's output goes to the pipeline
as it is (and half the bytes leave the runtime).
"""

from __future__ import annotations

import dataclasses

import keras

from hrsod_tf.models import build_stage_network

__all__ = ["INPUT_NAMES", "exportable_network", "input_side"]

#: stage -> its inputs' names, in call order (the names in every exported file).
INPUT_NAMES = {"gsn": ("image",), "lrn": ("image", "guidance"), "glfn": ("image", "saliency")}


def input_side(stage: str, model_config) -> int | None:
    """The fixed input side of `stage` in the pipeline (None: the GLFN takes any size)."""
    return {"gsn": model_config.gsn_input_size, "lrn": model_config.lrn_input_size, "glfn": None}[stage]


def exportable_network(stage: str, model, model_config) -> keras.Model:
    """`model` (a trained Keras network of `stage`) rebuilt with the exported inputs and the salient channel out.

    The weights are copied, so `model` itself is unchanged.
    """
    config = dataclasses.replace(model_config, backbone_weights="none")
    rebuilt = build_stage_network(stage, config, input_size=input_side(stage, model_config))
    rebuilt.set_weights(model.get_weights())
    inputs = rebuilt.inputs
    salient = rebuilt.outputs[0][..., 1:]
    exported = keras.Model(inputs[0] if len(inputs) == 1 else inputs, salient, name=stage)
    side = input_side(stage, model_config) or 16
    samples = [keras.ops.zeros((1, side, side, 3 if index == 0 else 1)) for index in range(len(inputs))]
    exported(samples[0] if len(samples) == 1 else samples)  # Keras' ONNX exporter needs a model called once
    return exported
