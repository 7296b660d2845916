"""Caffe's `NetParameter` message (the contents of a `.caffemodel`), defined with the `protobuf` package alone.

Only the fields an importer needs are declared, with the field numbers of Caffe's caffe.proto (the authors'
fork, release file caffe.proto:6-97 and :315-335); every other field of a real file (layer parameters, param
specs, phase, ...) is skipped by the parser as an unknown field. No protoc, no Caffe install:

    BlobShape        dim = 1 (int64, packed)
    BlobProto        shape = 7, data = 5 (float, packed), double_data = 8, num/channels/height/width = 1..4
    LayerParameter   name = 1, type = 2, bottom = 3, top = 4, blobs = 7
    V1LayerParameter bottom = 2, top = 3, name = 4, type = 5 (an enum, read as an integer), blobs = 6
    NetParameter     name = 1, input = 3, layers = 2 (V1), layer = 100

Files in the old V1 format (`layers`) are recognised and refused: V1 has no BatchNorm or Scale layer types
(caffe.proto:1237-1278), so the released networks, which use both, cannot be stored in it.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from hrsod_tf.files import atomic_write

_FIELD = descriptor_pb2.FieldDescriptorProto


class CaffeModelError(ValueError):
    """A .caffemodel file that cannot be used; the message names the file (and layer) and what to do."""


def _message(file_proto, name, fields):
    message = file_proto.message_type.add(name=name)
    for field_name, number, kind, label, type_name, packed in fields:
        field = message.field.add(name=field_name, number=number, type=kind, label=label)
        if type_name:
            field.type_name = type_name
        if packed:
            field.options.packed = True


def _build_messages():
    file_proto = descriptor_pb2.FileDescriptorProto(name="hrsod_tf_caffe.proto", package="hrsod_tf_caffe",
                                                    syntax="proto2")
    optional, repeated = _FIELD.LABEL_OPTIONAL, _FIELD.LABEL_REPEATED
    _message(file_proto, "BlobShape", [("dim", 1, _FIELD.TYPE_INT64, repeated, None, True)])
    _message(file_proto, "BlobProto", [
        ("shape", 7, _FIELD.TYPE_MESSAGE, optional, ".hrsod_tf_caffe.BlobShape", False),
        ("data", 5, _FIELD.TYPE_FLOAT, repeated, None, True),
        ("double_data", 8, _FIELD.TYPE_DOUBLE, repeated, None, True),
        ("num", 1, _FIELD.TYPE_INT32, optional, None, False),
        ("channels", 2, _FIELD.TYPE_INT32, optional, None, False),
        ("height", 3, _FIELD.TYPE_INT32, optional, None, False),
        ("width", 4, _FIELD.TYPE_INT32, optional, None, False),
    ])
    _message(file_proto, "LayerParameter", [
        ("name", 1, _FIELD.TYPE_STRING, optional, None, False),
        ("type", 2, _FIELD.TYPE_STRING, optional, None, False),
        ("bottom", 3, _FIELD.TYPE_STRING, repeated, None, False),
        ("top", 4, _FIELD.TYPE_STRING, repeated, None, False),
        ("blobs", 7, _FIELD.TYPE_MESSAGE, repeated, ".hrsod_tf_caffe.BlobProto", False),
    ])
    _message(file_proto, "V1LayerParameter", [
        ("bottom", 2, _FIELD.TYPE_STRING, repeated, None, False),
        ("top", 3, _FIELD.TYPE_STRING, repeated, None, False),
        ("name", 4, _FIELD.TYPE_STRING, optional, None, False),
        ("type", 5, _FIELD.TYPE_INT32, optional, None, False),
        ("blobs", 6, _FIELD.TYPE_MESSAGE, repeated, ".hrsod_tf_caffe.BlobProto", False),
    ])
    _message(file_proto, "NetParameter", [
        ("name", 1, _FIELD.TYPE_STRING, optional, None, False),
        ("input", 3, _FIELD.TYPE_STRING, repeated, None, False),
        ("layers", 2, _FIELD.TYPE_MESSAGE, repeated, ".hrsod_tf_caffe.V1LayerParameter", False),
        ("layer", 100, _FIELD.TYPE_MESSAGE, repeated, ".hrsod_tf_caffe.LayerParameter", False),
    ])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_proto)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"hrsod_tf_caffe.{name}"))
            for name in ("BlobShape", "BlobProto", "LayerParameter", "V1LayerParameter", "NetParameter")}


MESSAGES = _build_messages()
NetParameter = MESSAGES["NetParameter"]


@dataclasses.dataclass
class CaffeLayer:
    """One layer of a .caffemodel: its name, type, bottoms, tops and parameter blobs (float32 arrays in
    Caffe's shapes, e.g. convolution weights [out, in, h, w])."""

    name: str
    type: str
    bottoms: tuple = ()
    tops: tuple = ()
    blobs: list = dataclasses.field(default_factory=list)


def _blob_array(blob, path, layer_name) -> np.ndarray:
    if blob.shape.dim:
        shape = tuple(int(d) for d in blob.shape.dim)
    else:  # legacy 4-D blobs (num, channels, height, width)
        shape = (blob.num, blob.channels, blob.height, blob.width)
    values = np.asarray(blob.data if len(blob.data) else blob.double_data, dtype="float32")
    if values.size != int(np.prod(shape)):
        raise CaffeModelError(
            f"{path}: layer {layer_name!r} has a blob of shape {shape} but {values.size} values: the file is "
            "damaged or truncated; download it again"
        )
    return values.reshape(shape)


def read_caffemodel(path: str | os.PathLike) -> list[CaffeLayer]:
    """Reads the layers of a binary .caffemodel (a serialized Caffe NetParameter).

    Raises:
        CaffeModelError: the file is missing, truncated, not a NetParameter, a text prototxt, or V1.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CaffeModelError(f"{path} does not exist: give the path of the .caffemodel file")
    with open(path, "rb") as f:
        data = f.read()
    if data.lstrip()[:5] in (b"name:", b"layer", b"input") or data.lstrip()[:1] == b"#":
        raise CaffeModelError(
            f"{path} is a text network definition (.prototxt), not trained weights: give the binary "
            ".caffemodel file"
        )
    net = NetParameter()
    try:
        net.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as error:
        raise CaffeModelError(
            f"{path} is not a Caffe NetParameter (.caffemodel) or is truncated ({error}): give the binary "
            ".caffemodel file, downloaded completely"
        ) from None
    if len(net.layers) and not len(net.layer):
        raise CaffeModelError(
            f"{path} is in Caffe's old V1 format ('layers'), which cannot hold BatchNorm or Scale layers: it is "
            "not one of the released HRSOD networks (upgrade it with Caffe's upgrade_net_proto_binary if it is)"
        )
    if not len(net.layer):
        raise CaffeModelError(
            f"{path} holds no Caffe layers: it is not a .caffemodel (or it is empty or truncated); give the "
            "binary .caffemodel file"
        )
    return [
        CaffeLayer(layer.name, layer.type, tuple(layer.bottom), tuple(layer.top),
                   [_blob_array(blob, path, layer.name) for blob in layer.blobs])
        for layer in net.layer
    ]


def write_caffemodel(path: str | os.PathLike, layers, name: str = "") -> int:
    """Writes `layers` (CaffeLayer) as a binary .caffemodel, atomically; returns the file's size in bytes.

    Only name, type, bottoms, tops and blobs are written (shape + float data), which is what Caffe's
    `Net::CopyTrainedLayersFrom` reads back.
    """
    net = NetParameter(name=name)
    for layer in layers:
        message = net.layer.add(name=layer.name, type=layer.type)
        message.bottom.extend(layer.bottoms)
        message.top.extend(layer.tops)
        for array in layer.blobs:
            array = np.asarray(array, dtype="float32")
            blob = message.blobs.add()
            blob.shape.dim.extend(int(d) for d in array.shape)
            blob.data.extend(array.ravel().tolist())
    data = net.SerializeToString()
    atomic_write(path, data)
    return len(data)
