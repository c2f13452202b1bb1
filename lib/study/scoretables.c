/* scoretables.c: metric reports and the study's Tables 4-7.
 *
 * Numbers in the tables are percentages with two decimals as the paper prints them (accuracy,
 * averages, degradations in percentage points); AUC is a fraction with four decimals. Averages and
 * differences are computed from unrounded values, then rounded once for printing. */
#include "study/scoretables.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/common.h"
#include "study/metrics.h"
#include "core/rng.h"
#include "study/scoretsv.h"

/* ---------------------------------------------------------------- text tables */

void dfs_tt_init(dfs_ttable *t, size_t ncol)
{
    memset(t, 0, sizeof *t);
    t->ncol = ncol;
}

void dfs_tt_add(dfs_ttable *t, const char *fmt, ...)
{
    if (t->filled == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        t->cell = dfs_realloc(t->cell, dfs_mul_size(t->cap, sizeof *t->cell));
    }
    va_list ap;
    va_start(ap, fmt);
    char *s = dfs_vasprintf(fmt, ap);
    va_end(ap);
    t->cell[t->filled++] = s;
    t->nrow = (t->filled + t->ncol - 1) / t->ncol;
}

static void md_cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|') fputc('\\', out);
        fputc(*s, out);
    }
}

int dfs_tt_print(const dfs_ttable *t, FILE *out, int markdown)
{
    if (t->filled % t->ncol != 0)
        return dfs_fail("internal: table row %zu has %zu of %zu cells", t->nrow,
                        t->filled % t->ncol, t->ncol);
    for (size_t r = 0; r < t->nrow; r++) {
        for (size_t c = 0; c < t->ncol; c++) {
            const char *s = t->cell[r * t->ncol + c];
            if (markdown) {
                fputs(c ? " | " : "| ", out);
                md_cell(out, s);
            } else {
                if (c) fputc('\t', out);
                fputs(s, out);
            }
        }
        fputs(markdown ? " |\n" : "\n", out);
        if (markdown && r == 0) {
            for (size_t c = 0; c < t->ncol; c++) fputs(c ? "---|" : "|---|", out);
            fputc('\n', out);
        }
    }
    return 0;
}

void dfs_tt_free(dfs_ttable *t)
{
    for (size_t i = 0; i < t->filled; i++) free(t->cell[i]);
    free(t->cell);
    memset(t, 0, sizeof *t);
}

/* ---------------------------------------------------------------- metric reports */

static void add_num(dfs_ttable *t, double v)
{
    if (isnan(v)) dfs_tt_add(t, "nan");
    else dfs_tt_add(t, "%.6f", v);
}

/* units of one file at one level; -1 with dfs_error() */
static int file_units(const dfs_score_file *f, int level, dfs_score_units *u)
{
    if (level == DFS_LEVEL_VIDEO) return dfs_score_videos(f, u);
    dfs_score_frames(f, u);
    return 0;
}

int dfs_score_report(const char *const *paths, size_t n, const dfs_report_opts *o, FILE *out)
{
    static const char *base[] = {"name", "level", "n", "acc", "auc", "ap", "eer"};
    static const char *ci[] = {"acc_lo", "acc_hi", "auc_lo", "auc_hi",
                               "ap_lo", "ap_hi", "eer_lo", "eer_hi"};
    dfs_ttable t;
    dfs_tt_init(&t, 7 + (o->bootstrap ? 8 : 0));
    for (size_t c = 0; c < 7; c++) dfs_tt_add(&t, "%s", base[c]);
    if (o->bootstrap)
        for (size_t c = 0; c < 8; c++) dfs_tt_add(&t, "%s", ci[c]);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        dfs_score_file f;
        if (dfs_score_read(paths[i], &f) != 0) { rc = -1; break; }
        char *stem = dfs_score_stem(paths[i]);
        for (int level = DFS_LEVEL_FRAME; level <= DFS_LEVEL_VIDEO && rc == 0; level++) {
            if (!(o->levels & level)) continue;
            const char *lname = level == DFS_LEVEL_FRAME ? "frame" : "video";
            dfs_score_units u;
            if (file_units(&f, level, &u) != 0) { rc = -1; break; }
            dfs_metrics m;
            rc = dfs_metrics_compute(u.p, u.y, NULL, u.n, &m);
            dfs_metrics_ci c;
            if (rc == 0 && o->bootstrap) {
                /* the row's own stream: same numbers whatever other files are given */
                char tag[4096];
                snprintf(tag, sizeof tag, "%s\t%s", stem, lname);
                dfs_rng r;
                dfs_rng_derive(&r, o->seed, dfs_hash_str(tag));
                rc = dfs_metrics_bootstrap(u.p, u.y, u.n, o->bootstrap, &r, &c);
            }
            if (rc == 0) {
                dfs_tt_add(&t, "%s", stem);
                dfs_tt_add(&t, "%s", lname);
                dfs_tt_add(&t, "%zu", u.n);
                add_num(&t, m.acc);
                add_num(&t, m.auc);
                add_num(&t, m.ap);
                add_num(&t, m.eer);
                if (o->bootstrap) {
                    add_num(&t, c.lo.acc); add_num(&t, c.hi.acc);
                    add_num(&t, c.lo.auc); add_num(&t, c.hi.auc);
                    add_num(&t, c.lo.ap);  add_num(&t, c.hi.ap);
                    add_num(&t, c.lo.eer); add_num(&t, c.hi.eer);
                }
            } else {
                dfs_fail_prefix(paths[i]);
            }
            dfs_score_units_free(&u);
        }
        free(stem);
        dfs_score_free(&f);
    }
    if (rc == 0) rc = dfs_tt_print(&t, out, o->markdown);
    dfs_tt_free(&t);
    return rc;
}

/* ---------------------------------------------------------------- study config */

/* pipelines/study.conf, made into a C string by the Makefile ($(BUILD)/gen/study_conf.c) */
extern const char dfs_study_conf_text[];

const char *dfs_study_config_default(void)
{
    return dfs_study_conf_text;
}

static void strlist_free(dfs_strlist *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int strlist_has(const dfs_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0) return 1;
    return 0;
}

static void strlist_add(dfs_strlist *l, const char *s)
{
    l->v = dfs_realloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = dfs_strdup(s);
}

/* a name used as a file or directory name: no path tricks, nothing a TSV can't hold */
static int check_name(const char *s, const char *what)
{
    if (!*s) return dfs_fail("empty %s", what);
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0) return dfs_fail("%s '%s' is not a name", what, s);
    for (const char *c = s; *c; c++)
        if (*c == '/' || *c == ',' || *c == '|' || (unsigned char)*c < 0x20 || *c == ' ')
            return dfs_fail("%s '%s' contains '%c' (names are file names without / , | or spaces)",
                            what, s, *c == '\t' ? ' ' : *c);
    return 0;
}

/* comma-separated names into l (no empty items, no repeats) */
static int parse_list(const char *s, const char *what, dfs_strlist *l)
{
    char *copy = dfs_strdup(s), *save = NULL;
    int rc = 0;
    if (!*s || s[strlen(s) - 1] == ',' || s[0] == ',' || strstr(s, ",,"))
        rc = dfs_fail("%s list '%s' has an empty item", what, s);
    for (char *tok = strtok_r(copy, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
        if (check_name(tok, what) != 0) rc = -1;
        else if (strlist_has(l, tok)) rc = dfs_fail("%s '%s' listed twice", what, tok);
        else strlist_add(l, tok);
    }
    free(copy);
    return rc;
}

static int split_tabs(char *s, char **f, int max)
{
    int k = 0;
    f[k++] = s;
    for (char *c = s; *c; c++)
        if (*c == '\t') {
            if (k == max) return max + 1;
            *c = '\0';
            f[k++] = c + 1;
        }
    return k;
}

static dfs_special *find_special(dfs_special *v, size_t n, const char *train)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].train, train) == 0) return &v[i];
    return NULL;
}

static void detector_free(dfs_detector *d)
{
    free(d->name);
    free(d->arch);
    free(d->train);
    free(d->stage);
    strlist_free(&d->finetune);
}

/* TRAIN, STAGE and FINETUNE of `kind` (detector or role) `who` */
static int check_stage(const char *kind, const char *who, const char *train, const char *stage, const char *finetune)
{
    if (check_name(train, "dataset") != 0) return -1;
    int original = strcmp(stage, "original") == 0;
    if (!original && strcmp(stage, "transfer") != 0 && strcmp(stage, "merge") != 0)
        return dfs_fail("stage '%s' is not original, transfer or merge", stage);
    if (original != (strcmp(finetune, "none") == 0))
        return dfs_fail("%s %s: FINETUNE must be 'none' exactly when STAGE is original", kind, who);
    return 0;
}

static int add_detector(dfs_study_config *c, const char *name, const char *arch, const char *train,
                        const char *stage, const char *finetune)
{
    if (check_name(name, "detector") != 0 || check_name(arch, "architecture") != 0 ||
        check_stage("detector", name, train, stage, finetune) != 0)
        return -1;
    for (size_t i = 0; i < c->n_det; i++)
        if (strcmp(c->det[i].name, name) == 0) return dfs_fail("detector %s given twice", name);
    c->det = dfs_realloc(c->det, (c->n_det + 1) * sizeof *c->det);
    dfs_detector *d = &c->det[c->n_det++];
    memset(d, 0, sizeof *d);
    d->name = dfs_strdup(name);
    d->arch = dfs_strdup(arch);
    d->train = dfs_strdup(train);
    d->stage = dfs_strdup(stage);
    if (strcmp(stage, "original") != 0 && parse_list(finetune, "dataset", &d->finetune) != 0) return -1;
    return 0;
}

static int parse_line(char *line, dfs_study_config *c, int *seen_unseen)
{
    char *f[8];
    int k = split_tabs(line, f, 7);
    if (strcmp(f[0], "unseen") == 0) {
        if (k != 2) return dfs_fail("'unseen' takes 1 field (DATASETS), got %d", k - 1);
        if (*seen_unseen) return dfs_fail("'unseen' given twice");
        *seen_unseen = 1;
        return parse_list(f[1], "dataset", &c->unseen);
    }
    if (strcmp(f[0], "same_method") == 0 || strcmp(f[0], "same_identity") == 0) {
        int method = f[0][5] == 'm';
        if (k != 3) return dfs_fail("'%s' takes 2 fields (TRAIN, DATASETS), got %d", f[0], k - 1);
        dfs_special **v = method ? &c->same_method : &c->same_identity;
        size_t *n = method ? &c->n_same_method : &c->n_same_identity;
        if (check_name(f[1], "dataset") != 0) return -1;
        if (find_special(*v, *n, f[1])) return dfs_fail("'%s' for %s given twice", f[0], f[1]);
        *v = dfs_realloc(*v, (*n + 1) * sizeof **v);
        dfs_special *s = &(*v)[(*n)++];
        memset(s, 0, sizeof *s);
        s->train = dfs_strdup(f[1]);
        if (parse_list(f[2], "dataset", &s->sets) != 0) return -1;
        if (strlist_has(&s->sets, f[1]))
            return dfs_fail("'%s' lists %s, its own training set", f[0], f[1]);
        return 0;
    }
    if (strcmp(f[0], "detector") == 0) {
        if (k != 6)
            return dfs_fail("'detector' takes 5 fields (NAME, ARCH, TRAIN, STAGE, FINETUNE), got %d",
                            k - 1);
        return add_detector(c, f[1], f[2], f[3], f[4], f[5]);
    }
    if (strcmp(f[0], "testsets") == 0) {
        if (k != 2) return dfs_fail("'testsets' takes 1 field (DATASETS), got %d", k - 1);
        if (c->testsets.n) return dfs_fail("'testsets' given twice");
        return parse_list(f[1], "dataset", &c->testsets);
    }
    if (strcmp(f[0], "role") == 0) {
        if (k != 5) return dfs_fail("'role' takes 4 fields (ID, TRAIN, STAGE, FINETUNE), got %d", k - 1);
        if (check_name(f[1], "role") != 0 || check_stage("role", f[1], f[2], f[3], f[4]) != 0) return -1;
        for (size_t i = 0; i < c->n_roles; i++)
            if (strcmp(c->roles[i].id, f[1]) == 0) return dfs_fail("role %s given twice", f[1]);
        c->roles = dfs_realloc(c->roles, (c->n_roles + 1) * sizeof *c->roles);
        c->roles[c->n_roles++] = (dfs_role){dfs_strdup(f[1]), dfs_strdup(f[2]), dfs_strdup(f[3]), dfs_strdup(f[4])};
        return 0;
    }
    if (strcmp(f[0], "architecture") == 0) {
        if (k != 4) return dfs_fail("'architecture' takes 3 fields (ARCH, NAME, CAM_CLASS), got %d", k - 1);
        if (check_name(f[1], "architecture") != 0 || check_name(f[2], "architecture name") != 0) return -1;
        if (strcmp(f[3], "real") != 0 && strcmp(f[3], "fake") != 0)
            return dfs_fail("architecture %s: CAM_CLASS '%s' is not real or fake", f[1], f[3]);
        for (size_t i = 0; i < c->n_archs; i++)
            if (strcmp(c->archs[i].arch, f[1]) == 0 || strcmp(c->archs[i].name, f[2]) == 0)
                return dfs_fail("architecture %s (%s) given twice", f[1], f[2]);
        c->archs = dfs_realloc(c->archs, (c->n_archs + 1) * sizeof *c->archs);
        c->archs[c->n_archs++] = (dfs_arch){dfs_strdup(f[1]), dfs_strdup(f[2]), dfs_strdup(f[3])};
        return 0;
    }
    return dfs_fail("unknown kind '%s' (unseen, same_method, same_identity, testsets, role, architecture, "
                    "detector)", f[0]);
}

/* the detectors of the architecture lines, one per role (NAME<id>), ahead of the detector lines */
static int expand_roles(dfs_study_config *c)
{
    if (c->n_archs && !c->n_roles) return dfs_fail("'architecture' lines but no 'role' line");
    dfs_detector *given = c->det;
    size_t n_given = c->n_det;
    c->det = NULL;
    c->n_det = 0;
    int rc = 0;
    for (size_t a = 0; a < c->n_archs && rc == 0; a++)
        for (size_t r = 0; r < c->n_roles && rc == 0; r++) {
            const dfs_role *ro = &c->roles[r];
            size_t len = strlen(c->archs[a].name) + strlen(ro->id) + 1;
            char *name = dfs_malloc(len);
            snprintf(name, len, "%s%s", c->archs[a].name, ro->id);
            rc = add_detector(c, name, c->archs[a].name, ro->train, ro->stage, ro->finetune);
            free(name);
        }
    for (size_t i = 0; i < n_given; i++) {
        dfs_detector *d = &given[i];
        for (size_t j = 0; j < c->n_det && rc == 0; j++)
            if (strcmp(c->det[j].name, d->name) == 0)
                rc = dfs_fail("detector %s given twice (a detector line and architecture %s's role)", d->name,
                              c->det[j].arch);
        if (rc == 0) {
            c->det = dfs_realloc(c->det, (c->n_det + 1) * sizeof *c->det);
            c->det[c->n_det++] = *d;
        } else {
            detector_free(d);
        }
    }
    free(given);
    return rc;
}

int dfs_study_config_parse(const char *text, const char *name, dfs_study_config *c)
{
    memset(c, 0, sizeof *c);
    char *copy = dfs_strdup(text), *p = copy;
    int rc = 0, seen_unseen = 0;
    long lineno = 0;
    while (rc == 0 && p && *p) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        lineno++;
        size_t len = strlen(p);
        if (len && p[len - 1] == '\r') p[--len] = '\0';
        if (len && p[0] != '#' && parse_line(p, c, &seen_unseen) != 0) {
            char *msg = dfs_strdup(dfs_error());
            rc = dfs_fail("%s: line %ld: %s", name, lineno, msg);
            free(msg);
        }
        p = nl ? nl + 1 : NULL;
    }
    free(copy);
    if (rc == 0 && expand_roles(c) != 0) {
        char *msg = dfs_strdup(dfs_error());
        rc = dfs_fail("%s: %s", name, msg);
        free(msg);
    }
    if (rc == 0 && !seen_unseen) rc = dfs_fail("%s: no 'unseen' line", name);
    if (rc == 0 && c->n_det == 0) rc = dfs_fail("%s: no 'detector' line", name);
    for (size_t i = 0; rc == 0 && i < c->n_det; i++)
        if (strlist_has(&c->unseen, c->det[i].train))
            rc = dfs_fail("%s: detector %s is trained on %s, which is listed as unseen", name,
                          c->det[i].name, c->det[i].train);
    if (rc != 0) dfs_study_config_free(c);
    return rc;
}

int dfs_study_config_read(const char *path, dfs_study_config *c)
{
    FILE *in = fopen(path, "r");
    if (!in) return dfs_fail("%s: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0, got;
    char buf[65536];
    while ((got = fread(buf, 1, sizeof buf, in)) > 0) {
        if (len + got + 1 > cap) {
            cap = 2 * (len + got + 1);
            text = dfs_realloc(text, cap);
        }
        memcpy(text + len, buf, got);
        len += got;
    }
    int err = ferror(in);
    fclose(in);
    if (err) {
        free(text);
        return dfs_fail("%s: read error", path);
    }
    if (!text) text = dfs_strdup("");
    text[len] = '\0';
    if (strlen(text) != len) {
        free(text);
        return dfs_fail("%s: NUL byte in config", path);
    }
    int rc = dfs_study_config_parse(text, path, c);
    free(text);
    return rc;
}

static void special_free(dfs_special *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].train);
        strlist_free(&v[i].sets);
    }
    free(v);
}

void dfs_study_config_free(dfs_study_config *c)
{
    strlist_free(&c->unseen);
    special_free(c->same_method, c->n_same_method);
    special_free(c->same_identity, c->n_same_identity);
    strlist_free(&c->testsets);
    for (size_t i = 0; i < c->n_det; i++) detector_free(&c->det[i]);
    free(c->det);
    for (size_t i = 0; i < c->n_roles; i++) {
        free(c->roles[i].id);
        free(c->roles[i].train);
        free(c->roles[i].stage);
        free(c->roles[i].finetune);
    }
    free(c->roles);
    for (size_t i = 0; i < c->n_archs; i++) {
        free(c->archs[i].arch);
        free(c->archs[i].name);
        free(c->archs[i].cam_class);
    }
    free(c->archs);
    memset(c, 0, sizeof *c);
}

void dfs_study_config_print_detectors(const dfs_study_config *c, FILE *out)
{
    for (size_t i = 0; i < c->n_det; i++) {
        const dfs_detector *d = &c->det[i];
        fprintf(out, "detector\t%s\t%s\t%s\t%s\t", d->name, d->arch, d->train, d->stage);
        if (!d->finetune.n) fputs("none", out);
        for (size_t j = 0; j < d->finetune.n; j++) fprintf(out, "%s%s", j ? "," : "", d->finetune.v[j]);
        fputc('\n', out);
    }
}

/* ---------------------------------------------------------------- the tables */

typedef struct {
    int present;      /* the score file exists */
    double acc, auc;  /* percent, fraction */
} cell;

typedef struct {
    const dfs_detector *d;
    size_t order;     /* position in the config, for stable ranking */
    cell orig, *unseen, *special;
    const dfs_special *sp;   /* this detector's specialised sets for the table, or NULL */
    cell unseen_avg, special_avg;
    int has_degr, has_sdegr, has_diff;
    double degr, sdegr, diff;
    long rank;        /* 0 = unranked */
} row;

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Score one <dir>/<det>/<dataset>.tsv into c; a missing file leaves c->present = 0. */
static int score_cell(const char *dir, const char *det, const char *dataset, int level, cell *c)
{
    memset(c, 0, sizeof *c);
    char *path = dfs_asprintf("%s/%s/%s.tsv", dir, det, dataset);
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT) {
        free(path);
        return 0;
    }
    dfs_score_file f;
    int rc = dfs_score_read(path, &f), read_ok = rc == 0;
    for (size_t i = 0; rc == 0 && i < f.n; i++)
        if (strcasecmp(f.rec[i].dataset, dataset) != 0)
            rc = dfs_fail("%s: line %ld: dataset '%s' in a file for %s (each <DATASET>.tsv holds "
                          "that dataset only)", path, f.rec[i].line, f.rec[i].dataset, dataset);
    dfs_score_units u = {0};
    dfs_metrics m;
    if (rc == 0) rc = file_units(&f, level, &u);
    if (rc == 0) rc = dfs_metrics_compute(u.p, u.y, NULL, u.n, &m);
    if (rc == 0) {
        c->present = 1;
        c->acc = 100.0 * m.acc;
        c->auc = m.auc;
    }
    dfs_score_units_free(&u);
    if (read_ok) dfs_score_free(&f);
    free(path);
    return rc;
}

/* mean of cells: present only when all are */
static cell mean_cells(const cell *v, size_t n)
{
    cell m = {1, 0, 0};
    for (size_t i = 0; i < n; i++) {
        if (!v[i].present) return (cell){0, 0, 0};
        m.acc += v[i].acc;
        m.auc += v[i].auc;
    }
    m.acc /= (double)n;
    m.auc /= (double)n;
    return m;
}

static void add_pct(dfs_ttable *t, int present, double v)
{
    if (!present) dfs_tt_add(t, "-");
    else if (isnan(v)) dfs_tt_add(t, "nan");
    else dfs_tt_add(t, "%.2f", v + 0.0);   /* + 0.0 turns -0.00 into 0.00 */
}

static void add_cell(dfs_ttable *t, const cell *c, int auc)
{
    add_pct(t, c->present, c->acc);
    if (!auc) return;
    if (!c->present) dfs_tt_add(t, "-");
    else if (isnan(c->auc)) dfs_tt_add(t, "nan");
    else dfs_tt_add(t, "%.4f", c->auc);
}

static void add_heads(dfs_ttable *t, const char *prefix, int auc)
{
    dfs_tt_add(t, "%s_acc", prefix);
    if (auc) dfs_tt_add(t, "%s_auc", prefix);
}

/* rank key: Table 5 ascending degradation, Tables 6/7 descending difference */
static int cmp_rows(const void *a, const void *b, void *by_diff)
{
    const row *x = *(row *const *)a, *y = *(row *const *)b;
    int by_diff_ = *(const int *)by_diff;
    int hx = by_diff_ ? x->has_diff : x->has_degr;
    int hy = by_diff_ ? y->has_diff : y->has_degr;
    if (hx != hy) return hy - hx;   /* ranked rows first */
    if (hx) {
        double kx = by_diff_ ? -x->diff : x->degr, ky = by_diff_ ? -y->diff : y->degr;
        if (kx < ky) return -1;
        if (kx > ky) return 1;
    }
    return (x->order > y->order) - (x->order < y->order);
}

/* competition ranking (1, 2, 2, 4) over rows sorted by cmp_rows */
static void assign_ranks(row **v, size_t n, int by_diff)
{
    for (size_t i = 0; i < n; i++) {
        int has = by_diff ? v[i]->has_diff : v[i]->has_degr;
        if (!has) { v[i]->rank = 0; continue; }
        double k = by_diff ? v[i]->diff : v[i]->degr;
        double kp = i ? (by_diff ? v[i - 1]->diff : v[i - 1]->degr) : NAN;
        v[i]->rank = (i && k == kp) ? v[i - 1]->rank : (long)i + 1;
    }
}

static const dfs_special *special_of(const dfs_study_config *c, int table, const char *train)
{
    if (table == 6) return find_special(c->same_method, c->n_same_method, train);
    if (table == 7) return find_special(c->same_identity, c->n_same_identity, train);
    return NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Directories under dir that are not detectors of the config: named in a note, not read. */
static void note_unknown_dirs(const char *dir, const dfs_study_config *c, FILE *notes)
{
    DIR *dp = opendir(dir);
    if (!dp) return;
    struct dirent *e;
    char **names = NULL;
    size_t n = 0;
    while ((e = readdir(dp))) {
        if (e->d_name[0] == '.') continue;
        int known = 0;
        for (size_t i = 0; i < c->n_det && !known; i++) known = strcmp(c->det[i].name, e->d_name) == 0;
        if (known) continue;
        char *path = dfs_asprintf("%s/%s", dir, e->d_name);
        if (is_dir(path)) {
            names = dfs_realloc(names, (n + 1) * sizeof *names);
            names[n++] = dfs_strdup(e->d_name);
        }
        free(path);
    }
    closedir(dp);
    if (n) qsort(names, n, sizeof *names, cmp_str);   /* names is NULL when n == 0: qsort(NULL) is undefined */
    if (n && notes) {
        fprintf(notes, "%s: %s: not in the study config, left out:", dfs_progname, dir);
        for (size_t i = 0; i < n; i++) fprintf(notes, " %s", names[i]);
        fputc('\n', notes);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

static void free_rows(row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].unseen);
        free(rows[i].special);
    }
    free(rows);
}

/* Score every cell a table needs for the detectors that have a directory. */
static int collect_rows(int table, const char *dir, const dfs_study_config *c,
                        const dfs_table_opts *o, row **out, size_t *nout, FILE *notes)
{
    row *rows = dfs_calloc(c->n_det ? c->n_det : 1, sizeof *rows);
    size_t n = 0, absent = 0;
    int rc = 0;
    for (size_t i = 0; i < c->n_det && rc == 0; i++) {
        const dfs_detector *d = &c->det[i];
        char *ddir = dfs_asprintf("%s/%s", dir, d->name);
        int exists = is_dir(ddir);
        free(ddir);
        if (!exists) { absent++; continue; }
        row *r = &rows[n++];
        r->d = d;
        r->order = i;
        r->sp = special_of(c, table, d->train);
        rc = score_cell(dir, d->name, d->train, o->level, &r->orig);
        if (table >= 5) {
            r->unseen = dfs_calloc(c->unseen.n ? c->unseen.n : 1, sizeof *r->unseen);
            for (size_t k = 0; k < c->unseen.n && rc == 0; k++)
                rc = score_cell(dir, d->name, c->unseen.v[k], o->level, &r->unseen[k]);
            r->unseen_avg = mean_cells(r->unseen, c->unseen.n);
            r->has_degr = r->orig.present && r->unseen_avg.present;
            r->degr = r->orig.acc - r->unseen_avg.acc;
        }
        if (r->sp) {
            r->special = dfs_calloc(r->sp->sets.n, sizeof *r->special);
            for (size_t k = 0; k < r->sp->sets.n && rc == 0; k++)
                rc = score_cell(dir, d->name, r->sp->sets.v[k], o->level, &r->special[k]);
            r->special_avg = mean_cells(r->special, r->sp->sets.n);
            r->has_sdegr = r->orig.present && r->special_avg.present;
            r->has_diff = r->has_degr && r->has_sdegr;
            r->sdegr = r->orig.acc - r->special_avg.acc;
            r->diff = r->degr - r->sdegr;
        }
    }
    if (rc == 0 && n == 0)
        rc = dfs_fail("%s: no directory of any detector of the study config (expected "
                      "%s/<Detector>/<DATASET>.tsv, e.g. %s/%s/%s.tsv)", dir, dir, dir,
                      c->det[0].name, c->det[0].train);
    if (rc != 0) {
        free_rows(rows, n);
        return -1;
    }
    if (absent && notes)
        fprintf(notes, "%s: %s: %zu detector%s of the study config %s no directory, left out\n",
                dfs_progname, dir, absent, absent == 1 ? "" : "s", absent == 1 ? "has" : "have");
    note_unknown_dirs(dir, c, notes);
    *out = rows;
    *nout = n;
    return 0;
}

static void table4(const row *rows, size_t n, const dfs_table_opts *o, dfs_ttable *t)
{
    dfs_tt_init(t, 7 + (o->auc ? 1 : 0));
    dfs_tt_add(t, "detector");
    dfs_tt_add(t, "architecture");
    dfs_tt_add(t, "trained_on");
    dfs_tt_add(t, "stage");
    dfs_tt_add(t, "finetune_data");
    add_heads(t, "original", o->auc);
    dfs_tt_add(t, "arch_avg_acc");
    for (size_t i = 0; i < n; i++) {
        const dfs_detector *d = rows[i].d;
        dfs_tt_add(t, "%s", d->name);
        dfs_tt_add(t, "%s", d->arch);
        dfs_tt_add(t, "%s", d->train);
        dfs_tt_add(t, "%s", d->stage);
        if (d->finetune.n == 0) {
            dfs_tt_add(t, "none");
        } else {
            size_t len = 1;
            for (size_t k = 0; k < d->finetune.n; k++) len += strlen(d->finetune.v[k]) + 1;
            char *s = dfs_calloc(len, 1);
            for (size_t k = 0; k < d->finetune.n; k++) {
                if (k) strcat(s, ",");
                strcat(s, d->finetune.v[k]);
            }
            dfs_tt_add(t, "%s", s);
            free(s);
        }
        add_cell(t, &rows[i].orig, o->auc);
        /* the architecture's mean original accuracy over its rows in this table */
        cell avg = {1, 0, 0};
        size_t m = 0;
        for (size_t j = 0; j < n; j++) {
            if (strcmp(rows[j].d->arch, d->arch) != 0) continue;
            if (!rows[j].orig.present) avg.present = 0;
            avg.acc += rows[j].orig.acc;
            m++;
        }
        add_pct(t, avg.present, avg.acc / (double)m);
    }
}

static void table5to7(int table, row **v, size_t n, const dfs_study_config *c,
                      const dfs_table_opts *o, dfs_ttable *t)
{
    /* Tables 6 and 7: the union of the rows' specialised sets, in config order */
    dfs_strlist sets = {0};
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; v[i]->sp && k < v[i]->sp->sets.n; k++)
            if (!strlist_has(&sets, v[i]->sp->sets.v[k])) strlist_add(&sets, v[i]->sp->sets.v[k]);
    int with_avg = sets.n > 1;
    size_t per = o->auc ? 2 : 1;
    size_t ncol = 2 + per * (1 + c->unseen.n + 1) + 1;
    if (table > 5) ncol += per * (sets.n + (with_avg ? 1 : 0)) + 2;
    dfs_tt_init(t, ncol);
    dfs_tt_add(t, "rank");
    dfs_tt_add(t, "detector");
    add_heads(t, "original", o->auc);
    for (size_t k = 0; k < c->unseen.n; k++) add_heads(t, c->unseen.v[k], o->auc);
    add_heads(t, "unseen_avg", o->auc);
    dfs_tt_add(t, table == 5 ? "degradation" : "unseen_degradation");
    if (table > 5) {
        for (size_t k = 0; k < sets.n; k++) add_heads(t, sets.v[k], o->auc);
        if (with_avg) add_heads(t, "special_avg", o->auc);
        dfs_tt_add(t, "special_degradation");
        dfs_tt_add(t, "degradation_difference");
    }
    for (size_t i = 0; i < n; i++) {
        const row *r = v[i];
        if (r->rank) dfs_tt_add(t, "%ld", r->rank);
        else dfs_tt_add(t, "-");
        dfs_tt_add(t, "%s", r->d->name);
        add_cell(t, &r->orig, o->auc);
        for (size_t k = 0; k < c->unseen.n; k++) add_cell(t, &r->unseen[k], o->auc);
        add_cell(t, &r->unseen_avg, o->auc);
        add_pct(t, r->has_degr, r->degr);
        if (table == 5) continue;
        for (size_t k = 0; k < sets.n; k++) {
            size_t j = 0;
            while (j < r->sp->sets.n && strcmp(r->sp->sets.v[j], sets.v[k]) != 0) j++;
            if (j < r->sp->sets.n) {
                add_cell(t, &r->special[j], o->auc);
            } else {
                for (size_t q = 0; q < per; q++) dfs_tt_add(t, "n/a");
            }
        }
        if (with_avg) add_cell(t, &r->special_avg, o->auc);
        add_pct(t, r->has_sdegr, r->sdegr);
        add_pct(t, r->has_diff, r->diff);
    }
    strlist_free(&sets);
}

int dfs_study_table(int table, const char *dir, const dfs_study_config *c,
                    const dfs_table_opts *o, FILE *out, FILE *notes)
{
    if (table < 4 || table > 7) return dfs_fail("there is no table %d (4, 5, 6 or 7)", table);
    if (o->level != DFS_LEVEL_FRAME && o->level != DFS_LEVEL_VIDEO)
        return dfs_fail("tables are computed at one level, frame or video");
    row *rows;
    size_t n;
    if (collect_rows(table, dir, c, o, &rows, &n, notes) != 0) return -1;
    dfs_ttable t;
    if (table == 4) {
        table4(rows, n, o, &t);
    } else {
        /* Tables 6 and 7 keep the detectors with specialised sets that generalise worst
         * (degradation above the threshold, 30 points in the paper); a detector whose degradation
         * is unknown stays in, unranked, rather than vanish for want of a file */
        row **v = dfs_malloc((n ? n : 1) * sizeof *v);
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (table > 5 && (!rows[i].sp || (rows[i].has_degr && !(rows[i].degr > o->min_degradation))))
                continue;
            v[m++] = &rows[i];
        }
        int by_diff = table > 5;
        qsort_r(v, m, sizeof *v, cmp_rows, &by_diff);
        assign_ranks(v, m, by_diff);
        if (m == 0 && notes)
            fprintf(notes, "%s: %s: no detector qualifies for table %d (specialised datasets and "
                    "degradation above %g points)\n", dfs_progname, dir, table, o->min_degradation);
        table5to7(table, v, m, c, o, &t);
        free(v);
    }
    int rc = dfs_tt_print(&t, out, o->markdown);
    dfs_tt_free(&t);
    free_rows(rows, n);
    return rc;
}
