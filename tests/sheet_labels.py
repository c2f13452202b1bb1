#!/usr/bin/env python3
"""Measure the labels of a lib/media/montage contact sheet (cam --sheet, synth --sheet) as a reader sees
them: prints "width W glyph H labels N gap G", where W is the PNG's width, H the smallest height
of a row label (a run of pixel rows holding label text left of the tiles), N the number of
column-group labels in the header (text clusters set apart by more than two font pixels) and G
the narrowest blank run between two of them on one header line (-1 with fewer than two on every
line). Labels are montage's gray 235 on its background 24; anything else is a tile.
Only the standard library: 8-bit RGB, non-interlaced PNGs (what dfs_png_write writes)."""
import struct
import sys
import zlib

TEXT, BG = (235, 235, 235), (24, 24, 24)


def read_png(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"{path}: not a PNG")
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype != 2 or interlace:
                sys.exit(f"{path}: only 8-bit RGB non-interlaced PNGs")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride, bpp = zlib.decompress(idat), w * 3, 3
    rows, prev = [], bytearray(stride)
    for y in range(h):
        ft, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ft == 1:
                line[i] = (line[i] + a) & 255
            elif ft == 2:
                line[i] = (line[i] + b) & 255
            elif ft == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ft == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[x * 3:x * 3 + 3]) for x in range(w)])
        prev = line
    return w, h, rows


def runs(flags):
    """(start, length) of each run of True"""
    out, start = [], None
    for i, f in enumerate(flags + [False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            out.append((start, i - start))
            start = None
    return out


def main():
    w, h, px = read_png(sys.argv[1])
    tile = lambda p: p != TEXT and p != BG
    x0 = next(x for x in range(w) if any(tile(px[y][x]) for y in range(h)))   # first tile column
    y0 = next(y for y in range(h) if any(tile(p) for p in px[y][x0:]))         # first tile row
    labels = runs([any(p == TEXT for p in px[y][:x0]) for y in range(y0, h)])
    glyph = min(n for _, n in labels) if labels else 0
    count, gap = 0, -1
    for top, n in runs([any(p == TEXT for p in px[y][x0:]) for y in range(y0)]):
        k = max(1, n // 7)   # font pixel: a header line is 7 of them tall
        ink = runs([any(px[y][x] == TEXT for y in range(top, top + n)) for x in range(x0, w)])
        clusters = [list(ink[0])] if ink else []
        for s, m in ink[1:]:
            if s - (clusters[-1][0] + clusters[-1][1]) > 2 * k:
                clusters.append([s, m])
            else:
                clusters[-1][1] = s + m - clusters[-1][0]
        count += len(clusters)
        for a, b in zip(clusters, clusters[1:]):
            g = b[0] - (a[0] + a[1])
            gap = g if gap < 0 else min(gap, g)
    print(f"width {w} glyph {glyph} labels {count} gap {gap}")


if __name__ == "__main__":
    main()
