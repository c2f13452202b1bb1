/* cascade.c: OpenCV Haar cascades (the XML format of opencv-data: stages of boosted stumps over
 * rectangle features) read and run as OpenCV 4's detectMultiScale does, so the boxes agree. */
#include "face/face.h"
#pragma GCC optimize("fp-contract=off")   /* float arithmetic as OpenCV's (no fused multiply-add) */

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct { int x, y, w, h; float weight; } hrect;
typedef struct { hrect r[3]; int nr; } hfeature;
typedef struct { int feature; float threshold, left, right; } hstump;
typedef struct { int first, count; float threshold; } hstage;

struct dfs_cascade {
    int win_w, win_h;
    hfeature *features;
    int nfeatures;
    hstump *stumps;
    int nstumps;
    hstage *stages;
    int nstages;
};

int dfs_face_gray(const dfs_image *rgb, dfs_image *gray)
{
    if (dfs_image_alloc(gray, rgb->w, rgb->h, 1) != 0) return -1;
    size_t n = (size_t)rgb->w * rgb->h;
    const uint8_t *p = rgb->px;
    for (size_t i = 0; i < n; i++, p += 3)
        gray->px[i] = (uint8_t)((p[0] * 9798 + p[1] * 19235 + p[2] * 3735 + (1 << 14)) >> 15);
    return 0;
}

void dfs_detect_defaults(dfs_detect_opts *o)
{
    o->scale_factor = 1.1;
    o->min_neighbors = 3;
    o->min_size = 0;
    o->max_size = 0;
}

/* ---- the XML: only the elements a stump cascade needs, found by tag ---- */

static const char *tag_after(const char *p, const char *end, const char *tag)
{
    size_t n = strlen(tag);
    for (const char *q = p; q && q + n <= end; q++) {
        q = memchr(q, '<', (size_t)(end - q));
        if (!q || q + n > end) return NULL;
        if (!memcmp(q, tag, n)) return q + n;
    }
    return NULL;
}

/* Parse up to max numbers from the text at p (stops at '<'); returns how many, -1 on text that is
 * not a number or a number outside +-1e9 (NaN included): every value is later converted to int or
 * float, and a cast of an out-of-range double is undefined. */
static int numbers(const char *p, double *out, int max)
{
    int n = 0;
    while (n < max) {
        while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
        if (*p == '<' || !*p) break;
        char *e;
        double v = strtod(p, &e);
        if (e == p || !(v >= -1e9 && v <= 1e9)) return -1;
        out[n++] = v;
        p = e;
    }
    return n;
}

dfs_cascade *dfs_cascade_load(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) { dfs_fail("%s: cannot open: %s", path, strerror(errno)); return NULL; }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (len <= 0 || len > (1L << 28)) { fclose(f); dfs_fail("%s: not a cascade file", path); return NULL; }
    char *buf = dfs_malloc((size_t)len + 1);
    size_t got = fread(buf, 1, (size_t)len, f);
    fclose(f);
    buf[got] = 0;
    const char *end = buf + got;
    dfs_cascade *c = dfs_calloc(1, sizeof *c);
    const char *why = NULL;
    double v[8];
    const char *p = tag_after(buf, end, "<cascade");
    if (!p) why = "no <cascade> element (an old-format or non-OpenCV file?)";
    const char *q;
    if (!why && (!(q = tag_after(p, end, "<stageType>")) || strncmp(q, "BOOST", 5))) why = "stage type is not BOOST";
    if (!why && (!(q = tag_after(p, end, "<featureType>")) || strncmp(q, "HAAR", 4))) why = "feature type is not HAAR";
    if (!why && (!(q = tag_after(p, end, "<height>")) || numbers(q, v, 1) != 1)) why = "no window height";
    if (!why) c->win_h = (int)v[0];
    if (!why && (!(q = tag_after(p, end, "<width>")) || numbers(q, v, 1) != 1)) why = "no window width";
    if (!why) c->win_w = (int)v[0];
    if (!why && (c->win_w < 3 || c->win_h < 3 || c->win_w > 1000 || c->win_h > 1000)) why = "bad window size";
    const char *stages = why ? NULL : tag_after(p, end, "<stages>");
    const char *stages_end = stages ? tag_after(stages, end, "</stages>") : NULL;
    if (!why && !stages_end) why = "no <stages>";
    /* stages: each has a stageThreshold, then its weak classifiers (internalNodes + leafValues) */
    int scap = 0, tcap = 0;
    for (q = stages; !why && (q = tag_after(q, stages_end, "<stageThreshold>"));) {
        if (numbers(q, v, 1) != 1) { why = "bad stageThreshold"; break; }
        if (c->nstages == scap) c->stages = dfs_realloc(c->stages, (scap = scap ? 2 * scap : 32) * sizeof *c->stages);
        hstage *st = &c->stages[c->nstages++];
        /* OpenCV lowers every stage threshold by 1e-5 when it reads the cascade */
        st->threshold = (float)v[0] - 1e-5f;
        st->first = c->nstumps;
        const char *next = tag_after(q, stages_end, "<stageThreshold>");
        const char *lim = next ? next : stages_end;
        const char *w = q;
        while ((w = tag_after(w, lim, "<internalNodes>"))) {
            int k = numbers(w, v, 8);
            if (k != 4) { why = k > 4 ? "trees deeper than stumps are not supported" : "bad internalNodes"; break; }
            if (c->nstumps == tcap) c->stumps = dfs_realloc(c->stumps, (tcap = tcap ? 2 * tcap : 256) * sizeof *c->stumps);
            hstump *s = &c->stumps[c->nstumps];
            s->feature = (int)v[2];
            s->threshold = (float)v[3];
            if (!(w = tag_after(w, lim, "<leafValues>")) || numbers(w, v, 3) != 2) { why = "bad leafValues"; break; }
            s->left = (float)v[0];
            s->right = (float)v[1];
            c->nstumps++;
        }
        st->count = c->nstumps - st->first;
        if (!why && st->count == 0) why = "a stage without weak classifiers";
    }
    if (!why && c->nstages == 0) why = "no stages";
    /* features: <rects> of "x y w h weight" entries, in order */
    const char *feats = why ? NULL : tag_after(stages_end, end, "<features>");
    const char *feats_end = feats ? tag_after(feats, end, "</features>") : NULL;
    if (!why && !feats_end) why = "no <features>";
    int fcap = 0;
    for (q = feats; !why && (q = tag_after(q, feats_end, "<rects>"));) {
        const char *re = tag_after(q, feats_end, "</rects>");
        if (!re) { why = "unterminated <rects>"; break; }
        if (c->nfeatures == fcap) c->features = dfs_realloc(c->features, (fcap = fcap ? 2 * fcap : 256) * sizeof *c->features);
        hfeature *ft = &c->features[c->nfeatures++];
        memset(ft, 0, sizeof *ft);
        const char *r = q;
        while ((r = tag_after(r, re, "<_>"))) {
            if (ft->nr == 3 || numbers(r, v, 6) != 5) { why = "bad feature rectangle"; break; }
            hrect *h = &ft->r[ft->nr++];
            h->x = (int)v[0]; h->y = (int)v[1]; h->w = (int)v[2]; h->h = (int)v[3];
            h->weight = (float)v[4];
            if (h->x < 0 || h->y < 0 || h->w <= 0 || h->h <= 0 || h->x + h->w > c->win_w || h->y + h->h > c->win_h) {
                why = "feature rectangle outside the window";
                break;
            }
        }
        const char *t = tag_after(re, feats_end, "<tilted>");
        const char *nextf = tag_after(re, feats_end, "<rects>");
        if (!why && t && (!nextf || t < nextf) && numbers(t, v, 1) == 1 && v[0] != 0) why = "tilted features are not supported";
        if (!why && ft->nr < 2) why = "a feature with fewer than two rectangles";
        q = re;
    }
    for (int i = 0; !why && i < c->nstumps; i++)
        if (c->stumps[i].feature < 0 || c->stumps[i].feature >= c->nfeatures) why = "a weak classifier names a missing feature";
    free(buf);
    if (why) {
        dfs_fail("%s: %s", path, why);
        dfs_cascade_free(c);
        return NULL;
    }
    return c;
}

void dfs_cascade_free(dfs_cascade *c)
{
    if (!c) return;
    free(c->features);
    free(c->stumps);
    free(c->stages);
    free(c);
}

/* ---- detection ---- */

/* round half to even, as cvRound does */
static int iround(double x) { return (int)lrint(x); }
static int iroundf(float x) { return (int)lrintf(x); }

/* Bilinear resize of a gray image, as OpenCV's INTER_LINEAR for 8 bits: 11-bit fixed-point
 * weights per axis, rounded once at the end. */
static void resize_gray(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh, int *xofs, short *xa, int *row0, int *row1)
{
    double sx = (double)sw / dw, sy = (double)sh / dh;
    for (int x = 0; x < dw; x++) {
        float fx = (float)((x + 0.5) * sx - 0.5);
        int ix = (int)floorf(fx);
        fx -= ix;
        if (ix < 0) { ix = 0; fx = 0; }
        if (ix >= sw - 1) { ix = sw - 1; fx = 0; }
        xofs[x] = ix;
        xa[2 * x] = (short)lrintf((1.f - fx) * 2048);
        xa[2 * x + 1] = (short)lrintf(fx * 2048);
    }
    for (int y = 0; y < dh; y++) {
        float fy = (float)((y + 0.5) * sy - 0.5);
        int iy = (int)floorf(fy);
        fy -= iy;
        if (iy < 0) { iy = 0; fy = 0; }
        if (iy >= sh - 1) { iy = sh - 1; fy = 0; }
        int b0 = (int)lrintf((1.f - fy) * 2048), b1 = (int)lrintf(fy * 2048);
        const uint8_t *s0 = src + (size_t)iy * sw, *s1 = src + (size_t)(iy + 1 < sh ? iy + 1 : iy) * sw;
        for (int x = 0; x < dw; x++) {
            int ix = xofs[x], ix1 = ix + 1 < sw ? ix + 1 : ix;
            row0[x] = s0[ix] * xa[2 * x] + s0[ix1] * xa[2 * x + 1];
            row1[x] = s1[ix] * xa[2 * x] + s1[ix1] * xa[2 * x + 1];
        }
        uint8_t *d = dst + (size_t)y * dw;
        for (int x = 0; x < dw; x++) {
            int v = (int)(((int64_t)row0[x] * b0 + (int64_t)row1[x] * b1 + (1 << 21)) >> 22);
            d[x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

typedef struct { dfs_box *v; int n, cap; } boxlist;

static void push_box(boxlist *l, int x, int y, int w, int h)
{
    if (l->n == l->cap) l->v = dfs_realloc(l->v, (size_t)(l->cap = l->cap ? 2 * l->cap : 64) * sizeof *l->v);
    l->v[l->n++] = (dfs_box){x, y, w, h};
}


/* A stump with its rectangles as offsets into an integral image of a given stride, so a window's
 * feature is a few loads from its top-left corner (as OpenCV's OptFeature). */
typedef struct {
    int ofs[3][4];
    float w[3];
    int nr;
    float threshold, left, right;
} optstump;

static void compile_stumps(const dfs_cascade *c, int st, optstump *o)
{
    for (int i = 0; i < c->nstumps; i++) {
        const hstump *s = &c->stumps[i];
        const hfeature *f = &c->features[s->feature];
        o[i].nr = f->nr > 2 && f->r[2].weight != 0.0f ? 3 : 2;
        for (int k = 0; k < 3; k++) {
            const hrect *r = &f->r[k];
            o[i].w[k] = k < f->nr ? r->weight : 0.f;
            o[i].ofs[k][0] = r->y * st + r->x;
            o[i].ofs[k][1] = r->y * st + r->x + r->w;
            o[i].ofs[k][2] = (r->y + r->h) * st + r->x;
            o[i].ofs[k][3] = (r->y + r->h) * st + r->x + r->w;
        }
        o[i].threshold = s->threshold;
        o[i].left = s->left;
        o[i].right = s->right;
    }
}

#define OSUM(p, o) ((int32_t)((p)[(o)[0]] - (p)[(o)[1]] - (p)[(o)[2]] + (p)[(o)[3]]))

/* Run the cascade on every window of one pyramid level (integral images of stride st). */
static void scan_level(const dfs_cascade *c, const optstump *os, const uint32_t *sum, const uint32_t *sq, int st,
                       int sw, int sh, float scale, boxlist *out)
{
    int ystep = scale >= 2 ? 1 : 2;
    int winw = iroundf(c->win_w * scale), winh = iroundf(c->win_h * scale);
    int nx = sw + 1 - c->win_w, ny = sh + 1 - c->win_h;   /* OpenCV's working size */
    /* OpenCV's normalisation rectangle: the window less a one-pixel border */
    int nw = c->win_w - 2, nh = c->win_h - 2;
    int nofs[4] = {st + 1, st + 1 + nw, (1 + nh) * st + 1, (1 + nh) * st + 1 + nw};
    double area = (double)nw * nh;
    for (int y = 0; y < ny; y += ystep) {
        for (int x = 0; x < nx; x += ystep) {
            if (x + c->win_w >= sw + 1 || y + c->win_h >= sh + 1) continue;   /* setWindow's bound */
            const uint32_t *ps = sum + (size_t)y * st + x;
            const uint32_t *pq = sq + (size_t)y * st + x;
            int valsum = OSUM(ps, nofs);
            unsigned valsq = pq[nofs[0]] - pq[nofs[1]] - pq[nofs[2]] + pq[nofs[3]];
            double nf = area * valsq - (double)valsum * valsum;
            if (!(nf > 0)) continue;   /* flat window: rejected, and not a stage-0 reject */
            float inv = (float)(1. / sqrt(nf));
            if (!(area * inv < 1e-1)) continue;
            int result = 1;
            for (int si = 0; si < c->nstages; si++) {
                const hstage *sg = &c->stages[si];
                const optstump *o = os + sg->first;
                double acc = 0;
                for (int k = 0; k < sg->count; k++, o++) {
                    float fv = o->w[0] * (float)OSUM(ps, o->ofs[0]) + o->w[1] * (float)OSUM(ps, o->ofs[1]);
                    if (o->nr > 2) fv += o->w[2] * (float)OSUM(ps, o->ofs[2]);
                    double value = fv * inv;
                    acc += value < o->threshold ? o->left : o->right;
                }
                if (acc < sg->threshold) { result = -si; break; }
            }
            if (result > 0) push_box(out, iroundf(x * scale), iroundf(y * scale), winw, winh);
            /* a window rejected by the first stage makes OpenCV skip the next position too */
            if (result == 0) x += ystep;
        }
    }
}

/* OpenCV's groupRectangles: cluster similar boxes, average each cluster, keep clusters with more
 * than threshold members that are not small boxes inside a stronger one. */
static int group_boxes(dfs_box *r, int n, int threshold, double eps, dfs_box **outp)
{
    *outp = NULL;
    if (threshold <= 0 || n == 0) {
        if (n) { *outp = dfs_malloc((size_t)n * sizeof **outp); memcpy(*outp, r, (size_t)n * sizeof *r); }
        return n;
    }
    int *parent = dfs_malloc((size_t)n * sizeof *parent);
    for (int i = 0; i < n; i++) parent[i] = i;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            double delta = eps * (fmin(r[i].w, r[j].w) + fmin(r[i].h, r[j].h)) * 0.5;
            if (fabs((double)r[i].x - r[j].x) <= delta && fabs((double)r[i].y - r[j].y) <= delta &&
                fabs((double)r[i].x + r[i].w - r[j].x - r[j].w) <= delta &&
                fabs((double)r[i].y + r[i].h - r[j].y - r[j].h) <= delta) {
                int a = i, b = j;
                while (parent[a] != a) a = parent[a];
                while (parent[b] != b) b = parent[b];
                if (a != b) parent[b] = a;
            }
        }
    int *label = dfs_malloc((size_t)n * sizeof *label), ncls = 0;
    int *cls_of_root = dfs_malloc((size_t)n * sizeof *cls_of_root);
    for (int i = 0; i < n; i++) cls_of_root[i] = -1;
    for (int i = 0; i < n; i++) {
        int a = i;
        while (parent[a] != a) a = parent[a];
        if (cls_of_root[a] < 0) cls_of_root[a] = ncls++;
        label[i] = cls_of_root[a];
    }
    long *acc = dfs_calloc((size_t)ncls * 4, sizeof *acc);
    int *cnt = dfs_calloc((size_t)ncls, sizeof *cnt);
    for (int i = 0; i < n; i++) {
        long *a = acc + 4 * label[i];
        a[0] += r[i].x; a[1] += r[i].y; a[2] += r[i].w; a[3] += r[i].h;
        cnt[label[i]]++;
    }
    dfs_box *avg = dfs_malloc((size_t)ncls * sizeof *avg);
    for (int k = 0; k < ncls; k++) {
        float s = 1.f / cnt[k];
        avg[k] = (dfs_box){iroundf(acc[4 * k] * s), iroundf(acc[4 * k + 1] * s), iroundf(acc[4 * k + 2] * s),
                           iroundf(acc[4 * k + 3] * s)};
    }
    dfs_box *out = dfs_malloc((size_t)ncls * sizeof *out);
    int m = 0;
    for (int i = 0; i < ncls; i++) {
        int n1 = cnt[i];
        if (n1 <= threshold) continue;
        dfs_box r1 = avg[i];
        int j;
        for (j = 0; j < ncls; j++) {
            int n2 = cnt[j];
            if (j == i || n2 <= threshold) continue;
            dfs_box r2 = avg[j];
            int dx = iround(r2.w * eps), dy = iround(r2.h * eps);
            if (r1.x >= r2.x - dx && r1.y >= r2.y - dy && r1.x + r1.w <= r2.x + r2.w + dx &&
                r1.y + r1.h <= r2.y + r2.h + dy && (n2 > (n1 > 3 ? n1 : 3) || n1 < 3))
                break;
        }
        if (j == ncls) out[m++] = r1;
    }
    free(parent); free(label); free(cls_of_root); free(acc); free(cnt); free(avg);
    if (m == 0) { free(out); out = NULL; }
    *outp = out;
    return m;
}

int dfs_cascade_detect(const dfs_cascade *c, const dfs_image *gray, const dfs_detect_opts *o, dfs_box **boxes)
{
    *boxes = NULL;
    if (gray->c != 1 || gray->w <= 0 || gray->h <= 0) return dfs_fail("detect: not a gray image");
    int W = gray->w, H = gray->h;
    int maxw = o->max_size > 0 ? o->max_size : W, maxh = o->max_size > 0 ? o->max_size : H;
    boxlist raw = {0};
    uint8_t *small = dfs_malloc((size_t)W * H);
    uint32_t *sum = dfs_malloc((size_t)(W + 1) * (H + 1) * sizeof *sum);
    uint32_t *sq = dfs_malloc((size_t)(W + 1) * (H + 1) * sizeof *sq);
    int *xofs = dfs_malloc((size_t)W * sizeof *xofs), *row0 = dfs_malloc((size_t)W * sizeof *row0);
    int *row1 = dfs_malloc((size_t)W * sizeof *row1);
    short *xa = dfs_malloc((size_t)W * 2 * sizeof *xa);
    optstump *os = dfs_malloc((size_t)c->nstumps * sizeof *os);
    for (double factor = 1;; factor *= o->scale_factor) {
        int ww = iround(c->win_w * factor), wh = iround(c->win_h * factor);
        if (ww > maxw || wh > maxh || ww > W || wh > H) break;
        if (ww < o->min_size || wh < o->min_size) continue;
        float scale = (float)factor;
        int sw = iroundf(W / scale), sh = iroundf(H / scale);
        if (sw < c->win_w || sh < c->win_h) break;
        const uint8_t *img = gray->px;
        if (sw != W || sh != H) {
            resize_gray(gray->px, W, H, small, sw, sh, xofs, xa, row0, row1);
            img = small;
        }
        /* integral images of the pixels and their squares; squares wrap modulo 2^32 as in
         * OpenCV's 32-bit buffers, and window differences come out right anyway */
        int st = sw + 1;
        memset(sum, 0, (size_t)st * sizeof *sum);
        memset(sq, 0, (size_t)st * sizeof *sq);
        for (int y = 0; y < sh; y++) {
            uint32_t rs = 0;
            uint32_t rq = 0;
            uint32_t *s = sum + (size_t)(y + 1) * st, *sp = s - st;
            uint32_t *q = sq + (size_t)(y + 1) * st, *qp = q - st;
            s[0] = 0;
            q[0] = 0;
            for (int x = 0; x < sw; x++) {
                int v = img[(size_t)y * sw + x];
                rs += v;
                rq += (uint32_t)(v * v);
                s[x + 1] = sp[x + 1] + rs;
                q[x + 1] = qp[x + 1] + rq;
            }
        }
        compile_stumps(c, st, os);
        scan_level(c, os, sum, sq, st, sw, sh, scale, &raw);
    }
    free(small); free(sum); free(sq); free(xofs); free(row0); free(row1); free(xa); free(os);
    int n = group_boxes(raw.v, raw.n, o->min_neighbors, 0.2, boxes);
    free(raw.v);
    return n;
}

int dfs_box_largest(const dfs_box *b, int n)
{
    int best = -1;
    long area = -1;
    for (int i = 0; i < n; i++)
        if ((long)b[i].w * b[i].h > area) { area = (long)b[i].w * b[i].h; best = i; }
    return best;
}
