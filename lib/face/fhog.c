/* fhog.c: dlib's HOG frontal face detector (get_frontal_face_detector()) as face_recognition runs
 * it: face_locations(img, number_of_times_to_upsample=1, model="hog") on an RGB image.
 *
 * Facts from dlib 19.24's headers (Debian libdlib-dev), each step reproduced with dlib's float
 * arithmetic and evaluation order so the scores agree to float rounding:
 *   - the Python binding (tools/python/src/simple_object_detector.h, run_detector_with_upscale1)
 *     upsamples the RGB image once with pyramid_up(img, up, pyramid_down<2>), runs the detector
 *     with adjust_threshold 0 and maps each box back with pyramid_down<2>::rect_down;
 *   - scan_fhog_pyramid<pyramid_down<6>> (image_processing/scan_fhog_pyramid.h) builds levels
 *     with pyramid_down<6> (image_transforms/image_pyramid.h: floor(5/6 of each side), resized by
 *     resize_image's bilinear RGB path in interpolation.h) while both sides of the next level
 *     stay >= 64, computes fHOG on each RGB level (image_transforms/fhog.h: 8x8 cells, the
 *     colour channel with the largest gradient, 18 signed + 9 unsigned orientations + 4
 *     texture features, block normalisation truncated at 0.2), padded for a 10x10 filter;
 *   - each of the 5 detectors is 31 planes of separable filter terms (the SVD that
 *     build_fhog_filterbank computes, written out by tests/dlib_fhog_ref.cpp), applied by
 *     float_spatially_filter_image_separable (image_transforms/spatial_filtering.h), summed over
 *     planes; windows scoring >= the detector's threshold are detections with confidence
 *     score - threshold, mapped to the image by fhog_to_image and pyramid_down<6>::rect_up;
 *   - object_detector (image_processing/object_detector.h) merges the 5 detectors' windows by
 *     confidence and drops any that test_box_overlap (box_overlap_testing.h) says overlaps a kept
 *     one: intersection / bounding-box-of-both > iou_thresh, or intersection / either area >
 *     percent_covered_thresh.
 * Where dlib vectorises a loop its per-lane order is followed (8 columns at a time from the
 * first; scalar order for the remaining columns), since the two orders round differently and,
 * for colour-gradient ties, pick different channels. */
#include "face/face.h"
/* dlib's float rounding: no fused multiply-add; sqrtf of non-negative numbers only, so no errno */
#pragma GCC optimize("O3", "fp-contract=off", "no-math-errno")

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NPLANES 31

typedef struct { int plane; float row[DFS_FHOG_MAX_TAPS], col[DFS_FHOG_MAX_TAPS]; } fterm;
typedef struct { double threshold; fterm *terms; int nterms; } fdetector;

struct dfs_fhog {
    int cell, padding, win_w, win_h, filt_w, filt_h, max_levels, min_w, min_h;
    double iou, covered;
    fdetector det[DFS_FHOG_MAX_DETECTORS];
    int ndet;
};

/* ---- the model file (formats/fhog-model.md) ---- */

static char *next_line(char **p)
{
    char *s = *p;
    if (!*s) return NULL;
    char *e = strchr(s, '\n');
    if (e) { *e = 0; *p = e + 1; } else *p = s + strlen(s);
    return s;
}

static int floats(const char *s, const char *tag, float *out, int n)
{
    size_t tl = strlen(tag);
    if (strncmp(s, tag, tl) || s[tl] != ' ') return -1;
    s += tl;
    for (int i = 0; i < n; i++) {
        char *e;
        double v = strtod(s, &e);
        if (e == s || !isfinite(v) || fabs(v) > 1e30) return -1;
        out[i] = (float)v;
        s = e;
    }
    while (*s == ' ') s++;
    return *s ? -1 : 0;
}

dfs_fhog *dfs_fhog_load(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) { dfs_fail("%s: cannot open: %s", path, strerror(errno)); return NULL; }
    size_t cap = 1 << 20, len = 0;
    char *buf = dfs_malloc(cap + 1);
    len = fread(buf, 1, cap, f);
    int big = !feof(f);
    fclose(f);
    if (big) { free(buf); dfs_fail("%s: larger than 1 MiB: not an fHOG model", path); return NULL; }
    buf[len] = 0;
    char hex[65];
    dfs_sha256_hex(buf, len, hex);
    if (strcmp(hex, DFS_FHOG_SHA256)) {
        free(buf);
        dfs_fail("%s: checksum mismatch (sha256 %s, want %s): not the model this build expects", path, hex,
                 DFS_FHOG_SHA256);
        return NULL;
    }
    /* the checksum vouches for the content; the parse still refuses anything unexpected so that
     * a changed digest in face.h cannot make it read garbage */
    dfs_fhog *m = dfs_calloc(1, sizeof *m);
    char *p = buf, *s;
    int ln = 0, ok = 0, d = -1, want_terms = 0;
    const char *why = "unexpected line";
    while ((s = next_line(&p))) {
        ln++;
        if (s[0] == '#' || !s[0]) continue;
        if (ln == 1) {
            if (strcmp(s, "dfs-fhog-model 1")) { why = "not a dfs-fhog-model 1 file"; break; }
            continue;
        }
        int a, b;
        double x, y;
        if (sscanf(s, "cell_size %d", &a) == 1) m->cell = a;
        else if (sscanf(s, "padding %d", &a) == 1) m->padding = a;
        else if (sscanf(s, "window %d %d", &a, &b) == 2) { m->win_w = a; m->win_h = b; }
        else if (sscanf(s, "filter %d %d", &a, &b) == 2) { m->filt_w = a; m->filt_h = b; }
        else if (sscanf(s, "pyramid_down %d", &a) == 1) { if (a != 6) { why = "pyramid_down other than 6"; break; } }
        else if (sscanf(s, "max_levels %d", &a) == 1) m->max_levels = a;
        else if (sscanf(s, "min_layer %d %d", &a, &b) == 2) { m->min_w = a; m->min_h = b; }
        else if (sscanf(s, "overlap %lf %lf", &x, &y) == 2) { m->iou = x; m->covered = y; }
        else if (sscanf(s, "detectors %d", &a) == 1) {
            if (a < 1 || a > DFS_FHOG_MAX_DETECTORS) { why = "bad detector count"; break; }
            m->ndet = a;
        } else if (!strncmp(s, "detector ", 9)) {
            int idx, planes, terms;
            if (sscanf(s, "detector %d threshold %lf planes %d terms %d", &idx, &x, &planes, &terms) != 4 ||
                idx != d + 1 || idx >= m->ndet || planes != NPLANES || terms < 1 || terms > 100000 ||
                (d >= 0 && m->det[d].nterms != want_terms) || !isfinite(x)) {
                why = "bad detector line";
                break;
            }
            d = idx;
            m->det[d].threshold = x;
            m->det[d].terms = dfs_calloc((size_t)terms, sizeof(fterm));
            want_terms = terms;
        } else if (!strncmp(s, "term ", 5)) {
            if (d < 0 || m->det[d].nterms >= want_terms || m->filt_w < 1 || m->filt_w > DFS_FHOG_MAX_TAPS ||
                m->filt_h < 1 || m->filt_h > DFS_FHOG_MAX_TAPS) { why = "term outside a detector"; break; }
            fterm *t = &m->det[d].terms[m->det[d].nterms];
            char *row = next_line(&p), *col = row ? next_line(&p) : NULL;
            if (sscanf(s, "term %d", &t->plane) != 1 || t->plane < 0 || t->plane >= NPLANES || !col ||
                floats(row, "row", t->row, m->filt_w) || floats(col, "col", t->col, m->filt_h)) {
                why = "bad filter term";
                break;
            }
            ln += 2;
            m->det[d].nterms++;
        } else if (!strcmp(s, "end")) {
            ok = d == m->ndet - 1 && m->det[d].nterms == want_terms;
            if (!ok) why = "missing detectors or terms";
            break;
        } else break;
    }
    free(buf);
    if (ok && (m->cell != 8 || m->padding != 0 || m->filt_w < 1 || m->filt_h < 1 || m->max_levels < 1 ||
               m->min_w < 1 || m->min_h < 1 || !(m->iou >= 0 && m->iou <= 1) || !(m->covered >= 0 && m->covered <= 1))) {
        ok = 0;
        why = "unsupported settings (cell size 8 and padding 0 only)";
    }
    if (!ok) {
        dfs_fail("%s: line %d: %s", path, ln, why);
        dfs_fhog_free(m);
        return NULL;
    }
    return m;
}

void dfs_fhog_free(dfs_fhog *m)
{
    if (!m) return;
    for (int i = 0; i < DFS_FHOG_MAX_DETECTORS; i++) free(m->det[i].terms);
    free(m);
}

int dfs_fhog_default_path(char *buf, size_t n)
{
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        /* bin/<tool> and build/tests/test_<name> both live below the repository root */
        static const char *const rel[] = {"../" DFS_FHOG_FILE, "../../" DFS_FHOG_FILE};
        for (int i = 0; i < 2; i++) {
            snprintf(buf, n, "%s/%s", exe, rel[i]);
            if (access(buf, R_OK) == 0) return 0;
        }
    }
    snprintf(buf, n, "%s", DFS_FHOG_FILE);
    return access(buf, R_OK) == 0 ? 0 : -1;
}

/* ---- scratch memory kept across the pyramid's levels (fresh pages cost more than the work) ---- */

enum { W_PLANES, W_HIST, W_NORM, W_COLS, W_ROWS, W_SAL, W_SCRATCH, W_IMG0, W_IMG1, W_RESIZE, W_N };
typedef struct { void *p[W_N]; size_t cap[W_N]; } work;

static void *wget(work *w, int slot, size_t bytes, int zero)
{
    if (bytes > w->cap[slot]) {
        free(w->p[slot]);
        w->p[slot] = dfs_malloc(bytes);
        w->cap[slot] = bytes;
    }
    if (zero) memset(w->p[slot], 0, bytes);
    return w->p[slot];
}

static void work_free(work *w)
{
    for (int i = 0; i < W_N; i++) free(w->p[i]);
}

/* ---- images: RGB, interleaved ---- */

typedef struct { int w, h; uint8_t *px; } rgb;

/* resize_image(in, out, interpolate_bilinear) for RGB: blocks of 4 columns with float weights
 * and truncation while the block's last right neighbour is inside, double weights after. The
 * float column positions are dlib's running sums, the same for every row, so they are found
 * once; the two source rows are kept as floats while consecutive output rows share them. */
static void resize_rgb(const rgb *in, rgb *out, work *wk)
{
    const double xs = (in->w - 1) / (double)(out->w - 1 > 1 ? out->w - 1 : 1);
    const double ys = (in->h - 1) / (double)(out->h - 1 > 1 ? out->h - 1 : 1);
    const int W = out->w;
    /* dlib's blocks stop at the first whose last right neighbour is outside the source; with
     * rounding that can be a block past the last column, whose extra columns it writes into the
     * next row (overwritten there): here they are not stored */
    const int WA = W + 8;
    const size_t rowlen = (size_t)in->w * 3;
    char *mem = wget(wk, W_RESIZE, (size_t)WA * 8 * 4 + 2 * rowlen * sizeof(float), 0);
    int *left = (int *)mem, *iv = left + WA;
    float *lr = (float *)(mem + (size_t)WA * 8), *ilr = lr + WA, *w0 = ilr + WA, *w1 = w0 + WA, *w2 = w1 + WA,
          *w3 = w2 + WA, *rowf = w3 + WA;
    int cv = 0;
    {
        const double x0 = -4 * xs;
        const float fstep = (float)(4 * xs);
        float lx[4] = {(float)x0, (float)(x0 + xs), (float)(x0 + 2 * xs), (float)(x0 + 3 * xs)};
        for (;; cv += 4) {
            if (cv + 4 > WA) break;   /* not reached: the source's last column ends it first */
            for (int k = 0; k < 4; k++) {
                lx[k] += fstep;
                left[cv + k] = (int)lx[k];
                lr[cv + k] = lx[k] - (float)left[cv + k];
                ilr[cv + k] = 1 - lr[cv + k];
            }
            if (left[cv + 3] + 1 >= in->w) break;
        }
    }
    const int cs = cv < W ? cv : W;   /* block columns stored */
    long cached[2] = {-1, -1};
    double y = -ys;
    for (int r = 0; r < out->h; r++) {
        y += ys;
        const long top = (long)floor(y);
        const long bot = top + 1 < in->h - 1 ? top + 1 : in->h - 1;
        const double tb = y - top;
        const uint8_t *T = in->px + (size_t)top * rowlen, *B = in->px + (size_t)bot * rowlen;
        uint8_t *o = out->px + (size_t)r * W * 3;
        /* the two rows as floats in two slots, reusing what the previous output row had */
        int st = cached[0] == top ? 0 : cached[1] == top ? 1 : -1;
        if (st < 0) {
            st = cached[0] == bot ? 1 : 0;
            for (size_t i = 0; i < rowlen; i++) rowf[st * rowlen + i] = (float)T[i];
            cached[st] = top;
        }
        int sb = cached[0] == bot ? 0 : cached[1] == bot ? 1 : -1;
        if (sb < 0) {
            sb = 1 - st;
            for (size_t i = 0; i < rowlen; i++) rowf[sb * rowlen + i] = (float)B[i];
            cached[sb] = bot;
        }
        const float *Tf = rowf + st * rowlen, *Bf = rowf + sb * rowlen;
        const float ftb = (float)tb, fitb = (float)(1 - tb);
        for (int c = 0; c < cs; c++) {
            w0[c] = fitb * ilr[c];
            w1[c] = fitb * lr[c];
            w2[c] = ftb * ilr[c];
            w3[c] = ftb * lr[c];
        }
        for (int ch = 0; ch < 3; ch++) {   /* a channel at a time: gathers the compiler vectorises */
            const float *t = Tf + ch, *b = Bf + ch;
            for (int c = 0; c < cs; c++) {
                const int a = left[c] * 3;
                float v = w0[c] * t[a] + w1[c] * t[a + 3];
                v = v + w2[c] * b[a];
                v = v + w3[c] * b[a + 3];
                iv[c] = (int)v;
            }
            for (int c = 0; c < cs; c++) o[c * 3 + ch] = (uint8_t)iv[c];
        }
        double x = -xs + cv * xs;
        for (int c = cv; c < W; c++) {
            x += xs;
            const long l = (long)floor(x);
            const long rr = l + 1 < in->w - 1 ? l + 1 : in->w - 1;
            const double f = x - l;
            for (int ch = 0; ch < 3; ch++) {
                double v = (1 - tb) * ((1 - f) * T[l * 3 + ch] + f * T[rr * 3 + ch]) +
                           tb * ((1 - f) * B[l * 3 + ch] + f * B[rr * 3 + ch]);
                o[c * 3 + ch] = (uint8_t)(int)v;
            }
        }
    }
}

/* dlib's drectangle -> rectangle: each side rounded half up */
static long rnd(double v) { return (long)floor(v + 0.5); }

/* ---- fHOG (extract_fhog_features with cell size 8) ---- */

/* GCC vectors of 8 lanes: lane-wise IEEE arithmetic, the same on every target whatever its
 * native width (narrower targets split them). Never passed or returned by value: the loads are
 * macros over unaligned, aliasing vector types, so no function has a vector in its ABI. */
typedef float v8 __attribute__((vector_size(32)));
typedef int v8i __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4), may_alias));
typedef int v8iu __attribute__((vector_size(32), aligned(4), may_alias));
#define ld(p) (*(const v8u *)(p))
#define ldi(p) (*(const v8iu *)(p))

/* lane-wise m ? a : b for masks m of all-ones or zero lanes (macros: no vector arguments to pass) */
#define sel(m, a, b) (((m) & (a)) | (~(m) & (b)))
#define self(m, a, b) ((v8)sel((m), (v8i)(a), (v8i)(b)))

typedef struct {
    int nr, nc;        /* plane size, padding included */
    float *planes;     /* NPLANES * nr * nc */
} fhog_map;

static const float DIRS[9][2] = {{1.0000f, 0.0000f}, {0.9397f, 0.3420f}, {0.7660f, 0.6428f}, {0.500f, 0.8660f},
                                 {0.1736f, 0.9848f}, {-0.1736f, 0.9848f}, {-0.5000f, 0.8660f},
                                 {-0.7660f, 0.6428f}, {-0.9397f, 0.3420f}};

static inline float sum4(const float v[4]) { return (v[0] + v[2]) + (v[1] + v[3]); }

static void extract_fhog(const rgb *im, int fh, int fw, fhog_map *out, work *wk)
{
    const int cell = 8;
    const int cells_nr = (int)((float)im->h / (float)cell + 0.5f);
    const int cells_nc = (int)((float)im->w / (float)cell + 0.5f);
    const int hog_nr = cells_nr - 2 > 0 ? cells_nr - 2 : 0, hog_nc = cells_nc - 2 > 0 ? cells_nc - 2 : 0;
    out->nr = out->nc = 0;
    out->planes = NULL;
    if (cells_nr == 0 || cells_nc == 0 || hog_nr == 0 || hog_nc == 0) return;
    out->nr = hog_nr + fh - 1;
    out->nc = hog_nc + fw - 1;
    const size_t psz = (size_t)out->nr * out->nc;
    out->planes = wget(wk, W_PLANES, NPLANES * psz * sizeof(float), 1);
    const int hw = cells_nc + 2;
    float *hist = wget(wk, W_HIST, (size_t)(cells_nr + 2) * hw * 18 * sizeof(float), 1);
    float *norm = wget(wk, W_NORM, (size_t)cells_nr * cells_nc * sizeof(float), 0);
    const int vis_nr = (cells_nr * cell < im->h ? cells_nr * cell : im->h) - 1;
    const int vis_nc = (cells_nc * cell < im->w ? cells_nc * cell : im->w) - 1;
    /* dlib's vector path covers x = 1, 9, 17, ... while x < vis_nc - 7 */
    int xvec = 1;
    while (xvec < vis_nc - 7) xvec += 8;
    /* per column: the interpolation weights along x and which of dlib's paths covers it */
    const int W = im->w;
    int *ixp = wget(wk, W_COLS, (size_t)W * 3 * sizeof(float), 0);
    float *vx0 = (float *)(ixp + W), *vx1 = vx0 + W;
    for (int x = 1; x < vis_nc; x++) {
        const float xp = ((float)x + 0.5f) / (float)cell - 0.5f;
        ixp[x] = (int)floorf(xp);
        vx0[x] = xp - (float)ixp[x];
        vx1[x] = 1.0f - vx0[x];
    }
    /* rows y-1, y, y+1 of R, G, B as ints, and per column the chosen gradient's squared length
     * and orientation bin; 16 spare columns so that blocks of 8 may run past the end */
    const size_t WP = (size_t)W + 16;
    int *pl = wget(wk, W_ROWS, WP * 12 * sizeof(int), 1);
    int *gl = pl + 9 * WP, *go = gl + WP;
    float *gv = (float *)(go + WP);
    const v8i lane = {0, 1, 2, 3, 4, 5, 6, 7};
    int *slot[3] = {pl, pl + 3 * WP, pl + 6 * WP};   /* rows y-1, y, y+1, rotated as y advances */
    for (int y = 1; y < vis_nr; y++) {
        for (int k = y == 1 ? 0 : 2; k < 3; k++) {
            if (y > 1 && k == 2) {
                int *t = slot[0];
                slot[0] = slot[1];
                slot[1] = slot[2];
                slot[2] = t;
            }
            const uint8_t *src = im->px + (size_t)(y - 1 + k) * W * 3;
            int *R = slot[k], *G = R + WP, *B = G + WP;
            for (int x = 0; x < W; x++) { R[x] = src[3 * x]; G[x] = src[3 * x + 1]; B[x] = src[3 * x + 2]; }
        }
        const int *up = slot[0], *mid = slot[1], *dn = slot[2];
        for (int x = 1; x < vis_nc; x += 8) {
            v8i dx[3], dy[3], len[3];
            for (int ch = 0; ch < 3; ch++) {
                dx[ch] = ldi(mid + ch * WP + x + 1) - ldi(mid + ch * WP + x - 1);
                dy[ch] = ldi(dn + ch * WP + x) - ldi(up + ch * WP + x);
                len[ch] = dx[ch] * dx[ch] + dy[ch] * dy[ch];
            }
            /* the channel with the largest gradient: dlib's vector path (x < xvec) keeps the
             * later channel on ties, its scalar path the earlier one */
            const v8i later = (lane + x) < xvec;
            v8i m = (later & (len[1] >= len[0])) | (~later & (len[1] > len[0]));
            v8i bx = sel(m, dx[1], dx[0]), by = sel(m, dy[1], dy[0]), bl = sel(m, len[1], len[0]);
            m = (later & (len[2] >= bl)) | (~later & (len[2] > bl));
            bx = sel(m, dx[2], bx);
            by = sel(m, dy[2], by);
            bl = sel(m, len[2], bl);
            const v8 gx = __builtin_convertvector(bx, v8), gy = __builtin_convertvector(by, v8);
            v8 best = {0};
            v8i bo = {0};
            for (int o = 0; o < 9; o++) {
                const v8 dot = gx * DIRS[o][0] + gy * DIRS[o][1], neg = -dot;
                m = dot > best;
                bo = sel(m, (v8i){0} + o, bo);
                best = self(m, dot, best);
                m = neg > best;
                bo = sel(m, (v8i){0} + o + 9, bo);
                best = self(m, neg, best);
            }
            memcpy(gl + x, &bl, sizeof bl);
            memcpy(go + x, &bo, sizeof bo);
        }
        for (int x = 1; x < vis_nc; x++) gv[x] = sqrtf((float)gl[x]);
        const float yp = ((float)y + 0.5f) / (float)cell - 0.5f;
        const int iyp = (int)floorf(yp);
        const float vy0 = yp - (float)iyp, vy1 = 1.0f - vy0;
        float *h0 = hist + (size_t)(iyp + 1) * hw * 18, *h1 = h0 + (size_t)hw * 18;
        for (int x = 1; x < vis_nc; x++) {
            const float v = gv[x];
            const int bo = go[x], i0 = (ixp[x] + 1) * 18 + bo, i1 = i0 + 18;
            if (x < xvec) {   /* vy * (vx * v) */
                const float wx1 = vx1[x] * v, wx0 = vx0[x] * v;
                h0[i0] += vy1 * wx1; h1[i0] += vy0 * wx1; h0[i1] += vy1 * wx0; h1[i1] += vy0 * wx0;
            } else {          /* (vy * vx) * v */
                h0[i0] += vy1 * vx1[x] * v; h1[i0] += vy0 * vx1[x] * v;
                h0[i1] += vy1 * vx0[x] * v; h1[i1] += vy0 * vx0[x] * v;
            }
        }
    }
    for (int r = 0; r < cells_nr; r++)
        for (int c = 0; c < cells_nc; c++) {
            const float *h = hist + ((size_t)(r + 1) * hw + c + 1) * 18;
            float n = 0;
            for (int o = 0; o < 9; o++) n += (h[o] + h[o + 9]) * (h[o] + h[o + 9]);
            norm[(size_t)r * cells_nc + c] = n;
        }
    const float eps = 0.0001f;
    const int pr = (fh - 1) / 2, pc = (fw - 1) / 2;
#define N(r, c) norm[(size_t)(r) * cells_nc + (c)]
    for (int y = 0; y < hog_nr; y++)
        for (int x = 0; x < hog_nc; x++) {
            const float z1[4] = {N(y + 1, x + 1), N(y, x + 1), N(y + 1, x), N(y, x)};
            const float z2[4] = {N(y + 1, x + 2), N(y, x + 2), N(y + 1, x + 1), N(y, x + 1)};
            const float z3[4] = {N(y + 2, x + 1), N(y + 1, x + 1), N(y + 2, x), N(y + 1, x)};
            const float z4[4] = {N(y + 2, x + 2), N(y + 1, x + 2), N(y + 2, x + 1), N(y + 1, x + 1)};
            float nn[4], n[4], t[4] = {0, 0, 0, 0};
            for (int k = 0; k < 4; k++) {
                nn[k] = 0.2f * sqrtf(z1[k] + z2[k] + z3[k] + z4[k] + eps);
                n[k] = 0.1f / nn[k];
            }
            const float *h = hist + ((size_t)(y + 2) * hw + x + 2) * 18;
            float *dst = out->planes + (size_t)(y + pr) * out->nc + x + pc;
            for (int o = 0; o < 18; o += 3) {
                float q[3][4];
                for (int j = 0; j < 3; j++) {
                    for (int k = 0; k < 4; k++) q[j][k] = (h[o + j] < nn[k] ? h[o + j] : nn[k]) * n[k];
                    dst[(size_t)(o + j) * psz] = sum4(q[j]);
                }
                for (int k = 0; k < 4; k++) t[k] += q[0][k] + q[1][k] + q[2][k];
            }
            for (int k = 0; k < 4; k++) t[k] *= 0.4714f;
            for (int o = 0; o < 9; o++) {
                const float s = h[o] + h[o + 9];
                float q[4];
                for (int k = 0; k < 4; k++) q[k] = (s < nn[k] ? s : nn[k]) * n[k];
                dst[(size_t)(o + 18) * psz] = sum4(q);
            }
            for (int k = 0; k < 4; k++) dst[(size_t)(27 + k) * psz] = t[k];
        }
#undef N
}

/* ---- separable filtering, summed into the saliency map ---- */

/* float_spatially_filter_image_separable: row pass into scratch, column pass into sal (added when
 * add). Columns from c0 in blocks of 8 keep three partial sums (taps 0,3,6..., 1,4,7..., 2,5,8...)
 * while the block fits; the rest sum the taps in order. */

static void filter_sep(const float *restrict in, int nr, int nc, const float *rowf, int nrow, const float *colf,
                       int ncol, float *restrict scratch, float *restrict sal, int add)
{
    const int r0 = ncol / 2, c0 = nrow / 2;
    const int r1 = nr - (ncol - 1) / 2, c1 = nc - (nrow - 1) / 2;
    int cv = c0;
    while (cv < c1 - 7) cv += 8;
    for (int r = 0; r < nr; r++) {
        const float *src = in + (size_t)r * nc - c0;
        float *dst = scratch + (size_t)r * nc;
        for (int c = c0; c < cv; c += 8) {
            v8 t1 = {0}, t2 = {0}, t3 = {0};
            int n = 0;
            for (; n < nrow - 2; n += 3) {
                t1 += ld(src + c + n) * rowf[n];
                t2 += ld(src + c + n + 1) * rowf[n + 1];
                t3 += ld(src + c + n + 2) * rowf[n + 2];
            }
            for (; n < nrow; n++) t1 += ld(src + c + n) * rowf[n];
            t1 += t2 + t3;
            memcpy(dst + c, &t1, sizeof t1);
        }
        for (int c = cv; c < c1; c++) {
            float s = 0;
            for (int k = 0; k < nrow; k++) s += src[c + k] * rowf[k];
            dst[c] = s;
        }
    }
    for (int r = r0; r < r1; r++) {
        float *o = sal + (size_t)r * nc;
        const float *base = scratch + (size_t)(r - r0) * nc;
        for (int c = c0; c < cv; c += 8) {
            v8 t1 = {0}, t2 = {0}, t3 = {0};
            int m = 0;
            for (; m < ncol - 2; m += 3) {
                t1 += ld(base + (size_t)m * nc + c) * colf[m];
                t2 += ld(base + (size_t)(m + 1) * nc + c) * colf[m + 1];
                t3 += ld(base + (size_t)(m + 2) * nc + c) * colf[m + 2];
            }
            for (; m < ncol; m++) t1 += ld(base + (size_t)m * nc + c) * colf[m];
            t1 += t2 + t3;
            if (add) t1 += ld(o + c);
            memcpy(o + c, &t1, sizeof t1);
        }
        for (int c = cv; c < c1; c++) {
            float s = 0;
            for (int k = 0; k < ncol; k++) s += base[(size_t)k * nc + c] * colf[k];
            o[c] = add ? o[c] + s : s;
        }
    }
}

/* ---- detection ---- */

typedef struct { long l, t, r, b; double conf; int det, level, row, col; } cand;
typedef struct { cand *v; size_t n, cap; } candlist;

static void push(candlist *L, cand c)
{
    if (L->n == L->cap) L->v = dfs_realloc(L->v, (L->cap = L->cap ? 2 * L->cap : 64) * sizeof *L->v);
    L->v[L->n++] = c;
}

/* fhog_to_image for a window corner: back to pixels, then to the centre of the cell */
static void fhog_to_image(long x, long y, int cell, int fw, int fh, long *ox, long *oy)
{
    x = (x + 1 - (fw - 1) / 2) * cell + 1;
    y = (y + 1 - (fh - 1) / 2) * cell + 1;
    *ox = x + (x >= 0 ? cell / 2 : -(cell / 2));
    *oy = y + (y >= 0 ? cell / 2 : -(cell / 2));
}

static int by_conf(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->conf != y->conf) return x->conf > y->conf ? -1 : 1;
    /* dlib's sort leaves ties in no defined order; ours: detector, level, row, column */
    if (x->det != y->det) return x->det - y->det;
    if (x->level != y->level) return x->level - y->level;
    if (x->row != y->row) return x->row - y->row;
    return x->col - y->col;
}

static double area(long l, long t, long r, long b) { return r < l || b < t ? 0 : (double)(r - l + 1) * (double)(b - t + 1); }

static int overlaps(const dfs_fhog *m, const cand *a, const cand *b)
{
    const double inner = area(a->l > b->l ? a->l : b->l, a->t > b->t ? a->t : b->t, a->r < b->r ? a->r : b->r,
                              a->b < b->b ? a->b : b->b);
    if (inner == 0) return 0;
    const double outer = area(a->l < b->l ? a->l : b->l, a->t < b->t ? a->t : b->t, a->r > b->r ? a->r : b->r,
                              a->b > b->b ? a->b : b->b);
    return inner / outer > m->iou || inner / area(a->l, a->t, a->r, a->b) > m->covered ||
           inner / area(b->l, b->t, b->r, b->b) > m->covered;
}

static void scan_level(const dfs_fhog *m, const fhog_map *fm, int level, candlist *out, work *wk)
{
    if (fm->nr == 0) return;
    const size_t psz = (size_t)fm->nr * fm->nc;
    float *sal = wget(wk, W_SAL, psz * sizeof(float), 0);
    float *scratch = wget(wk, W_SCRATCH, psz * sizeof(float), 0);
    const int r0 = m->filt_h / 2, c0 = m->filt_w / 2;
    const int r1 = fm->nr - (m->filt_h - 1) / 2, c1 = fm->nc - (m->filt_w - 1) / 2;
    /* the detection box is the window less the padding, in cells */
    const int bw = m->filt_w - 2 * m->padding, bh = m->filt_h - 2 * m->padding;
    for (int d = 0; d < m->ndet; d++) {
        const fdetector *D = &m->det[d];
        for (int k = 0; k < D->nterms; k++)
            filter_sep(fm->planes + (size_t)D->terms[k].plane * psz, fm->nr, fm->nc, D->terms[k].row, m->filt_w,
                       D->terms[k].col, m->filt_h, scratch, sal, k > 0);
        for (int r = r0; r < r1; r++)
            for (int c = c0; c < c1; c++) {
                const float s = sal[(size_t)r * fm->nc + c];
                if (!((double)s >= D->threshold)) continue;
                long l = c - bw / 2, t = r - bh / 2, rr = l + bw - 1, bb = t + bh - 1;
                long il, it, ir, ib;
                fhog_to_image(l, t, m->cell, m->filt_w, m->filt_h, &il, &it);
                fhog_to_image(rr, bb, m->cell, m->filt_w, m->filt_h, &ir, &ib);
                /* pyramid_down<6>::rect_up, level times */
                double x0 = il, y0 = it, x1 = ir, y1 = ib;
                for (int i = 0; i < level; i++) {
                    const double ratio = 6 / 5.0;
                    x0 = x0 * ratio + 0.3; y0 = y0 * ratio + 0.3;
                    x1 = x1 * ratio + 0.3; y1 = y1 * ratio + 0.3;
                }
                push(out, (cand){rnd(x0), rnd(y0), rnd(x1), rnd(y1), (double)s - D->threshold, d, level, r, c});
            }
    }
}

int dfs_fhog_detect(const dfs_fhog *m, const dfs_image *im, int upsample, dfs_fhog_face **faces)
{
    *faces = NULL;
    if (!im || im->c != 3 || im->w < 1 || im->h < 1 || upsample < 0 || upsample > 4) return -1;
    work wk = {0};
    int slot = W_IMG0;   /* images alternate between two workspace slots; the caller's is only read */
    rgb cur = {im->w, im->h, im->px};
    /* pyramid_up with pyramid_down<2>: the size rect_up gives the image rectangle */
    for (int u = 0; u < upsample; u++) {
        const long W = rnd((cur.w - 1 + 1.25) * 2), H = rnd((cur.h - 1 + 0.75) * 2);
        rgb up = {(int)W + 1, (int)H + 1, NULL};
        up.px = wget(&wk, slot, (size_t)up.w * up.h * 3 + 1, 0);
        resize_rgb(&cur, &up, &wk);
        cur = up;
        slot = slot == W_IMG0 ? W_IMG1 : W_IMG0;
    }
    /* levels: while the next rectangle down keeps both sides >= the minimum */
    int levels = 0;
    {
        double l = 0, t = 0, r = cur.w - 1, b = cur.h - 1;
        long w, h;
        do {
            const double k = 5 / 6.0;
            long L = rnd((l - 0.3) * k), T = rnd((t - 0.3) * k), R = rnd((r - 0.3) * k), B = rnd((b - 0.3) * k);
            l = L; t = T; r = R; b = B;
            w = R < L ? 0 : R - L + 1;
            h = B < T ? 0 : B - T + 1;
            levels++;
        } while (w >= m->min_w && h >= m->min_h && levels < m->max_levels);
    }
    candlist all = {0};
    for (int lv = 0; lv < levels; lv++) {
        if (lv > 0) {
            rgb down = {(int)(5L * cur.w / 6), (int)(5L * cur.h / 6), NULL};
            down.px = wget(&wk, slot, (size_t)down.w * down.h * 3 + 1, 0);
            if (down.w > 0 && down.h > 0) resize_rgb(&cur, &down, &wk);
            cur = down;
            slot = slot == W_IMG0 ? W_IMG1 : W_IMG0;
        }
        fhog_map fm;
        extract_fhog(&cur, m->filt_h, m->filt_w, &fm, &wk);
        scan_level(m, &fm, lv, &all, &wk);
    }
    work_free(&wk);
    if (all.n) qsort(all.v, all.n, sizeof *all.v, by_conf);
    cand *kept = dfs_malloc((all.n ? all.n : 1) * sizeof *kept);
    size_t nk = 0;
    for (size_t i = 0; i < all.n; i++) {
        int hit = 0;
        for (size_t j = 0; j < nk && !hit; j++) hit = overlaps(m, &kept[j], &all.v[i]);
        if (!hit) kept[nk++] = all.v[i];
    }
    free(all.v);
    if (nk) {
        *faces = dfs_malloc(nk * sizeof **faces);
        for (size_t i = 0; i < nk; i++) {
            /* back to the caller's image: pyramid_down<2>::rect_down, upsample times */
            double x0 = kept[i].l, y0 = kept[i].t, x1 = kept[i].r, y1 = kept[i].b;
            for (int u = 0; u < upsample; u++) {
                x0 = x0 / 2.0 - 1.25; y0 = y0 / 2.0 - 0.75;
                x1 = x1 / 2.0 - 1.25; y1 = y1 / 2.0 - 0.75;
            }
            long l = rnd(x0), t = rnd(y0), r = rnd(x1), b = rnd(y1);
            (*faces)[i] = (dfs_fhog_face){{(int)l, (int)t, (int)(r - l + 1), (int)(b - t + 1)}, kept[i].conf, kept[i].det};
        }
    }
    free(kept);
    return (int)nk;
}
