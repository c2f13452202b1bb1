/* scoretsv.c: strict reading of score TSVs and their frame/video grouping. */
#include "study/scoretsv.h"
#include "core/lines.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "study/dataset.h"

static void free_recs(dfs_score_rec *rec, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rec[i].key);
        free(rec[i].dataset);
    }
    free(rec);
}

void dfs_score_free(dfs_score_file *f)
{
    if (!f) return;
    free_recs(f->rec, f->n);
    free(f->path);
    memset(f, 0, sizeof *f);
}

/* Split a record line into exactly 4 tab-separated fields (in place). */
static int split4(char *s, char *field[4])
{
    int k = 0;
    field[k++] = s;
    for (char *c = s; *c; c++) {
        if (*c == '\t') {
            if (k == 4) return 5;
            *c = '\0';
            field[k++] = c + 1;
        }
    }
    return k;
}

static int parse_record(char *line, dfs_score_rec *r)
{
    char *fld[4];
    int k = split4(line, fld);
    if (k != 4) return dfs_fail("%d tab-separated field%s, expected 4 (key, dataset, label, p_fake)",
                                k > 4 ? 5 : k, k == 1 ? "" : "s");
    if (!*fld[0]) return dfs_fail("empty key");
    if (!*fld[1]) return dfs_fail("empty dataset");
    if (strcmp(fld[2], "0") != 0 && strcmp(fld[2], "1") != 0)
        return dfs_fail("label '%s' is not 0 or 1", fld[2]);
    errno = 0;
    char *end;
    double p = strtod(fld[3], &end);
    if (!*fld[3] || *end || errno == ERANGE || !(p >= 0.0 && p <= 1.0))
        return dfs_fail("p_fake '%s' is not a number in [0,1]", fld[3]);
    r->key = dfs_strdup(fld[0]);
    r->dataset = dfs_strdup(fld[1]);
    r->label = (uint8_t)(fld[2][0] - '0');
    r->p = p;
    return 0;
}

static int cmp_key(const void *a, const void *b)
{
    const dfs_score_rec *x = *(dfs_score_rec *const *)a, *y = *(dfs_score_rec *const *)b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* The first duplicate key, reported at its second occurrence (the later line). */
static int check_duplicates(const dfs_score_file *f, const char *name)
{
    if (f->n < 2) return 0;
    dfs_score_rec **v = dfs_malloc(dfs_mul_size(f->n, sizeof *v));
    for (size_t i = 0; i < f->n; i++) v[i] = &f->rec[i];
    qsort(v, f->n, sizeof *v, cmp_key);
    const dfs_score_rec *dup = NULL, *first = NULL;
    for (size_t i = 1; i < f->n; i++) {
        if (strcmp(v[i - 1]->key, v[i]->key) == 0 && (!dup || v[i]->line < dup->line)) {
            dup = v[i];
            first = v[i - 1];
            while (i + 1 < f->n && strcmp(v[i + 1]->key, v[i]->key) == 0) i++;
        }
    }
    free(v);
    if (dup)
        return dfs_fail("%s: line %ld: duplicate key '%s' (first on line %ld)", name, dup->line,
                        dup->key, first->line);
    return 0;
}

int dfs_score_read(const char *path, dfs_score_file *f)
{
    memset(f, 0, sizeof *f);
    int is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "<stdin>" : path;
    FILE *in = is_stdin ? stdin : fopen(path, "r");
    if (!in) return dfs_fail("%s: %s", name, strerror(errno));
    char *line = NULL;
    size_t cap = 0, n = 0, alloc = 0;
    dfs_score_rec *rec = NULL;
    long lineno = 0;
    ssize_t len;
    int rc = 0;
    while ((len = dfs_getline(&line, &cap, in)) != -1) {
        lineno++;
        if (len == -2) {
            rc = dfs_fail("%s: line %ld: longer than %u bytes", name, lineno, DFS_MAX_LINE);
            break;
        }
        if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
        if (len > 0 && line[len - 1] == '\r') line[--len] = '\0';
        if (strlen(line) != (size_t)len) {
            rc = dfs_fail("%s: line %ld: NUL byte in line", name, lineno);
            break;
        }
        if (lineno == 1) {
            if (strcmp(line, DFS_SCORE_HEADER) != 0) {
                rc = dfs_fail("%s: line 1: header is not 'key<TAB>dataset<TAB>label<TAB>p_fake'",
                              name);
                break;
            }
            continue;
        }
        if (n == alloc) {
            alloc = alloc ? 2 * alloc : 256;
            rec = dfs_realloc(rec, dfs_mul_size(alloc, sizeof *rec));
        }
        if (parse_record(line, &rec[n]) != 0) {
            char *msg = dfs_strdup(dfs_error());
            rc = dfs_fail("%s: line %ld: %s", name, lineno, msg);
            free(msg);
            break;
        }
        rec[n++].line = lineno;
    }
    if (rc == 0 && ferror(in)) rc = dfs_fail("%s: read error: %s", name, strerror(errno));
    if (rc == 0 && lineno == 0) rc = dfs_fail("%s: empty file (no header, no records)", name);
    if (rc == 0 && n == 0) rc = dfs_fail("%s: line 2: no records after the header", name);
    free(line);
    if (!is_stdin) fclose(in);
    f->rec = rec;
    f->n = n;
    if (rc == 0) rc = check_duplicates(f, name);
    if (rc != 0) {
        free_recs(rec, n);
        memset(f, 0, sizeof *f);
        return -1;
    }
    f->path = dfs_strdup(path);
    return 0;
}

char *dfs_score_stem(const char *path)
{
    if (strcmp(path, "-") == 0) return dfs_strdup("stdin");
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char *s = dfs_strdup(base);
    char *dot = strrchr(s, '.');
    if (dot && dot != s) *dot = '\0';
    return s;
}

static void units_alloc(dfs_score_units *u, size_t n)
{
    size_t m = n ? n : 1;
    u->n = n;
    u->p = dfs_malloc(dfs_mul_size(m, sizeof *u->p));
    u->y = dfs_malloc(m);
    u->first_line = dfs_malloc(dfs_mul_size(m, sizeof *u->first_line));
}

void dfs_score_units_free(dfs_score_units *u)
{
    if (!u) return;
    free(u->p);
    free(u->y);
    free(u->first_line);
    memset(u, 0, sizeof *u);
}

void dfs_score_frames(const dfs_score_file *f, dfs_score_units *u)
{
    units_alloc(u, f->n);
    for (size_t i = 0; i < f->n; i++) {
        u->p[i] = f->rec[i].p;
        u->y[i] = f->rec[i].label;
        u->first_line[i] = f->rec[i].line;
    }
}

typedef struct {
    const dfs_score_rec *r;
    size_t vlen;
    size_t idx;
} vref;

static int cmp_video(const void *a, const void *b)
{
    const vref *x = a, *y = b;
    size_t m = x->vlen < y->vlen ? x->vlen : y->vlen;
    int c = memcmp(x->r->key, y->r->key, m);
    if (!c) c = (x->vlen > y->vlen) - (x->vlen < y->vlen);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static int same_video(const vref *a, const vref *b)
{
    return a->vlen == b->vlen && memcmp(a->r->key, b->r->key, a->vlen) == 0;
}

typedef struct {
    size_t first;    /* index of the video's first record in the file */
    double sum;
    size_t count;
    uint8_t y;
} vgroup;

static int cmp_group_first(const void *a, const void *b)
{
    const vgroup *x = a, *y = b;
    return (x->first > y->first) - (x->first < y->first);
}

int dfs_score_videos(const dfs_score_file *f, dfs_score_units *u)
{
    memset(u, 0, sizeof *u);
    const char *name = strcmp(f->path, "-") == 0 ? "<stdin>" : f->path;
    size_t m = f->n ? f->n : 1;
    vref *v = dfs_malloc(dfs_mul_size(m, sizeof *v));
    for (size_t i = 0; i < f->n; i++) {
        size_t len = dfs_video_len(f->rec[i].key);
        if (len == 0) {
            free(v);
            return dfs_fail("%s: line %ld: key '%s' has no video part (expected VIDEO/FRAME, "
                            "e.g. fs/000_003/f05)", name, f->rec[i].line, f->rec[i].key);
        }
        v[i] = (vref){&f->rec[i], len, i};
    }
    qsort(v, f->n, sizeof *v, cmp_video);
    vgroup *g = dfs_malloc(dfs_mul_size(m, sizeof *g));
    size_t ng = 0;
    for (size_t i = 0; i < f->n;) {
        size_t e = i;
        vgroup gr = {v[i].idx, 0, 0, v[i].r->label};
        for (; e < f->n && same_video(&v[i], &v[e]); e++) {
            const dfs_score_rec *r = v[e].r, *r0 = v[i].r;
            if (strcmp(r->dataset, r0->dataset) != 0) {
                int vl = (int)v[i].vlen;
                dfs_fail("%s: line %ld: video '%.*s' mixes datasets '%s' (line %ld) and '%s': "
                         "keys must keep the dataset in them", name, r->line, vl, r0->key,
                         r0->dataset, r0->line, r->dataset);
                free(v);
                free(g);
                return -1;
            }
            if (r->label != r0->label) {
                int vl = (int)v[i].vlen;
                dfs_fail("%s: line %ld: video '%.*s' has label %u here but %u on line %ld", name,
                         r->line, vl, r0->key, r->label, r0->label, r0->line);
                free(v);
                free(g);
                return -1;
            }
            /* summing in file order (idx ascending within the group) keeps the mean exact-repeatable */
            gr.sum += r->p;
            gr.count++;
        }
        g[ng++] = gr;
        i = e;
    }
    free(v);
    qsort(g, ng, sizeof *g, cmp_group_first);
    units_alloc(u, ng);
    for (size_t k = 0; k < ng; k++) {
        double mean = g[k].sum / (double)g[k].count;
        u->p[k] = mean > 1.0 ? 1.0 : mean;   /* rounding can't leave [0,1] by more than an ulp */
        u->y[k] = g[k].y;
        u->first_line[k] = f->rec[g[k].first].line;
    }
    free(g);
    return 0;
}
