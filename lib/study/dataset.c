/* dataset.c: labels, keys, video ids, manifests, sampling and PNG directories (see dataset.h). */
#include "study/dataset.h"
#include "core/lines.h"

#include "media/image.h"
#include "core/rng.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- labels ---- */
int dfs_label_parse(const char *s, int *label)
{
    if (strcmp(s, "real") == 0 || strcmp(s, "0") == 0) *label = DFS_LABEL_REAL;
    else if (strcmp(s, "fake") == 0 || strcmp(s, "1") == 0) *label = DFS_LABEL_FAKE;
    else if (strcmp(s, "unknown") == 0 || strcmp(s, "-1") == 0) *label = DFS_LABEL_UNKNOWN;
    else return dfs_fail("label '%s' is not real, fake, unknown, 0, 1 or -1", s);
    return 0;
}

const char *dfs_label_name(int label)
{
    return label == DFS_LABEL_REAL ? "real" : label == DFS_LABEL_FAKE ? "fake" : "unknown";
}

/* ---- keys ---- */
/* UTF-8 and no control characters: the same UTF-8 rules as stream metadata (checked by
 * dfs_meta_valid on a one-line buffer), plus no tab or other control byte, so the text is a
 * safe TSV field. */
static int text_field_valid(const char *s, const char *what)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return dfs_fail("%s '%s' contains a control character", what, s);
    size_t n = strlen(s);
    char *line = dfs_malloc(n + 4);
    memcpy(line, "k=", 2);
    memcpy(line + 2, s, n);
    line[n + 2] = '\n';
    line[n + 3] = 0;
    int ok = dfs_meta_valid(line, n + 3) == 0;
    free(line);
    return ok ? 0 : dfs_fail("%s '%s' is not valid UTF-8", what, s);
}

int dfs_key_check(const char *key)
{
    if (!*key) return dfs_fail("empty key");
    if (key[0] == '/') return dfs_fail("key '%s' is an absolute path", key);
    if (text_field_valid(key, "key") != 0) return -1;
    const char *p = key;
    for (;;) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0) return dfs_fail("key '%s' has an empty component", key);
        if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return dfs_fail("key '%s' has a '.' or '..' component", key);
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

/* Split a path into components, dropping empty and "." ones. Returns a malloc'd copy that the
 * components point into; *abs says whether the path started with '/'. */
static char *split_path(const char *path, char ***comps, size_t *n, int *abs)
{
    char *copy = dfs_strdup(path);
    size_t cap = 8;
    *comps = dfs_malloc(cap * sizeof **comps);
    *n = 0;
    *abs = path[0] == '/';
    for (char *tok = strtok(copy, "/"); tok; tok = strtok(NULL, "/")) {
        if (strcmp(tok, ".") == 0) continue;
        if (*n == cap) *comps = dfs_realloc(*comps, (cap *= 2) * sizeof **comps);
        (*comps)[(*n)++] = tok;
    }
    return copy;
}

int dfs_key_from_path(const char *path, const char *root, const char *prefix, char **key)
{
    char **pc, **rc = NULL;
    size_t pn, rn = 0;
    int pabs, rabs = 0, rv = -1;
    char *pbuf = split_path(path, &pc, &pn, &pabs), *rbuf = NULL;
    size_t start = 0;
    *key = NULL;
    if (root && *root) {
        rbuf = split_path(root, &rc, &rn, &rabs);
        int under = rabs == pabs && rn < pn;
        for (size_t i = 0; under && i < rn; i++) under = strcmp(rc[i], pc[i]) == 0;
        if (!under) { dfs_fail("not under --root %s", root); goto out; }
        start = rn;
    } else if (pabs) {
        dfs_fail("cannot derive a key from an absolute path (give --root DIR, or keys in a manifest)");
        goto out;
    }
    if (start >= pn) { dfs_fail("cannot derive a key from an empty path"); goto out; }
    size_t len = prefix && *prefix ? strlen(prefix) + 1 : 0;
    for (size_t i = start; i < pn; i++) {
        if (strcmp(pc[i], "..") == 0) { dfs_fail("cannot derive a key from a path with '..'"); goto out; }
        len += strlen(pc[i]) + 1;
    }
    /* drop the extension of the last component (a leading dot is a name, not an extension) */
    char *dot = strrchr(pc[pn - 1], '.');
    if (dot && dot != pc[pn - 1]) *dot = 0;
    char *k = dfs_malloc(len + 1), *w = k;
    if (prefix && *prefix) {
        size_t pl = strlen(prefix);
        while (pl > 0 && prefix[pl - 1] == '/') pl--;
        memcpy(w, prefix, pl);
        w += pl;
        *w++ = '/';
    }
    for (size_t i = start; i < pn; i++) {
        size_t l = strlen(pc[i]);
        memcpy(w, pc[i], l);
        w += l;
        if (i + 1 < pn) *w++ = '/';
    }
    *w = 0;
    if (dfs_key_check(k) != 0) { free(k); goto out; }
    *key = k;
    rv = 0;
out:
    free(pbuf);
    free(pc);
    free(rbuf);
    free(rc);
    return rv;
}

size_t dfs_video_len(const char *key)
{
    const char *slash = strrchr(key, '/');
    return slash ? (size_t)(slash - key) : 0;
}

char *dfs_video_id(const char *key)
{
    size_t n = dfs_video_len(key);
    if (n == 0) {
        dfs_fail("key '%s' has no video part (expected VIDEO/FRAME, e.g. fs/000_003/f05)", key);
        return NULL;
    }
    char *v = dfs_malloc(n + 1);
    memcpy(v, key, n);
    v[n] = 0;
    return v;
}

/* ---- manifests ---- */
enum { COL_PATH, COL_LABEL, COL_KEY, COL_DATASET, NCOLS };
static const char *col_names[NCOLS] = {"path", "label", "key", "dataset"};

/* Split line at tabs in place; returns the number of fields (up to max). -1 when more. */
static int split_tabs(char *line, char **f, int max)
{
    int n = 0;
    for (char *p = line;;) {
        if (n == max) return -1;
        f[n++] = p;
        char *t = strchr(p, '\t');
        if (!t) break;
        *t = 0;
        p = t + 1;
    }
    return n;
}

static int manifest_fail(const dfs_manifest *m, long line, const char *fmt, ...) DFS_PRINTF(3, 4);
static int manifest_fail(const dfs_manifest *m, long line, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dfs_fail("%s: line %ld: %s", m->name, line, msg);
}

int dfs_manifest_read(const char *path, const char *prefix, dfs_manifest *m)
{
    memset(m, 0, sizeof *m);
    int from_stdin = strcmp(path, "-") == 0;
    m->name = dfs_strdup(from_stdin ? "<stdin>" : path);
    FILE *f = from_stdin ? stdin : fopen(path, "r");
    if (!f) {
        int e = errno;
        dfs_fail("%s: %s", path, strerror(e));
        dfs_manifest_free(m);
        return -1;
    }
    /* paths are relative to the manifest's directory */
    const char *slash = from_stdin ? NULL : strrchr(path, '/');
    char *dir = NULL;
    if (slash) {
        dir = dfs_malloc((size_t)(slash - path) + 2);
        memcpy(dir, path, (size_t)(slash - path) + 1);
        dir[slash - path + 1] = 0;
    }
    int cols[NCOLS], ncols = 0, header_done = 0, rv = -1;
    for (int i = 0; i < NCOLS; i++) cols[i] = i;
    dfs_strmap keys;
    dfs_strmap_init(&keys);
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    ssize_t len;
    errno = 0;
    while ((len = dfs_getline(&line, &cap, f)) != -1) {
        lineno++;
        if (len == -2) { manifest_fail(m, lineno, "longer than %u bytes", DFS_MAX_LINE); goto out; }
        if ((size_t)len != strlen(line)) { manifest_fail(m, lineno, "NUL byte in the line"); goto out; }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len == 0 || line[0] == '#') continue;
        char *fld[NCOLS];
        int nf = split_tabs(line, fld, NCOLS);
        if (!header_done) {
            header_done = 1;
            int is_header = 0;   /* a header line names the columns: no label is "path" or "label" */
            for (int j = 0; j < (nf < 0 ? NCOLS : nf); j++)
                is_header |= strcmp(fld[j], "path") == 0 || strcmp(fld[j], "label") == 0;
            if (is_header) {
                for (int i = 0; i < NCOLS; i++) cols[i] = -1;
                if (nf < 0) { manifest_fail(m, lineno, "more than 4 columns in the header"); goto out; }
                for (int j = 0; j < nf; j++) {
                    int c = -1;
                    for (int i = 0; i < NCOLS; i++)
                        if (strcmp(fld[j], col_names[i]) == 0) c = i;
                    if (c < 0) {
                        manifest_fail(m, lineno, "unknown column '%s' (columns are path, label, key, dataset)", fld[j]);
                        goto out;
                    }
                    if (cols[c] >= 0) { manifest_fail(m, lineno, "column '%s' appears twice", fld[j]); goto out; }
                    cols[c] = j;
                }
                if (cols[COL_PATH] < 0) { manifest_fail(m, lineno, "the header has no 'path' column"); goto out; }
                if (cols[COL_LABEL] < 0) { manifest_fail(m, lineno, "the header has no 'label' column"); goto out; }
                ncols = nf;
                continue;
            }
        }
        if (ncols ? nf != ncols : (nf < 2 || nf > NCOLS)) {
            char want[64];
            if (ncols) snprintf(want, sizeof want, "%d (as in the header)", ncols);
            else snprintf(want, sizeof want, "2 to 4 (path, label, [key, [dataset]])");
            if (nf < 0) manifest_fail(m, lineno, "expected %s tab-separated fields, got more", want);
            else manifest_fail(m, lineno, "expected %s tab-separated fields, got %d", want, nf);
            goto out;
        }
        const char *fpath = fld[cols[COL_PATH]];
        const char *flabel = fld[cols[COL_LABEL]];
        const char *fkey = cols[COL_KEY] >= 0 && cols[COL_KEY] < nf ? fld[cols[COL_KEY]] : "";
        const char *fdata = cols[COL_DATASET] >= 0 && cols[COL_DATASET] < nf ? fld[cols[COL_DATASET]] : "";
        if (!*fpath) { manifest_fail(m, lineno, "empty path"); goto out; }
        int label;
        if (dfs_label_parse(flabel, &label) != 0) { manifest_fail(m, lineno, "%s", dfs_error()); goto out; }
        char *key = NULL;
        if (*fkey) {
            if (dfs_key_check(fkey) != 0) { manifest_fail(m, lineno, "%s", dfs_error()); goto out; }
            key = dfs_strdup(fkey);
        } else if (dfs_key_from_path(fpath, NULL, prefix, &key) != 0) {
            manifest_fail(m, lineno, "%s: %s", fpath, dfs_error());
            goto out;
        }
        if (*fdata && text_field_valid(fdata, "dataset") != 0) {
            free(key);
            manifest_fail(m, lineno, "%s", dfs_error());
            goto out;
        }
        int dup;
        size_t first = dfs_strmap_put(&keys, key, (size_t)lineno, &dup);
        if (dup) {
            manifest_fail(m, lineno, "key '%s' already given on line %zu", key, first);
            free(key);
            goto out;
        }
        if (m->n == m->cap) {
            m->cap = m->cap ? 2 * m->cap : 64;
            m->v = dfs_realloc(m->v, m->cap * sizeof *m->v);
        }
        dfs_manifest_entry *e = &m->v[m->n++];
        e->label = label;
        e->key = key;
        e->dataset = *fdata ? dfs_strdup(fdata) : NULL;
        e->line = lineno;
        size_t dl = dir && fpath[0] != '/' ? strlen(dir) : 0;
        e->path = dfs_malloc(dl + strlen(fpath) + 1);
        if (dl) memcpy(e->path, dir, dl);   /* dir is NULL for a bare manifest name */
        strcpy(e->path + dl, fpath);
        errno = 0;
    }
    if (ferror(f)) { dfs_fail("%s: read error: %s", m->name, strerror(errno ? errno : EIO)); goto out; }
    rv = 0;
out:
    free(line);
    free(dir);
    dfs_strmap_free(&keys);
    if (!from_stdin) fclose(f);
    if (rv != 0) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", dfs_error());
        dfs_manifest_free(m);
        dfs_fail("%s", msg);
    }
    return rv;
}

void dfs_manifest_free(dfs_manifest *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].path);
        free(m->v[i].key);
        free(m->v[i].dataset);
    }
    free(m->v);
    free(m->name);
    memset(m, 0, sizeof *m);
}

/* ---- relabelling by video ---- */
enum { RL_VIDEO, RL_LABEL, RL_DATASET, RL_NCOLS };

void dfs_relabel_free(dfs_relabel *rl)
{
    for (size_t i = 0; i < rl->n; i++) free(rl->datasets[i]);
    free(rl->datasets);
    free(rl->labels);
    dfs_strmap_free(&rl->index);
    free(rl->name);
    memset(rl, 0, sizeof *rl);
}

int dfs_keylist_read(const char *path, dfs_strmap *set)
{
    dfs_strmap_init(set);
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        dfs_fail("%s: %s", path, strerror(e));
        return -1;
    }
    dfs_manifest named = {.name = (char *)path};
    size_t lcap = 0;
    char *line = NULL;
    long lineno = 0;
    ssize_t len;
    int rv = 0;
    errno = 0;
    while ((len = dfs_getline(&line, &lcap, f)) != -1) {
        lineno++;
        if (len == -2) { rv = manifest_fail(&named, lineno, "longer than %u bytes", DFS_MAX_LINE); break; }
        if ((size_t)len != strlen(line)) { rv = manifest_fail(&named, lineno, "NUL byte in the line"); break; }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len == 0 || line[0] == '#') continue;
        if (dfs_key_check(line) != 0) { rv = manifest_fail(&named, lineno, "%s", dfs_error()); break; }
        dfs_strmap_put(set, line, 0, NULL);
    }
    if (!rv && ferror(f)) rv = dfs_fail("%s: read error: %s", path, strerror(errno));
    free(line);
    fclose(f);
    if (rv) dfs_strmap_free(set);
    return rv ? -1 : 0;
}

int dfs_relabel_read(const char *path, dfs_relabel *rl)
{
    memset(rl, 0, sizeof *rl);
    dfs_strmap_init(&rl->index);
    rl->name = dfs_strdup(path);
    /* manifest_fail only needs the name */
    dfs_manifest named = {.name = rl->name};
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        dfs_fail("%s: %s", path, strerror(e));
        dfs_relabel_free(rl);
        return -1;
    }
    enum { MAXF = 64 };
    int cols[RL_NCOLS] = {-1, -1, -1}, ncols = 0, rv = -1;
    size_t cap = 0, lcap = 0;
    char *line = NULL;
    long lineno = 0;
    ssize_t len;
    errno = 0;
    while ((len = dfs_getline(&line, &lcap, f)) != -1) {
        lineno++;
        if (len == -2) { manifest_fail(&named, lineno, "longer than %u bytes", DFS_MAX_LINE); goto out; }
        if ((size_t)len != strlen(line)) { manifest_fail(&named, lineno, "NUL byte in the line"); goto out; }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len == 0 || line[0] == '#') continue;
        char *fld[MAXF];
        int nf = split_tabs(line, fld, MAXF);
        if (nf < 0) { manifest_fail(&named, lineno, "more than %d columns", MAXF); goto out; }
        if (!ncols) {   /* the header */
            static const char *names[RL_NCOLS] = {"video", "label", "dataset"};
            for (int j = 0; j < nf; j++)
                for (int c = 0; c < RL_NCOLS; c++)
                    if (strcmp(fld[j], names[c]) == 0) {
                        if (cols[c] >= 0) { manifest_fail(&named, lineno, "column '%s' appears twice", names[c]); goto out; }
                        cols[c] = j;
                    }
            if (cols[RL_VIDEO] < 0 || cols[RL_LABEL] < 0) {
                manifest_fail(&named, lineno, "the first line must be a header naming the columns 'video' and 'label'");
                goto out;
            }
            ncols = nf;
            continue;
        }
        if (nf != ncols) {
            manifest_fail(&named, lineno, "expected %d (as in the header) tab-separated fields, got %d", ncols, nf);
            goto out;
        }
        const char *video = fld[cols[RL_VIDEO]];
        const char *data = cols[RL_DATASET] >= 0 ? fld[cols[RL_DATASET]] : "";
        int label;
        if (dfs_label_parse(fld[cols[RL_LABEL]], &label) != 0) { manifest_fail(&named, lineno, "%s", dfs_error()); goto out; }
        if (dfs_key_check(video) != 0) { manifest_fail(&named, lineno, "video: %s", dfs_error()); goto out; }
        if (*data && text_field_valid(data, "dataset") != 0) { manifest_fail(&named, lineno, "%s", dfs_error()); goto out; }
        int dup;
        size_t first = dfs_strmap_put(&rl->index, video, rl->n, &dup);
        if (dup) {
            (void)first;
            manifest_fail(&named, lineno, "video '%s' is listed twice", video);
            goto out;
        }
        if (rl->n == cap) {
            cap = cap ? 2 * cap : 64;
            rl->labels = dfs_realloc(rl->labels, cap * sizeof *rl->labels);
            rl->datasets = dfs_realloc(rl->datasets, cap * sizeof *rl->datasets);
        }
        rl->labels[rl->n] = label;
        rl->datasets[rl->n] = *data ? dfs_strdup(data) : NULL;
        rl->n++;
        errno = 0;
    }
    if (ferror(f)) { dfs_fail("%s: read error: %s", path, strerror(errno)); goto out; }
    if (!ncols) { dfs_fail("%s: no header line (video, label[, dataset])", path); goto out; }
    rv = 0;
out:
    free(line);
    fclose(f);
    if (rv != 0) dfs_relabel_free(rl);
    return rv;
}

int dfs_relabel_apply(const dfs_relabel *rl, dfs_record *r)
{
    char *key = dfs_meta_dup(r, "key");
    if (!key) return dfs_fail("record has no key, so its video is unknown");
    char *video = dfs_video_id(key);
    free(key);
    if (!video) return -1;
    size_t i;
    if (!dfs_strmap_get(&rl->index, video, &i)) {
        dfs_fail("video '%s' is not in %s", video, rl->name);
        free(video);
        return -1;
    }
    free(video);
    r->label = rl->labels[i];
    if (rl->datasets[i] && dfs_meta_set(r, "dataset", rl->datasets[i]) != 0) return -1;
    return 0;
}

int dfs_manifest_write_header(dfs_out *o)
{
    static const char h[] = "path\tlabel\tkey\tdataset\n";
    return dfs_out_write(o, h, sizeof h - 1);
}

int dfs_manifest_write_entry(dfs_out *o, const char *path, int label, const char *key, const char *dataset)
{
    if (text_field_valid(path, "path") != 0 || dfs_key_check(key) != 0 ||
        (dataset && *dataset && text_field_valid(dataset, "dataset") != 0))
        return dfs_fail_prefix(dfs_out_name(o));
    if (fprintf(o->f, "%s\t%s\t%s\t%s\n", path, dfs_label_name(label), key, dataset ? dataset : "") < 0)
        return dfs_fail("%s: write failed: %s", dfs_out_name(o), strerror(errno ? errno : EIO));
    return 0;
}

/* ---- PNG -> record ---- */
int dfs_png_to_record(const char *path, int size, int label, const char *key, const char *dataset,
                      dfs_record *r)
{
    dfs_image im;
    if (dfs_png_read(path, &im) != 0) return -1;
    if (size > 0 && (im.w != size || im.h != size)) {
        dfs_image small;
        if (dfs_image_resize(&im, &small, size, size) != 0) {
            dfs_image_free(&im);
            return dfs_fail_prefix(path);
        }
        dfs_image_free(&im);
        im = small;
    }
    int rv = dfs_image_to_record(&im, r);
    dfs_image_free(&im);
    if (rv != 0) return dfs_fail_prefix(path);
    r->label = label;
    if (dfs_meta_set(r, "key", key) != 0 || dfs_meta_set(r, "dataset", dataset) != 0)
        return dfs_fail_prefix(path);
    return 0;
}

int dfs_record_resize(dfs_record *r, int size)
{
    char shape[128];
    if (!dfs_record_is_image(r))
        return dfs_fail("resizing needs an u8 HxWx3 image record, got %s %s", dfs_dtype_name(r->dtype),
                        dfs_shape_str(r, shape, sizeof shape));
    if (r->dims[0] == (uint64_t)size && r->dims[1] == (uint64_t)size) return 0;
    dfs_image im, out;
    if (dfs_image_from_record(r, &im) != 0) return -1;
    int rr = dfs_image_resize(&im, &out, size, size);
    dfs_image_free(&im);
    if (rr != 0) return -1;
    /* dfs_image_to_record resets the label and metadata: keep them */
    int label = r->label;
    char *meta = dfs_strdup(r->meta);
    int rv = dfs_image_to_record(&out, r);
    dfs_image_free(&out);
    r->label = label;
    for (char *line = meta; rv == 0 && *line;) {
        char *nl = strchr(line, '\n'), *eq = strchr(line, '=');
        *nl = 0;
        *eq = 0;
        rv = dfs_meta_set(r, line, eq + 1);
        line = nl + 1;
    }
    free(meta);
    return rv;
}

/* ---- sampling ---- */
int dfs_sample(const dfs_sample_item *items, size_t n, const dfs_sample_opts *o, size_t **a,
               size_t *na, size_t **b, size_t *nb, size_t *bad)
{
    uint64_t *idx = dfs_malloc((n ? n : 1) * sizeof *idx);
    size_t m = n;
    *a = *b = NULL;
    *na = *nb = 0;
    for (size_t i = 0; i < n; i++) idx[i] = i;
    if (o->shuffle) {
        dfs_rng rng;
        dfs_rng_derive(&rng, o->seed, dfs_hash_str("pack.shuffle"));
        dfs_rng_shuffle(&rng, idx, n);
    }
    if (o->balance) {
        size_t nreal = 0, nfake = 0;
        for (size_t i = 0; i < n; i++) {
            int l = items[idx[i]].label;
            if (l == DFS_LABEL_REAL) nreal++;
            else if (l == DFS_LABEL_FAKE) nfake++;
            else {
                dfs_fail("label unknown; balancing needs every sample labelled real or fake");
                *bad = (size_t)idx[i];
                free(idx);
                return -1;
            }
        }
        size_t k = nreal < nfake ? nreal : nfake;
        if (o->take >= 0 && (unsigned long long)k > (unsigned long long)(o->take / 2)) k = (size_t)(o->take / 2);
        size_t kr = 0, kf = 0;
        m = 0;
        for (size_t i = 0; i < n; i++) {
            int l = items[idx[i]].label;
            if (l == DFS_LABEL_REAL ? kr++ < k : kf++ < k) idx[m++] = idx[i];
        }
    } else if (o->take >= 0 && (unsigned long long)m > (unsigned long long)o->take) {
        m = (size_t)o->take;
    }
    if (o->split < 0) {
        *a = dfs_malloc((m ? m : 1) * sizeof **a);
        for (size_t i = 0; i < m; i++) (*a)[i] = (size_t)idx[i];
        *na = m;
        free(idx);
        return 0;
    }
    /* group samples into units (videos, or single samples), in first-appearance order */
    size_t *unit = dfs_malloc((m ? m : 1) * sizeof *unit);
    size_t nunits = 0;
    dfs_strmap videos;
    dfs_strmap_init(&videos);
    for (size_t i = 0; i < m; i++) {
        const dfs_sample_item *it = &items[idx[i]];
        if (!o->by_video) { unit[i] = nunits++; continue; }
        if (!it->key) {
            dfs_fail("no key; splitting by video needs the key= of every sample");
            *bad = (size_t)idx[i];
            dfs_strmap_free(&videos);
            free(unit);
            free(idx);
            return -1;
        }
        char *vid = dfs_video_id(it->key);
        if (!vid) {
            char why[512];   /* dfs_error() is the buffer dfs_fail writes */
            snprintf(why, sizeof why, "%s", dfs_error());
            dfs_fail("%s; --by record splits single records", why);
            *bad = (size_t)idx[i];
            dfs_strmap_free(&videos);
            free(unit);
            free(idx);
            return -1;
        }
        int found;
        unit[i] = dfs_strmap_put(&videos, vid, nunits, &found);
        if (!found) nunits++;
        free(vid);
    }
    dfs_strmap_free(&videos);
    size_t *size = dfs_calloc(nunits ? nunits : 1, sizeof *size);
    int *ulabel = dfs_malloc((nunits ? nunits : 1) * sizeof *ulabel);
    char *side = dfs_calloc(nunits ? nunits : 1, 1);   /* 1: part A */
    for (size_t i = 0; i < m; i++) {
        if (size[unit[i]]++ == 0) ulabel[unit[i]] = items[idx[i]].label;
    }
    dfs_rng rng;
    dfs_rng_derive(&rng, o->seed, dfs_hash_str("pack.split"));
    uint64_t *order = dfs_malloc((nunits ? nunits : 1) * sizeof *order);
    static const int strata[3] = {DFS_LABEL_REAL, DFS_LABEL_FAKE, DFS_LABEL_UNKNOWN};
    for (int s = 0; s < 3; s++) {
        uint64_t nu = 0;
        long long count = 0;
        for (size_t u = 0; u < nunits; u++)
            if (ulabel[u] == strata[s]) { order[nu++] = u; count += (long long)size[u]; }
        dfs_rng_shuffle(&rng, order, nu);
        long long target = llround(o->split * (double)count), in_a = 0;
        for (uint64_t j = 0; j < nu; j++) {
            long long sz = (long long)size[order[j]];
            if (llabs(in_a + sz - target) < llabs(in_a - target)) {
                side[order[j]] = 1;
                in_a += sz;
            }
        }
    }
    *a = dfs_malloc((m ? m : 1) * sizeof **a);
    *b = dfs_malloc((m ? m : 1) * sizeof **b);
    for (size_t i = 0; i < m; i++) {
        if (side[unit[i]]) (*a)[(*na)++] = (size_t)idx[i];
        else (*b)[(*nb)++] = (size_t)idx[i];
    }
    free(order);
    free(side);
    free(ulabel);
    free(size);
    free(unit);
    free(idx);
    return 0;
}

/* ---- PNG directories ---- */
int dfs_pngdir_open(dfs_pngdir *d, const char *dir)
{
    memset(d, 0, sizeof *d);
    d->manifest.slot = -1;
    if (dfs_outdir_open(&d->out, dir) != 0) return -1;
    char *mpath = dfs_malloc(strlen(d->out.tmp) + 16);
    sprintf(mpath, "%s/manifest.tsv", d->out.tmp);
    int rv = dfs_out_open(&d->manifest, mpath, 0, 1);
    free(mpath);
    if (rv != 0 || dfs_manifest_write_header(&d->manifest) != 0) {
        dfs_outdir_error(&d->out);
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", dfs_error());
        dfs_pngdir_abort(d);
        return dfs_fail("%s", msg);
    }
    dfs_strmap_init(&d->keys);
    return 0;
}

int dfs_pngdir_add(dfs_pngdir *d, const dfs_record *r, const char *where)
{
    char shape[128];
    if (!dfs_record_is_image(r))
        return dfs_fail("%s: not an u8 HxWx3 image (%s %s); only images can be unpacked to PNG", where,
                        dfs_dtype_name(r->dtype), dfs_shape_str(r, shape, sizeof shape));
    char *key = dfs_meta_dup(r, "key");
    if (!key) return dfs_fail("%s: no key= (unpacking names each PNG after its key)", where);
    int rv = -1, dup;
    char *file = NULL, *dataset = NULL;
    dfs_image im = {0};
    if (dfs_key_check(key) != 0) { dfs_fail_prefix(where); goto out; }
    size_t first = dfs_strmap_put(&d->keys, key, (size_t)d->count, &dup);
    if (dup) { dfs_fail("%s: key '%s' already used by image %zu", where, key, first); goto out; }
    size_t fl = strlen(d->out.tmp) + strlen(key) + 8;
    file = dfs_malloc(fl);
    snprintf(file, fl, "%s/%s.png", d->out.tmp, key);
    char *slash = strrchr(file, '/');
    *slash = 0;
    if (dfs_mkdir_p(file) != 0) { dfs_fail_prefix(where); goto out; }
    *slash = '/';
    if (dfs_image_from_record(r, &im) != 0 || dfs_png_write(file, &im) != 0) { dfs_fail_prefix(where); goto out; }
    dataset = dfs_meta_dup(r, "dataset");
    char *rel = file + strlen(d->out.tmp) + 1;
    if (dfs_manifest_write_entry(&d->manifest, rel, r->label, key, dataset) != 0) goto out;
    d->count++;
    rv = 0;
out:
    if (rv != 0) dfs_outdir_error(&d->out);   /* name DIR, not DIR.tmp.PID */
    dfs_image_free(&im);
    free(dataset);
    free(file);
    free(key);
    return rv;
}

int dfs_pngdir_commit(dfs_pngdir *d)
{
    if (dfs_out_commit(&d->manifest) != 0 || dfs_outdir_commit(&d->out) != 0) {
        dfs_outdir_error(&d->out);
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", dfs_error());
        dfs_pngdir_abort(d);
        return dfs_fail("%s", msg);
    }
    dfs_pngdir_abort(d);   /* frees the rest */
    return 0;
}

void dfs_pngdir_abort(dfs_pngdir *d)
{
    if (d->manifest.f) dfs_out_abort(&d->manifest);
    dfs_outdir_abort(&d->out);
    dfs_strmap_free(&d->keys);
    memset(d, 0, sizeof *d);
    d->manifest.slot = -1;
}
