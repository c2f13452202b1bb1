#!/usr/bin/env python3
"""svg_text_overlap.py FILE.svg...: exit 1 and name the pairs when two texts of a gnuplot SVG
overlap, or when a text runs past the picture's edge.

gnuplot's svg terminal writes every text as <g transform="translate(x,y) [rotate(a)]"
font-size=".." text-anchor=".."><text>..</text></g>, one element per line, with (x, y) on the
baseline. The text's extent is estimated from per-character advance widths close to those of
DejaVu Sans and Arial (the fonts pngcairo and SVG viewers fall back to), as fractions of the
font size; a box from 0.75 em above the baseline to 0.2 em below it; turned by the rotation.
Two boxes overlap when no axis of either separates them (separating axis test), with a
tolerance of half a pixel so texts that only touch pass."""
import math
import re
import sys

NARROW = set("iIjlt.,:;'|!()[]{}")
WIDE = set("mwMW@%")
def advance(ch):
    if ch == " ":
        return 0.32
    if ch in NARROW:
        return 0.30
    if ch in "frt":
        return 0.40
    if ch in WIDE:
        return 0.92
    if ch.isupper():
        return 0.70
    if ch.isdigit():
        return 0.64
    if ch in "<>=+":
        return 0.84
    return 0.60

def boxes(path):
    svg = open(path, encoding="utf-8").read()
    m = re.search(r"<svg[^>]*width=\"(\d+)\"[^>]*height=\"(\d+)\"", svg)
    size = (float(m.group(1)), float(m.group(2))) if m else None
    out = []
    for g in re.finditer(r"<g transform=\"translate\(([-\d.]+),([-\d.]+)\)(?:\s*rotate\(([-\d.]+)\))?\"([^>]*)>\s*"
                         r"<text>(.*?)</text>", svg, re.S):
        x, y = float(g.group(1)), float(g.group(2))
        rot = float(g.group(3) or 0)
        attrs = g.group(4)
        fs = float(re.search(r"font-size=\"([\d.]+)\"", attrs).group(1))
        anchor = (re.search(r"text-anchor=\"(\w+)\"", attrs) or [None, "start"])[1]
        text = re.sub(r"<[^>]+>", "", g.group(5))
        text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()
        if not text:
            continue
        w = fs * sum(advance(c) for c in text)
        u0 = {"start": 0, "middle": -w / 2, "end": -w}[anchor]
        a = math.radians(rot)
        corners = []
        for u, v in ((u0, -0.75 * fs), (u0 + w, -0.75 * fs), (u0 + w, 0.2 * fs), (u0, 0.2 * fs)):
            corners.append((x + u * math.cos(a) - v * math.sin(a), y + u * math.sin(a) + v * math.cos(a)))
        out.append((text, corners))
    return size, out

def separated(p, q, tol=0.5):
    for poly in (p, q):
        for i in range(4):
            (x0, y0), (x1, y1) = poly[i], poly[(i + 1) % 4]
            nx, ny = y0 - y1, x1 - x0
            n = math.hypot(nx, ny)
            nx, ny = nx / n, ny / n
            a = [px * nx + py * ny for px, py in p]
            b = [px * nx + py * ny for px, py in q]
            if max(a) <= min(b) + tol or max(b) <= min(a) + tol:
                return True
    return False

def main(paths):
    bad = 0
    for path in paths:
        size, texts = boxes(path)
        if not texts:
            print(f"{path}: no texts found (not a gnuplot SVG?)")
            bad += 1
            continue
        for i in range(len(texts)):
            for j in range(i + 1, len(texts)):
                if not separated(texts[i][1], texts[j][1]):
                    print(f"{path}: '{texts[i][0]}' overlaps '{texts[j][0]}'")
                    bad += 1
            if size:
                xs = [c[0] for c in texts[i][1]]
                ys = [c[1] for c in texts[i][1]]
                if min(xs) < -0.5 or min(ys) < -0.5 or max(xs) > size[0] + 0.5 or max(ys) > size[1] + 0.5:
                    print(f"{path}: '{texts[i][0]}' runs past the edge of the {size[0]:.0f}x{size[1]:.0f} picture")
                    bad += 1
    return 1 if bad else 0

if __name__ == "__main__":
    if len(sys.argv) < 2:
        print("usage: svg_text_overlap.py FILE.svg...", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
