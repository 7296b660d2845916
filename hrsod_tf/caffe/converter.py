"""Caffe blobs <-> Keras weights for the released networks, and the work directory of the authors' model.

Layouts (Caffe is NCHW, Keras NHWC):
  * Convolution weight [out, in, kh, kw] -> Conv2D kernel (kh, kw, in, out); bias [out] as is.
  * Deconvolution weight [in, out, kh, kw] -> Conv2DTranspose kernel (kh, kw, out, in). Both are Caffe's
    and TensorFlow's gradient of a cross-correlation, so no spatial flip is needed.
  * BatchNorm blobs mean, variance, scale factor s -> moving mean = mean / s, moving variance = variance / s
    (s = 0 gives 0, as Caffe's BatchNormLayer::Forward_cpu); the Scale layer after it gives gamma and beta.
  * The first convolutions take BGR minus the ImageNet mean in Caffe: the Keras networks flip RGB to BGR and
    subtract the mean themselves (CaffePreprocessing), so conv1_1's input channels are copied in Caffe order.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import typing

import numpy as np

from hrsod_tf.caffe.netparameter import CaffeLayer, CaffeModelError, read_caffemodel
from hrsod_tf.caffe.release_layers import (
    NETWORK_NAMES,
    NETWORKS,
    guess_network,
    release_layer_table,
)
from hrsod_tf.config import get_preset
from hrsod_tf.files import atomic_output
from hrsod_tf.models import build_glfn, build_gsn, build_lrn
from hrsod_tf.workdir import WorkDir, weights_file_bytes

# The released GLFN models (init_iccv19_demo.m:189-211): which dilation rates, which GLFN input size.
GLFN_VARIANTS = {
    "dh": {"glfn_rates": (1, 6, 12, 18), "release_mode": "high_res",
           "prototxt": "deploy_GLFN_high_res.prototxt", "weights": "Training_on_DUTSandHRSOD-TR/GLFN.caffemodel"},
    "low_res": {"glfn_rates": (1, 6, 12, 18), "release_mode": "low_res",
                "prototxt": "deploy_GLFN_low_res.prototxt", "weights": "Training_on_DUTSandHRSOD-TR/GLFN.caffemodel"},
    "duts": {"glfn_rates": (1, 3, 5, 7), "release_mode": "high_res",
             "prototxt": "deploy_GLFN_DUTS_high_res.prototxt", "weights": "Training_on_DUTS/GLFN.caffemodel"},
    "duts_low_res": {"glfn_rates": (1, 3, 5, 7), "release_mode": "low_res",
                     "prototxt": "deploy_GLFN_DUTS_low_res.prototxt", "weights": "Training_on_DUTS/GLFN.caffemodel"},
}


class ImportReport(typing.NamedTuple):
    """What `load_caffe_weights` did: Keras layers set, and the file's layers it did not need."""

    loaded: tuple
    ignored: tuple  # (name, type) of layers without blobs that the deploy network lacks


def _expected_caffe_shapes(layer, kind) -> list[tuple]:
    weights = layer.get_weights()
    if kind in ("conv", "deconv"):
        kh, kw, a, b = weights[0].shape  # conv: (kh, kw, in, out); deconv: (kh, kw, out, in)
        shapes = [(b, a, kh, kw)]
        if len(weights) > 1:
            shapes.append(weights[1].shape)
        return shapes
    channels = weights[0].shape[0]
    return [(channels,), (channels,), (1,)], [(channels,), (channels,)]


def _check_shapes(path, caffe_layer, expected):
    """The layer's blobs reshaped to `expected` (legacy 4-D blobs such as a bias of (1, 1, 1, C) are
    accepted); a different count or shape is refused with the file and layer named."""
    got = [tuple(blob.shape) for blob in caffe_layer.blobs]

    def squeezed(shape):
        return tuple(d for d in shape if d != 1)

    if len(got) != len(expected) or any(squeezed(g) != squeezed(e) for g, e in zip(got, expected)):
        raise CaffeModelError(
            f"{path}: layer {caffe_layer.name!r} has blobs of shapes {got}, but the network needs "
            f"{[tuple(e) for e in expected]}: the file belongs to another network or another version of it"
        )
    return [blob.reshape(e) for blob, e in zip(caffe_layer.blobs, expected)]


def _check_values(path, caffe_layer):
    """Refuses blobs holding NaN or infinity, naming the file, the layer and the blob: Keras would load them
    without a word and every map would come out NaN."""
    for index, blob in enumerate(caffe_layer.blobs):
        bad = int(np.size(blob) - np.count_nonzero(np.isfinite(blob)))
        if bad:
            raise CaffeModelError(
                f"{path}: layer {caffe_layer.name!r} blob {index} holds {bad} of {np.size(blob)} values that are "
                "NaN or infinite: the file is damaged (or the network diverged when it was trained); download it "
                "again")


def _check_variances(path, bn_layer, variance):
    """BatchNorm variances (after Caffe's scale factor) must not be negative: sqrt(variance + eps) would be NaN."""
    if np.any(variance < 0):
        raise CaffeModelError(
            f"{path}: layer {bn_layer.name!r} has {int(np.sum(variance < 0))} negative variance(s) (smallest "
            f"{float(np.min(variance)):.3g}) after its scale factor: the file is damaged; download it again")


def _bn_weights(bn_blobs, scale_blobs):
    mean, variance, factor = bn_blobs
    s = float(factor.reshape(-1)[0])
    inverse = 0.0 if s == 0 else 1.0 / s
    gamma = scale_blobs[0]
    beta = scale_blobs[1] if len(scale_blobs) > 1 else np.zeros_like(gamma)
    return [gamma, beta, mean * inverse, variance * inverse]


def load_caffe_weights(model, network: str, config, path, layers=None) -> ImportReport:
    """Copies the blobs of a released .caffemodel into a Keras network built by `hrsod_tf.models`.

    Args:
        model: the Keras GSN, LRN or GLFN (built with `config`).
        network: "gsn", "lrn" or "glfn".
        config: its `ModelConfig`.
        path: the .caffemodel file (named in every error message).
        layers: the file's layers if already read (`read_caffemodel(path)`).

    Raises:
        CaffeModelError: the file does not hold this network (missing layers, layers with weights the
            network lacks, blob shapes that differ), holds NaN or infinite values or negative BatchNorm
            variances, or is not a readable .caffemodel.
    """
    path = os.fspath(path)
    layers = read_caffemodel(path) if layers is None else layers
    by_name = {layer.name: layer for layer in layers}
    table = release_layer_table(network, config)
    needed = {name for mapping in table for name in mapping.caffe_names}
    name = NETWORK_NAMES[network]
    looks_like = guess_network(by_name)
    hint = (f" It looks like the {NETWORK_NAMES[looks_like]}'s file: check the order of --gsn, --lrn, --glfn."
            if looks_like not in (None, network) else "")
    missing = [n for mapping in table for n in mapping.caffe_names if n not in by_name]
    if missing:
        raise CaffeModelError(
            f"{path}: layer {missing[0]!r} of the released {name} is missing ({len(missing)} of {len(needed)} "
            f"layers with weights are).{hint or ' The file may be truncated or hold another network.'}"
        )
    extra = [layer for layer in layers if layer.blobs and layer.name not in needed]
    if extra:
        raise CaffeModelError(
            f"{path}: layer {extra[0].name!r} ({extra[0].type}) has weights, but the released {name} has no such "
            f"layer.{hint or ' The file holds another network.'}"
        )
    loaded = []
    for mapping in table:
        keras_layer = model.get_layer(mapping.keras_name)
        expected = _expected_caffe_shapes(keras_layer, mapping.kind)
        for caffe_name in mapping.caffe_names:
            _check_values(path, by_name[caffe_name])
        if mapping.kind == "bn":
            bn, scale = (by_name[n] for n in mapping.caffe_names)
            weights = _bn_weights(_check_shapes(path, bn, expected[0]), _check_shapes(path, scale, expected[1]))
            _check_variances(path, bn, weights[3])
        else:
            blobs = _check_shapes(path, by_name[mapping.caffe_names[0]], expected)
            weights = [blobs[0].transpose(2, 3, 1, 0)] + blobs[1:]
        keras_layer.set_weights([np.asarray(w, dtype="float32") for w in weights])
        loaded.append(mapping.keras_name)
    ignored = tuple((layer.name, layer.type) for layer in layers if layer.name not in needed)
    return ImportReport(tuple(loaded), ignored)


def caffe_layers_from_keras(model, network: str, config) -> list[CaffeLayer]:
    """The inverse of `load_caffe_weights`: the network's weights as Caffe layers and blobs (BatchNorm's
    scale factor 1), e.g. to write a .caffemodel with `write_caffemodel`."""
    layers = []
    for mapping in release_layer_table(network, config):
        weights = model.get_layer(mapping.keras_name).get_weights()
        if mapping.kind == "bn":
            gamma, beta, mean, variance = weights
            layers.append(CaffeLayer(mapping.caffe_names[0], "BatchNorm", blobs=[mean, variance, np.ones(1)]))
            layers.append(CaffeLayer(mapping.caffe_names[1], "Scale", blobs=[gamma, beta]))
        else:
            kind = "Convolution" if mapping.kind == "conv" else "Deconvolution"
            layers.append(CaffeLayer(mapping.caffe_names[0], kind,
                                     blobs=[weights[0].transpose(3, 2, 0, 1)] + weights[1:]))
    return layers


def official_config(glfn_variant: str = "dh"):
    """The `official` preset for one of the released GLFN models (rates and GLFN input size)."""
    if glfn_variant not in GLFN_VARIANTS:
        raise ValueError(f"unknown GLFN variant {glfn_variant!r}: expected one of {', '.join(GLFN_VARIANTS)}")
    variant = GLFN_VARIANTS[glfn_variant]
    config = get_preset("official")
    return config.replace(
        model=dataclasses.replace(config.model, glfn_rates=variant["glfn_rates"], backbone_weights="none"),
        inference=dataclasses.replace(config.inference, release_mode=variant["release_mode"]),
    )


def import_release(paths: dict, workdir, glfn_variant: str = "dh", overwrite: bool = False, log=None):
    """Converts the authors' .caffemodel files into a work directory that predict/evaluate/export use.

    Every file is read and checked before anything is written, so a bad file leaves the work directory as
    it was; every output is written under a temporary name before any is renamed into place, so a full disk
    (`hrsod_tf.files.WriteError`) leaves it as it was too. Writes config.json (the `official` preset for
    `glfn_variant`) and, per network, ``<stage>/final.weights.h5`` and ``<stage>/DONE.json``.

    Args:
        paths: {"gsn": path, "lrn": path, "glfn": path} (all three).
        workdir: the work directory to write (created if needed).
        glfn_variant: one of `GLFN_VARIANTS`.
        overwrite: replace a work directory that already holds a config or trained stages.
        log: called with one line per message (e.g. print), or None.

    Returns:
        {network: ImportReport}.
    """
    log = log or (lambda line: None)
    missing = [n for n in NETWORKS if not paths.get(n)]
    if missing:
        raise CaffeModelError(f"give the .caffemodel of every network; missing: {', '.join('--' + n for n in missing)}")
    workdir = WorkDir(workdir)
    if not overwrite and (workdir.has_config() or any(workdir.is_finished(s) for s in NETWORKS)):
        raise CaffeModelError(
            f"{workdir.root} already holds a run (config.json or trained stages): choose another --workdir or "
            "pass --overwrite"
        )
    config = official_config(glfn_variant)
    builders = {"gsn": build_gsn, "lrn": build_lrn, "glfn": build_glfn}
    models, reports = {}, {}
    for network in NETWORKS:
        model = builders[network](config.model)
        reports[network] = load_caffe_weights(model, network, config.model, paths[network])
        models[network] = model
        log(f"{NETWORK_NAMES[network]}: {len(reports[network].loaded)} layers with weights from {paths[network]}")
        for name, kind in reports[network].ignored:
            log(f"  ignored (not in the deploy network or no weights): {name} ({kind})")
    # Every file is written under a temporary name first and renamed only once all are complete: a full disk
    # leaves the work directory as it was (no run with the new GSN and the old LRN), saying so in one line.
    # The renames run in reverse order: each network's weights, then its DONE.json, and config.json last.
    files = {workdir.config_path: config.to_json() + "\n"}
    for network in NETWORKS:
        files[workdir.done_path(network)] = json.dumps({
            "imported_from": os.path.abspath(paths[network]), "source": "caffe",
            "glfn_variant": glfn_variant, "layers_loaded": len(reports[network].loaded),
        }, indent=2, sort_keys=True) + "\n"
        files[workdir.final_weights(network)] = weights_file_bytes(models[network])
    with contextlib.ExitStack() as stack:
        for path, data in files.items():
            temporary = stack.enter_context(atomic_output(path))
            temporary.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    log(f"wrote {workdir.root} (official preset, GLFN variant {glfn_variant})")
    return reports
