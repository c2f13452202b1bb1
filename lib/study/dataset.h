/* dataset.h: turning files into labelled samples and sampling them for the study's protocol.
 *
 * Labels, sample keys (provenance such as `celeb/id3_id7_0004/f05`) and the video id derived from a
 * key, manifest TSV files (formats/manifest-tsv.md is the authority), a string index, seeded
 * take/balance/shuffle/split, and a PNG directory writer that appears whole or not at all.
 * pack is the tool on top of this; anything that must agree with pack on these rules uses it. */
#ifndef DFS_DATASET_H
#define DFS_DATASET_H

#include "core/common.h"
#include "core/stream.h"
#include "core/strmap.h"

/* ---- labels: "real" 0, "fake" 1, "unknown" -1 (also accepted: 0, 1, -1) ---- */
int dfs_label_parse(const char *s, int *label);   /* 0, or -1 with an error (no file prefix) */
const char *dfs_label_name(int label);             /* "real", "fake" or "unknown" */

/* ---- keys ----
 * A key is a relative, '/'-separated name: no empty, "." or ".." component, no leading or
 * trailing '/', valid UTF-8 without control characters (so it is a safe relative file name and a
 * safe TSV field). 0, or -1 with an error naming the key. */
int dfs_key_check(const char *key);
/* Key for a file: the path relative to root (when root is given, the path must lie under it),
 * "./" and "." components dropped, the extension of the last component removed, then
 * "prefix/" prepended when prefix is given. Absolute paths (without root) and ".." components
 * are refused, because they make keys that name no place in the dataset.
 * *key is malloc'd. 0, or -1 with an error (no file prefix). */
int dfs_key_from_path(const char *path, const char *root, const char *prefix, char **key);
/* The video a sample belongs to, the one rule for every tool: its key without the last '/'
 * component (`fs/000_003/f05` -> `fs/000_003`). A key without '/' names no video (frame
 * extraction, crop and synth always write VIDEO/FRAME): whatever needs the video (a split by
 * video, relabelling by video, video-level scores) refuses it rather than guess.
 * dfs_video_len: the length of that prefix, 0 when there is none (no '/', or a leading one). */
size_t dfs_video_len(const char *key);
/* That prefix, malloc'd; NULL with the error "key 'K' has no video part (expected VIDEO/FRAME,
 * e.g. fs/000_003/f05)". */
char *dfs_video_id(const char *key);

/* ---- manifests (formats/manifest-tsv.md) ---- */
typedef struct dfs_manifest_entry {
    char *path;      /* resolved: joined to the manifest's directory unless absolute */
    int label;
    char *key;       /* from the key column, or derived from the path column */
    char *dataset;   /* NULL when the column is absent or empty */
    long line;       /* 1-based line in the manifest */
} dfs_manifest_entry;

typedef struct dfs_manifest {
    char *name;      /* the manifest's path, for messages */
    dfs_manifest_entry *v;
    size_t n, cap;
} dfs_manifest;

/* Parse a manifest. prefix (may be NULL) is prepended to keys derived from paths, not to keys
 * given in a key column. Errors read "M.tsv: line N: problem". Duplicate keys are refused. */
int dfs_manifest_read(const char *path, const char *prefix, dfs_manifest *m);
void dfs_manifest_free(dfs_manifest *m);
/* The header line and one entry line, as pack --unpack writes them. */
int dfs_manifest_write_header(dfs_out *o);
int dfs_manifest_write_entry(dfs_out *o, const char *path, int label, const char *key, const char *dataset);

/* ---- relabelling stream records by video (pack --relabel, formats/video-manifest.md) ----
 * A TSV with a header line naming at least the columns `video` and `label` (optionally
 * `dataset`; other columns, such as `path`, are read past). Each record's video id (its key
 * without the last component) is looked up: its label becomes the line's label and, when the
 * column is there and not empty, its dataset= the line's dataset. A video listed twice, or a
 * record whose video is not listed, is an error: a frame must never keep a label by accident. */
typedef struct dfs_relabel {
    char *name;      /* the file, for messages */
    dfs_strmap index;   /* video id -> entry */
    int *labels;
    char **datasets; /* NULL entries: keep the record's dataset= */
    size_t n;
} dfs_relabel;
/* Errors read "M.tsv: line N: problem". */
int dfs_relabel_read(const char *path, dfs_relabel *rl);
/* Errors read "video 'V' is not in M.tsv", "record has no key" or "key 'K' has no video part
 * ...". */
int dfs_relabel_apply(const dfs_relabel *rl, dfs_record *r);
void dfs_relabel_free(dfs_relabel *rl);

/* ---- key lists: one record key per line (blank lines and '#' comments skipped) ----
 * Read into a set (values unused). Errors read "FILE: line N: problem" (a line that is not a
 * valid key) or "FILE: reason". pack --drop-keys uses it to leave records out by key. */
int dfs_keylist_read(const char *path, dfs_strmap *set);

/* ---- PNG -> record ---- */
/* Read a PNG as 8-bit RGB, resize to size x size when size > 0 (dfs_image_resize: area averaging
 * when shrinking, bilinear when enlarging), and make it an u8 (H, W, 3) record with label,
 * key= and dataset= set. Errors name the file. */
int dfs_png_to_record(const char *path, int size, int label, const char *key, const char *dataset,
                      dfs_record *r);
/* Resize an u8 (H, W, 3) image record in place to size x size (metadata and label kept). */
int dfs_record_resize(dfs_record *r, int size);

/* ---- sampling ----
 * Steps, in this order: shuffle (seeded permutation), balance (keep the first k real and first
 * k fake samples, k = min(#real, #fake), capped at take/2 when take is set), take (first N;
 * with balance it only caps k), split (two parts). Order within each output is the order after
 * these steps. A split assigns whole videos (or single samples with by_video = 0) to part A or
 * B, separately within each label, walking the videos in a seeded random order and putting a
 * video in A whenever that brings A's count closer to round(fraction * count of that label);
 * it never puts one video on both sides. Same items and options -> same output. */
typedef struct dfs_sample_opts {
    uint64_t seed;
    int shuffle;
    int balance;
    long long take;    /* < 0: no limit */
    double split;      /* fraction for part A, in [0, 1]; < 0: no split */
    int by_video;      /* split unit: 1 videos (from keys), 0 single samples */
} dfs_sample_opts;

typedef struct dfs_sample_item {
    const char *key;   /* may be NULL (then a split by video fails) */
    int label;
} dfs_sample_item;

/* *a (and *b when splitting; else NULL and 0) are malloc'd index lists into items. Every error
 * is about one sample: -1 with *bad its index into items and the problem as the error, which
 * the caller prefixes with where that sample came from. */
int dfs_sample(const dfs_sample_item *items, size_t n, const dfs_sample_opts *o, size_t **a,
               size_t *na, size_t **b, size_t *nb, size_t *bad);

/* ---- a directory of PNGs plus manifest.tsv (pack --unpack) ----
 * Written under "DIR.tmp.PID" and renamed to DIR by commit, so DIR appears whole or not at all.
 * DIR must not exist, or be an empty directory. */
typedef struct dfs_pngdir {
    dfs_outdir out;
    dfs_out manifest;
    dfs_strmap keys;
    uint64_t count;
} dfs_pngdir;
int dfs_pngdir_open(dfs_pngdir *d, const char *dir);
/* Write one u8 (H, W, 3) record as DIR/KEY.png and its manifest line. where names the record
 * in errors ("in.dft: record 3"). */
int dfs_pngdir_add(dfs_pngdir *d, const dfs_record *r, const char *where);
int dfs_pngdir_commit(dfs_pngdir *d);
void dfs_pngdir_abort(dfs_pngdir *d);   /* removes the temporary directory */

#endif
