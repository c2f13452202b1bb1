/* conv_direct.c: direct convolution kernels for few output channels (Meso's 3x3 and 5x5 layers
 * with 1..32 filters, their 1x1 inception branches).
 *
 * Why not im2col + sgemm there: with K = 8 filters the GEMM is 8 rows tall, so every element of
 * the im2col matrix (R*S copies of the input) is written, packed by OpenBLAS and read again for
 * just 8 multiply-adds. Here the input is read straight from a zero-padded copy of one image,
 * and a register tile of 8 output channels x 2 vectors of VL = 16 output columns (or fewer channels
 * and more columns) is accumulated over all (channel, kernel row, kernel column) taps before it
 * is stored once: per tap, 2 vector loads feed 16 fused multiply-adds, so the loop runs at the
 * FMA rate, not the memory rate.
 *
 *  - forward: out row p = sum over taps of a padded input row shifted by the tap offset;
 *  - input gradient (stride 1): the same kernel run on the padded output gradient with the
 *    kernel flipped and transposed (a "full" correlation), accumulating into din;
 *  - weight gradient: per image, a tile of KB filters x SB kernel columns for one (channel,
 *    kernel row) accumulates dout row x shifted input row over the whole image in vector lanes,
 *    then sums the lanes once.
 * Work is split over images (each thread pads its own image); the weight gradient keeps one
 * partial sum per image and adds them in image order, so no result depends on the thread count.
 * Written with GCC vector extensions, VL floats per vector as wide as the target's registers
 * (nn/simd.h: 16 with AVX-512, 8 with AVX2, 4 with SSE2 or NEON); the tiles were tuned for
 * AVX-512's 16-float vectors and 32 registers. Forward and input gradient: each output sums its
 * taps in the same order at every width, so the bits can differ between targets only by the
 * contraction into FMAs (there are none without FMA: x86-64 baseline and v2); the weight
 * gradient's lane sums depend on VL, so its last bits do too. */
#include "nn/conv_direct.h"
#include "core/common.h"
#include "nn/simd.h"

#include <stdlib.h>
#include <string.h>

/* -std=c11 turns off the contraction of a * b + c into an FMA, which halves the kernels' rate;
 * the kernels are written for it (and their rounding is then fixed by the build, not by luck). */
#pragma GCC optimize("fp-contract=fast")

#define VL NN_VL   /* floats per vector */
typedef nn_vf vf;
typedef nn_vi vi;
#define vload(p) NN_VLOAD(p)
#define vstore nn_vstore

/* n floats aligned to a vector: padded planes are whole vectors apart, so aligned loads of them
 * never straddle two cache lines */
static float *alloc_vectors(size_t n)
{
    return dfs_aligned_alloc(sizeof(vf), (n ? n : 1) * sizeof(float));
}
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
    int64_t PS;   /* floats from one plane to the next: plane_stride(Hp, LW) */
} padded;

/* One vector more than a plane: when planes are a multiple of 4 KiB apart, the same row of
 * every channel falls in the same L1 cache set, and a tile reading 16 or 32 channels at once
 * evicts its own rows (the 1x1 convolutions ran at a third of the rate of the 5x5 ones). */
static int64_t plane_stride(int64_t Hp, int64_t LW)
{
    return Hp * LW + VL;
}

static void pad_image(float *dst, const float *src, const padded *g)
{
    int64_t x0 = g->pl > 0 ? g->pl : 0;                            /* first padded column with data */
    int64_t x1 = g->W + g->pl < g->LW ? g->W + g->pl : g->LW;      /* one past the last */
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t y = 0; y < g->Hp; y++) {
            float *d = dst + c * g->PS + y * g->LW;
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
    int64_t C, K, P, Q, R, S, sh, dh, dw, Hp, LW, PS;
} corr;

enum { STORE_SET, STORE_ADD };

/* Output tiles: KB filters x QV vectors of columns, KB * QV = 16 accumulators. Eight filters
 * share each loaded input vector eight times; with fewer filters (Meso-Inception's 1..4-filter
 * branches) the tile is wider instead, so there are still 16 independent FMA chains, enough
 * to hide the FMA latency (two chains of a 1-filter, 32-column tile ran at a quarter speed). */
/* With 16 vector registers (AVX2, SSE) a tile of 16 accumulators spills, so there the tiles
 * have half as many vectors of columns: 8 accumulators, 8 chains still cover an FMA latency of
 * 4 cycles on two ports. The 1-filter tile keeps 8 vectors (it holds no shared input vectors). */
#if NN_VREGS >= 32
enum { QV8 = 2, QV4 = 4, QV2 = 8 };
#else
enum { QV8 = 1, QV4 = 2, QV2 = 4 };
#endif
enum { QV1 = 8 };

/* Columns a row must be padded to for the tiles of K filters (QV2 divides QV1). */
static int64_t tile_columns(int64_t Q, int64_t K)
{
    int64_t cols = K >= 8 ? QV8 * VL : 0;
    if (K % 8 >= 4) cols = QV4 * VL;
    if (K % 4) cols = QV1 * VL;
    return round_up(Q, cols);
}

/* KB filters x QV * VL columns at output row p, columns q0.. (only the first Q - q0 stored when
 * the row ends inside the tile). Inlined with constant KB and QV so the tile lives in registers. */
static inline __attribute__((always_inline)) void tile(float *out, const float *xp, const float *wp,
                                                      const float *b, const corr *d, int64_t p, int64_t q0,
                                                      int64_t k0, int mode, const int KB, const int QV)
{
    vf a[8][8];   /* [KB][QV] used; constant bounds so the unrolled tile stays in registers */
#pragma GCC unroll 8
    for (int j = 0; j < KB; j++)
#pragma GCC unroll 8
        for (int v = 0; v < QV; v++) a[j][v] = (vf){0} + (b ? b[k0 + j] : 0.0f);
    for (int64_t c = 0; c < d->C; c++)
        for (int64_t r = 0; r < d->R; r++) {
            const float *x = xp + c * d->PS + (p * d->sh + r * d->dh) * d->LW + q0;
            const float *w = wp + (c * d->R + r) * d->S * d->K + k0;
            for (int64_t s = 0; s < d->S; s++, x += d->dw, w += d->K) {
                vf xv[8];
#pragma GCC unroll 8
                for (int v = 0; v < QV; v++) xv[v] = vload(x + v * VL);
#pragma GCC unroll 8
                for (int j = 0; j < KB; j++)
#pragma GCC unroll 8
                    for (int v = 0; v < QV; v++) a[j][v] += w[j] * xv[v];
            }
        }
    int64_t PQ = d->P * d->Q, n = d->Q - q0 < QV * VL ? d->Q - q0 : QV * VL;
#pragma GCC unroll 8
    for (int j = 0; j < KB; j++) {
        float *o = out + (k0 + j) * PQ + p * d->Q + q0;
        float t[8 * VL];
#pragma GCC unroll 8
        for (int v = 0; v < QV; v++) {
            vf y = a[j][v];
            if (n == QV * VL) {
                if (mode == STORE_ADD) y += vload(o + v * VL);
                vstore(o + v * VL, &y);
            } else {
                vstore(t + v * VL, &y);
            }
        }
        if (n < QV * VL)
            for (int64_t i = 0; i < n; i++) o[i] = mode == STORE_ADD ? o[i] + t[i] : t[i];
    }
}

/* One image: every output row; filters in blocks of 8, then 4, 2, 1, each with its tile width. */
static void corr_image(float *out, const float *xp, const float *wp, const float *b, const corr *d, int mode)
{
    for (int64_t p = 0; p < d->P; p++) {
        int64_t k0 = 0;
        for (; k0 + 8 <= d->K; k0 += 8)
            for (int64_t q0 = 0; q0 < d->Q; q0 += QV8 * VL) tile(out, xp, wp, b, d, p, q0, k0, mode, 8, QV8);
        if (k0 + 4 <= d->K) {
            for (int64_t q0 = 0; q0 < d->Q; q0 += QV4 * VL) tile(out, xp, wp, b, d, p, q0, k0, mode, 4, QV4);
            k0 += 4;
        }
        if (k0 + 2 <= d->K) {
            for (int64_t q0 = 0; q0 < d->Q; q0 += QV2 * VL) tile(out, xp, wp, b, d, p, q0, k0, mode, 2, QV2);
            k0 += 2;
        }
        if (k0 < d->K)
            for (int64_t q0 = 0; q0 < d->Q; q0 += QV1 * VL) tile(out, xp, wp, b, d, p, q0, k0, mode, 1, QV1);
    }
}

/* The correlation for N images, split over images; each thread pads into its own buffer. */
static void corr_batch(float *out, int64_t out_img, const float *in, int64_t in_img, const float *wp,
                       const float *b, const corr *d, const padded *g, int64_t N, int mode)
{
    size_t pad_floats = (size_t)(g->C * g->PS);
#pragma omp parallel if (N > 1)
    {
        float *buf = alloc_vectors(pad_floats);
#pragma omp for schedule(static)
        for (int64_t n = 0; n < N; n++) {
            pad_image(buf, in + n * in_img, g);
            corr_image(out + n * out_img, buf, wp, b, d, mode);
        }
        free(buf);
    }
}

void nn_conv_direct_forward(float *out, const float *in, const float *w, const float *b, const nn_conv *c)
{
    int64_t C = c->C, K = c->K, R = c->R, S = c->S;
    corr d = {.C = C, .K = K, .P = c->P, .Q = c->Q, .R = R, .S = S, .sh = c->stride_h, .dh = c->dil_h,
              .dw = c->dil_w};
    d.Hp = (c->P - 1) * c->stride_h + (R - 1) * c->dil_h + 1;
    d.LW = tile_columns(c->Q, K) + (S - 1) * c->dil_w;
    d.PS = plane_stride(d.Hp, d.LW);
    padded g = {.C = C, .H = c->H, .W = c->W, .pt = c->pad_t, .pl = c->pad_l, .Hp = d.Hp, .LW = d.LW, .PS = d.PS};
    /* weights as [c][r][s][k]: one tap's KB filter values are adjacent for the broadcasts */
    float *wp = dfs_malloc((size_t)(K * C * R * S) * sizeof *wp);
    for (int64_t k = 0; k < K; k++)
        for (int64_t i = 0; i < C * R * S; i++) wp[i * K + k] = w[k * C * R * S + i];
    corr_batch(out, K * c->P * c->Q, in, C * c->H * c->W, wp, b, &d, &g, c->N, STORE_SET);
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
    d.LW = tile_columns(c->W, C) + (S - 1) * c->dil_w;
    padded g = {.C = K, .H = c->P, .W = c->Q, .pt = (R - 1) * c->dil_h - c->pad_t,
                .pl = (S - 1) * c->dil_w - c->pad_l, .Hp = d.Hp, .LW = d.LW};
    d.PS = g.PS = plane_stride(d.Hp, d.LW);
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
 * (KB * SB + SB + 1 <= 32 vector registers; with 16, AVX2 and SSE, these tiles spill:
 * bench/march-notes.md). The lane sums go to part[((k*C + c)*R + r)*S + s]. */
static inline float hsum(const vf *v)
{
    float s = 0;
    for (int l = 0; l < VL; l++) s += (*v)[l];
    return s;
}

/* QU = 2 takes two column vectors per step into separate accumulators: a 1-filter tile would
 * otherwise have only SB dependent FMA chains. Qv is a multiple of 2 * VL. */
static inline __attribute__((always_inline)) void wtile(float *part, const float *gp, const float *xp,
                                                       const corr *d, int64_t Qv, int64_t c, int64_t r, int64_t k0,
                                                       int64_t s0, const int KB, const int SB, const int QU)
{
    vf acc[8][5][2];   /* [KB][SB][QU] used; constant bounds so the unrolled tile stays in registers */
#pragma GCC unroll 8
    for (int j = 0; j < KB; j++)
#pragma GCC unroll 5
        for (int t = 0; t < SB; t++)
#pragma GCC unroll 2
            for (int u = 0; u < QU; u++) acc[j][t][u] = (vf){0};
    int64_t plane = plane_stride(d->P, Qv);
    /* The input vector of kernel column s starts s * dw floats into an aligned row: with
     * AVX-512 it is cut out of the two aligned vectors around it with one permute. An unaligned
     * load there straddles two cache lines, and GCC folds it into every one of the KB
     * multiply-adds that use it (20 split loads per step for a 4 x 5 tile), which halved this
     * loop's rate. Narrower targets lack AVX-512's two-vector permute (vpermt2ps), and their
     * vectors straddle a line at most every other load: they load unaligned. */
    int64_t base[5];
    vi sel[5];
#pragma GCC unroll 5
    for (int t = 0; t < SB; t++) {
        int64_t off = (s0 + t) * d->dw;
        base[t] = off / VL * VL;
        for (int l = 0; l < VL; l++) sel[t][l] = (int32_t)(off - base[t] + l);
    }
    for (int64_t p = 0; p < d->P; p++) {
        const float *x = xp + c * d->PS + (p * d->sh + r * d->dh) * d->LW;
        const float *g = gp + k0 * plane + p * Qv;
        for (int64_t q = 0; q < Qv; q += QU * VL) {
            vf gv[8][2];
#pragma GCC unroll 8
            for (int j = 0; j < KB; j++)
#pragma GCC unroll 2
                for (int u = 0; u < QU; u++) gv[j][u] = *(const vf *)(g + j * plane + q + u * VL);
#pragma GCC unroll 5
            for (int t = 0; t < SB; t++)
#pragma GCC unroll 2
                for (int u = 0; u < QU; u++) {
                    const float *xa = x + q + u * VL + base[t];
#if VL == 16
                    vf xv = __builtin_shuffle(*(const vf *)xa, *(const vf *)(xa + VL), sel[t]);
#else
                    vf xv = vload(xa + sel[t][0]);   /* narrower vectors: an unaligned load is cheap */
#endif
#pragma GCC unroll 8
                    for (int j = 0; j < KB; j++) acc[j][t][u] += gv[j][u] * xv;
                }
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < KB; j++)
#pragma GCC unroll 5
        for (int t = 0; t < SB; t++)
        {
            vf a = QU == 2 ? acc[j][t][0] + acc[j][t][1] : acc[j][t][0];
            part[(((k0 + j) * d->C + c) * d->R + r) * d->S + s0 + t] = hsum(&a);
        }
}

/* SB kernel columns for every filter: blocks of 8 filters when the tile allows it, then 4, then
 * single filters with two column vectors at a time */
static inline __attribute__((always_inline)) void wtile_cols(float *part, const float *gp, const float *xp,
                                                            const corr *d, int64_t Qv, int64_t c, int64_t r,
                                                            int64_t s0, const int SB)
{
    int64_t k0 = 0;
    if (SB <= 3)
        for (; k0 + 8 <= d->K; k0 += 8) wtile(part, gp, xp, d, Qv, c, r, k0, s0, 8, SB, 1);
    for (; k0 + 4 <= d->K; k0 += 4) wtile(part, gp, xp, d, Qv, c, r, k0, s0, 4, SB, 1);
    for (; k0 < d->K; k0++) wtile(part, gp, xp, d, Qv, c, r, k0, s0, 1, SB, 2);
}

void nn_conv_direct_backward_weights(float *dw, const float *dout, const float *in, const nn_conv *c)
{
    int64_t C = c->C, K = c->K, R = c->R, S = c->S, P = c->P, Q = c->Q, N = c->N;
    int64_t Qv = round_up(Q, 2 * VL), KCRS = K * C * R * S;
    corr d = {.C = C, .K = K, .P = P, .Q = Q, .R = R, .S = S, .sh = c->stride_h, .dh = c->dil_h, .dw = c->dil_w};
    d.Hp = (P - 1) * c->stride_h + (R - 1) * c->dil_h + 1;
    d.LW = round_up(Qv + (S - 1) * c->dil_w, VL) + VL;   /* aligned rows; + VL: the permute's upper vector */
    d.PS = plane_stride(d.Hp, d.LW);
    padded g = {.C = C, .H = c->H, .W = c->W, .pt = c->pad_t, .pl = c->pad_l, .Hp = d.Hp, .LW = d.LW, .PS = d.PS};
    padded gd = {.C = K, .H = P, .W = Q, .pt = 0, .pl = 0, .Hp = P, .LW = Qv, .PS = plane_stride(P, Qv)};
    float *part = dfs_malloc((size_t)(N * KCRS) * sizeof *part);
#pragma omp parallel if (N > 1)
    {
        float *xp = alloc_vectors((size_t)(C * d.PS));
        float *gp = alloc_vectors((size_t)(K * gd.PS));
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
