#!/usr/bin/python3
"""Reference fixtures for the five study architectures (lib/nn/models.c), computed with PyTorch.

Run with Debian's interpreter (it has python3-torch):  /usr/bin/python3 tests/make-fixtures-models.py
Writes tests/fixtures/models-<arch>.dft, read by tests/unit/test_models_ref.c.

Each architecture is written here again, independently of the C builders, from
docs/study-facts.md section 1, as a function over a dict of named parameters. Keras
semantics are reproduced explicitly: 'same' padding puts the odd extra row/column at the bottom and
right (F.pad before a 'valid' conv or pool), batchnorm momentum 0.99 in Keras terms (0.01 in
PyTorch's) and epsilon 1e-3, running variance updated with the unbiased batch variance.

Weights are not stored (Xception alone has 21M): every tensor is generated from a 32-bit integer
hash of (tensor seed, element index), mapped to offset + scale * (2u - 1) in double and rounded to
float32, a rule the C test repeats exactly; the fixture stores each tensor's (seed, scale, offset)
and shape. References are computed in float64 from those float32 values. Dropout and drop-connect
are identity in both modes (the C graph runs with no_dropout; Net(stochastic=True) draws them, for
bench/torchbench.py only), so training-mode outputs are deterministic. Gradients of tensors above SAMPLE_ABOVE elements are stored at SAMPLES indices
(random ones plus the largest magnitude); smaller tensors completely.

Fixture records (all with name=...): "spec.<tensor>" f64 (seed, scale, offset) with shape=...;
"spec.input" likewise for the input batch (N,3,S,S); "target" f32 (N); then for mode in train, eval:
"<mode>.logits", "<mode>.loss" (f64), "<mode>.grad.<tensor>" (full; <tensor> = input for the input) or
"<mode>.gradidx.<tensor>" (i64) + "<mode>.gradval.<tensor>" (f32); "train.after.<stat>" for every
running statistic after the training-mode update; "eval.stat.<stat>" the running statistics the
inference-mode pass uses (calibrated on another batch, see run()).
"""
import math
import os
import sys
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dfs_stream  # noqa: E402

SAMPLE_ABOVE = 1024
SAMPLES = 40
BATCH = 4   # with 2, training-mode batchnorm over the last 2x2 maps is too ill-conditioned for float32
SIZES = {"meso4": 48, "mesoinception4": 48, "shallownet": 24, "xception": 64, "efficientnet-b0": 64}
LOSSES = {"meso4": "mse", "mesoinception4": "mse", "shallownet": "bce", "xception": "bce_softmax2",
          "efficientnet-b0": "bce_softmax2"}
INPUT_SEED = 100000   # the input image batch comes from the same hash rule, values in [0, 1)
MOMENTUM = 0.01   # PyTorch convention; Keras 0.99
EPS = 1e-3


def hash_values(seed, n, scale, offset):
    """The generator shared with the C test (lowbias32 hash of seed * 0x9E3779B9 + index)."""
    M = np.uint64(0xFFFFFFFF)
    x = (np.arange(n, dtype=np.uint64) + np.uint64((seed * 0x9E3779B9) & 0xFFFFFFFF)) & M
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7FEB352D)) & M
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846CA68B)) & M
    x ^= x >> np.uint64(16)
    u = x.astype(np.float64) * (1.0 / 4294967296.0)
    return (offset + scale * (2.0 * u - 1.0)).astype(np.float32)


class Params:
    """Named tensors created on first use, in the order the architecture uses them."""

    def __init__(self):
        self.specs = OrderedDict()   # name -> (shape, seed, scale, offset, is_stat)
        self.t = OrderedDict()

    def _new(self, name, shape, scale, offset, is_stat=False):
        if name in self.specs:
            assert self.specs[name][0] == tuple(shape), name
            return self.t[name]
        seed = len(self.specs) + 1
        n = int(np.prod(shape))
        v = hash_values(seed, n, scale, offset).reshape(shape)
        self.specs[name] = (tuple(shape), seed, scale, offset, is_stat)
        self.t[name] = torch.tensor(v.astype(np.float64), requires_grad=not is_stat)
        return self.t[name]

    def kernel(self, name, shape, fan_in, fan_out):
        return self._new(name, shape, math.sqrt(6.0 / (fan_in + fan_out)), 0.0)

    def bias(self, name, n):
        return self._new(name, (n,), 0.1, 0.0)

    def bn(self, node, c):
        return (self._new(node + ".gamma", (c,), 0.2, 1.0), self._new(node + ".beta", (c,), 0.1, 0.0),
                self._new(node + ".running_mean", (c,), 0.2, 0.0, True),
                self._new(node + ".running_var", (c,), 0.3, 1.0, True))


def same_pad(size, k, s, d):
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


class Net:
    """stochastic: dropout and drop-connect draw masks (bench/torchbench.py's training steps); off,
    they are the identity, which is what the fixtures compare against (no random draws to match)."""
    def __init__(self, P, training, momentum=MOMENTUM, stochastic=False):
        self.P, self.training, self.momentum, self.stochastic = P, training, momentum, stochastic

    def dropout(self, x, rate):
        return F.dropout(x, rate, training=True) if self.stochastic else x

    def drop_connect(self, x, rate):
        if not self.stochastic:
            return x
        # drawn where x lives: a cpu mask times a cuda tensor is an error (bench/torchbench.py --device cuda)
        keep = (torch.rand((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device) >= rate).to(x.dtype)
        return x * keep / (1.0 - rate)

    def conv(self, name, x, K, k, stride=1, dil=1, groups=1, same=True, bias=True):
        C = x.shape[1]
        rf = k * k
        fi, fo = (C * rf, (K // groups) * rf) if groups == C and groups > 1 else ((C // groups) * rf, K * rf)
        self.P.kernel(name + ".weight", (K, C // groups, k, k), fi, fo)
        if bias:
            self.P.bias(name + ".bias", K)
        if same:
            t, b = same_pad(x.shape[2], k, stride, dil)
            l, r = same_pad(x.shape[3], k, stride, dil)
            x = F.pad(x, (l, r, t, b))
        return F.conv2d(x, self.P.t[name + ".weight"], self.P.t.get(name + ".bias") if bias else None,
                        stride=stride, dilation=dil, groups=groups)

    def dense(self, name, x, O, bias=True):
        I = x.shape[1]
        self.P.kernel(name + ".weight", (O, I), I, O)
        if bias:
            self.P.bias(name + ".bias", O)
        return F.linear(x, self.P.t[name + ".weight"], self.P.t.get(name + ".bias") if bias else None)

    def bn(self, name, x):
        g, b, rm, rv = self.P.bn(name, x.shape[1])
        return F.batch_norm(x, rm, rv, g, b, training=self.training, momentum=self.momentum, eps=EPS)

    @staticmethod
    def maxpool(x, k, s, same):
        if same:
            t, b = same_pad(x.shape[2], k, s, 1)
            l, r = same_pad(x.shape[3], k, s, 1)
            x = F.pad(x, (l, r, t, b), value=-math.inf)
        return F.max_pool2d(x, k, s)


def swish(x):
    return x * torch.sigmoid(x)


def meso_head(n, x):
    x = n.dropout(torch.flatten(x, 1), 0.5)
    x = n.dropout(F.leaky_relu(n.dense("head.dense1", x, 16), 0.1), 0.5)
    return n.dense("head.logits", x, 1)


def meso4(n, x):
    for blk, K, k, pool in (("block1", 8, 3, 2), ("block2", 8, 5, 2), ("block3", 16, 5, 2), ("block4", 16, 5, 4)):
        x = F.relu(n.conv(blk + ".conv", x, K, k))
        x = n.bn(blk + ".bn", x)
        x = n.maxpool(x, pool, pool, True)
    return meso_head(n, x)


def mesoinception4(n, x):
    def inception(blk, x, a, b, c, d):
        out = [F.relu(n.conv(blk + ".b1", x, a, 1))]
        for i, ch in enumerate((b, c, d)):
            y = F.relu(n.conv(f"{blk}.b{i + 2}a", x, ch, 1))
            out.append(F.relu(n.conv(f"{blk}.b{i + 2}b", y, ch, 3, dil=i + 1)))
        return torch.cat(out, 1)

    x = inception("block1", x, 1, 4, 4, 2)
    x = n.maxpool(n.bn("block1.bn", x), 2, 2, True)
    x = inception("block2", x, 2, 4, 4, 2)
    x = n.maxpool(n.bn("block2.bn", x), 2, 2, True)
    x = F.relu(n.conv("block3.conv", x, 16, 5))
    x = n.maxpool(n.bn("block3.bn", x), 2, 2, True)
    x = F.relu(n.conv("block4.conv", x, 16, 5))
    x = n.maxpool(n.bn("block4.bn", x), 4, 4, True)
    return meso_head(n, x)


def shallownet(n, x):
    for blk, K, k in (("block1", 32, 5), ("block2", 64, 3)):
        x = n.dropout(F.relu(n.conv(blk + ".conv1", x, K, k, same=False)), 0.25)
        x = n.dropout(F.relu(n.conv(blk + ".conv2", x, K, 1, same=False)), 0.25)
        x = F.relu(n.conv(blk + ".conv3", x, K, 1, same=False))
        x = n.dropout(n.maxpool(x, 2, 2, False), 0.25)
    x = n.dropout(F.relu(n.conv("block3.conv1", x, 128, 3, same=False)), 0.25)
    x = n.dropout(F.relu(n.conv("block3.conv2", x, 32, 1, same=False)), 0.25)
    x = F.relu(n.dense("head.dense1", torch.flatten(x, 1), 1024))
    x = n.dropout(n.bn("head.bn", x), 0.25)
    return n.dense("head.logits", x, 1)


def xception(n, x):
    def sep(name, x, K):
        x = n.conv(name + "_dw", x, x.shape[1], 3, groups=x.shape[1], bias=False)
        return n.conv(name, x, K, 1, bias=False)

    def down(blk, x, K1, K2, first_act):
        r = n.bn(blk + ".residual_bn", n.conv(blk + ".residual", x, K2, 1, stride=2, bias=False))
        if first_act:
            x = F.relu(x)
        x = n.bn(blk + ".sepconv1_bn", sep(blk + ".sepconv1", x, K1))
        x = n.bn(blk + ".sepconv2_bn", sep(blk + ".sepconv2", F.relu(x), K2))
        return n.maxpool(x, 3, 2, True) + r

    x = F.relu(n.bn("block1.conv1_bn", n.conv("block1.conv1", x, 32, 3, stride=2, same=False, bias=False)))
    x = F.relu(n.bn("block1.conv2_bn", n.conv("block1.conv2", x, 64, 3, same=False, bias=False)))
    x = down("block2", x, 128, 128, False)
    x = down("block3", x, 256, 256, True)
    x = down("block4", x, 728, 728, True)
    for i in range(5, 13):
        r = x
        for j in (1, 2, 3):
            x = n.bn(f"block{i}.sepconv{j}_bn", sep(f"block{i}.sepconv{j}", F.relu(x), 728))
        x = x + r
    x = down("block13", x, 728, 1024, True)
    x = F.relu(n.bn("block14.sepconv1_bn", sep("block14.sepconv1", x, 1536)))
    x = F.relu(n.bn("block14.sepconv2_bn", sep("block14.sepconv2", x, 2048)))
    return n.dense("head.logits", x.mean((2, 3)), 2)


def efficientnet_b0(n, x):
    stages = ((3, 1, 32, 16, 1, 1), (3, 2, 16, 24, 6, 2), (5, 2, 24, 40, 6, 2), (3, 3, 40, 80, 6, 2),
              (5, 3, 80, 112, 6, 1), (5, 4, 112, 192, 6, 2), (3, 1, 192, 320, 6, 1))
    x = swish(n.bn("stem.bn", n.conv("stem.conv", x, 32, 3, stride=2, bias=False)))
    block = 0   # drop-connect rate 0.2 * block / 16, as lib/nn/models.c
    for s, (k, reps, fin, fout, expand, stride) in enumerate(stages):
        for j in range(reps):
            blk = f"block{s + 1}{chr(ord('a') + j)}"
            in_f, st = (fin, stride) if j == 0 else (fout, 1)
            inp, filters = x, in_f * expand
            if expand != 1:
                x = swish(n.bn(blk + ".expand_bn", n.conv(blk + ".expand_conv", x, filters, 1, bias=False)))
            x = swish(n.bn(blk + ".bn", n.conv(blk + ".dwconv", x, filters, k, stride=st, groups=filters,
                                               bias=False)))
            se = x.mean((2, 3), keepdim=True)
            se = swish(n.conv(blk + ".se_reduce", se, max(1, int(in_f * 0.25)), 1))
            se = torch.sigmoid(n.conv(blk + ".se_expand", se, filters, 1))
            x = n.bn(blk + ".project_bn", n.conv(blk + ".project_conv", x * se, fout, 1, bias=False))
            if st == 1 and in_f == fout:
                x = n.drop_connect(x, 0.2 * block / 16) + inp
            block += 1
    x = swish(n.bn("top.bn", n.conv("top.conv", x, 1280, 1, bias=False)))
    return n.dense("head.logits", n.dropout(x.mean((2, 3)), 0.2), 2)


ARCHS = {"meso4": meso4, "mesoinception4": mesoinception4, "shallownet": shallownet, "xception": xception,
         "efficientnet-b0": efficientnet_b0}


def loss_fn(kind, logits, target):
    if kind == "mse":
        return ((torch.sigmoid(logits[:, 0]) - target) ** 2).mean()
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits[:, 0], target)
    return F.cross_entropy(logits, target.long())   # = Keras BCE over a one-hot 2-way softmax


def shape_str(shape):
    return "x".join(str(d) for d in shape)


def run(arch, mode, x, target, rng):
    P = Params()
    if mode == "eval":
        # Random running statistics would drown the signal in a deep net; calibrate them instead
        # with one training-mode pass at momentum 1 (running = batch statistics) over another batch.
        with torch.no_grad():
            ARCHS[arch](Net(P, True, 1.0), torch.tensor(rng.random((4,) + x.shape[1:])))
    net = Net(P, mode == "train")
    xin = torch.tensor(x.astype(np.float64), requires_grad=True)
    logits = ARCHS[arch](net, xin)
    loss = loss_fn(LOSSES[arch], logits, torch.tensor(target.astype(np.float64)))
    loss.backward()
    recs = [(logits.detach().numpy().astype(np.float32), -1, {"name": f"{mode}.logits"}),
            (np.array([loss.item()], dtype=np.float64), -1, {"name": f"{mode}.loss"})]
    for name, t in [("input", xin)] + list(P.t.items()):
        if name != "input" and P.specs[name][4]:
            # train: the statistics after the update; eval: the calibrated statistics used
            recs.append((t.detach().numpy().astype(np.float32), -1,
                         {"name": f"{'train.after' if mode == 'train' else 'eval.stat'}.{name}"}))
            continue
        g = t.grad.numpy().ravel()
        if g.size <= SAMPLE_ABOVE:
            recs.append((g.reshape(t.shape).astype(np.float32), -1, {"name": f"{mode}.grad.{name}"}))
        else:
            idx = np.unique(np.concatenate([rng.choice(g.size, SAMPLES - 1, replace=False),
                                            [int(np.argmax(np.abs(g)))]])).astype(np.int64)
            recs.append((idx, -1, {"name": f"{mode}.gradidx.{name}"}))
            recs.append((g[idx].astype(np.float32), -1, {"name": f"{mode}.gradval.{name}"}))
    return P, recs


def main():
    torch.set_grad_enabled(True)
    outdir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
    os.makedirs(outdir, exist_ok=True)
    for arch, size in SIZES.items():
        rng = np.random.default_rng(1000 + list(SIZES).index(arch))
        x = hash_values(INPUT_SEED, BATCH * 3 * size * size, 0.5, 0.5).reshape(BATCH, 3, size, size)
        target = np.array([0.0, 1.0] * (BATCH // 2), dtype=np.float32)
        P, train_recs = run(arch, "train", x, target, rng)
        _, eval_recs = run(arch, "eval", x, target, rng)
        recs = [(np.zeros(0, dtype=np.uint8), -1,
                 {"key": f"fixture/models/{arch}", "arch": arch, "size": str(size), "batch": str(BATCH),
                  "loss": LOSSES[arch], "torch": torch.__version__})]
        for name, (shape, seed, scale, offset, is_stat) in P.specs.items():
            recs.append((np.array([seed, scale, offset], dtype=np.float64), -1,
                         {"name": f"spec.{name}", "shape": shape_str(shape), "stat": str(int(is_stat))}))
        recs.append((np.array([INPUT_SEED, 0.5, 0.5], dtype=np.float64), -1,
                     {"name": "spec.input", "shape": shape_str(x.shape)}))
        recs.append((target, -1, {"name": "target"}))
        path = os.path.join(outdir, f"models-{arch}.dft")
        dfs_stream.write(path, recs + train_recs + eval_recs)
        print(f"{path}: {len(P.specs)} tensors, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
