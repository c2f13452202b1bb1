/* conv.c: 2-D convolution (stride, asymmetric padding, dilation, groups), CPU backend.
 *
 * Three paths, chosen per call from the configuration:
 *  - pointwise (1x1, stride 1, no padding): the input plane already is the GEMM operand;
 *  - depthwise (groups == C): a direct loop, since a GEMM with one input channel per group
 *    would spend its time in im2col;
 *  - everything else: im2col per image and group, then cblas_sgemm.
 * Each image is one GEMM: the feature maps of the study are large enough (>= 8x8 positions,
 * hundreds of channels where they are small) that batching images into one GEMM gains little,
 * and it would need a second scratch buffer and a transpose back to NCHW.
 * A naive direct implementation is kept beside the fast paths as the test oracle. */
#include "nn/ops.h"
#include "nn/conv_direct.h"
#include "nn/depthwise.h"
#include "core/common.h"

#include <cblas.h>
#include <string.h>

void nn_pad_same(int64_t in, int64_t k, int64_t stride, int64_t dil, int64_t *before, int64_t *after)
{
    int64_t out = (in + stride - 1) / stride;
    int64_t total = (out - 1) * stride + (k - 1) * dil + 1 - in;
    if (total < 0) total = 0;
    *before = total / 2;
    *after = total - *before;
}

int nn_conv_init(nn_conv *c)
{
    if (c->N < 1 || c->C < 1 || c->H < 1 || c->W < 1 || c->K < 1 || c->R < 1 || c->S < 1)
        return dfs_fail("conv: sizes must be positive");
    if (c->stride_h < 1 || c->stride_w < 1 || c->dil_h < 1 || c->dil_w < 1)
        return dfs_fail("conv: stride and dilation must be positive");
    if (c->pad_t < 0 || c->pad_l < 0 || c->pad_b < 0 || c->pad_r < 0)
        return dfs_fail("conv: negative padding");
    if (c->groups < 1 || c->C % c->groups || c->K % c->groups)
        return dfs_fail("conv: groups %lld does not divide channels %lld -> %lld", (long long)c->groups,
                        (long long)c->C, (long long)c->K);
    int64_t eh = (c->R - 1) * c->dil_h + 1, ew = (c->S - 1) * c->dil_w + 1;
    int64_t ph = c->H + c->pad_t + c->pad_b, pw = c->W + c->pad_l + c->pad_r;
    if (eh > ph || ew > pw)
        return dfs_fail("conv: kernel %lldx%lld larger than padded input %lldx%lld", (long long)eh, (long long)ew,
                        (long long)ph, (long long)pw);
    c->P = (ph - eh) / c->stride_h + 1;
    c->Q = (pw - ew) / c->stride_w + 1;
    if ((c->H * c->W > INT32_MAX) || c->P * c->Q > INT32_MAX) return dfs_fail("conv: feature map too large");
    return 0;
}

#define DIRECT_MAX_K 32

static int is_depthwise(const nn_conv *c) { return c->groups == c->C && c->groups > 1; }

static int is_pointwise(const nn_conv *c)
{
    return c->R == 1 && c->S == 1 && c->stride_h == 1 && c->stride_w == 1 && c->pad_t == 0 && c->pad_l == 0 &&
           c->pad_b == 0 && c->pad_r == 0;
}

/* The direct kernels (conv_direct.c) where the GEMM would be skinny: few filters. Above that
 * the GEMM's rows fill OpenBLAS's register tile and it is faster than the direct loop. A 1x1
 * convolution needs no im2col, and from 16 filters on its GEMM beats the direct loop (which
 * copies the input into a padded buffer first): 49 against 34 GFLOP/s per core for 32 -> 32
 * channels at 126x126 (ShallowNet). */
static int use_direct(const nn_conv *c)
{
    if (is_pointwise(c) && c->K >= 16) return 0;
    return nn_conv_direct_forward_ok(c) && c->K <= DIRECT_MAX_K;
}

size_t nn_conv_scratch(const nn_conv *c)
{
    if (is_depthwise(c) || is_pointwise(c)) return 0;
    if (use_direct(c) && nn_conv_direct_din_ok(c)) return 0;
    return (size_t)(c->C / c->groups) * (size_t)(c->R * c->S) * (size_t)(c->P * c->Q);
}

/* Range [*q0, *q1) of output columns whose input column q*stride + off lies in [0, W). */
static void valid_range(int64_t off, int64_t stride, int64_t W, int64_t Q, int64_t *q0, int64_t *q1)
{
    int64_t lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int64_t hi = W - off <= 0 ? 0 : (W - off - 1) / stride + 1;   /* first q with q*stride+off >= W */
    if (hi > Q) hi = Q;
    if (lo > hi) lo = hi;
    *q0 = lo;
    *q1 = hi;
}

/* col (Cg*R*S, P*Q) from in (Cg, H, W): one row per (channel, kernel offset). */
static void im2col(float *col, const float *in, int64_t Cg, const nn_conv *c)
{
    int64_t R = c->R, S = c->S, P = c->P, Q = c->Q, H = c->H, W = c->W;
    int64_t rows = Cg * R * S;
#pragma omp parallel for schedule(static) if (rows * P * Q > 32768)
    for (int64_t row = 0; row < rows; row++) {
        int64_t ch = row / (R * S), r = (row / S) % R, s = row % S;
        const float *src = in + ch * H * W;
        float *dst = col + row * P * Q;
        int64_t woff = s * c->dil_w - c->pad_l, q0, q1;
        valid_range(woff, c->stride_w, W, Q, &q0, &q1);
        for (int64_t p = 0; p < P; p++) {
            int64_t ih = p * c->stride_h - c->pad_t + r * c->dil_h;
            float *d = dst + p * Q;
            if (ih < 0 || ih >= H) {
                memset(d, 0, (size_t)Q * sizeof *d);
                continue;
            }
            const float *srow = src + ih * W;
            for (int64_t q = 0; q < q0; q++) d[q] = 0;
            if (c->stride_w == 1)
                memcpy(d + q0, srow + q0 + woff, (size_t)(q1 - q0) * sizeof *d);
            else
                for (int64_t q = q0; q < q1; q++) d[q] = srow[q * c->stride_w + woff];
            for (int64_t q = q1; q < Q; q++) d[q] = 0;
        }
    }
}

/* din (Cg, H, W) += the scatter of col (Cg*R*S, P*Q). Parallel over channels: a channel's rows
 * only touch that channel's plane, and each plane sums its rows in a fixed order. */
static void col2im_add(float *din, const float *col, int64_t Cg, const nn_conv *c)
{
    int64_t R = c->R, S = c->S, P = c->P, Q = c->Q, H = c->H, W = c->W;
#pragma omp parallel for schedule(static) if (Cg * R * S * P * Q > 32768)
    for (int64_t ch = 0; ch < Cg; ch++) {
        float *dst = din + ch * H * W;
        for (int64_t r = 0; r < R; r++)
            for (int64_t s = 0; s < S; s++) {
                const float *src = col + ((ch * R + r) * S + s) * P * Q;
                int64_t woff = s * c->dil_w - c->pad_l, q0, q1;
                valid_range(woff, c->stride_w, W, Q, &q0, &q1);
                for (int64_t p = 0; p < P; p++) {
                    int64_t ih = p * c->stride_h - c->pad_t + r * c->dil_h;
                    if (ih < 0 || ih >= H) continue;
                    float *drow = dst + ih * W;
                    const float *srow = src + p * Q;
                    if (c->stride_w == 1)
                        for (int64_t q = q0; q < q1; q++) drow[q + woff] += srow[q];
                    else
                        for (int64_t q = q0; q < q1; q++) drow[q * c->stride_w + woff] += srow[q];
                }
            }
    }
}

/* ---- public entry points ---- */

void nn_conv2d_forward(float *out, const float *in, const float *w, const float *b, const nn_conv *c,
                       float *scratch)
{
    if (is_depthwise(c)) {
        nn_depthwise_forward(out, in, w, b, c);
        return;
    }
    if (use_direct(c)) {
        nn_conv_direct_forward(out, in, w, b, c);
        return;
    }
    int64_t G = c->groups, Cg = c->C / G, Kg = c->K / G, PQ = c->P * c->Q, HW = c->H * c->W;
    int64_t CRS = Cg * c->R * c->S;
    int pointwise = is_pointwise(c);
    for (int64_t n = 0; n < c->N; n++) {
        for (int64_t g = 0; g < G; g++) {
            const float *x = in + (n * c->C + g * Cg) * HW;
            const float *col = x;
            if (!pointwise) {
                im2col(scratch, x, Cg, c);
                col = scratch;
            }
            float *y = out + (n * c->K + g * Kg) * PQ;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Kg, (int)PQ, (int)CRS, 1.0f,
                        w + g * Kg * CRS, (int)CRS, col, (int)PQ, 0.0f, y, (int)PQ);
        }
        if (b) {
            float *y = out + n * c->K * PQ;
#pragma omp parallel for schedule(static) if (c->K * PQ > 32768)
            for (int64_t k = 0; k < c->K; k++)
                for (int64_t i = 0; i < PQ; i++) y[k * PQ + i] += b[k];
        }
    }
}

void nn_conv2d_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                        const nn_conv *c, float *scratch)
{
    int64_t PQ = c->P * c->Q, HW = c->H * c->W;
    if (db) {
#pragma omp parallel for schedule(static) if (c->N * c->K * PQ > 32768)
        for (int64_t k = 0; k < c->K; k++) {
            double acc = 0;
            for (int64_t n = 0; n < c->N; n++) {
                const float *g = dout + (n * c->K + k) * PQ;
                float a = 0;
#pragma omp simd reduction(+ : a)   /* -O2 alone leaves a float sum scalar */
                for (int64_t i = 0; i < PQ; i++) a += g[i];
                acc += a;
            }
            db[k] += (float)acc;
        }
    }
    if (is_depthwise(c)) {
        nn_depthwise_backward(din, dw, dout, in, w, c);
        return;
    }
    if (use_direct(c)) {
        if (dw) nn_conv_direct_backward_weights(dw, dout, in, c);
        if (din && nn_conv_direct_din_ok(c)) nn_conv_direct_backward_data(din, dout, w, c);
        if (!din || nn_conv_direct_din_ok(c)) return;
        dw = NULL;   /* done: the GEMM path below computes din alone */
    }
    int64_t G = c->groups, Cg = c->C / G, Kg = c->K / G, CRS = Cg * c->R * c->S;
    int pointwise = is_pointwise(c);
    for (int64_t n = 0; n < c->N; n++) {
        for (int64_t g = 0; g < G; g++) {
            const float *x = in + (n * c->C + g * Cg) * HW;
            const float *gy = dout + (n * c->K + g * Kg) * PQ;
            const float *wg = w + g * Kg * CRS;
            if (dw) {
                const float *col = x;
                if (!pointwise) {
                    im2col(scratch, x, Cg, c);
                    col = scratch;
                }
                /* dw_g (Kg, CRS) += dy (Kg, PQ) col^T */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Kg, (int)CRS, (int)PQ, 1.0f, gy, (int)PQ,
                            col, (int)PQ, 1.0f, dw + g * Kg * CRS, (int)CRS);
            }
            if (din) {
                float *dx = din + (n * c->C + g * Cg) * HW;
                /* dcol (CRS, PQ) = w_g^T dy; pointwise accumulates straight into din */
                if (pointwise) {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)CRS, (int)PQ, (int)Kg, 1.0f, wg,
                                (int)CRS, gy, (int)PQ, 1.0f, dx, (int)PQ);
                } else {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)CRS, (int)PQ, (int)Kg, 1.0f, wg,
                                (int)CRS, gy, (int)PQ, 0.0f, scratch, (int)PQ);
                    col2im_add(dx, scratch, Cg, c);
                }
            }
        }
    }
}

/* ---- naive reference (test oracle): the definition, one output value at a time ---- */

void nn_conv2d_forward_naive(float *out, const float *in, const float *w, const float *b, const nn_conv *c)
{
    int64_t Cg = c->C / c->groups, Kg = c->K / c->groups;
    for (int64_t n = 0; n < c->N; n++)
        for (int64_t k = 0; k < c->K; k++)
            for (int64_t p = 0; p < c->P; p++)
                for (int64_t q = 0; q < c->Q; q++) {
                    double acc = b ? b[k] : 0;
                    int64_t g = k / Kg;
                    for (int64_t cc = 0; cc < Cg; cc++)
                        for (int64_t r = 0; r < c->R; r++)
                            for (int64_t s = 0; s < c->S; s++) {
                                int64_t ih = p * c->stride_h - c->pad_t + r * c->dil_h;
                                int64_t iw = q * c->stride_w - c->pad_l + s * c->dil_w;
                                if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W) continue;
                                acc += (double)in[((n * c->C + g * Cg + cc) * c->H + ih) * c->W + iw] *
                                       w[((k * Cg + cc) * c->R + r) * c->S + s];
                            }
                    out[((n * c->K + k) * c->P + p) * c->Q + q] = (float)acc;
                }
}

void nn_conv2d_backward_naive(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                              const nn_conv *c)
{
    int64_t Cg = c->C / c->groups, Kg = c->K / c->groups;
    for (int64_t n = 0; n < c->N; n++)
        for (int64_t k = 0; k < c->K; k++)
            for (int64_t p = 0; p < c->P; p++)
                for (int64_t q = 0; q < c->Q; q++) {
                    float g = dout[((n * c->K + k) * c->P + p) * c->Q + q];
                    if (db) db[k] += g;
                    int64_t grp = k / Kg;
                    for (int64_t cc = 0; cc < Cg; cc++)
                        for (int64_t r = 0; r < c->R; r++)
                            for (int64_t s = 0; s < c->S; s++) {
                                int64_t ih = p * c->stride_h - c->pad_t + r * c->dil_h;
                                int64_t iw = q * c->stride_w - c->pad_l + s * c->dil_w;
                                if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W) continue;
                                int64_t ii = ((n * c->C + grp * Cg + cc) * c->H + ih) * c->W + iw;
                                int64_t wi = ((k * Cg + cc) * c->R + r) * c->S + s;
                                if (din) din[ii] += g * w[wi];
                                if (dw) dw[wi] += g * in[ii];
                            }
                }
}
