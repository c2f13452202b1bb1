#!/usr/bin/python3
"""Reference boxes and landmarks for crop's tests, from OpenCV and dlib themselves.

Run from the repository root after `make` (frame-extract must be built):
    /usr/bin/python3 tests/make-fixtures-face.py
Needs Debian's python3-opencv, opencv-data, opencv-doc, libdlib-dev and libdlib-data.

The frames are the ones our own frame-extract decodes (10 evenly spaced frames of Megamind.avi
and the photo messi5.jpg), so both sides see the same pixels. Gray = cv2.cvtColor(RGB2GRAY).
  tests/fixtures/face/opencv-boxes.tsv   key, x, y, w, h for every face OpenCV's
      CascadeClassifier(haarcascade_frontalface_default.xml).detectMultiScale(gray,
      scaleFactor=1.1, minNeighbors=3, minSize=(40, 40)) returns ("-" x y w h = none found)
  tests/fixtures/face/dlib-landmarks.tsv key, x, y, w, h (OpenCV's largest box), then the 68
      points x0 y0 ... x67 y67 that dlib's shape_predictor (shape_predictor_68_face_landmarks.dat)
      gives for that box on the gray image (tests/dlib_ref.cpp; dlib rounds them to integers)
"""
import os
import subprocess
import sys
import tempfile

import cv2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dfs_stream  # noqa: E402

MEDIA = "/usr/share/doc/opencv-doc/examples/data"
CASCADE = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"
MODEL = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"
OUT = "tests/fixtures/face"


def main():
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        frames = os.path.join(tmp, "frames.dft")
        with open(frames, "wb") as f:
            subprocess.run(["bin/frame-extract", "-n", "10", "--dataset", "ref",
                            f"{MEDIA}/Megamind.avi", f"{MEDIA}/messi5.jpg"], stdout=f, check=True)
        ref = os.path.join(tmp, "dlib_ref")
        cflags = subprocess.run(["pkg-config", "--cflags", "--libs", "dlib-1"], capture_output=True,
                                text=True).stdout.split() or ["-ldlib"]
        subprocess.run(["g++", "-O2", "-std=c++14", "tests/dlib_ref.cpp", "-o", ref] + cflags, check=True)
        cc = cv2.CascadeClassifier(CASCADE)
        box_lines, cases, keys = [], [], []
        for i, (img, _label, meta) in enumerate(dfs_stream.read(frames)):
            key = meta["key"]
            gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
            found = cc.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=3, minSize=(40, 40))
            if len(found) == 0:
                box_lines.append(f"{key}\t-\t-\t-\t-")
                continue
            found = sorted((tuple(int(v) for v in b) for b in found), key=lambda b: -b[2] * b[3])
            for b in found:
                box_lines.append(f"{key}\t" + "\t".join(map(str, b)))
            pgm = os.path.join(tmp, f"{i}.pgm")
            cv2.imwrite(pgm, gray)
            cases.append(f"{pgm} {' '.join(map(str, found[0]))}")
            keys.append((key, found[0]))
        out = subprocess.run([ref, MODEL], input="\n".join(cases) + "\n", capture_output=True,
                             text=True, check=True).stdout.splitlines()
        assert len(out) == len(keys)
        with open(f"{OUT}/opencv-boxes.tsv", "w") as f:
            f.write("# key\tx\ty\tw\th   (tests/make-fixtures-face.py; OpenCV %s)\n" % cv2.__version__)
            f.write("\n".join(box_lines) + "\n")
        with open(f"{OUT}/dlib-landmarks.tsv", "w") as f:
            f.write("# key\tx\ty\tw\th\tx0 y0 ... x67 y67   (tests/make-fixtures-face.py; dlib)\n")
            for (key, b), pts in zip(keys, out):
                f.write(f"{key}\t" + "\t".join(map(str, b)) + "\t" + pts + "\n")
    print(f"wrote {OUT}/opencv-boxes.tsv and {OUT}/dlib-landmarks.tsv ({len(keys)} faces)")


if __name__ == "__main__":
    main()
