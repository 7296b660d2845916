"""What a test protocol gives the variant loop: the part of the pipeline that differs between protocols.

`SaliencyPipeline.variants_graph` asks the protocol for a `Frame` (the GSN run once on the image as the protocol
feeds it, and where refinement happens: the image itself, or a square warp of it) and for each step of a
variant inside that frame:

    protocol.frame(image)                     -> Frame
    protocol.gsn_output(frame, image)         the "gsn" variant, at the image's size
    protocol.refined(frame, sampler, lrn)     the fused map in the frame (sampler "aps", "rps" or "dense")
    protocol.fused_output(frame, fused)       the GLFN on it, in the frame
    protocol.to_image(frame_map, image)       a frame map at the image's size

Two protocols implement it: `hrsod_tf.pipeline.full_resolution.FullResolutionProtocol` (the paper) and
`hrsod_tf.pipeline.release.ReleaseProtocol` (the authors' test script).
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import tensorflow as tf


class Frame(NamedTuple):
    """Where a protocol refines one image.

    Attributes:
        image: the image in the frame, [h, w, 3] (uint8 or float32 levels 0..255).
        coarse: the GSN's map in the frame, float32 [h, w, 1] in [0, 1].
        gsn: the GSN's map at its own resolution, float32 [S, S, 1].
    """

    image: tf.Tensor
    coarse: tf.Tensor
    gsn: tf.Tensor


class InferenceProtocol(Protocol):
    """The interface of the module docstring; `name` is the `InferenceConfig.protocol` it implements."""

    name: str

    def frame(self, image) -> Frame: ...

    def gsn_output(self, frame: Frame, image) -> tf.Tensor: ...

    def refined(self, frame: Frame, sampler: str, lrn) -> tf.Tensor: ...

    def fused_output(self, frame: Frame, fused) -> tf.Tensor: ...

    def to_image(self, frame_map, image) -> tf.Tensor: ...
