#!/usr/bin/python3
"""Training trajectories of the study's three stages, restated in PyTorch, for the C trainer.

Run with Debian's interpreter (it has python3-torch):  /usr/bin/python3 tests/make-fixtures-trajectory.py
Writes tests/fixtures/trajectory-<arch>.dft and tests/fixtures/trajectory-<arch>-{train,mix}.dft, read by
tests/unit/test_trajectory.c, which runs lib/study/trainer.c (nn_train_run) on the same data.

The networks are tests/make-fixtures-models.py's (written from docs/study-facts.md, not from the
C builders), with the same hash-rule initial weights. The training loop is restated here from
Keras 2 / TF 1.x, which the study ran:
- Adam as Keras's get_updates (tensorflow/tensorflow tensorflow/python/keras/optimizer_v1.py,
  class Adam; keras-team/keras keras/optimizers.py 2.x is the same): t advances once per batch,
  lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t), m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
  p -= lr_t m / (sqrt(v) + eps), eps = K.epsilon() = 1e-7 outside the square root; beta1, beta2,
  eps and lr are float32 constants as Keras's variables;
- the loss: MSE on the sigmoid (meso4) or Keras's binary cross-entropy of the softmax with the
  probabilities clipped to [1e-7, 1 - 1e-7] (tensorflow/python/keras/backend.py
  binary_crossentropy), averaged over both columns and the batch;
- L2: none of these two architectures has a regulariser (only ShallowNet does);
- stage 2 (transfer): only the head's layers train; every other batchnorm is frozen: it normalises
  a training batch with that batch's statistics and never updates its moving statistics (Keras 2 /
  TF 1.x with layer.trainable = False; formats/train.md);
- stages 2 and 3 alternate batches of the training set (even steps) and the mix set (odd steps);
  stage 1 takes the training set every step. Each set is one batch (N = batch), so the order the
  C trainer shuffles it into only changes float summation order.
Dropout and drop-connect are off on both sides (the C test sets nn_train_opts.no_dropout).

Float32 noise: each trajectory runs in float64 (the reference) and DRAWS + 1 times in float32: once
on the inputs as given, then on inputs with every value moved by -1, 0 or +1 ulp at random (seeded), a
perturbation at the level of float32 rounding that changes every later rounding decision the way a
different summation order does. A tensor's noise is the largest |float32 - float64| over its
elements and over the draws, pooled over its node: the weight and bias of one layer (or the gamma
and beta of one batchnorm) share the larger of their two, and so do a batchnorm's two statistics.
Adam divides by sqrt(v), so a gradient near zero turns rounding into moves of order lr; one run
of a tensor of a few elements often shows little of that, its layer's weights and the other runs
do (test_trajectory.c has the measurements behind this).

Records of trajectory-<arch>.dft: record 0 (arch, size, batch, steps, lr, loss, draws); "spec.<tensor>"
as tests/make-fixtures-models.py, in the networks' order of use; for stage s in 1..3, over the
tensors in that order: "s<s>.count" (i64, compared elements per tensor: all up to SAMPLE_ABOVE,
else SAMPLES random ones), "s<s>.idx" (i32, their indices, tensor after tensor), "s<s>.ref" (f64,
the float64 trajectory's values there after the last step), "s<s>.noise" (f64, per tensor, the
pooled noise above).
"""
import importlib.util
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("fixmodels", os.path.join(HERE, "make-fixtures-models.py"))
M = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(M)
import dfs_stream  # noqa: E402  (make-fixtures-models.py put tests/ on the path)

STEPS = 20
SAMPLE_ABOVE = 16
SAMPLES = 16
DRAWS = 2   # perturbed float32 trajectories besides the plain one
# arch: loss, lr, head (lib/nn/models.c's nn_model_info.head), size, batch
ARCHS = {"meso4": ("mse", 1e-3, ("head.dense1", "head.logits"), 32, 4),
         "efficientnet-b0": ("bce_softmax2", 1e-4, ("top.conv", "top.bn", "head.logits"), 32, 8)}
ONLY = os.environ.get("ARCH")   # one architecture only
F32 = lambda v: float(np.float32(v))  # noqa: E731


class FrozenNet(M.Net):
    """A batchnorm named in `frozen` uses the batch's statistics and updates nothing."""

    def __init__(self, P, frozen):
        super().__init__(P, True)
        self.frozen = frozen

    def bn(self, name, x):
        if name not in self.frozen:
            return super().bn(name, x)
        g, b, _, _ = self.P.bn(name, x.shape[1])
        return F.batch_norm(x, None, None, g, b, training=True, eps=M.EPS)


def loss_fn(kind, z, y):
    if kind == "mse":
        return ((torch.sigmoid(z[:, 0]) - y) ** 2).mean()
    p = torch.clamp(torch.softmax(z, 1), 1e-7, 1 - 1e-7)
    Y = torch.stack([1 - y, y], 1)
    return (-(Y * torch.log(p) + (1 - Y) * torch.log(1 - p))).mean()


def fresh_params(arch, dtype):
    SIZE, N = ARCHS[arch][3:]
    P = M.Params()
    with torch.no_grad():   # creates every tensor in use order; eval mode updates nothing
        M.ARCHS[arch](M.Net(P, False), torch.zeros((N, 3, SIZE, SIZE), dtype=torch.float64))
    for name, t in P.t.items():
        P.t[name] = t.detach().to(dtype).clone().requires_grad_(not P.specs[name][4])
    return P


def trajectory(arch, stage, dtype, xs, ys):
    kind, lr, head, SIZE, N = ARCHS[arch]
    P = fresh_params(arch, dtype)
    node = lambda name: name.rsplit(".", 1)[0]  # noqa: E731
    bns = {node(n) for n, s in P.specs.items() if s[4]}
    frozen = {b for b in bns if b not in head} if stage == 2 else set()
    train = [n for n, s in P.specs.items() if not s[4] and (stage != 2 or node(n) in head)]
    b1, b2, eps, lrf = F32(0.9), F32(0.999), F32(1e-7), F32(lr)
    m = {n: torch.zeros_like(P.t[n]) for n in train}
    v = {n: torch.zeros_like(P.t[n]) for n in train}
    for step in range(STEPS):
        k = 0 if stage == 1 else step % 2
        x = torch.tensor(xs[k], dtype=dtype)
        y = torch.tensor(ys[k], dtype=dtype)
        for n in train:
            P.t[n].grad = None
        loss = loss_fn(kind, M.ARCHS[arch](FrozenNet(P, frozen), x), y)
        loss.backward()
        t = step + 1
        lr_t = lrf * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        with torch.no_grad():
            for n in train:
                g = P.t[n].grad
                m[n] = b1 * m[n] + (1 - b1) * g
                v[n] = b2 * v[n] + (1 - b2) * g * g
                P.t[n] -= lr_t * m[n] / (torch.sqrt(v[n]) + eps)
    return P


def perturbed(x, seed):
    """x (float32 values held in float64) with each element moved by -1, 0 or +1 ulp of float32."""
    r = np.random.default_rng(seed)
    x32 = x.astype(np.float32)
    s = r.integers(-1, 2, size=x.shape)
    up, down = np.nextafter(x32, np.float32(np.inf)), np.nextafter(x32, np.float32(-np.inf))
    return np.where(s > 0, up, np.where(s < 0, down, x32)).astype(np.float64)


def dataset(rng, name, SIZE, N):
    imgs = rng.integers(0, 256, size=(N, SIZE, SIZE, 3), dtype=np.uint8)
    labels = [i & 1 for i in range(N)]
    imgs[1::2] = np.minimum(imgs[1::2].astype(np.int32) + 60, 255).astype(np.uint8)   # fakes brighter
    recs = [(imgs[i], labels[i], {"key": f"{name}/v{i}/f{i}", "dataset": name}) for i in range(N)]
    dfs_stream.write(os.path.join(HERE, "fixtures", f"trajectory-{name}.dft"), recs)
    # as lib/nn/batch.c: u8 * (1/255) in float32, HWC to CHW
    x = (imgs.astype(np.float32) * np.float32(1.0 / 255.0)).transpose(0, 3, 1, 2)
    return x.astype(np.float64), np.array(labels, dtype=np.float64)


def main():
    torch.set_grad_enabled(True)
    for arch, (kind, lr, _, SIZE, N) in ARCHS.items():
        if ONLY and arch != ONLY:
            continue
        rng = np.random.default_rng(19)
        xt, yt = dataset(rng, f"{arch}-train", SIZE, N)
        xm, ym = dataset(rng, f"{arch}-mix", SIZE, N)
        P0 = fresh_params(arch, torch.float64)
        recs = [(np.zeros(0, dtype=np.uint8), -1,
                 {"key": f"fixture/trajectory/{arch}", "arch": arch, "size": str(SIZE), "batch": str(N),
                  "steps": str(STEPS), "lr": repr(lr), "loss": kind, "draws": str(DRAWS + 1),
                  "torch": torch.__version__})]
        for name, (shape, seed, scale, offset, is_stat) in P0.specs.items():
            recs.append((np.array([seed, scale, offset], dtype=np.float64), -1,
                         {"name": f"spec.{name}", "shape": M.shape_str(shape), "stat": str(int(is_stat))}))
        node = lambda name: name.rsplit(".", 1)[0]  # noqa: E731
        worst = 0.0
        worst_at = ""
        for stage in (1, 2, 3):
            r64 = trajectory(arch, stage, torch.float64, (xt, xm), (yt, ym))
            a = {n: r64.t[n].detach().numpy().ravel() for n in P0.specs}
            spread = {n: 0.0 for n in P0.specs}
            for d in range(DRAWS + 1):
                xs = (xt, xm) if d == 0 else (perturbed(xt, 100 * stage + 2 * d), perturbed(xm, 100 * stage + 2 * d + 1))
                r32 = trajectory(arch, stage, torch.float32, xs, (yt, ym))
                for n in P0.specs:
                    b = r32.t[n].detach().numpy().astype(np.float64).ravel()
                    spread[n] = max(spread[n], float(np.abs(a[n] - b).max()))
            pool = {}
            for n, sp in P0.specs.items():
                pool[(node(n), sp[4])] = max(pool.get((node(n), sp[4]), 0.0), spread[n])
            counts, idxs, refs, noise = [], [], [], []
            for n, sp in P0.specs.items():
                size = a[n].size
                idx = (np.arange(size) if size <= SAMPLE_ABOVE
                       else np.sort(rng.choice(size, SAMPLES, replace=False)))
                moved = np.abs(a[n] - P0.t[n].detach().numpy().ravel()).max()
                ratio = spread[n] / (moved + 1e-30)
                if ratio > worst:
                    worst, worst_at = ratio, f"s{stage}.{n}"
                counts.append(idx.size)
                idxs.append(idx)
                refs.append(a[n][idx])
                noise.append(pool[(node(n), sp[4])])
            recs.append((np.array(counts, dtype=np.int64), -1, {"name": f"s{stage}.count"}))
            recs.append((np.concatenate(idxs).astype(np.int32), -1, {"name": f"s{stage}.idx"}))
            recs.append((np.concatenate(refs), -1, {"name": f"s{stage}.ref"}))
            recs.append((np.array(noise), -1, {"name": f"s{stage}.noise"}))
        path = os.path.join(HERE, "fixtures", f"trajectory-{arch}.dft")
        dfs_stream.write(path, recs)
        print(f"{path}: {len(P0.specs)} tensors, {os.path.getsize(path)} bytes; "
              f"largest float32 spread / largest move {worst:.3g} ({worst_at})")


if __name__ == "__main__":
    main()
