"""Test helpers, independent of hrsod_tf.caffe: a hand-written protobuf encoder for .caffemodel files and a
NumPy implementation of Caffe's forward pass over a layer table (see release_networks.py).

The encoder writes the wire format directly (field numbers of Caffe's caffe.proto: NetParameter.name = 1,
.layer = 100; LayerParameter.name = 1, .type = 2, .bottom = 3, .top = 4, .blobs = 7, .phase = 10;
BlobProto.shape = 7, .data = 5 (packed float), legacy .num/.channels/.height/.width = 1..4; BlobShape.dim = 1),
so a wrong field number in the importer's message definition makes the tests fail.

The forward pass follows Caffe's layer semantics, in NCHW: Convolution (pad, dilation, stride, bias),
Deconvolution (output (in - 1) * stride - 2 * pad + kernel), BatchNorm (stored statistics divided by the
scale factor, eps 1e-5), Scale, ReLU (negative_slope), Pooling MAX (Caffe's ceil rounding), Eltwise SUM,
Concat (channels), Softmax (channels).
"""

import numpy as np
from release_networks import blob_shapes

CAFFE_BN_EPS = 1e-5


# -- protobuf wire format ---------------------------------------------------------------------------
def _varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number, wire_type, payload):
    key = _varint((number << 3) | wire_type)
    if wire_type == 2:
        return key + _varint(len(payload)) + payload
    return key + payload


def encode_blob(array, legacy=False):
    array = np.asarray(array, dtype="<f4")
    data = _field(5, 2, array.tobytes())
    if legacy:  # deprecated 4-D header: num, channels, height, width
        dims = (1,) * (4 - array.ndim) + tuple(array.shape)
        return b"".join(_field(i + 1, 0, _varint(d)) for i, d in enumerate(dims)) + data
    shape = _field(1, 2, b"".join(_varint(int(d)) for d in array.shape))
    return _field(7, 2, shape) + data


def encode_layer(name, kind, bottoms=(), tops=(), blobs=(), legacy=False):
    out = _field(1, 2, name.encode()) + _field(2, 2, kind.encode())
    out += b"".join(_field(3, 2, b.encode()) for b in bottoms) + b"".join(_field(4, 2, t.encode()) for t in tops)
    out += _field(10, 0, _varint(1))  # phase: TEST (an unknown field for the importer)
    out += _field(106, 2, _field(1, 0, _varint(2)))  # a convolution_param-like sub-message, also unknown
    out += b"".join(_field(7, 2, encode_blob(blob, legacy)) for blob in blobs)
    return out


def encode_net(layers, name="net", legacy=False):
    """layers: iterable of (name, type, bottoms, tops, blobs)."""
    body = _field(1, 2, name.encode())
    for layer in layers:
        body += _field(100, 2, encode_layer(*layer, legacy=legacy))
    return body


def random_blobs(layers, rng):
    """Random blobs in Caffe's shapes, scaled so that activations stay of order 1 through a deep net."""
    blobs = {}
    for name, shapes in blob_shapes(layers).items():
        kind = next(layer["type"] for layer in layers if layer["name"] == name)
        if kind == "BatchNorm":
            factor = rng.uniform(500, 1000)
            c = shapes[0][0]
            blobs[name] = [rng.normal(0, 0.5, c) * factor, rng.uniform(0.5, 2.0, c) * factor, np.array([factor])]
        elif kind == "Scale":
            c = shapes[0][0]
            blobs[name] = [rng.uniform(0.5, 1.5, c), rng.normal(0, 0.1, c)][:len(shapes)]
        else:
            weight_shape = shapes[0]
            fan_in = weight_shape[1] * weight_shape[2] * weight_shape[3] if kind == "Convolution" \
                else weight_shape[0] * weight_shape[2] * weight_shape[3] / 4
            weight = rng.normal(0, np.sqrt(2.0 / fan_in), weight_shape)
            blobs[name] = [weight] + [rng.normal(0, 0.1, s) for s in shapes[1:]]
        blobs[name] = [np.asarray(b, dtype="float32") for b in blobs[name]]
    return blobs


# -- Caffe's forward pass in NumPy --------------------------------------------------------------------
def conv2d(x, weight, bias, pad, dilation=1, stride=1):
    """x [C, H, W], weight [O, C, k, k] -> [O, H', W'] (cross-correlation, zero padding)."""
    _, height, width = x.shape
    out_c, _, k, _ = weight.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    extent = dilation * (k - 1) + 1
    out_h = (height + 2 * pad - extent) // stride + 1
    out_w = (width + 2 * pad - extent) // stride + 1
    out = np.zeros((out_c, out_h, out_w), np.float64)
    for i in range(k):
        for j in range(k):
            window = xp[:, i * dilation:i * dilation + stride * (out_h - 1) + 1:stride,
                        j * dilation:j * dilation + stride * (out_w - 1) + 1:stride]
            out += np.einsum("oc,chw->ohw", weight[:, :, i, j], window)
    if bias is not None:
        out += bias[:, None, None]
    return out


def deconv2d(x, weight, pad, stride):
    """x [C, H, W], weight [C, O, k, k] -> [O, (H-1)s - 2p + k, ...] (Caffe's Deconvolution, no bias)."""
    _, height, width = x.shape
    _, out_c, k, _ = weight.shape
    full = np.zeros((out_c, (height - 1) * stride + k, (width - 1) * stride + k), np.float64)
    for i in range(k):
        for j in range(k):
            full[:, i:i + (height - 1) * stride + 1:stride, j:j + (width - 1) * stride + 1:stride] += np.einsum(
                "co,chw->ohw", weight[:, :, i, j], x)
    return full[:, pad:full.shape[1] - pad, pad:full.shape[2] - pad]


def max_pool(x, kernel, stride, pad=0):
    """Caffe's MAX pooling: output side ceil((H + 2p - k) / s) + 1 (then clipped), windows cut at the edge."""
    _, height, width = x.shape

    def side(n):
        out = int(np.ceil((n + 2 * pad - kernel) / stride)) + 1
        if pad and (out - 1) * stride >= n + pad:
            out -= 1
        return out

    out_h, out_w = side(height), side(width)
    out = np.full((x.shape[0], out_h, out_w), -np.inf)
    for y in range(out_h):
        for xx in range(out_w):
            y0, x0 = y * stride - pad, xx * stride - pad
            window = x[:, max(y0, 0):min(y0 + kernel, height), max(x0, 0):min(x0 + kernel, width)]
            out[:, y, xx] = window.max(axis=(1, 2))
    return out


def forward(layers, blobs, inputs):
    """Runs the table on `inputs` ({input name: [C, H, W] array}); returns every top blob by name."""
    values = {name: np.asarray(v, np.float64) for name, v in inputs.items()}
    for layer in layers:
        kind, name = layer["type"], layer["name"]
        if kind == "Input":
            continue
        bottoms = [values[b] for b in layer["bottoms"]]
        params = blobs.get(name, [])
        x = bottoms[0] if bottoms else None
        if kind == "Convolution":
            y = conv2d(x, params[0], params[1] if len(params) > 1 else None, layer.get("pad", 0),
                       layer.get("dilation", 1), layer.get("stride", 1))
        elif kind == "Deconvolution":
            y = deconv2d(x, params[0], layer.get("pad", 0), layer.get("stride", 1))
        elif kind == "BatchNorm":
            mean, variance, factor = params
            scale = 0.0 if factor[0] == 0 else 1.0 / factor[0]
            y = (x - (mean * scale)[:, None, None]) / np.sqrt((variance * scale)[:, None, None] + CAFFE_BN_EPS)
        elif kind == "Scale":
            y = x * params[0][:, None, None] + (params[1][:, None, None] if len(params) > 1 else 0.0)
        elif kind == "ReLU":
            y = np.where(x > 0, x, layer.get("slope", 0.0) * x)
        elif kind == "Pooling":
            assert layer["pool"] == "MAX"
            y = max_pool(x, layer["kernel"], layer.get("stride", 1), layer.get("pad", 0))
        elif kind == "Eltwise":
            assert layer.get("op", "SUM") == "SUM"
            y = sum(bottoms)
        elif kind == "Concat":
            y = np.concatenate(bottoms, axis=0)
        elif kind == "Softmax":
            e = np.exp(x - x.max(axis=0, keepdims=True))
            y = e / e.sum(axis=0, keepdims=True)
        else:
            raise ValueError(f"layer type {kind} is not implemented in the reference")
        values[layer["tops"][0]] = y
    return values
