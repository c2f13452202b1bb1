/* scoretables.h: what the `score` tool prints. Per-file metric reports (frame and/or video level,
 * with bootstrap intervals) and the study's Tables 4-7 from a directory of score TSVs laid out as
 * <Detector>/<DATASET>.tsv. Which dataset is original, which are unseen and which are the
 * specialised ones comes from a study config (formats/score-tsv.md), built in as the paper's and
 * replaceable with a file.
 *
 * Cell conventions, everywhere: `-` = no data (a score file that does not exist, or a value that
 * depends on one), `nan` = data present but the metric undefined (e.g. AUC with one class),
 * `n/a` = the column does not apply to this detector. */
#ifndef DFS_SCORETABLES_H
#define DFS_SCORETABLES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/common.h"

enum { DFS_LEVEL_FRAME = 1, DFS_LEVEL_VIDEO = 2, DFS_LEVEL_BOTH = 3 };

/* ---- a text table printed as TSV or as Markdown ---- */
typedef struct dfs_ttable {
    size_t ncol, nrow, cap;   /* row 0 is the header */
    char **cell;              /* row-major, nrow * ncol */
    size_t filled;            /* cells added so far */
} dfs_ttable;
void dfs_tt_init(dfs_ttable *t, size_t ncol);
/* Append the next cell (rows fill left to right, header first). */
void dfs_tt_add(dfs_ttable *t, const char *fmt, ...) DFS_PRINTF(2, 3);
/* Print the table: TSV, or Markdown with '|' in cells escaped. 0 or -1 when a row is short. */
int dfs_tt_print(const dfs_ttable *t, FILE *out, int markdown);
void dfs_tt_free(dfs_ttable *t);

/* ---- metric reports: `score FILE.tsv...` ---- */
typedef struct dfs_report_opts {
    int levels;          /* DFS_LEVEL_* */
    size_t bootstrap;    /* resamples; 0 = no intervals */
    uint64_t seed;
    int markdown;
} dfs_report_opts;
/* One row per file and level: name level n acc auc ap eer [acc_lo acc_hi auc_lo auc_hi ap_lo
 * ap_hi eer_lo eer_hi]. The bootstrap generator of each row is derived from (seed, file stem,
 * level), so a row does not depend on the other files given. 0, or -1 with dfs_error(). */
int dfs_score_report(const char *const *paths, size_t n, const dfs_report_opts *o, FILE *out);

/* ---- the study config ---- */
typedef struct dfs_strlist {
    char **v;
    size_t n;
} dfs_strlist;

typedef struct dfs_special {   /* specialised datasets of detectors trained on `train` */
    char *train;
    dfs_strlist sets;
} dfs_special;

typedef struct dfs_detector {
    char *name, *arch, *train, *stage;   /* stage: original | transfer | merge */
    dfs_strlist finetune;                /* empty for original */
} dfs_detector;

typedef struct dfs_role {      /* a detector of every architecture: NAME<id> (1-6 in the study) */
    char *id, *train, *stage, *finetune;   /* finetune: as written ("none" or "CELEB,FS,NT") */
} dfs_role;

typedef struct dfs_arch {      /* an architecture of the study: train's name, the paper's name */
    char *arch, *name, *cam_class;         /* cam_class: real | fake (Grad-CAM's class in RQ3) */
} dfs_arch;

typedef struct dfs_study_config {
    dfs_strlist unseen;
    dfs_strlist testsets;                  /* every test set of a run (testsets line; may be empty) */
    dfs_special *same_method, *same_identity;
    size_t n_same_method, n_same_identity;
    dfs_role *roles;
    size_t n_roles;
    dfs_arch *archs;
    size_t n_archs;
    dfs_detector *det;                     /* architectures x roles, in that order, then detector lines */
    size_t n_det;
} dfs_study_config;

/* The built-in config: pipelines/study.conf, the study's protocol (Tables 4-7), built in as
 * config-file text. */
const char *dfs_study_config_default(void);
/* Parse config text; `name` is used in errors ("name: line N: ..."). */
int dfs_study_config_parse(const char *text, const char *name, dfs_study_config *c);
int dfs_study_config_read(const char *path, dfs_study_config *c);
void dfs_study_config_free(dfs_study_config *c);
/* One line per detector, in config order: detector NAME ARCH TRAIN STAGE FINETUNE (tab-separated,
 * FINETUNE "none" or comma-joined): the architecture lines' detectors written out. */
void dfs_study_config_print_detectors(const dfs_study_config *c, FILE *out);

/* ---- the tables: `score --table 4|5|6|7 --dir SCORES` ---- */
typedef struct dfs_table_opts {
    int level;               /* DFS_LEVEL_FRAME or DFS_LEVEL_VIDEO */
    int auc;                 /* add AUC beside every accuracy */
    int markdown;
    double min_degradation;  /* Tables 6 and 7 keep detectors degrading more than this (30) */
} dfs_table_opts;
/* Print table 4, 5, 6 or 7. Notes (detectors left out, no qualifying detector) go to `notes`
 * (NULL: none). 0, or -1 with dfs_error(). */
int dfs_study_table(int table, const char *dir, const dfs_study_config *c,
                    const dfs_table_opts *o, FILE *out, FILE *notes);

#endif
