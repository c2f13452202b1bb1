#!/usr/bin/python3
"""Write the SSIM fixtures: three small tensor streams and scikit-image's SSIM for every pair.

Run with Debian's interpreter (python3-skimage 0.19, numpy):
    /usr/bin/python3 tests/make-fixtures-ssim.py
Writes tests/fixtures/ssim/{a,b,c}.dft, reference.tsv, and one.dft and shape.dft (one record each,
for the error tests). The streams hold the same keys in different orders (so the tool must match by
key, not by position): grey u8 (H,W,1), colour u8 (H,W,3) and f32 heatmaps (H,W) of 32x40, each as
six kinds of pair, from identical and near-identical to unrelated. reference.tsv is long format: key, window mode, data range
("dtype" = skimage's default from the dtype), the pair of streams, and skimage's value.
"""
import os
import sys

import numpy as np
import skimage
from scipy import ndimage
from skimage.metrics import structural_similarity

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dfs_stream  # noqa: E402

H, W = 32, 40
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "ssim")
rng = np.random.default_rng(20240607)


def smooth(shape, sigma):
    """Random field with spatial structure, scaled to [0, 1]."""
    f = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=(sigma, sigma) + (0,) * (len(shape) - 2))
    f -= f.min()
    return f / max(f.max(), 1e-12)


def triple(kind, shape):
    """Three float images in [0, 1] for one pair kind: stream 1, 2 and 3."""
    base = smooth(shape, 3.0)
    if kind == "identical":
        return base, base.copy(), base.copy()
    if kind == "near":      # small noise: SSIM close to 1
        return base, base + 0.01 * rng.standard_normal(shape), base + 0.02 * rng.standard_normal(shape)
    if kind == "shifted":   # same structure, brightness and contrast changed
        return base, 0.6 * base + 0.3, base ** 2
    if kind == "noisy":     # heavy noise: middle range
        return base, base + 0.15 * rng.standard_normal(shape), base + 0.3 * rng.standard_normal(shape)
    if kind == "unrelated":
        return base, smooth(shape, 3.0), rng.random(shape)
    if kind == "inverted":  # anticorrelated: negative SSIM
        return base, 1.0 - base, 0.5 * np.ones(shape)
    raise ValueError(kind)


KINDS = ["identical", "near", "shifted", "noisy", "unrelated", "inverted"]
FORMATS = {"gray": (H, W, 1), "rgb": (H, W, 3), "heat": (H, W)}


def to_dtype(fmt, img):
    img = np.clip(img, 0.0, 1.0)
    if fmt == "heat":
        return img.astype(np.float32)
    return np.round(img * 255.0).astype(np.uint8)


def ssim(a, b, mode, data_range):
    kw = {"data_range": data_range}
    if a.ndim == 3:
        kw["channel_axis"] = -1
    if mode == "gaussian":
        kw.update(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    return float(structural_similarity(a, b, **kw))


def main():
    assert skimage.__version__.startswith("0.19"), skimage.__version__
    os.makedirs(OUT, exist_ok=True)
    records = []   # (key, fmt, [img1, img2, img3])
    for fmt, shape in FORMATS.items():
        for kind in KINDS:
            imgs = [to_dtype(fmt, x) for x in triple(kind, shape)]
            records.append((f"{fmt}/{kind}", fmt, imgs))
    for s, name in enumerate("abc"):
        order = list(range(len(records)))
        if s:   # streams 2 and 3 in other orders
            rng.shuffle(order)
        dfs_stream.write(os.path.join(OUT, f"{name}.dft"),
                         [(records[i][2][s], 1, {"key": records[i][0], "dataset": "fixture"}) for i in order])
    # for the error tests: one key alone (right shape), and the same key as colour (wrong shape)
    near = dict((k, imgs) for k, _, imgs in records)["gray/near"]
    dfs_stream.write(os.path.join(OUT, "one.dft"), [(near[1], 1, {"key": "gray/near", "dataset": "fixture"})])
    dfs_stream.write(os.path.join(OUT, "shape.dft"),
                     [(np.repeat(near[1], 3, axis=2), 1, {"key": "gray/near", "dataset": "fixture"})])
    rows = []
    for key, fmt, imgs in records:
        ranges = [None] + ([1.0] if fmt == "heat" else [])
        for mode in ("uniform", "gaussian"):
            for dr in ranges:
                for i, j in ((0, 1), (0, 2), (1, 2)):
                    v = ssim(imgs[i], imgs[j], mode, dr)
                    rows.append(f"{key}\t{mode}\t{'dtype' if dr is None else f'{dr:g}'}\t{i + 1}_{j + 1}\t{v:.12g}")
    with open(os.path.join(OUT, "reference.tsv"), "w") as f:
        f.write("key\tmode\tdata_range\tpair\tssim\n")
        f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
