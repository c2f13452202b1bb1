/* scoretsv.h: score TSV files (what `predict` writes, formats/score-tsv.md) and their grouping
 * into units, frame or video, for the metrics.
 *
 * A file is a header line `key\tdataset\tlabel\tp_fake`, then one record per line. Reading
 * validates everything and fails on the first problem with "FILE: line N: problem": wrong header,
 * wrong number of fields, empty key or dataset, label not 0/1, p_fake not a number in [0,1]
 * (NaN included), a duplicate key, an empty file or one with no records. */
#ifndef DFS_SCORETSV_H
#define DFS_SCORETSV_H

#include <stddef.h>
#include <stdint.h>

#define DFS_SCORE_HEADER "key\tdataset\tlabel\tp_fake"

typedef struct dfs_score_rec {
    char *key;
    char *dataset;
    uint8_t label;   /* 0 real, 1 fake */
    double p;        /* P(fake) */
    long line;       /* 1-based line in the file */
} dfs_score_rec;

typedef struct dfs_score_file {
    char *path;      /* as given; "-" is stdin */
    dfs_score_rec *rec;
    size_t n;
} dfs_score_file;

/* Read a whole score TSV ("-" = stdin). 0, or -1 with dfs_error() naming file and line. */
int dfs_score_read(const char *path, dfs_score_file *f);
void dfs_score_free(dfs_score_file *f);

/* The name of a score file for tables: its base name without the last extension
 * ("runs/x/MesoNet1/FS.tsv" -> "FS"; "-" -> "stdin"). Newly allocated. */
char *dfs_score_stem(const char *path);

/* Samples ready for the metrics: one per record (frame level) or one per video with the mean
 * P(fake) of its frames (video level). first_line is the line of the unit's first record. */
typedef struct dfs_score_units {
    size_t n;
    double *p;
    uint8_t *y;
    long *first_line;
} dfs_score_units;

/* Frame level: every record is a unit. Cannot fail. */
void dfs_score_frames(const dfs_score_file *f, dfs_score_units *u);
/* Video level: records grouped by video id (dfs_video_len, dataset.h), in the order videos first appear. Fails ("FILE:
 * line N: ...") on a key without a video part, on a video whose records disagree on the label,
 * and on one whose records come from different datasets (keys that dropped the dataset). */
int dfs_score_videos(const dfs_score_file *f, dfs_score_units *u);
void dfs_score_units_free(dfs_score_units *u);

#endif
