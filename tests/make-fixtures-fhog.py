#!/usr/bin/python3
"""dlib's HOG frontal face detector: its model for lib/face/fhog.c and reference detections.

Run from the repository root after `make` (frame-extract must be built):
    /usr/bin/python3 tests/make-fixtures-fhog.py
Needs Debian's libdlib-dev, g++, python3-numpy and opencv-doc (make fixture-deps, make deps).

Builds tests/dlib_fhog_ref.cpp against libdlib-dev, then writes
  lib/face/frontal_face_fhog.txt    the 5 detectors of get_frontal_face_detector() as their
      separable filter terms (formats/fhog-model.md); its SHA-256 must equal DFS_FHOG_SHA256 in
      lib/face/face.h, which this script checks (a different dlib gives a different file: update
      the digest only after checking the detections below still agree)
  tests/fixtures/face/dlib-hog.tsv  key, left, top, right, bottom, score, detector for every face
      dlib finds as face_recognition.face_locations(img, 1, "hog") does ("-" = none), on the
      frames our own frame-extract decodes: 10 evenly spaced frames of Megamind.avi, the photos
      messi5.jpg and facereg.jpg (four faces) and baboon.jpg (no human face)
"""
import hashlib
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dfs_stream  # noqa: E402

DOC = "/usr/share/doc/opencv-doc"
MEDIA = [f"{DOC}/examples/data/Megamind.avi", f"{DOC}/examples/data/messi5.jpg",
         f"{DOC}/opencv4/html/facereg.jpg", f"{DOC}/examples/data/baboon.jpg"]
MODEL = "lib/face/frontal_face_fhog.txt"
OUT = "tests/fixtures/face/dlib-hog.tsv"


def main():
    with tempfile.TemporaryDirectory() as tmp:
        ref = os.path.join(tmp, "dlib_fhog_ref")
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "dlib-1"], capture_output=True,
                               text=True).stdout.split() or ["-ldlib"]
        subprocess.run(["g++", "-O2", "-std=c++14", "tests/dlib_fhog_ref.cpp", "-o", ref] + flags, check=True)
        model = subprocess.run([ref, "weights"], capture_output=True, check=True).stdout
        with open(MODEL, "wb") as f:
            f.write(model)
        digest = hashlib.sha256(model).hexdigest()
        with open("lib/face/face.h") as f:
            want = re.search(r'#define DFS_FHOG_SHA256 "([0-9a-f]{64})"', f.read()).group(1)
        frames = os.path.join(tmp, "frames.dft")
        with open(frames, "wb") as f:
            subprocess.run(["bin/frame-extract", "-n", "10", "--dataset", "ref"] + MEDIA, stdout=f, check=True)
        paths, keys = [], {}
        for i, (img, _label, meta) in enumerate(dfs_stream.read(frames)):
            path = os.path.join(tmp, f"{i}.ppm")
            h, w, _ = img.shape
            with open(path, "wb") as f:
                f.write(b"P6\n%d %d\n255\n" % (w, h) + img.tobytes())
            paths.append(path)
            keys[path] = meta["key"]
        out = subprocess.run([ref, "detect"], input="\n".join(paths) + "\n", capture_output=True, text=True,
                             check=True).stdout.splitlines()
        rows, faces = [], 0
        for line in out:
            if line.startswith("#"):
                continue
            f = line.split()
            rows.append("\t".join([keys[f[0]]] + f[1:]))
            faces += f[1] != "-"
        with open(OUT, "w") as f:
            f.write("# key\tleft\ttop\tright\tbottom\tscore\tdetector   (tests/make-fixtures-fhog.py; dlib "
                    "get_frontal_face_detector, upsample 1)\n")
            f.write("\n".join(rows) + "\n")
    print(f"wrote {MODEL} (sha256 {digest}) and {OUT} ({len(paths)} frames, {faces} faces)")
    if digest != want:
        sys.exit(f"make-fixtures-fhog: {MODEL} differs from the one lib/face/face.h expects ({want}); "
                 "update DFS_FHOG_SHA256 once test_face agrees with the new detections")


if __name__ == "__main__":
    main()
