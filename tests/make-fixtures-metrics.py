#!/usr/bin/python3
"""Reference values for lib/study/metrics.c, computed with scikit-learn (Debian's python3-sklearn).

Writes tests/fixtures/metrics/<case>.tsv (score TSVs, keys VIDEO/FRAME) and
tests/fixtures/metrics/expected.tsv with one line per case and level:
    case  level  n  acc  auc  ap  eer
acc: accuracy with p >= 0.5 as fake; auc: roc_auc_score; ap: average_precision_score;
eer: where FNR = FPR on roc_curve's points, interpolated linearly on the segment where
FNR - FPR changes sign. Video level: the mean of a video's frame scores, summed in file order.
Scores are written with %.9g and the metrics are computed on the values read back from that
text, so both sides see the same numbers. Run: /usr/bin/python3 tests/make-fixtures-metrics.py
"""
import os

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "metrics")


def eer(y, p):
    fpr, tpr, _ = roc_curve(y, p, drop_intermediate=False)
    d = (1.0 - tpr) - fpr
    k = int(np.nonzero(d <= 0)[0][0])
    if k == 0:
        return float(fpr[0])
    t = d[k - 1] / (d[k - 1] - d[k])
    return float(fpr[k - 1] + t * (fpr[k] - fpr[k - 1]))


def metrics(y, p):
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=np.float64)
    acc = float(np.mean((p >= 0.5).astype(int) == y))
    return len(y), acc, roc_auc_score(y, p), average_precision_score(y, p), eer(y, p)


def case(rng, name, videos, frames, pos_rate, score_fn):
    """videos of `frames` frames; a video's label is drawn once; score_fn(label, rng) per frame"""
    lines = ["key\tdataset\tlabel\tp_fake"]
    for v in range(videos):
        lab = int(rng.random() < pos_rate)
        method = "fs" if lab else "real"
        for f in range(frames):
            p = min(1.0, max(0.0, score_fn(lab, rng)))
            lines.append(f"{method}/v{v:03d}/f{f:02d}\t{name}\t{lab}\t{p:.9g}")
    with open(os.path.join(OUT, name + ".tsv"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    # read back exactly as the C side does
    keys, ys, ps = [], [], []
    for ln in lines[1:]:
        k, _, lab, p = ln.split("\t")
        keys.append(k)
        ys.append(int(lab))
        ps.append(float(p))
    rows = [(name, "frame") + metrics(ys, ps)]
    order, groups = [], {}
    for k, lab, p in zip(keys, ys, ps):
        vid = k.rsplit("/", 1)[0]
        if vid not in groups:
            order.append(vid)
            groups[vid] = [lab, 0.0, 0]
        groups[vid][1] += p
        groups[vid][2] += 1
    vy = [groups[v][0] for v in order]
    vp = [groups[v][1] / groups[v][2] for v in order]
    rows.append((name, "video") + metrics(vy, vp))
    return rows


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240611)
    rows = []
    # overlapping continuous scores
    rows += case(rng, "continuous", 40, 5, 0.5,
                 lambda y, r: r.beta(4, 2) if y else r.beta(2, 3))
    # heavy ties: scores on a 0.1 grid (0.5 included, so the threshold tie matters)
    rows += case(rng, "ties", 60, 5, 0.5,
                 lambda y, r: round(float(r.beta(3, 2) if y else r.beta(2, 3)), 1))
    # imbalanced (20% fake), ties on a 0.01 grid
    rows += case(rng, "imbalanced", 50, 10, 0.2,
                 lambda y, r: round(float(r.beta(3, 2) if y else r.beta(2, 2)), 2))
    # few scores, coarse grid, small n
    rows += case(rng, "small", 4, 3, 0.5,
                 lambda y, r: float(r.choice([0.2, 0.5, 0.5, 0.8])))
    # a strong detector with a few frames flipped to the other side
    rows += case(rng, "strong", 30, 4, 0.5,
                 lambda y, r: abs((0.9 if y else 0.1) + 0.2 * (r.random() - 0.5)
                                  - (1.0 if r.random() < 0.05 else 0.0)))
    with open(os.path.join(OUT, "expected.tsv"), "w") as fh:
        fh.write("case\tlevel\tn\tacc\tauc\tap\teer\n")
        for r in rows:
            fh.write("%s\t%s\t%d\t%.17g\t%.17g\t%.17g\t%.17g\n" % r)


if __name__ == "__main__":
    main()
