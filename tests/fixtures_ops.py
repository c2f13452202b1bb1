"""Reference values for single ops from PyTorch (Debian's python3-torch), written to
tests/fixtures/ops_torch.dft. Run: /usr/bin/python3 tests/fixtures_ops.py

One record per tensor, key=<case>.<tensor> (f32, PyTorch layouts, which are ours). Keras 'same'
padding is applied explicitly (extra row/column at the bottom/right), max pool pads with -inf,
average pool divides by the number of real (unpadded) positions. The loss upstream of every op
is sum(out * dout) with the dout stored, so the stored gradients are what backward must add.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dfs_stream  # noqa: E402

torch.manual_seed(3)
records = []


def put(case, name, t):
    records.append((t.detach().numpy().astype(np.float32), -1, {"key": f"{case}.{name}", "dataset": "fixture"}))


def same_pad(size, k, s, d=1):
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def conv_case(case, N, C, H, W, K, k, s, d, g, bias):
    x = torch.randn(N, C, H, W, requires_grad=True)
    w = torch.randn(K, C // g, k, k, requires_grad=True)
    b = torch.randn(K, requires_grad=True) if bias else None
    pt, pb = same_pad(H, k, s, d)
    pl, pr = same_pad(W, k, s, d)
    y = F.conv2d(F.pad(x, (pl, pr, pt, pb)), w, b, stride=s, dilation=d, groups=g)
    dy = torch.randn_like(y)
    (y * dy).sum().backward()
    for name, t in [("in", x), ("w", w), ("out", y), ("dout", dy), ("din", x.grad), ("dw", w.grad)]:
        put(case, name, t)
    if bias:
        put(case, "b", b)
        put(case, "db", b.grad)


conv_case("conv_s2_same", 2, 3, 9, 10, 4, 3, 2, 1, 1, True)
conv_case("conv_dil2_grouped", 2, 4, 7, 7, 6, 3, 1, 2, 2, True)
conv_case("conv_dil3", 1, 2, 9, 8, 3, 3, 1, 3, 1, False)
conv_case("conv_depthwise_s2", 2, 3, 8, 8, 6, 5, 2, 1, 3, False)

# batchnorm, training mode: Keras momentum 0.99 is PyTorch momentum 0.01; running_var unbiased
x = torch.randn(4, 3, 3, 3, requires_grad=True) * 2 + 1
x.retain_grad()
gamma = torch.rand(3, requires_grad=True)
beta = torch.randn(3, requires_grad=True)
rm, rv = torch.randn(3), torch.rand(3) + 0.5
put("bn_train", "running_mean0", rm)
put("bn_train", "running_var0", rv)
y = F.batch_norm(x, rm, rv, gamma, beta, training=True, momentum=0.01, eps=1e-3)
dy = torch.randn_like(y)
(y * dy).sum().backward()
for name, t in [("in", x), ("gamma", gamma), ("beta", beta), ("out", y), ("dout", dy), ("din", x.grad),
                ("dgamma", gamma.grad), ("dbeta", beta.grad), ("running_mean", rm), ("running_var", rv)]:
    put("bn_train", name, t)

# pools on an odd-sized input
x = torch.randn(2, 3, 7, 7, requires_grad=True)
pt, pb = same_pad(7, 2, 2)
y = F.max_pool2d(F.pad(x, (pt, pb, pt, pb), value=float("-inf")), 2, 2)
dy = torch.randn_like(y)
(y * dy).sum().backward()
for name, t in [("in", x), ("out", y), ("dout", dy), ("din", x.grad)]:
    put("maxpool_2s2_same", name, t)

x = torch.randn(2, 3, 8, 8, requires_grad=True)
pt, pb = same_pad(8, 3, 2)
pad = (pt, pb, pt, pb)
total = F.avg_pool2d(F.pad(x, pad), 3, 2) * 9
count = F.avg_pool2d(F.pad(torch.ones_like(x), pad), 3, 2) * 9
y = total / count
dy = torch.randn_like(y)
(y * dy).sum().backward()
for name, t in [("in", x), ("out", y), ("dout", dy), ("din", x.grad)]:
    put("avgpool_3s2_same", name, t)

# losses (mean over the batch); targets 0 real, 1 fake; softmax order (P(real), P(fake)).
# BCE as Keras 2 / TF 1.x on a probability output, restated here in float32 as TF runs it: clip
# the probability to [1e-7, 1 - 1e-7], back to a logit log(p / (1 - p)), then the logistic loss;
# the clip (torch.clamp, like TF's clip_by_value) passes no gradient where it acts.
def keras_bce(p, target):
    eps = torch.tensor(1e-7, dtype=torch.float32)
    pc = torch.clamp(p, eps, 1 - eps)
    return F.binary_cross_entropy_with_logits(torch.log(pc / (1 - pc)), target)


z = torch.tensor([0.3, -2.0, 5.0, -0.7, 30.0, -30.0], requires_grad=True)
t = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 1.0])
put("loss", "target", t)
put("loss", "logit", z)
loss = keras_bce(torch.sigmoid(z), t)
z.grad = None
loss.backward()
put("loss", "bce", loss.reshape(1))
put("loss", "dbce", z.grad.clone())
z.grad = None
loss = F.mse_loss(torch.sigmoid(z), t)
loss.backward()
put("loss", "mse", loss.reshape(1))
put("loss", "dmse", z.grad.clone())
z2 = torch.randn(6, 2, requires_grad=True)
z2.data[4] = torch.tensor([40.0, -40.0])
# the mean over both outputs of the element-wise BCE against the one-hot targets
loss = keras_bce(torch.softmax(z2, 1), F.one_hot(t.long(), 2).float())
loss.backward()
put("loss", "logits2", z2)
put("loss", "bce2", loss.reshape(1))
put("loss", "dbce2", z2.grad)

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "ops_torch.dft")
dfs_stream.write(out, records)
print(f"wrote {len(records)} records to {out}")
