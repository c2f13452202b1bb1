#!/usr/bin/python3
"""Reference fixtures for Grad-CAM (lib/nn/gradcam.c, lib/analysis/gradcam.c), from PyTorch and OpenCV.

Run with Debian's interpreter (python3-torch, python3-opencv):  /usr/bin/python3 tests/make-fixtures-cam.py
Writes tests/fixtures/cam/<arch>.dft and tests/fixtures/cam/colormap.dft, read by tests/unit/test_cam.c.

The models, their weights (the hash rule) and the calibrated inference statistics come from
tests/make-fixtures-models.py, imported, not rewritten. Grad-CAM is computed in float64 by autograd:
the class score (fake: the logit of a 1-logit model, or logit 1 of a 2-logit model; real: minus the
logit, or logit 0), its gradient with respect to the explained layer's activation A, channel weights
w = spatial mean of the gradient, raw map = sum_k w_k A_k (no ReLU). The explained layer is a ReLU
output (meso4 block4.relu, xception block14.sepconv2_act); F.relu is wrapped to record it.
Guided backpropagation: a second pass in which every ReLU and leaky ReLU passes the gradient only
where both it and the input are positive; the input gradient is stored.

Records of <arch>.dft (name=...): spec.<tensor> and spec.input as in the models fixture;
eval.stat.<stat>; "raw.<class>" f32 (N, h, w); "cam.<class>" f32 (N, S, S): bilinear upsampling
(align_corners=False) of ReLU(raw), min-max to [0, 1] (a constant map gives zeros);
"guided.fake" f32 (N, 3, S, S).
colormap.dft: "lut.jet", "lut.viridis" u8 (256, 3) RGB as cv2.applyColorMap draws them; the study
pipeline on a random raw map and image: "study.raw" f32 (h, w), "study.image" u8 (S, S, 3),
"study.out" u8 (S, S, 3) (tf-explain 0.3.1 overlay, then the study's normalize + JET, in RGB).
"""
import importlib.util
import os
import sys

import cv2
import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import dfs_stream  # noqa: E402

_spec = importlib.util.spec_from_file_location("models_fixture", os.path.join(HERE, "make-fixtures-models.py"))
M = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(M)

BATCH = 2
CASES = {"meso4": (48, 3), "xception": (80, -1)}   # size, index of the explained ReLU call


class GuidedAct(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, slope):
        ctx.save_for_backward(x)
        return torch.where(x > 0, x, x * slope)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return torch.where((x > 0) & (g > 0), g, torch.zeros_like(g)), None


class FProxy:
    """torch.nn.functional with relu recorded (and, when guided, guided ReLU / leaky ReLU)."""

    def __init__(self):
        self.acts, self.guided = [], False

    def __getattr__(self, name):
        return getattr(F, name)

    def relu(self, x):
        y = GuidedAct.apply(x, 0.0) if self.guided else F.relu(x)
        if y.requires_grad:
            y.retain_grad()
        self.acts.append(y)
        return y

    def leaky_relu(self, x, slope):
        return GuidedAct.apply(x, slope) if self.guided else F.leaky_relu(x, slope)


def score(logits, cls):
    if logits.shape[1] == 1:
        return logits[:, 0] if cls == "fake" else -logits[:, 0]
    return logits[:, 1 if cls == "fake" else 0]


def cam_arch(arch, size, idx):
    proxy = FProxy()
    M.F = proxy
    rng = np.random.default_rng(2000 + len(arch))
    P = M.Params()
    with torch.no_grad():
        M.ARCHS[arch](M.Net(P, True, 1.0), torch.tensor(rng.random((4, 3, size, size))))
    x = M.hash_values(M.INPUT_SEED, BATCH * 3 * size * size, 0.5, 0.5).reshape(BATCH, 3, size, size)
    recs = []
    for cls in ("fake", "real"):
        proxy.acts = []
        logits = M.ARCHS[arch](M.Net(P, False), torch.tensor(x.astype(np.float64)))
        A = proxy.acts[idx]
        score(logits, cls).sum().backward()
        w = A.grad.mean((2, 3), keepdim=True)
        raw = (w * A).sum(1).detach()
        up = F.interpolate(raw.clamp(min=0)[:, None], size=(size, size), mode="bilinear", align_corners=False)[:, 0]
        lo = up.amin((1, 2), keepdim=True)
        rg = up.amax((1, 2), keepdim=True) - lo
        cam = torch.where(rg > 0, (up - lo) / torch.where(rg > 0, rg, torch.ones_like(rg)), torch.zeros_like(up))
        recs.append((raw.numpy().astype(np.float32), -1, {"name": f"raw.{cls}"}))
        recs.append((cam.numpy().astype(np.float32), -1, {"name": f"cam.{cls}"}))
    proxy.guided = True
    xin = torch.tensor(x.astype(np.float64), requires_grad=True)
    score(M.ARCHS[arch](M.Net(P, False), xin), "fake").sum().backward()
    recs.append((xin.grad.numpy().astype(np.float32), -1, {"name": "guided.fake"}))
    M.F = F
    head = [(np.zeros(0, dtype=np.uint8), -1, {"key": f"fixture/cam/{arch}", "arch": arch, "size": str(size),
                                               "batch": str(BATCH), "torch": torch.__version__})]
    for name, (shape, seed, scale, offset, is_stat) in P.specs.items():
        head.append((np.array([seed, scale, offset], dtype=np.float64), -1,
                     {"name": f"spec.{name}", "shape": M.shape_str(shape), "stat": str(int(is_stat))}))
        if is_stat:
            head.append((P.t[name].detach().numpy().astype(np.float32), -1, {"name": f"eval.stat.{name}"}))
    head.append((np.array([M.INPUT_SEED, 0.5, 0.5], dtype=np.float64), -1,
                 {"name": "spec.input", "shape": M.shape_str(x.shape)}))
    return head + recs


def colormaps():
    g = np.arange(256, dtype=np.uint8).reshape(1, 256)
    jet = cv2.applyColorMap(g, cv2.COLORMAP_JET)[0][:, ::-1].copy()
    vir = cv2.applyColorMap(g, cv2.COLORMAP_VIRIDIS)[0][:, ::-1].copy()
    rng = np.random.default_rng(77)
    S, h = 32, 4
    raw = rng.normal(size=(h, h)).astype(np.float32)
    image = rng.integers(0, 256, size=(S, S, 3), dtype=np.uint8)
    # tf-explain 0.3.1 (facts section 3)
    cam = cv2.resize(raw, (S, S), interpolation=cv2.INTER_LINEAR)
    cam = (cam - cam.min()) / (cam.max() - cam.min())
    heat = cv2.applyColorMap(np.uint8(255 * cam), cv2.COLORMAP_VIRIDIS)
    img = (image / 255.0) * 255.0
    out = cv2.addWeighted(cv2.cvtColor(img.astype("uint8"), cv2.COLOR_RGB2BGR), 0.7, heat, 1, 0)
    out = cv2.cvtColor(out, cv2.COLOR_BGR2RGB)
    # the study's post-processing
    saved = cv2.normalize(out, None, 0, 255, cv2.NORM_MINMAX)
    study = cv2.applyColorMap(saved, cv2.COLORMAP_JET)[:, :, ::-1].copy()
    return [(np.zeros(0, dtype=np.uint8), -1, {"key": "fixture/cam/colormap", "opencv": cv2.__version__}),
            (jet, -1, {"name": "lut.jet"}), (vir, -1, {"name": "lut.viridis"}),
            (raw, -1, {"name": "study.raw"}), (image, -1, {"name": "study.image"}),
            (study, -1, {"name": "study.out"})]


def main():
    torch.set_grad_enabled(True)
    outdir = os.path.join(HERE, "fixtures", "cam")
    os.makedirs(outdir, exist_ok=True)
    for arch, (size, idx) in CASES.items():
        path = os.path.join(outdir, f"{arch}.dft")
        dfs_stream.write(path, cam_arch(arch, size, idx))
        print(f"{path}: {os.path.getsize(path)} bytes")
    path = os.path.join(outdir, "colormap.dft")
    dfs_stream.write(path, colormaps())
    print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
