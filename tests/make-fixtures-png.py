#!/usr/bin/python3
"""Write the PNG fixtures of tests/10-pack.bats: tiny images in every PNG colour type and bit
depth, each with the tensor stream pack must make of it (8-bit RGB, alpha dropped, 16-bit reduced
to its high byte as libpng's png_set_strip_16 does).

The PNG encoder here is written from the PNG specification with zlib only, so the fixtures do not
depend on the library under test. Run once with Debian's Python (numpy for tests/dfs_stream.py):
    /usr/bin/python3 tests/make-fixtures-png.py
Outputs: tests/fixtures/png/NAME.png and NAME.dft (label real, key=NAME, dataset=fixture), and
checkpoint.dft: non-image records without key= (as a checkpoint has), for pack --list/--unpack.
"""
import os
import struct
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dfs_stream  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "png")
W, H = 5, 3   # not square, so a transposition shows


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pack_row(values, depth):
    """values: flat list of samples of one row -> bytes at the given bit depth."""
    if depth == 16:
        return b"".join(struct.pack(">H", v) for v in values)
    if depth == 8:
        return bytes(values)
    per = 8 // depth
    out = bytearray()
    for i in range(0, len(values), per):
        byte = 0
        group = values[i:i + per]
        for j, v in enumerate(group):
            byte |= v << (8 - depth * (j + 1))
        out.append(byte)
    return bytes(out)


def filtered(rows, depth, channels):
    """Rows with a filter byte each; alternate None/Sub/Up so the decoder's unfiltering is used."""
    bpp = max(1, depth * channels // 8)
    out = bytearray()
    prev = None
    for y, row in enumerate(rows):
        kind = y % 3 if prev is not None else y % 2
        if kind == 1:
            f = bytes((row[i] - (row[i - bpp] if i >= bpp else 0)) & 255 for i in range(len(row)))
        elif kind == 2:
            f = bytes((row[i] - prev[i]) & 255 for i in range(len(row)))
        else:
            f = row
        out.append(kind)
        out += f
        prev = row
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png(samples, color_type, depth, palette=None, trns=None, interlace=False):
    """samples: (H, W, C) integer array of raw sample values."""
    h, w, c = samples.shape
    if interlace:
        raw = bytearray()
        for x0, y0, dx, dy in ADAM7:
            sub = samples[y0::dy, x0::dx]
            if sub.size == 0:
                continue
            raw += filtered([pack_row(list(map(int, r.reshape(-1))), depth) for r in sub], depth, c)
    else:
        raw = filtered([pack_row(list(map(int, r.reshape(-1))), depth) for r in samples], depth, c)
    out = b"\x89PNG\r\n\x1a\n"
    out += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0))
    if palette is not None:
        out += chunk(b"PLTE", bytes(np.asarray(palette, np.uint8).reshape(-1)))
    if trns is not None:
        out += chunk(b"tRNS", trns)
    out += chunk(b"IDAT", zlib.compress(bytes(raw), 9))
    out += chunk(b"IEND", b"")
    return out


def ramp(c, maxv, salt):
    y, x, k = np.meshgrid(np.arange(H), np.arange(W), np.arange(c), indexing="ij")
    return ((x * 37 + y * 91 + k * 53 + salt * 17) * 2654435761 % (maxv + 1)).astype(np.int64)


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = {}
    rgb8 = ramp(3, 255, 1)
    cases["rgb8"] = (png(rgb8, 2, 8), rgb8)
    cases["rgb8-interlaced"] = (png(rgb8, 2, 8, interlace=True), rgb8)
    rgb16 = ramp(3, 65535, 2)
    cases["rgb16"] = (png(rgb16, 2, 16), rgb16 >> 8)
    g8 = ramp(1, 255, 3)
    cases["gray8"] = (png(g8, 0, 8), np.repeat(g8, 3, axis=2))
    g16 = ramp(1, 65535, 4)
    cases["gray16"] = (png(g16, 0, 16), np.repeat(g16 >> 8, 3, axis=2))
    g1 = ramp(1, 1, 5)
    cases["gray1"] = (png(g1, 0, 1), np.repeat(g1 * 255, 3, axis=2))
    g4 = ramp(1, 15, 6)
    cases["gray4"] = (png(g4, 0, 4), np.repeat(g4 * 17, 3, axis=2))
    ga = ramp(2, 255, 7)
    cases["graya8"] = (png(ga, 4, 8), np.repeat(ga[:, :, :1], 3, axis=2))
    rgba = ramp(4, 255, 8)
    cases["rgba8"] = (png(rgba, 6, 8), rgba[:, :, :3])
    rgba16 = ramp(4, 65535, 9)
    cases["rgba16"] = (png(rgba16, 6, 16), rgba16[:, :, :3] >> 8)
    pal = (np.arange(48).reshape(16, 3) * 2654435761 % 256).astype(np.int64)
    idx = ramp(1, 15, 11)
    cases["palette8"] = (png(idx, 3, 8, palette=pal), pal[idx[:, :, 0]])
    cases["palette4"] = (png(idx, 3, 4, palette=pal), pal[idx[:, :, 0]])
    cases["palette-trns"] = (png(idx, 3, 8, palette=pal, trns=bytes([0, 128, 255] * 5)), pal[idx[:, :, 0]])
    for name, (data, want) in cases.items():
        with open(os.path.join(OUT, name + ".png"), "wb") as f:
            f.write(data)
        dfs_stream.write(os.path.join(OUT, name + ".dft"),
                         [(want.astype(np.uint8), 0, {"key": name, "dataset": "fixture"})])
    # 4x4 of 2x2 blocks: --size 2 (area averaging) gives the block means, all integers
    blocks = np.zeros((4, 4, 3), np.int64)
    base = [[(10, 20, 30), (40, 50, 60)], [(70, 80, 90), (100, 110, 120)]]
    for by in range(2):
        for bx in range(2):
            for dy in range(2):
                for dx in range(2):
                    d = (dy * 2 + dx) * 2 - 3   # -3, -1, 1, 3: sums to 0 over the block
                    blocks[2 * by + dy, 2 * bx + dx] = np.array(base[by][bx]) + d
    with open(os.path.join(OUT, "blocks.png"), "wb") as f:
        f.write(png(blocks, 2, 8))
    dfs_stream.write(os.path.join(OUT, "blocks-size2.dft"),
                     [(np.array(base, np.uint8), 0, {"key": "blocks", "dataset": "fixture"})])

    # records named by name= instead of key=, and one with neither (pack --list shows "-")
    dfs_stream.write(os.path.join(OUT, "checkpoint.dft"), [
        (np.frombuffer(b"arch=tiny\n", np.uint8), -1, {"name": "arch"}),
        (np.arange(4 * 3 * 3 * 3, dtype=np.float32).reshape(4, 3, 3, 3) / 100, -1, {"name": "conv1.weight"}),
        (np.array(0.5, np.float32), -1, {}),
        (np.arange(6, dtype=np.int32).reshape(2, 3), 1, {"key": "x/y/z", "dataset": "fixture"}),
    ])


if __name__ == "__main__":
    main()
