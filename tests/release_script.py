"""A line-by-line NumPy port of the authors' test script (test_iccv19_demo.m of yi94code/HRSOD), for tests.

Written from the script's lines (cited as :N) and MATLAB's documented imresize (a plain NumPy loop over its
`contributions`), independently of hrsod_tf's graph code; the networks are passed in as functions (the same
ones the pipeline runs), so a test compares the protocols alone. The script's sizes (GSN 224, LRN 384, D 384)
are parameters, so the tests can run narrow networks; the frame (1024) and the GLFN's sides are the script's.
Nothing here reads the authors' files.
"""

import math

import numpy as np


def _cubic(x):
    a = np.abs(x)
    return ((1.5 * a**3 - 2.5 * a**2 + 1) * (a <= 1)
            + (-0.5 * a**3 + 2.5 * a**2 - 4 * a + 2) * ((a > 1) & (a <= 2)))


def _triangle(x):
    return (x + 1) * ((x >= -1) & (x < 0)) + (1 - x) * ((x >= 0) & (x <= 1))


def _contributions(n_in, n_out, kernel, width):
    scale = n_out / n_in
    if scale < 1:  # antialiasing: the kernel stretched by 1 / scale
        h, width = (lambda x: scale * kernel(scale * x)), width / scale
    else:
        h = kernel
    u = np.arange(1, n_out + 1) / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    idx = left[:, None] + np.arange(math.ceil(width) + 2)[None]
    w = h(u[:, None] - idx)
    w = w / w.sum(axis=1, keepdims=True)
    aux = np.concatenate([np.arange(n_in), np.arange(n_in)[::-1]])  # mirrored borders
    return w, aux[np.mod(idx.astype(int) - 1, 2 * n_in)]


def imresize(a, size, method="bicubic"):
    """MATLAB's imresize(a, size[, method]) on an [H, W] or [H, W, C] array: uint8 in, uint8 after each pass."""
    kernel, width = {"bicubic": (_cubic, 4.0), "bilinear": (_triangle, 2.0)}[method]
    is_uint8 = a.dtype == np.uint8
    out = a.astype(np.float64)
    scales = [size[0] / a.shape[0], size[1] / a.shape[1]]
    for axis in sorted((0, 1), key=lambda k: scales[k]):  # smaller scale first, a stable sort
        w, idx = _contributions(out.shape[axis], size[axis], kernel, width)
        moved = np.moveaxis(out, axis, 0)
        res = np.einsum("op,op...->o...", w, moved[idx])
        out = np.moveaxis(res, 0, axis)
        if is_uint8:
            out = to_uint8(out)
    return out.astype(np.uint8) if is_uint8 else out.astype(np.float32)


def to_uint8(x):
    """MATLAB's uint8(x) values: round half away from zero, saturate."""
    return np.clip(np.floor(np.asarray(x, np.float64) + 0.5), 0, 255)


def imcrop(a, x, y, w, h):
    """imcrop(a, [x y w h]) with integer x, y (1-based): rows y..y+h, columns x..x+w, cut at the border."""
    return a[y - 1:min(y + h, a.shape[0]), x - 1:min(x + w, a.shape[1])]


def run_script(im, gsn, lrn, glfn, opt=1, mode=1, relax=lambda: 0, pick=lambda num: (num + 1) // 2,
               mode0_opt1_size="script", gsn_side=224, lrn_side=384, patch_size=384):
    """test_iccv19_demo.m on one image.

    Args:
        im: uint8 [H, W, 3] RGB.
        gsn(img [224, 224, 3] float RGB 0..255) -> [224, 224] salient probability.
        lrn(img [384, 384, 3], guide28 [48, 48], guide56 [96, 96]) -> [384, 384].
        glfn(img [S, S, 3], map [S, S] 0..255) -> [S, S].
        opt, mode: the script's (init_iccv19_demo.m:9-11).
        relax(): the script's unidrnd(140) - 70 (:48); pick(num): its unidrnd(num) (:57), 1-based. The
            defaults are what `hrsod_tf.pipeline.release` does instead (crop side D, the middle row).
        mode0_opt1_size: "script" (:169 writes the 1024 x 1024 map) or "image" (back to the image's size).
        gsn_side, lrn_side, patch_size: the script's 224 (prepare_img.m:19), 384 (:88) and D = 384 (:42).
    Returns:
        the uint8 map the script writes (:154 / :170).
    """
    height, width = im.shape[:2]                                          # :11
    global_sal_map = gsn(imresize(im.astype(np.float32), [gsn_side, gsn_side], "bilinear"))  # :15-18, prepare_img.m
    if opt == 0:
        global_sal_map = imresize(global_sal_map, [height, width])        # :21
    if opt == 1:
        im = imresize(im, [1024, 1024])                                   # :24 (uint8)
        global_sal_map = imresize(global_sal_map, [1024, 1024])           # :25
        height_ori, width_ori = height, width
        height, width = im.shape[:2]                                      # :28
    tmp = np.zeros((height, width))
    flag = np.zeros((height, width))
    if mode == 1:
        sal = to_uint8(global_sal_map)                                    # :35
        sal255 = to_uint8(global_sal_map * 255)                           # :36
        h, w = sal.shape
        col, row = np.nonzero(((sal255 > 50) & (sal255 < 200)).T)         # :39, column-major like find
        row, col = row + 1, col + 1
        if col.size:
            big_w = col.max() - col.min()                                 # :41
            d_size = patch_size
            n = math.ceil(big_w / d_size) + 3
            d = math.floor(big_w / n + 0.5)                              # :44, round
            center_y = None
            for x_id in range(1, n + 2):                                  # :46
                x = min(col.min() + d * (x_id - 1), col.max())
                crop_size = d_size + relax()
                index = np.nonzero(col == x)[0]
                num = index.size
                if num == 0:
                    continue
                center_x = x
                d_heit = row[index].max() - row[index].min()
                if d_heit < 0.5 * crop_size:                              # :55
                    center_y = [row[index[pick(num) - 1]]]
                elif 0.5 * crop_size < d_heit < crop_size:                # :59
                    center_y = [row[index].min(), row[index].max()]
                elif d_heit > crop_size:                                  # :63
                    n_h = math.ceil(d_heit / crop_size)
                    d_h = math.floor(d_heit / n_h + 0.5)
                    center_y = [min(row.min() + d_h * (y_id - 1), row.max()) for y_id in range(1, n_h + 2)]
                # else (d_heit == crop_size / 2 or crop_size): center_y is the previous column's
                half = math.floor(crop_size * 0.5 + 0.5)
                x_bgin = max(1, center_x - half)                          # :71
                for cy in center_y:                                       # :75
                    y_bgin = max(1, cy - half)
                    patch = imcrop(sal, x_bgin, y_bgin, crop_size, crop_size)        # :80
                    patch_im = imcrop(im, x_bgin, y_bgin, crop_size, crop_size)      # :81
                    p_h, p_w = patch_im.shape[:2]
                    input1 = imresize(patch_im.astype(np.float32), [lrn_side] * 2, "bilinear")  # :88
                    input2 = imresize(patch.astype(np.float32), [lrn_side // 8] * 2)          # :89
                    input3 = imresize(patch.astype(np.float32), [lrn_side // 4] * 2)          # :90
                    sal_map1 = imresize(lrn(input1, input2, input3), [p_h, p_w])             # :93-95
                    y2, x2 = min(height, y_bgin + crop_size), min(width, x_bgin + crop_size)  # :97-100
                    tmp[y_bgin - 1:y2, x_bgin - 1:x2] += sal_map1
                    flag[y_bgin - 1:y2, x_bgin - 1:x2] += 1
            covered = flag != 0                                           # :112-113
            global_sal_map = np.where(covered, tmp / np.maximum(flag, 1), global_sal_map)
        stage2_sal_map = global_sal_map
    if mode == 0:
        sal = to_uint8(global_sal_map)                                    # :123
        input1 = imresize(im.astype(np.float32), [lrn_side] * 2, "bilinear")  # :126
        input2 = imresize(sal.astype(np.float32), [lrn_side // 8] * 2)
        input3 = imresize(sal.astype(np.float32), [lrn_side // 4] * 2)
        sal_map1 = imresize(lrn(input1, input2, input3), [height, width]) # :131-133
    if mode == 1:
        stage2_sal = to_uint8(stage2_sal_map * 255)                      # :139
        input1 = imresize(im.astype(np.float32), [1024, 1024], "bilinear")  # :141
        input2 = imresize(stage2_sal.astype(np.float32), [1024, 1024])   # :142
        stage3 = glfn(input1, input2)
        size = [height, width] if opt == 0 else [height_ori, width_ori]  # :148-153
    if mode == 0:
        stage2_sal = to_uint8(sal_map1 * 255)                            # :160
        input1 = imresize(im.astype(np.float32), [384, 384], "bilinear")  # :162
        input2 = imresize(stage2_sal.astype(np.float32), [384, 384])     # :163
        stage3 = glfn(input1, input2)
        size = [height, width]                                           # :169
        if opt == 1 and mode0_opt1_size == "image":  # :169 writes the 1024 warp (height, width reset at :28)
            size = [height_ori, width_ori]
    return to_uint8(255 * np.clip(imresize(stage3, size), 0, 1)).astype(np.uint8)  # imwrite of a single map
