/* conv_direct.c: direct convolution kernels for few output channels (Meso's 3x3 and 5x5 layers
 * with 1..32 filters, their 1x1 inception branches).
 *
 * Why not im2col + sgemm there: with K = 8 filters the GEMM is 8 rows tall, so every element of
 * the im2col matrix (R*S copies of the input) is written, packed by OpenBLAS and read again for
 * just 8 multiply-adds. Here the input is read straight from a zero-padded copy of one image,
 * and a register tile of KB output channels x 2 vectors of 16 output columns is accumulated over
 * all (channel, kernel row, kernel column) taps before it is stored once: per tap, 2 vector loads
 * feed 2*KB fused multiply-adds, so the loop runs at the FMA rate, not the memory rate.
 *
 *  - forward: out row p = sum over taps of a padded input row shifted by the tap offset;
 *  - input gradient (stride 1): the same kernel run on the padded output gradient with the
 *    kernel flipped and transposed (a "full" correlation), accumulating into din;
 *  - weight gradient: per image, a tile of KB filters x SB kernel columns for one (channel,
 *    kernel row) accumulates dout row x shifted input row over the whole image in vector lanes,
 *    then sums the lanes once.
 * Work is split over images (each thread pads its own image); the weight gradient keeps one
 * partial sum per image and adds them in image order, so no result depends on the thread count.
 * Written with GCC vector extensions (16 floats: one AVX-512 register, two AVX2 ones). */
#include "nn/conv_direct.h"
#include "common.h"

#include <stdlib.h>
#include <string.h>

/* -std=c11 turns off the contraction of a * b + c into an FMA, which halves the kernels' rate;
 * the kernels are written for it (and their rounding is then fixed by the build, not by luck). */
#pragma GCC optimize("fp-contract=fast")

#define VL 16            /* floats per vector */
#define QT (2 * VL)      /* output columns per forward tile */
typedef float vf __attribute__((vector_size(VL * sizeof(float))));
typedef float vfu __attribute__((vector_size(VL * sizeof(float)), aligned(4), may_alias));
typedef int32_t vi __attribute__((vector_size(VL * sizeof(int32_t))));

static inline vf vload(const float *p) { return *(const vfu *)p; }
static inline void vstore(float *p, vf v) { *(vfu *)p = v; }
static inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

int nn_conv_direct_forward_ok(const nn_conv *c)
{
    return c->groups == 1 && c->stride_w == 1;
}

int nn_conv_direct_din_ok(const nn_conv *c)
{
    return c->groups == 1 && c->stride_w == 1 && c->stride_h == 1;
}

/* A zero-padded image: C planes of Hp rows of LW floats; padded (y, x) holds source
 * (y - pt, x - pl), zero outside the source. pt and pl may be negative (rows or columns of the
 * source are then skipped). */
typedef struct padded {
    int64_t C, H, W, pt, pl, Hp, LW;
} padded;

static void pad_image(float *dst, const float *src, const padded *g)
{
    int64_t x0 = g->pl > 0 ? g->pl : 0;                            /* first padded column with data */
    int64_t x1 = g->W + g->pl < g->LW ? g->W + g->pl : g->LW;      /* one past the last */
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t y = 0; y < g->Hp; y++) {
            float *d = dst + (c * g->Hp + y) * g->LW;
            int64_t iy = y - g->pt;
            if (iy < 0 || iy >= g->H || x1 <= x0) {
                memset(d, 0, (size_t)g->LW * sizeof *d);
                continue;
            }
            const float *s = src + (c * g->H + iy) * g->W;
            memset(d, 0, (size_t)x0 * sizeof *d);
            memcpy(d + x0, s + (x0 - g->pl), (size_t)(x1 - x0) * sizeof *d);
            memset(d + x1, 0, (size_t)(g->LW - x1) * sizeof *d);
        }
}

/* The correlation computed by tile(): out (K, P, Q) from a padded input (C, Hp, LW) and packed
 * weights wp[((c * R + r) * S + s) * K + k]; input row of output row p, kernel row r is
 * p * sh + r * dh, column of output column q, kernel column s is q + s * dw. */
typedef struct corr {
    int64_t C, K, P, Q, R, S, sh, dh, dw, Hp, LW;
} corr;

enum { STORE_SET, STORE_RELU, STORE_ADD };

/* KB output channels x QT columns at output row p, columns q0.. (only the first Q - q0 stored
 * when the row ends inside the tile). Inlined with a constant KB so the tile lives in registers. */
static inline __attribute__((always_inline)) void tile(float *out, const float *xp, const float *wp,
                                                      const float *b, const corr *d, int64_t p, int64_t q0,
                                                      int64_t k0, int mode, const int KB)
{
    vf a0[8], a1[8];   /* [KB] used; constant bounds so the unrolled tile stays in registers */
#pragma GCC unroll 8
    for (int j = 0; j < KB; j++) a0[j] = a1[j] = (vf){0} + (b ? b[k0 + j] : 0.0f);
    for (int64_t c = 0; c < d->C; c++)
        for (int64_t r = 0; r < d->R; r++) {
            const float *x = xp + (c * d->Hp + p * d->sh + r * d->dh) * d->LW + q0;
            const float *w = wp + (c * d->R + r) * d->S * d->K + k0;
            for (int64_t s = 0; s < d->S; s++, x += d->dw, w += d->K) {
                vf x0 = vload(x), x1 = vload(x + VL);
#pragma GCC unroll 8
                for (int j = 0; j < KB; j++) {
                    a0[j] += w[j] * x0;
                    a1[j] += w[j] * x1;
                }
            }
        }
    int64_t PQ = d->P * d->Q, n = d->Q - q0 < QT ? d->Q - q0 : QT;
#pragma GCC unroll 8
    for (int j = 0; j < KB; j++) {
        float *o = out + (k0 + j) * PQ + p * d->Q + q0;
        vf v0 = a0[j], v1 = a1[j];
        if (mode == STORE_RELU) {
            v0 = (vf)((vi)v0 & (v0 > 0));   /* comparisons give all-ones lanes where true */
            v1 = (vf)((vi)v1 & (v1 > 0));
        }
        if (n == QT) {
            if (mode == STORE_ADD) v0 += vload(o), v1 += vload(o + VL);
            vstore(o, v0);
            vstore(o + VL, v1);
        } else {
            float t[QT];
            vstore(t, v0);
            vstore(t + VL, v1);
            for (int64_t i = 0; i < n; i++) o[i] = mode == STORE_ADD ? o[i] + t[i] : t[i];
        }
    }
}

/* One image: every output row and column tile, channels in blocks of 8, then 4, 2, 1. */
static void corr_image(float *out, const float *xp, const float *wp, const float *b, const corr *d, int mode)
{
    for (int64_t p = 0; p < d->P; p++)
        for (int64_t q0 = 0; q0 < d->Q; q0 += QT) {
            int64_t k0 = 0;
            for (; k0 + 8 <= d->K; k0 += 8) tile(out, xp, wp, b, d, p, q0, k0, mode, 8);
            if (k0 + 4 <= d->K) tile(out, xp, wp, b, d, p, q0, k0, mode, 4), k0 += 4;
            if (k0 + 2 <= d->K) tile(out, xp, wp, b, d, p, q0, k0, mode, 2), k0 += 2;
            if (k0 < d->K) tile(out, xp, wp, b, d, p, q0, k0, mode, 1);
        }
}

/* The correlation for N images, split over images; each thread pads into its own buffer. */
static void corr_batch(float *out, int64_t out_img, const float *in, int64_t in_img, const float *wp,
                       const float *b, const corr *d, const padded *g, int64_t N, int mode)
{
    size_t pad_floats = (size_t)(g->C * g->Hp * g->LW) + VL;   /* + VL: loads of the last tile */
#pragma omp parallel if (N > 1)
    {
        float *buf = dfs_malloc(pad_floats * sizeof *buf);
        memset(buf + pad_floats - VL, 0, VL * sizeof *buf);
#pragma omp for schedule(static)
        for (int64_t n = 0; n < N; n++) {
            pad_image(buf, in + n * in_img, g);
            corr_image(out + n * out_img, buf, wp, b, d, mode);
        }
        free(buf);
    }
}

void nn_conv_direct_forward(float *out, const float *in, const float *w, const float *b, const nn_conv *c, int relu)
{
    int64_t C = c->C, K = c->K, R = c->R, S = c->S;
    corr d = {.C = C, .K = K, .P = c->P, .Q = c->Q, .R = R, .S = S, .sh = c->stride_h, .dh = c->dil_h,
              .dw = c->dil_w};
    d.Hp = (c->P - 1) * c->stride_h + (R - 1) * c->dil_h + 1;
    d.LW = round_up(c->Q, QT) + (S - 1) * c->dil_w;
    padded g = {.C = C, .H = c->H, .W = c->W, .pt = c->pad_t, .pl = c->pad_l, .Hp = d.Hp, .LW = d.LW};
    /* weights as [c][r][s][k]: one tap's KB filter values are adjacent for the broadcasts */
    float *wp = dfs_malloc((size_t)(K * C * R * S) * sizeof *wp);
    for (int64_t k = 0; k < K; k++)
        for (int64_t i = 0; i < C * R * S; i++) wp[i * K + k] = w[k * C * R * S + i];
    corr_batch(out, K * c->P * c->Q, in, C * c->H * c->W, wp, b, &d, &g, c->N, relu ? STORE_RELU : STORE_SET);
    free(wp);
}

/* din[c][y][x] = sum over k, r, s of w[k][c][r][s] dout[k][y + pad_t - r*dh][x + pad_l - s*dw]: a
 * correlation of dout, padded by the kernel extent minus the forward padding, with the kernel
 * flipped in both axes and its channel axes swapped. */
void nn_conv_direct_backward_data(float *din, const float *dout, const float *w, const nn_conv *c)
{
    int64_t C = c->C, K = c->K, R = c->R, S = c->S;
    corr d = {.C = K, .K = C, .P = c->H, .Q = c->W, .R = R, .S = S, .sh = 1, .dh = c->dil_h, .dw = c->dil_w};
    d.Hp = (c->H - 1) + (R - 1) * c->dil_h + 1;
    d.LW = round_up(c->W, QT) + (S - 1) * c->dil_w;
    padded g = {.C = K, .H = c->P, .W = c->Q, .pt = (R - 1) * c->dil_h - c->pad_t,
                .pl = (S - 1) * c->dil_w - c->pad_l, .Hp = d.Hp, .LW = d.LW};
    /* packed [k][r'][s'][c] = w[k][c][R-1-r'][S-1-s'] */
    float *wp = dfs_malloc((size_t)(K * C * R * S) * sizeof *wp);
    for (int64_t k = 0; k < K; k++)
        for (int64_t ch = 0; ch < C; ch++)
            for (int64_t r = 0; r < R; r++)
                for (int64_t s = 0; s < S; s++)
                    wp[((k * R + r) * S + s) * C + ch] = w[((k * C + ch) * R + (R - 1 - r)) * S + (S - 1 - s)];
    corr_batch(din, C * c->H * c->W, dout, K * c->P * c->Q, wp, NULL, &d, &g, c->N, STORE_ADD);
    free(wp);
}

/* ---- weight gradient ---- */

/* acc[j][t] over the whole image for filters k0..k0+KB-1 and kernel columns s0..s0+SB-1 of
 * (channel c, kernel row r): sum over p, q of dout[k][p][q] * x[p*sh + r*dh][q + s*dw], where
 * dout rows are padded with zeros to Qv columns. The SB shifted input vectors stay in registers
 * and each dout vector is loaded once for them: KB + SB loads feed KB * SB multiply-adds
 * (KB * SB + SB + 1 <= 32 vector registers). The lane sums go to part[((k*C + c)*R + r)*S + s]. */
static inline float hsum(vf v)
{
    float s = 0;
    for (int l = 0; l < VL; l++) s += v[l];
    return s;
}

static inline __attribute__((always_inline)) void wtile(float *part, const float *gp, const float *xp,
                                                       const corr *d, int64_t Qv, int64_t c, int64_t r, int64_t k0,
                                                       int64_t s0, const int KB, const int SB)
{
    vf acc[8][5];   /* [KB][SB] used; constant bounds so the unrolled tile stays in registers */
#pragma GCC unroll 8
    for (int j = 0; j < KB; j++)
#pragma GCC unroll 5
        for (int t = 0; t < SB; t++) acc[j][t] = (vf){0};
    int64_t plane = d->P * Qv;
    for (int64_t p = 0; p < d->P; p++) {
        const float *x = xp + (c * d->Hp + p * d->sh + r * d->dh) * d->LW + s0 * d->dw;
        const float *g = gp + k0 * plane + p * Qv;
        for (int64_t q = 0; q < Qv; q += VL) {
            vf xv[5];
#pragma GCC unroll 5
            for (int t = 0; t < SB; t++) xv[t] = vload(x + q + t * d->dw);
#pragma GCC unroll 8
            for (int j = 0; j < KB; j++) {
                vf gv = vload(g + j * plane + q);
#pragma GCC unroll 5
                for (int t = 0; t < SB; t++) acc[j][t] += gv * xv[t];
            }
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < KB; j++)
#pragma GCC unroll 5
        for (int t = 0; t < SB; t++) part[(((k0 + j) * d->C + c) * d->R + r) * d->S + s0 + t] = hsum(acc[j][t]);
}

/* SB kernel columns for every filter: blocks of 8 filters when the tile allows it, then 4, then 1 */
static inline __attribute__((always_inline)) void wtile_cols(float *part, const float *gp, const float *xp,
                                                            const corr *d, int64_t Qv, int64_t c, int64_t r,
                                                            int64_t s0, const int SB)
{
    int64_t k0 = 0;
    if (SB <= 3)
        for (; k0 + 8 <= d->K; k0 += 8) wtile(part, gp, xp, d, Qv, c, r, k0, s0, 8, SB);
    for (; k0 + 4 <= d->K; k0 += 4) wtile(part, gp, xp, d, Qv, c, r, k0, s0, 4, SB);
    for (; k0 < d->K; k0++) wtile(part, gp, xp, d, Qv, c, r, k0, s0, 1, SB);
}

void nn_conv_direct_backward_weights(float *dw, const float *dout, const float *in, const nn_conv *c)
{
    int64_t C = c->C, K = c->K, R = c->R, S = c->S, P = c->P, Q = c->Q, N = c->N;
    int64_t Qv = round_up(Q, VL), KCRS = K * C * R * S;
    corr d = {.C = C, .K = K, .P = P, .Q = Q, .R = R, .S = S, .sh = c->stride_h, .dh = c->dil_h, .dw = c->dil_w};
    d.Hp = (P - 1) * c->stride_h + (R - 1) * c->dil_h + 1;
    d.LW = Qv + (S - 1) * c->dil_w;
    padded g = {.C = C, .H = c->H, .W = c->W, .pt = c->pad_t, .pl = c->pad_l, .Hp = d.Hp, .LW = d.LW};
    padded gd = {.C = K, .H = P, .W = Q, .pt = 0, .pl = 0, .Hp = P, .LW = Qv};
    float *part = dfs_malloc((size_t)(N * KCRS) * sizeof *part);
#pragma omp parallel if (N > 1)
    {
        float *xp = dfs_malloc((size_t)(C * d.Hp * d.LW) * sizeof *xp);
        float *gp = dfs_malloc((size_t)(K * P * Qv) * sizeof *gp);
#pragma omp for schedule(static)
        for (int64_t n = 0; n < N; n++) {
            pad_image(xp, in + n * C * c->H * c->W, &g);
            pad_image(gp, dout + n * K * P * Q, &gd);
            float *pn = part + n * KCRS;
            for (int64_t ch = 0; ch < C; ch++)
                for (int64_t r = 0; r < R; r++) {
                    int64_t s0 = 0;
                    for (; s0 + 5 <= S; s0 += 5) wtile_cols(pn, gp, xp, &d, Qv, ch, r, s0, 5);
                    switch (S - s0) {
                    case 4: wtile_cols(pn, gp, xp, &d, Qv, ch, r, s0, 4); break;
                    case 3: wtile_cols(pn, gp, xp, &d, Qv, ch, r, s0, 3); break;
                    case 2: wtile_cols(pn, gp, xp, &d, Qv, ch, r, s0, 2); break;
                    case 1: wtile_cols(pn, gp, xp, &d, Qv, ch, r, s0, 1); break;
                    default: break;
                    }
                }
        }
        free(xp);
        free(gp);
    }
#pragma omp parallel for schedule(static) if (N * KCRS > 32768)
    for (int64_t i = 0; i < KCRS; i++) {
        double s = 0;
        for (int64_t n = 0; n < N; n++) s += part[n * KCRS + i];
        dw[i] += (float)s;
    }
    free(part);
}
