"""The released networks as layer tables, for tests: written from the authors' deploy prototxts.

One line per Caffe layer, in the prototxt's order: ``Type name bottom,... -> top,... key=value ...``
(keys: num_output, kernel, pad, stride, dilation, bias, slope, pool, op). Written by hand from
prototxt/deploy-GSN.prototxt, deploy-LRN.prototxt and deploy_GLFN_high_res.prototxt of yi94code/HRSOD (the
DUTS GLFN differs only in its dilation rates, the low_res GLFNs only in their input size), so the tests check
the Keras networks against the release, not against themselves. Nothing here reads ../shared.
"""

GSN_TABLE = """
Input img -> img shape=1,3,224,224
Convolution conv1_1 img -> conv1_1 num_output=64 kernel=3 pad=1
ReLU relu1_1 conv1_1 -> conv1_1
Convolution conv1_2 conv1_1 -> conv1_2 num_output=64 kernel=3 pad=1
ReLU relu1_2 conv1_2 -> conv1_2
Pooling pool1 conv1_2 -> pool1 kernel=2 stride=2 pool=MAX
Convolution conv2_1 pool1 -> conv2_1 num_output=128 kernel=3 pad=1
ReLU relu2_1 conv2_1 -> conv2_1
Convolution conv2_2 conv2_1 -> conv2_2 num_output=128 kernel=3 pad=1
ReLU relu2_2 conv2_2 -> conv2_2
Pooling pool2 conv2_2 -> pool2 kernel=2 stride=2 pool=MAX
Convolution conv3_1 pool2 -> conv3_1 num_output=256 kernel=3 pad=1
ReLU relu3_1 conv3_1 -> conv3_1
Convolution conv3_2 conv3_1 -> conv3_2 num_output=256 kernel=3 pad=1
ReLU relu3_2 conv3_2 -> conv3_2
Convolution conv3_3 conv3_2 -> conv3_3 num_output=256 kernel=3 pad=1
ReLU relu3_3 conv3_3 -> conv3_3
Pooling pool3 conv3_3 -> pool3 kernel=2 stride=2 pool=MAX
Convolution conv4_1 pool3 -> conv4_1 num_output=512 kernel=3 pad=1
ReLU relu4_1 conv4_1 -> conv4_1
Convolution conv4_2 conv4_1 -> conv4_2 num_output=512 kernel=3 pad=1
ReLU relu4_2 conv4_2 -> conv4_2
Convolution conv4_3 conv4_2 -> conv4_3 num_output=512 kernel=3 pad=1
ReLU relu4_3 conv4_3 -> conv4_3
Pooling pool4 conv4_3 -> pool4 kernel=2 stride=2 pool=MAX
Convolution conv5_1 pool4 -> conv5_1 num_output=512 kernel=3 pad=1
ReLU relu5_1 conv5_1 -> conv5_1
Convolution conv5_2 conv5_1 -> conv5_2 num_output=512 kernel=3 pad=1
ReLU relu5_2 conv5_2 -> conv5_2
Convolution conv5_3 conv5_2 -> conv5_3 num_output=512 kernel=3 pad=1
BatchNorm bn_conv5_3 conv5_3 -> conv5_3
Scale scale_conv5_3 conv5_3 -> conv5_3 bias=true
ReLU relu5_3 conv5_3 -> conv5_3 slope=0.01
Convolution conv5_dcpp_1-sm conv5_3 -> conv5_dcpp_1-sm num_output=32 kernel=3 pad=1 dilation=1
ReLU relu5_dcpp_1-sm conv5_dcpp_1-sm -> conv5_dcpp_1-sm
Convolution conv5_dcpp_3-sm conv5_3 -> conv5_dcpp_3-sm num_output=32 kernel=3 pad=3 dilation=3
ReLU relu5_dcpp_3-sm conv5_dcpp_3-sm -> conv5_dcpp_3-sm
Convolution conv5_dcpp_5-sm conv5_3 -> conv5_dcpp_5-sm num_output=32 kernel=3 pad=5 dilation=5
ReLU relu5_dcpp_5-sm conv5_dcpp_5-sm -> conv5_dcpp_5-sm
Convolution conv5_dcpp_7-sm conv5_3 -> conv5_dcpp_7-sm num_output=32 kernel=3 pad=7 dilation=7
ReLU relu5_dcpp_7-sm conv5_dcpp_7-sm -> conv5_dcpp_7-sm
Concat concat_conv5_dcpp conv5_dcpp_1-sm,conv5_dcpp_3-sm,conv5_dcpp_5-sm,conv5_dcpp_7-sm -> concat_conv5_dcpp
Convolution conv5_3_score concat_conv5_dcpp -> conv5_3_score num_output=2 kernel=3 pad=1 bias=false
BatchNorm bn_conv5_3_score conv5_3_score -> conv5_3_score
Scale scale_conv5_3_score conv5_3_score -> conv5_3_score bias=true
ReLU relu5_3_score conv5_3_score -> conv5_3_score slope=0.01
Deconvolution upscore1 conv5_3_score -> upscore1 num_output=2 kernel=8 pad=3 stride=2 bias=false
BatchNorm bn_upscore1 upscore1 -> upscore1
Scale scale_upscore1 upscore1 -> upscore1 bias=true
ReLU relu_upscore1 upscore1 -> upscore1 slope=0.01
Convolution conv4_dcpp_1-sm conv4_3 -> conv4_dcpp_1-sm num_output=32 kernel=3 pad=1 dilation=1
ReLU relu4_dcpp_1-sm conv4_dcpp_1-sm -> conv4_dcpp_1-sm
Convolution conv4_dcpp_3-sm conv4_3 -> conv4_dcpp_3-sm num_output=32 kernel=3 pad=3 dilation=3
ReLU relu4_dcpp_3-sm conv4_dcpp_3-sm -> conv4_dcpp_3-sm
Convolution conv4_dcpp_5-sm conv4_3 -> conv4_dcpp_5-sm num_output=32 kernel=3 pad=5 dilation=5
ReLU relu4_dcpp_5-sm conv4_dcpp_5-sm -> conv4_dcpp_5-sm
Convolution conv4_dcpp_7-sm conv4_3 -> conv4_dcpp_7-sm num_output=32 kernel=3 pad=7 dilation=7
ReLU relu4_dcpp_7-sm conv4_dcpp_7-sm -> conv4_dcpp_7-sm
Concat concat_conv4_dcpp conv4_dcpp_1-sm,conv4_dcpp_3-sm,conv4_dcpp_5-sm,conv4_dcpp_7-sm -> concat_conv4_dcpp
Convolution conv4_score concat_conv4_dcpp -> conv4_score num_output=2 kernel=3 pad=1
BatchNorm bn_conv4_score conv4_score -> conv4_score
Scale scale_conv4_score conv4_score -> conv4_score bias=true
ReLU relu_conv4_score conv4_score -> conv4_score slope=0.01
Eltwise fuse_score1 upscore1,conv4_score -> fuse_score1 op=SUM
Deconvolution upscore2 fuse_score1 -> upscore2 num_output=2 kernel=8 pad=3 stride=2 bias=false
BatchNorm bn_upscore2 upscore2 -> upscore2
Scale scale_upscore2 upscore2 -> upscore2 bias=true
ReLU relu_upscore2 upscore2 -> upscore2 slope=0.01
Convolution conv3_dcpp_1-sm conv3_3 -> conv3_dcpp_1-sm num_output=32 kernel=3 pad=1 dilation=1
ReLU relu3_dcpp_1-sm conv3_dcpp_1-sm -> conv3_dcpp_1-sm
Convolution conv3_dcpp_3-sm conv3_3 -> conv3_dcpp_3-sm num_output=32 kernel=3 pad=3 dilation=3
ReLU relu3_dcpp_3-sm conv3_dcpp_3-sm -> conv3_dcpp_3-sm
Convolution conv3_dcpp_5-sm conv3_3 -> conv3_dcpp_5-sm num_output=32 kernel=3 pad=5 dilation=5
ReLU relu3_dcpp_5-sm conv3_dcpp_5-sm -> conv3_dcpp_5-sm
Convolution conv3_dcpp_7-sm conv3_3 -> conv3_dcpp_7-sm num_output=32 kernel=3 pad=7 dilation=7
ReLU relu3_dcpp_7-sm conv3_dcpp_7-sm -> conv3_dcpp_7-sm
Concat concat_conv3_dcpp conv3_dcpp_1-sm,conv3_dcpp_3-sm,conv3_dcpp_5-sm,conv3_dcpp_7-sm -> concat_conv3_dcpp
Convolution conv3_score concat_conv3_dcpp -> conv3_score num_output=2 kernel=3 pad=1
BatchNorm bn_conv3_score conv3_score -> conv3_score
Scale scale_conv3_score conv3_score -> conv3_score bias=true
ReLU relu_conv3_score conv3_score -> conv3_score slope=0.01
Eltwise fuse_score2 upscore2,conv3_score -> fuse_score2 op=SUM
Deconvolution upscore3 fuse_score2 -> upscore3 num_output=2 kernel=8 pad=2 stride=4 bias=false
BatchNorm bn_upscore3 upscore3 -> upscore3
Scale scale_upscore3 upscore3 -> upscore3 bias=true
Softmax predict upscore3 -> predict
"""

LRN_TABLE = """
Input img -> img shape=1,3,384,384
Input guide28 -> guide28 shape=1,1,48,48
Input guide56 -> guide56 shape=1,1,96,96
Convolution conv1_1 img -> conv1_1 num_output=64 kernel=3 pad=1
ReLU relu1_1 conv1_1 -> conv1_1
Convolution conv1_2 conv1_1 -> conv1_2 num_output=64 kernel=3 pad=1
ReLU relu1_2 conv1_2 -> conv1_2
Pooling pool1 conv1_2 -> pool1 kernel=2 stride=2 pool=MAX
Convolution conv2_1 pool1 -> conv2_1 num_output=128 kernel=3 pad=1
ReLU relu2_1 conv2_1 -> conv2_1
Convolution conv2_2 conv2_1 -> conv2_2 num_output=128 kernel=3 pad=1
ReLU relu2_2 conv2_2 -> conv2_2
Pooling pool2 conv2_2 -> pool2 kernel=2 stride=2 pool=MAX
Convolution conv3_1 pool2 -> conv3_1 num_output=256 kernel=3 pad=1
ReLU relu3_1 conv3_1 -> conv3_1
Convolution conv3_2 conv3_1 -> conv3_2 num_output=256 kernel=3 pad=1
ReLU relu3_2 conv3_2 -> conv3_2
Convolution conv3_3 conv3_2 -> conv3_3 num_output=256 kernel=3 pad=1
ReLU relu3_3 conv3_3 -> conv3_3
Pooling pool3 conv3_3 -> pool3 kernel=2 stride=2 pool=MAX
Convolution conv4_1 pool3 -> conv4_1 num_output=512 kernel=3 pad=1
ReLU relu4_1 conv4_1 -> conv4_1
Convolution conv4_2 conv4_1 -> conv4_2 num_output=512 kernel=3 pad=1
ReLU relu4_2 conv4_2 -> conv4_2
Convolution conv4_3 conv4_2 -> conv4_3 num_output=512 kernel=3 pad=1
ReLU relu4_3 conv4_3 -> conv4_3
Pooling pool4 conv4_3 -> pool4 kernel=2 stride=2 pool=MAX
Convolution conv5_1 pool4 -> conv5_1 num_output=512 kernel=3 pad=1
ReLU relu5_1 conv5_1 -> conv5_1
Convolution conv5_2 conv5_1 -> conv5_2 num_output=512 kernel=3 pad=1
ReLU relu5_2 conv5_2 -> conv5_2
Convolution conv5_3 conv5_2 -> conv5_3 num_output=512 kernel=3 pad=1
BatchNorm bn_conv5_3 conv5_3 -> conv5_3
Scale scale_conv5_3 conv5_3 -> conv5_3 bias=true
ReLU relu5_3 conv5_3 -> conv5_3 slope=0.01
Convolution conv5_dcpp_1-sm conv5_3 -> conv5_dcpp_1-sm num_output=32 kernel=3 pad=1 dilation=1
ReLU relu5_dcpp_1-sm conv5_dcpp_1-sm -> conv5_dcpp_1-sm
Convolution conv5_dcpp_3-sm conv5_3 -> conv5_dcpp_3-sm num_output=32 kernel=3 pad=3 dilation=3
ReLU relu5_dcpp_3-sm conv5_dcpp_3-sm -> conv5_dcpp_3-sm
Convolution conv5_dcpp_5-sm conv5_3 -> conv5_dcpp_5-sm num_output=32 kernel=3 pad=5 dilation=5
ReLU relu5_dcpp_5-sm conv5_dcpp_5-sm -> conv5_dcpp_5-sm
Convolution conv5_dcpp_7-sm conv5_3 -> conv5_dcpp_7-sm num_output=32 kernel=3 pad=7 dilation=7
ReLU relu5_dcpp_7-sm conv5_dcpp_7-sm -> conv5_dcpp_7-sm
Concat concat_conv5_dcpp conv5_dcpp_1-sm,conv5_dcpp_3-sm,conv5_dcpp_5-sm,conv5_dcpp_7-sm -> concat_conv5_dcpp
Convolution conv5_3_score concat_conv5_dcpp -> conv5_3_score num_output=2 kernel=3 pad=1 bias=false
BatchNorm bn_conv5_3_score conv5_3_score -> conv5_3_score
Scale scale_conv5_3_score conv5_3_score -> conv5_3_score bias=true
ReLU relu5_3_score conv5_3_score -> conv5_3_score slope=0.01
Deconvolution upscore1 conv5_3_score -> upscore1 num_output=2 kernel=8 pad=3 stride=2 bias=false
BatchNorm bn_upscore1 upscore1 -> upscore1
Scale scale_upscore1 upscore1 -> upscore1 bias=true
ReLU relu_upscore1 upscore1 -> upscore1 slope=0.01
Convolution conv4_dcpp_1-sm conv4_3 -> conv4_dcpp_1-sm num_output=32 kernel=3 pad=1 dilation=1
ReLU relu4_dcpp_1-sm conv4_dcpp_1-sm -> conv4_dcpp_1-sm
Convolution conv4_dcpp_3-sm conv4_3 -> conv4_dcpp_3-sm num_output=32 kernel=3 pad=3 dilation=3
ReLU relu4_dcpp_3-sm conv4_dcpp_3-sm -> conv4_dcpp_3-sm
Convolution conv4_dcpp_5-sm conv4_3 -> conv4_dcpp_5-sm num_output=32 kernel=3 pad=5 dilation=5
ReLU relu4_dcpp_5-sm conv4_dcpp_5-sm -> conv4_dcpp_5-sm
Convolution conv4_dcpp_7-sm conv4_3 -> conv4_dcpp_7-sm num_output=32 kernel=3 pad=7 dilation=7
ReLU relu4_dcpp_7-sm conv4_dcpp_7-sm -> conv4_dcpp_7-sm
Concat concat_conv4_dcpp conv4_dcpp_1-sm,conv4_dcpp_3-sm,conv4_dcpp_5-sm,conv4_dcpp_7-sm -> concat_conv4_dcpp
Convolution conv4_score concat_conv4_dcpp -> conv4_score num_output=2 kernel=3 pad=1
BatchNorm bn_conv4_score conv4_score -> conv4_score
Scale scale_conv4_score conv4_score -> conv4_score bias=true
ReLU relu_conv4_score conv4_score -> conv4_score slope=0.01
Eltwise fuse_score1 upscore1,conv4_score -> fuse_score1 op=SUM
Concat concat1 fuse_score1,guide28 -> R1
Convolution R1_score R1 -> R1_score num_output=2 kernel=3 pad=1 bias=false
BatchNorm bn_R1_score R1_score -> R1_score
Scale scale_R1_score R1_score -> R1_score bias=true
ReLU reluR1_score R1_score -> R1_score slope=0.01
Deconvolution upscore2 R1_score -> upscore2 num_output=2 kernel=8 pad=3 stride=2 bias=false
BatchNorm bn_upscore2 upscore2 -> upscore2
Scale scale_upscore2 upscore2 -> upscore2 bias=true
ReLU relu_upscore2 upscore2 -> upscore2 slope=0.01
Convolution conv3_dcpp_1-sm conv3_3 -> conv3_dcpp_1-sm num_output=32 kernel=3 pad=1 dilation=1
ReLU relu3_dcpp_1-sm conv3_dcpp_1-sm -> conv3_dcpp_1-sm
Convolution conv3_dcpp_3-sm conv3_3 -> conv3_dcpp_3-sm num_output=32 kernel=3 pad=3 dilation=3
ReLU relu3_dcpp_3-sm conv3_dcpp_3-sm -> conv3_dcpp_3-sm
Convolution conv3_dcpp_5-sm conv3_3 -> conv3_dcpp_5-sm num_output=32 kernel=3 pad=5 dilation=5
ReLU relu3_dcpp_5-sm conv3_dcpp_5-sm -> conv3_dcpp_5-sm
Convolution conv3_dcpp_7-sm conv3_3 -> conv3_dcpp_7-sm num_output=32 kernel=3 pad=7 dilation=7
ReLU relu3_dcpp_7-sm conv3_dcpp_7-sm -> conv3_dcpp_7-sm
Concat concat_conv3_dcpp conv3_dcpp_1-sm,conv3_dcpp_3-sm,conv3_dcpp_5-sm,conv3_dcpp_7-sm -> concat_conv3_dcpp
Convolution conv3_score concat_conv3_dcpp -> conv3_score num_output=2 kernel=3 pad=1
BatchNorm bn_conv3_score conv3_score -> conv3_score
Scale scale_conv3_score conv3_score -> conv3_score bias=true
ReLU relu_conv3_score conv3_score -> conv3_score slope=0.01
Eltwise fuse_score2 upscore2,conv3_score -> fuse_score2 op=SUM
Concat concat2 fuse_score2,guide56 -> R2
Convolution R2_score R2 -> R2_score num_output=2 kernel=3 pad=1 bias=false
BatchNorm bn_R2_score R2_score -> R2_score
Scale scale_R2_score R2_score -> R2_score bias=true
ReLU reluR2_score R2_score -> R2_score slope=0.01
Deconvolution upscore3 R2_score -> upscore3 num_output=2 kernel=8 pad=2 stride=4 bias=false
BatchNorm bn_upscore3 upscore3 -> upscore3
Scale scale_upscore3 upscore3 -> upscore3 bias=true
Softmax predict upscore3 -> predict
"""

GLFN_DH_TABLE = """
Input img1024 -> img1024 shape=1,3,1024,1024
Input sal1024 -> sal1024 shape=1,1,1024,1024
Concat concat_1024 img1024,sal1024 -> concat_1024
BatchNorm conv2_1/x1/bn concat_1024 -> conv2_1/x1/bn
Scale conv2_1/x1/scale conv2_1/x1/bn -> conv2_1/x1/bn bias=true
ReLU relu2_1/x1 conv2_1/x1/bn -> conv2_1/x1/bn
Convolution conv2_1/x1 conv2_1/x1/bn -> conv2_1/x1 num_output=8 kernel=1 bias=false
BatchNorm conv2_1/x2/bn conv2_1/x1 -> conv2_1/x2/bn
Scale conv2_1/x2/scale conv2_1/x2/bn -> conv2_1/x2/bn bias=true
ReLU relu2_1/x2 conv2_1/x2/bn -> conv2_1/x2/bn
Convolution conv2_1/x2 conv2_1/x2/bn -> conv2_1/x2 num_output=2 kernel=3 pad=1 bias=false
Concat concat_2_1 concat_1024,conv2_1/x2 -> concat_2_1
BatchNorm conv2_2/x1/bn concat_2_1 -> conv2_2/x1/bn
Scale conv2_2/x1/scale conv2_2/x1/bn -> conv2_2/x1/bn bias=true
ReLU relu2_2/x1 conv2_2/x1/bn -> conv2_2/x1/bn
Convolution conv2_2/x1 conv2_2/x1/bn -> conv2_2/x1 num_output=8 kernel=1 bias=false
BatchNorm conv2_2/x2/bn conv2_2/x1 -> conv2_2/x2/bn
Scale conv2_2/x2/scale conv2_2/x2/bn -> conv2_2/x2/bn bias=true
ReLU relu2_2/x2 conv2_2/x2/bn -> conv2_2/x2/bn
Convolution conv2_2/x2 conv2_2/x2/bn -> conv2_2/x2 num_output=2 kernel=3 pad=1 bias=false
Concat concat_2_2 concat_2_1,conv2_2/x2 -> concat_2_2
BatchNorm conv2_3/x1/bn concat_2_2 -> conv2_3/x1/bn
Scale conv2_3/x1/scale conv2_3/x1/bn -> conv2_3/x1/bn bias=true
ReLU relu2_3/x1 conv2_3/x1/bn -> conv2_3/x1/bn
Convolution conv2_3/x1 conv2_3/x1/bn -> conv2_3/x1 num_output=8 kernel=1 bias=false
BatchNorm conv2_3/x2/bn conv2_3/x1 -> conv2_3/x2/bn
Scale conv2_3/x2/scale conv2_3/x2/bn -> conv2_3/x2/bn bias=true
ReLU relu2_3/x2 conv2_3/x2/bn -> conv2_3/x2/bn
Convolution conv2_3/x2 conv2_3/x2/bn -> conv2_3/x2 num_output=2 kernel=3 pad=1 bias=false
Concat concat_2_3 concat_2_2,conv2_3/x2 -> concat_2_3
BatchNorm conv2_blk/bn concat_2_3 -> conv2_blk/bn
Scale conv2_blk/scale conv2_blk/bn -> conv2_blk/bn bias=true
ReLU relu2_blk conv2_blk/bn -> conv2_blk/bn
Convolution conv5_dcpp_1-sm conv2_blk/bn -> conv5_dcpp_1-sm num_output=2 kernel=3 pad=1 dilation=1
ReLU relu5_dcpp_1-sm conv5_dcpp_1-sm -> conv5_dcpp_1-sm
Convolution conv5_dcpp_3-sm conv2_blk/bn -> conv5_dcpp_3-sm num_output=2 kernel=3 pad=6 dilation=6
ReLU relu5_dcpp_3-sm conv5_dcpp_3-sm -> conv5_dcpp_3-sm
Convolution conv5_dcpp_5-sm conv2_blk/bn -> conv5_dcpp_5-sm num_output=2 kernel=3 pad=12 dilation=12
ReLU relu5_dcpp_5-sm conv5_dcpp_5-sm -> conv5_dcpp_5-sm
Convolution conv5_dcpp_7-sm conv2_blk/bn -> conv5_dcpp_7-sm num_output=2 kernel=3 pad=18 dilation=18
ReLU relu5_dcpp_7-sm conv5_dcpp_7-sm -> conv5_dcpp_7-sm
Concat concat_conv5_dcpp conv5_dcpp_1-sm,conv5_dcpp_3-sm,conv5_dcpp_5-sm,conv5_dcpp_7-sm -> concat_conv5_dcpp
Convolution final_score1024 concat_conv5_dcpp -> final_score1024 num_output=2 kernel=3 pad=1
Softmax predict final_score1024 -> predict
"""


def parse_table(text):
    """Returns the layers of a table as dicts: type, name, bottoms, tops and the integer/str params."""
    layers = []
    for line in text.strip().splitlines():
        head, _, tail = line.partition(" -> ")
        kind, name, bottoms = (head.split(" ") + [""])[:3]
        tops, *params = tail.split(" ")
        layer = {"type": kind, "name": name, "bottoms": [b for b in bottoms.split(",") if b], "tops": tops.split(",")}
        for item in params:
            key, value = item.split("=")
            if key in ("bias",):
                layer[key] = value == "true"
            elif key == "slope":
                layer[key] = float(value)
            elif key in ("pool", "op"):
                layer[key] = value
            elif key == "shape":
                layer[key] = tuple(int(v) for v in value.split(","))
            else:
                layer[key] = int(value)
        layers.append(layer)
    return layers


def glfn_table(rates=(1, 6, 12, 18), size=1024):
    """The released GLFN with other dilation rates (DUTS: 1, 3, 5, 7) or input size (low_res: 384)."""
    text = GLFN_DH_TABLE.replace("1,3,1024,1024", f"1,3,{size},{size}").replace("1,1,1024,1024", f"1,1,{size},{size}")
    for branch, rate in zip(("3", "5", "7"), rates[1:]):
        old = {"3": 6, "5": 12, "7": 18}[branch]
        text = text.replace(f"conv5_dcpp_{branch}-sm num_output=2 kernel=3 pad={old} dilation={old}",
                            f"conv5_dcpp_{branch}-sm num_output=2 kernel=3 pad={rate} dilation={rate}")
    return text


def blob_shapes(layers):
    """Caffe blob shapes of every layer with parameters, from the table alone (channels propagated).

    Convolution: [out, in, k, k] (+ [out] with a bias, the default); Deconvolution: [in, out, k, k];
    BatchNorm: [C], [C], [1] (mean, variance, scale factor); Scale: [C], [C].
    """
    channels, shapes = {}, {}
    for layer in layers:
        kind, bottoms = layer["type"], layer["bottoms"]
        c_in = sum(channels[b] for b in bottoms) if kind == "Concat" else (channels[bottoms[0]] if bottoms else 0)
        if kind == "Input":
            c_out = layer["shape"][1]
        elif kind == "Convolution":
            c_out = layer["num_output"]
            shapes[layer["name"]] = [(c_out, c_in, layer["kernel"], layer["kernel"])]
            if layer.get("bias", True):
                shapes[layer["name"]].append((c_out,))
        elif kind == "Deconvolution":
            c_out = layer["num_output"]
            shapes[layer["name"]] = [(c_in, c_out, layer["kernel"], layer["kernel"])]
            if layer.get("bias", True):
                shapes[layer["name"]].append((c_out,))
        elif kind == "BatchNorm":
            c_out = c_in
            shapes[layer["name"]] = [(c_in,), (c_in,), (1,)]
        elif kind == "Scale":
            c_out = c_in
            shapes[layer["name"]] = [(c_in,), (c_in,)] if layer.get("bias", False) else [(c_in,)]
        else:
            c_out = c_in
        for top in layer["tops"]:
            channels[top] = c_out
    return shapes


def keras_parameter_count(layers):
    """Parameters a Keras model of the table holds: every blob but BatchNorm's scale factor."""
    shapes = blob_shapes(layers)
    total = 0
    for layer in layers:
        for i, shape in enumerate(shapes.get(layer["name"], [])):
            if layer["type"] == "BatchNorm" and i == 2:
                continue
            count = 1
            for n in shape:
                count *= n
            total += count
    return total
