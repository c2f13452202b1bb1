#!/usr/bin/python3
"""Tiny score TSVs for the table tests (tests/40-score.bats), under tests/fixtures/scores/.

Each file holds 20 frames of 10 videos (2 frames each; video v is fake when v is odd) and has a
chosen number of correctly classified frames: frame i is right when i < correct. So the accuracy
is correct/20 (multiples of 5%) and every table value is easy to work out by hand; the bats tests
state them. Run: /usr/bin/python3 tests/make-fixtures-scores.py
"""
import os
import shutil

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "scores")

# detector -> {dataset: correct frames out of 20}; a dataset left out is a missing cell
PLAN = {
    "XceptionNet1": {"CELEB": 20, "FS": 11, "NT": 11, "DF": 11, "DFD": 11, "CELEB-M": 12},
    "MesoNet1": {"CELEB": 19, "FS": 10, "NT": 11, "DF": 12, "DFD": 13, "CELEB-M": 16},
    "MesoNet2": {"CELEB": 18, "FS": 12, "NT": 12, "DF": 11, "CELEB-M": 15},   # no DFD
    "MesoNet4": {"F2F": 19, "FS": 11, "NT": 10, "DF": 12, "DFD": 11, "FS-I": 13, "NT-I": 12},
    "ShallowNet6": {"F2F": 15, "FS": 14, "NT": 14, "DF": 12, "DFD": 12, "FS-I": 14, "NT-I": 14},
    "Mystery": {"CELEB": 10},   # a directory the study config does not know
}


def write(path, dataset, correct):
    role = dataset.lower()
    lines = ["key\tdataset\tlabel\tp_fake"]
    for i in range(20):
        label = (i // 2) % 2
        right = i < correct
        says_fake = (label == 1) == right
        p = 0.55 + 0.02 * (i % 10) if says_fake else 0.45 - 0.02 * (i % 10)
        lines.append(f"{role}/v{i // 2:02d}/f{i % 2}\t{role}\t{label}\t{p:.9g}")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    for det, cells in PLAN.items():
        os.makedirs(os.path.join(OUT, det))
        for ds, correct in cells.items():
            write(os.path.join(OUT, det, ds + ".tsv"), ds, correct)


if __name__ == "__main__":
    main()
