#!/usr/bin/python3
"""PyTorch side of bench/cpu.sh: time inference or training steps of one study architecture.

    /usr/bin/python3 bench/torchbench.py ARCH SIZE BATCH train|infer STEPS WARMUP THREADS [--device cpu|cuda]
                                         [--tf32 0|1]

The architectures are the PyTorch definitions of tests/make-fixtures-models.py (imported, not
rewritten), run in float32: its Params class makes float64 leaves for the reference fixtures, so
every tensor it creates is converted to a float32 leaf here. Keras 'same' padding there is an
explicit F.pad before each conv/pool, which costs PyTorch one extra copy per padded layer; that is
how the study's models must be written in PyTorch to match Keras, so it is kept.
  infer: forward under torch.no_grad() with batchnorm on running statistics.
  train: training-mode forward (dropout and drop-connect drawing masks, as ours do), the stage-1 loss of the study, zero_grad, backward, Adam step
         (torch.optim.Adam, eps 1e-7 as Keras) over every parameter.
--device cuda (bench/gpu.sh): parameters, batch and optimizer state on the GPU, cuDNN with
torch.backends.cudnn.benchmark (it picks the fastest algorithm per layer shape during the warm-up
steps); the clock starts and stops after torch.cuda.synchronize().
--tf32 0|1: TF32 tensor-core math off (float32 as ours by default) or on, for cuDNN's
convolutions and cuBLAS's matrix products (torch.backends.cudnn.conv.fp32_precision and
torch.backends.cuda.matmul.fp32_precision from PyTorch 2.9, the allow_tf32 flags before); without
it PyTorch's defaults hold: on for convolutions, off for matrix products (PyTorch's CUDA notes,
"TensorFloat-32 (TF32) on Ampere (and later) devices").
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
    args = sys.argv[1:]
    device = "cpu"
    if "--device" in args:
        i = args.index("--device")
        if i + 1 >= len(args) or args[i + 1] not in ("cpu", "cuda"):
            sys.exit("torchbench: --device needs cpu or cuda")
        device = args[i + 1]
        del args[i:i + 2]
    tf32 = None
    if "--tf32" in args:
        i = args.index("--tf32")
        if i + 1 >= len(args) or args[i + 1] not in ("0", "1"):
            sys.exit("torchbench: --tf32 needs 0 or 1")
        tf32 = args[i + 1] == "1"
        del args[i:i + 2]
        conv = getattr(torch.backends.cudnn, "conv", None)
        if conv is not None and hasattr(conv, "fp32_precision"):
            # PyTorch 2.9 and later: the per-backend precision settings, which replace the
            # allow_tf32 flags (deprecated there, and not to be mixed with the new ones)
            conv.fp32_precision = "tf32" if tf32 else "ieee"
            torch.backends.cuda.matmul.fp32_precision = "tf32" if tf32 else "ieee"
        else:
            torch.backends.cudnn.allow_tf32 = tf32
            torch.backends.cuda.matmul.allow_tf32 = tf32
    if device == "cuda":
        if not torch.cuda.is_available():
            sys.exit("torchbench: no usable CUDA device (torch.cuda.is_available() is false)")
        torch.backends.cudnn.benchmark = True
    arch, size, batch, mode, steps, warmup, threads = args[0:7]
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
    if device == "cuda":
        for n, t in P.t.items():
            P.t[n] = t.detach().to(device).requires_grad_(t.requires_grad)
        x, y = x.to(device), y.to(device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    params = [t for n, t in P.t.items() if not P.specs[n][4]]
    lr = {"meso4": 1e-3, "mesoinception4": 1e-3}.get(arch, 1e-4)
    opt = torch.optim.Adam(params, lr=lr, eps=1e-7) if train else None
    sink = 0.0
    t0 = time.perf_counter()
    for s in range(warmup + steps):
        if s == warmup:
            sync()
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
    sync()
    secs = time.perf_counter() - t0
    if sink != sink:
        sys.exit(f"torchbench: {arch}: non-finite loss or output")
    print(f"{arch} {size} {batch} {mode} {steps} {secs:.6f} {batch * steps / secs:.3f}")


if __name__ == "__main__":
    main()
