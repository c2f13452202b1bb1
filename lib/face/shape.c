/* shape.c: dlib's shape_predictor (Kazemi & Sullivan's ensemble of regression trees) read from
 * its serialized file and run as dlib runs it.
 *
 * The file is dlib's serialization of: int version (1); matrix<float> initial_shape;
 * vector<vector<regression_tree>> forests, a tree being vector<split {ulong idx1, idx2; float
 * thresh}> then vector<matrix<float>> leaf values; vector<vector<ulong>> anchor_idx;
 * vector<vector<vector<float,2>>> deltas. Integers are a control byte (low nibble: byte count,
 * 0x80: negative) and that many little-endian bytes; floats are an integer mantissa and an
 * integer exponent (value = mantissa * 2^exponent); matrices are rows and columns (negated in
 * the current format) then the elements; vectors are a count then the elements. */
#pragma GCC optimize("fp-contract=off")   /* float arithmetic as dlib's (no fused multiply-add) */
#include "face/face.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    int depth_splits;   /* splits per tree (2^d - 1) */
    uint32_t *idx;      /* ntrees * splits * 2 */
    float *thresh;      /* ntrees * splits */
    float *leaves;      /* ntrees * (splits + 1) * dim */
    int ntrees;
    uint32_t *anchor;   /* nfeat */
    float *delta;       /* nfeat * 2 */
    int nfeat;
} level;

struct dfs_shape_model {
    int dim;            /* 2 * points */
    float *initial;
    level *levels;
    int nlevels;
};

typedef struct {
    const uint8_t *p, *end;
    const char *why;
} rd;

static uint64_t get_uint(rd *r)
{
    if (r->why) return 0;
    if (r->p >= r->end) { r->why = "truncated"; return 0; }
    int ctl = *r->p++;
    int n = ctl & 0x0F;
    if ((ctl & 0x70) || n > 8 || n == 0 || r->end - r->p < n) { r->why = "bad integer"; return 0; }
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= (uint64_t)r->p[i] << (8 * i);
    r->p += n;
    if (ctl & 0x80) { r->why = "negative count"; return 0; }
    return v;
}

static int64_t get_int(rd *r)
{
    if (r->why) return 0;
    if (r->p >= r->end) { r->why = "truncated"; return 0; }
    int ctl = *r->p++;
    int n = ctl & 0x0F;
    if ((ctl & 0x70) || n > 8 || n == 0 || r->end - r->p < n) { r->why = "bad integer"; return 0; }
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= (uint64_t)r->p[i] << (8 * i);
    r->p += n;
    if (v > INT64_MAX) { r->why = "integer out of range"; return 0; }   /* 2^63 has no int64 negation */
    return ctl & 0x80 ? -(int64_t)v : (int64_t)v;
}

static float get_float(rd *r)
{
    if (r->why) return 0;
    if (r->p < r->end && (*r->p & 0x70)) { r->why = "floats in dlib's old text format are not supported"; return 0; }
    int64_t mant = get_int(r), ex = get_int(r);
    if (ex >= 32000) return ex == 32000 ? INFINITY : ex == 32001 ? -INFINITY : NAN;
    return (float)ldexp((double)mant, (int)ex);
}

/* a column vector: rows, cols (possibly negated), values; returns its length */
static long get_matrix(rd *r, float *out, long want)
{
    int64_t nr = get_int(r), nc = get_int(r);
    if (nr < 0) nr = -nr;
    if (nc < 0) nc = -nc;
    if (r->why) return 0;
    if (nc != 1 || nr <= 0 || nr > 100000 || (want > 0 && nr != want)) { r->why = "unexpected matrix shape"; return 0; }
    for (long i = 0; i < nr; i++) {
        float v = get_float(r);
        if (out) out[i] = v;
    }
    return (long)nr;
}

static uint64_t get_count(rd *r, uint64_t max)
{
    uint64_t n = get_uint(r);
    if (!r->why && n > max) r->why = "implausible element count";
    return r->why ? 0 : n;
}

void dfs_shape_model_free(dfs_shape_model *m)
{
    if (!m) return;
    for (int i = 0; i < m->nlevels; i++) {
        level *l = &m->levels[i];
        free(l->idx); free(l->thresh); free(l->leaves); free(l->anchor); free(l->delta);
    }
    free(m->levels);
    free(m->initial);
    free(m);
}

dfs_shape_model *dfs_shape_model_load(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) { dfs_fail("%s: cannot open: %s", path, strerror(errno)); return NULL; }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || sb.st_size <= 0) { close(fd); dfs_fail("%s: empty or unreadable", path); return NULL; }
    void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) { dfs_fail("%s: cannot map: %s", path, strerror(errno)); return NULL; }
    rd r = {map, (const uint8_t *)map + sb.st_size, NULL};
    dfs_shape_model *m = dfs_calloc(1, sizeof *m);
    int64_t version = get_int(&r);
    if (!r.why && version != 1) r.why = "not a dlib shape_predictor (version is not 1)";
    /* initial shape: read its length first, then the values */
    rd peek = r;
    long dim = r.why ? 0 : get_matrix(&peek, NULL, 0);
    if (!r.why && peek.why) r.why = peek.why;
    if (!r.why && (dim < 2 || dim % 2)) r.why = "bad initial shape";
    if (!r.why) {
        m->dim = (int)dim;
        m->initial = dfs_malloc((size_t)dim * sizeof *m->initial);
        get_matrix(&r, m->initial, dim);
    }
    uint64_t nlev = get_count(&r, 1000);
    if (!r.why && nlev == 0) r.why = "no cascade levels";
    m->levels = dfs_calloc(nlev ? nlev : 1, sizeof *m->levels);
    m->nlevels = (int)nlev;
    for (uint64_t li = 0; li < nlev && !r.why; li++) {
        level *l = &m->levels[li];
        uint64_t nt = get_count(&r, 100000);
        l->ntrees = (int)nt;
        for (uint64_t t = 0; t < nt && !r.why; t++) {
            uint64_t ns = get_count(&r, 1 << 16);
            if (t == 0) {
                /* the level's trees must fit in what is left of the file (a split takes at least 8
                 * bytes, a leaf 4 per value plus its shape), so counts cannot claim gigabytes */
                double need = (double)nt * ((double)ns * 8 + (double)(ns + 1) * (4 + 4.0 * dim));
                if (!r.why && need > (double)(r.end - r.p)) { r.why = "trees larger than the file"; break; }
                /* all trees of a level share one depth (dlib trains them so); checked below */
                l->depth_splits = (int)ns;
                l->idx = dfs_malloc(nt * (ns ? ns : 1) * 2 * sizeof *l->idx);
                l->thresh = dfs_malloc(nt * (ns ? ns : 1) * sizeof *l->thresh);
                l->leaves = dfs_malloc(nt * (ns + 1) * (size_t)dim * sizeof *l->leaves);
            } else if ((int)ns != l->depth_splits) {
                r.why = "trees of different depths in one level";
                break;
            }
            for (uint64_t s = 0; s < ns && !r.why; s++) {
                uint64_t a = get_uint(&r), b = get_uint(&r);
                l->idx[(t * ns + s) * 2] = (uint32_t)a;
                l->idx[(t * ns + s) * 2 + 1] = (uint32_t)b;
                l->thresh[t * ns + s] = get_float(&r);
                if (a > UINT32_MAX || b > UINT32_MAX) r.why = "bad split index";
            }
            uint64_t nleaf = get_count(&r, 1 << 17);
            if (!r.why && nleaf != ns + 1) r.why = "leaf count is not splits + 1";
            for (uint64_t k = 0; k < nleaf && !r.why; k++)
                get_matrix(&r, l->leaves + (t * (ns + 1) + k) * (size_t)dim, dim);
        }
    }
    uint64_t na = get_count(&r, 1000);
    if (!r.why && na != nlev) r.why = "anchor list does not match the levels";
    for (uint64_t li = 0; li < na && !r.why; li++) {
        level *l = &m->levels[li];
        uint64_t nf = get_count(&r, 1 << 20);
        if (!r.why && nf * 2 > (uint64_t)(r.end - r.p)) r.why = "anchor list larger than the file";
        if (r.why) break;
        l->nfeat = (int)nf;
        l->anchor = dfs_malloc((nf ? nf : 1) * sizeof *l->anchor);
        for (uint64_t k = 0; k < nf && !r.why; k++) {
            uint64_t a = get_uint(&r);
            if (!r.why && a >= (uint64_t)dim / 2) r.why = "anchor index outside the shape";
            l->anchor[k] = (uint32_t)a;
        }
    }
    uint64_t nd = get_count(&r, 1000);
    if (!r.why && nd != nlev) r.why = "delta list does not match the levels";
    for (uint64_t li = 0; li < nd && !r.why; li++) {
        level *l = &m->levels[li];
        uint64_t nf = get_count(&r, 1 << 20);
        if (!r.why && (int)nf != l->nfeat) r.why = "deltas do not match anchors";
        if (r.why) break;
        l->delta = dfs_malloc((nf ? nf : 1) * 2 * sizeof *l->delta);
        for (uint64_t k = 0; k < nf && !r.why; k++) {
            l->delta[2 * k] = get_float(&r);
            l->delta[2 * k + 1] = get_float(&r);
        }
    }
    for (int li = 0; li < m->nlevels && !r.why; li++) {
        level *l = &m->levels[li];
        for (long k = 0; k < (long)l->ntrees * l->depth_splits * 2; k++)
            if (l->idx[k] >= (uint32_t)l->nfeat) { r.why = "split names a missing feature"; break; }
    }
    munmap(map, (size_t)sb.st_size);
    if (r.why) {
        dfs_fail("%s: %s", path, r.why);
        dfs_shape_model_free(m);
        return NULL;
    }
    return m;
}

int dfs_shape_model_points(const dfs_shape_model *m) { return m->dim / 2; }

void dfs_shape_predict(const dfs_shape_model *m, const dfs_image *gray, dfs_box box, float *pts)
{
    int dim = m->dim, np = dim / 2;
    float *cur = pts;
    memcpy(cur, m->initial, (size_t)dim * sizeof *cur);
    /* the unit square maps onto dlib's inclusive rectangle */
    double left = box.x, top = box.y, sx = (double)(box.w - 1), sy = (double)(box.h - 1);
    int maxfeat = 0;
    for (int li = 0; li < m->nlevels; li++)
        if (m->levels[li].nfeat > maxfeat) maxfeat = m->levels[li].nfeat;
    float *fv = dfs_malloc((size_t)(maxfeat ? maxfeat : 1) * sizeof *fv);
    for (int li = 0; li < m->nlevels; li++) {
        const level *l = &m->levels[li];
        /* least-squares similarity from the initial shape to the current one (only its linear
         * part moves the feature offsets): a = sum(x.y)/sum|x|^2, b = sum(x cross y)/sum|x|^2 */
        double mfx = 0, mfy = 0, mtx = 0, mty = 0;
        for (int i = 0; i < np; i++) {
            mfx += m->initial[2 * i]; mfy += m->initial[2 * i + 1];
            mtx += cur[2 * i]; mty += cur[2 * i + 1];
        }
        mfx /= np; mfy /= np; mtx /= np; mty /= np;
        double sxx = 0, dot = 0, crs = 0;
        for (int i = 0; i < np; i++) {
            double fx = m->initial[2 * i] - mfx, fy = m->initial[2 * i + 1] - mfy;
            double tx = cur[2 * i] - mtx, ty = cur[2 * i + 1] - mty;
            sxx += fx * fx + fy * fy;
            dot += fx * tx + fy * ty;
            crs += fx * ty - fy * tx;
        }
        float a = (float)(sxx > 0 ? dot / sxx : 1), b = (float)(sxx > 0 ? crs / sxx : 0);
        for (int k = 0; k < l->nfeat; k++) {
            float dx = l->delta[2 * k], dy = l->delta[2 * k + 1];
            uint32_t an = l->anchor[k];
            float u = a * dx - b * dy + cur[2 * an];
            float v = b * dx + a * dy + cur[2 * an + 1];
            double ix = floor(left + u * sx + 0.5), iy = floor(top + v * sy + 0.5);
            fv[k] = ix >= 0 && iy >= 0 && ix < gray->w && iy < gray->h ? gray->px[(size_t)iy * gray->w + (size_t)ix] : 0.f;
        }
        int ns = l->depth_splits;
        for (int t = 0; t < l->ntrees; t++) {
            const uint32_t *idx = l->idx + (size_t)t * ns * 2;
            const float *th = l->thresh + (size_t)t * ns;
            int i = 0;
            while (i < ns) i = fv[idx[2 * i]] - fv[idx[2 * i + 1]] > th[i] ? 2 * i + 1 : 2 * i + 2;
            const float *leaf = l->leaves + ((size_t)t * (ns + 1) + (size_t)(i - ns)) * dim;
            for (int d = 0; d < dim; d++) cur[d] += leaf[d];
        }
    }
    free(fv);
    for (int i = 0; i < np; i++) {
        pts[2 * i] = (float)(left + cur[2 * i] * sx);
        pts[2 * i + 1] = (float)(top + cur[2 * i + 1] * sy);
    }
}
