#!/usr/bin/python3
"""PyTorch side of bench/cpu.sh: time inference or training steps of one study architecture.

    /usr/bin/python3 bench/torchbench.py ARCH SIZE BATCH train|infer STEPS WARMUP THREADS

The architectures are the PyTorch definitions of tests/make-fixtures-models.py (imported, not
rewritten), run in float32: its Params class makes float64 leaves for the reference fixtures, so
every tensor it creates is converted to a float32 leaf here. Keras 'same' padding there is an
explicit F.pad before each conv/pool, which costs PyTorch one extra copy per padded layer; that is
how the study's models must be written in PyTorch to match Keras, so it is kept.
  infer: forward under torch.no_grad() with batchnorm on running statistics.
  train: training-mode forward (dropout and drop-connect drawing masks, as ours do), the stage-1 loss of the study, zero_grad, backward, Adam step
         (torch.optim.Adam, eps 1e-7 as Keras) over every parameter.
Prints one line like bench/nnbench.c: `arch size batch mode steps seconds img_per_s`.
"""
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
fx = __import__("make-fixtures-models")


class Params32(fx.Params):
    def _new(self, name, shape, scale, offset, is_stat=False):
        fresh = name not in self.specs
        t = super()._new(name, shape, scale, offset, is_stat)
        if fresh:
            t = t.detach().float().requires_grad_(not is_stat)
            self.t[name] = t
        return t


def main():
    arch, size, batch, mode, steps, warmup, threads = sys.argv[1:8]
    size, batch, steps, warmup, threads = int(size), int(batch), int(steps), int(warmup), int(threads)
    torch.set_num_threads(threads)
    train = mode == "train"
    net_fn = fx.ARCHS[arch]
    P = Params32()
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.random((batch, 3, size, size), dtype=np.float32))
    y = torch.tensor(np.array([i & 1 for i in range(batch)], dtype=np.float32))
    with torch.no_grad():   # creates the parameters
        fx.ARCHS[arch](fx.Net(P, False), x[:1])
    params = [t for n, t in P.t.items() if not P.specs[n][4]]
    lr = {"meso4": 1e-3, "mesoinception4": 1e-3}.get(arch, 1e-4)
    opt = torch.optim.Adam(params, lr=lr, eps=1e-7) if train else None
    sink = 0.0
    t0 = time.perf_counter()
    for s in range(warmup + steps):
        if s == warmup:
            t0 = time.perf_counter()
        if train:
            logits = net_fn(fx.Net(P, True, stochastic=True), x)
            loss = fx.loss_fn(fx.LOSSES[arch], logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sink += loss.item()
        else:
            with torch.no_grad():
                sink += net_fn(fx.Net(P, False), x)[0, 0].item()
    secs = time.perf_counter() - t0
    if sink != sink:
        sys.exit(f"torchbench: {arch}: non-finite loss or output")
    print(f"{arch} {size} {batch} {mode} {steps} {secs:.6f} {batch * steps / secs:.3f}")


if __name__ == "__main__":
    main()
