#!/usr/bin/python3
"""Xception's kinks in training mode: the fixture that lets test_models_ref compare its
training-mode gradients, and the layer-by-layer dump that found why they differed.

Run with Debian's interpreter (it has python3-torch):
  /usr/bin/python3 tests/make-fixtures-xgrad.py
      writes tests/fixtures/models-xception-pins.dft: for the configuration of
      tests/fixtures/models-xception.dft (same hash-rule weights, input, size and batch; training
      mode), the float64 reference's decision at every kink closer than PIN_LIMIT: records
      "pin.<node>" i64 (m, 2), for a ReLU node (flat index into N*C*H*W, 1 if its input > 0 else 0),
      for a max-pool node (flat output index, index of the winning input within its (n, c) plane).
  /usr/bin/python3 tests/make-fixtures-xgrad.py --dump OUT [SIZE [BATCH [float64|float32]]]
      writes OUT with the gradient of the loss w.r.t. every C graph node's output ("act.<node>",
      nodes named as in lib/nn/models.c), every parameter gradient ("grad.<tensor>") and the loss
      ("train.loss"); for float64 also OUT's kink margins on stdout. tests/xgrad-diag.c compares
      the C graph with two such dumps node by node (large files: keep them out of the tree).

Why: a float32 forward lands on the other side of a kink when the float64 value is closer to it
than float32 rounding (ReLU inputs within ~1e-6 of 0, max-pool windows whose two largest values
are within ~1e-6); the two sides then have different gradients, a difference no tolerance can
absorb. With about 4 million ReLU inputs at 64x64, batch 4, several are that close for any input,
so the test takes the reference's side at those few places (see test_models_ref.c).
"""
import importlib.util
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import dfs_stream  # noqa: E402

_spec = importlib.util.spec_from_file_location("fixmodels", os.path.join(HERE, "make-fixtures-models.py"))
M = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(M)


PIN_LIMIT = 1e-4   # 10x the largest |float32 - float64| of any kink input at 64x64, batch 4


class Params32(M.Params):
    def _new(self, name, shape, scale, offset, is_stat=False):
        t = super()._new(name, shape, scale, offset, is_stat)
        if t.dtype != torch.float32:
            t = self.t[name] = t.detach().float().requires_grad_(not is_stat)
        return t


def xception_tapped(n, x, taps, pre=None):
    """Xception as in make-fixtures-models.py; taps[node] = that node's output (gradient retained),
    pre[node] = the input of every ReLU and max-pool node (for the kink analysis)."""
    pre = {} if pre is None else pre

    def tap(name, t):
        if t.requires_grad:
            t.retain_grad()
        taps[name] = t
        return t

    def sep_bn(blk, j, x, K, act_before):
        if act_before:
            pre[f"{blk}.sepconv{j}_act"] = x
            x = tap(f"{blk}.sepconv{j}_act", F.relu(x))
        x = tap(f"{blk}.sepconv{j}_dw", n.conv(f"{blk}.sepconv{j}_dw", x, x.shape[1], 3, groups=x.shape[1], bias=False))
        x = tap(f"{blk}.sepconv{j}", n.conv(f"{blk}.sepconv{j}", x, K, 1, bias=False))
        return tap(f"{blk}.sepconv{j}_bn", n.bn(f"{blk}.sepconv{j}_bn", x))

    def down(blk, x, K1, K2, first_act):
        r = tap(blk + ".residual", n.conv(blk + ".residual", x, K2, 1, stride=2, bias=False))
        r = tap(blk + ".residual_bn", n.bn(blk + ".residual_bn", r))
        x = sep_bn(blk, 1, x, K1, first_act)
        x = sep_bn(blk, 2, x, K2, True)
        pre[blk + ".pool"] = x
        x = tap(blk + ".pool", n.maxpool(x, 3, 2, True))
        return tap(blk + ".add", x + r)

    x = tap("input", x)
    x = tap("block1.conv1", n.conv("block1.conv1", x, 32, 3, stride=2, same=False, bias=False))
    x = tap("block1.conv1_bn", n.bn("block1.conv1_bn", x))
    pre["block1.conv1_act"] = x
    x = tap("block1.conv1_act", F.relu(x))
    x = tap("block1.conv2", n.conv("block1.conv2", x, 64, 3, same=False, bias=False))
    x = tap("block1.conv2_bn", n.bn("block1.conv2_bn", x))
    pre["block1.conv2_act"] = x
    x = tap("block1.conv2_act", F.relu(x))
    x = down("block2", x, 128, 128, False)
    x = down("block3", x, 256, 256, True)
    x = down("block4", x, 728, 728, True)
    for i in range(5, 13):
        r = x
        for j in (1, 2, 3):
            x = sep_bn(f"block{i}", j, x, 728, True)
        x = tap(f"block{i}.add", x + r)
    x = down("block13", x, 728, 1024, True)
    x = sep_bn("block14", 1, x, 1536, False)
    pre["block14.sepconv1_act"] = x
    x = tap("block14.sepconv1_act", F.relu(x))
    x = sep_bn("block14", 2, x, 2048, False)
    pre["block14.sepconv2_act"] = x
    x = tap("block14.sepconv2_act", F.relu(x))
    x = tap("head.gap", x.mean((2, 3)))
    return tap("head.logits", n.dense("head.logits", x, 2))


def kink_margins(pre, pre32=None):
    """The smallest distance to a kink in the forward pass: min |pre-activation| over every ReLU
    input, and min (largest - second largest) over every max-pool window, each divided by the
    float32 noise of that input (max |float32 - float64| of the whole tensor, from pre32) when
    pre32 is given. Returns a list of (node, margin, flat index, noise) sorted by margin."""
    out = []
    for name, x in pre.items():
        x = x.detach()
        noise = 1.0 if pre32 is None else float((pre32[name].detach().double() - x).abs().max())
        if name.endswith("_act"):
            v = x.abs().ravel() / noise
            k = int(torch.argmin(v))
            out.append((name, float(v[k]), k, noise))
        else:
            t, b = M.same_pad(x.shape[2], 3, 2, 1)
            l, r = M.same_pad(x.shape[3], 3, 2, 1)
            xp = F.pad(x, (l, r, t, b), value=-float("inf"))
            win = F.unfold(xp.reshape(-1, 1, *xp.shape[2:]), 3, stride=2)   # (N*C, 9, P*Q)
            top = torch.topk(win, 2, dim=1).values
            gap = (top[:, 0] - top[:, 1]).ravel() / noise
            k = int(torch.argmin(gap))
            out.append((name, float(gap[k]), k, noise))
    return sorted(out, key=lambda e: e[1])


def pins(pre, limit):
    """The float64 reference's decision at every kink closer than `limit`: ReLU inputs with
    |x| < limit -> (flat index, 1 if x > 0 else 0); max-pool windows whose two largest values are
    closer than limit -> (flat output index, index of the winner within its N,C plane).
    Returns {node: int64 array (m, 2)}."""
    out = {}
    for name, x in pre.items():
        x = x.detach()
        if name.endswith("_act"):
            flat = x.ravel()
            idx = torch.nonzero(flat.abs() < limit).ravel()
            out[name] = np.stack([idx.numpy(), (flat[idx] > 0).long().numpy()], 1).astype(np.int64)
        else:
            H, W = x.shape[2], x.shape[3]
            t, b = M.same_pad(H, 3, 2, 1)
            l, r = M.same_pad(W, 3, 2, 1)
            xp = F.pad(x, (l, r, t, b), value=-float("inf"))
            win = F.unfold(xp.reshape(-1, 1, *xp.shape[2:]), 3, stride=2)   # (N*C, 9, P*Q)
            Q = (W + l + r - 3) // 2 + 1
            top = torch.topk(win, 2, dim=1)
            gap = top.values[:, 0] - top.values[:, 1]                         # (N*C, P*Q)
            nc, o = torch.nonzero(gap < limit, as_tuple=True)
            pos = top.indices[nc, 0, o]
            h = (o // Q) * 2 - t + pos // 3
            w = (o % Q) * 2 - l + pos % 3
            k = nc * gap.shape[1] + o
            out[name] = np.stack([k.numpy(), (h * W + w).numpy()], 1).astype(np.int64)
    return out


def run(size, batch, f64):
    x = M.hash_values(M.INPUT_SEED, batch * 3 * size * size, 0.5, 0.5).reshape(batch, 3, size, size)
    target = np.array([0.0, 1.0] * (batch // 2), dtype=np.float32)
    P = M.Params() if f64 else Params32()
    tdt = torch.float64 if f64 else torch.float32
    xin = torch.tensor(x, dtype=tdt, requires_grad=True)
    taps, pre = {}, {}
    logits = xception_tapped(M.Net(P, True), xin, taps, pre)
    loss = M.loss_fn("bce_softmax2", logits, torch.tensor(target, dtype=tdt))
    loss.backward()
    return P, taps, pre, loss.item(), x


def dump(out, size, batch, dtype):
    P, taps, pre, loss, x = run(size, batch, dtype == "float64")
    recs = [(np.zeros(0, dtype=np.uint8), -1, {"key": "fixture/xgrad", "size": str(size), "batch": str(batch),
                                               "dtype": dtype}),
            (np.array([loss], dtype=np.float64), -1, {"name": "train.loss"})]
    for name, t in taps.items():
        recs.append((t.grad.detach().numpy().astype(np.float32), -1, {"name": f"act.{name}"}))
    for name, t in P.t.items():
        if not P.specs[name][4]:
            recs.append((t.grad.detach().numpy().astype(np.float32), -1, {"name": f"grad.{name}"}))
    dfs_stream.write(out, recs)
    if dtype == "float64":
        _, _, pre32, _, _ = run(size, batch, False)
        print("closest kinks (margin in units of that input's max |float32 - float64|):")
        for name, margin, k, noise in kink_margins(pre, pre32)[:8]:
            print(f"  {name:28s} margin {margin:.3g} x noise {noise:.3g} at {k}")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--dump":
        a = sys.argv[2:]
        dump(a[0], int(a[1]) if len(a) > 1 else M.SIZES["xception"], int(a[2]) if len(a) > 2 else M.BATCH,
             a[3] if len(a) > 3 else "float64")
        return
    size, batch = M.SIZES["xception"], M.BATCH
    _, _, pre, _, _ = run(size, batch, True)
    recs = [(np.zeros(0, dtype=np.uint8), -1, {"key": "fixture/models/xception-pins", "arch": "xception",
                                               "size": str(size), "batch": str(batch), "limit": str(PIN_LIMIT),
                                               "torch": torch.__version__})]
    recs += [(v, -1, {"name": f"pin.{name}"}) for name, v in pins(pre, PIN_LIMIT).items() if len(v)]
    path = os.path.join(HERE, "fixtures", "models-xception-pins.dft")
    dfs_stream.write(path, recs)
    print(f"{path}: {sum(len(r[0]) for r in recs)} pinned decisions, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
