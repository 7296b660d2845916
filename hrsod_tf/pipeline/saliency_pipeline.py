"""The any-resolution pipeline GSN -> APS -> LRN -> fuse -> GLFN: every variant of the ablation, one loop.

The GSN runs once per image, fed as the run's protocol (`InferenceConfig.protocol`) feeds it; the protocol also
says where and how the rest happens: "full_resolution" (the paper: `hrsod_tf.pipeline.full_resolution`) or
"release" (the authors' test script, at the image's resolution or in a 1024x1024 warp:
`hrsod_tf.pipeline.release`). The variants (`hrsod_tf.pipeline.variants`)
share the work they have in common: "gsn+aps+lrn" and "full" refine once.

Everything is TensorFlow ops (no Python per patch, no numpy, no py_function), so `hrsod_tf.deploy.saved_model`
wraps this same code in a SavedModel; the networks are called only through a
`hrsod_tf.pipeline.networks.PipelineNetworks`, so another runtime runs under the same graph code.
"""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import tensorflow as tf

from hrsod_tf.commands import command
from hrsod_tf.pipeline.crf import dense_crf_maps
from hrsod_tf.pipeline.full_resolution import FullResolutionProtocol
from hrsod_tf.pipeline.networks import PipelineNetworks
from hrsod_tf.pipeline.release import ReleaseProtocol
from hrsod_tf.pipeline.variants import CRF_VARIANTS, VARIANT_STAGES, VARIANTS, graph_variants
from hrsod_tf.quality import with_quality
from hrsod_tf.workdir import ALL_STAGES, WorkDir

PROTOCOLS = {"full_resolution": FullResolutionProtocol, "release": ReleaseProtocol}

# variant -> (patch sampler, the network that refines the patches, whether the GLFN follows).
REFINEMENTS = {
    "gsn+rps+lrn": ("rps", "rps_lrn", False),
    "gsn+aps+lrn": ("aps", "lrn", False),
    "full": ("aps", "lrn", True),
    "dense+lrn": ("dense", "lrn", False),
}


def with_release_opt(config, release_opt: int | None):
    """`config` with `inference.release_opt` set (None: unchanged). Raises ValueError when the config's protocol
    is not "release", for which the option means nothing."""
    if release_opt is None:
        return config
    if config.inference.protocol != "release":
        raise ValueError(f"release_opt applies to protocol 'release' (the authors' test script); this run's "
                         f"protocol is {config.inference.protocol!r}")
    return config.replace(inference=dataclasses.replace(config.inference, release_opt=int(release_opt)))


class SaliencyPipeline:
    """GSN -> APS -> LRN -> fuse -> GLFN at any resolution.

    Args:
        config: the run's `Config`.
        networks: a `PipelineNetworks` (`PipelineNetworks.from_keras` for trained Keras networks; see
            `SaliencyPipeline.from_keras`).

    `predict(image, variant)` returns float32 [H, W, 1] in [0, 1]; `predict_variants(image, variants)`
    computes several variants sharing the work they have in common; both may be called from several threads at
    once (one traced function per set of variants). `protocol` is the protocol object, whose stages (for
    "full_resolution": `coarse`, `attention`, `boxes`, `refine`, `fusion_network`) can be run alone.
    """

    def __init__(self, config, networks: PipelineNetworks):
        self.config, self.networks = config, networks
        self.protocol = PROTOCOLS[config.inference.protocol](config, networks)
        self._functions = {}
        self._functions_lock = threading.Lock()  # threads predicting at once share one traced function

    @classmethod
    def from_keras(cls, config, gsn, lrn=None, glfn=None, rps_lrn=None) -> "SaliencyPipeline":
        """The pipeline of trained Keras networks (`lrn`, `glfn` may be None for the variants before them;
        `rps_lrn`: an LRN trained on random patches, the paper's "GSN+RPS+LRN")."""
        return cls(config, PipelineNetworks.from_keras(config.model, gsn, lrn, glfn, rps_lrn))

    @classmethod
    def from_workdir(cls, workdir, require=("gsn",), release_opt: int | None = None,
                     quality: str | None = None) -> "SaliencyPipeline":
        """The pipeline of a trained run: its config.json and the networks of the stages it finished.

        Args:
            workdir: the run's work directory (`hrsod_tf.workdir.WorkDir` layout).
            require: stages that must be trained (a missing one raises with the command to train it).
            release_opt: the test script's `opt` (`InferenceConfig.release_opt`) instead of the run's; only for a
                run whose protocol is "release" (ValueError otherwise).
            quality: a level of `hrsod_tf.quality` (its patch budget) instead of the run's; None: the run's.
        """
        run = WorkDir(workdir)
        config = with_quality(with_release_opt(run.load_config(), release_opt), quality)
        for stage in require:
            run.require_stage(stage)
        models = run.load_models(config, stages=ALL_STAGES, strict=False)  # rps_lrn too, when trained
        return cls.from_keras(config, models.gsn, models.lrn, models.glfn, models.rps_lrn)

    def at_quality(self, quality: str | None) -> "SaliencyPipeline":
        """This pipeline at another level of `hrsod_tf.quality` (None: itself), sharing its networks."""
        if quality is None:
            return self
        return SaliencyPipeline(with_quality(self.config, quality), self.networks)

    @property
    def rps_is_trained(self) -> bool:
        """True when "gsn+rps+lrn" uses an RPS-trained LRN (the paper's ablation), False when it runs the
        APS-trained LRN on random patches (a cheaper, different comparison)."""
        return self.networks.rps_lrn is not None

    def variants_graph(self, image, variants) -> dict:
        """Graph code of `predict_variants` (no tf.function of its own): for callers that trace it, as the
        export does. Returns {variant: float32 [H, W, 1]}. The "+crf" variants are not graph code (see
        `predict_variants`)."""
        post_processed = [v for v in variants if v in CRF_VARIANTS]
        if post_processed:
            raise ValueError(f"{', '.join(post_processed)}: the dense CRF runs outside the TF graph (NumPy), so "
                             "it is not part of a traced graph or an export; use predict_variants")
        networks, protocol = self.networks, self.protocol
        frame = protocol.frame(image)
        outputs, refined = {}, {}
        for variant in variants:
            if variant == "gsn":
                outputs[variant] = protocol.gsn_output(frame, image)
                continue
            sampler, refiner, with_glfn = REFINEMENTS[variant]
            if (sampler, refiner) not in refined:
                lrn = getattr(networks, refiner) or networks.lrn  # no RPS-trained LRN: the APS-trained one
                refined[sampler, refiner] = protocol.refined(frame, sampler, lrn)
            fused = refined[sampler, refiner]
            outputs[variant] = protocol.to_image(protocol.fused_output(frame, fused) if with_glfn else fused, image)
        return outputs

    def check_variants(self, variants) -> None:
        """Raises ValueError for an unknown variant or one whose networks this pipeline lacks."""
        for variant in variants:
            if variant not in VARIANTS:
                raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
            for stage in VARIANT_STAGES[variant]:
                if getattr(self.networks, stage) is None:
                    raise ValueError(f"variant {variant!r} needs a {stage.upper()}: train one with "
                                     f"`{command('train')} --stage {stage}`")

    def predict_variants(self, image, variants=("full",)) -> dict:
        """Maps for several variants of one image, sharing GSN and APS work.

        Args:
            image: [H, W, 3] RGB uint8 (any H, W >= 1).
            variants: names from `VARIANTS`.
        Returns:
            {variant: float32 [H, W, 1] in [0, 1]} as tensors. A "+crf" variant is its base variant's map
            (`CRF_VARIANTS`) post-processed on the host by `hrsod_tf.pipeline.crf.dense_crf_maps` (one CRF for all).
        """
        variants = tuple(variants)
        self.check_variants(variants)
        in_graph = graph_variants(variants)
        with self._functions_lock:
            if in_graph not in self._functions:
                # The graph code writes its control flow in TF ops (tf.cond, tf.while_loop, tf.map_fn), so
                # AutoGraph has nothing to convert: without it the same graph traces in about a third of the time
                # (a tensor used as a Python condition would fail the trace, not change the graph).
                self._functions[in_graph] = tf.function(
                    lambda x: self.variants_graph(x, in_graph),
                    input_signature=[tf.TensorSpec([None, None, 3], tf.uint8)],
                    autograph=False,
                )
        maps = self._functions[in_graph](tf.convert_to_tensor(image, tf.uint8))
        post_processed = [v for v in variants if v in CRF_VARIANTS]
        if post_processed:
            # One CRF for the image: its pairwise terms, most of the work, serve every "+crf" variant.
            refined = dense_crf_maps(np.asarray(image), [maps[CRF_VARIANTS[v]].numpy() for v in post_processed])
            for variant, crf_map in zip(post_processed, refined):
                maps[variant] = tf.convert_to_tensor(crf_map[..., np.newaxis])
        return {variant: maps[variant] for variant in variants}

    def predict(self, image, variant: str = "full") -> tf.Tensor:
        """The saliency map of one variant: float32 [H, W, 1] in [0, 1], at the image's size."""
        return self.predict_variants(image, (variant,))[variant]
