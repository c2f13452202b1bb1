#!/usr/bin/python3
"""Write tests/fuzz/seeds/fuzz_shape/tiny.dat: a dlib shape_predictor in dlib's serialization
(the layout lib/face/shape.c reads), small enough to fuzz: 3 landmarks, 2 cascade levels of 2
depth-2 trees, 4 pixel features per level. The real model is 99 MB; the fuzzer needs bytes it
can mutate in microseconds. Run: /usr/bin/python3 tests/fuzz/make-seed-shape.py"""
import math
import os


def integer(v):
    neg = v < 0
    v = abs(v)
    b = []
    while True:
        b.append(v & 0xFF)
        v >>= 8
        if v == 0:
            break
    return bytes([len(b) | (0x80 if neg else 0)] + b)


def real(x):
    m, e = math.frexp(x)
    return integer(int(m * (1 << 24))) + integer(e - 24)


def column(values):
    return integer(-len(values)) + integer(-1) + b"".join(real(v) for v in values)


def main():
    points = 3
    dim = 2 * points
    out = integer(1)
    out += column([0.2, 0.3, 0.8, 0.3, 0.5, 0.8])   # initial shape in the unit square
    levels, trees, splits, feats = 2, 2, 3, 4
    out += integer(levels)
    for lv in range(levels):
        out += integer(trees)
        for t in range(trees):
            out += integer(splits)
            for s in range(splits):
                out += integer((s + t) % feats) + integer((s + t + 1 + lv) % feats) + real(4.0 * (s - 1))
            out += integer(splits + 1)
            for k in range(splits + 1):
                out += column([0.01 * ((k + d + t) % 5 - 2) for d in range(dim)])
    out += integer(levels)
    for lv in range(levels):
        out += integer(feats) + b"".join(integer((k + lv) % points) for k in range(feats))
    out += integer(levels)
    for lv in range(levels):
        out += integer(feats) + b"".join(real(0.05 * (k - 1.5)) + real(-0.03 * k) for k in range(feats))
    path = os.path.join(os.path.dirname(__file__), "seeds", "fuzz_shape", "tiny.dat")
    with open(path, "wb") as f:
        f.write(out)


main()
