/* ssim.c: see ssim.h. The local means and (co)variances are separable window sums taken over
 * "valid" positions only: the windows skimage would average after cropping are exactly those
 * that lie inside the image, so no border handling is needed and nothing outside is computed. */
#include "analysis/ssim.h"
#include "analysis/keyjoin.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GAUSS_SIGMA 1.5
#define GAUSS_TRUNCATE 3.5   /* skimage's choice: radius int(3.5 * 1.5 + 0.5) = 5, 11 taps */
#define MAX_WIN 64

void dfs_ssim_opts_default(dfs_ssim_opts *o)
{
    o->gaussian = 0;
    o->data_range = 0;
    o->k1 = 0.01;
    o->k2 = 0.03;
}

int dfs_ssim_window(const dfs_ssim_opts *o)
{
    if (!o->gaussian) return 7;
    int r = (int)(GAUSS_TRUNCATE * GAUSS_SIGMA + 0.5);
    return 2 * r + 1;
}

/* 1-D weights summing to 1 (scipy.ndimage's uniform and Gaussian kernels). */
static void window_weights(const dfs_ssim_opts *o, int win, double *k)
{
    if (!o->gaussian) {
        for (int t = 0; t < win; t++) k[t] = 1.0 / win;
        return;
    }
    int r = win / 2;
    double sum = 0;
    for (int t = 0; t < win; t++) {
        double d = t - r;
        k[t] = exp(-0.5 * d * d / (GAUSS_SIGMA * GAUSS_SIGMA));
        sum += k[t];
    }
    for (int t = 0; t < win; t++) k[t] /= sum;
}

/* Load row r of a plane of dtype u8, f32 or f64 as doubles. */
static void load_row(const void *p, int dtype, size_t r, size_t w, size_t stride, size_t step, double *dst)
{
    size_t base = r * stride;
    if (dtype == DFS_U8) {
        const uint8_t *q = (const uint8_t *)p + base;
        for (size_t c = 0; c < w; c++) dst[c] = q[c * step];
    } else if (dtype == DFS_F32) {
        const float *q = (const float *)p + base;
        for (size_t c = 0; c < w; c++) dst[c] = q[c * step];
    } else {
        const double *q = (const double *)p + base;
        for (size_t c = 0; c < w; c++) dst[c] = q[c * step];
    }
}

/* The work of dfs_ssim_plane on planes of any of the dtypes load_row reads, so records are never
 * converted whole. */
static int plane_ssim(const void *x, const void *y, int dtype, size_t h, size_t w, size_t stride,
                      size_t step, const dfs_ssim_opts *o, double data_range, double *out)
{
    int win = dfs_ssim_window(o);
    if (h < (size_t)win || w < (size_t)win)
        return dfs_fail("image %zux%zu is smaller than the %dx%d SSIM window", h, w, win, win);
    if (!(data_range > 0)) return dfs_fail("data range %g is not positive", data_range);
    double k[MAX_WIN];
    window_weights(o, win, k);
    /* skimage: sample covariance multiplies by N/(N-1) with N the window's pixel count; the
     * Gaussian mode (Wang et al.) uses population covariance */
    double np = (double)win * win;
    double cov_norm = o->gaussian ? 1.0 : np / (np - 1.0);
    double c1 = (o->k1 * data_range) * (o->k1 * data_range);
    double c2 = (o->k2 * data_range) * (o->k2 * data_range);

    size_t ow = w - (size_t)win + 1, oh = h - (size_t)win + 1;
    /* horizontal sums of the last `win` rows in a ring (so the working set stays in cache), then
     * the vertical sums of each output row from the ring */
    size_t slot = 5 * ow;
    double *buf = dfs_malloc(sizeof(double) * ((size_t)win * slot + 5 * ow + 2 * w));
    double *ring = buf;
    double *restrict vx = ring + (size_t)win * slot, *restrict vy = vx + ow, *restrict vxx = vy + ow,
           *restrict vyy = vxx + ow, *restrict vxy = vyy + ow;
    double *rx = vxy + ow, *ry = rx + w;

    double total = 0;
    for (size_t r = 0; r < h; r++) {
        load_row(x, dtype, r, w, stride, step, rx);
        load_row(y, dtype, r, w, stride, step, ry);
        double *restrict px = ring + (r % (size_t)win) * slot, *restrict py = px + ow,
               *restrict pxx = py + ow, *restrict pyy = pxx + ow, *restrict pxy = pyy + ow;
        memset(px, 0, slot * sizeof(double));
        /* taps outside, columns inside: the inner loop vectorises */
        for (int t = 0; t < win; t++) {
            double kt = k[t];
            const double *restrict ax = rx + t, *restrict ay = ry + t;
#pragma omp simd
            for (size_t c = 0; c < ow; c++) {
                double a = ax[c], b = ay[c];
                px[c] += kt * a;
                py[c] += kt * b;
                pxx[c] += kt * a * a;
                pyy[c] += kt * b * b;
                pxy[c] += kt * a * b;
            }
        }
        if (r + 1 < (size_t)win) continue;
        size_t i = r + 1 - (size_t)win;   /* output row: image rows i .. r */
        memset(vx, 0, 5 * ow * sizeof(double));
        for (int t = 0; t < win; t++) {
            double kt = k[t];
            const double *restrict qx = ring + ((i + (size_t)t) % (size_t)win) * slot,
                         *restrict qy = qx + ow, *restrict qxx = qy + ow, *restrict qyy = qxx + ow,
                         *restrict qxy = qyy + ow;
#pragma omp simd
            for (size_t c = 0; c < ow; c++) {
                vx[c] += kt * qx[c];
                vy[c] += kt * qy[c];
                vxx[c] += kt * qxx[c];
                vyy[c] += kt * qyy[c];
                vxy[c] += kt * qxy[c];
            }
        }
#pragma omp simd reduction(+ : total)
        for (size_t c = 0; c < ow; c++) {
            double ux = vx[c], uy = vy[c];
            double sxx = cov_norm * (vxx[c] - ux * ux);
            double syy = cov_norm * (vyy[c] - uy * uy);
            double sxy = cov_norm * (vxy[c] - ux * uy);
            double num = (2 * ux * uy + c1) * (2 * sxy + c2);
            double den = (ux * ux + uy * uy + c1) * (sxx + syy + c2);
            total += num / den;
        }
    }
    free(buf);
    *out = total / ((double)oh * (double)ow);
    return 0;
}

int dfs_ssim_plane(const double *x, const double *y, size_t h, size_t w, size_t stride, size_t step,
                   const dfs_ssim_opts *o, double data_range, double *out)
{
    return plane_ssim(x, y, DFS_F64, h, w, stride, step, o, data_range, out);
}

/* A record the SSIM can use on its own: dtype, rank, size, finite values. */
static int check_record(const dfs_record *r, int win)
{
    char shape[96];
    if (r->dtype != DFS_U8 && r->dtype != DFS_F32)
        return dfs_fail("dtype %s is not supported (u8 images or f32 heatmaps)", dfs_dtype_name(r->dtype));
    if (r->rank != 2 && r->rank != 3)
        return dfs_fail("shape %s is not (H, W) or (H, W, C)", dfs_shape_str(r, shape, sizeof shape));
    if (r->dims[0] < (uint64_t)win || r->dims[1] < (uint64_t)win)
        return dfs_fail("shape %s is smaller than the %dx%d SSIM window",
                        dfs_shape_str(r, shape, sizeof shape), win, win);
    if (r->rank == 3 && r->dims[2] == 0) return dfs_fail("shape %s has no channels",
                                                         dfs_shape_str(r, shape, sizeof shape));
    if (r->dtype == DFS_F32) {
        const float *p = r->data;
        uint64_t n = dfs_record_elems(r);
        for (uint64_t i = 0; i < n; i++)
            if (!isfinite(p[i])) return dfs_fail("element %llu is not finite", (unsigned long long)i);
    }
    return 0;
}

/* Same dtype and shape, or an error that shows both. */
static int check_same(const dfs_record *a, const dfs_record *b, const char *a_name)
{
    char sa[96], sb[96];
    int same = a->dtype == b->dtype && a->rank == b->rank;
    for (int d = 0; same && d < a->rank; d++) same = a->dims[d] == b->dims[d];
    if (same) return 0;
    return dfs_fail("%s %s differs from %s %s in %s", dfs_dtype_name(b->dtype),
                    dfs_shape_str(b, sb, sizeof sb), dfs_dtype_name(a->dtype),
                    dfs_shape_str(a, sa, sizeof sa), a_name);
}

int dfs_ssim_records(const dfs_record *a, const dfs_record *b, const dfs_ssim_opts *o, double *out)
{
    int win = dfs_ssim_window(o);
    if (check_record(a, win) != 0 || check_record(b, win) != 0) return -1;
    if (check_same(a, b, "the first record") != 0) return -1;
    /* skimage's dtype_range: uint8 (0, 255), floats (-1, 1) */
    double range = o->data_range > 0 ? o->data_range : a->dtype == DFS_U8 ? 255.0 : 2.0;
    size_t h = (size_t)a->dims[0], w = (size_t)a->dims[1];
    size_t ch = a->rank == 3 ? (size_t)a->dims[2] : 1;
    size_t esize = dfs_dtype_size(a->dtype);
    double sum = 0;
    int rc = 0;
    for (size_t c = 0; c < ch && rc == 0; c++) {
        double s;
        rc = plane_ssim((const char *)a->data + c * esize, (const char *)b->data + c * esize, a->dtype,
                        h, w, w * ch, ch, o, range, &s);
        sum += s;
    }
    if (rc == 0) *out = sum / (double)ch;
    return rc;
}

const char *const dfs_ssim_bin_names[DFS_SSIM_BINS] = {"<0.7", "0.7-<0.9", ">=0.9"};

int dfs_ssim_bin(double s)
{
    return s < 0.7 ? 0 : s < 0.9 ? 1 : 2;
}

char *dfs_ssim_hist_tsv(const uint64_t hist[DFS_SSIM_BINS])
{
    uint64_t total = 0;
    for (int b = 0; b < DFS_SSIM_BINS; b++) total += hist[b];
    size_t cap = 256, len = 0;
    char *s = dfs_malloc(cap);
    len += (size_t)snprintf(s + len, cap - len, "bin\tcount\tpercent\n");
    for (int b = 0; b <= DFS_SSIM_BINS; b++) {
        uint64_t n = b < DFS_SSIM_BINS ? hist[b] : total;
        const char *name = b < DFS_SSIM_BINS ? dfs_ssim_bin_names[b] : "total";
        if (total)
            len += (size_t)snprintf(s + len, cap - len, "%s\t%llu\t%.2f\n", name, (unsigned long long)n,
                                    100.0 * (double)n / (double)total);
        else   /* a share of nothing is undefined */
            len += (size_t)snprintf(s + len, cap - len, "%s\t0\t-\n", name);
    }
    return s;
}

/* ---- the tool's loop ---- */

#define BATCH 64

typedef struct item_result {
    double *v;    /* npairs values then the mean */
    char *err;    /* message, or NULL */
} item_result;

static void compare_item(dfs_keyjoin *j, const dfs_record *recs, int n, const dfs_ssim_opts *o,
                         double *v, char **err)
{
    int win = dfs_ssim_window(o);
    int bad = -1;
    for (int s = 0; s < n && bad < 0; s++) {
        if (check_record(&recs[s], win) != 0 ||
            (s > 0 && check_same(&recs[0], &recs[s], dfs_keyjoin_name(j, 0)) != 0))
            bad = s;
    }
    int p = 0;
    double sum = 0;
    for (int a = 0; a < n && bad < 0; a++)
        for (int b = a + 1; b < n && bad < 0; b++) {
            if (dfs_ssim_records(&recs[a], &recs[b], o, &v[p]) != 0) bad = b;
            sum += v[p++];
        }
    if (bad >= 0) {
        char *key = dfs_meta_dup(&recs[0], "key");
        size_t len = strlen(dfs_error()) + strlen(key) + strlen(dfs_keyjoin_name(j, bad)) + 32;
        *err = dfs_malloc(len);
        snprintf(*err, len, "%s: key '%s': %s", dfs_keyjoin_name(j, bad), key, dfs_error());
        free(key);
        return;
    }
    v[p] = sum / p;
}

static int write_header(dfs_out *tsv, int n)
{
    char cell[48];
    if (dfs_out_write(tsv, "key", 3) != 0) return -1;
    for (int a = 1; a <= n; a++)
        for (int b = a + 1; b <= n; b++) {
            int len = snprintf(cell, sizeof cell, "\tssim_%d_%d", a, b);
            if (dfs_out_write(tsv, cell, (size_t)len) != 0) return -1;
        }
    return dfs_out_write(tsv, "\tmean\n", 6);
}

static int write_row(dfs_out *tsv, dfs_keyjoin *j, const dfs_record *rec0, const double *v, int npairs)
{
    char *key = dfs_meta_dup(rec0, "key");
    if (strchr(key, '\t')) {
        dfs_fail("%s: key '%s' holds a tab, which a TSV cell cannot", dfs_keyjoin_name(j, 0), key);
        free(key);
        return -1;
    }
    int rc = dfs_out_write(tsv, key, strlen(key));
    free(key);
    char cell[48];
    for (int p = 0; p <= npairs && rc == 0; p++) {
        int len = snprintf(cell, sizeof cell, "\t%.6f", v[p]);
        rc = dfs_out_write(tsv, cell, (size_t)len);
    }
    return rc ? rc : dfs_out_write(tsv, "\n", 1);
}

int dfs_ssim_streams(const char *const *paths, int n, const dfs_ssim_opts *o, int intersect,
                     dfs_out *tsv, uint64_t hist[DFS_SSIM_BINS], uint64_t *unmatched)
{
    if (n < 2) return dfs_fail("SSIM needs at least two streams");
    if (!(o->data_range >= 0)) return dfs_fail("data range %g is negative", o->data_range);
    for (int b = 0; b < DFS_SSIM_BINS; b++) hist[b] = 0;
    dfs_keyjoin *j = dfs_keyjoin_open(paths, n, intersect);
    if (!j) return -1;
    int npairs = n * (n - 1) / 2;
    dfs_record *recs = dfs_malloc(sizeof *recs * (size_t)BATCH * (size_t)n);
    for (int i = 0; i < BATCH * n; i++) dfs_record_init(&recs[i]);
    double *vals = dfs_malloc(sizeof *vals * (size_t)BATCH * (size_t)(npairs + 1));
    char *errs[BATCH] = {0};
    int rc = write_header(tsv, n);
    int end = 0;
    while (rc == 0 && !end) {
        int m = 0;
        while (m < BATCH) {
            int r = dfs_keyjoin_next(j, &recs[m * n]);
            if (r < 0) { rc = -1; break; }
            if (r == 0) { end = 1; break; }
            m++;
        }
        if (rc != 0) break;
#pragma omp parallel for schedule(dynamic)
        for (int i = 0; i < m; i++)
            compare_item(j, &recs[i * n], n, o, &vals[i * (npairs + 1)], &errs[i]);
        for (int i = 0; i < m && rc == 0; i++) {
            const double *v = &vals[i * (npairs + 1)];
            if (errs[i]) {
                rc = dfs_fail("%s", errs[i]);
                break;
            }
            rc = write_row(tsv, j, &recs[i * n], v, npairs);
            if (rc == 0) hist[dfs_ssim_bin(v[npairs])]++;
        }
        for (int i = 0; i < m; i++) {
            free(errs[i]);
            errs[i] = NULL;
        }
    }
    if (rc == 0 && unmatched)
        for (int s = 0; s < n; s++) unmatched[s] = dfs_keyjoin_unmatched(j, s);
    for (int i = 0; i < BATCH * n; i++) dfs_record_free(&recs[i]);
    free(recs);
    free(vals);
    dfs_keyjoin_close(j);
    return rc;
}
